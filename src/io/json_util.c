#include "io/json_util.h"

#include <stdio.h>
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
    json_t *root = vs_json_loadb(text, len, flags | JSON_ALLOW_NUL, &err);
    free(text);
    if (!root && vs_json_load_ran_out(&err))
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory parsing JSON", path);
    if (!root)
        return vs_error_set(VS_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column,
                            err.text);
    *out = root;
    return VS_OK;
}

bool vs_json_load_ran_out(const json_error_t *err)
{
    return json_error_code(err) == json_error_out_of_memory || !err->text[0];
}

bool vs_json_valid_utf8(const char *str, size_t len)
{
    /* jansson's rules (utf.c): no overlong forms, surrogates or code points past U+10FFFF;
     * checked here because json_stringn's NULL does not say whether memory ran out */
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (n == 0 || i + n > len)
            return false;
        unsigned cp = n == 1 ? c : c & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
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

struct dump_buffer {
    char *text;
    size_t len, cap;
    bool failed;
};

static int dump_append(const char *bytes, size_t n, void *data)
{
    struct dump_buffer *b = data;
    if (b->failed)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *text = vs_realloc(b->text, cap);
        if (!text) {
            b->failed = true;
            return -1;
        }
        b->text = text;
        b->cap = cap;
    }
    memcpy(b->text + b->len, bytes, n);
    b->len += n;
    b->text[b->len] = '\0';
    return 0;
}

char *vs_json_dumps(const json_t *root, size_t flags)
{
    struct dump_buffer b = {0};
    if (json_dump_callback(root, dump_append, &b, flags) != 0 || b.failed || !b.text) {
        free(b.text);
        if (!b.failed)
            vs_error_set(VS_ERR_NOMEM, "out of memory serialising JSON");
        return NULL;
    }
    return b.text;
}

enum vs_status vs_json_write_file(const json_t *root, const char *path, int indent, unsigned mode)
{
    /* json.dump(indent=N) separates items with ",\n" and keys with ": "; jansson's indented
     * output matches that. ensure_ascii is Python's default. */
    char *text = vs_json_dumps(root, JSON_INDENT(indent) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    if (!text)
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory serialising JSON", path);
    enum vs_status st = vs_fs_write_file(path, text, strlen(text), mode);
    free(text);
    return st;
}

/* Set when one of jansson's allocations on this thread failed. */
static _Thread_local bool json_alloc_failed;

static void *hooked_malloc(size_t n)
{
    void *p = vs_alloc_should_fail() ? NULL : malloc(n);
    if (!p)
        json_alloc_failed = true;
    return p;
}

void vs_json_hook_allocs(void) { json_set_alloc_funcs(hooked_malloc, free); }

json_t *vs_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    json_alloc_failed = false;
    json_t *root = json_loadb(buf, len, flags, err);
    if (json_alloc_failed) {
        json_decref(root);
        root = NULL;
        memset(err, 0, sizeof *err);
        err->line = err->column = err->position = -1;
        snprintf(err->text, sizeof err->text, "out of memory");
        err->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_out_of_memory;
    }
    json_alloc_failed = false;
    return root;
}
