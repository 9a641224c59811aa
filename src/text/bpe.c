/* BPE merge loop: a linked list of symbols and a binary min-heap of candidate merges ordered by
 * (rank, position), as in the Rust tokenizers crate, so a word of n bytes takes O(n log n). */
#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

static size_t pair_hash(uint64_t k)
{
    k ^= k >> 29;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 17);
}

enum vs_status vs_bpe_merges_init(struct vs_bpe_merges *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    m->slots = vs_malloc(cap * sizeof *m->slots);
    if (!m->slots)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        m->slots[i].key = UINT64_MAX;
    m->mask = cap - 1;
    m->count = 0;
    return VS_OK;
}

void vs_bpe_merges_free(struct vs_bpe_merges *m)
{
    free(m->slots);
    m->slots = NULL;
}

static enum vs_status grow(struct vs_bpe_merges *m)
{
    struct vs_bpe_merges n;
    enum vs_status st = vs_bpe_merges_init(&n, (m->mask + 1));
    if (st)
        return st;
    for (size_t i = 0; i <= m->mask; i++) {
        struct vs_bpe_slot *s = &m->slots[i];
        if (s->key == UINT64_MAX)
            continue;
        size_t j = pair_hash(s->key) & n.mask;
        while (n.slots[j].key != UINT64_MAX)
            j = (j + 1) & n.mask;
        n.slots[j] = *s;
        n.count++;
    }
    free(m->slots);
    *m = n;
    return VS_OK;
}

enum vs_status vs_bpe_merges_put(struct vs_bpe_merges *m, int32_t a, int32_t b, int32_t rank,
                                 int32_t merged)
{
    if ((m->count + 1) * 2 > m->mask + 1) {
        enum vs_status st = grow(m);
        if (st)
            return st;
    }
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & m->mask;
    while (m->slots[j].key != UINT64_MAX && m->slots[j].key != k)
        j = (j + 1) & m->mask;
    if (m->slots[j].key == UINT64_MAX)
        m->count++;
    m->slots[j] = (struct vs_bpe_slot){k, rank, merged};
    return VS_OK;
}

const struct vs_bpe_slot *vs_bpe_merges_get(const struct vs_bpe_merges *m, int32_t a, int32_t b)
{
    uint64_t k = pair_key(a, b);
    size_t j = pair_hash(k) & m->mask;
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == k)
            return &m->slots[j];
        j = (j + 1) & m->mask;
    }
    return NULL;
}

void vs_bpe_work_free(struct vs_bpe_work *w)
{
    free(w->syms);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

static int item_less(const struct vs_bpe_item *x, const struct vs_bpe_item *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(struct vs_bpe_item *h, size_t *n, struct vs_bpe_item it)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&it, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static struct vs_bpe_item heap_pop(struct vs_bpe_item *h, size_t *n)
{
    struct vs_bpe_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && item_less(&h[c + 1], &h[c]))
            c++;
        if (!item_less(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = vs_realloc(*p, c * elem);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

static void push_pair(const struct vs_bpe_merges *m, struct vs_bpe_work *w, size_t *nh, int32_t pos)
{
    const struct vs_bpe_sym *s = w->syms;
    if (pos < 0 || s[pos].next < 0)
        return;
    const struct vs_bpe_slot *sl = vs_bpe_merges_get(m, s[pos].id, s[s[pos].next].id);
    if (sl)
        heap_push(w->heap, nh, (struct vs_bpe_item){sl->rank, pos, sl->merged});
}

static void pair_at(const struct vs_bpe_merges *m, const int32_t *ids, size_t i, int32_t *rank,
                    int32_t *merged)
{
    const struct vs_bpe_slot *sl = vs_bpe_merges_get(m, ids[i], ids[i + 1]);
    rank[i] = sl ? sl->rank : INT32_MAX;
    merged[i] = sl ? sl->merged : -1;
}

/* Short words: pair ranks in an array, a linear scan for the leftmost lowest rank. Same result
 * as the heap (both merge the leftmost lowest-rank pair first), with less overhead. */
#define SHORT_WORD 48
static size_t merge_short(const struct vs_bpe_merges *m, int32_t *ids, size_t n)
{
    int32_t rank[SHORT_WORD], merged[SHORT_WORD];
    for (size_t i = 0; i + 1 < n; i++)
        pair_at(m, ids, i, rank, merged);
    while (n > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (rank[i] < rank[best])
                best = i;
        if (rank[best] == INT32_MAX)
            break;
        ids[best] = merged[best];
        size_t tail = n - best - 2; /* entries after the removed symbol best + 1 */
        memmove(ids + best + 1, ids + best + 2, tail * sizeof *ids);
        memmove(rank + best + 1, rank + best + 2, (tail ? tail - 1 : 0) * sizeof *rank);
        memmove(merged + best + 1, merged + best + 2, (tail ? tail - 1 : 0) * sizeof *merged);
        n--;
        if (best > 0)
            pair_at(m, ids, best - 1, rank, merged);
        if (best + 1 < n)
            pair_at(m, ids, best, rank, merged);
    }
    return n;
}

size_t vs_bpe_merge(const struct vs_bpe_merges *m, struct vs_bpe_work *w, int32_t *ids, size_t n)
{
    if (n < 2)
        return n;
    if (n <= SHORT_WORD)
        return merge_short(m, ids, n);
    /* Each merge pushes at most two items; n initial + 2 per merge (at most n - 1 merges). */
    if (!reserve((void **)&w->syms, &w->cap_syms, n, sizeof *w->syms) ||
        !reserve((void **)&w->heap, &w->cap_heap, 3 * n, sizeof *w->heap))
        return (size_t)-1;
    struct vs_bpe_sym *s = w->syms;
    for (size_t i = 0; i < n; i++)
        s[i] = (struct vs_bpe_sym){ids[i], (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1};
    size_t nh = 0;
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(m, w, &nh, (int32_t)i);
    while (nh) {
        struct vs_bpe_item it = heap_pop(w->heap, &nh);
        struct vs_bpe_sym *a = &s[it.pos];
        if (a->id < 0 || a->next < 0)
            continue; /* merged away */
        const struct vs_bpe_slot *sl = vs_bpe_merges_get(m, a->id, s[a->next].id);
        if (!sl || sl->merged != it.merged)
            continue; /* stale: a neighbour changed since this item was pushed */
        struct vs_bpe_sym *b = &s[a->next];
        a->id = it.merged;
        a->next = b->next;
        if (b->next >= 0)
            s[b->next].prev = it.pos;
        b->id = -1;
        push_pair(m, w, &nh, a->prev);
        push_pair(m, w, &nh, it.pos);
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = s[i].next)
        ids[k++] = s[i].id;
    return k;
}
