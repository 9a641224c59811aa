#include "quant/int8_linear.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/status.h"
#include "tensor/compute.h"
#include "tensor/kernels.h"

/* How many rows of `width` values of `bytes` each fit in `mib` MiB (at least one). */
static int64_t rows_within(int64_t width, int64_t bytes, int64_t mib)
{
    int64_t b = (mib << 20) / (width * bytes > 0 ? width * bytes : 1);
    return b < 1 ? 1 : b;
}

/* At most `cap` rows per block, the rows split evenly: a last block of a few rows would run a
 * product of its own shape over the whole weight again. */
static int64_t even_blocks(int64_t rows, int64_t cap)
{
    int64_t n = (rows + cap - 1) / cap;
    return n > 1 ? (rows + n - 1) / n : (rows > 0 ? rows : 1);
}

/* clamp(v, -128, 127) as fminf(fmaxf(v, -128), 127) computes it (a NaN gives -128), written with
 * comparisons so that it inlines and vectorizes (fmaxf is a libm call without -ffinite-math). */
static inline float clamp_int8(float v) { return v >= -128.0f ? (v <= 127.0f ? v : 127.0f) : -128.0f; }

/* rintf(v) (half to even) wherever the result matters here: adding and subtracting 1.5·2^23 leaves
 * the integer nearest to v under the default rounding for |v| <= 2^22; beyond, the result is
 * still beyond int8's range (or infinite, or NaN for a NaN) and every caller clamps it (the zero
 * point added after rounding is an int8 value). Inline and vectorizable, unlike rintf without
 * SSE4.1. */
static inline float rint_small(float v) { return (v + 12582912.0f) - 12582912.0f; }

void vs_int8_quantize_static(enum vs_int8_kernel k, const float *x, int64_t n, float input_scale,
                             float input_offset, int8_t *q)
{
    if (k == VS_INT8_ASCEND) {
        const float r = 1.0f / input_scale; /* npu_quantize takes the reciprocal */
        #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            q[i] = (int8_t)clamp_int8(rint_small(x[i] * r + input_offset));
    } else { /* the zero point is added to the rounded quotient */
        #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            q[i] = (int8_t)clamp_int8(rint_small(x[i] / input_scale) + input_offset);
    }
}

/* One row of vs_int8_quantize_token. */
static void quantize_row(enum vs_int8_kernel k, const float *xr, int64_t in, int8_t *qr, float *s)
{
    float m = 0.0f;
    #pragma omp simd reduction(max : m)
    for (int64_t c = 0; c < in; c++) {
        float a = fabsf(xr[c]);
        m = a > m ? a : m; /* as fmaxf(m, a): a NaN is passed over */
    }
    if (k == VS_INT8_ASCEND) {
        float st = fmaxf(m / 127.0f, FLT_EPSILON);
        *s = st;
        #pragma omp simd
        for (int64_t c = 0; c < in; c++)
            qr[c] = (int8_t)clamp_int8(rint_small(xr[c] / st));
    } else if (k == VS_INT8_VLLM) {
        float r = 127.0f / m;
        *s = m / 127.0f;
        #pragma omp simd
        for (int64_t c = 0; c < in; c++)
            qr[c] = m > 0.0f ? (int8_t)clamp_int8(rint_small(xr[c] * r)) : 0;
    } else {
        m = fmaxf(m, 1e-10f);
        float r = 127.0f / m;
        *s = m / 127.0f;
        for (int64_t c = 0; c < in; c++)
            qr[c] = (int8_t)clamp_int8(roundf(xr[c] * r));
    }
}

void vs_int8_quantize_token(enum vs_int8_kernel k, const float *x, int64_t rows, int64_t in, int8_t *q, float *s)
{
    #pragma omp parallel for schedule(static) if (rows * in >= VS_PARALLEL_MIN)
    for (int64_t t = 0; t < rows; t++)
        quantize_row(k, x + t * in, in, q + t * in, s + t);
}

/* Which epilogue a Linear takes (int8_linear.h): Ascend's static one, vLLM's static one (azp),
 * vLLM's dynamic one (an fma), or float(acc) · s · weight_scale + bias (Ascend's and the fused
 * MoE kernel's dynamic ones). */
enum epilogue_kind { ASCEND_STATIC, VLLM_STATIC, VLLM_DYNAMIC, SCALED };

static enum epilogue_kind epilogue_of(const struct vs_int8_linear *l)
{
    bool dynamic = l->scheme == VS_INT8_W8A8_DYNAMIC;
    if (l->kernel == VS_INT8_ASCEND)
        return dynamic ? SCALED : ASCEND_STATIC;
    if (l->kernel == VS_INT8_VLLM)
        return dynamic ? VLLM_DYNAMIC : VLLM_STATIC;
    return SCALED;
}

/* y[t, o] for rows t < nt and outputs o0 + o, o < nb, from the exact integer sums acc [nt, nb]:
 * the kernel's float epilogue, one loop per kernel and scheme so that each vectorizes. The float64
 * sum in Ascend's W8A8 is exact, as npu_quant_matmul's int32 plus bias. */
static void epilogue(const struct vs_int8_linear *l, enum epilogue_kind kind, const int32_t *acc, const float *s,
                     const double *zp_sum, int64_t nt, int64_t o0, int64_t nb, float *y, int64_t ldy)
{
    const float *ws = l->weight_scale ? l->weight_scale + o0 : NULL, *b = l->bias ? l->bias + o0 : NULL;
    #pragma omp parallel for schedule(static) if (nt * nb >= VS_PARALLEL_MIN)
    for (int64_t t = 0; t < nt; t++) {
        float *yr = y + t * ldy, ts = l->scheme == VS_INT8_W8A8_DYNAMIC ? s[t] : 0.0f;
        const int32_t *ar = acc + t * nb;
        switch (kind) {
        case ASCEND_STATIC:
            #pragma omp simd
            for (int64_t o = 0; o < nb; o++)
                yr[o] = (float)((double)ar[o] + (double)l->quant_bias[o0 + o]) * l->deq_scale[o0 + o];
            break;
        case VLLM_STATIC:
            #pragma omp simd
            for (int64_t o = 0; o < nb; o++)
                yr[o] = fmaf(l->input_scale, ws[o] * (float)((double)ar[o] - zp_sum[o0 + o]), b ? b[o] : 0.0f);
            break;
        case VLLM_DYNAMIC:
            #pragma omp simd
            for (int64_t o = 0; o < nb; o++)
                yr[o] = fmaf(ts, ws[o] * (float)ar[o], b ? b[o] : 0.0f);
            break;
        case SCALED:
            #pragma omp simd
            for (int64_t o = 0; o < nb; o++)
                yr[o] = (float)ar[o] * ts * ws[o] + (b ? b[o] : 0.0f);
            break;
        }
    }
}

static enum vs_status apply_w8a16(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y)
{
    int64_t B = rows_within(l->in, 4, 16), in = l->in;
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

/* Scratch of vs_int8_linear_apply. */
struct product {
    int8_t *q;      /* a block of quantized rows */
    int32_t *acc32; /* their sums with a block of weight rows (oneDNN) */
    float *qf, *w, *part; /* without it: the rows and a block of weight rows in float32, a partial product */
};

/* Without oneDNN's int8 product: acc32[nt, nb] = q[nt, in] · W[o0 .. o0 + nb)ᵀ from float32
 * products of at most KB columns (each an exact integer), added in int32 as oneDNN adds. */
static void block_product_f32(const struct vs_int8_linear *l, const struct product *p, int64_t nt, int64_t o0, int64_t nb)
{
    int64_t in = l->in;
    for (int64_t i = 0; i < nb * in; i++)
        p->w[i] = (float)l->w[o0 * in + i];
    memset(p->acc32, 0, (size_t)(nt * nb) * sizeof *p->acc32);
    for (int64_t k0 = 0; k0 < in; k0 += KB) {
        int64_t nk = in - k0 < KB ? in - k0 : KB;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nt, (blasint)nb, (blasint)nk, 1.0f, p->qf + k0,
                    (blasint)in, p->w + k0, (blasint)in, 0.0f, p->part, (blasint)nb);
        for (int64_t i = 0; i < nt * nb; i++)
            p->acc32[i] += (int32_t)p->part[i];
    }
}

enum vs_status vs_int8_linear_apply(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y)
{
    if (l->scheme == VS_INT8_W8A16)
        return apply_w8a16(l, x, rows, y);
    int64_t in = l->in, out = l->out, R, B;
    bool dynamic = l->scheme == VS_INT8_W8A8_DYNAMIC, onednn = vs_int8_gemm_available();
    enum epilogue_kind kind = epilogue_of(l);
    struct product p = {0};
    if (onednn) { /* the whole output at once (one product, one epilogue pass): int8 rows and int32 sums <= 32 MiB */
        B = out;
        int64_t by_in = rows_within(in, 1, 32), by_out = rows_within(out, 4, 32);
        R = even_blocks(rows, by_in < by_out ? by_in : by_out);
    } else { /* float32 rows, weight rows and partial sums <= 16 MiB each */
        int64_t by_in = rows_within(in, 4, 16);
        B = by_in < out ? by_in : out;
        int64_t by_out = rows_within(B, 4, 16);
        R = even_blocks(rows, by_in < by_out ? by_in : by_out);
        p.qf = malloc((size_t)(R * in) * sizeof *p.qf);
        p.w = malloc((size_t)(B * in) * sizeof *p.w);
        p.part = malloc((size_t)(R * B) * sizeof *p.part);
    }
    p.acc32 = malloc((size_t)(R * B) * sizeof *p.acc32);
    p.q = malloc((size_t)(R * in));
    /* vLLM's static zero point enters as zero_point · ΣW_q per output (the azp adjustment) */
    double *zp_sum = kind == VLLM_STATIC ? malloc((size_t)out * sizeof *zp_sum) : NULL;
    float *s = malloc((size_t)R * sizeof *s);
    enum vs_status st = p.q && s && (kind != VLLM_STATIC || zp_sum) && p.acc32 && (onednn || (p.qf && p.w && p.part))
                            ? VS_OK : VS_ERR_NOMEM;
    for (int64_t o = 0; st == VS_OK && zp_sum && o < out; o++) {
        int64_t sum = 0;
        for (int64_t c = 0; c < in; c++)
            sum += l->w[o * in + c];
        zp_sum[o] = (double)l->input_offset * (double)sum;
    }
    for (int64_t t0 = 0; t0 < rows && st == VS_OK; t0 += R) {
        int64_t nt = rows - t0 < R ? rows - t0 : R;
        if (dynamic)
            vs_int8_quantize_token(l->kernel, x + t0 * in, nt, in, p.q, s);
        else
            vs_int8_quantize_static(l->kernel, x + t0 * in, nt * in, l->input_scale, l->input_offset, p.q);
        if (!onednn)
            for (int64_t i = 0; i < nt * in; i++)
                p.qf[i] = (float)p.q[i];
        for (int64_t o0 = 0; o0 < out && st == VS_OK; o0 += B) {
            int64_t nb = out - o0 < B ? out - o0 : B;
            if (onednn)
                st = vs_gemm_s8(p.q, l->w + o0 * in, p.acc32, nt, nb, in);
            else
                block_product_f32(l, &p, nt, o0, nb);
            if (st == VS_OK)
                epilogue(l, kind, p.acc32, s, zp_sum, nt, o0, nb, y + t0 * out + o0, out);
        }
    }
    free(p.q), free(p.acc32), free(p.qf), free(p.w), free(p.part);
    free(zp_sum), free(s);
    return st;
}
