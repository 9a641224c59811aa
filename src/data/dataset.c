/* Public dataset API: path resolution (§3.2), the loader chain (§3.3) and shared helpers. */
#include "data/dataset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/fs.h"
#include "data/dataset_internal.h"

const char *const vs_dataset_image_suffixes[] = {".jpg", ".jpeg", ".png", NULL};
static const char *const json_suffixes[] = {".json", ".jsonl", NULL};

enum vs_status vs_dataset_push(struct vs_dataset *d, const char *text, char *image, char *audio,
                               char *video)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct vs_calib_sample *s = vs_realloc(d->samples, cap * sizeof *s);
        if (!s)
            goto nomem;
        d->samples = s;
        d->cap = cap;
    }
    char *t = vs_strdup(text ? text : "");
    if (!t)
        goto nomem;
    d->samples[d->count++] = (struct vs_calib_sample){t, image, audio, video};
    return VS_OK;
nomem:
    free(image);
    free(audio);
    free(video);
    return VS_ERR_NOMEM;
}

const char *vs_dataset_suffix(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    /* Like pathlib: no suffix for ".hidden" or a trailing dot. */
    if (!dot || dot == base || dot[1] == '\0')
        return "";
    return dot;
}

bool vs_dataset_suffix_in(const char *path, const char *const *allowed)
{
    const char *suf = vs_dataset_suffix(path);
    for (size_t i = 0; allowed[i]; i++)
        if (strcasecmp(suf, allowed[i]) == 0)
            return true;
    return false;
}

static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

char *vs_dataset_strip(const char *s)
{
    size_t b = 0, e = strlen(s);
    while (b < e && is_space(s[b]))
        b++;
    while (e > b && is_space(s[e - 1]))
        e--;
    return vs_strndup(s + b, e - b);
}

bool vs_dataset_is_blank(const char *s)
{
    for (; *s; s++)
        if (!is_space(*s))
            return false;
    return true;
}

bool vs_dataset_json_truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_TRUE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    }
    return true;
}

enum vs_status vs_dataset_each_line(const char *text, size_t len, vs_dataset_line_fn fn,
                                    void *ctx)
{
    size_t start = 0, lineno = 1;
    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n' && text[end] != '\r')
            end++;
        enum vs_status st = fn(ctx, lineno++, text + start, end - start);
        if (st != VS_OK)
            return st;
        if (end < len && text[end] == '\r' && end + 1 < len && text[end + 1] == '\n')
            end++;
        start = end + 1;
    }
    return VS_OK;
}

enum vs_status vs_dataset_read(const char *path, char **text, size_t *len)
{
    enum vs_status st = vs_fs_read_file(path, text, len);
    if (st == VS_ERR_NOMEM)
        return st;
    if (st != VS_OK)
        return vs_error_set(VS_ERR_DATASET, "Cannot read dataset file: %s", vs_error_message());
    return VS_OK;
}

/* Real path of an existing path, recording the dataset error on failure. */
static enum vs_status real_path(const char *path, char **out)
{
    char *r = realpath(path, NULL);
    if (!r) {
        if (errno == ENOMEM)
            return vs_error_set(VS_ERR_NOMEM, "out of memory");
        return vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: %s", path);
    }
    *out = r;
    return VS_OK;
}

enum vs_status vs_dataset_resolve_path(const char *name, const char *lab_calib_dir, char **out)
{
    *out = NULL;
    if (!name || !*name)
        return vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: (empty name)");
    if (name[0] == '/') {
        if (!vs_fs_exists(name))
            return vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: %s", name);
        return real_path(name, out);
    }
    /* Relative: the current directory shadows the packaged lab_calib directory. */
    if (vs_fs_exists(name))
        return real_path(name, out);
    char *lab = lab_calib_dir ? vs_path_join(lab_calib_dir, name) : NULL;
    if (lab_calib_dir && !lab)
        return VS_ERR_NOMEM;
    if (lab && vs_fs_exists(lab)) {
        enum vs_status st = real_path(lab, out);
        free(lab);
        return st;
    }
    char *cwd = getcwd(NULL, 0);
    char *tried = cwd ? vs_path_join(cwd, name) : NULL;
    enum vs_status st;
    if (lab)
        st = vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: %s (tried %s and %s)", name,
                          tried ? tried : name, lab);
    else
        st = vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: %s (tried %s)", name,
                          tried ? tried : name);
    free(cwd);
    free(tried);
    free(lab);
    return st;
}

static bool is_index_name(const char *base)
{
    return strcmp(base, "index.json") == 0 || strcmp(base, "index.jsonl") == 0;
}

/* Picks and runs the first matching loader. */
static enum vs_status load_chain(const char *path, const char *default_text,
                                 struct vs_dataset *d)
{
    char *base = vs_path_basename(path);
    if (!base)
        return VS_ERR_NOMEM;
    bool index_name = is_index_name(base);
    free(base);
    /* 1: a file named exactly index.json / index.jsonl. */
    if (vs_fs_is_file(path) && index_name)
        return vs_dataset_load_index(path, default_text, d);
    if (vs_fs_is_dir(path)) {
        /* 2: a directory holding an index file. */
        char *js = vs_path_join(path, "index.json"), *jl = vs_path_join(path, "index.jsonl");
        enum vs_status st = VS_OK;
        if (!js || !jl) {
            st = VS_ERR_NOMEM;
        } else {
            bool has_js = vs_fs_is_file(js), has_jl = vs_fs_is_file(jl);
            if (has_js && has_jl)
                st = vs_error_set(VS_ERR_DATASET,
                                  "Both index.json and index.jsonl exist in directory: %s", path);
            else if (has_js || has_jl)
                st = vs_dataset_load_index(has_js ? js : jl, default_text, d);
            else /* 3: any other directory. */
                st = vs_dataset_load_legacy_dir(path, default_text, d);
        }
        free(js);
        free(jl);
        return st;
    }
    /* 3: a text-only .json/.jsonl file. */
    if (vs_fs_is_file(path) && vs_dataset_suffix_in(path, json_suffixes))
        return vs_dataset_load_legacy_file(path, d);
    return vs_error_set(VS_ERR_DATASET, "Unsupported dataset type: %s", path);
}

enum vs_status vs_dataset_load(const char *path, const char *default_text,
                               struct vs_dataset **out)
{
    *out = NULL;
    struct vs_dataset *d = vs_calloc(1, sizeof *d);
    if (!d)
        return VS_ERR_NOMEM;
    enum vs_status st = load_chain(path, default_text ? default_text : "", d);
    if (st != VS_OK) {
        vs_dataset_free(d);
        return st;
    }
    *out = d;
    return VS_OK;
}

void vs_dataset_free(struct vs_dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->samples[i].text);
        free(d->samples[i].image);
        free(d->samples[i].audio);
        free(d->samples[i].video);
    }
    free(d->samples);
    free(d);
}

bool vs_dataset_has_image_text(const struct vs_dataset *d, size_t *first_bad)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct vs_calib_sample *s = &d->samples[i];
        if (!s->image || !s->text || !*s->text) {
            if (first_bad)
                *first_bad = i;
            return false;
        }
    }
    return true;
}
