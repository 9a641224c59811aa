#include "io/yaml_doc.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/fs.h"
#include "io/json_util.h"

#define TAG(x) "tag:yaml.org,2002:" x
#define MAX_KEY_LEN 512   /* msModelSlim's yaml_safe_load rejects longer keys */
#define MAX_DEPTH 1000    /* keeps hostile nesting away from jansson's recursive free */

/* ---- line side table: (container, key | index) -> line, open addressing ---- */

struct mark {
    const json_t *parent;
    char *key; /* NULL for a sequence item */
    size_t index;
    int line;
};

struct vs_yaml_doc {
    char *path;
    json_t *root;
    struct mark *marks;
    size_t n_marks, cap_marks;
    size_t *slots; /* mark index + 1, 0 = empty */
    size_t n_slots;
};

static uint64_t mark_hash(const json_t *parent, const char *key, size_t index)
{
    uint64_t h = (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ull;
    if (key) {
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 0x100000001B3ull;
    } else {
        h ^= (uint64_t)index * 0xC2B2AE3D27D4EB4Full;
    }
    return h ^ (h >> 29);
}

static bool mark_is(const struct mark *m, const json_t *parent, const char *key, size_t index)
{
    if (m->parent != parent)
        return false;
    if (key)
        return m->key && strcmp(m->key, key) == 0;
    return !m->key && m->index == index;
}

static const struct mark *mark_find(const struct vs_yaml_doc *d, const json_t *parent, const char *key,
                                    size_t index)
{
    if (!d || !d->n_slots || !parent)
        return NULL;
    size_t mask = d->n_slots - 1;
    for (size_t i = mark_hash(parent, key, index) & mask;; i = (i + 1) & mask) {
        size_t s = d->slots[i];
        if (!s)
            return NULL;
        if (mark_is(&d->marks[s - 1], parent, key, index))
            return &d->marks[s - 1];
    }
}

static enum vs_status mark_rehash(struct vs_yaml_doc *d, size_t n_slots)
{
    size_t *slots = vs_calloc(n_slots, sizeof *slots);
    if (!slots)
        return VS_ERR_NOMEM;
    for (size_t m = 0; m < d->n_marks; m++) {
        const struct mark *k = &d->marks[m];
        size_t i = mark_hash(k->parent, k->key, k->index) & (n_slots - 1);
        while (slots[i])
            i = (i + 1) & (n_slots - 1);
        slots[i] = m + 1;
    }
    free(d->slots);
    d->slots = slots;
    d->n_slots = n_slots;
    return VS_OK;
}

static enum vs_status mark_add(struct vs_yaml_doc *d, const json_t *parent, const char *key, size_t index,
                               int line)
{
    if (d->n_marks == d->cap_marks) {
        size_t cap = d->cap_marks ? 2 * d->cap_marks : 64;
        struct mark *m = vs_realloc(d->marks, cap * sizeof *m);
        if (!m)
            return VS_ERR_NOMEM;
        d->marks = m;
        d->cap_marks = cap;
    }
    struct mark *m = &d->marks[d->n_marks];
    m->parent = parent;
    m->key = key ? vs_strdup(key) : NULL;
    if (key && !m->key)
        return VS_ERR_NOMEM;
    m->index = index;
    m->line = line;
    d->n_marks++;
    if (2 * d->n_marks > d->n_slots)
        return mark_rehash(d, d->n_slots ? 2 * d->n_slots : 256);
    size_t mask = d->n_slots - 1, i = mark_hash(parent, key, index) & mask;
    while (d->slots[i])
        i = (i + 1) & mask;
    d->slots[i] = d->n_marks;
    return VS_OK;
}

int vs_yaml_doc_key_line(const struct vs_yaml_doc *doc, const json_t *obj, const char *key)
{
    const struct mark *m = key ? mark_find(doc, obj, key, 0) : NULL;
    return m ? m->line : 0;
}

int vs_yaml_doc_item_line(const struct vs_yaml_doc *doc, const json_t *arr, size_t index)
{
    const struct mark *m = mark_find(doc, arr, NULL, index);
    return m ? m->line : 0;
}

json_t *vs_yaml_doc_root(const struct vs_yaml_doc *doc) { return doc ? doc->root : NULL; }

const char *vs_yaml_doc_path(const struct vs_yaml_doc *doc) { return doc ? doc->path : NULL; }

void vs_yaml_doc_free(struct vs_yaml_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n_marks; i++)
        free(doc->marks[i].key);
    free(doc->marks);
    free(doc->slots);
    json_decref(doc->root);
    free(doc->path);
    free(doc);
}

/* ---- scalar resolution (PyYAML's YAML 1.1 implicit resolvers and safe constructors) ---- */

static const char FLOAT_RE[] =
    "^([-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?"
    "|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*"
    "|[-+]?\\.(inf|Inf|INF)"
    "|\\.(nan|NaN|NAN))$";
static const char INT_RE[] =
    "^([-+]?0b[0-1_]+"
    "|[-+]?0[0-7_]+"
    "|[-+]?(0|[1-9][0-9_]*)"
    "|[-+]?0x[0-9a-fA-F_]+"
    "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$";

enum kind { K_STR, K_NULL, K_BOOL, K_INT, K_FLOAT, K_MERGE, K_VALUE };

static bool is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static const char *const TRUE_WORDS[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
static const char *const FALSE_WORDS[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
static const char *const NULL_WORDS[] = {"", "~", "null", "Null", "NULL", NULL};

/* Copies s without '_' (and lower-cased if asked); caller frees. */
static char *strip_underscores(const char *s, bool lower)
{
    char *out = vs_malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++)
        if (*s != '_')
            *o++ = lower && *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
    *o = '\0';
    return out;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Unsigned magnitude of digits in base; false on a bad digit, empty text or overflow. */
static bool parse_uint(const char *s, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = digit_value(s[i]);
        if (d >= base || __builtin_mul_overflow(v, (uint64_t)base, &v) ||
            __builtin_add_overflow(v, (uint64_t)d, &v))
            return false;
    }
    *out = v;
    return true;
}

/* construct_yaml_int: sign, 0b/0x/leading-0 octal, sexagesimal, decimal. */
static int construct_int(const char *text, json_int_t *out)
{
    char *s = strip_underscores(text, false);
    if (!s)
        return -1; /* out of memory */
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t mag = 0;
    bool ok;
    if (strcmp(p, "0") == 0)
        ok = true;
    else if (strncmp(p, "0b", 2) == 0)
        ok = parse_uint(p + 2, strlen(p + 2), 2, &mag);
    else if (strncmp(p, "0x", 2) == 0)
        ok = parse_uint(p + 2, strlen(p + 2), 16, &mag);
    else if (*p == '0')
        ok = parse_uint(p, strlen(p), 8, &mag);
    else if (strchr(p, ':')) {
        ok = true;
        for (const char *q = p; ok;) {
            const char *end = strchr(q, ':');
            size_t n = end ? (size_t)(end - q) : strlen(q);
            uint64_t part;
            ok = parse_uint(q, n, 10, &part) && !__builtin_mul_overflow(mag, (uint64_t)60, &mag) &&
                 !__builtin_add_overflow(mag, part, &mag);
            if (!end)
                break;
            q = end + 1;
        }
    } else
        ok = parse_uint(p, strlen(p), 10, &mag);
    free(s);
    if (!ok || mag > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return 0;
    *out = neg ? (json_int_t)(0 - mag) : (json_int_t)mag;
    return 1;
}

/* construct_yaml_float: sign, .inf, .nan, sexagesimal, else a decimal float. */
static int construct_float(const char *text, double *out)
{
    char *s = strip_underscores(text, true);
    if (!s)
        return -1; /* out of memory */
    const char *p = s;
    double sign = *p == '-' ? -1.0 : 1.0;
    if (*p == '-' || *p == '+')
        p++;
    bool ok = true;
    if (strcmp(p, ".inf") == 0)
        *out = sign * INFINITY;
    else if (strcmp(p, ".nan") == 0)
        *out = NAN;
    else if (strcmp(p, "inf") == 0 || strcmp(p, "infinity") == 0) /* Python's float() words */
        *out = sign * INFINITY;
    else if (strcmp(p, "nan") == 0)
        *out = NAN;
    else if (!*p || strspn(p, "0123456789.e+-:") != strlen(p))
        ok = false;
    else if (strchr(p, ':')) {
        double v = 0;
        for (const char *q = p; ok;) {
            char *end;
            double part = strtod(q, &end);
            ok = end != q && (*end == ':' || *end == '\0');
            v = v * 60 + part;
            if (!ok || *end == '\0')
                break;
            q = end + 1;
        }
        *out = sign * v;
    } else {
        char *end;
        *out = sign * strtod(p, &end);
        ok = end != p && *end == '\0';
    }
    free(s);
    return ok;
}

static int construct_bool(const char *text, bool *out)
{
    static const char *const t[] = {"yes", "true", "on", NULL}, *const f[] = {"no", "false", "off", NULL};
    char *s = strip_underscores(text, true); /* bool_values[value.lower()]; '_' never matches */
    if (!s)
        return -1; /* out of memory */
    bool ok = !strchr(text, '_') && (is_one_of(s, t) || is_one_of(s, f));
    if (ok)
        *out = is_one_of(s, t);
    free(s);
    return ok;
}

/* ---- tree builder over libyaml events ---- */

struct frame {
    json_t *node;
    bool is_map;
    char *anchor;
    yaml_mark_t start;
    /* mapping state */
    bool have_key, key_is_merge, seen_merge;
    char *key;
    int key_line;
    json_t *merges; /* mappings to merge, in priority order */
};

struct anchor {
    char *name;
    json_t *node; /* NULL while the anchored collection is being built */
    int line;
};

struct builder {
    const char *path;
    const char *text;
    struct vs_yaml_doc *doc;
    regex_t float_re, int_re;
    struct frame *stack;
    size_t depth, cap;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    bool have_root, doc_ended;
};

static enum vs_status err_at(const struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum vs_status err_at(const struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[VS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vs_error_set(VS_ERR_FORMAT, "%s:%zu:%zu: %s", b->path, m->line + 1, m->column + 1, msg);
}

static int line_of(const yaml_mark_t *m) { return (int)(m->line + 1); }

static const char *kind_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a sequence";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a float";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static enum kind resolve_plain(struct builder *b, const char *s)
{
    if (is_one_of(s, NULL_WORDS))
        return K_NULL;
    if (is_one_of(s, TRUE_WORDS) || is_one_of(s, FALSE_WORDS))
        return K_BOOL;
    if (s[0] && strchr("-+0123456789.", s[0])) {
        if (regexec(&b->float_re, s, 0, NULL, 0) == 0)
            return K_FLOAT;
        if (regexec(&b->int_re, s, 0, NULL, 0) == 0)
            return K_INT;
    }
    if (strcmp(s, "<<") == 0)
        return K_MERGE;
    if (strcmp(s, "=") == 0)
        return K_VALUE;
    return K_STR; /* timestamps included */
}

static enum vs_status make_float(const struct builder *b, const yaml_mark_t *m, const char *s, json_t **out)
{
    double v;
    int r;
    if ((r = construct_float(s, &v)) < 0)
        return vs_error_set(VS_ERR_NOMEM, "out of memory");
    if (!r)
        return err_at(b, m, "invalid float '%s'", s);
    if (isfinite(v))
        *out = json_real(v);
    else /* jansson holds no inf/nan */
        *out = json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return *out ? VS_OK : vs_error_set(VS_ERR_NOMEM, "out of memory");
}

/* The value of a scalar event (new reference). */
static enum vs_status scalar_value(struct builder *b, const yaml_event_t *ev, json_t **out)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const yaml_mark_t *m = &ev->start_mark;
    enum kind k;
    if (!tag || strcmp(tag, "!") == 0)
        k = ev->data.scalar.plain_implicit && strlen(s) == len ? resolve_plain(b, s) : K_STR;
    else if (strcmp(tag, TAG("str")) == 0)
        k = K_STR;
    else if (strcmp(tag, TAG("null")) == 0)
        k = K_NULL;
    else if (strcmp(tag, TAG("bool")) == 0)
        k = K_BOOL;
    else if (strcmp(tag, TAG("int")) == 0)
        k = K_INT;
    else if (strcmp(tag, TAG("float")) == 0)
        k = K_FLOAT;
    else if (strcmp(tag, TAG("merge")) == 0)
        k = K_MERGE;
    else
        return err_at(b, m, "unsupported tag '%s' (only !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
                      tag);
    *out = NULL;
    switch (k) {
    case K_STR:
        *out = json_stringn(s, len);
        if (!*out && !vs_json_valid_utf8(s, len))
            return err_at(b, m, "string is not valid UTF-8");
        return *out ? VS_OK : vs_error_set(VS_ERR_NOMEM, "out of memory");
    case K_NULL:
        *out = json_null();
        return VS_OK;
    case K_BOOL: {
        bool v;
        int r;
        if ((r = construct_bool(s, &v)) < 0)
            return vs_error_set(VS_ERR_NOMEM, "out of memory");
        if (!r)
            return err_at(b, m, "invalid boolean '%s'", s);
        *out = json_boolean(v);
        return VS_OK;
    }
    case K_INT: {
        json_int_t v;
        int r;
        if ((r = construct_int(s, &v)) < 0)
            return vs_error_set(VS_ERR_NOMEM, "out of memory");
        if (!r)
            return err_at(b, m, "invalid or out-of-range (64-bit) integer '%s'", s);
        *out = json_integer(v);
        break;
    }
    case K_FLOAT:
        return make_float(b, m, s, out);
    case K_MERGE:
    case K_VALUE:
        return err_at(b, m, "'%s' is only allowed as a mapping key", s);
    }
    return *out ? VS_OK : vs_error_set(VS_ERR_NOMEM, "out of memory");
}

static struct anchor *anchor_find(struct builder *b, const char *name)
{
    for (size_t i = 0; i < b->n_anchors; i++)
        if (strcmp(b->anchors[i].name, name) == 0)
            return &b->anchors[i];
    return NULL;
}

/* Declares an anchor; value may be NULL (a collection under construction). */
static enum vs_status anchor_declare(struct builder *b, const char *name, json_t *value, const yaml_mark_t *m)
{
    struct anchor *old = anchor_find(b, name);
    if (old)
        return err_at(b, m, "duplicate anchor '&%s' (first defined at line %d)", name, old->line);
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? 2 * b->cap_anchors : 16;
        struct anchor *a = vs_realloc(b->anchors, cap * sizeof *a);
        if (!a)
            return VS_ERR_NOMEM;
        b->anchors = a;
        b->cap_anchors = cap;
    }
    char *copy = vs_strdup(name);
    if (!copy)
        return VS_ERR_NOMEM;
    b->anchors[b->n_anchors++] = (struct anchor){copy, json_incref(value), line_of(m)};
    return VS_OK;
}

static struct frame *top(struct builder *b) { return b->depth ? &b->stack[b->depth - 1] : NULL; }

/* A mapping key: a scalar (or an alias to one) that must be a string. */
static enum vs_status take_key(struct builder *b, struct frame *f, const json_t *value, bool is_merge,
                               const yaml_mark_t *m)
{
    if (is_merge) {
        if (f->seen_merge)
            return err_at(b, m, "duplicate key '<<'");
        f->seen_merge = f->have_key = f->key_is_merge = true;
        f->key_line = line_of(m);
        return VS_OK;
    }
    if (!json_is_string(value)) {
        char text[64] = "";
        if (json_is_integer(value))
            snprintf(text, sizeof text, " '%" JSON_INTEGER_FORMAT "'", json_integer_value(value));
        else if (json_is_boolean(value))
            snprintf(text, sizeof text, " '%s'", json_is_true(value) ? "true" : "false");
        return err_at(b, m, "mapping key%s is %s, not a string (quote it)", text, kind_name(value));
    }
    const char *key = json_string_value(value);
    size_t len = json_string_length(value);
    if (strlen(key) != len)
        return err_at(b, m, "mapping key contains a NUL character");
    if (len > MAX_KEY_LEN)
        return err_at(b, m, "mapping key longer than %d characters", MAX_KEY_LEN);
    if (json_object_get(f->node, key))
        return err_at(b, m, "duplicate key '%s' (first defined at line %d)", key,
                      vs_yaml_doc_key_line(b->doc, f->node, key));
    if (!(f->key = vs_strdup(key)))
        return VS_ERR_NOMEM;
    f->have_key = true;
    f->key_is_merge = false;
    f->key_line = line_of(m);
    return VS_OK;
}

/* Stores a finished value (stolen reference) into the current collection or as the root. */
static enum vs_status attach(struct builder *b, json_t *v, const yaml_mark_t *m)
{
    struct frame *f = top(b);
    enum vs_status st = VS_OK;
    if (!f) {
        b->doc->root = v;
        b->have_root = true;
        return VS_OK;
    }
    if (!f->is_map) {
        size_t index = json_array_size(f->node);
        if (json_array_append_new(f->node, v) != 0)
            return vs_error_set(VS_ERR_NOMEM, "out of memory");
        return mark_add(b->doc, f->node, NULL, index, line_of(m));
    }
    if (f->key_is_merge) {
        if (!f->merges && !(f->merges = json_array()))
            st = VS_ERR_NOMEM;
        else if (json_is_object(v))
            st = json_array_append(f->merges, v) == 0 ? VS_OK : VS_ERR_NOMEM;
        else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v) && st == VS_OK; i++) {
                json_t *item = json_array_get(v, i);
                if (!json_is_object(item))
                    st = err_at(b, m, "merge key '<<': item %zu is %s, expected a mapping", i, kind_name(item));
                else if (json_array_append(f->merges, item) != 0)
                    st = VS_ERR_NOMEM;
            }
        } else
            st = err_at(b, m, "merge key '<<' expects a mapping or a sequence of mappings, found %s",
                        kind_name(v));
        json_decref(v);
    } else {
        if (json_object_set_new(f->node, f->key, v) != 0)
            return vs_error_set(VS_ERR_NOMEM, "out of memory");
        st = mark_add(b->doc, f->node, f->key, 0, f->key_line);
        free(f->key);
        f->key = NULL;
    }
    f->have_key = f->key_is_merge = false;
    return st == VS_ERR_NOMEM ? vs_error_set(st, "out of memory") : st;
}

static enum vs_status on_value(struct builder *b, json_t *v, const char *anchor, bool plain_merge,
                               const yaml_mark_t *m)
{
    struct frame *f = top(b);
    enum vs_status st = VS_OK;
    if (anchor)
        st = anchor_declare(b, anchor, v, m);
    if (st == VS_OK && f && f->is_map && !f->have_key) {
        st = take_key(b, f, v, plain_merge, m);
        json_decref(v);
        return st;
    }
    if (st != VS_OK) {
        json_decref(v);
        return st;
    }
    return attach(b, v, m);
}

static enum vs_status on_start(struct builder *b, bool is_map, const char *anchor, const char *tag,
                               const yaml_mark_t *m)
{
    struct frame *f = top(b);
    if (f && f->is_map && !f->have_key)
        return err_at(b, m, "a %s used as a mapping key is not supported", is_map ? "mapping" : "sequence");
    if (tag && strcmp(tag, "!") != 0 && strcmp(tag, is_map ? TAG("map") : TAG("seq")) != 0)
        return err_at(b, m, "unsupported tag '%s' on a %s", tag, is_map ? "mapping" : "sequence");
    if (b->depth >= MAX_DEPTH)
        return err_at(b, m, "nesting deeper than %d levels", MAX_DEPTH);
    if (b->depth == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct frame *s = vs_realloc(b->stack, cap * sizeof *s);
        if (!s)
            return VS_ERR_NOMEM;
        b->stack = s;
        b->cap = cap;
    }
    f = &b->stack[b->depth];
    memset(f, 0, sizeof *f);
    f->is_map = is_map;
    f->start = *m;
    f->node = is_map ? json_object() : json_array();
    if (!f->node)
        return vs_error_set(VS_ERR_NOMEM, "out of memory");
    b->depth++;
    if (anchor) {
        if (!(f->anchor = vs_strdup(anchor)))
            return VS_ERR_NOMEM;
        return anchor_declare(b, anchor, NULL, m);
    }
    return VS_OK;
}

static void frame_clear(struct frame *f)
{
    json_decref(f->node);
    json_decref(f->merges);
    free(f->key);
    free(f->anchor);
    memset(f, 0, sizeof *f);
}

static enum vs_status on_end(struct builder *b)
{
    struct frame *f = top(b);
    yaml_mark_t m = f->start;
    enum vs_status st = VS_OK;
    /* Merged members fill in keys not given explicitly; earlier sources win. */
    for (size_t i = 0; f->merges && i < json_array_size(f->merges) && st == VS_OK; i++) {
        json_t *src = json_array_get(f->merges, i), *v;
        const char *k;
        json_object_foreach(src, k, v) {
            if (json_object_get(f->node, k))
                continue;
            if (json_object_set(f->node, k, v) != 0) {
                st = vs_error_set(VS_ERR_NOMEM, "out of memory");
                break;
            }
            if ((st = mark_add(b->doc, f->node, k, 0, vs_yaml_doc_key_line(b->doc, src, k))) != VS_OK)
                break;
        }
    }
    json_t *node = json_incref(f->node);
    if (st == VS_OK && f->anchor) {
        struct anchor *a = anchor_find(b, f->anchor);
        a->node = json_incref(node);
    }
    frame_clear(f);
    b->depth--;
    if (st != VS_OK) {
        json_decref(node);
        return st;
    }
    return attach(b, node, &m);
}

static enum vs_status on_alias(struct builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    const struct anchor *a = anchor_find(b, name);
    if (!a)
        return err_at(b, &ev->start_mark, "undefined alias '*%s'", name);
    if (!a->node)
        return err_at(b, &ev->start_mark, "recursive alias '*%s' (inside the node anchored at line %d)", name,
                      a->line);
    return on_value(b, json_incref(a->node), NULL, false, &ev->start_mark);
}

static enum vs_status on_event(struct builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->doc_ended)
            return err_at(b, &ev->start_mark, "expected a single document in the stream, found another document");
        return VS_OK;
    case YAML_DOCUMENT_END_EVENT:
        b->doc_ended = true;
        return VS_OK;
    case YAML_SCALAR_EVENT: {
        struct frame *f = top(b);
        const char *tag = (const char *)ev->data.scalar.tag, *s = (const char *)ev->data.scalar.value;
        const char *anchor = (const char *)ev->data.scalar.anchor;
        bool implicit = (!tag || strcmp(tag, "!") == 0) && ev->data.scalar.plain_implicit;
        json_t *v;
        if (f && f->is_map && !f->have_key) {
            /* `<<` and `=` resolve to the merge and value tags, meaningful only as keys. */
            if ((implicit && strcmp(s, "<<") == 0) || (tag && strcmp(tag, TAG("merge")) == 0))
                return on_value(b, json_null(), anchor, true, &ev->start_mark);
            if (implicit && strcmp(s, "=") == 0) {
                if (!(v = json_string("=")))
                    return vs_error_set(VS_ERR_NOMEM, "out of memory");
                return on_value(b, v, anchor, false, &ev->start_mark);
            }
        }
        enum vs_status st = scalar_value(b, ev, &v);
        if (st != VS_OK)
            return st;
        return on_value(b, v, anchor, false, &ev->start_mark);
    }
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, false, (const char *)ev->data.sequence_start.anchor,
                        (const char *)ev->data.sequence_start.tag, &ev->start_mark);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, true, (const char *)ev->data.mapping_start.anchor,
                        (const char *)ev->data.mapping_start.tag, &ev->start_mark);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return VS_OK;
    }
}

static enum vs_status parser_error(const struct builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return vs_error_set(VS_ERR_NOMEM, "%s: out of memory while parsing YAML", b->path);
    size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors carry a byte offset, not a mark. */
        line = 1;
        col = 1;
        for (size_t i = 0; i < p->problem_offset && b->text[i]; i++) {
            if (b->text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return vs_error_set(VS_ERR_FORMAT, "%s:%zu:%zu: invalid text: %s", b->path, line, col,
                            p->problem ? p->problem : "unreadable character");
    }
    if (p->context)
        return vs_error_set(VS_ERR_FORMAT, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu, column %zu)",
                            b->path, line, col, p->problem ? p->problem : "error", p->context,
                            p->context_mark.line + 1, p->context_mark.column + 1);
    return vs_error_set(VS_ERR_FORMAT, "%s:%zu:%zu: YAML syntax error: %s", b->path, line, col,
                        p->problem ? p->problem : "error");
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

enum vs_status vs_yaml_doc_load(const char *path, struct vs_yaml_doc **out)
{
    *out = NULL;
    if (!has_suffix(path, ".yaml") && !has_suffix(path, ".yml"))
        return vs_error_set(VS_ERR_FORMAT, "%s: not a YAML file name (expected a .yaml or .yml extension)", path);
    char *text;
    size_t len;
    enum vs_status st = vs_fs_read_file(path, &text, &len);
    if (st != VS_OK)
        return st;

    struct builder b = {.path = path, .text = text};
    yaml_parser_t parser;
    bool parser_ok = false, re_ok = false;
    if (!(b.doc = vs_calloc(1, sizeof *b.doc)) || !(b.doc->path = vs_strdup(path))) {
        st = VS_ERR_NOMEM;
        goto done;
    }
    if (regcomp(&b.float_re, FLOAT_RE, REG_EXTENDED | REG_NOSUB) != 0) {
        st = vs_error_set(VS_ERR_INTERNAL, "cannot compile the YAML float pattern");
        goto done;
    }
    if (regcomp(&b.int_re, INT_RE, REG_EXTENDED | REG_NOSUB) != 0) {
        regfree(&b.float_re);
        st = vs_error_set(VS_ERR_INTERNAL, "cannot compile the YAML int pattern");
        goto done;
    }
    re_ok = true;
    if (!yaml_parser_initialize(&parser)) {
        st = vs_error_set(VS_ERR_NOMEM, "out of memory");
        goto done;
    }
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parser_error(&b, &parser);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        st = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (st != VS_OK || end)
            break;
    }
done:
    if (st == VS_ERR_NOMEM && !strstr(vs_error_message(), "out of memory"))
        vs_error_set(VS_ERR_NOMEM, "%s: out of memory", path);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (re_ok) {
        regfree(&b.float_re);
        regfree(&b.int_re);
    }
    while (b.depth)
        frame_clear(&b.stack[--b.depth]);
    free(b.stack);
    for (size_t i = 0; i < b.n_anchors; i++) {
        free(b.anchors[i].name);
        json_decref(b.anchors[i].node);
    }
    free(b.anchors);
    free(text);
    if (st != VS_OK) {
        vs_yaml_doc_free(b.doc);
        return st;
    }
    if (!b.have_root) /* an empty stream: PyYAML returns None */
        b.doc->root = json_null();
    *out = b.doc;
    return VS_OK;
}

enum vs_status vs_yaml_load_file(const char *path, json_t **out)
{
    struct vs_yaml_doc *doc;
    enum vs_status st = vs_yaml_doc_load(path, &doc);
    if (st != VS_OK)
        return st;
    *out = json_incref(doc->root);
    vs_yaml_doc_free(doc);
    return VS_OK;
}
