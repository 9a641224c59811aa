/* Jinja2's built-in filters and tests (the ones chat templates use), with transformers' tojson
 * (json.dumps with ensure_ascii=False, indent, separators, sort_keys). Filters that return a
 * generator in Jinja2 (map, select, reject, selectattr, rejectattr, unique, items, reverse) mark
 * their list `gen`, so it is always truthy and has no length, as there. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/jinja.h"

typedef struct vs_jv *(*filter_fn)(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name);

static struct vs_jv *mkstr(struct vs_jrt *rt, struct vs_jbuf *b)
{
    return vs_jv_str_own(rt->a, b->p ? b->p : "", b->len);
}

static void check(struct vs_jrt *rt, struct vs_jargs *a, const char *name, const char *const *names, size_t n)
{
    char what[64];
    snprintf(what, sizeof what, "filter '%s'", name);
    vs_ja_check(rt, a, what, names, n);
}
#define ARGS(...)                                                   \
    do {                                                            \
        static const char *const names_[] = {__VA_ARGS__};          \
        check(rt, a, name, names_, sizeof names_ / sizeof *names_); \
    } while (0)
#define NOARGS() check(rt, a, name, NULL, 0)

/* soft_str: undefined prints as "" */
static struct vs_jv *sstr(struct vs_jrt *rt, struct vs_jv *v)
{
    return v->kind == JV_UNDEF ? vs_jv_strn(rt->a, "", 0) : vs_jv_to_str(rt->a, v);
}

static bool opt_bool(struct vs_jv *v, bool dflt)
{
    return v ? vs_jv_truthy(v) : dflt;
}

static int64_t opt_int(struct vs_jrt *rt, struct vs_jv *v, int64_t dflt, const char *what)
{
    if (!v || v->kind == JV_NONE)
        return dflt;
    if (v->kind != JV_INT && v->kind != JV_BOOL)
        vs_jfail(rt->err, rt->pos, "%s must be an integer, not %s", what, vs_jv_type_name(v));
    return v->kind == JV_INT ? v->u.i : v->u.b;
}

static struct vs_jv *mkgen(struct vs_jrt *rt)
{
    struct vs_jv *l = vs_jv_list(rt->a, JV_LIST);
    l->gen = true;
    return l;
}

/* Jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0. */
static struct vs_jv *attr_path(struct vs_jrt *rt, struct vs_jv *item, struct vs_jv *attr)
{
    if (attr->kind == JV_INT)
        return vs_jgetitem(rt, item, attr);
    if (attr->kind != JV_STR)
        vs_jfail(rt->err, rt->pos, "attribute must be a string or an integer");
    const char *p = attr->u.str.s, *end = p + attr->u.str.len;
    struct vs_jv *v = item;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        bool digits = n > 0;
        for (size_t k = 0; k < n; k++)
            digits = digits && p[k] >= '0' && p[k] <= '9';
        struct vs_jv *key = digits ? vs_jv_int(rt->a, strtoll(p, NULL, 10)) : vs_jv_strn(rt->a, p, n);
        v = vs_jgetitem(rt, v, key);
        if (!dot)
            break;
        p = dot + 1;
    }
    return v;
}

/* ---- strings ---- */

static struct vs_jv *f_case(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    struct vs_jv *s = sstr(rt, v);
    if (!strcmp(name, "upper"))
        return vs_jstr_case(rt, s, 'u');
    if (!strcmp(name, "lower"))
        return vs_jstr_case(rt, s, 'l');
    if (!strcmp(name, "capitalize"))
        return vs_jstr_case(rt, s, 'c');
    /* title: Jinja2 upper-cases the first character of every piece split at runs of -, space, ( { [ < */
    struct vs_jbuf b = {.a = rt->a};
    const char *p = s->u.str.s;
    size_t len = s->u.str.len;
    bool start = true;
    for (size_t i = 0; i < len;) {
        uint32_t c = vs_u8_next(p, len, &i);
        bool sep = vs_py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) {
            vs_u8_put(&b, c);
            start = true;
            continue;
        }
        vs_u8_put(&b, (uint32_t)(start ? utf8proc_toupper((utf8proc_int32_t)c)
                                       : utf8proc_tolower((utf8proc_int32_t)c)));
        start = false;
    }
    return mkstr(rt, &b);
}

static struct vs_jv *f_trim(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("chars");
    return vs_jstr_strip(rt, sstr(rt, v), vs_ja_arg(a, 0, "chars"), true, true);
}

static struct vs_jv *f_replace(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("old", "new", "count");
    struct vs_jv *o = vs_ja_arg(a, 0, "old"), *n = vs_ja_arg(a, 1, "new");
    if (!o || !n)
        vs_jfail(rt->err, rt->pos, "filter 'replace' needs the old and new strings");
    return vs_jstr_replace(rt, sstr(rt, v), sstr(rt, o), sstr(rt, n),
                           opt_int(rt, vs_ja_arg(a, 2, "count"), -1, "count"));
}

static struct vs_jv *f_indent(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("width", "first", "blank");
    struct vs_jv *w = vs_ja_arg(a, 0, "width");
    struct vs_jbuf ind = {.a = rt->a};
    if (w && w->kind == JV_STR)
        vs_jb_put(&ind, w->u.str.s, w->u.str.len);
    else
        for (int64_t k = opt_int(rt, w, 4, "width"); k > 0; k--)
            vs_jb_putc(&ind, ' ');
    bool first = opt_bool(vs_ja_arg(a, 1, "first"), false), blank = opt_bool(vs_ja_arg(a, 2, "blank"), false);
    vs_jneed(rt, v);
    if (v->kind != JV_STR) /* Jinja2 appends "\n" to the value itself */
        vs_jfail(rt->err, rt->pos, "unsupported operand type(s) for +=: '%s' and 'str'", vs_jv_type_name(v));
    struct vs_jv *s = v;
    /* Jinja2: s += "\n"; lines = s.splitlines(); ... */
    struct vs_jbuf src = {.a = rt->a};
    vs_jb_put(&src, s->u.str.s, s->u.str.len);
    vs_jb_putc(&src, '\n');
    struct vs_jargs none = {0};
    struct vs_jv *lines_v = vs_jgetattr(rt, mkstr(rt, &src), "splitlines", 10);
    struct vs_jv *lines = vs_jcall(rt, lines_v, &none);
    struct vs_jbuf b = {.a = rt->a};
    for (size_t i = 0; i < lines->u.list.n; i++) {
        struct vs_jv *ln = lines->u.list.v[i];
        if (i)
            vs_jb_putc(&b, '\n');
        bool do_ind = i == 0 ? first : (blank || ln->u.str.len > 0);
        if (do_ind)
            vs_jb_put(&b, ind.p ? ind.p : "", ind.len);
        vs_jb_put(&b, ln->u.str.s, ln->u.str.len);
    }
    return mkstr(rt, &b);
}

static struct vs_jv *f_center(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("width");
    struct vs_jv *s = sstr(rt, v);
    int64_t width = opt_int(rt, vs_ja_arg(a, 0, "width"), 80, "width"),
            len = (int64_t)vs_u8_count(s->u.str.s, s->u.str.len);
    if (width <= len)
        return s;
    int64_t marg = width - len, left = marg / 2 + (marg & width & 1);
    struct vs_jbuf b = {.a = rt->a};
    for (int64_t k = 0; k < left; k++)
        vs_jb_putc(&b, ' ');
    vs_jb_put(&b, s->u.str.s, s->u.str.len);
    for (int64_t k = 0; k < marg - left; k++)
        vs_jb_putc(&b, ' ');
    return mkstr(rt, &b);
}

static struct vs_jv *f_escape(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    struct vs_jv *s = sstr(rt, v);
    struct vs_jbuf b = {.a = rt->a};
    for (size_t i = 0; i < s->u.str.len; i++) {
        char c = s->u.str.s[i];
        switch (c) {
        case '&':
            vs_jb_puts(&b, "&amp;");
            break;
        case '<':
            vs_jb_puts(&b, "&lt;");
            break;
        case '>':
            vs_jb_puts(&b, "&gt;");
            break;
        case '"':
            vs_jb_puts(&b, "&#34;");
            break;
        case '\'':
            vs_jb_puts(&b, "&#39;");
            break;
        default:
            vs_jb_putc(&b, c);
        }
    }
    return mkstr(rt, &b);
}

static struct vs_jv *f_wordcount(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    struct vs_jv *s = sstr(rt, v);
    int64_t n = 0;
    bool in = false;
    for (size_t i = 0; i < s->u.str.len;) {
        uint32_t c = vs_u8_next(s->u.str.s, s->u.str.len, &i);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
        bool w = c == '_' || (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
                 (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
        if (w && !in)
            n++;
        in = w;
    }
    return vs_jv_int(rt->a, n);
}

static struct vs_jv *f_format(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    (void)name;
    struct vs_jv *args;
    if (a->nkw) {
        if (a->npos)
            vs_jfail(rt->err, rt->pos, "filter 'format' takes positional or keyword arguments, not both");
        args = vs_jv_dict(rt->a, JV_DICT);
        for (size_t i = 0; i < a->nkw; i++)
            vs_jd_set(rt->a, args, a->kw[i], strlen(a->kw[i]), a->kwv[i]);
    } else {
        args = vs_jv_list(rt->a, JV_TUPLE);
        for (size_t i = 0; i < a->npos; i++)
            vs_jv_push(rt->a, args, a->pos[i]);
    }
    return vs_jformat_percent(rt, sstr(rt, v), args);
}

static struct vs_jv *f_string(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    return sstr(rt, v);
}

static struct vs_jv *f_safe(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    return sstr(rt, v); /* Markup(value): a string */
}

static struct vs_jv *f_tojson(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("ensure_ascii", "indent", "separators", "sort_keys");
    struct vs_tojson_opts o = {.indent = -1};
    o.ensure_ascii = opt_bool(vs_ja_arg(a, 0, "ensure_ascii"), false);
    struct vs_jv *ind = vs_ja_arg(a, 1, "indent");
    if (ind && ind->kind == JV_STR)
        o.indent_str = ind->u.str.s;
    else if (ind && ind->kind != JV_NONE)
        o.indent = (int)opt_int(rt, ind, -1, "indent");
    if (o.indent < -1)
        o.indent = 0; /* Python: a negative indent inserts newlines only */
    struct vs_jv *sep = vs_ja_arg(a, 2, "separators");
    if (sep && sep->kind != JV_NONE) {
        if (!vs_jv_is_seq(sep) || sep->u.list.n != 2 || sep->u.list.v[0]->kind != JV_STR ||
            sep->u.list.v[1]->kind != JV_STR)
            vs_jfail(rt->err, rt->pos, "tojson: separators must be a pair of strings");
        o.item_sep = sep->u.list.v[0]->u.str.s;
        o.key_sep = sep->u.list.v[1]->u.str.s;
    }
    o.sort_keys = opt_bool(vs_ja_arg(a, 3, "sort_keys"), false);
    struct vs_jbuf b = {.a = rt->a};
    vs_jv_tojson(rt->err, rt->pos, &b, v, &o, 0);
    return mkstr(rt, &b);
}

/* ---- numbers ---- */

static bool parse_int_str(struct vs_jarena *a, const char *s, size_t len, int base, int64_t *out)
{
    char *tmp = vs_ja_alloc(a, len + 1), *w = tmp; /* out of memory: the render fails */
    size_t i = 0;
    while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    size_t e = len;
    while (e > i && (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r')))
        e--;
    bool ok = e > i;
    char prev = 0;
    for (size_t k = i; k < e; k++) {
        if (s[k] == '_') {
            ok = ok && prev && prev != '_' && prev != '-' && prev != '+' && k + 1 < e;
        } else {
            *w++ = s[k];
        }
        prev = s[k];
    }
    *w = 0;
    char *end;
    errno = 0;
    long long v = ok ? strtoll(tmp, &end, base) : 0;
    ok = ok && errno == 0 && *end == 0 && end != tmp;
    if (ok && base == 10 && (tmp[0] == '0' || ((tmp[0] == '-' || tmp[0] == '+') && tmp[1] == '0')))
        ok = strspn(tmp + (tmp[0] == '-' || tmp[0] == '+'), "0") ==
             strlen(tmp + (tmp[0] == '-' || tmp[0] == '+'));
    *out = (int64_t)v;
    return ok;
}

static bool parse_float_str(const char *s, size_t len, double *out)
{
    char buf[128];
    size_t i = 0;
    while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    size_t e = len;
    while (e > i && (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r')))
        e--;
    if (e == i || e - i >= sizeof buf)
        return false;
    memcpy(buf, s + i, e - i);
    buf[e - i] = 0;
    for (size_t k = 0; buf[k]; k++)
        if (buf[k] == 'x' || buf[k] == 'X' || buf[k] == 'p' || buf[k] == 'P')
            return false; /* strtod's hex floats are not Python's */
    char *end;
    *out = strtod(buf, &end);
    return *end == 0;
}

static struct vs_jv *f_int(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("default", "base");
    struct vs_jv *dflt = vs_ja_arg(a, 0, "default");
    int64_t base = opt_int(rt, vs_ja_arg(a, 1, "base"), 10, "base");
    vs_jneed(rt, v);
    switch (v->kind) {
    case JV_INT:
        return v;
    case JV_BOOL:
        return vs_jv_int(rt->a, v->u.b);
    case JV_FLOAT:
        if (isnan(v->u.f) || isinf(v->u.f) || fabs(v->u.f) >= 9.2e18)
            vs_jfail(rt->err, rt->pos, "cannot convert float %g to integer", v->u.f);
        return vs_jv_int(rt->a, (int64_t)v->u.f);
    case JV_STR: {
        int64_t i;
        double f;
        if (parse_int_str(rt->a, v->u.str.s, v->u.str.len, (int)base, &i))
            return vs_jv_int(rt->a, i);
        if (parse_float_str(v->u.str.s, v->u.str.len, &f) && !isnan(f) && !isinf(f) && fabs(f) < 9.2e18)
            return vs_jv_int(rt->a, (int64_t)f);
        break;
    }
    default:
        break;
    }
    return dflt ? dflt : vs_jv_int(rt->a, 0);
}

static struct vs_jv *f_float(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("default");
    struct vs_jv *dflt = vs_ja_arg(a, 0, "default");
    vs_jneed(rt, v);
    double f;
    if (v->kind == JV_FLOAT)
        return v;
    if (v->kind == JV_INT || v->kind == JV_BOOL)
        return vs_jv_float(rt->a, v->kind == JV_INT ? (double)v->u.i : v->u.b);
    if (v->kind == JV_STR && parse_float_str(v->u.str.s, v->u.str.len, &f))
        return vs_jv_float(rt->a, f);
    return dflt ? dflt : vs_jv_float(rt->a, 0.0);
}

static struct vs_jv *f_abs(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    vs_jneed(rt, v);
    if (v->kind == JV_FLOAT)
        return vs_jv_float(rt->a, fabs(v->u.f));
    if (v->kind == JV_BOOL)
        return vs_jv_int(rt->a, v->u.b);
    if (v->kind == JV_INT) {
        if (v->u.i == INT64_MIN)
            vs_jfail(rt->err, rt->pos, "integer overflow");
        return v->u.i < 0 ? vs_jv_int(rt->a, -v->u.i) : v;
    }
    vs_jfail(rt->err, rt->pos, "bad operand type for abs(): '%s'", vs_jv_type_name(v));
}

static struct vs_jv *f_round(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("precision", "method");
    int64_t prec = opt_int(rt, vs_ja_arg(a, 0, "precision"), 0, "precision");
    struct vs_jv *m = vs_ja_arg(a, 1, "method");
    const char *method = m && m->kind == JV_STR ? m->u.str.s : "common";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        vs_jfail(rt->err, rt->pos, "method must be common, ceil or floor");
    vs_jneed(rt, v);
    if (v->kind != JV_INT && v->kind != JV_FLOAT && v->kind != JV_BOOL)
        vs_jfail(rt->err, rt->pos, "type %s doesn't define __round__ method", vs_jv_type_name(v));
    if (!strcmp(method, "common")) {
        if (v->kind != JV_FLOAT)
            return v->kind == JV_BOOL ? vs_jv_int(rt->a, v->u.b) : v;
        if (prec < 0 || prec > 300)
            vs_jfail(rt->err, rt->pos, "round: precision %lld is not supported", (long long)prec);
        char tmp[400];
        snprintf(tmp, sizeof tmp, "%.*f", (int)prec, v->u.f); /* correctly rounded, ties to even */
        return vs_jv_float(rt->a, strtod(tmp, NULL));
    }
    double x = v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : v->u.b;
    double p = pow(10.0, (double)prec);
    return vs_jv_float(rt->a, (method[0] == 'c' ? ceil(x * p) : floor(x * p)) / p);
}

/* ---- sequences ---- */

static struct vs_jv **items_of(struct vs_jrt *rt, struct vs_jv *v, size_t *n)
{
    return vs_jiter(rt, v, n);
}

static struct vs_jv *f_length(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    switch (v->kind) {
    case JV_UNDEF:
        return vs_jv_int(rt->a, 0);
    case JV_STR:
        return vs_jv_int(rt->a, (int64_t)vs_u8_count(v->u.str.s, v->u.str.len));
    case JV_LIST:
    case JV_TUPLE:
        if (!v->gen)
            return vs_jv_int(rt->a, (int64_t)v->u.list.n);
        break;
    case JV_DICT:
        return vs_jv_int(rt->a, (int64_t)v->u.dict->n);
    default:
        break;
    }
    vs_jfail(rt->err, rt->pos, "object of type '%s' has no len()", vs_jv_type_name(v));
}

static struct vs_jv *f_list(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv *l = vs_jv_list(rt->a, JV_LIST);
    for (size_t i = 0; i < n; i++)
        vs_jv_push(rt->a, l, it[i]);
    return l;
}

static struct vs_jv *f_first_last(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    bool last = name[0] == 'l';
    if (last && v->gen)
        vs_jfail(rt->err, rt->pos, "'generator' object is not reversible");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    if (!n)
        return vs_jv_undef(rt->a, "No %s item, sequence was empty.", last ? "last" : "first");
    return it[last ? n - 1 : 0];
}

static struct vs_jv *f_reverse(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    if (v->kind == JV_STR) {
        struct vs_jbuf b = {.a = rt->a};
        size_t n;
        struct vs_jv **it = vs_jiter(rt, v, &n);
        for (size_t i = n; i > 0; i--)
            vs_jb_put(&b, it[i - 1]->u.str.s, it[i - 1]->u.str.len);
        return mkstr(rt, &b);
    }
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv *l = v->gen ? vs_jv_list(rt->a, JV_LIST) : mkgen(rt);
    for (size_t i = n; i > 0; i--)
        vs_jv_push(rt->a, l, it[i - 1]);
    return l;
}

static struct vs_jv *f_join(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("d", "attribute");
    struct vs_jv *d = vs_ja_arg(a, 0, "d"), *attr = vs_ja_arg(a, 1, "attribute");
    struct vs_jv *sep = d ? sstr(rt, d) : vs_jv_strn(rt->a, "", 0);
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jbuf b = {.a = rt->a};
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *x = attr && attr->kind != JV_NONE ? attr_path(rt, it[i], attr) : it[i];
        if (i)
            vs_jb_put(&b, sep->u.str.s, sep->u.str.len);
        vs_jv_str(&b, x);
    }
    return mkstr(rt, &b);
}

static struct vs_jv *f_items(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    NOARGS();
    struct vs_jv *l = mkgen(rt);
    if (v->kind == JV_UNDEF)
        return l;
    if (v->kind != JV_DICT)
        vs_jfail(rt->err, rt->pos, "Can only get item pairs from a mapping.");
    for (size_t i = 0; i < v->u.dict->n; i++) {
        struct vs_jv *pair = vs_jv_list(rt->a, JV_TUPLE);
        vs_jv_push(rt->a, pair, vs_jv_str_own(rt->a, v->u.dict->k[i], v->u.dict->klen[i]));
        vs_jv_push(rt->a, pair, v->u.dict->v[i]);
        vs_jv_push(rt->a, l, pair);
    }
    return l;
}

/* Stable merge sort of items by key (keys[i] for items[i]). */
struct sort_ctx {
    struct vs_jrt *rt;
    bool fold, reverse;
};

static int key_cmp(struct sort_ctx *c, struct vs_jv *x, struct vs_jv *y)
{
    int r = vs_jv_compare(c->rt->err, c->rt->pos, x, y, c->fold);
    return c->reverse ? -r : r;
}

static void msort(struct sort_ctx *c, struct vs_jv **items, struct vs_jv **keys, struct vs_jv **ti,
                  struct vs_jv **tk, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    msort(c, items, keys, ti, tk, h);
    msort(c, items + h, keys + h, ti, tk, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (key_cmp(c, keys[j], keys[i]) < 0) {
            ti[k] = items[j];
            tk[k++] = keys[j++];
        } else {
            ti[k] = items[i];
            tk[k++] = keys[i++];
        }
    }
    while (i < h) {
        ti[k] = items[i];
        tk[k++] = keys[i++];
    }
    while (j < n) {
        ti[k] = items[j];
        tk[k++] = keys[j++];
    }
    memcpy(items, ti, n * sizeof *items);
    memcpy(keys, tk, n * sizeof *keys);
}

static struct vs_jv *sorted(struct vs_jrt *rt, struct vs_jv **it, size_t n, struct vs_jv **keys, bool fold,
                            bool reverse)
{
    struct vs_jv **items = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *items);
    if (n)
        memcpy(items, it, n * sizeof *items);
    struct vs_jv **ti = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *ti),
                 **tk = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *tk);
    struct sort_ctx c = {rt, fold, reverse};
    msort(&c, items, keys, ti, tk, n);
    struct vs_jv *l = vs_jv_list(rt->a, JV_LIST);
    for (size_t i = 0; i < n; i++)
        vs_jv_push(rt->a, l, items[i]);
    return l;
}

static struct vs_jv *f_sort(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("reverse", "case_sensitive", "attribute");
    bool reverse = opt_bool(vs_ja_arg(a, 0, "reverse"), false),
         cs = opt_bool(vs_ja_arg(a, 1, "case_sensitive"), false);
    struct vs_jv *attr = vs_ja_arg(a, 2, "attribute");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv **keys = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = attr && attr->kind != JV_NONE ? attr_path(rt, it[i], attr) : it[i];
    return sorted(rt, it, n, keys, !cs, reverse);
}

static struct vs_jv *f_dictsort(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("case_sensitive", "by", "reverse");
    bool cs = opt_bool(vs_ja_arg(a, 0, "case_sensitive"), false),
         reverse = opt_bool(vs_ja_arg(a, 2, "reverse"), false);
    struct vs_jv *by = vs_ja_arg(a, 1, "by");
    int pos = 0;
    if (by && by->kind == JV_STR && !strcmp(by->u.str.s, "value"))
        pos = 1;
    else if (by && !(by->kind == JV_STR && !strcmp(by->u.str.s, "key")))
        vs_jfail(rt->err, rt->pos, "You can only sort by either \"key\" or \"value\"");
    vs_jneed(rt, v);
    if (v->kind != JV_DICT)
        vs_jfail(rt->err, rt->pos, "filter 'dictsort' needs a mapping, not %s", vs_jv_type_name(v));
    size_t n = v->u.dict->n;
    struct vs_jv **pairs = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *pairs),
                 **keys = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        pairs[i] = vs_jv_list(rt->a, JV_TUPLE);
        vs_jv_push(rt->a, pairs[i], vs_jv_str_own(rt->a, v->u.dict->k[i], v->u.dict->klen[i]));
        vs_jv_push(rt->a, pairs[i], v->u.dict->v[i]);
        keys[i] = pairs[i]->u.list.v[pos];
    }
    return sorted(rt, pairs, n, keys, !cs, reverse);
}

static struct vs_jv *f_unique(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("case_sensitive", "attribute");
    bool cs = opt_bool(vs_ja_arg(a, 0, "case_sensitive"), false);
    struct vs_jv *attr = vs_ja_arg(a, 1, "attribute");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv *out = mkgen(rt), *seen = vs_jv_list(rt->a, JV_LIST);
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *k = attr && attr->kind != JV_NONE ? attr_path(rt, it[i], attr) : it[i];
        if (k->kind == JV_LIST || k->kind == JV_DICT || k->kind == JV_NS)
            vs_jfail(rt->err, rt->pos, "unhashable type: '%s'", vs_jv_type_name(k));
        if (!cs && k->kind == JV_STR)
            k = vs_jstr_case(rt, k, 'l');
        bool dup = false;
        for (size_t j = 0; j < seen->u.list.n && !dup; j++)
            dup = vs_jv_equal(seen->u.list.v[j], k);
        if (!dup) {
            vs_jv_push(rt->a, seen, k);
            vs_jv_push(rt->a, out, it[i]);
        }
    }
    return out;
}

static struct vs_jv *f_minmax(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("case_sensitive", "attribute");
    bool cs = opt_bool(vs_ja_arg(a, 0, "case_sensitive"), false), mx = name[1] == 'a';
    struct vs_jv *attr = vs_ja_arg(a, 1, "attribute");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    if (!n)
        return vs_jv_undef(rt->a, "No %s item, sequence was empty.", mx ? "largest" : "smallest");
    struct vs_jv *best = it[0], *bk = attr && attr->kind != JV_NONE ? attr_path(rt, it[0], attr) : it[0];
    for (size_t i = 1; i < n; i++) {
        struct vs_jv *k = attr && attr->kind != JV_NONE ? attr_path(rt, it[i], attr) : it[i];
        int c = vs_jv_compare(rt->err, rt->pos, k, bk, !cs);
        if (mx ? c > 0 : c < 0) {
            best = it[i];
            bk = k;
        }
    }
    return best;
}

static struct vs_jv *f_sum(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("attribute", "start");
    struct vs_jv *attr = vs_ja_arg(a, 0, "attribute"), *acc = vs_ja_arg(a, 1, "start");
    if (!acc)
        acc = vs_jv_int(rt->a, 0);
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *x = attr && attr->kind != JV_NONE ? attr_path(rt, it[i], attr) : it[i];
        vs_jneed(rt, x);
        bool xn = x->kind == JV_INT || x->kind == JV_FLOAT || x->kind == JV_BOOL;
        bool an = acc->kind == JV_INT || acc->kind == JV_FLOAT || acc->kind == JV_BOOL;
        if (!xn || !an)
            vs_jfail(rt->err, rt->pos, "unsupported operand type(s) for +: '%s' and '%s'",
                     vs_jv_type_name(acc), vs_jv_type_name(x));
        if (acc->kind == JV_FLOAT || x->kind == JV_FLOAT) {
            double s = (acc->kind == JV_FLOAT ? acc->u.f
                        : acc->kind == JV_INT ? (double)acc->u.i
                                              : acc->u.b) +
                       (x->kind == JV_FLOAT ? x->u.f
                        : x->kind == JV_INT ? (double)x->u.i
                                            : x->u.b);
            acc = vs_jv_float(rt->a, s);
        } else {
            int64_t s;
            if (__builtin_add_overflow(acc->kind == JV_INT ? acc->u.i : acc->u.b,
                                       x->kind == JV_INT ? x->u.i : x->u.b, &s))
                vs_jfail(rt->err, rt->pos, "integer overflow");
            acc = vs_jv_int(rt->a, s);
        }
    }
    return acc;
}

static struct vs_jv *f_map(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    (void)name;
    size_t n = 0;
    struct vs_jv **it = vs_jv_truthy(v) ? items_of(rt, v, &n) : NULL; /* Jinja2 skips a falsy input */
    struct vs_jv *out = mkgen(rt);
    struct vs_jv *attr = NULL, *dflt = NULL;
    for (size_t k = 0; k < a->nkw; k++) {
        if (!strcmp(a->kw[k], "attribute"))
            attr = a->kwv[k];
        else if (!strcmp(a->kw[k], "default"))
            dflt = a->kwv[k];
        else if (a->npos == 0)
            vs_jfail(rt->err, rt->pos, "filter 'map' got an unexpected keyword argument '%s'", a->kw[k]);
    }
    if (attr && a->npos == 0) {
        for (size_t i = 0; i < n; i++) {
            struct vs_jv *x = attr_path(rt, it[i], attr);
            vs_jv_push(rt->a, out, x->kind == JV_UNDEF && dflt ? dflt : x);
        }
        return out;
    }
    if (a->npos == 0 || a->pos[0]->kind != JV_STR)
        vs_jfail(rt->err, rt->pos, "filter 'map' needs a filter name or attribute=");
    const char *fname = a->pos[0]->u.str.s;
    if (!vs_jfilter_exists(fname))
        vs_jfail(rt->err, rt->pos, "no filter named '%s'", fname);
    struct vs_jargs rest = {a->pos + 1, a->npos - 1, a->kw, a->kwv, a->nkw};
    for (size_t i = 0; i < n; i++)
        vs_jv_push(rt->a, out, vs_jfilter_apply(rt, fname, it[i], &rest));
    return out;
}

static struct vs_jv *select_common(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, bool attr_mode,
                                   bool reject)
{
    size_t n = 0;
    struct vs_jv **it = vs_jv_truthy(v) ? items_of(rt, v, &n) : NULL; /* Jinja2 skips a falsy input */
    struct vs_jv *out = mkgen(rt);
    size_t p = 0;
    struct vs_jv *attr = NULL;
    if (attr_mode) {
        if (a->npos < 1)
            vs_jfail(rt->err, rt->pos, "Missing parameter for attribute name");
        attr = a->pos[p++];
    }
    const char *test = NULL;
    if (p < a->npos) {
        if (a->pos[p]->kind != JV_STR)
            vs_jfail(rt->err, rt->pos, "the test name must be a string");
        test = a->pos[p++]->u.str.s;
        if (!vs_jtest_exists(test))
            vs_jfail(rt->err, rt->pos, "no test named '%s'", test);
    }
    /* a->pos is NULL when the filter has no positional arguments (`| select`) */
    struct vs_jargs rest = {a->pos ? a->pos + p : NULL, a->npos - p, a->kw, a->kwv, a->nkw};
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *x = attr ? attr_path(rt, it[i], attr) : it[i];
        bool r = test ? vs_jtest_apply(rt, test, x, &rest) : vs_jv_truthy(x);
        if (r != reject)
            vs_jv_push(rt->a, out, it[i]);
    }
    return out;
}

static struct vs_jv *f_select(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    bool attr = strstr(name, "attr") != NULL, reject = name[0] == 'r';
    return select_common(rt, v, a, attr, reject);
}

static struct vs_jv *f_default(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("default_value", "boolean");
    struct vs_jv *d = vs_ja_arg(a, 0, "default_value");
    bool boolean = opt_bool(vs_ja_arg(a, 1, "boolean"), false);
    if (v->kind == JV_UNDEF || (boolean && !vs_jv_truthy(v)))
        return d ? d : vs_jv_strn(rt->a, "", 0);
    return v;
}

static struct vs_jv *f_attr(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("name");
    struct vs_jv *nm = vs_ja_arg(a, 0, "name");
    if (!nm || nm->kind != JV_STR)
        vs_jfail(rt->err, rt->pos, "filter 'attr' needs an attribute name");
    if (v->kind == JV_DICT) { /* getattr only: dict keys are not attributes */
        struct vs_jv *m = vs_jmethod_get(rt, v, nm->u.str.s, nm->u.str.len);
        return m ? m : vs_jv_undef(rt->a, "'dict object' has no attribute '%s'", nm->u.str.s);
    }
    return vs_jgetattr(rt, v, nm->u.str.s, nm->u.str.len);
}

static struct vs_jv *f_batch(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("linecount", "fill_with");
    int64_t count = opt_int(rt, vs_ja_arg(a, 0, "linecount"), -1, "linecount");
    if (count <= 0)
        vs_jfail(rt->err, rt->pos, "filter 'batch' needs a positive line count");
    struct vs_jv *fill = vs_ja_arg(a, 1, "fill_with");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv *out = mkgen(rt), *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cur)
            cur = vs_jv_list(rt->a, JV_LIST);
        vs_jv_push(rt->a, cur, it[i]);
        if ((int64_t)cur->u.list.n == count) {
            vs_jv_push(rt->a, out, cur);
            cur = NULL;
        }
    }
    if (cur) {
        while (fill && fill->kind != JV_NONE && (int64_t)cur->u.list.n < count)
            vs_jv_push(rt->a, cur, fill);
        vs_jv_push(rt->a, out, cur);
    }
    return out;
}

static struct vs_jv *f_slice(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("slices", "fill_with");
    int64_t slices = opt_int(rt, vs_ja_arg(a, 0, "slices"), -1, "slices");
    if (slices <= 0)
        vs_jfail(rt->err, rt->pos, "filter 'slice' needs a positive number of slices");
    struct vs_jv *fill = vs_ja_arg(a, 1, "fill_with");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    int64_t per = (int64_t)n / slices, extra = (int64_t)n % slices, offset = 0;
    struct vs_jv *out = mkgen(rt);
    for (int64_t k = 0; k < slices; k++) { /* Jinja2's sync_do_slice */
        int64_t start = offset + k * per;
        if (k < extra)
            offset++;
        int64_t end = offset + (k + 1) * per;
        struct vs_jv *part = vs_jv_list(rt->a, JV_LIST);
        for (int64_t i = start; i < end; i++)
            vs_jv_push(rt->a, part, it[i]);
        if (fill && fill->kind != JV_NONE && k >= extra)
            vs_jv_push(rt->a, part, fill);
        vs_jv_push(rt->a, out, part);
    }
    return out;
}

static struct vs_jv *f_truncate(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("length", "killwords", "end", "leeway");
    int64_t length = opt_int(rt, vs_ja_arg(a, 0, "length"), 255, "length");
    bool killwords = opt_bool(vs_ja_arg(a, 1, "killwords"), false);
    struct vs_jv *endv = vs_ja_arg(a, 2, "end");
    struct vs_jv *end = endv ? sstr(rt, endv) : vs_jv_strn(rt->a, "...", 3);
    int64_t leeway = opt_int(rt, vs_ja_arg(a, 3, "leeway"), 5, "leeway");
    int64_t end_len = (int64_t)vs_u8_count(end->u.str.s, end->u.str.len);
    if (length < end_len || leeway < 0)
        vs_jfail(rt->err, rt->pos, "filter 'truncate': expected length >= %lld and leeway >= 0",
                 (long long)end_len);
    if (v->kind == JV_UNDEF)
        return v; /* Jinja2 measures the value itself: len(Undefined) is 0 */
    if (v->kind != JV_STR) {
        struct vs_jargs none = {0};
        struct vs_jv *len = f_length(rt, v, &none, "length"); /* fails as len() does */
        if (len->u.i <= length + leeway)
            return v;
        vs_jfail(rt->err, rt->pos, "filter 'truncate' needs a string, not %s", vs_jv_type_name(v));
    }
    struct vs_jv *s = v;
    size_t n;
    struct vs_jv **ch = vs_jiter(rt, s, &n);
    if ((int64_t)n <= length + leeway)
        return s;
    struct vs_jbuf b = {.a = rt->a};
    for (int64_t i = 0; i < length - end_len; i++)
        vs_jb_put(&b, ch[i]->u.str.s, ch[i]->u.str.len);
    size_t keep = b.len;
    if (!killwords) { /* s[:length - len(end)].rsplit(" ", 1)[0] */
        for (size_t k = b.len; k > 0; k--)
            if (b.p[k - 1] == ' ') {
                keep = k - 1;
                break;
            }
    }
    struct vs_jbuf o = {.a = rt->a};
    vs_jb_put(&o, b.p ? b.p : "", keep);
    vs_jb_put(&o, end->u.str.s, end->u.str.len);
    return mkstr(rt, &o);
}

static struct vs_jv *f_groupby(struct vs_jrt *rt, struct vs_jv *v, struct vs_jargs *a, const char *name)
{
    ARGS("attribute", "default", "case_sensitive");
    struct vs_jv *attr = vs_ja_arg(a, 0, "attribute"), *dflt = vs_ja_arg(a, 1, "default");
    bool cs = opt_bool(vs_ja_arg(a, 2, "case_sensitive"), false);
    if (!attr)
        vs_jfail(rt->err, rt->pos, "filter 'groupby' needs an attribute");
    size_t n;
    struct vs_jv **it = items_of(rt, v, &n);
    struct vs_jv **keys = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *k = attr_path(rt, it[i], attr);
        if (k->kind == JV_UNDEF && dflt)
            k = dflt;
        keys[i] = k;
    }
    /* sorted by key (case-folded unless case_sensitive), then runs of equal keys */
    struct vs_jv **order = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++) {
        struct vs_jv *pair = vs_jv_list(rt->a, JV_TUPLE);
        vs_jv_push(rt->a, pair, keys[i]);
        vs_jv_push(rt->a, pair, it[i]);
        order[i] = pair;
    }
    struct vs_jv **skeys = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *skeys);
    for (size_t i = 0; i < n; i++)
        skeys[i] = cs || keys[i]->kind != JV_STR ? keys[i] : vs_jstr_case(rt, keys[i], 'l');
    struct vs_jv *sorted_pairs = sorted(rt, order, n, skeys, false, false);
    struct vs_jv *out = vs_jv_list(rt->a, JV_LIST);
    struct vs_jv *group = NULL, *group_key = NULL;
    for (size_t i = 0; i < sorted_pairs->u.list.n; i++) {
        struct vs_jv *pair = sorted_pairs->u.list.v[i], *k = pair->u.list.v[0];
        struct vs_jv *cmp = cs || k->kind != JV_STR ? k : vs_jstr_case(rt, k, 'l');
        if (!group || !vs_jv_equal(cmp, group_key)) {
            struct vs_jv *g = vs_jv_list(rt->a, JV_TUPLE);
            g->group = true;
            vs_jv_push(rt->a, g, k); /* the first item's real key */
            group = vs_jv_list(rt->a, JV_LIST);
            vs_jv_push(rt->a, g, group);
            vs_jv_push(rt->a, out, g);
            group_key = cmp;
        }
        vs_jv_push(rt->a, group, pair->u.list.v[1]);
    }
    return out;
}

static const struct {
    const char *name;
    filter_fn fn;
} FILTERS[] = {
    {"abs", f_abs},           {"attr", f_attr},       {"batch", f_batch},
    {"capitalize", f_case},   {"center", f_center},   {"count", f_length},
    {"d", f_default},         {"default", f_default}, {"dictsort", f_dictsort},
    {"e", f_escape},          {"escape", f_escape},   {"first", f_first_last},
    {"float", f_float},       {"format", f_format},   {"groupby", f_groupby},
    {"indent", f_indent},     {"int", f_int},         {"items", f_items},
    {"join", f_join},         {"last", f_first_last}, {"length", f_length},
    {"list", f_list},         {"lower", f_case},      {"map", f_map},
    {"max", f_minmax},        {"min", f_minmax},      {"reject", f_select},
    {"rejectattr", f_select}, {"replace", f_replace}, {"reverse", f_reverse},
    {"round", f_round},       {"safe", f_safe},       {"select", f_select},
    {"selectattr", f_select}, {"slice", f_slice},     {"sort", f_sort},
    {"string", f_string},     {"sum", f_sum},         {"title", f_case},
    {"tojson", f_tojson},     {"trim", f_trim},       {"truncate", f_truncate},
    {"unique", f_unique},     {"upper", f_case},      {"wordcount", f_wordcount},
};

static filter_fn find_filter(const char *name)
{
    for (size_t i = 0; i < sizeof FILTERS / sizeof *FILTERS; i++)
        if (!strcmp(FILTERS[i].name, name))
            return FILTERS[i].fn;
    return NULL;
}

bool vs_jfilter_exists(const char *name)
{
    return find_filter(name) != NULL;
}

struct vs_jv *vs_jfilter_apply(struct vs_jrt *rt, const char *name, struct vs_jv *v, struct vs_jargs *args)
{
    filter_fn fn = find_filter(name);
    if (!fn)
        vs_jfail(rt->err, rt->pos, "no filter named '%s'", name);
    return fn(rt, v, args, name);
}

/* ---- tests ---- */

static const char *const TESTS[] = {
    "boolean",  "callable", "defined",  "divisibleby", "eq",        "equalto", "==",  "even",
    "false",    "filter",   "float",    "ge",          ">=",        "gt",      ">",   "greaterthan",
    "in",       "integer",  "iterable", "le",          "<=",        "lower",   "lt",  "<",
    "lessthan", "mapping",  "ne",       "!=",          "none",      "number",  "odd", "sameas",
    "sequence", "string",   "test",     "true",        "undefined", "upper"};

bool vs_jtest_exists(const char *name)
{
    for (size_t i = 0; i < sizeof TESTS / sizeof *TESTS; i++)
        if (!strcmp(TESTS[i], name))
            return true;
    return false;
}

static struct vs_jv *test_arg(struct vs_jrt *rt, struct vs_jargs *a, const char *name)
{
    struct vs_jv *x = vs_ja_arg(a, 0, NULL);
    if (!x && a->nkw)
        x = a->kwv[0];
    if (!x)
        vs_jfail(rt->err, rt->pos, "test '%s' needs an argument", name);
    return x;
}

static bool is_numk(const struct vs_jv *v)
{
    return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL;
}

static bool num_mod_zero(struct vs_jrt *rt, struct vs_jv *v, struct vs_jv *m, int64_t want_rem)
{
    vs_jneed(rt, v);
    vs_jneed(rt, m);
    if (!is_numk(v) || !is_numk(m))
        vs_jfail(rt->err, rt->pos, "unsupported operand type(s) for %%: '%s' and '%s'", vs_jv_type_name(v),
                 vs_jv_type_name(m));
    if (v->kind == JV_FLOAT || m->kind == JV_FLOAT) {
        double x = v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : v->u.b;
        double y = m->kind == JV_FLOAT ? m->u.f : m->kind == JV_INT ? (double)m->u.i : m->u.b;
        if (y == 0)
            vs_jfail(rt->err, rt->pos, "float modulo");
        double r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0)))
            r += y;
        return r == (double)want_rem;
    }
    int64_t x = v->kind == JV_INT ? v->u.i : v->u.b, y = m->kind == JV_INT ? m->u.i : m->u.b;
    if (y == 0)
        vs_jfail(rt->err, rt->pos, "integer division or modulo by zero");
    int64_t r = y == -1 ? 0 : x % y;
    if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r == want_rem;
}

static bool str_class(struct vs_jrt *rt, struct vs_jv *v, const char *method)
{
    struct vs_jv *s = sstr(rt, v);
    struct vs_jargs none = {0};
    return vs_jv_truthy(vs_jcall(rt, vs_jgetattr(rt, s, method, strlen(method)), &none));
}

bool vs_jtest_apply(struct vs_jrt *rt, const char *name, struct vs_jv *v, struct vs_jargs *a)
{
    enum vs_jv_kind k = v->kind;
    if (!strcmp(name, "defined"))
        return k != JV_UNDEF;
    if (!strcmp(name, "undefined"))
        return k == JV_UNDEF;
    if (!strcmp(name, "none"))
        return k == JV_NONE;
    if (!strcmp(name, "boolean"))
        return k == JV_BOOL;
    if (!strcmp(name, "true"))
        return k == JV_BOOL && v->u.b;
    if (!strcmp(name, "false"))
        return k == JV_BOOL && !v->u.b;
    if (!strcmp(name, "string"))
        return k == JV_STR;
    if (!strcmp(name, "number"))
        return k == JV_INT || k == JV_FLOAT || k == JV_BOOL;
    if (!strcmp(name, "integer"))
        return k == JV_INT;
    if (!strcmp(name, "float"))
        return k == JV_FLOAT;
    if (!strcmp(name, "mapping"))
        return k == JV_DICT;
    if (!strcmp(name, "iterable"))
        return k == JV_STR || k == JV_LIST || k == JV_TUPLE || k == JV_DICT || k == JV_UNDEF;
    if (!strcmp(name, "sequence"))
        return k == JV_STR || ((k == JV_LIST && !v->gen) || k == JV_TUPLE) || k == JV_DICT || k == JV_UNDEF;
    if (!strcmp(name, "callable"))
        return k == JV_FUNC || k == JV_UNDEF;
    if (!strcmp(name, "odd"))
        return num_mod_zero(rt, v, vs_jv_int(rt->a, 2), 1);
    if (!strcmp(name, "even"))
        return num_mod_zero(rt, v, vs_jv_int(rt->a, 2), 0);
    if (!strcmp(name, "divisibleby"))
        return num_mod_zero(rt, v, test_arg(rt, a, name), 0);
    if (!strcmp(name, "lower"))
        return str_class(rt, v, "islower");
    if (!strcmp(name, "upper"))
        return str_class(rt, v, "isupper");
    if (!strcmp(name, "filter") || !strcmp(name, "test")) {
        if (k != JV_STR)
            return false;
        return name[0] == 'f' ? vs_jfilter_exists(v->u.str.s) : vs_jtest_exists(v->u.str.s);
    }
    struct vs_jv *o = test_arg(rt, a, name);
    if (!strcmp(name, "sameas")) {
        if (k != o->kind)
            return false;
        if (k == JV_NONE || k == JV_UNDEF)
            return k == JV_NONE;
        if (k == JV_BOOL)
            return v->u.b == o->u.b;
        if (k == JV_INT)
            return v->u.i == o->u.i && v->u.i >= -5 && v->u.i <= 256; /* CPython's small-int cache */
        return v == o;
    }
    int op = !strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")      ? OP_EQ
             : !strcmp(name, "ne") || !strcmp(name, "!=")                                ? OP_NE
             : !strcmp(name, "lt") || !strcmp(name, "<") || !strcmp(name, "lessthan")    ? OP_LT
             : !strcmp(name, "le") || !strcmp(name, "<=")                                ? OP_LE
             : !strcmp(name, "gt") || !strcmp(name, ">") || !strcmp(name, "greaterthan") ? OP_GT
             : !strcmp(name, "ge") || !strcmp(name, ">=")                                ? OP_GE
             : !strcmp(name, "in")                                                       ? OP_IN
                                                                                         : 0;
    if (op == OP_EQ)
        return vs_jv_equal(v, o);
    if (op == OP_NE)
        return !vs_jv_equal(v, o);
    if (op == OP_IN) {
        if (o->kind == JV_STR && v->kind == JV_STR)
            return memmem(o->u.str.s, o->u.str.len, v->u.str.s, v->u.str.len) != NULL || v->u.str.len == 0;
        if (o->kind == JV_DICT)
            return v->kind == JV_STR && vs_jd_get(o, v->u.str.s, v->u.str.len);
        size_t n;
        struct vs_jv **it = vs_jiter(rt, o, &n);
        for (size_t i = 0; i < n; i++)
            if (vs_jv_equal(v, it[i]))
                return true;
        return false;
    }
    if (op) {
        vs_jneed(rt, v);
        vs_jneed(rt, o);
        int c = vs_jv_compare(rt->err, rt->pos, v, o, false);
        return op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
    }
    vs_jfail(rt->err, rt->pos, "no test named '%s'", name);
}

/* ---- printf-style formatting ---- */

struct vs_jv *vs_jformat_percent(struct vs_jrt *rt, struct vs_jv *fmt, struct vs_jv *args)
{
    struct vs_jbuf b = {.a = rt->a};
    const char *p = fmt->u.str.s;
    size_t len = fmt->u.str.len, ai = 0;
    bool tuple = args->kind == JV_TUPLE;
    bool mapping = args->kind == JV_DICT;
    size_t nargs = tuple ? args->u.list.n : 1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '%') {
            vs_jb_putc(&b, p[i]);
            continue;
        }
        if (++i >= len)
            vs_jfail(rt->err, rt->pos, "incomplete format");
        struct vs_jv *val = NULL;
        if (p[i] == '(') {
            size_t j = i + 1;
            while (j < len && p[j] != ')')
                j++;
            if (!mapping || j >= len)
                vs_jfail(rt->err, rt->pos, "format requires a mapping");
            val = vs_jd_get(args, p + i + 1, j - i - 1);
            if (!val)
                vs_jfail(rt->err, rt->pos, "format: key '%.*s' not found", (int)(j - i - 1), p + i + 1);
            i = j + 1;
        }
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        while (i < len && strchr("-+ #0", p[i]) && sl < 8)
            spec[sl++] = p[i++];
        while (i < len && p[i] >= '0' && p[i] <= '9' && sl < 16)
            spec[sl++] = p[i++];
        if (i < len && p[i] == '.') {
            spec[sl++] = p[i++];
            while (i < len && p[i] >= '0' && p[i] <= '9' && sl < 24)
                spec[sl++] = p[i++];
        }
        if (i >= len)
            vs_jfail(rt->err, rt->pos, "incomplete format");
        char conv = p[i];
        if (conv == '%') {
            vs_jb_putc(&b, '%');
            continue;
        }
        if (!val) {
            if (ai >= nargs)
                vs_jfail(rt->err, rt->pos, "not enough arguments for format string");
            val = tuple ? args->u.list.v[ai] : args;
            ai++;
        }
        if (conv == 's' || conv == 'r') {
            struct vs_jbuf t = {.a = rt->a};
            if (conv == 's')
                vs_jv_str(&t, val);
            else
                vs_jv_repr(&t, val);
            spec[sl++] = 's';
            spec[sl] = 0;
            vs_jb_printf(&b, spec, t.p ? t.p : "");
        } else if (strchr("dixXo", conv)) {
            if (!is_numk(val))
                vs_jfail(rt->err, rt->pos, "%%%c format: a number is required, not %s", conv,
                         vs_jv_type_name(val));
            long long iv = val->kind == JV_FLOAT ? (long long)val->u.f
                           : val->kind == JV_INT ? val->u.i
                                                 : val->u.b;
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv == 'i' ? 'd' : conv;
            spec[sl] = 0;
            vs_jb_printf(&b, spec, iv);
        } else if (strchr("feEgG", conv)) {
            if (!is_numk(val))
                vs_jfail(rt->err, rt->pos, "must be real number, not %s", vs_jv_type_name(val));
            double fv = val->kind == JV_FLOAT ? val->u.f : val->kind == JV_INT ? (double)val->u.i : val->u.b;
            spec[sl++] = conv;
            spec[sl] = 0;
            vs_jb_printf(&b, spec, fv);
        } else {
            vs_jfail(rt->err, rt->pos, "unsupported format character '%c'", conv);
        }
    }
    /* Python treats any non-tuple with __getitem__ (dict, list) as a mapping: nothing to consume */
    if (!mapping && args->kind != JV_LIST && args->kind != JV_UNDEF && ai < nargs)
        vs_jfail(rt->err, rt->pos, "not all arguments converted during string formatting");
    return mkstr(rt, &b);
}
