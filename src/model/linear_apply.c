#include "model/linear_apply.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/compute.h"
#include "tensor/kernels.h"

enum vs_status vs_unit_param_f32(const struct vs_unit *u, const char *name, float **out, int64_t *n)
{
    int i = vs_unit_find_param(u, name);
    if (i < 0)
        return vs_error_set(VS_ERR_MODEL, "unit '%s': parameter '%s' is missing", u->name, name);
    const struct vs_param *p = &u->params[i];
    size_t count = vs_param_numel(p);
    float *v = vs_malloc(count * sizeof *v);
    if (!v)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_param_read_f32(p, v);
    if (st != VS_OK) {
        free(v);
        return st;
    }
    *out = v;
    if (n)
        *n = (int64_t)count;
    return VS_OK;
}

enum vs_status vs_unit_norm(const struct vs_unit *u, const char *prefix, bool rms, float eps, const float *x, float *y,
                            int64_t rows, int64_t n)
{
    char name[256];
    float *g = NULL, *b = NULL;
    snprintf(name, sizeof name, "%s.weight", prefix);
    enum vs_status st = vs_unit_param_f32(u, name, &g, NULL);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (st == VS_OK && vs_unit_find_param(u, name) >= 0)
        st = vs_unit_param_f32(u, name, &b, NULL);
    if (st == VS_OK && rms) {
        vs_rmsnorm_f32(x, g, eps, y, rows, n);
        for (int64_t r = 0; b && r < rows; r++)
            vs_add_f32(y + r * n, b, n);
    } else if (st == VS_OK) {
        vs_layernorm_f32(x, g, b, eps, y, rows, n);
    }
    free(g);
    free(b);
    return st;
}

/* A whole float32 tensor is used in place; other whole float tensors are converted into *own
 * in parallel chunks. */
static enum vs_status param_f32_view(const struct vs_unit *u, const struct vs_param *p, const float **view,
                                     float **own)
{
    if (p->slice < 0 && p->dtype == VS_DTYPE_F32 && p->src->data &&
        (uintptr_t)p->src->data % _Alignof(float) == 0) {
        *view = p->src->data;
        return vs_param_check_finite(p, *view, vs_param_numel(p));
    }
    if (p->slice >= 0 || !vs_dtype_is_float(p->dtype)) {
        enum vs_status st = vs_unit_param_f32(u, p->name, own, NULL);
        *view = *own;
        return st;
    }
    int64_t n = (int64_t)vs_param_numel(p), chunk = 65536;
    size_t es = vs_dtype_size(p->dtype);
    float *dst = vs_malloc((size_t)n * sizeof *dst);
    if (!dst)
        return VS_ERR_NOMEM;
    const unsigned char *src = p->src->data;
    #pragma omp parallel for schedule(static) if (n >= VS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i += chunk)
        vs_convert_to_f32(p->dtype, src + (size_t)i * es, dst + i, (size_t)(n - i < chunk ? n - i : chunk));
    *view = *own = dst;
    return vs_param_check_finite(p, dst, (size_t)n);
}

/* An expert slice (columns [col0, col0 + ncols) of src[slice], src [E, A, B]) as the [A, ncols]
 * block it is: in place when float32, else converted row by row. */
static enum vs_status slice_f32_view(const struct vs_param *p, struct vs_linear_f32 *l)
{
    int64_t A = p->src->shape[1], B = p->src->shape[2], J = p->ncols;
    size_t es = vs_dtype_size(p->dtype);
    const unsigned char *base = (const unsigned char *)p->src->data + (size_t)(p->slice * A * B + p->col0) * es;
    l->w_in_out = true;
    if (p->dtype == VS_DTYPE_F32 && (uintptr_t)base % _Alignof(float) == 0) {
        l->w = (const float *)(const void *)base;
        l->ldw = B;
        size_t bad = 0, first = 0;
        bool nan = false;
        for (int64_t a = 0; a < A; a++) { /* the view's element (j, a) is the block's [a, j] */
            size_t at, k = vs_count_nonfinite_f32(l->w + a * B, (size_t)J, &at);
            if (k && !bad)
                first = at * (size_t)A + (size_t)a, nan = isnan(l->w[a * B + (int64_t)at]);
            bad += k;
        }
        return bad ? vs_tensor_nonfinite_error(p->src, p->name, bad, first, nan) : VS_OK;
    }
    if (!vs_dtype_is_float(p->dtype))
        return vs_error_set(VS_ERR_MODEL, "tensor '%s': expected a float dtype, got %s", p->name,
                            vs_dtype_name(p->dtype));
    float *dst = vs_malloc((size_t)(A * J) * sizeof *dst);
    if (!dst)
        return VS_ERR_NOMEM;
    #pragma omp parallel for schedule(static) if (A * J >= VS_PARALLEL_MIN)
    for (int64_t a = 0; a < A; a++)
        vs_convert_to_f32(p->dtype, base + (size_t)(a * B) * es, dst + a * J, (size_t)J);
    l->w = l->own_w = dst;
    l->ldw = J;
    return vs_param_check_finite(p, dst, (size_t)(A * J));
}

enum vs_status vs_linear_f32_load(const struct vs_unit *u, const char *module, struct vs_linear_f32 *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < u->n_linears; i++) {
        const struct vs_linear *l = &u->linears[i];
        if (strcmp(l->name, module) != 0)
            continue;
        const struct vs_param *w = &u->params[l->weight];
        out->name = l->name;
        out->out = w->shape[0];
        out->in = w->shape[1];
        out->ldw = out->in;
        enum vs_status st = w->slice >= 0 ? slice_f32_view(w, out) : param_f32_view(u, w, &out->w, &out->own_w);
        if (st == VS_OK && l->bias >= 0)
            st = param_f32_view(u, &u->params[l->bias], &out->b, &out->own_b);
        if (st != VS_OK)
            vs_linear_f32_free(out);
        return st;
    }
    return vs_error_set(VS_ERR_MODEL, "unit '%s': Linear '%s' is missing", u->name, module);
}

void vs_linear_f32_free(struct vs_linear_f32 *l)
{
    free(l->own_w);
    free(l->own_b);
    l->own_w = l->own_b = NULL;
    l->w = l->b = NULL;
}

/* VS_ERR_NONFINITE naming the Linear, what holds the values and where the first one is. */
static enum vs_status nonfinite(const struct vs_linear_f32 *l, const char *what, const float *v, int64_t rows,
                                int64_t cols)
{
    size_t first, bad = vs_count_nonfinite_f32(v, (size_t)(rows * cols), &first);
    if (bad == 0)
        return VS_OK;
    return vs_error_set(VS_ERR_NONFINITE, "Linear '%s': its %s holds %zu non-finite value(s) (first: %s at row %lld, "
                        "column %lld of %lld rows)", l->name, what, bad, isnan(v[first]) ? "NaN" : "infinity",
                        (long long)(first / (size_t)cols), (long long)(first % (size_t)cols), (long long)rows);
}

/* The hooks around the product of l (float weights, bw's bf16 ones, or hooks->compute when
 * computed). In bf16 mode (tensor/compute.h) the observers, and a computing hook, see the input
 * as a bf16 model holds it, rounded to bf16, and the product rounds the (transformed) input and
 * the weight to bf16. */
static enum vs_status apply_hooked(const struct vs_linear_f32 *l, const struct vs_linear_bf16 *bw, const float *x,
                                   int64_t rows, float *y, const struct vs_linear_hooks *hooks, bool computed)
{
    /* where non-finite activations first appear, before an observer turns them into NaN scales */
    enum vs_status st = nonfinite(l, "input", x, rows, l->in);
    if (st != VS_OK)
        return st;
    bool bf16 = vs_compute_get() == VS_COMPUTE_BF16;
    float *rounded = NULL;
    if (bf16 && (computed || (hooks && (hooks->observe_input || hooks->transform_input)))) {
        if (!(rounded = vs_malloc((size_t)(rows * l->in) * sizeof *rounded)))
            return VS_ERR_NOMEM;
        vs_round_bf16_f32(x, rounded, (size_t)(rows * l->in));
        x = rounded;
    }
    if (hooks && hooks->observe_input)
        hooks->observe_input(hooks->ctx, l->name, x, rows, l->in);
    if (hooks && hooks->transform_input)
        x = hooks->transform_input(hooks->ctx, l->name, x, rows, l->in);
    if (computed)
        st = hooks->compute(hooks->ctx, l->name, x, rows, y);
    else if (bw)
        st = vs_linear_bf16_weights(x, bw->w, bw->ldw, l->w_in_out, l->b, y, rows, l->out, l->in);
    else if (bf16)
        st = vs_linear_bf16(x, l->w, l->ldw, l->w_in_out, l->b, y, rows, l->out, l->in);
    else if (l->w_in_out)
        vs_linear_in_out_f32(x, l->w, l->ldw, l->b, y, rows, l->out, l->in);
    else
        vs_linear_f32(x, l->w, l->b, y, rows, l->out, l->in);
    free(rounded);
    if (st != VS_OK)
        return st;
    if ((st = nonfinite(l, "output", y, rows, l->out)) != VS_OK) /* overflow within the Linear */
        return st;
    if (hooks && hooks->observe_output)
        hooks->observe_output(hooks->ctx, l->name, y, rows, l->out);
    return VS_OK;
}

enum vs_status vs_linear_apply(const struct vs_linear_f32 *l, const float *x, int64_t rows, float *y,
                               const struct vs_linear_hooks *hooks)
{
    return apply_hooked(l, NULL, x, rows, y, hooks, false);
}

bool vs_linear_bf16_view(const struct vs_unit *u, const char *module, struct vs_linear_bf16 *v)
{
    const struct vs_linear *lin = NULL;
    for (size_t i = 0; i < u->n_linears && !lin; i++)
        if (!strcmp(u->linears[i].name, module))
            lin = &u->linears[i];
    const struct vs_param *p = lin ? &u->params[lin->weight] : NULL;
    if (!p || p->dtype != VS_DTYPE_BF16 || !p->src->data)
        return false;
    const uint16_t *base = p->src->data;
    int64_t rows = p->shape[0], cols = p->shape[1], ld = cols; /* as stored: [out, in] */
    bool in_out = false;
    if (p->slice >= 0) { /* [A, ncols] of src[slice] ([E, A, B]): the [in, out] layout */
        int64_t A = p->src->shape[1], B = p->src->shape[2];
        base += p->slice * A * B + p->col0;
        rows = A, cols = p->ncols, ld = B;
        in_out = true;
    }
    if ((uintptr_t)base % _Alignof(uint16_t) != 0)
        return false;
    size_t bad = 0;
    if (!p->known_finite) {
        #pragma omp parallel for reduction(+ : bad) schedule(static) if (rows * cols >= VS_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++)
            bad += vs_count_nonfinite_bf16(base + r * ld, (size_t)cols, NULL);
    }
    if (bad)
        return false;
    *v = (struct vs_linear_bf16){.w = base, .ldw = ld, .w_in_out = in_out, .out = p->shape[0], .in = p->shape[1],
                                 .bias = lin->bias};
    return true;
}

/* In bf16 mode: the weight's view (above) and the bias loaded as float32 into l. */
static bool bf16_load(const struct vs_unit *u, const char *module, struct vs_linear_f32 *l, struct vs_linear_bf16 *v)
{
    if (!vs_linear_bf16_view(u, module, v))
        return false;
    memset(l, 0, sizeof *l);
    l->name = module; /* l lives for one call */
    l->out = v->out, l->in = v->in, l->ldw = v->ldw, l->w_in_out = v->w_in_out;
    if (v->bias >= 0 && param_f32_view(u, &u->params[v->bias], &l->b, &l->own_b) != VS_OK) {
        vs_linear_f32_free(l);
        return false;
    }
    return true;
}

enum vs_status vs_linear_run(const struct vs_unit *u, const char *module, const float *x, int64_t rows, float *y,
                             const struct vs_linear_hooks *hooks)
{
    struct vs_linear_f32 l;
    if (hooks && hooks->computes && hooks->computes(hooks->ctx, module, &l.in, &l.out)) {
        l.name = module;
        return apply_hooked(&l, NULL, x, rows, y, hooks, true);
    }
    struct vs_linear_bf16 bw;
    if (vs_compute_get() == VS_COMPUTE_BF16 && bf16_load(u, module, &l, &bw)) {
        enum vs_status st = apply_hooked(&l, &bw, x, rows, y, hooks, false);
        vs_linear_f32_free(&l);
        return st;
    }
    enum vs_status st = vs_linear_f32_load(u, module, &l);
    if (st == VS_OK)
        st = vs_linear_apply(&l, x, rows, y, hooks);
    vs_linear_f32_free(&l);
    return st;
}
