/* Forward-pass benchmark (random float32 weights held in memory, as an f32 checkpoint would be):
 *   a Qwen3-VL-2B-shaped dense text layer and a Qwen3-VL-30B-A3B-shaped MoE text layer (tokens
 *   routed by a random router) on `tokens` tokens, and one 1152-wide vision block on tokens/2
 *   patches of one 32x32 image, each next to the machine's sgemm throughput on the same GEMM
 *   shapes, measured in the same run and interleaved with it; then the dense layer with bfloat16
 *   weights and the MoE layer with fused bfloat16 experts (gate_up_proj [E, H, 2I], down_proj
 *   [E, I, H], unstacked as in the adapter), converted per Linear as for a real checkpoint.
 *     bench_forward [tokens] [results-file] [unit...]   (default 2048, every unit)
 *     bench_forward --rss UNIT tokens           (one forward of dense|moe|vision|dense-bf16|moe-bf16; prints its memory)
 *     bench_forward --run UNIT tokens N         (N forwards, for a profiler; prints their times)
 *     bench_forward --modes [tokens] [results-file]   (--compute fp32 against bf16, below)
 * GFLOP/s counts 2·m·n·k for every matrix product the unit needs: each Linear and, for the
 * attention, q·kᵀ and p·v over the keys each query sees (half of s² when causal, the whole
 * image for vision). The sgemm reference runs those same shapes as plain cblas_sgemm calls
 * (attention as one [s, s, head_dim] and one [s, head_dim, s] product per head, for half the
 * heads when causal), each with the faster of OpenBLAS's own threads and the rows/columns split
 * over the OpenMP threads, with Linear weights coming from memory as in the unit (see
 * ref_operands), all back to back as one round. Rounds and forwards alternate, REPEATS times;
 * the figures are the best round and the best forward, and then the median and range of the
 * ratio of each round to the forward right after it (a measure of the noise).
 * --modes: the bf16-weight dense and MoE layers and the vision block forwarded with the Linears in
 * fp32 (sgemm) and in bf16 (oneDNN, tensor/compute.h), interleaved, REPEATS times each, the best
 * of each and their ratio; and the machine's peaks measured beside them: sgemm, and oneDNN's
 * bf16 and u8·s8 matmuls (no conversions: operands already in their dtypes) on 4096³ products.
 * Memory: the peak RSS of one forward, in a fresh process (--rss), against the bound
 * 1.1 × (the unit's float32 weights + activations), activations being the unit's input, cos/sin
 * tables and the tensors alive at its widest point (listed at each unit). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <dnnl.h>

#include "model/qwen3_vl_positions.h"
#include "quant/int8_linear.h"
#include "tensor/compute.h"
#include "tensor/kernels.h"
#include "model/qwen3_vl_text.h"
#include "model/qwen3_vl_vision.h"

enum { REPEATS = 5 };

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
    double bytes;  /* as float32 */
    bool bf16;     /* store the weights as bfloat16, as real checkpoints do */
};

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free((void *)a->t[i].data);
    a->n = 0;
    a->bytes = 0;
}

static const struct vs_st_tensor *tensor(struct arena *a, const char *name, int ndim, const int64_t *shape,
                                         float scale)
{
    struct vs_st_tensor *t = &a->t[a->n];
    snprintf(a->names[a->n], sizeof a->names[0], "%s", name);
    a->n++;
    int64_t numel = vs_shape_numel(ndim, shape);
    size_t es = a->bf16 ? 2 : 4;
    void *d = malloc((size_t)numel * es);
    for (int64_t i = 0; i < numel; i++) {
        float v = scale < 0 ? 1.0f : frand(scale);
        if (a->bf16)
            ((uint16_t *)d)[i] = vs_f32_to_bf16(v);
        else
            ((float *)d)[i] = v;
    }
    t->name = a->names[a->n - 1];
    t->dtype = a->bf16 ? VS_DTYPE_BF16 : VS_DTYPE_F32;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = d;
    t->nbytes = (size_t)numel * es;
    t->file = "memory";
    a->bytes += (double)numel * 4;
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

/* ---- the sgemm reference ---- */

struct shape {
    int64_t m, n, k;
    int64_t count; /* how many times the unit computes it (the attention: heads, halved when causal) */
    bool cold;     /* a Linear: its weight comes from memory */
    bool nn;       /* w is [k, n] (p·v), else [n, k] (x·wᵀ, q·kᵀ) */
};

/* Seconds for y[m,n] = x[m,k]·op(w) with OpenBLAS's threads or split over OpenMP threads. */
static double time_sgemm(const struct shape *s, const float *x, const float *w, float *y, bool split)
{
    CBLAS_TRANSPOSE tb = s->nn ? CblasNoTrans : CblasTrans;
    blasint ldw = (blasint)(s->nn ? s->n : s->k);
    double t0 = now();
    if (!split) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (blasint)s->m, (blasint)s->n, (blasint)s->k, 1.0f, x,
                    (blasint)s->k, w, ldw, 0.0f, y, (blasint)s->n);
        return now() - t0;
    }
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    bool rows = s->m > s->n;
    #pragma omp parallel
    {
        int id = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t len = rows ? s->m : s->n, lo = len * id / nt, hi = len * (id + 1) / nt;
        if (rows)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (blasint)(hi - lo), (blasint)s->n, (blasint)s->k, 1.0f,
                        x + lo * s->k, (blasint)s->k, w, ldw, 0.0f, y + lo * s->n, (blasint)s->n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (blasint)s->m, (blasint)(hi - lo), (blasint)s->k, 1.0f, x,
                        (blasint)s->k, s->nn ? w + lo : w + lo * s->k, ldw, 0.0f, y + lo, (blasint)s->n);
    }
    double dt = now() - t0;
    openblas_set_num_threads(blas);
    return dt;
}

/* Operands for timing each shape. A Linear's weight is read from memory in the unit (each is
 * used once per forward; 128 experts do not fit in the caches), so its reference cycles through
 * enough distinct weight matrices to exceed twice the L3 cache; the attention's operands stay
 * hot in both. */
struct ref_operands {
    float *x, *y, *w[16];
    size_t nw;
    bool split; /* the faster threading for this shape */
};

static void ref_prepare(const struct shape *s, struct ref_operands *o)
{
    size_t wbytes = (size_t)(s->n * s->k) * 4;
    o->nw = 1;
    while (s->cold && o->nw < 16 && o->nw * wbytes < ((size_t)64 << 20))
        o->nw++;
    o->x = malloc((size_t)(s->m * s->k) * 4), o->y = malloc((size_t)(s->m * s->n) * 4);
    for (int64_t j = 0; j < s->m * s->k; j++)
        o->x[j] = frand(1);
    for (size_t b = 0; b < o->nw; b++) {
        o->w[b] = malloc(wbytes);
        for (int64_t j = 0; j < s->n * s->k; j++)
            o->w[b][j] = frand(1);
    }
    /* the faster threading, each timed twice through all the weights */
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < 2; r++)
        for (int split = 0; split < 2; split++) {
            usleep(20000); /* let the other pool's threads go idle */
            double dt = 0;
            for (size_t b = 0; b < o->nw; b++)
                dt += time_sgemm(s, o->x, o->w[b], o->y, split);
            best[split] = dt < best[split] ? dt : best[split];
        }
    o->split = best[1] < best[0];
}

static void ref_free(struct ref_operands *o)
{
    for (size_t b = 0; b < o->nw; b++)
        free(o->w[b]);
    free(o->x), free(o->y);
}

/* Seconds for all the unit's products as plain sgemm calls, back to back like a forward
 * (exposed to the same load), the weights cycling. */
static double ref_round(const struct shape *shapes, struct ref_operands *ops, size_t n)
{
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        for (int64_t j = 0; j < shapes[i].count; j++)
            time_sgemm(&shapes[i], ops[i].x, ops[i].w[(size_t)j % ops[i].nw], ops[i].y, ops[i].split);
    return now() - t0;
}

static double shapes_flops(const struct shape *shapes, size_t n)
{
    double f = 0;
    for (size_t i = 0; i < n; i++)
        f += (double)shapes[i].count * 2.0 * (double)shapes[i].m * (double)shapes[i].n * (double)shapes[i].k;
    return f;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the units ---- */

struct unit_case {
    const char *key, *title;
    struct vs_model m;
    struct vs_unit *u;
    struct arena a;
    bool vision;
    int64_t tokens;
    float *x0, *x, *cos, *sin;
    float *work; /* the vision block's workspace, one per tower as in vs_qwen3_vl_vision_forward */
    int32_t *segments;
    struct shape shapes[8];
    size_t n_shapes;
    double activations; /* bytes */
};

static void text_dims(struct vs_qwen3_vl_dims *d, int64_t hidden, int64_t heads, int64_t kv, int64_t hd,
                      int64_t inter, int64_t experts, int64_t topk, int64_t moe_inter)
{
    d->vis_prefix = "model.visual.", d->text_prefix = "model.language_model.";
    d->hidden = hidden, d->heads = heads, d->kv_heads = kv, d->head_dim = hd, d->intermediate = inter;
    d->experts = experts, d->topk = topk, d->moe_intermediate = moe_inter, d->rms_norm_eps = 1e-6;
    d->rope_theta = 5e6, d->norm_topk_prob = true, d->layers = 1, d->decoder_sparse_step = 1;
    d->mrope_section[0] = hd / 2 - 2 * (hd / 2 * 5 / 16), d->mrope_section[1] = d->mrope_section[2] = hd / 2 * 5 / 16;
}

static void text_unit(struct unit_case *c, bool moe)
{
    const struct vs_qwen3_vl_dims *d = &c->m.d;
    struct arena *a = &c->a;
    struct vs_unit *u = c->u = vs_unit_new("model.language_model.layers.0");
    const char *p = "model.language_model.layers.0.";
    char n[192];
#define NAME(x) (snprintf(n, sizeof n, "%s%s", p, x), n)
    lin(u, a, NAME("self_attn.q_proj"), d->heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.k_proj"), d->kv_heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.v_proj"), d->kv_heads * d->head_dim, d->hidden, 0);
    lin(u, a, NAME("self_attn.o_proj"), d->hidden, d->heads * d->head_dim, 0);
    param(u, a, NAME("self_attn.q_norm.weight"), 1, &d->head_dim, -1);
    param(u, a, NAME("self_attn.k_norm.weight"), 1, &d->head_dim, -1);
    if (moe && a->bf16) { /* a real checkpoint's layout: fused bf16 experts, unstacked as slices */
        int64_t E = d->experts, H = d->hidden, mi = d->moe_intermediate;
        lin(u, a, NAME("mlp.gate"), E, H, 0);
        int64_t gu_shape[3] = {E, H, 2 * mi}, down_shape[3] = {E, mi, H};
        const struct vs_st_tensor *gu = tensor(a, NAME("mlp.experts.gate_up_proj"), 3, gu_shape, 1.0f / sqrtf((float)H));
        const struct vs_st_tensor *dn = tensor(a, NAME("mlp.experts.down_proj"), 3, down_shape, 1.0f / sqrtf((float)mi));
        static const char *const proj[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int64_t e = 0; e < E; e++)
            for (int k = 0; k < 3; k++) {
                char mod[192], w[200];
                snprintf(mod, sizeof mod, "%smlp.experts.%lld.%s", p, (long long)e, proj[k]);
                snprintf(w, sizeof w, "%s.weight", mod);
                vs_unit_add_slice_param(u, w, k < 2 ? gu : dn, e, k == 1 ? mi : 0, k < 2 ? mi : H);
                vs_unit_add_linear(u, mod, w, NULL);
            }
    } else if (moe) {
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
    int64_t s = c->tokens, H = d->hidden, D = d->head_dim, q = d->heads * D, kv = d->kv_heads * D;
    c->cos = malloc((size_t)(s * D) * 4), c->sin = malloc((size_t)(s * D) * 4);
    int64_t *pos = malloc((size_t)(3 * s) * sizeof *pos);
    for (int64_t i = 0; i < 3 * s; i++)
        pos[i] = i % s;
    vs_qwen3_vl_mrope(pos, s, D, d->rope_theta, d->mrope_section, true, c->cos, c->sin);
    free(pos);
    struct shape *sh = c->shapes;
    sh[0] = (struct shape){s, q, H, 1, true, false};
    sh[1] = (struct shape){s, kv, H, 2, true, false};
    sh[2] = (struct shape){s, H, q, 1, true, false};
    sh[3] = (struct shape){s, s, D, d->heads / 2, false, false}; /* q·kᵀ, causal half */
    sh[4] = (struct shape){s, D, s, d->heads / 2, false, true}; /* p·v */
    /* widest point, attention: h, q, k, v, attention output; MLP below */
    double attn = (double)(s * (H + 2 * q + 2 * kv)), mlp;
    if (moe) {
        int64_t per = s * d->topk / d->experts, mi = d->moe_intermediate;
        sh[5] = (struct shape){s, d->experts, H, 1, true, false};
        sh[6] = (struct shape){per, mi, H, 2 * d->experts, true, false}; /* gate, up at the mean load */
        sh[7] = (struct shape){per, H, mi, d->experts, true, false};
        c->n_shapes = 8;
        /* MoE: h, output, router probabilities, one expert's input, gate, up and output with
         * every token routed to it (the most an expert can get) */
        mlp = (double)(s * (2 * H + d->experts) + s * (2 * H + 2 * mi));
    } else {
        sh[5] = (struct shape){s, d->intermediate, H, 2, true, false};
        sh[6] = (struct shape){s, H, d->intermediate, 1, true, false};
        c->n_shapes = 7;
        mlp = (double)(s * (H + 2 * d->intermediate)); /* h, gate, up (down_proj writes over h) */
    }
    c->activations = 4.0 * ((double)(s * H) + (attn > mlp ? attn : mlp) + 2.0 * (double)(s * D));
}

static void vision_unit(struct unit_case *c)
{
    struct vs_qwen3_vl_dims *d = &c->m.d;
    d->v_hidden = 1152, d->v_heads = 16, d->v_intermediate = 4304, d->v_depth = 1, d->merge_size = 2;
    int64_t n = c->tokens, hv = d->v_hidden, dv = hv / d->v_heads, inter = d->v_intermediate;
    int64_t side = 1;
    while (side * side < n)
        side++;
    n = c->tokens = side * side; /* one square image */
    struct arena *a = &c->a;
    struct vs_unit *u = c->u = vs_unit_new("model.visual");
    lin(u, a, "model.visual.blocks.0.attn.qkv", 3 * hv, hv, 1);
    lin(u, a, "model.visual.blocks.0.attn.proj", hv, hv, 1);
    lin(u, a, "model.visual.blocks.0.mlp.linear_fc1", inter, hv, 1);
    lin(u, a, "model.visual.blocks.0.mlp.linear_fc2", hv, inter, 1);
    param(u, a, "model.visual.blocks.0.norm1.weight", 1, &hv, -1);
    param(u, a, "model.visual.blocks.0.norm1.bias", 1, &hv, 0.01f);
    param(u, a, "model.visual.blocks.0.norm2.weight", 1, &hv, -1);
    param(u, a, "model.visual.blocks.0.norm2.bias", 1, &hv, 0.01f);
    int64_t grid[1][3] = {{1, side, side}};
    int64_t *rows = malloc((size_t)n * sizeof *rows), *cols = malloc((size_t)n * sizeof *cols);
    c->cos = malloc((size_t)(n * dv) * 4), c->sin = malloc((size_t)(n * dv) * 4);
    c->segments = calloc((size_t)n, sizeof *c->segments);
    c->work = malloc((size_t)vs_qwen3_vl_vision_block_work(d, n) * 4);
    vs_qwen3_vl_patch_coords(grid, 1, d->merge_size, rows, cols);
    vs_qwen3_vl_vision_rope(rows, cols, n, dv, c->cos, c->sin);
    free(rows), free(cols);
    struct shape *sh = c->shapes;
    sh[0] = (struct shape){n, 3 * hv, hv, 1, true, false};
    sh[1] = (struct shape){n, hv, hv, 1, true, false};
    sh[2] = (struct shape){n, inter, hv, 1, true, false};
    sh[3] = (struct shape){n, hv, inter, 1, true, false};
    sh[4] = (struct shape){n, n, dv, d->v_heads, false, false};
    sh[5] = (struct shape){n, dv, n, d->v_heads, false, true};
    c->n_shapes = 6;
    /* widest point: x, h, qkv and q, k, v split out of it (the MLP's h and hidden are smaller) */
    double attn = (double)(n * 7 * hv), mlp = (double)(n * (hv + inter));
    c->activations = 4.0 * ((double)(n * hv) + (attn > mlp ? attn : mlp) + 2.0 * (double)(n * dv) + (double)n);
}

static const char *const keys[] = {"dense", "moe", "vision", "dense-bf16", "moe-bf16"};
static const char *const titles[] = {"dense text layer (2B)", "MoE text layer (30B-A3B)", "vision block (1152 wide)",
                                     "dense text layer (2B), bf16", "MoE text layer, fused bf16"};
enum { UNITS = 5 };

static void unit_setup(struct unit_case *c, const char *key, int64_t tokens)
{
    memset(c, 0, sizeof *c);
    c->key = key;
    c->tokens = tokens;
    if (strcmp(key, "dense") == 0 || strcmp(key, "dense-bf16") == 0) {
        c->a.bf16 = strcmp(key, "dense-bf16") == 0;
        c->title = titles[c->a.bf16 ? 3 : 0];
        text_dims(&c->m.d, 2048, 16, 8, 128, 6144, 0, 0, 0);
        text_unit(c, false);
    } else if (strcmp(key, "moe") == 0 || strcmp(key, "moe-bf16") == 0) {
        c->a.bf16 = strcmp(key, "moe-bf16") == 0;
        c->title = titles[c->a.bf16 ? 4 : 1];
        text_dims(&c->m.d, 2048, 32, 4, 128, 0, 128, 8, 768);
        text_unit(c, true);
    } else {
        c->title = titles[2];
        c->vision = true;
        c->tokens = tokens / 2;
        vision_unit(c);
    }
    int64_t width = c->vision ? c->m.d.v_hidden : c->m.d.hidden;
    c->x0 = malloc((size_t)(c->tokens * width) * 4);
    c->x = malloc((size_t)(c->tokens * width) * 4);
    for (int64_t i = 0; i < c->tokens * width; i++)
        c->x0[i] = frand(1);
}

static void unit_free(struct unit_case *c)
{
    vs_unit_free(c->u);
    arena_free(&c->a);
    free(c->x0), free(c->x), free(c->cos), free(c->sin), free(c->segments), free(c->work);
}

/* Seconds for one forward of the unit (the input restored first unless the copy is gone). */
static double unit_run(struct unit_case *c)
{
    int64_t width = c->vision ? c->m.d.v_hidden : c->m.d.hidden;
    if (c->x0)
        memcpy(c->x, c->x0, (size_t)(c->tokens * width) * 4);
    double t0 = now();
    enum vs_status st = c->vision ? vs_qwen3_vl_vision_block(&c->m, c->u, 0, c->x, c->tokens, c->cos, c->sin,
                                                             c->segments, NULL, c->work)
                                  : vs_qwen3_vl_text_layer(&c->m, c->u, 0, c->x, c->tokens, c->cos, c->sin, NULL,
                                                           false);
    double dt = now() - t0;
    if (st != VS_OK) {
        fprintf(stderr, "bench_forward: %s: %s\n", c->title, vs_error_message());
        exit(1);
    }
    return dt;
}

/* ---- compute modes ---- */

/* GFLOP/s of oneDNN's matmul of n x n by n x n in src/weights dtypes (dst f32, or s32 for int8),
 * the best of REPEATS after a warm-up; 0 where the primitive cannot be made. */
static double dnnl_peak(int64_t n, dnnl_data_type_t src, dnnl_data_type_t wei)
{
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success)
        return 0;
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t d = {n, n};
    dnnl_memory_desc_init_by_tag(&a, 2, d, src, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&b, 2, d, wei, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&c, 2, d, src == dnnl_bf16 ? dnnl_f32 : dnnl_s32, dnnl_ab);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    double best = 1e30;
    if (dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) == dnnl_success) {
        dnnl_primitive_create(&p, pd);
        dnnl_memory_t ma, mb, mc;
        dnnl_memory_create(&ma, &a, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&mb, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&mc, &c, eng, DNNL_MEMORY_ALLOCATE);
        void *h;
        dnnl_memory_get_data_handle(ma, &h);
        memset(h, 0x11, (size_t)(n * n) * (src == dnnl_bf16 ? 2 : 1)); /* small, finite values */
        dnnl_memory_get_data_handle(mb, &h);
        memset(h, 0x11, (size_t)(n * n) * (src == dnnl_bf16 ? 2 : 1));
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        for (int r = 0; r <= REPEATS; r++) {
            double t0 = now();
            dnnl_primitive_execute(p, st, 3, args);
            dnnl_stream_wait(st);
            if (r > 0 && now() - t0 < best)
                best = now() - t0;
        }
        dnnl_memory_destroy(ma), dnnl_memory_destroy(mb), dnnl_memory_destroy(mc);
        dnnl_primitive_destroy(p);
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return best < 1e30 ? 2.0 * (double)n * (double)n * (double)n / best / 1e9 : 0;
}

static double sgemm_peak(int64_t n)
{
    float *a = malloc((size_t)(n * n) * 4), *b = malloc((size_t)(n * n) * 4), *c = malloc((size_t)(n * n) * 4);
    for (int64_t i = 0; i < n * n; i++)
        a[i] = frand(1), b[i] = frand(1);
    double best = 1e30;
    for (int r = 0; r <= REPEATS; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n, (blasint)n, (blasint)n, 1.0f, a, (blasint)n,
                    b, (blasint)n, 0.0f, c, (blasint)n);
        if (r > 0 && now() - t0 < best)
            best = now() - t0;
    }
    free(a), free(b), free(c);
    return 2.0 * (double)n * (double)n * (double)n / best / 1e9;
}

/* One W8A8 static Linear (m x k -> n) as the quantized pass computes it in each mode: fp32 fake
 * quantization (the input quantized and dequantized, then sgemm with the dequantized weight) and
 * the int8 kernel (quant/int8_linear.h: int8 input, oneDNN's s8*s8 product, the epilogue). */
static void int8_report(FILE *out, int64_t m, int64_t n, int64_t k)
{
    float *x = malloc((size_t)(m * k) * 4), *xq = malloc((size_t)(m * k) * 4), *wd = malloc((size_t)(n * k) * 4);
    float *y = malloc((size_t)(m * n) * 4), *deq = malloc((size_t)n * 4);
    int8_t *w = malloc((size_t)(n * k)), *q = malloc((size_t)(m * k));
    int32_t *qb = calloc((size_t)n, 4);
    const float sx = 0.02f, ox = 3.0f;
    for (int64_t i = 0; i < m * k; i++)
        x[i] = frand(2);
    for (int64_t o = 0; o < n; o++) {
        deq[o] = sx * 0.001f;
        for (int64_t c = 0; c < k; c++) {
            w[o * k + c] = (int8_t)(frand(127));
            wd[o * k + c] = (float)w[o * k + c] * 0.001f;
        }
    }
    struct vs_int8_linear l = {.name = "bench", .scheme = VS_INT8_W8A8, .kernel = VS_INT8_ASCEND, .out = n, .in = k,
                               .w = w, .input_scale = sx, .input_offset = ox, .quant_bias = qb, .deq_scale = deq};
    double best[2] = {1e30, 1e30};
    for (int r = 0; r <= REPEATS; r++) {
        double t0 = now();
        vs_int8_quantize_static(VS_INT8_ASCEND, x, m * k, sx, ox, q);
        for (int64_t i = 0; i < m * k; i++)
            xq[i] = ((float)q[i] - ox) * sx;
        vs_linear_f32(xq, wd, NULL, y, m, n, k);
        double t1 = now();
        vs_int8_linear_apply(&l, x, m, y);
        double t2 = now();
        if (r > 0)
            best[0] = t1 - t0 < best[0] ? t1 - t0 : best[0], best[1] = t2 - t1 < best[1] ? t2 - t1 : best[1];
    }
    fprintf(out, "W8A8 Linear %lld x %lld -> %lld: fp32 fake-quantized %.4f s, int8 (%s) %.4f s, int8/fp32 speed %.2fx\n",
            (long long)m, (long long)k, (long long)n, best[0], vs_int8_gemm_available() ? "oneDNN s8*s8" : "exact sgemm blocks",
            best[1], best[0] / best[1]);
    free(x), free(xq), free(wd), free(y), free(deq), free(w), free(q), free(qb);
}

static int modes_main(int64_t s, FILE *out)
{
    static const char *const units[] = {"dense-bf16", "moe-bf16", "vision"};
    double load[1] = {0};
    getloadavg(load, 1);
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(out, "bench_forward --modes: one unit's forward with the Linears in fp32 (sgemm) and in bf16 (oneDNN), "
                 "%lld tokens (vision: %lld patches), %s, %ld cores, %d OpenMP threads, load %.2f at start\n",
            (long long)s, (long long)s / 2, date, sysconf(_SC_NPROCESSORS_ONLN), omp_get_max_threads(), load[0]);
    double p32 = sgemm_peak(4096), pbf = dnnl_peak(4096, dnnl_bf16, dnnl_bf16), pi8 = dnnl_peak(4096, dnnl_u8, dnnl_s8);
    fprintf(out, "peaks (4096^3 products): sgemm %.1f GFLOP/s, oneDNN bf16 %.1f GFLOP/s (%.1fx), oneDNN u8*s8 %.1f "
                 "GOP/s (%.1fx)\n", p32, pbf, pbf / p32, pi8, pi8 / p32);
    static struct unit_case c;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        unit_setup(&c, units[i], s);
        double flops = shapes_flops(c.shapes, c.n_shapes), best[2] = {1e30, 1e30};
        for (int m = 0; m < 2; m++) { /* warm-up of each mode: page in, create the primitives */
            vs_compute_set(m ? VS_COMPUTE_BF16 : VS_COMPUTE_FP32);
            unit_run(&c);
        }
        for (int r = 0; r < REPEATS; r++)
            for (int m = 0; m < 2; m++) {
                vs_compute_set(m ? VS_COMPUTE_BF16 : VS_COMPUTE_FP32);
                usleep(20000);
                double dt = unit_run(&c);
                best[m] = dt < best[m] ? dt : best[m];
            }
        vs_compute_set(VS_COMPUTE_FP32);
        double g32 = flops / best[0] / 1e9, gbf = flops / best[1] / 1e9;
        fprintf(out, "%-34s %6lld tokens  fp32 %8.3f s (%7.1f GFLOP/s, %.2f of sgemm's peak)  bf16 %8.3f s (%7.1f "
                     "GFLOP/s, %.2f of bf16's peak)  bf16/fp32 speed %.2fx\n",
                c.title, (long long)c.tokens, best[0], g32, g32 / p32, best[1], gbf, pbf > 0 ? gbf / pbf : 0,
                best[0] / best[1]);
        fflush(out);
        unit_free(&c);
    }
    int8_report(out, s, 6144, 2048); /* the dense layer's gate_proj */
    int8_report(out, s, 2048, 6144); /* its down_proj */
    int8_report(out, s / 16, 768, 2048); /* a MoE expert's gate_proj on its routed tokens */
    vs_compute_release();
    return 0;
}

/* ---- memory ---- */

static double status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = atof(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

/* One forward in this (fresh) process: prints "weights activations base peak" in MiB. */
static int rss_child(const char *key, int64_t tokens)
{
    double base = status_kib("VmRSS") / 1024;
    struct unit_case c;
    unit_setup(&c, key, tokens);
    int64_t width = c.vision ? c.m.d.v_hidden : c.m.d.hidden;
    memcpy(c.x, c.x0, (size_t)(c.tokens * width) * 4);
    free(c.x0); /* the benchmark's own copy of the input is no part of the forward */
    c.x0 = NULL;
    FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5" resets VmHWM to the current RSS */
    if (f) {
        fputs("5", f);
        fclose(f);
    }
    unit_run(&c);
    double peak = status_kib("VmHWM") / 1024;
    printf("%.1f %.1f %.1f %.1f\n", c.a.bytes / 1048576, c.activations / 1048576, base, peak);
    unit_free(&c);
    return 0;
}

static void rss_report(FILE *out, size_t unit, const char *self, int64_t tokens)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' --rss %s %lld", self, keys[unit], (long long)tokens);
    FILE *p = popen(cmd, "r");
    double w = 0, act = 0, base = 0, peak = 0;
    if (!p || fscanf(p, "%lf %lf %lf %lf", &w, &act, &base, &peak) != 4) {
        fprintf(out, "%-34s peak RSS: not measured (%s failed)\n", titles[unit], cmd);
        if (p)
            pclose(p);
        return;
    }
    pclose(p);
    double bound = 1.1 * (w + act);
    fprintf(out, "%-34s peak RSS %7.1f MiB (%.1f before the unit was built; %.1f for the forward)  bound %.1f MiB "
                 "= 1.1 x (weights %.1f + activations %.1f)  %s\n",
            titles[unit], peak, base, peak - base, bound, w, act, peak - base <= bound ? "within" : "OVER");
    fflush(out);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--rss") == 0)
        return rss_child(argv[2], atoll(argv[3]));
    if (argc == 5 && strcmp(argv[1], "--run") == 0) {
        static struct unit_case c;
        unit_setup(&c, argv[2], atoll(argv[3]));
        for (int r = 0; r < atoi(argv[4]); r++)
            printf("%s: %.3f s\n", c.title, unit_run(&c));
        unit_free(&c);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--modes") == 0) {
        FILE *mout = argc > 3 ? fopen(argv[3], "w") : stdout;
        if (!mout) {
            perror(argv[3]);
            return 1;
        }
        int rc = modes_main(argc > 2 ? atoll(argv[2]) : 2048, mout);
        if (mout != stdout)
            fclose(mout);
        return rc;
    }
    int64_t s = argc > 1 ? atoll(argv[1]) : 2048;
    FILE *out = argc > 2 ? fopen(argv[2], "w") : stdout;
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    double load[1] = {0};
    getloadavg(load, 1);
    fprintf(out, "bench_forward: float32 forward of one unit, %lld tokens (vision: %lld patches), %s, %ld cores, "
                 "%d OpenMP threads, load %.2f at start\n",
            (long long)s, (long long)s / 2, date, sysconf(_SC_NPROCESSORS_ONLN), omp_get_max_threads(), load[0]);
    fprintf(out, "(best of %d interleaved rounds each; ratio = unit GFLOP/s over sgemm GFLOP/s on the same shapes; "
                 "rounds: the median and range of each forward's ratio to the sgemm round just before it)\n",
            REPEATS);
    static struct unit_case c;
    bool chosen[UNITS];
    for (size_t i = 0; i < UNITS; i++) {
        chosen[i] = argc <= 3;
        for (int a = 3; a < argc; a++)
            chosen[i] |= strcmp(argv[a], keys[i]) == 0;
    }
    for (size_t i = 0; i < UNITS; i++) {
        if (!chosen[i])
            continue;
        unit_setup(&c, keys[i], s);
        double flops = shapes_flops(c.shapes, c.n_shapes), best = 1e30, ref_best = 1e30, ratios[REPEATS];
        struct ref_operands ops[8];
        for (size_t j = 0; j < c.n_shapes; j++)
            ref_prepare(&c.shapes[j], &ops[j]);
        unit_run(&c); /* warm-up: page in the weights and the allocator */
        for (int r = 0; r < REPEATS; r++) {
            usleep(20000);
            double tr = ref_round(c.shapes, ops, c.n_shapes);
            usleep(20000);
            double dt = unit_run(&c);
            best = dt < best ? dt : best;
            ref_best = tr < ref_best ? tr : ref_best;
            ratios[r] = tr / dt;
        }
        qsort(ratios, REPEATS, sizeof *ratios, cmp_double);
        double ref = flops / ref_best / 1e9;
        for (size_t j = 0; j < c.n_shapes; j++)
            ref_free(&ops[j]);
        double gf = flops / best / 1e9;
        fprintf(out, "%-34s %6lld tokens  %8.3f s  %9.1f tokens/s  %7.1f GFLOP/s  sgemm %7.1f GFLOP/s  ratio %.2f "
                     "(rounds: median %.2f, %.2f-%.2f)\n",
                c.title, (long long)c.tokens, best, c.tokens / best, gf, ref, gf / ref, ratios[REPEATS / 2], ratios[0],
                ratios[REPEATS - 1]);
        fflush(out);
        unit_free(&c);
    }
    for (size_t i = 0; i < UNITS; i++)
        if (chosen[i])
            rss_report(out, i, self, s);
    if (out != stdout)
        fclose(out);
    return 0;
}
