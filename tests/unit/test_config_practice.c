/* --quant_type parsing and non-interactive best-practice selection (spec §1.4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "config/practice.h"
#include "test_util.h"

static void expect_qt(const char *s, int w, int a, int kv, int fa, int sparse)
{
    struct vs_quant_type qt;
    assert_int_equal(vs_quant_type_parse(s, &qt), VS_OK);
    assert_int_equal(qt.w_bit, w);
    assert_int_equal(qt.a_bit, a);
    assert_int_equal(qt.kv_cache, kv);
    assert_int_equal(qt.fa_bit, fa);
    assert_int_equal(qt.is_sparse, sparse);
}

static void test_quant_type_parse(void **state)
{
    (void)state;
    expect_qt("w4a4", 4, 4, 0, 0, 0);
    expect_qt("w4a8", 4, 8, 0, 0, 0);
    expect_qt("w4a4c8", 4, 4, 1, 0, 0);
    expect_qt("w4a4f8", 4, 4, 0, 8, 0);
    expect_qt("w4a8c8", 4, 8, 1, 0, 0);
    expect_qt("w8a16", 8, 16, 0, 0, 0);
    expect_qt("w8a8", 8, 8, 0, 0, 0);
    expect_qt("w8a8s", 8, 8, 0, 0, 1);
    expect_qt("w8a8c8", 8, 8, 1, 0, 0);
    expect_qt("w8a8f8", 8, 8, 0, 8, 0);
    expect_qt("w4a4f4", 4, 4, 0, 4, 0);
    expect_qt("w16a16s", 16, 16, 0, 0, 1);
    static const char *const bad[] = {"w3a8", "W8A8", "w8a8c8s", "w8a8 ", "", "w8", "int8"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct vs_quant_type qt;
        assert_int_equal(vs_quant_type_parse(bad[i], &qt), VS_ERR_USAGE);
        char want[512];
        snprintf(want, sizeof want,
                 "--quant_type '%s': unknown quant type (expected one of: w4a4, w4a8, w4a4c8, w4a4f8, w4a8c8, "
                 "w8a16, w8a8, w8a8s, w8a8c8, w8a8f8, w4a4f4, w16a16s)",
                 bad[i]);
        assert_string_equal(vs_error_message(), want);
    }
}

static char *select_ok(const char *const *dirs, size_t n_dirs, const char *pedigree, const char *model_type,
                       const char *quant_type, const char *const *tags, size_t n_tags)
{
    struct vs_quant_type qt;
    char *path = NULL;
    assert_int_equal(vs_quant_type_parse(quant_type, &qt), VS_OK);
    enum vs_status st = vs_practice_select(dirs, n_dirs, pedigree, model_type, &qt, tags, n_tags, &path);
    if (st != VS_OK)
        fail_msg("%s", vs_error_message());
    return path;
}

static void expect_select(const char *const *dirs, size_t n_dirs, const char *pedigree, const char *model_type,
                          const char *quant_type, const char *const *tags, size_t n_tags, const char *want)
{
    char *path = select_ok(dirs, n_dirs, pedigree, model_type, quant_type, tags, n_tags);
    assert_string_equal(path, want);
    free(path);
}

static void expect_no_select(const char *const *dirs, size_t n_dirs, const char *pedigree, const char *model_type,
                             const char *quant_type, const char *const *tags, size_t n_tags, const char *message)
{
    struct vs_quant_type qt;
    char *path = (char *)1;
    assert_int_equal(vs_quant_type_parse(quant_type, &qt), VS_OK);
    enum vs_status st = vs_practice_select(dirs, n_dirs, pedigree, model_type, &qt, tags, n_tags, &path);
    if (st != VS_ERR_UNSUPPORTED || strcmp(vs_error_message(), message) != 0)
        fail_msg("got %d\n  %s\nexpected\n  %s", st, vs_error_message(), message);
    assert_null(path);
}

static const char *const LAB[] = {"lab_practice"};

static void test_lab_practice_moe(void **state)
{
    (void)state;
    /* all three MoE configs are verified for it; without tags the score, then config_id order picks
     * w8a8 (vlmslim's vision_smooth practice scores lower: msModelSlim's stays the default) */
    expect_select(LAB, 1, "qwen3_vl_moe", "Qwen3-VL-30B-A3B", "w8a8", NULL, 0,
                  "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml");
    const char *const a350[] = {"vllm_ascend", "ATLAS_350"};
    expect_select(LAB, 1, "qwen3_vl_moe", "Qwen3-VL-235B-A22B", "w8a8", a350, 2,
                  "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_mxfp8.yaml");
    const char *const a3[] = {"Atlas_A3_Inference"};
    expect_select(LAB, 1, "qwen3_vl_moe", "Qwen3-VL-235B-A22B", "w8a8", a3, 1,
                  "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml");
    const char *const other[] = {"vLLM_Ascend", "Atlas_999"};
    expect_no_select(LAB, 1, "qwen3_vl_moe", "Qwen3-VL-30B-A3B", "w8a8", other, 2,
                     "no best practice for --model_type Qwen3-VL-30B-A3B and --quant_type w8a8 with the given --tag "
                     "values; pass --config_path to choose a config. Considered: "
                     "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml (no verified Qwen3-VL-30B-A3B scenario has all "
                     "the --tag values); lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_mxfp8.yaml (no verified "
                     "Qwen3-VL-30B-A3B scenario has all the --tag values); "
                     "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_vision_smooth.yaml (no verified "
                     "Qwen3-VL-30B-A3B scenario has all the --tag values)");
    expect_no_select(LAB, 1, "qwen3_vl_moe", "Qwen3-VL-30B-A3B", "w4a8", NULL, 0,
                     "no best practice for --model_type Qwen3-VL-30B-A3B and --quant_type w4a8; pass --config_path to "
                     "choose a config. Considered: lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml (label w8a8); "
                     "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_mxfp8.yaml (label w8a8); "
                     "lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_vision_smooth.yaml (label w8a8)");
}

static void test_lab_practice_dense(void **state)
{
    (void)state;
    expect_select(LAB, 1, "qwen3_vl", "Qwen3-VL-32B-Instruct", "w8a8", NULL, 0,
                  "lab_practice/qwen3_vl/qwen3_vl_w8a8.yaml");
    expect_select(LAB, 1, "qwen3_vl", "Qwen3-VL-4B-Instruct", "w8a8", NULL, 0,
                  "lab_practice/qwen3_vl/qwen3_vl_4b_w8a8.yaml");
    const char *const duo[] = {"Atlas_300I_Duo"};
    expect_select(LAB, 1, "qwen3_vl", "Qwen3-VL-Reranker-2B", "w8a8", duo, 1,
                  "lab_practice/qwen3_vl/qwen3_vl_embedding_w8a8.yaml");
    expect_no_select(LAB, 1, "qwen3_vl", "Qwen3-VL-8B-Instruct", "w8a8", NULL, 0,
                     "no best practice for --model_type Qwen3-VL-8B-Instruct and --quant_type w8a8; pass --config_path "
                     "to choose a config. Considered: lab_practice/qwen3_vl/qwen3_vl_4b_w8a8.yaml "
                     "(verified_model_types has no Qwen3-VL-8B-Instruct); "
                     "lab_practice/qwen3_vl/qwen3_vl_embedding_w8a8.yaml (not verified for Qwen3-VL-8B-Instruct); "
                     "lab_practice/qwen3_vl/qwen3_vl_w8a8.yaml (verified_model_types has no Qwen3-VL-8B-Instruct); "
                     "lab_practice/qwen3_vl/qwen3_vl_w8a8_vision_smooth.yaml (verified_model_types has no "
                     "Qwen3-VL-8B-Instruct)");
    expect_no_select(LAB, 1, "qwen9", "Qwen9", "w8a8", NULL, 0,
                     "no best practice for model family 'qwen9' (no directory lab_practice/qwen9); pass --config_path");
    expect_no_select(LAB, 0, "qwen3_vl", "Qwen3-VL-4B-Instruct", "w8a8", NULL, 0,
                     "no best practice directories to search; pass --config_path");
}

/* ---- temporary practice directories ---- */

static char *g_root;

static int setup(void **state)
{
    (void)state;
    g_root = vs_test_tmpdir("practice");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_root);
    free(g_root);
    return 0;
}

/* <root>/<dir>/fam/<name> with the given metadata block. */
static char *put(const char *dir, const char *name, const char *metadata)
{
    char *d = vs_strfmt("%s/%s/fam", g_root, dir);
    assert_int_equal(vs_fs_mkdirs(d, 0755), VS_OK);
    char *text = vs_strfmt("apiversion: multimodal_vlm_modelslim_v1\nmetadata:\n%sspec:\n  save:\n"
                           "    - type: ascendv1_saver\n",
                           metadata);
    free(vs_test_write(d, name, text, strlen(text)));
    char *path = vs_strfmt("%s/%s", d, name);
    free(text);
    free(d);
    return path;
}

#define LABEL8 "  label: {w_bit: 8, a_bit: 8, is_sparse: false, kv_cache: false}\n"
#define FOR_M "  verified_model_types: [M]\n"

static void test_ranking(void **state)
{
    (void)state;
    char *low = put("official", "a.yaml", "  config_id: a\n  score: 80\n" LABEL8 FOR_M);
    char *high = put("official", "z.yml", "  config_id: z\n  score: 95\n" LABEL8 FOR_M);
    char *custom_same = put("custom", "b.yaml", "  config_id: z\n  score: 95\n" LABEL8 FOR_M);
    char *custom_id = put("custom", "c.yaml", "  config_id: y\n  score: 95\n" LABEL8 FOR_M);
    free(put("official", "notes.txt", ""));
    free(put("custom", "notes.txt", ""));
    char *custom = vs_strfmt("%s/custom", g_root), *official = vs_strfmt("%s/official", g_root);
    const char *dirs[] = {custom, official};
    /* the highest score wins; ties by config_id ('y' < 'z'), then directory priority */
    expect_select(dirs, 2, "fam", "M", "w8a8", NULL, 0, custom_id);
    remove(custom_id);
    expect_select(dirs, 2, "fam", "M", "w8a8", NULL, 0, custom_same);
    const char *rev[] = {official, custom};
    expect_select(rev, 2, "fam", "M", "w8a8", NULL, 0, high);
    remove(high);
    remove(custom_same);
    expect_select(dirs, 2, "fam", "M", "w8a8", NULL, 0, low);
    free(low);
    free(high);
    free(custom_same);
    free(custom_id);
    free(custom);
    free(official);
}

static void test_labels_and_verification(void **state)
{
    (void)state;
    free(put("l", "c8.yaml",
             "  config_id: c8\n  label: {w_bit: 8, a_bit: 8, is_sparse: false, kv_cache: true}\n" FOR_M));
    free(put("l", "f8.yaml", "  config_id: f8\n  label: {w_bit: 8, a_bit: 8, fa_quant: true}\n" FOR_M));
    free(put("l", "f4.yaml", "  config_id: f4\n  label: {w_bit: 4, a_bit: 4, fa_bit: 4}\n" FOR_M));
    free(put("l", "s.yaml", "  config_id: s\n  label: {w_bit: 8, a_bit: 8, is_sparse: true}\n" FOR_M));
    /* verified_model_types, when given, decides alone (verified_tags is not consulted) */
    free(put("l", "types.yaml",
             "  config_id: t\n" LABEL8 "  verified_model_types: [N]\n  verified_tags: {M: [[x]]}\n"));
    free(put("l", "tags.yaml", "  config_id: u\n" LABEL8 "  verified_tags: {M: [[Eng, HW1], [eng, hw2]], P: []}\n"));
    free(put("l", "broken.yaml", "  config_id: [\n"));
    char *l = vs_strfmt("%s/l", g_root);
    const char *dirs[] = {l};
    char *want;
    want = vs_strfmt("%s/fam/c8.yaml", l);
    expect_select(dirs, 1, "fam", "M", "w8a8c8", NULL, 0, want);
    free(want);
    want = vs_strfmt("%s/fam/f8.yaml", l);
    expect_select(dirs, 1, "fam", "M", "w8a8f8", NULL, 0, want);
    free(want);
    want = vs_strfmt("%s/fam/f4.yaml", l);
    expect_select(dirs, 1, "fam", "M", "w4a4f4", NULL, 0, want);
    free(want);
    want = vs_strfmt("%s/fam/s.yaml", l);
    expect_select(dirs, 1, "fam", "M", "w8a8s", NULL, 0, want);
    free(want);
    want = vs_strfmt("%s/fam/tags.yaml", l);
    expect_select(dirs, 1, "fam", "M", "w8a8", NULL, 0, want);
    const char *tags[] = {"HW2", "ENG"};
    expect_select(dirs, 1, "fam", "M", "w8a8", tags, 2, want);
    free(want);
    want = vs_strfmt("%s/fam/types.yaml", l);
    expect_select(dirs, 1, "fam", "N", "w8a8", NULL, 0, want);
    free(want);

    /* sorted by (-score, config_id): broken (no metadata) last */
    char msg[4096];
    const char *mixed[] = {"eng", "hw1", "hw2"};
    snprintf(msg, sizeof msg,
             "no best practice for --model_type M and --quant_type w8a8 with the given --tag values; pass "
             "--config_path to choose a config. Considered: %s/fam/c8.yaml (label w8a8c8); %s/fam/f4.yaml "
             "(label w4a4f4); %s/fam/f8.yaml (label w8a8f8); %s/fam/s.yaml (label w8a8s); %s/fam/types.yaml "
             "(verified_model_types has no M); %s/fam/tags.yaml (no verified M scenario has all the --tag "
             "values); %s/fam/broken.yaml (does not load)",
             l, l, l, l, l, l, l);
    expect_no_select(dirs, 1, "fam", "M", "w8a8", mixed, 3, msg);
    free(l);

    char *empty = vs_strfmt("%s/empty/fam", g_root);
    assert_int_equal(vs_fs_mkdirs(empty, 0755), VS_OK);
    free(vs_test_write(empty, "README.txt", "no configs\n", 11));
    char *edir = vs_strfmt("%s/empty", g_root);
    const char *edirs[] = {edir};
    snprintf(msg, sizeof msg, "no best practice for model family 'fam' (no YAML files in %s); pass --config_path",
             empty);
    expect_no_select(edirs, 1, "fam", "M", "w8a8", NULL, 0, msg);
    free(edir);
    free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_type_parse),
        cmocka_unit_test(test_lab_practice_moe),
        cmocka_unit_test(test_lab_practice_dense),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_labels_and_verification),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
