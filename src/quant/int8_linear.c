#include "quant/int8_linear.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "base/status.h"
#include "tensor/kernels.h"

/* Rows of a block: keeps each float64 buffer near 32 MiB whatever the layer's width. */
static int64_t block_rows(int64_t width)
{
    int64_t b = ((int64_t)4 << 20) / (width > 0 ? width : 1);
    return b < 1 ? 1 : b;
}

static float clamp_int8(float v) { return fminf(fmaxf(v, -128.0f), 127.0f); }

void vs_int8_quantize_static(const float *x, int64_t n, float input_scale, float input_offset, float *q)
{
    const float r = 1.0f / input_scale; /* npu_quantize takes the reciprocal */
    for (int64_t i = 0; i < n; i++)
        q[i] = clamp_int8(rintf(x[i] * r + input_offset));
}

void vs_int8_quantize_token(const float *x, int64_t rows, int64_t in, float *q, float *s)
{
    for (int64_t t = 0; t < rows; t++) {
        const float *xr = x + t * in;
        float m = 0.0f;
        for (int64_t c = 0; c < in; c++)
            m = fmaxf(m, fabsf(xr[c]));
        float st = fmaxf(m / 127.0f, FLT_EPSILON);
        s[t] = st;
        for (int64_t c = 0; c < in; c++)
            q[t * in + c] = clamp_int8(rintf(xr[c] / st));
    }
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

enum vs_status vs_int8_linear_apply(const struct vs_int8_linear *l, const float *x, int64_t rows, float *y)
{
    if (l->scheme == VS_INT8_W8A16)
        return apply_w8a16(l, x, rows, y);
    int64_t in = l->in, out = l->out, R = block_rows(in), B = block_rows(in);
    R = R < rows ? R : rows;
    R = R > 0 ? R : 1;
    double *acc = malloc((size_t)(R * B) * sizeof *acc);
    float *q = malloc((size_t)(R * in) * sizeof *q), *w = malloc((size_t)(B * in) * sizeof *w);
    float *part = malloc((size_t)(R * B) * sizeof *part), *s = malloc((size_t)R * sizeof *s);
    if (!q || !acc || !w || !part || !s) {
        free(q), free(acc), free(w), free(part), free(s);
        return VS_ERR_NOMEM;
    }
    bool dynamic = l->scheme == VS_INT8_W8A8_DYNAMIC;
    for (int64_t t0 = 0; t0 < rows; t0 += R) {
        int64_t nt = rows - t0 < R ? rows - t0 : R;
        if (dynamic)
            vs_int8_quantize_token(x + t0 * in, nt, in, q, s);
        else
            vs_int8_quantize_static(x + t0 * in, nt * in, l->input_scale, l->input_offset, q);
        for (int64_t o0 = 0; o0 < out; o0 += B) {
            int64_t nb = out - o0 < B ? out - o0 : B;
            for (int64_t i = 0; i < nb * in; i++)
                w[i] = (float)l->w[o0 * in + i];
            memset(acc, 0, (size_t)(nt * nb) * sizeof *acc);
            for (int64_t k0 = 0; k0 < in; k0 += KB) { /* exact partial sums, added in float64 */
                int64_t nk = in - k0 < KB ? in - k0 : KB;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nt, (blasint)nb, (blasint)nk, 1.0f,
                            q + k0, (blasint)in, w + k0, (blasint)in, 0.0f, part, (blasint)nb);
                for (int64_t i = 0; i < nt * nb; i++)
                    acc[i] += (double)part[i];
            }
            for (int64_t t = 0; t < nt; t++) {
                float *yr = y + (t0 + t) * out + o0;
                const double *ar = acc + t * nb;
                for (int64_t o = 0; o < nb; o++) {
                    if (dynamic) {
                        float v = (float)ar[o] * s[t] * l->weight_scale[o0 + o];
                        yr[o] = l->bias ? v + l->bias[o0 + o] : v;
                    } else {
                        yr[o] = (float)(ar[o] + (double)l->quant_bias[o0 + o]) * l->deq_scale[o0 + o];
                    }
                }
            }
        }
    }
    free(q), free(acc), free(w), free(part), free(s);
    return VS_OK;
}
