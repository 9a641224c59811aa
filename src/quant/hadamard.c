#include "quant/hadamard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "quant/torch_mt19937.h"

bool vs_is_pow2(int64_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

/* msModelSlim's orders, largest first, and how vlmslim builds each one. */
enum construction { PALEY1, PALEY2, DOUBLED, WILLIAMSON };
static const struct {
    int k;
    enum construction how;
    int q; /* the field size of the Paley construction (of the halved order for DOUBLED), or the
            * circulant order k/4 for WILLIAMSON */
    const char *txt; /* msModelSlim's file for this order */
} ORDERS[] = {
    {200, PALEY1, 199, "had.200.pal.txt"},    {172, WILLIAMSON, 43, "had.172.will.txt"},
    {160, DOUBLED, 79, "had.160.tpal.txt"},   {156, WILLIAMSON, 39, "had.156.will.txt"},
    {140, PALEY1, 139, "had.140.pal.txt"},    {136, DOUBLED, 67, "had.136.twill.txt"},
    {108, PALEY1, 107, "had.108.will.txt"},   {76, PALEY2, 37, "had.76.will.txt"},
    {60, PALEY1, 59, "had.60.will.txt"},      {52, WILLIAMSON, 13, "had.52.will.txt"},
    {40, DOUBLED, 19, "had.40.twill.txt"},    {36, PALEY2, 17, "had.36.will.txt"},
    {28, WILLIAMSON, 7, "had.28.will.txt"},   {20, WILLIAMSON, 5, "had.20.will.txt"},
    {12, PALEY1, 11, "had.12.txt"},
};
#define N_ORDERS (sizeof ORDERS / sizeof ORDERS[0])

enum vs_status vs_hadamard_pick_order(int64_t n, int *k)
{
    for (size_t i = 0; i < N_ORDERS; i++) {
        if (n % ORDERS[i].k == 0 && vs_is_pow2(n / ORDERS[i].k)) {
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

/* Order 2(q+1): the symmetric conference matrix C = [[0, 1ᵀ], [1, Q]] (Q[a][b] = χ(a−b) mod the
 * prime q ≡ 1 mod 4) with each 0 replaced by [[1, -1], [-1, -1]] and each ±1 by
 * ±[[1, 1], [1, -1]]. */
static void paley2(int q, int8_t *h)
{
    int c = q + 1, k = 2 * c;
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) {
            int v = (i == 0 && j == 0) ? 0 : (i == 0 || j == 0) ? 1 : chi(i - j, q);
            static const int zero[2][2] = {{1, -1}, {-1, -1}}, one[2][2] = {{1, 1}, {1, -1}};
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    h[(2 * i + a) * k + 2 * j + b] = (int8_t)(v == 0 ? zero[a][b] : v * one[a][b]);
        }
}

/* First rows of the symmetric circulant ±1 matrices A, B, C, D of Sloane's Williamson-type
 * files (had.<4n>.will.txt), which are these four circulants in the Williamson array below: the
 * first n entries of the file's row 0 are A's, the next n B's, and so on. Read off the files'
 * data as published in public code: orders 20 and 28 from the full matrices in
 * fast-hadamard-transform's csrc/code_gen.py (had_20_will, had_28_will; the 28 also in Octave's
 * hadamard.m), 52, 156 and 172 from QuaRot's fake_quant/hadamard_utils.py (get_had52,
 * get_had156, get_had172, "had52.will, had156.will, had172.will" from Sloane's library).
 * Every row of those copies that was compared is the construction's row
 * (tests/unit/test_quant_hadamard.c holds them). */
static const struct {
    int n;
    const char *first_row[4];
} WILLIAMSON_ROWS[] = {
    {5, {"+----", "+----", "++--+", "+-++-"}},
    {7, {"+------", "++----+", "+-+--+-", "+--++--"}},
    {13, {"+-+--++++--+-", "+---++++++---", "++-+--++--+-+", "+----+--+----"}},
    {39,
     {"+++--+-+-----+--++----++--+-----+-+--++", "++++---+--++----+-+--+-+----++--+---+++",
      "+++--++-+---+-+--+----+--+-+---+-++--++", "+---++-+-+-----+++-++-+++-----+-+-++---"}},
    {43,
     {"+---++--++++-+-+++-++--++-+++-+-++++--++---", "++-++++++----+-+--++-++-++--+-+----++++++-+",
      "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++", "++---++++-+--+--++--------++--+--+-++++---+"}},
};

/* Order 4n: the Williamson array [[A, B, C, D], [−B, A, −D, C], [−C, D, A, −B], [−D, −C, B, A]]
 * with X[r][c] = x[(c − r) mod n], x the first row of X. A² + B² + C² + D² = 4n·I (the four
 * periodic autocorrelations sum to zero off 0) makes it a Hadamard matrix. */
static enum vs_status williamson(int n, int8_t *h)
{
    static const int which[4][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
    static const int sign[4][4] = {{1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
    const char *const *x = NULL;
    for (size_t i = 0; i < sizeof WILLIAMSON_ROWS / sizeof WILLIAMSON_ROWS[0]; i++)
        if (WILLIAMSON_ROWS[i].n == n)
            x = WILLIAMSON_ROWS[i].first_row;
    if (!x)
        return vs_error_set(VS_ERR_UNSUPPORTED, "no Williamson sequences of length %d", n);
    int k = 4 * n;
    for (int bi = 0; bi < 4; bi++)
        for (int bj = 0; bj < 4; bj++)
            for (int r = 0; r < n; r++)
                for (int c = 0; c < n; c++) {
                    int v = x[which[bi][bj]][(c - r + n) % n] == '+' ? 1 : -1;
                    h[(bi * n + r) * k + bj * n + c] = (int8_t)(sign[bi][bj] * v);
                }
    return VS_OK;
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
        case WILLIAMSON:
            return williamson(ORDERS[i].q, h);
        }
    }
    return vs_error_set(VS_ERR_UNSUPPORTED, "no order-%d Hadamard matrix is constructed", k);
}

const char *vs_hadamard_txt_name(int k)
{
    for (size_t i = 0; i < N_ORDERS; i++)
        if (ORDERS[i].k == k)
            return ORDERS[i].txt;
    return NULL;
}

enum vs_status vs_hadamard_read_txt(const char *path, int k, int8_t *h)
{
    char *text;
    size_t len;
    enum vs_status st = vs_fs_read_file(path, &text, &len);
    if (st != VS_OK)
        return st;
    /* msModelSlim: content.strip().split('\n'), each character '+' → 1, '-' → -1 */
    size_t a = 0, b = len;
    while (a < b && (text[a] == ' ' || text[a] == '\n' || text[a] == '\r' || text[a] == '\t'))
        a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\n' || text[b - 1] == '\r' || text[b - 1] == '\t'))
        b--;
    int row = 0;
    for (size_t p = a; p <= b && st == VS_OK; row++) {
        size_t e = p;
        while (e < b && text[e] != '\n')
            e++;
        if (row >= k)
            st = vs_error_set(VS_ERR_FORMAT, "%s: line %d: more than %d rows", path, row + 1, k);
        else if (e - p != (size_t)k)
            st = vs_error_set(VS_ERR_FORMAT, "%s: line %d: %zu characters, expected %d", path, row + 1, e - p, k);
        for (size_t c = 0; st == VS_OK && c < (size_t)k; c++) {
            char ch = text[p + c];
            if (ch != '+' && ch != '-')
                st = vs_error_set(VS_ERR_FORMAT, "%s: line %d: character %zu is '%c', expected '+' or '-'", path,
                                  row + 1, c + 1, ch);
            else
                h[row * k + (int)c] = (int8_t)(ch == '+' ? 1 : -1);
        }
        p = e + 1;
    }
    free(text);
    if (st == VS_OK && row != k)
        st = vs_error_set(VS_ERR_FORMAT, "%s: %d rows, expected %d", path, row, k);
    for (int i = 0; st == VS_OK && i < k; i++)
        for (int j = i; st == VS_OK && j < k; j++) {
            int dot = 0;
            for (int c = 0; c < k; c++)
                dot += h[i * k + c] * h[j * k + c];
            if (dot != (i == j ? k : 0))
                st = vs_error_set(VS_ERR_FORMAT, "%s: not a Hadamard matrix (rows %d and %d are not orthogonal)", path,
                                  i + 1, j + 1);
        }
    return st;
}

/* The order-k matrix: msModelSlim's file from txt_dir when there is one, else constructed. */
static enum vs_status base_for(int k, const char *txt_dir, int8_t *h)
{
    const char *name = vs_hadamard_txt_name(k);
    if (txt_dir && name && k > 1) {
        char *path = vs_path_join(txt_dir, name);
        if (!path)
            return VS_ERR_NOMEM;
        enum vs_status st = vs_fs_is_file(path) ? vs_hadamard_read_txt(path, k, h) : VS_ERR_IO;
        free(path);
        if (st != VS_ERR_IO)
            return st;
    }
    return vs_hadamard_base(k, h);
}

enum vs_status vs_hadamard_matrix(int64_t n, const int8_t *signs, float *r)
{
    return vs_hadamard_matrix_from(n, signs, NULL, r);
}

enum vs_status vs_hadamard_matrix_from(int64_t n, const int8_t *signs, const char *txt_dir, float *r)
{
    int k;
    enum vs_status st = vs_hadamard_pick_order(n, &k);
    if (st != VS_OK)
        return st;
    int8_t *K = vs_malloc((size_t)k * (size_t)k);
    if (!K)
        return VS_ERR_NOMEM;
    if ((st = base_for(k, txt_dir, K)) != VS_OK) {
        free(K);
        return vs_error_prefix(st, "Hadamard matrix of size %lld", (long long)n);
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

static enum vs_status random_hadamard(int64_t n, uint64_t seed, const char *txt_dir, float **out)
{
    int8_t *d = vs_malloc((size_t)n);
    float *m = vs_malloc((size_t)n * (size_t)n * sizeof *m);
    if (!d || !m) {
        free(d), free(m);
        return VS_ERR_NOMEM;
    }
    vs_torch_random_signs(seed, n, d);
    enum vs_status st = vs_hadamard_matrix_from(n, d, txt_dir, m);
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
    return vs_rotation_hadamard_from(size, block_size, seed, NULL, out);
}

enum vs_status vs_rotation_hadamard_from(int64_t size, int64_t block_size, uint64_t seed, const char *txt_dir,
                                         struct vs_rotation *out)
{
    enum vs_status st = check_block(size, block_size, "HADAMARD");
    if (st != VS_OK)
        return st;
    int64_t n = block_size == -1 ? size : block_size;
    float *m;
    if ((st = random_hadamard(n, seed, txt_dir, &m)) != VS_OK)
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
    return vs_rotation_block_hadamard_shifted_from(size, block_size, seed, NULL, out);
}

enum vs_status vs_rotation_block_hadamard_shifted_from(int64_t size, int64_t block_size, uint64_t seed,
                                                       const char *txt_dir, struct vs_rotation *out)
{
    int64_t b = block_size == -1 ? 32 : block_size;
    enum vs_status st = check_block(size, b, "BLOCK_HADAMARD_SHIFTED");
    if (st != VS_OK)
        return st;
    float *hb, *res = vs_calloc((size_t)size * (size_t)size, sizeof *res),
               *bp = vs_calloc((size_t)size * (size_t)size, sizeof *bp);
    if (!res || !bp || (st = random_hadamard(b, seed, txt_dir, &hb)) != VS_OK) {
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
