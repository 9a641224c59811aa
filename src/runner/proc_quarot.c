/* The offline `quarot` processor (msmodelslim_vlm_spec.md §5.3, §7.4) on the units' copies (each
 * Linear float32 while it is fused or rotated): pre-run commands where their modules live (the
 * vision mergers' linear_fc2 in unit 0, the embedding in the tail), each text layer's fusions
 * and rotations before its calibration, the post-run fusion and rotation of lm_head on the tail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "quant/quarot.h"
#include "quant/torch_mt19937.h"
#include "runner/outlier_internal.h"

struct fusion {
    const char *norm;
    const float *gamma, *beta;
    int64_t C;
};

static enum vs_status fuse_rows(void *ctx, const struct vs_linear_weights *l)
{
    const struct fusion *fu = ctx;
    return vs_quarot_fuse_norm_into(fu->norm, fu->gamma, fu->beta, fu->C, l);
}

/* Norm fu fused into its Linears one at a time (in bf16 mode each stored back before the next),
 * then γ ← 1, β ← 0. */
static enum vs_status fuse(const struct vs_norm_fusion *fu, const struct vs_xunit *x, bool *found)
{
    char name[512];
    snprintf(name, sizeof name, "%s.weight", fu->norm);
    size_t C;
    float *gamma = vs_xunit_param(x, name, &C);
    *found = gamma != NULL;
    if (!gamma)
        return VS_OK;
    snprintf(name, sizeof name, "%s.bias", fu->norm);
    float *beta = vs_xunit_param(x, name, NULL);
    struct fusion ctx = {.norm = fu->norm, .gamma = gamma, .beta = beta, .C = (int64_t)C};
    enum vs_status st = VS_OK;
    for (size_t k = 0; k < fu->n_linears && st == VS_OK; k++) {
        bool has;
        if ((st = vs_xunit_linear_edit(x, fu->linears[k], fuse_rows, &ctx, true, &has)) == VS_OK && !has)
            return vs_error_set(VS_ERR_MODEL, "%s: QuaRot fuses norm %s into this Linear, which unit '%s' does not hold",
                                fu->linears[k], fu->norm, x->u->name);
    }
    if (st != VS_OK)
        return st;
    vs_quarot_reset_norm(gamma, beta, (int64_t)C);
    snprintf(name, sizeof name, "%s.weight", fu->norm);
    st = vs_xunit_round_param(x, name);
    snprintf(name, sizeof name, "%s.bias", fu->norm);
    return st == VS_OK ? vs_xunit_round_param(x, name) : st;
}

struct rotation {
    const struct vs_rotation *r;
    enum vs_rotation_side side;
    const char *module;
};

static enum vs_status rotate_rows(void *ctx, const struct vs_linear_weights *l)
{
    const struct rotation *c = ctx;
    return c->side == VS_ROT_RIGHT ? vs_quarot_rotate_right(c->r, l->w, l->out, l->in, c->module)
                                   : vs_quarot_rotate_left(c->r, l->w, l->out, l->in, l->b, c->module);
}

static enum vs_status rotate(const struct vs_outlier *o, const struct vs_rotation_command *c,
                             const struct vs_xunit *x, bool *found)
{
    struct rotation ctx = {.r = c->rotation == VS_ROT_R ? &o->R : &o->Ruv, .side = c->side, .module = c->module};
    /* row by row only where each row's result is its own: a right rotation by the fast transform
     * (a GEMM's rounding could depend on its row count, docs/reliability.md) */
    bool row_local = c->side == VS_ROT_RIGHT && ctx.r->signs;
    return vs_xunit_linear_edit(x, c->module, rotate_rows, &ctx, row_local, found);
}

/* A whole phase on one unit: every fusion and command must name modules of the unit. */
static enum vs_status apply_phase(const struct vs_outlier *o, const struct vs_quarot_phase *p, const struct vs_xunit *x)
{
    bool found;
    enum vs_status st = VS_OK;
    for (size_t k = 0; k < p->n_fusions && st == VS_OK; k++)
        if ((st = fuse(&p->fusions[k], x, &found)) == VS_OK && !found)
            st = vs_error_set(VS_ERR_MODEL, "%s.weight: QuaRot fuses this norm, which unit '%s' does not hold",
                              p->fusions[k].norm, x->u->name);
    for (size_t k = 0; k < p->n_commands && st == VS_OK; k++)
        if ((st = rotate(o, &p->commands[k], x, &found)) == VS_OK && !found)
            st = vs_error_set(VS_ERR_MODEL, "%s: QuaRot rotates this module, which unit '%s' does not hold",
                              p->commands[k].module, x->u->name);
    return st;
}

enum vs_status vs_proc_quarot_pre_run(struct vs_outlier *o, const struct vs_xunit *x)
{
    /* the pre-run map has no fusions for the Qwen3-VL families; any would be done here too */
    for (size_t k = 0; k < o->pre.n_commands; k++) {
        if (o->pre_done[k])
            continue;
        enum vs_status st = rotate(o, &o->pre.commands[k], x, &o->pre_done[k]);
        if (st != VS_OK)
            return st;
    }
    return VS_OK;
}

enum vs_status vs_proc_quarot_unit(struct vs_outlier *o, size_t i, const struct vs_xunit *x)
{
    struct vs_quarot_phase p = {0};
    enum vs_status st = o->ops->quarot_unit(o->m, i, &p);
    if (st == VS_OK)
        st = apply_phase(o, &p, x);
    vs_quarot_phase_free(&p);
    return st;
}

enum vs_status vs_proc_quarot_open(struct vs_outlier *o, const struct vs_processor_config *p)
{
    const struct vs_quarot_config *c = &p->u.quarot;
    int64_t r_size, uv_size;
    bool tied;
    o->ops->quarot_sizes(o->m, &r_size, &uv_size, &tied);
    char what[512];
    snprintf(what, sizeof what, "%s: %s (model family '%s')", o->cfg->source_path, p->path, o->ops->key);
    enum vs_status st = vs_quarot_check(c, tied, what);
    if (st != VS_OK)
        return st;
    /* msModelSlim's own hadamard_txt files, when the user points at them, make the k·2^m
     * rotations exactly msModelSlim's (several of vlmslim's constructed orders are valid but
     * differ from them: quant/hadamard.h). */
    const char *txt = getenv("VLMSLIM_HADAMARD_DIR");
    if (txt && !*txt)
        txt = NULL;
    if (txt && !vs_fs_is_dir(txt))
        return vs_error_set(VS_ERR_USAGE, "VLMSLIM_HADAMARD_DIR=%s: not a directory (msModelSlim's hadamard_txt)", txt);
    if ((st = vs_rotation_hadamard_from(r_size, c->block_size, VS_QUAROT_SEED, txt, &o->R)) != VS_OK ||
        (st = vs_rotation_block_hadamard_shifted_from(uv_size, c->block_size, VS_QUAROT_SEED, txt, &o->Ruv)) != VS_OK)
        return vs_error_prefix(st, "%s", what);
    o->quarot = p;
    if ((st = o->ops->quarot_pre_run(o->m, &o->pre)) != VS_OK || (st = o->ops->quarot_post_run(o->m, &o->post)) != VS_OK)
        return st;
    if (!(o->pre_done = vs_calloc(o->pre.n_commands + 1, sizeof *o->pre_done)))
        return VS_ERR_NOMEM;
    /* The tail now: the forward reads the rotated embedding from the first text layer on. Every
     * unit is built first (views only), as an adapter checks the tail against the units. */
    for (size_t i = 0; i < o->ops->unit_count(o->m); i++) {
        struct vs_unit *u;
        if ((st = o->ops->unit_load(o->m, i, &u)) != VS_OK)
            return st;
        vs_unit_free(u);
    }
    if ((st = o->ops->tail_load(o->m, &o->tail)) != VS_OK || (st = vs_unit_f32_make_lazy(o->tail, &o->tail_f32)) != VS_OK)
        return st;
    struct vs_xunit x = {.u = o->tail, .f = o->tail_f32, .by_rows = true}; /* vocabulary-sized matrices */
    if ((st = vs_proc_quarot_pre_run(o, &x)) != VS_OK || (st = apply_phase(o, &o->post, &x)) != VS_OK)
        return st;
    for (size_t i = 0; i < o->tail->n_params; i++)
        vs_param_release(&o->tail->params[i]);
    o->ops->set_tail(o->m, o->tail_f32->unit);
    return VS_OK;
}

enum vs_status vs_outlier_export(struct vs_outlier *o, const char *dir, const struct vs_saver_type *type, void *saver)
{
    if (!o || !o->quarot)
        return VS_OK;
    for (size_t k = 0; k < o->pre.n_commands; k++)
        if (!o->pre_done[k])
            return vs_error_set(VS_ERR_MODEL, "%s: QuaRot's pre-run map rotates this module, which no unit holds",
                                o->pre.commands[k].module);
    if (!o->quarot->u.quarot.export_extra_info || !type->set_optional)
        return VS_OK; /* a format without a place for it: the rotation is in the weights */
    struct vs_quarot_export e;
    enum vs_status st = vs_quarot_export_init(&o->R, &e);
    if (st != VS_OK)
        return st;
    char *sub = vs_path_join(dir, "optional");
    struct vs_st_writer *w = NULL;
    st = sub ? vs_fs_mkdirs(sub, 0700) : VS_ERR_NOMEM;
    if (st == VS_OK)
        st = vs_st_writer_open(sub, "quarot", 0, 0600, &w);
    if (st == VS_OK) {
        st = vs_st_writer_add(w, e.tensor_name, VS_DTYPE_F32, 2, e.shape, e.data,
                              (size_t)(e.shape[0] * e.shape[1]) * sizeof(float));
        if (st == VS_OK)
            st = vs_st_writer_close(w);
        else
            vs_st_writer_abort(w);
    }
    if (st == VS_OK)
        st = type->set_optional(saver, e.optional_json);
    free(sub);
    vs_quarot_export_free(&e);
    return st;
}
