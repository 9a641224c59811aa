/* Integer quantization against numpy golden values (tests/golden/int_quant/make_golden.py).
 * Scales and offsets are compared bit for bit, not within an ulp: both sides evaluate the same
 * float32 operations in the same order (min/max, max(), two divisions and a subtraction,
 * round-half-even), each of which IEEE-754 rounds exactly, so any difference is a bug (a
 * reciprocal multiply, a fused multiply-add or a double-precision intermediate would show up
 * here). q must be equal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/int_quant.h"

static float from_bits(json_t *v)
{
    uint32_t u = (uint32_t)json_integer_value(v);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_golden_cases(void **state)
{
    (void)state;
    json_error_t err;
    json_t *cases = json_load_file("tests/golden/int_quant/cases.json", 0, &err);
    if (!cases)
        fail_msg("tests/golden/int_quant/cases.json: %s", err.text);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int64_t rows = json_integer_value(json_object_get(c, "rows")), cols = json_integer_value(json_object_get(c, "cols"));
        int bits = (int)json_integer_value(json_object_get(c, "bits"));
        bool sym = json_is_true(json_object_get(c, "symmetric"));
        size_t n = (size_t)(rows * cols);
        float *w = malloc(n * sizeof *w), *scale = malloc((size_t)rows * 4), *offset = malloc((size_t)rows * 4);
        int8_t *q = malloc(n);
        for (size_t k = 0; k < n; k++)
            w[k] = from_bits(json_array_get(json_object_get(c, "w"), k));
        vs_quant_weight_per_channel(w, rows, cols, bits, sym, q, scale, offset);
        for (int64_t r = 0; r < rows; r++) {
            float ws = from_bits(json_array_get(json_object_get(c, "scale"), (size_t)r));
            float wo = from_bits(json_array_get(json_object_get(c, "offset"), (size_t)r));
            if (memcmp(&ws, &scale[r], 4) != 0 || memcmp(&wo, &offset[r], 4) != 0)
                fail_msg("%s row %lld: scale %a offset %a, expected %a %a", name, (long long)r, scale[r], offset[r], ws, wo);
        }
        for (size_t k = 0; k < n; k++) {
            int want = (int)json_integer_value(json_array_get(json_object_get(c, "q"), k));
            if (q[k] != want)
                fail_msg("%s element %zu: q %d, expected %d", name, k, q[k], want);
        }
        free(w);
        free(scale);
        free(offset);
        free(q);
    }
    assert_true(json_array_size(cases) >= 44);
    json_decref(cases);
}

static void test_params_and_value(void **state)
{
    (void)state;
    float s, o;
    vs_quant_params(-1.0f, 3.0f, 8, true, &s, &o);
    assert_true(s == 3.0f / 127.0f && o == 0.0f);
    vs_quant_params(2.0f, 3.0f, 8, false, &s, &o); /* min clamped to 0 */
    assert_true(s == 3.0f / 255.0f - 0.0f && o == -128.0f);
    vs_quant_params(0.0f, 0.0f, 8, true, &s, &o);
    assert_true(s == VS_QUANT_EPS);
    assert_int_equal(vs_quant_value(1000.0f, 1.0f, 0.0f, 8), 127);
    assert_int_equal(vs_quant_value(-1000.0f, 1.0f, 0.0f, 8), -128);
    assert_int_equal(vs_quant_value(2.5f, 1.0f, 0.0f, 8), 2);  /* half to even */
    assert_int_equal(vs_quant_value(1.5f, 1.0f, 0.0f, 8), 2);
    assert_int_equal(vs_quant_value(-0.5f, 1.0f, 0.0f, 8), 0);
    assert_int_equal(vs_quant_value(0.5f, 1.0f, -128.0f, 8), -128); /* -127.5 */
    assert_int_equal(vs_quant_value(INFINITY, 1.0f, 0.0f, 8), 127);
    assert_int_equal(vs_quant_value(-INFINITY, 1.0f, 0.0f, 8), -128);
    assert_int_equal(vs_quant_value(-3.5f, 1.0f, 0.0f, 4), -4);
    assert_int_equal(vs_quant_value(100.0f, 1.0f, 0.0f, 4), 7);
}

/* The per-channel loops (16-column blocks, a tail, magic-number rounding) agree with the scalar
 * functions on every element, at every width around the block size. */
static void test_per_channel_matches_scalar(void **state)
{
    (void)state;
    enum { ROWS = 3, MAXC = 40 };
    float w[ROWS * MAXC], scale[ROWS], offset[ROWS];
    int8_t q[ROWS * MAXC];
    for (int cols = 1; cols <= MAXC; cols++)
        for (int bits = 4; bits <= 8; bits += 4)
            for (int sym = 0; sym < 2; sym++) {
                for (int k = 0; k < ROWS * cols; k++) /* exact multiples of 1/4 give ties */
                    w[k] = (float)((k * 37 + cols * 11) % 61 - 30) * 0.25f * (float)(1 + k % ROWS);
                vs_quant_weight_per_channel(w, ROWS, cols, bits, sym, q, scale, sym ? NULL : offset);
                for (int r = 0; r < ROWS; r++) {
                    float mn = 0.0f, mx = 0.0f, s, o;
                    for (int c = 0; c < cols; c++) {
                        mn = w[r * cols + c] < mn ? w[r * cols + c] : mn;
                        mx = w[r * cols + c] > mx ? w[r * cols + c] : mx;
                    }
                    vs_quant_params(mn, mx, bits, sym, &s, &o);
                    assert_true(memcmp(&s, &scale[r], 4) == 0);
                    if (!sym)
                        assert_true(memcmp(&o, &offset[r], 4) == 0);
                    for (int c = 0; c < cols; c++)
                        if (q[r * cols + c] != vs_quant_value(w[r * cols + c], s, o, bits))
                            fail_msg("cols %d bits %d sym %d [%d,%d]: %d vs %d", cols, bits, sym, r, c,
                                     q[r * cols + c], vs_quant_value(w[r * cols + c], s, o, bits));
                }
            }
}

/* NaN has no defined quantization in msModelSlim; here it is the lowest level, never UB. */
static void test_nan_is_defined(void **state)
{
    (void)state;
    assert_int_equal(vs_quant_value(NAN, 1.0f, 0.0f, 8), -128);
    assert_int_equal(vs_quant_value(NAN, 1.0f, 0.0f, 4), -8);
    float w[18] = {1.0f, NAN, -1.0f};
    w[17] = NAN; /* in the 16-column block and in the tail */
    int8_t q[18];
    float s;
    vs_quant_weight_per_channel(w, 1, 18, 8, true, q, &s, NULL);
    assert_true(s == 1.0f / 127.0f);
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -128);
    assert_int_equal(q[2], -127);
    assert_int_equal(q[17], -128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_params_and_value),
        cmocka_unit_test(test_per_channel_matches_scalar),
        cmocka_unit_test(test_nan_is_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
