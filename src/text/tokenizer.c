/* tokenizer.json loading, added-token matching, normalization, pre-tokenization and decode. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"

#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "io/json_util.h"
#include "text/bpe.h"
#include "text/byte_level.h"

/* Ids beyond this are refused so a hostile file cannot ask for a huge table. */
#define MAX_ID (1 << 26)

struct added_token {
    char *content;
    size_t len;
    int32_t id;
    bool special;
};

struct vs_tokenizer {
    /* Per id: vocab token (byte-level string) or added token content; NULL for gaps. */
    char **id_str;
    size_t n_ids;
    bool *id_added;
    /* Vocab string -> id, open addressing over ids (-1 empty); keys are id_str[id]. */
    int32_t *vmap;
    size_t vmask;
    struct vs_bpe_merges merges;
    int32_t byte_id[256];
    struct added_token *added;
    size_t n_added;
    bool added_first[256];
    bool nfc;
    pcre2_code *re;
    bool jit;
};

static size_t str_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

static int32_t vocab_find(const struct vs_tokenizer *t, const char *s, size_t n)
{
    size_t j = str_hash(s, n) & t->vmask;
    for (; t->vmap[j] >= 0; j = (j + 1) & t->vmask) {
        const char *k = t->id_str[t->vmap[j]];
        if (strlen(k) == n && memcmp(k, s, n) == 0)
            return t->vmap[j];
    }
    return -1;
}

static void vocab_insert(struct vs_tokenizer *t, int32_t id)
{
    const char *s = t->id_str[id];
    size_t j = str_hash(s, strlen(s)) & t->vmask;
    while (t->vmap[j] >= 0)
        j = (j + 1) & t->vmask;
    t->vmap[j] = id;
}

void vs_tokenizer_close(struct vs_tokenizer *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->id_str && i < t->n_ids; i++) /* id_str is NULL if its allocation failed */
        if (!t->id_added || !t->id_added[i])
            free(t->id_str[i]);
    free(t->id_str);
    free(t->id_added);
    free(t->vmap);
    vs_bpe_merges_free(&t->merges);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    pcre2_code_free(t->re);
    free(t);
}

static const char *type_of(const json_t *obj)
{
    const json_t *ty = json_object_get(obj, "type");
    return json_is_string(ty) ? json_string_value(ty) : NULL;
}

/* --- model ------------------------------------------------------------------------------- */

static enum vs_status load_vocab(struct vs_tokenizer *t, const json_t *vocab, const char *path)
{
    const char *key;
    json_t *val;
    int64_t max_id = -1;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= MAX_ID)
            return vs_error_set(VS_ERR_FORMAT, "%s: model.vocab[\"%s\"]: expected an id in [0, %d)",
                                path, key, MAX_ID);
        if (json_integer_value(val) > max_id)
            max_id = json_integer_value(val);
    }
    t->n_ids = (size_t)(max_id + 1);
    t->id_str = vs_calloc(t->n_ids ? t->n_ids : 1, sizeof *t->id_str);
    size_t cap = 16;
    while (cap < json_object_size(vocab) * 2)
        cap *= 2;
    t->vmap = vs_malloc(cap * sizeof *t->vmap);
    if (!t->id_str || !t->vmap)
        return VS_ERR_NOMEM;
    memset(t->vmap, 0xFF, cap * sizeof *t->vmap);
    t->vmask = cap - 1;
    json_object_foreach((json_t *)vocab, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        if (t->id_str[id])
            return vs_error_set(VS_ERR_FORMAT, "%s: model.vocab[\"%s\"]: id %d already used by \"%s\"",
                                path, key, id, t->id_str[id]);
        if (!(t->id_str[id] = vs_strdup(key)))
            return VS_ERR_NOMEM;
        vocab_insert(t, id);
    }
    for (int b = 0; b < 256; b++) {
        char u[3] = {0};
        size_t n = vs_byte_level_utf8((uint8_t)b, u);
        if ((t->byte_id[b] = vocab_find(t, u, n)) < 0)
            return vs_error_set(VS_ERR_FORMAT,
                                "%s: model.vocab: no token \"%s\" for byte 0x%02x (not a byte-level vocab)",
                                path, u, b);
    }
    return VS_OK;
}

static enum vs_status merge_part(struct vs_tokenizer *t, const char *s, size_t n, const char *path,
                                 size_t i, int32_t *id)
{
    if ((*id = vocab_find(t, s, n)) < 0)
        return vs_error_set(VS_ERR_FORMAT, "%s: model.merges[%zu]: token \"%.*s\" not in model.vocab",
                            path, i, (int)n, s);
    return VS_OK;
}

static enum vs_status load_merges(struct vs_tokenizer *t, const json_t *merges, const char *path)
{
    enum vs_status st = vs_bpe_merges_init(&t->merges, json_array_size(merges));
    if (st)
        return st;
    char buf[1024];
    for (size_t i = 0; i < json_array_size(merges); i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *sp = strchr(s, ' ');
            if (sp && !strchr(sp + 1, ' ') && sp > s && sp[1]) {
                a = s, na = (size_t)(sp - s), b = sp + 1, nb = strlen(b);
            }
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            na = strlen(a), nb = strlen(b);
        }
        if (!a)
            return vs_error_set(VS_ERR_FORMAT,
                                "%s: model.merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", path, i);
        int32_t ia, ib, im;
        if ((st = merge_part(t, a, na, path, i, &ia)) || (st = merge_part(t, b, nb, path, i, &ib)))
            return st;
        if (na + nb >= sizeof buf)
            return vs_error_set(VS_ERR_FORMAT, "%s: model.merges[%zu]: token too long", path, i);
        memcpy(buf, a, na);
        memcpy(buf + na, b, nb);
        if ((st = merge_part(t, buf, na + nb, path, i, &im)))
            return st;
        if ((st = vs_bpe_merges_put(&t->merges, ia, ib, (int32_t)i, im)))
            return st;
    }
    return VS_OK;
}

static enum vs_status load_model(struct vs_tokenizer *t, const json_t *root, const char *path)
{
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return vs_error_set(VS_ERR_FORMAT, "%s: model: expected an object", path);
    const char *ty = type_of(model);
    if (!ty || strcmp(ty, "BPE"))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: model.type: '%s' is not supported (only BPE)",
                            path, ty ? ty : "(none)");
    const json_t *v;
    if ((v = json_object_get(model, "byte_fallback")) && json_is_true(v))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: model.byte_fallback: true is not supported", path);
    if ((v = json_object_get(model, "ignore_merges")) && json_is_true(v))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: model.ignore_merges: true is not supported", path);
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++)
        if ((v = json_object_get(model, affix[i])) && json_is_string(v) && json_string_length(v))
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: model.%s: '%s' is not supported", path,
                                affix[i], json_string_value(v));
    const json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab))
        return vs_error_set(VS_ERR_FORMAT, "%s: model.vocab: expected an object", path);
    if (!json_is_array(merges))
        return vs_error_set(VS_ERR_FORMAT, "%s: model.merges: expected an array", path);
    enum vs_status st = load_vocab(t, vocab, path);
    return st ? st : load_merges(t, merges, path);
}

/* --- added tokens -------------------------------------------------------------------------- */

static enum vs_status load_added(struct vs_tokenizer *t, const json_t *root, const char *path)
{
    const json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list))
        return VS_OK;
    if (!json_is_array(list))
        return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens: expected an array", path);
    size_t n = json_array_size(list);
    int64_t max_id = (int64_t)t->n_ids - 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i), *id = json_object_get(a, "id"),
                     *c = json_object_get(a, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= MAX_ID)
            return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens[%zu].id: expected an id in [0, %d)",
                                path, i, MAX_ID);
        if (!json_is_string(c) || !json_string_length(c))
            return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens[%zu].content: expected a non-empty string",
                                path, i);
        const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (int f = 0; f < 4; f++) {
            const json_t *v = json_object_get(a, flags[f]);
            if (v && !json_is_boolean(v))
                return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens[%zu].%s: expected a boolean", path,
                                    i, flags[f]);
            if (json_is_true(v))
                return vs_error_set(VS_ERR_UNSUPPORTED,
                                    "%s: added_tokens[%zu].%s: true is not supported (token '%s')", path,
                                    i, flags[f], json_string_value(c));
        }
        if (json_integer_value(id) > max_id)
            max_id = json_integer_value(id);
    }
    size_t n_ids = (size_t)(max_id + 1);
    char **ids = vs_realloc(t->id_str, n_ids * sizeof *ids);
    if (!ids)
        return VS_ERR_NOMEM;
    memset(ids + t->n_ids, 0, (n_ids - t->n_ids) * sizeof *ids);
    t->id_str = ids;
    t->n_ids = n_ids;
    t->id_added = vs_calloc(n_ids, sizeof *t->id_added);
    t->added = vs_calloc(n ? n : 1, sizeof *t->added);
    if (!t->id_added || !t->added)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(list, i);
        int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
        const json_t *c = json_object_get(a, "content");
        if (t->id_str[id] && !t->id_added[id] && strcmp(t->id_str[id], json_string_value(c)))
            return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens[%zu]: id %d is vocab token \"%s\"",
                                path, i, id, t->id_str[id]);
        if (t->id_added[id])
            return vs_error_set(VS_ERR_FORMAT, "%s: added_tokens[%zu]: id %d used twice", path, i, id);
        struct added_token *d = &t->added[t->n_added++];
        if (!(d->content = vs_strdup(json_string_value(c))))
            return VS_ERR_NOMEM;
        d->len = strlen(d->content);
        d->id = id;
        d->special = json_is_true(json_object_get(a, "special"));
        free(t->id_str[id]); /* an added token may repeat its vocab entry */
        t->id_str[id] = d->content;
        t->id_added[id] = true;
        t->added_first[(unsigned char)d->content[0]] = true;
    }
    return VS_OK;
}

/* --- normalizer, pre-tokenizer, decoder ------------------------------------------------------ */

static enum vs_status load_normalizer(struct vs_tokenizer *t, const json_t *root, const char *path)
{
    const json_t *n = json_object_get(root, "normalizer");
    if (!n || json_is_null(n))
        return VS_OK;
    const char *ty = type_of(n);
    if (!ty || strcmp(ty, "NFC"))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: normalizer.type: '%s' is not supported (only NFC)",
                            path, ty ? ty : "(none)");
    t->nfc = true;
    return VS_OK;
}

static enum vs_status load_split(struct vs_tokenizer *t, const json_t *s, const char *path,
                                 const char *where)
{
    const json_t *pat = json_object_get(s, "pattern");
    const json_t *re = json_object_get(pat, "Regex");
    if (!json_is_string(re))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.pattern: only {\"Regex\": ...} is supported",
                            path, where);
    const json_t *beh = json_object_get(s, "behavior"), *inv = json_object_get(s, "invert");
    if (!json_is_string(beh) || strcmp(json_string_value(beh), "Isolated"))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.behavior: '%s' is not supported (only Isolated)",
                            path, where, json_is_string(beh) ? json_string_value(beh) : "(none)");
    if (json_is_true(inv))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.invert: true is not supported", path, where);
    int err;
    PCRE2_SIZE off;
    t->re = pcre2_compile((PCRE2_SPTR)json_string_value(re), json_string_length(re),
                          PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!t->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return vs_error_set(VS_ERR_FORMAT, "%s: %s.pattern.Regex: offset %zu: %s", path, where,
                            (size_t)off, (const char *)msg);
    }
    t->jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) == 0;
    return VS_OK;
}

static enum vs_status check_byte_level(const json_t *b, const char *path, const char *where)
{
    const json_t *v;
    if ((v = json_object_get(b, "add_prefix_space")) && json_is_true(v))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.add_prefix_space: true is not supported", path,
                            where);
    if ((v = json_object_get(b, "use_regex")) && json_is_true(v))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s.use_regex: true is not supported", path, where);
    return VS_OK;
}

static enum vs_status load_pre_tokenizer(struct vs_tokenizer *t, const json_t *root, const char *path)
{
    const json_t *p = json_object_get(root, "pre_tokenizer");
    const char *ty = json_is_object(p) ? type_of(p) : NULL;
    const json_t *list = json_object_get(p, "pretokenizers");
    if (!ty || strcmp(ty, "Sequence") || !json_is_array(list))
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: pre_tokenizer.type: '%s' is not supported (only Sequence[Split, ByteLevel])",
                            path, ty ? ty : "(none)");
    bool have_bl = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const char *et = type_of(e);
        char where[64];
        snprintf(where, sizeof where, "pre_tokenizer.pretokenizers[%zu]", i);
        enum vs_status st;
        if (et && !strcmp(et, "Split") && !t->re && !have_bl)
            st = load_split(t, e, path, where);
        else if (et && !strcmp(et, "ByteLevel") && t->re && !have_bl) {
            st = check_byte_level(e, path, where);
            have_bl = true;
        } else
            st = vs_error_set(VS_ERR_UNSUPPORTED,
                              "%s: %s.type: '%s' is not supported here (only Sequence[Split, ByteLevel])",
                              path, where, et ? et : "(none)");
        if (st)
            return st;
    }
    if (!have_bl)
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: pre_tokenizer: only Sequence[Split, ByteLevel] is supported", path);
    return VS_OK;
}

static enum vs_status load_decoder(const json_t *root, const char *path)
{
    const json_t *d = json_object_get(root, "decoder");
    if (!d || json_is_null(d))
        return VS_OK;
    const char *ty = type_of(d);
    if (!ty || strcmp(ty, "ByteLevel"))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: decoder.type: '%s' is not supported (only ByteLevel)",
                            path, ty ? ty : "(none)");
    return VS_OK;
}

enum vs_status vs_tokenizer_open(const char *path, struct vs_tokenizer **out)
{
    *out = NULL;
    json_t *root;
    enum vs_status st = vs_json_load_file(path, &root);
    if (st)
        return st;
    struct vs_tokenizer *t = vs_calloc(1, sizeof *t);
    if (!t) {
        json_decref(root);
        return VS_ERR_NOMEM;
    }
    if (!json_is_object(root))
        st = vs_error_set(VS_ERR_FORMAT, "%s: expected a JSON object", path);
    if (!st)
        st = load_model(t, root, path);
    if (!st)
        st = load_added(t, root, path);
    if (!st)
        st = load_normalizer(t, root, path);
    if (!st)
        st = load_pre_tokenizer(t, root, path);
    if (!st)
        st = load_decoder(root, path);
    json_decref(root);
    if (st) {
        vs_tokenizer_close(t);
        return st;
    }
    *out = t;
    return VS_OK;
}

/* --- encode ---------------------------------------------------------------------------------- */

struct enc {
    const struct vs_tokenizer *t;
    int32_t *ids;
    size_t n, cap;
    struct vs_bpe_work work;
    pcre2_match_data *md;
};

static enum vs_status push_ids(struct enc *e, size_t extra)
{
    if (e->n + extra <= e->cap)
        return VS_OK;
    size_t c = e->cap ? e->cap : 256;
    while (c < e->n + extra)
        c *= 2;
    int32_t *p = vs_realloc(e->ids, c * sizeof *p);
    if (!p)
        return VS_ERR_NOMEM;
    e->ids = p;
    e->cap = c;
    return VS_OK;
}

static enum vs_status encode_word(struct enc *e, const char *s, size_t n)
{
    if (!n)
        return VS_OK;
    enum vs_status st = push_ids(e, n);
    if (st)
        return st;
    int32_t *w = e->ids + e->n;
    for (size_t i = 0; i < n; i++)
        w[i] = e->t->byte_id[(unsigned char)s[i]];
    size_t k = vs_bpe_merge(&e->t->merges, &e->work, w, n);
    if (k == (size_t)-1)
        return VS_ERR_NOMEM;
    e->n += k;
    return VS_OK;
}

/* Splits a valid UTF-8 segment with the regex (Isolated: matches and the gaps are pieces). */
static enum vs_status encode_segment(struct enc *e, const char *s, size_t n)
{
    size_t pos = 0;
    enum vs_status st;
    while (pos < n) {
        int rc = e->t->jit ? pcre2_jit_match(e->t->re, (PCRE2_SPTR)s, n, pos, 0, e->md, NULL)
                           : PCRE2_ERROR_JIT_STACKLIMIT;
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* no JIT, or its stack is too small: interpret */
            rc = pcre2_match(e->t->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return vs_error_set(VS_ERR_INTERNAL, "tokenizer: pre-tokenizer regex: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t a = ov[0], b = ov[1];
        if ((st = encode_word(e, s + pos, a - pos)))
            return st;
        if (b == a) { /* empty match: the next character becomes part of the following gap */
            size_t bad, l = vs_utf8_seq((const unsigned char *)s + a, n - a, &bad);
            b = a + (l ? l : 1);
            if ((st = encode_word(e, s + a, b - a)))
                return st;
        } else if ((st = encode_word(e, s + a, b - a)))
            return st;
        pos = b;
    }
    return encode_word(e, s + pos, n - pos);
}

/* True if s (valid UTF-8) is certainly NFC: every code point is a starter with NFC_Quick_Check=Yes
 * from ranges where that holds throughout (below U+0300; CJK symbols U+3000-3029; kana without
 * the combining sound marks U+3099/309A; CJK ideographs U+4E00-9FFF; Hangul syllables). */
static bool quick_nfc(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        if (u[i] < 0x80) {
            i++;
            continue;
        } else if (u[i] < 0xE0) {
            cp = (uint32_t)(u[i] & 0x1F) << 6 | (u[i + 1] & 0x3F);
            i += 2;
        } else if (u[i] < 0xF0) {
            cp = (uint32_t)(u[i] & 0x0F) << 12 | (uint32_t)(u[i + 1] & 0x3F) << 6 | (u[i + 2] & 0x3F);
            i += 3;
        } else
            return false;
        if (!(cp < 0x300 || (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0x3040 && cp <= 0x30FF &&
                                                                 cp != 0x3099 && cp != 0x309A) ||
              (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3)))
            return false;
    }
    return true;
}

static enum vs_status encode_normalized(struct enc *e, const char *s, size_t n)
{
    if (!n)
        return VS_OK;
    if (!e->t->nfc || quick_nfc(s, n))
        return encode_segment(e, s, n);
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0)
        return vs_error_set(m == UTF8PROC_ERROR_NOMEM ? VS_ERR_NOMEM : VS_ERR_INTERNAL,
                            "tokenizer: NFC normalization: %s", utf8proc_errmsg(m));
    enum vs_status st = encode_segment(e, (const char *)nfc, (size_t)m);
    free(nfc);
    return st;
}

/* The longest added token starting at s, or NULL. */
static const struct added_token *added_at(const struct vs_tokenizer *t, const char *s, size_t n)
{
    const struct added_token *best = NULL;
    for (size_t i = 0; i < t->n_added; i++) {
        const struct added_token *a = &t->added[i];
        if (a->len <= n && (!best || a->len > best->len) && !memcmp(a->content, s, a->len))
            best = a;
    }
    return best;
}

enum vs_status vs_tokenizer_encode(const struct vs_tokenizer *t, const char *text, size_t len,
                                   int32_t **ids, size_t *n_ids)
{
    *ids = NULL;
    *n_ids = 0;
    size_t n;
    char *s = vs_utf8_lossy(text, len, &n);
    if (!s)
        return VS_ERR_NOMEM;
    struct enc e = {.t = t};
    enum vs_status st = VS_OK;
    e.md = pcre2_match_data_create_from_pattern(t->re, NULL);
    if (!e.md)
        st = vs_error_set(VS_ERR_NOMEM, "tokenizer: out of memory");
    size_t seg = 0;
    for (size_t i = 0; !st && i < n;) {
        const struct added_token *a = t->added_first[(unsigned char)s[i]] ? added_at(t, s + i, n - i)
                                                                           : NULL;
        if (!a) {
            i++;
            continue;
        }
        if (!(st = encode_normalized(&e, s + seg, i - seg)) && !(st = push_ids(&e, 1)))
            e.ids[e.n++] = a->id;
        i += a->len;
        seg = i;
    }
    if (!st)
        st = encode_normalized(&e, s + seg, n - seg);
    pcre2_match_data_free(e.md);
    vs_bpe_work_free(&e.work);
    free(s);
    if (st) {
        free(e.ids);
        return st;
    }
    *ids = e.ids;
    *n_ids = e.n;
    return VS_OK;
}

/* --- decode, lookup -------------------------------------------------------------------------- */

enum vs_status vs_tokenizer_decode(const struct vs_tokenizer *t, const int32_t *ids, size_t n_ids,
                                   char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    size_t cap = 64, o = 0;
    char *out = vs_malloc(cap);
    if (!out)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n_ids || !t->id_str[ids[i]]) {
            free(out);
            return vs_error_set(VS_ERR_FORMAT, "tokenizer: decode: unknown id %d at position %zu",
                                ids[i], i);
        }
        const char *s = t->id_str[ids[i]];
        size_t sl = strlen(s);
        if (o + sl + 1 > cap) {
            while (o + sl + 1 > cap)
                cap *= 2;
            char *p = vs_realloc(out, cap);
            if (!p) {
                free(out);
                return VS_ERR_NOMEM;
            }
            out = p;
        }
        if (t->id_added && t->id_added[ids[i]]) {
            memcpy(out + o, s, sl);
            o += sl;
            continue;
        }
        /* Byte-level characters back to bytes; others (none in a byte-level vocab) verbatim. */
        for (size_t j = 0; j < sl;) {
            int32_t cp;
            utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + j,
                                                  (utf8proc_ssize_t)(sl - j), &cp);
            int b = l > 0 ? vs_byte_level_byte((uint32_t)cp) : -1;
            if (l <= 0)
                l = 1;
            if (b >= 0)
                out[o++] = (char)b;
            else {
                memcpy(out + o, s + j, (size_t)l);
                o += (size_t)l;
            }
            j += (size_t)l;
        }
    }
    out[o] = 0;
    *text = out;
    *len = o;
    return VS_OK;
}

int32_t vs_tokenizer_token_id(const struct vs_tokenizer *t, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, token, n))
            return t->added[i].id;
    return vocab_find(t, token, n);
}

size_t vs_tokenizer_n_ids(const struct vs_tokenizer *t)
{
    return t->n_ids;
}
