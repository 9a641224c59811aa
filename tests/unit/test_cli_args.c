/* argparse-style option parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

struct parsed {
    const char *path, *type;
    const char **tags;
    size_t n_tags;
    bool overwrite;
};

static enum vs_status parse(struct parsed *p, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    const struct vs_opt opts[] = {
        {"model_path", VS_OPT_VALUE, &p->path, NULL, NULL, NULL},
        {"model_type", VS_OPT_VALUE, &p->type, NULL, NULL, NULL},
        {"tag", VS_OPT_LIST, NULL, NULL, &p->tags, &p->n_tags},
        {"overwrite", VS_OPT_FLAG, NULL, &p->overwrite, NULL, NULL},
    };
    return vs_args_parse(argc, argv, opts, 4, "quant");
}

static void test_values_flags_and_lists(void **state)
{
    (void)state;
    char *argv[] = {"--model_path", "a b", "--tag", "vLLM_Ascend", "Atlas_350", "--overwrite",
                    "--model_type=Qwen3-VL-30B-A3B"};
    struct parsed p;
    assert_int_equal(parse(&p, 7, argv), VS_OK);
    assert_string_equal(p.path, "a b");
    assert_string_equal(p.type, "Qwen3-VL-30B-A3B");
    assert_true(p.overwrite);
    assert_int_equal(p.n_tags, 2);
    assert_string_equal(p.tags[0], "vLLM_Ascend");
    assert_string_equal(p.tags[1], "Atlas_350");
    free(p.tags);
}

static void test_empty_list_and_last_value_wins(void **state)
{
    (void)state;
    char *argv[] = {"--tag", "--model_path", "x", "--model_path", "y"};
    struct parsed p;
    assert_int_equal(parse(&p, 5, argv), VS_OK);
    assert_int_equal(p.n_tags, 0);
    assert_string_equal(p.path, "y");
    free(p.tags);
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    struct parsed p;
    char *unknown[] = {"--model_pth", "x"};
    assert_int_equal(parse(&p, 2, unknown), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "unknown option '--model_pth' (see 'vlmslim quant --help')");
    char *missing[] = {"--model_path"};
    assert_int_equal(parse(&p, 1, missing), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "option '--model_path' needs a value");
    char *followed[] = {"--model_path", "--overwrite"};
    assert_int_equal(parse(&p, 2, followed), VS_ERR_USAGE);
    char *positional[] = {"model"};
    assert_int_equal(parse(&p, 1, positional), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "unexpected argument 'model' (see 'vlmslim quant --help')");
    char *flag_value[] = {"--overwrite=yes"};
    assert_int_equal(parse(&p, 1, flag_value), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "option '--overwrite' takes no value");
}

/* Whole numbers: digits only, within the range, no overflow; errors name the flag and value. */
static void test_whole_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(vs_args_uint("n", "42", 1, 100, "1 to 100", &v), VS_OK);
    assert_int_equal(v, 42);
    static const char *bad[] = {"0", "101", "-1", "+5", " 5", "5x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        assert_int_equal(vs_args_uint("n", bad[i], 1, 100, "1 to 100", &v), VS_ERR_USAGE);
        char want[64];
        snprintf(want, sizeof want, "--n %s: expected 1 to 100", bad[i]);
        assert_string_equal(vs_error_message(), want);
        assert_int_equal(v, 7); /* untouched */
    }
    assert_int_equal(vs_args_megabytes("spill_budget_mb", "3", &v), VS_OK);
    assert_int_equal(v, 3u << 20);
    assert_int_equal(vs_args_megabytes("spill_budget_mb", "0", &v), VS_OK);
    assert_int_equal(v, 0);
    assert_int_equal(vs_args_megabytes("spill_budget_mb", "17592186044416", &v), VS_ERR_USAGE); /* 2^44: bytes overflow */
    assert_string_equal(vs_error_message(), "--spill_budget_mb 17592186044416: expected a whole number of megabytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_flags_and_lists),
        cmocka_unit_test(test_empty_list_and_last_value_wins),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_whole_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
