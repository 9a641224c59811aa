#include "model/unit.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct vs_unit *vs_unit_new(const char *name)
{
    struct vs_unit *u = vs_calloc(1, sizeof *u);
    if (u && !(u->name = vs_strdup(name))) {
        free(u);
        return NULL;
    }
    return u;
}

void vs_unit_free(struct vs_unit *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_params; i++)
        free(u->params[i].name);
    for (size_t i = 0; i < u->n_linears; i++)
        free(u->linears[i].name);
    free(u->params);
    free(u->linears);
    free(u->name);
    free(u);
}

static enum vs_status push_param(struct vs_unit *u, const char *name, struct vs_param **out)
{
    if (vs_unit_find_param(u, name) >= 0)
        return vs_error_set(VS_ERR_INTERNAL, "unit '%s': parameter '%s' added twice", u->name, name);
    if (u->n_params == u->cap_params) {
        size_t cap = u->cap_params ? u->cap_params * 2 : 32;
        struct vs_param *np = vs_realloc(u->params, cap * sizeof *np);
        if (!np)
            return VS_ERR_NOMEM;
        u->params = np;
        u->cap_params = cap;
    }
    struct vs_param *p = &u->params[u->n_params];
    memset(p, 0, sizeof *p);
    if (!(p->name = vs_strdup(name)))
        return VS_ERR_NOMEM;
    u->n_params++;
    *out = p;
    return VS_OK;
}

enum vs_status vs_unit_add_param(struct vs_unit *u, const char *name, const struct vs_st_tensor *src)
{
    struct vs_param *p;
    enum vs_status st = push_param(u, name, &p);
    if (st != VS_OK)
        return st;
    p->dtype = src->dtype;
    p->ndim = src->ndim;
    memcpy(p->shape, src->shape, sizeof p->shape);
    p->src = src;
    p->slice = -1;
    return VS_OK;
}

enum vs_status vs_unit_add_slice_param(struct vs_unit *u, const char *name,
                                       const struct vs_st_tensor *src, int64_t slice,
                                       int64_t col0, int64_t ncols)
{
    if (src->ndim != 3 || slice < 0 || slice >= src->shape[0] || col0 < 0 || ncols <= 0 ||
        col0 + ncols > src->shape[2])
        return vs_error_set(VS_ERR_MODEL,
                            "%s: tensor '%s' of rank %d cannot provide '%s' (expert %lld, columns %lld..%lld)",
                            src->file, src->name, src->ndim, name, (long long)slice, (long long)col0,
                            (long long)(col0 + ncols));
    struct vs_param *p;
    enum vs_status st = push_param(u, name, &p);
    if (st != VS_OK)
        return st;
    p->dtype = src->dtype;
    p->ndim = 2;
    p->shape[0] = ncols;
    p->shape[1] = src->shape[1];
    p->src = src;
    p->slice = slice;
    p->col0 = col0;
    p->ncols = ncols;
    return VS_OK;
}

enum vs_status vs_unit_keep_float(struct vs_unit *u, const char *module_name)
{
    for (size_t k = 0; k < u->n_linears; k++)
        if (!strcmp(u->linears[k].name, module_name)) {
            u->linears[k].kept_float = true;
            return VS_OK;
        }
    return vs_error_set(VS_ERR_INTERNAL, "unit '%s': no linear '%s' to keep float", u->name, module_name);
}

int vs_unit_find_param(const struct vs_unit *u, const char *name)
{
    for (size_t i = 0; i < u->n_params; i++)
        if (strcmp(u->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

enum vs_status vs_unit_add_linear(struct vs_unit *u, const char *module_name,
                                  const char *weight_name, const char *bias_name)
{
    int w = vs_unit_find_param(u, weight_name);
    int b = bias_name ? vs_unit_find_param(u, bias_name) : -1;
    if (w < 0 || (bias_name && b < 0))
        return vs_error_set(VS_ERR_INTERNAL, "unit '%s': linear '%s' refers to a missing parameter",
                            u->name, module_name);
    if (u->params[w].ndim != 2)
        return vs_error_set(VS_ERR_MODEL, "tensor '%s': a Linear weight must be 2-D, got rank %d",
                            weight_name, u->params[w].ndim);
    if (b >= 0 && (u->params[b].ndim != 1 || u->params[b].shape[0] != u->params[w].shape[0]))
        return vs_error_set(VS_ERR_MODEL, "tensor '%s': bias shape does not match weight rows %lld",
                            bias_name, (long long)u->params[w].shape[0]);
    if (u->n_linears == u->cap_linears) {
        size_t cap = u->cap_linears ? u->cap_linears * 2 : 16;
        struct vs_linear *nl = vs_realloc(u->linears, cap * sizeof *nl);
        if (!nl)
            return VS_ERR_NOMEM;
        u->linears = nl;
        u->cap_linears = cap;
    }
    struct vs_linear *l = &u->linears[u->n_linears];
    if (!(l->name = vs_strdup(module_name)))
        return VS_ERR_NOMEM;
    l->weight = w;
    l->bias = b;
    l->kept_float = false;
    u->n_linears++;
    return VS_OK;
}

size_t vs_param_numel(const struct vs_param *p)
{
    return (size_t)vs_shape_numel(p->ndim, p->shape);
}

size_t vs_param_nbytes(const struct vs_param *p)
{
    return vs_param_numel(p) * vs_dtype_size(p->dtype);
}

enum vs_status vs_param_read_raw(const struct vs_param *p, void *dst)
{
    if (p->slice < 0) {
        memcpy(dst, p->src->data, p->src->nbytes);
        return VS_OK;
    }
    /* value[j, a] = src[slice, a, col0 + j] */
    size_t es = vs_dtype_size(p->dtype);
    int64_t A = p->src->shape[1], B = p->src->shape[2];
    const unsigned char *base = (const unsigned char *)p->src->data + (size_t)(p->slice * A * B) * es;
    unsigned char *out = dst;
    /* Walk the source row by row (sequential reads), scattering into the transposed output. */
    for (int64_t a = 0; a < A; a++) {
        const unsigned char *row = base + (size_t)(a * B + p->col0) * es;
        for (int64_t j = 0; j < p->ncols; j++)
            memcpy(out + (size_t)(j * A + a) * es, row + (size_t)j * es, es);
    }
    return VS_OK;
}

enum vs_status vs_tensor_nonfinite_error(const struct vs_st_tensor *t, const char *view, size_t bad, size_t first,
                                         bool nan)
{
    bool as = view && strcmp(view, t->name) != 0;
    return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s'%s%s%s: %zu non-finite value(s) (first: %s at element %zu)",
                        t->file ? t->file : "(checkpoint)", t->name, as ? " (as '" : "", as ? view : "",
                        as ? "')" : "", bad, nan ? "NaN" : "infinity", first);
}

enum vs_status vs_tensor_check_finite(const struct vs_st_tensor *t, const float *v, size_t n, size_t base)
{
    size_t first, bad = vs_count_nonfinite_f32(v, n, &first);
    return bad ? vs_tensor_nonfinite_error(t, NULL, bad, base + first, isnan(v[first])) : VS_OK;
}

enum vs_status vs_param_check_finite(const struct vs_param *p, const float *v, size_t n)
{
    size_t first, bad = vs_count_nonfinite_f32(v, n, &first);
    return bad ? vs_tensor_nonfinite_error(p->src, p->name, bad, first, isnan(v[first])) : VS_OK;
}

enum vs_status vs_param_read_f32(const struct vs_param *p, float *dst)
{
    if (!vs_dtype_is_float(p->dtype))
        return vs_error_set(VS_ERR_MODEL, "tensor '%s': expected a float dtype, got %s", p->name,
                            vs_dtype_name(p->dtype));
    size_t n = vs_param_numel(p);
    if (p->slice < 0) {
        /* in 64 MiB pieces of the source, each dropped from the resident set once converted (for
         * tensors larger than one piece), so that converting a tensor of gigabytes holds its
         * float32 copy and one piece of the source, not all of it; a later read maps it again */
        size_t es = vs_dtype_size(p->dtype), per = ((size_t)64 << 20) / es;
        const char *src = p->src->data;
        for (size_t i = 0; i < n; i += per) {
            size_t k = n - i < per ? n - i : per;
            vs_convert_to_f32(p->dtype, src + i * es, dst + i, k);
            if (n > per)
                vs_st_release_range(p->src, i * es, k * es);
        }
        return vs_param_check_finite(p, dst, n);
    }
    /* Transpose in tiles of rows so that both the reads and the writes stay sequential; tiles
     * write disjoint columns of dst, so the threads (one tile buffer each) share them out. */
    enum { TILE = 32 };
    size_t es = vs_dtype_size(p->dtype);
    int64_t A = p->src->shape[1], B = p->src->shape[2], J = p->ncols;
    const unsigned char *base = (const unsigned char *)p->src->data + (size_t)(p->slice * A * B) * es;
    int nthreads = A * J >= (1 << 17) && !omp_in_parallel() ? omp_get_max_threads() : 1;
    float *tiles = vs_malloc((size_t)nthreads * TILE * (size_t)J * sizeof *tiles);
    if (!tiles)
        return VS_ERR_NOMEM;
    #pragma omp parallel num_threads(nthreads)
    {
        float *tile = tiles + (size_t)omp_get_thread_num() * TILE * (size_t)J;
        #pragma omp for schedule(static)
        for (int64_t a0 = 0; a0 < A; a0 += TILE) {
            int64_t na = A - a0 < TILE ? A - a0 : TILE;
            for (int64_t a = 0; a < na; a++)
                vs_convert_to_f32(p->dtype, base + (size_t)((a0 + a) * B + p->col0) * es, tile + a * J, (size_t)J);
            for (int64_t j = 0; j < J; j++)
                for (int64_t a = 0; a < na; a++)
                    dst[j * A + a0 + a] = tile[a * J + j];
        }
    }
    free(tiles);
    return vs_param_check_finite(p, dst, n);
}

void vs_param_release(const struct vs_param *p)
{
    vs_st_release(p->src);
}
