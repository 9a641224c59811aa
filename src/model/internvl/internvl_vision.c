/* InternVL's vision unit for the tiles of one call (docs/internvl.md §2), as InternVLChatModel's
 * extract_feature (and transformers' get_image_features) computes it: InternViT (Conv2d patch
 * embedding, class token, position embeddings; layers x += attn(norm1(x))·ls1,
 * x += mlp(norm2(x))·ls2, attention within each tile; the -HF layout's final LayerNorm where it
 * has one), the class token dropped, pixel shuffle (ps_version v2), then the projector: LayerNorm
 * (eps 1e-5, nn.LayerNorm's default), Linear, exact GELU, Linear. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/internvl/internvl.h"
#include "tensor/kernels.h"

#define MLP1_NORM_EPS 1e-5f

/* x[r, :] += y[r, :] · scale (the layer scale `<p><name>`). */
static enum vs_status add_scaled(const struct vs_unit *u, const char *p, const char *name, float *x, const float *y,
                                 int64_t rows, int64_t n)
{
    char full[192];
    float *s;
    snprintf(full, sizeof full, "%s%s", p, name);
    enum vs_status st = vs_unit_param_f32(u, full, &s, NULL);
    if (st != VS_OK)
        return st;
    #pragma omp parallel for schedule(static) if (rows * n >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < n; c++)
            x[r * n + c] += y[r * n + c] * s[c];
    free(s);
    return VS_OK;
}

/* Layer i on x [n, C] in place, attention within segments (tiles). */
static enum vs_status layer(const struct vs_model *m, const struct vs_unit *u, int64_t i, float *x, int64_t n,
                            const int32_t *segments, const struct vs_linear_hooks *hooks)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_internvl_config *xc = vs_internvl_config(m);
    const struct vs_internvl_names *nm = xc->n;
    int64_t c = d->v_hidden, ci = d->v_intermediate, heads = d->v_heads;
    float eps = (float)xc->norm_eps;
    /* h [n, c], then qkv [n, 3c] and q, k, v [n, c] each, or the MLP's [n, ci] */
    int64_t wide = 6 * c > ci ? 6 * c : ci;
    float *h = vs_malloc((size_t)(n * (c + wide)) * sizeof *h);
    if (!h)
        return VS_ERR_NOMEM;
    float *qkv = h + n * c, *q = qkv + n * 3 * c, *k = q + n * c, *v = k + n * c, *mid = qkv;
    char p[128], name[192];
    snprintf(p, sizeof p, "%s%lld.", nm->layer, (long long)i);
    snprintf(name, sizeof name, "%s%s", p, nm->norm1);
    enum vs_status st = vs_unit_norm(u, name, xc->rms_norm, eps, x, h, n, c);
    if (st == VS_OK && nm->qkv) {
        snprintf(name, sizeof name, "%s%s", p, nm->qkv);
        if ((st = vs_linear_run(u, name, h, n, qkv, hooks)) == VS_OK) {
            /* qkv columns are (3, heads, c / heads) */
            #pragma omp parallel for schedule(static) if (n * c >= VS_PARALLEL_MIN)
            for (int64_t t = 0; t < n; t++) {
                memcpy(q + t * c, qkv + t * 3 * c, (size_t)c * sizeof *q);
                memcpy(k + t * c, qkv + t * 3 * c + c, (size_t)c * sizeof *k);
                memcpy(v + t * c, qkv + t * 3 * c + 2 * c, (size_t)c * sizeof *v);
            }
        }
    } else {
        const char *parts[3] = {nm->q, nm->k, nm->v};
        float *outs[3] = {q, k, v};
        for (int j = 0; j < 3 && st == VS_OK; j++) {
            snprintf(name, sizeof name, "%s%s", p, parts[j]);
            st = vs_linear_run(u, name, h, n, outs[j], hooks);
        }
    }
    if (st != VS_OK)
        goto done;
    if (xc->qk_norm) { /* RMSNorm over all heads of a token */
        snprintf(name, sizeof name, "%s%s", p, nm->q_norm);
        if ((st = vs_unit_norm(u, name, true, (float)xc->qk_norm_eps, q, q, n, c)) != VS_OK)
            goto done;
        snprintf(name, sizeof name, "%s%s", p, nm->k_norm);
        if ((st = vs_unit_norm(u, name, true, (float)xc->qk_norm_eps, k, k, n, c)) != VS_OK)
            goto done;
    }
    if ((st = vs_attention_f32(q, k, v, h, n, heads, heads, c / heads, false, segments)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%s%s", p, nm->proj);
    if ((st = vs_linear_run(u, name, h, n, q, hooks)) != VS_OK || (st = add_scaled(u, p, nm->ls1, x, q, n, c)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%s%s", p, nm->norm2);
    if ((st = vs_unit_norm(u, name, xc->rms_norm, eps, x, h, n, c)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%s%s", p, nm->fc1);
    if ((st = vs_linear_run(u, name, h, n, mid, hooks)) != VS_OK)
        goto done;
    vs_gelu_erf_f32(mid, n * ci);
    snprintf(name, sizeof name, "%s%s", p, nm->fc2);
    if ((st = vs_linear_run(u, name, mid, n, h, hooks)) == VS_OK)
        st = add_scaled(u, p, nm->ls2, x, h, n, c);
done:
    free(h);
    return st;
}

void vs_internvl_pixel_shuffle(const float *x, int64_t n, int64_t g, int64_t c, int64_t s, float *out)
{
    int64_t go = g / s, wide = c * s * s;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < go; i++)
            for (int64_t j = 0; j < go; j++)
                for (int64_t l = 0; l < s; l++)
                    for (int64_t k = 0; k < s; k++)
                        memcpy(out + ((t * go + i) * go + j) * wide + (l * s + k) * c,
                               x + (t * g * g + (s * i + l) * g + s * j + k) * c, (size_t)c * sizeof *out);
}

/* x [n tiles, 1 + g², C]: patch embedding of each tile, the class token first, position embeddings added. */
static enum vs_status embed(const struct vs_model *m, const struct vs_unit *u, const float *pixels, int64_t n,
                            float *x)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_internvl_config *xc = vs_internvl_config(m);
    int64_t c = d->v_hidden, P = d->patch_size, g = xc->grid, S = xc->image_size, dim = 3 * P * P, per = 1 + g * g;
    const struct vs_internvl_names *nm = xc->n;
    float *w = NULL, *b = NULL, *cls = NULL, *pos = NULL;
    float *patches = vs_malloc((size_t)(n * g * g * dim) * sizeof *patches);
    float *y = vs_malloc((size_t)(n * g * g * c) * sizeof *y);
    char name[192];
    enum vs_status st = patches && y ? VS_OK : VS_ERR_NOMEM;
    snprintf(name, sizeof name, "%s.weight", nm->patch);
    if (st == VS_OK)
        st = vs_unit_param_f32(u, name, &w, NULL);
    snprintf(name, sizeof name, "%s.bias", nm->patch);
    if (st == VS_OK)
        st = vs_unit_param_f32(u, name, &b, NULL);
    if (st == VS_OK)
        st = vs_unit_param_f32(u, nm->cls, &cls, NULL);
    if (st == VS_OK)
        st = vs_unit_param_f32(u, nm->pos, &pos, NULL);
    if (st == VS_OK) {
        /* the Conv2d as a Linear over each patch's (channel, row, column) values */
        #pragma omp parallel for collapse(2) schedule(static) if (n * g * g * dim >= VS_PARALLEL_MIN)
        for (int64_t t = 0; t < n; t++)
            for (int64_t py = 0; py < g; py++)
                for (int64_t px = 0; px < g; px++)
                    for (int64_t ch = 0; ch < 3; ch++)
                        for (int64_t ky = 0; ky < P; ky++)
                            memcpy(patches + ((t * g + py) * g + px) * dim + (ch * P + ky) * P,
                                   pixels + ((t * 3 + ch) * S + py * P + ky) * S + px * P, (size_t)P * sizeof *patches);
        vs_linear_f32(patches, w, b, y, n * g * g, c, dim);
        /* the position table is the tile's own grid: its bicubic interpolation is the identity */
        for (int64_t t = 0; t < n; t++) {
            float *xt = x + t * per * c;
            memcpy(xt, cls, (size_t)c * sizeof *xt);
            memcpy(xt + c, y + t * g * g * c, (size_t)(g * g * c) * sizeof *xt);
            vs_add_f32(xt, pos, per * c);
        }
    }
    free(patches), free(y), free(w), free(b), free(cls), free(pos);
    return st;
}

enum vs_status vs_internvl_vision_forward(const struct vs_model *m, const struct vs_unit *u, const float *pixel_values,
                                          int64_t tiles, const int64_t (*grids)[3], int64_t n_images,
                                          const struct vs_linear_hooks *hooks, struct vs_qwen3_vl_vision_out *out)
{
    (void)grids, (void)n_images; /* tiles are independent: attention stays within each */
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_internvl_config *xc = vs_internvl_config(m);
    memset(out, 0, sizeof *out);
    int64_t c = d->v_hidden, g = xc->grid, s = xc->shuffle, per = 1 + g * g, n = tiles * per;
    int64_t tokens = tiles * (g / s) * (g / s), wide = c * s * s, H = d->hidden;
    float *x = vs_malloc((size_t)(n * c) * sizeof *x), *grid = vs_malloc((size_t)(tiles * g * g * c) * sizeof *grid);
    float *shuffled = vs_malloc((size_t)(tokens * wide) * sizeof *shuffled);
    float *normed = vs_malloc((size_t)(tokens * wide) * sizeof *normed);
    float *mid = vs_malloc((size_t)(tokens * H) * sizeof *mid), *y = vs_malloc((size_t)(tokens * H) * sizeof *y);
    int32_t *seg = vs_malloc((size_t)n * sizeof *seg);
    enum vs_status st = x && grid && shuffled && normed && mid && y && seg ? VS_OK : VS_ERR_NOMEM;
    for (int64_t r = 0; st == VS_OK && r < n; r++)
        seg[r] = (int32_t)(r / per);
    if (st == VS_OK)
        st = embed(m, u, pixel_values, tiles, x);
    for (int64_t i = 0; st == VS_OK && i < d->v_depth; i++)
        st = layer(m, u, i, x, n, seg, hooks);
    if (st == VS_OK && xc->post_norm)
        st = vs_unit_norm(u, xc->n->post_norm, false, (float)xc->norm_eps, x, x, n, c);
    if (st == VS_OK) {
        for (int64_t t = 0; t < tiles; t++) /* the class token dropped */
            memcpy(grid + t * g * g * c, x + (t * per + 1) * c, (size_t)(g * g * c) * sizeof *grid);
        vs_internvl_pixel_shuffle(grid, tiles, g, c, s, shuffled);
        st = vs_unit_norm(u, xc->n->proj_norm, false, MLP1_NORM_EPS, shuffled, normed, tokens, wide);
    }
    if (st == VS_OK)
        st = vs_linear_run(u, xc->n->proj1, normed, tokens, mid, hooks);
    if (st == VS_OK) {
        vs_gelu_erf_f32(mid, tokens * H);
        st = vs_linear_run(u, xc->n->proj2, mid, tokens, y, hooks);
    }
    free(x), free(grid), free(shuffled), free(normed), free(mid), free(seg);
    if (st != VS_OK) {
        free(y);
        return st;
    }
    out->embeds = y;
    out->tokens = tokens;
    out->hidden = H;
    return VS_OK;
}
