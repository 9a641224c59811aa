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
#include "runner/outlier_internal.h"
#include "tensor/dtype.h"
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

static enum vs_status scale_columns(void *ctx, const struct vs_linear_weights *l)
{
    float by = *(const float *)ctx;
    for (int64_t r = 0; r < l->out; r++)
        for (int64_t c = 0; c < l->in; c++)
            l->w[r * l->in + c] *= c % 2 ? by : 0.75f;
    return VS_OK;
}

/* A row-local edit of a bf16 matrix a block of rows at a time (quarot's tail) gives the bits the
 * whole float32 weight gives, across blocks; an overflow names the tensor and the element. */
static void test_edit_by_rows(void **state)
{
    (void)state;
    enum { R = 5000, C = 1024 }; /* more rows than one block (4 Mi values / 1024) */
    uint16_t *bits = malloc((size_t)R * C * sizeof *bits);
    assert_non_null(bits);
    for (size_t i = 0; i < (size_t)R * C; i++)
        bits[i] = vs_f32_to_bf16((float)((i * 2654435761u) % 4093) / 1024.0f - 2.0f);
    struct vs_st_tensor t = {.name = "m.weight", .dtype = VS_DTYPE_BF16, .ndim = 2, .shape = {R, C}, .data = bits,
                             .nbytes = (size_t)R * C * sizeof *bits, .file = "mem", .heap = true};
    struct vs_unit *u = vs_unit_new("tail");
    assert_int_equal(vs_unit_add_param(u, "m.weight", &t), VS_OK);
    struct vs_unit_f32 *a, *b;
    assert_int_equal(vs_unit_f32_make_lazy(u, &a), VS_OK);
    assert_int_equal(vs_unit_f32_make_lazy(u, &b), VS_OK);
    struct vs_xunit rows = {.u = u, .f = a, .by_rows = true}, whole = {.u = u, .f = b};
    float by = 1.37f;
    bool found = false;
    assert_int_equal(vs_xunit_linear_edit(&rows, "m", scale_columns, &by, true, &found), VS_OK);
    assert_true(found);
    assert_int_equal(vs_xunit_linear_edit(&whole, "m", scale_columns, &by, true, &found), VS_OK);
    assert_true(vs_unit_f32_holds_bf16(a, 0) && vs_unit_f32_holds_bf16(b, 0));
    assert_memory_equal(a->unit->params[0].src->data, b->unit->params[0].src->data, t.nbytes);
    assert_memory_not_equal(a->unit->params[0].src->data, bits, t.nbytes);
    /* one value of the second block that the edit makes too large for bf16 */
    bits[4500 * C + 1] = 0x7eff; /* 1.69e38: times 2.005 finite in float32, past bf16's largest */
    struct vs_unit_f32 *c;
    assert_int_equal(vs_unit_f32_make_lazy(u, &c), VS_OK);
    struct vs_xunit over = {.u = u, .f = c, .by_rows = true};
    by = 2.005f;
    assert_int_equal(vs_xunit_linear_edit(&over, "m", scale_columns, &by, true, &found), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "m.weight: 1 transformed value(s) overflow BF16 (first: element 4608001 = "));
    assert_int_equal(vs_xunit_linear_edit(&over, "no.such", scale_columns, &by, true, &found), VS_OK);
    assert_false(found);
    vs_unit_f32_free(c);
    vs_unit_f32_free(a);
    vs_unit_f32_free(b);
    vs_unit_free(u);
    free(bits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapter_without_members),
        cmocka_unit_test(test_online_refused_from_config),
        cmocka_unit_test(test_edit_by_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
