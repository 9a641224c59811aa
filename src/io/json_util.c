#include "io/json_util.h"

#include <stdlib.h>
#include <string.h>

#include "base/fs.h"

enum vs_status vs_json_load_file(const char *path, json_t **out)
{
    return vs_json_load_file_flags(path, JSON_REJECT_DUPLICATES, out);
}

enum vs_status vs_json_load_file_flags(const char *path, size_t flags, json_t **out)
{
    char *text;
    size_t len;
    enum vs_status st = vs_fs_read_file(path, &text, &len);
    if (st != VS_OK)
        return st;
    json_error_t err;
    json_t *root = json_loadb(text, len, flags | JSON_ALLOW_NUL, &err);
    free(text);
    if (!root)
        return vs_error_set(VS_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column,
                            err.text);
    *out = root;
    return VS_OK;
}

static const char *dot(const char *where) { return where && *where ? "." : ""; }

static enum vs_status type_error(const char *file, const char *where, const char *key,
                                 const char *expected)
{
    return vs_error_set(VS_ERR_MODEL, "%s: %s%s%s: expected %s", file, where ? where : "", dot(where),
                        key, expected);
}

static const json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

enum vs_status vs_json_int(const json_t *obj, const char *key, const char *file, const char *where,
                           int64_t *out)
{
    if (!member(obj, key))
        return vs_error_set(VS_ERR_MODEL, "%s: %s%s%s: required key is missing", file,
                            where ? where : "", dot(where), key);
    return vs_json_int_opt(obj, key, file, where, out);
}

enum vs_status vs_json_int_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, int64_t *out)
{
    const json_t *v = member(obj, key);
    if (!v)
        return VS_OK;
    if (!json_is_integer(v))
        return type_error(file, where, key, "an integer");
    *out = json_integer_value(v);
    return VS_OK;
}

enum vs_status vs_json_num_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, double *out)
{
    const json_t *v = member(obj, key);
    if (!v)
        return VS_OK;
    if (!json_is_number(v))
        return type_error(file, where, key, "a number");
    *out = json_number_value(v);
    return VS_OK;
}

enum vs_status vs_json_bool_opt(const json_t *obj, const char *key, const char *file,
                                const char *where, bool *out)
{
    const json_t *v = member(obj, key);
    if (!v)
        return VS_OK;
    if (!json_is_boolean(v))
        return type_error(file, where, key, "true or false");
    *out = json_is_true(v);
    return VS_OK;
}

enum vs_status vs_json_str_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, const char **out)
{
    const json_t *v = member(obj, key);
    if (!v)
        return VS_OK;
    if (!json_is_string(v))
        return type_error(file, where, key, "a string");
    *out = json_string_value(v);
    return VS_OK;
}

enum vs_status vs_json_obj(const json_t *obj, const char *key, const char *file, const char *where,
                           const json_t **out)
{
    const json_t *v = member(obj, key);
    if (!v)
        return vs_error_set(VS_ERR_MODEL, "%s: %s%s%s: required key is missing", file,
                            where ? where : "", dot(where), key);
    if (!json_is_object(v))
        return type_error(file, where, key, "an object");
    *out = v;
    return VS_OK;
}

enum vs_status vs_json_int_list_opt(const json_t *obj, const char *key, const char *file,
                                    const char *where, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const json_t *v = member(obj, key);
    if (!v)
        return VS_OK;
    if (!json_is_array(v))
        return type_error(file, where, key, "a list of integers");
    size_t len = json_array_size(v);
    int64_t *vals = vs_malloc(len * sizeof *vals);
    if (!vals)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_integer(e)) {
            free(vals);
            return type_error(file, where, key, "a list of integers");
        }
        vals[i] = json_integer_value(e);
    }
    *out = vals;
    *n = len;
    return VS_OK;
}

enum vs_status vs_json_write_file(const json_t *root, const char *path, int indent, unsigned mode)
{
    /* json.dump(indent=N) separates items with ",\n" and keys with ": "; jansson's indented
     * output matches that. ensure_ascii is Python's default. */
    char *text = json_dumps(root, JSON_INDENT(indent) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    if (!text)
        return vs_error_set(VS_ERR_NOMEM, "%s: cannot serialise JSON", path);
    enum vs_status st = vs_fs_write_file(path, text, strlen(text), mode);
    free(text);
    return st;
}
