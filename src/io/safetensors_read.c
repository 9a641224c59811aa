/* safetensors reading: one memory-mapped file with a validated header, and a checkpoint
 * directory (index, single file, or all *.safetensors) as one sorted name space. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "io/json_util.h"
#include "io/safetensors.h"

struct vs_st_file {
    char *path;
    unsigned char *map;
    size_t size;
    json_t *header;             /* owns the name strings the tensors point to */
    struct vs_st_tensor *tensors; /* sorted by data offset */
    size_t n;
    size_t *by_name;            /* indices sorted by name */
};

static int cmp_offset(const void *a, const void *b)
{
    const struct vs_st_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    if (px != py)
        return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static const struct vs_st_file *sort_file; /* qsort context; only used during open */
static int cmp_name_idx(const void *a, const void *b)
{
    return strcmp(sort_file->tensors[*(const size_t *)a].name, sort_file->tensors[*(const size_t *)b].name);
}

static enum vs_status parse_entry(struct vs_st_file *f, const char *name, json_t *e, size_t data_size,
                                  struct vs_st_tensor *t)
{
    const char *p = f->path;
    if (!json_is_object(e))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': header entry must be an object", p, name);
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': unknown header field '%s'", p, name, key);
    }
    json_t *dt = json_object_get(e, "dtype"), *sh = json_object_get(e, "shape"),
           *off = json_object_get(e, "data_offsets");
    if (!json_is_string(dt))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'dtype' must be a string", p, name);
    int dtype = vs_dtype_parse(json_string_value(dt));
    if (dtype < 0)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", p, name, json_string_value(dt));
    if (!json_is_array(sh) || json_array_size(sh) > VS_MAX_DIMS)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'shape' must be a list of at most %d integers", p,
                            name, VS_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': shape[%d] must be a non-negative integer", p, name, i);
        t->shape[i] = json_integer_value(d);
    }
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)))
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be [begin, end]", p, name);
    json_int_t b = json_integer_value(json_array_get(off, 0)), en = json_integer_value(json_array_get(off, 1));
    if (b < 0 || en < b || (uint64_t)en > data_size)
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] outside the data area of %zu bytes",
                            p, name, (long long)b, (long long)en, data_size);
    int64_t numel = vs_shape_numel(t->ndim, t->shape);
    size_t es = vs_dtype_size((enum vs_dtype)dtype);
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / es || (uint64_t)numel * es != (uint64_t)(en - b)) {
        char shape[160];
        size_t n = 0;
        n += (size_t)snprintf(shape + n, sizeof shape - n, "[");
        for (int i = 0; i < t->ndim && n < sizeof shape; i++)
            n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (n < sizeof shape)
            snprintf(shape + n, sizeof shape - n, "]");
        return vs_error_set(VS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] span %lld bytes but shape %s x %s needs %llu",
                            p, name, (long long)b, (long long)en, (long long)(en - b), shape,
                            vs_dtype_name((enum vs_dtype)dtype),
                            numel < 0 ? 0ull : (unsigned long long)numel * es);
    }
    t->name = name;
    t->dtype = (enum vs_dtype)dtype;
    t->nbytes = (size_t)(en - b);
    t->file = f->path;
    return VS_OK;
}

static enum vs_status parse_header(struct vs_st_file *f)
{
    const char *p = f->path;
    if (f->size < 8)
        return vs_error_set(VS_ERR_FORMAT, "%s: file of %zu bytes is too short to be safetensors", p, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->map[i];
    if (hlen > f->size - 8)
        return vs_error_set(VS_ERR_FORMAT, "%s: header length %llu exceeds the file size %zu (truncated file?)", p,
                            (unsigned long long)hlen, f->size);
    json_error_t err;
    f->header = json_loadb((const char *)f->map + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!f->header)
        return vs_error_set(VS_ERR_FORMAT, "%s: header is not valid JSON: %s (at byte %d)", p, err.text, err.position);
    if (!json_is_object(f->header))
        return vs_error_set(VS_ERR_FORMAT, "%s: header must be a JSON object", p);
    size_t data_size = f->size - 8 - (size_t)hlen;
    const unsigned char *data = f->map + 8 + hlen;
    f->tensors = vs_calloc(json_object_size(f->header) + 1, sizeof *f->tensors);
    if (!f->tensors)
        return VS_ERR_NOMEM;
    const char *key;
    json_t *v;
    json_object_foreach(f->header, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v))
                return vs_error_set(VS_ERR_FORMAT, "%s: '__metadata__' must be an object of strings", p);
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv))
                    return vs_error_set(VS_ERR_FORMAT, "%s: '__metadata__.%s' must be a string", p, mk);
            }
            continue;
        }
        struct vs_st_tensor *t = &f->tensors[f->n];
        enum vs_status st = parse_entry(f, key, v, data_size, t);
        if (st != VS_OK)
            return st;
        t->data = data + json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0));
        f->n++;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_offset);
    for (size_t i = 1; i < f->n; i++) {
        const struct vs_st_tensor *a = &f->tensors[i - 1], *b = &f->tensors[i];
        if (a->nbytes && b->nbytes && (const unsigned char *)a->data + a->nbytes > (const unsigned char *)b->data)
            return vs_error_set(VS_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data area", p, a->name, b->name);
    }
    f->by_name = vs_malloc((f->n + 1) * sizeof *f->by_name);
    if (!f->by_name)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < f->n; i++)
        f->by_name[i] = i;
    sort_file = f;
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_name_idx);
    sort_file = NULL;
    return VS_OK;
}

enum vs_status vs_st_file_open(const char *path, struct vs_st_file **out)
{
    struct vs_st_file *f = vs_calloc(1, sizeof *f);
    if (!f || !(f->path = vs_strdup(path))) {
        free(f);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = VS_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        st = vs_error_set(VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = vs_error_set(VS_ERR_IO, "%s: not a regular file", path);
    } else if (sb.st_size < 8) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: file of %lld bytes is too short to be safetensors", path,
                          (long long)sb.st_size);
    } else {
        f->size = (size_t)sb.st_size;
        void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            st = vs_error_set(VS_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        else
            f->map = m;
    }
    if (fd >= 0)
        close(fd);
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
    json_decref(f->header);
    free(f->tensors);
    free(f->by_name);
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
        const struct vs_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(t->name, name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *vs_st_file_path(const struct vs_st_file *f) { return f->path; }

void vs_st_release(const struct vs_st_tensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)t->data, e = b + t->nbytes;
    uintptr_t pb = (b + (uintptr_t)page - 1) & ~((uintptr_t)page - 1), pe = e & ~((uintptr_t)page - 1);
    if (pe > pb)
        madvise((void *)pb, pe - pb, MADV_DONTNEED);
}

/* ---- checkpoint directory ---- */

struct vs_st_entry {
    const char *name;
    const struct vs_st_tensor *t;
};

struct vs_st_model {
    char *dir;
    struct vs_st_file **files;
    size_t n_files;
    struct vs_st_entry *entries; /* sorted by name */
    size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct vs_st_entry *)a)->name, ((const struct vs_st_entry *)b)->name);
}

static enum vs_status add_file(struct vs_st_model *m, const char *name, struct vs_st_file **out)
{
    for (size_t i = 0; i < m->n_files; i++) {
        const char *p = vs_st_file_path(m->files[i]);
        size_t pl = strlen(p), nl = strlen(name);
        if (pl > nl && p[pl - nl - 1] == '/' && strcmp(p + pl - nl, name) == 0) {
            *out = m->files[i];
            return VS_OK;
        }
    }
    struct vs_st_file **nf = vs_realloc(m->files, (m->n_files + 1) * sizeof *nf);
    if (!nf)
        return VS_ERR_NOMEM;
    m->files = nf;
    char *path = vs_path_join(m->dir, name);
    if (!path)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_st_file_open(path, &m->files[m->n_files]);
    free(path);
    if (st != VS_OK)
        return st;
    *out = m->files[m->n_files++];
    return VS_OK;
}

static enum vs_status push_entry(struct vs_st_model *m, size_t *cap, const char *name, const struct vs_st_tensor *t)
{
    if (m->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        struct vs_st_entry *ne = vs_realloc(m->entries, *cap * sizeof *ne);
        if (!ne)
            return VS_ERR_NOMEM;
        m->entries = ne;
    }
    m->entries[m->n].name = name;
    m->entries[m->n].t = t;
    m->n++;
    return VS_OK;
}

static enum vs_status open_index(struct vs_st_model *m, const char *index_path, json_t **index_out)
{
    json_t *idx;
    enum vs_status st = vs_json_load_file(index_path, &idx);
    if (st != VS_OK)
        return st;
    *index_out = idx;
    json_t *map = json_object_get(idx, "weight_map");
    if (!json_is_object(map))
        return vs_error_set(VS_ERR_FORMAT, "%s: 'weight_map' must be an object of tensor name -> file name", index_path);
    size_t cap = 0;
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        if (!json_is_string(v))
            return vs_error_set(VS_ERR_FORMAT, "%s: weight_map['%s'] must be a file name", index_path, name);
        const char *file = json_string_value(v);
        if (!*file || strchr(file, '/') || strcmp(file, ".") == 0 || strcmp(file, "..") == 0)
            return vs_error_set(VS_ERR_FORMAT, "%s: weight_map['%s'] = '%s' is not a file name inside the directory",
                                index_path, name, file);
        char *path = vs_path_join(m->dir, file);
        int exists = path && vs_fs_is_file(path);
        free(path);
        if (!exists)
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is mapped to '%s', which does not exist in %s",
                                index_path, name, file, m->dir);
        struct vs_st_file *f;
        if ((st = add_file(m, file, &f)) != VS_OK)
            return st;
        const struct vs_st_tensor *t = vs_st_file_find(f, name);
        if (!t)
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is mapped to '%s', which does not contain it",
                                index_path, name, file);
        if ((st = push_entry(m, &cap, t->name, t)) != VS_OK)
            return st;
    }
    return VS_OK;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

enum vs_status vs_st_model_open(const char *dir, struct vs_st_model **out)
{
    struct vs_st_model *m = vs_calloc(1, sizeof *m);
    if (!m || !(m->dir = vs_strdup(dir))) {
        free(m);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = VS_OK;
    json_t *index = NULL;
    char *index_path = vs_path_join(dir, "model.safetensors.index.json");
    char *single = vs_path_join(dir, "model.safetensors");
    size_t cap = 0;
    if (!index_path || !single) {
        st = VS_ERR_NOMEM;
    } else if (vs_fs_is_file(index_path)) {
        st = open_index(m, index_path, &index);
    } else {
        char **names = NULL;
        size_t n = 0;
        if (vs_fs_is_file(single)) {
            names = vs_malloc(sizeof *names);
            if (names && (names[0] = vs_strdup("model.safetensors")))
                n = 1;
        } else if ((st = vs_fs_list_dir(dir, &names, &n)) != VS_OK) {
            names = NULL;
        }
        size_t used = 0;
        for (size_t i = 0; i < n && st == VS_OK; i++) {
            if (!has_suffix(names[i], ".safetensors"))
                continue;
            struct vs_st_file *f;
            if ((st = add_file(m, names[i], &f)) != VS_OK)
                break;
            used++;
            for (size_t k = 0; k < vs_st_file_count(f) && st == VS_OK; k++)
                st = push_entry(m, &cap, vs_st_file_at(f, k)->name, vs_st_file_at(f, k));
        }
        if (st == VS_OK && used == 0)
            st = vs_error_set(VS_ERR_MODEL, "%s: no model.safetensors.index.json, model.safetensors or *.safetensors file", dir);
        vs_fs_free_names(names, n);
    }
    if (st == VS_OK) {
        qsort(m->entries, m->n, sizeof *m->entries, cmp_entry);
        for (size_t i = 1; i < m->n && st == VS_OK; i++)
            if (strcmp(m->entries[i - 1].name, m->entries[i].name) == 0)
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is in both %s and %s", dir, m->entries[i].name,
                                  m->entries[i - 1].t->file, m->entries[i].t->file);
    }
    /* Entry names borrowed from the index must outlive it: point them at the file headers. */
    json_decref(index);
    free(index_path);
    free(single);
    if (st != VS_OK) {
        vs_st_model_close(m);
        return st;
    }
    *out = m;
    return VS_OK;
}

void vs_st_model_close(struct vs_st_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_files; i++)
        vs_st_file_close(m->files[i]);
    free(m->files);
    free(m->entries);
    free(m->dir);
    free(m);
}

size_t vs_st_model_count(const struct vs_st_model *m) { return m->n; }

const char *vs_st_model_name_at(const struct vs_st_model *m, size_t i)
{
    return i < m->n ? m->entries[i].name : NULL;
}

static const struct vs_st_tensor *lookup(const struct vs_st_model *m, const char *name)
{
    struct vs_st_entry key = {.name = name};
    const struct vs_st_entry *e = bsearch(&key, m->entries, m->n, sizeof *m->entries, cmp_entry);
    return e ? e->t : NULL;
}

enum vs_status vs_st_model_get(struct vs_st_model *m, const char *name, const struct vs_st_tensor **out)
{
    const struct vs_st_tensor *t = lookup(m, name);
    if (!t)
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' not found in the checkpoint", m->dir, name);
    *out = t;
    return VS_OK;
}

int vs_st_model_has(const struct vs_st_model *m, const char *name) { return lookup(m, name) != NULL; }
