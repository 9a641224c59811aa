/* The background sequential writer (src/io/seq_writer.c): the bytes and length of a file written
 * in odd-sized pieces across several staging buffers, on a disk file system (O_DIRECT) and on
 * tmpfs (which refuses O_DIRECT: the page cache), O_DIRECT off again after close, and a write
 * failure (a file size limit) reported by a later write or close. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "io/seq_writer.h"
#include "test_util.h"

/* 41 MiB + 1234 bytes: five 8 MiB buffers (the ring of four wraps) and a partial block. */
enum { TOTAL = (41 << 20) + 1234 };

static unsigned char *pattern(void)
{
    unsigned char *p = malloc(TOTAL);
    assert_non_null(p);
    uint32_t x = 12345;
    for (size_t i = 0; i < TOTAL; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

/* Writes the pattern into dir/out in pieces of 777 777 bytes (and a few tiny ones), then checks
 * the file. */
static void write_and_check(const char *dir)
{
    char *path = vs_path_join(dir, "out");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    unsigned char *p = pattern();
    struct vs_seq_writer *w;
    assert_int_equal(vs_seq_writer_open(fd, path, &w), VS_OK);
    size_t done = 0;
    for (int i = 0; done < TOTAL; i++) {
        size_t n = i % 5 == 4 ? 3 : 777777;
        n = n < TOTAL - done ? n : TOTAL - done;
        assert_int_equal(vs_seq_writer_write(w, p + done, n), VS_OK);
        done += n;
    }
    assert_int_equal(vs_seq_writer_close(w), VS_OK);
    assert_int_equal(fcntl(fd, F_GETFL) & O_DIRECT, 0);
    assert_int_equal(pwrite(fd, "x", 1, TOTAL), 1); /* unaligned writes work again */
    close(fd);
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(path, &text, &len), VS_OK);
    assert_int_equal(len, TOTAL + 1);
    assert_memory_equal(text, p, TOTAL);
    free(text);
    free(p);
    unlink(path);
    free(path);
}

static void test_disk(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("seq-writer");
    write_and_check(dir);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_tmpfs(void **state)
{
    (void)state;
    char *dir = vs_test_tmpfs_dir("seq");
    if (!dir) {
        skip();
        return;
    }
    write_and_check(dir);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* In a child (the limit is per process): 1 MiB allowed, 41 MiB written. Returns 0 if a write or
 * close reported the failure, naming the file, and every write after it failed too. */
static int child_failure(const char *path)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 1 << 20, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct vs_seq_writer *w;
    if (fd < 0 || vs_seq_writer_open(fd, path, &w) != VS_OK)
        return 11;
    unsigned char *p = pattern();
    enum vs_status st = VS_OK;
    size_t done = 0;
    for (; st == VS_OK && done < TOTAL; done += 1 << 20)
        st = vs_seq_writer_write(w, p + done, 1 << 20);
    if (st != VS_OK && vs_seq_writer_write(w, p, 10) == VS_OK)
        return 12; /* not sticky */
    enum vs_status cst = vs_seq_writer_close(w);
    st = st != VS_OK ? st : cst;
    char want[1200];
    snprintf(want, sizeof want, "%s: write failed: File too large", path);
    if (st != VS_ERR_IO || strcmp(vs_error_message(), want) != 0)
        return fprintf(stderr, "failure: %d %s\n", st, vs_error_message()), 13;
    if (cst != VS_ERR_IO)
        return 14; /* close reports it too */
    free(p);
    return 0;
}

static void test_write_failure(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("seq-writer-fail");
    char *path = vs_path_join(dir, "out");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_failure(path));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(path);
    vs_fs_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk),
        cmocka_unit_test(test_tmpfs),
        cmocka_unit_test(test_write_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
