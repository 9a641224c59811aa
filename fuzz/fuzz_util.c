#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"

static char scratch[64];

static void remove_scratch(void) { vs_fs_remove_tree(scratch); }

const char *fz_dir(void)
{
    if (!scratch[0]) {
        vs_log_set_level(VS_LOG_SILENT);
        snprintf(scratch, sizeof scratch, "%s/vs-fuzz-XXXXXX", vs_fs_is_dir("/dev/shm") ? "/dev/shm" : "/tmp");
        if (!mkdtemp(scratch)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch;
}

char *fz_path(const char *name)
{
    char *p = vs_path_join(fz_dir(), name);
    if (!p)
        abort();
    return p;
}

char *fz_write(const char *name, const void *data, size_t n)
{
    char *path = fz_path(name), *dir = vs_path_dirname(path);
    if (!dir || vs_fs_mkdirs(dir, 0755) != VS_OK || vs_fs_write_file(path, data, n, 0644) != VS_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
    free(dir);
    return path;
}
