/* Cost of the outlier-suppression transforms per text layer at Qwen3-VL-2B shapes (hidden 2048,
 * intermediate 6144, 16 query / 8 KV heads of 128), random float32 weights in memory, next to
 * the sgemm time of the same layer's seven Linears over the calibration tokens in the same run:
 *   bench_outlier [tokens] [results-file]      (default 8000 tokens: 8 samples of ~1000)
 * QuaRot: both norm fusions and the nine rotation commands of a dense layer (block_size 32, as
 * the shipped configs, and -1: one dense 2048 rotation). iter_smooth: statistics of the four
 * subgraphs' first targets over all tokens (q_proj, o_proj, gate_proj, down_proj inputs), scales
 * and the four folds. Times are the best of 3 runs. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant/quarot.h"
#include "quant/smooth.h"
#include "quant/torch_mt19937.h"

#define HID 2048
#define INTER 6144
#define NQH 16
#define NKVH 8
#define HD 128

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float *randbuf(size_t n, float scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        p[i] = ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 2.0f * scale;
    }
    return p;
}

enum { Q, K, V, O, GATE, UP, DOWN, N_LIN };
static const char *NAMES[N_LIN] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
static const int64_t OUT[N_LIN] = {NQH * HD, NKVH * HD, NKVH * HD, HID, INTER, INTER, HID};
static const int64_t IN[N_LIN] = {HID, HID, HID, NQH * HD, HID, HID, INTER};

struct layer {
    struct vs_linear_weights l[N_LIN];
    float *norm1, *norm2;
};

static void layer_init(struct layer *y)
{
    for (int i = 0; i < N_LIN; i++)
        y->l[i] = (struct vs_linear_weights){NAMES[i], randbuf((size_t)(OUT[i] * IN[i]), 0.02f), NULL, OUT[i], IN[i]};
    y->norm1 = randbuf(HID, 1.0f), y->norm2 = randbuf(HID, 1.0f);
}

static int quarot_layer(struct layer *y, const struct vs_rotation *R, const struct vs_rotation *Ruv)
{
    struct vs_linear_weights qkv[3] = {y->l[Q], y->l[K], y->l[V]}, gu[2] = {y->l[GATE], y->l[UP]};
    int bad = vs_quarot_fuse_norm("input_layernorm", y->norm1, NULL, HID, qkv, 3) != VS_OK ||
              vs_quarot_fuse_norm("post_attention_layernorm", y->norm2, NULL, HID, gu, 2) != VS_OK;
    bad |= vs_quarot_rotate_left(R, y->l[O].w, HID, NQH * HD, NULL, "o_proj") != VS_OK;
    bad |= vs_quarot_rotate_left(R, y->l[DOWN].w, HID, INTER, NULL, "down_proj") != VS_OK;
    for (int i = Q; i <= V; i++)
        bad |= vs_quarot_rotate_right(R, y->l[i].w, OUT[i], HID, NAMES[i]) != VS_OK;
    for (int i = GATE; i <= UP; i++)
        bad |= vs_quarot_rotate_right(R, y->l[i].w, OUT[i], HID, NAMES[i]) != VS_OK;
    bad |= vs_quarot_rotate_left(Ruv, y->l[V].w, NKVH * HD, HID, NULL, "v_proj") != VS_OK;
    bad |= vs_quarot_rotate_right(Ruv, y->l[O].w, HID, NQH * HD, "o_proj") != VS_OK;
    return bad;
}

/* statistics over `tokens` rows for the four first targets, then scales and folds */
static int smooth_layer(struct layer *y, float *const x[4], int64_t tokens, double *t_stats)
{
    static const int first[4] = {Q, O, GATE, DOWN};
    struct vs_smooth_stats st[4];
    double t0 = now();
    for (int k = 0; k < 4; k++) {
        vs_smooth_stats_init(&st[k], IN[first[k]], false);
        for (int64_t s = 0; s < tokens; s += 1000) /* one call per ~1000-token sample */
            vs_smooth_stats_observe(&st[k], x[k] + s * IN[first[k]], tokens - s < 1000 ? tokens - s : 1000);
    }
    *t_stats = now() - t0;
    struct vs_smooth_params p = {.alpha = 0.9, .scale_min = 1e-5, .symmetric = true, .scale_dtype = VS_DTYPE_F32};
    struct vs_linear_weights qkv[3] = {y->l[Q], y->l[K], y->l[V]}, gu[2] = {y->l[GATE], y->l[UP]};
    /* msModelSlim's order: up-down, ov, then the two norm-linear subgraphs */
    struct vs_smooth_subgraph_weights g[4] = {
        {.type = VS_SMOOTH_UP_DOWN, .source = &y->l[UP], .targets = &y->l[DOWN], .n_targets = 1},
        {.type = VS_SMOOTH_OV, .source = &y->l[V], .targets = &y->l[O], .n_targets = 1, .num_attention_heads = NQH,
         .num_key_value_heads = NKVH, .head_dim = HD},
        {.type = VS_SMOOTH_NORM_LINEAR, .norm_weight = y->norm1, .targets = qkv, .n_targets = 3},
        {.type = VS_SMOOTH_NORM_LINEAR, .norm_weight = y->norm2, .targets = gu, .n_targets = 2},
    };
    static const int stat_of[4] = {3, 1, 0, 2};
    int bad = 0;
    for (int k = 0; k < 4; k++)
        bad |= vs_smooth_apply(&g[k], &st[stat_of[k]], &p, NULL) != VS_OK;
    for (int k = 0; k < 4; k++)
        vs_smooth_stats_free(&st[k]);
    return bad;
}

int main(int argc, char **argv)
{
    int64_t tokens = argc > 1 ? atoll(argv[1]) : 8000;
    const char *path = argc > 2 ? argv[2] : NULL;
    struct layer y;
    layer_init(&y);
    float *x[4] = {randbuf((size_t)(tokens * HID), 1.0f), randbuf((size_t)(tokens * NQH * HD), 1.0f),
                   randbuf((size_t)(tokens * HID), 1.0f), randbuf((size_t)(tokens * INTER), 1.0f)};
    float *out = malloc((size_t)(tokens * INTER) * sizeof *out);
    double best_rot[2] = {1e9, 1e9}, best_make[2] = {1e9, 1e9}, best_smooth = 1e9, best_stats = 1e9, best_gemm = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        for (int b = 0; b < 2; b++) {
            struct vs_rotation R, Ruv;
            double t0 = now();
            if (vs_rotation_hadamard(HID, b ? -1 : 32, VS_QUAROT_SEED, &R) != VS_OK ||
                vs_rotation_block_hadamard_shifted(HD, b ? -1 : 32, VS_QUAROT_SEED, &Ruv) != VS_OK) {
                fprintf(stderr, "bench_outlier: %s\n", vs_error_message());
                return 1;
            }
            double t1 = now();
            if (quarot_layer(&y, &R, &Ruv)) {
                fprintf(stderr, "bench_outlier: %s\n", vs_error_message());
                return 1;
            }
            double t2 = now();
            best_make[b] = fmin(best_make[b], t1 - t0), best_rot[b] = fmin(best_rot[b], t2 - t1);
            vs_rotation_free(&R), vs_rotation_free(&Ruv);
        }
        double ts, t0 = now();
        if (smooth_layer(&y, x, tokens, &ts)) {
            fprintf(stderr, "bench_outlier: %s\n", vs_error_message());
            return 1;
        }
        best_smooth = fmin(best_smooth, now() - t0), best_stats = fmin(best_stats, ts);
        t0 = now();
        for (int i = 0; i < N_LIN; i++) {
            const float *in = x[i == O ? 1 : i == DOWN ? 3 : 0];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)tokens, (int)OUT[i], (int)IN[i], 1.0f, in,
                        (int)IN[i], y.l[i].w, (int)IN[i], 0.0f, out, (int)OUT[i]);
        }
        best_gemm = fmin(best_gemm, now() - t0);
    }
    double flops = 0;
    for (int i = 0; i < N_LIN; i++)
        flops += 2.0 * (double)tokens * (double)OUT[i] * (double)IN[i];
    char text[2048];
    snprintf(text, sizeof text,
             "bench_outlier: one Qwen3-VL-2B text layer (hidden %d, intermediate %d, %d/%d heads of %d), float32, best of 3\n"
             "sgemm of the layer's 7 Linears, %lld tokens  %8.3f s  (%.1f GFLOP/s)  = 1.00\n"
             "quarot block_size 32: R + R_uv built     %8.4f s\n"
             "quarot block_size 32: fuse + 9 rotations %8.4f s  ratio to sgemm %.4f\n"
             "quarot block_size -1: R + R_uv built     %8.4f s\n"
             "quarot block_size -1: fuse + 9 rotations %8.4f s  ratio to sgemm %.4f\n"
             "iter_smooth: statistics, %lld tokens      %8.4f s  ratio to sgemm %.4f\n"
             "iter_smooth: statistics + scales + 4 folds %6.4f s  ratio to sgemm %.4f\n",
             HID, INTER, NQH, NKVH, HD, (long long)tokens, best_gemm, flops / best_gemm * 1e-9, best_make[0], best_rot[0],
             best_rot[0] / best_gemm, best_make[1], best_rot[1], best_rot[1] / best_gemm, (long long)tokens, best_stats,
             best_stats / best_gemm, best_smooth, best_smooth / best_gemm);
    fputs(text, stdout);
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f)) {
            fprintf(stderr, "bench_outlier: %s: cannot write\n", path);
            return 1;
        }
    }
    for (int i = 0; i < N_LIN; i++)
        free(y.l[i].w);
    free(y.norm1), free(y.norm2), free(out);
    for (int k = 0; k < 4; k++)
        free(x[k]);
    return 0;
}
