/* Strict loader for index.json / index.jsonl (spec §3.3, msModelSlim jsonl_dataset_loader):
 * any bad entry is an error naming the file and the entry (or line). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "data/dataset_internal.h"
#include "io/json_util.h"

static const char *const audio_suffixes[] = {".wav", ".mp3", NULL};
static const char *const video_suffixes[] = {".mp4", NULL};

struct index_ctx {
    const char *path;         /* the index file, as named in messages */
    const char *dir;          /* its directory (real path): base of relative media paths */
    const char *default_text;
    struct vs_dataset *d;
    size_t entry;             /* number of the next entry, from 0 */
};

/* Optional media field: absent/null → *out = NULL; else a real path to an existing file
 * with an allowed suffix. */
static enum vs_status media_field(struct index_ctx *c, const json_t *entry, const char *field,
                                  const char *const *allowed, char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(entry, field);
    if (!v || json_is_null(v))
        return VS_OK;
    if (!json_is_string(v) || vs_dataset_is_blank(json_string_value(v)))
        return vs_error_set(VS_ERR_DATASET,
                            "%s entry %zu: field '%s' must be a non-empty string when provided",
                            c->path, c->entry, field);
    char *ref = vs_dataset_strip(json_string_value(v));
    if (!ref)
        return VS_ERR_NOMEM;
    char *full = ref[0] == '/' ? ref : vs_path_join(c->dir, ref);
    if (full != ref)
        free(ref);
    if (!full)
        return VS_ERR_NOMEM;
    enum vs_status st = VS_OK;
    if (!vs_dataset_suffix_in(full, allowed))
        st = vs_error_set(VS_ERR_DATASET, "%s entry %zu: %s has unsupported suffix '%s'", c->path,
                          c->entry, field, vs_dataset_suffix(full));
    else if (!vs_fs_is_file(full) || !(*out = realpath(full, NULL)))
        st = vs_error_set(VS_ERR_DATASET,
                          "%s entry %zu: %s path does not exist or is not a file: %s", c->path,
                          c->entry, field, full);
    free(full);
    return st;
}

static enum vs_status add_entry(struct index_ctx *c, const json_t *entry)
{
    const json_t *t = json_object_get(entry, "text");
    char *text = NULL;
    if (vs_dataset_json_truthy(t)) {
        if (!json_is_string(t) || vs_dataset_is_blank(json_string_value(t)))
            return vs_error_set(VS_ERR_DATASET,
                                "%s entry %zu: field 'text' must be a non-empty string", c->path,
                                c->entry);
        if (!(text = vs_dataset_strip(json_string_value(t))))
            return VS_ERR_NOMEM;
    }
    char *image = NULL, *audio = NULL, *video = NULL;
    enum vs_status st = media_field(c, entry, "image", vs_dataset_image_suffixes, &image);
    if (st == VS_OK)
        st = media_field(c, entry, "audio", audio_suffixes, &audio);
    if (st == VS_OK)
        st = media_field(c, entry, "video", video_suffixes, &video);
    if (st == VS_OK)
        st = vs_dataset_push(c->d, text ? text : c->default_text, image, audio, video);
    else {
        free(image);
        free(audio);
        free(video);
    }
    free(text);
    c->entry++;
    return st;
}

static enum vs_status jsonl_line(void *ctx, size_t lineno, const char *line, size_t len)
{
    struct index_ctx *c = ctx;
    size_t b = 0;
    while (b < len && (line[b] == ' ' || line[b] == '\t' || line[b] == '\f' || line[b] == '\v'))
        b++;
    if (b == len)
        return VS_OK; /* blank line */
    json_error_t err;
    json_t *v = vs_json_loadb(line, len, JSON_DECODE_ANY, &err);
    if (!v && vs_json_load_ran_out(&err))
        return vs_error_set(VS_ERR_NOMEM, "%s: Line %zu: out of memory parsing JSON", c->path, lineno);
    if (!v)
        return vs_error_set(VS_ERR_DATASET, "%s: Line %zu: invalid JSON: %s", c->path, lineno,
                            err.text);
    enum vs_status st = json_is_object(v)
                            ? add_entry(c, v)
                            : vs_error_set(VS_ERR_DATASET,
                                           "%s: Line %zu: each JSONL line must be an object",
                                           c->path, lineno);
    json_decref(v);
    return st;
}

static enum vs_status load_json(struct index_ctx *c, const char *text, size_t len)
{
    json_error_t err;
    json_t *root = vs_json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (!root && vs_json_load_ran_out(&err))
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory parsing JSON", c->path);
    if (!root)
        return vs_error_set(VS_ERR_DATASET,
                            "Failed to parse JSON file: %s (line %d, column %d: %s)", c->path,
                            err.line, err.column, err.text);
    bool shape_ok = json_is_object(root) || json_is_array(root);
    size_t i;
    json_t *e;
    if (json_is_array(root)) {
        json_array_foreach(root, i, e) {
            if (!json_is_object(e))
                shape_ok = false;
        }
    }
    enum vs_status st = VS_OK;
    if (!shape_ok) {
        st = vs_error_set(VS_ERR_DATASET,
                          "%s: index.json must be an object or a list of objects", c->path);
    } else if (json_is_object(root)) {
        st = add_entry(c, root);
    } else {
        json_array_foreach(root, i, e) {
            if ((st = add_entry(c, e)) != VS_OK)
                break;
        }
    }
    json_decref(root);
    return st;
}

enum vs_status vs_dataset_load_index(const char *index_path, const char *default_text,
                                     struct vs_dataset *d)
{
    char *real = realpath(index_path, NULL);
    if (!real)
        return vs_error_set(VS_ERR_DATASET, "Dataset path does not exist: %s", index_path);
    char *dir = vs_path_dirname(real);
    free(real);
    if (!dir)
        return VS_ERR_NOMEM;
    char *text;
    size_t len;
    enum vs_status st = vs_dataset_read(index_path, &text, &len);
    if (st != VS_OK) {
        free(dir);
        return st;
    }
    struct index_ctx c = {index_path, dir, default_text, d, 0};
    if (strcmp(vs_dataset_suffix(index_path), ".jsonl") == 0)
        st = vs_dataset_each_line(text, len, jsonl_line, &c);
    else
        st = load_json(&c, text, len);
    free(text);
    free(dir);
    if (st == VS_OK && d->count == 0)
        st = vs_error_set(VS_ERR_DATASET, "No valid entries found in %s", index_path);
    return st;
}
