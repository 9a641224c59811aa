/* The histogram observer against PyTorch's HistogramObserver (tests/golden/histogram/
 * make_golden.py): per case a sequence of batches, then the final range (bit for bit), the
 * histogram (within 1e-6 relative of its largest bin) and the clip range (within 1e-6
 * relative). Also the error paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "quant/histogram.h"

static float from_bits(json_t *v)
{
    uint32_t u = (uint32_t)json_integer_value(v);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void near(const char *name, const char *what, float got, float want)
{
    double tol = 1e-6 * fmax(fabs((double)want), 1e-30);
    if (!(fabs((double)got - (double)want) <= tol))
        fail_msg("%s: %s = %.9g, PyTorch %.9g", name, what, (double)got, (double)want);
}

static void test_golden_cases(void **state)
{
    (void)state;
    json_error_t err;
    json_t *cases = json_load_file("tests/golden/histogram/cases.json", 0, &err);
    if (!cases)
        fail_msg("tests/golden/histogram/cases.json: %s", err.text);
    assert_true(json_array_size(cases) >= 9);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        struct vs_histogram *h = malloc(sizeof *h);
        assert_non_null(h);
        vs_histogram_init(h);
        size_t bi;
        json_t *b;
        json_array_foreach(json_object_get(c, "batches"), bi, b) {
            size_t n = json_array_size(b);
            float *x = malloc(n * sizeof *x);
            assert_non_null(x);
            for (size_t k = 0; k < n; k++)
                x[k] = from_bits(json_array_get(b, k));
            assert_int_equal(vs_histogram_observe(h, x, n, name), VS_OK);
            free(x);
        }
        if (h->min != from_bits(json_object_get(c, "min")) || h->max != from_bits(json_object_get(c, "max")))
            fail_msg("%s: range [%.9g, %.9g], PyTorch [%.9g, %.9g]", name, (double)h->min, (double)h->max,
                     (double)from_bits(json_object_get(c, "min")), (double)from_bits(json_object_get(c, "max")));
        json_t *hist = json_object_get(c, "histogram");
        assert_int_equal(json_array_size(hist), VS_HISTOGRAM_BINS);
        double top = 0;
        for (size_t k = 0; k < VS_HISTOGRAM_BINS; k++)
            top = fmax(top, fabs((double)from_bits(json_array_get(hist, k))));
        for (size_t k = 0; k < VS_HISTOGRAM_BINS; k++) {
            double want = from_bits(json_array_get(hist, k));
            if (!(fabs(h->hist[k] - want) <= 1e-6 * top))
                fail_msg("%s: histogram[%zu] = %.9g, PyTorch %.9g", name, k, (double)h->hist[k], want);
        }
        float lo, hi;
        assert_int_equal(vs_histogram_clip(h, &lo, &hi, name), VS_OK);
        near(name, "new_min", lo, from_bits(json_object_get(c, "new_min")));
        near(name, "new_max", hi, from_bits(json_object_get(c, "new_max")));
        free(h);
    }
    json_decref(cases);
}

static void test_empty_call_ignored(void **state)
{
    (void)state;
    struct vs_histogram h;
    vs_histogram_init(&h);
    assert_int_equal(vs_histogram_observe(&h, NULL, 0, "m"), VS_OK);
    assert_true(h.calls == 0 && h.min == INFINITY);
    float lo, hi;
    assert_int_equal(vs_histogram_clip(&h, &lo, &hi, "lin.q_proj"), VS_ERR_DATASET);
    assert_non_null(strstr(vs_error_message(), "lin.q_proj"));
    assert_non_null(strstr(vs_error_message(), "no input"));
}

static void test_non_finite_input(void **state)
{
    (void)state;
    struct vs_histogram h;
    vs_histogram_init(&h);
    float x[3] = {1.0f, NAN, 2.0f};
    assert_int_equal(vs_histogram_observe(&h, x, 3, "lin.k_proj"), VS_ERR_MODEL);
    assert_non_null(strstr(vs_error_message(), "lin.k_proj"));
    assert_non_null(strstr(vs_error_message(), "element 1 is NaN"));
    x[1] = INFINITY;
    assert_int_equal(vs_histogram_observe(&h, x, 3, "lin.k_proj"), VS_ERR_MODEL);
    assert_non_null(strstr(vs_error_message(), "infinite"));
}

static void test_range_too_wide(void **state)
{
    (void)state;
    struct vs_histogram h;
    vs_histogram_init(&h);
    float a[2] = {0.0f, 1e-6f}, b[2] = {0.0f, 1e30f};
    assert_int_equal(vs_histogram_observe(&h, a, 2, "lin.o_proj"), VS_OK);
    assert_int_equal(vs_histogram_observe(&h, b, 2, "lin.o_proj"), VS_ERR_MODEL);
    assert_non_null(strstr(vs_error_message(), "lin.o_proj"));
    assert_non_null(strstr(vs_error_message(), "too wide"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_empty_call_ignored),
        cmocka_unit_test(test_non_finite_input),
        cmocka_unit_test(test_range_too_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
