/* The model registry: config.ini read like Python's configparser reads msModelSlim's
 * (section names case-sensitive, option names lower-cased, `=` or `:`, `#`/`;` comments,
 * indented continuation lines joined with "\n", duplicate sections or options an error), with
 * libinih doing the line parsing. Plugins are dlopen'ed on first resolve only. */
#include "model/registry.h"

#include <ctype.h>
#include <dlfcn.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"

extern const struct vs_adapter_ops vs_qwen3_vl_adapter, vs_qwen3_vl_moe_adapter;
/* the adapters of the family folders src/model/<family>/ (vs_builtin_adapters.h, generated) */
#define VS_BUILTIN_ADAPTER(family) extern const struct vs_adapter_ops vs_##family##_adapter;
#include "vs_builtin_adapters.h"
#undef VS_BUILTIN_ADAPTER

static const struct {
    const char *key;
    const struct vs_adapter_ops *ops;
} vs_builtins[] = {
    {"qwen3_vl", &vs_qwen3_vl_adapter},
    {"qwen3_vl_moe", &vs_qwen3_vl_moe_adapter},
#define VS_BUILTIN_ADAPTER(family) {#family, &vs_##family##_adapter},
#include "vs_builtin_adapters.h"
#undef VS_BUILTIN_ADAPTER
};

#define VS_N_BUILTINS (sizeof vs_builtins / sizeof vs_builtins[0])

const struct vs_adapter_ops *vs_builtin_adapter(const char *key)
{
    for (size_t i = 0; i < VS_N_BUILTINS; i++)
        if (strcmp(vs_builtins[i].key, key) == 0)
            return vs_builtins[i].ops;
    return NULL;
}

struct vs_group {
    char *key;   /* lower-cased option name */
    int line;    /* of its [ModelAdapter] option; 0 if it has none */
    char *entry; /* NULL until [ModelAdapterEntryPoints] names it */
    int entry_line;
};

struct vs_name {
    char *display;
    size_t group;
};

struct vs_registry {
    char *path, *dir;
    struct vs_group *groups;
    size_t n_groups;
    struct vs_name *names;
    size_t n_names;
    void **libs;
    size_t n_libs;
    struct vs_adapter_ops **tables; /* full-size copies of plugin tables (one per library) */
    const struct vs_adapter_ops **sources; /* the plugin's own table each was copied from */
};

/* ---- reading config.ini ---- */

struct ini_option {
    char *section, *key, *value;
    int line;
};

struct ini_read {
    const char *path, *buf;
    size_t len, pos;
    int line;      /* of the line last handed to inih */
    bool indented; /* that line starts with whitespace */
    bool after_key; /* an option was read since the last section header (inih's prev_name) */
    char **sections;
    size_t n_sections;
    struct ini_option *opts;
    size_t n_opts;
    enum vs_status error;
    int error_line; /* of `error` */
};

/* Strips in place; returns the first non-blank character. */
static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The text of line `lineno` (1-based) for messages, at most 60 characters. */
static void line_text(const struct ini_read *rd, int lineno, char *out, size_t size)
{
    const char *s = rd->buf, *end = rd->buf + rd->len;
    for (int l = 1; l < lineno && s < end; l++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    size_t n = 0;
    while (s + n < end && s[n] != '\n' && s[n] != '\r' && n < 60 && n + 1 < size)
        n++;
    memcpy(out, s, n);
    out[n] = '\0';
    if (s + n < end && s[n] != '\n' && s[n] != '\r' && n + 4 < size)
        strcpy(out + n, "...");
}

/* Records the error of the read (the message is set already) at the current line; returns 0,
 * which stops inih. */
static int read_fail(struct ini_read *rd, enum vs_status st)
{
    rd->error = st;
    rd->error_line = rd->line;
    return 0;
}

/* inih's line source: whole lines of the file read in memory, so that the handler knows the
 * line number and whether the line is a continuation, and an over-long line is an error rather
 * than silently split. Section headers are checked for duplicates here (inih reports only
 * options). */
static char *ini_read_line(char *str, int num, void *stream)
{
    struct ini_read *rd = stream;
    if (rd->error != VS_OK || rd->pos >= rd->len)
        return NULL;
    const char *s = rd->buf + rd->pos;
    const char *nl = memchr(s, '\n', rd->len - rd->pos);
    size_t n = nl ? (size_t)(nl - s) + 1 : rd->len - rd->pos;
    rd->line++;
    if (n + 1 > (size_t)num) {
        read_fail(rd, vs_error_set(VS_ERR_CONFIG, "%s:%d: line longer than %d characters", rd->path, rd->line, num - 2));
        return NULL;
    }
    memcpy(str, s, n);
    str[n] = '\0';
    rd->pos += n;
    rd->indented = n && (s[0] == ' ' || s[0] == '\t');
    if (rd->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM, as inih skips it */
        s += 3;
        n -= 3;
    }
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close) {
            size_t len = (size_t)(close - s) - 1;
            for (size_t i = 0; i < rd->n_sections; i++)
                if (strlen(rd->sections[i]) == len && memcmp(rd->sections[i], s + 1, len) == 0) {
                    read_fail(rd, vs_error_set(VS_ERR_CONFIG, "%s:%d: section [%s] appears twice", rd->path,
                                               rd->line, rd->sections[i]));
                    return NULL;
                }
            char **v = vs_realloc(rd->sections, (rd->n_sections + 1) * sizeof *v);
            if (!v || !(v[rd->n_sections] = vs_strndup(s + 1, len))) {
                if (v)
                    rd->sections = v;
                read_fail(rd, VS_ERR_NOMEM);
                return NULL;
            }
            rd->sections = v;
            rd->n_sections++;
            rd->after_key = false;
        }
    }
    return str;
}

static struct ini_option *find_option(struct ini_read *rd, const char *section, const char *key)
{
    for (size_t i = 0; i < rd->n_opts; i++)
        if (strcmp(rd->opts[i].section, section) == 0 && strcmp(rd->opts[i].key, key) == 0)
            return &rd->opts[i];
    return NULL;
}

static int ini_on_option(void *user, const char *section, const char *name, const char *value)
{
    struct ini_read *rd = user;
    if (rd->indented && rd->after_key && rd->n_opts) { /* a continuation line */
        struct ini_option *o = &rd->opts[rd->n_opts - 1];
        char *v = vs_strfmt("%s\n%s", o->value, value);
        if (!v)
            return read_fail(rd, VS_ERR_NOMEM);
        free(o->value);
        o->value = v;
        return 1;
    }
    if (!*section)
        return read_fail(rd, vs_error_set(VS_ERR_CONFIG, "%s:%d: option '%s' before any [section]", rd->path,
                                          rd->line, name));
    char *key = vs_strdup(name);
    if (!key)
        return read_fail(rd, VS_ERR_NOMEM);
    for (char *p = key; *p; p++) /* configparser's optionxform */
        *p = (char)tolower((unsigned char)*p);
    const struct ini_option *dup = find_option(rd, section, key);
    if (dup) {
        read_fail(rd, vs_error_set(VS_ERR_CONFIG, "%s:%d: [%s] option '%s' is already set on line %d", rd->path,
                                   rd->line, section, key, dup->line));
        free(key);
        return 0;
    }
    struct ini_option *v = vs_realloc(rd->opts, (rd->n_opts + 1) * sizeof *v);
    if (!v) {
        free(key);
        return read_fail(rd, VS_ERR_NOMEM);
    }
    rd->opts = v;
    struct ini_option *o = &rd->opts[rd->n_opts];
    *o = (struct ini_option){vs_strdup(section), key, vs_strdup(value), rd->line};
    rd->n_opts++;
    rd->after_key = true;
    if (!o->section || !o->value)
        return read_fail(rd, VS_ERR_NOMEM);
    return 1;
}

static void ini_read_free(struct ini_read *rd)
{
    for (size_t i = 0; i < rd->n_sections; i++)
        free(rd->sections[i]);
    for (size_t i = 0; i < rd->n_opts; i++) {
        free(rd->opts[i].section);
        free(rd->opts[i].key);
        free(rd->opts[i].value);
    }
    free(rd->sections);
    free(rd->opts);
}

static enum vs_status ini_read(const char *path, struct ini_read *rd)
{
    char *buf;
    size_t len;
    enum vs_status st = vs_fs_read_file(path, &buf, &len);
    if (st != VS_OK)
        return vs_error_prefix(st == VS_ERR_NOMEM ? st : VS_ERR_CONFIG, "model registry");
    if (memchr(buf, '\0', len)) {
        free(buf);
        return vs_error_set(VS_ERR_CONFIG, "%s: not a text file (NUL byte)", path);
    }
    rd->path = path;
    rd->buf = buf;
    rd->len = len;
    int rc = ini_parse_stream(ini_read_line, rd, ini_on_option, rd);
    if (rc > 0 && rc == rd->error_line) /* inih counts our handler's refusal as an error */
        rc = 0;
    if (rd->error != VS_OK && !(rc > 0 && rc < rd->error_line)) { /* the first error wins */
        st = rd->error;
    } else if (rc == -2) {
        st = vs_error_set(VS_ERR_NOMEM, "%s: out of memory while parsing", path);
    } else if (rc != 0) {
        char text[80];
        line_text(rd, rc, text, sizeof text);
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: syntax error: '%s' is neither [section] nor key = value", path, rc,
                          text);
    }
    free(buf);
    rd->buf = NULL;
    return st;
}

/* ---- the registry ---- */

static size_t group_index(struct vs_registry *r, const char *key)
{
    for (size_t i = 0; i < r->n_groups; i++)
        if (strcmp(r->groups[i].key, key) == 0)
            return i;
    struct vs_group *g = vs_realloc(r->groups, (r->n_groups + 1) * sizeof *g);
    if (!g)
        return (size_t)-1;
    r->groups = g;
    g[r->n_groups] = (struct vs_group){vs_strdup(key), 0, NULL, 0};
    return g[r->n_groups].key ? r->n_groups++ : (size_t)-1;
}

static enum vs_status add_names(struct vs_registry *r, const struct ini_option *o)
{
    size_t g = group_index(r, o->key);
    if (g == (size_t)-1)
        return VS_ERR_NOMEM;
    r->groups[g].line = o->line;
    char *copy = vs_strdup(o->value);
    if (!copy)
        return VS_ERR_NOMEM;
    enum vs_status st = VS_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == VS_OK; tok = strtok_r(NULL, ",", &save)) {
        char *display = strip(tok);
        if (!*display)
            continue;
        if (strchr(display, '\n')) {
            *strchr(display, '\n') = '\0';
            st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapter] %s: a comma is missing after '%s' at the end of a line",
                              r->path, o->line, o->key, strip(display));
            break;
        }
        const char *other = vs_registry_group_of(r, display);
        if (other && strcmp(other, o->key) == 0) {
            st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapter] %s: model type '%s' is listed twice", r->path,
                              o->line, o->key, display);
            break;
        }
        if (other) {
            st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapter] model type '%s' is registered under both '%s' and '%s'",
                              r->path, o->line, display, other, o->key);
            break;
        }
        struct vs_name *v = vs_realloc(r->names, (r->n_names + 1) * sizeof *v);
        if (!v) {
            st = VS_ERR_NOMEM;
            break;
        }
        r->names = v;
        if (!(v[r->n_names].display = vs_strdup(display))) {
            st = VS_ERR_NOMEM;
            break;
        }
        v[r->n_names++].group = g;
    }
    free(copy);
    return st;
}

enum vs_status vs_registry_load(const char *ini_path, struct vs_registry **out)
{
    *out = NULL;
    struct vs_registry *r = vs_calloc(1, sizeof *r);
    if (!r || !(r->path = vs_strdup(ini_path)) || !(r->dir = vs_path_dirname(ini_path))) {
        vs_registry_free(r);
        return VS_ERR_NOMEM;
    }
    struct ini_read rd = {0};
    enum vs_status st = ini_read(ini_path, &rd);
    for (size_t i = 0; st == VS_OK && i < rd.n_opts; i++) {
        const struct ini_option *o = &rd.opts[i];
        if (strcmp(o->section, "ModelAdapter") == 0) {
            st = add_names(r, o);
        } else if (strcmp(o->section, "ModelAdapterEntryPoints") == 0) {
            size_t g = group_index(r, o->key);
            if (g == (size_t)-1 || !(r->groups[g].entry = vs_strdup(strip(o->value))))
                st = VS_ERR_NOMEM;
            else
                r->groups[g].entry_line = o->line;
        }
        /* [ModelAdapterDependencies], [Plugin:*] and others are msModelSlim's Python concerns. */
    }
    for (size_t i = 0; st == VS_OK && i < r->n_groups; i++)
        if (r->groups[i].line && !r->groups[i].entry)
            st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapter] group '%s' has no entry in [ModelAdapterEntryPoints]",
                              ini_path, r->groups[i].line, r->groups[i].key);
    ini_read_free(&rd);
    if (st != VS_OK) {
        vs_registry_free(r);
        return st;
    }
    *out = r;
    return VS_OK;
}

void vs_registry_free(struct vs_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_groups; i++) {
        free(r->groups[i].key);
        free(r->groups[i].entry);
    }
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i].display);
    for (size_t i = r->n_libs; i-- > 0;) {
        free(r->tables[i]);
        dlclose(r->libs[i]);
    }
    free(r->libs);
    free(r->tables);
    free(r->sources);
    free(r->groups);
    free(r->names);
    free(r->path);
    free(r->dir);
    free(r);
}

size_t vs_registry_count(const struct vs_registry *r) { return r->n_names; }

const char *vs_registry_name_at(const struct vs_registry *r, size_t i)
{
    return i < r->n_names ? r->names[i].display : NULL;
}

const char *vs_registry_group_of(const struct vs_registry *r, const char *model_type)
{
    for (size_t i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i].display, model_type) == 0)
            return r->groups[r->names[i].group].key;
    return NULL;
}

/* ---- resolving ---- */

/* The first required member an adapter leaves NULL, or NULL if none. */
static const char *missing_member(const struct vs_adapter_ops *o)
{
    if (!o->key)
        return "key";
    if (!o->pedigree)
        return "pedigree";
    if (!o->open)
        return "open";
    if (!o->close)
        return "close";
    if (!o->unit_count)
        return "unit_count";
    if (!o->unit_load)
        return "unit_load";
    if (!o->tail_load)
        return "tail_load";
    if (!o->global_dtype)
        return "global_dtype";
    return NULL;
}

static enum vs_status load_plugin(struct vs_registry *r, const struct vs_group *g, const struct vs_adapter_ops **ops)
{
    const char *colon = strrchr(g->entry, ':');
    if (!colon || colon == g->entry || !colon[1])
        return vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s = %s: expected builtin:NAME or "
                            "path/to/lib.so:SYMBOL", r->path, g->entry_line, g->key, g->entry);
    const char *sym = colon + 1;
    char *lib = vs_strndup(g->entry, (size_t)(colon - g->entry));
    char *path = lib && lib[0] != '/' ? vs_path_join(r->dir, lib) : lib;
    if (!path) {
        free(lib);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = VS_OK;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s: cannot load adapter library %s "
                          "(symbol %s): %s", r->path, g->entry_line, g->key, path, sym, dlerror());
        goto done;
    }
    dlerror();
    const struct vs_adapter_ops *o = dlsym(h, sym);
    const char *err = dlerror(), *member = NULL;
    if (err || !o)
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s: no symbol %s in %s: %s", r->path,
                          g->entry_line, g->key, sym, path, err ? err : "the symbol is NULL");
    else if (o->abi_version == 0 || o->abi_version > VS_ADAPTER_ABI_VERSION)
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s: adapter %s in %s declares ABI version %u; "
                          "this vlmslim supports 1..%u", r->path, g->entry_line, g->key, sym, path, o->abi_version,
                          VS_ADAPTER_ABI_VERSION);
    else if ((member = missing_member(o)))
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s: adapter %s in %s leaves the "
                          "required member '%s' NULL", r->path, g->entry_line, g->key, sym, path, member);
    for (size_t i = 0; st == VS_OK && i < r->n_libs; i++)
        if (r->sources[i] == o) { /* resolved before: the same table (dlopen counted one more reference) */
            dlclose(h);
            *ops = r->tables[i];
            goto done;
        }
    /* An ABI-1 or ABI-2 table is shorter than today's: copy only the members of its version into a
     * full-size table whose later members are NULL. */
    struct vs_adapter_ops *table = st == VS_OK ? vs_calloc(1, sizeof *table) : NULL;
    void **libs = table ? vs_realloc(r->libs, (r->n_libs + 1) * sizeof *libs) : NULL;
    if (libs)
        r->libs = libs;
    struct vs_adapter_ops **tables = libs ? vs_realloc(r->tables, (r->n_libs + 1) * sizeof *tables) : NULL;
    if (tables)
        r->tables = tables;
    const struct vs_adapter_ops **sources = tables ? vs_realloc(r->sources, (r->n_libs + 1) * sizeof *sources) : NULL;
    if (!sources) {
        free(table);
        dlclose(h);
        st = st == VS_OK ? VS_ERR_NOMEM : st;
        goto done;
    }
    r->sources = sources;
    memcpy(table, o, o->abi_version == 1   ? offsetof(struct vs_adapter_ops, sample_begin)
                     : o->abi_version == 2 ? offsetof(struct vs_adapter_ops, unit_subgraphs)
                     : o->abi_version == 3 ? offsetof(struct vs_adapter_ops, vocab_size)
                                           : offsetof(struct vs_adapter_ops, unit_forward_batch));
    r->libs[r->n_libs] = h;
    r->sources[r->n_libs] = o;
    r->tables[r->n_libs++] = table;
    *ops = table;
done:
    if (path != lib)
        free(path);
    free(lib);
    return st;
}

enum vs_status vs_registry_resolve(struct vs_registry *r, const char *model_type,
                                   const struct vs_adapter_ops **ops)
{
    for (size_t i = 0; i < r->n_names; i++) {
        if (strcmp(r->names[i].display, model_type) != 0)
            continue;
        const struct vs_group *g = &r->groups[r->names[i].group];
        if (strncmp(g->entry, "builtin:", 8) != 0)
            return load_plugin(r, g, ops);
        if ((*ops = vs_builtin_adapter(g->entry + 8)))
            return VS_OK;
        char known[256] = "";
        for (size_t k = 0, n = 0; k < VS_N_BUILTINS && n + strlen(vs_builtins[k].key) + 3 < sizeof known; k++)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", k ? ", " : "", vs_builtins[k].key);
        return vs_error_set(VS_ERR_CONFIG, "%s:%d: [ModelAdapterEntryPoints] %s = %s: no built-in adapter '%s' "
                            "(built in: %s)", r->path, g->entry_line, g->key, g->entry, g->entry + 8, known);
    }
    /* The list of names, cut with "..." if it would not fit one message line. */
    char list[VS_ERROR_MAX / 2] = "(none)";
    size_t n = 0;
    for (size_t i = 0; i < r->n_names; i++) {
        size_t need = strlen(r->names[i].display) + (i ? 2 : 0);
        if (n + need + 6 > sizeof list) { /* keeps room for ", ..." */
            strcpy(list + n, i ? ", ..." : "...");
            break;
        }
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", r->names[i].display);
    }
    return vs_error_set(VS_ERR_USAGE, "unknown --model_type '%s'; registered: %s (see %s)", model_type, list, r->path);
}
