/* The bf16 compute mode (tensor/compute.h): the rounding to bf16 (to nearest, ties to even, on
 * either side of zero) and the oneDNN Linear against a plain float64 sum of the rounded operands,
 * for both weight layouts, a bias, a long reduction and shapes no kernel blocks evenly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/compute.h"

static uint32_t rng = 777;
static float uniform(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f * 2 - 1;
}

static float bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_round(void **state)
{
    (void)state;
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: to the even 1; 1 + 3·2^-8 to 1 + 2^-6 */
    const float x[6] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -(1.0f + 0x1p-8f), 1.0f + 0x1p-8f + 0x1p-20f,
                        bits(0x3f808000u + 1u), 0.0f};
    const float want[6] = {1.0f, 1.0f + 0x1p-6f, -1.0f, 1.0f + 0x1p-7f, 1.0f + 0x1p-7f, 0.0f};
    float y[6];
    vs_round_bf16_f32(x, y, 6);
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == want[i]);
    vs_round_bf16_f32(y, y, 6); /* in place, and idempotent */
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == want[i]);
}

enum { M = 5, N = 7, K = 3001 };

static void check_linear(bool w_in_out)
{
    float *x = malloc(M * K * sizeof *x), *w = malloc(N * K * sizeof *w), *b = malloc(N * sizeof *b);
    float *y = malloc(M * N * sizeof *y), *xr = malloc(M * K * sizeof *xr), *wr = malloc(N * K * sizeof *wr);
    assert_non_null(x), assert_non_null(w), assert_non_null(y), assert_non_null(xr), assert_non_null(wr);
    for (int i = 0; i < M * K; i++)
        x[i] = 4 * uniform();
    for (int i = 0; i < N * K; i++)
        w[i] = uniform();
    for (int i = 0; i < N; i++)
        b[i] = uniform();
    vs_round_bf16_f32(x, xr, M * K);
    vs_round_bf16_f32(w, wr, N * K);
    assert_int_equal(vs_linear_bf16(x, w, w_in_out ? N : K, w_in_out, b, y, M, N, K), VS_OK);
    for (int t = 0; t < M; t++)
        for (int o = 0; o < N; o++) {
            double acc = b[o], mag = fabs(b[o]);
            for (int c = 0; c < K; c++) {
                double p = (double)xr[t * K + c] * (w_in_out ? wr[c * N + o] : wr[o * K + c]);
                acc += p, mag += fabs(p);
            }
            /* float32 accumulation in any order: within K · 2^-24 of the magnitude, and far
             * below a single bf16 step of an operand (2^-8) */
            assert_true(fabs(y[t * N + o] - acc) <= 2e-5 * mag);
        }
    free(x), free(w), free(b), free(y), free(xr), free(wr);
}

static void test_linear(void **state)
{
    (void)state;
    check_linear(false);
}

static void test_linear_in_out(void **state)
{
    (void)state;
    check_linear(true);
}

/* The same shape again takes the cached primitive; no rows is nothing to do. */
static void test_cache_and_empty(void **state)
{
    (void)state;
    check_linear(false);
    float y = 42;
    assert_int_equal(vs_linear_bf16(NULL, NULL, 1, false, NULL, &y, 0, 1, 1), VS_OK);
    assert_true(y == 42);
    vs_compute_release();
    check_linear(false); /* recreated after a release */
    vs_compute_release();
}

/* Without AVX512-BF16 or AMX: sgemm on the rounded operands, the same products. */
static void test_linear_sgemm_fallback(void **state)
{
    (void)state;
    vs_compute_bf16_backend(0);
    check_linear(false);
    check_linear(true);
    vs_compute_bf16_backend(-1);
}

static void test_parse(void **state)
{
    (void)state;
    enum vs_compute c;
    assert_true(vs_compute_parse("bf16", &c) && c == VS_COMPUTE_BF16);
    assert_true(vs_compute_parse("fp32", &c) && c == VS_COMPUTE_FP32);
    assert_false(vs_compute_parse("fp16", &c));
    assert_string_equal(vs_compute_name(VS_COMPUTE_BF16), "bf16");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_in_out),
        cmocka_unit_test(test_cache_and_empty),
        cmocka_unit_test(test_linear_sgemm_fallback),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
