#include "quant/int_quant.h"

#include <math.h>

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

int32_t vs_quant_value(float x, float scale, float offset, int bits)
{
    float lo = (float)-(1 << (bits - 1)), hi = (float)((1 << (bits - 1)) - 1);
    float v = rintf(x / scale + offset);
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int32_t)v;
}

void vs_quant_weight_per_channel(const float *w, int64_t rows, int64_t cols, int bits,
                                 bool symmetric, int8_t *q, float *scale, float *offset)
{
    const float lo = (float)-(1 << (bits - 1)), hi = (float)((1 << (bits - 1)) - 1);
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        float mn = 0.0f, mx = 0.0f; /* min clamped to <= 0, max to >= 0 */
        for (int64_t c = 0; c < cols; c++) {
            mn = row[c] < mn ? row[c] : mn;
            mx = row[c] > mx ? row[c] : mx;
        }
        float s, o;
        vs_quant_params(mn, mx, bits, symmetric, &s, &o);
        scale[r] = s;
        if (offset)
            offset[r] = o;
        int8_t *qr = q + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = rintf(row[c] / s + o);
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            qr[c] = (int8_t)v;
        }
    }
}
