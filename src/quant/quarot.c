#include "quant/quarot.h"

#include <cblas.h>
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

enum vs_status vs_quarot_fuse_norm(const char *norm, float *gamma, float *beta, int64_t C,
                                   const struct vs_linear_weights *linears, size_t n_linears)
{
    for (size_t i = 0; i < n_linears; i++) {
        if (linears[i].in != C)
            return vs_error_set(VS_ERR_MODEL, "%s: in_features %lld, but norm %s has %lld channels", linears[i].name,
                                (long long)linears[i].in, norm, (long long)C);
        if (beta && !linears[i].b)
            return vs_error_set(VS_ERR_INTERNAL, "%s: fusing norm %s with a bias needs a bias buffer", linears[i].name, norm);
    }
    for (size_t i = 0; i < n_linears; i++) {
        const struct vs_linear_weights *l = &linears[i];
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
    }
    for (int64_t c = 0; c < C; c++) {
        gamma[c] = 1.0f;
        if (beta)
            beta[c] = 0.0f;
    }
    return VS_OK;
}

enum vs_status vs_quarot_rotate_right(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols,
                                      const char *name)
{
    if (cols % r->size != 0)
        return vs_error_set(VS_ERR_MODEL, "%s: %lld input columns is not a multiple of the rotation size %lld", name,
                            (long long)cols, (long long)r->size);
    int64_t b = r->block, n = rows * (cols / b); /* W viewed as [rows·cols/b, b]: one block per row */
    float *tmp = vs_malloc((size_t)(rows * cols) * sizeof *tmp);
    if (!tmp)
        return VS_ERR_NOMEM;
    memcpy(tmp, w, (size_t)(rows * cols) * sizeof *tmp);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)b, (int)b, 1.0f, tmp, (int)b, r->m, (int)b,
                0.0f, w, (int)b);
    free(tmp);
    return VS_OK;
}

enum vs_status vs_quarot_rotate_left(const struct vs_rotation *r, float *w, int64_t rows, int64_t cols, float *bias,
                                     const char *name)
{
    if (rows % r->size != 0)
        return vs_error_set(VS_ERR_MODEL, "%s: %lld output rows is not a multiple of the rotation size %lld", name,
                            (long long)rows, (long long)r->size);
    int64_t b = r->block;
    float *tmp = vs_malloc((size_t)(b * (cols > 1 ? cols : 1)) * sizeof *tmp);
    if (!tmp)
        return VS_ERR_NOMEM;
    for (int64_t o = 0; o < rows; o += b) {
        memcpy(tmp, w + o * cols, (size_t)(b * cols) * sizeof *tmp);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)b, (int)cols, (int)b, 1.0f, r->m, (int)b, tmp,
                    (int)cols, 0.0f, w + o * cols, (int)cols);
        if (bias) {
            memcpy(tmp, bias + o, (size_t)b * sizeof *tmp);
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)b, (int)b, 1.0f, r->m, (int)b, tmp, 1, 0.0f, bias + o, 1);
        }
    }
    free(tmp);
    return VS_OK;
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
