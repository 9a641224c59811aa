#include "eval/eval_metrics.h"

#include <math.h>
#include <stdlib.h>

/* log Σ exp(l) in float64, with the maximum taken out first. */
static double log_sum_exp(const float *l, int64_t n, int64_t *argmax)
{
    int64_t best = 0;
    for (int64_t v = 1; v < n; v++)
        if (l[v] > l[best])
            best = v;
    double m = l[best], s = 0;
    for (int64_t v = 0; v < n; v++)
        s += exp((double)l[v] - m);
    *argmax = best;
    return m + log(s);
}

void vs_eval_compare_logits(const float *lf, const float *lq, int64_t vocab, struct vs_logits_cmp *out)
{
    double zf = log_sum_exp(lf, vocab, &out->top_f), zq = log_sum_exp(lq, vocab, &out->top_q);
    double kl = 0, dot = 0, nf = 0, nq = 0;
    for (int64_t v = 0; v < vocab; v++) {
        double a = lf[v], b = lq[v], lpf = a - zf, lpq = b - zq;
        kl += exp(lpf) * (lpf - lpq);
        dot += a * b, nf += a * a, nq += b * b;
    }
    out->kl = kl > 0 ? kl : 0; /* rounding can leave a tiny negative sum for equal distributions */
    out->cosine = nf == 0 && nq == 0 ? 1.0 : nf == 0 || nq == 0 ? 0.0 : dot / sqrt(nf * nq);
}

void vs_eval_compare_hidden(const float *f, const float *q, size_t n, double *cosine, double *rel_err)
{
    double dot = 0, nf = 0, nq = 0, nd = 0;
    for (size_t i = 0; i < n; i++) {
        double a = f[i], b = q[i];
        dot += a * b, nf += a * a, nq += b * b, nd += (b - a) * (b - a);
    }
    *cosine = nf == 0 && nq == 0 ? 1.0 : nf == 0 || nq == 0 ? 0.0 : dot / sqrt(nf * nq);
    *rel_err = nf == 0 ? (nd == 0 ? 0.0 : INFINITY) : sqrt(nd / nf);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double vs_eval_quantile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    double r = p * (double)(n - 1);
    size_t lo = (size_t)floor(r), hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (r - (double)lo) * (v[hi] - v[lo]);
}
