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

struct jarena_chunk {
    struct jarena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

_Thread_local jmp_buf *ja_oom;

#define JA_CHUNK (64 * 1024)

void *ja_alloc(struct jarena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct jarena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > JA_CHUNK / 4 ? n : JA_CHUNK;
        c = calloc(1, sizeof(*c) + cap);
        if (!c) {
            vs_error_set(VS_ERR_NOMEM, "out of memory rendering a chat template");
            longjmp(*ja_oom, 2);
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

char *ja_strndup(struct jarena *a, const char *s, size_t n)
{
    char *p = ja_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ja_free(struct jarena *a)
{
    for (struct jarena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

void jb_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = ja_alloc(b->a, cap);
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void jb_puts(struct jbuf *b, const char *s) { jb_put(b, s, strlen(s)); }
void jb_putc(struct jbuf *b, char c) { jb_put(b, &c, 1); }

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        jb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = ja_alloc(b->a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jb_put(b, big, (size_t)n);
}

/* ---- errors ---- */

_Noreturn void jfail(struct jerr *e, size_t pos, const char *fmt, ...)
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

uint32_t u8_next(const char *s, size_t len, size_t *i)
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

void u8_put(struct jbuf *b, uint32_t cp)
{
    utf8proc_uint8_t tmp[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, tmp);
    jb_put(b, (const char *)tmp, (size_t)n);
}

size_t u8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

size_t u8_check(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return i;
        i += (size_t)n;
    }
    return len;
}

bool py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

bool py_islinebreak(uint32_t c)
{
    return (c >= 0x0A && c <= 0x0D) || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 ||
           c == 0x2029;
}

bool py_isprintable(uint32_t c)
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

struct jv jv_undef_plain = {.kind = JV_UNDEF};
struct jv jv_none = {.kind = JV_NONE};
struct jv jv_true = {.kind = JV_BOOL, .u.b = true};
struct jv jv_false = {.kind = JV_BOOL, .u.b = false};

struct jv *jv_new(struct jarena *a, enum jv_kind k)
{
    struct jv *v = ja_alloc(a, sizeof *v);
    v->kind = k;
    return v;
}

struct jv *jv_int(struct jarena *a, int64_t i)
{
    struct jv *v = jv_new(a, JV_INT);
    v->u.i = i;
    return v;
}

struct jv *jv_float(struct jarena *a, double f)
{
    struct jv *v = jv_new(a, JV_FLOAT);
    v->u.f = f;
    return v;
}

struct jv *jv_bool(bool b) { return b ? &jv_true : &jv_false; }

struct jv *jv_str_own(struct jarena *a, const char *s, size_t n)
{
    struct jv *v = jv_new(a, JV_STR);
    v->u.str.s = s;
    v->u.str.len = n;
    return v;
}

struct jv *jv_strn(struct jarena *a, const char *s, size_t n) { return jv_str_own(a, ja_strndup(a, s, n), n); }

struct jv *jv_list(struct jarena *a, enum jv_kind k) { return jv_new(a, k); }

void jv_push(struct jarena *a, struct jv *l, struct jv *item)
{
    if (l->u.list.n == l->u.list.cap) {
        size_t cap = l->u.list.cap ? l->u.list.cap * 2 : 4;
        struct jv **v = ja_alloc(a, cap * sizeof *v);
        if (l->u.list.n)
            memcpy(v, l->u.list.v, l->u.list.n * sizeof *v);
        l->u.list.v = v;
        l->u.list.cap = cap;
    }
    l->u.list.v[l->u.list.n++] = item;
}

struct jv *jv_dict(struct jarena *a, enum jv_kind k)
{
    struct jv *v = jv_new(a, k);
    v->u.dict = ja_alloc(a, sizeof *v->u.dict);
    return v;
}

struct jv *jv_undef(struct jarena *a, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    struct jv *v = jv_new(a, JV_UNDEF);
    v->u.str.s = ja_strndup(a, tmp, n < 0 ? 0 : (size_t)n >= sizeof tmp ? sizeof tmp - 1 : (size_t)n);
    return v;
}

struct jv *jd_get(const struct jv *d, const char *k, size_t klen)
{
    const struct jdict *t = d->u.dict;
    for (size_t i = 0; i < t->n; i++)
        if (t->klen[i] == klen && memcmp(t->k[i], k, klen) == 0)
            return t->v[i];
    return NULL;
}

void jd_set(struct jarena *a, struct jv *d, const char *k, size_t klen, struct jv *v)
{
    struct jdict *t = d->u.dict;
    for (size_t i = 0; i < t->n; i++)
        if (t->klen[i] == klen && memcmp(t->k[i], k, klen) == 0) {
            t->v[i] = v;
            return;
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        const char **nk = ja_alloc(a, cap * sizeof *nk);
        size_t *nl = ja_alloc(a, cap * sizeof *nl);
        struct jv **nv = ja_alloc(a, cap * sizeof *nv);
        if (t->n) {
            memcpy(nk, t->k, t->n * sizeof *nk);
            memcpy(nl, t->klen, t->n * sizeof *nl);
            memcpy(nv, t->v, t->n * sizeof *nv);
        }
        t->k = nk;
        t->klen = nl;
        t->v = nv;
        t->cap = cap;
    }
    t->k[t->n] = ja_strndup(a, k, klen);
    t->klen[t->n] = klen;
    t->v[t->n++] = v;
}

struct jv *jv_from_json(struct jarena *a, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct jv *d = jv_dict(a, JV_DICT);
        const char *k;
        size_t klen;
        json_t *v;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, k, klen, v) jd_set(a, d, k, klen, jv_from_json(a, v));
        return d;
    }
    case JSON_ARRAY: {
        struct jv *l = jv_list(a, JV_LIST);
        for (size_t i = 0; i < json_array_size(j); i++)
            jv_push(a, l, jv_from_json(a, json_array_get(j, i)));
        return l;
    }
    case JSON_STRING:
        return jv_strn(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return jv_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL:
        return jv_float(a, json_real_value(j));
    case JSON_TRUE:
        return &jv_true;
    case JSON_FALSE:
        return &jv_false;
    default:
        return &jv_none;
    }
}

/* ---- Python semantics ---- */

bool jv_is_seq(const struct jv *v) { return v->kind == JV_LIST || v->kind == JV_TUPLE; }

bool jv_truthy(const struct jv *v)
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

static bool is_num(const struct jv *v) { return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL; }
static double num_f(const struct jv *v)
{
    return v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : (double)v->u.b;
}
static int64_t num_i(const struct jv *v) { return v->kind == JV_INT ? v->u.i : (int64_t)v->u.b; }

bool jv_equal(const struct jv *a, const struct jv *b)
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
            if (!jv_equal(a->u.list.v[i], b->u.list.v[i]))
                return false;
        return true;
    case JV_DICT: {
        if (a->u.dict->n != b->u.dict->n)
            return false;
        for (size_t i = 0; i < a->u.dict->n; i++) {
            struct jv *o = jd_get(b, a->u.dict->k[i], a->u.dict->klen[i]);
            if (!o || !jv_equal(a->u.dict->v[i], o))
                return false;
        }
        return true;
    }
    default:
        return a == b;
    }
}

const char *jv_type_name(const struct jv *v)
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
static void fold(struct jbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len;)
        u8_put(b, (uint32_t)utf8proc_tolower((utf8proc_int32_t)u8_next(s, len, &i)));
}

int jv_compare(struct jerr *e, size_t pos, const struct jv *a, const struct jv *b, bool fold_case)
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
        struct jarena tmp = {0};
        struct jbuf fx = {.a = &tmp}, fy = {.a = &tmp};
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
        ja_free(&tmp);
        return r;
    }
    if (jv_is_seq(a) && a->kind == b->kind && !a->gen && !b->gen) {
        size_t n = a->u.list.n < b->u.list.n ? a->u.list.n : b->u.list.n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a->u.list.v[i], b->u.list.v[i]))
                continue;
            return jv_compare(e, pos, a->u.list.v[i], b->u.list.v[i], fold_case);
        }
        return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    }
    jfail(e, pos, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

/* ---- str() and repr() ---- */

/* Python's repr(float): the shortest digits that round-trip, scientific below 1e-4 or from 1e16. */
void py_float_repr(struct jbuf *b, double f)
{
    if (isnan(f)) {
        jb_puts(b, "nan");
        return;
    }
    if (isinf(f)) {
        jb_puts(b, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        jb_puts(b, signbit(f) ? "-0.0" : "0.0");
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
        jb_putc(b, '-');
    if (exp10 < -4 || exp10 >= 16) {
        jb_putc(b, digits[0]);
        if (nd > 1) {
            jb_putc(b, '.');
            jb_put(b, digits + 1, (size_t)nd - 1);
        }
        jb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        jb_puts(b, "0.");
        for (int i = -1; i > exp10; i--)
            jb_putc(b, '0');
        jb_put(b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= exp10; i++)
            jb_putc(b, i < nd ? digits[i] : '0');
        jb_putc(b, '.');
        if (nd > exp10 + 1)
            jb_put(b, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
        else
            jb_putc(b, '0');
    }
}

static void repr_str(struct jbuf *b, const char *s, size_t len)
{
    bool sq = memchr(s, '\'', len) != NULL, dq = memchr(s, '"', len) != NULL;
    char q = sq && !dq ? '"' : '\'';
    jb_putc(b, q);
    for (size_t i = 0; i < len;) {
        size_t start = i;
        uint32_t c = u8_next(s, len, &i);
        if (c == (uint32_t)q || c == '\\') {
            jb_putc(b, '\\');
            jb_putc(b, (char)c);
        } else if (c == '\n') {
            jb_puts(b, "\\n");
        } else if (c == '\r') {
            jb_puts(b, "\\r");
        } else if (c == '\t') {
            jb_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            jb_printf(b, "\\x%02x", c);
        } else if (c >= 0x80 && !py_isprintable(c)) {
            if (c <= 0xFF)
                jb_printf(b, "\\x%02x", c);
            else if (c <= 0xFFFF)
                jb_printf(b, "\\u%04x", c);
            else
                jb_printf(b, "\\U%08x", c);
        } else {
            jb_put(b, s + start, i - start);
        }
    }
    jb_putc(b, q);
}

/* Containers being printed, to print a cycle (a namespace that holds itself) as Python does. */
struct repr_stack {
    const void *open[200];
    int n;
};
static void repr_any(struct jbuf *b, const struct jv *v, bool top, struct repr_stack *st);

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

static void repr_dict_body(struct jbuf *b, const struct jv *v, struct repr_stack *st)
{
    if (!repr_enter(st, v->u.dict)) {
        jb_puts(b, "{...}");
        return;
    }
    jb_putc(b, '{');
    for (size_t i = 0; i < v->u.dict->n; i++) {
        if (i)
            jb_puts(b, ", ");
        repr_str(b, v->u.dict->k[i], v->u.dict->klen[i]);
        jb_puts(b, ": ");
        repr_any(b, v->u.dict->v[i], false, st);
    }
    jb_putc(b, '}');
    st->n--;
}

static void repr_any(struct jbuf *b, const struct jv *v, bool top, struct repr_stack *st)
{
    switch (v->kind) {
    case JV_UNDEF:
        if (!top)
            jb_puts(b, "Undefined");
        return;
    case JV_NONE:
        jb_puts(b, "None");
        return;
    case JV_BOOL:
        jb_puts(b, v->u.b ? "True" : "False");
        return;
    case JV_INT:
        jb_printf(b, "%lld", (long long)v->u.i);
        return;
    case JV_FLOAT:
        py_float_repr(b, v->u.f);
        return;
    case JV_STR:
        if (top)
            jb_put(b, v->u.str.s, v->u.str.len);
        else
            repr_str(b, v->u.str.s, v->u.str.len);
        return;
    case JV_LIST:
    case JV_TUPLE: {
        if (v->gen) {
            jb_puts(b, "<generator object>");
            return;
        }
        bool t = v->kind == JV_TUPLE;
        jb_putc(b, t ? '(' : '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                jb_puts(b, ", ");
            repr_any(b, v->u.list.v[i], false, st);
        }
        if (t && v->u.list.n == 1)
            jb_putc(b, ',');
        jb_putc(b, t ? ')' : ']');
        return;
    }
    case JV_DICT:
        repr_dict_body(b, v, st);
        return;
    case JV_NS:
        jb_puts(b, "<Namespace ");
        repr_dict_body(b, v, st);
        jb_putc(b, '>');
        return;
    case JV_FUNC:
        if (v->u.fn->kind == JF_MACRO)
            jb_printf(b, "<Macro '%s'>", v->u.fn->name);
        else
            jb_printf(b, "<function %s>", v->u.fn->name);
        return;
    case JV_LOOP:
        jb_printf(b, "<LoopContext %zu/%zu>", v->u.loop->i + 1, v->u.loop->n);
        return;
    }
}

void jv_str(struct jbuf *b, const struct jv *v)
{
    struct repr_stack st = {.n = 0};
    repr_any(b, v, true, &st);
}

void jv_repr(struct jbuf *b, const struct jv *v)
{
    struct repr_stack st = {.n = 0};
    repr_any(b, v, false, &st);
}

struct jv *jv_to_str(struct jarena *a, const struct jv *v)
{
    if (v->kind == JV_STR)
        return (struct jv *)v;
    struct jbuf b = {.a = a};
    jv_str(&b, v);
    return jv_str_own(a, b.p ? b.p : "", b.len);
}

/* ---- json.dumps ---- */

static void json_str(struct jbuf *b, const char *s, size_t len, bool ascii)
{
    jb_putc(b, '"');
    for (size_t i = 0; i < len;) {
        size_t start = i;
        uint32_t c = u8_next(s, len, &i);
        switch (c) {
        case '"':
            jb_puts(b, "\\\"");
            break;
        case '\\':
            jb_puts(b, "\\\\");
            break;
        case '\n':
            jb_puts(b, "\\n");
            break;
        case '\r':
            jb_puts(b, "\\r");
            break;
        case '\t':
            jb_puts(b, "\\t");
            break;
        case '\b':
            jb_puts(b, "\\b");
            break;
        case '\f':
            jb_puts(b, "\\f");
            break;
        default:
            if (c < 0x20 || (ascii && c > 0x7E)) {
                if (c >= 0x10000) {
                    uint32_t v = c - 0x10000;
                    jb_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    jb_printf(b, "\\u%04x", c);
                }
            } else {
                jb_put(b, s + start, i - start);
            }
        }
    }
    jb_putc(b, '"');
}

static void json_newline(struct jbuf *b, const struct tojson_opts *o, int depth)
{
    jb_putc(b, '\n');
    for (int d = 0; d < depth; d++) {
        if (o->indent_str)
            jb_puts(b, o->indent_str);
        else
            for (int k = 0; k < o->indent; k++)
                jb_putc(b, ' ');
    }
}

struct kv_ref {
    const char *k;
    size_t klen;
    struct jv *v;
};

static int kv_cmp(const void *x, const void *y)
{
    const struct kv_ref *a = x, *b = y;
    int c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

void jv_tojson(struct jerr *e, size_t pos, struct jbuf *b, const struct jv *v, const struct tojson_opts *o,
               int depth)
{
    bool pretty = o->indent >= 0 || o->indent_str;
    const char *item_sep = o->item_sep ? o->item_sep : pretty ? "," : ", ";
    const char *key_sep = o->key_sep ? o->key_sep : ": ";
    if (depth > 200)
        jfail(e, pos, "tojson: nesting too deep");
    switch (v->kind) {
    case JV_NONE:
        jb_puts(b, "null");
        return;
    case JV_BOOL:
        jb_puts(b, v->u.b ? "true" : "false");
        return;
    case JV_INT:
        jb_printf(b, "%lld", (long long)v->u.i);
        return;
    case JV_FLOAT:
        if (isnan(v->u.f))
            jb_puts(b, "NaN");
        else if (isinf(v->u.f))
            jb_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
        else
            py_float_repr(b, v->u.f);
        return;
    case JV_STR:
        json_str(b, v->u.str.s, v->u.str.len, o->ensure_ascii);
        return;
    case JV_LIST:
    case JV_TUPLE:
        if (v->gen)
            break;
        if (v->u.list.n == 0) {
            jb_puts(b, "[]");
            return;
        }
        jb_putc(b, '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                jb_puts(b, item_sep);
            if (pretty)
                json_newline(b, o, depth + 1);
            jv_tojson(e, pos, b, v->u.list.v[i], o, depth + 1);
        }
        if (pretty)
            json_newline(b, o, depth);
        jb_putc(b, ']');
        return;
    case JV_DICT: {
        size_t n = v->u.dict->n;
        if (n == 0) {
            jb_puts(b, "{}");
            return;
        }
        struct kv_ref *kv = ja_alloc(b->a, n * sizeof *kv);
        for (size_t i = 0; i < n; i++)
            kv[i] = (struct kv_ref){v->u.dict->k[i], v->u.dict->klen[i], v->u.dict->v[i]};
        if (o->sort_keys)
            qsort(kv, n, sizeof *kv, kv_cmp);
        jb_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                jb_puts(b, item_sep);
            if (pretty)
                json_newline(b, o, depth + 1);
            json_str(b, kv[i].k, kv[i].klen, o->ensure_ascii);
            jb_puts(b, key_sep);
            jv_tojson(e, pos, b, kv[i].v, o, depth + 1);
        }
        if (pretty)
            json_newline(b, o, depth);
        jb_putc(b, '}');
        return;
    }
    default:
        break;
    }
    jfail(e, pos, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
}
