/* The `iter_smooth` and `smooth_quant` processors (msmodelslim_vlm_spec.md §5.2, §5.4) on one
 * unit's copy (each Linear float32 while it is folded): the unit's selected subgraphs, one observer pass over every sample
 * (per-channel statistics of each subgraph's targets[0] input, over all tokens), then the
 * scales folded in msModelSlim's priority order (up-down, ov, linear-linear, norm-linear). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "base/log.h"
#include "quant/smooth.h"
#include "runner/outlier_internal.h"

struct smooth_cfg {
    double alpha, scale_min;
    bool symmetric;
    unsigned types; /* 1u << kind */
    const struct vs_pattern_list *include, *exclude;
    bool vision; /* vision_subgraphs */
};

static struct smooth_cfg config_of(const struct vs_processor_config *p)
{
    if (p->type == VS_PROC_SMOOTH_QUANT) {
        const struct vs_smooth_quant_config *c = &p->u.smooth_quant;
        return (struct smooth_cfg){.alpha = c->alpha, .scale_min = 1e-5, .symmetric = c->symmetric,
                                   .types = 1u << VS_SUBGRAPH_KIND_NORM_LINEAR, .include = &c->include,
                                   .exclude = &c->exclude, .vision = c->vision_subgraphs};
    }
    const struct vs_iter_smooth_config *c = &p->u.iter_smooth;
    return (struct smooth_cfg){.alpha = c->alpha, .scale_min = c->scale_min, .symmetric = c->symmetric,
                               .types = c->subgraph_types, .include = &c->include, .exclude = &c->exclude,
                               .vision = c->vision_subgraphs};
}

static bool any_match(const struct vs_pattern_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (vs_glob_match(l->items[i], name))
            return true;
    return false;
}

bool vs_proc_smooth_wants_vision(const struct vs_processor_config *p) { return config_of(p).vision; }

enum vs_status vs_proc_smooth_select(const struct vs_outlier *o, const struct vs_processor_config *p, size_t i,
                                     struct vs_subgraph_list *out)
{
    struct smooth_cfg c = config_of(p);
    struct vs_subgraph_list all = {0};
    enum vs_status st = o->ops->unit_subgraphs(o->m, i, &all);
    for (size_t k = 0; k < all.n && st == VS_OK; k++) {
        const struct vs_subgraph *g = &all.items[k];
        const char *key = g->source ? g->source : g->targets[0];
        if ((g->vision && !c.vision) || !(c.types & (1u << g->kind)) ||
            (c.include->present && !any_match(c.include, key)) || any_match(c.exclude, key))
            continue;
        if ((st = vs_subgraph_add(out, g->kind, g->source, (const char *const *)g->targets, g->n_targets)) != VS_OK)
            break;
        struct vs_subgraph *n = &out->items[out->n - 1];
        n->fusion = g->fusion;
        n->num_attention_heads = g->num_attention_heads;
        n->num_key_value_heads = g->num_key_value_heads;
        n->head_dim = g->head_dim;
        n->group_method = g->group_method;
        n->source_row_begin = g->source_row_begin;
        n->vision = g->vision;
    }
    vs_subgraph_list_free(&all);
    return st;
}

/* The shifted (symmetric: false) norm-linear fold moves the shift into biases: the norm and
 * every target get one, zeros where the checkpoint has none, as msModelSlim creates them
 * (RMSNormBias, Linear biases); they are exported with the unit in the dtype of its weight. */
static enum vs_status add_zero_bias(struct vs_outlier *o, struct vs_unit *u, const char *module)
{
    char name[512], wname[512];
    snprintf(name, sizeof name, "%s.bias", module);
    snprintf(wname, sizeof wname, "%s.weight", module);
    int wi = vs_unit_find_param(u, wname);
    if (vs_unit_find_param(u, name) >= 0)
        return VS_OK;
    if (wi < 0)
        return vs_error_set(VS_ERR_MODEL, "%s: no such parameter in unit '%s'", wname, u->name);
    const struct vs_param *w = &u->params[wi];
    struct vs_st_tensor *t = vs_calloc(1, sizeof *t);
    struct vs_st_tensor **list = t ? vs_realloc(o->biases, (o->n_biases + 1) * sizeof *list) : NULL;
    if (!list) {
        free(t);
        return VS_ERR_NOMEM;
    }
    o->biases = list;
    o->biases[o->n_biases++] = t;
    t->dtype = w->dtype;
    t->ndim = 1;
    t->shape[0] = w->shape[0];
    t->nbytes = (size_t)w->shape[0] * vs_dtype_size(w->dtype);
    t->file = w->src->file;
    t->heap = true;
    if (!(t->data = vs_calloc(t->nbytes, 1)))
        return VS_ERR_NOMEM;
    enum vs_status st = vs_unit_add_param(u, name, t);
    if (st != VS_OK)
        return st;
    t->name = u->params[u->n_params - 1].name;
    for (size_t k = 0; k < u->n_linears; k++)
        if (!strcmp(u->linears[k].name, module))
            u->linears[k].bias = (int)u->n_params - 1;
    return VS_OK;
}

enum vs_status vs_outlier_prepare_unit(struct vs_outlier *o, size_t i, struct vs_unit *u)
{
    enum vs_status st = VS_OK;
    for (size_t k = 0; o && k < o->cfg->n_process && st == VS_OK; k++) {
        const struct vs_processor_config *p = &o->cfg->process[k];
        if ((p->type != VS_PROC_ITER_SMOOTH && p->type != VS_PROC_SMOOTH_QUANT) || config_of(p).symmetric)
            continue;
        struct vs_subgraph_list sg = {0};
        st = vs_proc_smooth_select(o, p, i, &sg);
        for (size_t g = 0; g < sg.n && st == VS_OK; g++) {
            if (sg.items[g].kind != VS_SUBGRAPH_KIND_NORM_LINEAR)
                continue;
            char bias[512];
            snprintf(bias, sizeof bias, "%s.bias", sg.items[g].source);
            if (sg.items[g].vision && vs_unit_find_param(u, bias) < 0) { /* engines build these norms bias-free */
                st = vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s: symmetric: false with vision_subgraphs needs vision norms "
                                  "with a bias (LayerNorm); %s has none (an RMSNorm); use symmetric: true",
                                  o->cfg->source_path, p->path, sg.items[g].source);
                break;
            }
            st = add_zero_bias(o, u, sg.items[g].source);
            for (size_t t = 0; t < sg.items[g].n_targets && st == VS_OK; t++)
                st = add_zero_bias(o, u, sg.items[g].targets[t]);
        }
        vs_subgraph_list_free(&sg);
    }
    return st;
}

struct observer {
    const struct vs_subgraph_list *sg;
    struct vs_smooth_stats *stats;
};

static void observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct observer *ob = ctx;
    for (size_t k = 0; k < ob->sg->n; k++)
        if (ob->stats[k].channels == cols && !strcmp(ob->sg->items[k].targets[0], module))
            vs_smooth_stats_observe(&ob->stats[k], x, rows);
}

static enum vs_status missing(const struct vs_subgraph *g, const char *what, const char *module, const char *unit)
{
    return vs_error_set(VS_ERR_MODEL, "%s: a %s subgraph's %s, which unit '%s' does not hold", module,
                        vs_subgraph_kind_name(g->kind), what, unit);
}

/* The weight statistic of subgraph g (vs_smooth_plan) into wstat [C], one target open at a time. */
static enum vs_status weight_stat(const struct vs_subgraph *g, const struct vs_smooth_params *sp, const struct vs_xunit *x,
                                  int64_t C, float *wstat)
{
    bool nl = g->kind == VS_SUBGRAPH_KIND_NORM_LINEAR;
    for (int64_t c = 0; c < C; c++)
        wstat[c] = -INFINITY;
    enum vs_status st = VS_OK;
    for (size_t k = 0; k < (nl ? g->n_targets : 1) && st == VS_OK; k++) {
        struct vs_linear_weights t;
        bool found;
        if ((st = vs_xunit_linear_open(x, g->targets[k], &t, &found)) != VS_OK)
            break;
        if (!found)
            return missing(g, "target", g->targets[k], x->u->name);
        if (t.in != C)
            return vs_error_set(VS_ERR_MODEL, "%s: in_features %lld, %s has %lld", t.name, (long long)t.in,
                                g->targets[0], (long long)C);
        vs_smooth_weight_colmax(t.w, t.out, C, nl || sp->abs_weight_stat, wstat);
        st = vs_xunit_linear_close(x, g->targets[k], false);
    }
    return st;
}

/* Subgraph g smoothed with its statistics: the scales, then each target, then the norm or the
 * source Linear, one Linear open at a time (in bf16 mode each stored back as bf16 before the
 * next: msModelSlim's fold, Linear by Linear). */
static enum vs_status fold(const struct smooth_cfg *c, const struct vs_subgraph *g, const struct vs_smooth_stats *stats,
                           const struct vs_xunit *x)
{
    bool nl = g->kind == VS_SUBGRAPH_KIND_NORM_LINEAR;
    /* msModelSlim casts the scales to the weight dtype before folding */
    char name[512];
    snprintf(name, sizeof name, "%s.weight", g->targets[0]);
    int wi = vs_unit_find_param(x->u, name);
    if (wi < 0 || x->u->params[wi].ndim != 2)
        return missing(g, "target", g->targets[0], x->u->name);
    int64_t C = x->u->params[wi].shape[1];
    struct vs_smooth_params sp = {.alpha = c->alpha, .scale_min = c->scale_min, .symmetric = c->symmetric || !nl,
                                  .scale_dtype = x->u->params[wi].dtype};
    struct vs_smooth_fold f = {.type = (enum vs_smooth_type)g->kind, .C = C, .nq = g->num_attention_heads,
                               .nkv = g->num_key_value_heads, .d = g->head_dim};
    float *wstat = vs_malloc((size_t)C * sizeof *wstat), *s = vs_malloc((size_t)C * sizeof *s),
          *shift = vs_malloc((size_t)C * sizeof *shift);
    enum vs_status st = wstat && s && shift ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = weight_stat(g, &sp, x, C, wstat);
    if (st == VS_OK)
        st = vs_smooth_plan(&f, stats, wstat, &sp, g->targets[0], s, shift);
    for (size_t k = 0; k < g->n_targets && st == VS_OK; k++) {
        struct vs_linear_weights t;
        bool found;
        if ((st = vs_xunit_linear_open(x, g->targets[k], &t, &found)) != VS_OK)
            break;
        st = found ? vs_smooth_fold_target(&f, &t) : missing(g, "target", g->targets[k], x->u->name);
        if (st == VS_OK)
            st = vs_xunit_linear_close(x, g->targets[k], true);
    }
    if (st == VS_OK && nl) {
        snprintf(name, sizeof name, "%s.weight", g->source);
        float *gamma = vs_xunit_param(x, name, NULL);
        snprintf(name, sizeof name, "%s.bias", g->source);
        float *beta = vs_xunit_param(x, name, NULL);
        snprintf(name, sizeof name, "%s.weight", g->source);
        st = gamma ? vs_smooth_fold_norm(&f, gamma, beta) : missing(g, "norm", name, x->u->name);
        if (st == VS_OK)
            st = vs_xunit_round_param(x, name);
        snprintf(name, sizeof name, "%s.bias", g->source);
        if (st == VS_OK)
            st = vs_xunit_round_param(x, name);
    } else if (st == VS_OK) {
        struct vs_linear_weights src;
        bool found;
        st = vs_xunit_linear_open(x, g->source, &src, &found);
        if (st == VS_OK && !found)
            st = missing(g, "source", g->source, x->u->name);
        if (st == VS_OK && g->source_row_begin) { /* the value rows of a fused qkv */
            int64_t rows = g->num_key_value_heads * g->head_dim;
            if (g->source_row_begin + rows > src.out)
                st = vs_error_set(VS_ERR_MODEL, "%s: %lld rows, the value rows end at %lld", g->source,
                                  (long long)src.out, (long long)(g->source_row_begin + rows));
            src.w += g->source_row_begin * src.in;
            src.b = src.b ? src.b + g->source_row_begin : NULL;
            src.out = rows;
        }
        if (st == VS_OK)
            st = vs_smooth_fold_source(&f, &src);
        if (st == VS_OK)
            st = vs_xunit_linear_close(x, g->source, true);
    }
    free(wstat), free(s), free(shift);
    return st;
}

enum vs_status vs_proc_smooth_unit(struct vs_outlier *o, const struct vs_processor_config *p, size_t i,
                                   const struct vs_xunit *x, struct vs_layerwise *lw)
{
    struct smooth_cfg c = config_of(p);
    struct vs_subgraph_list sg = {0};
    enum vs_status st = vs_proc_smooth_select(o, p, i, &sg);
    if (st != VS_OK || sg.n == 0) {
        vs_subgraph_list_free(&sg);
        return st;
    }
    struct vs_smooth_stats *stats = vs_calloc(sg.n + 1, sizeof *stats);
    if (!stats)
        st = VS_ERR_NOMEM;
    for (size_t k = 0; k < sg.n && st == VS_OK; k++) {
        const struct vs_subgraph *g = &sg.items[k];
        char name[512];
        snprintf(name, sizeof name, "%s.weight", g->targets[0]);
        int wi = vs_unit_find_param(x->u, name);
        st = wi >= 0 && x->u->params[wi].ndim == 2
                 ? vs_smooth_stats_init(&stats[k], x->u->params[wi].shape[1],
                                        !c.symmetric && g->kind == VS_SUBGRAPH_KIND_NORM_LINEAR)
                 : missing(g, "target", g->targets[0], x->u->name);
    }
    struct observer ob = {.sg = &sg, .stats = stats};
    struct vs_linear_hooks h = {.observe_input = observe, .ctx = &ob};
    for (size_t k = 0; k < sg.n && st == VS_OK; k++) /* the shift moves call by call */
        h.per_sample |= stats[k].shifted;
    if (st == VS_OK)
        st = vs_layerwise_run_unit(lw, i, x->f->unit, &h, false, false, NULL, NULL);
    for (int prio = 1; prio <= 4 && st == VS_OK; prio++)
        for (size_t k = 0; k < sg.n && st == VS_OK; k++) {
            const struct vs_subgraph *g = &sg.items[k];
            if (vs_smooth_priority((enum vs_smooth_type)g->kind) != prio)
                continue;
            if (stats[k].calls == 0) { /* msModelSlim skips it with a warning */
                vs_warn("%s: %s: %s subgraph %s -> %s saw no calibration token; not smoothed", p->path,
                        vs_proc_type_name(p->type), vs_subgraph_kind_name(g->kind), g->source, g->targets[0]);
                continue;
            }
            st = fold(&c, g, &stats[k], x);
        }
    for (size_t k = 0; stats && k < sg.n; k++)
        vs_smooth_stats_free(&stats[k]);
    free(stats);
    vs_subgraph_list_free(&sg);
    return st;
}
