/* The kernels' integer arithmetic for quantized Linears (quant/int8_linear.h), bit for bit
 * against a straightforward integer reference: int64 sums of int8 products, with a reduction
 * long enough that a float32 accumulation would not be exact; for vLLM Ascend's kernels and
 * vLLM's (the zero point's ΣW adjustment, the fused epilogue, the MoE kernel's own rounding);
 * the activation quantizers' rounding (half to even after the reciprocal scale and the offset
 * on the NPU, after a division on vLLM, half away from zero in vLLM's MoE kernel) and clamping;
 * W8A16 against a plain float loop. The int8 sums both on oneDNN and on float32 blocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant/int8_linear.h"
#include "tensor/compute.h"

static uint32_t rng = 12345;
static uint32_t next(void) { return rng = rng * 1664525u + 1013904223u; }
static float uniform(float a) { return ((float)(next() >> 8) / 16777216.0f * 2 - 1) * a; }

enum { ROWS = 5, OUT = 7, IN = 3001 }; /* |Σ| up to 3001·128·127 > 2^24 */

static float row_absmax(const float *x)
{
    float m = 0;
    for (int c = 0; c < IN; c++)
        m = fmaxf(m, fabsf(x[c]));
    return m;
}

struct fixture {
    int8_t w[OUT * IN];
    float x[ROWS * IN];
    int32_t qb[OUT];
    float deq[OUT], ws[OUT], wo[OUT], bias[OUT];
};

static struct fixture *make(void)
{
    struct fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < OUT * IN; i++)
        f->w[i] = (int8_t)((int)(next() % 256) - 128);
    for (int i = 0; i < ROWS * IN; i++)
        f->x[i] = uniform(3.0f);
    for (int i = 0; i < IN; i++) /* saturated inputs, so that the sums are large */
        f->x[i] = f->w[i] >= 0 ? 50.0f : -50.0f;
    for (int o = 0; o < OUT; o++) {
        f->qb[o] = (int32_t)(next() % 20001) - 10000;
        f->deq[o] = 1e-4f * (1 + (float)o);
        f->ws[o] = 0.01f + 0.001f * (float)o;
        f->wo[o] = (float)o - 3;
        f->bias[o] = uniform(1.0f);
    }
    return f;
}

static void test_w8a8_static(void **state)
{
    (void)state;
    struct fixture *f = make();
    const float s = 0.0213f, off = -7.0f;
    struct vs_int8_linear l = {.name = "fc", .scheme = VS_INT8_W8A8, .out = OUT, .in = IN, .w = f->w,
                               .input_scale = s, .input_offset = off, .quant_bias = f->qb, .deq_scale = f->deq};
    float y[ROWS * OUT];
    assert_int_equal(vs_int8_linear_apply(&l, f->x, ROWS, y), VS_OK);
    const float r = 1.0f / s;
    bool saturated = false;
    for (int t = 0; t < ROWS; t++)
        for (int o = 0; o < OUT; o++) {
            int64_t acc = 0;
            for (int c = 0; c < IN; c++) {
                float v = rintf(f->x[t * IN + c] * r + off);
                int64_t q = v < -128 ? -128 : v > 127 ? 127 : (int64_t)v;
                acc += q * f->w[o * IN + c];
            }
            saturated |= llabs(acc) > (1 << 24);
            float want = (float)(acc + f->qb[o]) * f->deq[o];
            assert_true(y[t * OUT + o] == want);
        }
    assert_true(saturated); /* the case float32 sums would get wrong */
    free(f);
}

static void test_w8a8_dynamic(void **state)
{
    (void)state;
    struct fixture *f = make();
    struct vs_int8_linear l = {.name = "fc", .scheme = VS_INT8_W8A8_DYNAMIC, .out = OUT, .in = IN, .w = f->w,
                               .weight_scale = f->ws, .bias = f->bias};
    float y[ROWS * OUT];
    assert_int_equal(vs_int8_linear_apply(&l, f->x, ROWS, y), VS_OK);
    for (int t = 0; t < ROWS; t++) {
        float s = fmaxf(row_absmax(f->x + t * IN) / 127.0f, FLT_EPSILON);
        for (int o = 0; o < OUT; o++) {
            int64_t acc = 0;
            for (int c = 0; c < IN; c++)
                acc += (int64_t)fminf(fmaxf(rintf(f->x[t * IN + c] / s), -128), 127) * f->w[o * IN + c];
            float want = (float)acc * s * f->ws[o] + f->bias[o];
            assert_true(y[t * OUT + o] == want);
        }
    }
    free(f);
}

static void test_w8a16(void **state)
{
    (void)state;
    struct fixture *f = make();
    struct vs_int8_linear l = {.name = "fc", .scheme = VS_INT8_W8A16, .out = OUT, .in = IN, .w = f->w,
                               .weight_scale = f->ws, .weight_offset = f->wo, .bias = f->bias};
    float y[ROWS * OUT];
    assert_int_equal(vs_int8_linear_apply(&l, f->x, ROWS, y), VS_OK);
    for (int t = 0; t < ROWS; t++)
        for (int o = 0; o < OUT; o++) {
            double acc = f->bias[o], mag = fabs(f->bias[o]);
            for (int c = 0; c < IN; c++) {
                double w = ((double)f->w[o * IN + c] + f->wo[o]) * f->ws[o];
                acc += (double)f->x[t * IN + c] * w;
                mag += fabs((double)f->x[t * IN + c] * w);
            }
            assert_true(fabs(y[t * OUT + o] - acc) <= 1e-5 * mag);
        }
    free(f);
}

/* Half to even after x·(1/s) + o; clamped to int8; a zero row's dynamic scale is FLT_EPSILON;
 * the dynamic scale of a row whose largest |x| is 127 is 1, so its values round as they are. */
static void test_quantizers(void **state)
{
    (void)state;
    const float x[6] = {0.25f, 0.75f, -0.25f, 1000.0f, -1000.0f, 0.0f};
    int8_t q[6];
    vs_int8_quantize_static(VS_INT8_ASCEND, x, 6, 0.5f, 1.0f, q); /* x·2 + 1: 1.5, 2.5, 0.5, ... */
    const float want[6] = {2, 2, 0, 127, -128, 1};
    for (int i = 0; i < 6; i++)
        assert_true(q[i] == want[i]);
    const float z[3] = {0, 0, 0};
    float s;
    vs_int8_quantize_token(VS_INT8_ASCEND, z, 1, 3, q, &s);
    assert_true(s == FLT_EPSILON && q[0] == 0 && q[2] == 0);
    const float v[5] = {-127.0f, 2.5f, 3.5f, -0.5f, 126.4f};
    vs_int8_quantize_token(VS_INT8_ASCEND, v, 1, 5, q, &s);
    const float want_t[5] = {-127, 2, 4, -0.0f, 126};
    assert_true(s == 1.0f);
    for (int i = 0; i < 5; i++)
        assert_true(q[i] == want_t[i]);
}

static int64_t clamp_q(float v) { return v < -128 ? -128 : v > 127 ? 127 : (int64_t)v; }

/* vLLM's static W8A8 with a zero point: q = clamp(rint(x / s) + zp), y = fma(s, s_w · (acc − zp·ΣW), b). */
static void test_vllm_w8a8_static(void **state)
{
    (void)state;
    struct fixture *f = make();
    const float s = 0.0213f, zp = -7.0f;
    struct vs_int8_linear l = {.name = "fc", .scheme = VS_INT8_W8A8, .kernel = VS_INT8_VLLM, .out = OUT, .in = IN,
                               .w = f->w, .input_scale = s, .input_offset = zp, .weight_scale = f->ws,
                               .bias = f->bias};
    float y[ROWS * OUT];
    assert_int_equal(vs_int8_linear_apply(&l, f->x, ROWS, y), VS_OK);
    bool saturated = false;
    for (int t = 0; t < ROWS; t++)
        for (int o = 0; o < OUT; o++) {
            int64_t acc = 0, wsum = 0;
            for (int c = 0; c < IN; c++) {
                acc += clamp_q(rintf(f->x[t * IN + c] / s) + zp) * f->w[o * IN + c];
                wsum += f->w[o * IN + c];
            }
            saturated |= llabs(acc) > (1 << 24);
            float want = fmaf(s, f->ws[o] * (float)(acc - (int64_t)zp * wsum), f->bias[o]);
            assert_true(y[t * OUT + o] == want);
        }
    assert_true(saturated);
    free(f);
}

/* vLLM's dense per-token quantization (x · (127 / m), half to even) and its MoE kernel's (half
 * away from zero), each with its own epilogue. */
static void test_vllm_w8a8_dynamic(void **state)
{
    (void)state;
    struct fixture *f = make();
    for (int moe = 0; moe <= 1; moe++) {
        struct vs_int8_linear l = {.name = "fc", .scheme = VS_INT8_W8A8_DYNAMIC,
                                   .kernel = moe ? VS_INT8_VLLM_MOE : VS_INT8_VLLM, .out = OUT, .in = IN, .w = f->w,
                                   .weight_scale = f->ws, .bias = f->bias};
        float y[ROWS * OUT];
        assert_int_equal(vs_int8_linear_apply(&l, f->x, ROWS, y), VS_OK);
        for (int t = 0; t < ROWS; t++) {
            float m = row_absmax(f->x + t * IN), r = 127.0f / m, st = m / 127.0f;
            for (int o = 0; o < OUT; o++) {
                int64_t acc = 0;
                for (int c = 0; c < IN; c++) {
                    float v = f->x[t * IN + c] * r;
                    acc += clamp_q(moe ? roundf(v) : rintf(v)) * f->w[o * IN + c];
                }
                float want = moe ? (float)acc * st * f->ws[o] + f->bias[o] : fmaf(st, f->ws[o] * (float)acc, f->bias[o]);
                assert_true(y[t * OUT + o] == want);
            }
        }
    }
    free(f);
}

/* Where the kernels' quantizers part: a division and a reciprocal product on either side of .5,
 * the zero point added after rounding, halves to even or away from zero, a zero row. */
static void test_vllm_quantizers(void **state)
{
    (void)state;
    const float x = -0.99499995f; /* x / 0.01f = -99.5 exactly, x · (1 / 0.01f) = -99.49999 */
    int8_t q;
    float s;
    vs_int8_quantize_static(VS_INT8_VLLM, &x, 1, 0.01f, 0.0f, &q);
    assert_true(q == -100);
    vs_int8_quantize_static(VS_INT8_ASCEND, &x, 1, 0.01f, 0.0f, &q);
    assert_true(q == -99);
    const float big = 1.0f; /* 100 + 100 clamps after the zero point is added */
    vs_int8_quantize_static(VS_INT8_VLLM, &big, 1, 0.01f, 100.0f, &q);
    assert_true(q == 127);
    const float v[4] = {-127.0f, 2.5f, 3.5f, -0.5f};
    int8_t qv[4];
    vs_int8_quantize_token(VS_INT8_VLLM, v, 1, 4, qv, &s);
    assert_true(s == 1.0f && qv[0] == -127 && qv[1] == 2 && qv[2] == 4 && qv[3] == 0);
    vs_int8_quantize_token(VS_INT8_VLLM_MOE, v, 1, 4, qv, &s);
    assert_true(s == 1.0f && qv[0] == -127 && qv[1] == 3 && qv[2] == 4 && qv[3] == -1);
    const float z[2] = {0, 0};
    vs_int8_quantize_token(VS_INT8_VLLM, z, 1, 2, qv, &s);
    assert_true(s == 0.0f && qv[0] == 0 && qv[1] == 0);
    vs_int8_quantize_token(VS_INT8_VLLM_MOE, z, 1, 2, qv, &s);
    assert_true(s == 1e-10f / 127.0f && qv[0] == 0 && qv[1] == 0);
}

/* The quantizers against their definition with libm's rintf, fmaxf and fminf: halves on either
 * side of every integer in and beyond int8's range, values near 2^22 and 2^23 (beyond which the
 * inlined rounding is inexact but clamped), huge ones, infinities and NaN (clamped to -128), each with a
 * zero point added before (Ascend) or after (vLLM) the rounding. */
static void test_quantizer_rounding(void **state)
{
    (void)state;
    enum { N = 4096 };
    static float x[N];
    int n = 0;
    for (int i = -600; i <= 600 && n < N - 64; i++) {
        float base = (float)i * 0.5f;
        x[n++] = base;
        x[n++] = nextafterf(base, INFINITY);
        x[n++] = nextafterf(base, -INFINITY);
    }
    const float big[] = {4194303.5f, 4194304.0f, 4194304.5f, 8388607.5f, 8388608.0f, 16777217.0f, -4194303.5f,
                         -4194304.5f, -8388607.5f, 3.0e38f, -3.0e38f, INFINITY, -INFINITY, NAN, -0.0f};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        x[n++] = big[i];
    static int8_t q[N];
    const float offsets[] = {0.0f, 3.0f, -128.0f, 127.0f};
    for (size_t oi = 0; oi < sizeof offsets / sizeof *offsets; oi++) {
        float off = offsets[oi];
        vs_int8_quantize_static(VS_INT8_ASCEND, x, n, 1.0f, off, q);
        for (int i = 0; i < n; i++)
            assert_int_equal(q[i], (int8_t)fminf(fmaxf(rintf(x[i] * 1.0f + off), -128.0f), 127.0f));
        vs_int8_quantize_static(VS_INT8_VLLM, x, n, 1.0f, off, q);
        for (int i = 0; i < n; i++)
            assert_int_equal(q[i], (int8_t)fminf(fmaxf(rintf(x[i] / 1.0f) + off, -128.0f), 127.0f));
    }
    /* per token (Ascend): one row whose largest |x| is 300, so s = 300/127 and x/s spans halves */
    static float r[N];
    for (int i = 0; i < 1201; i++)
        r[i] = x[i];
    r[1201] = 300.0f;
    float s;
    vs_int8_quantize_token(VS_INT8_ASCEND, r, 1, 1202, q, &s);
    for (int i = 0; i < 1202; i++)
        assert_int_equal(q[i], (int8_t)fminf(fmaxf(rintf(r[i] / s), -128.0f), 127.0f));
}

/* A wide layer's rows go through in blocks whose int32 sums stay within 32 MiB (oneDNN) or whose
 * float32 partial products stay within 16 MiB: 520 rows of 32768 outputs are three or five blocks,
 * and every row comes out as it does alone, static and per-token. */
static void test_row_blocks(void **state)
{
    (void)state;
    enum { WROWS = 520, WOUT = 32768, WIN = 16 };
    int8_t *w = malloc(WOUT * WIN);
    float *x = malloc(sizeof(float) * WROWS * WIN), *y = malloc(sizeof(float) * WROWS * WOUT);
    float *one = malloc(sizeof(float) * WOUT), *ws = malloc(sizeof(float) * WOUT), *deq = malloc(sizeof(float) * WOUT);
    int32_t *qb = malloc(sizeof(int32_t) * WOUT);
    assert_true(w && x && y && one && ws && deq && qb);
    for (int i = 0; i < WOUT * WIN; i++)
        w[i] = (int8_t)((int)(next() % 256) - 128);
    for (int i = 0; i < WROWS * WIN; i++)
        x[i] = uniform(3.0f);
    for (int o = 0; o < WOUT; o++)
        ws[o] = 0.01f, deq[o] = 1e-3f, qb[o] = (int32_t)(next() % 201) - 100;
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        struct vs_int8_linear l = {.name = "wide", .scheme = dynamic ? VS_INT8_W8A8_DYNAMIC : VS_INT8_W8A8,
                                   .out = WOUT, .in = WIN, .w = w, .weight_scale = ws, .input_scale = 0.03f,
                                   .input_offset = 2.0f, .quant_bias = qb, .deq_scale = deq};
        assert_int_equal(vs_int8_linear_apply(&l, x, WROWS, y), VS_OK);
        for (int t = 0; t < WROWS; t++) {
            assert_int_equal(vs_int8_linear_apply(&l, x + t * WIN, 1, one), VS_OK);
            assert_memory_equal(y + (size_t)t * WOUT, one, sizeof(float) * WOUT);
        }
    }
    free(w), free(x), free(y), free(one), free(ws), free(deq), free(qb);
}

/* Each test runs twice: with the int8 products on oneDNN (where the CPU has VNNI or AMX) and on the
 * float32 blocks. */
static int onednn_products(void **state)
{
    (void)state;
    vs_compute_int8_backend(-1);
    return 0;
}

static int float32_products(void **state)
{
    (void)state;
    vs_compute_int8_backend(0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w8a8_static),
        cmocka_unit_test(test_w8a8_dynamic),
        cmocka_unit_test(test_w8a16),
        cmocka_unit_test(test_quantizers),
        cmocka_unit_test(test_vllm_w8a8_static),
        cmocka_unit_test(test_vllm_w8a8_dynamic),
        cmocka_unit_test(test_vllm_quantizers),
        cmocka_unit_test(test_quantizer_rounding),
        cmocka_unit_test(test_row_blocks),
    };
    int failed = cmocka_run_group_tests_name("int8 products by the CPU", tests, onednn_products, NULL);
    return failed + cmocka_run_group_tests_name("int8 products in float32 blocks", tests, float32_products, NULL);
}
