#include "model/qwen3_vl_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels.h"

/* Rows of a [rows, cols] float checkpoint tensor, converted to float32 (all finite). */
static enum vs_status read_rows(const struct vs_st_tensor *t, int64_t row, int64_t n, float *dst)
{
    size_t es = vs_dtype_size(t->dtype);
    int64_t cols = t->shape[1];
    vs_convert_to_f32(t->dtype, (const unsigned char *)t->data + (size_t)(row * cols) * es, dst, (size_t)(n * cols));
    return vs_tensor_check_finite(t, dst, (size_t)(n * cols), (size_t)(row * cols));
}

enum vs_status vs_qwen3_vl_embed(struct vs_model *m, const int64_t *ids, int64_t s,
                                 const struct vs_qwen3_vl_vision_out *vis, float **hidden)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_st_tensor *emb;
    char embed_name[64];
    snprintf(embed_name, sizeof embed_name, "%sembed_tokens.weight", d->text_prefix);
    enum vs_status st = vs_qwen3_vl_tail_tensor(m, embed_name, &emb);
    if (st != VS_OK)
        return st;
    float *x = vs_malloc((size_t)(s * d->hidden) * sizeof *x);
    if (!x)
        return VS_ERR_NOMEM;
    int64_t img = 0;
    for (int64_t i = 0; i < s; i++) {
        if (ids[i] == d->image_token_id && vis) {
            if (img >= vis->tokens)
                break;
            memcpy(x + i * d->hidden, vis->embeds + img * d->hidden, (size_t)d->hidden * sizeof *x);
            img++;
            continue;
        }
        if (ids[i] < 0 || ids[i] >= emb->shape[0]) {
            free(x);
            return vs_error_set(VS_ERR_MODEL, "token %lld: id %lld is outside the vocabulary of %lld", (long long)i,
                                (long long)ids[i], (long long)emb->shape[0]);
        }
        if ((st = read_rows(emb, ids[i], 1, x + i * d->hidden)) != VS_OK) {
            free(x);
            return st;
        }
    }
    int64_t n_img = 0;
    for (int64_t i = 0; i < s; i++)
        n_img += ids[i] == d->image_token_id;
    if (vis && n_img != vis->tokens) {
        free(x);
        return vs_error_set(VS_ERR_MODEL, "the prompt has %lld image tokens but the images give %lld features",
                            (long long)n_img, (long long)vis->tokens);
    }
    *hidden = x;
    return VS_OK;
}

void vs_qwen3_vl_add_deepstack(const struct vs_model *m, const int64_t *ids, int64_t s, float *x, const float *deep)
{
    int64_t H = m->d.hidden, k = 0;
    for (int64_t i = 0; i < s; i++)
        if (ids[i] == m->d.image_token_id) {
            for (int64_t j = 0; j < H; j++)
                x[i * H + j] += deep[k * H + j];
            k++;
        }
}

/* RMSNorm `<norm>.weight`, plus `<norm>.bias` when the unit has one (asymmetric smoothing,
 * msModelSlim's RMSNormBias: y = rmsnorm(x)·γ + β). */
static enum vs_status rms(const struct vs_unit *u, const char *name, const float *x, float *y, int64_t rows,
                          int64_t n, float eps)
{
    float *g, *b = NULL;
    enum vs_status st = vs_unit_param_f32(u, name, &g, NULL);
    if (st == VS_OK)
        vs_rmsnorm_f32(x, g, eps, y, rows, n);
    free(g);
    size_t len = strlen(name);
    char bias[512];
    if (st == VS_OK && len > 7 && len < sizeof bias && !strcmp(name + len - 7, ".weight")) {
        snprintf(bias, sizeof bias, "%.*s.bias", (int)(len - 7), name);
        if (vs_unit_find_param(u, bias) >= 0 && (st = vs_unit_param_f32(u, bias, &b, NULL)) == VS_OK)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < n; c++)
                    y[r * n + c] += b[c];
    }
    free(b);
    return st;
}

/* SwiGLU MLP `<prefix>{gate,up,down}_proj` on x [n, H] into y [n, H] (y may be x), with
 * gate and up [n, inter] as workspace. */
static enum vs_status swiglu(const struct vs_unit *u, const char *prefix, const float *x, int64_t n, int64_t inter,
                             float *y, float *gate, float *up, const struct vs_linear_hooks *hooks)
{
    char name[256];
    snprintf(name, sizeof name, "%sgate_proj", prefix);
    enum vs_status st = vs_linear_run(u, name, x, n, gate, hooks);
    snprintf(name, sizeof name, "%sup_proj", prefix);
    if (st == VS_OK)
        st = vs_linear_run(u, name, x, n, up, hooks);
    if (st == VS_OK) {
        vs_silu_mul_f32(gate, up, gate, n * inter);
        snprintf(name, sizeof name, "%sdown_proj", prefix);
        st = vs_linear_run(u, name, gate, n, y, hooks);
    }
    return st;
}

void vs_qwen3_vl_top_k(const float *pr, int64_t E, int64_t K, bool renormalise, int64_t *sel, float *w)
{
    int64_t n = 0;
    for (int64_t e = 0; e < E; e++) {
        if (n == K && !(pr[e] > w[K - 1]))
            continue;
        int64_t pos = n < K ? n++ : K - 1;
        while (pos > 0 && pr[e] > w[pos - 1]) {
            sel[pos] = sel[pos - 1], w[pos] = w[pos - 1];
            pos--;
        }
        sel[pos] = e, w[pos] = pr[e];
    }
    if (renormalise) {
        float sum = 0;
        for (int64_t k = 0; k < K; k++)
            sum += w[k];
        for (int64_t k = 0; k < K; k++)
            w[k] /= sum;
    }
}

/* Router softmax (float32), top-k, optional renormalisation; then expert by expert, in order:
 * gather its tokens (in token order), SwiGLU, add its weighted output to theirs. */
static enum vs_status moe(const struct vs_model *m, const struct vs_unit *u, const char *p, const float *h, int64_t s,
                          float *y, const struct vs_linear_hooks *hooks, bool all_experts)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t E = d->experts, K = d->topk, H = d->hidden, I = d->moe_intermediate;
    float *probs = vs_malloc((size_t)(s * E) * sizeof *probs), *wsel = vs_malloc((size_t)(s * K) * sizeof *wsel);
    int64_t *esel = vs_malloc((size_t)(s * K) * sizeof *esel), *start = vs_calloc((size_t)E + 1, sizeof *start);
    int64_t *rows = NULL;
    float *we = NULL, *ws = NULL;
    char name[256];
    enum vs_status st = VS_ERR_NOMEM;
    if (!probs || !wsel || !esel || !start)
        goto done;
    snprintf(name, sizeof name, "%smlp.gate", p);
    if ((st = vs_linear_run(u, name, h, s, probs, hooks)) != VS_OK)
        goto done;
    vs_softmax_rows_f32(probs, s, E);
    #pragma omp parallel for schedule(static) if (s * E >= VS_PARALLEL_MIN)
    for (int64_t t = 0; t < s; t++)
        vs_qwen3_vl_top_k(probs + t * E, E, K, d->norm_topk_prob, esel + t * K, wsel + t * K);
    /* each expert's (token, weight) list, tokens ascending: a counting sort of the selections */
    int64_t slots = all_experts ? s * E : s * K, most = 0;
    for (int64_t i = 0; i < s * K && !all_experts; i++)
        start[esel[i] + 1]++;
    for (int64_t e = 0; e < E; e++) {
        if (all_experts)
            start[e + 1] = s;
        most = start[e + 1] > most ? start[e + 1] : most;
        start[e + 1] += start[e];
    }
    rows = vs_malloc((size_t)slots * sizeof *rows), we = vs_calloc((size_t)slots, sizeof *we);
    ws = vs_malloc((size_t)(most * (2 * H + 2 * I)) * sizeof *ws);
    if (!rows || !we || !ws) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    if (all_experts) {
        for (int64_t e = 0; e < E; e++)
            for (int64_t t = 0; t < s; t++)
                rows[e * s + t] = t;
        for (int64_t i = 0; i < s * K; i++)
            we[esel[i] * s + i / K] = wsel[i];
    } else {
        int64_t *fill = vs_malloc((size_t)E * sizeof *fill);
        if (!fill) {
            st = VS_ERR_NOMEM;
            goto done;
        }
        memcpy(fill, start, (size_t)E * sizeof *fill);
        for (int64_t i = 0; i < s * K; i++) {
            int64_t slot = fill[esel[i]]++;
            rows[slot] = i / K, we[slot] = wsel[i];
        }
        free(fill);
    }
    float *xe = ws, *ye = xe + most * H, *ge = ye + most * H, *ue = ge + most * I;
    memset(y, 0, (size_t)(s * H) * sizeof *y);
    for (int64_t e = 0; e < E && st == VS_OK; e++) {
        int64_t n = start[e + 1] - start[e];
        const int64_t *r = rows + start[e];
        const float *w = we + start[e];
        if (n == 0)
            continue;
        #pragma omp parallel for schedule(static) if (n * H >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            memcpy(xe + i * H, h + r[i] * H, (size_t)H * sizeof *xe);
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%smlp.experts.%lld.", p, (long long)e);
        st = swiglu(u, prefix, xe, n, I, ye, ge, ue, hooks);
        #pragma omp parallel for schedule(static) if (n * H >= VS_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) { /* the tokens of one expert are distinct */
            float *dst = y + r[i] * H, wi = w[i];
            const float *src = ye + i * H;
            #pragma omp simd
            for (int64_t j = 0; j < H; j++)
                dst[j] += wi * src[j];
        }
    }
done:
    free(probs), free(wsel), free(esel), free(start), free(rows), free(we), free(ws);
    return st;
}

enum vs_status vs_qwen3_vl_text_layer(const struct vs_model *m, const struct vs_unit *u, int64_t layer,
                                      float *x, int64_t s, const float *cos, const float *sin,
                                      const struct vs_linear_hooks *hooks, bool all_experts)
{
    return vs_qwen3_vl_text_layer_seg(m, u, layer, x, s, cos, sin, NULL, hooks, all_experts);
}

enum vs_status vs_qwen3_vl_text_layer_seg(const struct vs_model *m, const struct vs_unit *u, int64_t layer,
                                          float *x, int64_t s, const float *cos, const float *sin,
                                          const int32_t *segments, const struct vs_linear_hooks *hooks,
                                          bool all_experts)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t H = d->hidden, D = d->head_dim, nq = d->heads, nkv = d->kv_heads;
    float eps = (float)d->rms_norm_eps;
    char p[128], name[192];
    snprintf(p, sizeof p, "%slayers.%lld.", d->text_prefix, (long long)layer);
    snprintf(name, sizeof name, "%smlp.gate.weight", p);
    bool is_moe = vs_unit_find_param(u, name) >= 0;
    /* One workspace for both halves: h [s, H], then q, o [s, nq·D] and k, v [s, nkv·D] for the
     * attention, and gate, up [s, intermediate] for a dense MLP. */
    int64_t attn = 2 * nq * D + 2 * nkv * D, mlp = is_moe ? 0 : 2 * d->intermediate;
    float *h = vs_malloc((size_t)(s * (H + (attn > mlp ? attn : mlp))) * sizeof *h);
    if (!h)
        return VS_ERR_NOMEM;
    float *q = h + s * H, *o = q + s * nq * D, *k = o + s * nq * D, *v = k + s * nkv * D;
    enum vs_status st;
    snprintf(name, sizeof name, "%sinput_layernorm.weight", p);
    if ((st = rms(u, name, x, h, s, H, eps)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.q_proj", p);
    if ((st = vs_linear_run(u, name, h, s, q, hooks)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.k_proj", p);
    if ((st = vs_linear_run(u, name, h, s, k, hooks)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.v_proj", p);
    if ((st = vs_linear_run(u, name, h, s, v, hooks)) != VS_OK)
        goto done;
    /* q/k norms: Qwen3's; a Qwen2 decoder (Qwen2.5-VL) has none */
    snprintf(name, sizeof name, "%sself_attn.q_norm.weight", p);
    if (vs_unit_find_param(u, name) >= 0 && (st = rms(u, name, q, q, s * nq, D, eps)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.k_norm.weight", p);
    if (vs_unit_find_param(u, name) >= 0 && (st = rms(u, name, k, k, s * nkv, D, eps)) != VS_OK)
        goto done;
    vs_rope_f32(q, cos, sin, s, nq, D);
    vs_rope_f32(k, cos, sin, s, nkv, D);
    if ((st = vs_attention_f32(q, k, v, o, s, nq, nkv, D, true, segments)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.o_proj", p);
    if ((st = vs_linear_run(u, name, o, s, h, hooks)) != VS_OK)
        goto done;
    vs_add_f32(x, h, s * H);
    snprintf(name, sizeof name, "%spost_attention_layernorm.weight", p);
    if ((st = rms(u, name, x, h, s, H, eps)) != VS_OK)
        goto done;
    if (is_moe) {
        float *y = vs_malloc((size_t)(s * H) * sizeof *y);
        st = y ? moe(m, u, p, h, s, y, hooks, all_experts) : VS_ERR_NOMEM;
        if (st == VS_OK)
            vs_add_f32(x, y, s * H);
        free(y);
    } else {
        char prefix[160];
        snprintf(prefix, sizeof prefix, "%smlp.", p);
        float *gate = h + s * H, *up = gate + s * d->intermediate;
        /* down_proj writes over its own input's source h, which gate and up no longer need */
        if ((st = swiglu(u, prefix, h, s, d->intermediate, h, gate, up, hooks)) == VS_OK)
            vs_add_f32(x, h, s * H);
    }
done:
    free(h);
    return st;
}

enum vs_status vs_qwen3_vl_logits_last(struct vs_model *m, const float *x, int64_t s, float *logits)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_st_tensor *norm, *head;
    char norm_name[64], head_name[96];
    snprintf(norm_name, sizeof norm_name, "%snorm.weight", d->text_prefix);
    snprintf(head_name, sizeof head_name, "%s.weight", d->head_name);
    enum vs_status st = vs_qwen3_vl_tail_tensor(m, norm_name, &norm);
    if (st == VS_OK)
        st = vs_qwen3_vl_tail_tensor(m, head_name, &head);
    if (st != VS_OK)
        return st;
    float *g = vs_malloc((size_t)d->hidden * sizeof *g), *h = vs_malloc((size_t)d->hidden * sizeof *h);
    float *w = vs_malloc((size_t)(d->vocab * d->hidden) * sizeof *w);
    if (!g || !h || !w) {
        free(g), free(h), free(w);
        return VS_ERR_NOMEM;
    }
    vs_convert_to_f32(norm->dtype, norm->data, g, (size_t)d->hidden);
    vs_rmsnorm_f32(x + (s - 1) * d->hidden, g, (float)d->rms_norm_eps, h, 1, d->hidden);
    if ((st = vs_tensor_check_finite(norm, g, (size_t)d->hidden, 0)) == VS_OK &&
        (st = read_rows(head, 0, d->vocab, w)) == VS_OK)
        vs_linear_f32(h, w, NULL, logits, 1, d->vocab, d->hidden);
    free(g), free(h), free(w);
    return st;
}
