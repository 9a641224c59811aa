#include "model/qwen3_vl_forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/model_inputs.h"
#include "model/linear_apply.h"
#include "model/qwen3_vl_positions.h"
#include "model/qwen3_vl_text.h"
#include "model/qwen3_vl_vision.h"
#include "tensor/kernels.h"

struct vs_sample {
    int64_t next_unit;              /* units already run */
    int64_t n_tokens, n_images;
    int64_t *ids;                   /* [n_tokens] */
    int64_t (*grids)[3];            /* [n_images] */
    int64_t n_patches, patch_dim;
    float *pixels;                  /* [n_patches, patch_dim] until the vision tower ran */
    int64_t vis_tokens, vis_hidden; /* image features (merged patches) */
    int64_t n_deep;
    float *embeds;                  /* [vis_tokens, vis_hidden] until the embeddings are built */
    float *deep;                    /* n_deep × [vis_tokens, vis_hidden] until the last DeepStack layer */
    int64_t hidden_dim;
    float *hidden;                  /* [n_tokens, hidden_dim] once the text layers started */
};

void vs_qwen3_vl_sample_free(struct vs_sample *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->grids);
    free(s->pixels);
    free(s->embeds);
    free(s->deep);
    free(s->hidden);
    free(s);
}

static void *dup_bytes(const void *p, size_t n)
{
    void *d = vs_malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Qwen-VL patches: grids of whole merge blocks, C·T·P·P values per patch. */
static enum vs_status check_patches(const struct vs_model *m, const struct vs_model_inputs *in)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t want_dim = d->in_channels * d->temporal_patch_size * d->patch_size * d->patch_size, patches = 0;
    for (int64_t i = 0; i < in->n_images; i++) {
        const int64_t *g = in->image_grid_thw[i];
        if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0 || g[1] % d->merge_size || g[2] % d->merge_size)
            return vs_error_set(VS_ERR_MODEL, "model inputs: image_grid_thw[%lld] = {%lld, %lld, %lld} is not a grid of "
                                "whole %lldx%lld merge blocks", (long long)i, (long long)g[0], (long long)g[1],
                                (long long)g[2], (long long)d->merge_size, (long long)d->merge_size);
        patches += g[0] * g[1] * g[2];
    }
    if (patches != in->n_patches)
        return vs_error_set(VS_ERR_MODEL, "model inputs: pixel_values has %lld patches but image_grid_thw gives %lld",
                            (long long)in->n_patches, (long long)patches);
    if (in->n_patches > 0 && in->patch_dim != want_dim)
        return vs_error_set(VS_ERR_MODEL, "model inputs: pixel_values has %lld values per patch; %s needs %lld "
                            "(channels x temporal_patch_size x patch_size^2)", (long long)in->patch_dim,
                            m->config_path, (long long)want_dim);
    return VS_OK;
}

enum vs_status vs_qwen3_vl_sample_begin(struct vs_model *m, const struct vs_model_inputs *in, struct vs_sample **out)
{
    *out = NULL;
    const struct vs_qwen3_vl_dims *d = &m->d;
    if (in->n_tokens <= 0)
        return vs_error_set(VS_ERR_MODEL, "model inputs: input_ids is empty");
    enum vs_status st = m->check_inputs ? m->check_inputs(m, in) : check_patches(m, in);
    if (st != VS_OK)
        return st;
    struct vs_sample *s = vs_calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    s->n_tokens = in->n_tokens;
    s->n_images = in->n_images;
    s->n_patches = in->n_patches;
    s->patch_dim = in->patch_dim;
    s->vis_hidden = d->out_hidden;
    s->hidden_dim = d->hidden;
    s->ids = dup_bytes(in->input_ids, (size_t)in->n_tokens * sizeof *s->ids);
    s->grids = dup_bytes(in->image_grid_thw, (size_t)in->n_images * sizeof *s->grids);
    if (in->n_patches > 0)
        s->pixels = dup_bytes(in->pixel_values, (size_t)(in->n_patches * in->patch_dim) * sizeof *s->pixels);
    if (!s->ids || !s->grids || (in->n_patches > 0 && !s->pixels)) {
        vs_qwen3_vl_sample_free(s);
        return VS_ERR_NOMEM;
    }
    *out = s;
    return VS_OK;
}

/* The vision tower over the images of samples ss[0..n) at once (attention stays within each
 * image): their patches one after the other, the merged features then split back by sample. */
static enum vs_status vision_units(const struct vs_model *m, const struct vs_unit *u, struct vs_sample *const *ss,
                                   size_t n, const struct vs_linear_hooks *hooks)
{
    int64_t patches = 0, images = 0, dim = 0;
    for (size_t j = 0; j < n; j++) {
        patches += ss[j]->n_patches;
        images += ss[j]->n_images;
        dim = ss[j]->n_images ? ss[j]->patch_dim : dim;
    }
    if (images == 0) /* text-only samples: the tower sees nothing */
        return VS_OK;
    const float *pixels = ss[0]->pixels;
    const int64_t(*grids)[3] = (const int64_t(*)[3])ss[0]->grids;
    float *cat_pixels = NULL;
    int64_t(*cat_grids)[3] = NULL;
    if (n > 1) {
        cat_pixels = vs_malloc((size_t)(patches * dim) * sizeof *cat_pixels);
        cat_grids = vs_malloc((size_t)images * sizeof *cat_grids);
        if (!cat_pixels || !cat_grids) {
            free(cat_pixels), free(cat_grids);
            return VS_ERR_NOMEM;
        }
        for (size_t j = 0, p = 0, g = 0; j < n; j++) {
            const struct vs_sample *s = ss[j];
            if (s->n_patches)
                memcpy(cat_pixels + p * dim, s->pixels, (size_t)(s->n_patches * dim) * sizeof *cat_pixels);
            if (s->n_images)
                memcpy(cat_grids + g, s->grids, (size_t)s->n_images * sizeof *cat_grids);
            p += (size_t)s->n_patches, g += (size_t)s->n_images;
        }
        pixels = cat_pixels;
        grids = (const int64_t(*)[3])cat_grids;
    }
    struct vs_qwen3_vl_vision_out vo;
    enum vs_status st = m->vision_forward(m, u, pixels, patches, grids, images, hooks, &vo);
    free(cat_pixels);
    free(cat_grids);
    if (st != VS_OK)
        return st;
    int64_t row = 0;
    for (size_t j = 0; j < n && st == VS_OK; j++) {
        struct vs_sample *s = ss[j];
        if (s->n_images == 0)
            continue;
        int64_t tokens = s->n_patches * vo.tokens / patches; /* as many features per patch in every image */
        size_t plane = (size_t)(tokens * vo.hidden);
        float *embeds = vs_malloc(plane * sizeof *embeds);
        float *deep = vo.n_deepstack ? vs_malloc(vo.n_deepstack * plane * sizeof *deep) : NULL;
        if (!embeds || (vo.n_deepstack && !deep)) {
            free(embeds), free(deep);
            st = VS_ERR_NOMEM;
            break;
        }
        memcpy(embeds, vo.embeds + row * vo.hidden, plane * sizeof *embeds);
        for (size_t k = 0; k < vo.n_deepstack; k++)
            memcpy(deep + k * plane, vo.deepstack[k] + row * vo.hidden, plane * sizeof *deep);
        row += tokens;
        s->vis_tokens = tokens;
        s->vis_hidden = vo.hidden;
        s->n_deep = (int64_t)vo.n_deepstack;
        s->embeds = embeds;
        s->deep = deep;
        free(s->pixels);
        s->pixels = NULL;
    }
    vs_qwen3_vl_vision_out_free(&vo);
    return st;
}

/* Hooks around a MoE layer's own: the router's input is seen on its way in, the routing
 * (softmax, top-k as qwen3_vl_text.c computes it) recomputed and each expert's routed token
 * count reported to the caller's routed_tokens. */
struct routing {
    const struct vs_linear_hooks *inner;
    const struct vs_model *m;
    const struct vs_unit *u;
    const char *prefix; /* "model.language_model.layers.3." */
    char router[192];
    enum vs_status st;
};

static void routing_observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct routing *r = ctx;
    if (r->inner->observe_input)
        r->inner->observe_input(r->inner->ctx, module, x, rows, cols);
}

static void routing_observe_output(void *ctx, const char *module, const float *y, int64_t rows, int64_t cols)
{
    struct routing *r = ctx;
    r->inner->observe_output(r->inner->ctx, module, y, rows, cols);
}

static void count_routes(struct routing *r, const float *x, int64_t rows)
{
    const struct vs_qwen3_vl_dims *d = &r->m->d;
    int64_t E = d->experts, K = d->topk;
    /* the router as the layer computes it: from float weights, or by the caller's compute hook */
    const struct vs_linear_hooks *in = r->inner;
    struct vs_linear_hooks computed = {.computes = in->computes, .compute = in->compute, .ctx = in->ctx};
    float *probs = vs_malloc((size_t)(rows * E) * sizeof *probs), *w = vs_malloc((size_t)K * sizeof *w);
    int64_t *counts = vs_calloc((size_t)E, sizeof *counts), *sel = vs_malloc((size_t)K * sizeof *sel);
    enum vs_status st = probs && counts && w && sel ? vs_linear_run(r->u, r->router, x, rows, probs, &computed)
                                                    : VS_ERR_NOMEM;
    if (st == VS_OK) {
        vs_softmax_rows_f32(probs, rows, E);
        for (int64_t t = 0; t < rows; t++) { /* the routing the layer itself computes */
            vs_qwen3_vl_top_k(probs + t * E, E, K, false, sel, w);
            for (int64_t k = 0; k < K; k++)
                counts[sel[k]]++;
        }
        static const char *const proj[3] = {"gate_proj", "up_proj", "down_proj"};
        char name[256];
        for (int64_t e = 0; e < E; e++)
            for (int k = 0; k < 3; k++) {
                snprintf(name, sizeof name, "%smlp.experts.%lld.%s", r->prefix, (long long)e, proj[k]);
                r->inner->routed_tokens(r->inner->ctx, name, counts[e]);
            }
    }
    if (st != VS_OK && r->st == VS_OK)
        r->st = st;
    free(probs), free(w);
    free(counts), free(sel);
}

static bool routing_computes(void *ctx, const char *module, int64_t *in, int64_t *out)
{
    struct routing *r = ctx;
    return r->inner->computes(r->inner->ctx, module, in, out);
}

static enum vs_status routing_compute(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct routing *r = ctx;
    return r->inner->compute(r->inner->ctx, module, x, rows, y);
}

static const float *routing_transform(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct routing *r = ctx;
    if (r->inner->transform_input)
        x = r->inner->transform_input(r->inner->ctx, module, x, rows, cols);
    if (strcmp(module, r->router) == 0)
        count_routes(r, x, rows);
    return x;
}

/* Text layer `layer` over the tokens of samples ss[0..n) at once: their hidden states one after
 * the other, each with its own MRoPE tables, attention causal within each sample, DeepStack
 * added at each sample's own image positions. */
static enum vs_status text_units(struct vs_model *m, int64_t layer, const struct vs_unit *u, struct vs_sample *const *ss,
                                 size_t n, const struct vs_linear_hooks *hooks, bool all_experts)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t D = d->head_dim, H = d->hidden, total = 0, most = 0;
    enum vs_status st = VS_OK;
    for (size_t j = 0; j < n; j++) {
        struct vs_sample *s = ss[j];
        if (!s->hidden) {
            struct vs_qwen3_vl_vision_out vo = {.embeds = s->embeds, .tokens = s->vis_tokens, .hidden = s->vis_hidden};
            if ((st = vs_qwen3_vl_embed(m, s->ids, s->n_tokens, s->n_images ? &vo : NULL, &s->hidden)) != VS_OK)
                return st;
            free(s->embeds);
            s->embeds = NULL;
        }
        total += s->n_tokens;
        most = s->n_tokens > most ? s->n_tokens : most;
    }
    float *cos = vs_malloc((size_t)(total * D) * sizeof *cos), *sin = vs_malloc((size_t)(total * D) * sizeof *sin);
    int64_t *pos = vs_malloc((size_t)(3 * most) * sizeof *pos);
    int32_t *seg = n > 1 ? vs_malloc((size_t)total * sizeof *seg) : NULL;
    float *x = n > 1 ? vs_malloc((size_t)(total * H) * sizeof *x) : ss[0]->hidden;
    if (!cos || !sin || !pos || (n > 1 && (!seg || !x))) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    for (int64_t j = 0, off = 0; j < (int64_t)n; off += ss[j]->n_tokens, j++) {
        const struct vs_sample *s = ss[j];
        int64_t t = s->n_tokens;
        if (d->rope_1d)
            for (int64_t a = 0; a < 3; a++)
                for (int64_t i = 0; i < t; i++)
                    pos[a * t + i] = i;
        else if ((st = vs_qwen3_vl_rope_index(s->ids, t, d->image_token_id, (const int64_t(*)[3])s->grids,
                                              s->n_images, d->merge_size, d->image_frame_time, pos)) != VS_OK)
            goto done;
        vs_qwen3_vl_mrope(pos, t, D, d->rope_theta, d->mrope_section, d->mrope_interleaved, cos + off * D,
                          sin + off * D);
        if (n > 1) {
            memcpy(x + off * H, s->hidden, (size_t)(t * H) * sizeof *x);
            for (int64_t i = 0; i < t; i++)
                seg[off + i] = (int32_t)j;
        }
    }

    struct routing r = {.inner = hooks, .m = m, .u = u, .st = VS_OK};
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%slayers.%lld.", d->text_prefix, (long long)layer);
    r.prefix = prefix;
    snprintf(r.router, sizeof r.router, "%smlp.gate", prefix);
    struct vs_linear_hooks wrapped = {.observe_input = routing_observe, .ctx = &r, .transform_input = routing_transform,
                                      .observe_output = hooks && hooks->observe_output ? routing_observe_output : NULL,
                                      .computes = hooks && hooks->computes ? routing_computes : NULL,
                                      .compute = hooks && hooks->computes ? routing_compute : NULL};
    char router_w[200];
    snprintf(router_w, sizeof router_w, "%s.weight", r.router);
    bool count = hooks && hooks->routed_tokens && vs_unit_find_param(u, router_w) >= 0;
    st = vs_qwen3_vl_text_layer_seg(m, u, layer, x, total, cos, sin, seg, count ? &wrapped : hooks, all_experts);
    if (st == VS_OK)
        st = r.st;
    if (st != VS_OK)
        goto done;
    for (int64_t j = 0, off = 0; j < (int64_t)n; off += ss[j]->n_tokens, j++) {
        struct vs_sample *s = ss[j];
        if (n > 1)
            memcpy(s->hidden, x + off * H, (size_t)(s->n_tokens * H) * sizeof *x);
        if (layer < s->n_deep) {
            vs_qwen3_vl_add_deepstack(m, s->ids, s->n_tokens, s->hidden,
                                      s->deep + (size_t)(layer * s->vis_tokens * s->vis_hidden));
            if (layer == s->n_deep - 1) {
                free(s->deep);
                s->deep = NULL;
                s->n_deep = 0;
            }
        }
    }
done:
    free(cos);
    free(sin);
    free(pos);
    free(seg);
    if (n > 1)
        free(x);
    return st;
}

enum vs_status vs_qwen3_vl_unit_forward(struct vs_model *m, size_t i, const struct vs_unit *u, struct vs_sample *s,
                                        const struct vs_linear_hooks *hooks, bool all_experts)
{
    return vs_qwen3_vl_unit_forward_batch(m, i, u, &s, 1, hooks, all_experts);
}

enum vs_status vs_qwen3_vl_unit_forward_batch(struct vs_model *m, size_t i, const struct vs_unit *u,
                                              struct vs_sample *const *s, size_t n,
                                              const struct vs_linear_hooks *hooks, bool all_experts)
{
    int64_t width = i == 0 ? m->d.v_hidden : m->d.hidden;
    int64_t rows = i == 0 ? VS_QWEN3_VL_BATCH_PATCHES : VS_QWEN3_VL_BATCH_TOKENS;
    return vs_qwen3_vl_unit_forward_samples(m, i, u, s, n, hooks, all_experts,
                                            width >= VS_QWEN3_VL_BATCH_MIN_HIDDEN ? rows : 0);
}

enum vs_status vs_qwen3_vl_unit_forward_samples(struct vs_model *m, size_t i, const struct vs_unit *u,
                                                struct vs_sample *const *s, size_t n,
                                                const struct vs_linear_hooks *hooks, bool all_experts,
                                                int64_t batch_rows)
{
    for (size_t j = 0; j < n; j++)
        if ((int64_t)i != s[j]->next_unit)
            return vs_error_set(VS_ERR_INTERNAL, "unit %zu (%s) run on a sample that has run %lld units", i, u->name,
                                (long long)s[j]->next_unit);
    enum vs_status st = VS_OK;
    for (size_t j0 = 0, j1; j0 < n && st == VS_OK; j0 = j1) {
        /* rows of the unit's GEMMs: patches for the tower, tokens for a text layer */
        int64_t rows = i == 0 ? s[j0]->n_patches : s[j0]->n_tokens, r;
        for (j1 = j0 + 1; j1 < n && rows + (r = i == 0 ? s[j1]->n_patches : s[j1]->n_tokens) <= batch_rows; j1++)
            rows += r;
        if (i == 0)
            st = vision_units(m, u, s + j0, j1 - j0, hooks);
        else
            st = text_units(m, (int64_t)i - 1, u, s + j0, j1 - j0, hooks, all_experts);
        if (st != VS_OK)
            return vs_error_prefix(st, "%s", u->name);
        for (size_t j = j0; j < j1; j++)
            s[j]->next_unit++;
    }
    return VS_OK;
}

/* Logits of the last position: sample_logits_rows of that one row (the head a block of rows at a
 * time, so memory stays at one block however large the vocabulary). */
enum vs_status vs_qwen3_vl_sample_logits(struct vs_model *m, const struct vs_sample *s, float **logits, int64_t *n)
{
    float *l = vs_malloc((size_t)m->d.vocab * sizeof *l);
    if (!l)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_qwen3_vl_sample_logits_rows(m, s, s->n_tokens - 1, s->n_tokens, l, NULL);
    if (st != VS_OK) {
        free(l);
        return st;
    }
    *logits = l;
    *n = m->d.vocab;
    return VS_OK;
}

int64_t vs_qwen3_vl_vocab_size(const struct vs_model *m) { return m->d.vocab; }

/* The final RMSNorm of rows [begin, end), then the head: the hooks' own lm_head where they
 * compute it, else the float head a block of vocabulary rows at a time. */
enum vs_status vs_qwen3_vl_sample_logits_rows(struct vs_model *m, const struct vs_sample *s, int64_t begin, int64_t end,
                                              float *out, const struct vs_linear_hooks *hooks)
{
    if (s->next_unit != (int64_t)vs_qwen3_vl_unit_count(m) || !s->hidden)
        return vs_error_set(VS_ERR_INTERNAL, "logits asked after %lld of %zu units", (long long)s->next_unit,
                            vs_qwen3_vl_unit_count(m));
    if (begin < 0 || end < begin || end > s->n_tokens)
        return vs_error_set(VS_ERR_INTERNAL, "logits of positions [%lld, %lld) of %lld", (long long)begin,
                            (long long)end, (long long)s->n_tokens);
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t H = d->hidden, V = d->vocab, n = end - begin, in, outf;
    const struct vs_st_tensor *norm, *head = NULL;
    char norm_name[64], head_name[96];
    snprintf(norm_name, sizeof norm_name, "%snorm.weight", d->text_prefix);
    snprintf(head_name, sizeof head_name, "%s.weight", d->head_name);
    bool computed = hooks && hooks->computes && hooks->computes(hooks->ctx, d->head_name, &in, &outf);
    if (computed && (in != H || outf != V))
        return vs_error_set(VS_ERR_MODEL, "%s: %lld x %lld, the config implies %lld x %lld", d->head_name,
                            (long long)outf, (long long)in, (long long)V, (long long)H);
    enum vs_status st = vs_qwen3_vl_tail_tensor(m, norm_name, &norm);
    if (st == VS_OK && !computed)
        st = vs_qwen3_vl_tail_tensor(m, head_name, &head);
    if (st != VS_OK || n == 0)
        return st;
    enum { BLOCK = 4096 };
    float *g = vs_malloc((size_t)H * sizeof *g), *h = vs_malloc((size_t)(n * H) * sizeof *h);
    float *w = computed ? NULL : vs_malloc((size_t)(BLOCK * H) * sizeof *w);
    float *y = computed ? NULL : vs_malloc((size_t)(n * BLOCK) * sizeof *y);
    if (!g || !h || (!computed && (!w || !y))) {
        free(g), free(h), free(w), free(y);
        return VS_ERR_NOMEM;
    }
    vs_convert_to_f32(norm->dtype, norm->data, g, (size_t)H);
    if ((st = vs_tensor_check_finite(norm, g, (size_t)H, 0)) == VS_OK)
        vs_rmsnorm_f32(s->hidden + begin * H, g, (float)d->rms_norm_eps, h, n, H);
    if (st == VS_OK && computed)
        st = vs_linear_run(NULL, d->head_name, h, n, out, hooks);
    size_t es = head ? vs_dtype_size(head->dtype) : 0;
    for (int64_t r0 = 0; r0 < V && st == VS_OK && !computed; r0 += BLOCK) {
        int64_t rows = V - r0 < BLOCK ? V - r0 : BLOCK;
        vs_convert_to_f32(head->dtype, (const unsigned char *)head->data + (size_t)(r0 * H) * es, w, (size_t)(rows * H));
        if ((st = vs_tensor_check_finite(head, w, (size_t)(rows * H), (size_t)(r0 * H))) != VS_OK)
            break;
        vs_linear_f32(h, w, NULL, y, n, rows, H);
        for (int64_t t = 0; t < n; t++)
            memcpy(out + t * V + r0, y + t * rows, (size_t)rows * sizeof *out);
    }
    free(g), free(h), free(w), free(y);
    return st;
}

void vs_qwen3_vl_sample_output(const struct vs_sample *s, const float **data, int64_t *rows, int64_t *cols)
{
    if (s->hidden) {
        *data = s->hidden;
        *rows = s->n_tokens;
        *cols = s->hidden_dim;
    } else {
        *data = s->embeds;
        *rows = s->embeds ? s->vis_tokens : 0;
        *cols = s->vis_hidden;
    }
}

/* Serialized form: a header of int64 fields, then ids, grids and whichever float arrays are
 * present, in this order. */
enum { HDR_MAGIC, HDR_NEXT, HDR_TOKENS, HDR_IMAGES, HDR_PATCHES, HDR_PATCH_DIM, HDR_VIS_TOKENS, HDR_VIS_HIDDEN,
       HDR_DEEP, HDR_HIDDEN_DIM, HDR_FLAGS, HDR_N };
enum { HAS_PIXELS = 1, HAS_EMBEDS = 2, HAS_DEEP = 4, HAS_HIDDEN = 8 };
#define SAMPLE_MAGIC 0x31534c56534d4c56ll /* "VLMSVLS1" */

static size_t plane(const struct vs_sample *s) { return (size_t)(s->vis_tokens * s->vis_hidden); }

static size_t float_counts(const struct vs_sample *s, size_t c[4])
{
    c[0] = s->pixels ? (size_t)(s->n_patches * s->patch_dim) : 0;
    c[1] = s->embeds ? plane(s) : 0;
    c[2] = s->deep ? (size_t)s->n_deep * plane(s) : 0;
    c[3] = s->hidden ? (size_t)(s->n_tokens * s->hidden_dim) : 0;
    return c[0] + c[1] + c[2] + c[3];
}

size_t vs_qwen3_vl_sample_size(const struct vs_sample *s)
{
    size_t c[4];
    return HDR_N * sizeof(int64_t) + (size_t)(s->n_tokens + 3 * s->n_images) * sizeof(int64_t) +
           float_counts(s, c) * sizeof(float);
}

void vs_qwen3_vl_sample_save(const struct vs_sample *s, void *buf)
{
    size_t c[4];
    float_counts(s, c);
    int64_t h[HDR_N] = {SAMPLE_MAGIC, s->next_unit, s->n_tokens, s->n_images, s->n_patches, s->patch_dim,
                        s->vis_tokens, s->vis_hidden, s->n_deep, s->hidden_dim,
                        (s->pixels ? HAS_PIXELS : 0) | (s->embeds ? HAS_EMBEDS : 0) | (s->deep ? HAS_DEEP : 0) |
                            (s->hidden ? HAS_HIDDEN : 0)};
    unsigned char *p = buf;
    memcpy(p, h, sizeof h);
    p += sizeof h;
    memcpy(p, s->ids, (size_t)s->n_tokens * sizeof *s->ids);
    p += (size_t)s->n_tokens * sizeof *s->ids;
    if (s->n_images)
        memcpy(p, s->grids, (size_t)s->n_images * sizeof *s->grids);
    p += (size_t)s->n_images * sizeof *s->grids;
    const float *arrays[4] = {s->pixels, s->embeds, s->deep, s->hidden};
    for (int k = 0; k < 4; k++) {
        if (c[k])
            memcpy(p, arrays[k], c[k] * sizeof(float));
        p += c[k] * sizeof(float);
    }
}

enum vs_status vs_qwen3_vl_sample_load(struct vs_model *m, const void *buf, size_t n, struct vs_sample **out)
{
    (void)m;
    *out = NULL;
    int64_t h[HDR_N];
    if (n < sizeof h)
        return vs_error_set(VS_ERR_FORMAT, "sample state: %zu bytes is shorter than its header", n);
    memcpy(h, buf, sizeof h);
    if (h[HDR_MAGIC] != SAMPLE_MAGIC || h[HDR_TOKENS] <= 0 || h[HDR_IMAGES] < 0 || h[HDR_PATCHES] < 0 ||
        h[HDR_PATCH_DIM] < 0 || h[HDR_VIS_TOKENS] < 0 || h[HDR_VIS_HIDDEN] < 0 || h[HDR_DEEP] < 0 || h[HDR_HIDDEN_DIM] < 0)
        return vs_error_set(VS_ERR_FORMAT, "sample state: bad header");
    struct vs_sample *s = vs_calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    s->next_unit = h[HDR_NEXT];
    s->n_tokens = h[HDR_TOKENS];
    s->n_images = h[HDR_IMAGES];
    s->n_patches = h[HDR_PATCHES];
    s->patch_dim = h[HDR_PATCH_DIM];
    s->vis_tokens = h[HDR_VIS_TOKENS];
    s->vis_hidden = h[HDR_VIS_HIDDEN];
    s->n_deep = h[HDR_DEEP];
    s->hidden_dim = h[HDR_HIDDEN_DIM];
    int64_t flags = h[HDR_FLAGS];
    size_t c[4] = {flags & HAS_PIXELS ? (size_t)(s->n_patches * s->patch_dim) : 0,
                   flags & HAS_EMBEDS ? plane(s) : 0, flags & HAS_DEEP ? (size_t)s->n_deep * plane(s) : 0,
                   flags & HAS_HIDDEN ? (size_t)(s->n_tokens * s->hidden_dim) : 0};
    size_t want = sizeof h + (size_t)(s->n_tokens + 3 * s->n_images) * sizeof(int64_t) +
                  (c[0] + c[1] + c[2] + c[3]) * sizeof(float);
    if (want != n) {
        vs_qwen3_vl_sample_free(s);
        return vs_error_set(VS_ERR_FORMAT, "sample state: %zu bytes where its header describes %zu", n, want);
    }
    const unsigned char *p = (const unsigned char *)buf + sizeof h;
    s->ids = dup_bytes(p, (size_t)s->n_tokens * sizeof *s->ids);
    p += (size_t)s->n_tokens * sizeof *s->ids;
    s->grids = dup_bytes(p, (size_t)s->n_images * sizeof *s->grids);
    p += (size_t)s->n_images * sizeof *s->grids;
    float **arrays[4] = {&s->pixels, &s->embeds, &s->deep, &s->hidden};
    bool ok = s->ids && s->grids;
    for (int k = 0; k < 4; k++) {
        if (flags & (1 << k)) {
            ok = ok && (*arrays[k] = dup_bytes(p, c[k] * sizeof(float)));
            p += c[k] * sizeof(float);
        }
    }
    if (!ok) {
        vs_qwen3_vl_sample_free(s);
        return VS_ERR_NOMEM;
    }
    *out = s;
    return VS_OK;
}

bool vs_qwen3_vl_linear_is_routed(const struct vs_model *m, const char *module)
{
    (void)m;
    return strstr(module, ".mlp.experts.") != NULL;
}
