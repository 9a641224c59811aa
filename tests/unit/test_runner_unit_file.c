/* A unit's transformed float32 values written out in the checkpoint's dtypes and viewed again
 * (src/runner/unit_file.c): the values and names read back, the selection of parameters and of
 * Linears, the in-place (consuming) conversion, the refusal when a value does not fit its dtype
 * (nothing written, the copy untouched), and no file left behind; bf16 mode's views and weights
 * stored back as bf16 (model/unit_f32.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "model/unit.h"
#include "model/unit_f32.h"
#include "runner/unit_file.h"
#include "tensor/compute.h"
#include "tensor/dtype.h"
#include "test_util.h"

/* A unit with a BF16 Linear "l" [3, 4] with bias [3] and a BF16 norm [4]. */
static uint16_t w_bf16[12], b_bf16[3], n_bf16[4];
static struct vs_st_tensor tw = {.name = "l.weight", .dtype = VS_DTYPE_BF16, .ndim = 2, .shape = {3, 4},
                                 .data = w_bf16, .nbytes = sizeof w_bf16, .file = "mem", .heap = true};
static struct vs_st_tensor tb = {.name = "l.bias", .dtype = VS_DTYPE_BF16, .ndim = 1, .shape = {3},
                                 .data = b_bf16, .nbytes = sizeof b_bf16, .file = "mem", .heap = true};
static struct vs_st_tensor tn = {.name = "norm.weight", .dtype = VS_DTYPE_BF16, .ndim = 1, .shape = {4},
                                 .data = n_bf16, .nbytes = sizeof n_bf16, .file = "mem", .heap = true};

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

/* bf16 mode: the copy views the bf16 weight; a transform owns it as float32, edits it and stores
 * it back as bf16 (model/unit_f32.h); the file then holds the stored bits, and a weight still
 * viewed is written from the checkpoint. */
static void test_views_and_stored_bf16(void **state)
{
    struct fixture *fx = *state;
    vs_compute_set(VS_COMPUTE_BF16);
    struct vs_unit_f32 *f;
    assert_int_equal(vs_unit_f32_make_for_compute(fx->u, &f), VS_OK);
    vs_compute_set(VS_COMPUTE_FP32);
    assert_true(vs_unit_f32_is_view(f, 0) && vs_unit_f32_holds_bf16(f, 0));
    assert_false(vs_unit_f32_holds_bf16(f, 1)); /* the bias and the norm are float32 */
    assert_null(vs_unit_f32_values(f, 0));
    size_t owned = f->bytes;
    /* a view written out: the checkpoint's bits */
    bool which[3] = {true, false, false}, exact = false;
    struct vs_unit_file uf;
    assert_int_equal(vs_unit_file_write(fx->u, f, which, false, fx->dir, ".t", &exact, &uf), VS_OK);
    assert_true(exact);
    assert_memory_equal(uf.unit->params[0].src->data, w_bf16, sizeof w_bf16);
    vs_unit_file_close(&uf);
    /* owned, edited, stored back: 2 bytes a value, read as bf16, kept by a release */
    assert_int_equal(vs_unit_f32_own(f, 0), VS_OK);
    assert_false(vs_unit_f32_holds_bf16(f, 0));
    assert_int_equal(f->bytes, owned + 12 * sizeof(float));
    float *w = vs_unit_f32_values(f, 0), want[12];
    for (int i = 0; i < 12; i++)
        want[i] = w[i] = -4.0f * w[i];
    assert_int_equal(vs_unit_f32_store_bf16(f, 0), VS_OK);
    assert_true(vs_unit_f32_holds_bf16(f, 0) && !vs_unit_f32_is_view(f, 0));
    assert_int_equal(f->bytes, owned + 12 * sizeof(uint16_t));
    assert_true(f->unit->params[0].known_finite);
    vs_param_release(&f->unit->params[0]);
    float got[12];
    assert_int_equal(vs_param_read_f32(&f->unit->params[0], got), VS_OK);
    assert_memory_equal(got, want, sizeof got);
    assert_int_equal(vs_unit_file_write(fx->u, f, which, false, fx->dir, ".t", &exact, &uf), VS_OK);
    expect_weight(uf.unit, "l.weight", want, 12);
    vs_unit_file_close(&uf);
    /* owned again: the same values; one that bf16 does not hold, or an infinity, keeps float32 */
    assert_int_equal(vs_unit_f32_own(f, 0), VS_OK);
    w = vs_unit_f32_values(f, 0);
    assert_memory_equal(w, want, sizeof want);
    w[3] = 1.0f + 1.0f / 1024.0f;
    assert_int_equal(vs_unit_f32_store_bf16(f, 0), VS_OK);
    assert_non_null(vs_unit_f32_values(f, 0));
    w[3] = INFINITY;
    assert_int_equal(vs_unit_f32_store_bf16(f, 0), VS_OK);
    assert_non_null(vs_unit_f32_values(f, 0));
    assert_int_equal(f->bytes, owned + 12 * sizeof(float));
    vs_unit_f32_free(f);
}

/* A copy without views keeps its float32 weights; a lazy one (quarot's tail) views a bf16
 * matrix, whatever the compute mode, and stores it back after a transform. */
static void test_lazy_copy(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(vs_unit_f32_store_bf16(fx->f, 0), VS_OK); /* made by vs_unit_f32_make */
    assert_non_null(vs_unit_f32_values(fx->f, 0));
    struct vs_unit_f32 *f;
    assert_int_equal(vs_unit_f32_make_lazy(fx->u, &f), VS_OK);
    assert_true(vs_unit_f32_is_view(f, 0));
    assert_non_null(vs_unit_f32_values(f, 2)); /* the norm, one-dimensional, is float32 */
    assert_int_equal(vs_unit_f32_own(f, 0), VS_OK);
    float *w = vs_unit_f32_values(f, 0);
    w[0] = 0.5f;
    assert_int_equal(vs_unit_f32_store_bf16(f, 0), VS_OK);
    assert_true(vs_unit_f32_holds_bf16(f, 0) && !vs_unit_f32_is_view(f, 0));
    float got[12];
    assert_int_equal(vs_param_read_f32(&f->unit->params[0], got), VS_OK);
    assert_true(got[0] == 0.5f && got[11] == vs_bf16_to_f32(w_bf16[11]));
    vs_unit_f32_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selected_and_consumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inexact_value_declined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views_and_stored_bf16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
