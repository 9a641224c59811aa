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

static void frame_set(struct jrt *rt, struct jframe *f, const char *name, struct jv *v)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->vals[i] = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        const char **nn = ja_alloc(rt->a, cap * sizeof *nn);
        struct jv **nv = ja_alloc(rt->a, cap * sizeof *nv);
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof *nn);
            memcpy(nv, f->vals, f->n * sizeof *nv);
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

static struct jframe *frame_new(struct jrt *rt, struct jframe *parent)
{
    struct jframe *f = ja_alloc(rt->a, sizeof *f);
    f->parent = parent;
    return f;
}

static struct jv *lookup(struct jframe *f, const char *name)
{
    for (; f; f = f->parent)
        for (size_t i = f->n; i > 0; i--)
            if (strcmp(f->names[i - 1], name) == 0)
                return f->vals[i - 1];
    return NULL;
}

_Noreturn void jundef_fail(struct jrt *rt, const struct jv *u)
{
    jfail(rt->err, rt->pos, "%s", u->u.str.s ? u->u.str.s : "value is undefined");
}

void jneed(struct jrt *rt, const struct jv *v)
{
    if (v->kind == JV_UNDEF)
        jundef_fail(rt, v);
}

/* ---- arguments ---- */

struct jv *ja_arg(struct jargs *args, size_t i, const char *name)
{
    if (i < args->npos)
        return args->pos[i];
    for (size_t k = 0; name && k < args->nkw; k++)
        if (strcmp(args->kw[k], name) == 0)
            return args->kwv[k];
    return NULL;
}

void ja_check(struct jrt *rt, struct jargs *args, const char *what, const char *const *names, size_t n)
{
    if (args->npos > n)
        jfail(rt->err, rt->pos, "%s takes at most %zu argument%s (%zu given)", what, n, n == 1 ? "" : "s", args->npos);
    for (size_t k = 0; k < args->nkw; k++) {
        size_t j = n;
        if (names)
            for (j = 0; j < n; j++)
                if (strcmp(args->kw[k], names[j]) == 0)
                    break;
        if (j == n)
            jfail(rt->err, rt->pos, "%s got an unexpected keyword argument '%s'", what, args->kw[k]);
        if (j < args->npos)
            jfail(rt->err, rt->pos, "%s got multiple values for argument '%s'", what, args->kw[k]);
    }
}

static void eval_args(struct jrt *rt, struct jnode *n, struct jargs *out)
{
    out->npos = n->n;
    out->pos = n->n ? ja_alloc(rt->a, n->n * sizeof *out->pos) : NULL;
    for (size_t i = 0; i < n->n; i++)
        out->pos[i] = jeval(rt, n->list[i]);
    out->nkw = n->n2;
    out->kw = n->names;
    out->kwv = n->n2 ? ja_alloc(rt->a, n->n2 * sizeof *out->kwv) : NULL;
    for (size_t i = 0; i < n->n2; i++)
        out->kwv[i] = jeval(rt, n->list2[i]);
}

/* ---- iteration ---- */

struct jv **jiter(struct jrt *rt, struct jv *v, size_t *n)
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
        struct jv **out = ja_alloc(rt->a, (k ? k : 1) * sizeof *out);
        for (size_t i = 0; i < k; i++)
            out[i] = jv_str_own(rt->a, v->u.dict->k[i], v->u.dict->klen[i]);
        *n = k;
        return out;
    }
    case JV_STR: {
        const char *s = v->u.str.s;
        size_t len = v->u.str.len, cnt = u8_count(s, len), j = 0;
        struct jv **out = ja_alloc(rt->a, (cnt ? cnt : 1) * sizeof *out);
        for (size_t i = 0; i < len;) {
            size_t st = i;
            u8_next(s, len, &i);
            out[j++] = jv_str_own(rt->a, s + st, i - st);
        }
        *n = cnt;
        return out;
    }
    default:
        jfail(rt->err, rt->pos, "'%s' object is not iterable", jv_type_name(v));
    }
}

/* ---- attribute and item access ---- */

static const char *type_obj(const struct jv *v)
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

static struct jv *loop_attr(struct jrt *rt, struct jv *lv, const char *name)
{
    struct jloop *l = lv->u.loop;
    if (!strcmp(name, "index"))
        return jv_int(rt->a, (int64_t)l->i + 1);
    if (!strcmp(name, "index0"))
        return jv_int(rt->a, (int64_t)l->i);
    if (!strcmp(name, "revindex"))
        return jv_int(rt->a, (int64_t)(l->n - l->i));
    if (!strcmp(name, "revindex0"))
        return jv_int(rt->a, (int64_t)(l->n - l->i - 1));
    if (!strcmp(name, "first"))
        return jv_bool(l->i == 0);
    if (!strcmp(name, "last"))
        return jv_bool(l->i + 1 == l->n);
    if (!strcmp(name, "length"))
        return jv_int(rt->a, (int64_t)l->n);
    if (!strcmp(name, "depth"))
        return jv_int(rt->a, l->depth);
    if (!strcmp(name, "depth0"))
        return jv_int(rt->a, l->depth - 1);
    if (!strcmp(name, "previtem"))
        return l->i > 0 ? l->items[l->i - 1] : jv_undef(rt->a, "there is no previous item");
    if (!strcmp(name, "nextitem"))
        return l->i + 1 < l->n ? l->items[l->i + 1] : jv_undef(rt->a, "there is no next item");
    if (!strcmp(name, "cycle") || !strcmp(name, "changed")) {
        struct jv *f = jv_new(rt->a, JV_FUNC);
        f->u.fn = ja_alloc(rt->a, sizeof *f->u.fn);
        f->u.fn->kind = JF_LOOP;
        f->u.fn->name = name[0] == 'c' && name[1] == 'y' ? "cycle" : "changed";
        f->u.fn->self = lv;
        return f;
    }
    return jv_undef(rt->a, "'LoopContext object' has no attribute '%s'", name);
}

struct jv *jgetattr(struct jrt *rt, struct jv *obj, const char *name, size_t len)
{
    jneed(rt, obj);
    if (len && name[0] == '_')
        return jv_undef(rt->a, "access to attribute '%.*s' of '%s' object is unsafe", (int)len, name, jv_type_name(obj));
    if (obj->kind == JV_NS) {
        struct jv *v = jd_get(obj, name, len);
        return v ? v : jv_undef(rt->a, "'Namespace object' has no attribute '%.*s'", (int)len, name);
    }
    if (obj->kind == JV_LOOP)
        return loop_attr(rt, obj, ja_strndup(rt->a, name, len));
    struct jv *m = jmethod_get(rt, obj, name, len);
    if (m)
        return m;
    if (obj->kind == JV_DICT) {
        struct jv *v = jd_get(obj, name, len);
        if (v)
            return v;
    }
    return jv_undef(rt->a, "'%s' has no attribute '%.*s'", type_obj(obj), (int)len, name);
}

static int64_t to_index(const struct jv *k) { return k->kind == JV_BOOL ? (int64_t)k->u.b : k->u.i; }

static struct jv *slice(struct jrt *rt, struct jv *obj, struct jv *start_v, struct jv *stop_v, struct jv *step_v)
{
    struct jv *b[3] = {start_v, stop_v, step_v};
    int64_t v[3] = {0, 0, 1};
    bool given[3] = {false, false, false};
    for (int k = 0; k < 3; k++)
        if (b[k] && b[k]->kind != JV_NONE) {
            if (b[k]->kind != JV_INT && b[k]->kind != JV_BOOL)
                jfail(rt->err, rt->pos, "slice indices must be integers or None");
            v[k] = to_index(b[k]);
            given[k] = true;
        }
    if (v[2] == 0)
        jfail(rt->err, rt->pos, "slice step cannot be zero");
    size_t n;
    struct jv **items;
    if (obj->kind == JV_STR || ((obj->kind == JV_LIST && !obj->gen) || obj->kind == JV_TUPLE))
        items = jiter(rt, obj, &n);
    else
        jfail(rt->err, rt->pos, "'%s' object is not subscriptable", jv_type_name(obj));
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
        struct jbuf out = {.a = rt->a};
        for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step)
            jb_put(&out, items[i]->u.str.s, items[i]->u.str.len);
        return jv_str_own(rt->a, out.p ? out.p : "", out.len);
    }
    struct jv *r = jv_list(rt->a, obj->kind);
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step)
        jv_push(rt->a, r, items[i]);
    return r;
}

struct jv *jgetitem(struct jrt *rt, struct jv *obj, struct jv *key)
{
    jneed(rt, obj);
    jneed(rt, key);
    if (obj->kind == JV_DICT) {
        if (key->kind == JV_STR) {
            struct jv *v = jd_get(obj, key->u.str.s, key->u.str.len);
            if (v)
                return v;
            return jgetattr(rt, obj, key->u.str.s, key->u.str.len);
        }
    } else if ((obj->kind == JV_LIST && !obj->gen) || obj->kind == JV_TUPLE || obj->kind == JV_STR) {
        if (key->kind == JV_INT || key->kind == JV_BOOL) {
            int64_t i = to_index(key);
            size_t n;
            struct jv **items = obj->kind == JV_STR ? jiter(rt, obj, &n) : (n = obj->u.list.n, obj->u.list.v);
            if (i < 0)
                i += (int64_t)n;
            if (i >= 0 && i < (int64_t)n)
                return items[i];
            return jv_undef(rt->a, "'%s' has no element %lld", type_obj(obj), (long long)to_index(key));
        }
        if (key->kind == JV_STR)
            return jgetattr(rt, obj, key->u.str.s, key->u.str.len);
    } else if (key->kind == JV_STR) {
        return jgetattr(rt, obj, key->u.str.s, key->u.str.len);
    }
    struct jbuf b = {.a = rt->a};
    jv_repr(&b, key);
    return jv_undef(rt->a, "'%s' has no element %s", type_obj(obj), b.p ? b.p : "");
}

/* ---- operators ---- */

static bool is_num(const struct jv *v) { return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL; }
static double fnum(const struct jv *v)
{
    return v->kind == JV_FLOAT ? v->u.f : v->kind == JV_INT ? (double)v->u.i : (double)v->u.b;
}
static int64_t inum(const struct jv *v) { return v->kind == JV_INT ? v->u.i : v->kind == JV_BOOL ? (int64_t)v->u.b : 0; }

static const char *op_text(int op)
{
    static const char *const t[] = {"", "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "in", "not in"};
    return t[op];
}

static _Noreturn void bad_operands(struct jrt *rt, int op, const struct jv *a, const struct jv *b)
{
    jfail(rt->err, rt->pos, "unsupported operand type(s) for %s: '%s' and '%s'", op_text(op), jv_type_name(a),
          jv_type_name(b));
}

static _Noreturn void overflow(struct jrt *rt)
{
    jfail(rt->err, rt->pos, "integer overflow (integers are 64-bit here)");
}

static struct jv *repeat(struct jrt *rt, struct jv *seq, int64_t times)
{
    if (times < 0)
        times = 0;
    if (seq->kind == JV_STR) {
        if (seq->u.str.len && (uint64_t)times > (64u << 20) / seq->u.str.len)
            jfail(rt->err, rt->pos, "string repetition result is too large");
        struct jbuf b = {.a = rt->a};
        for (int64_t i = 0; i < times; i++)
            jb_put(&b, seq->u.str.s, seq->u.str.len);
        return jv_str_own(rt->a, b.p ? b.p : "", b.len);
    }
    if (seq->u.list.n && (uint64_t)times > (1u << 20) / seq->u.list.n)
        jfail(rt->err, rt->pos, "list repetition result is too large");
    struct jv *r = jv_list(rt->a, seq->kind);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq->u.list.n; k++)
            jv_push(rt->a, r, seq->u.list.v[k]);
    return r;
}

static struct jv *arith(struct jrt *rt, int op, struct jv *a, struct jv *b)
{
    if (op == OP_CONCAT) {
        struct jv *x = jv_to_str(rt->a, a), *y = jv_to_str(rt->a, b);
        struct jbuf o = {.a = rt->a};
        jb_put(&o, x->u.str.s, x->u.str.len);
        jb_put(&o, y->u.str.s, y->u.str.len);
        return jv_str_own(rt->a, o.p ? o.p : "", o.len);
    }
    jneed(rt, a);
    if (op == OP_MOD && a->kind == JV_STR)
        return jformat_percent(rt, a, b);
    jneed(rt, b);
    if (is_num(a) && is_num(b)) {
        bool fl = a->kind == JV_FLOAT || b->kind == JV_FLOAT;
        int64_t x = inum(a), y = inum(b), r;
        double fx = fnum(a), fy = fnum(b);
        switch (op) {
        case OP_ADD:
            if (fl)
                return jv_float(rt->a, fx + fy);
            if (__builtin_add_overflow(x, y, &r))
                overflow(rt);
            return jv_int(rt->a, r);
        case OP_SUB:
            if (fl)
                return jv_float(rt->a, fx - fy);
            if (__builtin_sub_overflow(x, y, &r))
                overflow(rt);
            return jv_int(rt->a, r);
        case OP_MUL:
            if (fl)
                return jv_float(rt->a, fx * fy);
            if (__builtin_mul_overflow(x, y, &r))
                overflow(rt);
            return jv_int(rt->a, r);
        case OP_DIV:
            if (fy == 0)
                jfail(rt->err, rt->pos, "division by zero");
            return jv_float(rt->a, fx / fy);
        case OP_FLOORDIV:
        case OP_MOD:
            if (fl ? fy == 0 : y == 0)
                jfail(rt->err, rt->pos, "%s by zero", op == OP_MOD ? "modulo" : "integer division");
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
                return jv_float(rt->a, op == OP_MOD ? mod : fd);
            } else {
                if (x == INT64_MIN && y == -1)
                    overflow(rt);
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q -= 1;
                    m += y;
                }
                return jv_int(rt->a, op == OP_MOD ? m : q);
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
                return jv_int(rt->a, acc);
            }
            if (fx == 0 && fy < 0)
                jfail(rt->err, rt->pos, "0.0 cannot be raised to a negative power");
            if (fx < 0 && fy != floor(fy))
                jfail(rt->err, rt->pos, "a negative number raised to a fractional power is complex; not supported");
            return jv_float(rt->a, pow(fx, fy));
        }
    }
    if (op == OP_ADD && a->kind == b->kind && (a->kind == JV_STR || ((a->kind == JV_LIST && !a->gen && !b->gen) || a->kind == JV_TUPLE))) {
        if (a->kind == JV_STR) {
            struct jbuf o = {.a = rt->a};
            jb_put(&o, a->u.str.s, a->u.str.len);
            jb_put(&o, b->u.str.s, b->u.str.len);
            return jv_str_own(rt->a, o.p ? o.p : "", o.len);
        }
        struct jv *r = jv_list(rt->a, a->kind);
        for (size_t k = 0; k < a->u.list.n; k++)
            jv_push(rt->a, r, a->u.list.v[k]);
        for (size_t k = 0; k < b->u.list.n; k++)
            jv_push(rt->a, r, b->u.list.v[k]);
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

static bool contains(struct jrt *rt, struct jv *item, struct jv *container)
{
    switch (container->kind) {
    case JV_UNDEF:
        return false;
    case JV_STR:
        if (item->kind != JV_STR)
            jfail(rt->err, rt->pos, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        return item->u.str.len == 0 ||
               memmem(container->u.str.s, container->u.str.len, item->u.str.s, item->u.str.len) != NULL;
    case JV_LIST:
    case JV_TUPLE:
        for (size_t i = 0; i < container->u.list.n; i++)
            if (jv_equal(item, container->u.list.v[i]))
                return true;
        return false;
    case JV_DICT:
        if (item->kind == JV_LIST || item->kind == JV_DICT)
            jfail(rt->err, rt->pos, "unhashable type: '%s'", jv_type_name(item));
        return item->kind == JV_STR && jd_get(container, item->u.str.s, item->u.str.len) != NULL;
    default:
        jfail(rt->err, rt->pos, "argument of type '%s' is not iterable", jv_type_name(container));
    }
}

static bool compare_op(struct jrt *rt, int op, struct jv *a, struct jv *b)
{
    switch (op) {
    case OP_EQ:
        return jv_equal(a, b);
    case OP_NE:
        return !jv_equal(a, b);
    case OP_IN:
        return contains(rt, a, b);
    case OP_NOTIN:
        return !contains(rt, a, b);
    default:
        break;
    }
    jneed(rt, a);
    jneed(rt, b);
    int c;
    if ((is_num(a) && is_num(b)) || (a->kind == JV_STR && b->kind == JV_STR) ||
        (jv_is_seq(a) && a->kind == b->kind && !a->gen && !b->gen))
        c = jv_compare(rt->err, rt->pos, a, b, false);
    else
        jfail(rt->err, rt->pos, "'%s' not supported between instances of '%s' and '%s'", op_text(op), jv_type_name(a),
              jv_type_name(b));
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

static struct jv *call_macro(struct jrt *rt, struct jfunc *fn, struct jargs *args);

static struct jv *global_range(struct jrt *rt, struct jargs *args)
{
    if (args->nkw)
        jfail(rt->err, rt->pos, "range() takes no keyword arguments");
    if (args->npos < 1 || args->npos > 3)
        jfail(rt->err, rt->pos, "range expected 1 to 3 arguments, got %zu", args->npos);
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < args->npos; i++) {
        if (args->pos[i]->kind != JV_INT && args->pos[i]->kind != JV_BOOL)
            jfail(rt->err, rt->pos, "'%s' object cannot be interpreted as an integer", jv_type_name(args->pos[i]));
        v[args->npos == 1 ? 1 : i] = inum(args->pos[i]);
    }
    if (v[2] == 0)
        jfail(rt->err, rt->pos, "range() arg 3 must not be zero");
    struct jv *r = jv_list(rt->a, JV_LIST);
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
        if (r->u.list.n >= MAX_RANGE)
            jfail(rt->err, rt->pos, "range too big, the sandbox blocks ranges larger than MAX_RANGE (%d)", MAX_RANGE);
        jv_push(rt->a, r, jv_int(rt->a, i));
    }
    return r;
}

static struct jv *global_call(struct jrt *rt, struct jfunc *fn, struct jargs *args)
{
    const char *name = fn->name;
    if (!strcmp(name, "range"))
        return global_range(rt, args);
    if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
        struct jv *d = jv_dict(rt->a, name[0] == 'n' ? JV_NS : JV_DICT);
        if (args->npos > 1)
            jfail(rt->err, rt->pos, "%s expected at most 1 argument, got %zu", name, args->npos);
        if (args->npos == 1) {
            struct jv *src = args->pos[0];
            if (src->kind == JV_DICT || src->kind == JV_NS) {
                for (size_t i = 0; i < src->u.dict->n; i++)
                    jd_set(rt->a, d, src->u.dict->k[i], src->u.dict->klen[i], src->u.dict->v[i]);
            } else {
                size_t n;
                struct jv **items = jiter(rt, src, &n);
                for (size_t i = 0; i < n; i++) {
                    if (!jv_is_seq(items[i]) || items[i]->u.list.n != 2 || items[i]->u.list.v[0]->kind != JV_STR)
                        jfail(rt->err, rt->pos, "%s: element #%zu is not a (string key, value) pair", name, i);
                    struct jv *k = items[i]->u.list.v[0];
                    jd_set(rt->a, d, k->u.str.s, k->u.str.len, items[i]->u.list.v[1]);
                }
            }
        }
        for (size_t i = 0; i < args->nkw; i++)
            jd_set(rt->a, d, args->kw[i], strlen(args->kw[i]), args->kwv[i]);
        return d;
    }
    if (!strcmp(name, "raise_exception")) {
        struct jv *m = args->npos ? jv_to_str(rt->a, args->pos[0]) : jv_strn(rt->a, "", 0);
        jfail(rt->err, rt->pos, "raise_exception: %.*s", (int)m->u.str.len, m->u.str.s);
    }
    if (!strcmp(name, "strftime_now")) {
        struct jv *f = ja_arg(args, 0, "format");
        if (!f || f->kind != JV_STR)
            jfail(rt->err, rt->pos, "strftime_now() needs a format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char out[512];
        size_t n = strftime(out, sizeof out, f->u.str.s, &tm);
        return jv_strn(rt->a, out, n);
    }
    jfail(rt->err, rt->pos, "'%s' is not callable", name);
}

static struct jv *loop_call(struct jrt *rt, struct jfunc *fn, struct jargs *args)
{
    struct jloop *l = fn->self->u.loop;
    if (args->nkw)
        jfail(rt->err, rt->pos, "loop.%s() takes no keyword arguments", fn->name);
    if (!strcmp(fn->name, "cycle")) {
        if (!args->npos)
            jfail(rt->err, rt->pos, "no items for cycling given");
        return args->pos[l->i % args->npos];
    }
    struct jv *val = jv_list(rt->a, JV_TUPLE);
    for (size_t i = 0; i < args->npos; i++)
        jv_push(rt->a, val, args->pos[i]);
    if (l->changed_seen && jv_equal(l->changed_last, val))
        return &jv_false;
    l->changed_seen = true;
    l->changed_last = val;
    return &jv_true;
}

struct jv *jcall(struct jrt *rt, struct jv *fnv, struct jargs *args)
{
    jneed(rt, fnv);
    if (fnv->kind != JV_FUNC)
        jfail(rt->err, rt->pos, "'%s' object is not callable", jv_type_name(fnv));
    struct jfunc *fn = fnv->u.fn;
    switch (fn->kind) {
    case JF_MACRO:
        return call_macro(rt, fn, args);
    case JF_GLOBAL:
        return global_call(rt, fn, args);
    case JF_METHOD:
        return jmethod_call(rt, fn, args);
    case JF_LOOP:
        return loop_call(rt, fn, args);
    }
    return &jv_none;
}

/* ---- statements ---- */

static void exec_body(struct jrt *rt, struct jframe *f, struct jnode **body, size_t n, struct jbuf *out);


static void assign(struct jrt *rt, struct jframe *f, struct jnode *target, struct jv *v)
{
    if (target->kind == JN_NAME) {
        frame_set(rt, f, target->name, v);
        return;
    }
    if (target->kind == JN_TUPLE) {
        size_t n;
        rt->pos = target->pos;
        if (v->kind == JV_UNDEF)
            jundef_fail(rt, v);
        struct jv **items = jiter(rt, v, &n);
        if (n != target->n)
            jfail(rt->err, target->pos, n > target->n ? "too many values to unpack (expected %zu)"
                                                      : "not enough values to unpack (expected %zu, got %zu)",
                  target->n, n);
        for (size_t i = 0; i < n; i++)
            assign(rt, f, target->list[i], items[i]);
        return;
    }
    /* ns.attr */
    struct jv *ns = lookup(f, target->a->name);
    rt->pos = target->pos;
    if (!ns || ns->kind != JV_NS)
        jfail(rt->err, target->pos, "cannot assign attribute on non-namespace object");
    jd_set(rt->a, ns, target->name, strlen(target->name), v);
}

static struct jv *render_body_str(struct jrt *rt, struct jframe *f, struct jnode **body, size_t n)
{
    struct jbuf b = {.a = rt->a};
    exec_body(rt, f, body, n, &b);
    return jv_str_own(rt->a, b.p ? b.p : "", b.len);
}

static struct jv *apply_filter_node(struct jrt *rt, struct jnode *fnode, struct jv *v)
{
    struct jargs args;
    eval_args(rt, fnode, &args);
    rt->pos = fnode->pos;
    return jfilter_apply(rt, fnode->name, v, &args);
}

static void exec_for(struct jrt *rt, struct jframe *f, struct jnode *s, struct jbuf *out)
{
    struct jframe *saved = rt->frame;
    rt->frame = f;
    struct jv *it = jeval(rt, s->b);
    rt->pos = s->b->pos;
    if (it->kind == JV_NONE || it->kind == JV_INT || it->kind == JV_FLOAT || it->kind == JV_BOOL)
        jfail(rt->err, s->b->pos, "'%s' object is not iterable", jv_type_name(it));
    size_t n;
    struct jv **items = jiter(rt, it, &n);
    if (s->c) { /* loop filter: evaluated with the target bound */
        struct jv **kept = ja_alloc(rt->a, (n ? n : 1) * sizeof *kept);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            struct jframe *tf = frame_new(rt, f);
            assign(rt, tf, s->a, items[i]);
            rt->frame = tf;
            if (jv_truthy(jeval(rt, s->c)))
                kept[k++] = items[i];
        }
        items = kept;
        n = k;
    }
    if (++rt->depth > MAX_DEPTH)
        jfail(rt->err, s->pos, "loops and macros nest too deeply");
    struct jv *outer = lookup(f, "loop");
    struct jloop *l = ja_alloc(rt->a, sizeof *l);
    l->items = items;
    l->n = n;
    l->depth = outer && outer->kind == JV_LOOP ? outer->u.loop->depth + 1 : 1;
    struct jv *lv = jv_new(rt->a, JV_LOOP);
    lv->u.loop = l;
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        l->i = i;
        struct jframe *it_frame = frame_new(rt, f);
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

static void exec_stmt(struct jrt *rt, struct jframe *f, struct jnode *s, struct jbuf *out)
{
    rt->frame = f;
    switch (s->kind) {
    case JN_TEXT:
        jb_put(out, s->value->u.str.s, s->value->u.str.len);
        return;
    case JN_OUTPUT: {
        struct jv *v = jeval(rt, s->a);
        jv_str(out, v);
        return;
    }
    case JN_IF:
        if (jv_truthy(jeval(rt, s->a)))
            exec_body(rt, f, s->list, s->n, out);
        else
            exec_body(rt, f, s->list2, s->n2, out);
        return;
    case JN_FOR:
        exec_for(rt, f, s, out);
        return;
    case JN_SET:
        assign(rt, f, s->a, jeval(rt, s->b));
        return;
    case JN_SETBLOCK: {
        struct jv *v = render_body_str(rt, f, s->list, s->n);
        if (s->c) {
            rt->frame = f;
            v = apply_filter_node(rt, s->c, v);
        }
        assign(rt, f, s->a, v);
        return;
    }
    case JN_MACRO: {
        struct jv *m = jv_new(rt->a, JV_FUNC);
        m->u.fn = ja_alloc(rt->a, sizeof *m->u.fn);
        m->u.fn->kind = JF_MACRO;
        m->u.fn->name = s->name;
        m->u.fn->macro = s;
        m->u.fn->closure = f;
        frame_set(rt, f, s->name, m);
        return;
    }
    case JN_FILTERBLOCK: {
        struct jv *v = render_body_str(rt, f, s->list, s->n);
        rt->frame = f;
        jv_str(out, apply_filter_node(rt, s->c, v));
        return;
    }
    case JN_WITH: {
        struct jframe *w = frame_new(rt, f);
        for (size_t i = 0; i < s->n2; i++) {
            rt->frame = f;
            struct jv *v = jeval(rt, s->list3[i]);
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
            jfail(rt->err, s->pos, "'%s' outside of a loop", s->kind == JN_BREAK ? "break" : "continue");
        rt->ctl = s->kind == JN_BREAK ? 1 : 2;
        return;
    default:
        jfail(rt->err, s->pos, "internal error: not a statement");
    }
}

static void exec_body(struct jrt *rt, struct jframe *f, struct jnode **body, size_t n, struct jbuf *out)
{
    for (size_t i = 0; i < n && !rt->ctl; i++)
        exec_stmt(rt, f, body[i], out);
    rt->frame = f;
}

static struct jv *call_macro(struct jrt *rt, struct jfunc *fn, struct jargs *args)
{
    struct jnode *m = fn->macro;
    size_t call_pos = rt->pos;
    if (args->npos > m->nnames)
        jfail(rt->err, call_pos, "macro '%s' takes not more than %zu argument(s)", m->name, m->nnames);
    struct jframe *f = frame_new(rt, fn->closure);
    for (size_t k = 0; k < args->nkw; k++) {
        size_t j;
        for (j = 0; j < m->nnames; j++)
            if (strcmp(args->kw[k], m->names[j]) == 0)
                break;
        if (j == m->nnames)
            jfail(rt->err, call_pos, "macro '%s' takes no keyword argument '%s'", m->name, args->kw[k]);
        if (j < args->npos)
            jfail(rt->err, call_pos, "macro '%s' got multiple values for argument '%s'", m->name, args->kw[k]);
    }
    struct jframe *saved = rt->frame;
    for (size_t i = 0; i < m->nnames; i++) {
        struct jv *v = ja_arg(args, i, m->names[i]);
        if (!v && m->list2[i]) {
            rt->frame = f;
            v = jeval(rt, m->list2[i]);
        }
        frame_set(rt, f, m->names[i], v ? v : jv_undef(rt->a, "'%s' is undefined", m->names[i]));
    }
    if (++rt->depth > MAX_DEPTH)
        jfail(rt->err, call_pos, "loops and macros nest too deeply");
    int ctl = rt->ctl;
    rt->ctl = 0;
    struct jv *r = render_body_str(rt, f, m->list, m->n);
    rt->ctl = ctl;
    rt->depth--;
    rt->frame = saved;
    return r;
}

/* ---- expressions ---- */

struct jv *jeval(struct jrt *rt, struct jnode *n)
{
    rt->pos = n->pos;
    switch (n->kind) {
    case JN_CONST:
        return n->value;
    case JN_NAME: {
        struct jv *v = lookup(rt->frame, n->name);
        return v ? v : jv_undef(rt->a, "'%s' is undefined", n->name);
    }
    case JN_GETATTR: {
        struct jv *o = jeval(rt, n->a);
        rt->pos = o->kind == JV_UNDEF ? n->a->pos : n->pos;
        return jgetattr(rt, o, n->name, strlen(n->name));
    }
    case JN_GETITEM: {
        struct jv *o = jeval(rt, n->a);
        if (o->kind == JV_UNDEF) {
            rt->pos = n->a->pos;
            jundef_fail(rt, o);
        }
        if (n->b->kind == JN_SLICE) {
            struct jnode *s = n->b;
            struct jv *a = s->a ? jeval(rt, s->a) : NULL, *b = s->b ? jeval(rt, s->b) : NULL,
                      *c = s->c ? jeval(rt, s->c) : NULL;
            rt->pos = n->pos;
            jneed(rt, o);
            return slice(rt, o, a, b, c);
        }
        struct jv *k = jeval(rt, n->b);
        rt->pos = n->pos;
        return jgetitem(rt, o, k);
    }
    case JN_CALL: {
        struct jv *fn = jeval(rt, n->a);
        struct jargs args;
        eval_args(rt, n, &args);
        rt->pos = n->pos;
        return jcall(rt, fn, &args);
    }
    case JN_FILTER: {
        struct jv *v = jeval(rt, n->a);
        return apply_filter_node(rt, n, v);
    }
    case JN_TEST: {
        struct jv *v = jeval(rt, n->a);
        struct jargs args;
        eval_args(rt, n, &args);
        rt->pos = n->pos;
        bool r = jtest_apply(rt, n->name, v, &args);
        return jv_bool(n->op ? !r : r);
    }
    case JN_BINOP: {
        struct jv *a = jeval(rt, n->a), *b = jeval(rt, n->b);
        rt->pos = n->pos;
        return arith(rt, n->op, a, b);
    }
    case JN_AND: {
        struct jv *a = jeval(rt, n->a);
        return jv_truthy(a) ? jeval(rt, n->b) : a;
    }
    case JN_OR: {
        struct jv *a = jeval(rt, n->a);
        return jv_truthy(a) ? a : jeval(rt, n->b);
    }
    case JN_NOT:
        return jv_bool(!jv_truthy(jeval(rt, n->a)));
    case JN_NEG:
    case JN_POS: {
        struct jv *a = jeval(rt, n->a);
        rt->pos = n->pos;
        jneed(rt, a);
        if (!is_num(a))
            jfail(rt->err, n->pos, "bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+', jv_type_name(a));
        if (n->kind == JN_POS)
            return a->kind == JV_BOOL ? jv_int(rt->a, a->u.b) : a;
        if (a->kind == JV_FLOAT)
            return jv_float(rt->a, -a->u.f);
        if (inum(a) == INT64_MIN)
            overflow(rt);
        return jv_int(rt->a, -inum(a));
    }
    case JN_COND:
        if (jv_truthy(jeval(rt, n->a)))
            return jeval(rt, n->b);
        return n->c ? jeval(rt, n->c) : jv_undef(rt->a, "the inline if-expression evaluated to false and has no else section");
    case JN_COMPARE: {
        struct jv *l = jeval(rt, n->a);
        for (size_t i = 0; i < n->n; i++) {
            struct jv *r = jeval(rt, n->list[i]);
            rt->pos = n->list[i]->pos;
            if (!compare_op(rt, n->ops[i], l, r))
                return &jv_false;
            l = r;
        }
        return &jv_true;
    }
    case JN_LIST:
    case JN_TUPLE: {
        struct jv *l = jv_list(rt->a, n->kind == JN_LIST ? JV_LIST : JV_TUPLE);
        for (size_t i = 0; i < n->n; i++)
            jv_push(rt->a, l, jeval(rt, n->list[i]));
        return l;
    }
    case JN_DICT: {
        struct jv *d = jv_dict(rt->a, JV_DICT);
        for (size_t i = 0; i < n->n; i++) {
            struct jv *k = jeval(rt, n->list[i]);
            if (k->kind != JV_STR)
                jfail(rt->err, n->list[i]->pos, "dict keys must be strings here (got %s)", jv_type_name(k));
            jd_set(rt->a, d, k->u.str.s, k->u.str.len, jeval(rt, n->list2[i]));
        }
        return d;
    }
    default:
        jfail(rt->err, n->pos, "internal error: not an expression");
    }
}

/* ---- entry ---- */

static void add_global(struct jrt *rt, struct jframe *g, const char *name)
{
    struct jv *f = jv_new(rt->a, JV_FUNC);
    f->u.fn = ja_alloc(rt->a, sizeof *f->u.fn);
    f->u.fn->kind = JF_GLOBAL;
    f->u.fn->name = name;
    frame_set(rt, g, name, f);
}

void jrender(struct jrt *rt, struct jnode *root, const char *const *names, struct jv *const *vals, size_t nvars,
             struct jbuf *out)
{
    struct jframe *g = frame_new(rt, NULL);
    static const char *const globals[] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++)
        add_global(rt, g, globals[i]);
    for (size_t i = 0; i < nvars; i++)
        frame_set(rt, g, names[i], vals[i]);
    rt->globals = g;
    struct jframe *top = frame_new(rt, g);
    rt->frame = top;
    exec_body(rt, top, root->list, root->n, out);
}
