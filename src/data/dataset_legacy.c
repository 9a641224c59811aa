/* Lenient legacy loader (spec §3.3, msModelSlim legacy_directory_dataset_loader): a text-only
 * .json/.jsonl file, or a directory of images with at most one description file. Bad entries
 * are skipped with a warning naming the file and the line/entry. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fs.h"
#include "base/log.h"
#include "data/dataset_internal.h"
#include "io/json_util.h"

static const char *const json_suffixes[] = {".json", ".jsonl", NULL};

/* The parsed items of a description file; line is the JSONL line (0 for .json). */
struct item {
    json_t *v;
    size_t line;
};

struct items {
    const char *path;
    struct item *v;
    size_t n, cap;
};

static void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++)
        json_decref(it->v[i].v);
    free(it->v);
}

static enum vs_status items_push(struct items *it, json_t *v, size_t line)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        struct item *nv = vs_realloc(it->v, cap * sizeof *nv);
        if (!nv) {
            json_decref(v);
            return VS_ERR_NOMEM;
        }
        it->v = nv;
        it->cap = cap;
    }
    it->v[it->n++] = (struct item){v, line};
    return VS_OK;
}

static enum vs_status item_line(void *ctx, size_t lineno, const char *line, size_t len)
{
    struct items *it = ctx;
    size_t b = 0;
    while (b < len && (line[b] == ' ' || line[b] == '\t' || line[b] == '\f' || line[b] == '\v'))
        b++;
    if (b == len)
        return VS_OK;
    json_error_t err;
    json_t *v = vs_json_loadb(line, len, JSON_DECODE_ANY, &err);
    if (!v && vs_json_load_ran_out(&err)) /* not a line to skip */
        return vs_error_set(VS_ERR_NOMEM, "%s: line %zu: out of memory parsing JSON", it->path, lineno);
    if (!v) {
        vs_warn("%s: line %zu: invalid JSON (%s), skipped", it->path, lineno, err.text);
        return VS_OK;
    }
    return items_push(it, v, lineno);
}

/* Reads the items of a .jsonl (one per non-blank line) or .json (a list, or one item) file. */
static enum vs_status items_load(const char *path, struct items *it)
{
    *it = (struct items){path, NULL, 0, 0};
    char *text;
    size_t len;
    enum vs_status st = vs_dataset_read(path, &text, &len);
    if (st != VS_OK)
        return st;
    if (strcasecmp(vs_dataset_suffix(path), ".jsonl") == 0) {
        st = vs_dataset_each_line(text, len, item_line, it);
    } else {
        json_error_t err;
        json_t *root = vs_json_loadb(text, len, JSON_DECODE_ANY, &err);
        if (!root && vs_json_load_ran_out(&err)) {
            st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory parsing JSON", path);
        } else if (!root) {
            vs_warn("Failed to parse JSON file: %s (line %d, column %d: %s), no entries used", path,
                    err.line, err.column, err.text);
        } else if (json_is_array(root)) {
            size_t i;
            json_t *e;
            json_array_foreach(root, i, e) {
                if ((st = items_push(it, json_incref(e), 0)) != VS_OK)
                    break;
            }
            json_decref(root);
        } else {
            st = items_push(it, root, 0);
        }
    }
    free(text);
    if (st != VS_OK)
        items_free(it);
    return st;
}

/* "line <n>" for JSONL items, "entry <i>" for items of a JSON list. */
static void item_warn(const struct items *it, size_t i, const char *what)
{
    if (it->v[i].line)
        vs_warn("%s: line %zu: %s, skipped", it->path, it->v[i].line, what);
    else
        vs_warn("%s: entry %zu: %s, skipped", it->path, i, what);
}

/* The non-blank stripped text of a plain string or {"text": ...} item; NULL (*st = VS_OK)
 * if there is none. */
static char *item_text(const json_t *v, enum vs_status *st)
{
    *st = VS_OK;
    const json_t *t = json_is_object(v) ? json_object_get(v, "text") : v;
    if (!json_is_string(t) || vs_dataset_is_blank(json_string_value(t)))
        return NULL;
    char *s = vs_dataset_strip(json_string_value(t));
    if (!s)
        *st = VS_ERR_NOMEM;
    return s;
}

enum vs_status vs_dataset_load_legacy_file(const char *path, struct vs_dataset *d)
{
    struct items it;
    enum vs_status st = items_load(path, &it);
    if (st != VS_OK)
        return st;
    for (size_t i = 0; i < it.n && st == VS_OK; i++) {
        char *text = item_text(it.v[i].v, &st);
        if (text)
            st = vs_dataset_push(d, text, NULL, NULL, NULL);
        else if (st == VS_OK)
            item_warn(&it, i, "not a non-empty string or {\"text\": ...}");
        free(text);
    }
    items_free(&it);
    if (st == VS_OK && d->count == 0)
        st = vs_error_set(VS_ERR_DATASET, "No valid text entries found in file: %s", path);
    return st;
}

/* The directory's images (sorted by name) and description files. */
struct dir_scan {
    char **names; /* all entries, sorted */
    size_t n_names;
    size_t *img;  /* indices into names of the images */
    char **img_real;
    bool *img_used;
    size_t n_img;
    const char *desc; /* name of the description file or NULL */
};

static void scan_free(struct dir_scan *s)
{
    for (size_t i = 0; i < s->n_img; i++)
        free(s->img_real[i]);
    free(s->img_real);
    free(s->img_used);
    free(s->img);
    vs_fs_free_names(s->names, s->n_names);
}

static enum vs_status scan_dir(const char *dir, struct dir_scan *s)
{
    *s = (struct dir_scan){0};
    enum vs_status st = vs_fs_list_dir(dir, &s->names, &s->n_names);
    if (st != VS_OK)
        return st == VS_ERR_NOMEM ? st : vs_error_set(VS_ERR_DATASET, "%s", vs_error_message());
    s->img = vs_calloc(s->n_names + 1, sizeof *s->img);
    s->img_real = vs_calloc(s->n_names + 1, sizeof *s->img_real);
    s->img_used = vs_calloc(s->n_names + 1, sizeof *s->img_used);
    if (!s->img || !s->img_real || !s->img_used)
        return VS_ERR_NOMEM;
    size_t n_desc = 0;
    for (size_t i = 0; i < s->n_names; i++) {
        char *full = vs_path_join(dir, s->names[i]);
        if (!full)
            return VS_ERR_NOMEM;
        if (vs_fs_is_file(full)) {
            if (vs_dataset_suffix_in(full, vs_dataset_image_suffixes)) {
                char *real = realpath(full, NULL);
                if (real) {
                    s->img[s->n_img] = i;
                    s->img_real[s->n_img++] = real;
                }
            } else if (vs_dataset_suffix_in(full, json_suffixes)) {
                n_desc++;
                s->desc = s->names[i];
            }
        }
        free(full);
    }
    if (s->n_img == 0)
        return vs_error_set(VS_ERR_DATASET, "No images files found in directory: %s", dir);
    if (n_desc > 1)
        return vs_error_set(VS_ERR_DATASET, "Found multiple json/jsonl files in %s", dir);
    return VS_OK;
}

/* Index of the directory image that `real` is, or n_img. */
static size_t find_image(const struct dir_scan *s, const char *real)
{
    for (size_t j = 0; j < s->n_img; j++)
        if (strcmp(s->img_real[j], real) == 0)
            return j;
    return s->n_img;
}

/* Resolves an entry's image reference to one of the directory's images. Returns its index,
 * or n_img after a warning. */
static size_t resolve_image(const char *dir, const struct dir_scan *s, const struct items *it,
                            size_t i, const json_t *ref_v, enum vs_status *st)
{
    *st = VS_OK;
    if (!json_is_string(ref_v) || vs_dataset_is_blank(json_string_value(ref_v))) {
        item_warn(it, i, "field 'image' is not a non-empty string");
        return s->n_img;
    }
    char *ref = vs_dataset_strip(json_string_value(ref_v)), *real = NULL, *full = NULL;
    if (!ref) {
        *st = VS_ERR_NOMEM;
        return s->n_img;
    }
    size_t found = s->n_img;
    char msg[512];
    if (!vs_dataset_suffix_in(ref, vs_dataset_image_suffixes)) {
        snprintf(msg, sizeof msg, "image %s has unsupported suffix '%s'", ref,
                 vs_dataset_suffix(ref));
        item_warn(it, i, msg);
        goto out;
    }
    if (ref[0] != '/') {
        /* A relative reference is matched by base name against the directory's images. */
        const char *base = strrchr(ref, '/');
        base = base ? base + 1 : ref;
        for (size_t j = 0; j < s->n_img && found == s->n_img; j++)
            if (strcmp(s->names[s->img[j]], base) == 0)
                found = j;
        if (found < s->n_img)
            goto out;
        if (!(full = vs_path_join(dir, ref))) {
            *st = VS_ERR_NOMEM;
            goto out;
        }
    }
    const char *p = full ? full : ref;
    if (!vs_fs_is_file(p) || !(real = realpath(p, NULL))) {
        snprintf(msg, sizeof msg, "image %s not found", p);
        item_warn(it, i, msg);
        goto out;
    }
    /* Compared by real path, so an image that is a symlink is recognised as referenced and
     * not appended a second time (msModelSlim compares absolute paths here: a quirk). */
    if ((found = find_image(s, real)) == s->n_img) {
        snprintf(msg, sizeof msg, "image %s is not one of the images of %s", p, dir);
        item_warn(it, i, msg);
    }
out:
    free(ref);
    free(full);
    free(real);
    return found;
}

/* Mixed mode: description entries in file order, then the unreferenced images. */
static enum vs_status load_described(const char *dir, const char *default_text,
                                     struct dir_scan *s, struct vs_dataset *d)
{
    char *desc = vs_path_join(dir, s->desc);
    if (!desc)
        return VS_ERR_NOMEM;
    struct items it;
    enum vs_status st = items_load(desc, &it);
    if (st != VS_OK) {
        free(desc);
        return st;
    }
    size_t n_image_entries = 0;
    for (size_t i = 0; i < it.n && st == VS_OK; i++) {
        const json_t *v = it.v[i].v;
        const json_t *ref = json_is_object(v) ? json_object_get(v, "image") : NULL;
        char *text = NULL;
        if (ref && !json_is_null(ref)) {
            size_t j = resolve_image(dir, s, &it, i, ref, &st);
            if (j == s->n_img)
                continue;
            if (!(text = item_text(v, &st)) && st != VS_OK)
                break;
            char *img = vs_strdup(s->img_real[j]);
            st = img ? vs_dataset_push(d, text ? text : default_text, img, NULL, NULL)
                     : VS_ERR_NOMEM;
            /* Every directory image with this real path counts as referenced. */
            for (size_t k = 0; k < s->n_img; k++)
                if (strcmp(s->img_real[k], s->img_real[j]) == 0)
                    s->img_used[k] = true;
            n_image_entries++;
        } else if ((text = item_text(v, &st)) != NULL) {
            st = vs_dataset_push(d, text, NULL, NULL, NULL); /* text-only sample */
        } else if (st == VS_OK) {
            item_warn(&it, i, "neither an image entry nor a non-empty text");
        }
        free(text);
    }
    items_free(&it);
    if (st == VS_OK && n_image_entries != s->n_img)
        vs_warn("%s: %zu image entries for %zu images in %s", desc, n_image_entries, s->n_img,
                dir);
    for (size_t j = 0; j < s->n_img && st == VS_OK; j++) {
        if (s->img_used[j])
            continue;
        vs_warn("Image %s not found in JSON, using default text", s->names[s->img[j]]);
        char *img = vs_strdup(s->img_real[j]);
        st = img ? vs_dataset_push(d, default_text, img, NULL, NULL) : VS_ERR_NOMEM;
    }
    /* Defensive: with at least one image something was appended above. */
    if (st == VS_OK && d->count == 0)
        st = vs_error_set(VS_ERR_DATASET, "No valid entries found in JSONL file: %s", desc);
    free(desc);
    return st;
}

enum vs_status vs_dataset_load_legacy_dir(const char *dir, const char *default_text,
                                          struct vs_dataset *d)
{
    struct dir_scan s;
    enum vs_status st = scan_dir(dir, &s);
    if (st == VS_OK && s.desc) {
        st = load_described(dir, default_text, &s, d);
    } else {
        /* No description file: one sample per image, sorted by name (byte order). */
        for (size_t j = 0; j < s.n_img && st == VS_OK; j++) {
            char *img = vs_strdup(s.img_real[j]);
            st = img ? vs_dataset_push(d, default_text, img, NULL, NULL) : VS_ERR_NOMEM;
        }
    }
    scan_free(&s);
    return st;
}
