/* Integer quantization against numpy golden values (tests/golden/int_quant/make_golden.py). Every
 * value is compared bit for bit: both sides evaluate the same float32 expressions (max, one
 * division, round-half-even), which IEEE-754 defines exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
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
    assert_true(json_array_size(cases) >= 28);
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
    assert_int_equal(vs_quant_value(-3.5f, 1.0f, 0.0f, 4), -4);
    assert_int_equal(vs_quant_value(100.0f, 1.0f, 0.0f, 4), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_params_and_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
