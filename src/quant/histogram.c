#include "quant/histogram.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if FLT_EVAL_METHOD != 0
#error "the histogram observer needs float arithmetic without excess precision"
#endif

#define NB VS_HISTOGRAM_BINS

void vs_histogram_init(struct vs_histogram *h)
{
    memset(h, 0, sizeof *h);
    h->min = INFINITY;
    h->max = -INFINITY;
}

static void batch_min_max(const float *x, size_t n, float *lo, float *hi)
{
    float a = x[0], b = x[0];
    for (size_t i = 1; i < n; i++) {
        a = x[i] < a ? x[i] : a;
        b = x[i] > b ? x[i] : b;
    }
    *lo = a;
    *hi = b;
}

/* torch.histc(x, NB, min=lo, max=hi) (ATen's linear-interpolation binning in float32): a range
 * with lo == hi is the batch's min/max, and still empty it is widened by 1 on both sides;
 * values outside [lo, hi] are not counted; the last bin holds its right edge. */
static void histc(const float *x, size_t n, double lo, double hi, float bmin, float bmax, float *out)
{
    if (lo == hi) {
        lo = bmin;
        hi = bmax;
    }
    if (lo == hi) {
        lo -= 1;
        hi += 1;
    }
    float l = (float)lo, r = (float)hi, w = r - l;
    memset(out, 0, NB * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!(v >= l && v <= r))
            continue;
        long long pos = (long long)((v - l) * (float)NB / w);
        if (pos == NB)
            pos = NB - 1;
        out[pos] += 1.0f;
    }
}

enum vs_status vs_histogram_observe(struct vs_histogram *h, const float *x, size_t n, const char *what)
{
    if (n == 0)
        return VS_OK;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return vs_error_set(VS_ERR_MODEL, "%s: histogram observer: input element %zu is %s", what, i,
                                isnan(x[i]) ? "NaN" : "infinite");
    float bmin, bmax;
    batch_min_max(x, n, &bmin, &bmax);
    h->calls++;
    bool uninit = h->min == INFINITY && h->max == -INFINITY;
    if (uninit || h->min == h->max) {
        h->min = bmin;
        h->max = bmax;
        histc(x, n, trunc((double)bmin), trunc((double)bmax), bmin, bmax, h->hist);
        return VS_OK;
    }
    float cmin = bmin < h->min ? bmin : h->min, cmax = bmax > h->max ? bmax : h->max;
    /* _adjust_min_max, in float32 tensors */
    float hbw = (h->max - h->min) / (float)(NB * VS_HISTOGRAM_UPSAMPLE);
    float grid = (float)NB * hbw;
    double dsr = ceil((double)((cmax - cmin) / grid));
    if (!(dsr >= 1 && dsr <= (double)(1 << 20)))
        return vs_error_set(VS_ERR_MODEL, "%s: histogram observer: the input range [%g, %g] is too wide for the "
                            "observed range [%g, %g] (downsample rate %g)", what, bmin, bmax, h->min, h->max, dsr);
    long long ds = (long long)dsr;
    float e = (float)ds * grid - (cmax - cmin);
    cmax = cmax + e;
    long long start = (long long)rintf((h->min - cmin) / hbw);
    float nh[NB];
    histc(x, n, trunc((double)cmin), trunc((double)cmax), bmin, bmax, nh);
    if (cmin == h->min && cmax == h->max) {
        for (int k = 0; k < NB; k++)
            nh[k] += h->hist[k];
    } else {
        /* _combine_histograms: the old histogram repeated upsample times at [start, start +
         * NB·upsample) of a zero grid of NB·ds cells, its float64 cumulative sum sampled every
         * ds cells, differenced against the float32 copy of the previous sample, / upsample */
        long long len = (long long)NB * ds, up_end = start + (long long)NB * VS_HISTOGRAM_UPSAMPLE;
        if (up_end > len)
            up_end = len; /* (PyTorch fails on the shape mismatch here) */
        double run = 0.0, prev = 0.0;
        long long p = start; /* next cell to add */
        for (int k = 0; k < NB; k++) {
            long long at = (long long)(k + 1) * ds - 1;
            for (; p <= at && p < up_end; p++)
                if (p >= 0)
                    run += (double)h->hist[(p - start) / VS_HISTOGRAM_UPSAMPLE];
            double integral = run;
            nh[k] = nh[k] + (float)((integral - (double)(float)prev) / VS_HISTOGRAM_UPSAMPLE);
            prev = integral;
        }
    }
    memcpy(h->hist, nh, sizeof nh);
    h->min = cmin;
    h->max = cmax;
    return VS_OK;
}

/* density·(end³ − begin³)/3 in float32, left to right as _get_norm evaluates it */
static inline float get_norm(float b, float e, float density)
{
    float n = (e * e * e - b * b * b) / 3.0f;
    return density * n;
}

/* torch.div(a, b, rounding_mode='floor') for float32 (ATen's div_floor: fmod-based) */
static inline float floorf_div(float a, float b)
{
    float mod = fmodf(a, b);
    float div = (a - mod) / b;
    if (mod != 0 && (b < 0) != (mod < 0)) {
        mod += b;
        div -= 1.0f;
    }
    if (div == 0)
        return copysignf(0.0f, a / b);
    float f = floorf(div);
    if (div - f > 0.5f)
        f += 1.0f;
    return f;
}

/* _compute_quantization_error(start, end) */
static double quant_error(const struct vs_histogram *h, int start, int end)
{
    double bin_width = ((double)h->max - (double)h->min) / NB;
    double dbw = bin_width * (end - start + 1) / VS_HISTOGRAM_DST_BINS;
    if (dbw == 0.0)
        return 0.0;
    float bw = (float)bin_width, d = (float)dbw, half = (float)(dbw / 2), mhalf = (float)(-dbw / 2);
    /* _get_norm(tensor(-dbw/2), tensor(dbw/2), density) = density · mid_norm */
    float mid_norm = (half * half * half - mhalf * mhalf * mhalf) / 3.0f;
    double sum = 0.0;
    for (int k = 0; k < NB; k++) {
        float begin = (float)(k - start) * bw;
        float endv = begin + bw;
        float db = floorf_div(begin, d), de = floorf_div(endv, d);
        db = db < 0 ? 0 : db > VS_HISTOGRAM_DST_BINS - 1 ? VS_HISTOGRAM_DST_BINS - 1 : db;
        de = de < 0 ? 0 : de > VS_HISTOGRAM_DST_BINS - 1 ? VS_HISTOGRAM_DST_BINS - 1 : de;
        float db_center = (db + 0.5f) * d;
        float density = h->hist[k] / bw;
        float norm = 0.0f;
        norm += get_norm(begin - db_center, half, density);
        norm += (de - db - 1.0f) * (density * mid_norm);
        float de_center = de * d + half;
        norm += get_norm(mhalf, endv - de_center, density);
        sum += norm;
    }
    return (double)(float)sum;
}

enum vs_status vs_histogram_clip(const struct vs_histogram *h, float *new_min, float *new_max, const char *what)
{
    if (h->min == INFINITY && h->max == -INFINITY)
        return vs_error_set(VS_ERR_DATASET, "%s: histogram observer: no input was observed", what);
    float bin_width = (h->max - h->min) / (float)NB;
    float csum[NB];
    double run = 0.0;
    for (int k = 0; k < NB; k++) { /* torch.cumsum of float32: float64 accumulator */
        run += h->hist[k];
        csum[k] = (float)run;
    }
    double total = (double)(float)run;
    const double stepsize = 1e-5;
    double alpha = 0.0, beta = 1.0, norm_min = INFINITY;
    int start_bin = 0, end_bin = NB - 1;
    while (alpha < beta) {
        double next_alpha = alpha + stepsize, next_beta = beta - stepsize;
        /* cSum[l] < next_alpha * total: a float32 tensor against a Python float, in float32 */
        float ta = (float)(next_alpha * total), tb = (float)(next_beta * total);
        int l = start_bin, r = end_bin;
        while (l < end_bin && csum[l] < ta)
            l++;
        while (r > start_bin && csum[r] > tb)
            r--;
        int ns = start_bin, ne = end_bin;
        if (l - start_bin > end_bin - r) {
            ns = l;
            alpha = next_alpha;
        } else {
            ne = r;
            beta = next_beta;
        }
        if (ns == start_bin && ne == end_bin)
            continue;
        double norm = quant_error(h, ns, ne);
        if (norm > norm_min)
            break;
        norm_min = norm;
        start_bin = ns;
        end_bin = ne;
    }
    *new_min = h->min + bin_width * (float)start_bin;
    *new_max = h->min + bin_width * (float)(end_bin + 1);
    return VS_OK;
}
