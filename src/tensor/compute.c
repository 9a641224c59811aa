/* The compute modes and the bf16 Linear through oneDNN's matmul (docs/compute.md). A matmul
 * primitive is created per shape (its JIT kernel costs milliseconds) and kept: a calibration
 * sees the same few row counts in every unit. */
#include "tensor/compute.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/dtype.h"
#include "tensor/kernels.h"

static enum vs_compute mode = VS_COMPUTE_FP32;

void vs_compute_set(enum vs_compute c) { mode = c; }
enum vs_compute vs_compute_get(void) { return mode; }

bool vs_compute_parse(const char *name, enum vs_compute *out)
{
    if (!strcmp(name, "fp32"))
        *out = VS_COMPUTE_FP32;
    else if (!strcmp(name, "bf16"))
        *out = VS_COMPUTE_BF16;
    else
        return false;
    return true;
}

const char *vs_compute_name(enum vs_compute c) { return c == VS_COMPUTE_BF16 ? "bf16" : "fp32"; }

void vs_round_bf16_f32(const float *x, float *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n >= VS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)vs_f32_to_bf16(x[i]) << 16;
        memcpy(y + i, &u, 4);
    }
}

/* rows x cols of src (rows ld apart) into contiguous bf16 */
static void pack_bf16(const float *src, int64_t ld, int64_t rows, int64_t cols, uint16_t *dst)
{
    #pragma omp parallel for schedule(static) if (rows * cols >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * cols;
        #pragma omp simd
        for (int64_t c = 0; c < cols; c++)
            d[c] = vs_f32_to_bf16(s[c]);
    }
}

/* ---- oneDNN ---- */

struct prim {
    int64_t m, n, k, ldw;
    bool w_in_out, s8; /* s8: the int8 product, else bf16 */
    dnnl_primitive_t p;
    unsigned long long used;
};

enum { CACHE = 64 };

static struct {
    pthread_mutex_t lock;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    struct prim cache[CACHE];
    unsigned long long clock;
} dnnl = {.lock = PTHREAD_MUTEX_INITIALIZER};

static enum vs_status dnnl_error(const char *what, dnnl_status_t s)
{
    return vs_error_set(s == dnnl_out_of_memory ? VS_ERR_NOMEM : VS_ERR_INTERNAL, "oneDNN %s: %s", what,
                        dnnl_status2str(s));
}

/* The memory descriptors of one shape: src [m, k] bf16, weights [k, n] bf16 (stored [n, k] with
 * rows ldw apart, or, w_in_out, [k, n] with rows ldw apart), dst [m, n] float32. */
static dnnl_status_t descs(int64_t m, int64_t n, int64_t k, int64_t ldw, bool w_in_out, bool s8, dnnl_memory_desc_t *a,
                           dnnl_memory_desc_t *b, dnnl_memory_desc_t *c)
{
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    dnnl_dims_t strides = {w_in_out ? ldw : 1, w_in_out ? 1 : ldw};
    dnnl_data_type_t in = s8 ? dnnl_s8 : dnnl_bf16;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(a, 2, ad, in, dnnl_ab);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_strides(b, 2, bd, in, strides);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(c, 2, cd, s8 ? dnnl_s32 : dnnl_f32, dnnl_ab);
    return s;
}

/* The primitive of a shape, created on first use (call with the lock held). */
static enum vs_status primitive(int64_t m, int64_t n, int64_t k, int64_t ldw, bool w_in_out, bool s8,
                                dnnl_primitive_t *out)
{
    dnnl_status_t s;
    if (!dnnl.engine) {
        if ((s = dnnl_engine_create(&dnnl.engine, dnnl_cpu, 0)) != dnnl_success)
            return dnnl_error("engine", s);
        if ((s = dnnl_stream_create(&dnnl.stream, dnnl.engine, dnnl_stream_default_flags)) != dnnl_success)
            return dnnl_error("stream", s);
    }
    struct prim *lru = &dnnl.cache[0];
    for (int i = 0; i < CACHE; i++) {
        struct prim *e = &dnnl.cache[i];
        if (e->p && e->m == m && e->n == n && e->k == k && e->ldw == ldw && e->w_in_out == w_in_out && e->s8 == s8) {
            e->used = ++dnnl.clock;
            *out = e->p;
            return VS_OK;
        }
        if (!e->p || e->used < lru->used)
            lru = e;
    }
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if ((s = descs(m, n, k, ldw, w_in_out, s8, &a, &b, &c)) != dnnl_success || (s = dnnl_matmul_desc_init(&md, &a, &b, NULL, &c)) !=
        dnnl_success || (s = dnnl_primitive_desc_create(&pd, &md, NULL, dnnl.engine, NULL)) != dnnl_success ||
        (s = dnnl_primitive_create(&p, pd)) != dnnl_success) {
        if (pd)
            dnnl_primitive_desc_destroy(pd);
        return dnnl_error(s8 ? "int8 matmul" : "bf16 matmul", s);
    }
    dnnl_primitive_desc_destroy(pd);
    if (lru->p)
        dnnl_primitive_destroy(lru->p);
    *lru = (struct prim){.m = m, .n = n, .k = k, .ldw = ldw, .w_in_out = w_in_out, .s8 = s8, .p = p, .used = ++dnnl.clock};
    *out = p;
    return VS_OK;
}

static enum vs_status run(dnnl_primitive_t p, int64_t m, int64_t n, int64_t k, int64_t ldw, bool w_in_out, bool s8,
                          const void *xa, const void *wb, void *y)
{
    dnnl_memory_desc_t a, b, c;
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    dnnl_status_t s = descs(m, n, k, ldw, w_in_out, s8, &a, &b, &c);
    if (s == dnnl_success && (s = dnnl_memory_create(&ma, &a, dnnl.engine, (void *)xa)) == dnnl_success &&
        (s = dnnl_memory_create(&mb, &b, dnnl.engine, (void *)wb)) == dnnl_success &&
        (s = dnnl_memory_create(&mc, &c, dnnl.engine, y)) == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
        if ((s = dnnl_primitive_execute(p, dnnl.stream, 3, args)) == dnnl_success)
            s = dnnl_stream_wait(dnnl.stream);
    }
    if (ma)
        dnnl_memory_destroy(ma);
    if (mb)
        dnnl_memory_destroy(mb);
    if (mc)
        dnnl_memory_destroy(mc);
    return s == dnnl_success ? VS_OK : dnnl_error(s8 ? "int8 matmul" : "bf16 matmul", s);
}

/* One product of a shape through its cached primitive. */
static enum vs_status matmul(int64_t m, int64_t n, int64_t k, int64_t ldw, bool w_in_out, bool s8, const void *x,
                             const void *w, void *y)
{
    pthread_mutex_lock(&dnnl.lock);
    dnnl_primitive_t p;
    enum vs_status st = primitive(m, n, k, ldw, w_in_out, s8, &p);
    if (st == VS_OK)
        st = run(p, m, n, k, ldw, w_in_out, s8, x, w, y);
    pthread_mutex_unlock(&dnnl.lock);
    return st;
}

/* Whether oneDNN takes the bf16 products: on a CPU with AVX512-BF16 or AMX (older ones would
 * run oneDNN's emulation, or nothing); -1: not decided yet. */
static int onednn_bf16 = -1;

void vs_compute_bf16_backend(int onednn) { onednn_bf16 = onednn < 0 ? -1 : onednn > 0; }

static bool use_onednn_bf16(void)
{
    if (onednn_bf16 < 0) {
        dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        onednn_bf16 = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    }
    return onednn_bf16 > 0;
}

/* Without oneDNN's bf16: the same rounding, the products of the rounded operands summed by sgemm
 * (a product of two bf16 values is exact in float32; only the summation order differs). */
static enum vs_status linear_bf16_sgemm(const float *x, const uint16_t *wb, int64_t ldw, bool w_in_out,
                                        const float *bias, float *y, int64_t m, int64_t n, int64_t k)
{
    int64_t wr = w_in_out ? k : n, wc = w_in_out ? n : k;
    float *xr = malloc((size_t)(m * k) * sizeof *xr), *wf = malloc((size_t)(n * k) * sizeof *wf);
    if (!xr || !wf) {
        free(xr), free(wf);
        return VS_ERR_NOMEM;
    }
    vs_round_bf16_f32(x, xr, (size_t)(m * k));
    #pragma omp parallel for schedule(static) if (n * k >= VS_PARALLEL_MIN)
    for (int64_t r = 0; r < wr; r++)
        vs_convert_to_f32(VS_DTYPE_BF16, wb + r * ldw, wf + r * wc, (size_t)wc);
    if (w_in_out)
        vs_linear_in_out_f32(xr, wf, n, bias, y, m, n, k);
    else
        vs_linear_f32(xr, wf, bias, y, m, n, k);
    free(xr), free(wf);
    return VS_OK;
}

/* bf16(x) times the bf16 weight wb (as descs describes it), plus the bias. */
static enum vs_status linear_bf16(const float *x, const uint16_t *wb, int64_t ldw, bool w_in_out, const float *bias,
                                  float *y, int64_t m, int64_t n, int64_t k)
{
    if (!use_onednn_bf16())
        return linear_bf16_sgemm(x, wb, ldw, w_in_out, bias, y, m, n, k);
    uint16_t *xa = malloc((size_t)(m * k) * sizeof *xa);
    if (!xa)
        return VS_ERR_NOMEM;
    pack_bf16(x, k, m, k, xa);
    enum vs_status st = matmul(m, n, k, ldw, w_in_out, false, xa, wb, y);
    free(xa);
    if (st == VS_OK && bias) {
        #pragma omp parallel for schedule(static) if (m * n >= VS_PARALLEL_MIN)
        for (int64_t r = 0; r < m; r++)
            for (int64_t c = 0; c < n; c++)
                y[r * n + c] += bias[c];
    }
    return st;
}

enum vs_status vs_linear_bf16(const float *x, const float *w, int64_t ldw, bool w_in_out, const float *bias,
                              float *y, int64_t m, int64_t n, int64_t k)
{
    if (m == 0 || n == 0)
        return VS_OK;
    uint16_t *wb = malloc((size_t)(n * k) * sizeof *wb);
    if (!wb)
        return VS_ERR_NOMEM;
    if (w_in_out)
        pack_bf16(w, ldw, k, n, wb);
    else
        pack_bf16(w, ldw, n, k, wb);
    enum vs_status st = linear_bf16(x, wb, w_in_out ? n : k, w_in_out, bias, y, m, n, k);
    free(wb);
    return st;
}

enum vs_status vs_linear_bf16_weights(const float *x, const uint16_t *w, int64_t ldw, bool w_in_out, const float *bias,
                                      float *y, int64_t m, int64_t n, int64_t k)
{
    if (m == 0 || n == 0)
        return VS_OK;
    return linear_bf16(x, w, ldw, w_in_out, bias, y, m, n, k);
}

static int onednn_int8 = -1; /* as onednn_bf16 */

void vs_compute_int8_backend(int onednn) { onednn_int8 = onednn < 0 ? -1 : onednn > 0; }

bool vs_int8_gemm_available(void)
{
    /* VNNI's dot products do not saturate; oneDNN's int8 kernels without them may (AVX2's
     * vpmaddubsw), so older CPUs keep the exact float32 path of quant/int8_linear.c */
    if (onednn_int8 < 0) {
        dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        onednn_int8 = (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
                      (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
    }
    return onednn_int8 > 0;
}

enum vs_status vs_gemm_s8(const int8_t *x, const int8_t *w, int32_t *acc, int64_t m, int64_t n, int64_t k)
{
    if (m == 0 || n == 0)
        return VS_OK;
    return matmul(m, n, k, k, false, true, x, w, acc);
}

void vs_compute_release(void)
{
    pthread_mutex_lock(&dnnl.lock);
    for (int i = 0; i < CACHE; i++)
        if (dnnl.cache[i].p)
            dnnl_primitive_destroy(dnnl.cache[i].p);
    memset(dnnl.cache, 0, sizeof dnnl.cache);
    if (dnnl.stream)
        dnnl_stream_destroy(dnnl.stream);
    if (dnnl.engine)
        dnnl_engine_destroy(dnnl.engine);
    dnnl.stream = NULL, dnnl.engine = NULL;
    pthread_mutex_unlock(&dnnl.lock);
}
