#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vs_fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int vs_fs_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int vs_fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int vs_fs_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

enum vs_status vs_fs_read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vs_error_set(VS_ERR_IO, "%s: not a regular file", path);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = vs_malloc(cap);
    if (!buf) {
        close(fd);
        return VS_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = vs_realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return VS_ERR_NOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return vs_error_set(VS_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return VS_OK;
}

enum vs_status vs_fs_write_all(int fd, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vs_error_set(VS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return VS_OK;
}

static int open_for_write(const char *path, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

enum vs_status vs_fs_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    int fd = open_for_write(path, mode);
    if (fd < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    enum vs_status st = vs_fs_write_all(fd, data, len, path);
    if (close(fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return st;
}

enum vs_status vs_fs_copy_file(const char *src, const char *dst, unsigned mode)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot open: %s", src, strerror(errno));
    int out = open_for_write(dst, mode);
    if (out < 0) {
        int e = errno;
        close(in);
        return vs_error_set(VS_ERR_IO, "%s: cannot create: %s", dst, strerror(e));
    }
    enum vs_status st = VS_OK;
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = vs_error_set(VS_ERR_IO, "%s: read failed: %s", src, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if ((st = vs_fs_write_all(out, buf, (size_t)r, dst)) != VS_OK)
            break;
    }
    close(in);
    if (close(out) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", dst, strerror(errno));
    return st;
}

enum vs_status vs_fs_mkdirs(const char *path, unsigned mode)
{
    char *p = vs_strdup(path);
    if (!p)
        return VS_ERR_NOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            free(p);
            return st;
        }
        *s = '/';
    }
    enum vs_status st = VS_OK;
    if (mkdir(p, mode) != 0 && (errno != EEXIST || !vs_fs_is_dir(p)))
        st = vs_error_set(VS_ERR_IO, "%s: cannot create directory: %s", p,
                          errno == EEXIST ? "exists and is not a directory" : strerror(errno));
    free(p);
    return st;
}

enum vs_status vs_fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? VS_OK
                               : vs_error_set(VS_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char **names;
        size_t n;
        enum vs_status s = vs_fs_list_dir(path, &names, &n);
        if (s != VS_OK)
            return s;
        for (size_t i = 0; i < n && s == VS_OK; i++) {
            char *child = vs_path_join(path, names[i]);
            s = child ? vs_fs_remove_tree(child) : VS_ERR_NOMEM;
            free(child);
        }
        vs_fs_free_names(names, n);
        if (s != VS_OK)
            return s;
        if (rmdir(path) != 0)
            return vs_error_set(VS_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
        return VS_OK;
    }
    if (unlink(path) != 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return VS_OK;
}

char *vs_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la > 0 && a[la - 1] == '/')
        return vs_strfmt("%s%s", a, b);
    return vs_strfmt("%s/%s", a, b);
}

char *vs_path_dirname(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        return vs_strdup(".");
    return vs_strndup(path, n);
}

char *vs_path_basename(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    return vs_strndup(path + b, n - b);
}

char *vs_fs_exe_dir(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return vs_path_dirname(buf);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum vs_status vs_fs_list_dir(const char *dir, char ***names, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return vs_error_set(VS_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = vs_realloc(v, cap * sizeof *v);
            if (!nv)
                goto nomem;
            v = nv;
        }
        if (!(v[n] = vs_strdup(e->d_name)))
            goto nomem;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    *count = n;
    return VS_OK;
nomem:
    closedir(d);
    vs_fs_free_names(v, n);
    return VS_ERR_NOMEM;
}

void vs_fs_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

enum vs_status vs_fs_mkdtemp_beside(const char *path, char **out)
{
    char *parent = vs_path_dirname(path), *base = vs_path_basename(path);
    char *tmpl = parent && base ? vs_strfmt("%s/.%s.vlmslim-tmp-XXXXXX", parent, base) : NULL;
    free(parent);
    free(base);
    if (!tmpl)
        return VS_ERR_NOMEM;
    if (!mkdtemp(tmpl)) {
        enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot create a temporary directory beside it: %s", path,
                                         strerror(errno));
        free(tmpl);
        return st;
    }
    *out = tmpl;
    return VS_OK;
}
