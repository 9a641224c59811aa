/* Chat templates: locating a checkpoint's template (transformers' order) and the public
 * parse/render API over the Jinja interpreter (jinja_*.c). */
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/status.h"
#include "io/json_util.h"
#include "text/chat_template.h"

#include "text/jinja.h"

struct vs_chat_template {
    struct vs_jarena arena; /* source, tokens, AST */
    char *origin;
    char *src; /* newline-normalized */
    size_t len;
    struct vs_jnode *root;
};

void vs_chat_template_free(struct vs_chat_template *t)
{
    if (!t)
        return;
    vs_ja_free(&t->arena);
    free(t->origin);
    free(t);
}

/* Jinja2's lexer: every \r\n and \r becomes \n, and one trailing newline is dropped
 * (keep_trailing_newline=False). */
static size_t normalize(char *dst, const char *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            dst[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            dst[n++] = src[i];
        }
    }
    if (n && dst[n - 1] == '\n')
        n--;
    dst[n] = 0;
    return n;
}

enum vs_status vs_chat_template_parse(const char *source, const char *origin, struct vs_chat_template **out)
{
    *out = NULL;
    if (!origin)
        origin = "<template>";
    if (!source)
        return vs_error_set(VS_ERR_USAGE, "%s: no template source", origin);
    size_t raw = strlen(source);
    size_t bad = vs_u8_check(source, raw);
    struct vs_chat_template *t = vs_calloc(1, sizeof *t);
    if (!t || !(t->origin = vs_strdup(origin))) {
        free(t);
        return VS_ERR_NOMEM;
    }
    struct vs_jerr e = {.origin = t->origin};
    jmp_buf *saved = vs_ja_oom;
    vs_ja_oom = &e.jb;
    int r = setjmp(e.jb);
    if (r) {
        vs_ja_oom = saved;
        vs_chat_template_free(t);
        return r == 2 ? VS_ERR_NOMEM : VS_ERR_FORMAT;
    }
    if (bad < raw) {
        e.src = source;
        e.src_len = raw;
        vs_jfail(&e, bad, "invalid UTF-8");
    }
    t->src = vs_ja_alloc(&t->arena, raw + 1);
    t->len = normalize(t->src, source, raw);
    e.src = t->src;
    e.src_len = t->len;
    struct vs_jtok *toks;
    size_t ntok;
    vs_jlex(&e, &t->arena, t->src, t->len, &toks, &ntok);
    t->root = vs_jparse(&e, &t->arena, toks, ntok);
    vs_ja_oom = saved;
    *out = t;
    return VS_OK;
}

enum vs_status vs_chat_template_render(const struct vs_chat_template *t, const json_t *messages,
                                       bool add_generation_prompt, const json_t *extra, char **out)
{
    *out = NULL;
    if (!messages)
        return vs_error_set(VS_ERR_USAGE, "%s: rendering needs a messages list", t->origin);
    if (extra && !json_is_object(extra))
        return vs_error_set(VS_ERR_USAGE, "%s: the extra template variables must be a JSON object",
                            t->origin);
    struct vs_jarena arena = {0};
    struct vs_jerr e = {.origin = t->origin, .src = t->src, .src_len = t->len};
    jmp_buf *saved = vs_ja_oom;
    vs_ja_oom = &e.jb;
    int r = setjmp(e.jb);
    if (r) {
        vs_ja_oom = saved;
        vs_ja_free(&arena);
        return r == 2 ? VS_ERR_NOMEM : VS_ERR_FORMAT;
    }
    /* apply_chat_template's variables: messages, tools and documents (None unless given),
     * add_generation_prompt, then the caller's (special tokens, enable_thinking, ...) */
    size_t nextra = extra ? json_object_size(extra) : 0, n = 0;
    const char **names = vs_ja_alloc(&arena, (4 + nextra) * sizeof *names);
    struct vs_jv **vals = vs_ja_alloc(&arena, (4 + nextra) * sizeof *vals);
    names[n] = "messages";
    vals[n++] = vs_jv_from_json(&arena, messages);
    names[n] = "tools";
    vals[n++] = &vs_jv_none;
    names[n] = "documents";
    vals[n++] = &vs_jv_none;
    names[n] = "add_generation_prompt";
    vals[n++] = vs_jv_bool(add_generation_prompt);
    if (extra) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)extra, k, v)
        {
            names[n] = vs_ja_strndup(&arena, k, strlen(k));
            vals[n++] = vs_jv_from_json(&arena, v);
        }
    }
    struct vs_jrt rt = {.err = &e, .a = &arena};
    struct vs_jbuf buf = {.a = &arena};
    vs_jrender(&rt, t->root, names, vals, n, &buf);
    vs_ja_oom = saved;
    char *s = vs_malloc(buf.len + 1);
    if (!s) {
        vs_ja_free(&arena);
        return VS_ERR_NOMEM;
    }
    if (buf.len)
        memcpy(s, buf.p, buf.len);
    s[buf.len] = 0;
    vs_ja_free(&arena);
    *out = s;
    return VS_OK;
}

/* Loads a checkpoint's JSON file as Python's json.load would: integers too big for 64 bits (Llama's
 * model_max_length) become reals instead of failing the load. */
static enum vs_status load_json(const char *path, json_t **out)
{
    return vs_json_load_file_flags(path, JSON_DECODE_INT_AS_REAL, out);
}

static enum vs_status parse_file_text(const char *path, struct vs_chat_template **out)
{
    char *text;
    size_t len;
    enum vs_status st = vs_fs_read_file(path, &text, &len);
    if (st != VS_OK)
        return st;
    if (strlen(text) != len) {
        free(text);
        return vs_error_set(VS_ERR_FORMAT, "%s: the template contains a NUL byte", path);
    }
    st = vs_chat_template_parse(text, path, out);
    free(text);
    return st;
}

static enum vs_status parse_json_string(const json_t *s, const char *path, const char *key,
                                        struct vs_chat_template **out)
{
    char *origin = vs_strfmt("%s[\"%s\"]", path, key);
    if (!origin)
        return VS_ERR_NOMEM;
    enum vs_status st;
    if (strlen(json_string_value(s)) != json_string_length(s))
        st = vs_error_set(VS_ERR_FORMAT, "%s: the template contains a NUL character", origin);
    else
        st = vs_chat_template_parse(json_string_value(s), origin, out);
    free(origin);
    return st;
}

/* tokenizer_config.json's "chat_template": a string, or a list of {name, template} of which
 * the one named "default" is used. Sets *found when the key is present. */
static enum vs_status from_tokenizer_config(const char *path, struct vs_chat_template **out, bool *found)
{
    json_t *root;
    enum vs_status st = load_json(path, &root);
    if (st != VS_OK)
        return st;
    const json_t *ct = json_is_object(root) ? json_object_get(root, "chat_template") : NULL;
    if (!json_is_object(root)) {
        st = vs_error_set(VS_ERR_FORMAT, "%s: expected a JSON object", path);
    } else if (!ct || json_is_null(ct)) {
        st = VS_OK;
    } else if (json_is_string(ct)) {
        *found = true;
        st = parse_json_string(ct, path, "chat_template", out);
    } else if (json_is_array(ct)) {
        *found = true;
        const json_t *def = NULL;
        size_t i;
        const json_t *item;
        st = VS_OK;
        json_array_foreach(ct, i, item)
        {
            const json_t *name = json_object_get(item, "name"), *tpl = json_object_get(item, "template");
            if (!json_is_object(item) || !json_is_string(name) || !json_is_string(tpl)) {
                st = vs_error_set(
                    VS_ERR_FORMAT,
                    "%s: chat_template[%zu] must be an object with string \"name\" and \"template\"", path,
                    i);
                break;
            }
            if (strcmp(json_string_value(name), "default") == 0)
                def = tpl;
        }
        if (st == VS_OK && !def)
            st = vs_error_set(VS_ERR_FORMAT,
                              "%s: chat_template lists named templates but none named \"default\"", path);
        if (st == VS_OK)
            st = parse_json_string(def, path, "chat_template", out);
    } else {
        st = vs_error_set(VS_ERR_FORMAT, "%s: chat_template must be a string or a list of {name, template}",
                          path);
    }
    json_decref(root);
    return st;
}

enum vs_status vs_chat_template_load(const char *model_path, struct vs_chat_template **out)
{
    *out = NULL;
    char *jinja = vs_path_join(model_path, "chat_template.jinja");
    char *json = vs_path_join(model_path, "chat_template.json");
    char *tok = vs_path_join(model_path, "tokenizer_config.json");
    enum vs_status st = VS_OK;
    bool found = false;
    if (!jinja || !json || !tok) {
        st = VS_ERR_NOMEM;
    } else if (vs_fs_exists(jinja)) {
        found = true;
        st = parse_file_text(jinja, out);
    } else if (vs_fs_exists(json)) {
        found = true;
        json_t *root;
        st = load_json(json, &root);
        if (st == VS_OK) {
            const json_t *ct = json_is_object(root) ? json_object_get(root, "chat_template") : NULL;
            if (!json_is_object(root))
                st = vs_error_set(VS_ERR_FORMAT, "%s: expected a JSON object", json);
            else if (!ct)
                st = vs_error_set(VS_ERR_FORMAT, "%s: missing key \"chat_template\"", json);
            else if (!json_is_string(ct))
                st = vs_error_set(VS_ERR_FORMAT, "%s: chat_template must be a string", json);
            else
                st = parse_json_string(ct, json, "chat_template", out);
            json_decref(root);
        }
    } else if (vs_fs_exists(tok)) {
        st = from_tokenizer_config(tok, out, &found);
    }
    if (st == VS_OK && !found)
        st = vs_error_set(VS_ERR_MODEL,
                          "%s: no chat template: looked for chat_template.jinja, chat_template.json and the "
                          "\"chat_template\" key of tokenizer_config.json",
                          model_path);
    free(jinja);
    free(json);
    free(tok);
    return st;
}
