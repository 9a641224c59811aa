#include "quant/linear_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "base/log.h"
#include "quant/int_quant.h"
#include "tensor/dtype.h"

const char *vs_scheme_name(enum vs_scheme s)
{
    return s == VS_SCHEME_W8A8_DYNAMIC ? "W8A8_DYNAMIC" : s == VS_SCHEME_W8A8 ? "W8A8" : "W8A16";
}

bool vs_scheme_needs_data(enum vs_scheme s) { return s == VS_SCHEME_W8A8; }

static bool is(const struct vs_qconfig *q, enum vs_qdtype dt, enum vs_qscope sc, bool sym, const char *method)
{
    return q->dtype == dt && q->scope == sc && q->symmetric == sym && strcmp(q->method, method) == 0;
}

enum vs_status vs_linear_quant_init(struct vs_linear_quant *lq, const struct vs_processor_config *cfg)
{
    memset(lq, 0, sizeof *lq);
    lq->cfg = cfg;
    const struct vs_linear_quant_config *c = &cfg->u.linear_quant;
    const struct vs_qconfig *a = &c->act, *w = &c->weight;
    bool weight_ok = is(w, VS_QDT_INT8, VS_QS_PER_CHANNEL, true, "minmax");
    if (weight_ok && is(a, VS_QDT_INT8, VS_QS_PER_TOKEN, true, "minmax"))
        lq->scheme = VS_SCHEME_W8A8_DYNAMIC;
    else if (weight_ok && a->dtype == VS_QDT_FLOAT)
        lq->scheme = VS_SCHEME_W8A16;
    else if (weight_ok && a->dtype == VS_QDT_INT8 && a->scope == VS_QS_PER_TENSOR && strcmp(a->method, "minmax") == 0 &&
             (!a->ext_aggregation[0] || strcmp(a->ext_aggregation, "max") == 0)) {
        lq->scheme = VS_SCHEME_W8A8;
        lq->act_symmetric = a->symmetric;
    } else if (weight_ok && a->dtype == VS_QDT_INT8 && a->scope == VS_QS_PER_TENSOR &&
               strcmp(a->method, "histogram") == 0 && !a->ext_aggregation[0]) {
        lq->scheme = VS_SCHEME_W8A8;
        lq->act_symmetric = a->symmetric;
        lq->act_histogram = true;
    } else
        return vs_error_set(VS_ERR_UNSUPPORTED,
                            "%s: linear_quant with act %s %s %s %s and weight %s %s %s %s is not implemented in this build "
                            "(supported: W8A8_DYNAMIC = act int8 per_token symmetric minmax + weight int8 per_channel symmetric minmax; "
                            "W8A16 = act float + weight int8 per_channel symmetric minmax; "
                            "W8A8 = act int8 per_tensor symmetric or asymmetric minmax or histogram + weight int8 per_channel symmetric minmax)",
                            cfg->path, vs_qdtype_name(a->dtype), vs_qscope_name(a->scope),
                            a->symmetric ? "symmetric" : "asymmetric", a->method, vs_qdtype_name(w->dtype),
                            vs_qscope_name(w->scope), w->symmetric ? "symmetric" : "asymmetric", w->method);
    lq->include_hits = vs_calloc(c->include.count + 1, sizeof *lq->include_hits);
    lq->exclude_hits = vs_calloc(c->exclude.count + 1, sizeof *lq->exclude_hits);
    if (!lq->include_hits || !lq->exclude_hits) {
        vs_linear_quant_free(lq);
        return VS_ERR_NOMEM;
    }
    return VS_OK;
}

void vs_linear_quant_free(struct vs_linear_quant *lq)
{
    free(lq->include_hits);
    free(lq->exclude_hits);
    lq->include_hits = lq->exclude_hits = NULL;
}

/* Counts a hit for every pattern of the list that matches; returns whether any did. */
static bool count_matches(const struct vs_pattern_list *l, size_t *hits, const char *name)
{
    bool any = false;
    for (size_t i = 0; i < l->count; i++)
        if (vs_glob_match(l->items[i], name)) {
            hits[i]++;
            any = true;
        }
    return any;
}

bool vs_linear_quant_matches(const struct vs_linear_quant *lq, const char *module)
{
    const struct vs_linear_quant_config *c = &lq->cfg->u.linear_quant;
    bool included = false, excluded = false;
    for (size_t i = 0; i < c->include.count && !included; i++)
        included = vs_glob_match(c->include.items[i], module);
    for (size_t i = 0; i < c->exclude.count && included && !excluded; i++)
        excluded = vs_glob_match(c->exclude.items[i], module);
    return included && !excluded;
}

bool vs_linear_quant_selects(struct vs_linear_quant *lq, const char *module)
{
    /* Patterns are counted over every module the entry sees (excluded or not), so a pattern
     * is reported as unused only when it matches nothing at all. */
    const struct vs_linear_quant_config *c = &lq->cfg->u.linear_quant;
    bool included = count_matches(&c->include, lq->include_hits, module);
    bool excluded = count_matches(&c->exclude, lq->exclude_hits, module);
    return included && !excluded;
}

static void warn_list(const struct vs_linear_quant *lq, const struct vs_pattern_list *l, const size_t *hits,
                      const char *key)
{
    for (size_t i = 0; i < l->count; i++)
        if (hits[i] == 0 && strcmp(l->items[i], "*") != 0)
            vs_warn("%s.%s[%zu]: pattern '%s' matched no Linear module", lq->cfg->path, key, i, l->items[i]);
}

void vs_linear_quant_warn_unmatched(const struct vs_linear_quant *lq)
{
    const struct vs_linear_quant_config *c = &lq->cfg->u.linear_quant;
    warn_list(lq, &c->include, lq->include_hits, "include");
    warn_list(lq, &c->exclude, lq->exclude_hits, "exclude");
}

enum vs_status vs_linear_quant_weight(enum vs_scheme scheme, const char *module, const float *w,
                                      int64_t rows, int64_t cols, int8_t *q, float *scale, float *offset)
{
    (void)scheme; /* both implemented schemes use int8 per-channel symmetric minmax weights */
    size_t n = (size_t)rows * (size_t)cols, i;
    if (vs_count_nonfinite_f32(w, n, &i))
        return vs_error_set(VS_ERR_MODEL, "%s.weight: element [%zu, %zu] is %s; cannot quantize a non-finite weight",
                            module, i / (size_t)cols, i % (size_t)cols, isnan(w[i]) ? "NaN" : "infinite");
    vs_quant_weight_per_channel(w, rows, cols, 8, true, q, scale, NULL);
    if (offset)
        memset(offset, 0, (size_t)rows * sizeof *offset);
    return VS_OK;
}
