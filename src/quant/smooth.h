/* Smoothing math of msModelSlim's iter_smooth and smooth_quant (msmodelslim_vlm_spec.md §5.2,
 * §5.4): per-channel activation statistics, the scale formulas, and folding the scales into a
 * subgraph's weights in place so that the float function is unchanged.
 *
 * Subgraph types and what a scale s[c] does (processed in priority order up-down, ov,
 * linear-linear, norm-linear, vs_smooth_priority):
 *   norm-linear    norm γ[c] /= s[c] (and β), every target Linear's input column c *= s[c];
 *   linear-linear, up-down
 *                  the source Linear's output row c /= s[c] (and its bias), the target's input
 *                  column c *= s[c];
 *   ov             o_proj input column j *= o_s[j], v_proj output row j /= v_s[j] (and bias),
 *                  where v_s is s reduced over the query heads of each KV group (vs_smooth_ov_reduce).
 *
 * msModelSlim quirks reproduced by default (vs_smooth_weight_colmax's `absolute` argument and
 * vs_smooth_params.abs_weight_stat turn the first off):
 *   - the weight statistic of ov, up-down and linear-linear is the signed column max of the
 *     target weight (max over rows of W[:, c], not of |W[:, c]|); norm-linear uses |W|;
 *   - the ov reduction over the query heads of a KV group is the mean (extra_config.group_method
 *     is ignored by iter_smooth). */
#ifndef VS_QUANT_SMOOTH_H
#define VS_QUANT_SMOOTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "quant/linear_weights.h"
#include "tensor/dtype.h"

/* Bit positions match enum vs_subgraph_type of config/quant_config.h (1u << type). */
enum vs_smooth_type {
    VS_SMOOTH_NORM_LINEAR = 0,
    VS_SMOOTH_LINEAR_LINEAR = 1,
    VS_SMOOTH_OV = 2,
    VS_SMOOTH_UP_DOWN = 3,
};
/* msModelSlim's processing priority: up-down 1, ov 2, linear-linear 3, norm-linear 4. */
int vs_smooth_priority(enum vs_smooth_type t);
const char *vs_smooth_type_name(enum vs_smooth_type t); /* "norm-linear", ... */

/* Running per-channel statistics of the input of a subgraph's first target, over every token of
 * every sample. */
struct vs_smooth_stats {
    int64_t channels;
    bool shifted;    /* asymmetric norm-linear: absmax is of x - shift */
    int64_t calls;
    float *min, *max; /* running per-channel min and max */
    float *absmax;    /* running max |x[:, c]| (or |x[:, c] - shift[c]|) */
    float *shift;     /* scratch for the shifted mode */
};
enum vs_status vs_smooth_stats_init(struct vs_smooth_stats *st, int64_t channels, bool shifted);
void vs_smooth_stats_free(struct vs_smooth_stats *st);
/* One forward call's input x [rows, channels]: min/max are updated first, then (shifted mode)
 * shift = (max + min)/2 as it stands after this call is used for this call's |x - shift|. */
void vs_smooth_stats_observe(struct vs_smooth_stats *st, const float *x, int64_t rows);
/* shift[c] = (max[c] + min[c]) / 2 of the statistics so far. */
void vs_smooth_stats_shift(const struct vs_smooth_stats *st, float *shift);

/* Weight statistic: stat[c] = max(stat[c], max over rows of W[:, c]) (|W| when absolute). Call
 * once per target with stat preset to -INFINITY; the scale functions clamp it at 1e-5. */
void vs_smooth_weight_colmax(const float *w, int64_t out, int64_t in, bool absolute, float *stat);

/* iter_smooth: s[c] = max(a[c]^alpha / max(w[c], 1e-5)^(1-alpha), scale_min), in float32. */
void vs_iter_smooth_scales(const float *a, const float *w, int64_t n, double alpha, double scale_min,
                           float *s);
/* smooth_quant: the same formula with scale_min fixed at 1e-5 (alpha defaults to 0.5). */
void vs_smooth_quant_scales(const float *a, const float *w, int64_t n, double alpha, float *s);

/* Fold for norm-linear. gamma/beta [C] (beta may be NULL when symmetric); every target's in == C.
 * shift != NULL selects the asymmetric mode: every target bias gets += W·shift (with the unscaled
 * W), then beta ← (beta − shift)/s; beta and every target's b must then be non-NULL (the caller
 * supplies zeroed buffers where the checkpoint has none, as msModelSlim creates them). */
enum vs_status vs_smooth_fold_norm_linear(float *gamma, float *beta, int64_t C, const float *s,
                                          const float *shift, const struct vs_linear_weights *targets,
                                          size_t n_targets);

/* Fold for linear-linear and up-down: source rows c (and bias) /= s[c], target columns c *= s[c];
 * source->out == target->in. */
enum vs_status vs_smooth_fold_linear_linear(const struct vs_linear_weights *source,
                                            const struct vs_linear_weights *target, const float *s);

/* ov: v_s[g·d + j] = mean over the heads h of KV group g (h = g·(nq/nkv) .. ) of s[h·d + j];
 * s has nq·d entries, v_s nkv·d. */
enum vs_status vs_smooth_ov_reduce(const float *s, int64_t nq, int64_t nkv, int64_t d, float *v_s);

/* Fold for ov with the reduced scales: v_proj rows j (and bias) /= v_s[j]; o_proj column
 * h·d + j *= v_s[(h / (nq/nkv))·d + j]. v_proj [nkv·d, H], o_proj [H', nq·d]. */
enum vs_status vs_smooth_fold_ov(const struct vs_linear_weights *v_proj, const struct vs_linear_weights *o_proj,
                                 const float *v_s, int64_t nq, int64_t nkv, int64_t d);

/* ------------------------------------------------------------------ one subgraph, end to end */

/* The weights of one subgraph, borrowed and edited in place. */
struct vs_smooth_subgraph_weights {
    enum vs_smooth_type type;
    /* norm-linear: the norm's weight and bias ([channels]; bias NULL for RMSNorm; for the
     * asymmetric mode both norm_bias and every target's b must be buffers, zeroed if absent) */
    float *norm_weight, *norm_bias;
    /* linear-linear, up-down: the producer Linear; ov: v_proj */
    const struct vs_linear_weights *source;
    /* the Linears reading the smoothed channels; ov, up-down and linear-linear use targets[0] */
    const struct vs_linear_weights *targets;
    size_t n_targets;
    int64_t num_attention_heads, num_key_value_heads, head_dim; /* ov */
};

struct vs_smooth_params {
    double alpha;          /* iter_smooth default 0.9; smooth_quant 0.5 */
    double scale_min;      /* iter_smooth's scale_min; 1e-5 for smooth_quant */
    bool symmetric;        /* false: the shifted norm-linear mode (stats must be shifted) */
    bool abs_weight_stat;  /* false (msModelSlim): signed column max for ov/up-down/linear-linear */
    enum vs_dtype scale_dtype; /* msModelSlim casts the scales to the weight dtype before folding:
                                  VS_DTYPE_BF16/F16 round them so; VS_DTYPE_F32 keeps them */
};

/* msModelSlim's iter_smooth postprocess for one subgraph whose first target's input produced
 * `st`: the weight statistic (per input channel over the targets, |W| for norm-linear), the
 * scales, the ov reduction, the fold. `scales` (optional) receives the folded scales: [channels]
 * (norm-linear, linear-linear, up-down) or [num_key_value_heads·head_dim] (ov, after the mean).
 * A subgraph without statistics (st->calls == 0) is an error naming targets[0]; msModelSlim skips
 * it with a warning, which the caller can do by checking calls first. */
enum vs_status vs_smooth_apply(const struct vs_smooth_subgraph_weights *g, const struct vs_smooth_stats *st,
                               const struct vs_smooth_params *p, float *scales);

/* ------------------------------------------------------------------ one Linear at a time */

/* A subgraph's fold with its scales decided (vs_smooth_plan), applied to its Linears and its norm
 * one at a time, so that a caller need hold only one Linear's float32 weights at once. The
 * multi-Linear folds above are these over their arguments. */
struct vs_smooth_fold {
    enum vs_smooth_type type;
    int64_t C;          /* the targets' in_features */
    const float *s;     /* [C]; ov: [nkv·d], the reduced scales v_s */
    const float *shift; /* the asymmetric norm-linear mode: [C]; else NULL */
    int64_t nq, nkv, d; /* ov: num_attention_heads, num_key_value_heads, head_dim */
};
/* f's type, C and (ov) heads set by the caller: the scales from the statistics st and the weight
 * statistic wstat [C] (vs_smooth_weight_colmax over every target with |W| for norm-linear, over
 * the first target otherwise, signed unless p->abs_weight_stat), rounded through p->scale_dtype,
 * into s [C] (ov: reduced over the query heads, rounded again, into s's first nkv·d), and the
 * statistics' shift into shift [C] (the asymmetric mode); f->s and f->shift point at them.
 * Errors name `name` (the first target). */
enum vs_status vs_smooth_plan(struct vs_smooth_fold *f, const struct vs_smooth_stats *st, const float *wstat,
                              const struct vs_smooth_params *p, const char *name, float *s, float *shift);
/* A target: input columns scaled (after, asymmetric, its bias += W·shift with the unscaled W;
 * its b must then be a buffer). */
enum vs_status vs_smooth_fold_target(const struct vs_smooth_fold *f, const struct vs_linear_weights *t);
/* The source Linear of linear-linear, up-down and ov (v_proj, or the value rows of a fused qkv):
 * output rows and bias divided. */
enum vs_status vs_smooth_fold_source(const struct vs_smooth_fold *f, const struct vs_linear_weights *src);
/* The norm of norm-linear: gamma (and beta) [C]. */
enum vs_status vs_smooth_fold_norm(const struct vs_smooth_fold *f, float *gamma, float *beta);

#endif
