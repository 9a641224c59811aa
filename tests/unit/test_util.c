#include "test_util.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

char *vs_test_tmpdir(const char *tag)
{
    const char *root = getenv("VS_TEST_TMP");
    char base[4096];
    snprintf(base, sizeof base, "%s", root && *root ? root : "/tmp");
    mkdir(base, 0755);
    char *path = NULL;
    if (asprintf(&path, "%s/%s-XXXXXX", base, tag) < 0 || !mkdtemp(path)) {
        fprintf(stderr, "vs_test_tmpdir(%s): %s\n", tag, strerror(errno));
        abort();
    }
    return path;
}

char *vs_test_tmpfs_dir(const char *tag)
{
    struct statfs sf;
    if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC)
        return NULL;
    char *path = NULL;
    if (asprintf(&path, "/dev/shm/vlmslim-%s-XXXXXX", tag) < 0 || !mkdtemp(path)) {
        fprintf(stderr, "vs_test_tmpfs_dir(%s): %s\n", tag, strerror(errno));
        abort();
    }
    return path;
}

char *vs_test_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "vs_test_write(%s): %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

int vs_test_contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}
