#include "model/qwen3_vl_vision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/qwen3_vl_positions.h"
#include "tensor/kernels.h"

#define VS_VISION_EPS 1e-6f

void vs_qwen3_vl_vision_out_free(struct vs_qwen3_vl_vision_out *o)
{
    free(o->embeds);
    for (size_t i = 0; i < o->n_deepstack; i++)
        free(o->deepstack[i]);
    free(o->deepstack);
    memset(o, 0, sizeof *o);
}

/* y = LayerNorm(x) with `<prefix>.weight` / `.bias` of the unit. */
static enum vs_status layer_norm(const struct vs_unit *u, const char *prefix, const float *x, float *y,
                                 int64_t rows, int64_t n)
{
    return vs_unit_norm(u, prefix, false, VS_VISION_EPS, x, y, rows, n);
}

/* A patch merger: LayerNorm (before grouping over hv, or after it over 4·hv for DeepStack),
 * group each merge² consecutive patches, fc1, exact GELU, fc2. */
static enum vs_status merger(const struct vs_model *m, const struct vs_unit *u, const char *prefix, bool postshuffle,
                             const float *x, int64_t patches, const struct vs_linear_hooks *hooks, float **out)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t g = d->merge_size * d->merge_size, rows = patches / g, wide = d->v_hidden * g;
    float *normed = vs_malloc((size_t)(patches * d->v_hidden) * sizeof *normed);
    float *mid = vs_malloc((size_t)(rows * wide) * sizeof *mid);
    float *y = vs_malloc((size_t)(rows * d->out_hidden) * sizeof *y);
    char name[256];
    enum vs_status st = VS_ERR_NOMEM;
    if (!normed || !mid || !y)
        goto done;
    snprintf(name, sizeof name, "%s.norm", prefix);
    /* grouping is a reshape: [patches, hv] and [rows, g·hv] share the memory layout */
    st = postshuffle ? layer_norm(u, name, x, normed, rows, wide) : layer_norm(u, name, x, normed, patches, d->v_hidden);
    snprintf(name, sizeof name, "%s.linear_fc1", prefix);
    if (st == VS_OK)
        st = vs_linear_run(u, name, normed, rows, mid, hooks);
    if (st == VS_OK)
        vs_gelu_erf_f32(mid, rows * wide);
    snprintf(name, sizeof name, "%s.linear_fc2", prefix);
    if (st == VS_OK)
        st = vs_linear_run(u, name, mid, rows, y, hooks);
done:
    free(normed);
    free(mid);
    if (st == VS_OK)
        *out = y;
    else
        free(y);
    return st;
}

enum vs_status vs_qwen_vl_vision_attention(const struct vs_model *m, const struct vs_unit *u, const char *p, float *h,
                                           int64_t n, const float *cos, const float *sin, const int32_t *segments,
                                           const struct vs_linear_hooks *hooks, float *work, float *x)
{
    int64_t hv = m->d.v_hidden, heads = m->d.v_heads, dv = hv / heads;
    float *qkv = work, *q = qkv + n * 3 * hv, *k = q + n * hv, *v = k + n * hv;
    char name[192];
    snprintf(name, sizeof name, "%s.attn.qkv", p);
    enum vs_status st = vs_linear_run(u, name, h, n, qkv, hooks);
    if (st != VS_OK)
        return st;
    /* qkv columns are (3, heads, dv) */
    #pragma omp parallel for schedule(static) if (n * hv >= VS_PARALLEL_MIN)
    for (int64_t t = 0; t < n; t++) {
        memcpy(q + t * hv, qkv + t * 3 * hv, (size_t)hv * sizeof *q);
        memcpy(k + t * hv, qkv + t * 3 * hv + hv, (size_t)hv * sizeof *k);
        memcpy(v + t * hv, qkv + t * 3 * hv + 2 * hv, (size_t)hv * sizeof *v);
    }
    vs_rope_f32(q, cos, sin, n, heads, dv);
    vs_rope_f32(k, cos, sin, n, heads, dv);
    if ((st = vs_attention_f32(q, k, v, h, n, heads, heads, dv, false, segments)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.attn.proj", p);
    if ((st = vs_linear_run(u, name, h, n, q, hooks)) != VS_OK)
        return st;
    vs_add_f32(x, q, n * hv);
    return VS_OK;
}

/* The block's workspace: h [n, hv], then the attention's [n, 6·hv], or the MLP's hidden [n, inter]. */
int64_t vs_qwen3_vl_vision_block_work(const struct vs_qwen3_vl_dims *d, int64_t n)
{
    int64_t hv = d->v_hidden, inter = d->v_intermediate;
    return n * (hv + (6 * hv > inter ? 6 * hv : inter));
}

enum vs_status vs_qwen3_vl_vision_block(const struct vs_model *m, const struct vs_unit *u, int64_t i, float *x,
                                        int64_t n, const float *cos, const float *sin, const int32_t *segments,
                                        const struct vs_linear_hooks *hooks, float *work)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t hv = d->v_hidden, inter = d->v_intermediate;
    float *h = work, *qkv = h + n * hv, *mid = h + n * hv;
    char p[128], name[192];
    snprintf(p, sizeof p, "model.visual.blocks.%lld", (long long)i);
    enum vs_status st;
    snprintf(name, sizeof name, "%s.norm1", p);
    if ((st = layer_norm(u, name, x, h, n, hv)) != VS_OK)
        return st;
    if ((st = vs_qwen_vl_vision_attention(m, u, p, h, n, cos, sin, segments, hooks, qkv, x)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.norm2", p);
    if ((st = layer_norm(u, name, x, h, n, hv)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.mlp.linear_fc1", p);
    if ((st = vs_linear_run(u, name, h, n, mid, hooks)) != VS_OK)
        return st;
    vs_gelu_tanh_f32(mid, n * inter);
    snprintf(name, sizeof name, "%s.mlp.linear_fc2", p);
    if ((st = vs_linear_run(u, name, mid, n, h, hooks)) != VS_OK)
        return st;
    vs_add_f32(x, h, n * hv);
    return VS_OK;
}

enum vs_status vs_qwen3_vl_vision_forward(const struct vs_model *m, const struct vs_unit *u,
                                          const float *pixel_values, int64_t patches,
                                          const int64_t (*grids)[3], int64_t n_images,
                                          const struct vs_linear_hooks *hooks,
                                          struct vs_qwen3_vl_vision_out *out)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    memset(out, 0, sizeof *out);
    int64_t hv = d->v_hidden, dv = hv / d->v_heads, merge = d->merge_size, total = 0;
    for (int64_t i = 0; i < n_images; i++) {
        if (grids[i][1] % merge || grids[i][2] % merge)
            return vs_error_set(VS_ERR_MODEL, "image %lld: grid %lldx%lld is not a multiple of merge size %lld",
                                (long long)i, (long long)grids[i][1], (long long)grids[i][2], (long long)merge);
        total += grids[i][0] * grids[i][1] * grids[i][2];
    }
    if (total != patches)
        return vs_error_set(VS_ERR_MODEL, "pixel_values has %lld patches but the grids describe %lld", (long long)patches,
                            (long long)total);
    int64_t side = 1;
    while (side * side < d->num_position_embeddings)
        side++;
    float *x = vs_malloc((size_t)(patches * hv) * sizeof *x), *pos = vs_malloc((size_t)(patches * hv) * sizeof *pos);
    float *cos = vs_malloc((size_t)(patches * dv) * sizeof *cos), *sin = vs_malloc((size_t)(patches * dv) * sizeof *sin);
    int64_t *rows = vs_malloc((size_t)patches * sizeof *rows), *cols = vs_malloc((size_t)patches * sizeof *cols);
    int32_t *segments = vs_malloc((size_t)patches * sizeof *segments);
    /* one block workspace for every block: beyond malloc's mmap threshold, each a fresh mapping */
    float *work = vs_malloc((size_t)vs_qwen3_vl_vision_block_work(d, patches) * sizeof *work);
    float *table = NULL, *conv_w = NULL, *conv_b = NULL;
    enum vs_status st = VS_ERR_NOMEM;
    if (!x || !pos || !cos || !sin || !rows || !cols || !segments || !work)
        goto done;
    /* Patch embedding: a Conv3d whose stride equals its kernel is a matmul with [hv, C·T·P·P]. */
    int64_t conv_n;
    if ((st = vs_unit_param_f32(u, "model.visual.patch_embed.proj.weight", &conv_w, &conv_n)) != VS_OK ||
        (st = vs_unit_param_f32(u, "model.visual.patch_embed.proj.bias", &conv_b, NULL)) != VS_OK)
        goto done;
    vs_linear_f32(pixel_values, conv_w, conv_b, x, patches, hv, conv_n / hv);
    if ((st = vs_unit_param_f32(u, "model.visual.pos_embed.weight", &table, NULL)) != VS_OK)
        goto done;
    vs_qwen3_vl_pos_embed(table, side, hv, grids, n_images, merge, pos);
    vs_add_f32(x, pos, patches * hv);
    vs_qwen3_vl_patch_coords(grids, n_images, merge, rows, cols);
    vs_qwen3_vl_vision_rope(rows, cols, patches, dv, cos, sin);
    /* attention stays within each frame of each image */
    for (int64_t i = 0, k = 0, seg = 0; i < n_images; i++)
        for (int64_t t = 0; t < grids[i][0]; t++, seg++)
            for (int64_t j = 0; j < grids[i][1] * grids[i][2]; j++)
                segments[k++] = (int32_t)seg;

    out->n_deepstack = d->n_deepstack;
    out->deepstack = vs_calloc(d->n_deepstack + 1, sizeof *out->deepstack);
    if (!out->deepstack) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < d->v_depth && st == VS_OK; i++) {
        st = vs_qwen3_vl_vision_block(m, u, i, x, patches, cos, sin, segments, hooks, work);
        for (size_t j = 0; j < d->n_deepstack && st == VS_OK; j++) {
            if (d->deepstack_indexes[j] != i)
                continue;
            char p[128];
            snprintf(p, sizeof p, "model.visual.deepstack_merger_list.%zu", j);
            st = merger(m, u, p, true, x, patches, hooks, &out->deepstack[j]);
        }
    }
    if (st == VS_OK)
        st = merger(m, u, "model.visual.merger", false, x, patches, hooks, &out->embeds);
    out->tokens = patches / (merge * merge);
    out->hidden = d->out_hidden;
done:
    free(x), free(pos), free(cos), free(sin), free(rows), free(cols), free(segments), free(work), free(table),
        free(conv_w), free(conv_b);
    if (st != VS_OK)
        vs_qwen3_vl_vision_out_free(out);
    return st;
}
