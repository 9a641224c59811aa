#include "quant/smooth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int vs_smooth_priority(enum vs_smooth_type t)
{
    switch (t) {
    case VS_SMOOTH_UP_DOWN: return 1;
    case VS_SMOOTH_OV: return 2;
    case VS_SMOOTH_LINEAR_LINEAR: return 3;
    case VS_SMOOTH_NORM_LINEAR: return 4;
    }
    return 5;
}

const char *vs_smooth_type_name(enum vs_smooth_type t)
{
    switch (t) {
    case VS_SMOOTH_NORM_LINEAR: return "norm-linear";
    case VS_SMOOTH_LINEAR_LINEAR: return "linear-linear";
    case VS_SMOOTH_OV: return "ov";
    case VS_SMOOTH_UP_DOWN: return "up-down";
    }
    return "?";
}

enum vs_status vs_smooth_stats_init(struct vs_smooth_stats *st, int64_t channels, bool shifted)
{
    *st = (struct vs_smooth_stats){.channels = channels, .shifted = shifted};
    st->min = vs_malloc((size_t)channels * sizeof *st->min);
    st->max = vs_malloc((size_t)channels * sizeof *st->max);
    st->absmax = vs_malloc((size_t)channels * sizeof *st->absmax);
    st->shift = shifted ? vs_malloc((size_t)channels * sizeof *st->shift) : NULL;
    if (!st->min || !st->max || !st->absmax || (shifted && !st->shift)) {
        vs_smooth_stats_free(st);
        return VS_ERR_NOMEM;
    }
    for (int64_t c = 0; c < channels; c++) {
        st->min[c] = INFINITY;
        st->max[c] = -INFINITY;
        st->absmax[c] = 0.0f;
    }
    return VS_OK;
}

void vs_smooth_stats_free(struct vs_smooth_stats *st)
{
    free(st->min), free(st->max), free(st->absmax), free(st->shift);
    st->min = st->max = st->absmax = st->shift = NULL;
}

void vs_smooth_stats_observe(struct vs_smooth_stats *st, const float *x, int64_t rows)
{
    int64_t C = st->channels;
    float *restrict mn = st->min, *restrict mx = st->max, *restrict am = st->absmax;
    /* comparisons rather than fminf/fmaxf so that the loops vectorize (NaN inputs are skipped) */
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict row = x + r * C;
        if (st->shifted) {
            for (int64_t c = 0; c < C; c++) {
                float v = row[c];
                mn[c] = v < mn[c] ? v : mn[c];
                mx[c] = v > mx[c] ? v : mx[c];
            }
        } else {
            for (int64_t c = 0; c < C; c++) {
                float v = row[c], a = fabsf(v);
                mn[c] = v < mn[c] ? v : mn[c];
                mx[c] = v > mx[c] ? v : mx[c];
                am[c] = a > am[c] ? a : am[c];
            }
        }
    }
    if (st->shifted) { /* |x - shift| with the shift as it stands after this call */
        float *restrict shift = st->shift;
        vs_smooth_stats_shift(st, shift);
        for (int64_t r = 0; r < rows; r++) {
            const float *restrict row = x + r * C;
            for (int64_t c = 0; c < C; c++) {
                float a = fabsf(row[c] - shift[c]);
                am[c] = a > am[c] ? a : am[c];
            }
        }
    }
    st->calls++;
}

void vs_smooth_stats_shift(const struct vs_smooth_stats *st, float *shift)
{
    for (int64_t c = 0; c < st->channels; c++)
        shift[c] = (st->max[c] + st->min[c]) / 2.0f;
}

void vs_smooth_weight_colmax(const float *w, int64_t out, int64_t in, bool absolute, float *stat)
{
    for (int64_t r = 0; r < out; r++) {
        const float *restrict row = w + r * in;
        if (absolute)
            for (int64_t c = 0; c < in; c++) {
                float a = fabsf(row[c]);
                stat[c] = a > stat[c] ? a : stat[c];
            }
        else
            for (int64_t c = 0; c < in; c++)
                stat[c] = row[c] > stat[c] ? row[c] : stat[c];
    }
}

void vs_iter_smooth_scales(const float *a, const float *w, int64_t n, double alpha, double scale_min, float *s)
{
    float al = (float)alpha, be = (float)(1.0 - alpha), lo = (float)scale_min;
    for (int64_t c = 0; c < n; c++) {
        float wc = fmaxf(w[c], 1e-5f);
        s[c] = fmaxf(powf(a[c], al) / powf(wc, be), lo);
    }
}

void vs_smooth_quant_scales(const float *a, const float *w, int64_t n, double alpha, float *s)
{
    vs_iter_smooth_scales(a, w, n, alpha, 1e-5, s);
}

static enum vs_status check_linear(const struct vs_linear_weights *l, const char *what, int64_t dim, bool in_side)
{
    int64_t have = in_side ? l->in : l->out;
    if (have != dim)
        return vs_error_set(VS_ERR_MODEL, "%s: %s has %s %lld, the smoothing scales have %lld", l->name, what,
                            in_side ? "in_features" : "out_features", (long long)have, (long long)dim);
    return VS_OK;
}

static void scale_columns(const struct vs_linear_weights *l, const float *restrict s)
{
    for (int64_t r = 0; r < l->out; r++) {
        float *restrict row = l->w + r * l->in;
        for (int64_t c = 0; c < l->in; c++)
            row[c] *= s[c];
    }
}

enum vs_status vs_smooth_fold_target(const struct vs_smooth_fold *f, const struct vs_linear_weights *t)
{
    enum vs_status st;
    if (f->type == VS_SMOOTH_OV) {
        if ((st = check_linear(t, "ov target", f->nq * f->d, true)) != VS_OK)
            return st;
        int64_t rep = f->nq / f->nkv;
        for (int64_t r = 0; r < t->out; r++) {
            float *row = t->w + r * t->in;
            for (int64_t h = 0; h < f->nq; h++)
                for (int64_t j = 0; j < f->d; j++)
                    row[h * f->d + j] *= f->s[(h / rep) * f->d + j];
        }
        return VS_OK;
    }
    bool nl = f->type == VS_SMOOTH_NORM_LINEAR;
    if ((st = check_linear(t, nl ? "norm-linear target" : "target", f->C, true)) != VS_OK)
        return st;
    if (f->shift && !t->b)
        return vs_error_set(VS_ERR_INTERNAL, "%s: asymmetric smoothing needs a bias buffer", t->name);
    if (f->shift) /* with the unscaled W */
        for (int64_t r = 0; r < t->out; r++) {
            const float *row = t->w + r * t->in;
            double acc = 0;
            for (int64_t c = 0; c < f->C; c++)
                acc += (double)row[c] * f->shift[c];
            t->b[r] += (float)acc;
        }
    scale_columns(t, f->s);
    return VS_OK;
}

enum vs_status vs_smooth_fold_source(const struct vs_smooth_fold *f, const struct vs_linear_weights *src)
{
    bool ov = f->type == VS_SMOOTH_OV;
    enum vs_status st = check_linear(src, ov ? "ov source" : "source", ov ? f->nkv * f->d : f->C, false);
    if (st != VS_OK)
        return st;
    for (int64_t r = 0; r < src->out; r++) {
        float *restrict row = src->w + r * src->in, d = f->s[r];
        for (int64_t c = 0; c < src->in; c++)
            row[c] /= d; /* a true division, as torch's W / s */
        if (src->b)
            src->b[r] /= d;
    }
    return VS_OK;
}

enum vs_status vs_smooth_fold_norm(const struct vs_smooth_fold *f, float *gamma, float *beta)
{
    if (f->shift && !beta)
        return vs_error_set(VS_ERR_INTERNAL, "norm-linear: asymmetric smoothing needs a norm bias buffer");
    for (int64_t c = 0; c < f->C; c++) {
        gamma[c] /= f->s[c];
        if (beta)
            beta[c] = f->shift ? (beta[c] - f->shift[c]) / f->s[c] : beta[c] / f->s[c];
    }
    return VS_OK;
}

enum vs_status vs_smooth_fold_norm_linear(float *gamma, float *beta, int64_t C, const float *s, const float *shift,
                                          const struct vs_linear_weights *targets, size_t n_targets)
{
    struct vs_smooth_fold f = {.type = VS_SMOOTH_NORM_LINEAR, .C = C, .s = s, .shift = shift};
    for (size_t t = 0; t < n_targets; t++) { /* every check before any change */
        enum vs_status st = check_linear(&targets[t], "norm-linear target", C, true);
        if (st != VS_OK)
            return st;
        if (shift && !targets[t].b)
            return vs_error_set(VS_ERR_INTERNAL, "%s: asymmetric smoothing needs a bias buffer", targets[t].name);
    }
    if (shift && !beta)
        return vs_error_set(VS_ERR_INTERNAL, "%s: asymmetric smoothing needs a norm bias buffer",
                            n_targets ? targets[0].name : "norm-linear");
    for (size_t t = 0; t < n_targets; t++)
        vs_smooth_fold_target(&f, &targets[t]);
    return vs_smooth_fold_norm(&f, gamma, beta);
}

enum vs_status vs_smooth_fold_linear_linear(const struct vs_linear_weights *source,
                                            const struct vs_linear_weights *target, const float *s)
{
    struct vs_smooth_fold f = {.type = VS_SMOOTH_LINEAR_LINEAR, .C = source->out, .s = s};
    enum vs_status st = check_linear(target, "target", source->out, true);
    return st != VS_OK ? st : (vs_smooth_fold_source(&f, source), vs_smooth_fold_target(&f, target));
}

static enum vs_status check_heads(int64_t nq, int64_t nkv, int64_t d)
{
    if (nq <= 0 || nkv <= 0 || d <= 0 || nq % nkv != 0)
        return vs_error_set(VS_ERR_MODEL, "ov smoothing: num_attention_heads %lld is not a multiple of num_key_value_heads %lld (head_dim %lld)",
                            (long long)nq, (long long)nkv, (long long)d);
    return VS_OK;
}

enum vs_status vs_smooth_ov_reduce(const float *s, int64_t nq, int64_t nkv, int64_t d, float *v_s)
{
    enum vs_status st = check_heads(nq, nkv, d);
    if (st != VS_OK)
        return st;
    int64_t rep = nq / nkv;
    for (int64_t g = 0; g < nkv; g++)
        for (int64_t j = 0; j < d; j++) {
            float acc = 0.0f; /* torch .mean over the head axis: a float32 sum, then / count */
            for (int64_t h = 0; h < rep; h++)
                acc += s[(g * rep + h) * d + j];
            v_s[g * d + j] = acc / (float)rep;
        }
    return VS_OK;
}

enum vs_status vs_smooth_fold_ov(const struct vs_linear_weights *v_proj, const struct vs_linear_weights *o_proj,
                                 const float *v_s, int64_t nq, int64_t nkv, int64_t d)
{
    struct vs_smooth_fold f = {.type = VS_SMOOTH_OV, .C = nq * d, .s = v_s, .nq = nq, .nkv = nkv, .d = d};
    enum vs_status st = check_heads(nq, nkv, d);
    if (st == VS_OK)
        st = check_linear(v_proj, "ov source", nkv * d, false);
    if (st == VS_OK)
        st = check_linear(o_proj, "ov target", nq * d, true);
    return st != VS_OK ? st : (vs_smooth_fold_source(&f, v_proj), vs_smooth_fold_target(&f, o_proj));
}

/* the scales rounded through the weight dtype, as msModelSlim's .to(weight.dtype) */
static void round_scales(float *s, int64_t n, enum vs_dtype dt)
{
    for (int64_t c = 0; c < n; c++) {
        if (dt == VS_DTYPE_BF16)
            s[c] = vs_bf16_to_f32(vs_f32_to_bf16(s[c]));
        else if (dt == VS_DTYPE_F16)
            s[c] = vs_f16_to_f32(vs_f32_to_f16(s[c]));
    }
}

/* Whether statistics st and parameters p fit subgraph f (before any weight is read). */
static enum vs_status check_plan(const struct vs_smooth_fold *f, const struct vs_smooth_stats *st,
                                 const struct vs_smooth_params *p, const char *name)
{
    int64_t C = f->C;
    if (st->calls == 0)
        return vs_error_set(VS_ERR_DATASET, "%s: %s subgraph has no activation statistics", name,
                            vs_smooth_type_name(f->type));
    if (st->channels != C)
        return vs_error_set(VS_ERR_MODEL, "%s: input has %lld channels, the statistics %lld", name, (long long)C,
                            (long long)st->channels);
    bool nl = f->type == VS_SMOOTH_NORM_LINEAR;
    if (!p->symmetric && (!nl || !st->shifted))
        return vs_error_set(VS_ERR_INTERNAL, "%s: the asymmetric mode needs a norm-linear subgraph with shifted statistics",
                            name);
    if (f->type == VS_SMOOTH_OV && f->nq * f->d != C)
        return vs_error_set(VS_ERR_MODEL, "%s: %lld input channels, but %lld heads of %lld", name, (long long)C,
                            (long long)f->nq, (long long)f->d);
    return VS_OK;
}

enum vs_status vs_smooth_plan(struct vs_smooth_fold *f, const struct vs_smooth_stats *st, const float *wstat,
                              const struct vs_smooth_params *p, const char *name, float *s, float *shift)
{
    int64_t C = f->C;
    enum vs_status rc = check_plan(f, st, p, name);
    if (rc != VS_OK)
        return rc;
    if (!p->symmetric && !shift)
        return vs_error_set(VS_ERR_INTERNAL, "%s: the asymmetric mode needs a shift buffer", name);
    vs_iter_smooth_scales(st->absmax, wstat, C, p->alpha, p->scale_min, s);
    round_scales(s, C, p->scale_dtype);
    f->s = s;
    f->shift = NULL;
    if (f->type == VS_SMOOTH_OV) { /* s in the weight dtype, then its mean, rounded again */
        float *v_s = vs_malloc((size_t)(f->nkv * f->d + 1) * sizeof *v_s);
        if (!v_s)
            return VS_ERR_NOMEM;
        rc = vs_smooth_ov_reduce(s, f->nq, f->nkv, f->d, v_s);
        if (rc == VS_OK) {
            round_scales(v_s, f->nkv * f->d, p->scale_dtype);
            memcpy(s, v_s, (size_t)(f->nkv * f->d) * sizeof *s);
        }
        free(v_s);
        return rc;
    }
    if (!p->symmetric) {
        vs_smooth_stats_shift(st, shift);
        f->shift = shift;
    }
    return VS_OK;
}

enum vs_status vs_smooth_apply(const struct vs_smooth_subgraph_weights *g, const struct vs_smooth_stats *st,
                               const struct vs_smooth_params *p, float *scales)
{
    if (g->n_targets == 0 || !g->targets)
        return vs_error_set(VS_ERR_INTERNAL, "%s subgraph without targets", vs_smooth_type_name(g->type));
    const struct vs_linear_weights *t0 = &g->targets[0];
    int64_t C = t0->in;
    bool nl = g->type == VS_SMOOTH_NORM_LINEAR;
    if (!nl && !g->source)
        return vs_error_set(VS_ERR_INTERNAL, "%s: %s subgraph without a source", t0->name, vs_smooth_type_name(g->type));
    if (g->type > VS_SMOOTH_UP_DOWN)
        return vs_error_set(VS_ERR_INTERNAL, "unknown subgraph type %d", (int)g->type);
    size_t n_stat = nl ? g->n_targets : 1;
    for (size_t k = 0; k < n_stat; k++)
        if (g->targets[k].in != C)
            return vs_error_set(VS_ERR_MODEL, "%s: in_features %lld, %s has %lld", g->targets[k].name,
                                (long long)g->targets[k].in, t0->name, (long long)C);
    float *w = vs_malloc((size_t)C * sizeof *w), *s = vs_malloc((size_t)C * sizeof *s),
          *shift = vs_malloc((size_t)C * sizeof *shift);
    struct vs_smooth_fold f = {.type = g->type, .C = C, .nq = g->num_attention_heads, .nkv = g->num_key_value_heads,
                               .d = g->head_dim};
    enum vs_status rc = check_plan(&f, st, p, t0->name);
    if (rc == VS_OK && !(w && s && shift))
        rc = VS_ERR_NOMEM;
    if (rc == VS_OK) {
        for (int64_t c = 0; c < C; c++)
            w[c] = -INFINITY;
        for (size_t k = 0; k < n_stat; k++)
            vs_smooth_weight_colmax(g->targets[k].w, g->targets[k].out, C, nl || p->abs_weight_stat, w);
        rc = vs_smooth_plan(&f, st, w, p, t0->name, s, shift);
    }
    if (rc == VS_OK) {
        switch (g->type) {
        case VS_SMOOTH_NORM_LINEAR:
            rc = vs_smooth_fold_norm_linear(g->norm_weight, g->norm_bias, C, f.s, f.shift, g->targets, g->n_targets);
            break;
        case VS_SMOOTH_OV:
            rc = vs_smooth_fold_ov(g->source, t0, f.s, f.nq, f.nkv, f.d);
            break;
        default: /* linear-linear, up-down */
            rc = vs_smooth_fold_linear_linear(g->source, t0, f.s);
        }
    }
    if (rc == VS_OK && scales)
        memcpy(scales, f.s, (size_t)(g->type == VS_SMOOTH_OV ? f.nkv * f.d : C) * sizeof *scales);
    free(w), free(s), free(shift);
    return rc;
}
