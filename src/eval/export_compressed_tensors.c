/* The compressed-tensors reader of the export model (docs/compressed_tensors.md, docs/eval.md
 * §1): config.json's quantization_config, its groups matched to the Linears as vLLM's
 * compressed-tensors loader matches them (a module's own name or a `re:` regex, then the class
 * name `Linear`; `ignore` first), each quantized Linear's tensors checked against its group's
 * scheme, computed as vLLM's CUDA kernels do (quant/int8_linear.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "eval/export_internal.h"
#include "io/json_util.h"
#include "quant/quarot.h"
#include "tensor/dtype.h"

#define CONFIG "config.json"
#define QC "quantization_config"

/* One target or ignore entry: a module name, a `re:` regex (matched at the start of the name, as
 * Python's re.match) or a class name. */
struct pattern {
    const char *text;
    pcre2_code *re;
};

struct group {
    const char *name;
    struct pattern *targets;
    size_t n_targets;
    enum vs_int8_scheme scheme;
    bool asymmetric; /* static activations with a zero point */
    bool packed;     /* pack-quantized weights */
    char label[48];
};

struct ct_state {
    char *config_path;
    json_t *config;
    struct group *groups;
    size_t n_groups;
    struct pattern *ignore;
    size_t n_ignore;
    pcre2_match_data *md;
};

static const struct ct_state *state(const struct vs_export *e) { return e->format_state; }

static void free_patterns(struct pattern *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcre2_code_free(p[i].re);
    free(p);
}

static void close_state(struct vs_export *e)
{
    struct ct_state *s = e->format_state;
    if (!s)
        return;
    for (size_t g = 0; g < s->n_groups; g++)
        free_patterns(s->groups[g].targets, s->groups[g].n_targets);
    free(s->groups);
    free_patterns(s->ignore, s->n_ignore);
    pcre2_match_data_free(s->md);
    if (s->config)
        json_decref(s->config);
    free(s->config_path);
    free(s);
}

static bool matches(const struct ct_state *s, const struct pattern *p, const char *name)
{
    if (!p->re)
        return strcmp(p->text, name) == 0;
    return pcre2_match(p->re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0, s->md, NULL) >= 0;
}

static bool any_match(const struct ct_state *s, const struct pattern *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (matches(s, &p[i], name))
            return true;
    return false;
}

/* vLLM's find_matched_target: a name or regex target of any group first, then the class name
 * (every Linear is a `Linear`). NULL: no group. */
static const struct group *group_of(const struct ct_state *s, const char *module)
{
    for (size_t g = 0; g < s->n_groups; g++)
        if (any_match(s, s->groups[g].targets, s->groups[g].n_targets, module))
            return &s->groups[g];
    for (size_t g = 0; g < s->n_groups; g++)
        for (size_t i = 0; i < s->groups[g].n_targets; i++)
            if (!s->groups[g].targets[i].re && !strcmp(s->groups[g].targets[i].text, "Linear"))
                return &s->groups[g];
    return NULL;
}

static bool ignored(const struct ct_state *s, const char *module)
{
    return any_match(s, s->ignore, s->n_ignore, module);
}

static const char *kind(const struct vs_export *e, const char *tensor)
{
    (void)e, (void)tensor;
    return "not quantized";
}

static enum vs_status check_float_linear(const struct vs_export *e, const char *module)
{
    const struct ct_state *s = state(e);
    const struct group *g = ignored(s, module) ? NULL : group_of(s, module);
    if (!g)
        return VS_OK;
    return vs_error_set(VS_ERR_MODEL, "%s: " QC ".config_groups.%s (%s) targets Linear '%s', which is not in ignore, "
                        "but its weight '%s.weight' is float: the loader would expect its quantized tensors",
                        s->config_path, g->name, g->label, module, module);
}

/* QuaRot's rotation, where the run wrote it: compressed-tensors has no place to name it, and
 * vLLM reads only the directory's top-level weight files. */
static enum vs_status rotation_file(const struct vs_export *e, char **rel)
{
    *rel = NULL;
    char *path = vs_path_join(e->dir, VS_QUAROT_EXPORT_FILE);
    if (!path)
        return VS_ERR_NOMEM;
    bool have = vs_fs_exists(path);
    free(path);
    return have && !(*rel = vs_strdup(VS_QUAROT_EXPORT_FILE)) ? VS_ERR_NOMEM : VS_OK;
}

static const struct export_format compressed_tensors = {.name = "compressed-tensors",
                                                        .metadata = CONFIG " " QC,
                                                        .kind = kind,
                                                        .check_float_linear = check_float_linear,
                                                        .rotation_file = rotation_file,
                                                        .close = close_state};

enum vs_status vs_export_is_compressed_tensors(const char *dir, bool *yes)
{
    *yes = false;
    char *path = vs_path_join(dir, CONFIG);
    if (!path)
        return VS_ERR_NOMEM;
    json_t *cfg = NULL;
    enum vs_status st = vs_fs_exists(path) ? vs_json_load_file(path, &cfg) : VS_OK;
    const char *method = json_string_value(json_object_get(json_object_get(cfg, QC), "quant_method"));
    *yes = method && !strcmp(method, "compressed-tensors");
    json_decref(cfg);
    free(path);
    return st;
}

static enum vs_status read_patterns(struct ct_state *s, json_t *list, const char *where, struct pattern **out,
                                    size_t *n)
{
    *out = NULL, *n = 0;
    if (!list || json_is_null(list))
        return VS_OK;
    if (!json_is_array(list))
        return vs_error_set(VS_ERR_MODEL, "%s: %s is not a list of names", s->config_path, where);
    if (!(*out = calloc(json_array_size(list) + 1, sizeof **out)))
        return VS_ERR_NOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *t = json_string_value(v);
        if (!t)
            return vs_error_set(VS_ERR_MODEL, "%s: %s[%zu] is not a string", s->config_path, where, i);
        struct pattern *p = &(*out)[(*n)++];
        p->text = t;
        if (strncmp(t, "re:", 3) != 0)
            continue;
        int err;
        PCRE2_SIZE off;
        if (!(p->re = pcre2_compile((PCRE2_SPTR)(t + 3), PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &err, &off, NULL))) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(err, msg, sizeof msg);
            return vs_error_set(VS_ERR_MODEL, "%s: %s[%zu] '%s': at %zu: %s", s->config_path, where, i, t, (size_t)off,
                                (const char *)msg);
        }
    }
    return VS_OK;
}

/* A group's weights and input_activations: the schemes vLLM's int8 paths take. */
static enum vs_status read_scheme(struct ct_state *s, struct group *g, json_t *jg, const char *top_format)
{
    json_t *w = json_object_get(jg, "weights"), *a = json_object_get(jg, "input_activations");
    const char *format = json_string_value(json_object_get(jg, "format"));
    format = format ? format : top_format;
    if (!json_is_object(w))
        return vs_error_set(VS_ERR_MODEL, "%s: " QC ".config_groups.%s has no weights", s->config_path, g->name);
    const char *wtype = json_string_value(json_object_get(w, "type"));
    const char *wstrategy = json_string_value(json_object_get(w, "strategy"));
    if (json_integer_value(json_object_get(w, "num_bits")) != 8 || !wtype || strcmp(wtype, "int") != 0 ||
        !json_is_true(json_object_get(w, "symmetric")) || !wstrategy ||
        (strcmp(wstrategy, "channel") != 0 && strcmp(wstrategy, "tensor") != 0))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: " QC ".config_groups.%s.weights: vlmslim eval computes symmetric "
                            "8-bit int weights per channel or tensor (num_bits 8, type int, symmetric true, strategy "
                            "channel or tensor)", s->config_path, g->name);
    if (!format || (strcmp(format, "int-quantized") != 0 && strcmp(format, "pack-quantized") != 0))
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: " QC ".config_groups.%s: format %s; vlmslim eval reads "
                            "int-quantized and pack-quantized weights", s->config_path, g->name,
                            format ? format : "(none)");
    g->packed = strcmp(format, "pack-quantized") == 0;
    if (!a || json_is_null(a)) {
        if (!g->packed)
            return vs_error_set(VS_ERR_UNSUPPORTED, "%s: " QC ".config_groups.%s: weight-only int8 in the int-quantized "
                                "format has no vLLM kernel (W8A16 is pack-quantized)", s->config_path, g->name);
        g->scheme = VS_INT8_W8A16;
        snprintf(g->label, sizeof g->label, "W8A16");
        return VS_OK;
    }
    const char *atype = json_string_value(json_object_get(a, "type"));
    const char *astrategy = json_string_value(json_object_get(a, "strategy"));
    bool dynamic = json_is_true(json_object_get(a, "dynamic")), sym = json_is_true(json_object_get(a, "symmetric"));
    bool ok = !g->packed && json_integer_value(json_object_get(a, "num_bits")) == 8 && atype &&
              !strcmp(atype, "int") && astrategy;
    if (ok && dynamic && sym && !strcmp(astrategy, "token")) {
        g->scheme = VS_INT8_W8A8_DYNAMIC;
        snprintf(g->label, sizeof g->label, "W8A8 dynamic per token");
    } else if (ok && !dynamic && !strcmp(astrategy, "tensor")) {
        g->scheme = VS_INT8_W8A8, g->asymmetric = !sym;
        snprintf(g->label, sizeof g->label, "W8A8 static%s", sym ? "" : " asymmetric");
    } else {
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: " QC ".config_groups.%s.input_activations: vlmslim eval computes "
                            "8-bit int activations, static per tensor or dynamic symmetric per token, with "
                            "int-quantized weights", s->config_path, g->name);
    }
    return VS_OK;
}

static enum vs_status read_config(struct ct_state *s)
{
    enum vs_status st = vs_json_load_file(s->config_path, &s->config);
    if (st != VS_OK)
        return st;
    json_t *qc = json_object_get(s->config, QC), *groups = json_object_get(qc, "config_groups");
    const char *status = json_string_value(json_object_get(qc, "quantization_status"));
    if (status && strcmp(status, "compressed") != 0)
        return vs_error_set(VS_ERR_UNSUPPORTED, "%s: " QC ".quantization_status is '%s'; vlmslim eval reads compressed "
                            "checkpoints", s->config_path, status);
    if (!json_is_object(groups) || !json_object_size(groups))
        return vs_error_set(VS_ERR_MODEL, "%s: " QC ".config_groups is not an object of groups", s->config_path);
    if ((st = read_patterns(s, json_object_get(qc, "ignore"), QC ".ignore", &s->ignore, &s->n_ignore)) != VS_OK)
        return st;
    if (!(s->groups = calloc(json_object_size(groups), sizeof *s->groups)))
        return VS_ERR_NOMEM;
    const char *top_format = json_string_value(json_object_get(qc, "format"));
    const char *name;
    json_t *jg;
    json_object_foreach(groups, name, jg) {
        struct group *g = &s->groups[s->n_groups++];
        g->name = name;
        char where[200];
        snprintf(where, sizeof where, QC ".config_groups.%s.targets", name);
        if (!json_is_object(jg))
            return vs_error_set(VS_ERR_MODEL, "%s: " QC ".config_groups.%s is not an object", s->config_path, name);
        if ((st = read_patterns(s, json_object_get(jg, "targets"), where, &g->targets, &g->n_targets)) != VS_OK ||
            (st = read_scheme(s, g, jg, top_format)) != VS_OK)
            return st;
    }
    return VS_OK;
}

/* The quantized Linear `module` (the first len bytes; its weight tensor `weight`) by its group. */
static enum vs_status load_linear(struct vs_export *e, struct ct_state *s, const char *module, size_t len,
                                  const struct vs_st_tensor *weight)
{
    char *m = vs_strndup(module, len);
    if (!m)
        return VS_ERR_NOMEM;
    bool ignore = ignored(s, m);
    const struct group *g = ignore ? NULL : group_of(s, m);
    bool packed = weight->dtype == VS_DTYPE_I32;
    enum vs_status st = VS_OK;
    if (!g)
        st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is quantized, but " QC " %s Linear '%s'", weight->file,
                          weight->name, ignore ? "ignores" : "has no group for", m);
    else if (g->packed != packed)
        st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is %s; " QC ".config_groups.%s (%s) holds %s weights",
                          weight->file, weight->name, vs_dtype_name(weight->dtype), g->name, g->label,
                          g->packed ? "pack-quantized I32 weight_packed" : "int-quantized I8 weight");
    free(m);
    if (st != VS_OK)
        return st;
    struct export_linear *q = vs_export_add_linear(e, module, len, g->label);
    if (!q)
        return VS_ERR_NOMEM;
    q->scheme = g->scheme, q->packed = packed;
    q->kernel = strstr(q->module, ".mlp.experts.") && g->scheme == VS_INT8_W8A8_DYNAMIC ? VS_INT8_VLLM_MOE : VS_INT8_VLLM;
    const struct vs_st_tensor *w = weight, *shape = NULL, *scale = NULL, *zp = NULL;
    vs_export_mark(e, weight->name);
    if (w->ndim != 2)
        return vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' of %s Linear '%s' has %d dimension(s), not 2", w->file,
                            w->name, q->type, q->module, w->ndim);
    q->w = *w;
    q->out = w->shape[0], q->in = w->shape[1];
    if (packed) { /* [out, in / 4] int32 words; weight_shape = [out, in] */
        if ((st = vs_export_part(e, q, "weight_shape", VS_DTYPE_I64, VS_DTYPE_I32, 2, false, &shape)) != VS_OK)
            return st;
        int64_t dims[2];
        for (int i = 0; i < 2; i++) {
            if (shape->dtype == VS_DTYPE_I64) {
                memcpy(&dims[i], (const int64_t *)shape->data + i, sizeof dims[i]);
            } else {
                int32_t v;
                memcpy(&v, (const int32_t *)shape->data + i, sizeof v);
                dims[i] = v;
            }
        }
        if (dims[0] != w->shape[0] || dims[1] <= 0 || dims[1] != 4 * w->shape[1])
            return vs_error_set(VS_ERR_MODEL, "%s: '%s.weight_shape' [%lld, %lld] does not fit '%s' [%lld, %lld] of four "
                                "8-bit values per int32", shape->file, q->module, (long long)dims[0],
                                (long long)dims[1], w->name, (long long)w->shape[0], (long long)w->shape[1]);
        q->in = dims[1];
        q->w.dtype = VS_DTYPE_I8, q->w.shape[1] = q->in; /* the packed bytes, read by the hooks only */
    }
    if ((st = vs_export_part(e, q, "weight_scale", VS_DTYPE_COUNT, VS_DTYPE_COUNT, -1, false, &q->weight_scale)) !=
            VS_OK ||
        (st = vs_export_part(e, q, "bias", VS_DTYPE_COUNT, VS_DTYPE_COUNT, q->out, true, &q->bias)) != VS_OK)
        return st;
    int64_t ns = vs_export_numel(q->weight_scale);
    if (ns != q->out && ns != 1)
        return vs_error_set(VS_ERR_MODEL, "%s: '%s.weight_scale' has %lld element(s); expected %lld (per channel) or 1",
                            q->weight_scale->file, q->module, (long long)ns, (long long)q->out);
    if (q->scheme != VS_INT8_W8A8)
        return VS_OK;
    if ((st = vs_export_part(e, q, "input_scale", VS_DTYPE_COUNT, VS_DTYPE_COUNT, 1, false, &scale)) != VS_OK)
        return st;
    float sc;
    vs_convert_to_f32(scale->dtype, scale->data, &sc, 1);
    q->input_scale = sc;
    if (g->asymmetric) {
        if ((st = vs_export_part(e, q, "input_zero_point", VS_DTYPE_I8, VS_DTYPE_I32, 1, false, &zp)) != VS_OK)
            return st;
        if (zp->dtype == VS_DTYPE_I8) {
            q->input_offset = (float)*(const int8_t *)zp->data;
        } else {
            int32_t v;
            memcpy(&v, zp->data, sizeof v);
            q->input_offset = (float)v;
        }
    }
    if (!(q->input_scale > 0) || !isfinite(q->input_scale) || fabsf(q->input_offset) > 128)
        return vs_error_set(VS_ERR_MODEL, "%s: '%s.input_scale' %g / zero point %g: the scale must be positive and "
                            "finite, the zero point an int8", scale->file, q->module, (double)q->input_scale,
                            (double)q->input_offset);
    return VS_OK;
}

enum vs_status vs_export_read_compressed_tensors(struct vs_export *e)
{
    struct ct_state *s = calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    e->format = &compressed_tensors, e->format_state = s;
    if (!(s->config_path = vs_path_join(e->dir, CONFIG)) || !(s->md = pcre2_match_data_create(1, NULL)))
        return VS_ERR_NOMEM;
    enum vs_status st = read_config(s);
    /* the quantized Linears: an I8 `.weight` or an I32 `.weight_packed` */
    for (size_t i = 0; st == VS_OK && i < vs_st_model_count(e->st); i++) {
        const char *name = vs_st_model_name_at(e->st, i);
        const struct vs_st_tensor *t;
        if ((st = vs_st_model_get(e->st, name, &t)) != VS_OK)
            break;
        size_t len = strlen(name);
        if (vs_str_ends_with(name, ".weight") && t->dtype == VS_DTYPE_I8)
            st = load_linear(e, s, name, len - strlen(".weight"), t);
        else if (vs_str_ends_with(name, ".weight_packed") && t->dtype == VS_DTYPE_I32)
            st = load_linear(e, s, name, len - strlen(".weight_packed"), t);
        else if (!vs_dtype_is_float(t->dtype) && !vs_str_ends_with(name, ".weight_shape") &&
                 !vs_str_ends_with(name, ".input_zero_point"))
            st = vs_error_set(VS_ERR_MODEL, "%s: tensor '%s' is %s: neither a float tensor nor a quantized Linear's",
                              t->file, name, vs_dtype_name(t->dtype));
    }
    return st;
}
