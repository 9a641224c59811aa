/* File helpers: path pieces, listing, mkdir -p, remove tree, errors naming the path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "test_util.h"

static void expect_str(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_path_pieces(void **state)
{
    (void)state;
    expect_str(vs_path_dirname("a/b/c"), "a/b");
    expect_str(vs_path_dirname("a/b/"), "a");
    expect_str(vs_path_dirname("c"), ".");
    expect_str(vs_path_dirname("/c"), "/");
    expect_str(vs_path_basename("a/b/c"), "c");
    expect_str(vs_path_basename("a/b/"), "b");
    expect_str(vs_path_join("a/", "b"), "a/b");
    expect_str(vs_path_join("a", "b"), "a/b");
}

static void test_mkdirs_list_remove(void **state)
{
    (void)state;
    char *root = vs_test_tmpdir("fs");
    char *deep = vs_path_join(root, "x/y/z");
    assert_int_equal(vs_fs_mkdirs(deep, 0755), VS_OK);
    assert_int_equal(vs_fs_mkdirs(deep, 0755), VS_OK); /* exists: fine */
    assert_true(vs_fs_is_dir(deep));
    assert_true(vs_fs_dir_is_empty(deep));
    free(vs_test_write(deep, "b.txt", "2", 1));
    free(vs_test_write(deep, "a.txt", "1", 1));
    assert_false(vs_fs_dir_is_empty(deep));
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(deep, &names, &n), VS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a.txt");
    assert_string_equal(names[1], "b.txt");
    vs_fs_free_names(names, n);

    char *file = vs_path_join(deep, "a.txt"), *under_file = vs_path_join(file, "sub");
    assert_int_equal(vs_fs_mkdirs(under_file, 0755), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "a.txt"));
    char *data;
    size_t len;
    assert_int_equal(vs_fs_read_file(file, &data, &len), VS_OK);
    assert_int_equal(len, 1);
    assert_string_equal(data, "1");
    free(data);

    assert_int_equal(vs_fs_remove_tree(root), VS_OK);
    assert_false(vs_fs_exists(root));
    assert_int_equal(vs_fs_remove_tree(root), VS_OK); /* absent: fine */
    assert_int_equal(vs_fs_read_file(file, &data, &len), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "a.txt: cannot open"));
    free(file);
    free(under_file);
    free(deep);
    free(root);
}

/* The staging directory of an output: hidden, beside it, fresh each time; a missing parent is an
 * error naming the output. */
static void test_mkdtemp_beside(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("mkdtemp"), *out = vs_path_join(dir, "export"), *a, *b;
    assert_int_equal(vs_fs_mkdtemp_beside(out, &a), VS_OK);
    assert_int_equal(vs_fs_mkdtemp_beside(out, &b), VS_OK);
    assert_string_not_equal(a, b);
    assert_true(vs_fs_is_dir(a) && vs_fs_dir_is_empty(a));
    char *base = vs_path_basename(a), *parent = vs_path_dirname(a);
    assert_true(strncmp(base, ".export.vlmslim-tmp-", 20) == 0 && strlen(base) == 26);
    assert_string_equal(parent, dir);
    assert_false(vs_fs_exists(out));
    char *orphan = vs_path_join(dir, "no/such/export"), *c = NULL;
    assert_int_equal(vs_fs_mkdtemp_beside(orphan, &c), VS_ERR_IO);
    assert_null(c);
    assert_true(vs_test_contains(vs_error_message(), orphan));
    free(orphan), free(base), free(parent), free(a), free(b), free(out);
    vs_fs_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_pieces),
        cmocka_unit_test(test_mkdirs_list_remove),
        cmocka_unit_test(test_mkdtemp_beside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
