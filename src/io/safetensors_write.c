/* Streaming safetensors writer: a shard's tensor data goes to a temporary data file as tensors
 * are added; when the shard is flushed its header is written and the data appended, so memory
 * stays near one tensor whatever the shard size. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "io/json_util.h"
#include "io/safetensors.h"

struct vs_st_writer {
    char *dir, *prefix;
    uint64_t part_bytes;
    unsigned mode;
    char *data_path;   /* temporary data of the shard being built */
    int data_fd;
    json_t *pending;   /* header of the shard being built: name -> {dtype, shape, data_offsets} */
    uint64_t pending_bytes;
    char **shards;     /* paths written so far (temporary names until close) */
    size_t n_shards;
    json_t *weight_map; /* name -> shard number (1-based), in insertion order */
    uint64_t total;
};

static enum vs_status write_all(int fd, const void *data, size_t len, const char *path)
{
    const unsigned char *p = data;
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

static enum vs_status open_data(struct vs_st_writer *w)
{
    w->data_fd = open(w->data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w->data_fd < 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot create: %s", w->data_path, strerror(errno));
    return VS_OK;
}

enum vs_status vs_st_writer_open(const char *dir, const char *prefix, uint64_t part_bytes,
                                 unsigned file_mode, struct vs_st_writer **out)
{
    struct vs_st_writer *w = vs_calloc(1, sizeof *w);
    if (!w)
        return VS_ERR_NOMEM;
    w->data_fd = -1;
    w->part_bytes = part_bytes;
    w->mode = file_mode;
    enum vs_status st = VS_ERR_NOMEM;
    if (!(w->dir = vs_strdup(dir)) || !(w->prefix = vs_strdup(prefix)) ||
        !(w->data_path = vs_strfmt("%s/.%s.shard-data.tmp", dir, prefix)) || !(w->pending = json_object()) ||
        !(w->weight_map = json_object()))
        goto fail;
    if ((st = open_data(w)) != VS_OK)
        goto fail;
    *out = w;
    return VS_OK;
fail:
    vs_st_writer_abort(w);
    return st;
}

static char *shard_name(const struct vs_st_writer *w, size_t i, size_t k)
{
    if (w->part_bytes == 0)
        return vs_strfmt("%s.safetensors", w->prefix);
    return vs_strfmt("%s-%05zu-of-%05zu.safetensors", w->prefix, i, k);
}

/* Copies the temporary data file to the end of fd. */
static enum vs_status append_data(struct vs_st_writer *w, int fd, const char *path)
{
    off_t in_off = 0;
    uint64_t left = w->pending_bytes;
    while (left > 0) {
        ssize_t n = copy_file_range(w->data_fd, &in_off, fd, NULL, left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* not supported here (or nothing copied): fall back to read/write below */
        left -= (uint64_t)n;
    }
    char buf[1 << 16];
    while (left > 0) {
        ssize_t r = pread(w->data_fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, in_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return vs_error_set(VS_ERR_IO, "%s: reading back shard data failed: %s", w->data_path,
                                r < 0 ? strerror(errno) : "unexpected end of file");
        enum vs_status st = write_all(fd, buf, (size_t)r, path);
        if (st != VS_OK)
            return st;
        in_off += r;
        left -= (uint64_t)r;
    }
    return VS_OK;
}

static enum vs_status flush_shard(struct vs_st_writer *w)
{
    size_t index = w->n_shards + 1;
    char *name = shard_name(w, index, 0), *path = name ? vs_path_join(w->dir, name) : NULL;
    free(name);
    char **ns = path ? vs_realloc(w->shards, (w->n_shards + 1) * sizeof *ns) : NULL;
    if (!ns) {
        free(path);
        return VS_ERR_NOMEM;
    }
    w->shards = ns;
    w->shards[w->n_shards++] = path;

    char *header = json_dumps(w->pending, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!header)
        return vs_error_set(VS_ERR_NOMEM, "%s: cannot build the header", path);
    size_t hlen = strlen(header), padded = (hlen + 7) & ~(size_t)7;
    char *hbuf = vs_malloc(8 + padded);
    if (!hbuf) {
        free(header);
        return VS_ERR_NOMEM;
    }
    for (int i = 0; i < 8; i++)
        hbuf[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
    memcpy(hbuf + 8, header, hlen);
    memset(hbuf + 8 + hlen, ' ', padded - hlen);
    free(header);

    enum vs_status st = VS_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, w->mode) != 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    if (st == VS_OK)
        st = write_all(fd, hbuf, 8 + padded, path);
    if (st == VS_OK)
        st = append_data(w, fd, path);
    if (fd >= 0 && close(fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    free(hbuf);
    if (st != VS_OK)
        return st;
    /* Start the next shard's data from scratch. */
    if (ftruncate(w->data_fd, 0) != 0 || lseek(w->data_fd, 0, SEEK_SET) != 0)
        return vs_error_set(VS_ERR_IO, "%s: cannot reset: %s", w->data_path, strerror(errno));
    json_object_clear(w->pending);
    w->pending_bytes = 0;
    return VS_OK;
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
    if ((st = write_all(w->data_fd, data, nbytes, w->data_path)) != VS_OK)
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
    if (json_object_size(w->pending) > 0 || w->n_shards == 0)
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
    close(w->data_fd);
    unlink(w->data_path);
    for (size_t i = 0; i < w->n_shards; i++)
        free(w->shards[i]);
    w->n_shards = 0;
    w->data_fd = -1;
    vs_st_writer_abort(w); /* frees what is left; the shards stay */
    return VS_OK;
}

void vs_st_writer_abort(struct vs_st_writer *w)
{
    if (!w)
        return;
    if (w->data_fd >= 0) {
        close(w->data_fd);
        unlink(w->data_path);
    }
    for (size_t i = 0; i < w->n_shards; i++) {
        unlink(w->shards[i]);
        free(w->shards[i]);
    }
    free(w->shards);
    json_decref(w->pending);
    json_decref(w->weight_map);
    free(w->data_path);
    free(w->dir);
    free(w->prefix);
    free(w);
}

uint64_t vs_st_writer_total_bytes(const struct vs_st_writer *w) { return w->total; }
