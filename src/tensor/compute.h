/* How a run computes its Linears (`--compute`): float32 through OpenBLAS's sgemm (the default),
 * or bf16 as a bf16 model does, through oneDNN's matmul (AMX / AVX512-BF16 where the CPU has
 * them): the Linear's input and weight rounded to bf16 (round to nearest even), the products
 * accumulated in float32, the output float32. Everything else (norms, softmax, rotary,
 * attention, the observers' statistics) stays float32. docs/compute.md. */
#ifndef VS_TENSOR_COMPUTE_H
#define VS_TENSOR_COMPUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

enum vs_compute { VS_COMPUTE_FP32, VS_COMPUTE_BF16 };

/* The process-wide mode (set once, before any work). */
void vs_compute_set(enum vs_compute c);
enum vs_compute vs_compute_get(void);
/* "fp32" / "bf16" -> the mode; false for any other name. */
bool vs_compute_parse(const char *name, enum vs_compute *out);
const char *vs_compute_name(enum vs_compute c);

/* y[i] = x[i] rounded to the nearest bf16 value (ties to even), as float32; y may alias x. */
void vs_round_bf16_f32(const float *x, float *y, size_t n);

/* The Linear in bf16: y[m, n] = bf16(x)[m, k] · bf16(w)ᵀ (+ bias), float32 accumulation; w
 * [n, k] with rows ldw apart, or, when w_in_out, [k, n] with rows ldw apart. Errors: no memory,
 * a oneDNN failure (named). */
enum vs_status vs_linear_bf16(const float *x, const float *w, int64_t ldw, bool w_in_out, const float *bias,
                              float *y, int64_t m, int64_t n, int64_t k);

/* The same with the weight already bf16 (a bf16 checkpoint's own bits, used in place: no float32
 * copy of it is made): [n, k] rows ldw apart, or, when w_in_out, [k, n] rows ldw apart. */
enum vs_status vs_linear_bf16_weights(const float *x, const uint16_t *w, int64_t ldw, bool w_in_out, const float *bias,
                                      float *y, int64_t m, int64_t n, int64_t k);

/* acc[m, n] = x[m, k] · w[n, k]ᵀ in int32, exact, through oneDNN's s8·s8 matmul (k at most
 * 2^31 / 2^14). Only where vs_int8_gemm_available(): a CPU with VNNI (AVX512 or AVX) or AMX.
 * Errors: a oneDNN failure (named), no memory. */
bool vs_int8_gemm_available(void);
/* Tests force the int8 path: 1 oneDNN, 0 the float32 blocks, -1 by the CPU (the default). */
void vs_compute_int8_backend(int onednn);
enum vs_status vs_gemm_s8(const int8_t *x, const int8_t *w, int32_t *acc, int64_t m, int64_t n, int64_t k);

/* The bf16 products go through oneDNN on a CPU with AVX512-BF16 or AMX, else through sgemm on the
 * rounded operands (the same values, another summation order). Tests force either: 1 oneDNN,
 * 0 sgemm, -1 by the CPU (the default). */
void vs_compute_bf16_backend(int onednn);

/* Frees the cached oneDNN primitives (at exit; tests). */
void vs_compute_release(void);

#endif
