/* Jinja lexer: Jinja2's tokenization with transformers' settings (trim_blocks, lstrip_blocks).
 *
 * Text between tags is DATA. `{%-`, `{{-`, `{#-` strip the whitespace before the tag, `-%}`,
 * `-}}`, `-#}` the whitespace after it; a `+` instead disables lstrip_blocks / trim_blocks for
 * that tag. lstrip_blocks removes spaces and tabs between a line start and a block or comment
 * tag; trim_blocks removes the first newline after a block or comment tag. Inside a tag, a
 * closing `}}` or `%}` ends it only when brackets are balanced, as in Jinja2. */
#include <stdlib.h>
#include <string.h>

#include "text/jinja.h"

struct lexer {
    struct vs_jerr *e;
    struct vs_jarena *a;
    const char *s;
    size_t len, pos;
    struct vs_jtok *t;
    size_t n, cap;
};

static struct vs_jtok *push(struct lexer *L, enum vs_jtok_kind k, size_t pos)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        L->t = vs_ja_grow(L->a, L->t, L->n, cap, sizeof *L->t);
        L->cap = cap;
    }
    struct vs_jtok *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    t->kind = k;
    t->pos = pos;
    return t;
}

static bool ws_at(const struct lexer *L, size_t i, size_t *next)
{
    if (i >= L->len)
        return false;
    size_t j = i;
    uint32_t c = vs_u8_next(L->s, L->len, &j);
    if (!vs_py_isspace(c))
        return false;
    *next = j;
    return true;
}

static size_t skip_ws(const struct lexer *L, size_t i)
{
    size_t j;
    while (ws_at(L, i, &j))
        i = j;
    return i;
}

/* Length of s[0..len) without trailing (Python) whitespace. */
static size_t rstrip_len(const char *s, size_t len)
{
    size_t end = len;
    while (end > 0) {
        size_t st = end - 1;
        while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80)
            st--;
        size_t k = st;
        if (!vs_py_isspace(vs_u8_next(s, len, &k)))
            break;
        end = st;
    }
    return end;
}

static void emit_data(struct lexer *L, size_t start, size_t len)
{
    if (len == 0)
        return;
    struct vs_jtok *t = push(L, JT_DATA, start);
    t->s = L->s + start;
    t->len = len;
}

/* The data before a tag at tag_pos, with the tag's left whitespace control applied. */
static void data_before_tag(struct lexer *L, size_t start, size_t tag_pos, char ctl, bool lstrip_kind,
                            bool line_starting)
{
    size_t len = tag_pos - start;
    const char *d = L->s + start;
    if (ctl == '-') {
        len = rstrip_len(d, len);
    } else if (ctl != '+' && lstrip_kind) {
        size_t l_pos = 0;
        for (size_t i = len; i > 0; i--)
            if (d[i - 1] == '\n') {
                l_pos = i;
                break;
            }
        if (l_pos > 0 || line_starting) {
            bool blank = true;
            for (size_t i = l_pos; i < len; i++)
                if (d[i] != ' ' && d[i] != '\t') {
                    blank = false;
                    break;
                }
            if (blank)
                len = l_pos;
        }
    }
    emit_data(L, start, len);
}

static bool starts(const struct lexer *L, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return i + n <= L->len && memcmp(L->s + i, lit, n) == 0;
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* `{% raw %}` at i (ctl already known): returns the end of the tag or 0. */
static size_t raw_tag(const struct lexer *L, size_t i, const char *word, char *end_ctl)
{
    size_t j = i + 2;
    if (j < L->len && (L->s[j] == '-' || L->s[j] == '+'))
        j++;
    j = skip_ws(L, j);
    size_t wl = strlen(word);
    if (!starts(L, j, word))
        return 0;
    j += wl;
    if (j < L->len && (is_name_start(L->s[j]) || is_digit(L->s[j])))
        return 0;
    j = skip_ws(L, j);
    *end_ctl = 0;
    if (j < L->len && (L->s[j] == '-' || L->s[j] == '+'))
        *end_ctl = L->s[j++];
    if (!starts(L, j, "%}"))
        return 0;
    return j + 2;
}

/* Python unicode-escape decoding of a string literal's body (Jinja2 decodes literals so). */
static void decode_string(struct lexer *L, size_t at, const char *s, size_t n, struct vs_jtok *t)
{
    struct vs_jbuf b = {.a = L->a};
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\' || i + 1 >= n) {
            vs_jb_putc(&b, s[i++]);
            continue;
        }
        char c = s[i + 1];
        size_t k = 0;
        int hex = 0;
        static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v"; /* escape letter, then its byte */
        const char *e = c ? strchr(simple, c) : NULL;
        if (e && (e - simple) % 2 == 0) {
            vs_jb_putc(&b, e[1]);
            i += 2;
            continue;
        }
        switch (c) {
        case '\n':
            i += 2;
            continue;
        case '\\':
        case '\'':
        case '"':
            vs_jb_putc(&b, c);
            i += 2;
            continue;
        case 'x':
            hex = 2;
            break;
        case 'u':
            hex = 4;
            break;
        case 'U':
            hex = 8;
            break;
        case 'N':
            vs_jfail(L->e, at + i, "\\N{...} escapes are not supported");
        default:
            if (c >= '0' && c <= '7') {
                uint32_t v = 0;
                for (k = 1; k <= 3 && i + k < n && s[i + k] >= '0' && s[i + k] <= '7'; k++)
                    v = v * 8 + (uint32_t)(s[i + k] - '0');
                vs_u8_put(&b, v);
                i += k;
                continue;
            }
            vs_jb_putc(&b, '\\'); /* unknown escapes stay as written */
            i++;
            continue;
        }
        uint32_t v = 0;
        for (k = 0; k < (size_t)hex; k++) {
            char h = i + 2 + k < n ? s[i + 2 + k] : 0;
            int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (d < 0)
                vs_jfail(L->e, at + i, "truncated \\%c escape in a string literal", c);
            v = v * 16 + (uint32_t)d;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            vs_jfail(L->e, at + i, "escape \\%c%.*s is not a valid code point", c, hex, s + i + 2);
        vs_u8_put(&b, v);
        i += 2 + (size_t)hex;
    }
    t->s = b.p ? b.p : "";
    t->len = b.len;
}

static size_t lex_number(struct lexer *L, size_t i)
{
    size_t start = i;
    struct vs_jbuf b = {.a = L->a};
    bool is_float = false;
    bool after_dot =
        L->n > 0 && L->t[L->n - 1].kind == JT_OP && L->t[L->n - 1].len == 1 && L->t[L->n - 1].s[0] == '.';
    while (i < L->len && (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->len && is_digit(L->s[i + 1]))))
        if (L->s[i++] != '_')
            vs_jb_putc(&b, L->s[i - 1]);
    if (!after_dot && i + 1 < L->len && L->s[i] == '.' && is_digit(L->s[i + 1])) {
        is_float = true;
        vs_jb_putc(&b, L->s[i++]);
        while (i < L->len &&
               (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->len && is_digit(L->s[i + 1]))))
            if (L->s[i++] != '_')
                vs_jb_putc(&b, L->s[i - 1]);
    }
    if (!after_dot && i < L->len && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->len && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->len && is_digit(L->s[j])) {
            is_float = true;
            vs_jb_putc(&b, 'e');
            for (size_t k = i + 1; k < j; k++)
                vs_jb_putc(&b, L->s[k]);
            i = j;
            while (i < L->len && is_digit(L->s[i]))
                vs_jb_putc(&b, L->s[i++]);
        }
    }
    struct vs_jtok *t = push(L, is_float ? JT_FLOAT : JT_INT, start);
    if (is_float) {
        t->f = strtod(b.p, NULL);
    } else {
        int64_t v = 0;
        for (size_t k = 0; k < b.len; k++)
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, b.p[k] - '0', &v))
                vs_jfail(L->e, start, "integer literal %s does not fit in 64 bits", b.p);
        t->i = v;
    }
    return i;
}

static const char *const OPS[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                  "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};

/* Lexes the inside of a tag from i; returns the position after its end and whether the end
 * stripped (or kept) what follows. */
static size_t lex_tag(struct lexer *L, size_t i, bool var, size_t open_pos, bool *line_starting)
{
    int depth = 0;
    const char *end = var ? "}}" : "%}";
    for (;;) {
        i = skip_ws(L, i);
        if (i >= L->len)
            vs_jfail(L->e, open_pos, "unexpected end of template: '%s' is not closed", var ? "{{" : "{%");
        if (depth == 0) {
            if (L->s[i] == '-' && starts(L, i + 1, end)) {
                push(L, var ? JT_VAR_END : JT_BLOCK_END, i);
                size_t j = skip_ws(L, i + 3);
                *line_starting = j > i + 3 && L->s[j - 1] == '\n';
                return j;
            }
            if (!var && L->s[i] == '+' && starts(L, i + 1, end)) {
                push(L, JT_BLOCK_END, i);
                *line_starting = false;
                return i + 3;
            }
            if (starts(L, i, end)) {
                push(L, var ? JT_VAR_END : JT_BLOCK_END, i);
                i += 2;
                *line_starting = false;
                if (!var && i < L->len && L->s[i] == '\n') { /* trim_blocks */
                    i++;
                    *line_starting = true;
                }
                return i;
            }
        }
        char c = L->s[i];
        if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < L->len && L->s[j] != c)
                j += L->s[j] == '\\' ? 2 : 1;
            if (j >= L->len)
                vs_jfail(L->e, i, "unterminated string literal");
            struct vs_jtok *t = push(L, JT_STRING, i);
            decode_string(L, i + 1, L->s + i + 1, j - i - 1, t);
            i = j + 1;
            continue;
        }
        if (is_digit(c)) {
            i = lex_number(L, i);
            continue;
        }
        if (is_name_start(c)) {
            size_t j = i;
            while (j < L->len && (is_name_start(L->s[j]) || is_digit(L->s[j])))
                j++;
            struct vs_jtok *t = push(L, JT_NAME, i);
            t->s = L->s + i;
            t->len = j - i;
            i = j;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof OPS / sizeof *OPS; k++)
            if (starts(L, i, OPS[k]))
                break;
        if (k == sizeof OPS / sizeof *OPS) {
            size_t j = i;
            vs_u8_next(L->s, L->len, &j);
            vs_jfail(L->e, i, "unexpected character '%.*s'", (int)(j - i), L->s + i);
        }
        const char *op = OPS[k];
        if (op[0] == '(' || op[0] == '[' || op[0] == '{')
            depth++;
        else if ((op[0] == ')' || op[0] == ']' || op[0] == '}') && depth > 0)
            depth--;
        struct vs_jtok *t = push(L, JT_OP, i);
        t->s = op;
        t->len = strlen(op);
        i += t->len;
    }
}

void vs_jlex(struct vs_jerr *e, struct vs_jarena *a, const char *src, size_t len, struct vs_jtok **toks,
             size_t *n)
{
    struct lexer L = {.e = e, .a = a, .s = src, .len = len};
    size_t i = 0;
    bool line_starting = true;
    while (i < len) {
        size_t tag = i;
        while (tag + 1 < len &&
               !(src[tag] == '{' && (src[tag + 1] == '{' || src[tag + 1] == '%' || src[tag + 1] == '#')))
            tag++;
        if (tag + 1 >= len) {
            emit_data(&L, i, len - i);
            break;
        }
        char kind = src[tag + 1];
        char ctl = tag + 2 < len && (src[tag + 2] == '-' || src[tag + 2] == '+') ? src[tag + 2] : 0;
        char raw_end_ctl;
        size_t raw_end = kind == '%' ? raw_tag(&L, tag, "raw", &raw_end_ctl) : 0;
        data_before_tag(&L, i, tag, ctl, kind != '{', line_starting);
        if (kind == '#') {
            size_t j = tag + 2;
            while (j + 1 < len && !(src[j] == '#' && src[j + 1] == '}'))
                j++;
            if (j + 1 >= len)
                vs_jfail(e, tag, "unexpected end of template: comment is not closed");
            char ectl = src[j - 1];
            i = j + 2;
            line_starting = false;
            if (ectl == '-' && j - 1 > tag + 2) {
                size_t k = skip_ws(&L, i);
                line_starting = k > i && src[k - 1] == '\n';
                i = k;
            } else if (!(ectl == '+' && j - 1 > tag + 2) && i < len && src[i] == '\n') {
                i++;
                line_starting = true;
            }
            continue;
        }
        if (raw_end) {
            i = raw_end_ctl == '-' ? skip_ws(&L, raw_end) : raw_end;
            size_t j = i;
            char ectl = 0;
            size_t close = 0;
            for (; j + 1 < len; j++)
                if (src[j] == '{' && src[j + 1] == '%' && (close = raw_tag(&L, j, "endraw", &ectl)) != 0)
                    break;
            if (!close)
                vs_jfail(e, tag, "unexpected end of template: 'raw' is not closed by 'endraw'");
            char bctl = src[j + 2] == '-' ? '-' : 0;
            size_t dl = j - i;
            if (bctl == '-')
                dl = rstrip_len(src + i, dl);
            emit_data(&L, i, dl);
            i = close;
            line_starting = false;
            if (ectl == '-') {
                i = skip_ws(&L, i);
            } else if (ectl != '+' && i < len && src[i] == '\n') {
                i++;
                line_starting = true;
            }
            continue;
        }
        push(&L, kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, tag);
        i = lex_tag(&L, tag + 2 + (ctl ? 1 : 0), kind == '{', tag, &line_starting);
    }
    push(&L, JT_EOF, len);
    *toks = L.t;
    *n = L.n;
}
