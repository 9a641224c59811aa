/* Values of the Jinja interpreter: arena, Python semantics of truth, equality, ordering, str(),
 * repr() and json.dumps (transformers' tojson), and the UTF-8 helpers they need. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "base/status.h"
#include "text/jinja.h"

/* ---- arena ---- */

struct vs_jarena_chunk {
    struct vs_jarena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

_Thread_local jmp_buf *vs_ja_oom;

#define JA_CHUNK (64 * 1024)

void *vs_ja_grow(struct vs_jarena *a, const void *old, size_t n, size_t cap, size_t elem)
{
    void *p = vs_ja_alloc(a, cap * elem);
    if (n)
        memcpy(p, old, n * elem);
    return p;
}

void *vs_ja_alloc(struct vs_jarena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct vs_jarena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > JA_CHUNK / 4 ? n : JA_CHUNK;
        c = vs_calloc(1, sizeof(*c) + cap);
        if (!c) {
            vs_error_set(VS_ERR_NOMEM, "out of memory rendering a chat template");
            longjmp(*vs_ja_oom, 2);
        }
        c->cap = cap;
        if (a->head && cap != JA_CHUNK) { /* a big block: keep the current chunk in front */
            c->next = a->head->next;
            a->head->next = c;
            c->used = n;
            return c->data;
        }
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

char *vs_ja_strndup(struct vs_jarena *a, const char *s, size_t n)
{
    char *p = vs_ja_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void vs_ja_free(struct vs_jarena *a)
{
    for (struct vs_jarena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

void vs_jb_put(struct vs_jbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = vs_ja_grow(b->a, b->p, b->len, cap, 1);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void vs_jb_puts(struct vs_jbuf *b, const char *s)
{
    vs_jb_put(b, s, strlen(s));
}
void vs_jb_putc(struct vs_jbuf *b, char c)
{
    vs_jb_put(b, &c, 1);
}

void vs_jb_printf(struct vs_jbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        vs_jb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = vs_ja_alloc(b->a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    vs_jb_put(b, big, (size_t)n);
}

/* ---- errors ---- */

_Noreturn void vs_jfail(struct vs_jerr *e, size_t pos, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < e->src_len; i++) {
        if (e->src[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)e->src[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    char msg[VS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vs_error_set(VS_ERR_FORMAT, "%s:%zu:%zu: %s", e->origin, line, col, msg);
    longjmp(e->jb, 1);
}

/* ---- UTF-8 ---- */

uint32_t vs_u8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i;
    uint32_t c = p[0];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n > left)
        n = left;
    if (n == 2)
        c = ((c & 0x1F) << 6) | (p[1] & 0x3F);
    else if (n == 3)
        c = ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    else if (n == 4)
        c = ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    *i += n;
    return c;
}

void vs_u8_put(struct vs_jbuf *b, uint32_t cp)
{
    utf8proc_uint8_t tmp[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, tmp);
    vs_jb_put(b, (const char *)tmp, (size_t)n);
}

size_t vs_u8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

size_t vs_u8_check(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return i;
        i += (size_t)n;
    }
    return len;
}

bool vs_py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

bool vs_py_islinebreak(uint32_t c)
{
    return (c >= 0x0A && c <= 0x0D) || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 || c == 0x2029;
}

bool vs_py_isprintable(uint32_t c)
{
    if (c == ' ')
        return true;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

/* ---- constructors ---- */

struct vs_jv vs_jv_none = {.kind = JV_NONE};
struct vs_jv vs_jv_true = {.kind = JV_BOOL, .u.b = true};
struct vs_jv vs_jv_false = {.kind = JV_BOOL, .u.b = false};

struct vs_jv *vs_jv_new(struct vs_jarena *a, enum vs_jv_kind k)
{
    struct vs_jv *v = vs_ja_alloc(a, sizeof *v);
    v->kind = k;
    return v;
}

struct vs_jv *vs_jv_int(struct vs_jarena *a, int64_t i)
{
    struct vs_jv *v = vs_jv_new(a, JV_INT);
    v->u.i = i;
    return v;
}

struct vs_jv *vs_jv_float(struct vs_jarena *a, double f)
{
    struct vs_jv *v = vs_jv_new(a, JV_FLOAT);
    v->u.f = f;
    return v;
}

struct vs_jv *vs_jv_bool(bool b)
{
    return b ? &vs_jv_true : &vs_jv_false;
}

struct vs_jv *vs_jv_str_own(struct vs_jarena *a, const char *s, size_t n)
{
    struct vs_jv *v = vs_jv_new(a, JV_STR);
    v->u.str.s = s;
    v->u.str.len = n;
    return v;
}

struct vs_jv *vs_jv_strn(struct vs_jarena *a, const char *s, size_t n)
{
    return vs_jv_str_own(a, vs_ja_strndup(a, s, n), n);
}

struct vs_jv *vs_jv_list(struct vs_jarena *a, enum vs_jv_kind k)
{
    return vs_jv_new(a, k);
}

void vs_jv_push(struct vs_jarena *a, struct vs_jv *l, struct vs_jv *item)
{
    if (l->u.list.n == l->u.list.cap) {
        size_t cap = l->u.list.cap ? l->u.list.cap * 2 : 4;
        l->u.list.v = vs_ja_grow(a, l->u.list.v, l->u.list.n, cap, sizeof *l->u.list.v);
        l->u.list.cap = cap;
    }
    l->u.list.v[l->u.list.n++] = item;
}

struct vs_jv *vs_jv_dict(struct vs_jarena *a, enum vs_jv_kind k)
{
    struct vs_jv *v = vs_jv_new(a, k);
    v->u.dict = vs_ja_alloc(a, sizeof *v->u.dict);
    return v;
}

struct vs_jv *vs_jv_undef(struct vs_jarena *a, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    struct vs_jv *v = vs_jv_new(a, JV_UNDEF);
    v->u.str.s = vs_ja_strndup(a, tmp, n < 0 ? 0 : (size_t)n >= sizeof tmp ? sizeof tmp - 1 : (size_t)n);
    return v;
}

struct vs_jv *vs_jd_get(const struct vs_jv *d, const char *k, size_t klen)
{
    const struct vs_jdict *t = d->u.dict;
    for (size_t i = 0; i < t->n; i++)
        if (t->klen[i] == klen && memcmp(t->k[i], k, klen) == 0)
            return t->v[i];
    return NULL;
}

void vs_jd_set(struct vs_jarena *a, struct vs_jv *d, const char *k, size_t klen, struct vs_jv *v)
{
    struct vs_jdict *t = d->u.dict;
    for (size_t i = 0; i < t->n; i++)
        if (t->klen[i] == klen && memcmp(t->k[i], k, klen) == 0) {
            t->v[i] = v;
            return;
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        t->k = vs_ja_grow(a, t->k, t->n, cap, sizeof *t->k);
        t->klen = vs_ja_grow(a, t->klen, t->n, cap, sizeof *t->klen);
        t->v = vs_ja_grow(a, t->v, t->n, cap, sizeof *t->v);
        t->cap = cap;
    }
    t->k[t->n] = vs_ja_strndup(a, k, klen);
    t->klen[t->n] = klen;
    t->v[t->n++] = v;
}

struct vs_jv *vs_jv_from_json(struct vs_jarena *a, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct vs_jv *d = vs_jv_dict(a, JV_DICT);
        const char *k;
        size_t klen;
        json_t *v;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, k, klen, v)
            vs_jd_set(a, d, k, klen, vs_jv_from_json(a, v));
        return d;
    }
    case JSON_ARRAY: {
        struct vs_jv *l = vs_jv_list(a, JV_LIST);
        for (size_t i = 0; i < json_array_size(j); i++)
            vs_jv_push(a, l, vs_jv_from_json(a, json_array_get(j, i)));
        return l;
    }
    case JSON_STRING:
        return vs_jv_strn(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return vs_jv_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL:
        return vs_jv_float(a, json_real_value(j));
    case JSON_TRUE:
        return &vs_jv_true;
    case JSON_FALSE:
        return &vs_jv_false;
    default:
        return &vs_jv_none;
    }
}

/* ---- Python semantics ---- */

bool vs_jv_is_seq(const struct vs_jv *v)
{
    return v->kind == JV_LIST || v->kind == JV_TUPLE;
}

bool vs_jv_truthy(const struct vs_jv *v)
{
    switch (v->kind) {
    case JV_UNDEF:
    case JV_NONE:
        return false;
    case JV_BOOL:
        return v->u.b;
    case JV_INT:
        return v->u.i != 0;
    case JV_FLOAT:
        return v->u.f != 0;
    case JV_STR:
        return v->u.str.len != 0;
    case JV_LIST:
        return v->gen || v->u.list.n != 0;
    case JV_TUPLE:
        return v->u.list.n != 0;
    case JV_DICT:
        return v->u.dict->n != 0;
    default:
        return true;
    }
}

static bool is_num(const struct vs_jv *v)
{
    return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL;
}
static double num_f(const struct vs_jv *v)
{
    return v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : (double)v->u.b;
}
static int64_t num_i(const struct vs_jv *v)
{
    return v->kind == JV_INT ? v->u.i : (int64_t)v->u.b;
}

bool vs_jv_equal(const struct vs_jv *a, const struct vs_jv *b)
{
    if (is_num(a) && is_num(b)) {
        if (a->kind != JV_FLOAT && b->kind != JV_FLOAT)
            return num_i(a) == num_i(b);
        return num_f(a) == num_f(b);
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case JV_UNDEF:
    case JV_NONE:
        return true;
    case JV_STR:
        return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case JV_LIST:
    case JV_TUPLE:
        if (a->gen || b->gen)
            return a == b;
        if (a->u.list.n != b->u.list.n)
            return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!vs_jv_equal(a->u.list.v[i], b->u.list.v[i]))
                return false;
        return true;
    case JV_DICT: {
        if (a->u.dict->n != b->u.dict->n)
            return false;
        for (size_t i = 0; i < a->u.dict->n; i++) {
            struct vs_jv *o = vs_jd_get(b, a->u.dict->k[i], a->u.dict->klen[i]);
            if (!o || !vs_jv_equal(a->u.dict->v[i], o))
                return false;
        }
        return true;
    }
    default:
        return a == b;
    }
}

const char *vs_jv_type_name(const struct vs_jv *v)
{
    switch (v->kind) {
    case JV_UNDEF:
        return "Undefined";
    case JV_NONE:
        return "NoneType";
    case JV_BOOL:
        return "bool";
    case JV_INT:
        return "int";
    case JV_FLOAT:
        return "float";
    case JV_STR:
        return "str";
    case JV_LIST:
        return v->gen ? "generator" : "list";
    case JV_TUPLE:
        return "tuple";
    case JV_DICT:
        return "dict";
    case JV_NS:
        return "Namespace";
    case JV_FUNC:
        return v->u.fn->kind == JF_MACRO ? "Macro" : "function";
    case JV_LOOP:
        return "LoopContext";
    }
    return "object";
}

/* Lowercase copy for case-insensitive comparisons (simple case mapping). */
static void fold(struct vs_jbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len;)
        vs_u8_put(b, (uint32_t)utf8proc_tolower((utf8proc_int32_t)vs_u8_next(s, len, &i)));
}

int vs_jv_compare(struct vs_jerr *e, size_t pos, const struct vs_jv *a, const struct vs_jv *b, bool fold_case)
{
    if (is_num(a) && is_num(b)) {
        if (a->kind != JV_FLOAT && b->kind != JV_FLOAT)
            return num_i(a) < num_i(b) ? -1 : num_i(a) > num_i(b);
        double x = num_f(a), y = num_f(b);
        return x < y ? -1 : x > y;
    }
    if (a->kind == JV_STR && b->kind == JV_STR) {
        const char *x = a->u.str.s, *y = b->u.str.s;
        size_t xl = a->u.str.len, yl = b->u.str.len;
        struct vs_jarena tmp = {0};
        struct vs_jbuf fx = {.a = &tmp}, fy = {.a = &tmp};
        if (fold_case) {
            fold(&fx, x, xl);
            fold(&fy, y, yl);
            x = fx.p ? fx.p : "";
            xl = fx.len;
            y = fy.p ? fy.p : "";
            yl = fy.len;
        }
        int c = memcmp(x, y, xl < yl ? xl : yl);
        int r = c ? (c < 0 ? -1 : 1) : xl < yl ? -1 : xl > yl;
        vs_ja_free(&tmp);
        return r;
    }
    if (vs_jv_is_seq(a) && a->kind == b->kind && !a->gen && !b->gen) {
        size_t n = a->u.list.n < b->u.list.n ? a->u.list.n : b->u.list.n;
        for (size_t i = 0; i < n; i++) {
            if (vs_jv_equal(a->u.list.v[i], b->u.list.v[i]))
                continue;
            return vs_jv_compare(e, pos, a->u.list.v[i], b->u.list.v[i], fold_case);
        }
        return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    }
    vs_jfail(e, pos, "'<' not supported between instances of '%s' and '%s'", vs_jv_type_name(a),
             vs_jv_type_name(b));
}

/* ---- str() and repr() ---- */

/* Python's repr(float): the shortest digits that round-trip, scientific below 1e-4 or from 1e16. */
void vs_py_float_repr(struct vs_jbuf *b, double f)
{
    if (isnan(f)) {
        vs_jb_puts(b, "nan");
        return;
    }
    if (isinf(f)) {
        vs_jb_puts(b, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        vs_jb_puts(b, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char tmp[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    /* tmp = [-]d.ddde[+-]XX: collect the digits and the exponent */
    char digits[20];
    int nd = 0, exp10;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        vs_jb_putc(b, '-');
    if (exp10 < -4 || exp10 >= 16) {
        vs_jb_putc(b, digits[0]);
        if (nd > 1) {
            vs_jb_putc(b, '.');
            vs_jb_put(b, digits + 1, (size_t)nd - 1);
        }
        vs_jb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        vs_jb_puts(b, "0.");
        for (int i = -1; i > exp10; i--)
            vs_jb_putc(b, '0');
        vs_jb_put(b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= exp10; i++)
            vs_jb_putc(b, i < nd ? digits[i] : '0');
        vs_jb_putc(b, '.');
        if (nd > exp10 + 1)
            vs_jb_put(b, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
        else
            vs_jb_putc(b, '0');
    }
}

static void repr_str(struct vs_jbuf *b, const char *s, size_t len)
{
    bool sq = memchr(s, '\'', len) != NULL, dq = memchr(s, '"', len) != NULL;
    char q = sq && !dq ? '"' : '\'';
    vs_jb_putc(b, q);
    for (size_t i = 0; i < len;) {
        size_t start = i;
        uint32_t c = vs_u8_next(s, len, &i);
        if (c == (uint32_t)q || c == '\\') {
            vs_jb_putc(b, '\\');
            vs_jb_putc(b, (char)c);
        } else if (c == '\n') {
            vs_jb_puts(b, "\\n");
        } else if (c == '\r') {
            vs_jb_puts(b, "\\r");
        } else if (c == '\t') {
            vs_jb_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            vs_jb_printf(b, "\\x%02x", c);
        } else if (c >= 0x80 && !vs_py_isprintable(c)) {
            if (c <= 0xFF)
                vs_jb_printf(b, "\\x%02x", c);
            else if (c <= 0xFFFF)
                vs_jb_printf(b, "\\u%04x", c);
            else
                vs_jb_printf(b, "\\U%08x", c);
        } else {
            vs_jb_put(b, s + start, i - start);
        }
    }
    vs_jb_putc(b, q);
}

/* Containers being printed, to print a cycle (a namespace that holds itself) as Python does. */
struct repr_stack {
    const void *open[200];
    int n;
};
static void repr_any(struct vs_jbuf *b, const struct vs_jv *v, bool top, struct repr_stack *st);

static bool repr_enter(struct repr_stack *st, const void *p)
{
    for (int i = 0; i < st->n; i++)
        if (st->open[i] == p)
            return false;
    if (st->n == (int)(sizeof st->open / sizeof *st->open))
        return false;
    st->open[st->n++] = p;
    return true;
}

static void repr_dict_body(struct vs_jbuf *b, const struct vs_jv *v, struct repr_stack *st)
{
    if (!repr_enter(st, v->u.dict)) {
        vs_jb_puts(b, "{...}");
        return;
    }
    vs_jb_putc(b, '{');
    for (size_t i = 0; i < v->u.dict->n; i++) {
        if (i)
            vs_jb_puts(b, ", ");
        repr_str(b, v->u.dict->k[i], v->u.dict->klen[i]);
        vs_jb_puts(b, ": ");
        repr_any(b, v->u.dict->v[i], false, st);
    }
    vs_jb_putc(b, '}');
    st->n--;
}

static void repr_any(struct vs_jbuf *b, const struct vs_jv *v, bool top, struct repr_stack *st)
{
    switch (v->kind) {
    case JV_UNDEF:
        if (!top)
            vs_jb_puts(b, "Undefined");
        return;
    case JV_NONE:
        vs_jb_puts(b, "None");
        return;
    case JV_BOOL:
        vs_jb_puts(b, v->u.b ? "True" : "False");
        return;
    case JV_INT:
        vs_jb_printf(b, "%lld", (long long)v->u.i);
        return;
    case JV_FLOAT:
        vs_py_float_repr(b, v->u.f);
        return;
    case JV_STR:
        if (top)
            vs_jb_put(b, v->u.str.s, v->u.str.len);
        else
            repr_str(b, v->u.str.s, v->u.str.len);
        return;
    case JV_LIST:
    case JV_TUPLE: {
        if (v->gen) {
            vs_jb_puts(b, "<generator object>");
            return;
        }
        bool t = v->kind == JV_TUPLE;
        vs_jb_putc(b, t ? '(' : '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                vs_jb_puts(b, ", ");
            repr_any(b, v->u.list.v[i], false, st);
        }
        if (t && v->u.list.n == 1)
            vs_jb_putc(b, ',');
        vs_jb_putc(b, t ? ')' : ']');
        return;
    }
    case JV_DICT:
        repr_dict_body(b, v, st);
        return;
    case JV_NS:
        vs_jb_puts(b, "<Namespace ");
        repr_dict_body(b, v, st);
        vs_jb_putc(b, '>');
        return;
    case JV_FUNC:
        if (v->u.fn->kind == JF_MACRO)
            vs_jb_printf(b, "<Macro '%s'>", v->u.fn->name);
        else
            vs_jb_printf(b, "<function %s>", v->u.fn->name);
        return;
    case JV_LOOP:
        vs_jb_printf(b, "<LoopContext %zu/%zu>", v->u.loop->i + 1, v->u.loop->n);
        return;
    }
}

void vs_jv_str(struct vs_jbuf *b, const struct vs_jv *v)
{
    struct repr_stack st = {.n = 0};
    repr_any(b, v, true, &st);
}

void vs_jv_repr(struct vs_jbuf *b, const struct vs_jv *v)
{
    struct repr_stack st = {.n = 0};
    repr_any(b, v, false, &st);
}

struct vs_jv *vs_jv_to_str(struct vs_jarena *a, const struct vs_jv *v)
{
    if (v->kind == JV_STR)
        return (struct vs_jv *)v;
    struct vs_jbuf b = {.a = a};
    vs_jv_str(&b, v);
    return vs_jv_str_own(a, b.p ? b.p : "", b.len);
}

/* ---- json.dumps ---- */

static void json_str(struct vs_jbuf *b, const char *s, size_t len, bool ascii)
{
    vs_jb_putc(b, '"');
    for (size_t i = 0; i < len;) {
        size_t start = i;
        uint32_t c = vs_u8_next(s, len, &i);
        switch (c) {
        case '"':
            vs_jb_puts(b, "\\\"");
            break;
        case '\\':
            vs_jb_puts(b, "\\\\");
            break;
        case '\n':
            vs_jb_puts(b, "\\n");
            break;
        case '\r':
            vs_jb_puts(b, "\\r");
            break;
        case '\t':
            vs_jb_puts(b, "\\t");
            break;
        case '\b':
            vs_jb_puts(b, "\\b");
            break;
        case '\f':
            vs_jb_puts(b, "\\f");
            break;
        default:
            if (c < 0x20 || (ascii && c > 0x7E)) {
                if (c >= 0x10000) {
                    uint32_t v = c - 0x10000;
                    vs_jb_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    vs_jb_printf(b, "\\u%04x", c);
                }
            } else {
                vs_jb_put(b, s + start, i - start);
            }
        }
    }
    vs_jb_putc(b, '"');
}

static void json_newline(struct vs_jbuf *b, const struct vs_tojson_opts *o, int depth)
{
    vs_jb_putc(b, '\n');
    for (int d = 0; d < depth; d++) {
        if (o->indent_str)
            vs_jb_puts(b, o->indent_str);
        else
            for (int k = 0; k < o->indent; k++)
                vs_jb_putc(b, ' ');
    }
}

struct kv_ref {
    const char *k;
    size_t klen;
    struct vs_jv *v;
};

static int kv_cmp(const void *x, const void *y)
{
    const struct kv_ref *a = x, *b = y;
    int c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

void vs_jv_tojson(struct vs_jerr *e, size_t pos, struct vs_jbuf *b, const struct vs_jv *v,
                  const struct vs_tojson_opts *o, int depth)
{
    bool pretty = o->indent >= 0 || o->indent_str;
    const char *item_sep = o->item_sep ? o->item_sep : pretty ? "," : ", ";
    const char *key_sep = o->key_sep ? o->key_sep : ": ";
    if (depth > 200)
        vs_jfail(e, pos, "tojson: nesting too deep");
    switch (v->kind) {
    case JV_NONE:
        vs_jb_puts(b, "null");
        return;
    case JV_BOOL:
        vs_jb_puts(b, v->u.b ? "true" : "false");
        return;
    case JV_INT:
        vs_jb_printf(b, "%lld", (long long)v->u.i);
        return;
    case JV_FLOAT:
        if (isnan(v->u.f))
            vs_jb_puts(b, "NaN");
        else if (isinf(v->u.f))
            vs_jb_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
        else
            vs_py_float_repr(b, v->u.f);
        return;
    case JV_STR:
        json_str(b, v->u.str.s, v->u.str.len, o->ensure_ascii);
        return;
    case JV_LIST:
    case JV_TUPLE:
        if (v->gen)
            break;
        if (v->u.list.n == 0) {
            vs_jb_puts(b, "[]");
            return;
        }
        vs_jb_putc(b, '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                vs_jb_puts(b, item_sep);
            if (pretty)
                json_newline(b, o, depth + 1);
            vs_jv_tojson(e, pos, b, v->u.list.v[i], o, depth + 1);
        }
        if (pretty)
            json_newline(b, o, depth);
        vs_jb_putc(b, ']');
        return;
    case JV_DICT: {
        size_t n = v->u.dict->n;
        if (n == 0) {
            vs_jb_puts(b, "{}");
            return;
        }
        struct kv_ref *kv = vs_ja_alloc(b->a, n * sizeof *kv);
        for (size_t i = 0; i < n; i++)
            kv[i] = (struct kv_ref){v->u.dict->k[i], v->u.dict->klen[i], v->u.dict->v[i]};
        if (o->sort_keys)
            qsort(kv, n, sizeof *kv, kv_cmp);
        vs_jb_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                vs_jb_puts(b, item_sep);
            if (pretty)
                json_newline(b, o, depth + 1);
            json_str(b, kv[i].k, kv[i].klen, o->ensure_ascii);
            vs_jb_puts(b, key_sep);
            vs_jv_tojson(e, pos, b, kv[i].v, o, depth + 1);
        }
        if (pretty)
            json_newline(b, o, depth);
        vs_jb_putc(b, '}');
        return;
    }
    default:
        break;
    }
    vs_jfail(e, pos, "tojson: Object of type %s is not JSON serializable", vs_jv_type_name(v));
}
