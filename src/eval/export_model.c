#include "eval/export_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "quant/int8_linear.h"
#include "tensor/dtype.h"

#define DESCRIPTION "quant_model_description.json"

struct qlinear {
    char *module;
    const char *type; /* the description's */
    enum vs_int8_scheme scheme;
    int64_t out, in;
    const struct vs_st_tensor *w, *quant_bias, *deq_scale, *weight_scale, *weight_offset, *bias;
    float input_scale, input_offset;
};

struct vs_export {
    char *dir, *desc_path;
    struct vs_st_model *st;
    json_t *desc;
    unsigned char *used; /* per tensor of st, in its sorted order */
    struct qlinear *q;   /* sorted by module */
    size_t nq;
    /* scratch for one call: the per-channel vectors as aligned float32 / int32 */
    float *deq, *ws, *wo, *bias;
    int32_t *qb;
    size_t cap;
    float *rotation; /* QuaRot's R, read on demand */
    int64_t rotation_n;
    bool rotation_read;
};

/* The description's keys that are not tensors (msmodelslim_vlm_spec.md §7.2). */
static bool is_global_key(const char *k)
{
    static const char *const globals[] = {"version", "model_quant_type", "metadata", "group_size", "optional",
                                          "kv_cache_type", "kv_quant_type", "fa_quant_type", NULL};
    for (size_t i = 0; globals[i]; i++)
        if (!strcmp(k, globals[i]))
            return true;
    return false;
}

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

static void mark(struct vs_export *e, const char *name)
{
    size_t i = index_of(e, name);
    if (i != (size_t)-1)
        e->used[i] = 1;
}

static int cmp_q(const void *a, const void *b)
{
    return strcmp(((const struct qlinear *)a)->module, ((const struct qlinear *)b)->module);
}

static struct qlinear *find_q(const struct vs_export *e, const char *module)
{
    struct qlinear key = {.module = (char *)module};
    return e->nq ? bsearch(&key, e->q, e->nq, sizeof *e->q, cmp_q) : NULL;
}

static int64_t numel(const struct vs_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

/* Tensor `<module>.<suffix>` of a quantized Linear, of dtype `dt` (or `dt2`, VS_DTYPE_COUNT for
 * none) and `n` elements (n < 0: any). */
static enum vs_status part(struct vs_export *e, const struct qlinear *q, const char *suffix, enum vs_dtype dt,
                           enum vs_dtype dt2, int64_t n, bool optional, const struct vs_st_tensor **out)
{
    char name[600];
    snprintf(name, sizeof name, "%s.%s", q->module, suffix);
    *out = NULL;
    if (!vs_st_model_has(e->st, name)) {
        if (optional)
            return VS_OK;
        return vs_error_set(VS_ERR_MODEL, "%s: %s Linear '%s' has no tensor '%s'", e->desc_path, q->type, q->module,
                            name);
    }
    const struct vs_st_tensor *t;
    enum vs_status st = vs_st_model_get(e->st, name, &t);
    if (st != VS_OK)
        return st;
    bool dtype_ok = dt == VS_DTYPE_COUNT ? vs_dtype_is_float(t->dtype) : (t->dtype == dt || t->dtype == dt2);
    if (!dtype_ok || (n >= 0 && numel(t) != n))
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' of %s Linear '%s' is %s with %lld element(s); expected %s%s%s "
                            "with %lld", t->file, name, q->type, q->module, vs_dtype_name(t->dtype),
                            (long long)numel(t), dt == VS_DTYPE_COUNT ? "a float type" : vs_dtype_name(dt),
                            dt2 != VS_DTYPE_COUNT ? " or " : "", dt2 != VS_DTYPE_COUNT ? vs_dtype_name(dt2) : "",
                            (long long)n);
    mark(e, name);
    *out = t;
    return VS_OK;
}

static float scalar_f32(const struct vs_st_tensor *t)
{
    float v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

/* Checks a quantized Linear's tensors against its type and reads its activation parameters. */
static enum vs_status load_q(struct vs_export *e, struct qlinear *q)
{
    enum vs_status st = part(e, q, "weight", VS_DTYPE_I8, VS_DTYPE_COUNT, -1, false, &q->w);
    if (st != VS_OK)
        return st;
    if (q->w->ndim != 2)
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s.weight' of %s Linear '%s' has %d dimension(s), not 2",
                            q->w->file, q->module, q->type, q->module, q->w->ndim);
    q->out = q->w->shape[0], q->in = q->w->shape[1];
    const struct vs_st_tensor *scale = NULL, *offset = NULL;
    switch (q->scheme) {
    case VS_INT8_W8A8:
        if ((st = part(e, q, "quant_bias", VS_DTYPE_I32, VS_DTYPE_COUNT, q->out, false, &q->quant_bias)) == VS_OK &&
            (st = part(e, q, "deq_scale", VS_DTYPE_F32, VS_DTYPE_I64, q->out, false, &q->deq_scale)) == VS_OK &&
            (st = part(e, q, "input_scale", VS_DTYPE_F32, VS_DTYPE_COUNT, 1, false, &scale)) == VS_OK &&
            (st = part(e, q, "input_offset", VS_DTYPE_F32, VS_DTYPE_COUNT, 1, false, &offset)) == VS_OK)
            st = part(e, q, "bias", VS_DTYPE_COUNT, VS_DTYPE_COUNT, q->out, true, &q->bias); /* inside quant_bias */
        if (st != VS_OK)
            return st;
        q->input_scale = scalar_f32(scale), q->input_offset = scalar_f32(offset);
        if (!(q->input_scale > 0) || !isfinite(q->input_scale) || !isfinite(q->input_offset))
            return vs_error_set(VS_ERR_MODEL, "%s: '%s.input_scale' %g / '%s.input_offset' %g: the scale must be positive "
                                "and both finite", scale->file, q->module, (double)q->input_scale, q->module,
                                (double)q->input_offset);
        return VS_OK;
    case VS_INT8_W8A8_DYNAMIC:
    case VS_INT8_W8A16:
        if ((st = part(e, q, "weight_scale", VS_DTYPE_F32, VS_DTYPE_COUNT, q->out, false, &q->weight_scale)) == VS_OK &&
            (st = part(e, q, "weight_offset", VS_DTYPE_F32, VS_DTYPE_COUNT, q->out, false, &q->weight_offset)) == VS_OK)
            st = part(e, q, "bias", VS_DTYPE_COUNT, VS_DTYPE_COUNT, q->out, true, &q->bias);
        if (st != VS_OK || q->scheme != VS_INT8_W8A8_DYNAMIC)
            return st;
        for (int64_t o = 0; o < q->out; o++) { /* the dynamic kernels take no weight offset */
            float v;
            memcpy(&v, (const float *)q->weight_offset->data + o, sizeof v);
            if (v != 0.0f)
                return vs_error_set(VS_ERR_MODEL, "%s: '%s.weight_offset' row %lld is %g: W8A8_DYNAMIC weights must be "
                                    "symmetric", q->weight_offset->file, q->module, (long long)o, (double)v);
        }
        return VS_OK;
    }
    return VS_ERR_INTERNAL;
}

static enum vs_status read_description(struct vs_export *e)
{
    json_error_t jerr;
    if (!vs_fs_exists(e->desc_path))
        return vs_error_set(VS_ERR_USAGE, "--quant_path %s: no %s (not an ascendv1 export)", e->dir, DESCRIPTION);
    if (!(e->desc = json_load_file(e->desc_path, 0, &jerr)))
        return vs_error_set(VS_ERR_MODEL, "%s:%d: %s", e->desc_path, jerr.line, jerr.text);
    if (!json_is_object(e->desc))
        return vs_error_set(VS_ERR_MODEL, "%s: not a JSON object", e->desc_path);
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach(e->desc, k, v) {
        if (is_global_key(k))
            continue;
        if (!json_is_string(v))
            return vs_error_set(VS_ERR_MODEL, "%s: key '%s': the type must be a string", e->desc_path, k);
        if (!vs_st_model_has(e->st, k))
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' (%s) is in no weight file of %s", e->desc_path, k,
                                json_string_value(v), e->dir);
        n++;
    }
    for (size_t i = 0; i < vs_st_model_count(e->st); i++) {
        const char *name = vs_st_model_name_at(e->st, i);
        if (!json_is_string(json_object_get(e->desc, name)) || is_global_key(name)) {
            const struct vs_st_tensor *t;
            vs_st_model_get(e->st, name, &t);
            return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is not in %s", t->file, name, e->desc_path);
        }
    }
    /* the quantized Linears: a `.weight` of a quantized type */
    if (!(e->q = calloc(n ? n : 1, sizeof *e->q)))
        return VS_ERR_NOMEM;
    json_object_foreach(e->desc, k, v) {
        size_t len = strlen(k);
        const char *type = json_string_value(v);
        if (is_global_key(k) || len < 8 || strcmp(k + len - 7, ".weight") != 0 || !strcmp(type, "FLOAT"))
            continue;
        struct qlinear *q = &e->q[e->nq];
        if (!strcmp(type, "W8A8"))
            q->scheme = VS_INT8_W8A8;
        else if (!strcmp(type, "W8A8_DYNAMIC"))
            q->scheme = VS_INT8_W8A8_DYNAMIC;
        else if (!strcmp(type, "W8A16"))
            q->scheme = VS_INT8_W8A16;
        else
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; vlmslim eval computes FLOAT, W8A8, "
                                "W8A8_DYNAMIC and W8A16 Linears", e->desc_path, k, type);
        q->type = type;
        if (!(q->module = vs_strndup(k, len - 7)))
            return VS_ERR_NOMEM;
        e->nq++;
        enum vs_status st = load_q(e, q);
        if (st != VS_OK)
            return st;
    }
    qsort(e->q, e->nq, sizeof *e->q, cmp_q);
    return VS_OK;
}

enum vs_status vs_export_open(const char *dir, struct vs_export **out)
{
    *out = NULL;
    if (!vs_fs_is_dir(dir))
        return vs_error_set(VS_ERR_USAGE, "--quant_path %s: %s", dir, vs_fs_exists(dir) ? "is not a directory"
                                                                                       : "does not exist");
    struct vs_export *e = calloc(1, sizeof *e);
    if (!e || !(e->dir = vs_strdup(dir)) || !(e->desc_path = vs_path_join(dir, DESCRIPTION))) {
        vs_export_close(e);
        return VS_ERR_NOMEM;
    }
    enum vs_status st = vs_fs_exists(e->desc_path) ? vs_st_model_open(dir, &e->st) : VS_OK;
    if (st == VS_OK && e->st && !(e->used = calloc(vs_st_model_count(e->st) + 1, 1)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK)
        st = read_description(e);
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
    for (size_t i = 0; i < e->nq; i++)
        free(e->q[i].module);
    free(e->q);
    free(e->used);
    if (e->desc)
        json_decref(e->desc);
    if (e->st)
        vs_st_model_close(e->st);
    free(e->deq), free(e->ws), free(e->wo), free(e->bias), free(e->qb);
    free(e->rotation);
    free(e->dir), free(e->desc_path);
    free(e);
}

const char *vs_export_dir(const struct vs_export *e) { return e->dir; }


/* The export's float tensor `name` for a parameter of shape (ndim, shape). */
static enum vs_status float_tensor(struct vs_export *e, const char *name, int ndim, const int64_t *shape,
                                   const struct vs_st_tensor **out)
{
    if (!vs_st_model_has(e->st, name))
        return vs_error_set(VS_ERR_MODEL, "%s: the model's '%s' is in neither %s nor its weight files", e->dir, name,
                            DESCRIPTION);
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
                            t->file, name, json_string_value(json_object_get(e->desc, name)), vs_dtype_name(t->dtype),
                            got, want);
    }
    mark(e, name);
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
        const struct qlinear *q = l ? find_q(e, l->name) : NULL;
        const struct vs_st_tensor *t;
        if (q) {
            if (q->out != p->shape[0] || q->in != p->shape[1])
                st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is [%lld, %lld]; the model's Linear is [%lld, %lld]",
                                  q->w->file, p->name, (long long)q->out, (long long)q->in, (long long)p->shape[0],
                                  (long long)p->shape[1]);
            else
                st = vs_unit_add_param(v, p->name, q->w);
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
                            "would ignore it", t->file, name, json_string_value(json_object_get(e->desc, name)));
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
    json_t *rel = json_object_get(json_object_get(json_object_get(json_object_get(e->desc, "optional"), "quarot"),
                                                  "rotation_map"), "global_rotation");
    if (!rel)
        return VS_OK;
    if (!json_is_string(rel))
        return vs_error_set(VS_ERR_MODEL, "%s: optional.quarot.rotation_map.global_rotation is not a path",
                            e->desc_path);
    char *path = vs_path_join(e->dir, json_string_value(rel));
    struct vs_st_file *f = NULL;
    enum vs_status st = path ? vs_st_file_open(path, &f) : VS_ERR_NOMEM;
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
    const struct qlinear *q = find_q(ctx, module);
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

static enum vs_status compute(void *ctx, const char *module, const float *x, int64_t rows, float *y)
{
    struct vs_export *e = ctx;
    const struct qlinear *q = find_q(e, module);
    enum vs_status st = q ? grow(e, q->out) : VS_ERR_INTERNAL;
    if (st != VS_OK)
        return st;
    struct vs_int8_linear l = {.name = q->module, .scheme = q->scheme, .out = q->out, .in = q->in, .w = q->w->data,
                               .input_scale = q->input_scale, .input_offset = q->input_offset};
    size_t n = (size_t)q->out;
    if (q->scheme == VS_INT8_W8A8) {
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
        memcpy(e->ws, q->weight_scale->data, n * sizeof *e->ws);
        memcpy(e->wo, q->weight_offset->data, n * sizeof *e->wo);
        if (q->bias)
            vs_convert_to_f32(q->bias->dtype, q->bias->data, e->bias, n);
        l.weight_scale = e->ws, l.weight_offset = e->wo, l.bias = q->bias ? e->bias : NULL;
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
