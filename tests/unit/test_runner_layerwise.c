/* The layer-wise driver with a toy adapter whose sample state is a vector that each unit adds
 * its index to: spilling round trips, observe-only runs on copies, the spill file's errors, the
 * interrupt flag, and an adapter without a forward pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "runner/layerwise.h"
#include "test_util.h"

struct vs_sample {
    int64_t n, next;
    float v[];
};

static size_t toy_count(const struct vs_model *m) { (void)m; return 3; }
static enum vs_status toy_begin(struct vs_model *m, const struct vs_model_inputs *in, struct vs_sample **out)
{
    (void)m;
    struct vs_sample *s = calloc(1, sizeof *s + (size_t)in->n_tokens * sizeof(float));
    s->n = in->n_tokens;
    for (int64_t i = 0; i < s->n; i++)
        s->v[i] = (float)in->input_ids[i];
    *out = s;
    return VS_OK;
}
static enum vs_status toy_forward(struct vs_model *m, size_t i, const struct vs_unit *u, struct vs_sample *s,
                                  const struct vs_linear_hooks *hooks, bool all_experts)
{
    (void)m, (void)u, (void)hooks, (void)all_experts;
    if ((int64_t)i != s->next)
        return vs_error_set(VS_ERR_INTERNAL, "unit %zu out of order", i);
    for (int64_t k = 0; k < s->n; k++)
        s->v[k] += (float)(i + 1);
    s->next++;
    return VS_OK;
}
static enum vs_status toy_logits(struct vs_model *m, const struct vs_sample *s, float **l, int64_t *n)
{
    (void)m;
    *l = malloc((size_t)s->n * sizeof **l);
    memcpy(*l, s->v, (size_t)s->n * sizeof **l);
    *n = s->n;
    return VS_OK;
}
static void toy_output(const struct vs_sample *s, const float **d, int64_t *r, int64_t *c)
{
    *d = s->v, *r = 1, *c = s->n;
}
static size_t toy_size(const struct vs_sample *s) { return sizeof *s + (size_t)s->n * sizeof(float); }
static void toy_save(const struct vs_sample *s, void *buf) { memcpy(buf, s, toy_size(s)); }
static enum vs_status toy_load(struct vs_model *m, const void *buf, size_t n, struct vs_sample **out)
{
    (void)m;
    *out = malloc(n);
    memcpy(*out, buf, n);
    return VS_OK;
}
static void toy_free(struct vs_sample *s) { free(s); }
static bool toy_routed(const struct vs_model *m, const char *module) { (void)m, (void)module; return false; }

static const struct vs_adapter_ops toy = {
    .abi_version = VS_ADAPTER_ABI_VERSION, .key = "toy", .unit_count = toy_count,
    .sample_begin = toy_begin, .unit_forward = toy_forward, .sample_logits = toy_logits,
    .sample_output = toy_output, .sample_size = toy_size, .sample_save = toy_save, .sample_load = toy_load,
    .sample_free = toy_free, .linear_is_routed = toy_routed,
};

static void add_samples(struct vs_layerwise *lw)
{
    for (int j = 0; j < 3; j++) {
        int64_t ids[4] = {10 * j, 10 * j + 1, 10 * j + 2, 10 * j + 3};
        struct vs_model_inputs in = {.input_ids = ids, .n_tokens = 2 + j};
        assert_int_equal(vs_layerwise_add_sample(lw, &in), VS_OK);
    }
}

static void check_logits(struct vs_layerwise *lw, float added)
{
    for (size_t j = 0; j < 3; j++) {
        float *l;
        int64_t n;
        assert_int_equal(vs_layerwise_logits(lw, j, &l, &n), VS_OK);
        assert_int_equal(n, 2 + (int64_t)j);
        for (int64_t k = 0; k < n; k++)
            assert_true(l[k] == (float)(10 * (int64_t)j + k) + added);
        free(l);
    }
}

static void test_spill_and_observe_only(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("layerwise");
    for (int budget = 0; budget < 2; budget++) {
        struct vs_layerwise *lw;
        assert_int_equal(vs_layerwise_open(&toy, NULL, budget ? UINT64_MAX : 0, dir, &lw), VS_OK);
        add_samples(lw);
        for (size_t i = 0; i < 3; i++) {
            /* an observe-only run leaves the states as they are */
            assert_int_equal(vs_layerwise_run_unit(lw, i, NULL, NULL, false, false, NULL, NULL), VS_OK);
            assert_int_equal(vs_layerwise_run_unit(lw, i, NULL, NULL, false, true, NULL, NULL), VS_OK);
        }
        check_logits(lw, 1 + 2 + 3);
        struct vs_layerwise_stats st;
        vs_layerwise_stats(lw, &st);
        if (budget)
            assert_int_equal(st.spills, 0);
        else
            assert_int_equal(st.spills, 3 * 4); /* at the start and after every unit */
        vs_layerwise_close(lw);
    }
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_errors(void **state)
{
    (void)state;
    struct vs_layerwise *lw;
    assert_int_equal(vs_layerwise_open(&toy, NULL, 0, "/nonexistent-dir/x", &lw), VS_OK);
    int64_t ids[2] = {1, 2};
    struct vs_model_inputs in = {.input_ids = ids, .n_tokens = 2};
    assert_int_equal(vs_layerwise_add_sample(lw, &in), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "/nonexistent-dir/x/vlmslim-spill-"));
    assert_true(vs_test_contains(vs_error_message(), "cannot create the activation spill file"));
    vs_layerwise_close(lw);

    volatile sig_atomic_t stop = 0;
    assert_int_equal(vs_layerwise_open(&toy, NULL, UINT64_MAX, NULL, &lw), VS_OK);
    vs_layerwise_set_interrupt(lw, &stop);
    add_samples(lw);
    stop = 1;
    struct vs_unit *u = vs_unit_new("unit0");
    assert_int_equal(vs_layerwise_run_unit(lw, 0, u, NULL, false, true, NULL, NULL), VS_ERR_IO);
    assert_string_equal(vs_error_message(), "interrupted at sample 0 of unit 0 (unit0)");
    vs_unit_free(u);
    vs_layerwise_close(lw);

    struct vs_adapter_ops old = toy;
    old.abi_version = 1;
    assert_int_equal(vs_layerwise_open(&old, NULL, 0, NULL, &lw), VS_ERR_UNSUPPORTED);
    assert_string_equal(vs_error_message(), "adapter 'toy' (ABI version 1) implements no forward pass");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_and_observe_only),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
