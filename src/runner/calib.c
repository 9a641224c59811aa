#include "runner/calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/linear_apply.h"
#include "quant/int8_linear.h"
#include "quant/int_quant.h"
#include "tensor/compute.h"
#include "tensor/kernels.h"

void vs_calib_unit_free(struct vs_calib_unit *cu)
{
    if (!cu)
        return;
    for (size_t i = 0; i < cu->n; i++) {
        free(cu->cl[i].q);
        free(cu->cl[i].w_scale);
        free(cu->cl[i].deq_scale);
        free(cu->cl[i].quant_bias);
        free(cu->cl[i].w_float);
        free(cu->cl[i].hist);
    }
    free(cu->ybuf);
    free(cu->wbuf);
    free(cu->cl);
    free(cu->sorted);
    free(cu->sorted_idx);
    free(cu->buf);
    free(cu);
}

static int by_name(const void *a, const void *b, void *ctx)
{
    const struct vs_calib_unit *cu = ctx;
    return strcmp(cu->u->linears[cu->cl[*(const int *)a].linear].name,
                  cu->u->linears[cu->cl[*(const int *)b].linear].name);
}

enum vs_status vs_calib_unit_open(struct vs_unit_f32 *f, const int *scheme, const bool *symmetric, const bool *routed,
                                  const bool *histogram, struct vs_calib_unit **out)
{
    *out = NULL;
    const struct vs_unit *u = f->unit;
    struct vs_calib_unit *cu = vs_calloc(1, sizeof *cu);
    if (!cu)
        return VS_ERR_NOMEM;
    cu->u = u;
    cu->f = f;
    cu->measure_stride = 1;
    cu->cl = vs_calloc(u->n_linears + 1, sizeof *cu->cl);
    cu->sorted = vs_calloc(u->n_linears + 1, sizeof *cu->sorted);
    cu->sorted_idx = vs_calloc(u->n_linears + 1, sizeof *cu->sorted_idx);
    if (!cu->cl || !cu->sorted || !cu->sorted_idx) {
        vs_calib_unit_free(cu);
        return VS_ERR_NOMEM;
    }
    for (size_t k = 0; k < u->n_linears; k++) {
        if (scheme[k] < 0)
            continue;
        struct vs_calib_linear *c = &cu->cl[cu->n];
        c->linear = (int)k;
        c->scheme = (enum vs_scheme)scheme[k];
        c->symmetric = symmetric[k];
        c->routed = routed[k];
        c->min = c->in_min = INFINITY;
        c->max = c->in_max = -INFINITY;
        if (histogram && histogram[k] && c->scheme == VS_SCHEME_W8A8) {
            if (!(c->hist = vs_malloc(sizeof *c->hist))) {
                vs_calib_unit_free(cu);
                return VS_ERR_NOMEM;
            }
            vs_histogram_init(c->hist);
        }
        cu->sorted_idx[cu->n] = (int)cu->n;
        cu->n++;
    }
    qsort_r(cu->sorted_idx, cu->n, sizeof *cu->sorted_idx, by_name, cu);
    for (size_t i = 0; i < cu->n; i++)
        cu->sorted[i] = u->linears[cu->cl[cu->sorted_idx[i]].linear].name;
    *out = cu;
    return VS_OK;
}

static struct vs_calib_linear *find(struct vs_calib_unit *cu, const char *module)
{
    size_t lo = 0, hi = cu->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(cu->sorted[mid], module);
        if (c == 0)
            return &cu->cl[cu->sorted_idx[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool vs_calib_unit_needs_stats(const struct vs_calib_unit *cu, bool *all_experts)
{
    bool any = false;
    *all_experts = false;
    for (size_t i = 0; i < cu->n; i++)
        if (vs_scheme_needs_data(cu->cl[i].scheme)) {
            any = true;
            *all_experts |= cu->cl[i].routed;
        }
    return any;
}

/* *lo, *hi widened to x[0..n)'s range (NaN skipped); whether x holds NaN. Exact, so the same
 * for any thread count. */
static bool widen_range(const float *x, size_t n, float *lo, float *hi)
{
    if (n == 0) /* (the reductions' private copies start at ±FLT_MAX, not at ±infinity) */
        return false;
    float a = *lo, b = *hi;
    int nan = 0;
    #pragma omp parallel for simd reduction(min : a) reduction(max : b) reduction(| : nan) schedule(static) \
        if (n >= VS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        nan |= v != v;
        a = v < a ? v : a;
        b = v > b ? v : b;
    }
    *lo = a, *hi = b;
    return nan;
}

static void observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct vs_calib_unit *cu = ctx;
    struct vs_calib_linear *c = find(cu, module);
    if (!c || !vs_scheme_needs_data(c->scheme))
        return;
    size_t n = (size_t)(rows * cols);
    c->nan |= widen_range(x, n, &c->min, &c->max);
    c->rows += rows;
    /* the histogram sees each call (NaN is reported by finish_stats, as for minmax) */
    if (c->hist && !c->nan && cu->hook_status == VS_OK) {
        enum vs_status st = vs_histogram_observe(c->hist, x, n, module);
        if (st != VS_OK)
            cu->hook_status = st;
    }
}

static void routed_tokens(void *ctx, const char *module, int64_t tokens)
{
    struct vs_calib_linear *c = find(ctx, module);
    if (c)
        c->routed_tokens += tokens;
}

void vs_calib_unit_observe_hooks(struct vs_calib_unit *cu, struct vs_linear_hooks *h)
{
    bool hist = false; /* a histogram is rebinned call by call, as the reference sees each sample */
    for (size_t i = 0; i < cu->n; i++)
        hist |= cu->cl[i].hist != NULL;
    *h = (struct vs_linear_hooks){.observe_input = observe, .ctx = cu, .routed_tokens = routed_tokens,
                                  .per_sample = hist};
}

enum vs_status vs_calib_unit_finish_stats(struct vs_calib_unit *cu)
{
    char unrouted[1024] = "";
    if (cu->hook_status != VS_OK)
        return cu->hook_status;
    for (size_t i = 0; i < cu->n; i++) {
        struct vs_calib_linear *c = &cu->cl[i];
        const char *name = cu->u->linears[c->linear].name;
        if (!vs_scheme_needs_data(c->scheme))
            continue;
        if (c->rows == 0)
            return vs_error_set(VS_ERR_DATASET, "%s: the W8A8 static scheme selects this Linear but no calibration "
                                "token reached it (e.g. a vision Linear with text-only samples); exclude it or add "
                                "samples that reach it", name);
        if (c->nan)
            return vs_error_set(VS_ERR_MODEL, "%s.input_scale: the Linear's calibration inputs contain NaN", name);
        if (c->routed && c->routed_tokens == 0) {
            /* one warning per unit, naming the first few */
            size_t len = strlen(unrouted);
            if (cu->unrouted < 6)
                snprintf(unrouted + len, sizeof unrouted - len, "%s%s", cu->unrouted ? ", " : "", name);
            cu->unrouted++;
        }
        if (c->hist) {
            float lo, hi;
            enum vs_status st = vs_histogram_clip(c->hist, &lo, &hi, name);
            if (st != VS_OK)
                return st;
            c->min = lo;
            c->max = hi;
        }
        vs_quant_params(c->min, c->max, 8, c->symmetric, &c->act_scale, &c->act_offset);
    }
    if (cu->unrouted)
        vs_warn("%s: no calibration token was routed to %zu W8A8 expert Linear(s): %s%s; their input ranges come from "
                "all tokens (all-experts mode)", cu->u->name, cu->unrouted, unrouted, cu->unrouted > 6 ? ", ..." : "");
    return VS_OK;
}

/* cu->wbuf grown to n floats, or NULL. */
static float *weight_buffer(struct vs_calib_unit *cu, size_t n)
{
    if (n > cu->wbuf_cap) {
        float *b = vs_realloc(cu->wbuf, n * sizeof *b);
        if (!b)
            return NULL;
        cu->wbuf = b, cu->wbuf_cap = n;
    }
    return cu->wbuf;
}

/* quant_bias of output channel o before rounding: b / deq_scale − input_offset · Σ W_q, in float32. */
static float quant_bias_value(const struct vs_calib_linear *c, const float *b, int64_t o, int64_t cols)
{
    int64_t sum = 0;
    for (int64_t k = 0; k < cols; k++)
        sum += c->q[o * cols + k];
    return (b ? b[o] : 0.0f) / c->deq_scale[o] - c->act_offset * (float)sum;
}

enum vs_status vs_calib_linear_quantize(struct vs_calib_unit *cu, struct vs_calib_linear *c)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    const float *w = vs_unit_f32_values(cu->f, (size_t)l->weight);
    const struct vs_param *wp = &cu->u->params[l->weight];
    int64_t rows = wp->shape[0], cols = wp->shape[1];
    if (c->dequantized)
        return vs_error_set(VS_ERR_INTERNAL, "%s: quantized after its weight was replaced", l->name);
    enum vs_status st = VS_OK;
    if (!w && vs_unit_f32_holds_bf16(cu->f, (size_t)l->weight)) { /* converted for this once */
        float *b = weight_buffer(cu, (size_t)(rows * cols));
        if (!b || (st = vs_param_read_f32(wp, b)) != VS_OK)
            return b ? st : VS_ERR_NOMEM;
        w = b;
    }
    if (!w)
        return vs_error_set(VS_ERR_MODEL, "%s: not a float weight", wp->name);
    c->q = vs_malloc((size_t)(rows * cols));
    c->w_scale = vs_malloc((size_t)rows * sizeof *c->w_scale);
    if (!c->q || !c->w_scale)
        return VS_ERR_NOMEM;
    st = vs_linear_quant_weight(c->scheme, l->name, w, rows, cols, c->q, c->w_scale, NULL);
    if (st != VS_OK)
        return st;
    if (c->scheme != VS_SCHEME_W8A8)
        return VS_OK;
    if (!(c->act_scale > 0) || !isfinite(c->act_scale))
        return vs_error_set(VS_ERR_MODEL, "%s.input_scale: %g is not a positive finite scale", l->name, c->act_scale);
    c->deq_scale = vs_malloc((size_t)rows * sizeof *c->deq_scale);
    c->quant_bias = vs_malloc((size_t)rows * sizeof *c->quant_bias);
    if (!c->deq_scale || !c->quant_bias)
        return VS_ERR_NOMEM;
    const float *b = l->bias >= 0 ? vs_unit_f32_values(cu->f, (size_t)l->bias) : NULL;
    for (int64_t o = 0; o < rows; o++) {
        float d = c->act_scale * c->w_scale[o];
        if (!(d > 0) || !isfinite(d))
            return vs_error_set(VS_ERR_MODEL, "%s.deq_scale: element %lld is %g (input_scale %g x weight scale %g)",
                                l->name, (long long)o, d, c->act_scale, c->w_scale[o]);
        c->deq_scale[o] = d;
    }
    int64_t bad = rows; /* the first row whose quant_bias does not fit */
    #pragma omp parallel for reduction(min : bad) schedule(static) if (rows * cols >= VS_PARALLEL_MIN)
    for (int64_t o = 0; o < rows; o++) {
        float r = rintf(quant_bias_value(c, b, o, cols));
        if (!(fabsf(r) < 2147483520.0f))
            bad = o < bad ? o : bad;
        else
            c->quant_bias[o] = (int32_t)r;
    }
    if (bad < rows)
        return vs_error_set(VS_ERR_MODEL, "%s.quant_bias: element %lld (%g) does not fit int32", l->name,
                            (long long)bad, quant_bias_value(c, b, bad, cols));
    return VS_OK;
}

/* Computed by the int8 pass (bf16 mode) rather than on a dequantized weight. */
static bool int8_computed(const struct vs_calib_linear *c)
{
    return c && (c->scheme == VS_SCHEME_W8A8 || c->scheme == VS_SCHEME_W8A8_DYNAMIC) &&
           vs_compute_get() == VS_COMPUTE_BF16;
}

bool vs_calib_linear_keeps_weight(const struct vs_calib_unit *cu, const struct vs_calib_linear *c)
{
    return int8_computed(c) && vs_unit_f32_holds_bf16(cu->f, (size_t)cu->u->linears[c->linear].weight);
}

/* The float weight of linear c into dst: the copy kept before it was replaced, else converted
 * again from the checkpoint (cu->src). */
static enum vs_status float_weight(const struct vs_calib_unit *cu, const struct vs_calib_linear *c, float *dst)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    size_t n = vs_param_numel(&cu->u->params[l->weight]);
    if (c->w_float) {
        memcpy(dst, c->w_float, n * sizeof *dst);
        return VS_OK;
    }
    const char *name = cu->u->params[l->weight].name;
    int k = cu->src ? vs_unit_find_param(cu->src, name) : -1;
    if (k < 0)
        return vs_error_set(VS_ERR_INTERNAL, "%s: its float weight was neither kept nor written out", name);
    const struct vs_param *p = &cu->src->params[k];
    enum vs_status st = vs_param_read_f32(p, dst);
    vs_param_release(p);
    return st;
}

enum vs_status vs_calib_linear_dequantize(struct vs_calib_unit *cu, struct vs_calib_linear *c)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    const struct vs_param *wp = &cu->u->params[l->weight];
    int64_t rows = wp->shape[0], cols = wp->shape[1];
    if (c->dequantized)
        return VS_OK;
    if (!c->q)
        return vs_error_set(VS_ERR_INTERNAL, "%s: dequantized before it was quantized", l->name);
    if (vs_calib_linear_keeps_weight(cu, c)) { /* the int8 pass reads q itself */
        c->dequantized = true;
        return VS_OK;
    }
    enum vs_status st = vs_unit_f32_own(cu->f, (size_t)l->weight);
    float *w = vs_unit_f32_values(cu->f, (size_t)l->weight);
    if (st != VS_OK || !w)
        return st != VS_OK ? st : vs_error_set(VS_ERR_INTERNAL, "%s: not a float weight", wp->name);
    if ((cu->measure || cu->float_after) && !cu->src && !c->w_float) { /* needed again, only kept */
        if (!(c->w_float = vs_malloc((size_t)(rows * cols) * sizeof *w)))
            return VS_ERR_NOMEM;
        memcpy(c->w_float, w, (size_t)(rows * cols) * sizeof *w);
    }
    for (int64_t o = 0; o < rows; o++)
        for (int64_t k = 0; k < cols; k++)
            w[o * cols + k] = (float)c->q[o * cols + k] * c->w_scale[o];
    c->dequantized = true;
    /* the per-channel vectors stay for the int8 pass, which takes the int8 weight back from
     * the dequantized one (q·s / s rounds to q: |q| <= 128, the error at most 2^-16) */
    free(c->q);
    c->q = NULL;
    return VS_OK;
}

void vs_calib_linear_release(struct vs_calib_linear *c)
{
    free(c->q), free(c->w_scale), free(c->deq_scale), free(c->quant_bias);
    c->q = NULL, c->w_scale = NULL, c->deq_scale = NULL, c->quant_bias = NULL;
}

static float *scratch(struct vs_calib_unit *cu, size_t n)
{
    if (n > cu->buf_cap) {
        float *b = vs_realloc(cu->buf, n * sizeof *b);
        if (!b)
            return NULL;
        cu->buf = b;
        cu->buf_cap = n;
    }
    return cu->buf;
}

/* The first row of a call that is measured: rows are counted over the whole pass (c->pass_rows),
 * so that the measured rows do not depend on how the rows were split into calls. */
static int64_t first_measured(const struct vs_calib_unit *cu, const struct vs_calib_linear *c)
{
    int64_t k = cu->measure_stride, r = c->pass_rows % k;
    return r ? k - r : 0;
}

/* A failure inside the measuring hooks: kept for the pass to return; the call is not measured. */
static void measure_failed(struct vs_calib_unit *cu, enum vs_status st)
{
    if (cu->hook_status == VS_OK)
        cu->hook_status = st;
    cu->pending = NULL;
}

/* The float Linear c on the measured rows xs [picked, in] into cu->ybuf, as the run's compute
 * mode computes it: in bf16 mode from bf16 bits in place where the copy holds the weight so or
 * cu->src holds one, else from the float weight (kept, or converted again from the checkpoint). */
static enum vs_status float_output(struct vs_calib_unit *cu, const struct vs_calib_linear *c, const float *xs,
                                   int64_t picked)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    int64_t out = cu->u->params[l->weight].shape[0], cols = cu->u->params[l->weight].shape[1];
    const float *bias = l->bias >= 0 ? vs_unit_f32_values(cu->f, (size_t)l->bias) : NULL;
    bool bf16 = vs_compute_get() == VS_COMPUTE_BF16;
    struct vs_linear_bf16 v;
    /* a weight the copy holds as bf16 is the float one, checked finite once */
    const struct vs_unit *src = vs_unit_f32_holds_bf16(cu->f, (size_t)l->weight) ? cu->f->unit : cu->src;
    if (bf16 && !c->w_float && src && vs_linear_bf16_view(src, l->name, &v))
        return vs_linear_bf16_weights(xs, v.w, v.ldw, v.w_in_out, bias, cu->ybuf, picked, out, cols);
    const float *wf = c->w_float;
    if (!wf) {
        float *b = weight_buffer(cu, (size_t)(out * cols));
        if (!b)
            return VS_ERR_NOMEM;
        enum vs_status st = float_weight(cu, c, b);
        if (st != VS_OK)
            return st;
        wf = b;
    }
    if (!bf16) {
        vs_linear_f32(xs, wf, bias, cu->ybuf, picked, out, cols);
        return VS_OK;
    }
    return vs_linear_bf16(xs, wf, cols, false, bias, cu->ybuf, picked, out, cols); /* xs is rounded already */
}

/* The float output y = x·W_floatᵀ + b of the call's measured rows (every measure_stride-th),
 * kept until the Linear's own (quantized) output arrives in measure_output. */
static void measure_input(struct vs_calib_unit *cu, struct vs_calib_linear *c, const float *x, int64_t rows,
                          int64_t cols)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    int64_t out = cu->u->params[l->weight].shape[0], k = cu->measure_stride, r0 = first_measured(cu, c);
    int64_t picked = r0 < rows ? (rows - r0 + k - 1) / k : 0;
    widen_range(x, (size_t)(rows * cols), &c->in_min, &c->in_max);
    cu->pending = c;
    cu->pending_rows = rows;
    cu->pending_first = r0;
    cu->pending_picked = picked;
    if (picked == 0)
        return;
    /* ybuf: the picked rows' outputs, then (stride > 1) the picked input rows gathered */
    size_t need = (size_t)(picked * out) + (k > 1 ? (size_t)(picked * cols) : 0);
    if (need > cu->ybuf_cap) {
        float *b = vs_realloc(cu->ybuf, need * sizeof *b);
        if (!b) {
            measure_failed(cu, VS_ERR_NOMEM);
            return;
        }
        cu->ybuf = b;
        cu->ybuf_cap = need;
    }
    const float *xs = x;
    if (k > 1) {
        float *g = cu->ybuf + picked * out;
        for (int64_t t = 0; t < picked; t++)
            memcpy(g + t * cols, x + (r0 + t * k) * cols, (size_t)cols * sizeof *g);
        xs = g;
    }
    enum vs_status st = float_output(cu, c, xs, picked);
    if (st != VS_OK)
        measure_failed(cu, st);
}

/* ||y_q − y||² and ||y||² of the rows measure_input picked from the call it saw. */
static void measure_output(void *ctx, const char *module, const float *yq, int64_t rows, int64_t cols)
{
    struct vs_calib_unit *cu = ctx;
    struct vs_calib_linear *c = cu->pending;
    if (!c || rows != cu->pending_rows || strcmp(cu->u->linears[c->linear].name, module) != 0)
        return;
    cu->pending = NULL;
    c->pass_rows += rows;
    /* summed row by row, so that the totals do not depend on how the rows were split into
     * calls (one sample or a batch of samples at a time) */
    for (int64_t t = 0; t < cu->pending_picked; t++) {
        const float *y = cu->ybuf + t * cols, *q = yq + (cu->pending_first + t * cu->measure_stride) * cols;
        double e = 0, r = 0;
        for (int64_t i = 0; i < cols; i++) {
            double d = (double)q[i] - y[i];
            e += d * d;
            r += (double)y[i] * y[i];
        }
        c->err2 += e;
        c->ref2 += r;
    }
    c->eval_rows += cu->pending_picked;
}

static const float *fake_quant_input(struct vs_calib_unit *cu, struct vs_calib_linear *c, const float *x, int64_t rows,
                                     int64_t cols);

static const float *fake_quant(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct vs_calib_unit *cu = ctx;
    struct vs_calib_linear *c = find(cu, module);
    if (!c)
        return x;
    const float *xq = fake_quant_input(cu, c, x, rows, cols);
    if (cu->measure)
        measure_input(cu, c, x, rows, cols);
    return xq;
}

static const float *fake_quant_input(struct vs_calib_unit *cu, struct vs_calib_linear *c, const float *x, int64_t rows,
                                     int64_t cols)
{
    if (c->scheme == VS_SCHEME_W8A16)
        return x;
    float *y = scratch(cu, (size_t)(rows * cols));
    if (!y) {
        if (cu->hook_status == VS_OK)
            cu->hook_status = VS_ERR_NOMEM;
        return x;
    }
    if (c->scheme == VS_SCHEME_W8A8) {
        float s = c->act_scale, o = c->act_offset;
        for (size_t i = 0; i < (size_t)(rows * cols); i++)
            y[i] = ((float)vs_quant_value(x[i], s, o, 8) - o) * s;
        return y;
    }
    for (int64_t r = 0; r < rows; r++) { /* W8A8_DYNAMIC: per token, symmetric */
        const float *xr = x + r * cols;
        float *yr = y + r * cols, a = 0;
        for (int64_t k = 0; k < cols; k++)
            a = fabsf(xr[k]) > a ? fabsf(xr[k]) : a;
        float s = a / 127.0f;
        s = s > VS_QUANT_EPS ? s : VS_QUANT_EPS;
        for (int64_t k = 0; k < cols; k++)
            yr[k] = (float)vs_quant_value(xr[k], s, 0.0f, 8) * s;
    }
    return y;
}

/* ---- the int8 pass (bf16 mode): W8A8 Linears as the NPU computes them ---- */

static bool int8_computes(void *ctx, const char *module, int64_t *in, int64_t *out)
{
    struct vs_calib_unit *cu = ctx;
    const struct vs_calib_linear *c = find(cu, module);
    if (!int8_computed(c))
        return false;
    const struct vs_param *w = &cu->u->params[cu->u->linears[c->linear].weight];
    *out = w->shape[0], *in = w->shape[1];
    return true;
}

static void int8_observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct vs_calib_unit *cu = ctx;
    struct vs_calib_linear *c = find(cu, module);
    if (c && cu->measure)
        measure_input(cu, c, x, rows, cols);
}

/* The int8 weight of c: kept (vs_calib_linear_keeps_weight), else taken back
 * from the dequantized one into a buffer the caller frees. */
static int8_t *int8_weight(struct vs_calib_unit *cu, const struct vs_calib_linear *c, int64_t out, int64_t in)
{
    if (c->q)
        return c->q;
    const float *w = vs_unit_f32_values(cu->f, (size_t)cu->u->linears[c->linear].weight);
    int8_t *q = vs_malloc((size_t)(out * in));
    if (!q)
        return NULL;
    /* q·s · fl(1/s) is q within 3·2^-24 relative: rounds to q */
    #pragma omp parallel for schedule(static) if (out * in >= 131072)
    for (int64_t o = 0; o < out; o++) {
        const float r = 1.0f / c->w_scale[o], *wr = w + o * in;
        int8_t *qr = q + o * in;
        #pragma omp simd
        for (int64_t k = 0; k < in; k++)
            qr[k] = (int8_t)rintf(wr[k] * r);
    }
    return q;
}

/* vLLM Ascend's W8A8 / W8A8_DYNAMIC arithmetic (quant/int8_linear.h) from the int8 weight, the
 * weight scales and, W8A8, the export's quant_bias and deq_scale. */
static enum vs_status int8_compute(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct vs_calib_unit *cu = ctx;
    struct vs_calib_linear *c = find(cu, module);
    const struct vs_linear *l = &cu->u->linears[c->linear];
    int64_t out = cu->u->params[l->weight].shape[0], in = cu->u->params[l->weight].shape[1];
    int8_t *q = int8_weight(cu, c, out, in);
    if (!q)
        return VS_ERR_NOMEM;
    bool dynamic = c->scheme == VS_SCHEME_W8A8_DYNAMIC;
    struct vs_int8_linear il = {.name = l->name, .out = out, .in = in, .w = q, .weight_scale = c->w_scale,
                                .scheme = dynamic ? VS_INT8_W8A8_DYNAMIC : VS_INT8_W8A8,
                                .input_scale = c->act_scale, .input_offset = c->act_offset,
                                .bias = l->bias >= 0 ? vs_unit_f32_values(cu->f, (size_t)l->bias) : NULL};
    if (!cu->vllm_kernels) {
        il.kernel = VS_INT8_ASCEND;
        if (!dynamic) /* the bias is inside quant_bias */
            il.quant_bias = c->quant_bias, il.deq_scale = c->deq_scale, il.bias = NULL;
    } else {
        il.kernel = dynamic && c->routed ? VS_INT8_VLLM_MOE : VS_INT8_VLLM;
    }
    enum vs_status st = vs_int8_linear_apply(&il, x, rows, y);
    if (q != c->q)
        free(q);
    return st;
}

void vs_calib_unit_apply(struct vs_calib_unit *cu, struct vs_linear_hooks *h)
{
    for (size_t i = 0; i < cu->n; i++) {
        enum vs_status st = vs_calib_linear_dequantize(cu, &cu->cl[i]);
        if (st != VS_OK && cu->hook_status == VS_OK)
            cu->hook_status = st;
    }
    if (vs_compute_get() == VS_COMPUTE_BF16) { /* W8A8 Linears in int8, W8A16 on its dequantized weight */
        *h = (struct vs_linear_hooks){.ctx = cu, .computes = int8_computes, .compute = int8_compute,
                                      .observe_input = int8_observe,
                                      .observe_output = cu->measure ? measure_output : NULL};
        return;
    }
    *h = (struct vs_linear_hooks){.ctx = cu, .transform_input = fake_quant,
                                  .observe_output = cu->measure ? measure_output : NULL};
}

size_t vs_calib_unit_held_bytes(const struct vs_calib_unit *cu)
{
    size_t n = (cu->buf_cap + cu->wbuf_cap + cu->ybuf_cap) * sizeof(float);
    for (size_t i = 0; i < cu->n; i++)
        if (cu->cl[i].q)
            n += vs_param_numel(&cu->u->params[cu->u->linears[cu->cl[i].linear].weight]);
    return n;
}

enum vs_status vs_calib_unit_restore_float(struct vs_calib_unit *cu)
{
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < cu->n && st == VS_OK; i++) {
        const struct vs_calib_linear *c = &cu->cl[i];
        float *w = vs_unit_f32_values(cu->f, (size_t)cu->u->linears[c->linear].weight);
        if (c->dequantized && w) /* (a weight held as bf16 was never replaced) */
            st = float_weight(cu, c, w);
    }
    return st;
}
