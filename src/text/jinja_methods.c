/* Methods of Python values that templates call: str (split, strip, startswith, replace, ...),
 * dict (items, keys, values, get) and list (count, index). Methods that would modify a value are
 * refused as transformers' ImmutableSandboxedEnvironment refuses them. Case mappings are
 * Unicode's simple mappings (utf8proc), so 'ß'.upper() stays 'ß' where Python gives 'SS'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text/jinja.h"

static const char *const STR_METHODS[] = {
    "upper",      "lower",    "strip",      "lstrip",       "rstrip",       "split",   "rsplit",
    "startswith", "endswith", "replace",    "find",         "rfind",        "count",   "title",
    "capitalize", "join",     "format",     "isdigit",      "isalpha",      "isalnum", "isspace",
    "isupper",    "islower",  "splitlines", "removeprefix", "removesuffix", "index",   "rindex"};
/* Python str methods this interpreter does not implement: calling one is an error saying so. */
static const char *const STR_UNSUPPORTED[] = {
    "center",  "ljust",      "rjust",     "zfill",     "partition", "rpartition",   "expandtabs",
    "encode",  "casefold",   "swapcase",  "isnumeric", "isdecimal", "isidentifier", "isprintable",
    "istitle", "format_map", "maketrans", "translate", "isascii"};
static const char *const DICT_METHODS[] = {"items", "keys", "values", "get"};
static const char *const DICT_UNSAFE[] = {"pop", "popitem", "update", "setdefault", "clear"};
static const char *const LIST_METHODS[] = {"count", "index"};
static const char *const LIST_UNSAFE[] = {"append", "extend",  "insert", "pop",
                                          "remove", "reverse", "sort",   "clear"};

static const char *find_name(const char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
            return list[i];
    return NULL;
}
#define FIND(list, name, len) find_name(list, sizeof list / sizeof *list, name, len)

struct vs_jv *vs_jmethod_get(struct vs_jrt *rt, struct vs_jv *obj, const char *name, size_t len)
{
    const char *m = NULL;
    if (obj->kind == JV_STR)
        m = FIND(STR_METHODS, name, len) ? FIND(STR_METHODS, name, len) : FIND(STR_UNSUPPORTED, name, len);
    else if (obj->kind == JV_DICT)
        m = FIND(DICT_METHODS, name, len) ? FIND(DICT_METHODS, name, len) : FIND(DICT_UNSAFE, name, len);
    else if ((obj->kind == JV_LIST && !obj->gen) || obj->kind == JV_TUPLE)
        m = FIND(LIST_METHODS, name, len) ? FIND(LIST_METHODS, name, len)
            : obj->kind == JV_LIST        ? FIND(LIST_UNSAFE, name, len)
                                          : NULL;
    if (!m)
        return NULL;
    struct vs_jv *f = vs_jv_new(rt->a, JV_FUNC);
    f->u.fn = vs_ja_alloc(rt->a, sizeof *f->u.fn);
    f->u.fn->kind = JF_METHOD;
    f->u.fn->name = m;
    f->u.fn->self = obj;
    return f;
}

/* ---- string helpers ---- */

static struct vs_jv *mkstr(struct vs_jrt *rt, struct vs_jbuf *b)
{
    return vs_jv_str_own(rt->a, b->p ? b->p : "", b->len);
}

static bool in_chars(const struct vs_jv *chars, uint32_t c)
{
    for (size_t i = 0; i < chars->u.str.len;)
        if (vs_u8_next(chars->u.str.s, chars->u.str.len, &i) == c)
            return true;
    return false;
}

static void need_str(struct vs_jrt *rt, const struct vs_jv *v, const char *what)
{
    vs_jneed(rt, v);
    if (v->kind != JV_STR)
        vs_jfail(rt->err, rt->pos, "%s must be str, not %s", what, vs_jv_type_name(v));
}

struct vs_jv *vs_jstr_strip(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *chars, bool left, bool right)
{
    if (chars && chars->kind == JV_NONE)
        chars = NULL;
    if (chars)
        need_str(rt, chars, "strip argument");
    const char *p = s->u.str.s;
    size_t len = s->u.str.len, lo = 0, hi = len;
    if (left)
        while (lo < hi) {
            size_t j = lo;
            uint32_t c = vs_u8_next(p, len, &j);
            if (chars ? !in_chars(chars, c) : !vs_py_isspace(c))
                break;
            lo = j;
        }
    if (right)
        while (hi > lo) {
            size_t st = hi - 1;
            while (st > lo && ((unsigned char)p[st] & 0xC0) == 0x80)
                st--;
            size_t j = st;
            uint32_t c = vs_u8_next(p, len, &j);
            if (chars ? !in_chars(chars, c) : !vs_py_isspace(c))
                break;
            hi = st;
        }
    return vs_jv_str_own(rt->a, p + lo, hi - lo);
}

static bool is_cased(uint32_t c)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
           utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

struct vs_jv *vs_jstr_case(struct vs_jrt *rt, struct vs_jv *s, int how)
{
    struct vs_jbuf b = {.a = rt->a};
    const char *p = s->u.str.s;
    size_t len = s->u.str.len;
    bool prev_cased = false, first = true;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c = (utf8proc_int32_t)vs_u8_next(p, len, &i), m = c;
        if (c == 0xDF && (how == 'u' || ((how == 'c' && first) || (how == 't' && !prev_cased)))) {
            /* the one full case mapping templates meet: Python upper-cases ß to SS */
            vs_jb_puts(&b, how == 'u' ? "SS" : "Ss");
            prev_cased = true;
            first = false;
            continue;
        }
        switch (how) {
        case 'u':
            m = utf8proc_toupper(c);
            break;
        case 'l':
            m = utf8proc_tolower(c);
            break;
        case 'c':
            m = first ? utf8proc_totitle(c) : utf8proc_tolower(c);
            break;
        case 't':
            m = prev_cased ? utf8proc_tolower(c) : utf8proc_totitle(c);
            prev_cased = is_cased((uint32_t)c);
            break;
        }
        first = false;
        vs_u8_put(&b, (uint32_t)m);
    }
    return mkstr(rt, &b);
}

struct vs_jv *vs_jstr_replace(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *old, struct vs_jv *new_,
                              int64_t count)
{
    need_str(rt, old, "replace() argument 1");
    need_str(rt, new_, "replace() argument 2");
    struct vs_jbuf b = {.a = rt->a};
    const char *p = s->u.str.s;
    size_t len = s->u.str.len, i = 0;
    int64_t done = 0;
    if (old->u.str.len == 0) { /* Python inserts between every character and at both ends */
        for (;;) {
            if (count < 0 || done < count) {
                vs_jb_put(&b, new_->u.str.s, new_->u.str.len);
                done++;
            }
            if (i >= len)
                break;
            size_t st = i;
            vs_u8_next(p, len, &i);
            vs_jb_put(&b, p + st, i - st);
        }
        return mkstr(rt, &b);
    }
    while (i < len) {
        const char *hit =
            count >= 0 && done >= count ? NULL : memmem(p + i, len - i, old->u.str.s, old->u.str.len);
        if (!hit)
            break;
        vs_jb_put(&b, p + i, (size_t)(hit - (p + i)));
        vs_jb_put(&b, new_->u.str.s, new_->u.str.len);
        i = (size_t)(hit - p) + old->u.str.len;
        done++;
    }
    vs_jb_put(&b, p + i, len - i);
    return mkstr(rt, &b);
}

static struct vs_jv *split(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *sep, int64_t maxsplit,
                           bool from_right)
{
    const char *p = s->u.str.s;
    size_t len = s->u.str.len;
    struct vs_jv *out = vs_jv_list(rt->a, JV_LIST);
    if (sep && sep->kind != JV_NONE) {
        need_str(rt, sep, "separator");
        size_t sl = sep->u.str.len;
        if (sl == 0)
            vs_jfail(rt->err, rt->pos, "empty separator");
        if (!from_right) {
            size_t i = 0;
            int64_t n = 0;
            const char *hit;
            while ((maxsplit < 0 || n < maxsplit) &&
                   (hit = memmem(p + i, len - i, sep->u.str.s, sl)) != NULL) {
                vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + i, (size_t)(hit - (p + i))));
                i = (size_t)(hit - p) + sl;
                n++;
            }
            vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + i, len - i));
            return out;
        }
        /* from the right: collect pieces in reverse */
        struct vs_jv *rev = vs_jv_list(rt->a, JV_LIST);
        size_t end = len;
        int64_t n = 0;
        while (maxsplit < 0 || n < maxsplit) {
            size_t k = end >= sl ? end - sl + 1 : 0;
            bool found = false;
            while (k-- > 0)
                if (memcmp(p + k, sep->u.str.s, sl) == 0) {
                    found = true;
                    break;
                }
            if (!found)
                break;
            vs_jv_push(rt->a, rev, vs_jv_strn(rt->a, p + k + sl, end - k - sl));
            end = k;
            n++;
        }
        vs_jv_push(rt->a, rev, vs_jv_strn(rt->a, p, end));
        for (size_t k = rev->u.list.n; k > 0; k--)
            vs_jv_push(rt->a, out, rev->u.list.v[k - 1]);
        return out;
    }
    /* whitespace runs */
    if (!from_right) {
        size_t i = 0;
        int64_t n = 0;
        for (;;) {
            while (i < len) {
                size_t j = i;
                if (!vs_py_isspace(vs_u8_next(p, len, &j)))
                    break;
                i = j;
            }
            if (i >= len)
                break;
            if (maxsplit >= 0 && n >= maxsplit) {
                vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + i, len - i));
                break;
            }
            size_t st = i;
            while (i < len) {
                size_t j = i;
                if (vs_py_isspace(vs_u8_next(p, len, &j)))
                    break;
                i = j;
            }
            vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + st, i - st));
            n++;
        }
        return out;
    }
    struct vs_jv *rev = vs_jv_list(rt->a, JV_LIST);
    struct vs_jv *trimmed = vs_jstr_strip(rt, s, NULL, false, true);
    size_t end = trimmed->u.str.len;
    int64_t n = 0;
    while (end > 0) {
        if (maxsplit >= 0 && n >= maxsplit) {
            struct vs_jv *rest = vs_jstr_strip(rt, vs_jv_str_own(rt->a, p, end), NULL, false, true);
            vs_jv_push(rt->a, rev, rest);
            end = 0;
            break;
        }
        size_t st = end;
        while (st > 0) {
            size_t b0 = st - 1;
            while (b0 > 0 && ((unsigned char)p[b0] & 0xC0) == 0x80)
                b0--;
            size_t j = b0;
            if (vs_py_isspace(vs_u8_next(p, len, &j)))
                break;
            st = b0;
        }
        vs_jv_push(rt->a, rev, vs_jv_strn(rt->a, p + st, end - st));
        n++;
        end = st;
        while (end > 0) {
            size_t b0 = end - 1;
            while (b0 > 0 && ((unsigned char)p[b0] & 0xC0) == 0x80)
                b0--;
            size_t j = b0;
            if (!vs_py_isspace(vs_u8_next(p, len, &j)))
                break;
            end = b0;
        }
    }
    for (size_t k = rev->u.list.n; k > 0; k--)
        vs_jv_push(rt->a, out, rev->u.list.v[k - 1]);
    return out;
}

static int64_t int_arg(struct vs_jrt *rt, struct vs_jv *v, int64_t dflt, const char *what)
{
    if (!v || v->kind == JV_NONE)
        return dflt;
    if (v->kind != JV_INT && v->kind != JV_BOOL)
        vs_jfail(rt->err, rt->pos, "%s must be an integer, not %s", what, vs_jv_type_name(v));
    return v->kind == JV_INT ? v->u.i : v->u.b;
}

static bool affix(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *arg, bool end, const char *name)
{
    vs_jneed(rt, arg);
    if (arg->kind == JV_TUPLE) {
        for (size_t i = 0; i < arg->u.list.n; i++)
            if (affix(rt, s, arg->u.list.v[i], end, name))
                return true;
        return false;
    }
    if (arg->kind != JV_STR)
        vs_jfail(rt->err, rt->pos, "%s first arg must be str or a tuple of str, not %s", name,
                 vs_jv_type_name(arg));
    size_t n = arg->u.str.len;
    if (n > s->u.str.len)
        return false;
    return memcmp(s->u.str.s + (end ? s->u.str.len - n : 0), arg->u.str.s, n) == 0;
}

/* Code-point index of the first (or last) occurrence of sub, or -1. */
static int64_t find(struct vs_jv *s, struct vs_jv *sub, bool last)
{
    const char *p = s->u.str.s, *q = sub->u.str.s;
    size_t len = s->u.str.len, n = sub->u.str.len;
    int64_t found = -1;
    if (n > len)
        return -1;
    for (size_t i = 0; i + n <= len; i++) {
        if (((unsigned char)p[i] & 0xC0) == 0x80)
            continue;
        if (memcmp(p + i, q, n) == 0) {
            found = (int64_t)vs_u8_count(p, i);
            if (!last)
                return found;
        }
    }
    return found;
}

static struct vs_jv *str_format(struct vs_jrt *rt, struct vs_jv *s, struct vs_jargs *args)
{
    struct vs_jbuf b = {.a = rt->a};
    const char *p = s->u.str.s;
    size_t len = s->u.str.len, auto_idx = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '}' && i + 1 < len && p[i + 1] == '}') {
            vs_jb_putc(&b, '}');
            i++;
            continue;
        }
        if (c == '}')
            vs_jfail(rt->err, rt->pos, "format(): single '}' encountered in format string");
        if (c != '{') {
            vs_jb_putc(&b, c);
            continue;
        }
        if (i + 1 < len && p[i + 1] == '{') {
            vs_jb_putc(&b, '{');
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && p[j] != '}')
            j++;
        if (j >= len)
            vs_jfail(rt->err, rt->pos, "format(): single '{' encountered in format string");
        const char *field = p + i + 1;
        size_t fl = j - i - 1;
        if (memchr(field, ':', fl) || memchr(field, '!', fl) || memchr(field, '.', fl) ||
            memchr(field, '[', fl))
            vs_jfail(rt->err, rt->pos,
                     "format(): conversions, format specs and attribute fields are not supported");
        struct vs_jv *v = NULL;
        if (fl == 0) {
            v = auto_idx < args->npos ? args->pos[auto_idx] : NULL;
            auto_idx++;
        } else if (field[0] >= '0' && field[0] <= '9') {
            size_t k = (size_t)strtoul(field, NULL, 10);
            v = k < args->npos ? args->pos[k] : NULL;
        } else {
            for (size_t k = 0; k < args->nkw; k++)
                if (strlen(args->kw[k]) == fl && memcmp(args->kw[k], field, fl) == 0)
                    v = args->kwv[k];
        }
        if (!v)
            vs_jfail(rt->err, rt->pos, "format(): no argument for field '{%.*s}'", (int)fl, field);
        vs_jv_str(&b, v);
        i = j;
    }
    return mkstr(rt, &b);
}

static bool char_class(struct vs_jv *s, int how)
{
    const char *p = s->u.str.s;
    size_t len = s->u.str.len;
    bool any_cased = false;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t c = vs_u8_next(p, len, &i);
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
        bool alpha = k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
        bool digit = k == UTF8PROC_CATEGORY_ND;
        switch (how) {
        case 'd':
            if (!digit)
                return false;
            break;
        case 'a':
            if (!alpha)
                return false;
            break;
        case 'n':
            if (!alpha && !digit && k != UTF8PROC_CATEGORY_NL && k != UTF8PROC_CATEGORY_NO)
                return false;
            break;
        case 's':
            if (!vs_py_isspace(c))
                return false;
            break;
        case 'u':
        case 'l':
            if (utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
                utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c) {
                any_cased = true;
                bool up = utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
                if ((how == 'u') != up)
                    return false;
            }
            break;
        }
    }
    return how == 'u' || how == 'l' ? any_cased : true;
}

static struct vs_jv *splitlines(struct vs_jrt *rt, struct vs_jv *s, bool keepends)
{
    struct vs_jv *out = vs_jv_list(rt->a, JV_LIST);
    const char *p = s->u.str.s;
    size_t len = s->u.str.len, st = 0;
    for (size_t i = 0; i < len;) {
        size_t at = i;
        uint32_t c = vs_u8_next(p, len, &i);
        if (!vs_py_islinebreak(c))
            continue;
        if (c == '\r' && i < len && p[i] == '\n')
            i++;
        vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + st, (keepends ? i : at) - st));
        st = i;
    }
    if (st < len)
        vs_jv_push(rt->a, out, vs_jv_strn(rt->a, p + st, len - st));
    return out;
}

static struct vs_jv *str_method(struct vs_jrt *rt, const char *m, struct vs_jv *s, struct vs_jargs *a)
{
    char what[64];
    snprintf(what, sizeof what, "str.%s()", m);
    struct vs_jv *a0 = vs_ja_arg(a, 0, NULL), *a1 = vs_ja_arg(a, 1, NULL);
#define ARGS(...)                                                         \
    do {                                                                  \
        static const char *const names_[] = {__VA_ARGS__};                \
        vs_ja_check(rt, a, what, names_, sizeof names_ / sizeof *names_); \
    } while (0)
    if (!strcmp(m, "upper") || !strcmp(m, "lower") || !strcmp(m, "title") || !strcmp(m, "capitalize")) {
        vs_ja_check(rt, a, what, NULL, 0);
        return vs_jstr_case(rt, s, m[0] == 'c' ? 'c' : m[0]);
    }
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
        ARGS("chars");
        return vs_jstr_strip(rt, s, a0, m[0] != 'r', m[0] != 'l');
    }
    if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
        ARGS("sep", "maxsplit");
        return split(rt, s, vs_ja_arg(a, 0, "sep"), int_arg(rt, vs_ja_arg(a, 1, "maxsplit"), -1, "maxsplit"),
                     m[0] == 'r');
    }
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        vs_ja_check(rt, a, what, NULL, 1);
        if (!a0)
            vs_jfail(rt->err, rt->pos, "%s takes at least 1 argument (0 given)", what);
        return vs_jv_bool(affix(rt, s, a0, m[0] == 'e', m));
    }
    if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
        vs_ja_check(rt, a, what, NULL, 1);
        if (!a0)
            vs_jfail(rt->err, rt->pos, "%s takes exactly one argument (0 given)", what);
        need_str(rt, a0, what);
        bool suffix = m[6] == 's';
        if (!affix(rt, s, a0, suffix, m))
            return s;
        size_t n = a0->u.str.len;
        return vs_jv_str_own(rt->a, s->u.str.s + (suffix ? 0 : n), s->u.str.len - n);
    }
    if (!strcmp(m, "replace")) {
        ARGS("old", "new", "count");
        struct vs_jv *o = vs_ja_arg(a, 0, "old"), *n = vs_ja_arg(a, 1, "new");
        if (!o || !n)
            vs_jfail(rt->err, rt->pos, "%s takes at least 2 arguments", what);
        return vs_jstr_replace(rt, s, o, n, int_arg(rt, vs_ja_arg(a, 2, "count"), -1, "count"));
    }
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "rindex") ||
        !strcmp(m, "count")) {
        vs_ja_check(rt, a, what, NULL, 1);
        if (!a0)
            vs_jfail(rt->err, rt->pos, "%s takes at least 1 argument (0 given)", what);
        need_str(rt, a0, what);
        if (m[0] == 'c') {
            if (a0->u.str.len == 0)
                return vs_jv_int(rt->a, (int64_t)vs_u8_count(s->u.str.s, s->u.str.len) + 1);
            int64_t n = 0;
            for (const char *p = s->u.str.s, *end = p + s->u.str.len;
                 (p = memmem(p, (size_t)(end - p), a0->u.str.s, a0->u.str.len)) != NULL; p += a0->u.str.len)
                n++;
            return vs_jv_int(rt->a, n);
        }
        int64_t r = find(s, a0, m[0] == 'r');
        if (r < 0 && (!strcmp(m, "index") || !strcmp(m, "rindex")))
            vs_jfail(rt->err, rt->pos, "substring not found");
        return vs_jv_int(rt->a, r);
    }
    if (!strcmp(m, "join")) {
        vs_ja_check(rt, a, what, NULL, 1);
        if (!a0)
            vs_jfail(rt->err, rt->pos, "%s takes exactly one argument (0 given)", what);
        size_t n;
        struct vs_jv **items = vs_jiter(rt, a0, &n);
        struct vs_jbuf b = {.a = rt->a};
        for (size_t i = 0; i < n; i++) {
            if (items[i]->kind != JV_STR)
                vs_jfail(rt->err, rt->pos, "sequence item %zu: expected str instance, %s found", i,
                         vs_jv_type_name(items[i]));
            if (i)
                vs_jb_put(&b, s->u.str.s, s->u.str.len);
            vs_jb_put(&b, items[i]->u.str.s, items[i]->u.str.len);
        }
        return mkstr(rt, &b);
    }
    if (!strcmp(m, "format"))
        return str_format(rt, s, a);
    if (!strcmp(m, "splitlines")) {
        ARGS("keepends");
        struct vs_jv *k = vs_ja_arg(a, 0, "keepends");
        return splitlines(rt, s, k && vs_jv_truthy(k));
    }
    if (m[0] == 'i' && m[1] == 's') {
        vs_ja_check(rt, a, what, NULL, 0);
        int how = !strcmp(m, "isdigit")   ? 'd'
                  : !strcmp(m, "isalpha") ? 'a'
                  : !strcmp(m, "isalnum") ? 'n'
                  : !strcmp(m, "isspace") ? 's'
                  : !strcmp(m, "isupper") ? 'u'
                                          : 'l';
        if (FIND(STR_UNSUPPORTED, m, strlen(m)))
            how = 0;
        if (how)
            return vs_jv_bool(char_class(s, how));
    }
    (void)a1;
#undef ARGS
    vs_jfail(rt->err, rt->pos, "str.%s() is not supported by this template interpreter", m);
}

struct vs_jv *vs_jmethod_call(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *a)
{
    struct vs_jv *self = fn->self;
    const char *m = fn->name;
    if (self->kind == JV_STR)
        return str_method(rt, m, self, a);
    if (self->kind == JV_DICT) {
        if (FIND(DICT_UNSAFE, m, strlen(m)))
            vs_jfail(rt->err, rt->pos, "access to attribute '%s' of 'dict' object is unsafe", m);
        char what[32];
        snprintf(what, sizeof what, "dict.%s()", m);
        if (!strcmp(m, "get")) {
            vs_ja_check(rt, a, what, NULL, 2);
            struct vs_jv *k = vs_ja_arg(a, 0, NULL), *d = vs_ja_arg(a, 1, NULL);
            if (!k)
                vs_jfail(rt->err, rt->pos, "get expected at least 1 argument, got 0");
            struct vs_jv *v = k->kind == JV_STR ? vs_jd_get(self, k->u.str.s, k->u.str.len) : NULL;
            return v ? v : d ? d : &vs_jv_none;
        }
        vs_ja_check(rt, a, what, NULL, 0);
        struct vs_jv *out = vs_jv_list(rt->a, JV_LIST);
        for (size_t i = 0; i < self->u.dict->n; i++) {
            struct vs_jv *k = vs_jv_str_own(rt->a, self->u.dict->k[i], self->u.dict->klen[i]);
            if (m[0] == 'k') {
                vs_jv_push(rt->a, out, k);
            } else if (m[0] == 'v') {
                vs_jv_push(rt->a, out, self->u.dict->v[i]);
            } else {
                struct vs_jv *pair = vs_jv_list(rt->a, JV_TUPLE);
                vs_jv_push(rt->a, pair, k);
                vs_jv_push(rt->a, pair, self->u.dict->v[i]);
                vs_jv_push(rt->a, out, pair);
            }
        }
        return out;
    }
    if (FIND(LIST_UNSAFE, m, strlen(m)))
        vs_jfail(rt->err, rt->pos, "access to attribute '%s' of 'list' object is unsafe", m);
    char what[32];
    snprintf(what, sizeof what, "list.%s()", m);
    vs_ja_check(rt, a, what, NULL, 1);
    struct vs_jv *x = vs_ja_arg(a, 0, NULL);
    if (!x)
        vs_jfail(rt->err, rt->pos, "%s takes exactly one argument (0 given)", what);
    int64_t n = 0;
    for (size_t i = 0; i < self->u.list.n; i++)
        if (vs_jv_equal(self->u.list.v[i], x)) {
            if (m[0] == 'i')
                return vs_jv_int(rt->a, (int64_t)i);
            n++;
        }
    if (m[0] == 'i')
        vs_jfail(rt->err, rt->pos, "value is not in list");
    return vs_jv_int(rt->a, n);
}
