/* The MoE router's top-k (vs_qwen3_vl_top_k): torch.topk's order (by value, the lower index first
 * among equals), renormalisation, and indices within [0, E) whatever the floats are: NaN and
 * infinities never send a token to an expert that does not exist. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>

#include "model/qwen3_vl_text.h"

static void test_order_and_ties(void **state)
{
    (void)state;
    const float pr[5] = {0.1f, 0.3f, 0.2f, 0.3f, 0.1f};
    int64_t sel[3];
    float w[3];
    vs_qwen3_vl_top_k(pr, 5, 3, false, sel, w);
    assert_int_equal(sel[0], 1);
    assert_int_equal(sel[1], 3);
    assert_int_equal(sel[2], 2);
    vs_qwen3_vl_top_k(pr, 5, 2, true, sel, w);
    assert_float_equal(w[0], 0.5f, 1e-7);
    assert_float_equal(w[1], 0.5f, 1e-7);
}

static void test_nonfinite_stays_in_bounds(void **state)
{
    (void)state;
    const float cases[4][4] = {
        {NAN, NAN, NAN, NAN},
        {NAN, 0.5f, NAN, 0.2f},
        {INFINITY, NAN, -INFINITY, 0.1f},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
    };
    for (int c = 0; c < 4; c++)
        for (int64_t K = 1; K <= 4; K++) {
            int64_t sel[4] = {-7, -7, -7, -7};
            float w[4];
            vs_qwen3_vl_top_k(cases[c], 4, K, c % 2 == 0, sel, w);
            for (int64_t k = 0; k < K; k++) {
                assert_true(sel[k] >= 0 && sel[k] < 4);
                for (int64_t j = 0; j < k; j++)
                    assert_true(sel[j] != sel[k]); /* K distinct experts */
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_nonfinite_stays_in_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
