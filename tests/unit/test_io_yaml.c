/* YAML loading: PyYAML SafeLoader semantics (golden from PyYAML), line side table, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "io/yaml_doc.h"
#include "test_util.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("yaml");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

static char *write_yaml(const char *name, const char *text)
{
    return vs_test_write(g_dir, name, text, strlen(text));
}

/* Compares our tree with the PyYAML golden (scalars as "<type>:<value>"). */
static void expect_same(const json_t *got, const json_t *want, const char *where)
{
    if (json_is_object(want)) {
        if (!json_is_object(got))
            fail_msg("%s: expected a mapping", where);
        if (json_object_size(got) != json_object_size(want))
            fail_msg("%s: %zu keys, expected %zu", where, json_object_size(got), json_object_size(want));
        const char *k;
        json_t *w;
        json_object_foreach((json_t *)want, k, w) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", where, k);
            json_t *g = json_object_get(got, k);
            if (!g)
                fail_msg("%s: missing", sub);
            expect_same(g, w, sub);
        }
        return;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            fail_msg("%s: expected a sequence of %zu", where, json_array_size(want));
        for (size_t i = 0; i < json_array_size(want); i++) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            expect_same(json_array_get(got, i), json_array_get(want, i), sub);
        }
        return;
    }
    const char *w = json_string_value(want), *v = w + 2;
    switch (w[0]) {
    case 'n':
        if (!json_is_null(got))
            fail_msg("%s: expected null", where);
        break;
    case 'b':
        if (!json_is_boolean(got) || json_is_true(got) != (strcmp(v, "true") == 0))
            fail_msg("%s: expected boolean %s", where, v);
        break;
    case 'i':
        if (!json_is_integer(got) || json_integer_value(got) != strtoll(v, NULL, 10))
            fail_msg("%s: expected integer %s", where, v);
        break;
    case 'f':
        if (strcmp(v, "inf") == 0 || strcmp(v, "-inf") == 0 || strcmp(v, "nan") == 0) {
            if (!json_is_string(got) || strcmp(json_string_value(got), v) != 0)
                fail_msg("%s: expected the string '%s' for a non-finite float", where, v);
        } else if (!json_is_real(got) || json_real_value(got) != strtod(v, NULL) ||
                   signbit(json_real_value(got)) != signbit(strtod(v, NULL))) {
            fail_msg("%s: expected float %s", where, v);
        }
        break;
    case 's':
        if (!json_is_string(got) || strcmp(json_string_value(got), v) != 0)
            fail_msg("%s: expected string '%s', got %s", where, v,
                     json_is_string(got) ? json_string_value(got) : "a non-string");
        break;
    default:
        fail_msg("%s: bad golden value %s", where, w);
    }
}

static void test_matches_pyyaml_golden(void **state)
{
    (void)state;
    json_t *got = NULL, *want;
    enum vs_status st = vs_yaml_load_file("tests/data/config/scalars.yaml", &got);
    if (st != VS_OK)
        fail_msg("%s", vs_error_message());
    json_error_t err;
    want = json_load_file("tests/data/config/scalars.golden.json", 0, &err);
    assert_non_null(want);
    expect_same(got, want, "$");
    json_decref(want);
    json_decref(got);
}

static void test_aliases_share_and_merge(void **state)
{
    (void)state;
    char *path = write_yaml("share.yaml", "a: &x {k: [1, 2]}\n"
                                          "b: *x\n"
                                          "c:\n"
                                          "  <<: *x\n"
                                          "  m: 1\n");
    struct vs_yaml_doc *doc;
    assert_int_equal(vs_yaml_doc_load(path, &doc), VS_OK);
    json_t *root = vs_yaml_doc_root(doc);
    assert_string_equal(vs_yaml_doc_path(doc), path);
    /* an alias is the anchored node itself */
    assert_ptr_equal(json_object_get(root, "a"), json_object_get(root, "b"));
    json_t *c = json_object_get(root, "c");
    assert_int_equal(json_object_size(c), 2);
    assert_ptr_equal(json_object_get(c, "k"), json_object_get(json_object_get(root, "a"), "k"));
    vs_yaml_doc_free(doc);
    free(path);
}

static void test_lines(void **state)
{
    (void)state;
    char *path = write_yaml("lines.yaml", "# comment\n"
                                          "top: 1\n"
                                          "base: &b\n"
                                          "  x: true\n"
                                          "  y: null\n"
                                          "list:\n"
                                          "  - a\n"
                                          "\n"
                                          "  - {q: 1}\n"
                                          "  - r: 1\n"
                                          "    s: [2,\n"
                                          "        3]\n"
                                          "m:\n"
                                          "  <<: *b\n"
                                          "  z: 3\n");
    struct vs_yaml_doc *doc;
    assert_int_equal(vs_yaml_doc_load(path, &doc), VS_OK);
    json_t *root = vs_yaml_doc_root(doc), *base = json_object_get(root, "base");
    json_t *list = json_object_get(root, "list"), *m = json_object_get(root, "m");
    assert_int_equal(vs_yaml_doc_key_line(doc, root, "top"), 2);
    assert_int_equal(vs_yaml_doc_key_line(doc, root, "base"), 3);
    assert_int_equal(vs_yaml_doc_key_line(doc, base, "x"), 4); /* boolean singletons too */
    assert_int_equal(vs_yaml_doc_key_line(doc, base, "y"), 5);
    assert_int_equal(vs_yaml_doc_item_line(doc, list, 0), 7);
    assert_int_equal(vs_yaml_doc_item_line(doc, list, 1), 9);
    assert_int_equal(vs_yaml_doc_key_line(doc, json_array_get(list, 1), "q"), 9);
    assert_int_equal(vs_yaml_doc_key_line(doc, m, "x"), 4); /* merged: where it was written */
    assert_int_equal(vs_yaml_doc_item_line(doc, list, 2), 10); /* a block mapping: its first key */
    assert_int_equal(vs_yaml_doc_key_line(doc, json_array_get(list, 2), "s"), 11);
    assert_int_equal(vs_yaml_doc_item_line(doc, json_object_get(json_array_get(list, 2), "s"), 1), 12);
    assert_int_equal(vs_yaml_doc_key_line(doc, m, "z"), 15);
    assert_int_equal(vs_yaml_doc_key_line(doc, root, "nope"), 0);
    assert_int_equal(vs_yaml_doc_item_line(doc, list, 3), 0);
    assert_int_equal(vs_yaml_doc_key_line(doc, NULL, "top"), 0);
    vs_yaml_doc_free(doc);
    free(path);
}

static void test_empty_file_is_null(void **state)
{
    (void)state;
    char *path = write_yaml("empty.yml", "# only a comment\n");
    json_t *root = NULL;
    assert_int_equal(vs_yaml_load_file(path, &root), VS_OK);
    assert_true(json_is_null(root));
    json_decref(root);
    free(path);
}

static void test_scalar_root_and_explicit_document(void **state)
{
    (void)state;
    char *path = write_yaml("doc.yaml", "--- &r [1, *r2]\n");
    json_t *root = NULL;
    /* an alias to an anchor that does not exist yet */
    assert_int_equal(vs_yaml_load_file(path, &root), VS_ERR_FORMAT);
    free(path);
    path = write_yaml("doc2.yaml", "---\n- 1\n...\n");
    assert_int_equal(vs_yaml_load_file(path, &root), VS_OK);
    assert_int_equal(json_array_size(root), 1);
    json_decref(root);
    free(path);
}

/* Loads text (as file name) and expects the error code and exact message. */
static void expect_error(const char *name, const char *text, enum vs_status code, const char *msg_after_path)
{
    char *path = write_yaml(name, text);
    struct vs_yaml_doc *doc = (struct vs_yaml_doc *)1;
    enum vs_status st = vs_yaml_doc_load(path, &doc);
    char want[1024];
    snprintf(want, sizeof want, "%s%s", path, msg_after_path);
    if (st != code || strcmp(vs_error_message(), want) != 0)
        fail_msg("%s: got status %d, message\n  %s\nexpected %d,\n  %s", name, st, vs_error_message(), code, want);
    assert_null(doc);
    free(path);
}

static void test_error_syntax(void **state)
{
    (void)state;
    expect_error("syntax.yaml", "apiversion: x\nspec: [unclosed\n", VS_ERR_FORMAT,
                 ":3:1: YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at line 2, column 7)");
    expect_error("indent.yaml", "a:\n  b: 1\n c: 2\n", VS_ERR_FORMAT,
                 ":3:2: YAML syntax error: did not find expected key "
                 "(while parsing a block mapping at line 1, column 1)");
    expect_error("tab.yaml", "a:\n\tb: 1\n", VS_ERR_FORMAT,
                 ":2:1: YAML syntax error: found character that cannot start any token "
                 "(while scanning for the next token at line 2, column 1)");
    expect_error("utf8.yaml", "a: 1\nb: \xff\n", VS_ERR_FORMAT, ":2:4: invalid text: invalid leading UTF-8 octet");
}

static void test_error_duplicate_key(void **state)
{
    (void)state;
    expect_error("dup.yaml", "a: 1\nb:\n  c: 1\n  'c': 2\n", VS_ERR_FORMAT,
                 ":4:3: duplicate key 'c' (first defined at line 3)");
    expect_error("dup_top.yaml", "spec: {}\nmetadata: {}\nspec: {}\n", VS_ERR_FORMAT,
                 ":3:1: duplicate key 'spec' (first defined at line 1)");
    expect_error("dup_merge.yaml", "a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n", VS_ERR_FORMAT,
                 ":4:3: duplicate key '<<'");
}

static void test_error_aliases(void **state)
{
    (void)state;
    expect_error("undef.yaml", "a: 1\nb: *nope\n", VS_ERR_FORMAT, ":2:4: undefined alias '*nope'");
    expect_error("dup_anchor.yaml", "a: &x 1\nb: &x 2\n", VS_ERR_FORMAT,
                 ":2:4: duplicate anchor '&x' (first defined at line 1)");
    expect_error("recursive.yaml", "a: &x\n  - 1\n  - *x\n", VS_ERR_FORMAT,
                 ":3:5: recursive alias '*x' (inside the node anchored at line 1)");
    expect_error("merge_scalar.yaml", "a: &s 1\nb:\n  <<: *s\n", VS_ERR_FORMAT,
                 ":3:7: merge key '<<' expects a mapping or a sequence of mappings, found an integer");
    expect_error("merge_list.yaml", "a: &m {x: 1}\nb:\n  <<: [*m, 2]\n", VS_ERR_FORMAT,
                 ":3:7: merge key '<<': item 1 is an integer, expected a mapping");
}

static void test_error_structure(void **state)
{
    (void)state;
    expect_error("two_docs.yaml", "a: 1\n---\nb: 2\n", VS_ERR_FORMAT,
                 ":2:1: expected a single document in the stream, found another document");
    expect_error("int_key.yaml", "a:\n  1: x\n", VS_ERR_FORMAT,
                 ":2:3: mapping key '1' is an integer, not a string (quote it)");
    expect_error("bool_key.yaml", "yes: x\n", VS_ERR_FORMAT,
                 ":1:1: mapping key 'true' is a boolean, not a string (quote it)");
    expect_error("null_key.yaml", "~: x\n", VS_ERR_FORMAT, ":1:1: mapping key is null, not a string (quote it)");
    expect_error("seq_key.yaml", "? [1]\n: x\n", VS_ERR_FORMAT,
                 ":1:3: a sequence used as a mapping key is not supported");
    expect_error("tag.yaml", "a: !!binary aGk=\n", VS_ERR_FORMAT,
                 ":1:4: unsupported tag 'tag:yaml.org,2002:binary' (only !!str, !!int, !!float, !!bool, !!null, "
                 "!!map, !!seq)");
    expect_error("local_tag.yaml", "a: !foo {x: 1}\n", VS_ERR_FORMAT, ":1:4: unsupported tag '!foo' on a mapping");
    expect_error("bad_int.yaml", "a: !!int abc\n", VS_ERR_FORMAT,
                 ":1:4: invalid or out-of-range (64-bit) integer 'abc'");
    expect_error("big_int.yaml", "a: 9223372036854775808\n", VS_ERR_FORMAT,
                 ":1:4: invalid or out-of-range (64-bit) integer '9223372036854775808'");
    expect_error("bad_bool.yaml", "a: !!bool Y\n", VS_ERR_FORMAT, ":1:4: invalid boolean 'Y'");
    expect_error("bad_float.yaml", "a: !!float 0x10\n", VS_ERR_FORMAT, ":1:4: invalid float '0x10'");
    expect_error("merge_value.yaml", "a: <<\n", VS_ERR_FORMAT, ":1:4: '<<' is only allowed as a mapping key");
    char *deep = malloc(3000);
    memset(deep, '[', 1500);
    memset(deep + 1500, ']', 1500);
    memcpy(deep + 2998, "\n", 2);
    expect_error("deep.yaml", deep, VS_ERR_FORMAT, ":1:1001: nesting deeper than 1000 levels");
    free(deep);
}

static void test_error_files(void **state)
{
    (void)state;
    struct vs_yaml_doc *doc = NULL;
    assert_int_equal(vs_yaml_doc_load("tests/data/config/scalars.json", &doc), VS_ERR_FORMAT);
    assert_string_equal(vs_error_message(),
                        "tests/data/config/scalars.json: not a YAML file name (expected a .yaml or .yml extension)");
    char *missing = vs_path_join(g_dir, "missing.yaml");
    assert_int_equal(vs_yaml_doc_load(missing, &doc), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), missing));
    assert_true(vs_test_contains(vs_error_message(), "cannot open"));
    free(missing);
    /* a directory named like a YAML file */
    char *dir = vs_path_join(g_dir, "dir.yaml");
    assert_int_equal(vs_fs_mkdirs(dir, 0755), VS_OK);
    assert_int_equal(vs_yaml_doc_load(dir, &doc), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), dir));
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    assert_null(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_pyyaml_golden),
        cmocka_unit_test(test_aliases_share_and_merge),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_empty_file_is_null),
        cmocka_unit_test(test_scalar_root_and_explicit_document),
        cmocka_unit_test(test_error_syntax),
        cmocka_unit_test(test_error_duplicate_key),
        cmocka_unit_test(test_error_aliases),
        cmocka_unit_test(test_error_structure),
        cmocka_unit_test(test_error_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
