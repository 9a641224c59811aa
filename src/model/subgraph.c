#include "model/subgraph.h"

#include <stdlib.h>
#include <string.h>

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static char **copy_names(const char *const *names, size_t n)
{
    char **out = vs_calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = vs_strdup(names[i]))) {
            free_names(out, i);
            return NULL;
        }
    return out;
}

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 8;
    void *p = vs_realloc(*items, c * size);
    if (!p)
        return -1;
    *items = p;
    *cap = c;
    return 0;
}

void vs_subgraph_list_free(struct vs_subgraph_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].source);
        free_names(l->items[i].targets, l->items[i].n_targets);
    }
    free(l->items);
    *l = (struct vs_subgraph_list){0};
}

enum vs_status vs_subgraph_add(struct vs_subgraph_list *l, enum vs_subgraph_kind kind, const char *source,
                               const char *const *targets, size_t n_targets)
{
    if (grow((void **)&l->items, &l->cap, l->n, sizeof *l->items))
        return VS_ERR_NOMEM;
    struct vs_subgraph *g = &l->items[l->n];
    *g = (struct vs_subgraph){.kind = kind, .fusion = VS_FUSION_NONE, .n_targets = n_targets};
    g->source = source ? vs_strdup(source) : NULL;
    g->targets = copy_names(targets, n_targets);
    if ((source && !g->source) || !g->targets) {
        free(g->source);
        if (g->targets)
            free_names(g->targets, n_targets);
        return VS_ERR_NOMEM;
    }
    l->n++;
    return VS_OK;
}

void vs_quarot_phase_free(struct vs_quarot_phase *p)
{
    for (size_t i = 0; i < p->n_fusions; i++) {
        free(p->fusions[i].norm);
        free_names(p->fusions[i].linears, p->fusions[i].n_linears);
    }
    free(p->fusions);
    free_names(p->bake, p->n_bake);
    for (size_t i = 0; i < p->n_commands; i++)
        free(p->commands[i].module);
    free(p->commands);
    *p = (struct vs_quarot_phase){0};
}

enum vs_status vs_quarot_add_fusion(struct vs_quarot_phase *p, const char *norm, const char *const *linears,
                                    size_t n_linears)
{
    if (grow((void **)&p->fusions, &p->cap_fusions, p->n_fusions, sizeof *p->fusions))
        return VS_ERR_NOMEM;
    struct vs_norm_fusion *f = &p->fusions[p->n_fusions];
    f->norm = vs_strdup(norm);
    f->linears = copy_names(linears, n_linears);
    f->n_linears = n_linears;
    if (!f->norm || !f->linears) {
        free(f->norm);
        if (f->linears)
            free_names(f->linears, n_linears);
        return VS_ERR_NOMEM;
    }
    p->n_fusions++;
    return VS_OK;
}

enum vs_status vs_quarot_add_command(struct vs_quarot_phase *p, const char *module, enum vs_rotation_id rotation,
                                     enum vs_rotation_side side)
{
    if (grow((void **)&p->commands, &p->cap_commands, p->n_commands, sizeof *p->commands))
        return VS_ERR_NOMEM;
    char *m = vs_strdup(module);
    if (!m)
        return VS_ERR_NOMEM;
    p->commands[p->n_commands++] = (struct vs_rotation_command){.module = m, .rotation = rotation, .side = side};
    return VS_OK;
}

const char *vs_subgraph_kind_name(enum vs_subgraph_kind k)
{
    switch (k) {
    case VS_SUBGRAPH_KIND_NORM_LINEAR: return "norm-linear";
    case VS_SUBGRAPH_KIND_LINEAR_LINEAR: return "linear-linear";
    case VS_SUBGRAPH_KIND_OV: return "ov";
    case VS_SUBGRAPH_KIND_UP_DOWN: return "up-down";
    }
    return "?";
}
