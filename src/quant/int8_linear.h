/* A quantized Linear computed as the inference kernels compute it, from an export's own tensors
 * (docs/eval.md §2; vLLM Ascend's w8a8 / w8a8_dynamic / w8a16 methods):
 *
 *   W8A8 (static): x_q = clamp(rint(x · (1 / input_scale) + input_offset), -128, 127) per element
 *     (npu_quantize with the reciprocal scale), acc = x_q · W_qᵀ in exact integer arithmetic,
 *     y = float(acc + quant_bias) · deq_scale (npu_quant_matmul; the Linear's float bias is
 *     already inside quant_bias);
 *   W8A8_DYNAMIC: per token s = max|x| / 127 (at least FLT_EPSILON), x_q = clamp(rint(x / s)),
 *     y = float(acc) · s · weight_scale[o] + bias[o];
 *   W8A16: y = x · ((W_q + weight_offset) · weight_scale)ᵀ + bias, in float32.
 *
 * The integer products are summed exactly, whatever the order: float32 GEMMs over 1024 columns
 * at a time (each partial sum an integer of at most 2^24 in magnitude, exact in float32), the
 * partials added in float64, so the result is an int32 GEMM's at OpenBLAS's sgemm speed. */
#ifndef VS_QUANT_INT8_LINEAR_H
#define VS_QUANT_INT8_LINEAR_H

#include <stdint.h>

#include "base/status.h"

enum vs_int8_scheme { VS_INT8_W8A8, VS_INT8_W8A8_DYNAMIC, VS_INT8_W8A16 };

struct vs_int8_linear {
    const char *name;          /* module name, for errors */
    enum vs_int8_scheme scheme;
    int64_t out, in;
    const int8_t *w;           /* [out, in] */
    float input_scale, input_offset; /* W8A8 */
    const int32_t *quant_bias; /* [out], W8A8 */
    const float *deq_scale;    /* [out], W8A8 (as float32 values) */
    const float *weight_scale; /* [out], W8A8_DYNAMIC and W8A16 */
    const float *weight_offset; /* [out] or NULL (zeros), W8A16 */
    const float *bias;         /* [out] or NULL, W8A8_DYNAMIC and W8A16 */
};

/* y [rows, out] from x [rows, in]. Errors: no memory. */
enum vs_status vs_int8_linear_apply(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y);

/* The activation quantizers on their own, x [rows, in] -> q [rows, in] (integers, exact in float):
 * W8A8's per-tensor one, and W8A8_DYNAMIC's per-token one with each row's scale into s [rows]. */
void vs_int8_quantize_static(const float *x, int64_t n, float input_scale, float input_offset, float *q);
void vs_int8_quantize_token(const float *x, int64_t rows, int64_t in, float *q, float *s);

#endif
