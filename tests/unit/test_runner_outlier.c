/* The outlier-suppression processors' checks before any work (runner/outlier.h): an adapter
 * without the ABI-3 members refuses a config that uses them, naming the processor and the
 * family; configs without them need nothing from the adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/registry.h"
#include "runner/outlier.h"
#include "test_util.h"

static struct vs_quant_config *config(const char *process)
{
    char text[2048];
    snprintf(text, sizeof text,
             "apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n%s"
             "    - type: \"linear_quant\"\n      qconfig:\n"
             "        act: {scope: \"per_token\", dtype: \"int8\", symmetric: True, method: \"minmax\"}\n"
             "        weight: {scope: \"per_channel\", dtype: \"int8\", symmetric: True, method: \"minmax\"}\n"
             "  save:\n    - type: \"ascendv1_saver\"\n",
             process);
    char *dir = vs_test_tmpdir("runner_outlier"), *path = vs_test_write(dir, "c.yaml", text, strlen(text));
    struct vs_quant_config *cfg = NULL;
    assert_int_equal(vs_quant_config_load(path, &cfg), VS_OK);
    free(dir);
    free(path);
    return cfg;
}

static void test_adapter_without_members(void **state)
{
    (void)state;
    struct vs_adapter_ops v2 = *vs_builtin_adapter("qwen3_vl_moe");
    v2.abi_version = 2; /* an ABI-2 table: the members after linear_is_routed are not read */
    struct vs_quant_config *q = config("    - type: \"quarot\"\n      block_size: 32\n");
    assert_int_equal(vs_outlier_check_adapter(q, &v2), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "spec.process[0]: processor 'quarot' needs the QuaRot maps of "
                                                     "model family 'qwen3_vl_moe', which its adapter (ABI version 2)"));
    assert_int_equal(vs_outlier_check_adapter(q, vs_builtin_adapter("qwen3_vl_moe")), VS_OK);
    vs_quant_config_free(q);

    struct vs_adapter_ops no_subgraphs = *vs_builtin_adapter("qwen3_vl");
    no_subgraphs.unit_subgraphs = NULL;
    struct vs_quant_config *s = config("    - type: \"quarot\"\n    - type: \"smooth_quant\"\n");
    assert_int_equal(vs_outlier_check_adapter(s, &no_subgraphs), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "spec.process[1]: processor 'smooth_quant' needs the smoothing "
                                                     "subgraphs and forward pass of model family 'qwen3_vl'"));
    assert_true(vs_outlier_config_needs_data(s));
    vs_quant_config_free(s);

    struct vs_quant_config *plain = config("");
    assert_int_equal(vs_outlier_check_adapter(plain, &v2), VS_OK);
    assert_false(vs_outlier_config_needs_data(plain));
    vs_quant_config_free(plain);
}

static void test_online_refused_from_config(void **state)
{
    (void)state;
    struct vs_quant_config *q = config("    - type: \"quarot\"\n      online: true\n");
    assert_int_equal(vs_outlier_check_processor(q, &q->process[0]), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "spec.process[0]: quarot online: true is not supported"));
    assert_true(vs_outlier_is_processor(q->process[0].type));
    assert_false(vs_outlier_is_processor(q->process[1].type));
    vs_quant_config_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapter_without_members),
        cmocka_unit_test(test_online_refused_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
