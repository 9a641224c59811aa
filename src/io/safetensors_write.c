/* Streaming safetensors writer. A shard's tensor data is written straight into the shard file
 * (under its temporary name) as tensors are added, by a background thread (io/seq_writer.h);
 * when the shard is flushed its header is
 * inserted in front of the data with fallocate(FALLOC_FL_INSERT_RANGE), padded with spaces to
 * a whole number of filesystem blocks (JSON allows the spaces). Where the filesystem cannot
 * insert (tmpfs, ...), the shard is assembled once more: 8-byte length + header padded to a
 * multiple of 8 as the reference writer does, then the data moved behind it with
 * copy_file_range (read/write where that is not supported). Memory stays near one tensor
 * (plus the writer's staging buffers) whatever the shard size. */
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
#include "io/seq_writer.h"

struct vs_st_writer {
    char *dir, *prefix;
    uint64_t part_bytes;
    unsigned mode;
    char *cur_path;      /* shard being built (temporary name), NULL between shards */
    int cur_fd;
    json_t *pending;     /* its header: name -> {dtype, shape, data_offsets}, in add order */
    uint64_t pending_bytes;
    struct vs_seq_writer *seq; /* writes the shard's data (off this thread) */
    char **shards;       /* finished shards (temporary names until close) */
    size_t n_shards;
    char *index_path;    /* set once the index is created */
    json_t *weight_map;  /* name -> shard number (1-based), in add order */
    uint64_t total;
    int failed;          /* a write failed: the shard on disk no longer matches `pending` */
};

/* `<prefix>-0000i-of-0000k.safetensors`; k = 0 while the count is unknown. */
static char *shard_name(const struct vs_st_writer *w, size_t i, size_t k)
{
    if (w->part_bytes == 0)
        return vs_strfmt("%s.safetensors", w->prefix);
    return vs_strfmt("%s-%05zu-of-%05zu.safetensors", w->prefix, i, k);
}

/* The mode is set with fchmod so that the umask does not matter. */
static int create_file(const char *path, unsigned mode)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
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
    if (w->cur_fd < 0) {
        enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot create: %s", w->cur_path, strerror(errno));
        free(w->cur_path);
        w->cur_path = NULL;
        return st;
    }
    return vs_seq_writer_open(w->cur_fd, w->cur_path, &w->seq);
}

/* Closes and, unless `keep`, deletes everything the writer created, then frees it. */
static void writer_free(struct vs_st_writer *w, int keep)
{
    (void)vs_seq_writer_close(w->seq);
    if (w->cur_fd >= 0)
        close(w->cur_fd);
    if (w->cur_path && !keep)
        unlink(w->cur_path);
    free(w->cur_path);
    for (size_t i = 0; i < w->n_shards; i++) {
        if (!keep)
            unlink(w->shards[i]);
        free(w->shards[i]);
    }
    if (w->index_path && !keep)
        unlink(w->index_path);
    free(w->index_path);
    free(w->shards);
    json_decref(w->pending);
    json_decref(w->weight_map);
    free(w->dir);
    free(w->prefix);
    free(w);
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
        writer_free(w, 0);
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory opening the safetensors writer", dir);
    }
    if (!*prefix || strchr(prefix, '/')) {
        writer_free(w, 0);
        return vs_error_set(VS_ERR_INTERNAL, "safetensors file prefix '%s' is not a plain file name", prefix);
    }
    if (!vs_fs_is_dir(dir)) {
        writer_free(w, 0);
        return vs_error_set(VS_ERR_IO, "%s: not a directory", dir);
    }
    *out = w;
    return VS_OK;
}

/* The 8-byte length and the compact JSON header, padded with spaces so that their total is a
 * multiple of `align` (a multiple of 8). */
static char *build_header(struct vs_st_writer *w, size_t align, size_t *total)
{
    char *json = vs_json_dumps(w->pending, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!json) {
        vs_error_set(VS_ERR_NOMEM, "%s: out of memory building the header", w->cur_path);
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

static enum vs_status pwrite_all(int fd, const char *buf, size_t len, off_t at, const char *path)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(fd, buf + done, len - done, at + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vs_error_set(VS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        done += (size_t)n;
    }
    return VS_OK;
}

/* Header in front of the data without moving it: only whole filesystem blocks can be
 * inserted, and only in front of existing data. Returns 1 if done (*st says how it went),
 * 0 if the caller must assemble the shard instead. */
static int try_insert_header(struct vs_st_writer *w, enum vs_status *st)
{
    struct statvfs sv;
    if (w->pending_bytes == 0 || fstatvfs(w->cur_fd, &sv) != 0 || sv.f_bsize < 8 || sv.f_bsize % 8 ||
        sv.f_bsize > (1u << 20))
        return 0;
    size_t total;
    char *hdr = build_header(w, sv.f_bsize, &total);
    if (!hdr) {
        *st = VS_ERR_NOMEM;
        return 1;
    }
    int done = 1;
    if (fallocate(w->cur_fd, FALLOC_FL_INSERT_RANGE, 0, (off_t)total) == 0)
        *st = pwrite_all(w->cur_fd, hdr, total, 0, w->cur_path);
    else if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
        done = 0; /* not on this filesystem (or not with this block size) */
    else /* ENOSPC, EIO, EFBIG, ...: a copy would not fare better */
        *st = vs_error_set(VS_ERR_IO, "%s: cannot insert the header: %s", w->cur_path, strerror(errno));
    free(hdr);
    return done;
}

/* Copies `len` bytes of `in` from offset 0 to the end of `out`. */
static enum vs_status copy_data(int in, const char *in_path, int out, const char *out_path, uint64_t len)
{
    off_t in_off = 0;
    while (len > 0) {
        ssize_t n = copy_file_range(in, &in_off, out, NULL, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* unsupported here (EXDEV, EINVAL, ...) or a real error: read/write reports it */
        len -= (uint64_t)n;
    }
    char buf[1 << 16];
    while (len > 0) {
        ssize_t r = pread(in, buf, len < sizeof buf ? (size_t)len : sizeof buf, in_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return vs_error_set(VS_ERR_IO, "%s: reading back shard data failed: %s", in_path,
                                r < 0 ? strerror(errno) : "unexpected end of file");
        enum vs_status st = vs_fs_write_all(out, buf, (size_t)r, out_path);
        if (st != VS_OK)
            return st;
        in_off += r;
        len -= (uint64_t)r;
    }
    return VS_OK;
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
    if ((st = vs_fs_write_all(fd, hdr, total, tmp)) == VS_OK)
        st = copy_data(w->cur_fd, w->cur_path, fd, tmp, w->pending_bytes);
    if (close(fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (st == VS_OK && rename(tmp, w->cur_path) != 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot rename to %s: %s", tmp, w->cur_path, strerror(errno));
    if (st != VS_OK)
        unlink(tmp);
done:
    free(tmp);
    free(hdr);
    return st;
}

static enum vs_status flush_shard(struct vs_st_writer *w)
{
    enum vs_status st = VS_OK;
    if (w->cur_fd < 0 && (st = start_shard(w)) != VS_OK) /* an empty shard (nothing added) */
        return st;
    char **ns = vs_realloc(w->shards, (w->n_shards + 1) * sizeof *ns);
    if (!ns)
        return VS_ERR_NOMEM;
    w->shards = ns;
    st = vs_seq_writer_close(w->seq); /* all of the data in the file */
    w->seq = NULL;
    if (st == VS_OK && !try_insert_header(w, &st))
        st = assemble_shard(w);
    if (close(w->cur_fd) != 0 && st == VS_OK)
        st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", w->cur_path, strerror(errno));
    w->cur_fd = -1;
    w->shards[w->n_shards++] = w->cur_path; /* deleted by abort if anything failed */
    w->cur_path = NULL;
    json_object_clear(w->pending);
    w->pending_bytes = 0;
    return st;
}

enum vs_status vs_st_writer_add(struct vs_st_writer *w, const char *name, enum vs_dtype dtype,
                                int ndim, const int64_t *shape, const void *data, size_t nbytes)
{
    if (w->failed)
        return vs_error_set(VS_ERR_INTERNAL, "%s: tensor '%s' added to a safetensors writer after a failed write",
                            w->dir, name);
    if ((unsigned)dtype >= VS_DTYPE_COUNT || ndim < 0 || ndim > VS_MAX_DIMS)
        return vs_error_set(VS_ERR_INTERNAL, "tensor '%s': invalid dtype %d or rank %d", name, (int)dtype, ndim);
    int64_t numel = vs_shape_numel(ndim, shape);
    size_t es = vs_dtype_size(dtype);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / es || (size_t)numel * es != nbytes)
        return vs_error_set(VS_ERR_INTERNAL, "tensor '%s': %zu bytes do not match its shape and dtype %s", name,
                            nbytes, vs_dtype_name(dtype));
    if (strcmp(name, "__metadata__") == 0)
        return vs_error_set(VS_ERR_INTERNAL, "tensor name '__metadata__' is reserved by safetensors");
    if (!vs_json_valid_utf8(name, strlen(name)))
        return vs_error_set(VS_ERR_INTERNAL, "tensor name '%s' is not valid UTF-8", name);
    if (json_object_get(w->weight_map, name))
        return vs_error_set(VS_ERR_INTERNAL, "%s: tensor '%s' written twice", w->dir, name);

    enum vs_status st = VS_OK;
    if (w->part_bytes > 0 && json_object_size(w->pending) > 0 && w->pending_bytes + nbytes >= w->part_bytes)
        st = flush_shard(w);
    if (st == VS_OK && w->part_bytes > 0 && nbytes > w->part_bytes)
        vs_warn("tensor '%s' (%zu bytes) is larger than the shard size %llu; it gets a shard of its own", name,
                nbytes, (unsigned long long)w->part_bytes);
    if (st == VS_OK && w->cur_fd < 0)
        st = start_shard(w);
    if (st == VS_OK)
        st = vs_seq_writer_write(w->seq, data, nbytes);
    if (st == VS_OK) {
        json_t *dims = json_array();
        for (int i = 0; dims && i < ndim; i++)
            if (json_array_append_new(dims, json_integer(shape[i])) != 0)
                dims = (json_decref(dims), NULL);
        json_t *entry = dims ? json_pack("{s:s, s:o, s:[I,I]}", "dtype", vs_dtype_name(dtype), "shape", dims,
                                         "data_offsets", (json_int_t)w->pending_bytes,
                                         (json_int_t)(w->pending_bytes + nbytes))
                             : NULL;
        if (!entry || json_object_set_new(w->pending, name, entry) != 0 ||
            json_object_set_new(w->weight_map, name, json_integer((json_int_t)w->n_shards + 1)) != 0)
            st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory adding tensor '%s'", w->dir, name);
    }
    if (st != VS_OK) {
        w->failed = 1;
        return st;
    }
    w->pending_bytes += nbytes;
    w->total += nbytes;
    return VS_OK;
}

/* {"metadata": {"total_size": N}, "weight_map": {name: file}} with indent 2, as json.dump. */
static enum vs_status write_index(struct vs_st_writer *w, size_t k)
{
    json_t *map = json_object(), *root = NULL;
    const char *name;
    json_t *v;
    int ok = map != NULL;
    json_object_foreach(w->weight_map, name, v) {
        char *file = ok ? shard_name(w, (size_t)json_integer_value(v), k) : NULL;
        ok = file && json_object_set_new(map, name, json_string(file)) == 0;
        free(file);
        if (!ok)
            break;
    }
    if (ok)
        root = json_pack("{s:{s:I}, s:O}", "metadata", "total_size", (json_int_t)w->total, "weight_map", map);
    json_decref(map);
    char *text = root ? vs_json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    char *fname = vs_strfmt("%s.safetensors.index.json", w->prefix);
    w->index_path = fname ? vs_path_join(w->dir, fname) : NULL;
    free(fname);
    if (!text || !w->index_path) {
        free(text);
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory building the shard index", w->dir);
    }
    enum vs_status st = VS_OK;
    int fd = create_file(w->index_path, w->mode);
    if (fd < 0) {
        st = vs_error_set(VS_ERR_IO, "%s: cannot create: %s", w->index_path, strerror(errno));
        free(w->index_path); /* not ours to delete */
        w->index_path = NULL;
    } else {
        st = vs_fs_write_all(fd, text, strlen(text), w->index_path);
        if (close(fd) != 0 && st == VS_OK)
            st = vs_error_set(VS_ERR_IO, "%s: write failed: %s", w->index_path, strerror(errno));
    }
    free(text);
    return st;
}

enum vs_status vs_st_writer_close(struct vs_st_writer *w)
{
    enum vs_status st = VS_OK;
    if (w->failed)
        st = vs_error_set(VS_ERR_INTERNAL, "%s: safetensors writer closed after a failed write", w->dir);
    else if (w->cur_fd >= 0 || w->n_shards == 0)
        st = flush_shard(w);
    size_t k = w->n_shards;
    if (st == VS_OK && w->part_bytes > 0) {
        /* -000ii-of-00000 → -000ii-of-000KK (plain numbers past 99999 shards) */
        for (size_t i = 0; i < k && st == VS_OK; i++) {
            char *name = shard_name(w, i + 1, k), *path = name ? vs_path_join(w->dir, name) : NULL;
            free(name);
            if (!path) {
                st = VS_ERR_NOMEM;
            } else if (rename(w->shards[i], path) != 0) {
                st = vs_error_set(VS_ERR_IO, "%s: cannot rename to %s: %s", w->shards[i], path, strerror(errno));
                free(path);
            } else {
                free(w->shards[i]);
                w->shards[i] = path;
            }
        }
        if (st == VS_OK)
            st = write_index(w, k);
    }
    writer_free(w, st == VS_OK);
    return st;
}

void vs_st_writer_abort(struct vs_st_writer *w)
{
    if (w)
        writer_free(w, 0);
}

uint64_t vs_st_writer_total_bytes(const struct vs_st_writer *w) { return w->total; }
