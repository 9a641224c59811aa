/* The model registry: config.ini parsing (configparser rules), name listing, built-in
 * resolution, a real adapter plugin loaded with dlopen (tests/plugin), and every error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "model/registry.h"
#include "test_util.h"

struct fixture {
    char *dir, *ini;
    struct vs_registry *reg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = vs_test_tmpdir("registry");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vs_registry_free(f->reg);
    vs_fs_remove_tree(f->dir);
    free(f->ini);
    free(f->dir);
    free(f);
    return 0;
}

static enum vs_status load_text(struct fixture *f, const char *text)
{
    vs_registry_free(f->reg);
    f->reg = NULL;
    free(f->ini);
    f->ini = vs_test_write(f->dir, "config.ini", text, strlen(text));
    return vs_registry_load(f->ini, &f->reg);
}

/* The load fails with VS_ERR_CONFIG and exactly "<ini><suffix>". */
static void expect_load_error(struct fixture *f, const char *text, const char *suffix)
{
    assert_int_equal(load_text(f, text), VS_ERR_CONFIG);
    assert_null(f->reg);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", f->ini, suffix);
    assert_string_equal(vs_error_message(), want);
}

static void test_shipped_registry(void **state)
{
    (void)state;
    struct vs_registry *r;
    assert_int_equal(vs_registry_load("config/config.ini", &r), VS_OK);
    static const char *const names[] = {
        "Qwen3-VL-30B-A3B", "Qwen3-VL-235B-A22B", "Qwen3-VL-2B-Instruct", "Qwen3-VL-4B-Instruct",
        "Qwen3-VL-8B-Instruct", "Qwen3-VL-32B-Instruct", "Qwen3-VL-Embedding-2B", "Qwen3-VL-Embedding-8B",
        "Qwen3-VL-Reranker-2B", "Qwen3-VL-Reranker-8B", "Qwen2.5-VL-3B-Instruct", "Qwen2.5-VL-7B-Instruct",
        "Qwen2.5-VL-32B-Instruct", "Qwen2.5-VL-72B-Instruct", "InternVL3_5-38B", "InternVL3_5-1B", "InternVL3_5-2B",
        "InternVL3_5-4B", "InternVL3_5-8B", "InternVL3_5-14B", "InternVL3_5-1B-HF", "InternVL3_5-2B-HF",
        "InternVL3_5-4B-HF", "InternVL3_5-8B-HF", "InternVL3_5-14B-HF", "InternVL3_5-38B-HF",
    };
    assert_int_equal(vs_registry_count(r), 26);
    for (size_t i = 0; i < 26; i++) {
        assert_string_equal(vs_registry_name_at(r, i), names[i]);
        assert_string_equal(vs_registry_group_of(r, names[i]), i < 2    ? "qwen3_vl_moe"
                                                               : i < 10 ? "qwen3_vl"
                                                               : i < 14 ? "qwen2_5_vl"
                                                                        : "internvl3_5_dense");
    }
    assert_null(vs_registry_name_at(r, 26));
    assert_null(vs_registry_group_of(r, "qwen3_vl")); /* a group key is no display name */
    assert_null(vs_registry_group_of(r, "qwen3-vl-30b-a3b")); /* display names are case-sensitive */
    const struct vs_adapter_ops *ops;
    assert_int_equal(vs_registry_resolve(r, "Qwen3-VL-30B-A3B", &ops), VS_OK);
    assert_ptr_equal(ops, vs_builtin_adapter("qwen3_vl_moe"));
    assert_string_equal(ops->key, "qwen3_vl_moe");
    assert_int_equal(vs_registry_resolve(r, "Qwen3-VL-Reranker-8B", &ops), VS_OK);
    assert_ptr_equal(ops, vs_builtin_adapter("qwen3_vl"));
    assert_int_equal(vs_registry_resolve(r, "Qwen2.5-VL-7B-Instruct", &ops), VS_OK);
    assert_ptr_equal(ops, vs_builtin_adapter("qwen2_5_vl"));
    assert_int_equal(vs_registry_resolve(r, "InternVL3_5-38B", &ops), VS_OK);
    assert_ptr_equal(ops, vs_builtin_adapter("internvl"));
    assert_string_equal(ops->pedigree, "internvl3_5");
    assert_int_equal(vs_registry_resolve(r, "qwen3_vl_moe", &ops), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(),
                        "unknown --model_type 'qwen3_vl_moe'; registered: Qwen3-VL-30B-A3B, Qwen3-VL-235B-A22B, "
                        "Qwen3-VL-2B-Instruct, Qwen3-VL-4B-Instruct, Qwen3-VL-8B-Instruct, Qwen3-VL-32B-Instruct, "
                        "Qwen3-VL-Embedding-2B, Qwen3-VL-Embedding-8B, Qwen3-VL-Reranker-2B, Qwen3-VL-Reranker-8B, "
                        "Qwen2.5-VL-3B-Instruct, Qwen2.5-VL-7B-Instruct, Qwen2.5-VL-32B-Instruct, "
                        "Qwen2.5-VL-72B-Instruct, InternVL3_5-38B, InternVL3_5-1B, InternVL3_5-2B, InternVL3_5-4B, "
                        "InternVL3_5-8B, InternVL3_5-14B, InternVL3_5-1B-HF, InternVL3_5-2B-HF, InternVL3_5-4B-HF, "
                        "InternVL3_5-8B-HF, ... (see config/config.ini)"); /* the list is cut at its message's length */
    vs_registry_free(r);
}

static void test_builtins(void **state)
{
    (void)state;
    const struct vs_adapter_ops *a = vs_builtin_adapter("qwen3_vl"), *b = vs_builtin_adapter("qwen3_vl_moe");
    assert_true(vs_adapter_has_forward(a));
    assert_true(vs_adapter_has_forward(b));
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_string_equal(a->key, "qwen3_vl");
    assert_string_equal(b->key, "qwen3_vl_moe");
    assert_int_equal(a->abi_version, VS_ADAPTER_ABI_VERSION);
    assert_null(vs_builtin_adapter("llama"));
    assert_null(vs_builtin_adapter("Qwen3_VL"));
    assert_null(vs_builtin_adapter(""));
}

/* configparser rules: case-insensitive option names, `=` or `:`, comments, stripped values,
 * continuation lines, other sections ignored. */
static void test_parsing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load_text(f, "\xEF\xBB\xBF# vlmslim registry\n"
                                  "; another comment\n"
                                  "[ModelAdapterDependencies]\n"
                                  "Alpha = {\"transformers\": \"==4.57.1\"}\n"
                                  "[ModelAdapter]\n"
                                  "  Alpha  =  A-1B ,A-2B,, \n"
                                  "beta: B-1B ; an inline comment\n"
                                  "gamma = G-1B,\n"
                                  "    G-2B,\n"
                                  "\n"
                                  "    # a comment inside\n"
                                  "    G-3B\n"
                                  "empty =\n"
                                  "[Plugin:quant_service]\n"
                                  "multimodal_vlm_modelslim_v1 = x:y\n"
                                  "[ModelAdapterEntryPoints]\n"
                                  "ALPHA = builtin:qwen3_vl\n"
                                  "Beta : builtin:qwen3_vl_moe\n"
                                  "gamma=builtin:qwen3_vl\n"
                                  "empty = builtin:qwen3_vl\n"
                                  "unused = builtin:none\n"),
                     VS_OK);
    static const char *const names[] = {"A-1B", "A-2B", "B-1B", "G-1B", "G-2B", "G-3B"};
    static const char *const groups[] = {"alpha", "alpha", "beta", "gamma", "gamma", "gamma"};
    assert_int_equal(vs_registry_count(f->reg), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(vs_registry_name_at(f->reg, i), names[i]);
        assert_string_equal(vs_registry_group_of(f->reg, names[i]), groups[i]);
    }
    const struct vs_adapter_ops *ops;
    assert_int_equal(vs_registry_resolve(f->reg, "A-2B", &ops), VS_OK);
    assert_ptr_equal(ops, vs_builtin_adapter("qwen3_vl"));
    assert_int_equal(vs_registry_resolve(f->reg, "B-1B", &ops), VS_OK); /* the inline comment is gone */
    assert_ptr_equal(ops, vs_builtin_adapter("qwen3_vl_moe"));
    assert_int_equal(vs_registry_resolve(f->reg, "G-3B", &ops), VS_OK);

    /* an empty registry is valid; every name is unknown */
    assert_int_equal(load_text(f, ""), VS_OK);
    assert_int_equal(vs_registry_count(f->reg), 0);
    assert_int_equal(vs_registry_resolve(f->reg, "X", &ops), VS_ERR_USAGE);
    char want[1024];
    snprintf(want, sizeof want, "unknown --model_type 'X'; registered: (none) (see %s)", f->ini);
    assert_string_equal(vs_error_message(), want);
}

/* A long list of names is cut, never overflowing the message. */
static void test_unknown_lists_names(void **state)
{
    struct fixture *f = *state;
    char text[8192] = "[ModelAdapter]\ng = N-000";
    for (int i = 1; i < 100; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), ",\n  N-%03d", i);
    strcat(text, "\n[ModelAdapterEntryPoints]\ng = builtin:qwen3_vl\n");
    assert_int_equal(load_text(f, text), VS_OK);
    assert_int_equal(vs_registry_count(f->reg), 100);
    const struct vs_adapter_ops *ops;
    assert_int_equal(vs_registry_resolve(f->reg, "N-100", &ops), VS_ERR_USAGE);
    const char *m = vs_error_message();
    assert_true(vs_test_contains(m, "unknown --model_type 'N-100'; registered: N-000, N-001, N-002, "));
    assert_true(vs_test_contains(m, ", ... (see "));
    assert_true(vs_test_contains(m, f->ini));
}

static void test_load_errors(void **state)
{
    struct fixture *f = *state;
    expect_load_error(f, "[ModelAdapter]\na = X, Y\nb = Z, X\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\nb = builtin:qwen3_vl\n",
                      ":3: [ModelAdapter] model type 'X' is registered under both 'a' and 'b'");
    expect_load_error(f, "[ModelAdapter]\na = X, Y, X\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\n",
                      ":2: [ModelAdapter] a: model type 'X' is listed twice");
    expect_load_error(f, "[ModelAdapter]\na = X\nb = Y\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\n",
                      ":3: [ModelAdapter] group 'b' has no entry in [ModelAdapterEntryPoints]");
    expect_load_error(f, "[ModelAdapter]\na = X\nthis line has no separator\n",
                      ":3: syntax error: 'this line has no separator' is neither [section] nor key = value");
    expect_load_error(f, "[ModelAdapter\na = X\n", ":1: syntax error: '[ModelAdapter' is neither [section] nor key = value");
    expect_load_error(f, "a = X\n[ModelAdapter]\n", ":1: option 'a' before any [section]");
    expect_load_error(f, "[ModelAdapter]\na = X\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\n[ModelAdapter]\nb = Y\n",
                      ":5: section [ModelAdapter] appears twice");
    expect_load_error(f, "[ModelAdapter]\nA = X\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\nA = builtin:qwen3_vl\n",
                      ":5: [ModelAdapterEntryPoints] option 'a' is already set on line 4");
    expect_load_error(f, "[ModelAdapter]\na = X, Y\n   Z\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\n",
                      ":2: [ModelAdapter] a: a comma is missing after 'Y' at the end of a line");
    char text[512];
    snprintf(text, sizeof text, "[ModelAdapter]\na = %0300d\n", 7);
    expect_load_error(f, text, ":2: line longer than 198 characters");
    static const char nul[] = "[ModelAdapter]\na = X\0Y\n";
    free(f->ini);
    f->ini = vs_test_write(f->dir, "config.ini", nul, sizeof nul - 1);
    assert_int_equal(vs_registry_load(f->ini, &f->reg), VS_ERR_CONFIG);
    char want[1024];
    snprintf(want, sizeof want, "%s: not a text file (NUL byte)", f->ini);
    assert_string_equal(vs_error_message(), want);

    struct vs_registry *r = (struct vs_registry *)&want; /* must be reset */
    assert_int_equal(vs_registry_load("tests/no-such-config.ini", &r), VS_ERR_CONFIG);
    assert_null(r);
    assert_string_equal(vs_error_message(), "model registry: tests/no-such-config.ini: cannot open: No such file or directory");
}

/* The demo plugin (tests/plugin) copied beside the config and named relatively. */
static void test_plugin_adapter(void **state)
{
    struct fixture *f = *state;
    char *plugins = vs_path_join(f->dir, "plugins"), *copy = vs_path_join(plugins, "libdemo.so");
    assert_int_equal(vs_fs_mkdirs(plugins, 0755), VS_OK);
    assert_int_equal(vs_fs_copy_file(VS_DEMO_PLUGIN, copy, 0755), VS_OK);
    char text[4096];
    snprintf(text, sizeof text,
             "[ModelAdapter]\n"
             "Demo = Demo-1B, Demo-2B\n"
             "absolute = Abs-1B\n"
             "old = Old-1B\n"
             "older = Old-2B\n"
             "oldest3 = Old-3B\n"
             "[ModelAdapterEntryPoints]\n"
             "DEMO = plugins/libdemo.so:vs_demo_adapter\n"
             "absolute = %s:vs_demo_adapter\n"
             "old = %s:vs_demo_adapter_v1\n"
             "older = %s:vs_demo_adapter_v2\n"
             "oldest3 = %s:vs_demo_adapter_v3\n",
             VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN);
    assert_int_equal(load_text(f, text), VS_OK);
    const struct vs_adapter_ops *ops = NULL, *again = NULL;
    assert_int_equal(vs_registry_resolve(f->reg, "Demo-2B", &ops), VS_OK);
    assert_string_equal(ops->key, "demo");
    assert_string_equal(ops->pedigree, "demo");
    assert_int_equal(ops->abi_version, VS_ADAPTER_ABI_VERSION);
    struct vs_model *m = NULL;
    assert_int_equal(ops->open("x", "Demo-2B", &m), VS_ERR_UNSUPPORTED); /* it calls back into vlmslim */
    assert_string_equal(vs_error_message(), "demo adapter for Demo-2B opens no model");
    assert_int_equal(vs_registry_resolve(f->reg, "Demo-1B", &again), VS_OK);
    assert_ptr_equal(again, ops);
    assert_int_equal(vs_registry_resolve(f->reg, "Abs-1B", &again), VS_OK);
    assert_string_equal(again->key, "demo");
    assert_false(vs_adapter_has_forward(again)); /* the demo implements no forward pass */
    /* An ABI-1 table (shorter) is read as such: the forward members are NULL. */
    assert_int_equal(vs_registry_resolve(f->reg, "Old-1B", &again), VS_OK);
    assert_int_equal(again->abi_version, 1);
    assert_string_equal(again->key, "demo_v1");
    assert_non_null(again->global_dtype);
    assert_null(again->sample_begin);
    assert_null(again->linear_is_routed);
    assert_false(vs_adapter_has_forward(again));
    assert_false(vs_adapter_has_quarot(again));
    /* An ABI-2 table is read up to linear_is_routed: the outlier-suppression members are NULL. */
    assert_int_equal(vs_registry_resolve(f->reg, "Old-2B", &again), VS_OK);
    assert_int_equal(again->abi_version, 2);
    assert_string_equal(again->key, "demo_v2");
    assert_non_null(again->linear_is_routed);
    assert_null(again->unit_subgraphs);
    assert_null(again->set_tail);
    assert_false(vs_adapter_has_subgraphs(again));
    assert_false(vs_adapter_has_quarot(again));
    /* An ABI-3 table is read up to set_tail: the evaluation members are NULL. */
    assert_int_equal(vs_registry_resolve(f->reg, "Old-3B", &again), VS_OK);
    assert_int_equal(again->abi_version, 3);
    assert_string_equal(again->key, "demo_v3");
    assert_non_null(again->set_tail);
    assert_null(again->vocab_size);
    assert_null(again->sample_logits_rows);
    assert_null(again->unit_forward_batch);
    assert_false(vs_adapter_has_eval(again));
    vs_registry_free(f->reg); /* unloads the plugins */
    f->reg = NULL;
    free(plugins);
    free(copy);
}

/* Every way a plugin entry can fail, each naming the file, line, group, library and symbol. */
static void test_plugin_errors(void **state)
{
    struct fixture *f = *state;
    char text[4096];
    snprintf(text, sizeof text,
             "[ModelAdapter]\n"
             "future = Future-1B\n"
             "abi0 = Abi0-1B\n"
             "incomplete = Broken-1B\n"
             "missing_symbol = Nosym-1B\n"
             "missing_lib = Nolib-1B\n"
             "bad_entry = Bad-1B\n"
             "bad_builtin = Builtin-1B\n"
             "[ModelAdapterEntryPoints]\n"
             "future = %s:vs_demo_adapter_future\n"
             "abi0 = %s:vs_demo_adapter_abi0\n"
             "incomplete = %s:vs_demo_adapter_incomplete\n"
             "missing_symbol = %s:no_such_symbol\n"
             "missing_lib = plugins/libnone.so:vs_x\n"
             "bad_entry = no-colon\n"
             "bad_builtin = builtin:llama\n",
             VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN);
    assert_int_equal(load_text(f, text), VS_OK); /* entries are checked when used */
    const struct vs_adapter_ops *ops = NULL;
    char want[2048];

    assert_int_equal(vs_registry_resolve(f->reg, "Future-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:10: [ModelAdapterEntryPoints] future: adapter vs_demo_adapter_future in %s declares "
             "ABI version 999; this vlmslim supports 1..%u", f->ini, VS_DEMO_PLUGIN, VS_ADAPTER_ABI_VERSION);
    assert_string_equal(vs_error_message(), want);

    assert_int_equal(vs_registry_resolve(f->reg, "Abi0-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:11: [ModelAdapterEntryPoints] abi0: adapter vs_demo_adapter_abi0 in %s declares "
             "ABI version 0; this vlmslim supports 1..%u", f->ini, VS_DEMO_PLUGIN, VS_ADAPTER_ABI_VERSION);
    assert_string_equal(vs_error_message(), want);

    assert_int_equal(vs_registry_resolve(f->reg, "Broken-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:12: [ModelAdapterEntryPoints] incomplete: adapter vs_demo_adapter_incomplete in %s "
             "leaves the required member 'close' NULL", f->ini, VS_DEMO_PLUGIN);
    assert_string_equal(vs_error_message(), want);

    assert_int_equal(vs_registry_resolve(f->reg, "Nosym-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:13: [ModelAdapterEntryPoints] missing_symbol: no symbol no_such_symbol in %s: ",
             f->ini, VS_DEMO_PLUGIN);
    assert_true(vs_test_contains(vs_error_message(), want));
    assert_true(vs_test_contains(vs_error_message(), "undefined symbol: no_such_symbol")); /* dlerror() */

    assert_int_equal(vs_registry_resolve(f->reg, "Nolib-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:14: [ModelAdapterEntryPoints] missing_lib: cannot load adapter library "
             "%s/plugins/libnone.so (symbol vs_x): ", f->ini, f->dir); /* relative to the ini's directory */
    assert_true(vs_test_contains(vs_error_message(), want));
    assert_true(vs_test_contains(vs_error_message(), "No such file or directory")); /* dlerror() */

    assert_int_equal(vs_registry_resolve(f->reg, "Bad-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:15: [ModelAdapterEntryPoints] bad_entry = no-colon: expected builtin:NAME or "
             "path/to/lib.so:SYMBOL", f->ini);
    assert_string_equal(vs_error_message(), want);

    assert_int_equal(vs_registry_resolve(f->reg, "Builtin-1B", &ops), VS_ERR_CONFIG);
    snprintf(want, sizeof want, "%s:16: [ModelAdapterEntryPoints] bad_builtin = builtin:llama: no built-in adapter "
             "'llama' (built in: qwen3_vl, qwen3_vl_moe, internvl, qwen2_5_vl)", f->ini);
    assert_string_equal(vs_error_message(), want);

    assert_null(ops); /* never set on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_registry),
        cmocka_unit_test(test_builtins),
        cmocka_unit_test_setup_teardown(test_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_lists_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_adapter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
