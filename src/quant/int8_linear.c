#include "quant/int8_linear.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/status.h"
#include "tensor/compute.h"
#include "tensor/kernels.h"

/* Rows of a block: keeps each float64 buffer near 32 MiB whatever the layer's width. */
static int64_t block_rows(int64_t width)
{
    int64_t b = ((int64_t)4 << 20) / (width > 0 ? width : 1);
    return b < 1 ? 1 : b;
}

static float clamp_int8(float v) { return fminf(fmaxf(v, -128.0f), 127.0f); }

void vs_int8_quantize_static(enum vs_int8_kernel k, const float *x, int64_t n, float input_scale,
                             float input_offset, float *q)
{
    if (k == VS_INT8_ASCEND) {
        const float r = 1.0f / input_scale; /* npu_quantize takes the reciprocal */
        #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            q[i] = clamp_int8(rintf(x[i] * r + input_offset));
    } else { /* the zero point is added to the rounded quotient */
        #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            q[i] = clamp_int8(rintf(x[i] / input_scale) + input_offset);
    }
}

void vs_int8_quantize_token(enum vs_int8_kernel k, const float *x, int64_t rows, int64_t in, float *q, float *s)
{
    for (int64_t t = 0; t < rows; t++) {
        const float *xr = x + t * in;
        float *qr = q + t * in, m = 0.0f;
        for (int64_t c = 0; c < in; c++)
            m = fmaxf(m, fabsf(xr[c]));
        if (k == VS_INT8_ASCEND) {
            float st = fmaxf(m / 127.0f, FLT_EPSILON);
            s[t] = st;
            for (int64_t c = 0; c < in; c++)
                qr[c] = clamp_int8(rintf(xr[c] / st));
        } else if (k == VS_INT8_VLLM) {
            float r = 127.0f / m;
            s[t] = m / 127.0f;
            for (int64_t c = 0; c < in; c++)
                qr[c] = m > 0.0f ? clamp_int8(rintf(xr[c] * r)) : 0.0f;
        } else {
            m = fmaxf(m, 1e-10f);
            float r = 127.0f / m;
            s[t] = m / 127.0f;
            for (int64_t c = 0; c < in; c++)
                qr[c] = clamp_int8(roundf(xr[c] * r));
        }
    }
}

/* The float epilogue of one output element from the exact integer sum acc. */
static float epilogue(const struct vs_int8_linear *l, double acc, float token_scale, int64_t o, double zp_sum)
{
    float b = l->bias ? l->bias[o] : 0.0f;
    switch (l->kernel) {
    case VS_INT8_ASCEND:
        if (l->scheme == VS_INT8_W8A8)
            return (float)(acc + (double)l->quant_bias[o]) * l->deq_scale[o];
        return (float)acc * token_scale * l->weight_scale[o] + b;
    case VS_INT8_VLLM:
        if (l->scheme == VS_INT8_W8A8)
            return fmaf(l->input_scale, l->weight_scale[o] * (float)(acc - zp_sum), b);
        return fmaf(token_scale, l->weight_scale[o] * (float)acc, b);
    case VS_INT8_VLLM_MOE:
        return (float)acc * token_scale * l->weight_scale[o] + b;
    }
    return NAN;
}

static enum vs_status apply_w8a16(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y)
{
    int64_t B = block_rows(l->in), in = l->in;
    float *w = malloc((size_t)(B * in) * sizeof *w), *yb = malloc((size_t)(rows * B) * sizeof *yb);
    if (!w || !yb) {
        free(w), free(yb);
        return VS_ERR_NOMEM;
    }
    for (int64_t o0 = 0; o0 < l->out; o0 += B) {
        int64_t nb = l->out - o0 < B ? l->out - o0 : B;
        for (int64_t o = 0; o < nb; o++) {
            float sc = l->weight_scale[o0 + o], off = l->weight_offset ? l->weight_offset[o0 + o] : 0.0f;
            const int8_t *wr = l->w + (o0 + o) * in;
            for (int64_t c = 0; c < in; c++)
                w[o * in + c] = ((float)wr[c] + off) * sc;
        }
        vs_linear_f32(x, w, l->bias ? l->bias + o0 : NULL, yb, rows, nb, in);
        for (int64_t t = 0; t < rows; t++)
            memcpy(y + t * l->out + o0, yb + t * nb, (size_t)nb * sizeof *y);
    }
    free(w), free(yb);
    return VS_OK;
}

/* Integers of |v| <= 2^24 are exact in float32, and a product of two int8 values is at most
 * 2^14 in magnitude: a dot product over KB = 1024 of them, summed in any order (an FMA included),
 * is exact in float32. */
enum { KB = 1024 };

/* Scratch of vs_int8_linear_apply: the int8 product's operands (oneDNN), or the float32 blocks'. */
struct product {
    int8_t *q8;    /* the quantized rows as int8 (oneDNN) */
    int32_t *acc32; /* its int32 sums */
    float *w, *part; /* a block of weight rows in float32, a partial product (float32 path) */
};

/* acc[nt, nb] = q[nt, in] · W[o0 .. o0 + nb)ᵀ, exact: oneDNN's s8·s8 product of p->q8 (filled
 * from q by the caller), else float32 products of at most KB columns added in float64. */
static enum vs_status block_product(const struct vs_int8_linear *l, const float *q, int64_t nt, int64_t o0,
                                    int64_t nb, struct product *p, double *acc)
{
    int64_t in = l->in;
    if (p->q8) {
        enum vs_status st = vs_gemm_s8(p->q8, l->w + o0 * in, p->acc32, nt, nb, in);
        #pragma omp parallel for simd schedule(static) if (nt * nb >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < nt * nb; i++)
            acc[i] = (double)p->acc32[i];
        return st;
    }
    for (int64_t i = 0; i < nb * in; i++)
        p->w[i] = (float)l->w[o0 * in + i];
    memset(acc, 0, (size_t)(nt * nb) * sizeof *acc);
    for (int64_t k0 = 0; k0 < in; k0 += KB) {
        int64_t nk = in - k0 < KB ? in - k0 : KB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nt, (blasint)nb, (blasint)nk, 1.0f, q + k0,
                    (blasint)in, p->w + k0, (blasint)in, 0.0f, p->part, (blasint)nb);
        for (int64_t i = 0; i < nt * nb; i++)
            acc[i] += (double)p->part[i];
    }
    return VS_OK;
}

enum vs_status vs_int8_linear_apply(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y)
{
    if (l->scheme == VS_INT8_W8A16)
        return apply_w8a16(l, x, rows, y);
    int64_t in = l->in, out = l->out, R = block_rows(in), B = block_rows(in);
    R = R < rows ? R : rows;
    R = R > 0 ? R : 1;
    bool dynamic = l->scheme == VS_INT8_W8A8_DYNAMIC;
    /* vLLM's static zero point enters as zero_point · ΣW_q per output (the azp adjustment) */
    bool azp = !dynamic && l->kernel != VS_INT8_ASCEND && l->input_offset != 0.0f;
    struct product p = {0};
    if (vs_int8_gemm_available()) { /* oneDNN's int8 product, else exact float32 blocks */
        p.q8 = malloc((size_t)(R * in));
        p.acc32 = malloc((size_t)(R * B) * sizeof *p.acc32);
    } else {
        p.w = malloc((size_t)(B * in) * sizeof *p.w);
        p.part = malloc((size_t)(R * B) * sizeof *p.part);
    }
    double *acc = malloc((size_t)(R * B) * sizeof *acc), *zp_sum = azp ? malloc((size_t)out * sizeof *zp_sum) : NULL;
    float *q = malloc((size_t)(R * in) * sizeof *q), *s = malloc((size_t)R * sizeof *s);
    enum vs_status st = acc && q && s && (!azp || zp_sum) && (p.q8 ? p.acc32 != NULL : p.w && p.part) ? VS_OK
                                                                                                     : VS_ERR_NOMEM;
    for (int64_t o = 0; st == VS_OK && azp && o < out; o++) {
        int64_t sum = 0;
        for (int64_t c = 0; c < in; c++)
            sum += l->w[o * in + c];
        zp_sum[o] = (double)l->input_offset * (double)sum;
    }
    for (int64_t t0 = 0; t0 < rows && st == VS_OK; t0 += R) {
        int64_t nt = rows - t0 < R ? rows - t0 : R;
        if (dynamic)
            vs_int8_quantize_token(l->kernel, x + t0 * in, nt, in, q, s);
        else
            vs_int8_quantize_static(l->kernel, x + t0 * in, nt * in, l->input_scale, l->input_offset, q);
        if (p.q8) {
            #pragma omp parallel for simd schedule(static) if (nt * in >= VS_PARALLEL_MIN)
            for (int64_t i = 0; i < nt * in; i++)
                p.q8[i] = (int8_t)q[i];
        }
        for (int64_t o0 = 0; o0 < out && st == VS_OK; o0 += B) {
            int64_t nb = out - o0 < B ? out - o0 : B;
            if ((st = block_product(l, q, nt, o0, nb, &p, acc)) != VS_OK)
                break;
            #pragma omp parallel for schedule(static) if (nt * nb >= VS_PARALLEL_MIN)
            for (int64_t t = 0; t < nt; t++) {
                float *yr = y + (t0 + t) * out + o0;
                const double *ar = acc + t * nb;
                for (int64_t o = 0; o < nb; o++)
                    yr[o] = epilogue(l, ar[o], dynamic ? s[t] : 0.0f, o0 + o, zp_sum ? zp_sum[o0 + o] : 0.0);
            }
        }
    }
    free(p.q8), free(p.acc32), free(p.w), free(p.part);
    free(acc), free(zp_sum), free(q), free(s);
    return st;
}
