/* A quantized Linear computed as the inference kernels compute it, from an export's own tensors
 * (docs/eval.md §1). Whose kernels decides the rounding and the order of the float epilogue:
 *
 * VS_INT8_ASCEND (vLLM Ascend's w8a8 / w8a8_dynamic / w8a16 methods, ascendv1 exports):
 *   W8A8 (static): x_q = clamp(rint(x · (1 / input_scale) + input_offset), -128, 127) per element
 *     (npu_quantize with the reciprocal scale), acc = x_q · W_qᵀ in exact integer arithmetic,
 *     y = float(acc + quant_bias) · deq_scale (npu_quant_matmul; the Linear's float bias is
 *     already inside quant_bias);
 *   W8A8_DYNAMIC: per token s = max|x| / 127 (at least FLT_EPSILON), x_q = clamp(rint(x / s)),
 *     y = float(acc) · s · weight_scale[o] + bias[o];
 * VS_INT8_VLLM (vLLM's CUDA kernels for dense Linears, compressed-tensors exports):
 *   W8A8 (static): x_q = clamp(rint(x / input_scale) + zero_point) (static_scaled_int8_quant,
 *     a division), y = fma(input_scale, weight_scale[o] · float(acc − zero_point · ΣW_q[o]), bias[o])
 *     (cutlass_scaled_mm's epilogue with the azp adjustment);
 *   W8A8_DYNAMIC: per token m = max|x|, x_q = clamp(rint(x · (127 / m))), s = m / 127
 *     (dynamic_scaled_int8_quant; a row of zeros gives zeros), y = fma(s, weight_scale[o] · float(acc), bias[o]);
 * VS_INT8_VLLM_MOE (vLLM's fused-MoE Triton kernel, compressed-tensors experts):
 *   W8A8_DYNAMIC: m = max(max|x|, 1e-10), x_q = round_half_away(x · (127 / m)) (per_token_quant_int8),
 *     y = float(acc) · (m / 127) · weight_scale[o] (+ bias);
 * every kernel, W8A16: y = x · ((W_q + weight_offset) · weight_scale)ᵀ + bias, in float32.
 *
 * rint rounds half to even. The integer products are summed exactly: by oneDNN's s8·s8 matmul
 * (int32) on a CPU with VNNI or AMX, else by float32 GEMMs over 1024 columns at a time (each
 * partial sum an integer of at most 2^24 in magnitude, exact in float32) whose partials are added
 * in float64 - the same int32 results either way (tensor/compute.h). */
#ifndef VS_QUANT_INT8_LINEAR_H
#define VS_QUANT_INT8_LINEAR_H

#include <stdint.h>

#include "base/status.h"

enum vs_int8_scheme { VS_INT8_W8A8, VS_INT8_W8A8_DYNAMIC, VS_INT8_W8A16 };
enum vs_int8_kernel { VS_INT8_ASCEND, VS_INT8_VLLM, VS_INT8_VLLM_MOE };

struct vs_int8_linear {
    const char *name;          /* module name, for errors */
    enum vs_int8_scheme scheme;
    enum vs_int8_kernel kernel;
    int64_t out, in;
    const int8_t *w;           /* [out, in] */
    float input_scale, input_offset; /* W8A8; the offset is vLLM's zero point */
    const int32_t *quant_bias; /* [out], ASCEND W8A8 */
    const float *deq_scale;    /* [out], ASCEND W8A8 (as float32 values) */
    const float *weight_scale; /* [out], all but ASCEND W8A8 */
    const float *weight_offset; /* [out] or NULL (zeros), W8A16 */
    const float *bias;         /* [out] or NULL, all but ASCEND W8A8 */
};

/* y [rows, out] from x [rows, in]. Errors: no memory. */
enum vs_status vs_int8_linear_apply(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y);

/* The activation quantizers of a kernel on their own, x [rows, in] -> q [rows, in]: W8A8's
 * per-tensor one, and W8A8_DYNAMIC's per-token one with each row's scale into s [rows]. */
void vs_int8_quantize_static(enum vs_int8_kernel k, const float *x, int64_t n, float input_scale,
                             float input_offset, int8_t *q);
void vs_int8_quantize_token(enum vs_int8_kernel k, const float *x, int64_t rows, int64_t in, int8_t *q, float *s);

#endif
