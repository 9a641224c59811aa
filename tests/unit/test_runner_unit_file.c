/* A unit's transformed float32 values written out in the checkpoint's dtypes and viewed again
 * (src/runner/unit_file.c): the values and names read back, the selection of parameters and of
 * Linears, the in-place (consuming) conversion, the refusal when a value does not fit its dtype
 * (nothing written, the copy untouched), and no file left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "model/unit.h"
#include "model/unit_f32.h"
#include "runner/unit_file.h"
#include "tensor/dtype.h"
#include "test_util.h"

/* A unit with a BF16 Linear "l" [3, 4] with bias [3] and a BF16 norm [4]. */
static uint16_t w_bf16[12], b_bf16[3], n_bf16[4];
static struct vs_st_tensor tw = {.name = "l.weight", .dtype = VS_DTYPE_BF16, .ndim = 2, .shape = {3, 4},
                                 .data = w_bf16, .nbytes = sizeof w_bf16, .file = "mem"};
static struct vs_st_tensor tb = {.name = "l.bias", .dtype = VS_DTYPE_BF16, .ndim = 1, .shape = {3},
                                 .data = b_bf16, .nbytes = sizeof b_bf16, .file = "mem"};
static struct vs_st_tensor tn = {.name = "norm.weight", .dtype = VS_DTYPE_BF16, .ndim = 1, .shape = {4},
                                 .data = n_bf16, .nbytes = sizeof n_bf16, .file = "mem"};

struct fixture {
    struct vs_unit *u;
    struct vs_unit_f32 *f;
    char *dir;
};

static int setup(void **state)
{
    static struct fixture fx;
    for (int i = 0; i < 12; i++)
        w_bf16[i] = vs_f32_to_bf16((float)i - 5.5f);
    for (int i = 0; i < 3; i++)
        b_bf16[i] = vs_f32_to_bf16(0.25f * (float)i);
    for (int i = 0; i < 4; i++)
        n_bf16[i] = vs_f32_to_bf16(1.0f + (float)i);
    fx.u = vs_unit_new("unit");
    assert_int_equal(vs_unit_add_param(fx.u, "l.weight", &tw), VS_OK);
    assert_int_equal(vs_unit_add_param(fx.u, "l.bias", &tb), VS_OK);
    assert_int_equal(vs_unit_add_param(fx.u, "norm.weight", &tn), VS_OK);
    assert_int_equal(vs_unit_add_linear(fx.u, "l", "l.weight", "l.bias"), VS_OK);
    assert_int_equal(vs_unit_f32_make(fx.u, &fx.f), VS_OK);
    /* "transformed": every weight doubled, which bf16 holds exactly */
    float *w = vs_unit_f32_values(fx.f, 0);
    for (int i = 0; i < 12; i++)
        w[i] *= 2.0f;
    fx.dir = vs_test_tmpdir("unit-file");
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    vs_unit_f32_free(fx->f);
    vs_unit_free(fx->u);
    vs_fs_remove_tree(fx->dir);
    free(fx->dir);
    return 0;
}

static void expect_weight(const struct vs_unit *v, const char *name, const float *want, size_t n)
{
    int k = vs_unit_find_param(v, name);
    assert_true(k >= 0);
    assert_int_equal(v->params[k].dtype, VS_DTYPE_BF16);
    float got[16];
    assert_int_equal(vs_param_read_f32(&v->params[k], got), VS_OK);
    assert_memory_equal(got, want, n * sizeof *got);
}

static void test_all_params(void **state)
{
    struct fixture *fx = *state;
    float want[12];
    memcpy(want, vs_unit_f32_values(fx->f, 0), sizeof want);
    bool exact = false;
    struct vs_unit_file uf;
    assert_int_equal(vs_unit_file_write(fx->u, fx->f, NULL, false, fx->dir, ".t", &exact, &uf), VS_OK);
    assert_true(exact);
    assert_true(vs_fs_dir_is_empty(fx->dir)); /* unlinked once mapped */
    assert_int_equal(uf.unit->n_params, 3);
    assert_int_equal(uf.unit->n_linears, 1);
    assert_string_equal(uf.unit->linears[0].name, "l");
    assert_string_equal(uf.unit->name, "unit");
    expect_weight(uf.unit, "l.weight", want, 12);
    expect_weight(uf.unit, "norm.weight", (const float[]){1, 2, 3, 4}, 4);
    assert_memory_equal(vs_unit_f32_values(fx->f, 0), want, sizeof want); /* not consumed */
    vs_unit_file_close(&uf);
    assert_null(uf.unit);
}

static void test_selected_and_consumed(void **state)
{
    struct fixture *fx = *state;
    float want[12];
    memcpy(want, vs_unit_f32_values(fx->f, 0), sizeof want);
    bool which[3] = {true, false, false}, exact = false;
    struct vs_unit_file uf;
    assert_int_equal(vs_unit_file_write(fx->u, fx->f, which, true, fx->dir, ".t", &exact, &uf), VS_OK);
    assert_true(exact);
    assert_int_equal(uf.unit->n_params, 1);
    assert_int_equal(uf.unit->n_linears, 1); /* its weight is there, its bias not */
    assert_int_equal(uf.unit->linears[0].bias, -1);
    expect_weight(uf.unit, "l.weight", want, 12);
    /* consumed: the float32 buffer now starts with the bf16 bytes */
    assert_memory_equal(vs_unit_f32_values(fx->f, 0), uf.unit->params[0].src->data, 12 * sizeof(uint16_t));
    vs_unit_file_close(&uf);
}

static void test_inexact_value_declined(void **state)
{
    struct fixture *fx = *state;
    float *w = vs_unit_f32_values(fx->f, 0);
    w[7] = 1.0f + 1.0f / 1024.0f; /* needs more than bf16's 8 significant bits */
    float before[12];
    memcpy(before, w, sizeof before);
    bool exact = true;
    struct vs_unit_file uf;
    assert_int_equal(vs_unit_file_write(fx->u, fx->f, NULL, true, fx->dir, ".t", &exact, &uf), VS_OK);
    assert_false(exact);
    assert_null(uf.unit);
    assert_null(uf.file);
    assert_true(vs_fs_dir_is_empty(fx->dir));
    assert_memory_equal(w, before, sizeof before); /* untouched, though consuming was allowed */
    vs_unit_file_close(&uf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selected_and_consumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inexact_value_declined, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
