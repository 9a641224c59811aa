/* The model registry: config.ini parsing, built-in resolution, plugins loaded with dlopen, and
 * every error. */
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

static char *write_ini(const char *dir, const char *text)
{
    return vs_test_write(dir, "config.ini", text, strlen(text));
}

static void test_shipped_registry(void **state)
{
    (void)state;
    struct vs_registry *r;
    assert_int_equal(vs_registry_load("config/config.ini", &r), VS_OK);
    assert_int_equal(vs_registry_count(r), 10);
    assert_string_equal(vs_registry_name_at(r, 0), "Qwen3-VL-30B-A3B");
    assert_string_equal(vs_registry_group_of(r, "Qwen3-VL-235B-A22B"), "qwen3_vl_moe");
    assert_string_equal(vs_registry_group_of(r, "Qwen3-VL-Reranker-8B"), "qwen3_vl"); /* continuation line */
    const struct vs_adapter_ops *ops;
    assert_int_equal(vs_registry_resolve(r, "Qwen3-VL-30B-A3B", &ops), VS_OK);
    assert_string_equal(ops->key, "qwen3_vl_moe");
    assert_ptr_equal(ops, vs_builtin_adapter("qwen3_vl_moe"));
    assert_int_equal(vs_registry_resolve(r, "Qwen3-VL-8B-Instruct", &ops), VS_OK);
    assert_string_equal(ops->key, "qwen3_vl");
    assert_int_equal(vs_registry_resolve(r, "qwen3_vl_moe", &ops), VS_ERR_USAGE); /* a group key is no display name */
    assert_true(vs_test_contains(vs_error_message(), "unknown --model_type 'qwen3_vl_moe'; registered: Qwen3-VL-30B-A3B, Qwen3-VL-235B-A22B, Qwen3-VL-2B-Instruct"));
    assert_true(vs_test_contains(vs_error_message(), "(see config/config.ini)"));
    vs_registry_free(r);
}

static void test_plugin_adapter(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("registry-plugin");
    char ini[1024];
    snprintf(ini, sizeof ini,
             "[ModelAdapter]\nDemo = Demo-1B, Demo-2B\nfuture = Future-1B\nincomplete = Broken-1B\n"
             "missing_symbol = Nosym-1B\nmissing_lib = Nolib-1B\nbad_entry = Bad-1B\nbad_builtin = Builtin-1B\n"
             "[ModelAdapterEntryPoints]\nDEMO = %s:vs_demo_adapter\nfuture = %s:vs_demo_adapter_future\n"
             "incomplete = %s:vs_demo_adapter_incomplete\nmissing_symbol = %s:no_such_symbol\n"
             "missing_lib = plugins/libnone.so:x\nbad_entry = no-colon\nbad_builtin = builtin:llama\n"
             "[ModelAdapterDependencies]\nDemo = {\"transformers\": \"==4.57.1\"}\n[Plugin:quant_service]\nx = y\n",
             VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN, VS_DEMO_PLUGIN);
    char *path = write_ini(dir, ini);
    struct vs_registry *r;
    assert_int_equal(vs_registry_load(path, &r), VS_OK);
    const struct vs_adapter_ops *ops;
    assert_int_equal(vs_registry_resolve(r, "Demo-2B", &ops), VS_OK); /* keys are case-insensitive */
    assert_string_equal(ops->key, "demo");
    struct vs_model *m;
    assert_int_equal(ops->open("x", "Demo-2B", &m), VS_ERR_UNSUPPORTED); /* the plugin calls back into vlmslim */
    assert_string_equal(vs_error_message(), "demo adapter for Demo-2B opens no model");

    assert_int_equal(vs_registry_resolve(r, "Future-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "declares ABI version 999; this vlmslim supports 1..1"));
    assert_int_equal(vs_registry_resolve(r, "Broken-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "adapter 'vs_demo_adapter_incomplete'"));
    assert_true(vs_test_contains(vs_error_message(), "leaves a required function NULL"));
    assert_int_equal(vs_registry_resolve(r, "Nosym-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "symbol 'no_such_symbol' not found in"));
    assert_int_equal(vs_registry_resolve(r, "Nolib-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "adapter library for 'missing_lib' cannot be loaded"));
    assert_true(vs_test_contains(vs_error_message(), "plugins/libnone.so")); /* relative to the ini's directory */
    assert_int_equal(vs_registry_resolve(r, "Bad-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "expected builtin:NAME or path/to/lib.so:symbol"));
    assert_int_equal(vs_registry_resolve(r, "Builtin-1B", &ops), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "no built-in adapter 'llama'"));
    vs_registry_free(r);
    vs_fs_remove_tree(dir);
    free(path);
    free(dir);
}

static void expect_load_error(const char *text, const char *msg)
{
    char *dir = vs_test_tmpdir("registry-bad");
    char *path = write_ini(dir, text);
    struct vs_registry *r = NULL;
    assert_int_equal(vs_registry_load(path, &r), VS_ERR_CONFIG);
    if (!vs_test_contains(vs_error_message(), msg) || !vs_test_contains(vs_error_message(), "config.ini"))
        fail_msg("'%s': expected '%s'", vs_error_message(), msg);
    vs_fs_remove_tree(dir);
    free(path);
    free(dir);
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("[ModelAdapter]\na = X\nb = Y, X\n[ModelAdapterEntryPoints]\na = builtin:qwen3_vl\nb = builtin:qwen3_vl\n",
                      "model type 'X' is registered under both 'a' and 'b'");
    expect_load_error("[ModelAdapter]\na = X\n", "group 'a' has no entry in [ModelAdapterEntryPoints]");
    expect_load_error("[ModelAdapter]\na = X\nthis line has no separator\n", "config.ini:3: syntax error");
    struct vs_registry *r;
    assert_int_equal(vs_registry_load("tests/no-such-config.ini", &r), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "no-such-config.ini: cannot read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_registry),
        cmocka_unit_test(test_plugin_adapter),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
