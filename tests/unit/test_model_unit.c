/* Units: parameters as views of checkpoint tensors, in particular the transposed expert
 * slices that unstack fused MoE weights. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/unit.h"

/* A fused [E=2, A=3, B=4] F32 tensor with value 100e + 10a + b. */
static float fused_data[2 * 3 * 4];
static struct vs_st_tensor fused = {
    .name = "mlp.experts.gate_up_proj", .dtype = VS_DTYPE_F32, .ndim = 3, .shape = {2, 3, 4},
    .data = fused_data, .nbytes = sizeof fused_data, .file = "mem",
};

static int setup(void **state)
{
    (void)state;
    for (int e = 0; e < 2; e++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 4; b++)
                fused_data[(e * 3 + a) * 4 + b] = (float)(100 * e + 10 * a + b);
    return 0;
}

static void test_slice_is_transposed_column_range(void **state)
{
    (void)state;
    struct vs_unit *u = vs_unit_new("layer");
    assert_non_null(u);
    /* expert 1, columns 2..3 ("up" half when I = 2) -> [2, 3] with value[j, a] = src[1, a, 2 + j] */
    assert_int_equal(vs_unit_add_slice_param(u, "experts.1.up_proj.weight", &fused, 1, 2, 2), VS_OK);
    const struct vs_param *p = &u->params[0];
    assert_int_equal(p->ndim, 2);
    assert_int_equal(p->shape[0], 2);
    assert_int_equal(p->shape[1], 3);
    assert_int_equal(vs_param_nbytes(p), 2 * 3 * 4);
    float f[6], raw[6];
    assert_int_equal(vs_param_read_f32(p, f), VS_OK);
    assert_int_equal(vs_param_read_raw(p, raw), VS_OK);
    for (int j = 0; j < 2; j++)
        for (int a = 0; a < 3; a++) {
            float want = (float)(100 + 10 * a + 2 + j);
            assert_true(f[j * 3 + a] == want);
            assert_true(raw[j * 3 + a] == want);
        }
    vs_unit_free(u);
}

static void test_bf16_slice_converts(void **state)
{
    (void)state;
    uint16_t data[1 * 2 * 3];
    for (int i = 0; i < 6; i++)
        data[i] = vs_f32_to_bf16((float)i + 0.5f);
    struct vs_st_tensor t = {.name = "down", .dtype = VS_DTYPE_BF16, .ndim = 3, .shape = {1, 2, 3},
                             .data = data, .nbytes = sizeof data, .file = "mem"};
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "down_proj.weight", &t, 0, 0, 3), VS_OK);
    float f[6];
    assert_int_equal(vs_param_read_f32(&u->params[0], f), VS_OK);
    /* value[j, a] = src[0, a, j] */
    for (int j = 0; j < 3; j++)
        for (int a = 0; a < 2; a++)
            assert_true(f[j * 2 + a] == (float)(a * 3 + j) + 0.5f);
    vs_unit_free(u);
}

static void test_slice_out_of_range_is_error(void **state)
{
    (void)state;
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "x.weight", &fused, 2, 0, 1), VS_ERR_MODEL);
    assert_non_null(strstr(vs_error_message(), "mlp.experts.gate_up_proj"));
    assert_int_equal(vs_unit_add_slice_param(u, "x.weight", &fused, 0, 3, 2), VS_ERR_MODEL);
    assert_int_equal(u->n_params, 0);
    vs_unit_free(u);
}

static void test_linear_checks_shapes(void **state)
{
    (void)state;
    float w[6] = {0}, b[3] = {0}, bad[2] = {0};
    struct vs_st_tensor tw = {.name = "l.weight", .dtype = VS_DTYPE_F32, .ndim = 2, .shape = {3, 2},
                              .data = w, .nbytes = sizeof w, .file = "mem"};
    struct vs_st_tensor tb = {.name = "l.bias", .dtype = VS_DTYPE_F32, .ndim = 1, .shape = {3},
                              .data = b, .nbytes = sizeof b, .file = "mem"};
    struct vs_st_tensor tbad = {.name = "m.bias", .dtype = VS_DTYPE_F32, .ndim = 1, .shape = {2},
                                .data = bad, .nbytes = sizeof bad, .file = "mem"};
    struct vs_unit *u = vs_unit_new("u");
    assert_int_equal(vs_unit_add_param(u, "l.weight", &tw), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "l.bias", &tb), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "m.bias", &tbad), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "l", "l.weight", "l.bias"), VS_OK);
    assert_int_equal(u->n_linears, 1);
    assert_int_equal(u->linears[0].weight, 0);
    assert_int_equal(u->linears[0].bias, 1);
    assert_int_equal(vs_unit_add_linear(u, "m", "l.weight", "m.bias"), VS_ERR_MODEL);
    assert_non_null(strstr(vs_error_message(), "m.bias"));
    assert_int_equal(vs_unit_add_linear(u, "l", "l.bias", NULL), VS_ERR_MODEL);
    /* a parameter name may appear once */
    assert_int_not_equal(vs_unit_add_param(u, "l.weight", &tw), VS_OK);
    vs_unit_free(u);
}

/* A slice large enough to be transposed by several threads. */
static void test_large_slice_is_transposed(void **state)
{
    (void)state;
    enum { A = 512, B = 600, COL0 = 100, J = 256 };
    float *data = malloc((size_t)A * B * sizeof *data), *f = malloc((size_t)J * A * sizeof *f);
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            data[a * B + b] = (float)(a * 1000 + b);
    struct vs_st_tensor t = {.name = "experts.gate_up_proj", .dtype = VS_DTYPE_F32, .ndim = 3, .shape = {1, A, B},
                             .data = data, .nbytes = (size_t)A * B * sizeof *data, .file = "mem"};
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "experts.0.up_proj.weight", &t, 0, COL0, J), VS_OK);
    assert_int_equal(vs_param_read_f32(&u->params[0], f), VS_OK);
    for (int j = 0; j < J; j++)
        for (int a = 0; a < A; a++)
            if (f[j * A + a] != (float)(a * 1000 + COL0 + j))
                fail_msg("value[%d, %d] = %g, expected %d", j, a, f[j * A + a], a * 1000 + COL0 + j);
    vs_unit_free(u);
    free(data), free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_slice_is_transposed),
        cmocka_unit_test_setup(test_slice_is_transposed_column_range, setup),
        cmocka_unit_test(test_bf16_slice_converts),
        cmocka_unit_test_setup(test_slice_out_of_range_is_error, setup),
        cmocka_unit_test(test_linear_checks_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
