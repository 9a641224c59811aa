/* QuaRot norm fusion, left/right rotations (block-diagonal R, per-head R_uv), the export
 * tensors and the refusals, against PyTorch goldens (tests/golden/outlier/make_golden.py). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "quant/quarot.h"
#include "outlier_golden.h"
#include "test_util.h"

static void test_rotations(void **state)
{
    (void)state;
    struct vs_rotation R, Ruv;
    assert_int_equal(vs_rotation_hadamard(64, 32, 1234, &R), VS_OK);
    assert_int_equal(vs_rotation_block_hadamard_shifted(32, 16, 1234, &Ruv), VS_OK);
    float *wq = golden_copy("rot.wq", NULL), *wo = golden_copy("rot.wo", NULL), *wob = golden_copy("rot.wo_b", NULL), *emb = golden_copy("rot.emb", NULL),
          *wv = golden_copy("rot.wv", NULL), *wov = golden_copy("rot.wov", NULL);
    assert_int_equal(vs_quarot_rotate_right(&R, wq, 24, 64, "q_proj"), VS_OK);
    golden_compare("rot.wq.out", wq, 24 * 64);
    assert_int_equal(vs_quarot_rotate_left(&R, wo, 64, 40, wob, "o_proj"), VS_OK);
    golden_compare("rot.wo.out", wo, 64 * 40);
    golden_compare("rot.wo_b.out", wob, 64);
    assert_int_equal(vs_quarot_rotate_right(&R, emb, 10, 64, "embed_tokens"), VS_OK);
    golden_compare("rot.emb.out", emb, 10 * 64);
    /* R_uv over 2 KV heads of v_proj's output and 4 heads of o_proj's input */
    assert_int_equal(vs_quarot_rotate_left(&Ruv, wv, 64, 16, NULL, "v_proj"), VS_OK);
    golden_compare("rot.wv.out", wv, 64 * 16);
    assert_int_equal(vs_quarot_rotate_right(&Ruv, wov, 8, 128, "o_proj"), VS_OK);
    golden_compare("rot.wov.out", wov, 8 * 128);
    /* dimension errors name the tensor */
    assert_int_equal(vs_quarot_rotate_right(&R, wq, 24, 48, "model.x.q_proj"), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "model.x.q_proj: 48 input columns is not a multiple of the rotation size 64"));
    assert_int_equal(vs_quarot_rotate_left(&R, wo, 40, 64, NULL, "model.x.o_proj"), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "model.x.o_proj: 40 output rows"));
    free(wq), free(wo), free(wob), free(emb), free(wv), free(wov);
    vs_rotation_free(&R);
    vs_rotation_free(&Ruv);
}

/* Both ways of applying a rotation (the fast transform for power-of-two HADAMARD blocks, a BLAS
 * product otherwise) against a double-precision product with the dense matrix. */
static void check_against_dense(const struct vs_rotation *r, int64_t rows)
{
    int64_t n = r->size;
    float *dense = malloc((size_t)(n * n) * sizeof *dense), *w = malloc((size_t)(rows * n) * sizeof *w),
          *wl = malloc((size_t)(n * rows) * sizeof *wl), *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < rows * n; i++)
        w[i] = wl[i] = (float)((i * 7919) % 23) - 11.0f;
    for (int64_t i = 0; i < n; i++)
        b[i] = (float)(i % 5) - 2.0f;
    vs_rotation_to_dense(r, dense);
    float *w0 = malloc((size_t)(rows * n) * sizeof *w0), *b0 = malloc((size_t)n * sizeof *b0);
    memcpy(w0, w, (size_t)(rows * n) * sizeof *w0);
    memcpy(b0, b, (size_t)n * sizeof *b0);
    assert_int_equal(vs_quarot_rotate_right(r, w, rows, n, "right"), VS_OK);
    assert_int_equal(vs_quarot_rotate_left(r, wl, n, rows, b, "left"), VS_OK); /* wl read as [n, rows] */
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < n; j++) {
            double right = 0, left = 0;
            for (int64_t k = 0; k < n; k++) {
                right += (double)w0[i * n + k] * dense[k * n + j];   /* (W·R)[i, j] */
                left += (double)dense[k * n + j] * w0[k * rows + i]; /* (Rᵀ·W)[j, i] */
            }
            assert_true(fabs(w[i * n + j] - right) <= 1e-4);
            assert_true(fabs(wl[j * rows + i] - left) <= 1e-4);
        }
    for (int64_t j = 0; j < n; j++) {
        double v = 0;
        for (int64_t k = 0; k < n; k++)
            v += (double)dense[k * n + j] * b0[k];
        assert_true(fabs(b[j] - v) <= 1e-4);
    }
    free(dense), free(w), free(wl), free(b), free(w0), free(b0);
}

static void test_fast_and_blas_paths(void **state)
{
    (void)state;
    struct vs_rotation r;
    assert_int_equal(vs_rotation_hadamard(64, -1, 1234, &r), VS_OK);
    assert_non_null(r.signs); /* fast transform */
    check_against_dense(&r, 5);
    free(r.signs);
    r.signs = NULL; /* the same matrix through BLAS */
    check_against_dense(&r, 5);
    vs_rotation_free(&r);
    assert_int_equal(vs_rotation_hadamard(96, 32, 1234, &r), VS_OK); /* blocks of 32 */
    check_against_dense(&r, 3);
    vs_rotation_free(&r);
    assert_int_equal(vs_rotation_hadamard(48, -1, 1234, &r), VS_OK); /* k = 12: BLAS */
    assert_null(r.signs);
    check_against_dense(&r, 4);
    vs_rotation_free(&r);
}

static void test_fuse_norm(void **state)
{
    (void)state;
    float *g = golden_copy("fuse.gamma", NULL), *b = golden_copy("fuse.beta", NULL), *w1 = golden_copy("fuse.w1", NULL), *b1 = golden_copy("fuse.b1", NULL),
          *w2 = golden_copy("fuse.w2", NULL), *b2 = golden_copy("fuse.b2", NULL);
    struct vs_linear_weights l[2] = {{"fc_a", w1, b1, 24, 64}, {"fc_b", w2, b2, 16, 64}};
    assert_int_equal(vs_quarot_fuse_norm("norm", g, b, 64, l, 2), VS_OK);
    golden_compare("fuse.w1.out", w1, 24 * 64);
    golden_compare("fuse.b1.out", b1, 24);
    golden_compare("fuse.w2.out", w2, 16 * 64);
    golden_compare("fuse.b2.out", b2, 16);
    for (int c = 0; c < 64; c++)
        assert_true(g[c] == 1.0f && b[c] == 0.0f);
    l[1].b = NULL;
    assert_int_equal(vs_quarot_fuse_norm("model.norm", g, b, 64, l, 2), VS_ERR_INTERNAL);
    assert_true(vs_test_contains(vs_error_message(), "fc_b: fusing norm model.norm with a bias needs a bias buffer"));
    l[0].in = 32;
    assert_int_equal(vs_quarot_fuse_norm("model.norm", g, NULL, 64, l, 1), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "fc_a: in_features 32, but norm model.norm has 64 channels"));
    free(g), free(b), free(w1), free(b1), free(w2), free(b2);
}

/* The explicit-buffer phases: a dense layer, pre-run and post-run. */
static void test_phases(void **state)
{
    (void)state;
    struct vs_rotation R, Ruv;
    assert_int_equal(vs_rotation_hadamard(64, 32, 1234, &R), VS_OK);
    assert_int_equal(vs_rotation_block_hadamard_shifted(32, 16, 1234, &Ruv), VS_OK);
    float *q = golden_copy("layer.q", NULL), *k = golden_copy("layer.k", NULL), *v = golden_copy("layer.v", NULL), *o = golden_copy("layer.o", NULL), *gate = golden_copy("layer.gate", NULL),
          *up = golden_copy("layer.up", NULL), *down = golden_copy("layer.down", NULL), *in_norm = golden_copy("layer.in_norm", NULL),
          *post_norm = golden_copy("layer.post_norm", NULL);
    struct vs_linear_weights mlp_in[2] = {{"gate_proj", gate, NULL, 16, 64}, {"up_proj", up, NULL, 16, 64}},
                             mlp_out = {"down_proj", down, NULL, 64, 16};
    struct vs_quarot_layer l = {.input_norm = in_norm, .post_norm = post_norm,
                                .q = {"q_proj", q, NULL, 64, 64}, .k = {"k_proj", k, NULL, 32, 64},
                                .v = {"v_proj", v, NULL, 32, 64}, .o = {"o_proj", o, NULL, 64, 64},
                                .mlp_in = mlp_in, .n_mlp_in = 2, .mlp_out = &mlp_out, .n_mlp_out = 1};
    assert_int_equal(vs_quarot_apply_layer(&R, &Ruv, &l), VS_OK);
    golden_compare("layer.q.out", q, 64 * 64), golden_compare("layer.k.out", k, 32 * 64), golden_compare("layer.v.out", v, 32 * 64);
    golden_compare("layer.o.out", o, 64 * 64), golden_compare("layer.gate.out", gate, 16 * 64), golden_compare("layer.up.out", up, 16 * 64);
    golden_compare("layer.down.out", down, 64 * 16);
    for (int c = 0; c < 64; c++)
        assert_true(in_norm[c] == 1.0f && post_norm[c] == 1.0f);
    float *fc2 = golden_copy("layer.fc2", NULL), *fc2b = golden_copy("layer.fc2_b", NULL), *ds = golden_copy("layer.ds_fc2", NULL), *dsb = golden_copy("layer.ds_fc2_b", NULL),
          *embed = golden_copy("layer.embed", NULL), *norm = golden_copy("layer.norm", NULL), *lm = golden_copy("layer.lm_head", NULL);
    struct vs_linear_weights mergers[2] = {{"model.visual.merger.linear_fc2", fc2, fc2b, 64, 8},
                                           {"model.visual.deepstack_merger_list.0.linear_fc2", ds, dsb, 64, 8}},
                             lm_head = {"lm_head", lm, NULL, 4, 64};
    assert_int_equal(vs_quarot_pre_run(&R, mergers, 2, embed, 4, 64), VS_OK);
    golden_compare("layer.fc2.out", fc2, 64 * 8), golden_compare("layer.fc2_b.out", fc2b, 64);
    golden_compare("layer.ds_fc2.out", ds, 64 * 8), golden_compare("layer.ds_fc2_b.out", dsb, 64);
    golden_compare("layer.embed.out", embed, 4 * 64);
    assert_int_equal(vs_quarot_post_run(&R, norm, &lm_head), VS_OK);
    golden_compare("layer.lm_head.out", lm, 4 * 64);
    assert_true(norm[0] == 1.0f && norm[63] == 1.0f);
    /* a wrong width names the Linear */
    l.k.in = 32;
    assert_int_equal(vs_quarot_apply_layer(&R, &Ruv, &l), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "k_proj: in_features 32, but norm input_layernorm has 64 channels"));
    free(q), free(k), free(v), free(o), free(gate), free(up), free(down), free(in_norm), free(post_norm);
    free(fc2), free(fc2b), free(ds), free(dsb), free(embed), free(norm), free(lm);
    vs_rotation_free(&R), vs_rotation_free(&Ruv);
}

static void test_check_and_export(void **state)
{
    (void)state;
    struct vs_quarot_config c = {.online = false, .block_size = 32, .max_tp_size = 4, .export_extra_info = true};
    assert_int_equal(vs_quarot_check(&c, false, "spec.process[0]"), VS_OK);
    assert_int_equal(vs_quarot_check(&c, true, "spec.process[0]"), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "spec.process[0]: quarot cannot rotate a model with tie_word_embeddings: true"));
    c.online = true;
    assert_int_equal(vs_quarot_check(&c, false, "spec.process[1]"), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "spec.process[1]: quarot online: true is not supported"));

    struct vs_rotation R;
    struct vs_quarot_export e;
    assert_int_equal(vs_rotation_hadamard(64, 32, 1234, &R), VS_OK);
    assert_int_equal(vs_quarot_export_init(&R, &e), VS_OK);
    assert_string_equal(e.file, "optional/quarot.safetensors");
    assert_string_equal(e.tensor_name, "global_rotation");
    assert_int_equal(e.shape[0], 64), assert_int_equal(e.shape[1], 64);
    assert_string_equal(e.optional_json, "{\"quarot\":{\"rotation_map\":{\"global_rotation\":\"optional/quarot.safetensors\"}}}");
    const struct vs_st_tensor *t = golden_tensor("rotation.hadamard.64.b32", true);
    assert_memory_equal(e.data, t->data, 64 * 64 * 4);
    vs_quarot_export_free(&e);
    vs_rotation_free(&R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_fast_and_blas_paths),
        cmocka_unit_test(test_fuse_norm),
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_check_and_export),
    };
    return cmocka_run_group_tests(tests, golden_open, golden_close);
}
