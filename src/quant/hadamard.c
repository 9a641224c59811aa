#include "quant/hadamard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/torch_mt19937.h"

bool vs_is_pow2(int64_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

/* msModelSlim's orders, largest first, and how vlmslim builds each one. */
enum construction { PALEY1, PALEY2, DOUBLED, NONE };
static const struct {
    int k;
    enum construction how;
    int q; /* the prime of the Paley construction (of the halved order for DOUBLED) */
} ORDERS[] = {
    {200, PALEY1, 199}, {172, NONE, 0},    {160, DOUBLED, 79}, {156, NONE, 0},   {140, PALEY1, 139},
    {136, DOUBLED, 67}, {108, PALEY1, 107}, {76, PALEY2, 37},  {60, PALEY1, 59}, {52, NONE, 0},
    {40, DOUBLED, 19},  {36, PALEY2, 17},  {28, PALEY2, 13},   {20, PALEY1, 19}, {12, PALEY1, 11},
};
#define N_ORDERS (sizeof ORDERS / sizeof ORDERS[0])

enum vs_status vs_hadamard_pick_order(int64_t n, int *k)
{
    for (size_t i = 0; i < N_ORDERS; i++) {
        if (n % ORDERS[i].k == 0 && vs_is_pow2(n / ORDERS[i].k)) {
            if (ORDERS[i].how == NONE)
                return vs_error_set(VS_ERR_UNSUPPORTED,
                                    "Hadamard matrix of size %lld needs the order-%d matrix, which vlmslim does not construct",
                                    (long long)n, ORDERS[i].k);
            *k = ORDERS[i].k;
            return VS_OK;
        }
    }
    if (!vs_is_pow2(n))
        return vs_error_set(VS_ERR_UNSUPPORTED, "Can not construct hadamard matrix with size %lld", (long long)n);
    *k = 1;
    return VS_OK;
}

/* Quadratic character mod prime q: 0, +1 (nonzero square) or -1. */
static int chi(int x, int q)
{
    x %= q;
    if (x < 0)
        x += q;
    if (x == 0)
        return 0;
    int r = 1, b = x, e = (q - 1) / 2;
    while (e) { /* x^((q-1)/2) mod q (Euler's criterion) */
        if (e & 1)
            r = (int)((int64_t)r * b % q);
        b = (int)((int64_t)b * b % q);
        e >>= 1;
    }
    return r == 1 ? 1 : -1;
}

/* Order q+1: h[0][0] = 1, h[0][j] = -1, h[i][0] = 1, h[i][j] = (i == j) ? 1 : χ((i-1) - (j-1)). */
static void paley1(int q, int8_t *h, int ld)
{
    int k = q + 1;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            int v;
            if (i == 0)
                v = j == 0 ? 1 : -1;
            else if (j == 0)
                v = 1;
            else
                v = i == j ? 1 : chi(i - j, q);
            h[i * ld + j] = (int8_t)v;
        }
}

/* Order 2(q+1): the symmetric conference matrix C = [[0, 1ᵀ], [1, Q]] (Q[a][b] = χ(a−b)) with
 * each 0 replaced by [[1, -1], [-1, -1]] and each ±1 by ±[[1, 1], [1, -1]]. */
static void paley2(int q, int8_t *h)
{
    int c = q + 1, k = 2 * c;
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) {
            int v = (i == 0 && j == 0) ? 0 : (i == 0 || j == 0) ? 1 : chi((i - 1) - (j - 1), q);
            static const int zero[2][2] = {{1, -1}, {-1, -1}}, one[2][2] = {{1, 1}, {1, -1}};
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    h[(2 * i + a) * k + 2 * j + b] = (int8_t)(v == 0 ? zero[a][b] : v * one[a][b]);
        }
}

enum vs_status vs_hadamard_base(int k, int8_t *h)
{
    if (k == 1) {
        h[0] = 1;
        return VS_OK;
    }
    for (size_t i = 0; i < N_ORDERS; i++) {
        if (ORDERS[i].k != k)
            continue;
        switch (ORDERS[i].how) {
        case PALEY1:
            paley1(ORDERS[i].q, h, k);
            return VS_OK;
        case PALEY2:
            paley2(ORDERS[i].q, h);
            return VS_OK;
        case DOUBLED: {
            int half = k / 2;
            paley1(ORDERS[i].q, h, k);
            for (int r = 0; r < half; r++)
                for (int c = 0; c < half; c++) {
                    int8_t v = h[r * k + c];
                    h[r * k + half + c] = v;
                    h[(half + r) * k + c] = v;
                    h[(half + r) * k + half + c] = (int8_t)-v;
                }
            return VS_OK;
        }
        case NONE:
            break;
        }
    }
    return vs_error_set(VS_ERR_UNSUPPORTED, "no order-%d Hadamard matrix is constructed", k);
}

enum vs_status vs_hadamard_matrix(int64_t n, const int8_t *signs, float *r)
{
    int k;
    enum vs_status st = vs_hadamard_pick_order(n, &k);
    if (st != VS_OK)
        return st;
    int8_t *K = vs_malloc((size_t)k * (size_t)k);
    if (!K)
        return VS_ERR_NOMEM;
    if ((st = vs_hadamard_base(k, K)) != VS_OK) {
        free(K);
        return st;
    }
    int64_t m = n / k;
    float one = 1.0f / sqrtf((float)n); /* PyTorch: (±1) / torch.tensor(n).sqrt() in float32 */
    for (int64_t i = 0; i < n; i++) {
        int sign_i = signs ? signs[i] : 1;
        int64_t imaj = i / m, imin = i % m;
        for (int64_t p = 0; p < n; p++) {
            int64_t pmaj = p / m, pmin = p % m;
            int v = K[pmaj * k + imaj] * ((__builtin_popcountll((unsigned long long)(pmin & imin)) & 1) ? -1 : 1);
            r[i * n + p] = (float)(v * sign_i) * one;
        }
    }
    free(K);
    return VS_OK;
}

static enum vs_status random_hadamard(int64_t n, uint64_t seed, float **out)
{
    int8_t *d = vs_malloc((size_t)n);
    float *m = vs_malloc((size_t)n * (size_t)n * sizeof *m);
    if (!d || !m) {
        free(d), free(m);
        return VS_ERR_NOMEM;
    }
    vs_torch_random_signs(seed, n, d);
    enum vs_status st = vs_hadamard_matrix(n, d, m);
    free(d);
    if (st != VS_OK) {
        free(m);
        return st;
    }
    *out = m;
    return VS_OK;
}

static enum vs_status check_block(int64_t size, int64_t block_size, const char *mode)
{
    if (size <= 0)
        return vs_error_set(VS_ERR_CONFIG, "%s rotation: size %lld must be positive", mode, (long long)size);
    if (block_size != -1 && (!vs_is_pow2(block_size) || size % block_size != 0))
        return vs_error_set(VS_ERR_CONFIG, "%s rotation: block_size %lld must be -1 or a power of two dividing %lld",
                            mode, (long long)block_size, (long long)size);
    return VS_OK;
}

enum vs_status vs_rotation_hadamard(int64_t size, int64_t block_size, uint64_t seed, struct vs_rotation *out)
{
    enum vs_status st = check_block(size, block_size, "HADAMARD");
    if (st != VS_OK)
        return st;
    int64_t n = block_size == -1 ? size : block_size;
    float *m;
    if ((st = random_hadamard(n, seed, &m)) != VS_OK)
        return vs_error_prefix(st, "HADAMARD rotation of size %lld", (long long)size);
    int8_t *signs = NULL;
    if (vs_is_pow2(n)) {
        if (!(signs = vs_malloc((size_t)n))) {
            free(m);
            return VS_ERR_NOMEM;
        }
        vs_torch_random_signs(seed, n, signs);
    }
    *out = (struct vs_rotation){.size = size, .block = n, .m = m, .signs = signs};
    return VS_OK;
}

enum vs_status vs_rotation_block_hadamard_shifted(int64_t size, int64_t block_size, uint64_t seed,
                                                  struct vs_rotation *out)
{
    int64_t b = block_size == -1 ? 32 : block_size;
    enum vs_status st = check_block(size, b, "BLOCK_HADAMARD_SHIFTED");
    if (st != VS_OK)
        return st;
    float *hb, *res = vs_calloc((size_t)size * (size_t)size, sizeof *res),
               *bp = vs_calloc((size_t)size * (size_t)size, sizeof *bp);
    if (!res || !bp || (st = random_hadamard(b, seed, &hb)) != VS_OK) {
        free(res), free(bp);
        return st == VS_OK ? VS_ERR_NOMEM : vs_error_prefix(st, "BLOCK_HADAMARD_SHIFTED rotation of size %lld", (long long)size);
    }
    /* B·P: column c of P is e_{perm[c]}, perm = (size-16, ..., size-1, 0, ..., size-17), so column
     * c of B·P is column perm[c] of B. */
    int64_t shift = size > 16 ? 16 : 0;
    for (int64_t i = 0; i < size; i++)
        for (int64_t c = 0; c < size; c++) {
            int64_t src = (c - shift + size) % size; /* P's column c */
            int64_t bi = i / b, bj = src / b;
            bp[i * size + c] = bi == bj ? hb[(i % b) * b + src % b] : 0.0f;
        }
    /* (B·P)·B over the nonzero block of B, each entry rounded once. */
    for (int64_t i = 0; i < size; i++)
        for (int64_t j = 0; j < size; j++) {
            int64_t blk = j / b;
            double acc = 0.0;
            for (int64_t t = blk * b; t < (blk + 1) * b; t++)
                acc += (double)bp[i * size + t] * hb[(t % b) * b + j % b];
            res[i * size + j] = (float)acc;
        }
    free(bp);
    free(hb);
    *out = (struct vs_rotation){.size = size, .block = size, .m = res};
    return VS_OK;
}

void vs_rotation_to_dense(const struct vs_rotation *r, float *dense)
{
    int64_t n = r->size, b = r->block;
    memset(dense, 0, (size_t)n * (size_t)n * sizeof *dense);
    for (int64_t o = 0; o < n; o += b)
        for (int64_t i = 0; i < b; i++)
            memcpy(dense + (o + i) * n + o, r->m + i * b, (size_t)b * sizeof *dense);
}

void vs_rotation_free(struct vs_rotation *r)
{
    if (!r)
        return;
    free(r->m);
    free(r->signs);
    r->m = NULL;
    r->signs = NULL;
}
