/* PyTorch's CPU generator: torch.randint after torch.manual_seed, against values PyTorch itself
 * produced (tests/golden/outlier/make_golden.py), and MT19937's published first output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "io/safetensors.h"
#include "quant/torch_mt19937.h"

#define GOLDEN "tests/golden/outlier/outlier.safetensors"

static void check_randint(const struct vs_st_file *f, const char *name, uint64_t seed, int64_t low, int64_t high)
{
    const struct vs_st_tensor *t = vs_st_file_find(f, name);
    if (!t || t->dtype != VS_DTYPE_I64)
        fail_msg("%s: %s missing or not I64", GOLDEN, name);
    int64_t n = t->shape[0], *got = malloc((size_t)n * sizeof *got);
    const int64_t *want = t->data;
    vs_torch_randint(seed, low, high, n, got);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s[%lld]: %lld, PyTorch %lld", name, (long long)i, (long long)got[i], (long long)want[i]);
    free(got);
}

static void test_randint_matches_torch(void **state)
{
    (void)state;
    struct vs_st_file *f;
    if (vs_st_file_open(GOLDEN, &f) != VS_OK)
        fail_msg("%s", vs_error_message());
    check_randint(f, "randint.seed1234.0_2", 1234, 0, 2);
    check_randint(f, "randint.seed1234.0_1000", 1234, 0, 1000);
    check_randint(f, "randint.seed42.5_17", 42, 5, 17);
    /* the signs are 2·randint(0, 2) − 1 of the same stream */
    const struct vs_st_tensor *t = vs_st_file_find(f, "randint.seed1234.0_2");
    int8_t d[1000];
    vs_torch_random_signs(VS_QUAROT_SEED, 1000, d);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(d[i], 2 * ((const int64_t *)t->data)[i] - 1);
    vs_st_file_close(f);
}

static void test_reference_mt19937(void **state)
{
    (void)state;
    struct vs_mt19937 g;
    vs_mt19937_seed(&g, 5489); /* std::mt19937's default seed: the 10000th output is 4123659995 */
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++)
        v = vs_mt19937_next(&g);
    assert_int_equal(v, 4123659995u);
    vs_mt19937_seed(&g, 1234);
    assert_int_equal(vs_mt19937_next(&g), 822569775u); /* torch.manual_seed(1234); randint(0, 2**32) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_randint_matches_torch),
        cmocka_unit_test(test_reference_mt19937),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
