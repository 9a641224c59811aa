#include "tensor/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void vs_linear_f32(const float *x, const float *w, const float *bias, float *y, int64_t m, int64_t n, int64_t k)
{
    float beta = 0.0f;
    if (bias) {
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++)
            memcpy(y + i * n, bias, (size_t)n * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f, x, (blasint)k,
                w, (blasint)k, beta, y, (blasint)n);
}

void vs_rmsnorm_f32(const float *x, const float *gamma, float eps, float *y, int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++)
            ss += (double)xr[i] * xr[i];
        float inv = 1.0f / sqrtf((float)(ss / (double)n) + eps);
        for (int64_t i = 0; i < n; i++)
            yr[i] = xr[i] * inv * gamma[i];
    }
}

void vs_layernorm_f32(const float *x, const float *gamma, const float *beta, float eps, float *y,
                      int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++)
            sum += xr[i];
        float mean = (float)(sum / (double)n);
        double var = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double dlt = (double)xr[i] - mean;
            var += dlt * dlt;
        }
        float inv = 1.0f / sqrtf((float)(var / (double)n) + eps);
        for (int64_t i = 0; i < n; i++)
            yr[i] = (xr[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.0f);
    }
}

void vs_gelu_tanh_f32(float *x, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void vs_gelu_erf_f32(float *x, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
}

void vs_silu_mul_f32(const float *gate, const float *up, float *out, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

static void softmax_row(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void vs_softmax_rows_f32(float *x, int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        softmax_row(x + r * n, n);
}

void vs_rope_f32(float *x, const float *cos, const float *sin, int64_t tokens, int64_t heads, int64_t d)
{
    int64_t half = d / 2;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; t++) {
        const float *c = cos + t * d, *s = sin + t * d;
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + (t * heads + h) * d;
            for (int64_t i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i + half] + a * s[i + half];
            }
        }
    }
}

/* Q, K and V are first gathered per head into contiguous [s, d] panels (once), then per head and
 * per block of 64 queries: one GEMM for the scores against the keys the block may see, masked
 * softmax, one GEMM with the values. Blocks of all heads are spread over threads. */
enum vs_status vs_attention_f32(const float *q, const float *k, const float *v, float *out, int64_t s, int64_t hq,
                                int64_t hkv, int64_t d, bool causal, const int32_t *segments)
{
    int64_t group = hq / hkv;
    float scale = 1.0f / sqrtf((float)d);
    const int64_t block = 64;
    int64_t nblocks = (s + block - 1) / block;
    int nthreads = omp_get_max_threads();
    size_t panels = (size_t)s * (size_t)d * (size_t)(2 * hq + 2 * hkv); /* q, out, k, v */
    size_t per_thread = (size_t)block * (size_t)s;                      /* scores */
    float *ws = malloc((panels + (size_t)nthreads * per_thread) * sizeof *ws);
    if (!ws)
        return vs_error_set(VS_ERR_NOMEM, "attention over %lld tokens: cannot allocate %zu bytes of workspace",
                            (long long)s, (panels + (size_t)nthreads * per_thread) * sizeof *ws);
    float *qp = ws, *op = qp + (size_t)(hq * s * d), *kp = op + (size_t)(hq * s * d), *vp = kp + (size_t)(hkv * s * d);
    float *scratch = vp + (size_t)(hkv * s * d);
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < s; t++) {
        for (int64_t h = 0; h < hq; h++)
            memcpy(qp + (h * s + t) * d, q + (t * hq + h) * d, (size_t)d * sizeof *qp);
        for (int64_t h = 0; h < hkv; h++) {
            memcpy(kp + (h * s + t) * d, k + (t * hkv + h) * d, (size_t)d * sizeof *kp);
            memcpy(vp + (h * s + t) * d, v + (t * hkv + h) * d, (size_t)d * sizeof *vp);
        }
    }
    #pragma omp parallel
    {
        float *scores = scratch + (size_t)omp_get_thread_num() * per_thread;
        #pragma omp for schedule(dynamic) collapse(2)
        for (int64_t h = 0; h < hq; h++) {
            for (int64_t b = 0; b < nblocks; b++) {
                int64_t kvh = h / group, i0 = b * block, i1 = i0 + block < s ? i0 + block : s, nb = i1 - i0;
                /* Key range any query of the block may see. */
                int64_t lo = 0, hi = causal ? i1 : s;
                if (!causal && segments) {
                    lo = i0;
                    while (lo > 0 && segments[lo - 1] == segments[i0])
                        lo--;
                    hi = i1;
                    while (hi < s && segments[hi] == segments[i1 - 1])
                        hi++;
                }
                int64_t nk = hi - lo;
                const float *qb = qp + (h * s + i0) * d, *kb = kp + (kvh * s + lo) * d, *vb = vp + (kvh * s + lo) * d;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nb, (blasint)nk, (blasint)d, scale, qb,
                            (blasint)d, kb, (blasint)d, 0.0f, scores, (blasint)nk);
                for (int64_t i = 0; i < nb; i++) {
                    float *row = scores + i * nk;
                    for (int64_t j = 0; j < nk; j++) {
                        int64_t key = lo + j, qi = i0 + i;
                        bool masked = causal ? key > qi : (segments && segments[key] != segments[qi]);
                        if (masked)
                            row[j] = -INFINITY;
                    }
                    softmax_row(row, nk);
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)nb, (blasint)d, (blasint)nk, 1.0f,
                            scores, (blasint)nk, vb, (blasint)d, 0.0f, op + (h * s + i0) * d, (blasint)d);
            }
        }
    }
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < s; t++)
        for (int64_t h = 0; h < hq; h++)
            memcpy(out + (t * hq + h) * d, op + (h * s + t) * d, (size_t)d * sizeof *out);
    free(ws);
    return VS_OK;
}
