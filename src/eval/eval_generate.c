#include "eval/eval_generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/linear_apply.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"

struct next_token {
    const struct vs_adapter_ops *ops;
    const struct vs_linear_hooks *hooks;
    float *logits;
    int64_t vocab, token;
};

static enum vs_status argmax_last(void *ctx, struct vs_model *m, const struct vs_sample *s)
{
    struct next_token *t = ctx;
    const float *data;
    int64_t rows, cols;
    t->ops->sample_output(s, &data, &rows, &cols);
    enum vs_status st = t->ops->sample_logits_rows(m, s, rows - 1, rows, t->logits, t->hooks);
    if (st != VS_OK)
        return st;
    int64_t best = 0;
    for (int64_t v = 1; v < t->vocab; v++)
        if (t->logits[v] > t->logits[best])
            best = v;
    t->token = best;
    return VS_OK;
}

/* One forward pass of every unfinished sample over its prompt and tokens so far. */
static enum vs_status step(const struct vs_adapter_ops *ops, struct vs_model *m, struct vs_export *e,
                           const struct vs_model_inputs *samples, size_t n, struct vs_eval_tokens *out,
                           const bool *done, uint64_t budget, volatile sig_atomic_t *interrupted, float *logits)
{
    struct vs_layerwise *lw = NULL;
    struct vs_linear_hooks h = {0};
    if (e)
        vs_export_hooks(e, &h);
    size_t *which = malloc((n ? n : 1) * sizeof *which), k = 0;
    enum vs_status st = which ? vs_layerwise_open(ops, m, budget, NULL, &lw) : VS_ERR_NOMEM;
    if (st == VS_OK && interrupted)
        vs_layerwise_set_interrupt(lw, interrupted);
    for (size_t j = 0; j < n && st == VS_OK; j++) {
        if (done[j])
            continue;
        struct vs_model_inputs in = samples[j];
        int64_t *ids = malloc((size_t)(in.n_tokens + out[j].n) * sizeof *ids);
        if (!ids) {
            st = VS_ERR_NOMEM;
            break;
        }
        memcpy(ids, in.input_ids, (size_t)in.n_tokens * sizeof *ids);
        memcpy(ids + in.n_tokens, out[j].ids, (size_t)out[j].n * sizeof *ids);
        in.input_ids = ids, in.n_tokens += out[j].n;
        st = vs_layerwise_add_sample(lw, &in);
        free(ids);
        which[k++] = j;
    }
    size_t units = ops->unit_count(m);
    for (size_t i = 0; i < units && st == VS_OK; i++) {
        struct vs_unit *u = NULL, *v = NULL;
        struct vs_unit_f32 *f = NULL;
        if ((st = ops->unit_load(m, i, &u)) == VS_OK && e)
            st = vs_export_view(e, u, &v);
        if (st == VS_OK)
            st = vs_unit_f32_make_for_compute(e ? v : u, &f);
        if (st == VS_OK)
            st = vs_layerwise_run_unit(lw, i, f->unit, e ? &h : NULL, false, true, NULL, NULL);
        vs_unit_f32_free(f);
        vs_unit_free(v);
        vs_unit_free(u);
    }
    struct next_token t = {.ops = ops, .hooks = e ? &h : NULL, .logits = logits, .vocab = ops->vocab_size(m)};
    for (size_t q = 0; q < k && st == VS_OK; q++) {
        size_t j = which[q];
        if ((st = vs_layerwise_with_sample(lw, q, argmax_last, &t)) != VS_OK)
            break;
        out[j].ids[out[j].n++] = t.token;
    }
    vs_layerwise_close(lw);
    free(which);
    return st;
}

enum vs_status vs_eval_generate(const struct vs_adapter_ops *ops, struct vs_model *m, struct vs_export *e,
                                const struct vs_model_inputs *samples, size_t n, int64_t max_new, const int64_t *eos,
                                size_t n_eos, uint64_t spill_budget, volatile sig_atomic_t *interrupted,
                                struct vs_eval_tokens *out)
{
    bool *done = calloc(n ? n : 1, sizeof *done);
    float *logits = malloc((size_t)ops->vocab_size(m) * sizeof *logits);
    enum vs_status st = done && logits ? VS_OK : VS_ERR_NOMEM;
    for (size_t j = 0; j < n && st == VS_OK; j++) {
        out[j].n = 0;
        if (!(out[j].ids = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *out[j].ids)))
            st = VS_ERR_NOMEM;
    }
    for (int64_t s = 0; s < max_new && st == VS_OK; s++) {
        size_t left = 0;
        for (size_t j = 0; j < n; j++)
            left += !done[j];
        if (!left)
            break;
        vs_info("eval: %s model: token %lld of at most %lld (%zu sample(s) still generating)", e ? "quantized" : "float",
                (long long)s + 1, (long long)max_new, left);
        if ((st = step(ops, m, e, samples, n, out, done, spill_budget, interrupted, logits)) != VS_OK)
            break;
        for (size_t j = 0; j < n; j++)
            for (size_t q = 0; q < n_eos && !done[j]; q++)
                done[j] = out[j].n > 0 && out[j].ids[out[j].n - 1] == eos[q];
    }
    free(done);
    free(logits);
    if (st != VS_OK)
        for (size_t j = 0; j < n; j++) {
            free(out[j].ids);
            out[j].ids = NULL, out[j].n = 0;
        }
    return st;
}
