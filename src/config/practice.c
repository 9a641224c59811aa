/* Best-practice lookup (msModelSlim application.py get_config / check_config and
 * yaml_practice_manager.py iter_config), limited to the exact-match case: no fallback to
 * other quant types or the default pedigree and no "standby" configs, since those need an
 * interactive confirmation in msModelSlim. */
#include "config/practice.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fs.h"
#include "base/log.h"
#include "config/quant_config.h"

static const char *const QUANT_TYPES[] = {"w4a4",  "w4a8", "w4a4c8", "w4a4f8", "w4a8c8", "w8a16",
                                          "w8a8", "w8a8s", "w8a8c8", "w8a8f8", "w4a4f4", "w16a16s", NULL};

static void join(const char *const *names, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", names[i]);
}

/* Reads digits at *p; false if none. */
static bool read_int(const char **p, int *out)
{
    int v = 0, n = 0;
    while (**p >= '0' && **p <= '9' && n < 6) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n > 0;
}

enum vs_status vs_quant_type_parse(const char *s, struct vs_quant_type *out)
{
    bool known = false;
    for (size_t i = 0; s && QUANT_TYPES[i] && !known; i++)
        known = strcmp(s, QUANT_TYPES[i]) == 0;
    if (!known) {
        char list[256];
        join(QUANT_TYPES, list, sizeof list);
        return vs_error_set(VS_ERR_USAGE, "--quant_type '%.40s': unknown quant type (expected one of: %s)",
                            s ? s : "", list);
    }
    /* w(\d+)a(\d+)(c8|f4|f8)?(s)? on a string known to match it */
    const char *p = s + 1;
    memset(out, 0, sizeof *out);
    read_int(&p, &out->w_bit);
    p++;
    read_int(&p, &out->a_bit);
    if (strncmp(p, "c8", 2) == 0) {
        out->kv_cache = 1;
        p += 2;
    } else if (*p == 'f') {
        out->fa_bit = p[1] - '0';
        p += 2;
    }
    out->is_sparse = *p == 's';
    return VS_OK;
}

struct candidate {
    char *path;
    struct vs_quant_config *cfg; /* NULL if it did not load */
    size_t order;                /* directory priority, then file name */
};

static const char *config_id(const struct candidate *c)
{
    return c->cfg->metadata.config_id ? c->cfg->metadata.config_id : "Unknown"; /* msModelSlim's default */
}

/* (-score, config_id), then directory priority and file order (Python's stable sort). */
static int by_rank(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;
    if (!a->cfg || !b->cfg)
        return a->cfg ? -1 : b->cfg ? 1 : (a->order > b->order) - (a->order < b->order);
    double sa = a->cfg->metadata.score, sb = b->cfg->metadata.score;
    if (sa != sb)
        return sa > sb ? -1 : 1;
    int k = strcmp(config_id(a), config_id(b));
    if (k)
        return k;
    return (a->order > b->order) - (a->order < b->order);
}

/* The label in quant-type spelling, for messages ("w8a8", "w4a8c8", "w?a8"). */
static void label_text(const struct vs_practice_metadata *m, char *out, size_t n)
{
    char w[24] = "?", a[24] = "?";
    if (m->w_bit >= 0)
        snprintf(w, sizeof w, "%lld", (long long)m->w_bit);
    if (m->a_bit >= 0)
        snprintf(a, sizeof a, "%lld", (long long)m->a_bit);
    snprintf(out, n, "w%sa%s%s%s%s%s", w, a, m->kv_cache == 1 ? "c8" : "", m->fa_bit ? "f" : "",
             m->fa_bit ? m->fa_bit : "", m->is_sparse == 1 ? "s" : "");
}

/* check_config: the label must equal the quant type exactly. */
static bool label_matches(const struct vs_practice_metadata *m, const struct vs_quant_type *qt)
{
    int fa = m->fa_bit ? atoi(m->fa_bit) : 0;
    return m->w_bit == qt->w_bit && m->a_bit == qt->a_bit && (m->is_sparse == 1) == (qt->is_sparse != 0) &&
           (m->kv_cache == 1) == (qt->kv_cache != 0) && fa == qt->fa_bit;
}

static bool scenario_has_all(const struct vs_tag_scenario *s, const char *const *tags, size_t n_tags)
{
    for (size_t i = 0; i < n_tags; i++) {
        bool found = false;
        for (size_t j = 0; j < s->count && !found; j++)
            found = strcasecmp(s->tags[j], tags[i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Verification for model_type; on a mismatch writes why into `why`. */
static bool verified(const struct vs_practice_metadata *m, const char *model_type, const char *const *tags,
                     size_t n_tags, char *why, size_t n)
{
    if (m->n_verified_model_types) {
        for (size_t i = 0; i < m->n_verified_model_types; i++)
            if (strcmp(m->verified_model_types[i], model_type) == 0)
                return true;
        snprintf(why, n, "verified_model_types has no %s", model_type);
        return false;
    }
    const struct vs_verified_tags *t = NULL;
    for (size_t i = 0; i < m->n_verified_tags && !t; i++)
        if (strcmp(m->verified_tags[i].model_type, model_type) == 0)
            t = &m->verified_tags[i];
    if (!t || !t->n_scenarios) {
        snprintf(why, n, "not verified for %s", model_type);
        return false;
    }
    if (!n_tags)
        return true;
    for (size_t i = 0; i < t->n_scenarios; i++)
        if (scenario_has_all(&t->scenarios[i], tags, n_tags))
            return true;
    snprintf(why, n, "no verified %s scenario has all the --tag values", model_type);
    return false;
}

static enum vs_status collect(const char *const *dirs, size_t n_dirs, const char *pedigree,
                              struct candidate **out, size_t *n_out, size_t *n_pedigree_dirs)
{
    struct candidate *list = NULL;
    size_t n = 0, cap = 0;
    enum vs_status st = VS_OK;
    *n_pedigree_dirs = 0;
    for (size_t d = 0; d < n_dirs && st == VS_OK; d++) {
        char *pdir = vs_path_join(dirs[d], pedigree);
        char **names = NULL;
        size_t count = 0;
        if (!pdir) {
            st = VS_ERR_NOMEM;
            break;
        }
        if (!vs_fs_is_dir(pdir)) {
            free(pdir);
            continue;
        }
        (*n_pedigree_dirs)++;
        if (vs_fs_dir_is_empty(pdir) || vs_fs_list_dir(pdir, &names, &count) != VS_OK) {
            free(pdir);
            continue;
        }
        for (size_t i = 0; i < count && st == VS_OK; i++) {
            size_t len = strlen(names[i]);
            bool yaml = (len > 5 && strcmp(names[i] + len - 5, ".yaml") == 0) ||
                        (len > 4 && strcmp(names[i] + len - 4, ".yml") == 0);
            if (!yaml)
                continue;
            char *path = vs_path_join(pdir, names[i]);
            if (!path || n == cap) {
                size_t ncap = cap ? 2 * cap : 8;
                struct candidate *nl = path ? vs_realloc(list, ncap * sizeof *nl) : NULL;
                if (!nl) {
                    free(path);
                    st = VS_ERR_NOMEM;
                    break;
                }
                list = nl;
                cap = ncap;
            }
            if (!vs_fs_is_file(path)) {
                free(path);
                continue;
            }
            struct candidate *c = &list[n++];
            memset(c, 0, sizeof *c);
            c->path = path;
            c->order = n;
            if (vs_quant_config_load(path, &c->cfg) != VS_OK)
                vs_warn("best practice skipped: %s", vs_error_message());
        }
        vs_fs_free_names(names, count);
        free(pdir);
    }
    *out = list;
    *n_out = n;
    return st;
}

static void candidates_free(struct candidate *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].path);
        vs_quant_config_free(list[i].cfg);
    }
    free(list);
}

enum vs_status vs_practice_select(const char *const *dirs, size_t n_dirs, const char *pedigree,
                                  const char *model_type, const struct vs_quant_type *qt,
                                  const char *const *tags, size_t n_tags, char **chosen_path)
{
    *chosen_path = NULL;
    char qt_text[32];
    snprintf(qt_text, sizeof qt_text, "w%da%d%s%s%s", qt->w_bit, qt->a_bit, qt->kv_cache ? "c8" : "",
             qt->fa_bit == 4 ? "f4" : qt->fa_bit == 8 ? "f8" : "", qt->is_sparse ? "s" : "");
    struct candidate *list;
    size_t n, n_pdirs;
    enum vs_status st = collect(dirs, n_dirs, pedigree, &list, &n, &n_pdirs);
    if (st != VS_OK) {
        candidates_free(list, n);
        return vs_error_set(VS_ERR_NOMEM, "out of memory while reading best practices");
    }
    if (!n_dirs) {
        candidates_free(list, n);
        return vs_error_set(VS_ERR_UNSUPPORTED, "no best practice directories to search; pass --config_path");
    }
    if (!n) {
        char where[512] = "";
        for (size_t d = 0, used = 0; d < n_dirs && used < sizeof where; d++)
            used += (size_t)snprintf(where + used, sizeof where - used, "%s%s/%s", d ? ", " : "", dirs[d], pedigree);
        candidates_free(list, n);
        return vs_error_set(VS_ERR_UNSUPPORTED, "no best practice for model family '%s' (%s%s); pass --config_path",
                            pedigree, n_pdirs ? "no YAML files in " : "no directory ", where);
    }
    qsort(list, n, sizeof *list, by_rank);

    char why[VS_ERROR_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const struct candidate *c = &list[i];
        char reason[256];
        if (!c->cfg) {
            snprintf(reason, sizeof reason, "does not load");
        } else if (!label_matches(&c->cfg->metadata, qt)) {
            char label[64];
            label_text(&c->cfg->metadata, label, sizeof label);
            snprintf(reason, sizeof reason, "label %s", label);
        } else if (verified(&c->cfg->metadata, model_type, tags, n_tags, reason, sizeof reason)) {
            *chosen_path = vs_strdup(c->path);
            candidates_free(list, n);
            return *chosen_path ? VS_OK : vs_error_set(VS_ERR_NOMEM, "out of memory");
        }
        if (used < sizeof why)
            used += (size_t)snprintf(why + used, sizeof why - used, "%s%s (%s)", i ? "; " : "", c->path, reason);
    }
    candidates_free(list, n);
    return vs_error_set(VS_ERR_UNSUPPORTED,
                        "no best practice for --model_type %s and --quant_type %s%s; pass --config_path to "
                        "choose a config. Considered: %s",
                        model_type, qt_text, n_tags ? " with the given --tag values" : "", why);
}
