/* Runs vlmslim's Qwen3-VL forward pass on the inputs of a reference file written by
 * tests/reference/qwen3_vl_torch.py and compares every output it holds: the vision tower
 * (embeds, deepstack.<j>) and, when the file has `ids`, every text layer (hidden.layer_<n>) and
 * the last position's logits:
 *   vs-check-forward MODEL_DIR REFERENCE.safetensors
 * Passes when max |ours − reference| <= 1e-4 × max |reference| for each output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/qwen3_vl_positions.h"
#include "model/qwen3_vl_text.h"
#include "model/qwen3_vl_vision.h"
#include <stdlib.h>
#include "model/registry.h"

static int compare(const char *name, const float *got, const struct vs_st_tensor *want, int64_t n)
{
    const float *w = want->data;
    if (!want) {
        fprintf(stderr, "%s: missing from the reference\n", name);
        return 1;
    }
    if (want->dtype != VS_DTYPE_F32 || (int64_t)(want->nbytes / 4) != n) {
        fprintf(stderr, "%s: reference has %zu bytes of %s, expected %lld F32\n", name, want->nbytes,
                vs_dtype_name(want->dtype), (long long)n);
        return 1;
    }
    double mx = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(w[i]));
        err = fmax(err, fabs((double)got[i] - w[i]));
    }
    int ok = err <= 1e-4 * mx;
    printf("%-12s max |diff| %.3g, max |ref| %.3g, ratio %.3g: %s\n", name, err, mx, mx > 0 ? err / mx : 0,
           ok ? "ok" : "MISMATCH");
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vs-check-forward MODEL_DIR REFERENCE.safetensors\n");
        return 2;
    }
    struct vs_st_file *ref;
    struct vs_model *m;
    struct vs_unit *u;
    const struct vs_adapter_ops *ops = vs_builtin_adapter("qwen3_vl_moe");
    if (vs_st_file_open(argv[2], &ref) != VS_OK ||
        (ops->open(argv[1], "check", &m) != VS_OK &&
         ((ops = vs_builtin_adapter("qwen3_vl"))->open(argv[1], "check", &m) != VS_OK)) ||
        ops->unit_load(m, 0, &u) != VS_OK) {
        fprintf(stderr, "vs-check-forward: %s\n", vs_error_message());
        return 2;
    }
    const struct vs_st_tensor *pv = vs_st_file_find(ref, "pixel_values"), *g = vs_st_file_find(ref, "grids");
    int64_t grids[16][3], n_images = g ? g->shape[0] : 0;
    if (!pv || !g || n_images > 16 || g->dtype != VS_DTYPE_I64) {
        fprintf(stderr, "%s: needs pixel_values and grids [n, 3] I64\n", argv[2]);
        return 2;
    }
    memcpy(grids, g->data, g->nbytes);
    struct vs_qwen3_vl_vision_out out;
    if (vs_qwen3_vl_vision_forward(m, u, pv->data, pv->shape[0], (const int64_t(*)[3])grids, n_images, NULL, &out) != VS_OK) {
        fprintf(stderr, "vs-check-forward: %s\n", vs_error_message());
        return 1;
    }
    int bad = compare("embeds", out.embeds, vs_st_file_find(ref, "embeds"), out.tokens * out.hidden);
    for (size_t j = 0; j < out.n_deepstack; j++) {
        char name[32];
        snprintf(name, sizeof name, "deepstack.%zu", j);
        const struct vs_st_tensor *t = vs_st_file_find(ref, name);
        if (!t) {
            fprintf(stderr, "%s: reference lacks %s\n", argv[2], name);
            return 1;
        }
        bad |= compare(name, out.deepstack[j], t, out.tokens * out.hidden);
    }
    const struct vs_st_tensor *idt = vs_st_file_find(ref, "ids");
    if (idt && !bad) {
        int64_t s = idt->shape[0], D = m->d.head_dim;
        const int64_t *ids = idt->data;
        float *x = NULL, *cos = malloc((size_t)(s * D) * sizeof *cos), *sin = malloc((size_t)(s * D) * sizeof *sin);
        int64_t *pos = malloc((size_t)(3 * s) * sizeof *pos);
        float *logits = malloc((size_t)m->d.vocab * sizeof *logits);
        if (vs_qwen3_vl_embed(m, ids, s, &out, &x) != VS_OK ||
            vs_qwen3_vl_rope_index(ids, s, m->d.image_token_id, (const int64_t(*)[3])grids, n_images, m->d.merge_size, true, pos) != VS_OK) {
            fprintf(stderr, "vs-check-forward: %s\n", vs_error_message());
            return 1;
        }
        vs_qwen3_vl_mrope(pos, s, D, m->d.rope_theta, m->d.mrope_section, true, cos, sin);
        for (int64_t L = 0; L < m->d.layers && !bad; L++) {
            struct vs_unit *lu;
            /* MoE layers also run every expert on every token (all_experts): the same output */
            float *xa = m->moe ? malloc((size_t)(s * m->d.hidden) * sizeof *xa) : NULL;
            if (xa)
                memcpy(xa, x, (size_t)(s * m->d.hidden) * sizeof *xa);
            if (ops->unit_load(m, (size_t)L + 1, &lu) != VS_OK ||
                vs_qwen3_vl_text_layer(m, lu, L, x, s, cos, sin, NULL, false) != VS_OK ||
                (xa && vs_qwen3_vl_text_layer(m, lu, L, xa, s, cos, sin, NULL, true) != VS_OK)) {
                fprintf(stderr, "vs-check-forward: %s\n", vs_error_message());
                return 1;
            }
            vs_unit_free(lu);
            if ((size_t)L < out.n_deepstack) {
                vs_qwen3_vl_add_deepstack(m, ids, s, x, out.deepstack[L]);
                if (xa)
                    vs_qwen3_vl_add_deepstack(m, ids, s, xa, out.deepstack[L]);
            }
            char name[48];
            snprintf(name, sizeof name, "hidden.layer_%lld", (long long)L);
            bad |= compare(name, x, vs_st_file_find(ref, name), s * m->d.hidden);
            if (xa) {
                char all[64];
                snprintf(all, sizeof all, "%s (all experts)", name);
                bad |= compare(all, xa, vs_st_file_find(ref, name), s * m->d.hidden);
                free(xa);
            }
        }
        if (!bad && vs_qwen3_vl_logits_last(m, x, s, logits) != VS_OK) {
            fprintf(stderr, "vs-check-forward: %s\n", vs_error_message());
            return 1;
        }
        if (!bad)
            bad |= compare("logits", logits, vs_st_file_find(ref, "logits"), m->d.vocab);
        free(x), free(cos), free(sin), free(pos), free(logits);
    }
    vs_qwen3_vl_vision_out_free(&out);
    vs_unit_free(u);
    ops->close(m);
    vs_st_file_close(ref);
    return bad;
}
