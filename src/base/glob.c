/* Name patterns as wcmatch.fnmatch(name, pattern, flags=BRACE) matches them.
 *
 * wcmatch expands braces with bracex first (bash rules: `{a,b}` alternatives, nesting,
 * `{1..10..2}` / `{a..e}` ranges with zero padding, `\` escapes kept, `${` never a group, an
 * unbalanced group kept literally) and matches each expansion as a whole-string pattern in
 * which, without DOTMATCH, `*`, `?` and `[...]` do not match a leading `.` and `*` does not
 * match an empty name: exactly glibc fnmatch(3) with FNM_PERIOD (no FNM_PATHNAME, so `*`
 * crosses dots and slashes) plus the empty-name rule. The expander below follows bracex's
 * algorithm step by step, including its treatment of malformed groups.
 *
 * Limits: like wcmatch, more than 1000 expansions is an error, reported here as "no match"
 * (wcmatch raises); nesting deeper than VS_GLOB_MAX_DEPTH falls back to matching the pattern
 * unexpanded, which is what wcmatch does when bracex fails for another reason. */
#include "base/glob.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VS_GLOB_MAX_PATTERNS 1000     /* wcmatch's default pattern limit */
#define VS_GLOB_MAX_BYTES (4u << 20)  /* all expansions of one list together */
#define VS_GLOB_MAX_DEPTH 64

/* One expansion. `empty` is bracex's EMPTY sentinel: a string built only from empty group
 * slots, dropped from the final result (an ordinary "" is kept). */
struct str {
    char *s;
    size_t n;
    bool empty;
};

struct list {
    struct str *v;
    size_t n, cap, bytes;
};

/* A literal run or a group's expansions (bracex's str and iterator items). */
struct part {
    bool group;
    struct list l; /* a literal part has one entry */
};

struct parts {
    struct part *v;
    size_t n, cap;
};

struct slots {
    struct parts *v;
    size_t n, cap;
};

enum { GLOB_OK, GLOB_LIMIT, GLOB_FALLBACK };

struct brace {
    const char *p;
    size_t len, pos;
    bool expanding; /* inside an outermost group: `,` and `}` end a literal run */
    int error;
};

/* v with room for `need` elements (NULL, v untouched, if out of memory). */
static void *grow(void *v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return v;
    size_t c = *cap ? *cap * 2 : 4;
    while (c < need)
        c *= 2;
    void *nv = realloc(v, c * size);
    if (nv)
        *cap = c;
    return nv;
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].s);
    free(l->v);
    *l = (struct list){0};
}

static void parts_free(struct parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        list_free(&ps->v[i].l);
    free(ps->v);
    *ps = (struct parts){0};
}

static void slots_free(struct slots *ss)
{
    for (size_t i = 0; i < ss->n; i++)
        parts_free(&ss->v[i]);
    free(ss->v);
    *ss = (struct slots){0};
}

/* Appends a + b (b may be NULL) to l, checking the limits. */
static bool list_push2(struct brace *st, struct list *l, const char *a, size_t na, const char *b,
                       size_t nb, bool empty)
{
    if (st->error)
        return false;
    if (l->n >= VS_GLOB_MAX_PATTERNS || l->bytes + na + nb > VS_GLOB_MAX_BYTES) {
        st->error = GLOB_LIMIT;
        return false;
    }
    char *s = malloc(na + nb + 1);
    struct str *v = s ? grow(l->v, &l->cap, l->n + 1, sizeof *l->v) : NULL;
    if (!v) {
        free(s);
        st->error = GLOB_LIMIT; /* out of memory: no match */
        return false;
    }
    l->v = v;
    memcpy(s, a, na);
    if (nb)
        memcpy(s + na, b, nb);
    s[na + nb] = '\0';
    l->v[l->n++] = (struct str){s, na + nb, empty};
    l->bytes += na + nb;
    return true;
}

static bool list_push(struct brace *st, struct list *l, const char *s, size_t n, bool empty)
{
    return list_push2(st, l, s, n, NULL, 0, empty);
}

/* Every a[i] + b[j], i major (itertools.product); EMPTY only where both are. */
static bool list_product(struct brace *st, struct list *a, const struct list *b)
{
    struct list out = {0};
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (!list_push2(st, &out, a->v[i].s, a->v[i].n, b->v[j].s, b->v[j].n,
                            a->v[i].empty && b->v[j].empty)) {
                list_free(&out);
                return false;
            }
    list_free(a);
    *a = out;
    return true;
}

static bool product_str(struct brace *st, struct list *a, const char *s, size_t n)
{
    struct list one = {0};
    bool ok = list_push(st, &one, s, n, false) && list_product(st, a, &one);
    list_free(&one);
    return ok;
}

static bool parts_push(struct brace *st, struct parts *ps, bool group, struct list *l)
{
    struct part *v = st->error ? NULL : grow(ps->v, &ps->cap, ps->n + 1, sizeof *ps->v);
    if (!v) {
        st->error = st->error ? st->error : GLOB_LIMIT;
        list_free(l);
        return false;
    }
    ps->v = v;
    ps->v[ps->n++] = (struct part){group, *l};
    *l = (struct list){0};
    return true;
}

static bool parts_push_str(struct brace *st, struct parts *ps, const char *s, size_t n, bool empty)
{
    struct list l = {0};
    return list_push(st, &l, s, n, empty) && parts_push(st, ps, false, &l);
}

static bool slots_push(struct brace *st, struct slots *ss, struct parts *ps)
{
    struct parts *v = st->error ? NULL : grow(ss->v, &ss->cap, ss->n + 1, sizeof *ss->v);
    if (!v) {
        st->error = st->error ? st->error : GLOB_LIMIT;
        parts_free(ps);
        return false;
    }
    ss->v = v;
    ss->v[ss->n++] = *ps;
    *ps = (struct parts){0};
    return true;
}

/* The product of a part list, starting from EMPTY. */
static bool parts_product(struct brace *st, const struct parts *ps, struct list *out)
{
    if (!list_push(st, out, "", 0, true))
        return false;
    for (size_t i = 0; i < ps->n; i++)
        if (!list_product(st, out, &ps->v[i].l))
            return false;
    return true;
}

/* ---- ranges: {1..10}, {-05..100..5}, {a..z..2}, matched right after `{` and before `}` ---- */

struct num {
    bool neg;
    size_t zeros;       /* padding zeros before the significant digits */
    const char *digits; /* at most 19 are used, like bracex */
    size_t ndigits;
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* -?((?:0(?=\d))*)\d+ at *k. */
static bool scan_num(const struct brace *st, size_t *k, bool sign, struct num *n)
{
    size_t i = *k;
    n->neg = false;
    if (sign && i < st->len && st->p[i] == '-') {
        n->neg = true;
        i++;
    }
    size_t z = 0;
    while (i + z + 1 < st->len && st->p[i + z] == '0' && is_digit(st->p[i + z + 1]))
        z++;
    i += z;
    size_t d = 0;
    while (i + d < st->len && is_digit(st->p[i + d]))
        d++;
    if (!d)
        return false;
    n->zeros = z;
    n->digits = st->p + i;
    n->ndigits = d;
    *k = i + d;
    return true;
}

static size_t num_len(const struct num *n)
{
    return (n->neg ? 1 : 0) + (n->ndigits < 19 ? n->ndigits : 19);
}

/* bracex's int64(): the sign and the first 19 significant digits, within int64. */
static bool num_value(const struct num *n, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n->ndigits && i < 19; i++)
        v = v * 10 + (uint64_t)(n->digits[i] - '0'); /* < 10^19 < 2^64 */
    if (n->neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    *out = n->neg ? (int64_t)(0 - v) : (int64_t)v; /* two's complement, as GCC defines it */
    return true;
}

static bool at(const struct brace *st, size_t k, const char *s)
{
    size_t n = strlen(s);
    return k + n <= st->len && memcmp(st->p + k, s, n) == 0;
}

/* `..-?N` then `}`, or just `}`: the optional increment. 0 when it does not fit. */
static int scan_increment(const struct brace *st, size_t *k, int64_t *inc)
{
    *inc = 1;
    if (at(st, *k, "}"))
        return 1;
    size_t i = *k + 2;
    struct num n;
    if (!at(st, *k, ".."))
        return 0;
    if (i < st->len && st->p[i] == '-') /* the sign of an increment is ignored */
        i++;
    if (!scan_num(st, &i, false, &n) || !at(st, i, "}") || !num_value(&n, inc))
        return 0;
    if (*inc < 1)
        *inc = 1;
    *k = i;
    return 1;
}

/* Python's "{:0{pad}d}": the sign, then zeros up to `pad` characters in all. */
static bool push_int(struct brace *st, struct list *out, int64_t v, size_t pad)
{
    char digits[24];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t nd = (size_t)snprintf(digits, sizeof digits, "%" PRIu64, mag), sign = v < 0;
    size_t zeros = pad > sign + nd ? pad - sign - nd : 0;
    char *s = malloc(sign + zeros + nd + 1);
    if (!s) {
        st->error = GLOB_LIMIT;
        return false;
    }
    memset(s, '0', sign + zeros);
    if (sign)
        s[0] = '-';
    memcpy(s + sign + zeros, digits, nd);
    bool ok = list_push(st, out, s, sign + zeros + nd, false);
    free(s);
    return ok;
}

static bool int_range(struct brace *st, struct list *out)
{
    size_t k = st->pos;
    struct num a, b;
    int64_t first, last, inc;
    if (!scan_num(st, &k, true, &a) || !at(st, k, "..") || (k += 2, !scan_num(st, &k, true, &b)) ||
        !scan_increment(st, &k, &inc) || !num_value(&a, &first) || !num_value(&b, &last))
        return false;
    size_t pad = 0;
    if (a.zeros || b.zeros) {
        size_t pa = a.zeros + num_len(&a), pb = b.zeros + num_len(&b);
        pad = pa > pb ? pa : pb;
    }
    bool up = first < last;
    uint64_t diff = up ? (uint64_t)last - (uint64_t)first : (uint64_t)first - (uint64_t)last;
    if (diff / (uint64_t)inc >= VS_GLOB_MAX_PATTERNS) {
        st->error = GLOB_LIMIT;
        return true;
    }
    for (uint64_t i = 0, count = diff / (uint64_t)inc + 1; i < count; i++) {
        uint64_t step = i * (uint64_t)inc;
        if (!push_int(st, out, (int64_t)(up ? (uint64_t)first + step : (uint64_t)first - step), pad))
            return true;
    }
    st->pos = k + 1;
    return true;
}

static bool char_range(struct brace *st, struct list *out)
{
    size_t k = st->pos;
    int64_t inc;
    if (!(k + 3 < st->len && is_alpha(st->p[k]) && at(st, k + 1, "..") && is_alpha(st->p[k + 3])))
        return false;
    char a = st->p[k], b = st->p[k + 3];
    k += 4;
    if (!scan_increment(st, &k, &inc))
        return false;
    /* bracex walks the characters 'A'..'z' and yields "" for the backslash among them */
    for (int64_t c = a; a <= b ? c <= b : c >= b; c += a <= b ? inc : -inc) {
        const char ch = (char)c;
        if (!list_push(st, out, &ch, ch == '\\' ? 0 : 1, false))
            return true;
        if (inc > 'z') /* one step leaves the alphabet; avoid overflow */
            break;
    }
    st->pos = k + 1;
    return true;
}

/* ---- bracex's get_literals / get_sequence ---- */

static void get_sequence(struct brace *st, int depth, struct list *out);

/* A literal run with the groups it contains, up to a `,` or `}` of the enclosing group. */
static void get_literals(struct brace *st, int depth, bool ignore_end, struct parts *out)
{
    char *buf = NULL; /* the literal run so far, escapes kept */
    size_t n = 0, cap = 0;
    bool dollar = false;
#define LIT_ADD(c)                                                                               \
    do {                                                                                         \
        char *nb_ = grow(buf, &cap, n + 1, 1);                                                   \
        if (!nb_) {                                                                              \
            st->error = GLOB_LIMIT;                                                              \
            goto done;                                                                           \
        }                                                                                        \
        buf = nb_;                                                                               \
        buf[n++] = (c);                                                                          \
    } while (0)
    while (st->pos < st->len && !st->error) {
        char c = st->p[st->pos++];
        bool ignore_brace = dollar;
        dollar = false;
        if (c == '$') {
            dollar = true;
            LIT_ADD(c);
        } else if (c == '\\') {
            LIT_ADD(c);
            if (st->pos < st->len)
                LIT_ADD(st->p[st->pos++]);
        } else if (!ignore_brace && c == '{') {
            if (n && !parts_push_str(st, out, buf, n, false))
                goto done;
            n = 0;
            if (st->pos >= st->len) { /* a trailing `{` is literal */
                LIT_ADD(c);
                break;
            }
            if (depth + 1 > VS_GLOB_MAX_DEPTH) {
                st->error = GLOB_FALLBACK;
                goto done;
            }
            struct list seq = {0};
            get_sequence(st, depth + 1, &seq);
            if (!parts_push(st, out, true, &seq))
                goto done;
        } else if (st->expanding && (c == ',' || (c == '}' && !ignore_end))) {
            st->pos--;
            break;
        } else {
            LIT_ADD(c);
        }
    }
    if (n)
        parts_push_str(st, out, buf, n, false);
done:
#undef LIT_ADD
    free(buf);
}

/* The group whose `{` was just read: its expansions, or its text if it is no valid group. */
static void get_sequence(struct brace *st, int depth, struct list *out)
{
    bool release = !st->expanding;
    st->expanding = true;
    struct slots slots = {0};
    if (int_range(st, out) || char_range(st, out))
        goto done;
    bool has_comma = false, is_empty = true;
    while (!st->error && st->pos < st->len) {
        char c = st->p[st->pos];
        /* bash: at the top level a `}` before the first comma does not close the group,
         * except in a pattern that starts with `{}` */
        bool keep_looking = depth == 1 && !has_comma;
        if (c == '}' && (!keep_looking || st->pos == 1)) {
            st->pos++;
            if (is_empty) {
                struct parts e = {0};
                if (!parts_push_str(st, &e, "", 0, true) || !slots_push(st, &slots, &e))
                    goto done;
            }
            if (!has_comma) { /* not a group: `{` + its text + `}` */
                if (!list_push(st, out, "{", 1, false))
                    goto done;
                for (size_t i = 0; i < slots.n; i++)
                    for (size_t j = 0; j < slots.v[i].n; j++)
                        if (!list_product(st, out, &slots.v[i].v[j].l))
                            goto done;
                product_str(st, out, "}", 1);
                goto done;
            }
            for (size_t i = 0; i < slots.n; i++) {
                struct list alt = {0};
                bool ok = parts_product(st, &slots.v[i], &alt);
                for (size_t j = 0; ok && j < alt.n; j++)
                    ok = list_push(st, out, alt.v[j].s, alt.v[j].n, alt.v[j].empty);
                list_free(&alt);
                if (!ok)
                    goto done;
            }
            goto done;
        } else if (c == ',') {
            st->pos++;
            has_comma = true;
            if (is_empty) {
                struct parts e = {0};
                if (!parts_push_str(st, &e, "", 0, true) || !slots_push(st, &slots, &e))
                    goto done;
            } else {
                is_empty = true;
            }
        } else {
            struct parts ps = {0};
            get_literals(st, depth, keep_looking, &ps);
            if (!slots_push(st, &slots, &ps))
                goto done;
            is_empty = false;
        }
    }
    if (st->error)
        goto done;
    /* Unclosed: `{` and the text again, with a comma before each literal that follows a
     * literal (bracex's reconstruction, kept as is). */
    if (!list_push(st, out, "{", 1, false))
        goto done;
    bool last_str = false;
    for (size_t i = 0; i < slots.n; i++)
        for (size_t j = 0; j < slots.v[i].n; j++) {
            const struct part *pt = &slots.v[i].v[j];
            bool ok;
            if (pt->group) {
                ok = list_product(st, out, &pt->l);
            } else {
                struct list one = {0};
                const struct str *lit = &pt->l.v[0];
                ok = list_push2(st, &one, ",", last_str ? 1 : 0, lit->s, lit->n, false) &&
                     list_product(st, out, &one);
                list_free(&one);
            }
            if (!ok)
                goto done;
            last_str = !pt->group;
        }
done:
    if (release)
        st->expanding = false;
    slots_free(&slots);
}

/* Expands braces into *out (EMPTY results dropped). Returns GLOB_OK, GLOB_LIMIT or
 * GLOB_FALLBACK. */
static int expand_braces(const char *pattern, struct list *out)
{
    struct brace st = {.p = pattern, .len = strlen(pattern)};
    struct parts ps = {0};
    struct list all = {0};
    get_literals(&st, 0, false, &ps);
    if (!st.error)
        parts_product(&st, &ps, &all);
    parts_free(&ps);
    for (size_t i = 0; !st.error && i < all.n; i++)
        if (!all.v[i].empty)
            list_push(&st, out, all.v[i].s, all.v[i].n, false);
    list_free(&all);
    if (st.error)
        list_free(out);
    return st.error;
}

static bool match_one(const char *pattern, const char *name)
{
    if (!*name) /* wcmatch: `*` needs a character; everything else does anyway */
        return !*pattern;
    return fnmatch(pattern, name, FNM_PERIOD) == 0;
}

bool vs_glob_match(const char *pattern, const char *name)
{
    if (strcmp(pattern, name) == 0) /* msModelSlim tries the exact name first */
        return true;
    if (!strchr(pattern, '{'))
        return match_one(pattern, name);
    struct list alts = {0};
    int rc = expand_braces(pattern, &alts);
    if (rc == GLOB_FALLBACK)
        return match_one(pattern, name);
    bool hit = false;
    for (size_t i = 0; !hit && i < alts.n; i++)
        hit = match_one(alts.v[i].s, name);
    list_free(&alts);
    return hit;
}
