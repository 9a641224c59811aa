/* The Jinja interpreter behind chat_template.h: shared types of its lexer, parser, values and
 * evaluator. Internal to src/text.
 *
 * Semantics are Jinja2's (3.1) as transformers configures it: ImmutableSandboxedEnvironment with
 * trim_blocks and lstrip_blocks, the loopcontrols extension, the `generation` tag, Python values
 * (repr of lists and dicts, Python float formatting, floor division, ...) and Jinja2's default
 * Undefined (prints "", is falsy and iterates as empty; an attribute of it or arithmetic on it is an
 * error).
 *
 * Memory: a template's AST and every value made while rendering live in arenas (struct vs_jarena)
 * freed as a whole, so errors unwind with longjmp and nothing is reference counted. */
#ifndef VS_TEXT_JINJA_H
#define VS_TEXT_JINJA_H

#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---- */

struct vs_jarena_chunk;
struct vs_jarena {
    struct vs_jarena_chunk *head;
};
void *vs_ja_alloc(struct vs_jarena *a, size_t n); /* zeroed; never NULL (longjmps through vs_ja_oom) */
char *vs_ja_strndup(struct vs_jarena *a, const char *s, size_t n);
/* A new zeroed array of cap elements of size elem holding the first n of old (arrays in an
 * arena grow by copying: the old block stays until the arena is freed). */
void *vs_ja_grow(struct vs_jarena *a, const void *old, size_t n, size_t cap, size_t elem);
void vs_ja_free(struct vs_jarena *a);
/* Where allocation failure unwinds to (set by whoever owns the arena). */
extern _Thread_local jmp_buf *vs_ja_oom;

/* Growable byte buffer in an arena. */
struct vs_jbuf {
    char *p;
    size_t len, cap;
    struct vs_jarena *a;
};
void vs_jb_put(struct vs_jbuf *b, const char *s, size_t n);
void vs_jb_puts(struct vs_jbuf *b, const char *s);
void vs_jb_putc(struct vs_jbuf *b, char c);
void vs_jb_printf(struct vs_jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- errors ---- */

/* One failure context: the template's source (for line:col) and where to unwind to. */
struct vs_jerr {
    const char *origin;
    const char *src;
    size_t src_len;
    jmp_buf jb;
};
/* Records "<origin>:<line>:<col>: <message>" as the vs_error message and longjmps to e->jb. */
_Noreturn void vs_jfail(struct vs_jerr *e, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- values ---- */

enum vs_jv_kind {
    JV_UNDEF,
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST,
    JV_TUPLE,
    JV_DICT,
    JV_NS, /* namespace() */
    JV_FUNC,
    JV_LOOP,
};

struct vs_jv;
struct vs_jdict {
    const char **k;
    size_t *klen;
    struct vs_jv **v;
    size_t n, cap;
};

struct vs_jnode;
struct vs_jframe;
enum vs_jfunc_kind {
    JF_MACRO,
    JF_GLOBAL, /* range, namespace, dict, raise_exception, strftime_now */
    JF_METHOD, /* a method of self (str, dict, list) */
    JF_LOOP,   /* loop.cycle, loop.changed */
};
struct vs_jfunc {
    enum vs_jfunc_kind kind;
    const char *name;
    struct vs_jnode *macro;
    struct vs_jframe *closure;
    struct vs_jv *self;
};

struct vs_jloop {
    struct vs_jv **items;
    size_t n, i;
    int depth;
    struct vs_jv *changed_last;
    bool changed_seen;
};

struct vs_jv {
    enum vs_jv_kind kind;
    /* LIST: made by a filter that gives a generator in Jinja2 (map, select, ...): always truthy,
     * no length, not subscriptable, as there. */
    bool gen;
    /* TUPLE: a (grouper, list) pair from groupby (Jinja2's _GroupTuple): also has those attributes */
    bool group;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t len;
        } str; /* STR; UNDEF: s = the message used when it is misused (NULL: plain) */
        struct {
            struct vs_jv **v;
            size_t n, cap;
        } list;                /* LIST, TUPLE */
        struct vs_jdict *dict; /* DICT, NS */
        struct vs_jfunc *fn;
        struct vs_jloop *loop;
    } u;
};

struct vs_jrt; /* the renderer (jinja_eval.c) */

extern struct vs_jv vs_jv_none, vs_jv_true, vs_jv_false;
struct vs_jv *vs_jv_new(struct vs_jarena *a, enum vs_jv_kind k);
struct vs_jv *vs_jv_int(struct vs_jarena *a, int64_t i);
struct vs_jv *vs_jv_float(struct vs_jarena *a, double f);
struct vs_jv *vs_jv_bool(bool b);
struct vs_jv *vs_jv_strn(struct vs_jarena *a, const char *s, size_t n);    /* copies */
struct vs_jv *vs_jv_str_own(struct vs_jarena *a, const char *s, size_t n); /* s already in the arena */
struct vs_jv *vs_jv_list(struct vs_jarena *a, enum vs_jv_kind k);          /* JV_LIST or JV_TUPLE */
void vs_jv_push(struct vs_jarena *a, struct vs_jv *list, struct vs_jv *item);
struct vs_jv *vs_jv_dict(struct vs_jarena *a, enum vs_jv_kind k); /* JV_DICT or JV_NS */
struct vs_jv *vs_jv_undef(struct vs_jarena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dict access; keys compared bytewise. */
struct vs_jv *vs_jd_get(const struct vs_jv *d, const char *k, size_t klen); /* NULL if absent */
void vs_jd_set(struct vs_jarena *a, struct vs_jv *d, const char *k, size_t klen, struct vs_jv *v);
struct vs_jv *vs_jv_from_json(struct vs_jarena *a, const json_t *j);

bool vs_jv_truthy(const struct vs_jv *v);
bool vs_jv_is_seq(const struct vs_jv *v); /* LIST or TUPLE */
bool vs_jv_equal(const struct vs_jv *a, const struct vs_jv *b);
/* Python's <, as -1/0/1; a type mismatch fails through e at pos. */
int vs_jv_compare(struct vs_jerr *e, size_t pos, const struct vs_jv *a, const struct vs_jv *b,
                  bool fold_case);
const char *vs_jv_type_name(const struct vs_jv *v); /* Python's type name: "str", "dict", ... */

/* Python str(v) (Jinja2 prints this), repr(v), and transformers' tojson (json.dumps). */
void vs_jv_str(struct vs_jbuf *b, const struct vs_jv *v);
void vs_jv_repr(struct vs_jbuf *b, const struct vs_jv *v);
struct vs_jv *vs_jv_to_str(struct vs_jarena *a, const struct vs_jv *v); /* STR as is, else str(v) */
struct vs_tojson_opts {
    int indent;             /* < 0: none */
    const char *indent_str; /* instead of indent, when set */
    bool ensure_ascii, sort_keys;
    const char *item_sep, *key_sep; /* NULL: Python's defaults */
};
void vs_jv_tojson(struct vs_jerr *e, size_t pos, struct vs_jbuf *b, const struct vs_jv *v,
                  const struct vs_tojson_opts *o, int depth);
void vs_py_float_repr(struct vs_jbuf *b, double f);

/* ---- UTF-8 and Python string helpers ---- */

/* Decodes one code point at s[*i] (input is valid UTF-8) and advances *i. */
uint32_t vs_u8_next(const char *s, size_t len, size_t *i);
void vs_u8_put(struct vs_jbuf *b, uint32_t cp);
size_t vs_u8_count(const char *s, size_t len);
bool vs_py_isspace(uint32_t cp);     /* str.isspace(), the \s of Python's re */
bool vs_py_isprintable(uint32_t cp); /* str.isprintable() */
bool vs_py_islinebreak(uint32_t cp); /* str.splitlines() boundaries */
/* Validates UTF-8; returns the byte offset of the first bad sequence or len. */
size_t vs_u8_check(const char *s, size_t len);

/* ---- tokens and AST ---- */

enum vs_jtok_kind {
    JT_EOF,
    JT_DATA,
    JT_BLOCK_BEGIN,
    JT_BLOCK_END,
    JT_VAR_BEGIN,
    JT_VAR_END,
    JT_NAME,
    JT_STRING,
    JT_INT,
    JT_FLOAT,
    JT_OP,
};
struct vs_jtok {
    enum vs_jtok_kind kind;
    size_t pos;
    const char *s; /* DATA, NAME, STRING (decoded), OP text */
    size_t len;
    int64_t i;
    double f;
};
/* Tokenizes src (already newline-normalized) with trim_blocks and lstrip_blocks. */
void vs_jlex(struct vs_jerr *e, struct vs_jarena *a, const char *src, size_t len, struct vs_jtok **toks,
             size_t *n);

enum vs_jnode_kind {
    /* statements */
    JN_TEXT,   /* value */
    JN_OUTPUT, /* a */
    JN_IF,     /* a test, list body, list2 else */
    JN_FOR,    /* a target, b iterable, c filter, list body, list2 else */
    JN_SET,    /* a target, b value; SETBLOCK: a target, list body, c filter (JN_FILTER, a NULL) */
    JN_SETBLOCK,
    JN_MACRO,     /* name, names params, list2 defaults (NULL entries), list body, op MACRO_* */
    JN_CALLBLOCK, /* a the call (JN_CALL); the caller macro: name "caller", names/list2/list/op as JN_MACRO */
    JN_FILTERBLOCK, /* c the filter (JN_FILTER with a NULL), list body */
    JN_WITH,        /* list2 targets, list3 values, list body */
    JN_BLOCK,       /* a body rendered as is (generation) */
    JN_BREAK,
    JN_CONTINUE,
    /* expressions */
    JN_CONST,   /* value */
    JN_NAME,    /* name */
    JN_GETATTR, /* a, name */
    JN_GETITEM, /* a, b (b may be JN_SLICE) */
    JN_SLICE,   /* a start, b stop, c step (each may be NULL) */
    JN_CALL,    /* a callee, list positional, names + list2 keywords */
    JN_FILTER,  /* a operand, name, list/names/list2 arguments */
    JN_TEST,    /* a operand, name, op 1 when negated, list/names/list2 arguments */
    JN_BINOP,   /* op, a, b */
    JN_AND,
    JN_OR,
    JN_NOT, /* a */
    JN_NEG,
    JN_POS,
    JN_COND,    /* a test, b then, c else (NULL: undefined) */
    JN_COMPARE, /* a first, list operands, ops */
    JN_LIST,    /* list */
    JN_TUPLE,
    JN_DICT, /* list keys, list2 values */
};

#define MACRO_VARARGS 1 /* the body reads varargs: extra positional arguments are collected */
#define MACRO_KWARGS 2  /* the body reads kwargs: unknown keyword arguments are collected */
#define MACRO_CALLER 4  /* the body reads caller: a {% call %} block passes its body as caller */

enum vs_jop {
    OP_ADD = 1,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_FLOORDIV,
    OP_MOD,
    OP_POW,
    OP_CONCAT,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_NOTIN,
};

struct vs_jnode {
    enum vs_jnode_kind kind;
    size_t pos;
    int op;
    const char *name;
    struct vs_jv *value;
    struct vs_jnode *a, *b, *c;
    struct vs_jnode **list, **list2, **list3;
    size_t n, n2, n3;
    const char **names;
    size_t nnames;
    int *ops;
};

/* Parses tokens into a JN program (JN_BLOCK holding the top-level statements). */
struct vs_jnode *vs_jparse(struct vs_jerr *e, struct vs_jarena *a, struct vs_jtok *toks, size_t n);

/* ---- evaluation ---- */

struct vs_jframe {
    struct vs_jframe *parent;
    const char **names;
    struct vs_jv **vals;
    size_t n, cap;
};

struct vs_jrt {
    struct vs_jerr *err;
    struct vs_jarena *a;
    struct vs_jframe *frame; /* where names are looked up */
    size_t pos;              /* node being evaluated, for errors */
    int ctl;                 /* 1 break, 2 continue */
    int depth;               /* macro/loop nesting, bounded */
};

/* A call's evaluated arguments. */
struct vs_jargs {
    struct vs_jv **pos;
    size_t npos;
    const char **kw;
    struct vs_jv **kwv;
    size_t nkw;
};
/* The positional i, else keyword name, else NULL; *used counts what was taken. */
struct vs_jv *vs_ja_arg(struct vs_jargs *args, size_t i, const char *name);
/* Fails unless every argument was taken by names[0..n) (positions then keywords). */
void vs_ja_check(struct vs_jrt *rt, struct vs_jargs *args, const char *what, const char *const *names,
                 size_t n);

struct vs_jv *vs_jeval(struct vs_jrt *rt, struct vs_jnode *n);
struct vs_jv *vs_jgetattr(struct vs_jrt *rt, struct vs_jv *obj, const char *name, size_t len);
struct vs_jv *vs_jgetitem(struct vs_jrt *rt, struct vs_jv *obj, struct vs_jv *key);
struct vs_jv *vs_jcall(struct vs_jrt *rt, struct vs_jv *fn, struct vs_jargs *args);
/* Items of an iterable (list, tuple, dict keys, str chars, undefined); fails otherwise. */
struct vs_jv **vs_jiter(struct vs_jrt *rt, struct vs_jv *v, size_t *n);
_Noreturn void vs_jundef_fail(struct vs_jrt *rt, const struct vs_jv *u);
/* Fails when v is undefined (used where Jinja2's Undefined raises). */
void vs_jneed(struct vs_jrt *rt, const struct vs_jv *v);

/* Filters and tests (jinja_filters.c), methods (jinja_methods.c). */
bool vs_jfilter_exists(const char *name);
bool vs_jtest_exists(const char *name);
struct vs_jv *vs_jfilter_apply(struct vs_jrt *rt, const char *name, struct vs_jv *v, struct vs_jargs *args);
bool vs_jtest_apply(struct vs_jrt *rt, const char *name, struct vs_jv *v, struct vs_jargs *args);
/* A bound method of obj named name, or NULL when obj's type has no such method. */
struct vs_jv *vs_jmethod_get(struct vs_jrt *rt, struct vs_jv *obj, const char *name, size_t len);
struct vs_jv *vs_jmethod_call(struct vs_jrt *rt, struct vs_jfunc *fn, struct vs_jargs *args);
/* `str % args`: Python's printf-style formatting. */
struct vs_jv *vs_jformat_percent(struct vs_jrt *rt, struct vs_jv *fmt, struct vs_jv *args);
/* Python string helpers shared by filters and methods. */
struct vs_jv *vs_jstr_strip(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *chars, bool left, bool right);
struct vs_jv *vs_jstr_case(struct vs_jrt *rt, struct vs_jv *s,
                           int how); /* 'u' upper, 'l' lower, 't' title, 'c' capitalize */
struct vs_jv *vs_jstr_replace(struct vs_jrt *rt, struct vs_jv *s, struct vs_jv *old, struct vs_jv *new_,
                              int64_t count);
/* Renders root with the given variables into out (in rt's arena). */
void vs_jrender(struct vs_jrt *rt, struct vs_jnode *root, const char *const *names, struct vs_jv *const *vals,
                size_t nvars, struct vs_jbuf *out);

#endif
