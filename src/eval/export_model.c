#include "eval/export_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "eval/export_internal.h"
#include "io/safetensors.h"
#include "quant/int8_linear.h"
#include "tensor/dtype.h"

static size_t index_of(const struct vs_export *e, const char *name)
{
    size_t lo = 0, hi = vs_st_model_count(e->st);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(vs_st_model_name_at(e->st, mid), name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (size_t)-1;
}

void vs_export_mark(struct vs_export *e, const char *name)
{
    size_t i = index_of(e, name);
    if (i != (size_t)-1)
        e->used[i] = 1;
}

static int cmp_q(const void *a, const void *b)
{
    return strcmp(((const struct export_linear *)a)->module, ((const struct export_linear *)b)->module);
}

static struct export_linear *find_q(const struct vs_export *e, const char *module)
{
    struct export_linear key = {.module = (char *)module};
    return e->nq ? bsearch(&key, e->q, e->nq, sizeof *e->q, cmp_q) : NULL;
}

int64_t vs_export_numel(const struct vs_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

struct export_linear *vs_export_add_linear(struct vs_export *e, const char *module, size_t module_len,
                                           const char *type)
{
    if (e->nq == e->q_cap) {
        size_t cap = e->q_cap ? 2 * e->q_cap : 64;
        struct export_linear *q = realloc(e->q, cap * sizeof *q);
        if (!q)
            return NULL;
        e->q = q, e->q_cap = cap;
    }
    struct export_linear *q = &e->q[e->nq];
    memset(q, 0, sizeof *q);
    if (!(q->module = vs_strndup(module, module_len)))
        return NULL;
    q->type = type;
    e->nq++;
    return q;
}

enum vs_status vs_export_part(struct vs_export *e, const struct export_linear *q, const char *suffix,
                              enum vs_dtype dt, enum vs_dtype dt2, int64_t n, bool optional,
                              const struct vs_st_tensor **out)
{
    char name[600];
    snprintf(name, sizeof name, "%s.%s", q->module, suffix);
    *out = NULL;
    if (!vs_st_model_has(e->st, name)) {
        if (optional)
            return VS_OK;
        return vs_error_set(VS_ERR_MODEL, "%s/%s: %s Linear '%s' has no tensor '%s'", e->dir, e->format->metadata,
                            q->type, q->module, name);
    }
    const struct vs_st_tensor *t;
    enum vs_status st = vs_st_model_get(e->st, name, &t);
    if (st != VS_OK)
        return st;
    bool dtype_ok = dt == VS_DTYPE_COUNT ? vs_dtype_is_float(t->dtype) : (t->dtype == dt || t->dtype == dt2);
    if (!dtype_ok || (n >= 0 && vs_export_numel(t) != n))
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' of %s Linear '%s' is %s with %lld element(s); expected %s%s%s "
                            "with %lld", t->file, name, q->type, q->module, vs_dtype_name(t->dtype),
                            (long long)vs_export_numel(t), dt == VS_DTYPE_COUNT ? "a float type" : vs_dtype_name(dt),
                            dt2 != VS_DTYPE_COUNT ? " or " : "", dt2 != VS_DTYPE_COUNT ? vs_dtype_name(dt2) : "",
                            (long long)n);
    vs_export_mark(e, name);
    *out = t;
    return VS_OK;
}

float vs_export_scalar_f32(const struct vs_st_tensor *t)
{
    float v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

enum vs_status vs_export_open(const char *dir, struct vs_export **out)
{
    *out = NULL;
    if (!vs_fs_is_dir(dir))
        return vs_error_set(VS_ERR_USAGE, "--quant_path %s: %s", dir, vs_fs_exists(dir) ? "is not a directory"
                                                                                       : "does not exist");
    char *desc = vs_path_join(dir, VS_ASCENDV1_DESCRIPTION);
    if (!desc)
        return VS_ERR_NOMEM;
    bool ascendv1 = vs_fs_exists(desc);
    free(desc);
    bool ct = false;
    enum vs_status st = ascendv1 ? VS_OK : vs_export_is_compressed_tensors(dir, &ct);
    if (st != VS_OK)
        return st;
    if (!ascendv1 && !ct)
        return vs_error_set(VS_ERR_USAGE, "--quant_path %s: neither %s (ascendv1) nor a compressed-tensors "
                            "quantization_config in config.json: not an export", dir, VS_ASCENDV1_DESCRIPTION);
    struct vs_export *e = calloc(1, sizeof *e);
    if (!e || !(e->dir = vs_strdup(dir))) {
        vs_export_close(e);
        return VS_ERR_NOMEM;
    }
    st = vs_st_model_open(dir, &e->st);
    if (st == VS_OK && !(e->used = calloc(vs_st_model_count(e->st) + 1, 1)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK)
        st = ascendv1 ? vs_export_read_ascendv1(e) : vs_export_read_compressed_tensors(e);
    if (st == VS_OK)
        qsort(e->q, e->nq, sizeof *e->q, cmp_q);
    if (st != VS_OK) {
        vs_export_close(e);
        return st;
    }
    *out = e;
    return VS_OK;
}

void vs_export_close(struct vs_export *e)
{
    if (!e)
        return;
    if (e->format && e->format->close)
        e->format->close(e);
    for (size_t i = 0; i < e->nq; i++)
        free(e->q[i].module);
    free(e->q);
    free(e->used);
    if (e->st)
        vs_st_model_close(e->st);
    free(e->deq), free(e->ws), free(e->wo), free(e->bias), free(e->qb), free(e->unpacked);
    free(e->rotation);
    free(e->dir);
    free(e);
}

const char *vs_export_dir(const struct vs_export *e) { return e->dir; }
const char *vs_export_format_name(const struct vs_export *e) { return e->format->name; }

/* The export's float tensor `name` for a parameter of shape (ndim, shape). */
static enum vs_status float_tensor(struct vs_export *e, const char *name, int ndim, const int64_t *shape,
                                   const struct vs_st_tensor **out)
{
    if (!vs_st_model_has(e->st, name))
        return vs_error_set(VS_ERR_MODEL, "%s: the model's '%s' is in none of its weight files", e->dir, name);
    enum vs_status st = vs_st_model_get(e->st, name, out);
    if (st != VS_OK)
        return st;
    const struct vs_st_tensor *t = *out;
    bool ok = vs_dtype_is_float(t->dtype) && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[128], got[128];
        vs_format_shape(want, sizeof want, ndim, shape);
        vs_format_shape(got, sizeof got, t->ndim, t->shape);
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' (%s) is %s %s; the model's parameter is a float tensor %s",
                            t->file, name, e->format->kind(e, name), vs_dtype_name(t->dtype), got, want);
    }
    vs_export_mark(e, name);
    return VS_OK;
}

enum vs_status vs_export_view(struct vs_export *e, const struct vs_unit *u, struct vs_unit **out)
{
    *out = NULL;
    struct vs_unit *v = vs_unit_new(u->name);
    const struct vs_linear **weight_of = calloc(u->n_params ? u->n_params : 1, sizeof *weight_of);
    if (!v || !weight_of) {
        vs_unit_free(v);
        free(weight_of);
        return VS_ERR_NOMEM;
    }
    for (size_t k = 0; k < u->n_linears; k++) /* the Linear whose weight each parameter is, if any */
        weight_of[u->linears[k].weight] = &u->linears[k];
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < u->n_params && st == VS_OK; i++) {
        const struct vs_param *p = &u->params[i];
        const struct vs_linear *l = weight_of[i];
        const struct export_linear *q = l ? find_q(e, l->name) : NULL;
        const struct vs_st_tensor *t;
        if (l && !q && e->format->check_float_linear && (st = e->format->check_float_linear(e, l->name)) != VS_OK)
            break;
        if (q) {
            if (q->out != p->shape[0] || q->in != p->shape[1])
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is [%lld, %lld]; the model's Linear is [%lld, %lld]",
                                  q->w.file, p->name, (long long)q->out, (long long)q->in, (long long)p->shape[0],
                                  (long long)p->shape[1]);
            else
                st = vs_unit_add_param(v, p->name, &q->w);
        } else if ((st = float_tensor(e, p->name, p->ndim, p->shape, &t)) == VS_OK) {
            st = vs_unit_add_param(v, p->name, t);
        }
    }
    /* a norm bias the export adds (shifted smoothing: msModelSlim's RMSNormBias), which the forward
     * adds when the unit has it */
    for (size_t i = 0; i < u->n_params && st == VS_OK; i++) {
        const struct vs_param *p = &u->params[i];
        size_t len = strlen(p->name);
        if (weight_of[i] || p->ndim != 1 || len < 8 || strcmp(p->name + len - 7, ".weight") != 0)
            continue;
        char bias[600];
        snprintf(bias, sizeof bias, "%.*s.bias", (int)(len - 7), p->name);
        const struct vs_st_tensor *t;
        if (vs_unit_find_param(u, bias) < 0 && vs_st_model_has(e->st, bias) &&
            (st = float_tensor(e, bias, 1, p->shape, &t)) == VS_OK)
            st = vs_unit_add_param(v, bias, t);
    }
    for (size_t k = 0; k < u->n_linears && st == VS_OK; k++) {
        const struct vs_linear *l = &u->linears[k];
        char bias[600];
        snprintf(bias, sizeof bias, "%s.bias", l->name);
        bool has_bias = l->bias >= 0;
        if (!has_bias && !find_q(e, l->name) && vs_st_model_has(e->st, bias)) { /* added by shifted smoothing */
            const struct vs_st_tensor *t;
            int64_t n = u->params[l->weight].shape[0];
            if ((st = float_tensor(e, bias, 1, &n, &t)) == VS_OK && (st = vs_unit_add_param(v, bias, t)) == VS_OK)
                has_bias = true;
        }
        if (st == VS_OK)
            st = vs_unit_add_linear(v, l->name, u->params[l->weight].name, has_bias ? bias : NULL);
    }
    free(weight_of);
    if (st != VS_OK) {
        vs_unit_free(v);
        return st;
    }
    *out = v;
    return VS_OK;
}

enum vs_status vs_export_check_all_used(const struct vs_export *e)
{
    for (size_t i = 0; i < vs_st_model_count(e->st); i++) {
        if (e->used[i])
            continue;
        const char *name = vs_st_model_name_at(e->st, i);
        const struct vs_st_tensor *t;
        vs_st_model_get(e->st, name, &t);
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' (%s) is no parameter of the model's forward pass, which "
                            "would ignore it", t->file, name, e->format->kind(e, name));
    }
    return VS_OK;
}

enum vs_status vs_export_rotation(struct vs_export *e, const float **r, int64_t *n)
{
    *r = NULL, *n = 0;
    if (e->rotation_read) {
        *r = e->rotation, *n = e->rotation_n;
        return VS_OK;
    }
    e->rotation_read = true;
    char *rel = NULL;
    enum vs_status st = e->format->rotation_file(e, &rel);
    if (st != VS_OK || !rel)
        return st;
    char *path = vs_path_join(e->dir, rel);
    free(rel);
    struct vs_st_file *f = NULL;
    st = path ? vs_st_file_open(path, &f) : VS_ERR_NOMEM;
    const struct vs_st_tensor *t = st == VS_OK ? vs_st_file_find(f, "global_rotation") : NULL;
    if (st == VS_OK && (!t || t->dtype != VS_DTYPE_F32 || t->ndim != 2 || t->shape[0] != t->shape[1]))
        st = vs_error_set(VS_ERR_MODEL, "%s: no square F32 tensor 'global_rotation'", path);
    if (st == VS_OK && !(e->rotation = malloc(t->nbytes)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK) {
        memcpy(e->rotation, t->data, t->nbytes);
        e->rotation_n = t->shape[0];
        *r = e->rotation, *n = e->rotation_n;
    }
    if (f)
        vs_st_file_close(f);
    free(path);
    return st;
}

static bool computes(void *ctx, const char *module, int64_t *in, int64_t *out)
{
    const struct export_linear *q = find_q(ctx, module);
    if (!q)
        return false;
    *in = q->in, *out = q->out;
    return true;
}

static enum vs_status grow(struct vs_export *e, int64_t n)
{
    if ((size_t)n <= e->cap)
        return VS_OK;
    free(e->deq), free(e->ws), free(e->wo), free(e->bias), free(e->qb);
    e->deq = malloc((size_t)n * sizeof *e->deq), e->ws = malloc((size_t)n * sizeof *e->ws);
    e->wo = malloc((size_t)n * sizeof *e->wo), e->bias = malloc((size_t)n * sizeof *e->bias);
    e->qb = malloc((size_t)n * sizeof *e->qb);
    e->cap = e->deq && e->ws && e->wo && e->bias && e->qb ? (size_t)n : 0;
    return e->cap ? VS_OK : VS_ERR_NOMEM;
}

/* A per-channel float vector of n values (one value: the same for every channel). */
static void channel_f32(const struct vs_st_tensor *t, float *dst, size_t n)
{
    if (vs_export_numel(t) == 1) {
        vs_convert_to_f32(t->dtype, t->data, dst, 1);
        for (size_t o = 1; o < n; o++)
            dst[o] = dst[0];
    } else {
        vs_convert_to_f32(t->dtype, t->data, dst, n);
    }
}

/* compressed-tensors' pack_to_int32 for 8 bits: four `q + 128` bytes per little-endian int32,
 * lowest first, so the bytes in file order are the values plus 128. */
static enum vs_status unpack(struct vs_export *e, const struct export_linear *q, const int8_t **w)
{
    size_t n = (size_t)(q->out * q->in);
    if (n > e->unpacked_cap) {
        free(e->unpacked);
        if (!(e->unpacked = malloc(n))) {
            e->unpacked_cap = 0;
            return VS_ERR_NOMEM;
        }
        e->unpacked_cap = n;
    }
    const unsigned char *b = q->w.data;
    for (size_t i = 0; i < n; i++)
        e->unpacked[i] = (int8_t)((int)b[i] - 128);
    *w = e->unpacked;
    return VS_OK;
}

static enum vs_status compute(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct vs_export *e = ctx;
    const struct export_linear *q = find_q(e, module);
    enum vs_status st = q ? grow(e, q->out) : VS_ERR_INTERNAL;
    const int8_t *w = q ? q->w.data : NULL;
    if (st == VS_OK && q->packed)
        st = unpack(e, q, &w);
    if (st != VS_OK)
        return st;
    struct vs_int8_linear l = {.name = q->module, .scheme = q->scheme, .kernel = q->kernel, .out = q->out,
                               .in = q->in, .w = w, .input_scale = q->input_scale, .input_offset = q->input_offset};
    size_t n = (size_t)q->out;
    if (q->quant_bias) { /* ascendv1 W8A8: the Linear's bias is inside quant_bias */
        memcpy(e->qb, q->quant_bias->data, n * sizeof *e->qb);
        if (q->deq_scale->dtype == VS_DTYPE_F32) {
            memcpy(e->deq, q->deq_scale->data, n * sizeof *e->deq);
        } else { /* int64 holding the float32 bit pattern */
            for (size_t o = 0; o < n; o++) {
                int64_t v;
                memcpy(&v, (const int64_t *)q->deq_scale->data + o, sizeof v);
                uint32_t bits = (uint32_t)v;
                memcpy(&e->deq[o], &bits, sizeof bits);
            }
        }
        l.quant_bias = e->qb, l.deq_scale = e->deq;
    } else {
        channel_f32(q->weight_scale, e->ws, n);
        if (q->weight_offset)
            channel_f32(q->weight_offset, e->wo, n);
        if (q->bias)
            vs_convert_to_f32(q->bias->dtype, q->bias->data, e->bias, n);
        l.weight_scale = e->ws, l.weight_offset = q->weight_offset ? e->wo : NULL, l.bias = q->bias ? e->bias : NULL;
    }
    return vs_int8_linear_apply(&l, x, rows, y);
}

void vs_export_hooks(struct vs_export *e, struct vs_linear_hooks *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = e;
    h->computes = computes;
    h->compute = compute;
}

size_t vs_export_quantized_count(const struct vs_export *e) { return e->nq; }
