#include "runner/quant_run.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/staging.h"
#include "model/unit_f32.h"
#include "quant/linear_quant.h"
#include "runner/calib.h"
#include "runner/layerwise.h"
#include "runner/outlier.h"
#include "runner/quant_report.h"
#include "runner/unit_file.h"
#include "runner/samples.h"
#include "save/saver.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum vs_status vs_quant_check_config(const struct vs_quant_config *cfg)
{
    for (size_t i = 0; i < cfg->n_process; i++) {
        const struct vs_processor_config *p = &cfg->process[i];
        if (vs_outlier_is_processor(p->type)) { /* quarot, iter_smooth, smooth_quant: runner/outlier.h */
            enum vs_status st = vs_outlier_check_processor(cfg, p);
            if (st != VS_OK)
                return st;
            continue;
        }
        if (p->type != VS_PROC_LINEAR_QUANT)
            return vs_error_set(VS_ERR_UNSUPPORTED,
                                "%s: %s: processor '%s' is not available in this build of vlmslim "
                                "(available: linear_quant with the W8A8_DYNAMIC, W8A16 and W8A8 schemes, "
                                "quarot (offline), iter_smooth, smooth_quant)",
                                cfg->source_path, p->path, vs_proc_type_name(p->type));
        struct vs_linear_quant lq;
        enum vs_status st = vs_linear_quant_init(&lq, p);
        if (st != VS_OK)
            return vs_error_prefix(st, "%s", cfg->source_path);
        vs_linear_quant_free(&lq);
    }
    for (size_t i = 0; i < cfg->n_save; i++) {
        const struct vs_processor_config *p = &cfg->save[i];
        const struct vs_saver_type *t = vs_saver_find(p->type);
        if (!t)
            return vs_error_set(VS_ERR_UNSUPPORTED,
                                "%s: %s: saver '%s' is not available in this build of vlmslim (available: "
                                "ascendv1_saver, compressed_tensors_saver)",
                                cfg->source_path, p->path, vs_proc_type_name(p->type));
        const char *path = p->u.saver.save_path;
        if (i == 0 && path)
            return vs_error_set(VS_ERR_CONFIG,
                                "%s: %s.save_path: the first saver writes to --save_path; save_path is for the savers "
                                "after it", cfg->source_path, p->path);
        if (i > 0 && !path)
            return vs_error_set(VS_ERR_CONFIG,
                                "%s: %s: a saver after the first needs a save_path (the first writes to --save_path)",
                                cfg->source_path, p->path);
        for (size_t j = 1; j < i; j++)
            if (strcmp(cfg->save[j].u.saver.save_path, path) == 0)
                return vs_error_set(VS_ERR_CONFIG, "%s: %s.save_path: '%s' is %s's save_path too", cfg->source_path,
                                    p->path, path, cfg->save[j].path);
        enum vs_status st = t->check ? t->check(cfg, p) : VS_OK;
        if (st != VS_OK)
            return st;
    }
    return VS_OK;
}

bool vs_quant_config_needs_data(const struct vs_quant_config *cfg)
{
    if (vs_outlier_config_needs_data(cfg))
        return true;
    for (size_t i = 0; i < cfg->n_process; i++) {
        struct vs_linear_quant lq;
        if (cfg->process[i].type != VS_PROC_LINEAR_QUANT || vs_linear_quant_init(&lq, &cfg->process[i]) != VS_OK)
            continue;
        bool data = vs_scheme_needs_data(lq.scheme);
        vs_linear_quant_free(&lq);
        if (data)
            return true;
    }
    return false;
}

/* A growable scratch buffer, reused across Linear modules. */
struct buf {
    void *p;
    size_t cap;
};

/* Returns a buffer of at least `need` bytes, or NULL (VS_ERR_NOMEM recorded). */
static void *reserve(struct buf *b, size_t need)
{
    if (need > b->cap) {
        void *np = vs_realloc(b->p, need);
        if (!np)
            return NULL;
        b->p = np;
        b->cap = need;
    }
    return b->p;
}

struct scratch {
    struct buf f32, q, scale, offset, bias, raw;
};

static void scratch_free(struct scratch *s)
{
    free(s->f32.p);
    free(s->q.p);
    free(s->scale.p);
    free(s->offset.p);
    free(s->bias.p);
    free(s->raw.p);
}

/* A saver of the run, writing into its staging directory. */
struct run_saver {
    const struct vs_saver_type *type;
    void *s;                     /* NULL once finished */
    struct vs_staging *staging;
};

struct run {
    const struct vs_quant_options *o;
    struct vs_model *model;
    struct run_saver *savers; /* one per spec.save item */
    size_t n_savers;
    struct vs_linear_quant *lq;
    size_t n_lq;
    struct scratch s;
    struct vs_quant_summary *sum;
    struct vs_layerwise *lw; /* calibration samples, NULL for a data-free run */
    struct vs_outlier *outlier;      /* quarot / iter_smooth / smooth_quant, NULL without */
    const struct vs_unit_f32 *xf;    /* the unit being written was transformed: its values */
    const char *work_dir;            /* the export's staging directory (files of the run's own) */
};

static enum vs_status save_float(struct run *r, const char *name, enum vs_dtype dtype, int ndim,
                                 const int64_t *shape, const void *data)
{
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < r->n_savers && st == VS_OK; i++)
        st = r->savers[i].type->add_float(r->savers[i].s, name, dtype, ndim, shape, data);
    return st;
}

static enum vs_status save_linear(struct run *r, const struct vs_saved_linear *l)
{
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < r->n_savers && st == VS_OK; i++)
        st = r->savers[i].type->add_linear(r->savers[i].s, l);
    return st;
}

/* Parameter i of a transformed unit: its float32 values written back in the checkpoint dtype. */
static enum vs_status write_transformed_param(struct run *r, const struct vs_unit *u, size_t i)
{
    const struct vs_param *p = &u->params[i];
    const float *v = vs_unit_f32_values((struct vs_unit_f32 *)r->xf, i);
    if (!v)
        return VS_ERR_INTERNAL;
    size_t n = vs_param_numel(p);
    void *raw = reserve(&r->s.raw, vs_param_nbytes(p));
    if (!raw)
        return VS_ERR_NOMEM;
    size_t first, over = vs_count_overflow_f32(p->dtype, v, n, &first);
    if (over)
        return vs_error_set(VS_ERR_MODEL, "%s: %zu transformed value(s) overflow %s (first: element %zu = %g)", p->name,
                            over, vs_dtype_name(p->dtype), first, (double)v[first]);
    if (vs_convert_from_f32(p->dtype, v, raw, n) != 0)
        return vs_error_set(VS_ERR_MODEL, "%s: cannot write as %s", p->name, vs_dtype_name(p->dtype));
    r->sum->bytes_in += vs_param_nbytes(p);
    vs_param_release(p);
    return save_float(r, p->name, p->dtype, p->ndim, p->shape, raw);
}

static enum vs_status write_float_param(struct run *r, const struct vs_param *p)
{
    const void *data = p->src->data;
    enum vs_status st;
    if (p->slice >= 0) { /* a view: materialise it */
        void *raw = reserve(&r->s.raw, vs_param_nbytes(p));
        if (!raw)
            return VS_ERR_NOMEM;
        if ((st = vs_param_read_raw(p, raw)) != VS_OK)
            return st;
        data = raw;
    }
    st = save_float(r, p->name, p->dtype, p->ndim, p->shape, data);
    r->sum->bytes_in += vs_param_nbytes(p);
    vs_param_release(p);
    return st;
}

/* Parameter i of unit u that no entry claims: as the transformed copy holds it (float32 values
 * converted to the checkpoint dtype; a view, a weight stored back as bf16 or a non-float tensor
 * in the checkpoint's dtype as they are), else as the checkpoint does. */
static enum vs_status write_plain_param(struct run *r, const struct vs_unit *u, size_t i)
{
    struct vs_unit_f32 *xf = (struct vs_unit_f32 *)r->xf;
    if (xf && vs_unit_f32_values(xf, i))
        return write_transformed_param(r, u, i);
    return write_float_param(r, xf ? &xf->unit->params[i] : &u->params[i]);
}

static enum vs_status write_quantized(struct run *r, const struct vs_unit *u, const struct vs_linear *l,
                                      enum vs_scheme scheme)
{
    const struct vs_param *w = &u->params[l->weight];
    int64_t rows = w->shape[0], cols = w->shape[1];
    size_t n = (size_t)rows * (size_t)cols, nr = (size_t)rows * sizeof(float);
    float *w32 = reserve(&r->s.f32, n * sizeof(float)), *scale = reserve(&r->s.scale, nr),
          *offset = reserve(&r->s.offset, nr), *bias = reserve(&r->s.bias, nr);
    int8_t *q = reserve(&r->s.q, n);
    if (!w32 || !scale || !offset || !bias || !q)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_param_read_f32(w, w32);
    if (st != VS_OK)
        return st;
    r->sum->bytes_in += vs_param_nbytes(w);
    vs_param_release(w);
    double tq = now_seconds();
    st = vs_linear_quant_weight(scheme, l->name, w32, rows, cols, q, scale, offset);
    r->sum->seconds_quantize += now_seconds() - tq;
    if (st != VS_OK)
        return st;
    if (l->bias >= 0) {
        const struct vs_param *b = &u->params[l->bias];
        if ((st = vs_param_read_f32(b, bias)) != VS_OK)
            return st;
        r->sum->bytes_in += vs_param_nbytes(b);
        vs_param_release(b);
    }
    struct vs_saved_linear sl = {.module = l->name, .scheme = scheme, .weight = q, .rows = rows, .cols = cols,
                                 .weight_scale = scale, .weight_offset = scheme == VS_SCHEME_W8A16 ? offset : NULL,
                                 .bias = l->bias >= 0 ? bias : NULL};
    return save_linear(r, &sl);
}

/* Which entry claims each Linear of the unit (-1: none), first matching entry wins. */
static void claim_linears(struct run *r, const struct vs_unit *u, int *claim)
{
    for (size_t i = 0; i < u->n_linears; i++) {
        claim[i] = -1;
        for (size_t e = 0; e < r->n_lq && !u->linears[i].kept_float; e++) {
            if (vs_linear_quant_selects(&r->lq[e], u->linears[i].name)) {
                claim[i] = (int)e;
                break;
            }
        }
    }
}

static uint64_t peak_rss_bytes(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0;
}

/* A claimed Linear of a calibrated unit (activation parameters in c): quantized, written per
 * its scheme, then its weight in the float32 copy replaced by the dequantized one (dequantize:
 * a pass with the quantized unit follows) or its int8 copy freed. */
static enum vs_status write_calibrated(struct run *r, struct vs_calib_unit *cu, struct vs_calib_linear *c,
                                       bool dequantize)
{
    const struct vs_linear *l = &cu->u->linears[c->linear];
    const struct vs_param *w = &cu->u->params[l->weight];
    int64_t rows = w->shape[0], cols = w->shape[1];
    const float *bias = l->bias >= 0 ? vs_unit_f32_values(cu->f, (size_t)l->bias) : NULL;
    r->sum->bytes_in += vs_param_nbytes(w) + (l->bias >= 0 ? vs_param_nbytes(&cu->u->params[l->bias]) : 0);
    double t = now_seconds();
    enum vs_status st = vs_calib_linear_quantize(cu, c);
    r->sum->seconds_quantize += now_seconds() - t;
    if (st != VS_OK)
        return st;
    struct vs_saved_linear sl = {.module = l->name, .scheme = c->scheme, .weight = c->q, .rows = rows, .cols = cols,
                                 .weight_scale = c->w_scale, .bias = bias};
    if (c->scheme == VS_SCHEME_W8A8) {
        sl.input_symmetric = c->symmetric;
        sl.input_scale = c->act_scale;
        sl.input_offset = c->act_offset;
        sl.quant_bias = c->quant_bias;
        sl.deq_scale = c->deq_scale;
    }
    st = save_linear(r, &sl);
    if (st != VS_OK)
        return st;
    if (!dequantize) {
        vs_calib_linear_release(c);
        return VS_OK;
    }
    t = now_seconds();
    st = vs_calib_linear_dequantize(cu, c);
    r->sum->seconds_quantize += now_seconds() - t;
    return st;
}

/* Writes unit u: claimed Linears quantized (from cu when the unit was calibrated, else now),
 * everything else in its own dtype; claim[i] is the entry claiming linear i, or -1. */
static enum vs_status process_unit(struct run *r, struct vs_unit *u, const int *claim, struct vs_calib_unit *cu,
                                   bool dequantize)
{
    uint64_t unit_bytes = 0, f32_bytes = 0;
    for (size_t i = 0; i < u->n_params; i++) {
        unit_bytes += vs_param_nbytes(&u->params[i]);
        f32_bytes += vs_param_numel(&u->params[i]) * sizeof(float);
    }
    if (unit_bytes > r->sum->largest_unit_bytes) {
        r->sum->largest_unit_bytes = unit_bytes;
        r->sum->largest_unit_f32_bytes = f32_bytes;
    }

    /* role of each param: -1 plain, else index of the claimed linear whose weight/bias it is */
    int *owner = vs_malloc((u->n_params + 1) * sizeof *owner);
    /* calibrated Linear of each linear, when cu is given */
    struct vs_calib_linear **done_by = vs_calloc(u->n_linears + 1, sizeof *done_by);
    enum vs_status st = VS_ERR_NOMEM;
    if (!owner || !done_by)
        goto done;
    st = VS_OK;
    for (size_t i = 0; cu && i < cu->n; i++)
        done_by[cu->cl[i].linear] = &cu->cl[i];
    for (size_t i = 0; i < u->n_params; i++)
        owner[i] = -1;
    for (size_t i = 0; i < u->n_linears && st == VS_OK; i++) {
        if (claim[i] < 0)
            continue;
        owner[u->linears[i].weight] = (int)i;
        if (u->linears[i].bias >= 0)
            owner[u->linears[i].bias] = (int)i;
        r->sum->linears_quantized[r->lq[claim[i]].scheme]++;
    }
    r->sum->linears_total += u->n_linears;
    for (size_t i = 0; i < u->n_params && st == VS_OK; i++) {
        if (r->o->interrupted && *r->o->interrupted) {
            st = vs_error_set(VS_ERR_IO, "interrupted; no output was written to %s", r->o->save_path);
            break;
        }
        int li = owner[i];
        if (li < 0)
            st = write_plain_param(r, u, i);
        else if (u->linears[li].weight == (int)i && done_by[li])
            st = write_calibrated(r, cu, done_by[li], dequantize);
        else if (u->linears[li].weight == (int)i)
            st = write_quantized(r, u, &u->linears[li], r->lq[claim[li]].scheme);
        /* a claimed Linear's bias is written with its weight. What was written leaves the
         * resident set at once (the writer has copied it), so that writing a unit (the tail's
         * embedding and head, gigabytes) maps no more than one tensor of it at a time. */
        vs_param_release(&u->params[i]);
        if (li >= 0 && u->linears[li].weight == (int)i && u->linears[li].bias >= 0)
            vs_param_release(&u->params[u->linears[li].bias]);
    }
done:
    free(owner);
    free(done_by);
    return st;
}

/* The entry of r->lq that takes Linear l (the first whose patterns select it), or NULL (also for
 * a Linear kept float). */
static const struct vs_linear_quant *entry_of(const struct run *r, const struct vs_linear *l)
{
    for (size_t e = 0; e < r->n_lq && !l->kept_float; e++)
        if (vs_linear_quant_matches(&r->lq[e], l->name))
            return &r->lq[e];
    return NULL;
}

/* One pass over the units' Linears before any work: each saver hears what every Linear will
 * become (and refuses what its format cannot hold now, not hours into the run), and *last is
 * the last unit with a W8A8 static Linear (-1: none), after which no forward pass is needed. */
static enum vs_status plan_run(struct run *r, size_t n_units, long *last)
{
    *last = -1;
    enum vs_status st = VS_OK;
    for (size_t i = 0; i <= n_units && st == VS_OK; i++) {
        struct vs_unit *u;
        st = i < n_units ? r->o->adapter->unit_load(r->model, i, &u) : r->o->adapter->tail_load(r->model, &u);
        if (st != VS_OK)
            return st;
        for (size_t k = 0; k < u->n_linears && st == VS_OK; k++) {
            const struct vs_linear_quant *lq = entry_of(r, &u->linears[k]);
            const struct vs_param *w = &u->params[u->linears[k].weight];
            struct vs_planned_linear pl = {.module = u->linears[k].name, .quantized = lq != NULL,
                                           .scheme = lq ? lq->scheme : VS_SCHEME_W8A8_DYNAMIC,
                                           .input_symmetric = lq && lq->act_symmetric,
                                           .rows = w->shape[0], .cols = w->shape[1]};
            if (lq && vs_scheme_needs_data(lq->scheme) && i < n_units)
                *last = (long)i;
            for (size_t j = 0; j < r->n_savers && st == VS_OK; j++)
                if (r->savers[j].type->plan_linear)
                    st = r->savers[j].type->plan_linear(r->savers[j].s, &pl);
        }
        vs_unit_free(u);
    }
    return st;
}

/* Reads the calibration samples into the layer-wise driver. */
static enum vs_status load_samples(struct run *r)
{
    const struct vs_quant_options *o = r->o;
    if (!vs_adapter_has_forward(o->adapter))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: the W8A8 static scheme needs a forward pass, which adapter '%s' "
                            "does not implement", o->config->source_path, o->adapter->key);
    enum vs_status st = vs_layerwise_open(o->adapter, r->model, o->spill_budget, NULL, &r->lw);
    if (st != VS_OK)
        return st;
    vs_layerwise_set_interrupt(r->lw, o->interrupted);
    char *where = NULL, *path = NULL;
    if (o->calib_inputs) {
        st = vs_samples_add_files(r->lw, o->calib_inputs, "--calib_inputs", &r->sum->samples);
    } else if (!(where = vs_strfmt("%s: spec.dataset", o->config->source_path))) {
        st = VS_ERR_NOMEM;
    } else {
        st = vs_samples_add_dataset(r->lw, o->model_path, o->config->dataset, o->config->default_text,
                                    o->lab_calib_dir, true, where, &r->sum->samples, &path);
    }
    if (st == VS_OK)
        vs_info("calibration: %zu sample(s) from %s", r->sum->samples, o->calib_inputs ? o->calib_inputs : path);
    free(where);
    free(path);
    return st;
}

/* One pass of unit i over every sample, timed as forward. */
static enum vs_status pass(struct run *r, size_t i, const struct vs_unit *u, const struct vs_linear_hooks *h,
                           bool all_experts, bool keep)
{
    double t = now_seconds();
    enum vs_status st = vs_layerwise_run_unit(r->lw, i, u, h, all_experts, keep, NULL, NULL);
    t = now_seconds() - t;
    r->sum->seconds_forward += t;
    vs_debug("%s: %s pass over %zu sample(s), %.2f s", u->name,
             h && (h->transform_input || h->compute) ? "quantized" : h && h->observe_input ? "statistics" : "float",
             r->sum->samples, t);
    return st;
}

/* A transformed unit's claimed weights, needed again after they are replaced by their
 * dequantized values (the report's float outputs, --propagate float), written to a file in the
 * checkpoint's dtypes instead of kept in float32 (vs_unit_file_write); cu->src then views it.
 * Where a value does not fit its dtype the float32 copies are kept as before. */
static enum vs_status write_out_weights(struct run *r, const struct vs_unit *u, struct vs_unit_f32 *f,
                                        struct vs_calib_unit *cu, struct vs_unit_file *out)
{
    bool *which = vs_calloc(u->n_params + 1, sizeof *which), exact;
    if (!which)
        return VS_ERR_NOMEM;
    for (size_t k = 0; k < cu->n; k++) /* (a weight the quantized pass keeps is not replaced) */
        which[u->linears[cu->cl[k].linear].weight] = !vs_calib_linear_keeps_weight(cu, &cu->cl[k]);
    enum vs_status st = vs_unit_file_write(u, f, which, false, r->work_dir, ".vlmslim-unit", &exact, out);
    free(which);
    if (st == VS_OK && exact)
        cu->src = out->unit;
    return st;
}

/* Unit i of a calibrated run (i <= last): statistics pass over every sample for its W8A8
 * Linears, parameters, the unit written with its weights quantized, then (i < last, or to
 * measure the report's errors) the pass with the quantized unit, whose outputs the next unit
 * sees. */
static enum vs_status calibrate_unit(struct run *r, size_t i, long last, struct vs_unit *u, const int *claim)
{
    const struct vs_quant_options *o = r->o;
    int *scheme = vs_malloc((u->n_linears + 1) * sizeof *scheme);
    bool *sym = vs_malloc((u->n_linears + 1) * sizeof *sym), *routed = vs_malloc((u->n_linears + 1) * sizeof *routed),
         *hist = vs_malloc((u->n_linears + 1) * sizeof *hist);
    struct vs_unit_f32 *f = NULL;
    struct vs_calib_unit *cu = NULL;
    struct vs_unit_file xfile = {0}; /* the transformed claimed weights, written out */
    double t = now_seconds();
    enum vs_status st = scheme && sym && routed && hist ? VS_OK : VS_ERR_NOMEM;
    if (st == VS_OK && r->outlier) /* biases that asymmetric smoothing creates */
        st = vs_outlier_prepare_unit(r->outlier, i, u);
    /* bf16 mode multiplies a bf16 checkpoint's weights in place; an outlier transform converts
     * each Linear to float32 while it edits it and stores it back as bf16 (runner/outlier.c) */
    if (st == VS_OK)
        st = vs_unit_f32_make_for_compute(u, &f);
    r->sum->seconds_convert += now_seconds() - t;
    for (size_t k = 0; st == VS_OK && k < u->n_linears; k++) {
        scheme[k] = claim[k] < 0 ? -1 : (int)r->lq[claim[k]].scheme;
        sym[k] = claim[k] >= 0 && r->lq[claim[k]].act_symmetric;
        hist[k] = claim[k] >= 0 && r->lq[claim[k]].act_histogram;
        routed[k] = o->adapter->linear_is_routed(r->model, u->linears[k].name);
    }
    if (st == VS_OK && r->outlier) /* quarot / smoothing of the float32 copy, before its calibration */
        st = vs_outlier_unit(r->outlier, i, u, f, r->lw);
    if (st == VS_OK)
        st = vs_calib_unit_open(f, scheme, sym, routed, hist, &cu);
    bool data = r->lw && (long)i <= last; /* units after the last calibrated one: transformed only */
    bool all_experts = false, stats = st == VS_OK && data && vs_calib_unit_needs_stats(cu, &all_experts);
    bool propagate = (long)i < last;
    struct vs_linear_hooks h;
    if (st == VS_OK && stats) {
        vs_calib_unit_observe_hooks(cu, &h);
        st = pass(r, i, f->unit, &h, all_experts, false);
        if (st == VS_OK)
            st = vs_calib_unit_finish_stats(cu);
        r->sum->experts_unrouted += cu->unrouted;
    }
    /* The pass with the quantized unit (measuring the output error and, by default, giving
     * the outputs the next unit sees) comes after the unit is written: each claimed Linear is
     * quantized, written and its weight replaced by the dequantized one in turn, so that no
     * more than one Linear's int8 copy is held beside the float32 unit. */
    bool keep = propagate && !o->propagate_float;
    bool quantized_pass = st == VS_OK && data && (keep || !o->no_report);
    if (st == VS_OK) {
        cu->measure = quantized_pass && !o->no_report;
        cu->measure_stride = o->report_stride > 0 ? o->report_stride : VS_REPORT_STRIDE_DEFAULT;
        cu->float_after = quantized_pass && propagate && o->propagate_float;
        /* the int8 pass computes as the engine of the export at --save_path (the first saver) */
        cu->vllm_kernels = o->config->n_save && o->config->save[0].type == VS_PROC_COMPRESSED_TENSORS_SAVER;
        cu->src = r->outlier ? NULL : u; /* transformed weights are not the checkpoint's */
        if (r->outlier && (cu->measure || cu->float_after))
            st = write_out_weights(r, u, f, cu, &xfile);
        r->xf = r->outlier ? f : NULL;
        if (st == VS_OK)
            st = process_unit(r, u, claim, cu, quantized_pass);
        r->xf = NULL;
        uint64_t held = f->bytes + f->view_bytes + vs_calib_unit_held_bytes(cu); /* its most, from here on */
        r->sum->calibrated_unit_held_bytes =
            held > r->sum->calibrated_unit_held_bytes ? held : r->sum->calibrated_unit_held_bytes;
    }
    if (quantized_pass && st == VS_OK) {
        vs_calib_unit_apply(cu, &h);
        st = pass(r, i, f->unit, &h, false, keep);
        if (st == VS_OK)
            st = cu->hook_status;
    }
    if (st == VS_OK && propagate && o->propagate_float) { /* --propagate float: the float unit's outputs */
        if (quantized_pass)
            st = vs_calib_unit_restore_float(cu);
        if (st == VS_OK)
            st = pass(r, i, f->unit, NULL, false, true);
    }
    if (st == VS_OK && data && !o->no_report)
        st = vs_quant_report_add(r->sum, cu);
    vs_calib_unit_free(cu);
    vs_unit_file_close(&xfile);
    vs_unit_f32_free(f);
    free(scheme);
    free(sym);
    free(routed);
    free(hist);
    return st;
}

static enum vs_status export_best_practice(const struct vs_quant_options *o, const char *dir)
{
    char *name = vs_strfmt("%s_best_practice.yaml", o->model_type);
    char *dst = name ? vs_path_join(dir, name) : NULL;
    enum vs_status st = dst ? vs_fs_copy_file(o->config->source_path, dst, 0600) : VS_ERR_NOMEM;
    free(name);
    free(dst);
    return st;
}

enum vs_status vs_quant_run(const struct vs_quant_options *o, struct vs_quant_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    double t0 = now_seconds();
    struct run r = {.o = o, .sum = sum};
    const char *tmp = NULL;
    enum vs_status st = vs_quant_check_config(o->config);
    if (st == VS_OK)
        st = vs_outlier_check_adapter(o->config, o->adapter);
    if (st != VS_OK)
        return st;
    if (!(r.savers = vs_calloc(o->config->n_save, sizeof *r.savers)))
        return VS_ERR_NOMEM;
    r.n_savers = o->config->n_save;
    /* First, so that a run to a save path another run is writing stops before any work. */
    for (size_t i = 0; i < r.n_savers && st == VS_OK; i++) {
        const struct vs_processor_config *p = &o->config->save[i];
        const char *path = i == 0 ? o->save_path : p->u.saver.save_path;
        char *label = i == 0 ? vs_strfmt("--save_path %s", path) : vs_strfmt("%s.save_path %s", p->path, path);
        r.savers[i].type = vs_saver_find(p->type);
        st = label ? vs_staging_open(path, label, &r.savers[i].staging) : VS_ERR_NOMEM;
        free(label);
    }
    if (st == VS_OK)
        r.lq = vs_calloc(o->config->n_process + 1, sizeof *r.lq);
    if (st != VS_OK || !r.lq) {
        for (size_t i = 0; i < r.n_savers; i++)
            vs_staging_close(r.savers[i].staging);
        free(r.savers);
        return st != VS_OK ? st : VS_ERR_NOMEM;
    }
    tmp = vs_staging_dir(r.savers[0].staging);
    for (size_t i = 0; i < o->config->n_process && st == VS_OK; i++)
        if (o->config->process[i].type == VS_PROC_LINEAR_QUANT)
            st = vs_linear_quant_init(&r.lq[r.n_lq++], &o->config->process[i]);
    if (st != VS_OK)
        goto done;

    if ((st = o->adapter->open(o->model_path, o->model_type, &r.model)) != VS_OK)
        goto done;
    for (size_t i = 0; i < r.n_savers; i++) {
        const struct vs_processor_config *p = &o->config->save[i];
        const char *dir = vs_staging_dir(r.savers[i].staging);
        struct vs_saver_context ctx = {
            .config = o->config,
            .saver = p,
            .part_bytes = o->part_bytes_override ? o->part_bytes_override : (uint64_t)p->u.saver.part_file_size << 30,
            .global_dtype = o->adapter->global_dtype(r.model),
        };
        if ((st = export_best_practice(o, dir)) != VS_OK || (st = r.savers[i].type->open(dir, &ctx, &r.savers[i].s)) != VS_OK)
            goto done;
    }
    size_t n_units = o->adapter->unit_count(r.model);
    long last = -1; /* last unit needing the forward pass */
    if ((st = plan_run(&r, n_units, &last)) != VS_OK)
        goto done;
    /* quarot's rotations and the transformed tail: the first work of the run */
    if ((st = vs_outlier_open(o->config, o->adapter, r.model, &r.outlier)) != VS_OK)
        goto done;
    r.work_dir = tmp;
    vs_debug("outlier processors ready, peak RSS %.0f MB", (double)peak_rss_bytes() / 1e6);
    if ((st = vs_outlier_spill_tail(r.outlier, tmp)) != VS_OK) /* quarot's float32 tail out of memory */
        goto done;
    vs_debug("tail written out, peak RSS %.0f MB", (double)peak_rss_bytes() / 1e6);

    /* (a plan with a static unit implies a config that needs data) */
    if (vs_quant_config_needs_data(o->config) &&
        (last = vs_outlier_last_data_unit(r.outlier) > last ? vs_outlier_last_data_unit(r.outlier) : last) >= 0) {
        double ts = now_seconds();
        st = load_samples(&r);
        sum->seconds_samples = now_seconds() - ts;
    }
    for (size_t i = 0; i <= n_units && st == VS_OK; i++) {
        double tu = now_seconds();
        struct vs_unit *u = NULL;
        st = i < n_units ? o->adapter->unit_load(r.model, i, &u) : o->adapter->tail_load(r.model, &u);
        if (st != VS_OK)
            break;
        struct vs_unit_f32 *tail_f32 = NULL; /* the tail as quarot transformed it */
        struct vs_unit *tail_u;
        if (i == n_units && vs_outlier_take_tail(r.outlier, &tail_u, &tail_f32)) {
            vs_unit_free(u);
            u = tail_u;
        }
        size_t before = 0;
        for (int k = 0; k < VS_SCHEME_COUNT; k++)
            before += sum->linears_quantized[k];
        int *claim = vs_calloc(u->n_linears + 1, sizeof *claim);
        if (!claim) {
            vs_unit_free(u);
            st = VS_ERR_NOMEM;
            break;
        }
        claim_linears(&r, u, claim);
        r.xf = tail_f32;
        st = i < n_units && ((long)i <= last || r.outlier) ? calibrate_unit(&r, i, last, u, claim)
                                                           : process_unit(&r, u, claim, NULL, false);
        r.xf = NULL;
        vs_unit_f32_free(tail_f32);
        free(claim);
        size_t after = 0;
        for (int k = 0; k < VS_SCHEME_COUNT; k++)
            after += sum->linears_quantized[k];
        if (st == VS_OK && i < n_units) {
            double now = now_seconds(), unit_s = now - tu, elapsed = now - t0;
            double eta = elapsed / (double)(i + 1) * (double)(n_units - i - 1);
            char rate[64] = "";
            if ((long)i <= last && unit_s > 0)
                snprintf(rate, sizeof rate, ", %.1f samples/s", (double)sum->samples / unit_s);
            vs_info("[%zu/%zu] %s: %zu of %zu Linear modules quantized%s, %.2f s (elapsed %.1f s, ETA %.1f s%s), "
                    "peak RSS %.0f MB", i + 1, n_units, u->name, after - before, u->n_linears,
                    (long)i <= last ? " (calibrated)" : "", unit_s, elapsed, eta, rate, (double)peak_rss_bytes() / 1e6);
        }
        vs_unit_free(u);
#ifdef __GLIBC__
        /* the unit's memory back to the system before the next one is taken: freed blocks in
         * the middle of the heap (many small weights) would otherwise stay resident */
        malloc_trim(0);
#endif
    }
    sum->units = n_units;
    if (st != VS_OK)
        goto done;
    for (size_t i = 0; i < r.n_lq; i++)
        vs_linear_quant_warn_unmatched(&r.lq[i]);
    for (size_t i = 0; i < r.n_savers && st == VS_OK; i++) {
        struct run_saver *rs = &r.savers[i];
        if ((st = vs_outlier_export(r.outlier, vs_staging_dir(rs->staging), rs->type, rs->s)) != VS_OK)
            break;
        sum->bytes_out += rs->type->bytes_written(rs->s);
        st = rs->type->finish(rs->s, o->model_path);
        rs->s = NULL;
    }
    /* every export complete before the first is published */
    for (size_t i = 0; i < r.n_savers && st == VS_OK; i++)
        st = vs_staging_publish(r.savers[i].staging);
    if (st == VS_OK && sum->n_report)
        st = vs_quant_report_write(o, sum);
done:
    for (size_t i = 0; i < r.n_savers; i++)
        if (r.savers[i].s)
            r.savers[i].type->abort(r.savers[i].s);
    if (r.lw) {
        struct vs_layerwise_stats ls;
        vs_layerwise_stats(r.lw, &ls);
        sum->carried_peak_bytes = ls.peak_resident_bytes;
    }
    vs_layerwise_close(r.lw);
    vs_outlier_close(r.outlier);
    if (r.model)
        o->adapter->close(r.model);
    for (size_t i = 0; i < r.n_lq; i++)
        vs_linear_quant_free(&r.lq[i]);
    free(r.lq);
    scratch_free(&r.s);
    for (size_t i = 0; i < r.n_savers; i++)
        vs_staging_close(r.savers[i].staging); /* removed unless published */
    free(r.savers);
    sum->seconds = now_seconds() - t0;
    sum->seconds_write = sum->seconds - sum->seconds_samples - sum->seconds_convert - sum->seconds_forward -
                         sum->seconds_quantize;
    sum->peak_rss_bytes = peak_rss_bytes();
    return st;
}
