/* Float equivalence of the outlier-suppression transforms on a whole checkpoint:
 *   vs-check-outlier MODEL_DIR INPUTS.safetensors OUT_DIR --quarot BLOCK_SIZE
 *   vs-check-outlier MODEL_DIR INPUTS.safetensors OUT_DIR --smooth ALPHA
 * runs the float forward pass (vision tower, every text layer, last-position logits) on the
 * inputs (pixel_values, grids, ids, as in tests/golden/forward/), transforms every weight with
 * vlmslim's maps (model/qwen3_vl_graph.h) and math (quant/quarot.h, quant/smooth.h), writes the
 * transformed checkpoint to OUT_DIR (float32), runs it again and compares:
 *   --quarot  the whole QuaRot pipeline (pre-run, every layer, post-run) with R = HADAMARD(hidden,
 *             BLOCK_SIZE) and R_uv = BLOCK_HADAMARD_SHIFTED(head_dim, BLOCK_SIZE); the rotated
 *             model's vision features and hidden states must equal the original ones times R,
 *             its logits the original logits;
 *   --smooth  iter_smooth (symmetric, scale_min 1e-5) on every text layer's subgraphs with
 *             statistics observed in the original forward; every output must be unchanged;
 *   --smooth-asym  the same, plus the asymmetric (symmetric: false) norm-linear fold on every
 *             vision block's LayerNorms (norm1 → attn.qkv, norm2 → mlp.linear_fc1, with their
 *             biases). msModelSlim's Qwen3-VL adapters define no vision subgraphs: these are here
 *             because the vision LayerNorms, unlike the text RMSNorms, carry the shift in a bias.
 * Passes when max |ours − expected| <= 1e-4 × max |expected| for each output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "model/qwen3_vl_graph.h"
#include "model/qwen3_vl_positions.h"
#include "model/qwen3_vl_text.h"
#include "model/qwen3_vl_vision.h"
#include "model/registry.h"
#include "quant/quarot.h"
#include "quant/smooth.h"
#include "quant/torch_mt19937.h"

/* ------------------------------------------------------------------ float32 tensors by name */

struct tensor {
    char *name;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    float *data;
    bool unstacked; /* an expert's Linear split out of a fused tensor: not written */
};

struct tensors {
    struct tensor *t;
    size_t n;
};

static struct tensor *find(struct tensors *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].name, name))
            return &ts->t[i];
    return NULL;
}

static struct tensor *add(struct tensors *ts, const char *name, int ndim, const int64_t *shape)
{
    ts->t = realloc(ts->t, (ts->n + 1) * sizeof *ts->t);
    struct tensor *t = &ts->t[ts->n++];
    size_t n = 1;
    *t = (struct tensor){.name = strdup(name), .ndim = ndim};
    for (int i = 0; i < ndim; i++)
        n *= (size_t)(t->shape[i] = shape[i]);
    t->data = calloc(n, sizeof *t->data);
    return t;
}

static int load_all(struct vs_model *m, struct tensors *ts)
{
    for (size_t i = 0; i < vs_st_model_count(m->weights); i++) {
        const struct vs_st_tensor *src;
        if (vs_st_model_get(m->weights, vs_st_model_name_at(m->weights, i), &src) != VS_OK)
            return -1;
        struct tensor *t = add(ts, src->name, src->ndim, src->shape);
        size_t n = 1;
        for (int k = 0; k < src->ndim; k++)
            n *= (size_t)src->shape[k];
        if (vs_convert_to_f32(src->dtype, src->data, t->data, n) != 0) {
            vs_error_set(VS_ERR_MODEL, "%s: not a float tensor", src->name);
            return -1;
        }
    }
    return 0;
}

/* Routed experts as separate [out, in] Linears (mlp.experts.{e}.{gate,up,down}_proj.weight), or
 * back into the fused tensors. */
static void experts(struct tensors *ts, const struct vs_qwen3_vl_dims *d, int64_t L, bool restack)
{
    char p[96], n[160];
    snprintf(p, sizeof p, "model.language_model.layers.%lld.mlp.experts.", (long long)L);
    snprintf(n, sizeof n, "%sgate_up_proj", p);
    struct tensor *gu = find(ts, n);
    snprintf(n, sizeof n, "%sdown_proj", p);
    struct tensor *dn = find(ts, n);
    int64_t H = d->hidden, I = d->moe_intermediate;
    for (int64_t e = 0; e < d->experts; e++) {
        static const char *kinds[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int k = 0; k < 3; k++) {
            snprintf(n, sizeof n, "%s%lld.%s.weight", p, (long long)e, kinds[k]);
            struct tensor *t = find(ts, n);
            if (!t) {
                int64_t shape[2] = {k < 2 ? I : H, k < 2 ? H : I};
                t = add(ts, n, 2, shape);
                t->unstacked = true;
                gu = find(ts, (snprintf(n, sizeof n, "%sgate_up_proj", p), n)); /* add() may move */
                dn = find(ts, (snprintf(n, sizeof n, "%sdown_proj", p), n));
            }
            for (int64_t r = 0; r < t->shape[0]; r++)
                for (int64_t c = 0; c < t->shape[1]; c++) {
                    /* gate/up: W[j, h] = gate_up[e, h, (k·I) + j]; down: W[h, j] = down[e, j, h] */
                    float *f = k < 2 ? &gu->data[(e * H + c) * 2 * I + k * I + r] : &dn->data[(e * I + c) * H + r];
                    float *w = &t->data[r * t->shape[1] + c];
                    if (restack)
                        *f = *w;
                    else
                        *w = *f;
                }
        }
    }
}

static int linear(struct tensors *ts, const char *module, struct vs_linear_weights *l)
{
    char n[200];
    snprintf(n, sizeof n, "%s.weight", module);
    struct tensor *w = find(ts, n);
    if (!w) {
        vs_error_set(VS_ERR_MODEL, "%s: no such tensor", n);
        return -1;
    }
    snprintf(n, sizeof n, "%s.bias", module);
    struct tensor *b = find(ts, n);
    *l = (struct vs_linear_weights){.name = module, .w = w->data, .b = b ? b->data : NULL, .out = w->shape[0],
                                    .in = w->ndim == 2 ? w->shape[1] : 1};
    return 0;
}

/* ------------------------------------------------------------------ forward */

struct outputs {
    float *embeds, **deepstack, **hidden, *logits;
    size_t n_deepstack;
    int64_t tokens, s, H, vocab, layers;
};

struct observer {
    char **modules;
    struct vs_smooth_stats *stats;
    size_t n;
};

static void observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct observer *o = ctx;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->modules[i], module) && o->stats[i].channels == cols)
            vs_smooth_stats_observe(&o->stats[i], x, rows);
}

static int forward(const char *dir, const struct vs_st_file *in, struct observer *obs, struct outputs *o)
{
    const struct vs_adapter_ops *ops = vs_builtin_adapter("qwen3_vl_moe");
    struct vs_model *m;
    struct vs_unit *u;
    if ((ops->open(dir, "check", &m) != VS_OK && (ops = vs_builtin_adapter("qwen3_vl"))->open(dir, "check", &m) != VS_OK) ||
        ops->unit_load(m, 0, &u) != VS_OK)
        return -1;
    const struct vs_st_tensor *pv = vs_st_file_find(in, "pixel_values"), *g = vs_st_file_find(in, "grids"),
                              *idt = vs_st_file_find(in, "ids");
    if (!pv || !g || !idt || g->shape[0] > 16) {
        vs_error_set(VS_ERR_FORMAT, "inputs need pixel_values, grids [n <= 16, 3] and ids");
        return -1;
    }
    int64_t grids[16][3], n_images = g->shape[0], s = idt->shape[0], D = m->d.head_dim;
    memcpy(grids, g->data, g->nbytes);
    struct vs_linear_hooks hooks = {.observe_input = observe, .ctx = obs};
    struct vs_qwen3_vl_vision_out vis;
    if (vs_qwen3_vl_vision_forward(m, u, pv->data, pv->shape[0], (const int64_t(*)[3])grids, n_images,
                                   obs ? &hooks : NULL, &vis) != VS_OK)
        return -1;
    vs_unit_free(u);
    *o = (struct outputs){.embeds = vis.embeds, .deepstack = vis.deepstack, .n_deepstack = vis.n_deepstack,
                          .tokens = vis.tokens, .s = s, .H = m->d.hidden, .vocab = m->d.vocab, .layers = m->d.layers};
    const int64_t *ids = idt->data;
    float *x, *cos = malloc((size_t)(s * D) * sizeof *cos), *sin = malloc((size_t)(s * D) * sizeof *sin);
    int64_t *pos = malloc((size_t)(3 * s) * sizeof *pos);
    o->hidden = calloc((size_t)m->d.layers, sizeof *o->hidden);
    o->logits = malloc((size_t)m->d.vocab * sizeof *o->logits);
    if (vs_qwen3_vl_embed(m, ids, s, &vis, &x) != VS_OK ||
        vs_qwen3_vl_rope_index(ids, s, m->d.image_token_id, (const int64_t(*)[3])grids, n_images, m->d.merge_size, true, pos) != VS_OK)
        return -1;
    vs_qwen3_vl_mrope(pos, s, D, m->d.rope_theta, m->d.mrope_section, true, cos, sin);
    for (int64_t L = 0; L < m->d.layers; L++) {
        struct vs_unit *lu;
        if (ops->unit_load(m, (size_t)L + 1, &lu) != VS_OK ||
            vs_qwen3_vl_text_layer(m, lu, L, x, s, cos, sin, obs ? &hooks : NULL, false) != VS_OK)
            return -1;
        vs_unit_free(lu);
        if ((size_t)L < vis.n_deepstack)
            vs_qwen3_vl_add_deepstack(m, ids, s, x, vis.deepstack[L]);
        o->hidden[L] = malloc((size_t)(s * m->d.hidden) * sizeof(float));
        memcpy(o->hidden[L], x, (size_t)(s * m->d.hidden) * sizeof(float));
    }
    if (vs_qwen3_vl_logits_last(m, x, s, o->logits) != VS_OK)
        return -1;
    free(x), free(cos), free(sin), free(pos);
    ops->close(m);
    return 0;
}

static void outputs_free(struct outputs *o)
{
    free(o->embeds), free(o->logits);
    for (size_t j = 0; j < o->n_deepstack; j++)
        free(o->deepstack[j]);
    free(o->deepstack);
    for (int64_t L = 0; L < o->layers; L++)
        free(o->hidden[L]);
    free(o->hidden);
}

/* expected = ref, or ref·R when r is given (rows × H) */
static int compare(const char *name, const float *got, const float *ref, int64_t rows, int64_t cols,
                   const struct vs_rotation *r)
{
    size_t n = (size_t)(rows * cols);
    float *want = malloc(n * sizeof *want);
    memcpy(want, ref, n * sizeof *want);
    if (r && vs_quarot_rotate_right(r, want, rows, cols, name) != VS_OK)
        return 1;
    double mx = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(want[i]));
        err = fmax(err, fabs((double)got[i] - want[i]));
    }
    free(want);
    int ok = err <= 1e-4 * mx;
    printf("%-14s max |diff| %.3g, max |expected| %.3g, ratio %.3g: %s\n", name, err, mx, mx > 0 ? err / mx : 0,
           ok ? "ok" : "MISMATCH");
    return !ok;
}

/* ------------------------------------------------------------------ transforms */

static int run_phase(struct tensors *ts, const struct vs_quarot_phase *p, const struct vs_rotation *R,
                     const struct vs_rotation *Ruv)
{
    char n[200];
    for (size_t f = 0; f < p->n_fusions; f++) {
        struct vs_linear_weights l[64];
        const struct vs_norm_fusion *fu = &p->fusions[f];
        if (fu->n_linears > 64)
            return vs_error_set(VS_ERR_INTERNAL, "%s: too many linears", fu->norm), -1;
        for (size_t i = 0; i < fu->n_linears; i++)
            if (linear(ts, fu->linears[i], &l[i]))
                return -1;
        snprintf(n, sizeof n, "%s.weight", fu->norm);
        struct tensor *g = find(ts, n);
        snprintf(n, sizeof n, "%s.bias", fu->norm);
        struct tensor *b = find(ts, n);
        if (!g || vs_quarot_fuse_norm(fu->norm, g->data, b ? b->data : NULL, g->shape[0], l, fu->n_linears) != VS_OK)
            return -1;
    }
    for (size_t c = 0; c < p->n_commands; c++) {
        const struct vs_rotation_command *cmd = &p->commands[c];
        const struct vs_rotation *r = cmd->rotation == VS_ROT_R ? R : Ruv;
        struct vs_linear_weights l;
        if (linear(ts, cmd->module, &l))
            return -1;
        enum vs_status st = cmd->side == VS_ROT_RIGHT ? vs_quarot_rotate_right(r, l.w, l.out, l.in, cmd->module)
                                                      : vs_quarot_rotate_left(r, l.w, l.out, l.in, l.b, cmd->module);
        if (st != VS_OK)
            return -1;
    }
    return 0;
}

static int smooth_unit(struct tensors *ts, const struct vs_subgraph_list *sg, struct observer *obs, size_t first,
                       double alpha)
{
    /* msModelSlim's priority order: up-down, ov, linear-linear, norm-linear */
    for (int prio = 1; prio <= 4; prio++)
        for (size_t i = 0; i < sg->n; i++) {
            const struct vs_subgraph *g = &sg->items[i];
            if (vs_smooth_priority((enum vs_smooth_type)g->kind) != prio)
                continue;
            struct vs_smooth_stats *st = &obs->stats[first + i];
            struct vs_linear_weights t[8], src;
            if (g->n_targets > 8)
                return vs_error_set(VS_ERR_INTERNAL, "%s: too many targets", g->source), -1;
            struct vs_smooth_subgraph_weights w = {.type = (enum vs_smooth_type)g->kind, .targets = t,
                                                   .n_targets = g->n_targets,
                                                   .num_attention_heads = g->num_attention_heads,
                                                   .num_key_value_heads = g->num_key_value_heads,
                                                   .head_dim = g->head_dim};
            for (size_t k = 0; k < g->n_targets; k++)
                if (linear(ts, g->targets[k], &t[k]))
                    return -1;
            if (g->kind == VS_SUBGRAPH_KIND_NORM_LINEAR) {
                char n[200];
                snprintf(n, sizeof n, "%s.weight", g->source);
                struct tensor *gm = find(ts, n);
                if (!gm)
                    return vs_error_set(VS_ERR_MODEL, "%s: no such tensor", n), -1;
                w.norm_weight = gm->data;
            } else if (linear(ts, g->source, &src)) {
                return -1;
            } else {
                w.source = &src;
            }
            struct vs_smooth_params p = {.alpha = alpha, .scale_min = 1e-5, .symmetric = true,
                                         .scale_dtype = VS_DTYPE_F32};
            if (vs_smooth_apply(&w, st, &p, NULL) != VS_OK)
                return -1;
        }
    return 0;
}

/* asymmetric norm-linear on a vision block's LayerNorm feeding one Linear (both with biases) */
static int smooth_layernorm(struct tensors *ts, const char *linear_name, const char *norm, const struct vs_smooth_stats *st,
                            double alpha)
{
    char n[200], block[96];
    const char *dot = strstr(linear_name, norm[4] == '1' ? ".attn." : ".mlp.");
    snprintf(block, sizeof block, "%.*s", (int)(dot - linear_name), linear_name);
    struct vs_linear_weights t;
    if (linear(ts, linear_name, &t))
        return -1;
    snprintf(n, sizeof n, "%s.%s.weight", block, norm);
    struct tensor *g = find(ts, n);
    snprintf(n, sizeof n, "%s.%s.bias", block, norm);
    struct tensor *b = find(ts, n);
    if (!g || !b || !t.b)
        return vs_error_set(VS_ERR_MODEL, "%s.%s: LayerNorm or Linear without a bias", block, norm), -1;
    struct vs_smooth_subgraph_weights w = {.type = VS_SMOOTH_NORM_LINEAR, .norm_weight = g->data, .norm_bias = b->data,
                                           .targets = &t, .n_targets = 1};
    struct vs_smooth_params p = {.alpha = alpha, .scale_min = 1e-5, .symmetric = false, .scale_dtype = VS_DTYPE_F32};
    return vs_smooth_apply(&w, st, &p, NULL) == VS_OK ? 0 : -1;
}

static int write_model(const char *src_dir, const char *dir, struct tensors *ts)
{
    char **names;
    size_t count;
    struct vs_st_writer *w;
    if (vs_fs_mkdirs(dir, 0755) != VS_OK || vs_fs_list_dir(src_dir, &names, &count) != VS_OK)
        return -1;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len > 5 && !strcmp(names[i] + len - 5, ".json") && !strstr(names[i], "index.json")) {
            char *a = vs_path_join(src_dir, names[i]), *b = vs_path_join(dir, names[i]);
            enum vs_status st = vs_fs_copy_file(a, b, 0644);
            free(a), free(b);
            if (st != VS_OK)
                return -1;
        }
    }
    vs_fs_free_names(names, count);
    if (vs_st_writer_open(dir, "model", 0, 0644, &w) != VS_OK)
        return -1;
    for (size_t i = 0; i < ts->n; i++) {
        struct tensor *t = &ts->t[i];
        size_t n = 1;
        for (int k = 0; k < t->ndim; k++)
            n *= (size_t)t->shape[k];
        if (!t->unstacked && vs_st_writer_add(w, t->name, VS_DTYPE_F32, t->ndim, t->shape, t->data, n * 4) != VS_OK) {
            vs_st_writer_abort(w);
            return -1;
        }
    }
    return vs_st_writer_close(w) == VS_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[4], "--quarot") && strcmp(argv[4], "--smooth") && strcmp(argv[4], "--smooth-asym"))) {
        fprintf(stderr, "usage: vs-check-outlier MODEL_DIR INPUTS.safetensors OUT_DIR --quarot BLOCK_SIZE|--smooth ALPHA|--smooth-asym ALPHA\n");
        return 2;
    }
    bool quarot = !strcmp(argv[4], "--quarot"), asym = !strcmp(argv[4], "--smooth-asym");
    double arg = atof(argv[5]);
    struct vs_st_file *in;
    struct vs_model *m;
    bool moe = true;
    const struct vs_adapter_ops *ops = vs_builtin_adapter("qwen3_vl_moe");
    if (vs_st_file_open(argv[2], &in) != VS_OK ||
        (ops->open(argv[1], "check", &m) != VS_OK && (moe = false, ops = vs_builtin_adapter("qwen3_vl"))->open(argv[1], "check", &m) != VS_OK)) {
        fprintf(stderr, "vs-check-outlier: %s\n", vs_error_message());
        return 2;
    }
    const struct vs_qwen3_vl_dims *d = &m->d;
    struct tensors ts = {0};
    struct observer obs = {0};
    struct outputs ref, got;
    struct vs_rotation R = {0}, Ruv = {0};
    int rc = 1;
    char (*vis_names)[96] = NULL;
    /* statistics for every subgraph of every text layer, taken on targets[0] in the first forward */
    struct vs_subgraph_list sg = {0};
    size_t *first = calloc((size_t)d->layers + 2, sizeof *first);
    for (size_t u = 1; u <= (size_t)d->layers; u++) {
        first[u] = sg.n;
        if ((moe ? vs_qwen3_vl_moe_subgraphs : vs_qwen3_vl_dense_subgraphs)(d, u, &sg) != VS_OK)
            goto fail;
    }
    first[d->layers + 1] = sg.n;
    size_t n_vis = asym ? 2 * (size_t)d->v_depth : 0; /* vision LayerNorm subgraphs after the text ones */
    obs.n = sg.n + n_vis;
    obs.modules = calloc(obs.n + 1, sizeof *obs.modules);
    obs.stats = calloc(obs.n + 1, sizeof *obs.stats);
    vis_names = calloc(n_vis + 1, sizeof *vis_names);
    for (size_t i = 0; i < n_vis; i++) {
        snprintf(vis_names[i], sizeof vis_names[i], "model.visual.blocks.%zu.%s", i / 2, i % 2 ? "mlp.linear_fc1" : "attn.qkv");
        obs.modules[sg.n + i] = vis_names[i];
        vs_smooth_stats_init(&obs.stats[sg.n + i], d->v_hidden, true);
    }
    for (size_t i = 0; i < sg.n; i++) {
        obs.modules[i] = sg.items[i].targets[0];
        int64_t C = sg.items[i].kind == VS_SUBGRAPH_KIND_OV ? d->heads * d->head_dim
                    : sg.items[i].kind == VS_SUBGRAPH_KIND_UP_DOWN ? d->intermediate : d->hidden;
        vs_smooth_stats_init(&obs.stats[i], C, false);
    }
    if (forward(argv[1], in, quarot ? NULL : &obs, &ref) || load_all(m, &ts))
        goto fail;
    for (int64_t L = 0; L < d->layers; L++)
        if (moe && vs_qwen3_vl_graph_is_moe_layer(d, L))
            experts(&ts, d, L, false);
    if (quarot) {
        struct vs_quarot_phase p = {0};
        if (vs_quarot_check(NULL, d->tie_word_embeddings, argv[1]) != VS_OK ||
            vs_rotation_hadamard(d->hidden, (int64_t)arg, VS_QUAROT_SEED, &R) != VS_OK ||
            vs_rotation_block_hadamard_shifted(d->head_dim, (int64_t)arg, VS_QUAROT_SEED, &Ruv) != VS_OK)
            goto fail;
        if (vs_qwen3_vl_quarot_pre_run(d, moe, &p) != VS_OK || run_phase(&ts, &p, &R, &Ruv))
            goto fail;
        vs_quarot_phase_free(&p);
        for (size_t u = 1; u <= (size_t)d->layers; u++) {
            if (vs_qwen3_vl_quarot_unit(d, moe, u, &p) != VS_OK || run_phase(&ts, &p, &R, &Ruv))
                goto fail;
            vs_quarot_phase_free(&p);
        }
        if (vs_qwen3_vl_quarot_post_run(d, moe, &p) != VS_OK || run_phase(&ts, &p, &R, &Ruv))
            goto fail;
        vs_quarot_phase_free(&p);
    } else {
        for (size_t u = 1; u <= (size_t)d->layers; u++) {
            struct vs_subgraph_list one = {.items = sg.items + first[u], .n = first[u + 1] - first[u]};
            if (smooth_unit(&ts, &one, &obs, first[u], arg))
                goto fail;
        }
        for (size_t i = 0; i < n_vis; i++)
            if (smooth_layernorm(&ts, vis_names[i], i % 2 ? "norm2" : "norm1", &obs.stats[sg.n + i], arg))
                goto fail;
    }
    for (int64_t L = 0; L < d->layers; L++)
        if (moe && vs_qwen3_vl_graph_is_moe_layer(d, L))
            experts(&ts, d, L, true);
    if (write_model(argv[1], argv[3], &ts) || forward(argv[3], in, NULL, &got))
        goto fail;
    const struct vs_rotation *r = quarot ? &R : NULL;
    int bad = compare("embeds", got.embeds, ref.embeds, ref.tokens, ref.H, r);
    for (size_t j = 0; j < ref.n_deepstack; j++) {
        char name[48];
        snprintf(name, sizeof name, "deepstack.%zu", j);
        bad |= compare(name, got.deepstack[j], ref.deepstack[j], ref.tokens, ref.H, r);
    }
    for (int64_t L = 0; L < ref.layers; L++) {
        char name[48];
        snprintf(name, sizeof name, "hidden.layer_%lld", (long long)L);
        bad |= compare(name, got.hidden[L], ref.hidden[L], ref.s, ref.H, r);
    }
    bad |= compare("logits", got.logits, ref.logits, 1, ref.vocab, NULL);
    outputs_free(&ref), outputs_free(&got);
    rc = bad;
    goto done;
fail:
    fprintf(stderr, "vs-check-outlier: %s\n", vs_error_message());
done:
    for (size_t i = 0; i < obs.n; i++)
        vs_smooth_stats_free(&obs.stats[i]);
    free(obs.stats), free(obs.modules), free(first), free(vis_names);
    vs_subgraph_list_free(&sg);
    for (size_t i = 0; i < ts.n; i++)
        free(ts.t[i].name), free(ts.t[i].data);
    free(ts.t);
    vs_rotation_free(&R), vs_rotation_free(&Ruv);
    ops->close(m);
    vs_st_file_close(in);
    return rc;
}
