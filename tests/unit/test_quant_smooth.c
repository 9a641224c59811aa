/* iter_smooth / smooth_quant statistics, scales and folds against PyTorch goldens
 * (tests/golden/outlier/make_golden.py), one case per subgraph type, symmetric and asymmetric.
 * Scales differ from PyTorch's only by libm's powf (a few ulp), so comparisons are relative. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "quant/smooth.h"
#include "outlier_golden.h"
#include "test_util.h"

static void observe(struct vs_smooth_stats *st, const char *prefix, int calls)
{
    for (int i = 0; i < calls; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.x.%d", prefix, i);
        const struct vs_st_tensor *t = golden_tensor(name, true);
        vs_smooth_stats_observe(st, t->data, t->shape[0]);
    }
}

static void colmax_init(float *w, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        w[i] = -INFINITY;
}

static void test_norm_linear_symmetric(void **state)
{
    (void)state;
    int64_t C = 16;
    struct vs_smooth_stats st;
    assert_int_equal(vs_smooth_stats_init(&st, C, false), VS_OK);
    observe(&st, "nl", 2);
    golden_compare("nl.sym.absmax", st.absmax, C);
    float *gamma = golden_copy("nl.gamma", NULL), *w1 = golden_copy("nl.w1", NULL), *w2 = golden_copy("nl.w2", NULL);
    float wstat[16], s[16];
    colmax_init(wstat, C);
    vs_smooth_weight_colmax(w1, 8, C, true, wstat);
    vs_smooth_weight_colmax(w2, 12, C, true, wstat);
    vs_iter_smooth_scales(st.absmax, wstat, C, 0.9, 1e-5, s);
    golden_compare("nl.sym.s", s, C);
    float sq[16];
    vs_smooth_quant_scales(st.absmax, wstat, C, 0.5, sq);
    golden_compare("nl.smooth_quant.s", sq, C);
    struct vs_linear_weights t[2] = {{"w1", w1, NULL, 8, C}, {"w2", w2, NULL, 12, C}};
    assert_int_equal(vs_smooth_fold_norm_linear(gamma, NULL, C, s, NULL, t, 2), VS_OK);
    golden_compare("nl.sym.gamma", gamma, C);
    golden_compare("nl.sym.w1", w1, 8 * C);
    golden_compare("nl.sym.w2", w2, 12 * C);
    free(gamma), free(w1), free(w2);
    vs_smooth_stats_free(&st);
}

static void test_norm_linear_asymmetric(void **state)
{
    (void)state;
    int64_t C = 16;
    struct vs_smooth_stats st;
    assert_int_equal(vs_smooth_stats_init(&st, C, true), VS_OK);
    observe(&st, "nl", 2);
    golden_compare("nl.asym.min", st.min, C);
    golden_compare("nl.asym.max", st.max, C);
    golden_compare("nl.asym.absmax", st.absmax, C);
    float shift[16], wstat[16], s[16];
    vs_smooth_stats_shift(&st, shift);
    golden_compare("nl.asym.shift", shift, C);
    float *gamma = golden_copy("nl.gamma", NULL), *beta = golden_copy("nl.beta", NULL), *w1 = golden_copy("nl.w1", NULL),
          *w2 = golden_copy("nl.w2", NULL), *b1 = golden_copy("nl.b1", NULL), *b2 = golden_copy("nl.b2", NULL);
    colmax_init(wstat, C);
    vs_smooth_weight_colmax(w1, 8, C, true, wstat);
    vs_smooth_weight_colmax(w2, 12, C, true, wstat);
    vs_iter_smooth_scales(st.absmax, wstat, C, 0.9, 1e-5, s);
    golden_compare("nl.asym.s", s, C);
    struct vs_linear_weights t[2] = {{"w1", w1, b1, 8, C}, {"w2", w2, b2, 12, C}};
    assert_int_equal(vs_smooth_fold_norm_linear(gamma, beta, C, s, shift, t, 2), VS_OK);
    golden_compare("nl.asym.gamma", gamma, C);
    golden_compare("nl.asym.beta", beta, C);
    golden_compare("nl.asym.w1", w1, 8 * C);
    golden_compare("nl.asym.w2", w2, 12 * C);
    golden_compare("nl.asym.b1", b1, 8);
    golden_compare("nl.asym.b2", b2, 12);
    /* errors: a missing bias buffer, a wrong width */
    t[1].b = NULL;
    assert_int_equal(vs_smooth_fold_norm_linear(gamma, beta, C, s, shift, t, 2), VS_ERR_INTERNAL);
    assert_true(vs_test_contains(vs_error_message(), "w2: asymmetric smoothing needs a bias buffer"));
    assert_int_equal(vs_smooth_fold_norm_linear(gamma, NULL, C, s, shift, t, 1), VS_ERR_INTERNAL);
    assert_true(vs_test_contains(vs_error_message(), "norm bias"));
    t[0].in = 15;
    assert_int_equal(vs_smooth_fold_norm_linear(gamma, NULL, C, s, NULL, t, 1), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "w1: norm-linear target has in_features 15"));
    free(gamma), free(beta), free(w1), free(w2), free(b1), free(b2);
    vs_smooth_stats_free(&st);
}

static void test_up_down(void **state)
{
    (void)state;
    int64_t C = 16;
    struct vs_smooth_stats st;
    assert_int_equal(vs_smooth_stats_init(&st, C, false), VS_OK);
    observe(&st, "ud", 2);
    float *up = golden_copy("ud.up", NULL), *upb = golden_copy("ud.up_b", NULL), *down = golden_copy("ud.down", NULL);
    float wstat[16], s[16];
    colmax_init(wstat, C);
    vs_smooth_weight_colmax(down, 6, C, true, wstat);
    vs_iter_smooth_scales(st.absmax, wstat, C, 0.9, 1e-5, s);
    golden_compare("ud.s_abs", s, C); /* the non-quirk statistic */
    colmax_init(wstat, C);
    vs_smooth_weight_colmax(down, 6, C, false, wstat); /* msModelSlim: signed column max */
    vs_iter_smooth_scales(st.absmax, wstat, C, 0.9, 1e-5, s);
    golden_compare("ud.s", s, C);
    struct vs_linear_weights src = {"up_proj", up, upb, C, 8}, dst = {"down_proj", down, NULL, 6, C};
    assert_int_equal(vs_smooth_fold_linear_linear(&src, &dst, s), VS_OK);
    golden_compare("ud.up.out", up, C * 8);
    golden_compare("ud.up_b.out", upb, C);
    golden_compare("ud.down.out", down, 6 * C);
    dst.in = 8;
    assert_int_equal(vs_smooth_fold_linear_linear(&src, &dst, s), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "down_proj: target has in_features 8"));
    free(up), free(upb), free(down);
    vs_smooth_stats_free(&st);
}

static void test_ov_gqa(void **state)
{
    (void)state;
    const int64_t NQ = 4, NKV = 2, D = 4;
    struct vs_smooth_stats st;
    assert_int_equal(vs_smooth_stats_init(&st, NQ * D, false), VS_OK);
    observe(&st, "ov", 2);
    float *v = golden_copy("ov.v", NULL), *vb = golden_copy("ov.v_b", NULL), *o = golden_copy("ov.o", NULL);
    float wstat[16], s[16], v_s[8];
    colmax_init(wstat, NQ * D);
    vs_smooth_weight_colmax(o, 12, NQ * D, false, wstat);
    vs_iter_smooth_scales(st.absmax, wstat, NQ * D, 0.9, 1e-5, s);
    golden_compare("ov.s", s, NQ * D);
    assert_int_equal(vs_smooth_ov_reduce(s, NQ, NKV, D, v_s), VS_OK);
    golden_compare("ov.v_s", v_s, NKV * D);
    struct vs_linear_weights vp = {"v_proj", v, vb, NKV * D, 12}, op = {"o_proj", o, NULL, 12, NQ * D};
    assert_int_equal(vs_smooth_fold_ov(&vp, &op, v_s, NQ, NKV, D), VS_OK);
    golden_compare("ov.v.out", v, NKV * D * 12);
    golden_compare("ov.v_b.out", vb, NKV * D);
    golden_compare("ov.o.out", o, 12 * NQ * D);
    assert_int_equal(vs_smooth_ov_reduce(s, 4, 3, D, v_s), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "num_attention_heads 4 is not a multiple of num_key_value_heads 3"));
    op.in = 12;
    assert_int_equal(vs_smooth_fold_ov(&vp, &op, v_s, NQ, NKV, D), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "o_proj: ov target has in_features 12"));
    free(v), free(vb), free(o);
    vs_smooth_stats_free(&st);
}

/* vs_smooth_apply does the statistic, scales, reduction and fold of each type as above. */
static void test_apply_each_type(void **state)
{
    (void)state;
    struct vs_smooth_params p = {.alpha = 0.9, .scale_min = 1e-5, .symmetric = true, .scale_dtype = VS_DTYPE_F32};
    struct vs_smooth_stats st;
    float s[16];
    /* norm-linear, symmetric */
    assert_int_equal(vs_smooth_stats_init(&st, 16, false), VS_OK);
    observe(&st, "nl", 2);
    float *gamma = golden_copy("nl.gamma", NULL), *w1 = golden_copy("nl.w1", NULL), *w2 = golden_copy("nl.w2", NULL);
    struct vs_linear_weights t[2] = {{"w1", w1, NULL, 8, 16}, {"w2", w2, NULL, 12, 16}};
    struct vs_smooth_subgraph_weights g = {.type = VS_SMOOTH_NORM_LINEAR, .norm_weight = gamma, .targets = t, .n_targets = 2};
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    golden_compare("nl.sym.s", s, 16);
    golden_compare("nl.sym.gamma", gamma, 16), golden_compare("nl.sym.w1", w1, 8 * 16), golden_compare("nl.sym.w2", w2, 12 * 16);
    free(gamma), free(w1), free(w2);
    vs_smooth_stats_free(&st);
    /* norm-linear, asymmetric */
    assert_int_equal(vs_smooth_stats_init(&st, 16, true), VS_OK);
    observe(&st, "nl", 2);
    gamma = golden_copy("nl.gamma", NULL), w1 = golden_copy("nl.w1", NULL), w2 = golden_copy("nl.w2", NULL);
    float *beta = golden_copy("nl.beta", NULL), *b1 = golden_copy("nl.b1", NULL), *b2 = golden_copy("nl.b2", NULL);
    t[0] = (struct vs_linear_weights){"w1", w1, b1, 8, 16}, t[1] = (struct vs_linear_weights){"w2", w2, b2, 12, 16};
    g.norm_weight = gamma, g.norm_bias = beta;
    p.symmetric = false;
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    golden_compare("nl.asym.s", s, 16), golden_compare("nl.asym.gamma", gamma, 16), golden_compare("nl.asym.beta", beta, 16);
    golden_compare("nl.asym.w1", w1, 8 * 16), golden_compare("nl.asym.b1", b1, 8), golden_compare("nl.asym.b2", b2, 12);
    free(gamma), free(w1), free(w2), free(beta), free(b1), free(b2);
    vs_smooth_stats_free(&st);
    p.symmetric = true;
    /* up-down (signed statistic) */
    assert_int_equal(vs_smooth_stats_init(&st, 16, false), VS_OK);
    observe(&st, "ud", 2);
    float *up = golden_copy("ud.up", NULL), *upb = golden_copy("ud.up_b", NULL), *down = golden_copy("ud.down", NULL);
    struct vs_linear_weights src = {"up_proj", up, upb, 16, 8}, dst = {"down_proj", down, NULL, 6, 16};
    g = (struct vs_smooth_subgraph_weights){.type = VS_SMOOTH_UP_DOWN, .source = &src, .targets = &dst, .n_targets = 1};
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    golden_compare("ud.s", s, 16), golden_compare("ud.up.out", up, 16 * 8), golden_compare("ud.up_b.out", upb, 16), golden_compare("ud.down.out", down, 6 * 16);
    free(up), free(upb), free(down);
    up = golden_copy("ud.up", NULL), down = golden_copy("ud.down", NULL);
    src.w = up, src.b = NULL, dst.w = down;
    p.abs_weight_stat = true; /* the non-quirk statistic */
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    golden_compare("ud.s_abs", s, 16);
    p.abs_weight_stat = false;
    free(up), free(down);
    vs_smooth_stats_free(&st);
    /* ov */
    assert_int_equal(vs_smooth_stats_init(&st, 16, false), VS_OK);
    observe(&st, "ov", 2);
    float *v = golden_copy("ov.v", NULL), *vb = golden_copy("ov.v_b", NULL), *o = golden_copy("ov.o", NULL);
    struct vs_linear_weights vp = {"v_proj", v, vb, 8, 12}, op = {"o_proj", o, NULL, 12, 16};
    g = (struct vs_smooth_subgraph_weights){.type = VS_SMOOTH_OV, .source = &vp, .targets = &op, .n_targets = 1,
                                            .num_attention_heads = 4, .num_key_value_heads = 2, .head_dim = 4};
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    golden_compare("ov.v_s", s, 8), golden_compare("ov.v.out", v, 8 * 12), golden_compare("ov.v_b.out", vb, 8), golden_compare("ov.o.out", o, 12 * 16);
    /* errors */
    g.head_dim = 8;
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "o_proj: 16 input channels, but 4 heads of 8"));
    p.symmetric = false;
    g.head_dim = 4;
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_ERR_INTERNAL);
    assert_true(vs_test_contains(vs_error_message(), "asymmetric mode needs a norm-linear subgraph"));
    p.symmetric = true;
    free(v), free(vb), free(o);
    vs_smooth_stats_free(&st);
    assert_int_equal(vs_smooth_stats_init(&st, 16, false), VS_OK); /* never observed */
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_ERR_DATASET);
    assert_true(vs_test_contains(vs_error_message(), "o_proj: ov subgraph has no activation statistics"));
    vs_smooth_stats_free(&st);
}

/* scale_dtype bf16: the scales are rounded to bf16 before folding, as msModelSlim's cast. */
static void test_apply_bf16_scales(void **state)
{
    (void)state;
    struct vs_smooth_params p = {.alpha = 0.9, .scale_min = 1e-5, .symmetric = true, .scale_dtype = VS_DTYPE_BF16};
    struct vs_smooth_stats st;
    float s[16], s32[16];
    assert_int_equal(vs_smooth_stats_init(&st, 16, false), VS_OK);
    observe(&st, "nl", 2);
    float *gamma = golden_copy("nl.gamma", NULL), *w1 = golden_copy("nl.w1", NULL), *g0 = golden_copy("nl.gamma", NULL);
    struct vs_linear_weights t = {"w1", w1, NULL, 8, 16};
    struct vs_smooth_subgraph_weights g = {.type = VS_SMOOTH_NORM_LINEAR, .norm_weight = gamma, .targets = &t, .n_targets = 1};
    assert_int_equal(vs_smooth_apply(&g, &st, &p, s), VS_OK);
    float wstat[16];
    colmax_init(wstat, 16);
    vs_smooth_weight_colmax(golden_tensor("nl.w1", true)->data, 8, 16, true, wstat);
    vs_iter_smooth_scales(st.absmax, wstat, 16, 0.9, 1e-5, s32);
    int differ = 0;
    for (int c = 0; c < 16; c++) {
        assert_true(s[c] == vs_bf16_to_f32(vs_f32_to_bf16(s32[c])));
        assert_true(gamma[c] == g0[c] / s[c]);
        differ += s[c] != s32[c];
    }
    assert_true(differ > 0);
    free(gamma), free(w1), free(g0);
    vs_smooth_stats_free(&st);
}

static void test_scale_floor_and_priority(void **state)
{
    (void)state;
    float a[3] = {0.0f, 1.0f, 4.0f}, w[3] = {1.0f, -3.0f, 0.0f}, s[3];
    vs_iter_smooth_scales(a, w, 3, 0.5, 1e-3, s);
    assert_true(s[0] == 1e-3f);                   /* zero activation: scale_min */
    assert_true(s[1] == 1.0f / powf(1e-5f, 0.5f)); /* negative (signed) weight max: clamped at 1e-5 */
    assert_true(s[2] == 2.0f / powf(1e-5f, 0.5f));
    assert_true(vs_smooth_priority(VS_SMOOTH_UP_DOWN) < vs_smooth_priority(VS_SMOOTH_OV));
    assert_true(vs_smooth_priority(VS_SMOOTH_OV) < vs_smooth_priority(VS_SMOOTH_LINEAR_LINEAR));
    assert_true(vs_smooth_priority(VS_SMOOTH_LINEAR_LINEAR) < vs_smooth_priority(VS_SMOOTH_NORM_LINEAR));
    assert_string_equal(vs_smooth_type_name(VS_SMOOTH_UP_DOWN), "up-down");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_linear_symmetric),
        cmocka_unit_test(test_norm_linear_asymmetric),
        cmocka_unit_test(test_up_down),
        cmocka_unit_test(test_ov_gqa),
        cmocka_unit_test(test_apply_each_type),
        cmocka_unit_test(test_apply_bf16_scales),
        cmocka_unit_test(test_scale_floor_and_priority),
    };
    return cmocka_run_group_tests(tests, golden_open, golden_close);
}
