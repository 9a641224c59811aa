/* Integer quantization math of msModelSlim (spec §6.2), in float32.
 *
 * eps = 2^-23; min is clamped to <= 0 and max to >= 0 before computing parameters;
 * symmetric: scale = max(max(-min, max) / (2^(b-1) - 1), eps), offset = 0;
 * asymmetric: scale = max(max/(2^b - 1) - min/(2^b - 1), eps),
 *             offset = round(-min/scale) - 2^(b-1);
 * q = clamp(round(x/scale + offset), -2^(b-1), 2^(b-1) - 1), round = half to even. */
#ifndef VS_QUANT_INT_QUANT_H
#define VS_QUANT_INT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VS_QUANT_EPS 1.1920928955078125e-07f /* 2^-23 */

/* Scale and offset for a [min, max] range at `bits` (4 or 8). */
void vs_quant_params(float min, float max, int bits, bool symmetric, float *scale, float *offset);

/* Quantizes one value. */
int32_t vs_quant_value(float x, float scale, float offset, int bits);

/* Per-output-channel weight quantization of a row-major [rows, cols] float32 matrix:
 * per row min/max over the columns, parameters as above, q[r, c] into `q` (int8 storage,
 * also for 4 bits). `offset` may be NULL when symmetric. */
void vs_quant_weight_per_channel(const float *w, int64_t rows, int64_t cols, int bits,
                                 bool symmetric, int8_t *q, float *scale, float *offset);

#endif
