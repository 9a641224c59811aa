/* The `ascendv1` export (msModelSlim's AscendV1 saver, spec §7): sharded safetensors,
 * quant_model_description.json, the shard index, and the checkpoint's side files. */
#ifndef VS_SAVE_ASCENDV1_H
#define VS_SAVE_ASCENDV1_H

#include <stdint.h>

#include "base/status.h"
#include "save/saver.h"
#include "tensor/dtype.h"

/* Quantization types in msModelSlim's priority order (low → high) for model_quant_type. */
enum vs_quant_type_tag {
    VS_QT_FLOAT,
    VS_QT_W16A16S,
    VS_QT_W8A16,
    VS_QT_W8A8_DYNAMIC,
    VS_QT_W8A8_MIX,
    VS_QT_W8A8,
    VS_QT_COUNT,
};
const char *vs_quant_type_tag_name(enum vs_quant_type_tag t);

struct vs_ascendv1;

/* Starts an export into `dir` (an existing empty directory). part_bytes as
 * vs_st_writer_open (0 = one file). */
enum vs_status vs_ascendv1_open(const char *dir, uint64_t part_bytes, struct vs_ascendv1 **out);

/* A parameter kept in float, in its own dtype ("FLOAT"). */
enum vs_status vs_ascendv1_add_float(struct vs_ascendv1 *s, const char *name, enum vs_dtype dtype,
                                     int ndim, const int64_t *shape, const void *data);

/* A weight-quantized Linear `module` ([rows, cols] int8 weight, per-row scale and offset):
 * writes .weight (I8), .weight_scale and .weight_offset (F32 [rows, 1]) and, if bias is not
 * NULL, .bias (F32, tagged FLOAT). type is VS_QT_W8A8_DYNAMIC or VS_QT_W8A16; offset may be
 * NULL (zeros). */
enum vs_status vs_ascendv1_add_weight_quant(struct vs_ascendv1 *s, enum vs_quant_type_tag type,
                                            const char *module, const int8_t *weight, int64_t rows,
                                            int64_t cols, const float *scale, const float *offset,
                                            const float *bias);

/* A W8A8 static Linear `module` (spec §7.3): .weight (I8 [rows, cols]), .quant_bias (I32 [rows]),
 * .input_scale and .input_offset (F32 [1]), .deq_scale ([rows]: F32 when the model's global
 * dtype is BF16, else I64 holding each float32's bit pattern), and .bias (F32, FLOAT) if bias
 * is not NULL. */
enum vs_status vs_ascendv1_add_w8a8(struct vs_ascendv1 *s, const char *module, const int8_t *weight, int64_t rows,
                                    int64_t cols, const int32_t *quant_bias, float input_scale, float input_offset,
                                    const float *deq_scale, enum vs_dtype global_dtype, const float *bias);

/* The description's "optional" member (default {}), as JSON object text (e.g. QuaRot's
 * rotation map, §7.4); files it names are the caller's to write under the export directory. */
enum vs_status vs_ascendv1_set_optional(struct vs_ascendv1 *s, const char *json_text);

/* Closes the weights, writes quant_model_description.json (mode 0600), copies the side files
 * of `model_path` (top-level *.json, *.py, *.txt, *.jinja except *index.json; mode 0600) and
 * removes `quantization_config` from config.json (top level and text_config). */
enum vs_status vs_ascendv1_finish(struct vs_ascendv1 *s, const char *model_path);
/* Frees after an error (the caller removes the directory). */
void vs_ascendv1_abort(struct vs_ascendv1 *s);

/* Bytes of tensor data written so far. */
uint64_t vs_ascendv1_bytes_written(const struct vs_ascendv1 *s);

/* The functions above as a saver (spec.save type `ascendv1_saver`). */
extern const struct vs_saver_type vs_ascendv1_saver;

#endif
