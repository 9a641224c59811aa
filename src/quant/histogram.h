/* The histogram activation observer (spec §5.4): torch.ao.quantization.HistogramObserver of
 * PyTorch 1.13 with bins = 2048 and upsample_rate = 16, reproduced step by step in its
 * float32/float64 arithmetic, and its L2 clip search (_non_linear_param_search with
 * 2^8 destination bins).
 *
 * - The first call (and any call while min == max) sets [min, max] from the batch and
 *   replaces the histogram by torch.histc(x, 2048, min=int(min), max=int(max)): PyTorch 1.13
 *   truncates the range to integers there (values outside it are not counted; when both
 *   truncate to the same integer histc bins over the batch's own min/max instead).
 * - A later call with a wider range combines the histograms as _combine_histograms does: the
 *   range is widened to a whole multiple (downsample rate) of the old one over the upsampled
 *   grid (max relaxed, min kept), the old histogram upsampled 16x, placed at its offset,
 *   integrated in float64 and resampled; a call within the range adds its counts.
 * - vs_histogram_clip returns the clipped [new_min, new_max].
 *
 * Sums over the histogram are computed in float64 and rounded to float32 where PyTorch reduces
 * in float32 (its vectorized cascade order is not reproduced). */
#ifndef VS_QUANT_HISTOGRAM_H
#define VS_QUANT_HISTOGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

#define VS_HISTOGRAM_BINS 2048
#define VS_HISTOGRAM_UPSAMPLE 16
#define VS_HISTOGRAM_DST_BINS 256

struct vs_histogram {
    float hist[VS_HISTOGRAM_BINS];
    float min, max; /* +inf, -inf until the first non-empty call */
    size_t calls;
};

void vs_histogram_init(struct vs_histogram *h);

/* Feeds one call's input (n floats; n = 0 is ignored). NaN or infinite inputs, and a range that
 * grows by a factor the upsampled grid cannot hold, are errors naming `what`. */
enum vs_status vs_histogram_observe(struct vs_histogram *h, const float *x, size_t n, const char *what);

/* The clip range minimising the L2 quantization error estimate; an observer that saw nothing
 * is an error naming `what`. */
enum vs_status vs_histogram_clip(const struct vs_histogram *h, float *new_min, float *new_max, const char *what);

#endif
