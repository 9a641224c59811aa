/* Jinja evaluator: statements, expressions, scopes, calls and macros, with Jinja2's semantics.
 *
 * Scopes: the globals frame, then the template's frame; each loop iteration, macro call and
 * `with` body gets its own frame, so a `set` inside a loop is gone at the next iteration (use
 * namespace() to carry state, as in Jinja2); `if` makes no scope. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/jinja.h"

#define MAX_DEPTH 100
#define MAX_RANGE 100000 /* Jinja2's sandbox limit */

static void frame_set(struct vs_jrt *rt, struct vs_jframe *f, const char *name, struct vs_jv *v)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->vals[i] = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        f->names = vs_ja_grow(rt->a, f->names, f->n, cap, sizeof *f->names);
        f->vals = vs_ja_grow(rt->a, f->vals, f->n, cap, sizeof *f->vals);
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

static struct vs_jframe *frame_new(struct vs_jrt *rt, struct vs_jframe *parent)
{
    struct vs_jframe *f = vs_ja_alloc(rt->a, sizeof *f);
    f->parent = parent;
    return f;
}

static struct vs_jv *lookup(struct vs_jframe *f, const char *name)
{
    for (; f; f = f->parent)
        for (size_t i = f->n; i > 0; i--)
            if (strcmp(f->names[i - 1], name) == 0)
                return f->vals[i - 1];
    return NULL;
}

_Noreturn void vs_jundef_fail(struct vs_jrt *rt, const struct vs_jv *u)
{
    vs_jfail(rt->err, rt->pos, "%s", u->u.str.s ? u->u.str.s : "value is undefined");
}

void vs_jneed(struct vs_jrt *rt, const struct vs_jv *v)
{
    if (v->kind == JV_UNDEF)
        vs_jundef_fail(rt, v);
}

/* ---- arguments ---- */

struct vs_jv *vs_ja_arg(struct vs_jargs *args, size_t i, const char *name)
{
    if (i < args->npos)
        return args->pos[i];
    for (size_t k = 0; name && k < args->nkw; k++)
        if (strcmp(args->kw[k], name) == 0)
            return args->kwv[k];
    return NULL;
}

void vs_ja_check(struct vs_jrt *rt, struct vs_jargs *args, const char *what, const char *const *names,
                 size_t n)
{
    if (args->npos > n)
        vs_jfail(rt->err, rt->pos, "%s takes at most %zu argument%s (%zu given)", what, n, n == 1 ? "" : "s",
                 args->npos);
    for (size_t k = 0; k < args->nkw; k++) {
        size_t j = n;
        if (names)
            for (j = 0; j < n; j++)
                if (strcmp(args->kw[k], names[j]) == 0)
                    break;
        if (j == n)
            vs_jfail(rt->err, rt->pos, "%s got an unexpected keyword argument '%s'", what, args->kw[k]);
        if (j < args->npos)
            vs_jfail(rt->err, rt->pos, "%s got multiple values for argument '%s'", what, args->kw[k]);
    }
}

static void eval_args(struct vs_jrt *rt, struct vs_jnode *n, struct vs_jargs *out)
{
    out->npos = n->n;
    out->pos = n->n ? vs_ja_alloc(rt->a, n->n * sizeof *out->pos) : NULL;
    for (size_t i = 0; i < n->n; i++)
        out->pos[i] = vs_jeval(rt, n->list[i]);
    out->nkw = n->n2;
    out->kw = n->names;
    out->kwv = n->n2 ? vs_ja_alloc(rt->a, n->n2 * sizeof *out->kwv) : NULL;
    for (size_t i = 0; i < n->n2; i++)
        out->kwv[i] = vs_jeval(rt, n->list2[i]);
}

/* ---- iteration ---- */

struct vs_jv **vs_jiter(struct vs_jrt *rt, struct vs_jv *v, size_t *n)
{
    switch (v->kind) {
    case JV_UNDEF:
        *n = 0;
        return NULL;
    case JV_LIST:
    case JV_TUPLE:
        *n = v->u.list.n;
        return v->u.list.v;
    case JV_DICT: {
        size_t k = v->u.dict->n;
        struct vs_jv **out = vs_ja_alloc(rt->a, (k ? k : 1) * sizeof *out);
        for (size_t i = 0; i < k; i++)
            out[i] = vs_jv_str_own(rt->a, v->u.dict->k[i], v->u.dict->klen[i]);
        *n = k;
        return out;
    }
    case JV_STR: {
        const char *s = v->u.str.s;
        size_t len = v->u.str.len, cnt = vs_u8_count(s, len), j = 0;
        struct vs_jv **out = vs_ja_alloc(rt->a, (cnt ? cnt : 1) * sizeof *out);
        for (size_t i = 0; i < len;) {
            size_t st = i;
            vs_u8_next(s, len, &i);
            out[j++] = vs_jv_str_own(rt->a, s + st, i - st);
        }
        *n = cnt;
        return out;
    }
    default:
        vs_jfail(rt->err, rt->pos, "'%s' object is not iterable", vs_jv_type_name(v));
    }
}

/* ---- attribute and item access ---- */

static const char *type_obj(const struct vs_jv *v)
{
    switch (v->kind) {
    case JV_NONE:
        return "None";
    case JV_STR:
        return "str object";
    case JV_LIST:
        return v->gen ? "generator object" : "list object";
    case JV_TUPLE:
        return "tuple object";
    case JV_DICT:
        return "dict object";
    case JV_INT:
        return "int object";
    case JV_FLOAT:
        return "float object";
    case JV_BOOL:
        return "bool object";
    case JV_NS:
        return "Namespace object";
    case JV_LOOP:
        return "LoopContext object";
    default:
        return "object";
    }
}

static struct vs_jv *loop_attr(struct vs_jrt *rt, struct vs_jv *lv, const char *name)
{
    struct vs_jloop *l = lv->u.loop;
    if (!strcmp(name, "index"))
        return vs_jv_int(rt->a, (int64_t)l->i + 1);
    if (!strcmp(name, "index0"))
        return vs_jv_int(rt->a, (int64_t)l->i);
    if (!strcmp(name, "revindex"))
        return vs_jv_int(rt->a, (int64_t)(l->n - l->i));
    if (!strcmp(name, "revindex0"))
        return vs_jv_int(rt->a, (int64_t)(l->n - l->i - 1));
    if (!strcmp(name, "first"))
        return vs_jv_bool(l->i == 0);
    if (!strcmp(name, "last"))
        return vs_jv_bool(l->i + 1 == l->n);
    if (!strcmp(name, "length"))
        return vs_jv_int(rt->a, (int64_t)l->n);
    if (!strcmp(name, "depth"))
        return vs_jv_int(rt->a, l->depth);
    if (!strcmp(name, "depth0"))
        return vs_jv_int(rt->a, l->depth - 1);
    if (!strcmp(name, "previtem"))
        return l->i > 0 ? l->items[l->i - 1] : vs_jv_undef(rt->a, "there is no previous item");
    if (!strcmp(name, "nextitem"))
        return l->i + 1 < l->n ? l->items[l->i + 1] : vs_jv_undef(rt->a, "there is no next item");
    if (!strcmp(name, "cycle") || !strcmp(name, "changed")) {
        struct vs_jv *f = vs_jv_new(rt->a, JV_FUNC);
        f->u.fn = vs_ja_alloc(rt->a, sizeof *f->u.fn);
        f->u.fn->kind = JF_LOOP;
        f->u.fn->name = name[0] == 'c' && name[1] == 'y' ? "cycle" : "changed";
        f->u.fn->self = lv;
        return f;
    }
    return vs_jv_undef(rt->a, "'LoopContext object' has no attribute '%s'", name);
}

struct vs_jv *vs_jgetattr(struct vs_jrt *rt, struct vs_jv *obj, const char *name, size_t len)
{
    vs_jneed(rt, obj);
    if (len && name[0] == '_')
        return vs_jv_undef(rt->a, "access to attribute '%.*s' of '%s' object is unsafe", (int)len, name,
                           vs_jv_type_name(obj));
    if (obj->kind == JV_NS) {
        struct vs_jv *v = vs_jd_get(obj, name, len);
        return v ? v : vs_jv_undef(rt->a, "'Namespace object' has no attribute '%.*s'", (int)len, name);
    }
    if (obj->kind == JV_TUPLE && obj->group && obj->u.list.n == 2) {
        if (len == 7 && !memcmp(name, "grouper", 7))
            return obj->u.list.v[0];
        if (len == 4 && !memcmp(name, "list", 4))
            return obj->u.list.v[1];
    }
    if (obj->kind == JV_LOOP)
        return loop_attr(rt, obj, vs_ja_strndup(rt->a, name, len));
    struct vs_jv *m = vs_jmethod_get(rt, obj, name, len);
    if (m)
        return m;
    if (obj->kind == JV_DICT) {
        struct vs_jv *v = vs_jd_get(obj, name, len);
        if (v)
            return v;
    }
    return vs_jv_undef(rt->a, "'%s' has no attribute '%.*s'", type_obj(obj), (int)len, name);
}

static int64_t to_index(const struct vs_jv *k)
{
    return k->kind == JV_BOOL ? (int64_t)k->u.b : k->u.i;
}

static struct vs_jv *slice(struct vs_jrt *rt, struct vs_jv *obj, struct vs_jv *start_v, struct vs_jv *stop_v,
                           struct vs_jv *step_v)
{
    struct vs_jv *b[3] = {start_v, stop_v, step_v};
    int64_t v[3] = {0, 0, 1};
    bool given[3] = {false, false, false};
    for (int k = 0; k < 3; k++)
        if (b[k] && b[k]->kind != JV_NONE) {
            if (b[k]->kind != JV_INT && b[k]->kind != JV_BOOL)
                vs_jfail(rt->err, rt->pos, "slice indices must be integers or None");
            v[k] = to_index(b[k]);
            given[k] = true;
        }
    if (v[2] == 0)
        vs_jfail(rt->err, rt->pos, "slice step cannot be zero");
    size_t n;
    struct vs_jv **items;
    if (obj->kind == JV_STR || ((obj->kind == JV_LIST && !obj->gen) || obj->kind == JV_TUPLE))
        items = vs_jiter(rt, obj, &n);
    else
        vs_jfail(rt->err, rt->pos, "'%s' object is not subscriptable", vs_jv_type_name(obj));
    int64_t len = (int64_t)n, step = v[2], lo, hi;
    /* Python's PySlice_AdjustIndices */
    if (!given[0])
        lo = step < 0 ? len - 1 : 0;
    else {
        lo = v[0];
        if (lo < 0)
            lo = lo + len < 0 ? (step < 0 ? -1 : 0) : lo + len;
        else if (lo >= len)
            lo = step < 0 ? len - 1 : len;
    }
    if (!given[1])
        hi = step < 0 ? -1 : len;
    else {
        hi = v[1];
        if (hi < 0)
            hi = hi + len < 0 ? (step < 0 ? -1 : 0) : hi + len;
        else if (hi >= len)
            hi = step < 0 ? len - 1 : len;
    }
    if (obj->kind == JV_STR) {
        struct vs_jbuf out = {.a = rt->a};
        for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step)
            vs_jb_put(&out, items[i]->u.str.s, items[i]->u.str.len);
        return vs_jv_str_own(rt->a, out.p ? out.p : "", out.len);
    }
    struct vs_jv *r = vs_jv_list(rt->a, obj->kind);
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step)
        vs_jv_push(rt->a, r, items[i]);
    return r;
}

struct vs_jv *vs_jgetitem(struct vs_jrt *rt, struct vs_jv *obj, struct vs_jv *key)
{
    vs_jneed(rt, obj);
    vs_jneed(rt, key);
    if (obj->kind == JV_DICT) {
        if (key->kind == JV_STR) {
            struct vs_jv *v = vs_jd_get(obj, key->u.str.s, key->u.str.len);
            if (v)
                return v;
            return vs_jgetattr(rt, obj, key->u.str.s, key->u.str.len);
        }
    } else if ((obj->kind == JV_LIST && !obj->gen) || obj->kind == JV_TUPLE || obj->kind == JV_STR) {
        if (key->kind == JV_INT || key->kind == JV_BOOL) {
            int64_t i = to_index(key);
            size_t n;
            struct vs_jv **items =
                obj->kind == JV_STR ? vs_jiter(rt, obj, &n) : (n = obj->u.list.n, obj->u.list.v);
            if (i < 0)
                i += (int64_t)n;
            if (i >= 0 && i < (int64_t)n)
                return items[i];
            return vs_jv_undef(rt->a, "'%s' has no element %lld", type_obj(obj), (long long)to_index(key));
        }
        if (key->kind == JV_STR)
            return vs_jgetattr(rt, obj, key->u.str.s, key->u.str.len);
    } else if (key->kind == JV_STR) {
        return vs_jgetattr(rt, obj, key->u.str.s, key->u.str.len);
    }
    struct vs_jbuf b = {.a = rt->a};
    vs_jv_repr(&b, key);
    return vs_jv_undef(rt->a, "'%s' has no element %s", type_obj(obj), b.p ? b.p : "");
}

/* ---- operators ---- */

static bool is_num(const struct vs_jv *v)
{
    return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL;
}
static double fnum(const struct vs_jv *v)
{
    return v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : (double)v->u.b;
}
static int64_t inum(const struct vs_jv *v)
{
    return v->kind == JV_INT ? v->u.i : v->kind == JV_BOOL ? (int64_t)v->u.b : 0;
}

static const char *op_text(int op)
{
    static const char *const t[] = {"",   "+",  "-", "*",  "/", "//", "%",  "**",    "~",
                                    "==", "!=", "<", "<=", ">", ">=", "in", "not in"};
    return t[op];
}

static _Noreturn void bad_operands(struct vs_jrt *rt, int op, const struct vs_jv *a, const struct vs_jv *b)
{
    vs_jfail(rt->err, rt->pos, "unsupported operand type(s) for %s: '%s' and '%s'", op_text(op),
             vs_jv_type_name(a), vs_jv_type_name(b));
}

static _Noreturn void overflow(struct vs_jrt *rt)
{
    vs_jfail(rt->err, rt->pos, "integer overflow (integers are 64-bit here)");
}

static struct vs_jv *repeat(struct vs_jrt *rt, struct vs_jv *seq, int64_t times)
{
    if (times < 0)
        times = 0;
    if (seq->kind == JV_STR) {
        if (seq->u.str.len && (uint64_t)times > (64u << 20) / seq->u.str.len)
            vs_jfail(rt->err, rt->pos, "string repetition result is too large");
        struct vs_jbuf b = {.a = rt->a};
        for (int64_t i = 0; i < times; i++)
            vs_jb_put(&b, seq->u.str.s, seq->u.str.len);
        return vs_jv_str_own(rt->a, b.p ? b.p : "", b.len);
    }
    if (seq->u.list.n && (uint64_t)times > (1u << 20) / seq->u.list.n)
        vs_jfail(rt->err, rt->pos, "list repetition result is too large");
    struct vs_jv *r = vs_jv_list(rt->a, seq->kind);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq->u.list.n; k++)
            vs_jv_push(rt->a, r, seq->u.list.v[k]);
    return r;
}

static struct vs_jv *arith(struct vs_jrt *rt, int op, struct vs_jv *a, struct vs_jv *b)
{
    if (op == OP_CONCAT) {
        struct vs_jv *x = vs_jv_to_str(rt->a, a), *y = vs_jv_to_str(rt->a, b);
        struct vs_jbuf o = {.a = rt->a};
        vs_jb_put(&o, x->u.str.s, x->u.str.len);
        vs_jb_put(&o, y->u.str.s, y->u.str.len);
        return vs_jv_str_own(rt->a, o.p ? o.p : "", o.len);
    }
    vs_jneed(rt, a);
    if (op == OP_MOD && a->kind == JV_STR)
        return vs_jformat_percent(rt, a, b);
    vs_jneed(rt, b);
    if (is_num(a) && is_num(b)) {
        bool fl = a->kind == JV_FLOAT || b->kind == JV_FLOAT;
        int64_t x = inum(a), y = inum(b), r;
        double fx = fnum(a), fy = fnum(b);
        switch (op) {
        case OP_ADD:
            if (fl)
                return vs_jv_float(rt->a, fx + fy);
            if (__builtin_add_overflow(x, y, &r))
                overflow(rt);
            return vs_jv_int(rt->a, r);
        case OP_SUB:
            if (fl)
                return vs_jv_float(rt->a, fx - fy);
            if (__builtin_sub_overflow(x, y, &r))
                overflow(rt);
            return vs_jv_int(rt->a, r);
        case OP_MUL:
            if (fl)
                return vs_jv_float(rt->a, fx * fy);
            if (__builtin_mul_overflow(x, y, &r))
                overflow(rt);
            return vs_jv_int(rt->a, r);
        case OP_DIV:
            if (fy == 0)
                vs_jfail(rt->err, rt->pos, "division by zero");
            return vs_jv_float(rt->a, fx / fy);
        case OP_FLOORDIV:
        case OP_MOD:
            if (fl ? fy == 0 : y == 0)
                vs_jfail(rt->err, rt->pos, "%s by zero", op == OP_MOD ? "modulo" : "integer division");
            if (fl) { /* CPython's float_divmod */
                double mod = fmod(fx, fy), div = (fx - mod) / fy, fd;
                if (mod != 0) {
                    if ((fy < 0) != (mod < 0)) {
                        mod += fy;
                        div -= 1.0;
                    }
                } else {
                    mod = copysign(0.0, fy);
                }
                if (div != 0) {
                    fd = floor(div);
                    if (div - fd > 0.5)
                        fd += 1.0;
                } else {
                    fd = copysign(0.0, fx / fy);
                }
                return vs_jv_float(rt->a, op == OP_MOD ? mod : fd);
            } else {
                if (x == INT64_MIN && y == -1)
                    overflow(rt);
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q -= 1;
                    m += y;
                }
                return vs_jv_int(rt->a, op == OP_MOD ? m : q);
            }
        case OP_POW:
            if (!fl && y >= 0) {
                int64_t acc = 1, base = x;
                for (int64_t e = y; e > 0; e >>= 1) {
                    if ((e & 1) && __builtin_mul_overflow(acc, base, &acc))
                        overflow(rt);
                    if (e > 1 && __builtin_mul_overflow(base, base, &base))
                        overflow(rt);
                }
                return vs_jv_int(rt->a, acc);
            }
            if (fx == 0 && fy < 0)
                vs_jfail(rt->err, rt->pos, "0.0 cannot be raised to a negative power");
            if (fx < 0 && fy != floor(fy))
                vs_jfail(rt->err, rt->pos,
                         "a negative number raised to a fractional power is complex; not supported");
            return vs_jv_float(rt->a, pow(fx, fy));
        }
    }
    if (op == OP_ADD && a->kind == b->kind &&
        (a->kind == JV_STR || ((a->kind == JV_LIST && !a->gen && !b->gen) || a->kind == JV_TUPLE))) {
        if (a->kind == JV_STR) {
            struct vs_jbuf o = {.a = rt->a};
            vs_jb_put(&o, a->u.str.s, a->u.str.len);
            vs_jb_put(&o, b->u.str.s, b->u.str.len);
            return vs_jv_str_own(rt->a, o.p ? o.p : "", o.len);
        }
        struct vs_jv *r = vs_jv_list(rt->a, a->kind);
        for (size_t k = 0; k < a->u.list.n; k++)
            vs_jv_push(rt->a, r, a->u.list.v[k]);
        for (size_t k = 0; k < b->u.list.n; k++)
            vs_jv_push(rt->a, r, b->u.list.v[k]);
        return r;
    }
    if (op == OP_MUL) {
        bool aseq = a->kind == JV_STR || (a->kind == JV_LIST && !a->gen) || a->kind == JV_TUPLE;
        bool bseq = b->kind == JV_STR || (b->kind == JV_LIST && !b->gen) || b->kind == JV_TUPLE;
        if (aseq && (b->kind == JV_INT || b->kind == JV_BOOL))
            return repeat(rt, a, inum(b));
        if (bseq && (a->kind == JV_INT || a->kind == JV_BOOL))
            return repeat(rt, b, inum(a));
    }
    bad_operands(rt, op, a, b);
}

static bool contains(struct vs_jrt *rt, struct vs_jv *item, struct vs_jv *container)
{
    switch (container->kind) {
    case JV_UNDEF:
        return false;
    case JV_STR:
        if (item->kind != JV_STR)
            vs_jfail(rt->err, rt->pos, "'in <string>' requires string as left operand, not %s",
                     vs_jv_type_name(item));
        return item->u.str.len == 0 ||
               memmem(container->u.str.s, container->u.str.len, item->u.str.s, item->u.str.len) != NULL;
    case JV_LIST:
    case JV_TUPLE:
        for (size_t i = 0; i < container->u.list.n; i++)
            if (vs_jv_equal(item, container->u.list.v[i]))
                return true;
        return false;
    case JV_DICT:
        if (item->kind == JV_LIST || item->kind == JV_DICT)
            vs_jfail(rt->err, rt->pos, "unhashable type: '%s'", vs_jv_type_name(item));
        return item->kind == JV_STR && vs_jd_get(container, item->u.str.s, item->u.str.len) != NULL;
    default:
        vs_jfail(rt->err, rt->pos, "argument of type '%s' is not iterable", vs_jv_type_name(container));
    }
}

static bool compare_op(struct vs_jrt *rt, int op, struct vs_jv *a, struct vs_jv *b)
{
    switch (op) {
    case OP_EQ:
        return vs_jv_equal(a, b);
    case OP_NE:
        return !vs_jv_equal(a, b);
    case OP_IN:
        return contains(rt, a, b);
    case OP_NOTIN:
        return !contains(rt, a, b);
    default:
        break;
    }
    vs_jneed(rt, a);
    vs_jneed(rt, b);
    int c;
    if ((is_num(a) && is_num(b)) || (a->kind == JV_STR && b->kind == JV_STR) ||
        (vs_jv_is_seq(a) && a->kind == b->kind && !a->gen && !b->gen))
        c = vs_jv_compare(rt->err, rt->pos, a, b, false);
    else
        vs_jfail(rt->err, rt->pos, "'%s' not supported between instances of '%s' and '%s'", op_text(op),
                 vs_jv_type_name(a), vs_jv_type_name(b));
    switch (op) {
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* ---- calls ---- */

static struct vs_jv *call_macro(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *args);

static struct vs_jv *global_range(struct vs_jrt *rt, struct vs_jargs *args)
{
    if (args->nkw)
        vs_jfail(rt->err, rt->pos, "range() takes no keyword arguments");
    if (args->npos < 1 || args->npos > 3)
        vs_jfail(rt->err, rt->pos, "range expected 1 to 3 arguments, got %zu", args->npos);
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < args->npos; i++) {
        if (args->pos[i]->kind != JV_INT && args->pos[i]->kind != JV_BOOL)
            vs_jfail(rt->err, rt->pos, "'%s' object cannot be interpreted as an integer",
                     vs_jv_type_name(args->pos[i]));
        v[args->npos == 1 ? 1 : i] = inum(args->pos[i]);
    }
    if (v[2] == 0)
        vs_jfail(rt->err, rt->pos, "range() arg 3 must not be zero");
    struct vs_jv *r = vs_jv_list(rt->a, JV_LIST);
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
        if (r->u.list.n >= MAX_RANGE)
            vs_jfail(rt->err, rt->pos, "range too big, the sandbox blocks ranges larger than MAX_RANGE (%d)",
                     MAX_RANGE);
        vs_jv_push(rt->a, r, vs_jv_int(rt->a, i));
    }
    return r;
}

static struct vs_jv *global_call(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *args)
{
    const char *name = fn->name;
    if (!strcmp(name, "range"))
        return global_range(rt, args);
    if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
        struct vs_jv *d = vs_jv_dict(rt->a, name[0] == 'n' ? JV_NS : JV_DICT);
        if (args->npos > 1)
            vs_jfail(rt->err, rt->pos, "%s expected at most 1 argument, got %zu", name, args->npos);
        if (args->npos == 1) {
            struct vs_jv *src = args->pos[0];
            if (src->kind == JV_DICT || src->kind == JV_NS) {
                for (size_t i = 0; i < src->u.dict->n; i++)
                    vs_jd_set(rt->a, d, src->u.dict->k[i], src->u.dict->klen[i], src->u.dict->v[i]);
            } else {
                size_t n;
                struct vs_jv **items = vs_jiter(rt, src, &n);
                for (size_t i = 0; i < n; i++) {
                    if (!vs_jv_is_seq(items[i]) || items[i]->u.list.n != 2 ||
                        items[i]->u.list.v[0]->kind != JV_STR)
                        vs_jfail(rt->err, rt->pos, "%s: element #%zu is not a (string key, value) pair", name,
                                 i);
                    struct vs_jv *k = items[i]->u.list.v[0];
                    vs_jd_set(rt->a, d, k->u.str.s, k->u.str.len, items[i]->u.list.v[1]);
                }
            }
        }
        for (size_t i = 0; i < args->nkw; i++)
            vs_jd_set(rt->a, d, args->kw[i], strlen(args->kw[i]), args->kwv[i]);
        return d;
    }
    if (!strcmp(name, "raise_exception")) {
        struct vs_jv *m = args->npos ? vs_jv_to_str(rt->a, args->pos[0]) : vs_jv_strn(rt->a, "", 0);
        vs_jfail(rt->err, rt->pos, "raise_exception: %.*s", (int)m->u.str.len, m->u.str.s);
    }
    if (!strcmp(name, "strftime_now")) {
        struct vs_jv *f = vs_ja_arg(args, 0, "format");
        if (!f || f->kind != JV_STR)
            vs_jfail(rt->err, rt->pos, "strftime_now() needs a format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char out[512];
        size_t n = strftime(out, sizeof out, f->u.str.s, &tm);
        return vs_jv_strn(rt->a, out, n);
    }
    vs_jfail(rt->err, rt->pos, "'%s' is not callable", name);
}

static struct vs_jv *loop_call(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *args)
{
    struct vs_jloop *l = fn->self->u.loop;
    if (args->nkw)
        vs_jfail(rt->err, rt->pos, "loop.%s() takes no keyword arguments", fn->name);
    if (!strcmp(fn->name, "cycle")) {
        if (!args->npos)
            vs_jfail(rt->err, rt->pos, "no items for cycling given");
        return args->pos[l->i % args->npos];
    }
    struct vs_jv *val = vs_jv_list(rt->a, JV_TUPLE);
    for (size_t i = 0; i < args->npos; i++)
        vs_jv_push(rt->a, val, args->pos[i]);
    if (l->changed_seen && vs_jv_equal(l->changed_last, val))
        return &vs_jv_false;
    l->changed_seen = true;
    l->changed_last = val;
    return &vs_jv_true;
}

struct vs_jv *vs_jcall(struct vs_jrt *rt, struct vs_jv *fnv, struct vs_jargs *args)
{
    vs_jneed(rt, fnv);
    if (fnv->kind != JV_FUNC)
        vs_jfail(rt->err, rt->pos, "'%s' object is not callable", vs_jv_type_name(fnv));
    struct vs_jfunc *fn = fnv->u.fn;
    switch (fn->kind) {
    case JF_MACRO:
        return call_macro(rt, fn, args);
    case JF_GLOBAL:
        return global_call(rt, fn, args);
    case JF_METHOD:
        return vs_jmethod_call(rt, fn, args);
    case JF_LOOP:
        return loop_call(rt, fn, args);
    }
    return &vs_jv_none;
}

/* ---- statements ---- */

static void exec_body(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode **body, size_t n,
                      struct vs_jbuf *out);

static void assign(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode *target, struct vs_jv *v)
{
    if (target->kind == JN_NAME) {
        frame_set(rt, f, target->name, v);
        return;
    }
    if (target->kind == JN_TUPLE) {
        size_t n;
        rt->pos = target->pos;
        if (v->kind == JV_UNDEF)
            vs_jundef_fail(rt, v);
        struct vs_jv **items = vs_jiter(rt, v, &n);
        if (n != target->n)
            vs_jfail(rt->err, target->pos,
                     n > target->n ? "too many values to unpack (expected %zu)"
                                   : "not enough values to unpack (expected %zu, got %zu)",
                     target->n, n);
        for (size_t i = 0; i < n; i++)
            assign(rt, f, target->list[i], items[i]);
        return;
    }
    /* ns.attr */
    struct vs_jv *ns = lookup(f, target->a->name);
    rt->pos = target->pos;
    if (!ns || ns->kind != JV_NS)
        vs_jfail(rt->err, target->pos, "cannot assign attribute on non-namespace object");
    vs_jd_set(rt->a, ns, target->name, strlen(target->name), v);
}

static struct vs_jv *render_body_str(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode **body, size_t n)
{
    struct vs_jbuf b = {.a = rt->a};
    exec_body(rt, f, body, n, &b);
    return vs_jv_str_own(rt->a, b.p ? b.p : "", b.len);
}

static struct vs_jv *apply_filter_node(struct vs_jrt *rt, struct vs_jnode *fnode, struct vs_jv *v)
{
    struct vs_jargs args;
    eval_args(rt, fnode, &args);
    rt->pos = fnode->pos;
    return vs_jfilter_apply(rt, fnode->name, v, &args);
}

static void exec_for(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode *s, struct vs_jbuf *out)
{
    struct vs_jframe *saved = rt->frame;
    rt->frame = f;
    struct vs_jv *it = vs_jeval(rt, s->b);
    rt->pos = s->b->pos;
    if (it->kind == JV_NONE || it->kind == JV_INT || it->kind == JV_FLOAT || it->kind == JV_BOOL)
        vs_jfail(rt->err, s->b->pos, "'%s' object is not iterable", vs_jv_type_name(it));
    size_t n;
    struct vs_jv **items = vs_jiter(rt, it, &n);
    if (s->c) { /* loop filter: evaluated with the target bound */
        struct vs_jv **kept = vs_ja_alloc(rt->a, (n ? n : 1) * sizeof *kept);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            struct vs_jframe *tf = frame_new(rt, f);
            assign(rt, tf, s->a, items[i]);
            rt->frame = tf;
            if (vs_jv_truthy(vs_jeval(rt, s->c)))
                kept[k++] = items[i];
        }
        items = kept;
        n = k;
    }
    if (++rt->depth > MAX_DEPTH)
        vs_jfail(rt->err, s->pos, "loops and macros nest too deeply");
    struct vs_jv *outer = lookup(f, "loop");
    struct vs_jloop *l = vs_ja_alloc(rt->a, sizeof *l);
    l->items = items;
    l->n = n;
    l->depth = outer && outer->kind == JV_LOOP ? outer->u.loop->depth + 1 : 1;
    struct vs_jv *lv = vs_jv_new(rt->a, JV_LOOP);
    lv->u.loop = l;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        l->i = i;
        struct vs_jframe *it_frame = frame_new(rt, f);
        frame_set(rt, it_frame, "loop", lv);
        assign(rt, it_frame, s->a, items[i]);
        exec_body(rt, it_frame, s->list, s->n, out);
        done++;
        if (rt->ctl == 1) {
            rt->ctl = 0;
            break;
        }
        rt->ctl = 0;
    }
    rt->depth--;
    if (n == 0 && s->n2)
        exec_body(rt, f, s->list2, s->n2, out);
    rt->frame = saved;
}

static void exec_stmt(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode *s, struct vs_jbuf *out)
{
    rt->frame = f;
    switch (s->kind) {
    case JN_TEXT:
        vs_jb_put(out, s->value->u.str.s, s->value->u.str.len);
        return;
    case JN_OUTPUT: {
        struct vs_jv *v = vs_jeval(rt, s->a);
        vs_jv_str(out, v);
        return;
    }
    case JN_IF:
        if (vs_jv_truthy(vs_jeval(rt, s->a)))
            exec_body(rt, f, s->list, s->n, out);
        else
            exec_body(rt, f, s->list2, s->n2, out);
        return;
    case JN_FOR:
        exec_for(rt, f, s, out);
        return;
    case JN_SET:
        assign(rt, f, s->a, vs_jeval(rt, s->b));
        return;
    case JN_SETBLOCK: {
        struct vs_jv *v = render_body_str(rt, f, s->list, s->n);
        if (s->c) {
            rt->frame = f;
            v = apply_filter_node(rt, s->c, v);
        }
        assign(rt, f, s->a, v);
        return;
    }
    case JN_MACRO: {
        struct vs_jv *m = vs_jv_new(rt->a, JV_FUNC);
        m->u.fn = vs_ja_alloc(rt->a, sizeof *m->u.fn);
        m->u.fn->kind = JF_MACRO;
        m->u.fn->name = s->name;
        m->u.fn->macro = s;
        m->u.fn->closure = f;
        frame_set(rt, f, s->name, m);
        return;
    }
    case JN_CALLBLOCK: {
        /* the body becomes the macro `caller`, passed to the called macro as a keyword */
        struct vs_jv *caller = vs_jv_new(rt->a, JV_FUNC);
        caller->u.fn = vs_ja_alloc(rt->a, sizeof *caller->u.fn);
        caller->u.fn->kind = JF_MACRO;
        caller->u.fn->name = "caller";
        caller->u.fn->macro = s;
        caller->u.fn->closure = f;
        struct vs_jnode *call = s->a;
        struct vs_jv *fn = vs_jeval(rt, call->a);
        struct vs_jargs args;
        eval_args(rt, call, &args);
        const char **kw = vs_ja_alloc(rt->a, (args.nkw + 1) * sizeof *kw);
        struct vs_jv **kwv = vs_ja_alloc(rt->a, (args.nkw + 1) * sizeof *kwv);
        if (args.nkw) {
            memcpy(kw, args.kw, args.nkw * sizeof *kw);
            memcpy(kwv, args.kwv, args.nkw * sizeof *kwv);
        }
        kw[args.nkw] = "caller";
        kwv[args.nkw++] = caller;
        args.kw = kw;
        args.kwv = kwv;
        rt->pos = call->pos;
        vs_jv_str(out, vs_jcall(rt, fn, &args));
        return;
    }
    case JN_FILTERBLOCK: {
        struct vs_jv *v = render_body_str(rt, f, s->list, s->n);
        rt->frame = f;
        vs_jv_str(out, apply_filter_node(rt, s->c, v));
        return;
    }
    case JN_WITH: {
        struct vs_jframe *w = frame_new(rt, f);
        for (size_t i = 0; i < s->n2; i++) {
            rt->frame = f;
            struct vs_jv *v = vs_jeval(rt, s->list3[i]);
            assign(rt, w, s->list2[i], v);
        }
        exec_body(rt, w, s->list, s->n, out);
        return;
    }
    case JN_BLOCK:
        exec_body(rt, f, s->list, s->n, out);
        return;
    case JN_BREAK:
    case JN_CONTINUE:
        if (!lookup(f, "loop"))
            vs_jfail(rt->err, s->pos, "'%s' outside of a loop", s->kind == JN_BREAK ? "break" : "continue");
        rt->ctl = s->kind == JN_BREAK ? 1 : 2;
        return;
    default:
        vs_jfail(rt->err, s->pos, "internal error: not a statement");
    }
}

static void exec_body(struct vs_jrt *rt, struct vs_jframe *f, struct vs_jnode **body, size_t n,
                      struct vs_jbuf *out)
{
    for (size_t i = 0; i < n && !rt->ctl; i++)
        exec_stmt(rt, f, body[i], out);
    rt->frame = f;
}

static struct vs_jv *call_macro(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *args)
{
    struct vs_jnode *m = fn->macro;
    size_t call_pos = rt->pos;
    if (args->npos > m->nnames && !(m->op & MACRO_VARARGS))
        vs_jfail(rt->err, call_pos, "macro '%s' takes not more than %zu argument(s)", m->name, m->nnames);
    struct vs_jframe *f = frame_new(rt, fn->closure);
    struct vs_jv *varargs = vs_jv_list(rt->a, JV_TUPLE), *kwargs = vs_jv_dict(rt->a, JV_DICT);
    for (size_t i = m->nnames; i < args->npos; i++)
        vs_jv_push(rt->a, varargs, args->pos[i]);
    for (size_t k = 0; k < args->nkw; k++) {
        size_t j;
        for (j = 0; j < m->nnames; j++)
            if (strcmp(args->kw[k], m->names[j]) == 0)
                break;
        if (j == m->nnames && !strcmp(args->kw[k], "caller") && (m->op & MACRO_CALLER))
            continue;
        if (j == m->nnames && (m->op & MACRO_KWARGS)) {
            vs_jd_set(rt->a, kwargs, args->kw[k], strlen(args->kw[k]), args->kwv[k]);
            continue;
        }
        if (j == m->nnames)
            vs_jfail(rt->err, call_pos, "macro '%s' takes no keyword argument '%s'", m->name, args->kw[k]);
        if (j < args->npos)
            vs_jfail(rt->err, call_pos, "macro '%s' got multiple values for argument '%s'", m->name,
                     args->kw[k]);
    }
    if (m->op & MACRO_VARARGS)
        frame_set(rt, f, "varargs", varargs);
    if (m->op & MACRO_KWARGS)
        frame_set(rt, f, "kwargs", kwargs);
    if (m->op & MACRO_CALLER) {
        struct vs_jv *c = NULL;
        for (size_t k = 0; k < args->nkw; k++)
            if (!strcmp(args->kw[k], "caller"))
                c = args->kwv[k];
        frame_set(rt, f, "caller", c ? c : vs_jv_undef(rt->a, "'caller' is undefined"));
    }
    struct vs_jframe *saved = rt->frame;
    for (size_t i = 0; i < m->nnames; i++) {
        struct vs_jv *v = vs_ja_arg(args, i, m->names[i]);
        if (!v && m->list2[i]) {
            rt->frame = f;
            v = vs_jeval(rt, m->list2[i]);
        }
        frame_set(rt, f, m->names[i], v ? v : vs_jv_undef(rt->a, "'%s' is undefined", m->names[i]));
    }
    if (++rt->depth > MAX_DEPTH)
        vs_jfail(rt->err, call_pos, "loops and macros nest too deeply");
    int ctl = rt->ctl;
    rt->ctl = 0;
    struct vs_jv *r = render_body_str(rt, f, m->list, m->n);
    rt->ctl = ctl;
    rt->depth--;
    rt->frame = saved;
    return r;
}

/* ---- expressions ---- */

struct vs_jv *vs_jeval(struct vs_jrt *rt, struct vs_jnode *n)
{
    rt->pos = n->pos;
    switch (n->kind) {
    case JN_CONST:
        return n->value;
    case JN_NAME: {
        struct vs_jv *v = lookup(rt->frame, n->name);
        return v ? v : vs_jv_undef(rt->a, "'%s' is undefined", n->name);
    }
    case JN_GETATTR: {
        struct vs_jv *o = vs_jeval(rt, n->a);
        rt->pos = o->kind == JV_UNDEF ? n->a->pos : n->pos;
        return vs_jgetattr(rt, o, n->name, strlen(n->name));
    }
    case JN_GETITEM: {
        struct vs_jv *o = vs_jeval(rt, n->a);
        if (o->kind == JV_UNDEF) {
            rt->pos = n->a->pos;
            vs_jundef_fail(rt, o);
        }
        if (n->b->kind == JN_SLICE) {
            struct vs_jnode *s = n->b;
            struct vs_jv *a = s->a ? vs_jeval(rt, s->a) : NULL, *b = s->b ? vs_jeval(rt, s->b) : NULL,
                         *c = s->c ? vs_jeval(rt, s->c) : NULL;
            rt->pos = n->pos;
            vs_jneed(rt, o);
            return slice(rt, o, a, b, c);
        }
        struct vs_jv *k = vs_jeval(rt, n->b);
        rt->pos = n->pos;
        return vs_jgetitem(rt, o, k);
    }
    case JN_CALL: {
        struct vs_jv *fn = vs_jeval(rt, n->a);
        struct vs_jargs args;
        eval_args(rt, n, &args);
        rt->pos = n->pos;
        return vs_jcall(rt, fn, &args);
    }
    case JN_FILTER: {
        struct vs_jv *v = vs_jeval(rt, n->a);
        return apply_filter_node(rt, n, v);
    }
    case JN_TEST: {
        struct vs_jv *v = vs_jeval(rt, n->a);
        struct vs_jargs args;
        eval_args(rt, n, &args);
        rt->pos = n->pos;
        bool r = vs_jtest_apply(rt, n->name, v, &args);
        return vs_jv_bool(n->op ? !r : r);
    }
    case JN_BINOP: {
        struct vs_jv *a = vs_jeval(rt, n->a), *b = vs_jeval(rt, n->b);
        rt->pos = n->pos;
        return arith(rt, n->op, a, b);
    }
    case JN_AND: {
        struct vs_jv *a = vs_jeval(rt, n->a);
        return vs_jv_truthy(a) ? vs_jeval(rt, n->b) : a;
    }
    case JN_OR: {
        struct vs_jv *a = vs_jeval(rt, n->a);
        return vs_jv_truthy(a) ? a : vs_jeval(rt, n->b);
    }
    case JN_NOT:
        return vs_jv_bool(!vs_jv_truthy(vs_jeval(rt, n->a)));
    case JN_NEG:
    case JN_POS: {
        struct vs_jv *a = vs_jeval(rt, n->a);
        rt->pos = n->pos;
        vs_jneed(rt, a);
        if (!is_num(a))
            vs_jfail(rt->err, n->pos, "bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+',
                     vs_jv_type_name(a));
        if (n->kind == JN_POS)
            return a->kind == JV_BOOL ? vs_jv_int(rt->a, a->u.b) : a;
        if (a->kind == JV_FLOAT)
            return vs_jv_float(rt->a, -a->u.f);
        if (inum(a) == INT64_MIN)
            overflow(rt);
        return vs_jv_int(rt->a, -inum(a));
    }
    case JN_COND:
        if (vs_jv_truthy(vs_jeval(rt, n->a)))
            return vs_jeval(rt, n->b);
        return n->c ? vs_jeval(rt, n->c)
                    : vs_jv_undef(rt->a,
                                  "the inline if-expression evaluated to false and has no else section");
    case JN_COMPARE: {
        struct vs_jv *l = vs_jeval(rt, n->a);
        for (size_t i = 0; i < n->n; i++) {
            struct vs_jv *r = vs_jeval(rt, n->list[i]);
            rt->pos = n->list[i]->pos;
            if (!compare_op(rt, n->ops[i], l, r))
                return &vs_jv_false;
            l = r;
        }
        return &vs_jv_true;
    }
    case JN_LIST:
    case JN_TUPLE: {
        struct vs_jv *l = vs_jv_list(rt->a, n->kind == JN_LIST ? JV_LIST : JV_TUPLE);
        for (size_t i = 0; i < n->n; i++)
            vs_jv_push(rt->a, l, vs_jeval(rt, n->list[i]));
        return l;
    }
    case JN_DICT: {
        struct vs_jv *d = vs_jv_dict(rt->a, JV_DICT);
        for (size_t i = 0; i < n->n; i++) {
            struct vs_jv *k = vs_jeval(rt, n->list[i]);
            if (k->kind != JV_STR)
                vs_jfail(rt->err, n->list[i]->pos, "dict keys must be strings here (got %s)",
                         vs_jv_type_name(k));
            vs_jd_set(rt->a, d, k->u.str.s, k->u.str.len, vs_jeval(rt, n->list2[i]));
        }
        return d;
    }
    default:
        vs_jfail(rt->err, n->pos, "internal error: not an expression");
    }
}

/* ---- entry ---- */

static void add_global(struct vs_jrt *rt, struct vs_jframe *g, const char *name)
{
    struct vs_jv *f = vs_jv_new(rt->a, JV_FUNC);
    f->u.fn = vs_ja_alloc(rt->a, sizeof *f->u.fn);
    f->u.fn->kind = JF_GLOBAL;
    f->u.fn->name = name;
    frame_set(rt, g, name, f);
}

void vs_jrender(struct vs_jrt *rt, struct vs_jnode *root, const char *const *names, struct vs_jv *const *vals,
                size_t nvars, struct vs_jbuf *out)
{
    struct vs_jframe *g = frame_new(rt, NULL);
    static const char *const globals[] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++)
        add_global(rt, g, globals[i]);
    for (size_t i = 0; i < nvars; i++)
        frame_set(rt, g, names[i], vals[i]);
    struct vs_jframe *top = frame_new(rt, g);
    rt->frame = top;
    exec_body(rt, top, root->list, root->n, out);
}
