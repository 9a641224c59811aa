/* The multimodal_vlm_modelslim_v1 schema: msModelSlim's own configs load with the right
 * typed values, defaults and coercions, and every kind of mistake is one exact message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "config/quant_config.h"
#include "test_util.h"

#define SHARED "../shared/data/msmodelslim_configs"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("quant-config");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

static struct vs_quant_config *load_ok(const char *path)
{
    struct vs_quant_config *cfg = NULL;
    enum vs_status st = vs_quant_config_load(path, &cfg);
    if (st != VS_OK)
        fail_msg("%s: %s", path, vs_error_message());
    assert_non_null(cfg);
    return cfg;
}

static void expect_qconfig(const struct vs_qconfig *q, enum vs_qdtype dt, enum vs_qscope sc, bool sym,
                           const char *method)
{
    assert_int_equal(q->dtype, dt);
    assert_int_equal(q->scope, sc);
    assert_int_equal(q->symmetric, sym);
    assert_string_equal(q->method, method);
    assert_int_equal(q->ext_group_size, 0);
    assert_string_equal(q->ext_aggregation, "");
}

static void expect_patterns(const struct vs_pattern_list *l, bool present, size_t n, ...)
{
    va_list ap;
    assert_int_equal(l->present, present);
    assert_int_equal(l->count, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], va_arg(ap, const char *));
    va_end(ap);
}

static void expect_iter_smooth_default(const struct vs_processor_config *p)
{
    assert_int_equal(p->type, VS_PROC_ITER_SMOOTH);
    assert_true(p->u.iter_smooth.alpha == 0.9);
    assert_true(p->u.iter_smooth.scale_min == 1e-5); /* PyYAML's string "1e-5", coerced */
    assert_true(p->u.iter_smooth.symmetric);
    assert_int_equal(p->u.iter_smooth.subgraph_types, VS_SUBGRAPH_NORM_LINEAR | VS_SUBGRAPH_LINEAR_LINEAR |
                                                          VS_SUBGRAPH_OV | VS_SUBGRAPH_UP_DOWN);
    expect_patterns(&p->u.iter_smooth.include, true, 1, "*");
    expect_patterns(&p->u.iter_smooth.exclude, false, 0);
}

static void expect_quarot_32(const struct vs_processor_config *p)
{
    assert_int_equal(p->type, VS_PROC_QUAROT);
    assert_false(p->u.quarot.online);
    assert_int_equal(p->u.quarot.block_size, 32);
    assert_int_equal(p->u.quarot.n_down_proj_online_layers, 0);
    assert_int_equal(p->u.quarot.max_tp_size, 4);
    assert_true(p->u.quarot.export_extra_info);
}

static void expect_common_tail(const struct vs_quant_config *c, const char *config_id)
{
    assert_string_equal(c->apiversion, "multimodal_vlm_modelslim_v1");
    assert_int_equal(c->runner, VS_RUNNER_LAYER_WISE);
    assert_int_equal(c->n_save, 1);
    assert_int_equal(c->save[0].type, VS_PROC_ASCENDV1_SAVER);
    assert_int_equal(c->save[0].u.saver.part_file_size, 4);
    assert_string_equal(c->save[0].path, "spec.save[0]");
    assert_string_equal(c->dataset, "calibImages");
    assert_string_equal(c->default_text, "Describe this image in detail.");
    assert_string_equal(c->metadata.config_id, config_id);
    assert_true(c->metadata.score == 90);
    assert_int_equal(c->metadata.w_bit, 8);
    assert_int_equal(c->metadata.a_bit, 8);
    assert_int_equal(c->metadata.is_sparse, 0);
    assert_int_equal(c->metadata.kv_cache, 0);
    assert_null(c->metadata.fa_bit);
}

static void expect_moe_tags(const struct vs_practice_metadata *m, const char *first, const char *second,
                            const char *hw0, const char *hw1)
{
    assert_false(m->has_verified_model_types);
    assert_int_equal(m->n_verified_model_types, 0);
    assert_int_equal(m->n_verified_tags, 2);
    assert_string_equal(m->verified_tags[0].model_type, first);
    assert_string_equal(m->verified_tags[1].model_type, second);
    for (int i = 0; i < 2; i++) {
        const struct vs_verified_tags *t = &m->verified_tags[i];
        assert_int_equal(t->n_scenarios, hw1 ? 2 : 1);
        assert_int_equal(t->scenarios[0].count, 2);
        assert_string_equal(t->scenarios[0].tags[0], "vLLM_Ascend");
        assert_string_equal(t->scenarios[0].tags[1], hw0);
        if (hw1)
            assert_string_equal(t->scenarios[1].tags[1], hw1);
    }
}

static void check_moe_w8a8(const char *path)
{
    struct vs_quant_config *c = load_ok(path);
    assert_string_equal(c->source_path, path);
    expect_common_tail(c, "qwen3_vl_moe_w8a8");
    expect_moe_tags(&c->metadata, "Qwen3-VL-235B-A22B", "Qwen3-VL-30B-A3B", "Atlas_A2_Inference", "Atlas_A3_Inference");
    assert_int_equal(c->n_process, 4);
    expect_quarot_32(&c->process[0]);
    expect_iter_smooth_default(&c->process[1]);
    const struct vs_linear_quant_config *s = &c->process[2].u.linear_quant, *d = &c->process[3].u.linear_quant;
    assert_int_equal(c->process[2].type, VS_PROC_LINEAR_QUANT);
    assert_string_equal(c->process[2].path, "spec.process[2]");
    expect_qconfig(&s->act, VS_QDT_INT8, VS_QS_PER_TENSOR, false, "minmax");
    expect_qconfig(&s->weight, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax");
    expect_patterns(&s->include, true, 1, "*");
    expect_patterns(&s->exclude, true, 5, "*experts*", "*linear_fc2", "*merger*", "*deepstack_merger_list*",
                    "*mlp.gate");
    assert_int_equal(c->process[3].type, VS_PROC_LINEAR_QUANT);
    expect_qconfig(&d->act, VS_QDT_INT8, VS_QS_PER_TOKEN, true, "minmax");
    expect_qconfig(&d->weight, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax");
    expect_patterns(&d->include, true, 1, "*experts*");
    expect_patterns(&d->exclude, true, 4, "*linear_fc2", "*merger*", "*deepstack_merger_list*", "*mlp.gate");
    vs_quant_config_free(c);
}

static void check_moe_mxfp8(const char *path)
{
    struct vs_quant_config *c = load_ok(path);
    expect_common_tail(c, "qwen3_vl_moe_w8a8_mxfp8");
    expect_moe_tags(&c->metadata, "Qwen3-VL-30B-A3B", "Qwen3-VL-235B-A22B", "Atlas_350", NULL);
    assert_int_equal(c->n_process, 3);
    expect_quarot_32(&c->process[0]);
    expect_iter_smooth_default(&c->process[1]);
    const struct vs_linear_quant_config *q = &c->process[2].u.linear_quant;
    expect_qconfig(&q->act, VS_QDT_MXFP8, VS_QS_PER_BLOCK, true, "minmax");
    expect_qconfig(&q->weight, VS_QDT_MXFP8, VS_QS_PER_BLOCK, true, "minmax");
    expect_patterns(&q->exclude, true, 5, "*linear_fc2", "*merger*", "*deepstack_merger_list*", "*mlp.gate",
                    "*visual.blocks.*.attn.proj*");
    vs_quant_config_free(c);
}

static void check_dense(const char *path, const char *config_id, const char *model, bool quarot)
{
    struct vs_quant_config *c = load_ok(path);
    expect_common_tail(c, config_id);
    assert_true(c->metadata.has_verified_model_types);
    assert_int_equal(c->metadata.n_verified_model_types, 1);
    assert_string_equal(c->metadata.verified_model_types[0], model);
    assert_int_equal(c->metadata.n_verified_tags, 0);
    assert_int_equal(c->n_process, quarot ? 3 : 2);
    if (quarot)
        expect_quarot_32(&c->process[0]);
    expect_iter_smooth_default(&c->process[quarot]);
    const struct vs_linear_quant_config *q = &c->process[quarot + 1].u.linear_quant;
    expect_qconfig(&q->act, VS_QDT_INT8, VS_QS_PER_TENSOR, false, "minmax");
    expect_qconfig(&q->weight, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax");
    expect_patterns(&q->include, true, 1, "*");
    expect_patterns(&q->exclude, true, 3, "model.language_model.layers.*.mlp.down_proj", "*linear_fc2", "*merger*");
    vs_quant_config_free(c);
}

static void check_embedding(const char *path)
{
    struct vs_quant_config *c = load_ok(path);
    expect_common_tail(c, "qwen3_vl_embedding_w8a8");
    assert_int_equal(c->metadata.n_verified_tags, 4);
    assert_string_equal(c->metadata.verified_tags[3].model_type, "Qwen3-VL-Reranker-8B");
    assert_string_equal(c->metadata.verified_tags[3].scenarios[1].tags[1], "Atlas_300I_Duo");
    assert_int_equal(c->n_process, 2);
    expect_iter_smooth_default(&c->process[0]);
    const struct vs_linear_quant_config *q = &c->process[1].u.linear_quant;
    expect_qconfig(&q->act, VS_QDT_INT8, VS_QS_PER_TOKEN, true, "minmax");
    assert_int_equal(q->exclude.count, 10);
    assert_string_equal(q->exclude.items[0], "model.language_model.layers.*.mlp.down_proj");
    assert_string_equal(q->exclude.items[9], "model.visual.blocks.*.norm2*");
    vs_quant_config_free(c);
}

static void test_msmodelslim_configs(void **state)
{
    (void)state;
    if (!vs_fs_is_dir(SHARED))
        fail_msg("%s is missing: this test needs msModelSlim's own configs from the shared data "
                 "(see ../shared/data/README.md)", SHARED);
    check_moe_w8a8(SHARED "/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml");
    check_moe_mxfp8(SHARED "/qwen3_vl_moe/qwen3_vl_moe_w8a8_mxfp8.yaml");
    check_dense(SHARED "/qwen3_vl/qwen3_vl_w8a8.yaml", "qwen3_vl_w8a8", "Qwen3-VL-32B-Instruct", true);
    check_dense(SHARED "/qwen3_vl/qwen3_vl_4b_w8a8.yaml", "qwen3_vl_4b_w8a8", "Qwen3-VL-4B-Instruct", false);
    check_embedding(SHARED "/qwen3_vl/qwen3_vl_embedding_w8a8.yaml");
}

/* The shipped lab_practice copies carry the same settings. */
static void test_lab_practice_configs(void **state)
{
    (void)state;
    check_moe_w8a8("lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8.yaml");
    check_moe_mxfp8("lab_practice/qwen3_vl_moe/qwen3_vl_moe_w8a8_mxfp8.yaml");
    check_dense("lab_practice/qwen3_vl/qwen3_vl_w8a8.yaml", "qwen3_vl_w8a8", "Qwen3-VL-32B-Instruct", true);
    check_dense("lab_practice/qwen3_vl/qwen3_vl_4b_w8a8.yaml", "qwen3_vl_4b_w8a8", "Qwen3-VL-4B-Instruct", false);
    check_embedding("lab_practice/qwen3_vl/qwen3_vl_embedding_w8a8.yaml");
}

/* ---- written configs ---- */

static int g_seq;

static char *write_cfg(const char *text)
{
    char name[32];
    snprintf(name, sizeof name, "c%03d.yaml", g_seq++);
    return vs_test_write(g_dir, name, text, strlen(text));
}

#define HEAD "apiversion: multimodal_vlm_modelslim_v1\nspec:\n"
#define SAVE "  save:\n    - type: ascendv1_saver\n"
#define W8 "{dtype: int8, scope: per_channel, symmetric: true, method: minmax}"

static struct vs_quant_config *load_text(const char *text)
{
    char *path = write_cfg(text);
    struct vs_quant_config *c = NULL;
    if (vs_quant_config_load(path, &c) != VS_OK)
        fail_msg("%s", vs_error_message());
    free(path);
    return c;
}

static void test_defaults(void **state)
{
    (void)state;
    struct vs_quant_config *c = load_text(HEAD SAVE);
    assert_int_equal(c->n_process, 0);
    assert_null(c->process);
    assert_int_equal(c->runner, VS_RUNNER_LAYER_WISE);
    assert_string_equal(c->dataset, "mix_calib.jsonl");
    assert_string_equal(c->default_text, "Describe this image in detail.");
    assert_null(c->metadata.config_id);
    assert_true(c->metadata.score == 100);
    assert_int_equal(c->metadata.w_bit, -1);
    assert_int_equal(c->metadata.a_bit, -1);
    assert_int_equal(c->metadata.is_sparse, -1);
    assert_int_equal(c->metadata.kv_cache, -1);
    assert_false(c->metadata.has_verified_model_types);
    assert_int_equal(c->save[0].u.saver.part_file_size, 4);
    vs_quant_config_free(c);

    c = load_text(HEAD "  process:\n"
                       "    - type: linear_quant\n"
                       "      qconfig: {weight: " W8 "}\n"
                       "    - type: linear_quant\n"
                       "      qconfig: {weight: " W8 "}\n"
                       "      include: []\n"
                       "    - {type: quarot}\n"
                       "    - {type: iter_smooth, include: null, enable_subgraph_type: [ov, up-down]}\n" SAVE
                  "  dataset: mine.jsonl\n"
                  "  default_text: ' Hi '\n"
                  "  runner: model_wise\n");
    const struct vs_linear_quant_config *a = &c->process[0].u.linear_quant;
    expect_qconfig(&a->act, VS_QDT_FLOAT, VS_QS_PER_TENSOR, true, "none");
    expect_patterns(&a->include, false, 1, "*");
    expect_patterns(&a->exclude, false, 0);
    expect_patterns(&c->process[1].u.linear_quant.include, true, 0); /* explicit []: matches nothing */
    assert_int_equal(c->process[2].u.quarot.block_size, -1);
    assert_int_equal(c->process[2].u.quarot.max_tp_size, 4);
    assert_true(c->process[2].u.quarot.export_extra_info);
    const struct vs_iter_smooth_config *is = &c->process[3].u.iter_smooth;
    assert_true(is->alpha == 0.9 && is->scale_min == 1e-5 && is->symmetric);
    assert_int_equal(is->subgraph_types, VS_SUBGRAPH_OV | VS_SUBGRAPH_UP_DOWN);
    expect_patterns(&is->include, false, 1, "*");
    assert_string_equal(c->dataset, "mine.jsonl");
    assert_string_equal(c->default_text, " Hi ");
    assert_int_equal(c->runner, VS_RUNNER_MODEL_WISE); /* parsed (and ignored with a warning) */
    vs_quant_config_free(c);
}

/* pydantic's lax coercions, PyYAML's string floats, anchors/merge keys. */
static void test_coercions_and_anchors(void **state)
{
    (void)state;
    struct vs_quant_config *c = load_text(
        "apiversion: multimodal_vlm_modelslim_v1\n"
        "metadata: {config_id: x, score: '7.5', label: {w_bit: 4, a_bit: 8, is_sparse: true, kv_cache: false, "
        "fa_quant: true}}\n"
        "w: &w {dtype: int8, scope: per_group, symmetric: 'True', method: gptq, ext: {group_size: 128, "
        "aggregation_type: mean, other: [1]}}\n"
        "spec:\n"
        "  process:\n"
        "    - type: iter_smooth\n"
        "      alpha: '0.5'\n"
        "      scale_min: 1e-3\n"
        "      symmetric: 0\n"
        "    - type: linear_quant\n"
        "      qconfig:\n"
        "        weight:\n"
        "          <<: *w\n"
        "          symmetric: no\n"
        "    - {type: quarot, block_size: '64', max_tp_size: 8.0, down_proj_online_layers: [1, 3], online: on}\n"
        "  save:\n"
        "    - {type: ascendv1_saver, part_file_size: 0, ext: {anything: 1}}\n");
    assert_true(c->metadata.score == 7.5);
    assert_int_equal(c->metadata.w_bit, 4);
    assert_int_equal(c->metadata.is_sparse, 1);
    assert_int_equal(c->metadata.kv_cache, 0);
    assert_string_equal(c->metadata.fa_bit, "8"); /* fa_quant: true without fa_bit */
    assert_true(c->process[0].u.iter_smooth.alpha == 0.5);
    assert_true(c->process[0].u.iter_smooth.scale_min == 1e-3);
    assert_false(c->process[0].u.iter_smooth.symmetric);
    const struct vs_qconfig *w = &c->process[1].u.linear_quant.weight;
    assert_int_equal(w->scope, VS_QS_PER_GROUP);
    assert_false(w->symmetric); /* the explicit key wins over the merged one */
    assert_int_equal(w->ext_group_size, 128);
    assert_string_equal(w->ext_aggregation, "mean");
    const struct vs_quarot_config *q = &c->process[2].u.quarot;
    assert_int_equal(q->block_size, 64);
    assert_int_equal(q->max_tp_size, 8);
    assert_true(q->online);
    assert_int_equal(q->n_down_proj_online_layers, 2);
    assert_int_equal(q->down_proj_online_layers[1], 3);
    assert_int_equal(c->save[0].u.saver.part_file_size, 0);
    vs_quant_config_free(c);
}

/* Processors vlmslim parses without keeping typed fields, and the other savers. */
static void test_other_processors_parse(void **state)
{
    (void)state;
    struct vs_quant_config *c = load_text(
        HEAD "  prior:\n"
             "    - dataset: other.jsonl\n"
             "      process: [{type: smooth_quant}]\n"
             "  process:\n"
             "    - {type: smooth_quant, alpha: 0.7, symmetric: false, include: ['*q_proj'], exclude: null}\n"
             "    - {type: flex_smooth_quant, alpha: null, beta: 0.3, enable_subgraph_type: [norm-linear]}\n"
             "    - type: flex_awq_ssz\n"
             "      qconfig: {act: {dtype: int8, scope: per_token, symmetric: true, method: minmax}, weight: "
             "{dtype: int4, scope: per_channel, symmetric: true, method: ssz}}\n"
             "    - {type: awq, weight_qconfig: {dtype: int4, scope: per_group, symmetric: false, method: gptq}, "
             "n_grid: 10}\n"
             "    - {type: kv_smooth, smooth_factor: 2}\n"
             "    - {type: dynamic_cache, qconfig: {dtype: int8, scope: per_channel, symmetric: true, method: x}}\n"
             "    - {type: fa3_quant}\n"
             "    - {type: fa3_quant, details: {fa_q: {dtype: int8, scope: per_head, symmetric: true, method: "
             "minmax}}}\n"
             "    - type: autoround_quant\n"
             "      iters: 5\n"
             "      strategies:\n"
             "        - qconfig: {weight: {dtype: int4, scope: per_group, symmetric: true, method: gptq, ext: "
             "{group_size: 64}}}\n"
             "          exclude: ['*gate']\n"
             "  save:\n"
             "    - {type: linear_quant, qconfig: {weight: " W8 "}}\n"
             "    - {type: ascendv1_saver_distributed}\n"
             "    - {type: mindie_format_saver, part_file_size: 2}\n");
    static const enum vs_proc_type want[] = {VS_PROC_SMOOTH_QUANT, VS_PROC_FLEX_SMOOTH_QUANT, VS_PROC_FLEX_AWQ_SSZ,
                                             VS_PROC_AWQ, VS_PROC_KV_SMOOTH, VS_PROC_DYNAMIC_CACHE,
                                             VS_PROC_FA3_QUANT, VS_PROC_FA3_QUANT, VS_PROC_AUTOROUND_QUANT};
    assert_int_equal(c->n_process, 9);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(c->process[i].type, want[i]);
    assert_true(c->process[0].u.smooth_quant.alpha == 0.7);
    assert_false(c->process[0].u.smooth_quant.symmetric);
    expect_patterns(&c->process[0].u.smooth_quant.include, true, 1, "*q_proj");
    expect_patterns(&c->process[0].u.smooth_quant.exclude, false, 0);
    assert_int_equal(c->n_save, 3);
    assert_int_equal(c->save[0].type, VS_PROC_LINEAR_QUANT);
    assert_int_equal(c->save[1].type, VS_PROC_ASCENDV1_SAVER_DISTRIBUTED);
    assert_int_equal(c->save[2].type, VS_PROC_MINDIE_FORMAT_SAVER);
    assert_int_equal(c->save[2].u.saver.part_file_size, 2);
    assert_string_equal(vs_proc_type_name(VS_PROC_MINDIE_FORMAT_SAVER), "mindie_format_saver");
    assert_string_equal(vs_qdtype_name(VS_QDT_FP8_E4M3), "fp8_e4m3");
    assert_string_equal(vs_qscope_name(VS_QS_DUAL_SCALE), "dual_scale");
    vs_quant_config_free(c);
}

/* ---- errors: the exact one-line message after "<file>" ---- */

static void expect_error(const char *text, enum vs_status code, const char *after_file)
{
    char *path = write_cfg(text);
    struct vs_quant_config *c = (struct vs_quant_config *)1;
    enum vs_status st = vs_quant_config_load(path, &c);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", path, after_file);
    if (st != code || strcmp(vs_error_message(), want) != 0)
        fail_msg("got status %d, message\n  %s\nexpected %d,\n  %s", st, vs_error_message(), code, want);
    assert_null(c);
    free(path);
}

static void test_error_unknown_keys(void **state)
{
    (void)state;
    expect_error(HEAD "  bogus: 1\n" SAVE, VS_ERR_CONFIG,
                 ":3: spec.bogus: unknown key (expected one of: runner, prior, process, save, dataset, default_text)");
    expect_error(HEAD "  process:\n    - type: linear_quant\n      bogus: 1\n" SAVE, VS_ERR_CONFIG,
                 ":5: spec.process[0].bogus: unknown key (expected one of: type, qconfig, include, exclude)");
    expect_error(HEAD "  process:\n    - {type: quarot}\n    - type: linear_quant\n      qconfig:\n        act:\n"
                      "          dtype: int8\n          granularity: x\n" SAVE,
                 VS_ERR_CONFIG,
                 ":9: spec.process[1].qconfig.act.granularity: unknown key (expected one of: dtype, scope, "
                 "symmetric, method, ext)");
    expect_error(HEAD SAVE "      compress: true\n", VS_ERR_CONFIG,
                 ":5: spec.save[0].compress: unknown key (expected one of: type, part_file_size, ext, save_directory, save_path)");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nmetadata:\n  config_id: a\n  owner: me\nspec:\n" SAVE,
                 VS_ERR_CONFIG,
                 ":4: metadata.owner: unknown key (expected one of: config_id, score, label, verified_model_types, "
                 "verified_tags)");
    expect_error(HEAD "  process:\n    - {type: fa3_quant, details: {fa_x: 1}}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].details.fa_x: unknown key (expected one of: fa_q, fa_k, fa_v)");
}

static void test_error_values(void **state)
{
    (void)state;
    expect_error(HEAD "  process:\n    - {type: quarot}\n    - {type: iter_smooth}\n    - type: linear_quant\n"
                      "      qconfig:\n        act: {dtype: int8, scope: per_row, symmetric: true, method: minmax}\n"
                      "        weight: " W8 "\n" SAVE,
                 VS_ERR_CONFIG,
                 ":8: spec.process[2].qconfig.act.scope: unknown value 'per_row' (expected one of: per_tensor, "
                 "per_channel, per_group, per_block, per_token, pd_mix, per_head, dual_scale)");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: {dtype: int3, scope: per_channel, "
                      "symmetric: true, method: minmax}}}\n" SAVE,
                 VS_ERR_CONFIG,
                 ":4: spec.process[0].qconfig.weight.dtype: unknown value 'int3' (expected one of: float, int8, int4, "
                 "mxfp8, mxfp4, fp8_e4m3)");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: {dtype: int8, scope: per_channel, "
                      "symmetric: false, method: minmax}}}\n" SAVE,
                 VS_ERR_CONFIG,
                 ":4: spec.process[0].qconfig.weight: no weight quantizer is registered for dtype int8, scope "
                 "per_channel, symmetric false, method 'minmax' (methods for this dtype/scope/symmetric: gptq)");
    expect_error(HEAD "  process:\n    - type: linear_quant\n      qconfig:\n        act: {dtype: int4, scope: "
                      "per_token, symmetric: true, method: minmax}\n        weight: " W8 "\n" SAVE,
                 VS_ERR_CONFIG,
                 ":6: spec.process[0].qconfig.act: no activation quantizer is registered for dtype int4, scope "
                 "per_token, symmetric true, method 'minmax' (methods for this dtype/scope/symmetric: none)");
    expect_error(HEAD "  process:\n    - {type: iter_smooth, alpha: 1.0}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].alpha: 1 is out of range (expected 0 < alpha < 1)");
    expect_error(HEAD "  process:\n    - {type: iter_smooth, enable_subgraph_type: [norm-linear, qk]}\n" SAVE,
                 VS_ERR_CONFIG,
                 ":4: spec.process[0].enable_subgraph_type[1]: unknown value 'qk' (expected one of: norm-linear, "
                 "linear-linear, ov, up-down)");
    expect_error(HEAD "  process:\n    - {type: quarot, block_size: 48}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].block_size: block_size must be -1 or a positive power of 2, got 48");
    expect_error(HEAD "  process:\n    - {type: quarot, max_tp_size: 0}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].max_tp_size: max_tp_size must be a positive power of 2 or equal to 1, got 0");
    expect_error(HEAD "  save:\n    - {type: ascendv1_saver, part_file_size: -1}\n", VS_ERR_CONFIG,
                 ":4: spec.save[0].part_file_size: must be >= 0 (GiB per file; 0 = a single file), got -1");
    expect_error(HEAD SAVE "  default_text: \"  \\t\"\n", VS_ERR_CONFIG, ":5: spec.default_text: must not be empty");
    expect_error(HEAD "  process:\n    - {type: awq, weight_qconfig: " W8 ", n_grid: 0}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].n_grid: must be greater than 0, got 0");
    expect_error(HEAD "  process:\n    - {type: kv_smooth, smooth_factor: -1}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].smooth_factor: -1 is out of range (expected smooth_factor > 0)");
    expect_error(HEAD "  process:\n    - type: fa3_quant\n      qconfig: " W8 "\n      details: {fa_k: " W8 "}\n" SAVE,
                 VS_ERR_CONFIG, ":6: spec.process[0].details: 'qconfig' and 'details' are mutually exclusive");
    expect_error(HEAD "  process:\n    - {type: autoround_quant, strategies: []}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].strategies: at least one quantization strategy is required");
    expect_error(HEAD "  process:\n    - type: autoround_quant\n      strategies:\n        - qconfig: {weight: {dtype: "
                      "int4, scope: per_group, symmetric: true, method: gptq}}\n" SAVE,
                 VS_ERR_CONFIG, ":6: spec.process[0].strategies[0].qconfig.weight: scope per_group needs a positive "
                                "ext.group_size");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: {dtype: int8, scope: per_channel, "
                      "symmetric: true, method: minmax, ext: {group_size: 0}}}}\n" SAVE,
                 VS_ERR_CONFIG, ":4: spec.process[0].qconfig.weight.ext.group_size: must be a positive integer, got 0");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: {dtype: int8, scope: per_channel, "
                      "symmetric: true, method: minmax, ext: {aggregation_type: sum}}}}\n" SAVE,
                 VS_ERR_CONFIG, ":4: spec.process[0].qconfig.weight.ext.aggregation_type: unknown value 'sum' "
                                "(expected one of: max, mean)");
    char text[1024], pattern[202];
    memset(pattern, 'a', 201);
    pattern[201] = '\0';
    snprintf(text, sizeof text, HEAD "  process:\n    - type: linear_quant\n      qconfig: {weight: " W8 "}\n"
                                     "      exclude:\n        - x\n        - %s\n" SAVE, pattern);
    expect_error(text, VS_ERR_CONFIG, ":8: spec.process[0].exclude[1]: pattern longer than 200 characters");
    expect_error(HEAD "  runner: fastest\n" SAVE, VS_ERR_CONFIG,
                 ":3: spec.runner: unknown value 'fastest' (expected one of: auto, model_wise, layer_wise, "
                 "dp_layer_wise)");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nmetadata: {score: -1}\nspec:\n" SAVE, VS_ERR_CONFIG,
                 ":2: metadata.score: must be >= 0, got -1");
}

static void test_error_types(void **state)
{
    (void)state;
    expect_error(HEAD "  save:\n    - {type: ascendv1_saver, part_file_size: 4GB}\n", VS_ERR_CONFIG,
                 ":4: spec.save[0].part_file_size: expected an integer, got '4GB'");
    expect_error(HEAD "  save:\n    - {type: ascendv1_saver, part_file_size: 1.5}\n", VS_ERR_CONFIG,
                 ":4: spec.save[0].part_file_size: expected an integer, got 1.5");
    expect_error(HEAD "  process: {type: linear_quant}\n" SAVE, VS_ERR_CONFIG,
                 ":3: spec.process: expected a list, got a mapping");
    expect_error(HEAD "  process:\n    - {type: iter_smooth, alpha: [1]}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].alpha: expected a number, got a list");
    expect_error(HEAD "  process:\n    - {type: iter_smooth, symmetric: maybe}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].symmetric: expected true or false, got 'maybe'");
    expect_error(HEAD "  process:\n    - linear_quant\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0]: expected a processor mapping with a 'type' key, got 'linear_quant'");
    expect_error(HEAD "  process:\n    - {type: linear_quant, include: '*'}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].qconfig: missing required key");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: " W8 "}, include: '*'}\n" SAVE,
                 VS_ERR_CONFIG, ":4: spec.process[0].include: expected a list, got '*'");
    expect_error(HEAD "  process:\n    - {type: linear_quant, qconfig: {weight: " W8 "}, exclude: [1]}\n" SAVE,
                 VS_ERR_CONFIG, ":4: spec.process[0].exclude[0]: expected a string, got 1");
    expect_error(HEAD "  dataset: 5\n" SAVE, VS_ERR_CONFIG, ":3: spec.dataset: expected a string, got 5");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nspec: []\n", VS_ERR_CONFIG,
                 ":2: spec: expected a mapping, got a list");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nmetadata:\n  label: {w_bit: '8'}\nspec:\n" SAVE,
                 VS_ERR_CONFIG, ":3: metadata.label.w_bit: expected an integer, got '8'");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nmetadata:\n  verified_tags: {A: [x]}\nspec:\n" SAVE,
                 VS_ERR_CONFIG, ":3: metadata.verified_tags.A[0]: expected a list of tags, got 'x'");
    expect_error("- 1\n", VS_ERR_CONFIG, ": expected a mapping at the top level, got a list");
    expect_error("# nothing\n", VS_ERR_CONFIG, ": the file is empty (expected 'apiversion' and 'spec')");
}

static void test_error_missing(void **state)
{
    (void)state;
    expect_error(HEAD "  process:\n    - type: linear_quant\n      qconfig:\n        act: {dtype: int8, scope: "
                      "per_token, symmetric: true, method: minmax}\n" SAVE,
                 VS_ERR_CONFIG, ":6: spec.process[0].qconfig.weight: missing required key");
    expect_error(HEAD "  process:\n    - type: linear_quant\n      qconfig:\n        weight:\n          dtype: int8\n"
                      "          scope: per_channel\n          symmetric: true\n" SAVE,
                 VS_ERR_CONFIG, ":7: spec.process[0].qconfig.weight.method: missing required key");
    expect_error(HEAD "  process:\n    - {qconfig: {}}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].type: missing required key (expected one of: linear_quant, iter_smooth, "
                 "smooth_quant, flex_smooth_quant, flex_awq_ssz, awq, quarot, online_quarot, kv_smooth, "
                 "dynamic_cache, fa3_quant, autoround_quant, flatquant, float_sparse, svd_res, adapt_rotation, "
                 "module_func, group, load, ascendv1_saver, ascendv1_saver_distributed, mindie_format_saver, compressed_tensors_saver)");
    expect_error(HEAD "  process:\n    - {type: flex_awq_ssz}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].qconfig: missing required key");
    expect_error("apiversion: multimodal_vlm_modelslim_v1\nmetadata: {}\n", VS_ERR_CONFIG,
                 ": spec: missing required key");
    expect_error(HEAD "  dataset: x\n", VS_ERR_CONFIG,
                 ": spec.save: missing required key (a list ending with a saver, e.g. '- type: ascendv1_saver')");
}

static void test_error_apiversion(void **state)
{
    (void)state;
    expect_error("apiversion: modelslim_v1\nspec: {}\n", VS_ERR_UNSUPPORTED,
                 ":1: apiversion: 'modelslim_v1' is not supported (vlmslim supports only "
                 "'multimodal_vlm_modelslim_v1')");
    expect_error("spec:\n" SAVE, VS_ERR_UNSUPPORTED,
                 ": apiversion: missing; vlmslim supports only 'multimodal_vlm_modelslim_v1'");
    expect_error("apiversion: 1\nspec: {}\n", VS_ERR_CONFIG, ":1: apiversion: expected a string, got 1");
}

static void test_error_save(void **state)
{
    (void)state;
    expect_error(HEAD "  save: []\n", VS_ERR_CONFIG,
                 ":3: spec.save: empty list; the last item must be a saver (ascendv1_saver)");
    expect_error(HEAD "  save:\n    - {type: ascendv1_saver}\n    - {type: quarot}\n", VS_ERR_CONFIG,
                 ":5: spec.save[1]: the last item must be a saver (ascendv1_saver, ascendv1_saver_distributed, "
                 "mindie_format_saver or compressed_tensors_saver), got 'quarot'");
    /* spec.save holds savers: an unknown type there is named as a saver type, with the savers listed */
    expect_error(HEAD "  save:\n    - type: safetensors_saver\n", VS_ERR_CONFIG,
                 ":4: spec.save[0].type: unknown saver type 'safetensors_saver' (expected one of: ascendv1_saver, "
                 "ascendv1_saver_distributed, mindie_format_saver, compressed_tensors_saver)");
    expect_error(HEAD "  save:\n    - {part_file_size: 1}\n", VS_ERR_CONFIG,
                 ":4: spec.save[0].type: missing required key (expected one of: ascendv1_saver, "
                 "ascendv1_saver_distributed, mindie_format_saver, compressed_tensors_saver)");
}

static void test_error_processor_types(void **state)
{
    (void)state;
    expect_error(HEAD "  process:\n    - {type: quarot}\n    - {type: flatquant, epochs: 3}\n" SAVE,
                 VS_ERR_UNSUPPORTED, ":5: spec.process[1]: processor type 'flatquant' is not supported by vlmslim");
    expect_error(HEAD "  process:\n    - {type: online_quarot}\n" SAVE, VS_ERR_UNSUPPORTED,
                 ":4: spec.process[0]: processor type 'online_quarot' is not supported by vlmslim");
    expect_error(HEAD "  process:\n    - {type: gptq}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].type: unknown processor type 'gptq' (expected one of: linear_quant, iter_smooth, "
                 "smooth_quant, flex_smooth_quant, flex_awq_ssz, awq, quarot, online_quarot, kv_smooth, "
                 "dynamic_cache, fa3_quant, autoround_quant, flatquant, float_sparse, svd_res, adapt_rotation, "
                 "module_func, group, load, ascendv1_saver, ascendv1_saver_distributed, mindie_format_saver, compressed_tensors_saver)");
    expect_error(HEAD "  prior:\n    - process: [{type: quarot, block_size: 3}]\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.prior[0].process[0].block_size: block_size must be -1 or a positive power of 2, got 3");
}

/* msModelSlim's group: its configs in its place, named by their own path; malformed groups. */
static void test_group(void **state)
{
    (void)state;
    struct vs_quant_config *c = load_ok("lab_practice/internvl3_5/internvl_w8a8.yaml");
    assert_int_equal(c->n_process, 3);
    expect_quarot_32(&c->process[0]);
    assert_int_equal(c->process[1].type, VS_PROC_ITER_SMOOTH);
    assert_int_equal(c->process[2].type, VS_PROC_LINEAR_QUANT);
    assert_string_equal(c->process[2].path, "spec.process[2].configs[0]");
    expect_patterns(&c->process[2].u.linear_quant.exclude, true, 3, "vision_model.encoder.layers.*.mlp.fc1",
                    "vision_model.encoder.layers.*.mlp.fc2", "language_model.model.layers.*.mlp.down_proj");
    vs_quant_config_free(c);
    c = load_text(HEAD "  process:\n    - {type: quarot}\n    - type: group\n      configs:\n"
                       "        - {type: linear_quant, qconfig: {weight: " W8 "}, include: ['*attn*']}\n"
                       "        - {type: linear_quant, qconfig: {weight: " W8 "}}\n"
                       "    - {type: smooth_quant}\n" SAVE);
    assert_int_equal(c->n_process, 4);
    assert_int_equal(c->process[0].type, VS_PROC_QUAROT);
    assert_string_equal(c->process[1].path, "spec.process[1].configs[0]");
    expect_patterns(&c->process[1].u.linear_quant.include, true, 1, "*attn*");
    assert_string_equal(c->process[2].path, "spec.process[1].configs[1]");
    assert_int_equal(c->process[3].type, VS_PROC_SMOOTH_QUANT);
    assert_string_equal(c->process[3].path, "spec.process[2]");
    vs_quant_config_free(c);
    expect_error(HEAD "  process:\n    - {type: group}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].configs: missing required key (a list of processors)");
    expect_error(HEAD "  process:\n    - {type: group, configs: []}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].configs: a group needs at least one processor");
    expect_error(HEAD "  process:\n    - {type: group, configs: {type: quarot}}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].configs: expected a list, got a mapping");
    expect_error(HEAD "  process:\n    - {type: group, name: g, configs: [{type: quarot}]}\n" SAVE, VS_ERR_CONFIG,
                 ":4: spec.process[0].name: unknown key (expected one of: type, configs)");
    expect_error(HEAD "  process:\n    - type: group\n      configs:\n        - {type: group, configs: [{type: quarot}]}\n"
                 SAVE, VS_ERR_CONFIG, ":6: spec.process[0].configs[0]: a group inside a group is not supported by vlmslim");
    expect_error(HEAD "  process:\n    - type: group\n      configs:\n        - {type: quarot, block_size: 3}\n" SAVE,
                 VS_ERR_CONFIG, ":6: spec.process[0].configs[0].block_size: block_size must be -1 or a positive power of 2, got 3");
}

/* YAML-level problems come through with the file, line and column. */
static void test_error_yaml(void **state)
{
    (void)state;
    expect_error(HEAD SAVE "  dataset: a\n  dataset: b\n", VS_ERR_FORMAT,
                 ":6:3: duplicate key 'dataset' (first defined at line 5)");
    expect_error(HEAD "  process: [{type: quarot}\n" SAVE, VS_ERR_FORMAT,
                 ":4:3: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line "
                 "3, column 12)");
    expect_error(HEAD "  process:\n    - type: linear_quant\n      qconfig: *w8a8\n" SAVE, VS_ERR_FORMAT,
                 ":5:16: undefined alias '*w8a8'");

    struct vs_quant_config *c = NULL;
    char *path = vs_test_write(g_dir, "config.json", "{}", 2);
    assert_int_equal(vs_quant_config_load(path, &c), VS_ERR_FORMAT);
    char want[1024];
    snprintf(want, sizeof want, "%s: not a YAML file name (expected a .yaml or .yml extension)", path);
    assert_string_equal(vs_error_message(), want);
    free(path);
    path = vs_path_join(g_dir, "absent.yaml");
    assert_int_equal(vs_quant_config_load(path, &c), VS_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(vs_error_message(), want);
    assert_null(c);
    free(path);
    vs_quant_config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msmodelslim_configs),
        cmocka_unit_test(test_lab_practice_configs),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_coercions_and_anchors),
        cmocka_unit_test(test_other_processors_parse),
        cmocka_unit_test(test_error_unknown_keys),
        cmocka_unit_test(test_error_values),
        cmocka_unit_test(test_error_types),
        cmocka_unit_test(test_error_missing),
        cmocka_unit_test(test_error_apiversion),
        cmocka_unit_test(test_error_save),
        cmocka_unit_test(test_error_processor_types),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_error_yaml),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
