/* Data file lookup: $VLMSLIM_DATA_DIR, beside the binary, the install prefix, the source tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "cli/datadir.h"
#include "test_util.h"
#include "vs_build_config.h"

/* The source tree is found without $VLMSLIM_DATA_DIR (the test runs from a build whose binary
 * may lie anywhere). */
static void test_source_tree_is_searched(void **state)
{
    (void)state;
    unsetenv("VLMSLIM_DATA_DIR");
    char *p = NULL;
    assert_int_equal(vs_datadir_require("config/config.ini", &p), VS_OK);
    assert_non_null(p);
    assert_true(vs_fs_is_file(p));
    free(p);
}

static void test_environment_comes_first(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("datadir");
    char *sub = vs_path_join(dir, "config");
    assert_int_equal(vs_fs_mkdirs(sub, 0755), VS_OK);
    free(vs_test_write(sub, "config.ini", "[ModelAdapter]\n", 15));
    setenv("VLMSLIM_DATA_DIR", dir, 1);
    char *p = vs_datadir_find("config/config.ini"), *want = vs_path_join(dir, "config/config.ini");
    assert_string_equal(p, want);
    unsetenv("VLMSLIM_DATA_DIR");
    free(p);
    free(want);
    free(sub);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* Nothing found: the error lists every place looked, $VLMSLIM_DATA_DIR included. */
static void test_not_found_lists_every_place(void **state)
{
    (void)state;
    char *p = (char *)1;
    unsetenv("VLMSLIM_DATA_DIR");
    assert_int_equal(vs_datadir_require("no/such/data.ini", &p), VS_ERR_CONFIG);
    assert_null(p);
    const char *msg = vs_error_message();
    assert_true(vs_test_contains(msg, "no/such/data.ini not found; looked in $VLMSLIM_DATA_DIR (unset), "));
    assert_true(vs_test_contains(msg, "/../share/vlmslim, "));
    assert_true(vs_test_contains(msg, ", " VS_INSTALL_DATADIR ", " VS_SOURCE_DATADIR " (set VLMSLIM_DATA_DIR"));
    assert_null(strchr(msg, '\n'));

    setenv("VLMSLIM_DATA_DIR", "/nonexistent-data-dir", 1);
    assert_int_equal(vs_datadir_require("no/such/data.ini", &p), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "looked in /nonexistent-data-dir, "));
    assert_null(vs_datadir_find("no/such/data.ini"));
    unsetenv("VLMSLIM_DATA_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_tree_is_searched),
        cmocka_unit_test(test_environment_comes_first),
        cmocka_unit_test(test_not_found_lists_every_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
