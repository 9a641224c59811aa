/* The Jinja interpreter behind chat_template.h: shared types of its lexer, parser, values and
 * evaluator. Internal to src/text.
 *
 * Semantics are Jinja2's (3.1) as transformers configures it: ImmutableSandboxedEnvironment with
 * trim_blocks and lstrip_blocks, the loopcontrols extension, the `generation` tag, Python values
 * (repr of lists and dicts, Python float formatting, floor division, ...) and Jinja2's default
 * Undefined (prints "", is falsy and iterates as empty; an attribute of it or arithmetic on it is an
 * error).
 *
 * Memory: a template's AST and every value made while rendering live in arenas (struct jarena)
 * freed as a whole, so errors unwind with longjmp and nothing is reference counted. */
#ifndef VS_TEXT_JINJA_H
#define VS_TEXT_JINJA_H

#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---- */

struct jarena_chunk;
struct jarena {
    struct jarena_chunk *head;
};
void *ja_alloc(struct jarena *a, size_t n); /* zeroed; never NULL (longjmps through ja_oom) */
char *ja_strndup(struct jarena *a, const char *s, size_t n);
void ja_free(struct jarena *a);
/* Where allocation failure unwinds to (set by whoever owns the arena). */
extern _Thread_local jmp_buf *ja_oom;

/* Growable byte buffer in an arena. */
struct jbuf {
    char *p;
    size_t len, cap;
    struct jarena *a;
};
void jb_put(struct jbuf *b, const char *s, size_t n);
void jb_puts(struct jbuf *b, const char *s);
void jb_putc(struct jbuf *b, char c);
void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- errors ---- */

/* One failure context: the template's source (for line:col) and where to unwind to. */
struct jerr {
    const char *origin;
    const char *src;
    size_t src_len;
    jmp_buf jb;
};
/* Records "<origin>:<line>:<col>: <message>" as the vs_error message and longjmps to e->jb. */
_Noreturn void jfail(struct jerr *e, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- values ---- */

enum jv_kind {
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

struct jv;
struct jdict {
    const char **k;
    size_t *klen;
    struct jv **v;
    size_t n, cap;
};

struct jnode;
struct jframe;
enum jfunc_kind {
    JF_MACRO,
    JF_GLOBAL, /* range, namespace, dict, raise_exception, strftime_now */
    JF_METHOD, /* a method of self (str, dict, list) */
    JF_LOOP,   /* loop.cycle, loop.changed */
};
struct jfunc {
    enum jfunc_kind kind;
    const char *name;
    struct jnode *macro;
    struct jframe *closure;
    struct jv *self;
};

struct jloop {
    struct jv **items;
    size_t n, i;
    int depth;
    struct jv *changed_last;
    bool changed_seen;
};

struct jv {
    enum jv_kind kind;
    /* LIST: made by a filter that gives a generator in Jinja2 (map, select, ...): always truthy,
     * no length, not subscriptable, as there. */
    bool gen;
    /* STR: safe (Markup); only escape cares. */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t len;
        } str; /* STR; UNDEF: s = the message used when it is misused (NULL: plain) */
        struct {
            struct jv **v;
            size_t n, cap;
        } list; /* LIST, TUPLE */
        struct jdict *dict; /* DICT, NS */
        struct jfunc *fn;
        struct jloop *loop;
    } u;
};

struct jrt; /* the renderer (jinja_eval.c) */

extern struct jv jv_undef_plain, jv_none, jv_true, jv_false;
struct jv *jv_new(struct jarena *a, enum jv_kind k);
struct jv *jv_int(struct jarena *a, int64_t i);
struct jv *jv_float(struct jarena *a, double f);
struct jv *jv_bool(bool b);
struct jv *jv_strn(struct jarena *a, const char *s, size_t n); /* copies */
struct jv *jv_str_own(struct jarena *a, const char *s, size_t n); /* s already in the arena */
struct jv *jv_list(struct jarena *a, enum jv_kind k); /* JV_LIST or JV_TUPLE */
void jv_push(struct jarena *a, struct jv *list, struct jv *item);
struct jv *jv_dict(struct jarena *a, enum jv_kind k); /* JV_DICT or JV_NS */
struct jv *jv_undef(struct jarena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dict access; keys compared bytewise. */
struct jv *jd_get(const struct jv *d, const char *k, size_t klen); /* NULL if absent */
void jd_set(struct jarena *a, struct jv *d, const char *k, size_t klen, struct jv *v);
struct jv *jv_from_json(struct jarena *a, const json_t *j);

bool jv_truthy(const struct jv *v);
bool jv_is_seq(const struct jv *v); /* LIST or TUPLE */
bool jv_equal(const struct jv *a, const struct jv *b);
/* Python's <, as -1/0/1; a type mismatch fails through e at pos. */
int jv_compare(struct jerr *e, size_t pos, const struct jv *a, const struct jv *b, bool fold_case);
const char *jv_type_name(const struct jv *v); /* Python's type name: "str", "dict", ... */

/* Python str(v) (Jinja2 prints this), repr(v), and transformers' tojson (json.dumps). */
void jv_str(struct jbuf *b, const struct jv *v);
void jv_repr(struct jbuf *b, const struct jv *v);
struct jv *jv_to_str(struct jarena *a, const struct jv *v); /* STR as is, else str(v) */
struct tojson_opts {
    int indent; /* < 0: none */
    const char *indent_str; /* instead of indent, when set */
    bool ensure_ascii, sort_keys;
    const char *item_sep, *key_sep; /* NULL: Python's defaults */
};
void jv_tojson(struct jerr *e, size_t pos, struct jbuf *b, const struct jv *v,
               const struct tojson_opts *o, int depth);
void py_float_repr(struct jbuf *b, double f);

/* ---- UTF-8 and Python string helpers ---- */

/* Decodes one code point at s[*i] (input is valid UTF-8) and advances *i. */
uint32_t u8_next(const char *s, size_t len, size_t *i);
void u8_put(struct jbuf *b, uint32_t cp);
size_t u8_count(const char *s, size_t len);
bool py_isspace(uint32_t cp);     /* str.isspace(), the \s of Python's re */
bool py_isprintable(uint32_t cp); /* str.isprintable() */
bool py_islinebreak(uint32_t cp); /* str.splitlines() boundaries */
/* Validates UTF-8; returns the byte offset of the first bad sequence or len. */
size_t u8_check(const char *s, size_t len);

/* ---- tokens and AST ---- */

enum jtok_kind {
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
struct jtok {
    enum jtok_kind kind;
    size_t pos;
    const char *s; /* DATA, NAME, STRING (decoded), OP text */
    size_t len;
    int64_t i;
    double f;
};
/* Tokenizes src (already newline-normalized) with trim_blocks and lstrip_blocks. */
void jlex(struct jerr *e, struct jarena *a, const char *src, size_t len, struct jtok **toks,
          size_t *n);

enum jnode_kind {
    /* statements */
    JN_TEXT,   /* value */
    JN_OUTPUT, /* a */
    JN_IF,     /* a test, list body, list2 else */
    JN_FOR,    /* a target, b iterable, c filter, list body, list2 else */
    JN_SET,    /* a target, b value; SETBLOCK: a target, list body, c filter (JN_FILTER, a NULL) */
    JN_SETBLOCK,
    JN_MACRO,  /* name, names params, list2 defaults (NULL entries), list body */
    JN_FILTERBLOCK, /* c the filter (JN_FILTER with a NULL), list body */
    JN_WITH,   /* list2 targets, list3 values, list body */
    JN_BLOCK,  /* a body rendered as is (generation) */
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
    JN_NOT,     /* a */
    JN_NEG,
    JN_POS,
    JN_COND,    /* a test, b then, c else (NULL: undefined) */
    JN_COMPARE, /* a first, list operands, ops */
    JN_LIST,    /* list */
    JN_TUPLE,
    JN_DICT,    /* list keys, list2 values */
};

enum jop {
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

struct jnode {
    enum jnode_kind kind;
    size_t pos;
    int op;
    const char *name;
    struct jv *value;
    struct jnode *a, *b, *c;
    struct jnode **list, **list2, **list3;
    size_t n, n2, n3;
    const char **names;
    size_t nnames;
    int *ops;
};

/* Parses tokens into a JN program (JN_BLOCK holding the top-level statements). */
struct jnode *jparse(struct jerr *e, struct jarena *a, struct jtok *toks, size_t n);

/* ---- evaluation ---- */

struct jframe {
    struct jframe *parent;
    const char **names;
    struct jv **vals;
    size_t n, cap;
};

struct jrt {
    struct jerr *err;
    struct jarena *a;
    struct jframe *globals;
    struct jframe *frame; /* where names are looked up */
    size_t pos; /* node being evaluated, for errors */
    int ctl;    /* 1 break, 2 continue */
    int depth;  /* macro/loop nesting, bounded */
};

/* A call's evaluated arguments. */
struct jargs {
    struct jv **pos;
    size_t npos;
    const char **kw;
    struct jv **kwv;
    size_t nkw;
};
/* The positional i, else keyword name, else NULL; *used counts what was taken. */
struct jv *ja_arg(struct jargs *args, size_t i, const char *name);
/* Fails unless every argument was taken by names[0..n) (positions then keywords). */
void ja_check(struct jrt *rt, struct jargs *args, const char *what, const char *const *names,
              size_t n);

struct jv *jeval(struct jrt *rt, struct jnode *n);
struct jv *jgetattr(struct jrt *rt, struct jv *obj, const char *name, size_t len);
struct jv *jgetitem(struct jrt *rt, struct jv *obj, struct jv *key);
struct jv *jcall(struct jrt *rt, struct jv *fn, struct jargs *args);
/* Items of an iterable (list, tuple, dict keys, str chars, undefined); fails otherwise. */
struct jv **jiter(struct jrt *rt, struct jv *v, size_t *n);
_Noreturn void jundef_fail(struct jrt *rt, const struct jv *u);
/* Fails when v is undefined (used where Jinja2's Undefined raises). */
void jneed(struct jrt *rt, const struct jv *v);

/* Filters and tests (jinja_filters.c), methods (jinja_methods.c). */
bool jfilter_exists(const char *name);
bool jtest_exists(const char *name);
struct jv *jfilter_apply(struct jrt *rt, const char *name, struct jv *v, struct jargs *args);
bool jtest_apply(struct jrt *rt, const char *name, struct jv *v, struct jargs *args);
/* A bound method of obj named name, or NULL when obj's type has no such method. */
struct jv *jmethod_get(struct jrt *rt, struct jv *obj, const char *name, size_t len);
struct jv *jmethod_call(struct jrt *rt, struct jfunc *fn, struct jargs *args);
/* `str % args`: Python's printf-style formatting. */
struct jv *jformat_percent(struct jrt *rt, struct jv *fmt, struct jv *args);
/* Python string helpers shared by filters and methods. */
struct jv *jstr_strip(struct jrt *rt, struct jv *s, struct jv *chars, bool left, bool right);
struct jv *jstr_case(struct jrt *rt, struct jv *s, int how); /* 'u' upper, 'l' lower, 't' title, 'c' capitalize */
struct jv *jstr_replace(struct jrt *rt, struct jv *s, struct jv *old, struct jv *new_, int64_t count);
/* Renders root with the given variables into out (in rt's arena). */
void jrender(struct jrt *rt, struct jnode *root, const char *const *names, struct jv *const *vals, size_t nvars,
             struct jbuf *out);

#endif
