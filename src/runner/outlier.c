#include "runner/outlier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "io/safetensors.h"
#include "runner/unit_file.h"
#include "quant/quarot.h"
#include "runner/outlier_internal.h"
#include "tensor/dtype.h"

bool vs_outlier_is_processor(enum vs_proc_type t)
{
    return t == VS_PROC_QUAROT || t == VS_PROC_ITER_SMOOTH || t == VS_PROC_SMOOTH_QUANT;
}

enum vs_status vs_outlier_check_processor(const struct vs_quant_config *cfg, const struct vs_processor_config *p)
{
    if (p->type != VS_PROC_QUAROT)
        return VS_OK;
    char what[512];
    snprintf(what, sizeof what, "%s: %s", cfg->source_path, p->path);
    return vs_quarot_check(&p->u.quarot, false, what);
}

bool vs_outlier_config_needs_data(const struct vs_quant_config *cfg)
{
    for (size_t i = 0; i < cfg->n_process; i++)
        if (cfg->process[i].type == VS_PROC_ITER_SMOOTH || cfg->process[i].type == VS_PROC_SMOOTH_QUANT)
            return true;
    return false;
}

enum vs_status vs_outlier_check_adapter(const struct vs_quant_config *cfg, const struct vs_adapter_ops *ops)
{
    for (size_t k = 0; k < cfg->n_process; k++) {
        const struct vs_processor_config *p = &cfg->process[k];
        if (!vs_outlier_is_processor(p->type))
            continue;
        bool quarot = p->type == VS_PROC_QUAROT;
        if (quarot ? !vs_adapter_has_quarot(ops) : !vs_adapter_has_subgraphs(ops) || !vs_adapter_has_forward(ops))
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: %s: processor '%s' needs the %s of model family '%s', which "
                                "its adapter (ABI version %u) does not provide", cfg->source_path, p->path,
                                vs_proc_type_name(p->type), quarot ? "QuaRot maps" : "smoothing subgraphs and forward pass",
                                ops->key, ops->abi_version);
    }
    return VS_OK;
}

/* ------------------------------------------------------------------ a unit's copy */

static int param_index(const struct vs_xunit *x, const char *name)
{
    return vs_unit_find_param(x->f->unit, name);
}

float *vs_xunit_param(const struct vs_xunit *x, const char *name, size_t *n)
{
    int i = param_index(x, name);
    if (i < 0)
        return NULL;
    if (n)
        *n = vs_param_numel(&x->f->unit->params[i]);
    return vs_unit_f32_values(x->f, (size_t)i);
}

enum vs_status vs_xunit_linear_open(const struct vs_xunit *x, const char *module, struct vs_linear_weights *out,
                                    bool *found)
{
    char name[512];
    snprintf(name, sizeof name, "%s.weight", module);
    int wi = param_index(x, name);
    *found = wi >= 0 && x->f->unit->params[wi].ndim == 2;
    if (!*found)
        return VS_OK;
    enum vs_status st = vs_unit_f32_own(x->f, (size_t)wi);
    if (st != VS_OK)
        return st;
    snprintf(name, sizeof name, "%s.bias", module);
    const struct vs_param *w = &x->f->unit->params[wi];
    *out = (struct vs_linear_weights){.name = module, .w = vs_unit_f32_values(x->f, (size_t)wi),
                                      .b = vs_xunit_param(x, name, NULL), .out = w->shape[0], .in = w->shape[1]};
    *found = out->w != NULL;
    return VS_OK;
}

/* A finite value of v [n] too large for dt (a transform's result) is an error naming the tensor
 * and the element (v starting at element `base` of it). */
static enum vs_status check_fits(enum vs_dtype dt, const float *v, size_t n, size_t base, const char *name)
{
    size_t first, over = vs_count_overflow_f32(dt, v, n, &first);
    return over ? vs_error_set(VS_ERR_MODEL, "%s: %zu transformed value(s) overflow %s (first: element %zu = %g)", name,
                               over, vs_dtype_name(dt), base + first, (double)v[first])
                : VS_OK;
}

/* Rounds float32 values to dtype dt and back (bf16/f16: as a cast to the checkpoint dtype),
 * after check_fits. */
static enum vs_status round_values(enum vs_dtype dt, float *v, size_t n, const char *name)
{
    if (dt != VS_DTYPE_BF16 && dt != VS_DTYPE_F16)
        return VS_OK;
    enum vs_status st = check_fits(dt, v, n, 0, name);
    if (st != VS_OK)
        return st;
    uint16_t tmp[4096];
    for (size_t k = 0; k < n; k += 4096) {
        size_t c = n - k < 4096 ? n - k : 4096;
        vs_convert_from_f32(dt, v + k, tmp, c);
        vs_convert_to_f32(dt, tmp, v + k, c);
    }
    return VS_OK;
}

enum vs_status vs_xunit_round_param(const struct vs_xunit *x, const char *name)
{
    int i = param_index(x, name);
    if (i < 0)
        return VS_OK;
    return round_values(x->u->params[i].dtype, vs_unit_f32_values(x->f, (size_t)i),
                        vs_param_numel(&x->f->unit->params[i]), name);
}

enum vs_status vs_xunit_linear_close(const struct vs_xunit *x, const char *module, bool edited)
{
    char name[512];
    snprintf(name, sizeof name, "%s.weight", module);
    int wi = param_index(x, name);
    enum vs_status st = edited ? vs_xunit_round_param(x, name) : VS_OK;
    snprintf(name, sizeof name, "%s.bias", module);
    if (st == VS_OK && edited)
        st = vs_xunit_round_param(x, name);
    /* a weight the copy viewed goes back to bf16 bits, as the checkpoint's were */
    if (st == VS_OK && wi >= 0)
        st = vs_unit_f32_store_bf16(x->f, (size_t)wi);
    return st;
}

enum vs_status vs_xunit_linear_edit(const struct vs_xunit *x, const char *module, vs_row_edit edit, void *ctx,
                                    bool row_local, bool *found)
{
    char name[512];
    snprintf(name, sizeof name, "%s.weight", module);
    int wi = param_index(x, name);
    enum vs_status st = VS_OK;
    uint16_t *bits = row_local && x->by_rows && wi >= 0 && x->f->unit->params[wi].ndim == 2
                         ? vs_unit_f32_bf16_bits(x->f, (size_t)wi, &st) : NULL;
    if (st != VS_OK)
        return st;
    if (!bits) {
        struct vs_linear_weights l;
        if ((st = vs_xunit_linear_open(x, module, &l, found)) != VS_OK || !*found)
            return st;
        st = edit(ctx, &l);
        return st == VS_OK ? vs_xunit_linear_close(x, module, true) : st;
    }
    *found = true;
    const struct vs_param *p = &x->f->unit->params[wi];
    int64_t rows = p->shape[0], cols = p->shape[1], block = ((int64_t)4 << 20) / (cols > 0 ? cols : 1);
    block = block < 1 ? 1 : block;
    snprintf(name, sizeof name, "%s.bias", module);
    float *bias = vs_xunit_param(x, name, NULL), *buf = vs_malloc((size_t)(block * cols + 1) * sizeof *buf);
    if (!buf)
        return VS_ERR_NOMEM;
    for (int64_t r0 = 0; r0 < rows && st == VS_OK; r0 += block) {
        int64_t nr = rows - r0 < block ? rows - r0 : block;
        size_t n = (size_t)(nr * cols);
        vs_convert_to_f32(VS_DTYPE_BF16, bits + r0 * cols, buf, n);
        struct vs_linear_weights l = {.name = module, .w = buf, .b = bias ? bias + r0 : NULL, .out = nr, .in = cols};
        if ((st = edit(ctx, &l)) == VS_OK && (st = check_fits(VS_DTYPE_BF16, buf, n, (size_t)(r0 * cols), p->name)) == VS_OK)
            vs_convert_from_f32(VS_DTYPE_BF16, buf, bits + r0 * cols, n);
    }
    free(buf);
    return st == VS_OK ? vs_xunit_round_param(x, name) : st;
}

/* ------------------------------------------------------------------ the run */

enum vs_status vs_outlier_open(const struct vs_quant_config *cfg, const struct vs_adapter_ops *ops,
                               struct vs_model *m, struct vs_outlier **out)
{
    *out = NULL;
    bool any = false;
    for (size_t k = 0; k < cfg->n_process; k++)
        any |= vs_outlier_is_processor(cfg->process[k].type);
    if (!any)
        return VS_OK;
    enum vs_status st = vs_outlier_check_adapter(cfg, ops);
    if (st != VS_OK)
        return st;
    struct vs_outlier *o = vs_calloc(1, sizeof *o);
    if (!o)
        return VS_ERR_NOMEM;
    o->cfg = cfg;
    o->ops = ops;
    o->m = m;
    o->last_data_unit = -1;
    for (size_t k = 0; k < cfg->n_process && st == VS_OK; k++) {
        const struct vs_processor_config *p = &cfg->process[k];
        if (!vs_outlier_is_processor(p->type))
            continue;
        if (p->type == VS_PROC_QUAROT) {
            if (o->quarot) {
                st = vs_error_set(VS_ERR_CONFIG, "%s: %s: a second 'quarot' processor (the first is %s)",
                                  cfg->source_path, p->path, o->quarot->path);
                break;
            }
            st = vs_proc_quarot_open(o, p);
            continue;
        }
        /* smoothing: which units it needs the forward of */
        size_t n_units = ops->unit_count(m), n_vision = 0;
        for (size_t i = 0; i < n_units && st == VS_OK; i++) {
            struct vs_subgraph_list sg = {0};
            if ((st = vs_proc_smooth_select(o, p, i, &sg)) == VS_OK && sg.n && (long)i > o->last_data_unit)
                o->last_data_unit = (long)i;
            for (size_t g = 0; g < sg.n; g++)
                n_vision += sg.items[g].vision;
            vs_subgraph_list_free(&sg);
        }
        if (st == VS_OK && vs_proc_smooth_wants_vision(p) && n_vision == 0)
            st = vs_error_set(VS_ERR_CONFIG, "%s: %s.vision_subgraphs: no vision-tower subgraph of model family '%s' is "
                              "selected (the family has none, or enable_subgraph_type / include / exclude leave none)",
                              cfg->source_path, p->path, ops->key);
    }
    if (st != VS_OK) {
        vs_outlier_close(o);
        return st;
    }
    *out = o;
    return VS_OK;
}

void vs_outlier_close(struct vs_outlier *o)
{
    if (!o)
        return;
    if ((o->tail_f32 || o->tail_file) && o->ops->set_tail)
        o->ops->set_tail(o->m, NULL);
    vs_unit_f32_free(o->tail_f32);
    vs_unit_free(o->tail);
    vs_st_file_close(o->tail_file);
    vs_rotation_free(&o->R);
    vs_rotation_free(&o->Ruv);
    vs_quarot_phase_free(&o->pre);
    vs_quarot_phase_free(&o->post);
    free(o->pre_done);
    for (size_t i = 0; i < o->n_biases; i++) {
        free((void *)o->biases[i]->data);
        free(o->biases[i]);
    }
    free(o->biases);
    free(o);
}

long vs_outlier_last_data_unit(const struct vs_outlier *o) { return o ? o->last_data_unit : -1; }

enum vs_status vs_outlier_unit(struct vs_outlier *o, size_t i, const struct vs_unit *u, struct vs_unit_f32 *f,
                               struct vs_layerwise *lw)
{
    struct vs_xunit x = {.u = u, .f = f};
    enum vs_status st = o->quarot ? vs_proc_quarot_pre_run(o, &x) : VS_OK;
    for (size_t k = 0; k < o->cfg->n_process && st == VS_OK; k++) {
        const struct vs_processor_config *p = &o->cfg->process[k];
        if (p->type == VS_PROC_QUAROT)
            st = vs_proc_quarot_unit(o, i, &x);
        else if (p->type == VS_PROC_ITER_SMOOTH || p->type == VS_PROC_SMOOTH_QUANT)
            st = vs_proc_smooth_unit(o, p, i, &x, lw);
    }
    return st;
}

enum vs_status vs_outlier_spill_tail(struct vs_outlier *o, const char *dir)
{
    if (!o || !o->tail_f32)
        return VS_OK;
    bool exact;
    struct vs_unit_file uf;
    enum vs_status st = vs_unit_file_write(o->tail, o->tail_f32, NULL, true, dir, ".vlmslim-tail", &exact, &uf);
    if (st != VS_OK)
        return st;
    if (!exact) {
        vs_debug("%s: a transformed value does not fit the checkpoint's dtype; the tail stays in float32",
                 o->tail->name);
        return VS_OK;
    }
    o->ops->set_tail(o->m, uf.unit);
    vs_unit_f32_free(o->tail_f32);
    vs_unit_free(o->tail);
    o->tail_f32 = NULL;
    o->tail = uf.unit;
    o->tail_file = uf.file;
    return VS_OK;
}

bool vs_outlier_take_tail(struct vs_outlier *o, struct vs_unit **u, struct vs_unit_f32 **f)
{
    if (!o || (!o->tail_f32 && !o->tail_file) || !o->tail)
        return false;
    o->ops->set_tail(o->m, NULL);
    *u = o->tail;
    *f = o->tail_f32;
    o->tail = NULL;
    o->tail_f32 = NULL;
    return true;
}
