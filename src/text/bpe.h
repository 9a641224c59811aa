/* BPE merge table and merge loop over symbol ids (internal). */
#ifndef VS_TEXT_BPE_H
#define VS_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* (left id, right id) -> (rank, merged id), open addressing. */
struct vs_bpe_merges {
    struct vs_bpe_slot {
        uint64_t key; /* UINT64_MAX: empty */
        int32_t rank;
        int32_t merged;
    } *slots;
    size_t mask, count;
};

enum vs_status vs_bpe_merges_init(struct vs_bpe_merges *m, size_t expected);
void vs_bpe_merges_free(struct vs_bpe_merges *m);
/* A later duplicate pair replaces the earlier one (as in the Rust tokenizers crate). */
enum vs_status vs_bpe_merges_put(struct vs_bpe_merges *m, int32_t a, int32_t b, int32_t rank,
                                 int32_t merged);
const struct vs_bpe_slot *vs_bpe_merges_get(const struct vs_bpe_merges *m, int32_t a, int32_t b);

/* Scratch space reused across words. */
struct vs_bpe_work {
    struct vs_bpe_sym { int32_t id, prev, next; } *syms;
    struct vs_bpe_item { int32_t rank, pos, merged; } *heap;
    size_t cap_syms, cap_heap;
};
void vs_bpe_work_free(struct vs_bpe_work *w);

/* Merges the n symbol ids in ids[] in place (lowest rank first, leftmost on ties); returns the
 * new count, or (size_t)-1 on allocation failure. */
size_t vs_bpe_merge(const struct vs_bpe_merges *m, struct vs_bpe_work *w, int32_t *ids, size_t n);

#endif
