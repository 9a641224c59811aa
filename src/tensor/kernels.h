/* Float32 compute kernels for the model forward pass. Matrices are row-major; a Linear weight
 * is [out, in] and computes y = x·Wᵀ + b. Every kernel is OpenMP-parallel (call them from one
 * thread at a time; inside a parallel region they run serially); GEMMs go through CBLAS
 * (OpenBLAS), split over the OpenMP threads with OpenBLAS's own thread count set to one meanwhile
 * and then restored, so that the two thread pools never compete for the cores. */
#ifndef VS_TENSOR_KERNELS_H
#define VS_TENSOR_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* Below this many elements (or multiply-adds, for a GEMM) a kernel runs on the calling thread:
 * a parallel region costs microseconds, and a whole time slice when another process holds one
 * of the cores, so small passes (a MoE expert's gather, a test's inputs) are cheaper serial. */
#define VS_PARALLEL_MIN 131072

/* y[m, n] = x[m, k] · w[n, k]ᵀ (+ bias[n] if not NULL). */
void vs_linear_f32(const float *x, const float *w, const float *bias, float *y, int64_t m, int64_t n, int64_t k);
/* The same with the weight stored [in, out]: y[m, n] = x[m, k] · w[k, n] (+ bias), w's rows ldw
 * apart (a column block of a fused MoE tensor, used without transposing it). */
void vs_linear_in_out_f32(const float *x, const float *w, int64_t ldw, const float *bias, float *y, int64_t m,
                          int64_t n, int64_t k);

/* x[i] += y[i] (residual connections). */
void vs_add_f32(float *x, const float *y, int64_t n);

/* RMSNorm over the last dimension: y = x / sqrt(mean(x²) + eps) · gamma. y may alias x. */
void vs_rmsnorm_f32(const float *x, const float *gamma, float eps, float *y, int64_t rows, int64_t n);
/* LayerNorm: y = (x − mean) / sqrt(var + eps) · gamma + beta (biased variance). y may alias x. */
void vs_layernorm_f32(const float *x, const float *gamma, const float *beta, float eps, float *y,
                      int64_t rows, int64_t n);

/* In place: GELU, tanh approximation (gelu_pytorch_tanh) and exact (erf) forms. */
void vs_gelu_tanh_f32(float *x, int64_t n);
void vs_gelu_erf_f32(float *x, int64_t n);
/* out[i] = silu(gate[i]) · up[i]; out may alias gate or up. */
void vs_silu_mul_f32(const float *gate, const float *up, float *out, int64_t n);

/* Softmax of each row of x[rows, n], in place, max-subtracted. */
void vs_softmax_rows_f32(float *x, int64_t rows, int64_t n);

/* Rotary embedding with rotate_half: for each token t and head h of x[t, h, d],
 * x = x·cos[t] + rotate_half(x)·sin[t], rotate_half(v) = concat(−v[d/2:], v[:d/2]).
 * cos and sin are [tokens, d]. */
void vs_rope_f32(float *x, const float *cos, const float *sin, int64_t tokens, int64_t heads, int64_t d);

/* Multi-head attention with grouped KV heads: q [s, hq, d], k and v [s, hkv, d] (hq a multiple
 * of hkv; query head h uses kv head h / (hq/hkv)), scale 1/sqrt(d). When segments is not NULL,
 * tokens attend only within their segment (segment ids, non-decreasing, one per token: images
 * of the vision tower, samples of a batch). causal: token i attends to j <= i (within its
 * segment when there are segments). out [s, hq, d].
 * Blocks of queries are computed in parallel, two GEMMs each; the workspace is a few MiB per
 * thread (256 × s scores).
 * Fails only when its workspace cannot be allocated. */
enum vs_status vs_attention_f32(const float *q, const float *k, const float *v, float *out, int64_t s, int64_t hq,
                      int64_t hkv, int64_t d, bool causal, const int32_t *segments);

#endif
