/* Qwen3-VL positions against numpy golden values (tests/golden/positions/make_golden.py):
 * position ids exactly; cos/sin and interpolated embeddings within 1e-6 (float32 libm vs numpy
 * may differ in the last bit). Qwen2.5-VL's variants (MRoPE in sections, no image time index,
 * the window order of its vision tower) against hand-worked cases of transformers' definitions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "model/qwen2_5_vl/qwen2_5_vl.h"
#include "model/qwen3_vl_positions.h"
#include "test_util.h"

static json_t *g;
static int64_t grids[2][3];

static int load(void **state)
{
    (void)state;
    json_error_t err;
    if (!(g = json_load_file("tests/golden/positions/cases.json", 0, &err)))
        fail_msg("tests/golden/positions/cases.json: %s", err.text);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            grids[i][j] = json_integer_value(json_array_get(json_array_get(json_object_get(g, "grids"), (size_t)i), (size_t)j));
    return 0;
}

static int unload(void **state)
{
    (void)state;
    json_decref(g);
    return 0;
}

static int64_t *ints(const char *key, size_t *n)
{
    json_t *a = json_object_get(g, key);
    int64_t *v = malloc((json_array_size(a) + 1) * sizeof *v);
    for (size_t i = 0; i < json_array_size(a); i++)
        v[i] = json_integer_value(json_array_get(a, i));
    if (n)
        *n = json_array_size(a);
    return v;
}

static void expect_floats(const char *key, const float *got, size_t n)
{
    json_t *a = json_object_get(g, key);
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++) {
        double want = json_number_value(json_array_get(a, i));
        if (fabs(got[i] - want) > 1e-6 + 1e-6 * fabs(want))
            fail_msg("%s[%zu]: %.9g, expected %.9g", key, i, got[i], want);
    }
}

static void test_rope_index_and_mrope(void **state)
{
    (void)state;
    size_t s;
    int64_t *ids = ints("ids", &s), *want = ints("pos", NULL), *pos = malloc(3 * s * sizeof *pos);
    assert_int_equal(vs_qwen3_vl_rope_index(ids, (int64_t)s, 151655, (const int64_t(*)[3])grids, 2, 2, true, pos), VS_OK);
    for (size_t i = 0; i < 3 * s; i++)
        assert_int_equal(pos[i], want[i]);
    int64_t sec[3] = {4, 2, 2};
    float *cs = malloc(s * 16 * sizeof *cs), *sn = malloc(s * 16 * sizeof *sn);
    vs_qwen3_vl_mrope(pos, (int64_t)s, 16, 5000000.0, sec, true, cs, sn);
    expect_floats("cos", cs, s * 16);
    expect_floats("sin", sn, s * 16);
    free(ids), free(want), free(pos), free(cs), free(sn);
}

static void test_rope_index_errors(void **state)
{
    (void)state;
    int64_t pos[3 * 8];
    int64_t too_few[] = {1, 151655, 151655, 2};
    int64_t grid[1][3] = {{1, 4, 6}}; /* needs 6 image tokens */
    assert_int_equal(vs_qwen3_vl_rope_index(too_few, 4, 151655, (const int64_t(*)[3])grid, 1, 2, true, pos), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "image 0: needs 6 image tokens from position 1, the sequence has 4"));
    int64_t text[] = {1, 2, 3};
    assert_int_equal(vs_qwen3_vl_rope_index(text, 3, 151655, (const int64_t(*)[3])grid, 1, 2, true, pos), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "1 images but 0 image token blocks"));
    int64_t extra[] = {151655, 151655};
    int64_t one[1][3] = {{1, 2, 2}};
    assert_int_equal(vs_qwen3_vl_rope_index(extra, 2, 151655, (const int64_t(*)[3])one, 1, 2, true, pos), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "more image blocks than images"));
}

/* apply_multimodal_rotary_pos_emb of Qwen2.5-VL: cos.split(mrope_section * 2) takes the i-th
 * chunk from axis i % 3, so frequency j uses T below sec[0], H below sec[0] + sec[1], else W. */
static void test_mrope_sections(void **state)
{
    (void)state;
    enum { S = 3, D = 16 };
    int64_t pos[3 * S] = {0, 1, 2, /* T */ 5, 6, 7, /* H */ 9, 10, 11 /* W */}, sec[3] = {4, 2, 2};
    float cs[S * D], sn[S * D];
    vs_qwen3_vl_mrope(pos, S, D, 10000.0, sec, false, cs, sn);
    for (int t = 0; t < S; t++)
        for (int j = 0; j < D / 2; j++) {
            int axis = j < 4 ? 0 : j < 6 ? 1 : 2;
            float a = (float)pos[axis * S + t] * (float)pow(10000.0, -2.0 * j / D);
            assert_float_equal(cs[t * D + j], cosf(a), 1e-6);
            assert_float_equal(cs[t * D + j + D / 2], cosf(a), 1e-6);
            assert_float_equal(sn[t * D + j], sinf(a), 1e-6);
        }
}

/* Qwen2.5-VL's get_rope_index gives an image's frames time index frame · 0 (images have no
 * seconds per frame): a two-frame image block is (base, base + h, base + w) in both frames. */
static void test_rope_index_without_frame_time(void **state)
{
    (void)state;
    int64_t ids[] = {7, 151655, 151655, 8}, grid[1][3] = {{2, 2, 2}}, pos[3 * 4];
    assert_int_equal(vs_qwen3_vl_rope_index(ids, 4, 151655, (const int64_t(*)[3])grid, 1, 2, false, pos), VS_OK);
    const int64_t want[3 * 4] = {0, 1, 1, 2, /* T */ 0, 1, 1, 2, /* H */ 0, 1, 1, 2 /* W */};
    for (int i = 0; i < 12; i++)
        assert_int_equal(pos[i], want[i]);
    assert_int_equal(vs_qwen3_vl_rope_index(ids, 4, 151655, (const int64_t(*)[3])grid, 1, 2, true, pos), VS_OK);
    assert_int_equal(pos[2], 2); /* with frame time, the second frame is one step later ... */
    assert_int_equal(pos[3], 3); /* ... and the text after it too */
}

/* get_window_index on a 1x6x10 grid, merge 2, windows of 2x2 merge groups: the merged grid is
 * 3x5, padded to 4x6; windows row by row, groups row-major inside each, the padding dropped
 * (cu_window_seqlens [0, 16, 32, 40, 48, 56, 60] in patches). A second image continues the
 * numbering of groups and windows. */
static void test_window_order(void **state)
{
    (void)state;
    int64_t grid[2][3] = {{1, 6, 10}, {1, 4, 4}}, order[15 + 4];
    int32_t window[15 + 4];
    vs_qwen2_5_vl_window_order((const int64_t(*)[3])grid, 2, 2, 2, order, window);
    const int64_t want[] = {0, 1, 5, 6, 2, 3, 7, 8, 4, 9, 10, 11, 12, 13, 14, /* second image: one window */ 15, 16, 17, 18};
    const int32_t want_w[] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6, 6, 6};
    for (int i = 0; i < 19; i++) {
        assert_int_equal(order[i], want[i]);
        assert_int_equal(window[i], want_w[i]);
    }
}

static void test_vision_rope_and_pos_embed(void **state)
{
    (void)state;
    size_t n;
    int64_t *want_rows = ints("rows", &n), *want_cols = ints("cols", NULL);
    int64_t *rows = malloc(n * sizeof *rows), *cols = malloc(n * sizeof *cols);
    vs_qwen3_vl_patch_coords((const int64_t(*)[3])grids, 2, 2, rows, cols);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i], want_rows[i]);
        assert_int_equal(cols[i], want_cols[i]);
    }
    float *cs = malloc(n * 16 * sizeof *cs), *sn = malloc(n * 16 * sizeof *sn);
    vs_qwen3_vl_vision_rope(rows, cols, (int64_t)n, 16, cs, sn);
    expect_floats("vcos", cs, n * 16);
    expect_floats("vsin", sn, n * 16);
    size_t nt;
    json_t *jt = json_object_get(g, "table");
    nt = json_array_size(jt);
    float *table = malloc(nt * sizeof *table), *pe = malloc(n * 3 * sizeof *pe);
    for (size_t i = 0; i < nt; i++)
        table[i] = (float)json_number_value(json_array_get(jt, i));
    vs_qwen3_vl_pos_embed(table, 4, 3, (const int64_t(*)[3])grids, 2, 2, pe);
    expect_floats("pos_embed", pe, n * 3);
    free(want_rows), free(want_cols), free(rows), free(cols), free(cs), free(sn), free(table), free(pe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rope_index_and_mrope),
        cmocka_unit_test(test_rope_index_errors),
        cmocka_unit_test(test_mrope_sections),
        cmocka_unit_test(test_rope_index_without_frame_time),
        cmocka_unit_test(test_window_order),
        cmocka_unit_test(test_vision_rope_and_pos_embed),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
