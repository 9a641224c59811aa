#include "model/unit_f32.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void vs_unit_f32_free(struct vs_unit_f32 *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->tensors && i < f->n_tensors; i++)
        free((void *)f->tensors[i].data);
    free(f->tensors);
    vs_unit_free(f->unit);
    free(f);
}

enum vs_status vs_unit_f32_make(const struct vs_unit *u, struct vs_unit_f32 **out)
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
        bool is_float = vs_dtype_is_float(p->dtype);
        t->dtype = is_float ? VS_DTYPE_F32 : p->dtype;
        t->ndim = p->ndim;
        memcpy(t->shape, p->shape, sizeof t->shape);
        t->nbytes = is_float ? vs_param_numel(p) * sizeof(float) : vs_param_nbytes(p);
        t->file = p->src->file;
        void *data = vs_malloc(t->nbytes ? t->nbytes : 1);
        if (!data) {
            st = VS_ERR_NOMEM;
            break;
        }
        t->data = data;
        st = is_float ? vs_param_read_f32(p, data) : vs_param_read_raw(p, data);
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

float *vs_unit_f32_values(struct vs_unit_f32 *f, size_t i)
{
    if (i >= f->unit->n_params || f->tensors[i].dtype != VS_DTYPE_F32)
        return NULL;
    return (float *)f->tensors[i].data;
}
