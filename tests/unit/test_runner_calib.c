/* Calibration of one unit (src/runner/calib.c) on a hand-made unit with two Linear modules:
 * observed ranges, W8A8 parameters, quant_bias and deq_scale, fake quantization in the
 * propagation hooks, the error measurement (and its row stride), and the errors for unreached
 * and NaN inputs; bf16 mode's views of a bf16 unit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "model/linear_apply.h"
#include "quant/int8_linear.h"
#include "quant/int_quant.h"
#include "runner/calib.h"
#include "tensor/compute.h"
#include "tensor/dtype.h"
#include "test_util.h"

/* Linear "a" [2, 3] with bias (W8A8 asymmetric) and "b" [2, 3] without (W8A8_DYNAMIC). */
static float wa[6] = {1.0f, -0.5f, 0.25f, 0.0f, 2.0f, -1.0f}, ba[2] = {0.5f, -0.25f};
static float wb[6] = {0.1f, 0.2f, 0.3f, -0.4f, 0.5f, -0.6f};

static struct vs_st_tensor tensor(const char *name, float *data, int ndim, int64_t d0, int64_t d1)
{
    struct vs_st_tensor t = {.name = name, .dtype = VS_DTYPE_F32, .ndim = ndim, .data = data, .file = "test"};
    t.shape[0] = d0;
    t.shape[1] = d1;
    t.nbytes = (size_t)(d0 * (ndim == 2 ? d1 : 1)) * sizeof(float);
    return t;
}

struct fixture {
    struct vs_st_tensor t[3];
    struct vs_unit *u;
    struct vs_unit_f32 *f;
    struct vs_calib_unit *cu;
};

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.t[0] = tensor("a.weight", wa, 2, 2, 3);
    fx.t[1] = tensor("a.bias", ba, 1, 2, 0);
    fx.t[2] = tensor("b.weight", wb, 2, 2, 3);
    fx.u = vs_unit_new("u");
    assert_int_equal(vs_unit_add_param(fx.u, "a.weight", &fx.t[0]), VS_OK);
    assert_int_equal(vs_unit_add_param(fx.u, "a.bias", &fx.t[1]), VS_OK);
    assert_int_equal(vs_unit_add_param(fx.u, "b.weight", &fx.t[2]), VS_OK);
    assert_int_equal(vs_unit_add_linear(fx.u, "a", "a.weight", "a.bias"), VS_OK);
    assert_int_equal(vs_unit_add_linear(fx.u, "b", "b.weight", NULL), VS_OK);
    assert_int_equal(vs_unit_f32_make(fx.u, &fx.f), VS_OK);
    int scheme[2] = {VS_SCHEME_W8A8, VS_SCHEME_W8A8_DYNAMIC};
    bool sym[2] = {false, true}, routed[2] = {false, true};
    assert_int_equal(vs_calib_unit_open(fx.f, scheme, sym, routed, NULL, &fx.cu), VS_OK);
    *state = &fx;
    return 0;
}

/* The same unit with "a" calibrated by a histogram observer (act method histogram). */
static int setup_hist(void **state)
{
    setup(state);
    struct fixture *fx = *state;
    vs_calib_unit_free(fx->cu);
    int scheme[2] = {VS_SCHEME_W8A8, VS_SCHEME_W8A8_DYNAMIC};
    bool sym[2] = {false, true}, routed[2] = {false, true}, hist[2] = {true, true};
    assert_int_equal(vs_calib_unit_open(fx->f, scheme, sym, routed, hist, &fx->cu), VS_OK);
    assert_non_null(fx->cu->cl[0].hist);
    assert_null(fx->cu->cl[1].hist); /* only W8A8 Linears have an observer */
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    vs_calib_unit_free(fx->cu);
    vs_unit_f32_free(fx->f);
    vs_unit_free(fx->u);
    return 0;
}

/* vs_calib_linear_quantize on every claimed Linear, as the runner does Linear by Linear. */
static enum vs_status quantize_all(struct vs_calib_unit *cu)
{
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < cu->n && st == VS_OK; i++)
        st = vs_calib_linear_quantize(cu, &cu->cl[i]);
    return st;
}

/* Runs both Linears of the unit through vs_linear_apply on x [rows, 3]. */
static void run(struct fixture *fx, const struct vs_linear_hooks *h, const float *x, int64_t rows, float *ya, float *yb)
{
    struct vs_linear_f32 la, lb;
    assert_int_equal(vs_linear_f32_load(fx->f->unit, "a", &la), VS_OK);
    assert_int_equal(vs_linear_f32_load(fx->f->unit, "b", &lb), VS_OK);
    assert_int_equal(vs_linear_apply(&la, x, rows, ya, h), VS_OK);
    assert_int_equal(vs_linear_apply(&lb, x, rows, yb, h), VS_OK);
    vs_linear_f32_free(&la);
    vs_linear_f32_free(&lb);
}

/* run() with outputs discarded, for up to 8 rows. */
static void run_rows(struct fixture *fx, const struct vs_linear_hooks *h, const float *x, int64_t rows)
{
    float ya[16], yb[16];
    run(fx, h, x, rows, ya, yb);
}

static void test_calibrate_quantize_propagate(void **state)
{
    struct fixture *fx = *state;
    bool all_experts;
    assert_true(vs_calib_unit_needs_stats(fx->cu, &all_experts));
    assert_false(all_experts); /* the W8A8 Linear is not routed */
    struct vs_linear_hooks h;
    vs_calib_unit_observe_hooks(fx->cu, &h);
    float x1[6] = {0.5f, -1.5f, 2.0f, 0.25f, 0.0f, 1.0f}, x2[3] = {3.0f, -0.5f, 0.75f}, ya[4], yb[4];
    run(fx, &h, x1, 2, ya, yb);
    run(fx, &h, x2, 1, ya, yb);
    h.routed_tokens(h.ctx, "b", 2);
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_OK);
    const struct vs_calib_linear *a = &fx->cu->cl[0], *b = &fx->cu->cl[1];
    assert_true(a->min == -1.5f && a->max == 3.0f);
    assert_int_equal(a->rows, 3);
    assert_int_equal(b->rows, 0); /* dynamic: not observed */
    assert_int_equal(b->routed_tokens, 2);
    float s, o;
    vs_quant_params(-1.5f, 3.0f, 8, false, &s, &o);
    assert_true(a->act_scale == s && a->act_offset == o);
    assert_true(s == 3.0f / 255.0f + 1.5f / 255.0f && o == rintf(1.5f / s) - 128.0f);

    assert_int_equal(quantize_all(fx->cu), VS_OK);
    for (int r = 0; r < 2; r++) { /* deq_scale = s·s_w, quant_bias = round(b/deq − o·ΣW_q) */
        float d = s * a->w_scale[r];
        assert_true(a->deq_scale[r] == d);
        int32_t sum = a->q[r * 3] + a->q[r * 3 + 1] + a->q[r * 3 + 2];
        assert_int_equal(a->quant_bias[r], (int32_t)rintf(ba[r] / d - o * (float)sum));
    }
    assert_null(b->deq_scale);

    int8_t q1 = a->q[1];
    float ws0 = a->w_scale[0];
    fx->cu->measure = true;
    vs_calib_unit_apply(fx->cu, &h);
    float *w = vs_unit_f32_values(fx->f, 0);
    assert_true(w[1] == (float)q1 * ws0); /* dequantized in place */
    assert_null(a->q);                    /* the int8 copy freed (written out by then) */
    assert_non_null(a->w_float);          /* no checkpoint unit to read it again from: kept */
    float ya2[4], yb2[4];
    run(fx, &h, x1, 2, ya2, yb2);
    assert_int_equal(fx->cu->hook_status, VS_OK);
    /* a's output: the fake-quantized input through the dequantized weight */
    for (int r = 0; r < 2; r++) {
        float acc = 0;
        for (int k = 0; k < 3; k++) {
            float xq = ((float)vs_quant_value(x1[k], s, o, 8) - o) * s;
            acc += xq * w[r * 3 + k];
        }
        assert_float_equal(ya2[r], acc + ba[r], 1e-6);
    }
    assert_int_equal(a->eval_rows, 2);
    assert_true(a->ref2 > 0 && a->err2 > 0 && a->err2 < 1e-3 * a->ref2);
    assert_true(a->in_min == -1.5f && a->in_max == 2.0f);
    assert_int_equal(vs_calib_unit_restore_float(fx->cu), VS_OK);
    assert_true(vs_unit_f32_values(fx->f, 0)[1] == wa[1]);
}

static void test_unreached_and_nan(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_ERR_DATASET);
    assert_true(vs_test_contains(vs_error_message(), "a: the W8A8 static scheme selects this Linear but no calibration token reached it"));
    struct vs_linear_hooks h;
    vs_calib_unit_observe_hooks(fx->cu, &h);
    float x[3] = {1.0f, NAN, 2.0f}, ya[2];
    /* vs_linear_apply stops at the NaN before any observer sees it ... */
    struct vs_linear_f32 la;
    assert_int_equal(vs_linear_f32_load(fx->f->unit, "a", &la), VS_OK);
    assert_int_equal(vs_linear_apply(&la, x, 1, ya, &h), VS_ERR_NONFINITE);
    assert_string_equal(vs_error_message(), "Linear 'a': its input holds 1 non-finite value(s) (first: NaN at row 0, "
                                            "column 1 of 1 rows)");
    vs_linear_f32_free(&la);
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_ERR_DATASET);
    /* ... and an observer given one anyway still refuses to make a scale of it */
    h.observe_input(h.ctx, "a", x, 1, 3);
    h.observe_input(h.ctx, "b", x, 1, 3);
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(), "a.input_scale: the Linear's calibration inputs contain NaN");
}

/* Each call's input feeds the observer; the parameters come from its clip range. */
static void test_histogram_stats(void **state)
{
    struct fixture *fx = *state;
    struct vs_linear_hooks h;
    vs_calib_unit_observe_hooks(fx->cu, &h);
    float x[3][12], ya[8], yb[8];
    struct vs_histogram ref;
    vs_histogram_init(&ref);
    for (int call = 0; call < 3; call++) {
        for (int k = 0; k < 12; k++) /* a widening range, an outlier in the last call */
            x[call][k] = (float)((k * 7 + call * 3) % 11 - 5) * (0.3f + (float)call);
        if (call == 2)
            x[call][5] = 40.0f;
        run(fx, &h, x[call], 4, ya, yb);
        assert_int_equal(vs_histogram_observe(&ref, x[call], 12, "ref"), VS_OK);
    }
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_OK);
    const struct vs_calib_linear *a = &fx->cu->cl[0];
    assert_int_equal(a->hist->calls, 3);
    float lo, hi, s, o;
    assert_int_equal(vs_histogram_clip(&ref, &lo, &hi, "ref"), VS_OK);
    assert_true(a->min == lo && a->max == hi);
    /* torch's HistogramObserver on the same three calls: range [-11.5, 40.18], clip min -9.6831 */
    assert_float_equal(lo, -9.6831, 1e-4);
    assert_float_equal(hi, 40.1797, 1e-4);
    vs_quant_params(lo, hi, 8, false, &s, &o);
    assert_true(a->act_scale == s && a->act_offset == o);
    /* propagation: values beyond the clip range land on the end codes */
    assert_int_equal(quantize_all(fx->cu), VS_OK);
    vs_calib_unit_apply(fx->cu, &h);
    float big[3] = {100.0f, 0.0f, -100.0f};
    const float *xq = h.transform_input(h.ctx, "a", big, 1, 3);
    assert_true(xq[0] == (127.0f - o) * s && xq[2] == (-128.0f - o) * s);
    assert_true(xq[0] <= hi + s && xq[2] >= lo - s);
}

static void test_histogram_hook_error(void **state)
{
    struct fixture *fx = *state;
    struct vs_linear_hooks h;
    vs_calib_unit_observe_hooks(fx->cu, &h);
    float x[3] = {1.0f, INFINITY, 2.0f};
    h.observe_input(h.ctx, "a", x, 1, 3); /* as if vs_linear_apply had not refused it */
    h.observe_input(h.ctx, "b", x, 1, 3);
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(), "a: histogram observer: input element 1 is infinite");
}


/* With src set, the float weights are read again from it instead of kept. */
static void measure_rows_src(struct fixture *fx, const struct vs_unit *src, int64_t stride, const int64_t *split,
                             int n_calls, const float *x, const float *m, double *err2, double *ref2, int64_t *eval,
                             int64_t *seen)
{
    struct vs_linear_hooks h;
    vs_calib_unit_observe_hooks(fx->cu, &h);
    run_rows(fx, &h, x, 7);
    assert_int_equal(vs_calib_unit_finish_stats(fx->cu), VS_OK);
    assert_int_equal(quantize_all(fx->cu), VS_OK);
    fx->cu->measure = true;
    fx->cu->measure_stride = stride;
    fx->cu->src = src;
    vs_calib_unit_apply(fx->cu, &h);
    if (src)
        assert_null(fx->cu->cl[0].w_float);
    for (int c = 0, r = 0; c < n_calls; r += (int)split[c], c++)
        run_rows(fx, &h, m + r * 3, split[c]);
    assert_int_equal(fx->cu->hook_status, VS_OK);
    *err2 = fx->cu->cl[0].err2, *ref2 = fx->cu->cl[0].ref2, *eval = fx->cu->cl[0].eval_rows;
    *seen = fx->cu->cl[0].pass_rows;
    assert_int_equal(vs_calib_unit_restore_float(fx->cu), VS_OK);
    assert_memory_equal(vs_unit_f32_values(fx->f, 0), wa, sizeof wa); /* the float weight back */
}

/* With measure_stride 3, the error comes from rows 0, 3 and 6 of the pass, counted across calls:
 * seven rows in one call or as 2 + 4 + 1 give the same sums, equal to measuring those three
 * rows with stride 1 (a wrong pick moves the sums by far more than rounding), and to reading
 * the float weights again from the checkpoint's unit instead of keeping them. The statistics
 * pass sees the seven rows x each time; the measuring pass sees m (rows), split into calls. */
static void measure_rows(struct fixture *fx, int64_t stride, const int64_t *split, int n_calls, const float *x,
                         const float *m, double *err2, double *ref2, int64_t *eval, int64_t *seen)
{
    measure_rows_src(fx, NULL, stride, split, n_calls, x, m, err2, ref2, eval, seen);
}

static void test_measure_stride(void **state)
{
    struct fixture *fx = *state;
    float x[21], picked[9];
    for (int i = 0; i < 21; i++)
        x[i] = sinf(0.7f * (float)i) * (float)(1 + i % 4);
    for (int t = 0; t < 3; t++)
        memcpy(picked + 3 * t, x + 3 * (3 * t), 3 * sizeof *picked);
    double e1, r1, e2, r2, e3, r3;
    int64_t n1, n2, n3, s1, s2, s3, one[1] = {7}, three[3] = {2, 4, 1}, all3[1] = {3};
    measure_rows(fx, 3, one, 1, x, x, &e1, &r1, &n1, &s1);
    teardown(state), setup(state), fx = *state;
    measure_rows(fx, 3, three, 3, x, x, &e2, &r2, &n2, &s2);
    assert_true(n1 == 3 && n2 == 3 && s1 == 7 && s2 == 7);
    /* (a picked row alone in its call goes through a matrix-vector product: equal up to rounding) */
    assert_true(e1 > 0 && r1 > 0 && fabs(e1 - e2) <= 1e-6 * e1 && fabs(r1 - r2) <= 1e-6 * r1);
    teardown(state), setup(state), fx = *state;
    measure_rows(fx, 1, all3, 1, x, picked, &e3, &r3, &n3, &s3);
    assert_true(n3 == 3 && s3 == 3);
    assert_true(fabs(e3 - e1) <= 1e-6 * e1 && fabs(r3 - r1) <= 1e-6 * r1);
    /* the float weights read again from the checkpoint's unit instead of kept: the same sums */
    double e4, r4;
    int64_t n4, s4;
    teardown(state), setup(state), fx = *state;
    measure_rows_src(fx, fx->u, 3, one, 1, x, x, &e4, &r4, &n4, &s4);
    assert_true(n4 == 3 && s4 == 7 && e4 == e1 && r4 == r1);
}

/* bf16 mode on a bf16 unit (a: W8A8 with a float32 bias, b: W8A8_DYNAMIC, c: W8A16): the copy
 * for compute keeps the Linear weights as views of the checkpoint, and calibrating it gives the
 * parameters, the int8 pass's outputs and the float weights back that the float32 copy gives;
 * the int8 weights of the views are kept (not written into a float32 copy), c is converted to
 * hold its dequantized weight. A non-finite bf16 weight is not viewed: its conversion names it. */
static void test_bf16_views(void **state)
{
    (void)state;
    static uint16_t w16[3][6];
    static float bias[2] = {0.5f, -0.25f};
    const float *src[3] = {wa, wb, wa};
    struct vs_st_tensor t[4];
    const char *names[3] = {"a.weight", "b.weight", "c.weight"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 6; i++)
            w16[k][i] = vs_f32_to_bf16(src[k][i] * (float)(k + 1));
        t[k] = (struct vs_st_tensor){.name = names[k], .dtype = VS_DTYPE_BF16, .ndim = 2, .shape = {2, 3},
                                     .data = w16[k], .nbytes = sizeof w16[k], .file = "test"};
    }
    t[3] = tensor("a.bias", bias, 1, 2, 0);
    struct vs_unit *u = vs_unit_new("u");
    assert_int_equal(vs_unit_add_param(u, "a.weight", &t[0]), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "a.bias", &t[3]), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "b.weight", &t[1]), VS_OK);
    assert_int_equal(vs_unit_add_param(u, "c.weight", &t[2]), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "a", "a.weight", "a.bias"), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "b", "b.weight", NULL), VS_OK);
    assert_int_equal(vs_unit_add_linear(u, "c", "c.weight", NULL), VS_OK);
    vs_compute_set(VS_COMPUTE_BF16);
    struct vs_unit_f32 *f[2];
    assert_int_equal(vs_unit_f32_make_for_compute(u, &f[0]), VS_OK);
    assert_int_equal(vs_unit_f32_make(u, &f[1]), VS_OK);
    assert_true(vs_unit_f32_is_view(f[0], 0) && !vs_unit_f32_is_view(f[0], 1) && vs_unit_f32_is_view(f[0], 3));
    assert_null(vs_unit_f32_values(f[0], 0));
    assert_false(vs_unit_f32_is_view(f[1], 0));
    assert_int_equal(f[0]->view_bytes, 3 * sizeof w16[0]);
    assert_int_equal(f[0]->bytes, sizeof bias);

    int scheme[3] = {VS_SCHEME_W8A8, VS_SCHEME_W8A8_DYNAMIC, VS_SCHEME_W8A16};
    bool sym[3] = {false, true, true}, routed[3] = {false, false, false};
    struct vs_calib_unit *cu[2];
    float x[6] = {0.5f, -1.5f, 2.0f, 0.25f, 0.0f, 1.0f}, y[2][3][4];
    const char *mods[3] = {"a", "b", "c"};
    for (int v = 0; v < 2; v++) {
        assert_int_equal(vs_calib_unit_open(f[v], scheme, sym, routed, NULL, &cu[v]), VS_OK);
        struct vs_linear_hooks h;
        vs_calib_unit_observe_hooks(cu[v], &h);
        for (int k = 0; k < 3; k++)
            assert_int_equal(vs_linear_run(f[v]->unit, mods[k], x, 2, y[v][k], &h), VS_OK);
        assert_int_equal(vs_calib_unit_finish_stats(cu[v]), VS_OK);
        assert_int_equal(quantize_all(cu[v]), VS_OK);
        cu[v]->src = u; /* the float weights are the checkpoint's */
        vs_calib_unit_apply(cu[v], &h);
        assert_int_equal(cu[v]->hook_status, VS_OK);
        for (int k = 0; k < 3; k++) /* the quantized pass: a and b in int8, c on its dequantized weight */
            assert_int_equal(vs_linear_run(f[v]->unit, mods[k], x, 2, y[v][k], &h), VS_OK);
        assert_int_equal(cu[v]->hook_status, VS_OK);
    }
    const struct vs_calib_linear *va = &cu[0]->cl[0], *fa = &cu[1]->cl[0];
    assert_true(va->act_scale == fa->act_scale && va->act_offset == fa->act_offset);
    assert_memory_equal(va->quant_bias, fa->quant_bias, 2 * sizeof *va->quant_bias);
    assert_memory_equal(va->deq_scale, fa->deq_scale, 2 * sizeof *va->deq_scale);
    assert_memory_equal(cu[0]->cl[1].w_scale, cu[1]->cl[1].w_scale, 2 * sizeof(float));
    assert_non_null(va->q);   /* a view's int8 weight is kept for the int8 pass */
    assert_null(fa->q);       /* the float32 copy holds the dequantized weight instead */
    assert_true(vs_unit_f32_is_view(f[0], 0) && !vs_unit_f32_is_view(f[0], 3)); /* c converted */
    assert_memory_equal(vs_unit_f32_values(f[0], 3), vs_unit_f32_values(f[1], 3), 6 * sizeof(float));
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++)
            assert_float_equal(y[0][k][i], y[1][k][i], 1e-6f * fabsf(y[1][k][i]));
    /* with vllm_kernels, a is computed as vLLM's W8A8 kernel computes it from the same tensors */
    float yv[4], yk[4], xr[6];
    struct vs_linear_hooks hv;
    cu[0]->vllm_kernels = true;
    vs_calib_unit_apply(cu[0], &hv);
    assert_int_equal(vs_linear_run(f[0]->unit, "a", x, 2, yv, &hv), VS_OK);
    vs_round_bf16_f32(x, xr, 6);
    struct vs_int8_linear il = {.name = "a", .scheme = VS_INT8_W8A8, .kernel = VS_INT8_VLLM, .out = 2, .in = 3,
                                .w = va->q, .input_scale = va->act_scale, .input_offset = va->act_offset,
                                .weight_scale = va->w_scale, .bias = bias};
    assert_int_equal(vs_int8_linear_apply(&il, xr, 2, yk), VS_OK);
    assert_memory_equal(yv, yk, sizeof yv);
    for (int v = 0; v < 2; v++)
        assert_int_equal(vs_calib_unit_restore_float(cu[v]), VS_OK);
    for (int i = 0; i < 6; i++)
        assert_true(vs_unit_f32_values(f[0], 3)[i] == vs_bf16_to_f32(w16[2][i]));
    size_t buffers = (cu[0]->buf_cap + cu[0]->wbuf_cap + cu[0]->ybuf_cap) * sizeof(float);
    assert_int_equal(vs_calib_unit_held_bytes(cu[0]) - buffers, 12); /* a's and b's int8 weights, not c's */
    assert_int_equal(vs_unit_f32_own(f[0], 0), VS_OK);
    assert_memory_equal(vs_unit_f32_values(f[0], 0), vs_unit_f32_values(f[1], 0), 6 * sizeof(float));
    for (int v = 0; v < 2; v++) {
        vs_calib_unit_free(cu[v]);
        vs_unit_f32_free(f[v]);
    }
    w16[1][4] = 0x7fc0; /* NaN */
    struct vs_unit_f32 *bad = NULL;
    assert_int_equal(vs_unit_f32_make_for_compute(u, &bad), VS_ERR_MODEL); /* as vs_unit_f32_make */
    assert_null(bad);
    assert_non_null(strstr(vs_error_message(), "b.weight"));
    assert_non_null(strstr(vs_error_message(), "NaN"));
    vs_compute_set(VS_COMPUTE_FP32);
    vs_unit_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_calibrate_quantize_propagate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreached_and_nan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreached_and_nan, setup_hist, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_stats, setup_hist, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_hook_error, setup_hist, teardown),
        cmocka_unit_test_setup_teardown(test_measure_stride, setup, teardown),
        cmocka_unit_test(test_bf16_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
