/* The Qwen2.5-VL vision tower for the images of one call (docs/qwen2_5_vl.md §2): patch
 * embedding, 2-D rotary, blocks of RMSNorm + attention + SwiGLU MLP where attention stays
 * within a window of merge groups (or, in the fullatt_block_indexes blocks, within a frame),
 * and the merger. As in Qwen2_5_VisionTransformerPretrainedModel.forward, the patches are put
 * in window order after the patch embedding and the merged tokens back in their own order
 * after the merger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/qwen2_5_vl/qwen2_5_vl.h"
#include "model/qwen3_vl_positions.h"
#include "tensor/kernels.h"

#define VS_VISION_EPS 1e-6f

void vs_qwen2_5_vl_window_order(const int64_t (*grids)[3], int64_t n_images, int64_t merge, int64_t win,
                                int64_t *order, int32_t *window)
{
    int64_t k = 0, base = 0;
    int32_t wid = 0;
    for (int64_t img = 0; img < n_images; img++) {
        int64_t gt = grids[img][0], lh = grids[img][1] / merge, lw = grids[img][2] / merge;
        /* the grid padded to whole windows: get_window_index pads by win - n % win, so a grid
         * of whole windows gets one more, empty, row or column of them (which hold no group) */
        int64_t nwh = lh / win + 1, nww = lw / win + 1;
        for (int64_t t = 0; t < gt; t++)
            for (int64_t wh = 0; wh < nwh; wh++)
                for (int64_t ww = 0; ww < nww; ww++) {
                    int64_t k0 = k;
                    for (int64_t r = wh * win; r < (wh + 1) * win && r < lh; r++)
                        for (int64_t c = ww * win; c < (ww + 1) * win && c < lw; c++, k++) {
                            order[k] = base + (t * lh + r) * lw + c;
                            window[k] = wid;
                        }
                    wid += k > k0;
                }
        base += gt * lh * lw;
    }
}

/* y = RMSNorm(x) with `<prefix>.weight`, plus `<prefix>.bias` when the unit has one. */
static enum vs_status rms_norm(const struct vs_unit *u, const char *prefix, const float *x, float *y, int64_t rows,
                               int64_t n)
{
    return vs_unit_norm(u, prefix, true, VS_VISION_EPS, x, y, rows, n);
}

/* Floats of a block's workspace for n patches: h [n, hv], then the attention's [n, 6·hv], or gate
 * and up [n, inter]. */
static int64_t block_work(const struct vs_qwen3_vl_dims *d, int64_t n)
{
    int64_t hv = d->v_hidden, inter = d->v_intermediate;
    return n * (hv + (6 * hv > 2 * inter ? 6 * hv : 2 * inter));
}

/* Block i on x [n, hv] (window order) in place, attention within segments; work: block_work floats. */
static enum vs_status block(const struct vs_model *m, const struct vs_unit *u, int64_t i, float *x, int64_t n,
                            const float *cos, const float *sin, const int32_t *segments,
                            const struct vs_linear_hooks *hooks, float *work)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t hv = d->v_hidden, inter = d->v_intermediate;
    float *h = work, *gate = h + n * hv, *up = gate + n * inter;
    char p[128], name[192];
    snprintf(p, sizeof p, "visual.blocks.%lld", (long long)i);
    enum vs_status st;
    snprintf(name, sizeof name, "%s.norm1", p);
    if ((st = rms_norm(u, name, x, h, n, hv)) != VS_OK)
        return st;
    if ((st = vs_qwen_vl_vision_attention(m, u, p, h, n, cos, sin, segments, hooks, h + n * hv, x)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.norm2", p);
    if ((st = rms_norm(u, name, x, h, n, hv)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.mlp.gate_proj", p);
    if ((st = vs_linear_run(u, name, h, n, gate, hooks)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.mlp.up_proj", p);
    if ((st = vs_linear_run(u, name, h, n, up, hooks)) != VS_OK)
        return st;
    vs_silu_mul_f32(gate, up, gate, n * inter);
    snprintf(name, sizeof name, "%s.mlp.down_proj", p);
    if ((st = vs_linear_run(u, name, gate, n, h, hooks)) != VS_OK)
        return st;
    vs_add_f32(x, h, n * hv);
    return VS_OK;
}

static bool is_fullatt(const struct vs_qwen3_vl_dims *d, int64_t i)
{
    for (size_t j = 0; j < d->n_fullatt; j++)
        if (d->fullatt_indexes[j] == i)
            return true;
    return false;
}

/* ln_q over each patch, the merge² patches of a group side by side, mlp.0, exact GELU, mlp.2:
 * x [patches, hv] → *out [patches / merge², out_hidden]. */
static enum vs_status merger(const struct vs_model *m, const struct vs_unit *u, const float *x, int64_t patches,
                             const struct vs_linear_hooks *hooks, float **out)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t g = d->merge_size * d->merge_size, rows = patches / g, wide = d->v_hidden * g;
    float *normed = vs_malloc((size_t)(patches * d->v_hidden) * sizeof *normed);
    float *mid = vs_malloc((size_t)(rows * wide) * sizeof *mid);
    float *y = vs_malloc((size_t)(rows * d->out_hidden) * sizeof *y);
    enum vs_status st = VS_ERR_NOMEM;
    if (normed && mid && y && (st = rms_norm(u, "visual.merger.ln_q", x, normed, patches, d->v_hidden)) == VS_OK &&
        (st = vs_linear_run(u, "visual.merger.mlp.0", normed, rows, mid, hooks)) == VS_OK) {
        vs_gelu_erf_f32(mid, rows * wide);
        st = vs_linear_run(u, "visual.merger.mlp.2", mid, rows, y, hooks);
    }
    free(normed);
    free(mid);
    if (st == VS_OK)
        *out = y;
    else
        free(y);
    return st;
}

/* dst[k·g .. k·g + g) = src[order[k]·g ..) for rows of `cols` floats, groups of g rows. */
static void gather_groups(const float *src, float *dst, const int64_t *order, int64_t groups, int64_t g, int64_t cols)
{
    size_t bytes = (size_t)(g * cols) * sizeof *src;
    for (int64_t k = 0; k < groups; k++)
        memcpy(dst + k * g * cols, src + order[k] * g * cols, bytes);
}

enum vs_status vs_qwen2_5_vl_vision_forward(const struct vs_model *m, const struct vs_unit *u,
                                            const float *pixel_values, int64_t patches,
                                            const int64_t (*grids)[3], int64_t n_images,
                                            const struct vs_linear_hooks *hooks,
                                            struct vs_qwen3_vl_vision_out *out)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    memset(out, 0, sizeof *out);
    int64_t hv = d->v_hidden, dv = hv / d->v_heads, merge = d->merge_size, g = merge * merge, total = 0;
    for (int64_t i = 0; i < n_images; i++) {
        if (grids[i][1] % merge || grids[i][2] % merge)
            return vs_error_set(VS_ERR_MODEL, "image %lld: grid %lldx%lld is not a multiple of merge size %lld",
                                (long long)i, (long long)grids[i][1], (long long)grids[i][2], (long long)merge);
        total += grids[i][0] * grids[i][1] * grids[i][2];
    }
    if (total != patches)
        return vs_error_set(VS_ERR_MODEL, "pixel_values has %lld patches but the grids describe %lld", (long long)patches,
                            (long long)total);
    int64_t groups = patches / g, win = d->window_size / merge / d->patch_size;
    float *x = vs_malloc((size_t)(patches * hv) * sizeof *x), *xw = vs_malloc((size_t)(patches * hv) * sizeof *xw);
    float *cos = vs_malloc((size_t)(patches * dv) * sizeof *cos), *sin = vs_malloc((size_t)(patches * dv) * sizeof *sin);
    float *cosw = vs_malloc((size_t)(patches * dv) * sizeof *cosw), *sinw = vs_malloc((size_t)(patches * dv) * sizeof *sinw);
    int64_t *rows = vs_malloc((size_t)patches * sizeof *rows), *cols = vs_malloc((size_t)patches * sizeof *cols);
    int64_t *order = vs_malloc((size_t)groups * sizeof *order);
    int32_t *window = vs_malloc((size_t)groups * sizeof *window), *frame_of = vs_malloc((size_t)groups * sizeof *frame_of);
    int32_t *seg_win = vs_malloc((size_t)patches * sizeof *seg_win), *seg_frame = vs_malloc((size_t)patches * sizeof *seg_frame);
    float *work = vs_malloc((size_t)block_work(d, patches) * sizeof *work); /* shared by the blocks */
    float *conv_w = NULL, *merged = NULL;
    enum vs_status st = VS_ERR_NOMEM;
    if (!x || !xw || !cos || !sin || !cosw || !sinw || !rows || !cols || !order || !window || !frame_of || !seg_win ||
        !seg_frame || !work)
        goto done;
    /* Patch embedding: a Conv3d whose stride equals its kernel, without bias: a matmul with
     * [hv, C·T·P·P]. */
    int64_t conv_n;
    if ((st = vs_unit_param_f32(u, "visual.patch_embed.proj.weight", &conv_w, &conv_n)) != VS_OK)
        goto done;
    vs_linear_f32(pixel_values, conv_w, NULL, x, patches, hv, conv_n / hv);
    vs_qwen3_vl_patch_coords(grids, n_images, merge, rows, cols);
    vs_qwen3_vl_vision_rope(rows, cols, patches, dv, cos, sin);

    vs_qwen2_5_vl_window_order(grids, n_images, merge, win, order, window);
    for (int64_t i = 0, k = 0, f = 0; i < n_images; i++)
        for (int64_t t = 0; t < grids[i][0]; t++, f++)
            for (int64_t j = 0; j < grids[i][1] * grids[i][2] / g; j++)
                frame_of[k++] = (int32_t)f;
    for (int64_t k = 0; k < groups; k++)
        for (int64_t j = 0; j < g; j++) {
            seg_win[k * g + j] = window[k];
            seg_frame[k * g + j] = frame_of[order[k]]; /* windows never cross frames: non-decreasing */
        }
    gather_groups(x, xw, order, groups, g, hv);
    gather_groups(cos, cosw, order, groups, g, dv);
    gather_groups(sin, sinw, order, groups, g, dv);

    for (int64_t i = 0; i < d->v_depth && st == VS_OK; i++)
        st = block(m, u, i, xw, patches, cosw, sinw, is_fullatt(d, i) ? seg_frame : seg_win, hooks, work);
    if (st == VS_OK && (st = merger(m, u, xw, patches, hooks, &merged)) == VS_OK) {
        if (!(out->embeds = vs_malloc((size_t)(groups * d->out_hidden) * sizeof *out->embeds))) {
            st = VS_ERR_NOMEM;
            goto done;
        }
        for (int64_t k = 0; k < groups; k++) /* back to the patches' own order */
            memcpy(out->embeds + order[k] * d->out_hidden, merged + k * d->out_hidden,
                   (size_t)d->out_hidden * sizeof *merged);
        out->tokens = groups;
        out->hidden = d->out_hidden;
    }
done:
    free(x), free(xw), free(cos), free(sin), free(cosw), free(sinw), free(rows), free(cols), free(order), free(window),
        free(frame_of), free(seg_win), free(seg_frame), free(work), free(conv_w), free(merged);
    if (st != VS_OK)
        vs_qwen3_vl_vision_out_free(out);
    return st;
}
