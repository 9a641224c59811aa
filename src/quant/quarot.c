#include "quant/quarot.h"

#include "tensor/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum vs_status vs_quarot_check(const struct vs_quarot_config *c, bool tie_word_embeddings, const char *what)
{
    if (c && c->online)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: quarot online: true is not supported for Qwen3-VL (it needs online rotation wrappers); use online: false",
                            what);
    if (tie_word_embeddings)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: quarot cannot rotate a model with tie_word_embeddings: true (embed_tokens and lm_head are one tensor); remove quarot from the config",
                            what);
    return VS_OK;
}

static enum vs_status check_fusion(const char *norm, const float *beta, int64_t C, const struct vs_linear_weights *l)
{
    if (l->in != C)
        return vs_error_set(VS_ERR_MODEL, "%s: in_features %lld, but norm %s has %lld channels", l->name,
                            (long long)l->in, norm, (long long)C);
    if (beta && !l->b)
        return vs_error_set(VS_ERR_INTERNAL, "%s: fusing norm %s with a bias needs a bias buffer", l->name, norm);
    return VS_OK;
}

enum vs_status vs_quarot_fuse_norm_into(const char *norm, const float *gamma, const float *beta, int64_t C,
                                        const struct vs_linear_weights *l)
{
    enum vs_status st = check_fusion(norm, beta, C, l);
    if (st != VS_OK)
        return st;
    for (int64_t r = 0; r < l->out; r++) {
        float *row = l->w + r * l->in;
        if (beta) {
            double acc = 0;
            for (int64_t c = 0; c < C; c++)
                acc += (double)row[c] * beta[c];
            l->b[r] += (float)acc;
        }
        for (int64_t c = 0; c < C; c++)
            row[c] *= gamma[c];
    }
    return VS_OK;
}

void vs_quarot_reset_norm(float *gamma, float *beta, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        gamma[c] = 1.0f;
        if (beta)
            beta[c] = 0.0f;
    }
}

enum vs_status vs_quarot_fuse_norm(const char *norm, float *gamma, float *beta, int64_t C,
                                   const struct vs_linear_weights *linears, size_t n_linears)
{
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < n_linears && st == VS_OK; i++) /* every check before any change */
        st = check_fusion(norm, beta, C, &linears[i]);
    for (size_t i = 0; i < n_linears && st == VS_OK; i++)
        st = vs_quarot_fuse_norm_into(norm, gamma, beta, C, &linears[i]);
    if (st == VS_OK)
        vs_quarot_reset_norm(gamma, beta, C);
    return st;
}

/* x[0..n) ← H_n·x (Sylvester, natural order), n a power of two: butterflies of span 1, 2, 4, ... */
static void fwht(float *restrict x, int64_t n)
{
    for (int64_t h = 1; h < n; h *= 2)
        for (int64_t i = 0; i < n; i += 2 * h)
            for (int64_t j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

/* the ±1/√n entry of a normalised random Hadamard matrix of order n (as vs_hadamard_matrix) */
static float hadamard_scale(int64_t n)
{
    return 1.0f / sqrtf((float)n);
}

enum vs_status vs_quarot_rotate_right(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols,
                                      const char *name)
{
    if (cols % r->size != 0)
        return vs_error_set(VS_ERR_MODEL, "%s: %lld input columns is not a multiple of the rotation size %lld", name,
                            (long long)cols, (long long)r->size);
    int64_t b = r->block, n = rows * (cols / b); /* W viewed as [rows·cols/b, b]: one block per row */
    if (r->signs) { /* (x·diag(d))·H/√b per block: H is symmetric */
        float one = hadamard_scale(b);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float *x = w + i * b;
            for (int64_t c = 0; c < b; c++)
                x[c] *= (float)r->signs[c];
            fwht(x, b);
            for (int64_t c = 0; c < b; c++)
                x[c] *= one;
        }
        return VS_OK;
    }
    float *tmp = vs_malloc((size_t)(rows * cols) * sizeof *tmp);
    if (!tmp)
        return VS_ERR_NOMEM;
    memcpy(tmp, w, (size_t)(rows * cols) * sizeof *tmp);
    /* through the kernels' GEMM, whose split of the work depends on the shape alone (a bare
     * multi-threaded sgemm rounds differently for each thread count) */
    vs_linear_in_out_f32(tmp, r->m, b, NULL, w, n, b, b);
    free(tmp);
    return VS_OK;
}

/* rows [o, o+b) of W (cols wide) ← H_b·diag(d)·W/√b: the transform runs across rows, each
 * butterfly a vector operation over the columns */
static void fwht_rows(float *w, int64_t b, int64_t cols, const int8_t *d, float one)
{
    for (int64_t i = 0; i < b; i++)
        if (d[i] < 0)
            for (int64_t c = 0; c < cols; c++)
                w[i * cols + c] = -w[i * cols + c];
    for (int64_t h = 1; h < b; h *= 2)
        for (int64_t i = 0; i < b; i += 2 * h)
            for (int64_t j = i; j < i + h; j++) {
                float *restrict x = w + j * cols, *restrict y = w + (j + h) * cols;
                for (int64_t c = 0; c < cols; c++) {
                    float a = x[c], v = y[c];
                    x[c] = a + v;
                    y[c] = a - v;
                }
            }
    for (int64_t i = 0; i < b * cols; i++)
        w[i] *= one;
}

enum vs_status vs_quarot_rotate_left(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols, float *bias,
                                     const char *name)
{
    if (rows % r->size != 0)
        return vs_error_set(VS_ERR_MODEL, "%s: %lld output rows is not a multiple of the rotation size %lld", name,
                            (long long)rows, (long long)r->size);
    int64_t b = r->block;
    if (r->signs) { /* Rᵀ = H·diag(d)/√b */
        float one = hadamard_scale(b);
        int64_t chunk = 256; /* columns per task, so the transform stays in cache */
        int oom = 0;
#pragma omp parallel for schedule(dynamic)
        for (int64_t t = 0; t < (rows / b) * ((cols + chunk - 1) / chunk); t++) {
            int64_t o = (t / ((cols + chunk - 1) / chunk)) * b, c0 = (t % ((cols + chunk - 1) / chunk)) * chunk;
            int64_t nc = cols - c0 < chunk ? cols - c0 : chunk;
            float *buf = malloc((size_t)(b * nc) * sizeof *buf);
            if (!buf) {
#pragma omp atomic write
                oom = 1;
                continue;
            }
            for (int64_t i = 0; i < b; i++)
                memcpy(buf + i * nc, w + (o + i) * cols + c0, (size_t)nc * sizeof *buf);
            fwht_rows(buf, b, nc, r->signs, one);
            for (int64_t i = 0; i < b; i++)
                memcpy(w + (o + i) * cols + c0, buf + i * nc, (size_t)nc * sizeof *buf);
            free(buf);
        }
        if (oom)
            return vs_error_set(VS_ERR_NOMEM, "%s: out of memory while rotating", name);
        if (bias)
            for (int64_t o = 0; o < rows; o += b)
                fwht_rows(bias + o, b, 1, r->signs, one);
        return VS_OK;
    }
    float *tmp = vs_malloc((size_t)(b * (cols > 1 ? cols : 1)) * sizeof *tmp), *mt = vs_malloc((size_t)(b * b) * sizeof *mt);
    if (!tmp || !mt) {
        free(tmp), free(mt);
        return VS_ERR_NOMEM;
    }
    for (int64_t i = 0; i < b; i++) /* Mᵀ, the left factor as the kernels' GEMM takes it */
        for (int64_t j = 0; j < b; j++)
            mt[j * b + i] = r->m[i * b + j];
    for (int64_t o = 0; o < rows; o += b) { /* rows [o, o+b) ← Mᵀ·W[o:o+b], bias[o:o+b] ← Mᵀ·bias (= biasᵀ·M) */
        memcpy(tmp, w + o * cols, (size_t)(b * cols) * sizeof *tmp);
        vs_linear_in_out_f32(mt, tmp, cols, NULL, w + o * cols, b, cols, b);
        if (bias) {
            memcpy(tmp, bias + o, (size_t)b * sizeof *tmp);
            vs_linear_in_out_f32(tmp, r->m, b, NULL, bias + o, 1, b, b);
        }
    }
    free(tmp), free(mt);
    return VS_OK;
}

enum vs_status vs_quarot_pre_run(const struct vs_rotation *R, const struct vs_linear_weights *merger_fc2,
                                 size_t n_mergers, float *embed, int64_t vocab, int64_t hidden)
{
    for (size_t i = 0; i < n_mergers; i++) {
        const struct vs_linear_weights *l = &merger_fc2[i];
        enum vs_status st = vs_quarot_rotate_left(R, l->w, l->out, l->in, l->b, l->name);
        if (st != VS_OK)
            return st;
    }
    return vs_quarot_rotate_right(R, embed, vocab, hidden, "model.language_model.embed_tokens");
}

enum vs_status vs_quarot_post_run(const struct vs_rotation *R, float *final_norm, const struct vs_linear_weights *lm_head)
{
    enum vs_status st = vs_quarot_fuse_norm("model.language_model.norm", final_norm, NULL, lm_head->in, lm_head, 1);
    return st != VS_OK ? st : vs_quarot_rotate_right(R, lm_head->w, lm_head->out, lm_head->in, lm_head->name);
}

enum vs_status vs_quarot_apply_layer(const struct vs_rotation *R, const struct vs_rotation *Ruv,
                                     const struct vs_quarot_layer *l)
{
    struct vs_linear_weights qkv[3] = {l->q, l->k, l->v};
    int64_t H = l->q.in;
    enum vs_status st = vs_quarot_fuse_norm("input_layernorm", l->input_norm, NULL, H, qkv, 3);
    if (st == VS_OK)
        st = vs_quarot_fuse_norm("post_attention_layernorm", l->post_norm, NULL, H, l->mlp_in, l->n_mlp_in);
    if (st == VS_OK)
        st = vs_quarot_rotate_left(R, l->o.w, l->o.out, l->o.in, l->o.b, l->o.name);
    for (size_t i = 0; st == VS_OK && i < l->n_mlp_out; i++)
        st = vs_quarot_rotate_left(R, l->mlp_out[i].w, l->mlp_out[i].out, l->mlp_out[i].in, l->mlp_out[i].b,
                                   l->mlp_out[i].name);
    for (int i = 0; st == VS_OK && i < 3; i++)
        st = vs_quarot_rotate_right(R, qkv[i].w, qkv[i].out, qkv[i].in, qkv[i].name);
    for (size_t i = 0; st == VS_OK && i < l->n_mlp_in; i++)
        st = vs_quarot_rotate_right(R, l->mlp_in[i].w, l->mlp_in[i].out, l->mlp_in[i].in, l->mlp_in[i].name);
    if (st == VS_OK)
        st = vs_quarot_rotate_left(Ruv, l->v.w, l->v.out, l->v.in, l->v.b, l->v.name);
    if (st == VS_OK)
        st = vs_quarot_rotate_right(Ruv, l->o.w, l->o.out, l->o.in, l->o.name);
    return st;
}

enum vs_status vs_quarot_export_init(const struct vs_rotation *r, struct vs_quarot_export *out)
{
    *out = (struct vs_quarot_export){.file = VS_QUAROT_EXPORT_FILE, .tensor_name = VS_QUAROT_EXPORT_TENSOR,
                                     .shape = {r->size, r->size}};
    out->data = vs_malloc((size_t)(r->size * r->size) * sizeof *out->data);
    out->optional_json =
        vs_strdup("{\"quarot\":{\"rotation_map\":{\"" VS_QUAROT_EXPORT_TENSOR "\":\"" VS_QUAROT_EXPORT_FILE "\"}}}");
    if (!out->data || !out->optional_json) {
        vs_quarot_export_free(out);
        return VS_ERR_NOMEM;
    }
    vs_rotation_to_dense(r, out->data);
    return VS_OK;
}

void vs_quarot_export_free(struct vs_quarot_export *e)
{
    free(e->data);
    free(e->optional_json);
    e->data = NULL;
    e->optional_json = NULL;
}
