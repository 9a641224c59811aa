#include "model/unit_f32.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model/linear_apply.h"
#include "tensor/compute.h"

void vs_unit_f32_free(struct vs_unit_f32 *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->tensors && i < f->n_tensors; i++) {
        if (f->unit && vs_unit_f32_is_view(f, i)) /* its checkpoint pages leave the resident set with it */
            vs_param_release(&f->unit->params[i]);
        free((void *)f->tensors[i].data);
    }
    free(f->tensors);
    vs_unit_free(f->unit);
    free(f);
}

/* Parameter p converted into the owned float32 tensor t (its name set by the caller). */
static enum vs_status own_f32(const struct vs_param *p, struct vs_st_tensor *t)
{
    bool is_float = vs_dtype_is_float(p->dtype);
    t->dtype = is_float ? VS_DTYPE_F32 : p->dtype;
    t->ndim = p->ndim;
    memcpy(t->shape, p->shape, sizeof t->shape);
    t->nbytes = is_float ? vs_param_numel(p) * sizeof(float) : vs_param_nbytes(p);
    t->file = p->src->file;
    void *data = vs_malloc(t->nbytes ? t->nbytes : 1);
    if (!data)
        return VS_ERR_NOMEM;
    t->data = data;
    return is_float ? vs_param_read_f32(p, data) : vs_param_read_raw(p, data);
}

/* Whether parameter i is a Linear's weight that a bf16 Linear multiplies in place (stored bf16,
 * every value finite: checked here once, not at every call). */
static bool is_viewable_weight(const struct vs_unit *u, size_t i)
{
    struct vs_linear_bf16 v;
    for (size_t k = 0; k < u->n_linears; k++)
        if (u->linears[k].weight == (int)i)
            return vs_linear_bf16_view(u, u->linears[k].name, &v);
    return false;
}

static enum vs_status make(const struct vs_unit *u, bool view_bf16_linears, struct vs_unit_f32 **out)
{
    *out = NULL;
    struct vs_unit_f32 *f = vs_calloc(1, sizeof *f);
    if (!f)
        return VS_ERR_NOMEM;
    f->tensors = vs_calloc(u->n_params + 1, sizeof *f->tensors);
    f->n_tensors = u->n_params;
    f->unit = vs_unit_new(u->name);
    enum vs_status st = f->tensors && f->unit ? VS_OK : VS_ERR_NOMEM;
    for (size_t i = 0; i < u->n_params && st == VS_OK; i++) {
        const struct vs_param *p = &u->params[i];
        struct vs_st_tensor *t = &f->tensors[i];
        if (view_bf16_linears && is_viewable_weight(u, i)) { /* the same parameter, in place */
            st = p->slice >= 0 ? vs_unit_add_slice_param(f->unit, p->name, p->src, p->slice, p->col0, p->ncols)
                               : vs_unit_add_param(f->unit, p->name, p->src);
            if (st == VS_OK)
                f->unit->params[i].known_finite = true;
            f->view_bytes += vs_param_nbytes(p);
            continue;
        }
        st = own_f32(p, t);
        /* the source pages leave the resident set as soon as they are copied, so that a unit's
         * peak is its float32 copy, not that plus the checkpoint's bytes (read again from the
         * page cache if needed) */
        vs_param_release(p);
        if (st == VS_OK)
            st = vs_unit_add_param(f->unit, p->name, t);
        if (st == VS_OK)
            t->name = f->unit->params[i].name;
        f->bytes += t->nbytes;
    }
    for (size_t i = 0; i < u->n_linears && st == VS_OK; i++) {
        const struct vs_linear *l = &u->linears[i];
        st = vs_unit_add_linear(f->unit, l->name, u->params[l->weight].name,
                                l->bias >= 0 ? u->params[l->bias].name : NULL);
        if (st == VS_OK)
            f->unit->linears[f->unit->n_linears - 1].kept_float = l->kept_float;
    }
    if (st != VS_OK) {
        vs_unit_f32_free(f);
        return st;
    }
    *out = f;
    return VS_OK;
}

enum vs_status vs_unit_f32_make(const struct vs_unit *u, struct vs_unit_f32 **out)
{
    return make(u, false, out);
}

enum vs_status vs_unit_f32_make_for_compute(const struct vs_unit *u, struct vs_unit_f32 **out)
{
    return make(u, vs_compute_get() == VS_COMPUTE_BF16, out);
}

bool vs_unit_f32_is_view(const struct vs_unit_f32 *f, size_t i)
{
    return i < f->unit->n_params && f->unit->params[i].src != &f->tensors[i];
}

enum vs_status vs_unit_f32_own(struct vs_unit_f32 *f, size_t i)
{
    if (!vs_unit_f32_is_view(f, i))
        return VS_OK;
    struct vs_param *p = &f->unit->params[i];
    struct vs_st_tensor *t = &f->tensors[i];
    enum vs_status st = own_f32(p, t);
    if (st != VS_OK) {
        free((void *)t->data);
        memset(t, 0, sizeof *t);
        return st;
    }
    t->name = p->name;
    f->view_bytes -= vs_param_nbytes(p);
    f->bytes += t->nbytes;
    p->dtype = t->dtype;
    p->src = t;
    p->slice = -1, p->col0 = p->ncols = 0;
    return VS_OK;
}

float *vs_unit_f32_values(struct vs_unit_f32 *f, size_t i)
{
    if (i >= f->unit->n_params || f->tensors[i].dtype != VS_DTYPE_F32)
        return NULL;
    return (float *)f->tensors[i].data;
}
