#include "tensor/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/simd_math.h"

/* OpenBLAS is held at one thread inside the kernels' OpenMP regions, so that one pool of threads
 * (OpenMP's) does all the work: two pools on the same cores would spin against each other. */
static int blas_single_begin(void)
{
    int n = openblas_get_num_threads();
    if (n != 1)
        openblas_set_num_threads(1);
    return n;
}

static void blas_single_end(int n)
{
    if (n != 1)
        openblas_set_num_threads(n);
}

/* y is computed in tiles of rows × columns (columns in multiples of 16), each by one
 * single-threaded GEMM, the tiles shared out over the OpenMP threads. The tiles depend on the
 * shape alone, never on the thread count: OpenBLAS's kernels (Haswell's, Zen's) round an element
 * differently depending on the size of the GEMM it falls in, so a split by threads made exports
 * depend on OMP_NUM_THREADS. Tiles start at 512 × 512 and are halved, the side with fewer tiles
 * first, down to 128 × 128, until there are at least LINEAR_TILES_MIN of them: each GEMM repacks
 * its block of x and of w (2-13% of a single-threaded GEMM at 128 × 128, more below), while too
 * few tiles leave threads idle. A tiled GEMM runs at 0.92-1.06 of OpenBLAS's own two-thread sgemm
 * on Qwen3-VL's shapes; a whole unit's forward pays up to 6-15% for it against a split by threads
 * (bench/results/forward.txt).
 * w_in_out: w is [k, n] with row stride ldw (y = x·w), else [n, k] (y = x·wᵀ). */
enum { LINEAR_TILE_START = 512, LINEAR_TILE_LEAST = 128, LINEAR_TILES_MIN = 16 };

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* The side of a tile: the start, halved while half of it still covers len, not below the least. */
static int64_t tile_side(int64_t len)
{
    int64_t side = LINEAR_TILE_START;
    while (side > LINEAR_TILE_LEAST && side / 2 >= len)
        side /= 2;
    return side;
}

static void linear_tiles(int64_t m, int64_t n, int64_t *tile_rows, int64_t *tile_cols)
{
    int64_t tr = tile_side(m), tc = tile_side(n);
    while (ceil_div(m, tr) * ceil_div(n, tc) < LINEAR_TILES_MIN) {
        bool rows_can = tr > LINEAR_TILE_LEAST, cols_can = tc > LINEAR_TILE_LEAST;
        if (!rows_can && !cols_can)
            break;
        if (rows_can && (!cols_can || ceil_div(m, tr) < ceil_div(n, tc)))
            tr /= 2;
        else
            tc /= 2;
    }
    *tile_rows = tr < m ? tr : m;
    *tile_cols = tc < n ? tc : n;
}

static void linear_split(const float *x, const float *w, bool w_in_out, int64_t ldw, const float *bias, float *y,
                         int64_t m, int64_t n, int64_t k)
{
    int64_t tr = m, tc = n;
    if ((double)m * (double)n * (double)k >= 16.0 * VS_PARALLEL_MIN)
        linear_tiles(m, n, &tr, &tc);
    int64_t row_tiles = ceil_div(m, tr), col_tiles = ceil_div(n, tc), tiles = row_tiles * col_tiles;
    int nthreads = omp_in_parallel() || tiles == 1 ? 1 : omp_get_max_threads();
    int blas_threads = omp_in_parallel() ? 1 : blas_single_begin();
    #pragma omp parallel for schedule(dynamic) num_threads(nthreads)
    for (int64_t tile = 0; tile < tiles; tile++) {
        int64_t r0 = tile / col_tiles * tr, c0 = tile % col_tiles * tc;
        int64_t rows = m - r0 < tr ? m - r0 : tr, cols = n - c0 < tc ? n - c0 : tc;
        const float *xp = x + r0 * k;
        const float *wp = w_in_out ? w + c0 : w + c0 * ldw;
        float *yp = y + r0 * n + c0;
        float beta = 0.0f;
        if (bias) {
            for (int64_t i = 0; i < rows; i++)
                memcpy(yp + i * n, bias + c0, (size_t)cols * sizeof *y);
            beta = 1.0f;
        }
        if (rows == 1) /* one row (the last position's logits): a matrix-vector product, no packing */
            cblas_sgemv(CblasRowMajor, w_in_out ? CblasTrans : CblasNoTrans, (blasint)(w_in_out ? k : cols),
                        (blasint)(w_in_out ? cols : k), 1.0f, wp, (blasint)ldw, xp, 1, beta, yp, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, w_in_out ? CblasNoTrans : CblasTrans, (blasint)rows,
                        (blasint)cols, (blasint)k, 1.0f, xp, (blasint)k, wp, (blasint)ldw, beta, yp, (blasint)n);
    }
    blas_single_end(blas_threads);
}

void vs_linear_f32(const float *x, const float *w, const float *bias, float *y, int64_t m, int64_t n, int64_t k)
{
    linear_split(x, w, false, k, bias, y, m, n, k);
}

void vs_linear_in_out_f32(const float *x, const float *w, int64_t ldw, const float *bias, float *y, int64_t m,
                          int64_t n, int64_t k)
{
    linear_split(x, w, true, ldw, bias, y, m, n, k);
}

void vs_add_f32(float *x, const float *y, int64_t n)
{
    #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

void vs_rmsnorm_f32(const float *x, const float *gamma, float eps, float *y, int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static) if (rows * n >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double ss = 0.0;
        #pragma omp simd reduction(+ : ss)
        for (int64_t i = 0; i < n; i++)
            ss += (double)xr[i] * xr[i];
        float inv = 1.0f / sqrtf((float)(ss / (double)n) + eps);
        #pragma omp simd
        for (int64_t i = 0; i < n; i++)
            yr[i] = xr[i] * inv * gamma[i];
    }
}

void vs_layernorm_f32(const float *x, const float *gamma, const float *beta, float eps, float *y,
                      int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static) if (rows * n >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double sum = 0.0;
        #pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++)
            sum += xr[i];
        float mean = (float)(sum / (double)n);
        double var = 0.0;
        #pragma omp simd reduction(+ : var)
        for (int64_t i = 0; i < n; i++) {
            double dlt = (double)xr[i] - mean;
            var += dlt * dlt;
        }
        float inv = 1.0f / sqrtf((float)(var / (double)n) + eps);
        if (beta) {
            #pragma omp simd
            for (int64_t i = 0; i < n; i++)
                yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
        } else {
            #pragma omp simd
            for (int64_t i = 0; i < n; i++)
                yr[i] = (xr[i] - mean) * inv * gamma[i];
        }
    }
}

/* Element-wise kernels run in chunks over the threads; each chunk is one vectorized loop. */
enum { CHUNK = 16384 };

VS_VECTOR_CLONES static void gelu_tanh_span(float *x, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void vs_gelu_tanh_f32(float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) if (n >= VS_PARALLEL_MIN)
    for (int64_t c = 0; c < n; c += CHUNK)
        gelu_tanh_span(x + c, n - c < CHUNK ? n - c : CHUNK);
}

VS_VECTOR_CLONES static void gelu_erf_span(float *x, int64_t n)
{
    #pragma omp simd
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
}

void vs_gelu_erf_f32(float *x, int64_t n)
{
    #pragma omp parallel for schedule(static) if (n >= VS_PARALLEL_MIN)
    for (int64_t c = 0; c < n; c += CHUNK)
        gelu_erf_span(x + c, n - c < CHUNK ? n - c : CHUNK);
}

VS_VECTOR_CLONES static void silu_mul_span(const float *gate, const float *up, float *out, int64_t n)
{
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void vs_silu_mul_f32(const float *gate, const float *up, float *out, int64_t n)
{
    #pragma omp parallel for schedule(static) if (n >= VS_PARALLEL_MIN)
    for (int64_t c = 0; c < n; c += CHUNK)
        silu_mul_span(gate + c, up + c, out + c, n - c < CHUNK ? n - c : CHUNK);
}

/* x[i] = exp(x[i] − max x) over x[0, n); returns the sum (normalising is left to the caller). */
VS_VECTOR_CLONES static float exp_shifted(float *x, int64_t n)
{
    float mx = -INFINITY;
    #pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    #pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

static void softmax_row(float *x, int64_t n)
{
    float inv = 1.0f / exp_shifted(x, n);
    #pragma omp simd
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void vs_softmax_rows_f32(float *x, int64_t rows, int64_t n)
{
    #pragma omp parallel for schedule(static) if (rows * n >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++)
        softmax_row(x + r * n, n);
}

void vs_rope_f32(float *x, const float *cos, const float *sin, int64_t tokens, int64_t heads, int64_t d)
{
    int64_t half = d / 2;
    #pragma omp parallel for schedule(static) if (tokens * heads * d >= VS_PARALLEL_MIN)
    for (int64_t t = 0; t < tokens; t++) {
        const float *c = cos + t * d, *s = sin + t * d;
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + (t * heads + h) * d;
            #pragma omp simd
            for (int64_t i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i + half] + a * s[i + half];
            }
        }
    }
}

/* Query rows per attention block: one block of a kv head holds the rows of all the query heads
 * sharing that kv head, so each block is two GEMMs with M = ATTN_ROWS against the keys it may
 * see. 256 rows keep a thread's scores for 2048 keys within its 2 MiB L2. */
enum { ATTN_ROWS = 256 };

/* The keys of one block: [lo, hi) for the block, and for each of its tokens the span
 * [first[i], last[i]) it may see. */
static void block_spans(int64_t s, int64_t i0, int64_t i1, bool causal, const int32_t *segments, int64_t *lo,
                        int64_t *hi, int64_t *first, int64_t *last)
{
    if (!segments) {
        *lo = 0;
        *hi = causal ? i1 : s;
        for (int64_t t = i0; t < i1; t++)
            first[t - i0] = 0, last[t - i0] = causal ? t + 1 : s;
        return;
    }
    int64_t a = i0, b = i0;
    while (a > 0 && segments[a - 1] == segments[i0])
        a--;
    *lo = a;
    for (int64_t t = i0; t < i1; t++) { /* segments are non-decreasing: spans only move right */
        while (segments[a] != segments[t])
            a++;
        if (causal) {
            first[t - i0] = a, last[t - i0] = t + 1;
            continue;
        }
        if (b <= t)
            b = t + 1;
        while (b < s && segments[b] == segments[t])
            b++;
        first[t - i0] = a, last[t - i0] = b;
    }
    *hi = causal ? i1 : b;
}

/* One block: tokens [i0, i1) of the query heads of kv head kvh. ws holds the gathered queries
 * and outputs (rows × d each), the scores (rows × s) and the row sums. */
static void attention_block(const float *q, const float *k, const float *v, float *out, int64_t s, int64_t hq,
                            int64_t hkv, int64_t d, int64_t kvh, int64_t i0, int64_t i1, bool causal,
                            const int32_t *segments, float *ws, int64_t *spans)
{
    int64_t g = hq / hkv, nt = i1 - i0, rows = nt * g;
    float *qb = ws, *ob = qb + ATTN_ROWS * d, *sc = ob + ATTN_ROWS * d, *inv = sc + ATTN_ROWS * s;
    int64_t *first = spans, *last = spans + ATTN_ROWS, lo, hi;
    block_spans(s, i0, i1, causal, segments, &lo, &hi, first, last);
    int64_t nk = hi - lo;
    /* the g query heads of a kv head are adjacent in q: row (t, j) of the block is q[t, kvh·g + j] */
    for (int64_t t = 0; t < nt; t++)
        memcpy(qb + t * g * d, q + ((i0 + t) * hq + kvh * g) * d, (size_t)(g * d) * sizeof *qb);
    const float *kb = k + (lo * hkv + kvh) * d, *vb = v + (lo * hkv + kvh) * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)nk, (blasint)d,
                1.0f / sqrtf((float)d), qb, (blasint)d, kb, (blasint)(hkv * d), 0.0f, sc, (blasint)nk);
    for (int64_t r = 0; r < rows; r++) {
        float *row = sc + r * nk;
        int64_t a = first[r / g] - lo, b = last[r / g] - lo;
        inv[r] = 1.0f / exp_shifted(row + a, b - a);
        memset(row, 0, (size_t)a * sizeof *row);
        memset(row + b, 0, (size_t)(nk - b) * sizeof *row);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)d, (blasint)nk, 1.0f, sc,
                (blasint)nk, vb, (blasint)(hkv * d), 0.0f, ob, (blasint)d);
    for (int64_t t = 0; t < nt; t++) {
        float *dst = out + ((i0 + t) * hq + kvh * g) * d;
        for (int64_t j = 0; j < g; j++) {
            float f = inv[t * g + j];
            const float *src = ob + (t * g + j) * d;
            #pragma omp simd
            for (int64_t c = 0; c < d; c++)
                dst[j * d + c] = src[c] * f;
        }
    }
}

/* Blocks of all kv heads are spread over the OpenMP threads, largest (latest, when causal) first,
 * each thread running single-threaded GEMMs. */
enum vs_status vs_attention_f32(const float *q, const float *k, const float *v, float *out, int64_t s, int64_t hq,
                                int64_t hkv, int64_t d, bool causal, const int32_t *segments)
{
    int64_t g = hq / hkv, nt = ATTN_ROWS / g > 0 ? ATTN_ROWS / g : 1;
    if (g > ATTN_ROWS)
        return vs_error_set(VS_ERR_INTERNAL, "attention: %lld query heads per kv head exceed the block of %d rows",
                            (long long)g, ATTN_ROWS);
    int64_t nblocks = (s + nt - 1) / nt;
    /* Causal within segments: blocks start at each segment's first token, so that every block
     * is computed as it would be on its segment alone. */
    int64_t *starts = causal && segments ? malloc((size_t)(s + 1) * sizeof *starts) : NULL;
    if (starts) {
        nblocks = 0;
        for (int64_t a = 0, b; a < s; a = b) {
            for (b = a; b < s && segments[b] == segments[a]; b++)
                ;
            for (int64_t t = a; t < b; t += nt)
                starts[nblocks++] = t;
        }
        starts[nblocks] = s;
    }
    int64_t ntasks = nblocks * hkv;
    int nthreads = omp_get_max_threads();
    size_t per_thread = (size_t)(2 * ATTN_ROWS * d + ATTN_ROWS * s + ATTN_ROWS);
    float *ws = malloc((size_t)nthreads * per_thread * sizeof *ws);
    int64_t *spans = malloc((size_t)nthreads * 2 * ATTN_ROWS * sizeof *spans);
    if (!ws || !spans || (causal && segments && !starts)) {
        free(ws), free(spans), free(starts);
        return vs_error_set(VS_ERR_NOMEM, "attention over %lld tokens: cannot allocate %zu bytes of workspace",
                            (long long)s, (size_t)nthreads * per_thread * sizeof *ws);
    }
    int blas_threads = omp_in_parallel() ? 1 : blas_single_begin();
    #pragma omp parallel
    {
        int id = omp_get_thread_num();
        #pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < ntasks; task++) {
            int64_t b = causal ? nblocks - 1 - task / hkv : task / hkv, kvh = task % hkv;
            int64_t i0 = starts ? starts[b] : b * nt, i1 = starts ? starts[b + 1] : i0 + nt < s ? i0 + nt : s;
            attention_block(q, k, v, out, s, hq, hkv, d, kvh, i0, i1, causal, segments,
                            ws + (size_t)id * per_thread, spans + (size_t)id * 2 * ATTN_ROWS);
        }
    }
    blas_single_end(blas_threads);
    free(ws), free(spans), free(starts);
    return VS_OK;
}
