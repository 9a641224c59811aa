/* How far a quantized model's outputs are from the float model's, in float64:
 * per position of the logits KL(P_float || P_quant) over the whole vocabulary (P = softmax),
 * top-1 agreement and cosine; per unit the hidden states' cosine and relative error. */
#ifndef VS_EVAL_EVAL_METRICS_H
#define VS_EVAL_EVAL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vs_logits_cmp {
    double kl;             /* Σ p_f (log p_f − log p_q), p = softmax of the logits in float64 */
    double cosine;         /* of the two logit vectors (1 when both are zero) */
    int64_t top_f, top_q;  /* argmax of each (the lowest id among equal maxima) */
};

void vs_eval_compare_logits(const float *lf, const float *lq, int64_t vocab, struct vs_logits_cmp *out);

/* n values of each: cosine (1 when both are zero, 0 when one is) and ||q − f|| / ||f|| (0 when
 * both are zero, infinity when only f is). */
void vs_eval_compare_hidden(const float *f, const float *q, size_t n, double *cosine, double *rel_err);

/* The p-quantile (0 <= p <= 1) of v[0..n), linear between the order statistics at rank
 * p·(n − 1) (numpy.percentile's default); sorts v. 0 for n = 0. */
double vs_eval_quantile(double *v, size_t n, double p);

#endif
