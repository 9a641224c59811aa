#include "model/unit_f32.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model/linear_apply.h"
#include "tensor/compute.h"
#include "tensor/dtype.h"
#include "tensor/kernels.h"

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
    free(f->keep_bf16);
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
    t->heap = true;
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

enum views { VIEW_NONE, VIEW_BF16_LINEARS, VIEW_BF16_MATRICES };

/* Whether parameter i stays a view of the checkpoint under rule `views`. */
static bool stays_view(const struct vs_unit *u, size_t i, enum views views)
{
    const struct vs_param *p = &u->params[i];
    if (views == VIEW_BF16_MATRICES)
        return p->dtype == VS_DTYPE_BF16 && p->ndim == 2 && p->src->data;
    return views == VIEW_BF16_LINEARS && is_viewable_weight(u, i);
}

static enum vs_status make(const struct vs_unit *u, enum views views, struct vs_unit_f32 **out)
{
    *out = NULL;
    struct vs_unit_f32 *f = vs_calloc(1, sizeof *f);
    if (!f)
        return VS_ERR_NOMEM;
    f->tensors = vs_calloc(u->n_params + 1, sizeof *f->tensors);
    f->keep_bf16 = vs_calloc(u->n_params + 1, sizeof *f->keep_bf16);
    f->n_tensors = u->n_params;
    f->unit = vs_unit_new(u->name);
    enum vs_status st = f->tensors && f->keep_bf16 && f->unit ? VS_OK : VS_ERR_NOMEM;
    for (size_t i = 0; i < u->n_params && st == VS_OK; i++) {
        const struct vs_param *p = &u->params[i];
        struct vs_st_tensor *t = &f->tensors[i];
        if (stays_view(u, i, views)) { /* the same parameter, in place */
            st = p->slice >= 0 ? vs_unit_add_slice_param(f->unit, p->name, p->src, p->slice, p->col0, p->ncols)
                               : vs_unit_add_param(f->unit, p->name, p->src);
            if (st == VS_OK) /* (a bf16 Linear's weight was checked so) */
                f->unit->params[i].known_finite = views == VIEW_BF16_LINEARS;
            f->keep_bf16[i] = true;
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
    return make(u, VIEW_NONE, out);
}

enum vs_status vs_unit_f32_make_for_compute(const struct vs_unit *u, struct vs_unit_f32 **out)
{
    return make(u, vs_compute_get() == VS_COMPUTE_BF16 ? VIEW_BF16_LINEARS : VIEW_NONE, out);
}

enum vs_status vs_unit_f32_make_lazy(const struct vs_unit *u, struct vs_unit_f32 **out)
{
    return make(u, VIEW_BF16_MATRICES, out);
}

bool vs_unit_f32_is_view(const struct vs_unit_f32 *f, size_t i)
{
    return i < f->unit->n_params && f->unit->params[i].src != &f->tensors[i];
}

/* The checkpoint pages view p reads: an expert's block of a fused [E, A, B] tensor, or all. */
static void release_view(const struct vs_param *p)
{
    if (p->slice < 0) {
        vs_param_release(p);
        return;
    }
    size_t block = (size_t)(p->src->shape[1] * p->src->shape[2]) * vs_dtype_size(p->dtype);
    vs_st_release_range(p->src, (size_t)p->slice * block, block);
}

bool vs_unit_f32_holds_bf16(const struct vs_unit_f32 *f, size_t i)
{
    return i < f->unit->n_params && f->unit->params[i].dtype == VS_DTYPE_BF16;
}

enum vs_status vs_unit_f32_own(struct vs_unit_f32 *f, size_t i)
{
    if (!vs_unit_f32_holds_bf16(f, i))
        return VS_OK;
    bool view = vs_unit_f32_is_view(f, i);
    struct vs_param *p = &f->unit->params[i];
    struct vs_st_tensor *t = &f->tensors[i], c = {0};
    if (!view) { /* stored bits: widened in their own buffer, no second copy */
        size_t n = t->nbytes / sizeof(uint16_t);
        void *b = vs_realloc((void *)t->data, n ? n * sizeof(float) : 1);
        if (!b)
            return VS_ERR_NOMEM;
        vs_convert_to_f32_in_place(VS_DTYPE_BF16, b, n);
        t->data = b;
        t->dtype = p->dtype = VS_DTYPE_F32;
        t->nbytes = n * sizeof(float);
        f->bytes += n * sizeof(uint16_t);
        return VS_OK;
    }
    enum vs_status st = own_f32(p, &c); /* from the checkpoint */
    if (st != VS_OK) {
        free((void *)c.data);
        return st;
    }
    release_view(p); /* its pages leave the resident set beside the copy */
    f->view_bytes -= vs_param_nbytes(p);
    *t = c;
    t->name = p->name;
    f->bytes += t->nbytes;
    p->dtype = t->dtype;
    p->src = t;
    p->slice = -1, p->col0 = p->ncols = 0;
    return VS_OK;
}

uint16_t *vs_unit_f32_bf16_bits(struct vs_unit_f32 *f, size_t i, enum vs_status *st)
{
    *st = VS_OK;
    if (!vs_unit_f32_holds_bf16(f, i))
        return NULL;
    struct vs_param *p = &f->unit->params[i];
    struct vs_st_tensor *t = &f->tensors[i];
    if (vs_unit_f32_is_view(f, i)) {
        size_t nbytes = vs_param_nbytes(p);
        unsigned char *b = vs_malloc(nbytes ? nbytes : 1);
        if (!b) {
            *st = VS_ERR_NOMEM;
            return NULL;
        }
        if (p->slice < 0) { /* in 64 MiB pieces, each dropped from the resident set once copied */
            for (size_t o = 0, piece = (size_t)64 << 20; o < nbytes; o += piece) {
                size_t k = nbytes - o < piece ? nbytes - o : piece;
                memcpy(b + o, (const unsigned char *)p->src->data + o, k);
                vs_st_release_range(p->src, o, k);
            }
        } else if ((*st = vs_param_read_raw(p, b)) != VS_OK) {
            free(b);
            return NULL;
        }
        /* a non-finite checkpoint value is named before any edit spreads it, as a conversion does */
        const uint16_t *h = (const uint16_t *)b;
        size_t first, bad = vs_count_nonfinite_bf16(h, nbytes / sizeof *h, &first);
        if (bad) {
            *st = vs_tensor_nonfinite_error(p->src, p->name, bad, first, (h[first] & 0x7fu) != 0);
            free(b);
            return NULL;
        }
        release_view(p);
        *t = (struct vs_st_tensor){.name = p->name, .dtype = VS_DTYPE_BF16, .ndim = p->ndim, .data = b,
                                   .nbytes = nbytes, .file = p->src->file, .heap = true};
        memcpy(t->shape, p->shape, sizeof t->shape);
        f->view_bytes -= nbytes;
        f->bytes += nbytes;
        p->src = t;
        p->slice = -1, p->col0 = p->ncols = 0;
    }
    return (uint16_t *)t->data;
}

enum vs_status vs_unit_f32_store_bf16(struct vs_unit_f32 *f, size_t i)
{
    struct vs_st_tensor *t = &f->tensors[i];
    if (i >= f->unit->n_params || !f->keep_bf16[i] || vs_unit_f32_is_view(f, i) || t->dtype != VS_DTYPE_F32)
        return VS_OK;
    size_t n = t->nbytes / sizeof(float), inexact = 0;
    float *v = (float *)t->data;
    #pragma omp parallel for reduction(+ : inexact) schedule(static) if (n >= VS_PARALLEL_MIN)
    for (size_t k = 0; k < n; k++) {
        uint16_t b = vs_f32_to_bf16(v[k]);
        inexact += (b & 0x7f80u) == 0x7f80u || vs_bf16_to_f32(b) != v[k];
    }
    if (inexact) /* a value a bf16 does not hold: the weight stays in float32 */
        return VS_OK;
    /* in place, then the buffer shrunk: no second copy beside the float32 one */
    vs_convert_from_f32_in_place(VS_DTYPE_BF16, v, n);
    void *b = vs_realloc(v, n ? n * sizeof(uint16_t) : 1);
    t->data = b ? b : v;
    t->dtype = VS_DTYPE_BF16;
    t->nbytes = n * sizeof(uint16_t);
    f->bytes -= n * sizeof(uint16_t); /* 4 bytes a value, now 2 */
    f->unit->params[i].dtype = VS_DTYPE_BF16;
    f->unit->params[i].known_finite = true;
    return VS_OK;
}

float *vs_unit_f32_values(struct vs_unit_f32 *f, size_t i)
{
    if (i >= f->unit->n_params || f->tensors[i].dtype != VS_DTYPE_F32)
        return NULL;
    return (float *)f->tensors[i].data;
}
