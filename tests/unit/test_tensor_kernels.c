/* Kernels against numpy float64 golden values (tests/golden/kernels/make_golden.py). Tolerance:
 * 2e-6 of the output's largest magnitude (plus 2e-6 absolute) — float32 accumulation over at most
 * a few hundred terms stays well inside that. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/dtype.h"
#include "tensor/kernels.h"

static json_t *cases;

static int load(void **state)
{
    (void)state;
    json_error_t err;
    cases = json_load_file("tests/golden/kernels/cases.json", 0, &err);
    if (!cases)
        fail_msg("tests/golden/kernels/cases.json: %s", err.text);
    return 0;
}

static int unload(void **state)
{
    (void)state;
    json_decref(cases);
    return 0;
}

static float *arr(json_t *c, const char *key, size_t *n)
{
    json_t *a = json_object_get(json_object_get(cases, json_string_value(c)), key);
    size_t len = json_array_size(a);
    float *v = malloc((len + 1) * sizeof *v);
    for (size_t i = 0; i < len; i++)
        v[i] = (float)json_number_value(json_array_get(a, i));
    if (n)
        *n = len;
    return v;
}

static int64_t num(json_t *c, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(cases, json_string_value(c)), key));
}

static void expect_close_key(const char *name, const float *got, json_t *c, const char *key)
{
    size_t n;
    float *want = arr(c, key, &n);
    float mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fabsf(want[i]) > mx ? fabsf(want[i]) : mx;
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 2e-6f * mx + 2e-6f))
            fail_msg("%s[%zu]: %.9g, expected %.9g", name, i, got[i], want[i]);
    free(want);
}

static void expect_close(const char *name, const float *got, json_t *c) { expect_close_key(name, got, c, "y"); }

static void test_linear(void **state)
{
    (void)state;
    json_t *c = json_string("linear");
    float *x = arr(c, "x", NULL), *w = arr(c, "w", NULL), *b = arr(c, "b", NULL), y[35];
    vs_linear_f32(x, w, b, y, num(c, "m"), num(c, "n"), num(c, "k"));
    expect_close("linear", y, c);
    float wt[7 * 33];
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 33; j++)
            wt[j * 7 + i] = w[i * 33 + j];
    vs_linear_in_out_f32(x, wt, 7, b, y, num(c, "m"), num(c, "n"), num(c, "k"));
    expect_close("linear (weight stored [in, out])", y, c);
    free(x), free(w), free(b), json_decref(c);
}

/* Split over threads: inputs from the formula of make_golden.py. */
static void test_linear_split(void **state)
{
    (void)state;
    static const char *names[] = {"linear_wide", "linear_tall", "linear_row"};
    for (int t = 0; t < 3; t++) {
        json_t *c = json_string(names[t]);
        int64_t m = num(c, "m"), n = num(c, "n"), k = num(c, "k");
        float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
        float *b = malloc((size_t)n * sizeof *b), *y = malloc((size_t)(m * n) * sizeof *y);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++)
                x[i * k + j] = (float)((i * 131 + j * 71) % 61 - 30) / 32.0f;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++)
                w[i * k + j] = (float)((i * 37 + j * 113) % 53 - 26) / 64.0f;
        for (int64_t i = 0; i < n; i++)
            b[i] = (float)(i % 11 - 5) / 16.0f;
        vs_linear_f32(x, w, b, y, m, n, k);
        expect_close(names[t], y, c);
        /* the same weight stored [in, out] as a column block (from column 3) of wider rows */
        int64_t ldw = n + 7;
        float *wio = calloc((size_t)(k * ldw), sizeof *wio);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++)
                wio[j * ldw + 3 + i] = w[i * k + j];
        memset(y, 0, (size_t)(m * n) * sizeof *y);
        vs_linear_in_out_f32(x, wio + 3, ldw, b, y, m, n, k);
        expect_close(names[t], y, c);
        free(wio);
        free(x), free(w), free(b), free(y), json_decref(c);
    }
}

/* A GEMM big enough to be cut into tiles both ways (300 × 650 outputs, last tiles partial; k deep enough for OpenBLAS to block it), checked
 * against a double-precision sum, and bit-identical for 1, 2 and 3 threads. */
static void test_linear_tiles(void **state)
{
    (void)state;
    const int64_t m = 300, n = 650, k = 800;
    float *x = malloc((size_t)(m * k) * sizeof *x), *w = malloc((size_t)(n * k) * sizeof *w);
    float *b = malloc((size_t)n * sizeof *b), *y[3];
    /* values of full 24-bit mantissas (small fractions would sum exactly in any order) */
    uint32_t h = 12345;
    for (int64_t i = 0; i < m * k; i++)
        x[i] = (float)((h = h * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int64_t i = 0; i < n * k; i++)
        w[i] = (float)((h = h * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int64_t i = 0; i < n; i++)
        b[i] = (float)(i % 11 - 5) / 16.0f;
    int threads = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        y[t] = malloc((size_t)(m * n) * sizeof *y[t]);
        omp_set_num_threads(t + 1);
        vs_linear_f32(x, w, b, y[t], m, n, k);
    }
    omp_set_num_threads(threads);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = b[j];
            for (int64_t l = 0; l < k; l++)
                want += (double)x[i * k + l] * w[j * k + l];
            if (!(fabs(y[0][i * n + j] - want) <= 1e-4 * (fabs(want) + 1.0)))
                fail_msg("y[%lld, %lld]: %.9g, expected %.9g", (long long)i, (long long)j, y[0][i * n + j], want);
        }
    assert_memory_equal(y[0], y[1], (size_t)(m * n) * sizeof *y[0]);
    assert_memory_equal(y[0], y[2], (size_t)(m * n) * sizeof *y[0]);
    for (int t = 0; t < 3; t++)
        free(y[t]);
    free(x), free(w), free(b);
}

static void test_norms(void **state)
{
    (void)state;
    json_t *c = json_string("rmsnorm");
    float *x = arr(c, "x", NULL), *g = arr(c, "g", NULL), y[192];
    vs_rmsnorm_f32(x, g, 1e-6f, y, 3, 64);
    expect_close("rmsnorm", y, c);
    json_decref(c);
    c = json_string("layernorm");
    float *b = arr(c, "b", NULL);
    vs_layernorm_f32(x, g, b, 1e-6f, x, 3, 64); /* in place */
    expect_close("layernorm", x, c);
    free(x), free(g), free(b), json_decref(c);
}

static void test_activations(void **state)
{
    (void)state;
    json_t *c = json_string("gelu_tanh");
    size_t n;
    float *x = arr(c, "x", &n);
    vs_gelu_tanh_f32(x, (int64_t)n);
    expect_close("gelu_tanh", x, c);
    free(x), json_decref(c);
    c = json_string("gelu_erf");
    x = arr(c, "x", &n);
    vs_gelu_erf_f32(x, (int64_t)n);
    expect_close("gelu_erf", x, c);
    free(x), json_decref(c);
    c = json_string("silu_mul");
    float *gate = arr(c, "gate", &n), *up = arr(c, "up", NULL);
    vs_silu_mul_f32(gate, up, gate, (int64_t)n);
    expect_close("silu_mul", gate, c);
    free(gate), free(up), json_decref(c);
    c = json_string("softmax");
    x = arr(c, "x", NULL);
    vs_softmax_rows_f32(x, 4, 37);
    expect_close("softmax", x, c);
    free(x), json_decref(c);
}

static void test_rope(void **state)
{
    (void)state;
    json_t *c = json_string("rope");
    float *x = arr(c, "x", NULL), *cs = arr(c, "cos", NULL), *sn = arr(c, "sin", NULL);
    vs_rope_f32(x, cs, sn, num(c, "tokens"), num(c, "heads"), num(c, "d"));
    expect_close("rope", x, c);
    free(x), free(cs), free(sn), json_decref(c);
}

static void test_attention(void **state)
{
    (void)state;
    static const char *names[] = {"attn_causal", "attn_segments", "attn_full"};
    for (int t = 0; t < 3; t++) {
        json_t *c = json_string(names[t]);
        json_t *obj = json_object_get(cases, names[t]);
        int64_t s = num(c, "s"), hq = num(c, "hq"), hkv = num(c, "hkv"), d = num(c, "d");
        float *q = arr(c, "q", NULL), *k = arr(c, "k", NULL), *v = arr(c, "v", NULL);
        float *out = malloc((size_t)(s * hq * d) * sizeof *out);
        int32_t *seg = NULL;
        json_t *js = json_object_get(obj, "segments");
        if (json_is_array(js)) {
            seg = malloc((size_t)s * sizeof *seg);
            for (int64_t i = 0; i < s; i++)
                seg[i] = (int32_t)json_integer_value(json_array_get(js, (size_t)i));
        }
        assert_int_equal(vs_attention_f32(q, k, v, out, s, hq, hkv, d, json_is_true(json_object_get(obj, "causal")), seg),
                         VS_OK);
        expect_close(names[t], out, c);
        free(q), free(k), free(v), free(out), free(seg), json_decref(c);
    }
}

/* An attention case with a "segments" array: its inputs, an output buffer and the segment ids. */
struct attention_case {
    json_t *name;
    int64_t s, hq, hkv, d;
    float *q, *k, *v, *out;
    int32_t *seg;
};

static struct attention_case attention_case(const char *name)
{
    struct attention_case a = {.name = json_string(name)};
    json_t *js = json_object_get(json_object_get(cases, name), "segments");
    a.s = num(a.name, "s"), a.hq = num(a.name, "hq"), a.hkv = num(a.name, "hkv"), a.d = num(a.name, "d");
    a.q = arr(a.name, "q", NULL), a.k = arr(a.name, "k", NULL), a.v = arr(a.name, "v", NULL);
    a.out = malloc((size_t)(a.s * a.hq * a.d) * sizeof *a.out);
    a.seg = malloc((size_t)a.s * sizeof *a.seg);
    for (int64_t i = 0; i < a.s; i++)
        a.seg[i] = (int32_t)json_integer_value(json_array_get(js, (size_t)i));
    return a;
}

static void attention_case_free(struct attention_case *a)
{
    free(a->q), free(a->k), free(a->v), free(a->out), free(a->seg), json_decref(a->name);
}

/* Sequences of several query blocks per kv head, each in the three masking modes. */
static void test_attention_blocks(void **state)
{
    (void)state;
    static const char *names[] = {"attn_blocks_gqa", "attn_blocks_mha"};
    for (int t = 0; t < 2; t++) {
        struct attention_case a = attention_case(names[t]);
        char what[64];
        assert_int_equal(vs_attention_f32(a.q, a.k, a.v, a.out, a.s, a.hq, a.hkv, a.d, true, NULL), VS_OK);
        snprintf(what, sizeof what, "%s causal", names[t]);
        expect_close_key(what, a.out, a.name, "y_causal");
        assert_int_equal(vs_attention_f32(a.q, a.k, a.v, a.out, a.s, a.hq, a.hkv, a.d, false, a.seg), VS_OK);
        snprintf(what, sizeof what, "%s segments", names[t]);
        expect_close_key(what, a.out, a.name, "y_segments");
        assert_int_equal(vs_attention_f32(a.q, a.k, a.v, a.out, a.s, a.hq, a.hkv, a.d, false, NULL), VS_OK);
        snprintf(what, sizeof what, "%s full", names[t]);
        expect_close_key(what, a.out, a.name, "y_full");
        attention_case_free(&a);
    }
}

/* Causal within segments (samples of a batch), over several query blocks per kv head. */
static void test_attention_causal_segments(void **state)
{
    (void)state;
    static const char *names[] = {"attn_causal_segments_gqa", "attn_causal_segments_mha"};
    for (int t = 0; t < 2; t++) {
        struct attention_case a = attention_case(names[t]);
        assert_int_equal(vs_attention_f32(a.q, a.k, a.v, a.out, a.s, a.hq, a.hkv, a.d, true, a.seg), VS_OK);
        expect_close(names[t], a.out, a.name);
        attention_case_free(&a);
    }
}

/* The in-place conversions to and from F16/BF16 (a weight stored back as bf16 and widened again
 * in its own buffer) equal the copying ones, across their 4096-value chunks. */
static void test_convert_in_place(void **state)
{
    (void)state;
    enum { N = 10000 };
    static float v[N], want_f[N];
    static uint16_t want_h[N];
    const enum vs_dtype types[2] = {VS_DTYPE_BF16, VS_DTYPE_F16};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < N; i++)
            v[i] = (float)((i * 7919) % 2003 - 1001) / 97.0f;
        assert_int_equal(vs_convert_from_f32(types[t], v, want_h, N), 0);
        assert_int_equal(vs_convert_to_f32(types[t], want_h, want_f, N), 0);
        assert_int_equal(vs_convert_from_f32_in_place(types[t], v, N), 0);
        assert_memory_equal(v, want_h, sizeof want_h);
        assert_int_equal(vs_convert_to_f32_in_place(types[t], v, N), 0);
        assert_memory_equal(v, want_f, sizeof want_f);
    }
    /* the bf16 non-finite count: an infinity and a NaN, the first one named */
    want_h[7000] = 0x7f80, want_h[9000] = 0xffc1;
    size_t first;
    assert_int_equal(vs_count_nonfinite_bf16(want_h, N, &first), 2);
    assert_int_equal(first, 7000);
    assert_int_equal(vs_count_nonfinite_bf16(want_h, 7000, &first), 0);
    assert_int_equal(first, 7000);
    assert_int_equal(vs_convert_from_f32_in_place(VS_DTYPE_F64, v, N), -1);
    assert_int_equal(vs_convert_to_f32_in_place(VS_DTYPE_F32, v, N), -1);
}

static void test_add(void **state)
{
    (void)state;
    json_t *c = json_string("add");
    size_t n;
    float *x = arr(c, "x", &n), *y = arr(c, "y", NULL);
    vs_add_f32(x, y, (int64_t)n);
    expect_close_key("add", x, c, "sum");
    free(x), free(y), json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_split),
        cmocka_unit_test(test_linear_tiles),
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_blocks),
        cmocka_unit_test(test_attention_causal_segments),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_convert_in_place),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
