#include "model/qwen3_vl_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels.h"

/* Rows of a [rows, cols] float checkpoint tensor, converted to float32. */
static void read_rows(const struct vs_st_tensor *t, int64_t row, int64_t n, float *dst)
{
    size_t es = vs_dtype_size(t->dtype);
    int64_t cols = t->shape[1];
    vs_convert_to_f32(t->dtype, (const unsigned char *)t->data + (size_t)(row * cols) * es, dst, (size_t)(n * cols));
}

enum vs_status vs_qwen3_vl_embed(struct vs_model *m, const int64_t *ids, int64_t s,
                                 const struct vs_qwen3_vl_vision_out *vis, float **hidden)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_st_tensor *emb;
    enum vs_status st = vs_qwen3_vl_tail_tensor(m, "model.language_model.embed_tokens.weight", &emb);
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
        read_rows(emb, ids[i], 1, x + i * d->hidden);
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

static enum vs_status linear(const struct vs_unit *u, const char *module, const float *x, int64_t rows, float *y,
                             const struct vs_linear_hooks *hooks)
{
    struct vs_linear_f32 l;
    enum vs_status st = vs_linear_f32_load(u, module, &l);
    if (st == VS_OK)
        vs_linear_apply(&l, x, rows, y, hooks);
    vs_linear_f32_free(&l);
    return st;
}

/* SwiGLU MLP `<prefix>{gate,up,down}_proj` on x [n, H] into y [n, H]. */
static enum vs_status swiglu(const struct vs_unit *u, const char *prefix, const float *x, int64_t n, int64_t H,
                             int64_t inter, float *y, const struct vs_linear_hooks *hooks)
{
    float *g = vs_malloc((size_t)(n * inter) * sizeof *g), *up = vs_malloc((size_t)(n * inter) * sizeof *up);
    char name[256];
    enum vs_status st = VS_ERR_NOMEM;
    if (g && up) {
        snprintf(name, sizeof name, "%sgate_proj", prefix);
        st = linear(u, name, x, n, g, hooks);
        snprintf(name, sizeof name, "%sup_proj", prefix);
        if (st == VS_OK)
            st = linear(u, name, x, n, up, hooks);
        if (st == VS_OK) {
            vs_silu_mul_f32(g, up, g, n * inter);
            snprintf(name, sizeof name, "%sdown_proj", prefix);
            st = linear(u, name, g, n, y, hooks);
        }
    }
    (void)H;
    free(g);
    free(up);
    return st;
}

/* Router softmax (float32), top-k, optional renormalisation; experts on their tokens. */
static enum vs_status moe(const struct vs_model *m, const struct vs_unit *u, const char *p, const float *h, int64_t s,
                          float *y, const struct vs_linear_hooks *hooks, bool all_experts)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t E = d->experts, K = d->topk, H = d->hidden, I = d->moe_intermediate;
    float *probs = vs_malloc((size_t)(s * E) * sizeof *probs), *wsel = vs_malloc((size_t)(s * K) * sizeof *wsel);
    int64_t *esel = vs_malloc((size_t)(s * K) * sizeof *esel), *rows = vs_malloc((size_t)s * sizeof *rows);
    float *xe = vs_malloc((size_t)(s * H) * sizeof *xe), *ye = vs_malloc((size_t)(s * H) * sizeof *ye);
    float *we = vs_malloc((size_t)s * sizeof *we);
    char name[256];
    enum vs_status st = VS_ERR_NOMEM;
    if (!probs || !wsel || !esel || !rows || !xe || !ye || !we)
        goto done;
    snprintf(name, sizeof name, "%smlp.gate", p);
    if ((st = linear(u, name, h, s, probs, hooks)) != VS_OK)
        goto done;
    vs_softmax_rows_f32(probs, s, E);
    for (int64_t t = 0; t < s; t++) { /* top-k by value, lower index first among equals */
        float *pr = probs + t * E, sum = 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t best = -1;
            for (int64_t e = 0; e < E; e++) {
                bool taken = false;
                for (int64_t j = 0; j < k; j++)
                    taken |= esel[t * K + j] == e;
                if (!taken && (best < 0 || pr[e] > pr[best]))
                    best = e;
            }
            esel[t * K + k] = best;
            wsel[t * K + k] = pr[best];
            sum += pr[best];
        }
        if (d->norm_topk_prob)
            for (int64_t k = 0; k < K; k++)
                wsel[t * K + k] /= sum;
    }
    memset(y, 0, (size_t)(s * H) * sizeof *y);
    for (int64_t e = 0; e < E && st == VS_OK; e++) {
        int64_t n = 0;
        for (int64_t t = 0; t < s; t++) {
            float w = 0;
            for (int64_t k = 0; k < K; k++)
                if (esel[t * K + k] == e)
                    w = wsel[t * K + k];
            if (w != 0 || all_experts) {
                rows[n] = t;
                we[n] = w;
                memcpy(xe + n * H, h + t * H, (size_t)H * sizeof *xe);
                n++;
            }
        }
        if (n == 0)
            continue;
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%smlp.experts.%lld.", p, (long long)e);
        st = swiglu(u, prefix, xe, n, H, I, ye, hooks);
        for (int64_t r = 0; st == VS_OK && r < n; r++)
            for (int64_t j = 0; j < H; j++)
                y[rows[r] * H + j] += we[r] * ye[r * H + j];
    }
done:
    free(probs), free(wsel), free(esel), free(rows), free(xe), free(ye), free(we);
    return st;
}

enum vs_status vs_qwen3_vl_text_layer(const struct vs_model *m, const struct vs_unit *u, int64_t layer,
                                      float *x, int64_t s, const float *cos, const float *sin,
                                      const struct vs_linear_hooks *hooks, bool all_experts)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    int64_t H = d->hidden, D = d->head_dim, nq = d->heads, nkv = d->kv_heads;
    float eps = (float)d->rms_norm_eps;
    char p[128], name[192];
    snprintf(p, sizeof p, "model.language_model.layers.%lld.", (long long)layer);
    float *h = vs_malloc((size_t)(s * H) * sizeof *h), *q = vs_malloc((size_t)(s * nq * D) * sizeof *q);
    float *k = vs_malloc((size_t)(s * nkv * D) * sizeof *k), *v = vs_malloc((size_t)(s * nkv * D) * sizeof *v);
    float *o = vs_malloc((size_t)(s * nq * D) * sizeof *o), *y = vs_malloc((size_t)(s * H) * sizeof *y);
    enum vs_status st = VS_ERR_NOMEM;
    if (!h || !q || !k || !v || !o || !y)
        goto done;
    snprintf(name, sizeof name, "%sinput_layernorm.weight", p);
    if ((st = rms(u, name, x, h, s, H, eps)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.q_proj", p);
    if ((st = linear(u, name, h, s, q, hooks)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.k_proj", p);
    if ((st = linear(u, name, h, s, k, hooks)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.v_proj", p);
    if ((st = linear(u, name, h, s, v, hooks)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.q_norm.weight", p);
    if ((st = rms(u, name, q, q, s * nq, D, eps)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.k_norm.weight", p);
    if ((st = rms(u, name, k, k, s * nkv, D, eps)) != VS_OK)
        goto done;
    vs_rope_f32(q, cos, sin, s, nq, D);
    vs_rope_f32(k, cos, sin, s, nkv, D);
    if ((st = vs_attention_f32(q, k, v, o, s, nq, nkv, D, true, NULL)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%sself_attn.o_proj", p);
    if ((st = linear(u, name, o, s, y, hooks)) != VS_OK)
        goto done;
    for (int64_t i = 0; i < s * H; i++)
        x[i] += y[i];
    snprintf(name, sizeof name, "%spost_attention_layernorm.weight", p);
    if ((st = rms(u, name, x, h, s, H, eps)) != VS_OK)
        goto done;
    snprintf(name, sizeof name, "%smlp.gate.weight", p);
    if (vs_unit_find_param(u, name) >= 0) {
        st = moe(m, u, p, h, s, y, hooks, all_experts);
    } else {
        char prefix[160];
        snprintf(prefix, sizeof prefix, "%smlp.", p);
        st = swiglu(u, prefix, h, s, H, d->intermediate, y, hooks);
    }
    if (st == VS_OK)
        for (int64_t i = 0; i < s * H; i++)
            x[i] += y[i];
done:
    free(h), free(q), free(k), free(v), free(o), free(y);
    return st;
}

enum vs_status vs_qwen3_vl_logits_last(struct vs_model *m, const float *x, int64_t s, float *logits)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    const struct vs_st_tensor *norm, *head;
    enum vs_status st = vs_qwen3_vl_tail_tensor(m, "model.language_model.norm.weight", &norm);
    if (st == VS_OK)
        st = vs_qwen3_vl_tail_tensor(m, "lm_head.weight", &head);
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
    read_rows(head, 0, d->vocab, w);
    vs_linear_f32(h, w, NULL, logits, 1, d->vocab, d->hidden);
    free(g), free(h), free(w);
    return VS_OK;
}
