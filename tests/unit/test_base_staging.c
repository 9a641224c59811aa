/* Staging directories: created locked beside the target, published without the lock file,
 * removed on close; stale ones reclaimed, a live one refused; no file locks: unprotected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/staging.h"
#include "test_util.h"

/* The entries of dir joined with spaces (sorted), for comparing whole listings. */
static char *listing(const char *dir)
{
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(dir, &names, &n), VS_OK);
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "", names[i]);
    vs_fs_free_names(names, n);
    return out;
}

static char *make_dir(const char *parent, const char *name)
{
    char *p = vs_path_join(parent, name);
    assert_int_equal(vs_fs_mkdirs(p, 0755), VS_OK);
    return p;
}

static void test_open_publish(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("staging"), *target = vs_path_join(dir, "out");
    struct vs_staging *s;
    assert_int_equal(vs_staging_open(target, "--save_path out", &s), VS_OK);
    const char *sd = vs_staging_dir(s);
    char *base = vs_path_basename(sd);
    assert_int_equal(strncmp(base, ".out.vlmslim-tmp-", 17), 0);
    assert_string_equal(listing(dir), base); /* no guard file left beside it */
    assert_string_equal(listing(sd), VS_STAGING_LOCK_NAME);
    free(vs_test_write(sd, "data", "x", 1));
    assert_int_equal(vs_staging_publish(s), VS_OK);
    vs_staging_close(s);
    assert_string_equal(listing(dir), "out");
    assert_string_equal(listing(target), "data"); /* without the lock file */
    free(base);

    /* an existing target is replaced */
    assert_int_equal(vs_staging_open(target, "--save_path out", &s), VS_OK);
    free(vs_test_write(vs_staging_dir(s), "new", "y", 1));
    assert_int_equal(vs_staging_publish(s), VS_OK);
    vs_staging_close(s);
    assert_string_equal(listing(dir), "out");
    assert_string_equal(listing(target), "new");
    vs_fs_remove_tree(dir);
    free(target);
    free(dir);
}

/* Closed unpublished (a failed run): the directory goes, the recorded error stays. */
static void test_close_removes(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("staging"), *target = vs_path_join(dir, "out");
    struct vs_staging *s;
    assert_int_equal(vs_staging_open(target, "--save_path out", &s), VS_OK);
    char *sub = make_dir(vs_staging_dir(s), "optional");
    free(vs_test_write(sub, "t.safetensors", "z", 1));
    vs_error_set(VS_ERR_MODEL, "the run's own error");
    vs_staging_close(s);
    assert_string_equal(vs_error_message(), "the run's own error");
    assert_string_equal(listing(dir), "");
    vs_staging_close(NULL);
    vs_fs_remove_tree(dir);
    free(sub);
    free(target);
    free(dir);
}

/* Staging directories of earlier runs whose lock is free (or that have none) are removed;
 * other names are left alone. */
static void test_reclaims_stale(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("staging"), *target = vs_path_join(dir, "out");
    char *a = make_dir(dir, ".out.vlmslim-tmp-aaaaaa"), *b = make_dir(dir, ".out.vlmslim-tmp-bbbbbb");
    free(make_dir(dir, ".out2.vlmslim-tmp-cccccc"));
    free(make_dir(dir, ".out.vlmslim-tmp-toolong"));
    free(vs_test_write(a, VS_STAGING_LOCK_NAME, "", 0));
    free(vs_test_write(a, "quant_model_weights.safetensors", "partial", 7));
    char *bsub = make_dir(b, "optional");
    struct vs_staging *s;
    assert_int_equal(vs_staging_open(target, "--save_path out", &s), VS_OK);
    assert_false(vs_fs_exists(a));
    assert_false(vs_fs_exists(b));
    vs_staging_close(s);
    assert_string_equal(listing(dir), ".out.vlmslim-tmp-toolong .out2.vlmslim-tmp-cccccc");
    vs_fs_remove_tree(dir);
    free(bsub);
    free(a);
    free(b);
    free(target);
    free(dir);
}

/* A staging directory whose lock is held (here on another open file description, as another
 * process would) is a live run's: refused, naming it, and left as it was. */
static void test_refuses_live(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("staging"), *target = vs_path_join(dir, "out");
    struct vs_staging *first, *second = (struct vs_staging *)1;
    assert_int_equal(vs_staging_open(target, "--save_path out", &first), VS_OK);
    char *base = vs_path_basename(vs_staging_dir(first));
    free(vs_test_write(vs_staging_dir(first), "w", "1", 1));
    assert_int_equal(vs_staging_open(target, "--save_path out", &second), VS_ERR_USAGE);
    assert_null(second);
    char want[1024];
    snprintf(want, sizeof want,
             "--save_path out: another vlmslim run is writing it (its staging directory %s is locked); wait for it "
             "to finish or choose another path",
             vs_staging_dir(first));
    assert_string_equal(vs_error_message(), want);
    assert_string_equal(listing(dir), base);
    char lw[600];
    snprintf(lw, sizeof lw, "%s w", VS_STAGING_LOCK_NAME);
    assert_string_equal(listing(vs_staging_dir(first)), lw);

    /* a lock held by someone other than a vlmslim staging counts the same */
    assert_int_equal(vs_staging_publish(first), VS_OK);
    vs_staging_close(first);
    char *other = make_dir(dir, ".out.vlmslim-tmp-000000");
    char *lock = vs_path_join(other, VS_STAGING_LOCK_NAME);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(vs_staging_open(target, "--dump out", &second), VS_ERR_USAGE);
    assert_true(vs_test_contains(vs_error_message(), "--dump out: another vlmslim run is writing it"));
    assert_true(vs_fs_exists(lock));
    close(fd); /* released: stale now */
    assert_int_equal(vs_staging_open(target, "--dump out", &second), VS_OK);
    assert_false(vs_fs_exists(other));
    vs_staging_close(second);
    assert_string_equal(listing(dir), "out");
    vs_fs_remove_tree(dir);
    free(lock);
    free(other);
    free(base);
    free(target);
    free(dir);
}

static int no_locks(int fd, int operation)
{
    (void)fd;
    (void)operation;
    errno = ENOLCK;
    return -1;
}

/* Without file locks: one warning, the staging works as before, nothing is reclaimed. */
static void test_without_file_locks(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("staging"), *target = vs_path_join(dir, "out");
    char *log = vs_path_join(dir, "stderr.log");
    free(make_dir(dir, ".out.vlmslim-tmp-aaaaaa"));
    vs_staging_flock = no_locks;
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    struct vs_staging *s1, *s2;
    assert_int_equal(vs_staging_open(target, "--save_path out", &s1), VS_OK);
    assert_int_equal(vs_staging_open(target, "--save_path out", &s2), VS_OK);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    vs_staging_flock = flock;
    assert_string_equal(listing(vs_staging_dir(s1)), "");
    free(vs_test_write(vs_staging_dir(s1), "data", "x", 1));
    assert_int_equal(vs_staging_publish(s1), VS_OK);
    vs_staging_close(s1);
    vs_staging_close(s2);
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(log, &text, &len), VS_OK);
    assert_true(vs_test_contains(text, "vlmslim: warning: "));
    assert_true(vs_test_contains(text, ".out.vlmslim-lock: file locks are not supported here ("));
    assert_int_equal(strchr(text, '\n') - text + 1, (long)len); /* once */
    free(text);
    unlink(log);
    assert_string_equal(listing(dir), ".out.vlmslim-tmp-aaaaaa out");
    assert_string_equal(listing(target), "data");
    vs_fs_remove_tree(dir);
    free(log);
    free(target);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_publish),
        cmocka_unit_test(test_close_removes),
        cmocka_unit_test(test_reclaims_stale),
        cmocka_unit_test(test_refuses_live),
        cmocka_unit_test(test_without_file_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
