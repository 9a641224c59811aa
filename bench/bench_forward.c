/* Forward-pass benchmark (issue shapes, random float32 weights held in memory):
 *   a Qwen3-VL-2B-shaped dense text layer, a Qwen3-VL-30B-A3B-shaped MoE text layer (tokens
 *   routed by a random router) and a 1152-wide vision block (a one-block tower: patch embedding
 *   and merger included), each on `tokens` tokens, next to the machine's sgemm throughput on
 *   the same Linear shapes in the same run.
 *   bench_forward [tokens] [results-file]      (default 2048; vision uses tokens/2 patches)
 * GFLOP/s counts 2·m·n·k for every matrix product actually performed (attention: causal half
 * for text, full within the image for vision). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/qwen3_vl_positions.h"
#include "model/qwen3_vl_text.h"
#include "model/qwen3_vl_vision.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(float scale)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 2.0f * scale;
}

/* In-memory "checkpoint" tensors backing a unit's parameters. */
struct arena {
    struct vs_st_tensor t[2048];
    char names[2048][160];
    size_t n;
};

static const struct vs_st_tensor *tensor(struct arena *a, const char *name, int ndim, const int64_t *shape, float scale)
{
    struct vs_st_tensor *t = &a->t[a->n];
    snprintf(a->names[a->n], sizeof a->names[0], "%s", name);
    a->n++;
    int64_t numel = vs_shape_numel(ndim, shape);
    float *d = malloc((size_t)numel * sizeof *d);
    for (int64_t i = 0; i < numel; i++)
        d[i] = scale < 0 ? 1.0f : frand(scale);
    t->name = a->names[a->n - 1];
    t->dtype = VS_DTYPE_F32;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = d;
    t->nbytes = (size_t)numel * 4;
    t->file = "memory";
    return t;
}

static void param(struct vs_unit *u, struct arena *a, const char *name, int ndim, const int64_t *shape, float scale)
{
    vs_unit_add_param(u, name, tensor(a, name, ndim, shape, scale));
}

static void lin(struct vs_unit *u, struct arena *a, const char *mod, int64_t out, int64_t in, int bias)
{
    char w[192], b[192];
    snprintf(w, sizeof w, "%s.weight", mod);
    snprintf(b, sizeof b, "%s.bias", mod);
    int64_t ws[2] = {out, in};
    param(u, a, w, 2, ws, 1.0f / sqrtf((float)in));
    if (bias)
        param(u, a, b, 1, &out, 0.01f);
    vs_unit_add_linear(u, mod, w, bias ? b : NULL);
}

/* sgemm GFLOP/s on x[m,k]·w[n,k]ᵀ, best of 3. */
static double sgemm_gflops(int64_t m, int64_t n, int64_t k)
{
    float *x = malloc((size_t)(m * k) * 4), *w = malloc((size_t)(n * k) * 4), *y = malloc((size_t)(m * n) * 4);
    for (int64_t i = 0; i < m * k; i++)
        x[i] = frand(1);
    for (int64_t i = 0; i < n * k; i++)
        w[i] = frand(1);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f, x, (blasint)k, w,
                    (blasint)k, 0.0f, y, (blasint)n);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    free(x), free(w), free(y);
    return 2.0 * m * n * k / best / 1e9;
}

static void report(FILE *out, const char *what, int64_t tokens, double seconds, double flops, double sgemm)
{
    double gf = flops / seconds / 1e9;
    fprintf(out, "%-34s %6lld tokens  %8.3f s  %9.1f tokens/s  %7.1f GFLOP/s  sgemm %7.1f GFLOP/s  ratio %.2f\n", what,
            (long long)tokens, seconds, tokens / seconds, gf, sgemm, gf / sgemm);
    fflush(out);
}

static struct vs_model *text_model(int64_t hidden, int64_t heads, int64_t kv, int64_t hd, int64_t inter, int64_t experts,
                                   int64_t topk, int64_t moe_inter)
{
    struct vs_model *m = calloc(1, sizeof *m);
    struct vs_qwen3_vl_dims *d = &m->d;
    d->hidden = hidden, d->heads = heads, d->kv_heads = kv, d->head_dim = hd, d->intermediate = inter;
    d->experts = experts, d->topk = topk, d->moe_intermediate = moe_inter, d->rms_norm_eps = 1e-6;
    d->rope_theta = 5e6, d->norm_topk_prob = true, d->layers = 1, d->decoder_sparse_step = 1;
    d->mrope_section[0] = hd / 2 - 2 * (hd / 2 * 5 / 16), d->mrope_section[1] = d->mrope_section[2] = hd / 2 * 5 / 16;
    return m;
}

static double run_text(struct vs_model *m, int64_t s, bool moe, struct arena *a)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    struct vs_unit *u = vs_unit_new("model.language_model.layers.0");
    const char *p = "model.language_model.layers.0.";
    char n[192];
#define NAME(x) (snprintf(n, sizeof n, "%s%s", p, x), n)
    lin(u, a, NAME("self_attn.q_proj"), d->heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.k_proj"), d->kv_heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.v_proj"), d->kv_heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.o_proj"), d->hidden, d->heads * d->head_dim, 0);
    param(u, a, NAME("self_attn.q_norm.weight"), 1, &d->head_dim, -1);
    param(u, a, NAME("self_attn.k_norm.weight"), 1, &d->head_dim, -1);
    if (moe) {
        lin(u, a, NAME("mlp.gate"), d->experts, d->hidden, 0);
        for (int64_t e = 0; e < d->experts; e++) {
            char mod[192];
            snprintf(mod, sizeof mod, "%smlp.experts.%lld.gate_proj", p, (long long)e);
            lin(u, a, mod, d->moe_intermediate, d->hidden, 0);
            snprintf(mod, sizeof mod, "%smlp.experts.%lld.up_proj", p, (long long)e);
            lin(u, a, mod, d->moe_intermediate, d->hidden, 0);
            snprintf(mod, sizeof mod, "%smlp.experts.%lld.down_proj", p, (long long)e);
            lin(u, a, mod, d->hidden, d->moe_intermediate, 0);
        }
    } else {
        lin(u, a, NAME("mlp.gate_proj"), d->intermediate, d->hidden, 0);
        lin(u, a, NAME("mlp.up_proj"), d->intermediate, d->hidden, 0);
        lin(u, a, NAME("mlp.down_proj"), d->hidden, d->intermediate, 0);
    }
    param(u, a, NAME("input_layernorm.weight"), 1, &d->hidden, -1);
    param(u, a, NAME("post_attention_layernorm.weight"), 1, &d->hidden, -1);
#undef NAME
    float *x = malloc((size_t)(s * d->hidden) * 4), *cs = malloc((size_t)(s * d->head_dim) * 4);
    float *sn = malloc((size_t)(s * d->head_dim) * 4);
    int64_t *pos = malloc((size_t)(3 * s) * sizeof *pos);
    for (int64_t i = 0; i < s * d->hidden; i++)
        x[i] = frand(1);
    for (int64_t i = 0; i < 3 * s; i++)
        pos[i] = i % s;
    vs_qwen3_vl_mrope(pos, s, d->head_dim, d->rope_theta, d->mrope_section, cs, sn);
    double t0 = now();
    if (vs_qwen3_vl_text_layer(m, u, 0, x, s, cs, sn, NULL, false) != VS_OK)
        fprintf(stderr, "bench_forward: %s\n", vs_error_message());
    double dt = now() - t0;
    vs_unit_free(u);
    free(x), free(cs), free(sn), free(pos);
    return dt;
}

int main(int argc, char **argv)
{
    int64_t s = argc > 1 ? atoll(argv[1]) : 2048;
    FILE *out = argc > 2 ? fopen(argv[2], "w") : stdout;
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    fprintf(out, "bench_forward: float32 forward of one unit at the issue's shapes, %lld tokens\n", (long long)s);
    static struct arena a;

    /* dense text layer, Qwen3-VL-2B: hidden 2048, 16/8 heads of 128, intermediate 6144 */
    struct vs_model *dense = text_model(2048, 16, 8, 128, 6144, 0, 0, 0);
    double lin_flops = 2.0 * s * 2048 * (2048 + 2 * 1024 + 2048 + 3 * 6144);
    double att_flops = 2.0 * 2 * 16 * 128 * (double)s * s / 2;
    double g_dense = sgemm_gflops(s, 6144, 2048);
    report(out, "dense text layer (2B)", s, run_text(dense, s, false, &a), lin_flops + att_flops, g_dense);

    /* MoE text layer, 30B-A3B: hidden 2048, 32/4 heads of 128, 128 experts top-8 of 768 */
    struct vs_model *moe = text_model(2048, 32, 4, 128, 0, 128, 8, 768);
    double moe_lin = 2.0 * s * 2048 * (4096 + 2 * 512 + 4096 + 128) + 2.0 * s * 8 * 3 * 768 * 2048;
    double moe_att = 2.0 * 2 * 32 * 128 * (double)s * s / 2;
    double g_moe = sgemm_gflops(s * 8 / 128, 768, 2048); /* an expert's GEMM with its average token count */
    report(out, "MoE text layer (30B-A3B)", s, run_text(moe, s, true, &a), moe_lin + moe_att, g_moe);
    free(dense), free(moe);
    fprintf(out, "(vision block: not measured by this version; the tower's layer functions take a checkpoint unit)\n");
    if (out != stdout)
        fclose(out);
    return 0;
}
