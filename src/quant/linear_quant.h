/* The `linear_quant` processor: which Linear modules each entry claims (spec §5.1), the
 * scheme of an entry (data-free W8A8_DYNAMIC and W8A16, calibrated W8A8 static) and the
 * weight quantization of a claimed module.
 *
 * Selection: a Linear is selected by an entry iff its full name matches an include pattern
 * and no exclude pattern (vs_glob_match); among several entries the first that selects a
 * module claims it — later entries never re-quantize it. */
#ifndef VS_QUANT_LINEAR_QUANT_H
#define VS_QUANT_LINEAR_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "config/quant_config.h"

enum vs_scheme {
    VS_SCHEME_W8A8_DYNAMIC, /* act int8 per_token sym (runtime), weight int8 per_channel sym minmax */
    VS_SCHEME_W8A16,        /* act float, weight int8 per_channel sym minmax */
    VS_SCHEME_W8A8,         /* act int8 per_tensor sym or asym minmax/histogram (calibrated), weight as above */
    VS_SCHEME_COUNT,
};
const char *vs_scheme_name(enum vs_scheme s); /* "W8A8_DYNAMIC", "W8A16", "W8A8" */
/* True if the scheme needs activation statistics from calibration data. */
bool vs_scheme_needs_data(enum vs_scheme s);

/* One linear_quant entry with its resolved scheme and per-pattern match counts. */
struct vs_linear_quant {
    const struct vs_processor_config *cfg; /* borrowed */
    enum vs_scheme scheme;
    bool act_symmetric; /* VS_SCHEME_W8A8: offset 0 */
    bool act_histogram; /* VS_SCHEME_W8A8: act method histogram (quant/histogram.h), else minmax */
    size_t *include_hits, *exclude_hits;
};

/* Resolves the entry's (act, weight) qconfig pair to a scheme this build implements, or
 * returns VS_ERR_UNSUPPORTED naming the entry (cfg->path), the pair and what is supported. */
enum vs_status vs_linear_quant_init(struct vs_linear_quant *lq, const struct vs_processor_config *cfg);
void vs_linear_quant_free(struct vs_linear_quant *lq);

/* True if the entry selects the module (and counts pattern hits). */
bool vs_linear_quant_selects(struct vs_linear_quant *lq, const char *module);
/* The same, without counting (for looking ahead). */
bool vs_linear_quant_matches(const struct vs_linear_quant *lq, const char *module);

/* Logs a warning for every include/exclude pattern that matched no module (except "*"). */
void vs_linear_quant_warn_unmatched(const struct vs_linear_quant *lq);

/* Quantizes the [rows, cols] float32 weight of Linear `module` for the scheme: int8 values,
 * per-row scale and offset (all zero for the symmetric schemes). A NaN or infinite weight is
 * VS_ERR_MODEL naming the module and the element. */
enum vs_status vs_linear_quant_weight(enum vs_scheme scheme, const char *module, const float *w,
                                      int64_t rows, int64_t cols, int8_t *q, float *scale, float *offset);

#endif
