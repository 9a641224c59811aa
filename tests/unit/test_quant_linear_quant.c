/* linear_quant: scheme resolution, selection (include/exclude, first entry wins), unmatched
 * pattern counting, and weight quantization errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "quant/linear_quant.h"
#include "test_util.h"

static char *inc_all[] = {"*"};
static char *exc_some[] = {"*experts*", "*mlp.gate", "*never_matches*", "*experts.3*"};

static struct vs_processor_config make(enum vs_qdtype adt, enum vs_qscope asc, bool asym_act)
{
    struct vs_processor_config pc;
    memset(&pc, 0, sizeof pc);
    pc.type = VS_PROC_LINEAR_QUANT;
    strcpy(pc.path, "spec.process[1]");
    struct vs_linear_quant_config *c = &pc.u.linear_quant;
    c->act = (struct vs_qconfig){.dtype = adt, .scope = asc, .symmetric = !asym_act};
    strcpy(c->act.method, adt == VS_QDT_FLOAT ? "none" : "minmax");
    c->weight = (struct vs_qconfig){.dtype = VS_QDT_INT8, .scope = VS_QS_PER_CHANNEL, .symmetric = true};
    strcpy(c->weight.method, "minmax");
    c->include = (struct vs_pattern_list){inc_all, 1, true};
    c->exclude = (struct vs_pattern_list){exc_some, 4, true};
    return pc;
}

static void test_schemes(void **state)
{
    (void)state;
    struct vs_linear_quant lq;
    struct vs_processor_config dyn = make(VS_QDT_INT8, VS_QS_PER_TOKEN, false);
    assert_int_equal(vs_linear_quant_init(&lq, &dyn), VS_OK);
    assert_int_equal(lq.scheme, VS_SCHEME_W8A8_DYNAMIC);
    vs_linear_quant_free(&lq);
    struct vs_processor_config w16 = make(VS_QDT_FLOAT, VS_QS_PER_TENSOR, false);
    assert_int_equal(vs_linear_quant_init(&lq, &w16), VS_OK);
    assert_int_equal(lq.scheme, VS_SCHEME_W8A16);
    vs_linear_quant_free(&lq);
    assert_false(vs_scheme_needs_data(VS_SCHEME_W8A16));
    assert_false(vs_scheme_needs_data(VS_SCHEME_W8A8_DYNAMIC));
    struct vs_processor_config stat = make(VS_QDT_INT8, VS_QS_PER_TENSOR, true);
    assert_int_equal(vs_linear_quant_init(&lq, &stat), VS_OK);
    assert_int_equal(lq.scheme, VS_SCHEME_W8A8);
    assert_false(lq.act_symmetric);
    assert_true(vs_scheme_needs_data(lq.scheme));
    assert_string_equal(vs_scheme_name(lq.scheme), "W8A8");
    vs_linear_quant_free(&lq);
    struct vs_processor_config stat_sym = make(VS_QDT_INT8, VS_QS_PER_TENSOR, false);
    assert_int_equal(vs_linear_quant_init(&lq, &stat_sym), VS_OK);
    assert_int_equal(lq.scheme, VS_SCHEME_W8A8);
    assert_true(lq.act_symmetric);
    vs_linear_quant_free(&lq);
    struct vs_processor_config hist = make(VS_QDT_INT8, VS_QS_PER_TENSOR, true);
    strcpy(hist.u.linear_quant.act.method, "histogram");
    assert_int_equal(vs_linear_quant_init(&lq, &hist), VS_OK);
    assert_int_equal(lq.scheme, VS_SCHEME_W8A8);
    assert_false(lq.act_symmetric);
    assert_true(lq.act_histogram);
    vs_linear_quant_free(&lq);
    hist.u.linear_quant.act.symmetric = true;
    assert_int_equal(vs_linear_quant_init(&lq, &hist), VS_OK);
    assert_true(lq.act_symmetric && lq.act_histogram);
    vs_linear_quant_free(&lq);
    assert_int_equal(vs_linear_quant_init(&lq, &stat), VS_OK);
    assert_false(lq.act_histogram); /* minmax */
    vs_linear_quant_free(&lq);
    /* histogram is per_tensor only */
    struct vs_processor_config hist_tok = make(VS_QDT_INT8, VS_QS_PER_TOKEN, true);
    strcpy(hist_tok.u.linear_quant.act.method, "histogram");
    assert_int_equal(vs_linear_quant_init(&lq, &hist_tok), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(),
        "spec.process[1]: linear_quant with act int8 per_token asymmetric histogram and weight int8 per_channel symmetric minmax is not implemented in this build"));
    hist.u.linear_quant.act.symmetric = false;
    strcpy(hist.u.linear_quant.act.ext_aggregation, "mean");
    assert_int_equal(vs_linear_quant_init(&lq, &hist), VS_ERR_UNSUPPORTED);
    struct vs_processor_config mean = make(VS_QDT_INT8, VS_QS_PER_TENSOR, true);
    strcpy(mean.u.linear_quant.act.ext_aggregation, "mean");
    assert_int_equal(vs_linear_quant_init(&lq, &mean), VS_ERR_UNSUPPORTED);
    struct vs_processor_config mx = make(VS_QDT_INT8, VS_QS_PER_TOKEN, false);
    mx.u.linear_quant.weight.dtype = VS_QDT_INT4;
    assert_int_equal(vs_linear_quant_init(&lq, &mx), VS_ERR_UNSUPPORTED);
}

static void test_selection_and_unmatched_patterns(void **state)
{
    (void)state;
    struct vs_processor_config pc = make(VS_QDT_INT8, VS_QS_PER_TOKEN, false);
    struct vs_linear_quant lq;
    assert_int_equal(vs_linear_quant_init(&lq, &pc), VS_OK);
    assert_true(vs_linear_quant_matches(&lq, "model.language_model.layers.0.self_attn.q_proj"));
    assert_false(vs_linear_quant_matches(&lq, "model.language_model.layers.0.mlp.experts.3.up_proj"));
    assert_int_equal(lq.include_hits[0], 0); /* looking ahead counts nothing */
    assert_true(vs_linear_quant_selects(&lq, "model.language_model.layers.0.self_attn.q_proj"));
    assert_false(vs_linear_quant_selects(&lq, "model.language_model.layers.0.mlp.experts.3.up_proj"));
    assert_false(vs_linear_quant_selects(&lq, "model.language_model.layers.0.mlp.gate"));
    assert_true(vs_linear_quant_selects(&lq, "model.language_model.layers.0.mlp.gate_proj"));
    assert_int_equal(lq.include_hits[0], 4);
    assert_int_equal(lq.exclude_hits[0], 1);
    assert_int_equal(lq.exclude_hits[1], 1);
    assert_int_equal(lq.exclude_hits[2], 0); /* warned about by vs_linear_quant_warn_unmatched */
    assert_int_equal(lq.exclude_hits[3], 1); /* shadowed by exclude[0] but still counted as used */
    vs_linear_quant_free(&lq);

    /* an explicit empty include list matches nothing */
    pc.u.linear_quant.include = (struct vs_pattern_list){NULL, 0, true};
    assert_int_equal(vs_linear_quant_init(&lq, &pc), VS_OK);
    assert_false(vs_linear_quant_selects(&lq, "model.language_model.layers.0.self_attn.q_proj"));
    vs_linear_quant_free(&lq);
}

static void test_weight_quantization(void **state)
{
    (void)state;
    float w[6] = {1.0f, -2.0f, 0.5f, 0.0f, 0.25f, -0.125f};
    int8_t q[6];
    float scale[2], offset[2] = {9, 9};
    assert_int_equal(vs_linear_quant_weight(VS_SCHEME_W8A16, "m", w, 2, 3, q, scale, offset), VS_OK);
    assert_true(scale[0] == 2.0f / 127.0f && scale[1] == 0.25f / 127.0f);
    assert_true(offset[0] == 0.0f && offset[1] == 0.0f);
    assert_int_equal(q[1], -127);
    assert_int_equal(q[4], 127);
    w[4] = NAN;
    assert_int_equal(vs_linear_quant_weight(VS_SCHEME_W8A8_DYNAMIC, "layers.0.mlp.up_proj", w, 2, 3, q, scale, NULL), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(), "layers.0.mlp.up_proj.weight: element [1, 1] is NaN; cannot quantize a non-finite weight");
    w[4] = INFINITY;
    assert_int_equal(vs_linear_quant_weight(VS_SCHEME_W8A8_DYNAMIC, "m", w, 2, 3, q, scale, NULL), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "is infinite"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_selection_and_unmatched_patterns),
        cmocka_unit_test(test_weight_quantization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
