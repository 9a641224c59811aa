#include "eval/eval_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <jansson.h>

#include "base/fs.h"
#include "base/log.h"
#include "eval/eval_generate.h"
#include "eval/eval_metrics.h"
#include "eval/export_model.h"
#include "inputs/model_inputs.h"
#include "model/linear_apply.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"
#include "runner/samples.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct eval {
    const struct vs_eval_options *o;
    const struct vs_adapter_ops *ops;
    struct vs_model *mf, *mq;      /* the float model, and the same checkpoint read through the export */
    struct vs_layerwise *lf, *lq;
    struct vs_export *e;
    struct vs_linear_hooks xh;     /* the export's compute hooks */
    struct vs_unit *tail;          /* the export's view of the tail, given to mq */
    int64_t image_token;           /* left out of the compared positions; -1: none */
    /* every sample's inputs: the ids, and with max_new_tokens the image too (for the generation
     * passes) */
    struct vs_model_inputs *in;
    size_t n, cap;
    struct vs_eval_result *r;
    bool quant_pass;
    size_t unit;
    const struct vs_sample *sq;    /* the quantized state being compared */
    double *kl_all;                /* every compared position's KL */
    size_t n_kl, cap_kl;
    const float *rot;              /* QuaRot's R: the export's hidden states are h·R */
    int64_t rot_n;
    float *unrotated;              /* h_q·Rᵀ of one state */
    size_t cap_unrotated;
};

/* ---- samples: the same inputs for both drivers ---- */

static enum vs_status add_sample(void *ctx, const struct vs_model_inputs *in)
{
    struct eval *ev = ctx;
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? 2 * ev->cap : 8;
        struct vs_model_inputs *more = realloc(ev->in, cap * sizeof *more);
        if (!more)
            return VS_ERR_NOMEM;
        ev->in = more, ev->cap = cap;
    }
    bool image = ev->o->max_new_tokens > 0;
    struct vs_model_inputs *k = &ev->in[ev->n];
    *k = (struct vs_model_inputs){.n_tokens = in->n_tokens};
    if (image)
        k->n_patches = in->n_patches, k->patch_dim = in->patch_dim, k->n_images = in->n_images;
    size_t np = (size_t)(k->n_patches * k->patch_dim);
    k->input_ids = malloc((size_t)(in->n_tokens ? in->n_tokens : 1) * sizeof *k->input_ids);
    k->pixel_values = np ? malloc(np * sizeof *k->pixel_values) : NULL;
    k->image_grid_thw = k->n_images ? malloc((size_t)k->n_images * sizeof *k->image_grid_thw) : NULL;
    if (!k->input_ids || (np && !k->pixel_values) || (k->n_images && !k->image_grid_thw)) {
        vs_model_inputs_free(k);
        return VS_ERR_NOMEM;
    }
    memcpy(k->input_ids, in->input_ids, (size_t)in->n_tokens * sizeof *k->input_ids);
    if (np)
        memcpy(k->pixel_values, in->pixel_values, np * sizeof *k->pixel_values);
    if (k->n_images)
        memcpy(k->image_grid_thw, in->image_grid_thw, (size_t)k->n_images * sizeof *k->image_grid_thw);
    ev->n++;
    enum vs_status st = vs_layerwise_add_sample(ev->lf, in);
    return st == VS_OK ? vs_layerwise_add_sample(ev->lq, in) : st;
}

/* ---- hooks: the export's compute, and routed token counts ---- */

static void routed(void *ctx, const char *module, int64_t tokens)
{
    struct eval *ev = ctx;
    const char *x = strstr(module, ".experts."), *end;
    if (!x || !(end = strrchr(module, '.')) || strcmp(end, ".gate_proj") != 0)
        return; /* each expert reports gate, up and down: count it once */
    int64_t expert = strtoll(x + 9, NULL, 10);
    size_t len = (size_t)(x - module);
    struct vs_eval_result *r = ev->r;
    struct vs_eval_route *rt = NULL;
    for (size_t k = r->n_routes; k-- > 0 && !rt;) /* calls come layer by layer, expert by expert */
        if (r->routes[k].expert == expert && strlen(r->routes[k].layer) == len &&
            !strncmp(r->routes[k].layer, module, len))
            rt = &r->routes[k];
    if (!rt) {
        struct vs_eval_route *more = realloc(r->routes, (r->n_routes + 1) * sizeof *more);
        char *layer = vs_strndup(module, len);
        if (!more || !layer) {
            free(layer);
            if (more)
                r->routes = more;
            return; /* counts are informational; memory errors surface elsewhere */
        }
        r->routes = more;
        rt = &r->routes[r->n_routes++];
        *rt = (struct vs_eval_route){.layer = layer, .expert = expert};
    }
    if (ev->quant_pass)
        rt->tokens_quant += tokens;
    else
        rt->tokens_float += tokens;
}

static bool q_computes(void *ctx, const char *module, int64_t *in, int64_t *out)
{
    struct eval *ev = ctx;
    return ev->xh.computes(ev->xh.ctx, module, in, out);
}

static enum vs_status q_compute(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct eval *ev = ctx;
    return ev->xh.compute(ev->xh.ctx, module, x, rows, y);
}

/* ---- per unit: hidden states ---- */

struct compare_ctx {
    struct eval *ev;
    size_t j;
};

static enum vs_status compare_into(void *ctx, struct vs_model *m, const struct vs_sample *sf)
{
    (void)m;
    struct compare_ctx *c = ctx;
    struct eval *ev = c->ev;
    const float *df, *dq;
    int64_t rows, cols, rq, cq;
    ev->ops->sample_output(sf, &df, &rows, &cols);
    ev->ops->sample_output(ev->sq, &dq, &rq, &cq);
    if (rows != rq || cols != cq)
        return vs_error_set(VS_ERR_INTERNAL, "unit %zu: the float output is %lld x %lld, the quantized %lld x %lld",
                            ev->unit, (long long)rows, (long long)cols, (long long)rq, (long long)cq);
    struct vs_eval_unit *u = &ev->r->units[ev->unit];
    if (rows == 0) {
        u->cosine[c->j] = u->rel_error[c->j] = NAN;
        return VS_OK;
    }
    size_t n = (size_t)(rows * cols);
    if (ev->rot && cols == ev->rot_n) { /* back to the float model's basis */
        if (n > ev->cap_unrotated) {
            float *more = realloc(ev->unrotated, n * sizeof *more);
            if (!more)
                return VS_ERR_NOMEM;
            ev->unrotated = more, ev->cap_unrotated = n;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)cols, (blasint)cols, 1.0f, dq,
                    (blasint)cols, ev->rot, (blasint)cols, 0.0f, ev->unrotated, (blasint)cols);
        dq = ev->unrotated;
    }
    vs_eval_compare_hidden(df, dq, n, &u->cosine[c->j], &u->rel_error[c->j]);
    return VS_OK;
}

static enum vs_status after_quant(void *ctx, size_t i, size_t j, const struct vs_sample *s)
{
    struct eval *ev = ctx;
    (void)i;
    ev->sq = s;
    struct compare_ctx c = {.ev = ev, .j = j};
    return vs_layerwise_with_sample(ev->lf, j, compare_into, &c);
}

static void unit_stats(struct vs_eval_unit *u, size_t n)
{
    double cs = 0, rs = 0;
    size_t k = 0;
    u->cosine_min = INFINITY, u->rel_error_max = 0;
    for (size_t j = 0; j < n; j++) {
        if (isnan(u->cosine[j]))
            continue;
        cs += u->cosine[j], rs += u->rel_error[j], k++;
        u->cosine_min = fmin(u->cosine_min, u->cosine[j]);
        u->rel_error_max = fmax(u->rel_error_max, u->rel_error[j]);
    }
    u->cosine_mean = k ? cs / (double)k : NAN;
    u->rel_error_mean = k ? rs / (double)k : NAN;
    if (!k)
        u->cosine_min = u->rel_error_max = NAN;
}

static enum vs_status run_unit(struct eval *ev, size_t i)
{
    struct vs_unit *u = NULL, *v = NULL;
    struct vs_unit_f32 *uf = NULL, *vf = NULL;
    enum vs_status st = ev->ops->unit_load(ev->mf, i, &u);
    if (st == VS_OK)
        st = vs_export_view(ev->e, u, &v);
    if (st == VS_OK)
        st = vs_unit_f32_make_for_compute(u, &uf);
    if (st == VS_OK)
        st = vs_unit_f32_make_for_compute(v, &vf);
    struct vs_eval_unit *eu = &ev->r->units[i];
    if (st == VS_OK && !(eu->name = vs_strdup(u->name)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK && (!(eu->cosine = calloc(ev->n, sizeof *eu->cosine)) ||
                        !(eu->rel_error = calloc(ev->n, sizeof *eu->rel_error))))
        st = VS_ERR_NOMEM;
    struct vs_linear_hooks fh = {.routed_tokens = routed, .ctx = ev};
    struct vs_linear_hooks qh = {.routed_tokens = routed, .computes = q_computes, .compute = q_compute, .ctx = ev};
    ev->unit = i;
    if (st == VS_OK) {
        ev->quant_pass = false;
        st = vs_layerwise_run_unit(ev->lf, i, uf->unit, &fh, false, true, NULL, NULL);
    }
    if (st == VS_OK) {
        ev->quant_pass = true;
        st = vs_layerwise_run_unit(ev->lq, i, vf->unit, &qh, false, true, after_quant, ev);
        if (st != VS_OK)
            st = vs_error_prefix(st, "the quantized model (%s)", vs_export_dir(ev->e));
    }
    if (st == VS_OK)
        unit_stats(eu, ev->n);
    vs_unit_f32_free(uf);
    vs_unit_f32_free(vf);
    vs_unit_free(v);
    vs_unit_free(u);
    return st;
}

/* ---- after the last unit: the logits at every text position ---- */

struct logits_ctx {
    struct eval *ev;
    size_t j;
    const struct vs_sample *sf;
};

static enum vs_status push_kl(struct eval *ev, double kl)
{
    if (ev->n_kl == ev->cap_kl) {
        size_t cap = ev->cap_kl ? 2 * ev->cap_kl : 1024;
        double *more = realloc(ev->kl_all, cap * sizeof *more);
        if (!more)
            return VS_ERR_NOMEM;
        ev->kl_all = more, ev->cap_kl = cap;
    }
    ev->kl_all[ev->n_kl++] = kl;
    return VS_OK;
}

/* Positions whose logits are compared: those whose input is not the image placeholder, and the
 * last (the next-token prediction). */
static bool compared(const struct eval *ev, const int64_t *ids, int64_t T, int64_t t)
{
    return ids[t] != ev->image_token || t == T - 1;
}

static enum vs_status compare_logits(void *ctx, struct vs_model *mq, const struct vs_sample *sq)
{
    struct logits_ctx *c = ctx;
    struct eval *ev = c->ev;
    int64_t V = ev->ops->vocab_size(ev->mf), T = ev->in[c->j].n_tokens;
    const int64_t *ids = ev->in[c->j].input_ids;
    int64_t chunk = ((int64_t)32 << 20) / (V > 0 ? V : 1); /* 128 MiB per model: the head converted once per chunk */
    chunk = chunk < 1 ? 1 : chunk;
    float *lf = malloc((size_t)(chunk * V) * sizeof *lf), *lq = malloc((size_t)(chunk * V) * sizeof *lq);
    double *kls = malloc((size_t)(T ? T : 1) * sizeof *kls);
    enum vs_status st = lf && lq && kls ? VS_OK : VS_ERR_NOMEM;
    struct vs_linear_hooks qh = {.computes = q_computes, .compute = q_compute, .ctx = ev};
    struct vs_eval_sample *s = &ev->r->samples[c->j];
    double cos_sum = 0, top1 = 0, kl_sum = 0, kl_max = 0;
    int64_t k = 0;
    s->cosine_min = INFINITY;
    /* runs of compared positions, at most a chunk each: the image placeholders' logits are never
     * computed */
    for (int64_t b = 0; b < T && st == VS_OK;) {
        if (!compared(ev, ids, T, b)) {
            b++;
            continue;
        }
        int64_t e = b + 1;
        while (e < T && e - b < chunk && compared(ev, ids, T, e))
            e++;
        if ((st = ev->ops->sample_logits_rows(ev->mf, c->sf, b, e, lf, NULL)) != VS_OK ||
            (st = ev->ops->sample_logits_rows(mq, sq, b, e, lq, &qh)) != VS_OK)
            break;
        for (int64_t t = b; t < e; t++) {
            struct vs_logits_cmp cmp;
            vs_eval_compare_logits(lf + (t - b) * V, lq + (t - b) * V, V, &cmp);
            if (t == T - 1) {
                s->last_kl = cmp.kl, s->last_cosine = cmp.cosine;
                s->last_top1 = cmp.top_f == cmp.top_q;
            }
            if (ids[t] == ev->image_token)
                continue;
            kls[k++] = cmp.kl;
            kl_sum += cmp.kl, cos_sum += cmp.cosine, top1 += cmp.top_f == cmp.top_q;
            kl_max = fmax(kl_max, cmp.kl);
            s->cosine_min = fmin(s->cosine_min, cmp.cosine);
            if ((st = push_kl(ev, cmp.kl)) != VS_OK)
                break;
        }
        b = e;
    }
    if (st == VS_OK) {
        s->positions = k;
        s->kl_mean = k ? kl_sum / (double)k : 0;
        s->top1 = k ? top1 / (double)k : 0;
        s->cosine_mean = k ? cos_sum / (double)k : 0;
        s->kl_p99 = vs_eval_quantile(kls, (size_t)k, 0.99);
        s->kl_max = kl_max;
        if (!k)
            s->cosine_min = 0;
    }
    free(lf), free(lq), free(kls);
    return st;
}

static enum vs_status with_float_state(void *ctx, struct vs_model *m, const struct vs_sample *sf)
{
    (void)m;
    struct logits_ctx *c = ctx;
    c->sf = sf;
    return vs_layerwise_with_sample(c->ev->lq, c->j, compare_logits, c);
}

/* ---- setup ---- */

/* config.json's image_token_id (top level, else text_config's), -1 if none. */
static int64_t image_token_id(const char *model_path)
{
    char *path = vs_path_join(model_path, "config.json");
    json_t *cfg = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    json_t *v = cfg ? json_object_get(cfg, "image_token_id") : NULL;
    if (!json_is_integer(v) && cfg)
        v = json_object_get(json_object_get(cfg, "text_config"), "image_token_id");
    int64_t id = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    json_decref(cfg);
    return id;
}

/* The end-of-sequence ids: generation_config.json's eos_token_id (an id or a list), else
 * config.json's (top level, then text_config). */
static size_t eos_ids(const char *model_path, int64_t *out, size_t cap)
{
    static const char *const files[] = {"generation_config.json", "config.json"};
    size_t n = 0;
    for (size_t f = 0; f < 2 && n == 0; f++) {
        char *path = vs_path_join(model_path, files[f]);
        json_t *cfg = path && vs_fs_is_file(path) ? json_load_file(path, 0, NULL) : NULL;
        free(path);
        json_t *v = json_object_get(cfg, "eos_token_id");
        if (!v && cfg)
            v = json_object_get(json_object_get(cfg, "text_config"), "eos_token_id");
        if (json_is_integer(v))
            out[n++] = (int64_t)json_integer_value(v);
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v) && n < cap; i++)
            if (json_is_integer(json_array_get(v, i)))
                out[n++] = (int64_t)json_integer_value(json_array_get(v, i));
        json_decref(cfg);
    }
    return n;
}

static enum vs_status generate(struct eval *ev)
{
    int64_t eos[16];
    size_t n_eos = eos_ids(ev->o->model_path, eos, 16);
    struct vs_eval_tokens *f = calloc(ev->n ? ev->n : 1, sizeof *f), *q = calloc(ev->n ? ev->n : 1, sizeof *q);
    enum vs_status st = f && q ? VS_OK : VS_ERR_NOMEM;
    int64_t budget = (int64_t)(ev->o->spill_budget / 2);
    if (st == VS_OK)
        st = vs_eval_generate(ev->ops, ev->mf, NULL, ev->in, ev->n, ev->o->max_new_tokens, eos, n_eos,
                              (uint64_t)budget, ev->o->interrupted, f);
    if (st == VS_OK)
        st = vs_eval_generate(ev->ops, ev->mq, ev->e, ev->in, ev->n, ev->o->max_new_tokens, eos, n_eos,
                              (uint64_t)budget, ev->o->interrupted, q);
    for (size_t j = 0; j < ev->n && st == VS_OK; j++) {
        struct vs_eval_sample *s = &ev->r->samples[j];
        s->gen_float = f[j].ids, s->n_gen_float = f[j].n, s->gen_quant = q[j].ids, s->n_gen_quant = q[j].n;
        f[j].ids = q[j].ids = NULL;
        s->first_divergence = -1;
        for (int64_t t = 0; t < s->n_gen_float || t < s->n_gen_quant; t++)
            if (t >= s->n_gen_float || t >= s->n_gen_quant || s->gen_float[t] != s->gen_quant[t]) {
                s->first_divergence = t;
                break;
            }
    }
    for (size_t j = 0; j < ev->n; j++) {
        if (f)
            free(f[j].ids);
        if (q)
            free(q[j].ids);
    }
    free(f), free(q);
    return st;
}

/* Every unit and the tail viewed through the export before any work, so that a tensor missing
 * from it, or one the forward would not use, stops the run at once. */
static enum vs_status check_export(struct eval *ev)
{
    size_t n = ev->ops->unit_count(ev->mf);
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < n && st == VS_OK; i++) {
        struct vs_unit *u = NULL, *v = NULL;
        if ((st = ev->ops->unit_load(ev->mf, i, &u)) == VS_OK)
            st = vs_export_view(ev->e, u, &v);
        vs_unit_free(v);
        vs_unit_free(u);
    }
    struct vs_unit *t = NULL;
    if (st == VS_OK && (st = ev->ops->tail_load(ev->mf, &t)) == VS_OK)
        st = vs_export_view(ev->e, t, &ev->tail);
    vs_unit_free(t);
    if (st == VS_OK)
        st = vs_export_check_all_used(ev->e);
    if (st == VS_OK)
        ev->ops->set_tail(ev->mq, ev->tail);
    return st;
}

static void summarize(struct eval *ev)
{
    struct vs_eval_result *r = ev->r;
    double cs = 0, t1 = 0, kl = 0;
    int64_t k = 0;
    for (size_t j = 0; j < r->n_samples; j++) {
        const struct vs_eval_sample *s = &r->samples[j];
        cs += s->cosine_mean * (double)s->positions;
        t1 += s->top1 * (double)s->positions;
        kl += s->kl_mean * (double)s->positions;
        k += s->positions;
    }
    r->positions = k;
    r->kl_mean = k ? kl / (double)k : 0;
    r->top1 = k ? t1 / (double)k : 0;
    r->cosine_mean = k ? cs / (double)k : 0;
    r->kl_median = vs_eval_quantile(ev->kl_all, ev->n_kl, 0.5);
    r->kl_p99 = vs_eval_quantile(ev->kl_all, ev->n_kl, 0.99);
    r->kl_p999 = vs_eval_quantile(ev->kl_all, ev->n_kl, 0.999);
    r->kl_max = 0;
    for (size_t j = 0; j < r->n_samples; j++)
        r->kl_max = fmax(r->kl_max, r->samples[j].kl_max);
}

enum vs_status vs_eval_run(const struct vs_eval_options *o, struct vs_eval_result *r)
{
    memset(r, 0, sizeof *r);
    const struct vs_adapter_ops *ops = o->adapter;
    if (!vs_adapter_has_eval(ops))
        return vs_error_set(VS_ERR_UNSUPPORTED, "adapter '%s' (ABI version %u) implements no evaluation members",
                            ops->key, ops->abi_version);
    double t0 = now_seconds();
    struct eval ev = {.o = o, .ops = ops, .r = r, .image_token = image_token_id(o->model_path)};
    enum vs_status st = ops->open(o->model_path, o->model_type, &ev.mf);
    if (st == VS_OK)
        st = ops->open(o->model_path, o->model_type, &ev.mq);
    if (st == VS_OK)
        st = vs_export_open(o->quant_path, &ev.e);
    if (st == VS_OK) {
        vs_export_hooks(ev.e, &ev.xh);
        st = vs_export_rotation(ev.e, &ev.rot, &ev.rot_n);
    }
    if (st == VS_OK) {
        r->quantized_linears = vs_export_quantized_count(ev.e), r->export_format = vs_export_format_name(ev.e);
        st = check_export(&ev);
    }
    if (st == VS_OK && (st = vs_layerwise_open(ops, ev.mf, o->spill_budget / 2, NULL, &ev.lf)) == VS_OK)
        st = vs_layerwise_open(ops, ev.mq, o->spill_budget / 2, NULL, &ev.lq);
    if (st == VS_OK && o->interrupted) {
        vs_layerwise_set_interrupt(ev.lf, o->interrupted);
        vs_layerwise_set_interrupt(ev.lq, o->interrupted);
    }
    size_t count = 0;
    if (st == VS_OK)
        st = o->inputs ? vs_samples_each_file(o->inputs, "--calib_inputs", add_sample, &ev, &count)
                       : vs_samples_each_dataset(o->model_path, o->dataset, o->default_text, o->lab_calib_dir, false,
                                                 o->dataset_where ? o->dataset_where : "--dataset", add_sample, &ev,
                                                 &count, NULL);
    size_t units = st == VS_OK ? ops->unit_count(ev.mf) : 0;
    if (st == VS_OK && (!(r->samples = calloc(ev.n ? ev.n : 1, sizeof *r->samples)) ||
                        !(r->units = calloc(units ? units : 1, sizeof *r->units))))
        st = VS_ERR_NOMEM;
    if (st == VS_OK) {
        r->n_samples = ev.n, r->n_units = units;
        vs_info("eval: %zu sample(s), %zu units, %zu quantized Linear modules in %s (%s)", ev.n, units,
                r->quantized_linears, o->quant_path, r->export_format);
    }
    for (size_t i = 0; i < units && st == VS_OK; i++) {
        double t = now_seconds();
        if ((st = run_unit(&ev, i)) != VS_OK)
            break;
        const struct vs_eval_unit *u = &r->units[i];
        double elapsed = now_seconds() - t0, eta = elapsed / (double)(i + 1) * (double)(units - i - 1);
        vs_info("[%zu/%zu] %s: hidden cosine mean %.6f (min %.6f), relative error mean %.3g (max %.3g), %.2f s "
                "(elapsed %.1f s, ETA %.1f s)", i + 1, units, u->name, u->cosine_mean, u->cosine_min,
                u->rel_error_mean, u->rel_error_max, now_seconds() - t, elapsed, eta);
    }
    for (size_t j = 0; j < ev.n && st == VS_OK; j++) {
        struct logits_ctx c = {.ev = &ev, .j = j};
        st = vs_layerwise_with_sample(ev.lf, j, with_float_state, &c);
    }
    if (st == VS_OK)
        summarize(&ev);
    if (st == VS_OK && o->max_new_tokens > 0)
        st = generate(&ev);
    r->seconds = now_seconds() - t0;
    for (size_t j = 0; j < ev.n; j++)
        vs_model_inputs_free(&ev.in[j]);
    free(ev.in), free(ev.kl_all), free(ev.unrotated);
    vs_layerwise_close(ev.lf);
    vs_layerwise_close(ev.lq);
    vs_export_close(ev.e);
    if (ev.mq)
        ops->close(ev.mq);
    if (ev.mf)
        ops->close(ev.mf);
    vs_unit_free(ev.tail);
    if (st != VS_OK)
        vs_eval_result_free(r);
    return st;
}

void vs_eval_result_free(struct vs_eval_result *r)
{
    for (size_t i = 0; r->units && i < r->n_units; i++) {
        free(r->units[i].name);
        free(r->units[i].cosine);
        free(r->units[i].rel_error);
    }
    for (size_t k = 0; k < r->n_routes; k++)
        free(r->routes[k].layer);
    for (size_t j = 0; r->samples && j < r->n_samples; j++) {
        free(r->samples[j].gen_float);
        free(r->samples[j].gen_quant);
    }
    free(r->units), free(r->samples), free(r->routes);
    memset(r, 0, sizeof *r);
}
