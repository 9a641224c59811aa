/* The export model's parts shared by its format readers (export_ascendv1.c,
 * export_compressed_tensors.c) and the format-independent views and hooks (export_model.c).
 * A reader fills the quantized Linears (struct export_linear) from its format's metadata and
 * tells which tensors it used; everything after that is the same for every format. */
#ifndef VS_EVAL_EXPORT_INTERNAL_H
#define VS_EVAL_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/status.h"
#include "io/safetensors.h"
#include "eval/export_model.h"
#include "quant/int8_linear.h"

#define VS_ASCENDV1_DESCRIPTION "quant_model_description.json"

struct export_linear {
    char *module;
    const char *type; /* the format's name of its scheme, for errors */
    enum vs_int8_scheme scheme;
    enum vs_int8_kernel kernel;
    int64_t out, in;
    /* the int8 weight [out, in] as the view shows it; for packed weights (compressed-tensors'
     * pack-quantized) a descriptor of the packed bytes, unpacked by the hooks */
    struct vs_st_tensor w;
    bool packed;
    const struct vs_st_tensor *quant_bias, *deq_scale, *weight_scale, *weight_offset, *bias;
    float input_scale, input_offset; /* W8A8: the scale and the offset (zero point) */
};

/* What a format reader provides besides the Linears. */
struct export_format {
    const char *name;     /* "ascendv1" */
    const char *metadata; /* the file the reader checks the weights against */
    /* a tensor's kind for messages: the description's type, "float"... */
    const char *(*kind)(const struct vs_export *e, const char *tensor);
    /* Linear `module` of the float model is computed in float by the export: an error naming it
     * where the format's metadata says it should be quantized. NULL: nothing to check. */
    enum vs_status (*check_float_linear)(const struct vs_export *e, const char *module);
    /* offline QuaRot's R (relative path, NULL when none) and the tensor in it */
    enum vs_status (*rotation_file)(const struct vs_export *e, char **rel);
    void (*close)(struct vs_export *e);
};

struct vs_export {
    char *dir;
    const struct export_format *format;
    void *format_state; /* the reader's own (its parsed metadata) */
    struct vs_st_model *st;
    unsigned char *used; /* per tensor of st, in its sorted order */
    struct export_linear *q; /* sorted by module once read */
    size_t nq, q_cap;
    /* scratch for one call: the per-channel vectors as aligned float32 / int32, unpacked weights */
    float *deq, *ws, *wo, *bias;
    int32_t *qb;
    size_t cap;
    int8_t *unpacked;
    size_t unpacked_cap;
    float *rotation; /* QuaRot's R, read on demand */
    int64_t rotation_n;
    bool rotation_read;
};

/* Whether dir's config.json has a compressed-tensors quantization_config. Errors: a config.json
 * that is not JSON. */
enum vs_status vs_export_is_compressed_tensors(const char *dir, bool *yes);

/* The readers: each checks its metadata against the weight files (st is open), sets e->format
 * and appends the quantized Linears. Errors name the file and the tensor or key. */
enum vs_status vs_export_read_ascendv1(struct vs_export *e);
enum vs_status vs_export_read_compressed_tensors(struct vs_export *e);

/* A new quantized Linear (zeroed but for module and type), or NULL without memory. */
struct export_linear *vs_export_add_linear(struct vs_export *e, const char *module, size_t module_len,
                                           const char *type);
/* Marks tensor `name` used. */
void vs_export_mark(struct vs_export *e, const char *name);
int64_t vs_export_numel(const struct vs_st_tensor *t);
/* Tensor `<module>.<suffix>` of a quantized Linear, of dtype `dt` (or `dt2`; VS_DTYPE_COUNT: dt any
 * float type, dt2 none) and `n` elements (n < 0: any), marked used; optional: *out NULL if absent. */
enum vs_status vs_export_part(struct vs_export *e, const struct export_linear *q, const char *suffix,
                              enum vs_dtype dt, enum vs_dtype dt2, int64_t n, bool optional,
                              const struct vs_st_tensor **out);
float vs_export_scalar_f32(const struct vs_st_tensor *t);

#endif
