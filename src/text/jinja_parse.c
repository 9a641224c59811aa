/* Jinja parser: Jinja2's grammar and precedence (parser.py) into struct vs_jnode.
 *
 * Statements: if/elif/else, for (tuple targets, `if` filter, else), set (expression, tuple,
 * namespace attribute, block), macro, filter blocks, with, generation, break/continue. Unknown
 * tags, filters and tests are errors here, as Jinja2 reports them when compiling. */
#include <stdlib.h>
#include <string.h>

#include "text/jinja.h"

struct parser {
    struct vs_jerr *e;
    struct vs_jarena *a;
    struct vs_jtok *t;
    size_t n, i;
    /* nesting of expressions and of blocks, bounded so deep input cannot exhaust the stack */
    int depth, blocks;
    int uses; /* MACRO_VARARGS | MACRO_KWARGS: those names appear in the macro body being parsed */
};

#define MAX_NESTING 200

/* Growable node list. */
struct nlist {
    struct vs_jnode **v;
    size_t n, cap;
    const char **names;
};

static void nl_push(struct parser *P, struct nlist *l, struct vs_jnode *x, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        l->v = vs_ja_grow(P->a, l->v, l->n, cap, sizeof *l->v);
        l->names = vs_ja_grow(P->a, l->names, l->n, cap, sizeof *l->names);
        l->cap = cap;
    }
    l->names[l->n] = name;
    l->v[l->n++] = x;
}

static struct vs_jtok *cur(struct parser *P)
{
    return &P->t[P->i];
}
static struct vs_jtok *peek(struct parser *P, size_t k)
{
    return &P->t[P->i + k < P->n ? P->i + k : P->n - 1];
}

static bool is_op(const struct vs_jtok *t, const char *op)
{
    return t->kind == JT_OP && t->len == strlen(op) && memcmp(t->s, op, t->len) == 0;
}
static bool is_name(const struct vs_jtok *t, const char *nm)
{
    return t->kind == JT_NAME && t->len == strlen(nm) && memcmp(t->s, nm, t->len) == 0;
}

static const char *tok_desc(struct parser *P, const struct vs_jtok *t)
{
    switch (t->kind) {
    case JT_EOF:
        return "end of template";
    case JT_DATA:
        return "template data";
    case JT_BLOCK_BEGIN:
        return "'{%'";
    case JT_BLOCK_END:
        return "'%}'";
    case JT_VAR_BEGIN:
        return "'{{'";
    case JT_VAR_END:
        return "'}}'";
    case JT_STRING:
        return "string";
    case JT_INT:
        return "integer";
    case JT_FLOAT:
        return "float";
    default: {
        char *s = vs_ja_alloc(P->a, t->len + 3);
        s[0] = '\'';
        memcpy(s + 1, t->s, t->len);
        s[t->len + 1] = '\'';
        return s;
    }
    }
}

static _Noreturn void unexpected(struct parser *P, const char *what)
{
    vs_jfail(P->e, cur(P)->pos, "expected %s, got %s", what, tok_desc(P, cur(P)));
}

static void expect_op(struct parser *P, const char *op)
{
    if (!is_op(cur(P), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        unexpected(P, w);
    }
    P->i++;
}

static void expect_kind(struct parser *P, enum vs_jtok_kind k, const char *what)
{
    if (cur(P)->kind != k)
        unexpected(P, what);
    P->i++;
}

static const char *take_name(struct parser *P)
{
    if (cur(P)->kind != JT_NAME)
        unexpected(P, "a name");
    struct vs_jtok *t = &P->t[P->i++];
    return vs_ja_strndup(P->a, t->s, t->len);
}

static struct vs_jnode *node(struct parser *P, enum vs_jnode_kind k, size_t pos)
{
    struct vs_jnode *x = vs_ja_alloc(P->a, sizeof *x);
    x->kind = k;
    x->pos = pos;
    return x;
}

static struct vs_jnode *parse_expr(struct parser *P, bool with_cond);
static struct vs_jnode *parse_unary(struct parser *P, bool with_filter);
static struct vs_jnode *parse_primary(struct parser *P);
static struct vs_jnode *parse_postfix(struct parser *P, struct vs_jnode *x);

/* (args) of a call, filter or test: positional then keyword arguments. */
static void parse_call_args(struct parser *P, struct vs_jnode *x)
{
    expect_op(P, "(");
    struct nlist pos = {0}, kw = {0};
    while (!is_op(cur(P), ")")) {
        if (pos.n + kw.n > 0)
            expect_op(P, ",");
        if (is_op(cur(P), ")"))
            break;
        if (is_op(cur(P), "*") || is_op(cur(P), "**"))
            vs_jfail(P->e, cur(P)->pos, "argument unpacking (*args, **kwargs) is not supported");
        if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), "=")) {
            const char *name = take_name(P);
            P->i++;
            nl_push(P, &kw, parse_expr(P, true), name);
        } else {
            if (kw.n)
                vs_jfail(P->e, cur(P)->pos, "positional argument after a keyword argument");
            nl_push(P, &pos, parse_expr(P, true), NULL);
        }
    }
    P->i++;
    x->list = pos.v;
    x->n = pos.n;
    x->list2 = kw.v;
    x->n2 = kw.n;
    x->names = kw.names;
    x->nnames = kw.n;
}

static const char *dotted_name(struct parser *P)
{
    const char *name = take_name(P);
    while (is_op(cur(P), ".") && peek(P, 1)->kind == JT_NAME) {
        P->i++;
        const char *more = take_name(P);
        char *j = vs_ja_alloc(P->a, strlen(name) + strlen(more) + 2);
        sprintf(j, "%s.%s", name, more);
        name = j;
    }
    return name;
}

static struct vs_jnode *parse_filter(struct parser *P, struct vs_jnode *operand, bool start_inline)
{
    do {
        if (!start_inline)
            P->i++; /* | */
        start_inline = false;
        size_t pos = cur(P)->pos;
        struct vs_jnode *f = node(P, JN_FILTER, pos);
        f->a = operand;
        f->name = dotted_name(P);
        if (!vs_jfilter_exists(f->name))
            vs_jfail(P->e, pos, "no filter named '%s'", f->name);
        if (is_op(cur(P), "("))
            parse_call_args(P, f);
        operand = f;
    } while (is_op(cur(P), "|"));
    return operand;
}

static struct vs_jnode *parse_test(struct parser *P, struct vs_jnode *operand)
{
    P->i++; /* is */
    struct vs_jnode *t = node(P, JN_TEST, cur(P)->pos);
    t->a = operand;
    if (is_name(cur(P), "not")) {
        t->op = 1;
        P->i++;
    }
    size_t pos = cur(P)->pos;
    t->name = dotted_name(P);
    if (!vs_jtest_exists(t->name))
        vs_jfail(P->e, pos, "no test named '%s'", t->name);
    struct vs_jtok *c = cur(P);
    if (is_op(c, "(")) {
        parse_call_args(P, t);
    } else if ((c->kind == JT_NAME || c->kind == JT_STRING || c->kind == JT_INT || c->kind == JT_FLOAT ||
                is_op(c, "[") || is_op(c, "{")) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is"))
            vs_jfail(P->e, c->pos, "you cannot chain multiple tests with is");
        struct vs_jnode *arg = parse_postfix(P, parse_primary(P));
        t->list = vs_ja_alloc(P->a, sizeof *t->list);
        t->list[0] = arg;
        t->n = 1;
    }
    return t;
}

static struct vs_jnode *parse_filter_expr(struct parser *P, struct vs_jnode *x)
{
    for (;;) {
        if (is_op(cur(P), "|"))
            x = parse_filter(P, x, false);
        else if (is_name(cur(P), "is"))
            x = parse_test(P, x);
        else if (is_op(cur(P), "(")) {
            struct vs_jnode *c = node(P, JN_CALL, cur(P)->pos);
            c->a = x;
            parse_call_args(P, c);
            x = c;
        } else
            return x;
    }
}

static struct vs_jnode *parse_subscribed(struct parser *P)
{
    size_t pos = cur(P)->pos;
    struct vs_jnode *args[3] = {0};
    if (!is_op(cur(P), ":")) {
        args[0] = parse_expr(P, true);
        if (!is_op(cur(P), ":"))
            return args[0];
    }
    P->i++; /* : */
    if (!is_op(cur(P), "]") && !is_op(cur(P), ",") && !is_op(cur(P), ":"))
        args[1] = parse_expr(P, true);
    if (is_op(cur(P), ":")) {
        P->i++;
        if (!is_op(cur(P), "]") && !is_op(cur(P), ","))
            args[2] = parse_expr(P, true);
    }
    struct vs_jnode *s = node(P, JN_SLICE, pos);
    s->a = args[0];
    s->b = args[1];
    s->c = args[2];
    return s;
}

static struct vs_jnode *parse_postfix(struct parser *P, struct vs_jnode *x)
{
    for (;;) {
        struct vs_jtok *t = cur(P);
        if (is_op(t, ".")) {
            P->i++;
            struct vs_jtok *a = cur(P);
            if (a->kind == JT_NAME) {
                struct vs_jnode *g = node(P, JN_GETATTR, a->pos);
                g->a = x;
                g->name = take_name(P);
                x = g;
            } else if (a->kind == JT_INT) {
                struct vs_jnode *g = node(P, JN_GETITEM, a->pos);
                g->a = x;
                g->b = node(P, JN_CONST, a->pos);
                g->b->value = vs_jv_int(P->a, a->i);
                P->i++;
                x = g;
            } else {
                unexpected(P, "a name or number after '.'");
            }
        } else if (is_op(t, "[")) {
            P->i++;
            struct vs_jnode *g = node(P, JN_GETITEM, t->pos);
            g->a = x;
            struct nlist items = {0};
            bool tuple = false;
            while (!is_op(cur(P), "]")) {
                if (items.n) {
                    expect_op(P, ",");
                    tuple = true;
                    if (is_op(cur(P), "]"))
                        break;
                }
                nl_push(P, &items, parse_subscribed(P), NULL);
            }
            P->i++;
            if (items.n == 0)
                vs_jfail(P->e, t->pos, "expected an expression inside '[]'");
            if (tuple || items.n > 1) {
                struct vs_jnode *tu = node(P, JN_TUPLE, t->pos);
                tu->list = items.v;
                tu->n = items.n;
                g->b = tu;
            } else {
                g->b = items.v[0];
            }
            x = g;
        } else if (is_op(t, "(")) {
            struct vs_jnode *c = node(P, JN_CALL, x->pos);
            c->a = x;
            parse_call_args(P, c);
            x = c;
        } else {
            return x;
        }
    }
}

static struct vs_jnode *parse_tuple(struct parser *P, bool with_cond, bool simple, bool explicit_parens);

static struct vs_jnode *parse_primary(struct parser *P)
{
    struct vs_jtok *t = cur(P);
    struct vs_jnode *x;
    switch (t->kind) {
    case JT_NAME:
        x = node(P, JN_CONST, t->pos);
        if (is_name(t, "true") || is_name(t, "True"))
            x->value = &vs_jv_true;
        else if (is_name(t, "false") || is_name(t, "False"))
            x->value = &vs_jv_false;
        else if (is_name(t, "none") || is_name(t, "None"))
            x->value = &vs_jv_none;
        else {
            x->kind = JN_NAME;
            x->name = vs_ja_strndup(P->a, t->s, t->len);
            if (!strcmp(x->name, "varargs"))
                P->uses |= MACRO_VARARGS;
            else if (!strcmp(x->name, "kwargs"))
                P->uses |= MACRO_KWARGS;
            else if (!strcmp(x->name, "caller"))
                P->uses |= MACRO_CALLER;
        }
        P->i++;
        return x;
    case JT_STRING: {
        struct vs_jbuf b = {.a = P->a};
        while (cur(P)->kind == JT_STRING) {
            vs_jb_put(&b, cur(P)->s, cur(P)->len);
            P->i++;
        }
        x = node(P, JN_CONST, t->pos);
        x->value = vs_jv_str_own(P->a, b.p ? b.p : "", b.len);
        return x;
    }
    case JT_INT:
    case JT_FLOAT:
        x = node(P, JN_CONST, t->pos);
        x->value = t->kind == JT_INT ? vs_jv_int(P->a, t->i) : vs_jv_float(P->a, t->f);
        P->i++;
        return x;
    case JT_OP:
        if (is_op(t, "(")) {
            P->i++;
            x = parse_tuple(P, true, false, true);
            expect_op(P, ")");
            return x;
        }
        if (is_op(t, "[")) {
            P->i++;
            x = node(P, JN_LIST, t->pos);
            struct nlist items = {0};
            while (!is_op(cur(P), "]")) {
                if (items.n) {
                    expect_op(P, ",");
                    if (is_op(cur(P), "]"))
                        break;
                }
                nl_push(P, &items, parse_expr(P, true), NULL);
            }
            P->i++;
            x->list = items.v;
            x->n = items.n;
            return x;
        }
        if (is_op(t, "{")) {
            P->i++;
            x = node(P, JN_DICT, t->pos);
            struct nlist keys = {0}, vals = {0};
            while (!is_op(cur(P), "}")) {
                if (keys.n) {
                    expect_op(P, ",");
                    if (is_op(cur(P), "}"))
                        break;
                }
                nl_push(P, &keys, parse_expr(P, true), NULL);
                expect_op(P, ":");
                nl_push(P, &vals, parse_expr(P, true), NULL);
            }
            P->i++;
            x->list = keys.v;
            x->n = keys.n;
            x->list2 = vals.v;
            x->n2 = vals.n;
            return x;
        }
        break;
    default:
        break;
    }
    unexpected(P, "an expression");
}

static struct vs_jnode *parse_unary(struct parser *P, bool with_filter)
{
    struct vs_jtok *t = cur(P);
    struct vs_jnode *x;
    if (is_op(t, "-") || is_op(t, "+")) {
        if (++P->depth > MAX_NESTING)
            vs_jfail(P->e, t->pos, "expressions nest too deeply");
        P->i++;
        x = node(P, is_op(t, "-") ? JN_NEG : JN_POS, t->pos);
        x->a = parse_unary(P, false);
        P->depth--;
    } else {
        x = parse_primary(P);
    }
    x = parse_postfix(P, x);
    if (with_filter)
        x = parse_filter_expr(P, x);
    return x;
}

static struct vs_jnode *binop(struct parser *P, size_t pos, int op, struct vs_jnode *l, struct vs_jnode *r)
{
    struct vs_jnode *x = node(P, JN_BINOP, pos);
    x->op = op;
    x->a = l;
    x->b = r;
    return x;
}

static struct vs_jnode *parse_pow(struct parser *P)
{
    struct vs_jnode *l = parse_unary(P, true);
    while (is_op(cur(P), "**")) {
        size_t pos = cur(P)->pos;
        P->i++;
        l = binop(P, pos, OP_POW, l, parse_unary(P, true));
    }
    return l;
}

static struct vs_jnode *parse_math2(struct parser *P)
{
    struct vs_jnode *l = parse_pow(P);
    for (;;) {
        struct vs_jtok *t = cur(P);
        int op = is_op(t, "*")    ? OP_MUL
                 : is_op(t, "/")  ? OP_DIV
                 : is_op(t, "//") ? OP_FLOORDIV
                 : is_op(t, "%")  ? OP_MOD
                                  : 0;
        if (!op)
            return l;
        P->i++;
        l = binop(P, t->pos, op, l, parse_pow(P));
    }
}

static struct vs_jnode *parse_concat(struct parser *P)
{
    struct vs_jnode *l = parse_math2(P);
    while (is_op(cur(P), "~")) {
        size_t pos = cur(P)->pos;
        P->i++;
        l = binop(P, pos, OP_CONCAT, l, parse_math2(P));
    }
    return l;
}

static struct vs_jnode *parse_math1(struct parser *P)
{
    struct vs_jnode *l = parse_concat(P);
    for (;;) {
        struct vs_jtok *t = cur(P);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : 0;
        if (!op)
            return l;
        P->i++;
        l = binop(P, t->pos, op, l, parse_concat(P));
    }
}

static struct vs_jnode *parse_compare(struct parser *P)
{
    size_t pos = cur(P)->pos;
    struct vs_jnode *first = parse_math1(P);
    struct nlist ops = {0};
    int opv[64];
    for (;;) {
        struct vs_jtok *t = cur(P);
        int op = is_op(t, "==")     ? OP_EQ
                 : is_op(t, "!=")   ? OP_NE
                 : is_op(t, "<")    ? OP_LT
                 : is_op(t, "<=")   ? OP_LE
                 : is_op(t, ">")    ? OP_GT
                 : is_op(t, ">=")   ? OP_GE
                 : is_name(t, "in") ? OP_IN
                                    : 0;
        if (!op && is_name(t, "not") && is_name(peek(P, 1), "in")) {
            op = OP_NOTIN;
            P->i++;
        }
        if (!op)
            break;
        if (ops.n == 64)
            vs_jfail(P->e, t->pos, "too many chained comparisons");
        P->i++;
        opv[ops.n] = op;
        nl_push(P, &ops, parse_math1(P), NULL);
    }
    if (!ops.n)
        return first;
    struct vs_jnode *x = node(P, JN_COMPARE, pos);
    x->a = first;
    x->list = ops.v;
    x->n = ops.n;
    x->ops = vs_ja_alloc(P->a, ops.n * sizeof *x->ops);
    memcpy(x->ops, opv, ops.n * sizeof *x->ops);
    return x;
}

static struct vs_jnode *parse_not(struct parser *P)
{
    if (is_name(cur(P), "not")) {
        struct vs_jnode *x = node(P, JN_NOT, cur(P)->pos);
        if (++P->depth > MAX_NESTING)
            vs_jfail(P->e, x->pos, "expressions nest too deeply");
        P->i++;
        x->a = parse_not(P);
        P->depth--;
        return x;
    }
    return parse_compare(P);
}

static struct vs_jnode *parse_and(struct parser *P)
{
    struct vs_jnode *l = parse_not(P);
    while (is_name(cur(P), "and")) {
        struct vs_jnode *x = node(P, JN_AND, cur(P)->pos);
        P->i++;
        x->a = l;
        x->b = parse_not(P);
        l = x;
    }
    return l;
}

static struct vs_jnode *parse_or(struct parser *P)
{
    struct vs_jnode *l = parse_and(P);
    while (is_name(cur(P), "or")) {
        struct vs_jnode *x = node(P, JN_OR, cur(P)->pos);
        P->i++;
        x->a = l;
        x->b = parse_and(P);
        l = x;
    }
    return l;
}

static struct vs_jnode *parse_expr(struct parser *P, bool with_cond)
{
    if (++P->depth > MAX_NESTING)
        vs_jfail(P->e, cur(P)->pos, "expressions nest too deeply");
    struct vs_jnode *x = parse_or(P);
    if (!with_cond)
        return x;
    while (is_name(cur(P), "if")) {
        struct vs_jnode *c = node(P, JN_COND, cur(P)->pos);
        P->i++;
        c->b = x;
        c->a = parse_or(P);
        if (is_name(cur(P), "else")) {
            P->i++;
            c->c = parse_expr(P, true);
        }
        x = c;
    }
    P->depth--;
    return x;
}

/* An expression or an implicit tuple `a, b`; simple: names only (assignment targets). */
static struct vs_jnode *parse_tuple(struct parser *P, bool with_cond, bool simple, bool explicit_parens)
{
    size_t pos = cur(P)->pos;
    struct nlist items = {0};
    bool comma = false;
    for (;;) {
        if (items.n) {
            if (!is_op(cur(P), ","))
                break;
            P->i++;
            comma = true;
        }
        struct vs_jtok *t = cur(P);
        if (t->kind == JT_BLOCK_END || t->kind == JT_VAR_END || is_op(t, ")") || is_name(t, "in") ||
            is_op(t, "=") || (items.n && is_name(t, "if")))
            break;
        struct vs_jnode *x;
        if (simple) {
            if (t->kind != JT_NAME)
                unexpected(P, "a name");
            x = node(P, JN_NAME, t->pos);
            x->name = take_name(P);
        } else {
            x = parse_expr(P, with_cond);
        }
        nl_push(P, &items, x, NULL);
    }
    if (!comma && items.n == 1)
        return items.v[0];
    if (!items.n && !explicit_parens)
        unexpected(P, "an expression");
    struct vs_jnode *tu = node(P, JN_TUPLE, pos);
    tu->list = items.v;
    tu->n = items.n;
    return tu;
}

/* ---- statements ---- */

static struct vs_jnode **parse_body(struct parser *P, const char *const *ends, size_t nends, size_t *count,
                                    const char **which, size_t open_pos, const char *tag);

static void end_block(struct parser *P)
{
    expect_kind(P, JT_BLOCK_END, "'%}'");
}

static bool at_name(struct parser *P, const char *nm)
{
    return is_name(cur(P), nm);
}

static struct vs_jnode *parse_if(struct parser *P, size_t pos)
{
    struct vs_jnode *x = node(P, JN_IF, pos);
    x->a = parse_tuple(P, true, false, false);
    end_block(P);
    static const char *const ends[] = {"elif", "else", "endif"};
    const char *which;
    x->list = parse_body(P, ends, 3, &x->n, &which, pos, "if");
    if (strcmp(which, "elif") == 0) {
        size_t epos = P->t[P->i - 1].pos;
        x->list2 = vs_ja_alloc(P->a, sizeof *x->list2);
        x->list2[0] = parse_if(P, epos);
        x->n2 = 1;
        return x;
    }
    if (strcmp(which, "else") == 0) {
        end_block(P);
        static const char *const endif[] = {"endif"};
        x->list2 = parse_body(P, endif, 1, &x->n2, &which, pos, "if");
    }
    end_block(P);
    return x;
}

static struct vs_jnode *parse_assign_target(struct parser *P)
{
    struct vs_jtok *t = cur(P);
    if (t->kind == JT_NAME && is_op(peek(P, 1), ".") && peek(P, 2)->kind == JT_NAME) {
        struct vs_jnode *g = node(P, JN_GETATTR, t->pos);
        g->a = node(P, JN_NAME, t->pos);
        g->a->name = take_name(P);
        P->i++;
        g->name = take_name(P);
        return g;
    }
    struct vs_jnode *x = parse_tuple(P, true, true, false);
    return x;
}

static struct vs_jnode *parse_for(struct parser *P, size_t pos)
{
    struct vs_jnode *x = node(P, JN_FOR, pos);
    x->a = parse_tuple(P, true, true, false);
    if (!at_name(P, "in"))
        unexpected(P, "'in'");
    P->i++;
    x->b = parse_tuple(P, false, false, false);
    if (at_name(P, "if")) {
        P->i++;
        x->c = parse_expr(P, true);
    }
    if (at_name(P, "recursive"))
        vs_jfail(P->e, cur(P)->pos, "recursive for loops are not supported");
    end_block(P);
    static const char *const ends[] = {"else", "endfor"};
    const char *which;
    x->list = parse_body(P, ends, 2, &x->n, &which, pos, "for");
    if (strcmp(which, "else") == 0) {
        end_block(P);
        static const char *const endfor[] = {"endfor"};
        x->list2 = parse_body(P, endfor, 1, &x->n2, &which, pos, "for");
    }
    end_block(P);
    return x;
}

static struct vs_jnode *parse_set(struct parser *P, size_t pos)
{
    struct vs_jnode *target = parse_assign_target(P);
    if (is_op(cur(P), "=")) {
        P->i++;
        struct vs_jnode *x = node(P, JN_SET, pos);
        x->a = target;
        x->b = parse_tuple(P, true, false, false);
        end_block(P);
        return x;
    }
    if (target->kind != JN_NAME && target->kind != JN_GETATTR)
        unexpected(P, "'='");
    struct vs_jnode *x = node(P, JN_SETBLOCK, pos);
    x->a = target;
    if (is_op(cur(P), "|"))
        x->c = parse_filter(P, NULL, false);
    end_block(P);
    static const char *const ends[] = {"endset"};
    const char *which;
    x->list = parse_body(P, ends, 1, &x->n, &which, pos, "set");
    end_block(P);
    return x;
}

/* (a, b=default, ...) of a macro or a call block's caller, into x->names / x->list2. */
static void parse_params(struct parser *P, struct vs_jnode *x, const char *what)
{
    expect_op(P, "(");
    struct nlist params = {0};
    bool seen_default = false;
    while (!is_op(cur(P), ")")) {
        if (params.n)
            expect_op(P, ",");
        if (is_op(cur(P), ")"))
            break;
        size_t ppos = cur(P)->pos;
        const char *name = take_name(P);
        for (size_t k = 0; k < params.n; k++)
            if (strcmp(params.names[k], name) == 0)
                vs_jfail(P->e, ppos, "duplicate parameter '%s' in %s '%s'", name, what, x->name);
        struct vs_jnode *def = NULL;
        if (is_op(cur(P), "=")) {
            P->i++;
            def = parse_expr(P, true);
            seen_default = true;
        } else if (seen_default) {
            vs_jfail(P->e, ppos, "non-default argument '%s' follows default argument", name);
        }
        nl_push(P, &params, def, name);
    }
    P->i++;
    x->names = params.names;
    x->nnames = params.n;
    x->list2 = params.v;
    x->n2 = params.n;
}

/* A macro-like body up to `end` (macro, call block); x->op records which of varargs, kwargs and
 * caller it reads: as in Jinja2, only then does it accept extra arguments or a caller. */
static void parse_macro_body(struct parser *P, struct vs_jnode *x, size_t pos, const char *tag,
                             const char *end)
{
    const char *const ends[] = {end};
    const char *which;
    int outer_uses = P->uses;
    P->uses = 0;
    x->list = parse_body(P, ends, 1, &x->n, &which, pos, tag);
    x->op = P->uses;
    P->uses = outer_uses | P->uses;
    end_block(P);
}

static struct vs_jnode *parse_macro(struct parser *P, size_t pos)
{
    struct vs_jnode *x = node(P, JN_MACRO, pos);
    x->name = take_name(P);
    parse_params(P, x, "macro");
    end_block(P);
    parse_macro_body(P, x, pos, "macro", "endmacro");
    return x;
}

static struct vs_jnode *parse_call_block(struct parser *P, size_t pos)
{
    struct vs_jnode *x = node(P, JN_CALLBLOCK, pos);
    x->name = "caller";
    if (is_op(cur(P), "("))
        parse_params(P, x, "call block");
    size_t cpos = cur(P)->pos;
    struct vs_jnode *call = parse_expr(P, true);
    if (call->kind != JN_CALL)
        vs_jfail(P->e, cpos, "expected a call after 'call'");
    x->a = call;
    end_block(P);
    parse_macro_body(P, x, pos, "call", "endcall");
    return x;
}

static struct vs_jnode *parse_statement_inner(struct parser *P);

static struct vs_jnode *parse_statement(struct parser *P)
{
    if (++P->blocks > MAX_NESTING)
        vs_jfail(P->e, cur(P)->pos, "blocks nest too deeply");
    struct vs_jnode *x = parse_statement_inner(P);
    P->blocks--;
    return x;
}

static struct vs_jnode *parse_statement_inner(struct parser *P)
{
    size_t pos = cur(P)->pos;
    P->i++; /* {% */
    struct vs_jtok *t = cur(P);
    if (t->kind != JT_NAME)
        unexpected(P, "a tag name");
    size_t tpos = t->pos;
    const char *tag = take_name(P);
    if (!strcmp(tag, "if"))
        return parse_if(P, pos);
    if (!strcmp(tag, "for"))
        return parse_for(P, pos);
    if (!strcmp(tag, "set"))
        return parse_set(P, pos);
    if (!strcmp(tag, "macro"))
        return parse_macro(P, pos);
    if (!strcmp(tag, "call"))
        return parse_call_block(P, pos);
    if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        struct vs_jnode *x = node(P, tag[0] == 'b' ? JN_BREAK : JN_CONTINUE, pos);
        end_block(P);
        return x;
    }
    if (!strcmp(tag, "filter")) {
        struct vs_jnode *x = node(P, JN_FILTERBLOCK, pos);
        x->c = parse_filter(P, NULL, true);
        end_block(P);
        static const char *const ends[] = {"endfilter"};
        const char *which;
        x->list = parse_body(P, ends, 1, &x->n, &which, pos, "filter");
        end_block(P);
        return x;
    }
    if (!strcmp(tag, "with")) {
        struct vs_jnode *x = node(P, JN_WITH, pos);
        struct nlist targets = {0}, values = {0};
        while (cur(P)->kind != JT_BLOCK_END) {
            if (targets.n)
                expect_op(P, ",");
            struct vs_jnode *tg = parse_assign_target(P);
            expect_op(P, "=");
            nl_push(P, &targets, tg, NULL);
            nl_push(P, &values, parse_expr(P, true), NULL);
        }
        end_block(P);
        x->list2 = targets.v;
        x->n2 = targets.n;
        x->list3 = values.v;
        x->n3 = values.n;
        static const char *const ends[] = {"endwith"};
        const char *which;
        x->list = parse_body(P, ends, 1, &x->n, &which, pos, "with");
        end_block(P);
        return x;
    }
    if (!strcmp(tag, "generation")) {
        struct vs_jnode *x = node(P, JN_BLOCK, pos);
        end_block(P);
        static const char *const ends[] = {"endgeneration"};
        const char *which;
        x->list = parse_body(P, ends, 1, &x->n, &which, pos, "generation");
        end_block(P);
        return x;
    }
    vs_jfail(P->e, tpos, "unknown tag '%s'", tag);
}

static struct vs_jnode **parse_body(struct parser *P, const char *const *ends, size_t nends, size_t *count,
                                    const char **which, size_t open_pos, const char *tag)
{
    struct nlist body = {0};
    for (;;) {
        struct vs_jtok *t = cur(P);
        if (t->kind == JT_EOF) {
            if (!ends)
                break;
            vs_jfail(P->e, open_pos, "unexpected end of template: '%s' is not closed by '%s'", tag,
                     ends[nends - 1]);
        }
        if (t->kind == JT_DATA) {
            struct vs_jnode *x = node(P, JN_TEXT, t->pos);
            x->value = vs_jv_str_own(P->a, vs_ja_strndup(P->a, t->s, t->len), t->len);
            nl_push(P, &body, x, NULL);
            P->i++;
            continue;
        }
        if (t->kind == JT_VAR_BEGIN) {
            P->i++;
            struct vs_jnode *x = node(P, JN_OUTPUT, t->pos);
            x->a = parse_tuple(P, true, false, false);
            expect_kind(P, JT_VAR_END, "'}}'");
            nl_push(P, &body, x, NULL);
            continue;
        }
        if (t->kind == JT_BLOCK_BEGIN) {
            struct vs_jtok *nm = peek(P, 1);
            if (nm->kind == JT_NAME) {
                for (size_t k = 0; k < nends; k++)
                    if (is_name(nm, ends[k])) {
                        P->i += 2;
                        *which = ends[k];
                        *count = body.n;
                        return body.v;
                    }
                static const char *const closers[] = {"endif",     "endfor",  "endset",        "endmacro",
                                                      "endfilter", "endwith", "endgeneration", "elif",
                                                      "else",      "endraw"};
                for (size_t k = 0; k < sizeof closers / sizeof *closers; k++)
                    if (is_name(nm, closers[k])) {
                        if (ends)
                            vs_jfail(P->e, nm->pos, "unexpected '%s' inside '%s' (expected '%s')", closers[k],
                                     tag, ends[nends - 1]);
                        vs_jfail(P->e, nm->pos, "unexpected '%s'", closers[k]);
                    }
            }
            nl_push(P, &body, parse_statement(P), NULL);
            continue;
        }
        unexpected(P, "template data or a tag");
    }
    *count = body.n;
    return body.v;
}

struct vs_jnode *vs_jparse(struct vs_jerr *e, struct vs_jarena *a, struct vs_jtok *toks, size_t n)
{
    struct parser P = {.e = e, .a = a, .t = toks, .n = n};
    struct vs_jnode *root = node(&P, JN_BLOCK, 0);
    const char *which = NULL;
    root->list = parse_body(&P, NULL, 0, &root->n, &which, 0, NULL);
    return root;
}
