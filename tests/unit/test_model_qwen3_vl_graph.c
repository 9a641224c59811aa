/* Qwen3-VL / Qwen3-VL-MoE smoothing subgraphs and QuaRot maps (msmodelslim_vlm_spec.md §4.4,
 * §4.5): names, order, kinds, and the refusal of tied embeddings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model/qwen3_vl_graph.h"
#include "test_util.h"

#define P "model.language_model.layers.1."

static struct vs_qwen3_vl_dims dims(bool moe)
{
    static int64_t deepstack[3] = {1, 2, 3};
    return (struct vs_qwen3_vl_dims){
        .vis_prefix = "model.visual.", .text_prefix = "model.language_model.", .head_name = "lm_head", .hidden = 64, .layers = 3, .heads = 4, .kv_heads = 2, .head_dim = 16, .intermediate = 96,
        .experts = moe ? 3 : 0, .decoder_sparse_step = 1, .deepstack_indexes = deepstack, .n_deepstack = 3,
    };
}

static void test_dense_subgraphs(void **state)
{
    (void)state;
    struct vs_qwen3_vl_dims d = dims(false);
    struct vs_subgraph_list l = {0};
    assert_int_equal(vs_qwen3_vl_dense_subgraphs(&d, 0, &l), VS_OK); /* vision: none */
    assert_int_equal(l.n, 0);
    assert_int_equal(vs_qwen3_vl_dense_subgraphs(&d, 4, &l), VS_OK); /* the tail: none */
    assert_int_equal(l.n, 0);
    assert_int_equal(vs_qwen3_vl_dense_subgraphs(&d, 2, &l), VS_OK);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.items[0].kind, VS_SUBGRAPH_KIND_NORM_LINEAR);
    assert_string_equal(l.items[0].source, P "input_layernorm");
    assert_int_equal(l.items[0].n_targets, 3);
    assert_string_equal(l.items[0].targets[0], P "self_attn.q_proj");
    assert_string_equal(l.items[0].targets[2], P "self_attn.v_proj");
    assert_int_equal(l.items[1].kind, VS_SUBGRAPH_KIND_NORM_LINEAR);
    assert_string_equal(l.items[1].source, P "post_attention_layernorm");
    assert_string_equal(l.items[1].targets[0], P "mlp.gate_proj");
    assert_string_equal(l.items[1].targets[1], P "mlp.up_proj");
    assert_int_equal(l.items[2].kind, VS_SUBGRAPH_KIND_OV);
    assert_string_equal(l.items[2].source, P "self_attn.v_proj");
    assert_string_equal(l.items[2].targets[0], P "self_attn.o_proj");
    assert_string_equal(l.items[2].group_method, "max");
    assert_int_equal(l.items[2].num_attention_heads, 4);
    assert_int_equal(l.items[2].num_key_value_heads, 2);
    assert_int_equal(l.items[2].head_dim, 16);
    assert_int_equal(l.items[3].kind, VS_SUBGRAPH_KIND_UP_DOWN);
    assert_string_equal(l.items[3].source, P "mlp.up_proj");
    assert_string_equal(l.items[3].targets[0], P "mlp.down_proj");
    assert_string_equal(vs_subgraph_kind_name(l.items[3].kind), "up-down");
    vs_subgraph_list_free(&l);
}

static void test_moe_subgraphs(void **state)
{
    (void)state;
    struct vs_qwen3_vl_dims d = dims(true);
    struct vs_subgraph_list l = {0};
    assert_int_equal(vs_qwen3_vl_moe_subgraphs(&d, 2, &l), VS_OK); /* every layer MoE: attention only */
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].kind, VS_SUBGRAPH_KIND_NORM_LINEAR);
    assert_int_equal(l.items[1].kind, VS_SUBGRAPH_KIND_OV);
    vs_subgraph_list_free(&l);
    /* decoder_sparse_step 2: layer 0 ((0+1) % 2 != 0) is dense and gets the MLP subgraphs */
    d.decoder_sparse_step = 2;
    assert_int_equal(vs_qwen3_vl_moe_subgraphs(&d, 1, &l), VS_OK);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.items[2].kind, VS_SUBGRAPH_KIND_NORM_LINEAR);
    assert_string_equal(l.items[2].source, "model.language_model.layers.0.post_attention_layernorm");
    assert_int_equal(l.items[3].kind, VS_SUBGRAPH_KIND_UP_DOWN);
    vs_subgraph_list_free(&l);
    /* msModelSlim's quirk: a dense layer listed in mlp_only_layers gets no MLP subgraphs */
    int64_t only[1] = {0};
    d.mlp_only_layers = only, d.n_mlp_only_layers = 1;
    assert_int_equal(vs_qwen3_vl_moe_subgraphs(&d, 1, &l), VS_OK);
    assert_int_equal(l.n, 2);
    assert_false(vs_qwen3_vl_graph_is_moe_layer(&d, 0));
    assert_true(vs_qwen3_vl_graph_is_moe_layer(&d, 1));
    vs_subgraph_list_free(&l);
}

static void test_quarot_pre_and_post_run(void **state)
{
    (void)state;
    struct vs_qwen3_vl_dims d = dims(true);
    struct vs_quarot_phase p = {0};
    assert_int_equal(vs_qwen3_vl_quarot_pre_run(&d, true, &p), VS_OK);
    assert_int_equal(p.n_fusions, 0);
    assert_int_equal(p.n_bake, 0);
    assert_int_equal(p.n_commands, 5);
    assert_string_equal(p.commands[0].module, "model.visual.merger.linear_fc2");
    assert_int_equal(p.commands[0].side, VS_ROT_LEFT);
    assert_string_equal(p.commands[3].module, "model.visual.deepstack_merger_list.2.linear_fc2");
    assert_int_equal(p.commands[3].side, VS_ROT_LEFT);
    assert_string_equal(p.commands[4].module, "model.language_model.embed_tokens");
    assert_int_equal(p.commands[4].side, VS_ROT_RIGHT);
    assert_int_equal(p.commands[4].rotation, VS_ROT_R);
    vs_quarot_phase_free(&p);
    assert_int_equal(vs_qwen3_vl_quarot_post_run(&d, true, &p), VS_OK);
    assert_int_equal(p.n_fusions, 1);
    assert_string_equal(p.fusions[0].norm, "model.language_model.norm");
    assert_string_equal(p.fusions[0].linears[0], "lm_head");
    assert_int_equal(p.n_commands, 1);
    assert_string_equal(p.commands[0].module, "lm_head");
    assert_int_equal(p.commands[0].side, VS_ROT_RIGHT);
    vs_quarot_phase_free(&p);
    int64_t r, uv;
    vs_qwen3_vl_quarot_sizes(&d, &r, &uv);
    assert_int_equal(r, 64), assert_int_equal(uv, 16);
    /* tied embeddings are refused in every phase */
    d.tie_word_embeddings = true;
    assert_int_equal(vs_qwen3_vl_quarot_pre_run(&d, false, &p), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "qwen3_vl: quarot cannot rotate a model with tie_word_embeddings: true"));
    assert_int_equal(vs_qwen3_vl_quarot_unit(&d, true, 1, &p), VS_ERR_UNSUPPORTED);
    assert_int_equal(vs_qwen3_vl_quarot_post_run(&d, true, &p), VS_ERR_UNSUPPORTED);
    vs_quarot_phase_free(&p);
}

static void test_quarot_dense_layer(void **state)
{
    (void)state;
    struct vs_qwen3_vl_dims d = dims(false);
    struct vs_quarot_phase p = {0};
    assert_int_equal(vs_qwen3_vl_quarot_unit(&d, false, 0, &p), VS_OK); /* vision: nothing */
    assert_int_equal(p.n_fusions + p.n_commands, 0);
    assert_int_equal(vs_qwen3_vl_quarot_unit(&d, false, 2, &p), VS_OK);
    assert_int_equal(p.n_fusions, 2);
    assert_string_equal(p.fusions[0].norm, P "input_layernorm");
    assert_int_equal(p.fusions[0].n_linears, 3);
    assert_string_equal(p.fusions[1].norm, P "post_attention_layernorm");
    assert_int_equal(p.fusions[1].n_linears, 2);
    assert_string_equal(p.fusions[1].linears[1], P "mlp.up_proj");
    static const char *want[][3] = {
        {P "self_attn.o_proj", "R", "left"},   {P "mlp.down_proj", "R", "left"},
        {P "self_attn.q_proj", "R", "right"},  {P "self_attn.k_proj", "R", "right"},
        {P "self_attn.v_proj", "R", "right"},  {P "mlp.gate_proj", "R", "right"},
        {P "mlp.up_proj", "R", "right"},       {P "self_attn.v_proj", "R_uv", "left"},
        {P "self_attn.o_proj", "R_uv", "right"},
    };
    assert_int_equal(p.n_commands, 9);
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(p.commands[i].module, want[i][0]);
        assert_int_equal(p.commands[i].rotation, strcmp(want[i][1], "R") ? VS_ROT_UV : VS_ROT_R);
        assert_int_equal(p.commands[i].side, strcmp(want[i][2], "left") ? VS_ROT_RIGHT : VS_ROT_LEFT);
    }
    vs_quarot_phase_free(&p);
}

static void test_quarot_moe_layer(void **state)
{
    (void)state;
    struct vs_qwen3_vl_dims d = dims(true);
    struct vs_quarot_phase p = {0};
    assert_int_equal(vs_qwen3_vl_quarot_unit(&d, true, 2, &p), VS_OK);
    assert_int_equal(p.fusions[1].n_linears, 3 + 3 + 1);
    assert_string_equal(p.fusions[1].linears[0], P "mlp.experts.0.gate_proj");
    assert_string_equal(p.fusions[1].linears[2], P "mlp.experts.2.gate_proj");
    assert_string_equal(p.fusions[1].linears[3], P "mlp.experts.0.up_proj");
    assert_string_equal(p.fusions[1].linears[6], P "mlp.gate");
    /* left: o_proj + 3 down_proj; right: q, k, v + 3 × (gate, up) + router; R_uv: 2 */
    assert_int_equal(p.n_commands, 4 + 3 + 6 + 1 + 2);
    assert_string_equal(p.commands[1].module, P "mlp.experts.0.down_proj");
    assert_int_equal(p.commands[3].side, VS_ROT_LEFT);
    assert_string_equal(p.commands[7].module, P "mlp.experts.0.gate_proj");
    assert_string_equal(p.commands[8].module, P "mlp.experts.0.up_proj");
    assert_string_equal(p.commands[13].module, P "mlp.gate");
    assert_int_equal(p.commands[13].side, VS_ROT_RIGHT);
    assert_string_equal(p.commands[14].module, P "self_attn.v_proj");
    assert_int_equal(p.commands[14].rotation, VS_ROT_UV);
    vs_quarot_phase_free(&p);
    /* a dense layer of a MoE checkpoint gets the dense MLP names */
    int64_t only[1] = {1};
    d.mlp_only_layers = only, d.n_mlp_only_layers = 1;
    assert_int_equal(vs_qwen3_vl_quarot_unit(&d, true, 2, &p), VS_OK);
    assert_string_equal(p.fusions[1].linears[0], P "mlp.gate_proj");
    assert_int_equal(p.n_commands, 9);
    vs_quarot_phase_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_subgraphs),
        cmocka_unit_test(test_moe_subgraphs),
        cmocka_unit_test(test_quarot_pre_and_post_run),
        cmocka_unit_test(test_quarot_dense_layer),
        cmocka_unit_test(test_quarot_moe_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
