/* safetensors reading, a checkpoint directory: the index (model.safetensors.index.json), a
 * single model.safetensors, or every *.safetensors file, seen as one name space sorted by
 * tensor name (binary search; checkpoints reach ~100k tensors). Every file is opened (mapped
 * and its header checked) once, up front, so that the index is verified against the files;
 * tensor data is only paged in when used. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/json_util.h"
#include "io/safetensors.h"

struct vs_st_model {
    char *dir;
    struct vs_st_file **files;
    size_t n_files;
    const struct vs_st_tensor **tensors; /* sorted by name */
    size_t n, cap;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const struct vs_st_tensor *const *)a)->name, (*(const struct vs_st_tensor *const *)b)->name);
}

static enum vs_status open_file(struct vs_st_model *m, const char *name, struct vs_st_file **out)
{
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

static enum vs_status push(struct vs_st_model *m, const struct vs_st_tensor *t)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        const struct vs_st_tensor **nt = vs_realloc(m->tensors, cap * sizeof *nt);
        if (!nt)
            return VS_ERR_NOMEM;
        m->tensors = nt;
        m->cap = cap;
    }
    m->tensors[m->n++] = t;
    return VS_OK;
}

static int plain_file_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Opens every file the weight_map names (each once, in order of first mention), then checks
 * that each holds the tensors assigned to it. */
static enum vs_status open_index(struct vs_st_model *m, const char *index_path)
{
    json_t *idx, *file_no = json_object(); /* file name -> position in m->files */
    enum vs_status st = vs_json_load_file(index_path, &idx);
    if (st != VS_OK) {
        json_decref(file_no);
        return st;
    }
    json_t *map = json_object_get(idx, "weight_map");
    const char *name;
    json_t *v;
    if (!file_no) {
        st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory", index_path);
    } else if (!json_is_object(idx)) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: must be a JSON object with a 'weight_map'", index_path);
    } else if (!json_is_object(map)) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: 'weight_map' must be an object of tensor name -> file name", index_path);
    } else if (json_object_size(map) == 0) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: 'weight_map' is empty: the index names no tensor", index_path);
    } else {
        json_object_foreach(map, name, v) {
            const char *file = json_string_value(v);
            if (!file) {
                st = vs_error_set(VS_ERR_FORMAT, "%s: weight_map['%s'] must be a file name", index_path, name);
                break;
            }
            if (!plain_file_name(file) || strlen(file) != json_string_length(v)) {
                st = vs_error_set(VS_ERR_FORMAT, "%s: weight_map['%s'] = '%s' is not a file name inside the directory",
                                  index_path, name, file);
                break;
            }
            if (json_object_get(file_no, file))
                continue;
            char *path = vs_path_join(m->dir, file);
            if (!path) {
                st = VS_ERR_NOMEM;
                break;
            }
            int exists = vs_fs_exists(path);
            free(path);
            if (!exists) {
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is mapped to '%s', which does not exist in %s",
                                  index_path, name, file, m->dir);
                break;
            }
            struct vs_st_file *f;
            if ((st = open_file(m, file, &f)) != VS_OK)
                break;
            if (json_object_set_new(file_no, file, json_integer((json_int_t)m->n_files - 1)) != 0) {
                st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory", index_path);
                break;
            }
        }
    }
    if (st == VS_OK) {
        json_object_foreach(map, name, v) {
            const struct vs_st_file *f = m->files[json_integer_value(json_object_get(file_no, json_string_value(v)))];
            const struct vs_st_tensor *t = vs_st_file_find(f, name);
            if (!t) {
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is mapped to '%s', which does not contain it",
                                  index_path, name, json_string_value(v));
                break;
            }
            if ((st = push(m, t)) != VS_OK)
                break;
        }
    }
    json_decref(file_no);
    json_decref(idx); /* the names kept are the files' own copies */
    return st;
}

/* model.safetensors alone, or every *.safetensors (sorted by name). */
static enum vs_status open_files(struct vs_st_model *m, int single)
{
    char **names = NULL;
    size_t n = 0;
    enum vs_status st = VS_OK;
    if (single) {
        if (!(names = vs_malloc(sizeof *names)) || !(names[0] = vs_strdup("model.safetensors")))
            st = VS_ERR_NOMEM;
        else
            n = 1;
    } else if ((st = vs_fs_list_dir(m->dir, &names, &n)) != VS_OK) {
        names = NULL;
        n = 0;
    }
    size_t used = 0;
    for (size_t i = 0; i < n && st == VS_OK; i++) {
        if (!vs_str_ends_with(names[i], ".safetensors"))
            continue;
        struct vs_st_file *f;
        if ((st = open_file(m, names[i], &f)) != VS_OK)
            break;
        used++;
        for (size_t k = 0; k < vs_st_file_count(f) && st == VS_OK; k++)
            st = push(m, vs_st_file_at(f, k));
    }
    if (st == VS_OK && used == 0)
        st = vs_error_set(VS_ERR_MODEL, "%s: no model.safetensors.index.json, model.safetensors or *.safetensors file",
                          m->dir);
    vs_fs_free_names(names, n);
    return st;
}

enum vs_status vs_st_model_open(const char *dir, struct vs_st_model **out)
{
    struct vs_st_model *m = vs_calloc(1, sizeof *m);
    if (!m || !(m->dir = vs_strdup(dir))) {
        free(m);
        return VS_ERR_NOMEM;
    }
    enum vs_status st;
    char *index_path = vs_path_join(dir, "model.safetensors.index.json");
    char *single = vs_path_join(dir, "model.safetensors");
    if (!index_path || !single)
        st = VS_ERR_NOMEM;
    else if (vs_fs_exists(index_path))
        st = open_index(m, index_path);
    else
        st = open_files(m, vs_fs_exists(single));
    if (st == VS_OK && m->n > 0) { /* a directory of tensor-less files has no array to sort */
        qsort(m->tensors, m->n, sizeof *m->tensors, cmp_name);
        for (size_t i = 1; i < m->n && st == VS_OK; i++)
            if (strcmp(m->tensors[i - 1]->name, m->tensors[i]->name) == 0)
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is in both %s and %s", dir, m->tensors[i]->name,
                                  m->tensors[i - 1]->file, m->tensors[i]->file);
    }
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
    free(m->tensors);
    free(m->dir);
    free(m);
}

size_t vs_st_model_count(const struct vs_st_model *m) { return m->n; }

const char *vs_st_model_name_at(const struct vs_st_model *m, size_t i)
{
    return i < m->n ? m->tensors[i]->name : NULL;
}

static const struct vs_st_tensor *lookup(const struct vs_st_model *m, const char *name)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->tensors[mid]->name, name);
        if (c == 0)
            return m->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
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
