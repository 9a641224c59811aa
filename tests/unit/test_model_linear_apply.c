/* Loading a Linear as float32: whole float32 tensors and float32 expert slices are used in place
 * (slices in their [in, out] layout), bf16 ones converted; the missing-module error;
 * vs_linear_apply shows the input to the observer before computing y = x·Wᵀ + b; non-finite
 * weights (in place, converted, in an expert slice) and activations (a Linear's input or output)
 * are errors naming the file, tensor, Linear and element. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/linear_apply.h"
#include "test_util.h"

/* W [3, 2] = {1, 2; 3, 4; 5, 6}, b = {0.5, -1, 2}. */
static float w_data[6] = {1, 2, 3, 4, 5, 6}, b_data[3] = {0.5f, -1, 2};
static struct vs_st_tensor w_f32 = {.name = "fc.weight", .dtype = VS_DTYPE_F32, .ndim = 2, .shape = {3, 2},
                                    .data = w_data, .nbytes = sizeof w_data, .file = "mem"};
static struct vs_st_tensor b_f32 = {.name = "fc.bias", .dtype = VS_DTYPE_F32, .ndim = 1, .shape = {3},
                                    .data = b_data, .nbytes = sizeof b_data, .file = "mem"};

static void test_f32_weights_are_used_in_place(void **state)
{
    (void)state;
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_param(u, "fc.weight", &w_f32), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "fc.bias", &b_f32), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "fc", "fc.weight", "fc.bias"), VS_OK);
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "fc", &l), VS_OK);
    assert_ptr_equal(l.w, w_data);
    assert_ptr_equal(l.b, b_data);
    assert_null(l.own_w);
    assert_int_equal(l.out, 3);
    assert_int_equal(l.in, 2);
    vs_linear_f32_free(&l);
    assert_null(l.w);
    vs_unit_free(u);
}

static void test_bf16_weights_are_converted(void **state)
{
    (void)state;
    uint16_t w16[6], b16[3];
    for (int i = 0; i < 6; i++)
        w16[i] = vs_f32_to_bf16(w_data[i]);
    for (int i = 0; i < 3; i++)
        b16[i] = vs_f32_to_bf16(b_data[i]);
    struct vs_st_tensor w = w_f32, b = b_f32;
    w.dtype = b.dtype = VS_DTYPE_BF16;
    w.data = w16, w.nbytes = sizeof w16, b.data = b16, b.nbytes = sizeof b16;
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_param(u, "fc.weight", &w), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "fc.bias", &b), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "fc", "fc.weight", "fc.bias"), VS_OK);
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "fc", &l), VS_OK);
    assert_ptr_equal(l.w, l.own_w);
    for (int i = 0; i < 6; i++)
        assert_true(l.w[i] == w_data[i]);
    for (int i = 0; i < 3; i++)
        assert_true(l.b[i] == b_data[i]);
    vs_linear_f32_free(&l);
    vs_unit_free(u);
}

/* fused [1, 2, 4]: columns 1..3 of src[0] are Wᵀ of W [3, 2] = {1, 2; 3, 4; 5, 6} */
static float fused_data[8] = {9, 1, 3, 5, 9, 2, 4, 6};

static void check_slice_apply(const struct vs_linear_f32 *l)
{
    float x[4] = {1, -1, 0.5f, 2}, y[6];
    assert_int_equal(vs_linear_apply(l, x, 2, y, NULL), VS_OK);
    const float want[6] = {-1, -1, -1, 4.5f, 9.5f, 14.5f}; /* x · Wᵀ, no bias */
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == want[i]);
}

static void test_expert_slice_is_used_in_place(void **state)
{
    (void)state;
    struct vs_st_tensor fused = {.name = "experts.gate_up_proj", .dtype = VS_DTYPE_F32, .ndim = 3, .shape = {1, 2, 4},
                                 .data = fused_data, .nbytes = sizeof fused_data, .file = "mem"};
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "experts.0.gate_proj.weight", &fused, 0, 1, 3), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "experts.0.gate_proj", "experts.0.gate_proj.weight", NULL), VS_OK);
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "experts.0.gate_proj", &l), VS_OK);
    assert_true(l.w_in_out);
    assert_ptr_equal(l.w, fused_data + 1);
    assert_int_equal(l.ldw, 4);
    assert_null(l.own_w);
    assert_int_equal(l.out, 3);
    assert_int_equal(l.in, 2);
    assert_null(l.b);
    check_slice_apply(&l);
    vs_linear_f32_free(&l);
    vs_unit_free(u);
}

static void test_bf16_expert_slice_is_converted(void **state)
{
    (void)state;
    uint16_t data[8];
    for (int i = 0; i < 8; i++)
        data[i] = vs_f32_to_bf16(fused_data[i]);
    struct vs_st_tensor fused = {.name = "experts.gate_up_proj", .dtype = VS_DTYPE_BF16, .ndim = 3, .shape = {1, 2, 4},
                                 .data = data, .nbytes = sizeof data, .file = "mem"};
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "experts.0.gate_proj.weight", &fused, 0, 1, 3), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "experts.0.gate_proj", "experts.0.gate_proj.weight", NULL), VS_OK);
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "experts.0.gate_proj", &l), VS_OK);
    assert_true(l.w_in_out);
    assert_ptr_equal(l.w, l.own_w);
    assert_int_equal(l.ldw, 3);
    const float block[6] = {1, 3, 5, 2, 4, 6}; /* [in, out] */
    for (int i = 0; i < 6; i++)
        assert_true(l.w[i] == block[i]);
    check_slice_apply(&l);
    vs_linear_f32_free(&l);
    vs_unit_free(u);
}

static void test_missing_linear(void **state)
{
    (void)state;
    struct vs_unit *u = vs_unit_new("model.language_model.layers.3");
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "mlp.up_proj", &l), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "'model.language_model.layers.3'"));
    assert_true(vs_test_contains(vs_error_message(), "'mlp.up_proj' is missing"));
    vs_unit_free(u);
}

struct seen {
    const char *module;
    const float *x;
    int64_t rows, cols;
};

static void observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct seen *s = ctx;
    s->module = module, s->x = x, s->rows = rows, s->cols = cols;
}

static void test_apply_observes_then_computes(void **state)
{
    (void)state;
    struct vs_linear_f32 l = {.name = "fc", .w = w_data, .b = b_data, .out = 3, .in = 2};
    float x[4] = {1, -1, 0.5f, 2}, y[6];
    struct seen s = {0};
    struct vs_linear_hooks hooks = {.observe_input = observe, .ctx = &s};
    assert_int_equal(vs_linear_apply(&l, x, 2, y, &hooks), VS_OK);
    assert_string_equal(s.module, "fc");
    assert_ptr_equal(s.x, x);
    assert_int_equal(s.rows, 2);
    assert_int_equal(s.cols, 2);
    /* row 0: (1·1 − 2, 3 − 4, 5 − 6) + b; row 1: (0.5 + 4, 1.5 + 8, 2.5 + 12) + b */
    const float want[6] = {-0.5f, -2, 1, 5, 8.5f, 16.5f};
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == want[i]);
}

/* A compute hook takes "q" (2 -> 1: y = 10·x0 + x1) and leaves "fc" to the unit's weights;
 * observers see both; a non-finite computed output is the Linear's error. */
struct computed {
    int computes, computed, observed_in, observed_out;
    float last_y;
};

static bool computes_q(void *ctx, const char *module, int64_t *in, int64_t *out)
{
    struct computed *c = ctx;
    c->computes++;
    if (strcmp(module, "q") != 0)
        return false;
    *in = 2, *out = 1;
    return true;
}

static enum vs_status compute_q(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct computed *c = ctx;
    assert_string_equal(module, "q");
    c->computed++;
    for (int64_t r = 0; r < rows; r++)
        y[r] = 10 * x[2 * r] + x[2 * r + 1];
    return VS_OK;
}

static void observe_in(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    (void)module, (void)x, (void)rows;
    struct computed *c = ctx;
    c->observed_in += (int)cols;
}

static void observe_out(void *ctx, const char *module, const float *y, int64_t rows, int64_t cols)
{
    (void)module, (void)cols;
    struct computed *c = ctx;
    c->observed_out++;
    c->last_y = y[rows - 1];
}

static void test_compute_hook(void **state)
{
    (void)state;
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_param(u, "fc.weight", &w_f32), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "fc", "fc.weight", NULL), VS_OK);
    struct computed c = {0};
    struct vs_linear_hooks h = {.computes = computes_q, .compute = compute_q, .observe_input = observe_in,
                                .observe_output = observe_out, .ctx = &c};
    const float x[4] = {1, 2, 3, 4};
    float y[6];
    /* "q" is not in the unit: the hook computes it, the unit is never asked */
    assert_int_equal(vs_linear_run(u, "q", x, 2, y, &h), VS_OK);
    assert_true(y[0] == 12.0f && y[1] == 34.0f);
    assert_int_equal(c.computed, 1);
    assert_int_equal(c.observed_in, 2);
    assert_int_equal(c.observed_out, 1);
    assert_true(c.last_y == 34.0f);
    /* "fc" from the unit's weights, with the same observers */
    assert_int_equal(vs_linear_run(u, "fc", x, 2, y, &h), VS_OK);
    assert_int_equal(c.computed, 1);
    assert_true(y[0] == 5.0f && y[5] == 39.0f);
    assert_int_equal(c.observed_out, 2);
    /* a non-finite input is still refused before the hook computes */
    const float bad[2] = {1, NAN};
    assert_int_equal(vs_linear_run(u, "q", bad, 1, y, &h), VS_ERR_NONFINITE);
    assert_string_equal(vs_error_message(), "Linear 'q': its input holds 1 non-finite value(s) (first: NaN at row 0, "
                                            "column 1 of 1 rows)");
    assert_int_equal(c.computed, 1);
    vs_unit_free(u);
}

static void test_nonfinite_weights(void **state)
{
    (void)state;
    float w[6] = {1, 2, 3, NAN, 5, INFINITY};
    struct vs_st_tensor t = w_f32;
    t.data = w, t.file = "model.safetensors";
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_param(u, "fc.weight", &t), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "fc", "fc.weight", NULL), VS_OK);
    struct vs_linear_f32 l;
    /* used in place */
    assert_int_equal(vs_linear_f32_load(u, "fc", &l), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(),
                        "model.safetensors: tensor 'fc.weight': 2 non-finite value(s) (first: NaN at element 3)");
    vs_unit_free(u);
    /* converted from bf16: an infinity */
    uint16_t w16[6];
    for (int i = 0; i < 6; i++)
        w16[i] = vs_f32_to_bf16(i == 4 ? -INFINITY : w_data[i]);
    t.dtype = VS_DTYPE_BF16, t.data = w16, t.nbytes = sizeof w16;
    u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_param(u, "fc.weight", &t), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "fc", "fc.weight", NULL), VS_OK);
    assert_int_equal(vs_linear_f32_load(u, "fc", &l), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(),
                        "model.safetensors: tensor 'fc.weight': 1 non-finite value(s) (first: infinity at element 4)");
    /* and read whole (as a transformed unit reads it) */
    float v[6];
    assert_int_equal(vs_param_read_f32(&u->params[0], v), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "(first: infinity at element 4)"));
    vs_unit_free(u);
}

static void test_nonfinite_expert_slice(void **state)
{
    (void)state;
    float data[8];
    memcpy(data, fused_data, sizeof data);
    data[6] = NAN; /* src[0][1][2]: the view's (out 1, in 1), element 1·2 + 1 of [out, in] */
    struct vs_st_tensor fused = {.name = "experts.gate_up_proj", .dtype = VS_DTYPE_F32, .ndim = 3, .shape = {1, 2, 4},
                                 .data = data, .nbytes = sizeof data, .file = "m.safetensors"};
    struct vs_unit *u = vs_unit_new("layer");
    assert_int_equal(vs_unit_add_slice_param(u, "experts.0.gate_proj.weight", &fused, 0, 1, 3), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "experts.0.gate_proj", "experts.0.gate_proj.weight", NULL), VS_OK);
    struct vs_linear_f32 l;
    assert_int_equal(vs_linear_f32_load(u, "experts.0.gate_proj", &l), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(), "m.safetensors: tensor 'experts.gate_up_proj' (as "
                                            "'experts.0.gate_proj.weight'): 1 non-finite value(s) (first: NaN at element 3)");
    float v[6];
    assert_int_equal(vs_param_read_f32(&u->params[0], v), VS_ERR_MODEL); /* the transposing read says the same */
    assert_true(vs_test_contains(vs_error_message(), "(first: NaN at element 3)"));
    vs_unit_free(u);
}

static int observed;
static void count_observe(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    (void)ctx, (void)module, (void)x, (void)rows, (void)cols;
    observed++;
}

static void test_nonfinite_activations(void **state)
{
    (void)state;
    struct vs_linear_f32 l = {.name = "fc", .w = w_data, .b = b_data, .out = 3, .in = 2};
    struct vs_linear_hooks hooks = {.observe_input = count_observe};
    float x[4] = {1, -1, 0.5f, NAN}, y[6];
    observed = 0;
    assert_int_equal(vs_linear_apply(&l, x, 2, y, &hooks), VS_ERR_NONFINITE);
    assert_string_equal(vs_error_message(),
                        "Linear 'fc': its input holds 1 non-finite value(s) (first: NaN at row 1, column 1 of 2 rows)");
    assert_int_equal(observed, 0); /* no observer saw it */
    /* finite input, overflowing output */
    float big[4] = {1, -1, 3e38f, 3e38f};
    assert_int_equal(vs_linear_apply(&l, big, 2, y, &hooks), VS_ERR_NONFINITE);
    assert_string_equal(vs_error_message(), "Linear 'fc': its output holds 3 non-finite value(s) (first: infinity at "
                                            "row 1, column 0 of 2 rows)");
}

static void test_overflow_count(void **state)
{
    (void)state;
    float v[6] = {65504.0f, 65519.0f, 65520.0f, -1e6f, INFINITY, 1.0f};
    size_t first;
    assert_int_equal(vs_count_overflow_f32(VS_DTYPE_F16, v, 6, &first), 2); /* 65520 rounds to infinity */
    assert_int_equal(first, 2);
    float b[3] = {3.38e38f, 3.4e38f, -3.0e38f};
    assert_int_equal(vs_count_overflow_f32(VS_DTYPE_BF16, b, 3, &first), 1); /* bf16's largest is 3.3895e38 */
    assert_int_equal(first, 1);
    assert_int_equal(vs_count_overflow_f32(VS_DTYPE_F32, b, 3, &first), 0);
    assert_int_equal(first, 3);
    assert_int_equal(vs_count_nonfinite_f32(v, 6, &first), 1);
    assert_int_equal(first, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_weights_are_used_in_place),
        cmocka_unit_test(test_bf16_weights_are_converted),
        cmocka_unit_test(test_expert_slice_is_used_in_place),
        cmocka_unit_test(test_bf16_expert_slice_is_converted),
        cmocka_unit_test(test_missing_linear),
        cmocka_unit_test(test_apply_observes_then_computes),
        cmocka_unit_test(test_compute_hook),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_nonfinite_expert_slice),
        cmocka_unit_test(test_nonfinite_activations),
        cmocka_unit_test(test_overflow_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
