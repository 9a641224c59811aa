#include "quant/int_quant.h"

#include <float.h>
#include <math.h>

#include "tensor/kernels.h"

#if FLT_EVAL_METHOD != 0
#error "round_small() needs float arithmetic without excess precision"
#endif

/* Lanes of the per-row loops. GCC 12 at -O2 vectorizes only loops whose trip count is a
 * known multiple of the vector width (the "very cheap" cost model), so the hot loops run
 * over fixed blocks of VS_QUANT_LANES columns with a scalar tail. */
#define VS_QUANT_LANES 16

/* Round half to even for |v| <= 2^22 under the default rounding mode: adding 1.5 * 2^23
 * leaves no fraction bits, so the FPU rounds exactly as rintf() does. Unlike rintf() it
 * vectorizes with plain SSE2. Callers clamp v to [-128, 127] first. */
static inline float round_small(float v)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return (v + magic) - magic;
}

/* clamp(round(v), lo, hi) as round(clamp(v, lo, hi)): the same for integer bounds, since
 * rounding is monotonic. The comparisons send NaN to lo (a defined value, not UB). */
static inline float quantize(float v, float lo, float hi)
{
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return round_small(v);
}

void vs_quant_params(float min, float max, int bits, bool symmetric, float *scale, float *offset)
{
    if (min > 0.0f)
        min = 0.0f;
    if (max < 0.0f)
        max = 0.0f;
    if (symmetric) {
        float q = (float)((1 << (bits - 1)) - 1);
        float a = -min > max ? -min : max;
        float s = a / q;
        *scale = s > VS_QUANT_EPS ? s : VS_QUANT_EPS;
        *offset = 0.0f;
    } else {
        float q = (float)((1 << bits) - 1);
        float s = max / q - min / q;
        s = s > VS_QUANT_EPS ? s : VS_QUANT_EPS;
        *scale = s;
        *offset = rintf(-min / s) - (float)(1 << (bits - 1));
    }
}

/* The scalar path rounds with rintf(), so the tests can check the vectorized one against it. */
int32_t vs_quant_value(float x, float scale, float offset, int bits)
{
    float lo = (float)-(1 << (bits - 1)), hi = (float)((1 << (bits - 1)) - 1);
    float v = rintf(x / scale + offset);
    v = v > lo ? v : lo; /* NaN -> lo */
    v = v < hi ? v : hi;
    return (int32_t)v;
}

/* Min and max of a row, both starting at 0 (the clamps of vs_quant_params). NaN is skipped
 * (torch would propagate it into the scale). */
static void row_min_max(const float *restrict row, int64_t cols, float *min, float *max)
{
    float mn[VS_QUANT_LANES] = {0}, mx[VS_QUANT_LANES] = {0};
    int64_t c = 0;
    for (; c + VS_QUANT_LANES <= cols; c += VS_QUANT_LANES)
        for (int k = 0; k < VS_QUANT_LANES; k++) {
            float v = row[c + k];
            mn[k] = v < mn[k] ? v : mn[k];
            mx[k] = v > mx[k] ? v : mx[k];
        }
    for (int64_t k = 0; c + k < cols; k++) {
        float v = row[c + k];
        mn[k] = v < mn[k] ? v : mn[k];
        mx[k] = v > mx[k] ? v : mx[k];
    }
    float a = 0.0f, b = 0.0f;
    for (int k = 0; k < VS_QUANT_LANES; k++) {
        a = mn[k] < a ? mn[k] : a;
        b = mx[k] > b ? mx[k] : b;
    }
    *min = a;
    *max = b;
}

static void row_quantize(const float *restrict row, int64_t cols, float s, float o, float lo, float hi,
                         int8_t *restrict q)
{
    int64_t c = 0;
    for (; c + VS_QUANT_LANES <= cols; c += VS_QUANT_LANES)
        for (int k = 0; k < VS_QUANT_LANES; k++) /* x / s, not x * (1/s): bit-exact with torch */
            q[c + k] = (int8_t)(int32_t)quantize(row[c + k] / s + o, lo, hi);
    for (; c < cols; c++)
        q[c] = (int8_t)(int32_t)quantize(row[c] / s + o, lo, hi);
}

void vs_quant_weight_per_channel(const float *w, int64_t rows, int64_t cols, int bits,
                                 bool symmetric, int8_t *q, float *scale, float *offset)
{
    const float lo = (float)-(1 << (bits - 1)), hi = (float)((1 << (bits - 1)) - 1);
    /* rows are independent: the result does not depend on the thread count */
    #pragma omp parallel for schedule(static) if (rows * cols >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float mn, mx, s, o;
        row_min_max(row, cols, &mn, &mx);
        vs_quant_params(mn, mx, bits, symmetric, &s, &o);
        scale[r] = s;
        if (offset)
            offset[r] = o;
        row_quantize(row, cols, s, o, lo, hi, q + r * cols);
    }
}
