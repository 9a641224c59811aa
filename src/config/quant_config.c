/* Validation of the multimodal_vlm_modelslim_v1 schema (msModelSlim's PracticeConfig,
 * multimodal_vlm_v1 QuantConfig and processor configs) into typed structs.
 *
 * Like msModelSlim's pydantic models, every mapping below the top level forbids unknown
 * keys, and scalar fields are coerced the way pydantic's lax mode does: a float field takes
 * an integer or a numeric string (so PyYAML's string "1e-5" is 1e-5), an integer field an
 * integral float or a digit string, a boolean field 0/1 or the strings true/false/yes/no/
 * on/off/t/f/y/n/1/0. An explicit null is an error unless the field is Optional upstream.
 * Every message is one line: "<file>:<line>: <key path>: <what is wrong>". */
#include "config/quant_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "io/yaml_doc.h"

#define PATH_LEN 1100
#define MAX_PATTERN_LEN 200
#define MAX_CONFIG_ID_LEN 200

/* ---- names ---- */

static const char *const QDTYPE_NAMES[] = {"float", "int8", "int4", "mxfp8", "mxfp4", "fp8_e4m3", NULL};
static const char *const QSCOPE_NAMES[] = {"per_tensor", "per_channel", "per_group", "per_block",
                                           "per_token",  "pd_mix",      "per_head",  "dual_scale", NULL};
static const char *const PROC_NAMES[] = {
    "linear_quant", "iter_smooth",      "smooth_quant", "flex_smooth_quant", "flex_awq_ssz",
    "awq",          "quarot",           "online_quarot", "kv_smooth",        "dynamic_cache",
    "fa3_quant",    "autoround_quant",  "flatquant",    "float_sparse",      "svd_res",
    "adapt_rotation", "module_func",    "group",        "load",              "ascendv1_saver",
    "ascendv1_saver_distributed", "mindie_format_saver", "compressed_tensors_saver", NULL};
/* The types spec.save is for (listed when one there is unknown). */
static const char *const SAVER_NAMES[] = {"ascendv1_saver", "ascendv1_saver_distributed", "mindie_format_saver",
                                          "compressed_tensors_saver", NULL};
static const char *const RUNNER_NAMES[] = {"auto", "model_wise", "layer_wise", "dp_layer_wise", NULL};
static const char *const SUBGRAPH_NAMES[] = {"norm-linear", "linear-linear", "ov", "up-down", NULL};

const char *vs_qdtype_name(enum vs_qdtype d)
{
    return (unsigned)d < sizeof QDTYPE_NAMES / sizeof *QDTYPE_NAMES - 1 ? QDTYPE_NAMES[d] : "?";
}

const char *vs_qscope_name(enum vs_qscope s)
{
    return (unsigned)s < sizeof QSCOPE_NAMES / sizeof *QSCOPE_NAMES - 1 ? QSCOPE_NAMES[s] : "?";
}

const char *vs_proc_type_name(enum vs_proc_type t)
{
    return (unsigned)t < VS_PROC_COUNT ? PROC_NAMES[t] : "?";
}

/* ---- registered quantizers (msmodelslim/core/quantizer/impl/, spec §5.1) ---- */

enum qside { Q_ACT, Q_WEIGHT, Q_ANY };

struct qimpl {
    enum qside side;
    enum vs_qdtype dtype;
    enum vs_qscope scope;
    bool symmetric;
    const char *method;
};

static const struct qimpl QUANTIZERS[] = {
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TENSOR, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TENSOR, false, "minmax"},
    {Q_ACT, VS_QDT_FP8_E4M3, VS_QS_PER_TENSOR, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TOKEN, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TOKEN, false, "minmax"},
    {Q_ACT, VS_QDT_FP8_E4M3, VS_QS_PER_TOKEN, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_CHANNEL, false, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PD_MIX, false, "minmax"},
    {Q_ACT, VS_QDT_MXFP8, VS_QS_PER_BLOCK, true, "minmax"},
    {Q_ACT, VS_QDT_MXFP4, VS_QS_PER_BLOCK, true, "minmax"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TENSOR, true, "histogram"},
    {Q_ACT, VS_QDT_INT8, VS_QS_PER_TENSOR, false, "histogram"},
    {Q_ACT, VS_QDT_FLOAT, VS_QS_PER_TENSOR, true, "none"},
    {Q_ACT, VS_QDT_MXFP4, VS_QS_DUAL_SCALE, true, "dualscale"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_CHANNEL, true, "minmax"},
    {Q_WEIGHT, VS_QDT_FP8_E4M3, VS_QS_PER_CHANNEL, true, "minmax"},
    {Q_WEIGHT, VS_QDT_MXFP8, VS_QS_PER_BLOCK, true, "minmax"},
    {Q_WEIGHT, VS_QDT_MXFP4, VS_QS_PER_BLOCK, true, "minmax"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "ssz"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_CHANNEL, true, "ssz"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "gptq"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_CHANNEL, false, "gptq"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_CHANNEL, true, "gptq"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_CHANNEL, false, "gptq"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_GROUP, true, "gptq"},
    {Q_WEIGHT, VS_QDT_INT8, VS_QS_PER_GROUP, false, "gptq"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_GROUP, true, "gptq"},
    {Q_WEIGHT, VS_QDT_INT4, VS_QS_PER_GROUP, false, "gptq"},
    {Q_WEIGHT, VS_QDT_MXFP4, VS_QS_PER_BLOCK, true, "ceil_x"},
    {Q_WEIGHT, VS_QDT_MXFP8, VS_QS_PER_BLOCK, true, "mse_round"},
    {Q_WEIGHT, VS_QDT_MXFP4, VS_QS_PER_BLOCK, true, "fouroversix"},
    {Q_WEIGHT, VS_QDT_MXFP4, VS_QS_DUAL_SCALE, true, "dualscale"},
};

/* ---- messages ---- */

struct ctx {
    const char *file;
    const struct vs_yaml_doc *doc;
};

static enum vs_status err_at(const struct ctx *c, enum vs_status code, int line, const char *path,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum vs_status err_at(const struct ctx *c, enum vs_status code, int line, const char *path,
                             const char *fmt, ...)
{
    char msg[VS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return vs_error_set(code, "%s:%d: %s: %s", c->file, line, path, msg);
    return vs_error_set(code, "%s: %s: %s", c->file, path, msg);
}

static void join_names(const char *const *names, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", names[i]);
}

static void describe(const json_t *v, char *out, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: snprintf(out, n, "'%.80s'", json_string_value(v)); break;
    case JSON_INTEGER: snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, n, "%g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, n, "true"); break;
    case JSON_FALSE: snprintf(out, n, "false"); break;
    case JSON_NULL: snprintf(out, n, "null"); break;
    case JSON_OBJECT: snprintf(out, n, "a mapping"); break;
    case JSON_ARRAY: snprintf(out, n, "a list"); break;
    }
}

static int in_names(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Key paths are only for messages, so truncating an absurdly long one is fine. */
static void path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* A field `key` of mapping `obj` (whose path is ppath): where it is, for messages. */
struct fld {
    const struct ctx *c;
    const json_t *v; /* NULL when absent */
    char path[PATH_LEN];
    int line;
};

static void fld_key(struct fld *f, const struct ctx *c, const json_t *obj, const char *ppath, const char *key)
{
    f->c = c;
    f->v = json_object_get(obj, key);
    path_fmt(f->path, sizeof f->path, "%s%s%s", ppath, *ppath ? "." : "", key);
    f->line = vs_yaml_doc_key_line(c->doc, obj, key);
    if (!f->line && json_object_size(obj)) /* absent: point into the mapping (its first key) */
        f->line = vs_yaml_doc_key_line(c->doc, obj, json_object_iter_key(json_object_iter((json_t *)obj)));
}

static void fld_item(struct fld *f, const struct ctx *c, const json_t *arr, const char *ppath, size_t i)
{
    f->c = c;
    f->v = json_array_get(arr, i);
    path_fmt(f->path, sizeof f->path, "%s[%zu]", ppath, i);
    f->line = vs_yaml_doc_item_line(c->doc, arr, i);
}

static enum vs_status fld_err(const struct fld *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum vs_status fld_err(const struct fld *f, const char *fmt, ...)
{
    char msg[VS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_at(f->c, VS_ERR_CONFIG, f->line, f->path, "%s", msg);
}

static enum vs_status type_err(const struct fld *f, const char *expected)
{
    char got[128];
    describe(f->v, got, sizeof got);
    return fld_err(f, "expected %s, got %s", expected, got);
}

static enum vs_status missing(const struct fld *f) { return fld_err(f, "missing required key"); }

static bool is_null(const struct fld *f) { return f->v && json_is_null(f->v); }

/* ---- scalar getters (absent: *out untouched) ---- */

static bool parse_float_text(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || strpbrk(s, "xXpP"))
        return false;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

static enum vs_status get_float(const struct fld *f, double *out)
{
    if (!f->v)
        return VS_OK;
    if (json_is_integer(f->v) || json_is_real(f->v))
        *out = json_number_value(f->v);
    else if (!json_is_string(f->v) || !parse_float_text(json_string_value(f->v), out))
        return type_err(f, "a number");
    return VS_OK;
}

static enum vs_status get_int(const struct fld *f, int64_t *out)
{
    if (!f->v)
        return VS_OK;
    if (json_is_integer(f->v)) {
        *out = json_integer_value(f->v);
        return VS_OK;
    }
    if (json_is_real(f->v)) {
        double d = json_real_value(f->v);
        if (d == floor(d) && fabs(d) < 9e18) {
            *out = (int64_t)d;
            return VS_OK;
        }
    } else if (json_is_string(f->v)) {
        const char *s = json_string_value(f->v);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end != s && !*end && errno == 0 && !isspace((unsigned char)*s)) {
            *out = v;
            return VS_OK;
        }
    }
    return type_err(f, "an integer");
}

static enum vs_status get_bool(const struct fld *f, bool *out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes", NULL};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no", NULL};
    if (!f->v)
        return VS_OK;
    if (json_is_boolean(f->v)) {
        *out = json_is_true(f->v);
        return VS_OK;
    }
    if (json_is_integer(f->v) && (json_integer_value(f->v) == 0 || json_integer_value(f->v) == 1)) {
        *out = json_integer_value(f->v) == 1;
        return VS_OK;
    }
    if (json_is_string(f->v)) {
        char low[8];
        const char *s = json_string_value(f->v);
        size_t n = strlen(s);
        if (n < sizeof low) {
            for (size_t i = 0; i <= n; i++)
                low[i] = (char)tolower((unsigned char)s[i]);
            if (in_names(low, yes) >= 0 || in_names(low, no) >= 0) {
                *out = in_names(low, yes) >= 0;
                return VS_OK;
            }
        }
    }
    return type_err(f, "true or false");
}

/* Borrowed string. */
static enum vs_status get_str(const struct fld *f, const char **out)
{
    if (!f->v)
        return VS_OK;
    if (!json_is_string(f->v))
        return type_err(f, "a string");
    *out = json_string_value(f->v);
    return VS_OK;
}

static enum vs_status get_enum(const struct fld *f, const char *const *names, int *out)
{
    const char *s = NULL;
    enum vs_status st = get_str(f, &s);
    if (st != VS_OK || !s)
        return st;
    int i = in_names(s, names);
    if (i < 0) {
        char list[512];
        join_names(names, list, sizeof list);
        return fld_err(f, "unknown value '%.80s' (expected one of: %s)", s, list);
    }
    *out = i;
    return VS_OK;
}

static enum vs_status get_obj(const struct fld *f, const json_t **out)
{
    if (!f->v)
        return VS_OK;
    if (!json_is_object(f->v))
        return type_err(f, "a mapping");
    *out = f->v;
    return VS_OK;
}

static enum vs_status get_list(const struct fld *f, const json_t **out)
{
    if (!f->v)
        return VS_OK;
    if (!json_is_array(f->v))
        return type_err(f, "a list");
    *out = f->v;
    return VS_OK;
}

/* Unknown keys of obj are errors naming their path and the allowed ones. */
static enum vs_status check_keys(const struct ctx *c, const json_t *obj, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_names(k, allowed) >= 0)
            continue;
        struct fld f;
        fld_key(&f, c, obj, path, k);
        char list[512];
        join_names(allowed, list, sizeof list);
        return fld_err(&f, "unknown key (expected one of: %s)", list);
    }
    return VS_OK;
}

/* ---- composite getters ---- */

static void pattern_list_free(struct vs_pattern_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* A list of module-name patterns; absent (or null when nullable) gives `dflt` (NULL: empty). */
static enum vs_status get_patterns(const struct ctx *c, const json_t *obj, const char *ppath, const char *key,
                                   bool nullable, const char *dflt, struct vs_pattern_list *out)
{
    struct fld f;
    fld_key(&f, c, obj, ppath, key);
    memset(out, 0, sizeof *out);
    if (!f.v || (nullable && json_is_null(f.v))) {
        if (!dflt)
            return VS_OK;
        if (!(out->items = vs_calloc(1, sizeof *out->items)) || !(out->items[0] = vs_strdup(dflt))) {
            pattern_list_free(out);
            return VS_ERR_NOMEM;
        }
        out->count = 1;
        return VS_OK;
    }
    const json_t *arr = NULL;
    enum vs_status st = get_list(&f, &arr);
    if (st != VS_OK)
        return st;
    out->present = true;
    size_t n = json_array_size(arr);
    if (n && !(out->items = vs_calloc(n, sizeof *out->items)))
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        struct fld it;
        fld_item(&it, c, arr, f.path, i);
        const char *s = NULL;
        if ((st = get_str(&it, &s)) != VS_OK) {
            pattern_list_free(out);
            return st;
        }
        if (strlen(s) > MAX_PATTERN_LEN) {
            pattern_list_free(out);
            return fld_err(&it, "pattern longer than %d characters", MAX_PATTERN_LEN);
        }
        if (!(out->items[i] = vs_strdup(s))) {
            pattern_list_free(out);
            return VS_ERR_NOMEM;
        }
        out->count = i + 1;
    }
    return VS_OK;
}

/* Validates a pattern list that vlmslim does not keep. */
static enum vs_status check_patterns(const struct ctx *c, const json_t *obj, const char *ppath, const char *key,
                                     bool nullable)
{
    struct vs_pattern_list l;
    enum vs_status st = get_patterns(c, obj, ppath, key, nullable, NULL, &l);
    pattern_list_free(&l);
    return st;
}

static const char *const QCONFIG_KEYS[] = {"dtype", "scope", "symmetric", "method", "ext", NULL};

static void registered_methods(enum qside side, const struct vs_qconfig *q, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof QUANTIZERS / sizeof *QUANTIZERS && used < n; i++) {
        const struct qimpl *r = &QUANTIZERS[i];
        if (r->side == side && r->dtype == q->dtype && r->scope == q->scope && r->symmetric == q->symmetric)
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", r->method);
    }
}

/* A QConfig mapping at field f; side selects the quantizer table it must be in. */
static enum vs_status parse_qconfig(const struct ctx *c, const struct fld *f, enum qside side, struct vs_qconfig *out)
{
    const json_t *obj = NULL;
    enum vs_status st;
    if (!f->v)
        return missing(f);
    if ((st = get_obj(f, &obj)) != VS_OK || (st = check_keys(c, obj, f->path, QCONFIG_KEYS)) != VS_OK)
        return st;
    memset(out, 0, sizeof *out);
    struct fld g;
    int e = 0;
    fld_key(&g, c, obj, f->path, "dtype");
    if (!g.v)
        return missing(&g);
    if ((st = get_enum(&g, QDTYPE_NAMES, &e)) != VS_OK)
        return st;
    out->dtype = (enum vs_qdtype)e;
    fld_key(&g, c, obj, f->path, "scope");
    if (!g.v)
        return missing(&g);
    if ((st = get_enum(&g, QSCOPE_NAMES, &e)) != VS_OK)
        return st;
    out->scope = (enum vs_qscope)e;
    fld_key(&g, c, obj, f->path, "symmetric");
    if (!g.v)
        return missing(&g);
    if ((st = get_bool(&g, &out->symmetric)) != VS_OK)
        return st;
    fld_key(&g, c, obj, f->path, "method");
    const char *method = NULL;
    if (!g.v)
        return missing(&g);
    if ((st = get_str(&g, &method)) != VS_OK)
        return st;
    if (strlen(method) >= sizeof out->method)
        return fld_err(&g, "method name longer than %zu characters", sizeof out->method - 1);
    strcpy(out->method, method);

    const json_t *ext = NULL;
    fld_key(&g, c, obj, f->path, "ext");
    if ((st = get_obj(&g, &ext)) != VS_OK)
        return st;
    if (ext) {
        struct fld x;
        fld_key(&x, c, ext, g.path, "group_size");
        if ((st = get_int(&x, &out->ext_group_size)) != VS_OK)
            return st;
        if (x.v && out->ext_group_size <= 0)
            return fld_err(&x, "must be a positive integer, got %" PRId64, out->ext_group_size);
        static const char *const aggregations[] = {"max", "mean", NULL};
        int a = -1;
        fld_key(&x, c, ext, g.path, "aggregation_type");
        if ((st = get_enum(&x, aggregations, &a)) != VS_OK)
            return st;
        if (a >= 0)
            strcpy(out->ext_aggregation, aggregations[a]);
    }
    if (side == Q_ANY)
        return VS_OK;
    for (size_t i = 0; i < sizeof QUANTIZERS / sizeof *QUANTIZERS; i++) {
        const struct qimpl *r = &QUANTIZERS[i];
        if (r->side == side && r->dtype == out->dtype && r->scope == out->scope && r->symmetric == out->symmetric &&
            strcmp(r->method, out->method) == 0)
            return VS_OK;
    }
    char methods[256];
    registered_methods(side, out, methods, sizeof methods);
    return err_at(c, VS_ERR_CONFIG, f->line, f->path,
                  "no %s quantizer is registered for dtype %s, scope %s, symmetric %s, method '%s' "
                  "(methods for this dtype/scope/symmetric: %s)",
                  side == Q_ACT ? "activation" : "weight", vs_qdtype_name(out->dtype), vs_qscope_name(out->scope),
                  out->symmetric ? "true" : "false", out->method, *methods ? methods : "none");
}

/* LinearQConfig {act, weight}: act defaults to float/per_tensor/symmetric/none. */
static enum vs_status parse_linear_qconfig(const struct ctx *c, const struct fld *f, struct vs_qconfig *act,
                                           struct vs_qconfig *weight)
{
    static const char *const keys[] = {"act", "weight", NULL};
    const json_t *obj = NULL;
    enum vs_status st;
    if (!f->v)
        return missing(f);
    if ((st = get_obj(f, &obj)) != VS_OK || (st = check_keys(c, obj, f->path, keys)) != VS_OK)
        return st;
    struct fld g;
    fld_key(&g, c, obj, f->path, "act");
    if (g.v) {
        if ((st = parse_qconfig(c, &g, Q_ACT, act)) != VS_OK)
            return st;
    } else {
        memset(act, 0, sizeof *act);
        act->dtype = VS_QDT_FLOAT;
        act->scope = VS_QS_PER_TENSOR;
        act->symmetric = true;
        strcpy(act->method, "none");
    }
    fld_key(&g, c, obj, f->path, "weight");
    return parse_qconfig(c, &g, Q_WEIGHT, weight);
}

/* A float field with a default, range-checked by `ok` (NaN always fails). */
static enum vs_status get_float_in(const struct ctx *c, const json_t *obj, const char *ppath, const char *key,
                                   double lo, double hi, bool nullable, double *out)
{
    struct fld f;
    fld_key(&f, c, obj, ppath, key);
    if (nullable && is_null(&f))
        return VS_OK;
    enum vs_status st = get_float(&f, out);
    if (st != VS_OK || !f.v)
        return st;
    if (!(*out > lo && *out < hi)) {
        if (isinf(hi))
            return fld_err(&f, "%g is out of range (expected %s > %g)", *out, key, lo);
        return fld_err(&f, "%g is out of range (expected %g < %s < %g)", *out, lo, key, hi);
    }
    return VS_OK;
}

static enum vs_status get_bool_key(const struct ctx *c, const json_t *obj, const char *ppath, const char *key,
                                   bool *out)
{
    struct fld f;
    fld_key(&f, c, obj, ppath, key);
    return get_bool(&f, out);
}

static enum vs_status get_subgraph_types(const struct ctx *c, const json_t *obj, const char *ppath, unsigned *out)
{
    struct fld f;
    fld_key(&f, c, obj, ppath, "enable_subgraph_type");
    *out = VS_SUBGRAPH_NORM_LINEAR | VS_SUBGRAPH_LINEAR_LINEAR | VS_SUBGRAPH_OV | VS_SUBGRAPH_UP_DOWN;
    const json_t *arr = NULL;
    enum vs_status st = get_list(&f, &arr);
    if (st != VS_OK || !arr)
        return st;
    *out = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        struct fld it;
        fld_item(&it, c, arr, f.path, i);
        int k = -1;
        if (!json_is_string(it.v))
            return type_err(&it, "a string");
        if ((st = get_enum(&it, SUBGRAPH_NAMES, &k)) != VS_OK)
            return st;
        *out |= 1u << k;
    }
    return VS_OK;
}

static bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/* ---- processors ---- */

static const char *const LINEAR_KEYS[] = {"type", "qconfig", "include", "exclude", NULL};
/* vision_subgraphs: vlmslim's extension (docs/vision_smoothing.md), not msModelSlim's */
static const char *const ITER_SMOOTH_KEYS[] = {"type", "alpha", "scale_min", "symmetric", "enable_subgraph_type",
                                               "include", "exclude", "vision_subgraphs", NULL};
static const char *const SMOOTH_QUANT_KEYS[] = {"type", "alpha", "symmetric", "include", "exclude", "vision_subgraphs",
                                                NULL};
static const char *const FLEX_SMOOTH_KEYS[] = {"type", "alpha", "beta", "enable_subgraph_type", "include",
                                               "exclude", NULL};
static const char *const FLEX_AWQ_KEYS[] = {"type", "alpha", "beta", "enable_subgraph_type", "include",
                                            "exclude", "qconfig", NULL};
static const char *const AWQ_KEYS[] = {"type", "weight_qconfig", "enable_subgraph_type", "n_grid", "include",
                                       "exclude", NULL};
static const char *const QUAROT_KEYS[] = {"type", "online", "block_size", "down_proj_online_layers",
                                          "max_tp_size", "export_extra_info", NULL};
static const char *const KV_SMOOTH_KEYS[] = {"type", "smooth_factor", "include", "exclude", NULL};
static const char *const DYNAMIC_CACHE_KEYS[] = {"type", "qconfig", "include", "exclude", NULL};
static const char *const FA3_KEYS[] = {"type", "qconfig", "include", "exclude", "details", NULL};
static const char *const FA3_DETAIL_KEYS[] = {"fa_q", "fa_k", "fa_v", NULL};
static const char *const AUTOROUND_KEYS[] = {"type", "iters", "enable_minmax_tuning", "enable_round_tuning",
                                             "strategies", NULL};
static const char *const STRATEGY_KEYS[] = {"qconfig", "include", "exclude", NULL};
static const char *const SAVER_KEYS[] = {"type", "part_file_size", "ext", "save_directory", "save_path", NULL};

static enum vs_status parse_linear_quant(const struct ctx *c, const json_t *obj, const char *path,
                                         struct vs_linear_quant_config *lq)
{
    struct fld f;
    enum vs_status st;
    fld_key(&f, c, obj, path, "qconfig");
    if ((st = parse_linear_qconfig(c, &f, &lq->act, &lq->weight)) != VS_OK)
        return st;
    if ((st = get_patterns(c, obj, path, "include", false, "*", &lq->include)) != VS_OK)
        return st;
    return get_patterns(c, obj, path, "exclude", false, NULL, &lq->exclude);
}

static enum vs_status parse_iter_smooth(const struct ctx *c, const json_t *obj, const char *path,
                                        struct vs_iter_smooth_config *is)
{
    enum vs_status st;
    is->alpha = 0.9;
    is->scale_min = 1e-5;
    is->symmetric = true;
    is->vision_subgraphs = false;
    if ((st = get_float_in(c, obj, path, "alpha", 0, 1, false, &is->alpha)) != VS_OK ||
        (st = get_float_in(c, obj, path, "scale_min", 0, 1, false, &is->scale_min)) != VS_OK ||
        (st = get_bool_key(c, obj, path, "symmetric", &is->symmetric)) != VS_OK ||
        (st = get_bool_key(c, obj, path, "vision_subgraphs", &is->vision_subgraphs)) != VS_OK ||
        (st = get_subgraph_types(c, obj, path, &is->subgraph_types)) != VS_OK ||
        (st = get_patterns(c, obj, path, "include", true, "*", &is->include)) != VS_OK)
        return st;
    return get_patterns(c, obj, path, "exclude", true, NULL, &is->exclude);
}

static enum vs_status parse_smooth_quant(const struct ctx *c, const json_t *obj, const char *path,
                                         struct vs_smooth_quant_config *sq)
{
    enum vs_status st;
    sq->alpha = 0.5;
    sq->symmetric = true;
    sq->vision_subgraphs = false;
    if ((st = get_float_in(c, obj, path, "alpha", 0, 1, false, &sq->alpha)) != VS_OK ||
        (st = get_bool_key(c, obj, path, "symmetric", &sq->symmetric)) != VS_OK ||
        (st = get_bool_key(c, obj, path, "vision_subgraphs", &sq->vision_subgraphs)) != VS_OK ||
        (st = get_patterns(c, obj, path, "include", true, "*", &sq->include)) != VS_OK)
        return st;
    return get_patterns(c, obj, path, "exclude", true, NULL, &sq->exclude);
}

static enum vs_status parse_flex(const struct ctx *c, const json_t *obj, const char *path, bool awq_ssz)
{
    enum vs_status st;
    double a = 0;
    unsigned types;
    if ((st = get_float_in(c, obj, path, "alpha", 0, 1, true, &a)) != VS_OK ||
        (st = get_float_in(c, obj, path, "beta", 0, 1, true, &a)) != VS_OK ||
        (st = get_subgraph_types(c, obj, path, &types)) != VS_OK ||
        (st = check_patterns(c, obj, path, "include", true)) != VS_OK ||
        (st = check_patterns(c, obj, path, "exclude", true)) != VS_OK || !awq_ssz)
        return st;
    struct vs_qconfig act, weight;
    struct fld f;
    fld_key(&f, c, obj, path, "qconfig");
    return parse_linear_qconfig(c, &f, &act, &weight);
}

static enum vs_status parse_awq(const struct ctx *c, const json_t *obj, const char *path)
{
    struct fld f;
    struct vs_qconfig q;
    unsigned types;
    int64_t n_grid = 20;
    enum vs_status st;
    fld_key(&f, c, obj, path, "weight_qconfig");
    if ((st = parse_qconfig(c, &f, Q_WEIGHT, &q)) != VS_OK ||
        (st = get_subgraph_types(c, obj, path, &types)) != VS_OK)
        return st;
    fld_key(&f, c, obj, path, "n_grid");
    if ((st = get_int(&f, &n_grid)) != VS_OK)
        return st;
    if (n_grid <= 0)
        return fld_err(&f, "must be greater than 0, got %" PRId64, n_grid);
    if ((st = check_patterns(c, obj, path, "include", true)) != VS_OK)
        return st;
    return check_patterns(c, obj, path, "exclude", true);
}

static enum vs_status parse_quarot(const struct ctx *c, const json_t *obj, const char *path,
                                   struct vs_quarot_config *q)
{
    struct fld f;
    enum vs_status st;
    q->online = false;
    q->block_size = -1;
    q->max_tp_size = 4;
    q->export_extra_info = true;
    if ((st = get_bool_key(c, obj, path, "online", &q->online)) != VS_OK)
        return st;
    fld_key(&f, c, obj, path, "block_size");
    if ((st = get_int(&f, &q->block_size)) != VS_OK)
        return st;
    if (q->block_size != -1 && !is_pow2(q->block_size))
        return fld_err(&f, "block_size must be -1 or a positive power of 2, got %" PRId64, q->block_size);
    fld_key(&f, c, obj, path, "down_proj_online_layers");
    const json_t *arr = NULL;
    if ((st = get_list(&f, &arr)) != VS_OK)
        return st;
    if (arr && json_array_size(arr)) {
        size_t n = json_array_size(arr);
        if (!(q->down_proj_online_layers = vs_calloc(n, sizeof *q->down_proj_online_layers)))
            return VS_ERR_NOMEM;
        q->n_down_proj_online_layers = n;
        for (size_t i = 0; i < n; i++) {
            struct fld it;
            fld_item(&it, c, arr, f.path, i);
            if ((st = get_int(&it, &q->down_proj_online_layers[i])) != VS_OK)
                return st;
        }
    }
    fld_key(&f, c, obj, path, "max_tp_size");
    if ((st = get_int(&f, &q->max_tp_size)) != VS_OK)
        return st;
    if (!is_pow2(q->max_tp_size))
        return fld_err(&f, "max_tp_size must be a positive power of 2 or equal to 1, got %" PRId64, q->max_tp_size);
    return get_bool_key(c, obj, path, "export_extra_info", &q->export_extra_info);
}

static enum vs_status parse_kv_smooth(const struct ctx *c, const json_t *obj, const char *path)
{
    double factor = 1.0;
    enum vs_status st;
    if ((st = get_float_in(c, obj, path, "smooth_factor", 0, INFINITY, false, &factor)) != VS_OK ||
        (st = check_patterns(c, obj, path, "include", false)) != VS_OK)
        return st;
    return check_patterns(c, obj, path, "exclude", false);
}

static enum vs_status parse_dynamic_cache(const struct ctx *c, const json_t *obj, const char *path)
{
    struct fld f;
    struct vs_qconfig q;
    enum vs_status st;
    fld_key(&f, c, obj, path, "qconfig");
    if ((st = parse_qconfig(c, &f, Q_ANY, &q)) != VS_OK ||
        (st = check_patterns(c, obj, path, "include", false)) != VS_OK)
        return st;
    return check_patterns(c, obj, path, "exclude", false);
}

static enum vs_status parse_fa3(const struct ctx *c, const json_t *obj, const char *path)
{
    struct fld f, d;
    struct vs_qconfig q;
    enum vs_status st;
    fld_key(&f, c, obj, path, "qconfig");
    if (f.v && !json_is_null(f.v) && (st = parse_qconfig(c, &f, Q_ANY, &q)) != VS_OK)
        return st;
    if ((st = check_patterns(c, obj, path, "include", false)) != VS_OK ||
        (st = check_patterns(c, obj, path, "exclude", false)) != VS_OK)
        return st;
    fld_key(&d, c, obj, path, "details");
    if (!d.v || json_is_null(d.v))
        return VS_OK;
    const json_t *details = NULL;
    if ((st = get_obj(&d, &details)) != VS_OK || (st = check_keys(c, details, d.path, FA3_DETAIL_KEYS)) != VS_OK)
        return st;
    for (int i = 0; FA3_DETAIL_KEYS[i]; i++) {
        struct fld b;
        fld_key(&b, c, details, d.path, FA3_DETAIL_KEYS[i]);
        if (b.v && !json_is_null(b.v) && (st = parse_qconfig(c, &b, Q_ANY, &q)) != VS_OK)
            return st;
    }
    if (f.v && !json_is_null(f.v) && json_object_size(details))
        return fld_err(&d, "'qconfig' and 'details' are mutually exclusive");
    return VS_OK;
}

/* autoround's rule: ext.group_size is required (> 0) for per_group and forbidden otherwise. */
static enum vs_status check_group_size(const struct ctx *c, const struct fld *f, const struct vs_qconfig *q)
{
    if (q->scope == VS_QS_PER_GROUP && q->ext_group_size <= 0)
        return err_at(c, VS_ERR_CONFIG, f->line, f->path, "scope per_group needs a positive ext.group_size");
    if (q->scope != VS_QS_PER_GROUP && q->ext_group_size > 0)
        return err_at(c, VS_ERR_CONFIG, f->line, f->path, "ext.group_size is only allowed with scope per_group");
    return VS_OK;
}

static enum vs_status parse_autoround(const struct ctx *c, const json_t *obj, const char *path)
{
    struct fld f;
    int64_t iters = 10;
    bool flag;
    enum vs_status st;
    fld_key(&f, c, obj, path, "iters");
    if ((st = get_int(&f, &iters)) != VS_OK)
        return st;
    if (iters <= 0)
        return fld_err(&f, "must be greater than 0, got %" PRId64, iters);
    if ((st = get_bool_key(c, obj, path, "enable_minmax_tuning", &flag)) != VS_OK ||
        (st = get_bool_key(c, obj, path, "enable_round_tuning", &flag)) != VS_OK)
        return st;
    fld_key(&f, c, obj, path, "strategies");
    const json_t *arr = NULL;
    if ((st = get_list(&f, &arr)) != VS_OK)
        return st;
    if (!arr || !json_array_size(arr))
        return fld_err(&f, "at least one quantization strategy is required");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        struct fld it, q;
        const json_t *s = NULL;
        fld_item(&it, c, arr, f.path, i);
        if ((st = get_obj(&it, &s)) != VS_OK || (st = check_keys(c, s, it.path, STRATEGY_KEYS)) != VS_OK)
            return st;
        struct vs_qconfig act, weight;
        fld_key(&q, c, s, it.path, "qconfig");
        if ((st = parse_linear_qconfig(c, &q, &act, &weight)) != VS_OK)
            return st;
        char sub[PATH_LEN];
        struct fld w;
        path_fmt(sub, sizeof sub, "%s.qconfig", it.path);
        fld_key(&w, c, q.v, sub, "weight");
        if ((st = check_group_size(c, &w, &weight)) != VS_OK)
            return st;
        fld_key(&w, c, q.v, sub, "act");
        if ((st = check_group_size(c, &w, &act)) != VS_OK ||
            (st = check_patterns(c, s, it.path, "include", false)) != VS_OK ||
            (st = check_patterns(c, s, it.path, "exclude", false)) != VS_OK)
            return st;
    }
    return VS_OK;
}

static enum vs_status parse_saver(const struct ctx *c, const json_t *obj, const char *path, struct vs_saver_config *s)
{
    struct fld f;
    enum vs_status st;
    s->part_file_size = 4;
    fld_key(&f, c, obj, path, "part_file_size");
    if ((st = get_int(&f, &s->part_file_size)) != VS_OK)
        return st;
    if (s->part_file_size < 0)
        return fld_err(&f, "must be >= 0 (GiB per file; 0 = a single file), got %" PRId64, s->part_file_size);
    const json_t *ext = NULL;
    const char *dir = NULL;
    fld_key(&f, c, obj, path, "ext");
    if ((st = get_obj(&f, &ext)) != VS_OK)
        return st;
    fld_key(&f, c, obj, path, "save_directory");
    if ((st = get_str(&f, &dir)) != VS_OK)
        return st;
    if (dir)
        vs_warn("%s: %s is ignored; the output goes to --save_path", c->file, f.path);
    const char *save_path = NULL;
    fld_key(&f, c, obj, path, "save_path");
    if ((st = get_str(&f, &save_path)) != VS_OK)
        return st;
    if (save_path && !*save_path)
        return fld_err(&f, "must not be empty");
    if (save_path && !(s->save_path = vs_strdup(save_path)))
        return VS_ERR_NOMEM;
    return VS_OK;
}

static bool is_saver(enum vs_proc_type t)
{
    return t == VS_PROC_ASCENDV1_SAVER || t == VS_PROC_ASCENDV1_SAVER_DISTRIBUTED || t == VS_PROC_MINDIE_FORMAT_SAVER ||
           t == VS_PROC_COMPRESSED_TENSORS_SAVER;
}

/* One item of spec.process / spec.save / spec.prior[i].process; `savers`: an item of spec.save,
 * whose type errors name the saver types. */
static enum vs_status parse_processor(const struct ctx *c, const json_t *arr, const char *list_path, size_t i,
                                      bool savers, struct vs_processor_config *out)
{
    struct fld item, tf;
    const json_t *obj = NULL;
    enum vs_status st;
    fld_item(&item, c, arr, list_path, i);
    path_fmt(out->path, sizeof out->path, "%s", item.path);
    if (!json_is_object(item.v))
        return type_err(&item, "a processor mapping with a 'type' key");
    obj = item.v;
    fld_key(&tf, c, obj, item.path, "type");
    char list[640];
    join_names(savers ? SAVER_NAMES : PROC_NAMES, list, sizeof list);
    if (!tf.v)
        return err_at(c, VS_ERR_CONFIG, item.line, tf.path, "missing required key (expected one of: %s)", list);
    int t = -1;
    if (!json_is_string(tf.v))
        return type_err(&tf, "a string");
    if ((t = in_names(json_string_value(tf.v), PROC_NAMES)) < 0)
        return fld_err(&tf, "unknown %s type '%.80s' (expected one of: %s)", savers ? "saver" : "processor",
                       json_string_value(tf.v), list);
    out->type = (enum vs_proc_type)t;
    switch (out->type) {
    case VS_PROC_LINEAR_QUANT:
        if ((st = check_keys(c, obj, item.path, LINEAR_KEYS)) != VS_OK)
            return st;
        return parse_linear_quant(c, obj, item.path, &out->u.linear_quant);
    case VS_PROC_ITER_SMOOTH:
        if ((st = check_keys(c, obj, item.path, ITER_SMOOTH_KEYS)) != VS_OK)
            return st;
        return parse_iter_smooth(c, obj, item.path, &out->u.iter_smooth);
    case VS_PROC_SMOOTH_QUANT:
        if ((st = check_keys(c, obj, item.path, SMOOTH_QUANT_KEYS)) != VS_OK)
            return st;
        return parse_smooth_quant(c, obj, item.path, &out->u.smooth_quant);
    case VS_PROC_FLEX_SMOOTH_QUANT:
    case VS_PROC_FLEX_AWQ_SSZ: {
        bool awq = out->type == VS_PROC_FLEX_AWQ_SSZ;
        if ((st = check_keys(c, obj, item.path, awq ? FLEX_AWQ_KEYS : FLEX_SMOOTH_KEYS)) != VS_OK)
            return st;
        return parse_flex(c, obj, item.path, awq);
    }
    case VS_PROC_AWQ:
        if ((st = check_keys(c, obj, item.path, AWQ_KEYS)) != VS_OK)
            return st;
        return parse_awq(c, obj, item.path);
    case VS_PROC_QUAROT:
        if ((st = check_keys(c, obj, item.path, QUAROT_KEYS)) != VS_OK)
            return st;
        return parse_quarot(c, obj, item.path, &out->u.quarot);
    case VS_PROC_KV_SMOOTH:
        if ((st = check_keys(c, obj, item.path, KV_SMOOTH_KEYS)) != VS_OK)
            return st;
        return parse_kv_smooth(c, obj, item.path);
    case VS_PROC_DYNAMIC_CACHE:
        if ((st = check_keys(c, obj, item.path, DYNAMIC_CACHE_KEYS)) != VS_OK)
            return st;
        return parse_dynamic_cache(c, obj, item.path);
    case VS_PROC_FA3_QUANT:
        if ((st = check_keys(c, obj, item.path, FA3_KEYS)) != VS_OK)
            return st;
        return parse_fa3(c, obj, item.path);
    case VS_PROC_AUTOROUND_QUANT:
        if ((st = check_keys(c, obj, item.path, AUTOROUND_KEYS)) != VS_OK)
            return st;
        return parse_autoround(c, obj, item.path);
    case VS_PROC_ASCENDV1_SAVER:
    case VS_PROC_ASCENDV1_SAVER_DISTRIBUTED:
    case VS_PROC_MINDIE_FORMAT_SAVER:
    case VS_PROC_COMPRESSED_TENSORS_SAVER:
        if ((st = check_keys(c, obj, item.path, SAVER_KEYS)) != VS_OK)
            return st;
        return parse_saver(c, obj, item.path, &out->u.saver);
    default:
        /* Fields not specified for vlmslim: the type is known but cannot be validated. */
        return err_at(c, VS_ERR_UNSUPPORTED, item.line, item.path, "processor type '%s' is not supported by vlmslim",
                      PROC_NAMES[t]);
    }
}

static void processor_free(struct vs_processor_config *p)
{
    switch (p->type) {
    case VS_PROC_LINEAR_QUANT:
        pattern_list_free(&p->u.linear_quant.include);
        pattern_list_free(&p->u.linear_quant.exclude);
        break;
    case VS_PROC_ITER_SMOOTH:
        pattern_list_free(&p->u.iter_smooth.include);
        pattern_list_free(&p->u.iter_smooth.exclude);
        break;
    case VS_PROC_SMOOTH_QUANT:
        pattern_list_free(&p->u.smooth_quant.include);
        pattern_list_free(&p->u.smooth_quant.exclude);
        break;
    case VS_PROC_QUAROT:
        free(p->u.quarot.down_proj_online_layers);
        break;
    case VS_PROC_ASCENDV1_SAVER:
    case VS_PROC_ASCENDV1_SAVER_DISTRIBUTED:
    case VS_PROC_MINDIE_FORMAT_SAVER:
    case VS_PROC_COMPRESSED_TENSORS_SAVER:
        free(p->u.saver.save_path);
        break;
    default:
        break;
    }
}

static const char *const GROUP_KEYS[] = {"type", "configs", NULL};

/* The configs list of item i of arr when it is a `group` (msModelSlim's container of processors
 * that share one calibration pass, processor/container/group.py), else NULL. vlmslim calibrates
 * every processor of spec.process in one pass anyway, so a group is its configs in place. */
static enum vs_status group_configs(const struct ctx *c, const json_t *arr, const char *list_path, size_t i,
                                    struct fld *configs)
{
    struct fld item, tf;
    fld_item(&item, c, arr, list_path, i);
    configs->v = NULL;
    if (!json_is_object(item.v))
        return VS_OK;
    fld_key(&tf, c, item.v, item.path, "type");
    if (!json_is_string(tf.v) || strcmp(json_string_value(tf.v), "group") != 0)
        return VS_OK;
    enum vs_status st = check_keys(c, item.v, item.path, GROUP_KEYS);
    fld_key(configs, c, item.v, item.path, "configs");
    if (st == VS_OK && !configs->v)
        return err_at(c, VS_ERR_CONFIG, item.line, configs->path, "missing required key (a list of processors)");
    const json_t *list = NULL;
    if (st == VS_OK && (st = get_list(configs, &list)) == VS_OK && !json_array_size(list))
        st = fld_err(configs, "a group needs at least one processor");
    for (size_t k = 0; st == VS_OK && k < json_array_size(list); k++) {
        struct fld inner;
        if ((st = group_configs(c, list, configs->path, k, &inner)) == VS_OK && inner.v) {
            struct fld at;
            fld_item(&at, c, list, configs->path, k);
            st = fld_err(&at, "a group inside a group is not supported by vlmslim");
        }
    }
    return st;
}

/* A processor list at spec.<key>, groups expanded; *out gets calloc'ed items (count set before
 * parsing so a partial list is freed whole). */
static enum vs_status parse_processor_list(const struct ctx *c, const struct fld *f, bool savers,
                                           struct vs_processor_config **out, size_t *n)
{
    const json_t *arr = NULL;
    enum vs_status st = get_list(f, &arr);
    if (st != VS_OK || !arr || !json_array_size(arr))
        return st;
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        struct fld g;
        if ((st = savers ? VS_OK : group_configs(c, arr, f->path, i, &g)) != VS_OK)
            return st;
        count += !savers && g.v ? json_array_size(g.v) : 1;
    }
    if (!(*out = vs_calloc(count, sizeof **out)))
        return VS_ERR_NOMEM;
    *n = count;
    for (size_t i = 0, j = 0; i < json_array_size(arr) && st == VS_OK; i++) {
        struct fld g = {0};
        if (!savers)
            group_configs(c, arr, f->path, i, &g);
        if (!g.v)
            st = parse_processor(c, arr, f->path, i, savers, &(*out)[j++]);
        for (size_t k = 0; g.v && k < json_array_size(g.v) && st == VS_OK; k++)
            st = parse_processor(c, g.v, g.path, k, savers, &(*out)[j++]);
    }
    return st;
}

static void processor_list_free(struct vs_processor_config *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        processor_free(&list[i]);
    free(list);
}

/* ---- metadata ---- */

static enum vs_status get_string_list(const struct ctx *c, const struct fld *f, char ***out, size_t *n)
{
    const json_t *arr = NULL;
    enum vs_status st = get_list(f, &arr);
    if (st != VS_OK || !arr)
        return st;
    size_t count = json_array_size(arr);
    if (count && !(*out = vs_calloc(count, sizeof **out)))
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < count; i++) {
        struct fld it;
        const char *s = NULL;
        fld_item(&it, c, arr, f->path, i);
        if ((st = get_str(&it, &s)) != VS_OK)
            return st;
        if (!((*out)[i] = vs_strdup(s)))
            return VS_ERR_NOMEM;
        *n = i + 1;
    }
    return VS_OK;
}

static void string_list_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static enum vs_status parse_label(const struct ctx *c, const struct fld *f, struct vs_practice_metadata *m)
{
    const json_t *label = NULL;
    enum vs_status st = get_obj(f, &label);
    if (st != VS_OK || !label)
        return st;
    /* label is a free dict upstream; the keys best-practice matching reads must have the right type. */
    struct fld g;
    static const char *const bits[] = {"w_bit", "a_bit"};
    int64_t *bit_dst[] = {&m->w_bit, &m->a_bit};
    for (int i = 0; i < 2; i++) {
        fld_key(&g, c, label, f->path, bits[i]);
        if (!g.v || is_null(&g))
            continue;
        if (!json_is_integer(g.v))
            return type_err(&g, "an integer");
        *bit_dst[i] = json_integer_value(g.v);
    }
    static const char *const flags[] = {"is_sparse", "kv_cache"};
    int *dst[] = {&m->is_sparse, &m->kv_cache};
    for (int i = 0; i < 2; i++) {
        bool b;
        fld_key(&g, c, label, f->path, flags[i]);
        if (!g.v || is_null(&g))
            continue;
        if (!json_is_boolean(g.v))
            return type_err(&g, "true or false");
        if ((st = get_bool(&g, &b)) != VS_OK)
            return st;
        *dst[i] = b;
    }
    fld_key(&g, c, label, f->path, "fa_bit");
    if (g.v && !is_null(&g)) {
        if (!json_is_integer(g.v))
            return type_err(&g, "an integer");
        if (!(m->fa_bit = vs_strfmt("%" JSON_INTEGER_FORMAT, json_integer_value(g.v))))
            return VS_ERR_NOMEM;
    } else {
        /* msModelSlim: without fa_bit, `fa_quant: true` means 8-bit FA3 */
        fld_key(&g, c, label, f->path, "fa_quant");
        if (g.v && !is_null(&g)) {
            if (!json_is_boolean(g.v))
                return type_err(&g, "true or false");
            if (json_is_true(g.v) && !(m->fa_bit = vs_strdup("8")))
                return VS_ERR_NOMEM;
        }
    }
    return VS_OK;
}

static enum vs_status parse_verified_tags(const struct ctx *c, const struct fld *f, struct vs_practice_metadata *m)
{
    const json_t *tags = NULL;
    enum vs_status st = get_obj(f, &tags);
    if (st != VS_OK || !tags || !json_object_size(tags))
        return st;
    if (!(m->verified_tags = vs_calloc(json_object_size(tags), sizeof *m->verified_tags)))
        return VS_ERR_NOMEM;
    const char *model;
    json_t *v;
    json_object_foreach((json_t *)tags, model, v) {
        struct vs_verified_tags *t = &m->verified_tags[m->n_verified_tags++];
        struct fld g;
        const json_t *scen = NULL;
        if (!(t->model_type = vs_strdup(model)))
            return VS_ERR_NOMEM;
        fld_key(&g, c, tags, f->path, model);
        if ((st = get_list(&g, &scen)) != VS_OK)
            return st;
        if (!scen) /* null */
            return type_err(&g, "a list of tag lists");
        size_t n = json_array_size(scen);
        if (n && !(t->scenarios = vs_calloc(n, sizeof *t->scenarios)))
            return VS_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            struct fld it;
            fld_item(&it, c, scen, g.path, i);
            if (!json_is_array(it.v))
                return type_err(&it, "a list of tags");
            t->n_scenarios = i + 1;
            if ((st = get_string_list(c, &it, &t->scenarios[i].tags, &t->scenarios[i].count)) != VS_OK)
                return st;
        }
    }
    return VS_OK;
}

static enum vs_status parse_metadata(const struct ctx *c, const json_t *root, struct vs_practice_metadata *m)
{
    static const char *const keys[] = {"config_id", "score", "label", "verified_model_types", "verified_tags", NULL};
    struct fld f;
    const json_t *obj = NULL;
    enum vs_status st;
    m->score = 100;
    m->w_bit = m->a_bit = -1;
    m->is_sparse = m->kv_cache = -1;
    fld_key(&f, c, root, "", "metadata");
    if ((st = get_obj(&f, &obj)) != VS_OK || !obj || (st = check_keys(c, obj, "metadata", keys)) != VS_OK)
        return st;
    const char *id = NULL;
    fld_key(&f, c, obj, "metadata", "config_id");
    if ((st = get_str(&f, &id)) != VS_OK)
        return st;
    if (id && strlen(id) > MAX_CONFIG_ID_LEN)
        return fld_err(&f, "longer than %d characters", MAX_CONFIG_ID_LEN);
    if (id && !(m->config_id = vs_strdup(id)))
        return VS_ERR_NOMEM;
    fld_key(&f, c, obj, "metadata", "score");
    if ((st = get_float(&f, &m->score)) != VS_OK)
        return st;
    if (!(m->score >= 0))
        return fld_err(&f, "must be >= 0, got %g", m->score);
    fld_key(&f, c, obj, "metadata", "label");
    if ((st = parse_label(c, &f, m)) != VS_OK)
        return st;
    fld_key(&f, c, obj, "metadata", "verified_model_types");
    m->has_verified_model_types = f.v != NULL;
    if ((st = get_string_list(c, &f, &m->verified_model_types, &m->n_verified_model_types)) != VS_OK)
        return st;
    fld_key(&f, c, obj, "metadata", "verified_tags");
    return parse_verified_tags(c, &f, m);
}

static void metadata_free(struct vs_practice_metadata *m)
{
    free(m->config_id);
    free(m->fa_bit);
    string_list_free(m->verified_model_types, m->n_verified_model_types);
    for (size_t i = 0; i < m->n_verified_tags; i++) {
        struct vs_verified_tags *t = &m->verified_tags[i];
        free(t->model_type);
        for (size_t j = 0; j < t->n_scenarios; j++)
            string_list_free(t->scenarios[j].tags, t->scenarios[j].count);
        free(t->scenarios);
    }
    free(m->verified_tags);
}

/* ---- spec ---- */

static enum vs_status parse_prior(const struct ctx *c, const struct fld *f)
{
    static const char *const keys[] = {"process", "dataset", NULL};
    const json_t *arr = NULL;
    enum vs_status st = get_list(f, &arr);
    if (st != VS_OK || !arr)
        return st;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        struct fld it, g;
        const json_t *obj = NULL;
        const char *dataset = NULL;
        fld_item(&it, c, arr, f->path, i);
        if ((st = get_obj(&it, &obj)) != VS_OK || (st = check_keys(c, obj, it.path, keys)) != VS_OK)
            return st;
        fld_key(&g, c, obj, it.path, "dataset");
        if ((st = get_str(&g, &dataset)) != VS_OK)
            return st;
        struct vs_processor_config *procs = NULL;
        size_t n = 0;
        fld_key(&g, c, obj, it.path, "process");
        st = parse_processor_list(c, &g, false, &procs, &n);
        processor_list_free(procs, n);
        if (st != VS_OK)
            return st;
    }
    if (json_array_size(arr))
        vs_warn("%s: spec.prior is validated but not run (msModelSlim's VLM service ignores it too)", c->file);
    return VS_OK;
}

static enum vs_status parse_spec(const struct ctx *c, const json_t *root, struct vs_quant_config *cfg)
{
    static const char *const keys[] = {"runner", "prior", "process", "save", "dataset", "default_text", NULL};
    struct fld f;
    const json_t *spec = NULL;
    enum vs_status st;
    fld_key(&f, c, root, "", "spec");
    if (!f.v)
        return err_at(c, VS_ERR_CONFIG, 0, "spec", "missing required key");
    if ((st = get_obj(&f, &spec)) != VS_OK || (st = check_keys(c, spec, "spec", keys)) != VS_OK)
        return st;

    int runner = VS_RUNNER_LAYER_WISE;
    fld_key(&f, c, spec, "spec", "runner");
    if ((st = get_enum(&f, RUNNER_NAMES, &runner)) != VS_OK)
        return st;
    cfg->runner = (enum vs_runner_kind)runner;
    if (runner != VS_RUNNER_LAYER_WISE)
        vs_warn("%s: spec.runner '%s' is ignored; the VLM service always runs layer-wise", c->file,
                RUNNER_NAMES[runner]);

    fld_key(&f, c, spec, "spec", "prior");
    if ((st = parse_prior(c, &f)) != VS_OK)
        return st;
    fld_key(&f, c, spec, "spec", "process");
    if ((st = parse_processor_list(c, &f, false, &cfg->process, &cfg->n_process)) != VS_OK)
        return st;

    fld_key(&f, c, spec, "spec", "save");
    if (!f.v)
        return err_at(c, VS_ERR_CONFIG, 0, "spec.save",
                      "missing required key (a list ending with a saver, e.g. '- type: ascendv1_saver')");
    if ((st = parse_processor_list(c, &f, true, &cfg->save, &cfg->n_save)) != VS_OK)
        return st;
    if (cfg->n_save == 0)
        return fld_err(&f, "empty list; the last item must be a saver (ascendv1_saver)");
    const struct vs_processor_config *last = &cfg->save[cfg->n_save - 1];
    if (!is_saver(last->type)) {
        struct fld it;
        fld_item(&it, c, f.v, "spec.save", cfg->n_save - 1);
        return fld_err(&it, "the last item must be a saver (ascendv1_saver, ascendv1_saver_distributed, "
                            "mindie_format_saver or compressed_tensors_saver), got '%s'", vs_proc_type_name(last->type));
    }

    const char *s = "mix_calib.jsonl";
    fld_key(&f, c, spec, "spec", "dataset");
    if ((st = get_str(&f, &s)) != VS_OK)
        return st;
    if (!(cfg->dataset = vs_strdup(s)))
        return VS_ERR_NOMEM;
    s = VS_DEFAULT_TEXT;
    fld_key(&f, c, spec, "spec", "default_text");
    if ((st = get_str(&f, &s)) != VS_OK)
        return st;
    const char *p = s;
    while (*p && isspace((unsigned char)*p))
        p++;
    if (!*p)
        return fld_err(&f, "must not be empty");
    if (!(cfg->default_text = vs_strdup(s)))
        return VS_ERR_NOMEM;
    return VS_OK;
}

static enum vs_status parse_root(const struct ctx *c, const json_t *root, struct vs_quant_config *cfg)
{
    if (json_is_null(root))
        return vs_error_set(VS_ERR_CONFIG, "%s: the file is empty (expected 'apiversion' and 'spec')", c->file);
    if (!json_is_object(root)) {
        char got[128];
        describe(root, got, sizeof got);
        return vs_error_set(VS_ERR_CONFIG, "%s: expected a mapping at the top level, got %s", c->file, got);
    }
    struct fld f;
    const char *api = NULL;
    enum vs_status st;
    fld_key(&f, c, root, "", "apiversion");
    if ((st = get_str(&f, &api)) != VS_OK)
        return st;
    if (!api)
        return err_at(c, VS_ERR_UNSUPPORTED, 0, "apiversion",
                      "missing; vlmslim supports only '" VS_APIVERSION_VLM "'");
    if (strcmp(api, VS_APIVERSION_VLM) != 0)
        return err_at(c, VS_ERR_UNSUPPORTED, f.line, "apiversion",
                      "'%.80s' is not supported (vlmslim supports only '" VS_APIVERSION_VLM "')", api);
    if (!(cfg->apiversion = vs_strdup(api)))
        return VS_ERR_NOMEM;
    if ((st = parse_metadata(c, root, &cfg->metadata)) != VS_OK)
        return st;
    return parse_spec(c, root, cfg);
}

enum vs_status vs_quant_config_load(const char *path, struct vs_quant_config **out)
{
    *out = NULL;
    struct vs_yaml_doc *doc;
    enum vs_status st = vs_yaml_doc_load(path, &doc);
    if (st != VS_OK)
        return st;
    struct vs_quant_config *cfg = vs_calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->source_path = vs_strdup(path))) {
        free(cfg);
        vs_yaml_doc_free(doc);
        return VS_ERR_NOMEM;
    }
    cfg->runner = VS_RUNNER_LAYER_WISE;
    struct ctx c = {path, doc};
    st = parse_root(&c, vs_yaml_doc_root(doc), cfg);
    vs_yaml_doc_free(doc);
    if (st != VS_OK) {
        if (st == VS_ERR_NOMEM)
            vs_error_set(st, "%s: out of memory", path);
        vs_quant_config_free(cfg);
        return st;
    }
    *out = cfg;
    return VS_OK;
}

void vs_quant_config_free(struct vs_quant_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->source_path);
    free(cfg->apiversion);
    metadata_free(&cfg->metadata);
    processor_list_free(cfg->process, cfg->n_process);
    processor_list_free(cfg->save, cfg->n_save);
    free(cfg->dataset);
    free(cfg->default_text);
    free(cfg);
}
