/* Streaming safetensors writer. A shard's tensor data is written straight into the shard file
 * as tensors are added; when the shard is flushed its header is inserted in front of the data
 * with fallocate(FALLOC_FL_INSERT_RANGE) (the header is padded with spaces to a whole number of
 * filesystem blocks, which JSON allows). Where the filesystem cannot insert (tmpfs, ...), the
 * file is assembled once more: header, then the data copied behind it. Memory stays near one
 * tensor whatever the shard size. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "io/json_util.h"
#include "io/safetensors.h"

struct vs_st_writer {
    char *dir, *prefix;
    uint64_t part_bytes;
    unsigned mode;
    char *cur_path;    /* shard being built (temporary name), NULL between shards */
    int cur_fd;
    json_t *pending;   /* its header: name -> {dtype, shape, data_offsets} */
    uint64_t pending_bytes;
    char **shards;     /* finished shards (temporary names until close) */
    size_t n_shards;
    json_t *weight_map; /* name -> shard number (1-based), in insertion order */
    uint64_t total;
};

static char *shard_name(const struct vs_st_writer *w, size_t i, size_t k)
{
    if (w->part_bytes == 0)
        return vs_strfmt("%s.safetensors", w->prefix);
    return vs_strfmt("%s-%05zu-of-%05zu.safetensors", w->prefix, i, k);
}

static int create_file(const char *path, unsigned mode)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static enum vs_status start_shard(struct vs_st_writer *w)
{
    char *name = shard_name(w, w->n_shards + 1, 0);
    w->cur_path = name ? vs_path_join(w->dir, name) : NULL;
    free(name);
    if (!w->cur_path)
        return VS_ERR_NOMEM;
    w->cur_fd = create_file(w->cur_path, w->mode);
    if (w->cur_fd < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot create: %s", w->cur_path, strerror(errno));
    return VS_OK;
}

enum vs_status vs_st_writer_open(const char *dir, const char *prefix, uint64_t part_bytes,
                                 unsigned file_mode, struct vs_st_writer **out)
{
    struct vs_st_writer *w = vs_calloc(1, sizeof *w);
    if (!w)
        return VS_ERR_NOMEM;
    w->cur_fd = -1;
    w->part_bytes = part_bytes;
    w->mode = file_mode;
    if (!(w->dir = vs_strdup(dir)) || !(w->prefix = vs_strdup(prefix)) || !(w->pending = json_object()) ||
        !(w->weight_map = json_object())) {
        vs_st_writer_abort(w);
        return VS_ERR_NOMEM;
    }
    if (!vs_fs_is_dir(dir)) {
        enum vs_status st = vs_error_set(VS_ERR_IO, "%s: not a directory", dir);
        vs_st_writer_abort(w);
        return st;
    }
    *out = w;
    return VS_OK;
}

/* The 8-byte length and the JSON header, padded with spaces so that their total is a multiple
 * of `align` (8 at least, as the reference writer does). */
static char *build_header(struct vs_st_writer *w, size_t align, size_t *total)
{
    char *json = json_dumps(w->pending, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!json) {
        vs_error_set(VS_ERR_NOMEM, "%s: cannot build the header", w->cur_path);
        return NULL;
    }
    size_t hlen = strlen(json), t = (8 + hlen + align - 1) / align * align;
    char *buf = vs_malloc(t);
    if (buf) {
        uint64_t n = t - 8;
        for (int i = 0; i < 8; i++)
            buf[i] = (char)((n >> (8 * i)) & 0xff);
        memcpy(buf + 8, json, hlen);
        memset(buf + 8 + hlen, ' ', t - 8 - hlen);
        *total = t;
    }
    free(json);
    return buf;
}

static enum vs_status pwrite_all(int fd, const char *buf, size_t len, const char *path)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, buf + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vs_error_set(VS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        done += (size_t)n;
    }
    return VS_OK;
}

/* Header in front of the data without moving it: only whole filesystem blocks can be inserted. */
static int try_insert_header(struct vs_st_writer *w, enum vs_status *st)
{
    struct statvfs sv;
    if (w->pending_bytes == 0 || fstatvfs(w->cur_fd, &sv) != 0 || sv.f_bsize < 8 || sv.f_bsize > (1u << 20))
        return 0;
    size_t total;
    char *hdr = build_header(w, sv.f_bsize, &total);
    if (!hdr) {
        *st = VS_ERR_NOMEM;
        return 1;
    }
    int inserted = fallocate(w->cur_fd, FALLOC_FL_INSERT_RANGE, 0, (off_t)total) == 0;
    if (inserted)
        *st = pwrite_all(w->cur_fd, hdr, total, w->cur_path);
    free(hdr);
    return inserted;
}

/* Fallback: header + data into a new file that replaces the shard. */
static enum vs_status assemble_shard(struct vs_st_writer *w)
{
    size_t total;
    char *hdr = build_header(w, 8, &total);
    char *tmp = vs_strfmt("%s.assemble", w->cur_path);
    enum vs_status st = VS_OK;
    int fd = -1;
    if (!hdr || !tmp) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    if ((fd = create_file(tmp, w->mode)) < 0) {
        st = vs_error_set(VS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if ((st = vs_fs_write_all(fd, hdr, total, tmp)) != VS_OK)
        goto done;
    off_t in_off = 0;
    uint64_t left = w->pending_bytes;
    while (left > 0) { /* copy_file_range, then read/write where it is not supported */
        ssize_t n = copy_file_range(w->cur_fd, &in_off, fd, NULL, left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        left -= (uint64_t)n;
    }
    char buf[1 << 16];
    while (left > 0 && st == VS_OK) {
        ssize_t r = pread(w->cur_fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, in_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = vs_error_set(VS_ERR_IO, "%s: reading back shard data failed: %s", w->cur_path,
                              r < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        st = vs_fs_write_all(fd, buf, (size_t)r, tmp);
        in_off += r;
        left -= (uint64_t)r;
    }
    if (close(fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    fd = -1;
    if (st == VS_OK && rename(tmp, w->cur_path) != 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot rename to %s: %s", tmp, w->cur_path, strerror(errno));
done:
    if (fd >= 0)
        close(fd);
    if (st != VS_OK && tmp)
        unlink(tmp);
    free(tmp);
    free(hdr);
    return st;
}

static enum vs_status flush_shard(struct vs_st_writer *w)
{
    enum vs_status st = VS_OK;
    if (w->cur_fd < 0 && (st = start_shard(w)) != VS_OK)
        return st;
    if (!try_insert_header(w, &st))
        st = assemble_shard(w);
    if (close(w->cur_fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", w->cur_path, strerror(errno));
    w->cur_fd = -1;
    char **ns = vs_realloc(w->shards, (w->n_shards + 1) * sizeof *ns);
    if (!ns) {
        unlink(w->cur_path);
        free(w->cur_path);
        w->cur_path = NULL;
        return VS_ERR_NOMEM;
    }
    w->shards = ns;
    w->shards[w->n_shards++] = w->cur_path; /* removed by abort if st != VS_OK */
    w->cur_path = NULL;
    json_object_clear(w->pending);
    w->pending_bytes = 0;
    return st;
}

enum vs_status vs_st_writer_add(struct vs_st_writer *w, const char *name, enum vs_dtype dtype,
                                int ndim, const int64_t *shape, const void *data, size_t nbytes)
{
    int64_t numel = vs_shape_numel(ndim, shape);
    if (ndim < 0 || ndim > VS_MAX_DIMS || numel < 0 || (uint64_t)numel * vs_dtype_size(dtype) != nbytes)
        return vs_error_set(VS_ERR_INTERNAL, "tensor '%s': %zu bytes do not match its shape and dtype %s", name,
                            nbytes, vs_dtype_name(dtype));
    if (json_object_get(w->weight_map, name))
        return vs_error_set(VS_ERR_INTERNAL, "tensor '%s' written twice", name);
    enum vs_status st;
    if (w->part_bytes > 0 && json_object_size(w->pending) > 0 && w->pending_bytes + nbytes >= w->part_bytes &&
        (st = flush_shard(w)) != VS_OK)
        return st;
    if (w->part_bytes > 0 && nbytes > w->part_bytes)
        vs_warn("tensor '%s' (%zu bytes) is larger than the shard size %llu; it gets a shard of its own", name,
                nbytes, (unsigned long long)w->part_bytes);
    json_t *dims = json_array();
    for (int i = 0; dims && i < ndim; i++)
        json_array_append_new(dims, json_integer(shape[i]));
    json_t *entry = json_pack("{s:s, s:o, s:[I,I]}", "dtype", vs_dtype_name(dtype), "shape", dims, "data_offsets",
                              (json_int_t)w->pending_bytes, (json_int_t)(w->pending_bytes + nbytes));
    if (!entry || json_object_set_new(w->pending, name, entry) != 0 ||
        json_object_set_new(w->weight_map, name, json_integer((json_int_t)w->n_shards + 1)) != 0)
        return vs_error_set(VS_ERR_NOMEM, "out of memory adding tensor '%s'", name);
    if (w->cur_fd < 0 && (st = start_shard(w)) != VS_OK)
        return st;
    if ((st = vs_fs_write_all(w->cur_fd, data, nbytes, w->cur_path)) != VS_OK)
        return st;
    w->pending_bytes += nbytes;
    w->total += nbytes;
    return VS_OK;
}

static enum vs_status write_index(struct vs_st_writer *w, size_t k)
{
    json_t *map = json_object(), *root = NULL;
    const char *name;
    json_t *v;
    enum vs_status st = VS_OK;
    json_object_foreach(w->weight_map, name, v) {
        char *file = shard_name(w, (size_t)json_integer_value(v), k);
        if (!file || json_object_set_new(map, name, json_string(file)) != 0)
            st = VS_ERR_NOMEM;
        free(file);
        if (st != VS_OK)
            break;
    }
    if (st == VS_OK)
        root = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)w->total, "weight_map", map);
    else
        json_decref(map);
    if (!root)
        return vs_error_set(VS_ERR_NOMEM, "out of memory building the shard index");
    char *fname = vs_strfmt("%s.safetensors.index.json", w->prefix), *path = fname ? vs_path_join(w->dir, fname) : NULL;
    st = path ? vs_json_write_file(root, path, 2, w->mode) : VS_ERR_NOMEM;
    free(fname);
    free(path);
    json_decref(root);
    return st;
}

enum vs_status vs_st_writer_close(struct vs_st_writer *w)
{
    enum vs_status st = VS_OK;
    if (w->cur_fd >= 0 || w->n_shards == 0)
        st = flush_shard(w);
    size_t k = w->n_shards;
    if (st == VS_OK && w->part_bytes > 0) {
        /* -000ii-of-00000 → -000ii-of-000KK (plain numbers past 99999 shards) */
        for (size_t i = 0; i < k && st == VS_OK; i++) {
            char *name = shard_name(w, i + 1, k), *path = name ? vs_path_join(w->dir, name) : NULL;
            if (!path)
                st = VS_ERR_NOMEM;
            else if (rename(w->shards[i], path) != 0)
                st = vs_error_set(VS_ERR_IO, "%s: cannot rename to %s: %s", w->shards[i], path, strerror(errno));
            else {
                free(w->shards[i]);
                w->shards[i] = path;
                path = NULL;
            }
            free(name);
            free(path);
        }
        if (st == VS_OK)
            st = write_index(w, k);
    }
    if (st != VS_OK) {
        vs_st_writer_abort(w);
        return st;
    }
    for (size_t i = 0; i < w->n_shards; i++)
        free(w->shards[i]);
    w->n_shards = 0;
    vs_st_writer_abort(w); /* frees what is left; the shards stay */
    return VS_OK;
}

void vs_st_writer_abort(struct vs_st_writer *w)
{
    if (!w)
        return;
    if (w->cur_fd >= 0)
        close(w->cur_fd);
    if (w->cur_path) {
        unlink(w->cur_path);
        free(w->cur_path);
    }
    for (size_t i = 0; i < w->n_shards; i++) {
        unlink(w->shards[i]);
        free(w->shards[i]);
    }
    free(w->shards);
    json_decref(w->pending);
    json_decref(w->weight_map);
    free(w->dir);
    free(w->prefix);
    free(w);
}

uint64_t vs_st_writer_total_bytes(const struct vs_st_writer *w) { return w->total; }
