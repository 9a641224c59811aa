#include "model/registry.h"

#include <ctype.h>
#include <dlfcn.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"

extern const struct vs_adapter_ops vs_qwen3_vl_adapter, vs_qwen3_vl_moe_adapter;

static const struct vs_adapter_ops *const vs_builtins[] = {
    &vs_qwen3_vl_adapter,
    &vs_qwen3_vl_moe_adapter,
};

const struct vs_adapter_ops *vs_builtin_adapter(const char *key)
{
    for (size_t i = 0; i < sizeof vs_builtins / sizeof vs_builtins[0]; i++)
        if (strcmp(vs_builtins[i]->key, key) == 0)
            return vs_builtins[i];
    return NULL;
}

struct vs_group {
    char *key;
    char *entry; /* NULL until [ModelAdapterEntryPoints] names it */
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
    enum vs_status error;
};

static size_t group_index(struct vs_registry *r, const char *key)
{
    for (size_t i = 0; i < r->n_groups; i++)
        if (strcmp(r->groups[i].key, key) == 0)
            return i;
    struct vs_group *g = vs_realloc(r->groups, (r->n_groups + 1) * sizeof *g);
    if (!g)
        return (size_t)-1;
    r->groups = g;
    r->groups[r->n_groups].key = vs_strdup(key);
    r->groups[r->n_groups].entry = NULL;
    return r->groups[r->n_groups].key ? r->n_groups++ : (size_t)-1;
}

static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    struct vs_registry *r = user;
    char key[256];
    snprintf(key, sizeof key, "%s", name);
    for (char *p = key; *p; p++) /* configparser lower-cases option names */
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(section, "ModelAdapter") == 0) {
        size_t g = group_index(r, key);
        if (g == (size_t)-1)
            return (r->error = VS_ERR_NOMEM), 0;
        char *copy = vs_strdup(value);
        if (!copy)
            return (r->error = VS_ERR_NOMEM), 0;
        for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
            char *display = strip(tok);
            if (!*display)
                continue;
            const char *other = vs_registry_group_of(r, display);
            if (other) {
                r->error = vs_error_set(VS_ERR_CONFIG, "%s: [ModelAdapter] model type '%s' is registered under both '%s' and '%s'",
                                        r->path, display, other, key);
                free(copy);
                return 0;
            }
            struct vs_name *nn = vs_realloc(r->names, (r->n_names + 1) * sizeof *nn);
            if (!nn || !(nn[r->n_names].display = vs_strdup(display))) {
                if (nn)
                    r->names = nn;
                free(copy);
                return (r->error = VS_ERR_NOMEM), 0;
            }
            r->names = nn;
            r->names[r->n_names++].group = g;
        }
        free(copy);
    } else if (strcmp(section, "ModelAdapterEntryPoints") == 0) {
        size_t g = group_index(r, key);
        if (g == (size_t)-1 || !(free(r->groups[g].entry), r->groups[g].entry = vs_strdup(value)))
            return (r->error = VS_ERR_NOMEM), 0;
    }
    /* [ModelAdapterDependencies], [Plugin:*] and others: msModelSlim's Python concerns. */
    return 1;
}

enum vs_status vs_registry_load(const char *ini_path, struct vs_registry **out)
{
    struct vs_registry *r = vs_calloc(1, sizeof *r);
    if (!r || !(r->path = vs_strdup(ini_path)) || !(r->dir = vs_path_dirname(ini_path))) {
        vs_registry_free(r);
        return VS_ERR_NOMEM;
    }
    int line = ini_parse(ini_path, on_entry, r);
    enum vs_status st = VS_OK;
    if (r->error != VS_OK)
        st = r->error;
    else if (line < 0)
        st = vs_error_set(VS_ERR_CONFIG, "%s: cannot read the model registry", ini_path);
    else if (line > 0)
        st = vs_error_set(VS_ERR_CONFIG, "%s:%d: syntax error (expected [Section] or key = value)", ini_path, line);
    for (size_t i = 0; st == VS_OK && i < r->n_groups; i++) {
        bool named = false;
        for (size_t k = 0; k < r->n_names; k++)
            named |= r->names[k].group == i;
        if (named && !r->groups[i].entry)
            st = vs_error_set(VS_ERR_CONFIG, "%s: [ModelAdapter] group '%s' has no entry in [ModelAdapterEntryPoints]",
                              ini_path, r->groups[i].key);
    }
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
    for (size_t i = 0; i < r->n_libs; i++)
        dlclose(r->libs[i]);
    free(r->libs);
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

static enum vs_status load_plugin(struct vs_registry *r, const char *group, const char *entry,
                                  const struct vs_adapter_ops **ops)
{
    const char *colon = strrchr(entry, ':');
    if (!colon || colon == entry || !colon[1])
        return vs_error_set(VS_ERR_CONFIG, "%s: [ModelAdapterEntryPoints] %s = %s: expected builtin:NAME or path/to/lib.so:symbol",
                            r->path, group, entry);
    char *lib = vs_strndup(entry, (size_t)(colon - entry));
    char *path = lib && lib[0] != '/' ? vs_path_join(r->dir, lib) : lib;
    if (!path) {
        free(lib);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = VS_OK;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        st = vs_error_set(VS_ERR_CONFIG, "%s: adapter library for '%s' cannot be loaded: %s", r->path, group, dlerror());
        goto done;
    }
    void **libs = vs_realloc(r->libs, (r->n_libs + 1) * sizeof *libs);
    if (!libs) {
        dlclose(h);
        st = VS_ERR_NOMEM;
        goto done;
    }
    r->libs = libs;
    r->libs[r->n_libs++] = h;
    const struct vs_adapter_ops *o = dlsym(h, colon + 1);
    if (!o) {
        st = vs_error_set(VS_ERR_CONFIG, "%s: symbol '%s' not found in %s", r->path, colon + 1, path);
    } else if (o->abi_version == 0 || o->abi_version > VS_ADAPTER_ABI_VERSION) {
        st = vs_error_set(VS_ERR_CONFIG, "%s: adapter '%s' in %s declares ABI version %u; this vlmslim supports 1..%u",
                          r->path, colon + 1, path, o->abi_version, VS_ADAPTER_ABI_VERSION);
    } else if (!o->open || !o->close || !o->unit_count || !o->unit_load || !o->tail_load || !o->global_dtype) {
        st = vs_error_set(VS_ERR_CONFIG, "%s: adapter '%s' in %s leaves a required function NULL", r->path,
                          colon + 1, path);
    } else {
        *ops = o;
    }
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
        if (strncmp(g->entry, "builtin:", 8) == 0) {
            *ops = vs_builtin_adapter(g->entry + 8);
            if (!*ops)
                return vs_error_set(VS_ERR_CONFIG, "%s: [ModelAdapterEntryPoints] %s = %s: no built-in adapter '%s' (built-in: qwen3_vl, qwen3_vl_moe)",
                                    r->path, g->key, g->entry, g->entry + 8);
            return VS_OK;
        }
        return load_plugin(r, g->key, g->entry, ops);
    }
    char list[VS_ERROR_MAX / 2];
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; i < r->n_names && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", r->names[i].display);
    return vs_error_set(VS_ERR_USAGE, "unknown --model_type '%s'; registered: %s (see %s)", model_type,
                        r->n_names ? list : "(none)", r->path);
}
