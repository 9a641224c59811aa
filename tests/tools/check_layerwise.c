/* Runs the layer-wise driver (src/runner/layerwise.c) on the inputs of a reference file written
 * by tests/reference/qwen3_vl_torch.py (ids, pixel_values, grids) and checks:
 *   - every text layer's output and the logits against the reference (max |diff| <= 1e-4 × max |ref|);
 *   - that spilling every state to disk, and observe-only passes (run on copies) before each
 *     unit, change no output bit;
 *   - routed token counts reported in all-experts mode sum to top-k × tokens per MoE layer;
 *   - that the three samples run through each unit together (one batch: the images in one vision
 *     pass, attention within each image; the text layers with attention causal
 *     within each sample) give the outputs of one sample at a time (same tolerance).
 * Three samples run together: the reference sample, a text-only sample and the reference again.
 *   vs-check-layerwise MODEL_DIR REFERENCE.safetensors */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/model_inputs.h"
#include "io/safetensors.h"
#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_forward.h"
#include "model/registry.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"

#define MAX_LAYERS 16
#define N_SAMPLES 3

struct outputs {
    const struct vs_adapter_ops *ops;
    float *hidden[N_SAMPLES][MAX_LAYERS];
    int64_t hidden_n[N_SAMPLES][MAX_LAYERS];
    float *visual[N_SAMPLES];
    int64_t visual_n[N_SAMPLES];
};

static enum vs_status keep_output(void *ctx, size_t i, size_t j, const struct vs_sample *s)
{
    struct outputs *o = ctx;
    const float *d;
    int64_t r, c;
    o->ops->sample_output(s, &d, &r, &c);
    float *copy = malloc((size_t)(r * c) * sizeof *copy + 1);
    if (r > 0 && c > 0)
        memcpy(copy, d, (size_t)(r * c) * sizeof *copy);
    if (i == 0) {
        o->visual[j] = copy;
        o->visual_n[j] = r * c;
    } else {
        o->hidden[j][i - 1] = copy;
        o->hidden_n[j][i - 1] = r * c;
    }
    return VS_OK;
}

static int compare(const char *name, const float *got, int64_t n, const struct vs_st_tensor *want)
{
    if (!want || want->dtype != VS_DTYPE_F32 || (int64_t)(want->nbytes / 4) != n) {
        fprintf(stderr, "%s: reference missing or of another size\n", name);
        return 1;
    }
    const float *w = want->data;
    double mx = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(w[i]));
        err = fmax(err, fabs((double)got[i] - w[i]));
    }
    int ok = err <= 1e-4 * mx;
    printf("%-16s max |diff| %.3g, max |ref| %.3g: %s\n", name, err, mx, ok ? "ok" : "MISMATCH");
    return !ok;
}

struct routed {
    int64_t total;
};
static void count_routed(void *ctx, const char *module, int64_t tokens)
{
    if (strstr(module, ".gate_proj"))
        ((struct routed *)ctx)->total += tokens;
}

/* mode 0: states in memory; 1: every state spilled; 2: an observe-only pass before each unit,
 * in all-experts mode with routed counting. */
static int run(struct vs_model *m, const struct vs_adapter_ops *ops, const struct vs_model_inputs *in, int mode,
               struct outputs *o, float *logits[N_SAMPLES], int64_t *vocab, int64_t tokens[N_SAMPLES])
{
    struct vs_layerwise *lw;
    memset(o, 0, sizeof *o);
    o->ops = ops;
    if (vs_layerwise_open(ops, m, mode == 1 ? 0 : UINT64_MAX, NULL, &lw) != VS_OK)
        return 1;
    for (int j = 0; j < N_SAMPLES; j++)
        if (vs_layerwise_add_sample(lw, &in[j]) != VS_OK)
            return 1;
    enum vs_status st = VS_OK;
    if (mode != 2) {
        st = vs_layerwise_forward_all(lw, keep_output, o);
    } else {
        size_t n_units = ops->unit_count(m);
        for (size_t i = 0; i < n_units && st == VS_OK; i++) {
            struct vs_unit *u;
            struct vs_unit_f32 *f;
            struct routed r = {0};
            struct vs_linear_hooks h = {.routed_tokens = count_routed, .ctx = &r};
            if ((st = ops->unit_load(m, i, &u)) != VS_OK || (st = vs_unit_f32_make(u, &f)) != VS_OK)
                break;
            st = vs_layerwise_run_unit(lw, i, f->unit, &h, true, false, NULL, NULL);
            if (st == VS_OK && r.total) {
                int64_t want = 0;
                for (int j = 0; j < N_SAMPLES; j++)
                    want += tokens[j] * m->d.topk;
                if (r.total != want) {
                    fprintf(stderr, "%s: %lld routed tokens reported, expected %lld\n", u->name, (long long)r.total,
                            (long long)want);
                    return 1;
                }
                printf("%s: %lld routed (token, expert) pairs reported: ok\n", u->name, (long long)r.total);
            }
            if (st == VS_OK)
                st = vs_layerwise_run_unit(lw, i, f->unit, NULL, false, true, keep_output, o);
            vs_unit_f32_free(f);
            vs_unit_free(u);
        }
    }
    for (int j = 0; j < N_SAMPLES && st == VS_OK; j++)
        st = vs_layerwise_logits(lw, (size_t)j, &logits[j], vocab);
    if (st != VS_OK) {
        fprintf(stderr, "vs-check-layerwise: %s\n", vs_error_message());
        return 1;
    }
    struct vs_layerwise_stats s;
    vs_layerwise_stats(lw, &s);
    printf("mode %d: %zu spills, %llu bytes spilled, peak resident states %llu bytes\n", mode, s.spills,
           (unsigned long long)s.spilled_bytes, (unsigned long long)s.peak_resident_bytes);
    if (mode == 1 && s.spills == 0) {
        fprintf(stderr, "budget 0 spilled nothing\n");
        return 1;
    }
    vs_layerwise_close(lw);
    return 0;
}

static double max_diff(const float *a, const float *b, int64_t n, double *mx)
{
    double err = 0;
    for (int64_t i = 0; i < n; i++) {
        *mx = fmax(*mx, fabs(b[i]));
        err = fmax(err, fabs((double)a[i] - b[i]));
    }
    return err;
}

/* The samples through every unit in one batch (whatever the model's size), against the outputs
 * of mode 0. */
static int run_batched(struct vs_model *m, const struct vs_adapter_ops *ops, const struct vs_model_inputs *in,
                       const struct outputs *o0, float *const logits0[N_SAMPLES], int64_t vocab)
{
    struct vs_sample *s[N_SAMPLES] = {0};
    enum vs_status st = VS_OK;
    int bad = 0;
    for (int j = 0; j < N_SAMPLES && st == VS_OK; j++)
        st = ops->sample_begin(m, &in[j], &s[j]);
    size_t n_units = ops->unit_count(m);
    for (size_t i = 0; i < n_units && st == VS_OK; i++) {
        struct vs_unit *u = NULL;
        struct vs_unit_f32 *f = NULL;
        if ((st = ops->unit_load(m, i, &u)) == VS_OK && (st = vs_unit_f32_make(u, &f)) == VS_OK)
            st = vs_qwen3_vl_unit_forward_samples(m, i, f->unit, s, N_SAMPLES, NULL, false, 1 << 20);
        for (int j = 0; j < N_SAMPLES && st == VS_OK && i > 0; j++) {
            const float *d;
            int64_t r, c;
            ops->sample_output(s[j], &d, &r, &c);
            double mx = 0, err = r * c == o0->hidden_n[j][i - 1] ? max_diff(d, o0->hidden[j][i - 1], r * c, &mx) : INFINITY;
            if (!(err <= 1e-4 * mx)) {
                printf("batched %s sample %d: max |diff| %.3g, max |ref| %.3g: MISMATCH\n", u->name, j, err, mx);
                bad = 1;
            }
        }
        vs_unit_f32_free(f);
        vs_unit_free(u);
    }
    for (int j = 0; j < N_SAMPLES && st == VS_OK; j++) {
        float *l = NULL;
        int64_t n = 0;
        if ((st = ops->sample_logits(m, s[j], &l, &n)) == VS_OK) {
            double mx = 0, err = n == vocab ? max_diff(l, logits0[j], n, &mx) : INFINITY;
            printf("batched sample %d logits: max |diff| %.3g, max |ref| %.3g: %s\n", j, err, mx,
                   err <= 1e-4 * mx ? "ok" : "MISMATCH");
            bad |= !(err <= 1e-4 * mx);
        }
        free(l);
    }
    for (int j = 0; j < N_SAMPLES; j++)
        ops->sample_free(s[j]);
    if (st != VS_OK) {
        fprintf(stderr, "vs-check-layerwise: batched: %s\n", vs_error_message());
        return 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vs-check-layerwise MODEL_DIR REFERENCE.safetensors\n");
        return 2;
    }
    struct vs_st_file *ref;
    struct vs_model *m;
    const struct vs_adapter_ops *ops = vs_builtin_adapter("qwen3_vl_moe");
    if (vs_st_file_open(argv[2], &ref) != VS_OK ||
        (ops->open(argv[1], "check", &m) != VS_OK &&
         (ops = vs_builtin_adapter("qwen3_vl"))->open(argv[1], "check", &m) != VS_OK)) {
        fprintf(stderr, "vs-check-layerwise: %s\n", vs_error_message());
        return 2;
    }
    const struct vs_st_tensor *pv = vs_st_file_find(ref, "pixel_values"), *g = vs_st_file_find(ref, "grids"),
                              *ids = vs_st_file_find(ref, "ids");
    if (!pv || !g || !ids || m->d.layers > MAX_LAYERS) {
        fprintf(stderr, "%s: needs pixel_values, grids and ids\n", argv[2]);
        return 2;
    }
    int64_t text_ids[4] = {1, 2, 3, 4};
    struct vs_model_inputs in[N_SAMPLES] = {
        {.input_ids = (int64_t *)ids->data, .n_tokens = ids->shape[0], .pixel_values = (float *)pv->data,
         .n_patches = pv->shape[0], .patch_dim = pv->shape[1], .image_grid_thw = (int64_t(*)[3])g->data,
         .n_images = g->shape[0]},
        {.input_ids = text_ids, .n_tokens = 4, .patch_dim = pv->shape[1]},
    };
    in[2] = in[0];
    int64_t tokens[N_SAMPLES] = {in[0].n_tokens, in[1].n_tokens, in[2].n_tokens};
    static struct outputs o[3];
    float *logits[3][N_SAMPLES];
    int64_t vocab = 0;
    int bad = 0;
    for (int mode = 0; mode < 3 && !bad; mode++)
        bad |= run(m, ops, in, mode, &o[mode], logits[mode], &vocab, tokens);
    if (bad)
        return 1;
    char name[64];
    for (int64_t L = 0; L < m->d.layers; L++) {
        snprintf(name, sizeof name, "hidden.layer_%lld", (long long)L);
        bad |= compare(name, o[0].hidden[0][L], o[0].hidden_n[0][L], vs_st_file_find(ref, name));
    }
    bad |= compare("logits", logits[0][0], vocab, vs_st_file_find(ref, "logits"));
    bad |= compare("embeds", o[0].visual[0], o[0].visual_n[0], vs_st_file_find(ref, "embeds"));
    /* every mode, every sample: the same bits; samples 0 and 2 are the same input */
    for (int mode = 0; mode < 3; mode++)
        for (int j = 0; j < N_SAMPLES; j++) {
            int r = mode == 0 && j == 2 ? 0 : mode == 0 ? -1 : 0, rj = mode == 0 ? 0 : j;
            if (r < 0)
                continue;
            int same = memcmp(logits[mode][j], logits[r][rj], (size_t)vocab * sizeof(float)) == 0 &&
                       o[mode].visual_n[j] == o[r].visual_n[rj];
            for (int64_t L = 0; L < m->d.layers; L++)
                same &= o[mode].hidden_n[j][L] == o[r].hidden_n[rj][L] &&
                        memcmp(o[mode].hidden[j][L], o[r].hidden[rj][L], (size_t)o[r].hidden_n[rj][L] * 4) == 0;
            printf("mode %d sample %d: %s mode 0 sample %d\n", mode, j, same ? "bit-identical to" : "DIFFERS from", rj);
            bad |= !same;
        }
    bad |= run_batched(m, ops, in, &o[0], logits[0], vocab);
    if (o[0].visual_n[1] != 0) {
        fprintf(stderr, "the text-only sample has image features\n");
        bad = 1;
    }
    for (int mode = 0; mode < 3; mode++)
        for (int j = 0; j < N_SAMPLES; j++) {
            free(logits[mode][j]);
            free(o[mode].visual[j]);
            for (int64_t L = 0; L < m->d.layers; L++)
                free(o[mode].hidden[j][L]);
        }
    ops->close(m);
    vs_st_file_close(ref);
    return bad;
}
