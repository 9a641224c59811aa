#include "runner/layerwise.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "model/unit_f32.h"

struct slot {
    struct vs_sample *s; /* NULL while spilled */
    int gen;             /* spill file holding it (0 or 1) */
    off_t off;
    size_t len;
};

struct vs_layerwise {
    const struct vs_adapter_ops *ops;
    struct vs_model *m;
    uint64_t budget;
    char *dir;
    struct slot *slots;
    size_t n, cap;
    int fd[2];          /* spill files by generation parity, created on first use */
    char *path[2];      /* for messages (the files are unlinked) */
    off_t end[2];
    struct vs_layerwise_stats st;
    volatile sig_atomic_t *interrupted;
};

void vs_layerwise_set_interrupt(struct vs_layerwise *lw, volatile sig_atomic_t *flag) { lw->interrupted = flag; }

enum vs_status vs_layerwise_open(const struct vs_adapter_ops *ops, struct vs_model *m, uint64_t spill_budget,
                                 const char *spill_dir, struct vs_layerwise **out)
{
    *out = NULL;
    if (!vs_adapter_has_forward(ops))
        return vs_error_set(VS_ERR_UNSUPPORTED, "adapter '%s' (ABI version %u) implements no forward pass", ops->key,
                            ops->abi_version);
    struct vs_layerwise *lw = vs_calloc(1, sizeof *lw);
    if (!lw)
        return VS_ERR_NOMEM;
    const char *dir = spill_dir ? spill_dir : getenv("TMPDIR");
    lw->ops = ops;
    lw->m = m;
    lw->budget = spill_budget;
    lw->fd[0] = lw->fd[1] = -1;
    if (!(lw->dir = vs_strdup(dir && *dir ? dir : "/tmp"))) {
        free(lw);
        return VS_ERR_NOMEM;
    }
    *out = lw;
    return VS_OK;
}

void vs_layerwise_close(struct vs_layerwise *lw)
{
    if (!lw)
        return;
    for (size_t j = 0; j < lw->n; j++)
        lw->ops->sample_free(lw->slots[j].s);
    for (int g = 0; g < 2; g++) {
        if (lw->fd[g] >= 0)
            close(lw->fd[g]);
        free(lw->path[g]);
    }
    free(lw->slots);
    free(lw->dir);
    free(lw);
}

size_t vs_layerwise_count(const struct vs_layerwise *lw) { return lw->n; }

void vs_layerwise_stats(const struct vs_layerwise *lw, struct vs_layerwise_stats *out) { *out = lw->st; }

static void account(struct vs_layerwise *lw, size_t add, size_t sub)
{
    lw->st.resident_bytes += add;
    lw->st.resident_bytes -= sub;
    if (lw->st.resident_bytes > lw->st.peak_resident_bytes)
        lw->st.peak_resident_bytes = lw->st.resident_bytes;
}

static enum vs_status spill_file(struct vs_layerwise *lw, int g)
{
    if (lw->fd[g] >= 0)
        return VS_OK;
    char *tmpl = vs_strfmt("%s/vlmslim-spill-XXXXXX", lw->dir);
    if (!tmpl)
        return VS_ERR_NOMEM;
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot create the activation spill file: %s", tmpl,
                                         strerror(errno));
        free(tmpl);
        return st;
    }
    unlink(tmpl);
    lw->fd[g] = fd;
    lw->path[g] = tmpl;
    lw->end[g] = 0;
    return VS_OK;
}

/* Writes slot j's state to spill file g and frees it. */
static enum vs_status spill(struct vs_layerwise *lw, size_t j, int g)
{
    struct slot *sl = &lw->slots[j];
    enum vs_status st = spill_file(lw, g);
    if (st != VS_OK)
        return st;
    size_t len = lw->ops->sample_size(sl->s);
    void *buf = vs_malloc(len);
    if (!buf)
        return VS_ERR_NOMEM;
    lw->ops->sample_save(sl->s, buf);
    st = VS_OK;
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(lw->fd[g], (char *)buf + done, len - done, lw->end[g] + (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = vs_error_set(VS_ERR_IO, "%s: cannot write the state of sample %zu (%zu bytes): %s", lw->path[g], j,
                              len, w < 0 ? strerror(errno) : "no space written");
            break;
        }
        done += (size_t)w;
    }
    free(buf);
    if (st != VS_OK)
        return st;
    sl->gen = g;
    sl->off = lw->end[g];
    sl->len = len;
    lw->end[g] += (off_t)len;
    lw->ops->sample_free(sl->s);
    sl->s = NULL;
    account(lw, 0, len);
    lw->st.spilled_bytes += len;
    lw->st.spills++;
    return VS_OK;
}

/* Reads slot j's spilled state back (a new state; the file copy stays). */
static enum vs_status unspill(struct vs_layerwise *lw, size_t j, struct vs_sample **out)
{
    struct slot *sl = &lw->slots[j];
    void *buf = vs_malloc(sl->len);
    if (!buf)
        return VS_ERR_NOMEM;
    enum vs_status st = VS_OK;
    for (size_t done = 0; done < sl->len;) {
        ssize_t r = pread(lw->fd[sl->gen], (char *)buf + done, sl->len - done, sl->off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = vs_error_set(VS_ERR_IO, "%s: cannot read back the state of sample %zu: %s", lw->path[sl->gen], j,
                              r < 0 ? strerror(errno) : "file is short");
            break;
        }
        done += (size_t)r;
    }
    if (st == VS_OK)
        st = lw->ops->sample_load(lw->m, buf, sl->len, out);
    free(buf);
    return st;
}

static enum vs_status maybe_spill(struct vs_layerwise *lw, size_t j, int g)
{
    return lw->st.resident_bytes > lw->budget ? spill(lw, j, g) : VS_OK;
}

enum vs_status vs_layerwise_add_sample(struct vs_layerwise *lw, const struct vs_model_inputs *in)
{
    if (lw->n == lw->cap) {
        size_t cap = lw->cap ? lw->cap * 2 : 16;
        struct slot *ns = vs_realloc(lw->slots, cap * sizeof *ns);
        if (!ns)
            return VS_ERR_NOMEM;
        lw->slots = ns;
        lw->cap = cap;
    }
    struct slot *sl = &lw->slots[lw->n];
    memset(sl, 0, sizeof *sl);
    enum vs_status st = lw->ops->sample_begin(lw->m, in, &sl->s);
    if (st != VS_OK)
        return vs_error_prefix(st, "sample %zu", lw->n);
    account(lw, lw->ops->sample_size(sl->s), 0);
    lw->n++;
    return maybe_spill(lw, lw->n - 1, 0);
}

/* A private copy of a state held in memory. */
static enum vs_status copy_state(struct vs_layerwise *lw, const struct vs_sample *s, struct vs_sample **out)
{
    size_t len = lw->ops->sample_size(s);
    void *buf = vs_malloc(len);
    if (!buf)
        return VS_ERR_NOMEM;
    lw->ops->sample_save(s, buf);
    enum vs_status st = lw->ops->sample_load(lw->m, buf, len, out);
    free(buf);
    return st;
}

/* Samples run through a unit together (one adapter call, so that each Linear multiplies the
 * rows of all of them): consecutive ones, up to this many bytes of states. The groups depend
 * only on the states, not on which are in memory, so that a spilled run computes exactly what
 * an in-memory one does; the states of one group are in memory at once, beyond the budget. */
enum { BATCH_BYTES = 64 << 20 };

static size_t slot_size(const struct vs_layerwise *lw, size_t j)
{
    const struct slot *sl = &lw->slots[j];
    return sl->s ? lw->ops->sample_size(sl->s) : sl->len;
}

/* Non-finite values met while samples j0..j1 ran together: the run stops, so their states can be
 * used up to find the first sample that meets them alone (a batched call leaves its states as they
 * were when it fails), whose message is then the one reported. */
static enum vs_status first_nonfinite_sample(struct vs_layerwise *lw, size_t i, const struct vs_unit *u,
                                             struct vs_sample **ss, size_t j0, size_t j1,
                                             const struct vs_linear_hooks *hooks, bool all_experts)
{
    char batched[VS_ERROR_MAX];
    snprintf(batched, sizeof batched, "%s", vs_error_message());
    for (size_t j = j0; j < j1; j++) {
        enum vs_status st = lw->ops->unit_forward(lw->m, i, u, ss[j], hooks, all_experts);
        if (st != VS_OK)
            return vs_error_prefix(st, "sample %zu", j);
    }
    return vs_error_set(VS_ERR_NONFINITE, "samples %zu to %zu: %s", j0, j1 - 1, batched);
}

enum vs_status vs_layerwise_run_unit(struct vs_layerwise *lw, size_t i, const struct vs_unit *u,
                                     const struct vs_linear_hooks *hooks, bool all_experts, bool keep,
                                     vs_layerwise_sample_fn after, void *ctx)
{
    int in_gen = (int)(i & 1), out_gen = (int)((i + 1) & 1);
    bool batch = lw->ops->unit_forward_batch && !(hooks && hooks->per_sample);
    struct vs_sample **ss = vs_calloc(lw->n ? lw->n : 1, sizeof *ss);
    bool *owned = vs_calloc(lw->n ? lw->n : 1, sizeof *owned); /* ss[j] is a copy or read back, not the slot's */
    size_t *before = vs_calloc(lw->n ? lw->n : 1, sizeof *before);
    enum vs_status st = ss && owned && before ? VS_OK : VS_ERR_NOMEM;
    for (size_t j0 = 0, j1; j0 < lw->n && st == VS_OK; j0 = j1) {
        if (lw->interrupted && *lw->interrupted) {
            st = vs_error_set(VS_ERR_IO, "interrupted at sample %zu of unit %zu (%s)", j0, i, u->name);
            break;
        }
        size_t bytes = slot_size(lw, j0);
        for (j1 = j0 + 1; batch && j1 < lw->n && bytes + slot_size(lw, j1) <= BATCH_BYTES; j1++)
            bytes += slot_size(lw, j1);
        for (size_t j = j0; j < j1 && st == VS_OK; j++) {
            struct slot *sl = &lw->slots[j];
            ss[j] = sl->s;
            if (!sl->s) {
                st = unspill(lw, j, &ss[j]);
                owned[j] = true;
            } else if (!keep) {
                st = copy_state(lw, sl->s, &ss[j]);
                owned[j] = true;
            }
            before[j] = keep && ss[j] ? lw->ops->sample_size(ss[j]) : 0;
        }
        if (st == VS_OK) {
            if (j1 - j0 == 1) {
                if ((st = lw->ops->unit_forward(lw->m, i, u, ss[j0], hooks, all_experts)) != VS_OK)
                    st = vs_error_prefix(st, "sample %zu", j0);
            } else if ((st = lw->ops->unit_forward_batch(lw->m, i, u, ss + j0, j1 - j0, hooks, all_experts)) != VS_OK) {
                st = st == VS_ERR_NONFINITE ? first_nonfinite_sample(lw, i, u, ss, j0, j1, hooks, all_experts)
                                            : vs_error_prefix(st, "samples %zu to %zu", j0, j1 - 1);
            }
        }
        for (size_t j = j0; j < j1; j++) {
            struct slot *sl = &lw->slots[j];
            if (st == VS_OK && after)
                st = after(ctx, i, j, ss[j]);
            if (st == VS_OK && keep) {
                if (owned[j]) { /* read back from the spill file: becomes the state again */
                    sl->s = ss[j];
                    owned[j] = false;
                    account(lw, lw->ops->sample_size(ss[j]), 0);
                } else {
                    account(lw, lw->ops->sample_size(ss[j]), before[j]);
                }
                st = maybe_spill(lw, j, out_gen);
            }
            if (owned[j])
                lw->ops->sample_free(ss[j]);
            owned[j] = false;
            ss[j] = NULL;
        }
    }
    free(ss);
    free(owned);
    free(before);
    /* Every state of the input generation has been read back: its file can start over. */
    if (st == VS_OK && keep && lw->fd[in_gen] >= 0) {
        if (ftruncate(lw->fd[in_gen], 0) != 0)
            return vs_error_set(VS_ERR_IO, "%s: cannot truncate the spill file: %s", lw->path[in_gen], strerror(errno));
        lw->end[in_gen] = 0;
    }
    return st;
}

enum vs_status vs_layerwise_forward_all(struct vs_layerwise *lw, vs_layerwise_sample_fn after, void *ctx)
{
    size_t n_units = lw->ops->unit_count(lw->m);
    enum vs_status st = VS_OK;
    for (size_t i = 0; i < n_units && st == VS_OK; i++) {
        struct vs_unit *u = NULL;
        struct vs_unit_f32 *f = NULL;
        if ((st = lw->ops->unit_load(lw->m, i, &u)) == VS_OK && (st = vs_unit_f32_make_for_compute(u, &f)) == VS_OK)
            st = vs_layerwise_run_unit(lw, i, f->unit, NULL, false, true, after, ctx);
        if (st == VS_OK)
            vs_debug("forward: %s done on %zu samples", u->name, lw->n);
        vs_unit_f32_free(f);
        vs_unit_free(u);
    }
    return st;
}

enum vs_status vs_layerwise_with_sample(struct vs_layerwise *lw, size_t j, vs_layerwise_state_fn fn, void *ctx)
{
    struct slot *sl = &lw->slots[j];
    if (sl->s)
        return fn(ctx, lw->m, sl->s);
    struct vs_sample *s = NULL;
    enum vs_status st = unspill(lw, j, &s);
    if (st == VS_OK)
        st = fn(ctx, lw->m, s);
    lw->ops->sample_free(s);
    return st;
}

struct logits_out {
    const struct vs_adapter_ops *ops;
    float **logits;
    int64_t *n;
};

static enum vs_status last_logits(void *ctx, struct vs_model *m, const struct vs_sample *s)
{
    struct logits_out *o = ctx;
    return o->ops->sample_logits(m, s, o->logits, o->n);
}

enum vs_status vs_layerwise_logits(struct vs_layerwise *lw, size_t j, float **logits, int64_t *n)
{
    struct logits_out o = {.ops = lw->ops, .logits = logits, .n = n};
    return vs_layerwise_with_sample(lw, j, last_logits, &o);
}
