/* safetensors reading, one file: a read-only memory mapping and a fully validated header.
 * The JSON header is parsed once (jansson), the tensor names are copied into one block and
 * the JSON is freed, so an open file costs one struct vs_st_tensor plus its name per tensor;
 * tensor data stays in the mapping and is paged in only when it is touched. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/json_util.h"
#include "io/safetensors.h"

/* The reference implementation refuses larger headers; so do we, before parsing. */
#define VS_ST_MAX_HEADER 100000000ull

struct vs_st_file {
    char *path;
    unsigned char *map;
    size_t size;
    const unsigned char *data;            /* the data area, after the header */
    char *names;                          /* every tensor name, NUL-terminated, one block */
    struct vs_st_tensor *tensors;         /* sorted by data offset */
    size_t n;
    const struct vs_st_tensor **by_name;  /* sorted by name */
};

static int cmp_offset(const void *a, const void *b)
{
    const struct vs_st_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    if (px != py)
        return px < py ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name); /* empty tensors sharing an offset: keep a fixed order */
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const struct vs_st_tensor *const *)a)->name, (*(const struct vs_st_tensor *const *)b)->name);
}


/* Validates one tensor entry; on success fills *t but for its name and file. */
static enum vs_status parse_entry(const char *p, const char *name, json_t *e, const unsigned char *data,
                                  size_t data_size, struct vs_st_tensor *t)
{
    if (!json_is_object(e))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': header entry must be an object", p, name);
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': unknown header field '%s'", p, name, key);
    }
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(e, required[i]))
            return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': missing '%s'", p, name, required[i]);

    json_t *dt = json_object_get(e, "dtype"), *sh = json_object_get(e, "shape"),
           *off = json_object_get(e, "data_offsets");
    if (!json_is_string(dt))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'dtype' must be a string", p, name);
    int dtype = vs_dtype_parse(json_string_value(dt));
    if (dtype < 0)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", p, name, json_string_value(dt));

    if (!json_is_array(sh))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'shape' must be a list of non-negative integers", p, name);
    if (json_array_size(sh) > VS_MAX_DIMS)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'shape' has %zu dimensions, more than the %d supported",
                            p, name, json_array_size(sh), VS_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': shape[%d] must be a non-negative integer", p, name, i);
        t->shape[i] = json_integer_value(d);
    }

    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)) || json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < 0)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end] (non-negative integers)",
                            p, name);
    uint64_t b = (uint64_t)json_integer_value(json_array_get(off, 0));
    uint64_t en = (uint64_t)json_integer_value(json_array_get(off, 1));
    if (en < b)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area of %zu bytes "
                            "(end before begin)", p, name, (unsigned long long)b, (unsigned long long)en, data_size);
    if (en > data_size)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area of %zu bytes",
                            p, name, (unsigned long long)b, (unsigned long long)en, data_size);

    int64_t numel = vs_shape_numel(t->ndim, t->shape);
    uint64_t es = vs_dtype_size((enum vs_dtype)dtype);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / es || (uint64_t)numel * es != en - b) {
        char shape[200], need[32];
        if (numel < 0 || (uint64_t)numel > UINT64_MAX / es)
            snprintf(need, sizeof need, "at least 2^63");
        else
            snprintf(need, sizeof need, "%llu", (unsigned long long)((uint64_t)numel * es));
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but shape %s x %s "
                            "needs %s", p, name, (unsigned long long)b, (unsigned long long)en,
                            (unsigned long long)(en - b), vs_format_shape(shape, sizeof shape, t->ndim, t->shape),
                            vs_dtype_name((enum vs_dtype)dtype), need);
    }
    t->dtype = (enum vs_dtype)dtype;
    t->data = data + b;
    t->nbytes = (size_t)(en - b);
    return VS_OK;
}

static enum vs_status check_metadata(const char *p, json_t *v)
{
    if (!json_is_object(v))
        return vs_error_set(VS_ERR_FORMAT, "%s: '__metadata__' must be an object of strings", p);
    const char *k;
    json_t *s;
    json_object_foreach(v, k, s) {
        if (!json_is_string(s))
            return vs_error_set(VS_ERR_FORMAT, "%s: '__metadata__.%s' must be a string", p, k);
    }
    return VS_OK;
}

/* Spans sorted by begin overlap iff one begins before the furthest end seen so far; empty
 * tensors occupy nothing and may sit anywhere in the data area. */
static enum vs_status check_overlaps(const struct vs_st_file *f)
{
    const struct vs_st_tensor *far = NULL;
    const unsigned char *far_end = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct vs_st_tensor *t = &f->tensors[i];
        if (t->nbytes == 0)
            continue;
        const unsigned char *b = t->data, *e = b + t->nbytes;
        if (far && far_end > b) {
            size_t fb = (size_t)((const unsigned char *)far->data - f->data), tb = (size_t)(b - f->data);
            return vs_error_set(VS_ERR_FORMAT, "%s: tensors '%s' [%zu, %zu] and '%s' [%zu, %zu] overlap in the data area",
                                f->path, far->name, fb, fb + far->nbytes, t->name, tb, tb + t->nbytes);
        }
        if (!far || e > far_end) {
            far = t;
            far_end = e;
        }
    }
    return VS_OK;
}

static enum vs_status parse_header(struct vs_st_file *f)
{
    const char *p = f->path;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->map[i];
    if (hlen > f->size - 8)
        return vs_error_set(VS_ERR_FORMAT, "%s: header length %llu exceeds the file size %zu (truncated file?)", p,
                            (unsigned long long)hlen, f->size);
    if (hlen > VS_ST_MAX_HEADER)
        return vs_error_set(VS_ERR_FORMAT, "%s: header length %llu is over the %llu-byte limit of safetensors", p,
                            (unsigned long long)hlen, VS_ST_MAX_HEADER);
    json_error_t err;
    json_t *header = vs_json_loadb((const char *)f->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!header && vs_json_load_ran_out(&err))
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory parsing the header", p);
    if (!header) {
        for (char *c = err.text; *c; c++) /* it may quote the bad bytes: keep the message one line */
            if ((unsigned char)*c < 0x20)
                *c = ' ';
        return vs_error_set(VS_ERR_FORMAT, "%s: header is not valid JSON: %s (at byte %d)", p, err.text, 8 + err.position);
    }
    enum vs_status st = VS_OK;
    size_t data_size = f->size - 8 - (size_t)hlen, names_len = 0;
    const unsigned char *data = f->data = f->map + 8 + hlen;
    const char *key;
    json_t *v;
    if (!json_is_object(header)) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: header must be a JSON object", p);
        goto done;
    }
    json_object_foreach(header, key, v) names_len += strlen(key) + 1;
    f->tensors = vs_calloc(json_object_size(header) + 1, sizeof *f->tensors);
    f->names = vs_malloc(names_len + 1);
    if (!f->tensors || !f->names) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    char *name = f->names;
    json_object_foreach(header, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((st = check_metadata(p, v)) != VS_OK)
                goto done;
            continue;
        }
        struct vs_st_tensor *t = &f->tensors[f->n];
        if ((st = parse_entry(p, key, v, data, data_size, t)) != VS_OK)
            goto done;
        size_t len = strlen(key) + 1;
        memcpy(name, key, len);
        t->name = name;
        t->file = f->path;
        name += len;
        f->n++;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_offset);
    if ((st = check_overlaps(f)) != VS_OK)
        goto done;
    if (!(f->by_name = vs_malloc((f->n + 1) * sizeof *f->by_name))) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < f->n; i++)
        f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_name);
    /* The header was copied out: let its pages leave the resident set (large for ~100k tensors). */
    struct vs_st_tensor head = {.data = f->map, .nbytes = 8 + (size_t)hlen};
    vs_st_release(&head);
done:
    json_decref(header);
    return st;
}

enum vs_status vs_st_file_open(const char *path, struct vs_st_file **out)
{
    struct vs_st_file *f = vs_calloc(1, sizeof *f);
    if (!f || !(f->path = vs_strdup(path))) {
        free(f);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = VS_OK;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = vs_error_set(VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if (fstat(fd, &sb) != 0) {
        st = vs_error_set(VS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = vs_error_set(VS_ERR_IO, "%s: not a regular file", path);
    } else if (sb.st_size < 8) { /* also keeps empty files away from mmap, which refuses length 0 */
        st = vs_error_set(VS_ERR_FORMAT, "%s: file of %lld bytes is too short to be safetensors (no 8-byte header length)",
                          path, (long long)sb.st_size);
    } else {
        f->size = (size_t)sb.st_size;
        void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            st = vs_error_set(VS_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        else
            f->map = m;
    }
    if (fd >= 0)
        close(fd); /* the mapping keeps the file */
    if (st == VS_OK)
        st = parse_header(f);
    if (st != VS_OK) {
        vs_st_file_close(f);
        return st;
    }
    *out = f;
    return VS_OK;
}

void vs_st_file_close(struct vs_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->size);
    free(f->tensors);
    free(f->by_name);
    free(f->names);
    free(f->path);
    free(f);
}

size_t vs_st_file_count(const struct vs_st_file *f) { return f->n; }

const struct vs_st_tensor *vs_st_file_at(const struct vs_st_file *f, size_t i)
{
    return i < f->n ? &f->tensors[i] : NULL;
}

const struct vs_st_tensor *vs_st_file_find(const struct vs_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (c == 0)
            return f->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *vs_st_file_path(const struct vs_st_file *f) { return f->path; }

/* Only whole pages inside the span are dropped: a page shared with a neighbouring tensor is
 * kept. The mapping is file-backed and read-only, so dropped pages are simply re-read from the
 * page cache (or the file) if touched again. */
void vs_st_release(const struct vs_st_tensor *t)
{
    if (t)
        vs_st_release_range(t, 0, t->nbytes);
}

void vs_st_release_range(const struct vs_st_tensor *t, size_t off, size_t len)
{
    if (!t || !t->data || t->heap || off >= t->nbytes || len == 0)
        return;
    len = len < t->nbytes - off ? len : t->nbytes - off;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)t->data + off, e = b + len;
    uintptr_t pb = (b + page - 1) & ~(page - 1), pe = e & ~(page - 1);
    if (pe > pb)
        madvise((void *)pb, pe - pb, MADV_DONTNEED);
}
