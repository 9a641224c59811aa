/* How close a Qwen3-VL(-MoE), Qwen2.5-VL or InternVL export's quantized model is to the float model:
 *   vs-fakequant-logits MODEL_DIR EXPORT_DIR INPUTS_DIR WORK_DIR [OTHER_EXPORT]
 * reads the ascendv1 export as an engine would (W8A8: weight int8 × deq_scale / input_scale per
 * row and the input fake-quantized per tensor with input_scale / input_offset, round half to
 * even, clamp to int8; W8A8_DYNAMIC: weight int8 × weight_scale and the input fake-quantized per
 * token, symmetric; W8A16: weight int8 × weight_scale; FLOAT tensors as stored), writes the
 * dequantized weights to WORK_DIR as a float32 checkpoint, runs it with those activation
 * quantizers and the float checkpoint MODEL_DIR without, over INPUTS_DIR/sample_<i>.safetensors,
 * and prints the cosine similarity of the two last-position logits per sample and
 *   cosine mean M min N
 * A compressed-tensors export (no quant_model_description.json) is read as vLLM reads it: an int8
 * .weight × .weight_scale per row; with .input_scale the input fake-quantized per tensor with it
 * and .input_zero_point (0 if absent), else per token; a W8A16 .weight_packed (four int8 + 128
 * per int32) × .weight_scale with the input in float. With OTHER_EXPORT (a fifth argument) the
 * quantized logits of the two exports are compared instead of each with the float model:
 *   max abs logit difference D of max |logit| L
 * An export's unstacked MoE experts are stacked back into the checkpoint's fused tensors (their
 * inputs fake-quantized under the per-expert names). Not the norm and Linear biases shifted
 * smoothing (symmetric: false) creates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/registry.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"

enum kind { K_W8A8, K_DYNAMIC };
struct act {
    char *module;
    enum kind kind;
    float scale, offset;
};
struct acts {
    struct act *a;
    size_t n;
    float *buf;
    size_t cap;
};

static int fail(const char *what)
{
    fprintf(stderr, "vs-fakequant-logits: %s\n", what ? what : vs_error_message());
    return 1;
}

static float scalar(struct vs_st_model *w, const char *module, const char *suffix, int *ok)
{
    char n[512];
    snprintf(n, sizeof n, "%s.%s", module, suffix);
    const struct vs_st_tensor *t;
    float v = 0;
    if (vs_st_model_get(w, n, &t) != VS_OK || t->dtype != VS_DTYPE_F32 || t->nbytes != 4)
        *ok = 0;
    else
        memcpy(&v, t->data, 4);
    return v;
}

static const float *fake_quant(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols)
{
    struct acts *A = ctx;
    const struct act *a = NULL;
    for (size_t i = 0; i < A->n && !a; i++)
        if (!strcmp(A->a[i].module, module))
            a = &A->a[i];
    if (!a)
        return x;
    size_t n = (size_t)(rows * cols);
    if (n > A->cap) {
        A->buf = realloc(A->buf, n * sizeof *A->buf);
        A->cap = n;
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *y = A->buf + r * cols, s = a->scale, o = a->offset;
        if (a->kind == K_DYNAMIC) {
            float m = 0;
            for (int64_t k = 0; k < cols; k++)
                m = fmaxf(m, fabsf(xr[k]));
            s = fmaxf(m / 127.0f, 1.1920929e-07f);
            o = 0;
        }
        for (int64_t k = 0; k < cols; k++)
            y[k] = (fminf(fmaxf(rintf(xr[k] / s + o), -128.0f), 127.0f) - o) * s;
    }
    return A->buf;
}

/* A compressed-tensors W8A16 weight (pack-quantized: four int8 + 128 per little-endian int32)
 * dequantized with its .weight_scale into <module>.weight of out. */
static int unpack_weight(struct vs_st_model *w, struct vs_st_writer *out, const char *name, const struct vs_st_tensor *t)
{
    char module[512], sn[560];
    snprintf(module, sizeof module, "%.*s", (int)(strlen(name) - 14), name);
    const struct vs_st_tensor *shape, *scale;
    snprintf(sn, sizeof sn, "%s.weight_shape", module);
    if (vs_st_model_get(w, sn, &shape) != VS_OK || shape->dtype != VS_DTYPE_I64 || t->dtype != VS_DTYPE_I32)
        return -1;
    int64_t dims[2];
    memcpy(dims, shape->data, sizeof dims);
    snprintf(sn, sizeof sn, "%s.weight_scale", module);
    if (vs_st_model_get(w, sn, &scale) != VS_OK || scale->dtype != VS_DTYPE_F32 || t->shape[0] != dims[0] ||
        t->shape[1] * 4 != dims[1])
        return -1;
    size_t n = (size_t)(dims[0] * dims[1]);
    float *v = malloc(n * sizeof *v);
    const uint8_t *u = t->data;
    const unsigned char *rs = scale->data; /* (safetensors aligns tensors to nothing) */
    for (size_t i = 0; i < n; i++) {
        float r;
        memcpy(&r, rs + i / (size_t)dims[1] * sizeof r, sizeof r);
        v[i] = (float)((int)u[i] - 128) * r;
    }
    snprintf(sn, sizeof sn, "%s.weight", module);
    int rc = vs_st_writer_add(out, sn, VS_DTYPE_F32, 2, dims, v, n * sizeof *v) == VS_OK ? 0 : -1;
    free(v);
    return rc;
}

/* The export dequantized into WORK_DIR/model.safetensors; activation quantizers into A. */
/* An export's unstacked MoE experts (<layer>.mlp.experts.E.{gate,up,down}_proj.weight,
 * dequantized), stacked back into the checkpoint's fused tensors for the adapter:
 * gate_up_proj [E, H, 2I] (gate then up, transposed) and down_proj [E, I, H]. */
struct expert_w {
    char *layer; /* "<prefix>.mlp.experts" */
    int e, proj; /* proj: 0 gate, 1 up, 2 down */
    float *v;
    int64_t rows, cols;
};
struct experts {
    struct expert_w *w;
    size_t n;
};

static bool stash_expert(struct experts *X, const char *name, float *v, const struct vs_st_tensor *t)
{
    const char *e = strstr(name, ".mlp.experts.");
    if (!e)
        return false;
    static const char *const projs[] = {"gate_proj.weight", "up_proj.weight", "down_proj.weight"};
    char *end;
    long idx = strtol(e + strlen(".mlp.experts."), &end, 10);
    int proj = -1;
    for (int k = 0; k < 3; k++)
        if (*end == '.' && !strcmp(end + 1, projs[k]))
            proj = k;
    if (proj < 0 || t->ndim != 2)
        return false;
    X->w = realloc(X->w, (X->n + 1) * sizeof *X->w);
    X->w[X->n++] = (struct expert_w){.layer = strndup(name, (size_t)(e - name) + strlen(".mlp.experts")), .e = (int)idx,
                                     .proj = proj, .v = v, .rows = t->shape[0], .cols = t->shape[1]};
    return true;
}

static int write_experts(struct experts *X, struct vs_st_writer *out)
{
    for (size_t i = 0; i < X->n; i++) {
        if (!X->w[i].layer)
            continue; /* written with an earlier layer */
        const char *layer = X->w[i].layer;
        int E = 0;
        int64_t I = 0, H = 0;
        for (size_t j = i; j < X->n; j++)
            if (X->w[j].layer && !strcmp(X->w[j].layer, layer)) {
                E = X->w[j].e + 1 > E ? X->w[j].e + 1 : E;
                if (X->w[j].proj == 0)
                    I = X->w[j].rows, H = X->w[j].cols;
            }
        size_t ne = (size_t)E * (size_t)H * (size_t)I;
        float *gu = calloc(2 * ne, sizeof *gu), *dn = calloc(ne, sizeof *dn);
        size_t found = 0;
        for (size_t j = X->n; j-- > i;) {
            struct expert_w *x = &X->w[j];
            if (!x->layer || strcmp(x->layer, layer) != 0)
                continue;
            bool fits = x->proj == 2 ? x->rows == H && x->cols == I : x->rows == I && x->cols == H;
            if (!fits)
                return fail("MoE experts: shapes of one layer differ");
            for (int64_t r = 0; r < x->rows; r++)
                for (int64_t c = 0; c < x->cols; c++) {
                    float val = x->v[r * x->cols + c];
                    if (x->proj == 2) /* down [H, I] -> dn[e][c = i][r = h] */
                        dn[((size_t)x->e * (size_t)I + (size_t)c) * (size_t)H + (size_t)r] = val;
                    else /* gate/up [I, H] -> gu[e][c = h][proj·I + r] */
                        gu[((size_t)x->e * (size_t)H + (size_t)c) * (size_t)(2 * I) + (size_t)(x->proj * I + r)] = val;
                }
            found++;
            free(x->v);
            if (j != i)
                free(x->layer), x->layer = NULL;
        }
        if (found != 3 * (size_t)E)
            return fail("MoE experts: a layer's experts are incomplete");
        char n[600];
        int64_t gs[3] = {E, H, 2 * I}, ds[3] = {E, I, H};
        snprintf(n, sizeof n, "%s.gate_up_proj", layer);
        if (vs_st_writer_add(out, n, VS_DTYPE_F32, 3, gs, gu, 2 * ne * sizeof *gu) != VS_OK)
            return fail(NULL);
        snprintf(n, sizeof n, "%s.down_proj", layer);
        if (vs_st_writer_add(out, n, VS_DTYPE_F32, 3, ds, dn, ne * sizeof *dn) != VS_OK)
            return fail(NULL);
        free(gu), free(dn), free(X->w[i].layer);
        X->w[i].layer = NULL;
    }
    free(X->w);
    return 0;
}

static int dequantize(const char *export_dir, const char *work, struct acts *A)
{
    struct experts X = {0};
    char *desc_path = vs_path_join(export_dir, "quant_model_description.json");
    json_t *desc = NULL;
    struct vs_st_model *w = NULL;
    struct vs_st_writer *out = NULL;
    bool ct = !vs_fs_exists(desc_path); /* compressed-tensors: the types follow from the names */
    if ((!ct && vs_json_load_file(desc_path, &desc) != VS_OK) || vs_st_model_open(export_dir, &w) != VS_OK ||
        vs_fs_mkdirs(work, 0755) != VS_OK || vs_st_writer_open(work, "model", 0, 0644, &out) != VS_OK)
        return fail(NULL);
    free(desc_path);
    for (size_t i = 0; i < vs_st_model_count(w); i++) {
        const char *name = vs_st_model_name_at(w, i);
        const struct vs_st_tensor *t;
        json_t *jt = json_object_get(desc, name);
        const char *type = json_is_string(jt) ? json_string_value(jt) : NULL;
        if (vs_st_model_get(w, name, &t) != VS_OK)
            return fail(NULL);
        size_t nlen = strlen(name);
        if (ct) {
            char in_scale[560];
            snprintf(in_scale, sizeof in_scale, "%.*s.input_scale", nlen > 7 ? (int)(nlen - 7) : 0, name);
            const struct vs_st_tensor *unused;
            bool qweight = t->dtype == VS_DTYPE_I8 && nlen > 7 && !strcmp(name + nlen - 7, ".weight");
            bool param = strstr(name, ".weight_scale") || strstr(name, ".input_scale") ||
                         strstr(name, ".input_zero_point") || strstr(name, ".weight_shape");
            if (nlen > 14 && !strcmp(name + nlen - 14, ".weight_packed")) {
                if (unpack_weight(w, out, name, t) != 0)
                    return fail(name);
                continue;
            }
            type = qweight ? (vs_st_model_get(w, in_scale, &unused) == VS_OK ? "W8A8" : "W8A8_DYNAMIC")
                   : param ? "PARAM"
                           : "FLOAT";
        }
        if (!type)
            return fail("a tensor missing from the description");
        if (strstr(name, "layernorm.bias")) /* the adapter's text layers would not read them */
            return fail("norm biases (shifted smoothing): not modelled");
        size_t len = strlen(name), n = 1;
        for (int k = 0; k < t->ndim; k++)
            n *= (size_t)t->shape[k];
        bool weight = len > 7 && !strcmp(name + len - 7, ".weight");
        float *v = malloc(n * sizeof *v + 4);
        if (!strcmp(type, "FLOAT")) {
            if (vs_convert_to_f32(t->dtype, t->data, v, n) != 0)
                return fail(name);
        } else if (weight && t->dtype == VS_DTYPE_I8) {
            char module[512];
            snprintf(module, sizeof module, "%.*s", (int)(len - 7), name);
            int64_t rows = t->shape[0], cols = t->shape[1];
            float *rs = malloc((size_t)rows * sizeof *rs);
            int ok = 1;
            char sn[560];
            const struct vs_st_tensor *st;
            A->a = realloc(A->a, (A->n + 1) * sizeof *A->a);
            struct act *a = &A->a[A->n];
            *a = (struct act){.module = strdup(module), .kind = K_DYNAMIC};
            if (ct) {
                if (!strcmp(type, "W8A8")) {
                    const struct vs_st_tensor *zp;
                    a->kind = K_W8A8;
                    a->scale = scalar(w, module, "input_scale", &ok);
                    snprintf(sn, sizeof sn, "%s.input_zero_point", module);
                    a->offset = vs_st_model_get(w, sn, &zp) == VS_OK ? (float)*(const int8_t *)zp->data : 0.0f;
                }
                snprintf(sn, sizeof sn, "%s.weight_scale", module);
                if (!ok || vs_st_model_get(w, sn, &st) != VS_OK || st->dtype != VS_DTYPE_F32)
                    return fail(module);
                memcpy(rs, st->data, (size_t)rows * sizeof *rs);
            } else if (!strcmp(type, "W8A8")) {
                a->kind = K_W8A8;
                a->scale = scalar(w, module, "input_scale", &ok);
                a->offset = scalar(w, module, "input_offset", &ok);
                snprintf(sn, sizeof sn, "%s.deq_scale", module);
                if (!ok || vs_st_model_get(w, sn, &st) != VS_OK)
                    return fail(module);
                for (int64_t r = 0; r < rows; r++) { /* deq_scale: F32, or I64 holding float32 bits */
                    float d;
                    if (st->dtype == VS_DTYPE_F32) {
                        memcpy(&d, (const char *)st->data + r * 4, 4);
                    } else {
                        int64_t b;
                        memcpy(&b, (const char *)st->data + r * 8, 8);
                        int32_t b32 = (int32_t)b;
                        memcpy(&d, &b32, 4);
                    }
                    rs[r] = d / a->scale;
                }
            } else {
                snprintf(sn, sizeof sn, "%s.weight_scale", module);
                if (vs_st_model_get(w, sn, &st) != VS_OK || st->dtype != VS_DTYPE_F32)
                    return fail(module);
                memcpy(rs, st->data, (size_t)rows * sizeof *rs);
            }
            if (strcmp(type, "W8A16") != 0)
                A->n++;
            else
                free(a->module);
            const int8_t *q = t->data;
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++)
                    v[r * cols + c] = (float)q[r * cols + c] * rs[r];
            free(rs);
        } else { /* scales, offsets, quant_bias: consumed above */
            free(v);
            continue;
        }
        if (stash_expert(&X, name, v, t))
            continue;
        if (vs_st_writer_add(out, name, VS_DTYPE_F32, t->ndim, t->shape, v, n * sizeof *v) != VS_OK)
            return fail(NULL);
        free(v);
    }
    if (write_experts(&X, out) != 0)
        return 1;
    if (vs_st_writer_close(out) != VS_OK)
        return fail(NULL);
    /* config.json, and tokenizer.json where there is one (InternVL reads its image token id there) */
    static const char *const side[] = {"config.json", "tokenizer.json"};
    for (int k = 0; k < 2; k++) {
        char *src = vs_path_join(export_dir, side[k]), *dst = vs_path_join(work, side[k]);
        if ((k == 0 || vs_fs_is_file(src)) && vs_fs_copy_file(src, dst, 0644) != VS_OK)
            return fail(NULL);
        free(src), free(dst);
    }
    json_decref(desc);
    vs_st_model_close(w);
    return 0;
}

/* The built-in adapter of the checkpoint's family: the one keyed by config.json's model_type
 * (InternVL's internvl_chat is the folder internvl), else the dense Qwen3-VL one. */
static const struct vs_adapter_ops *adapter_of(const char *dir)
{
    char *p = vs_path_join(dir, "config.json");
    json_t *cfg = NULL;
    const struct vs_adapter_ops *ops = NULL;
    if (p && vs_json_load_file(p, &cfg) == VS_OK && json_is_string(json_object_get(cfg, "model_type"))) {
        const char *type = json_string_value(json_object_get(cfg, "model_type"));
        ops = vs_builtin_adapter(strcmp(type, "internvl_chat") ? type : "internvl");
    }
    json_decref(cfg);
    free(p);
    return ops ? ops : vs_builtin_adapter("qwen3_vl");
}

/* Last-position logits of every sample (caller frees), with hooks on every unit. */
static int logits_of(const char *dir, const char *inputs, const struct vs_linear_hooks *hooks, float ***out,
                     int64_t *vocab, size_t *count)
{
    const struct vs_adapter_ops *ops = adapter_of(dir);
    struct vs_model *m;
    struct vs_layerwise *lw;
    if (ops->open(dir, "fakequant", &m) != VS_OK || vs_layerwise_open(ops, m, UINT64_MAX, NULL, &lw) != VS_OK)
        return fail(NULL);
    for (size_t i = 0;; i++) {
        char name[64];
        snprintf(name, sizeof name, "sample_%zu.safetensors", i);
        char *p = vs_path_join(inputs, name);
        struct vs_model_inputs in;
        if (!vs_fs_exists(p)) {
            free(p);
            break;
        }
        if (vs_model_inputs_read(p, &in) != VS_OK || vs_layerwise_add_sample(lw, &in) != VS_OK)
            return fail(NULL);
        vs_model_inputs_free(&in);
        free(p);
    }
    for (size_t i = 0; i < ops->unit_count(m); i++) {
        struct vs_unit *u;
        struct vs_unit_f32 *f;
        if (ops->unit_load(m, i, &u) != VS_OK || vs_unit_f32_make(u, &f) != VS_OK ||
            vs_layerwise_run_unit(lw, i, f->unit, hooks, false, true, NULL, NULL) != VS_OK)
            return fail(NULL);
        vs_unit_f32_free(f);
        vs_unit_free(u);
    }
    *count = vs_layerwise_count(lw);
    *out = calloc(*count + 1, sizeof **out);
    for (size_t j = 0; j < *count; j++)
        if (vs_layerwise_logits(lw, j, &(*out)[j], vocab) != VS_OK)
            return fail(NULL);
    vs_layerwise_close(lw);
    ops->close(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: vs-fakequant-logits MODEL_DIR EXPORT_DIR INPUTS_DIR WORK_DIR [OTHER_EXPORT]\n");
        return 2;
    }
    struct acts A = {0}, B = {0};
    float **ref, **got;
    int64_t vocab;
    size_t n, n2;
    char *other_work = vs_path_join(argv[4], "other");
    struct vs_linear_hooks hb = {.transform_input = fake_quant, .ctx = &B};
    if (dequantize(argv[2], argv[4], &A) ||
        (argc == 6 ? dequantize(argv[5], other_work, &B) || logits_of(other_work, argv[3], &hb, &ref, &vocab, &n)
                   : logits_of(argv[1], argv[3], NULL, &ref, &vocab, &n)))
        return 1;
    struct vs_linear_hooks h = {.transform_input = fake_quant, .ctx = &A};
    if (logits_of(argv[4], argv[3], &h, &got, &vocab, &n2) || n != n2 || n == 0)
        return fail(n == 0 ? "no samples" : NULL);
    if (argc == 6) {
        double d = 0, m = 0;
        for (size_t j = 0; j < n; j++)
            for (int64_t k = 0; k < vocab; k++) {
                d = fmax(d, fabs((double)ref[j][k] - got[j][k]));
                m = fmax(m, fabs((double)ref[j][k]));
            }
        printf("max abs logit difference %.3g of max |logit| %.3g\n", d, m);
    }
    free(other_work);
    if (argc == 6) {
        for (size_t j = 0; j < n; j++)
            free(ref[j]), free(got[j]);
        free(ref), free(got), free(A.buf), free(B.buf);
        for (size_t i = 0; i < A.n; i++)
            free(A.a[i].module);
        for (size_t i = 0; i < B.n; i++)
            free(B.a[i].module);
        free(A.a), free(B.a);
        return 0;
    }
    double sum = 0, mn = 1;
    for (size_t j = 0; j < n; j++) {
        double dot = 0, a2 = 0, b2 = 0;
        for (int64_t k = 0; k < vocab; k++) {
            dot += (double)ref[j][k] * got[j][k];
            a2 += (double)ref[j][k] * ref[j][k];
            b2 += (double)got[j][k] * got[j][k];
        }
        double c = dot / sqrt(a2 * b2);
        printf("sample %zu: cosine %.6f\n", j, c);
        sum += c;
        mn = c < mn ? c : mn;
        free(ref[j]), free(got[j]);
    }
    printf("cosine mean %.6f min %.6f\n", sum / (double)n, mn);
    free(ref), free(got), free(A.buf);
    for (size_t i = 0; i < A.n; i++)
        free(A.a[i].module);
    free(A.a);
    return 0;
}
