/* Hadamard matrices and QuaRot rotation commands against PyTorch goldens
 * (tests/golden/outlier/make_golden.py): HADAMARD matrices bit for bit (every entry is ±1/√n
 * rounded once), BLOCK_HADAMARD_SHIFTED within 2 ulp of 1 (a matrix product whose
 * summation order differs), every constructed order-k matrix orthogonal and, where a copy of
 * Sloane's matrix was at hand, equal to it row for row, and the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "base/fs.h"
#include "quant/hadamard.h"
#include "quant/torch_mt19937.h"
#include "outlier_golden.h"
#include "test_util.h"

static void compare(const char *name, const float *got, size_t n, double tol)
{
    const struct vs_st_tensor *t = golden_tensor(name, false);
    assert_int_equal(t->nbytes, n * sizeof(float));
    const float *w = t->data;
    for (size_t i = 0; i < n; i++) {
        if (tol == 0 ? memcmp(&got[i], &w[i], 4) != 0 : fabs((double)got[i] - w[i]) > tol)
            fail_msg("%s[%zu]: %a, PyTorch %a", name, i, got[i], w[i]);
    }
}

static void test_pick_order(void **state)
{
    (void)state;
    int k;
    assert_int_equal(vs_hadamard_pick_order(4096, &k), VS_OK), assert_int_equal(k, 1);
    assert_int_equal(vs_hadamard_pick_order(1, &k), VS_OK), assert_int_equal(k, 1);
    assert_int_equal(vs_hadamard_pick_order(5120, &k), VS_OK), assert_int_equal(k, 160); /* largest first */
    assert_int_equal(vs_hadamard_pick_order(80, &k), VS_OK), assert_int_equal(k, 40);
    assert_int_equal(vs_hadamard_pick_order(48, &k), VS_OK), assert_int_equal(k, 12);
    assert_int_equal(vs_hadamard_pick_order(3, &k), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "Can not construct hadamard matrix with size 3"));
    assert_int_equal(vs_hadamard_pick_order(156 * 4, &k), VS_OK), assert_int_equal(k, 156);
    assert_int_equal(vs_hadamard_pick_order(172 * 2, &k), VS_OK), assert_int_equal(k, 172);
    assert_int_equal(vs_hadamard_pick_order(52 * 2, &k), VS_OK), assert_int_equal(k, 52);
    /* every listed order is constructed: sizes 156·2^m and 172·2^m need no hadamard_txt file, and
     * R[i][p] = K[p/2^m][i/2^m]·H_{2^m}[p mod 2^m][i mod 2^m]/√n with K the order-k matrix */
    static const int64_t ns[] = {156, 312, 172, 344};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int64_t n = ns[t];
        float *r = malloc((size_t)(n * n) * sizeof *r);
        assert_int_equal(vs_hadamard_matrix(n, NULL, r), VS_OK);
        assert_int_equal(vs_hadamard_pick_order(n, &k), VS_OK);
        int8_t *K = malloc((size_t)(k * k));
        assert_int_equal(vs_hadamard_base(k, K), VS_OK);
        int64_t m = n / k;
        float one = 1.0f / sqrtf((float)n);
        for (int64_t i = 0; i < n; i++)
            for (int64_t p = 0; p < n; p++) {
                int v = K[(p / m) * k + i / m] * ((__builtin_popcountll((unsigned long long)((p % m) & (i % m))) & 1) ? -1 : 1);
                if (r[i * n + p] != (float)v * one)
                    fail_msg("size %lld: R[%lld][%lld] = %a", (long long)n, (long long)i, (long long)p, r[i * n + p]);
            }
        for (int64_t a = 0; a < n; a++)
            for (int64_t b = 0; b < n; b++) {
                double dot = 0;
                for (int64_t c = 0; c < n; c++)
                    dot += (double)r[a * n + c] * r[b * n + c];
                if (fabs(dot - (a == b)) > 1e-5)
                    fail_msg("size %lld: rows %lld and %lld have dot product %g", (long long)n, (long long)a, (long long)b, dot);
            }
        free(K);
        free(r);
    }
    struct vs_rotation rot;
    assert_int_equal(vs_rotation_hadamard(172 * 4, -1, 1234, &rot), VS_OK);
    assert_int_equal(rot.block, 172 * 4);
    assert_null(rot.signs);
    vs_rotation_free(&rot);
    assert_string_equal(vs_hadamard_txt_name(172), "had.172.will.txt");
    assert_string_equal(vs_hadamard_txt_name(12), "had.12.txt");
    assert_null(vs_hadamard_txt_name(44));
}

static void test_bases_orthogonal_and_golden(void **state)
{
    (void)state;
    static const int ks[] = {12, 20, 28, 36, 40, 52, 60, 76, 108, 136, 140, 156, 160, 172, 200};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        int k = ks[i];
        int8_t *h = malloc((size_t)(k * k));
        assert_int_equal(vs_hadamard_base(k, h), VS_OK);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
                int dot = 0;
                for (int c = 0; c < k; c++)
                    dot += h[a * k + c] * h[b * k + c];
                if (dot != (a == b ? k : 0))
                    fail_msg("order %d: rows %d and %d have dot product %d", k, a, b, dot);
            }
        char name[32];
        snprintf(name, sizeof name, "hadamard_base.%d", k);
        const struct vs_st_tensor *t = vs_st_file_find(golden, name);
        if (t) {
            assert_int_equal(t->nbytes, (size_t)(k * k));
            assert_memory_equal(t->data, h, (size_t)(k * k));
        }
        free(h);
    }
    int8_t h[44 * 44];
    assert_int_equal(vs_hadamard_base(44, h), VS_ERR_UNSUPPORTED); /* not one of msModelSlim's orders */
    assert_true(vs_test_contains(vs_error_message(), "order-44"));
}

/* Rows of Sloane's library matrices that msModelSlim reads (hadamard_txt/had.<k>.*.txt), copied
 * from public copies of those files: had.12.txt, had.20.will.txt and had.28.will.txt whole from
 * fast-hadamard-transform's csrc/code_gen.py (had_12, had_20_will, had_28_will; the 28 is also
 * in Octave's hadamard.m), and had.40.tpal.txt from there (had_40_tpal; msModelSlim reads
 * had.40.twill.txt instead, but this checks the doubling [[H, H], [H, −H]] of the Paley I matrix
 * that msModelSlim's had.160.tpal.txt is named after); had.52.will.txt, had.140.pal.txt, had.156.will.txt and
 * had.172.will.txt from QuaRot's fake_quant/hadamard_utils.py (get_had52, get_had140,
 * get_had156, get_had172): rows of each of the four block rows of the Williamson-type ones, and
 * rows 0-2 and 9-10 of the Paley one. */
static const struct {
    int k, row;
    const char *pm;
} SLOANE_ROWS[] = {
    {12, 0, "+-----------"},
    {12, 1, "++-+---+++-+"},
    {12, 2, "+++-+---+++-"},
    {12, 3, "+-++-+---+++"},
    {12, 4, "++-++-+---++"},
    {12, 5, "+++-++-+---+"},
    {12, 6, "++++-++-+---"},
    {12, 7, "+-+++-++-+--"},
    {12, 8, "+--+++-++-+-"},
    {12, 9, "+---+++-++-+"},
    {12, 10, "++---+++-++-"},
    {12, 11, "+-+---+++-++"},
    {20, 0, "+----+----++--++-++-"},
    {20, 1, "-+----+---+++---+-++"},
    {20, 2, "--+----+---+++-+-+-+"},
    {20, 3, "---+----+---+++++-+-"},
    {20, 4, "----+----++--++-++-+"},
    {20, 5, "-+++++-----+--+++--+"},
    {20, 6, "+-+++-+---+-+--+++--"},
    {20, 7, "++-++--+---+-+--+++-"},
    {20, 8, "+++-+---+---+-+--+++"},
    {20, 9, "++++-----++--+-+--++"},
    {20, 10, "--++-+-++-+-----++++"},
    {20, 11, "---++-+-++-+---+-+++"},
    {20, 12, "+---++-+-+--+--++-++"},
    {20, 13, "++---++-+----+-+++-+"},
    {20, 14, "-++---++-+----+++++-"},
    {20, 15, "-+--+--++-+----+----"},
    {20, 16, "+-+-----++-+----+---"},
    {20, 17, "-+-+-+---+--+----+--"},
    {20, 18, "--+-+++------+----+-"},
    {20, 19, "+--+--++------+----+"},
    {28, 0, "+------++----++-+--+-+--++--"},
    {28, 1, "-+-----+++-----+-+--+-+--++-"},
    {28, 2, "--+-----+++---+-+-+----+--++"},
    {28, 3, "---+-----+++---+-+-+-+--+--+"},
    {28, 4, "----+-----+++---+-+-+++--+--"},
    {28, 5, "-----+-----++++--+-+--++--+-"},
    {28, 6, "------++----++-+--+-+--++--+"},
    {28, 7, "--++++-+-------++--+++-+--+-"},
    {28, 8, "---++++-+-----+-++--+-+-+--+"},
    {28, 9, "+---+++--+----++-++--+-+-+--"},
    {28, 10, "++---++---+----++-++--+-+-+-"},
    {28, 11, "+++---+----+----++-++--+-+-+"},
    {28, 12, "++++--------+-+--++-++--+-+-"},
    {28, 13, "-++++--------+++--++--+--+-+"},
    {28, 14, "-+-++-++--++--+--------++++-"},
    {28, 15, "+-+-++--+--++--+--------++++"},
    {28, 16, "-+-+-++--+--++--+----+---+++"},
    {28, 17, "+-+-+-++--+--+---+---++---++"},
    {28, 18, "++-+-+-++--+------+--+++---+"},
    {28, 19, "-++-+-+-++--+------+-++++---"},
    {28, 20, "+-++-+---++--+------+-++++--"},
    {28, 21, "-++--++-+-++-+++----++------"},
    {28, 22, "+-++--++-+-++-+++-----+-----"},
    {28, 23, "++-++---+-+-++-+++-----+----"},
    {28, 24, "-++-++-+-+-+-+--+++-----+---"},
    {28, 25, "--++-++++-+-+----+++-----+--"},
    {28, 26, "+--++-+-++-+-+----+++-----+-"},
    {28, 27, "++--++-+-++-+-+----++------+"},
    {40, 0, "+-------------------+-------------------"},
    {40, 1, "++-++----+-+-++++--+++-++----+-+-++++--+"},
    {40, 19, "+-++----+-+-++++--+++-++----+-+-++++--++"},
    {40, 20, "+--------------------+++++++++++++++++++"},
    {40, 21, "++-++----+-+-++++--+--+--++++-+-+----++-"},
    {40, 39, "+-++----+-+-++++--++-+--++++-+-+----++--"},
    {52, 0, "+-+--++++--+-+---++++++---++-+--++--+-++----+--+----"},
    {52, 1, "-+-+--++++--+-+---++++++--+++-+--++--+--+----+--+---"},
    {52, 13, "-+++------++++-+--++++--+--++++-++-++++++-+--++--+-+"},
    {52, 26, "--+-++--++-+-+----+--+----+-+--++++--+--+++------+++"},
    {52, 39, "-++++-++-++++--+-++--++-+-+---++++++---+-+--++++--+-"},
    {52, 51, "++++-++-++++--+-++--++-+-----++++++---+-+--++++--+-+"},
    {140, 0,
     "+---------------------------------------------------------------------"
     "----------------------------------------------------------------------"},
    {140, 1,
     "++-++----+-+-+-++-+++-+++--++----++-----++--+----+-+--+--+-+++++-----+"
     "-+-+++++-----+-++-++-+-++++-++--+++++--++++--++---+---+--+-+-+-++++--+"},
    {140, 2,
     "+++-++----+-+-+-++-+++-+++--++----++-----++--+----+-+--+--+-+++++-----"
     "+-+-+++++-----+-++-++-+-++++-++--+++++--++++--++---+---+--+-+-+-++++--"},
    {140, 9,
     "+-++++--++-++----+-+-+-++-+++-+++--++----++-----++--+----+-+--+--+-+++"
     "++-----+-+-+++++-----+-++-++-+-++++-++--+++++--++++--++---+---+--+-+-+"},
    {140, 10,
     "++-++++--++-++----+-+-+-++-+++-+++--++----++-----++--+----+-+--+--+-++"
     "+++-----+-+-+++++-----+-++-++-+-++++-++--+++++--++++--++---+---+--+-+-"},
    {156, 0,
     "+++--+-+-----+--++----++--+-----+-+--++++++---+--++----+-+--+-+----++--+---+++"
     "+++--++-+---+-+--+----+--+-+---+-++--+++---++-+-+-----+++-++-+++-----+-+-++---"},
    {156, 1,
     "++++--+-+-----+--++----++--+-----+-+--++++++---+--++----+-+--+-+----++--+---++"
     "++++--++-+---+-+--+----+--+-+---+-++--+-+---++-+-+-----+++-++-+++-----+-+-++--"},
    {156, 2,
     "+++++--+-+-----+--++----++--+-----+-+--++++++---+--++----+-+--+-+----++--+---+"
     "+++++--++-+---+-+--+----+--+-+---+-++----+---++-+-+-----+++-++-+++-----+-+-++-"},
    {156, 44,
     "++-------+++-++--++++-+-++-+-++++--++-++--+++++--+-+-----+--++----++--+-----+-"
     "--+++-+++--+-+-+++++---+--+---+++++-+-++--+++++--++-+---+-+--+----+--+-+---+-+"},
    {156, 45,
     "+++-------+++-++--++++-+-++-+-++++--++--+--+++++--+-+-----+--++----++--+-----+"
     "+--+++-+++--+-+-+++++---+--+---+++++-+-++--+++++--++-+---+-+--+----+--+-+---+-"},
    {156, 82,
     "++-----++--+-+++-+-++-++++-++-+-+++-+--+---+---++-+-+-----+++-++-+++-----+-+-+"
     "--+++++--+-+-----+--++----++--+-----+-++-------+++-++--++++-+-++-+-++++--++-++"},
    {156, 83,
     "-++-----++--+-+++-+-++-++++-++-+-+++-+-++---+---++-+-+-----+++-++-+++-----+-+-"
     "+--+++++--+-+-----+--++----++--+-----+-++-------+++-++--++++-+-++-+-++++--++-+"},
    {156, 123,
     "+--+++-+++--+-+-+++++---+--+---+++++-+---++-----++--+-+++-+-++-++++-++-+-+++-+"
     "---+++++++---+--++----+-+--+-+----++--+-+--+++++--+-+-----+--++----++--+-----+"},
    {156, 124,
     "-+--+++-+++--+-+-+++++---+--+---+++++-++--++-----++--+-+++-+-++-++++-++-+-+++-"
     "+---+++++++---+--++----+-+--+-+----++--+-+--+++++--+-+-----+--++----++--+-----"},
    {172, 0,
     "+---++--++++-+-+++-++--++-+++-+-++++--++---++-++++++----+-+--++-++-++--+-+----++++++-+"
     "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++++---++++-+--+--++--------++--+--+-++++---+"},
    {172, 1,
     "-+---++--++++-+-+++-++--++-+++-+-++++--++--+++-++++++----+-+--++-++-++--+-+----++++++-"
     "++++-+-++--+-+-++++-+----+-++++-+-+--++-+-++++---++++-+--+--++--------++--+--+-++++---"},
    {172, 44,
     "---+------++++-+-++--+--+--++-+-++++------+-+---++--++++-+-+++-++--++-+++-+-++++--++--"
     "---+++----+-++-++--++++++++--++-++-+----+++++++-+-++--+-+-++++-+----+-++++-+-+--++-+-+"},
    {172, 45,
     "+---+------++++-+-++--+--+--++-+-++++--------+---++--++++-+-+++-++--++-+++-+-++++--++-"
     "+---+++----+-++-++--++++++++--++-++-+----+++++++-+-++--+-+-++++-+----+-++++-+-+--++-+-"},
    {172, 46,
     "-+---+------++++-+-++--+--+--++-+-++++--------+---++--++++-+-+++-++--++-+++-+-++++--++"
     "++---+++----+-++-++--++++++++--++-++-+----+-+++++-+-++--+-+-++++-+----+-++++-+-+--++-+"},
    {172, 89,
     "+-----+-+--++-+-+----+-++++-+----+-+-++--+---+++---++++-+--+--++--------++--+--+-++++-"
     "---+---++--++++-+-+++-++--++-+++-+-++++--++-+---+------++++-+-++--+--+--++-+-++++-----"},
    {172, 90,
     "-+-----+-+--++-+-+----+-++++-+----+-+-++--+---+++---++++-+--+--++--------++--+--+-++++"
     "+---+---++--++++-+-+++-++--++-+++-+-++++--+--+---+------++++-+-++--+--+--++-+-++++----"},
    {172, 132,
     "++---+++----+-++-++--++++++++--++-++-+----++-----+-+--++-+-+----+-++++-+----+-+-++--+-"
     "+-+++-++++++----+-+--++-++-++--+-+----+++++---+---++--++++-+-+++-++--++-+++-+-++++--++"},
    {172, 133,
     "+++---+++----+-++-++--++++++++--++-++-+-----+-----+-+--++-+-+----+-++++-+----+-+-++--+"
     "++-+++-++++++----+-+--++-++-++--+-+----+++++---+---++--++++-+-+++-++--++-+++-+-++++--+"},
};

static void test_bases_equal_sloane(void **state)
{
    (void)state;
    int8_t *h = malloc(200 * 200);
    int k = 0, rows = 0;
    for (size_t i = 0; i < sizeof SLOANE_ROWS / sizeof SLOANE_ROWS[0]; i++) {
        if (SLOANE_ROWS[i].k != k)
            assert_int_equal(vs_hadamard_base(k = SLOANE_ROWS[i].k, h), VS_OK);
        assert_int_equal(strlen(SLOANE_ROWS[i].pm), (size_t)k);
        for (int c = 0; c < k; c++)
            if (h[SLOANE_ROWS[i].row * k + c] != (SLOANE_ROWS[i].pm[c] == '+' ? 1 : -1))
                fail_msg("order %d, row %d, column %d differs from Sloane's matrix", k, SLOANE_ROWS[i].row, c);
        rows++;
    }
    assert_int_equal(rows, 95);
    free(h);
}

static void test_random_hadamard_bitwise(void **state)
{
    (void)state;
    static const int64_t ns[] = {8, 32, 64, 48, 40, 56, 60};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int64_t n = ns[i];
        struct vs_rotation r;
        assert_int_equal(vs_rotation_hadamard(n, -1, 1234, &r), VS_OK);
        assert_int_equal(r.block, n);
        char name[40];
        snprintf(name, sizeof name, "random_hadamard.%lld", (long long)n);
        compare(name, r.m, (size_t)(n * n), 0);
        /* orthogonal: R·Rᵀ = I */
        for (int64_t a = 0; a < n; a++)
            for (int64_t b = 0; b < n; b++) {
                double dot = 0;
                for (int64_t c = 0; c < n; c++)
                    dot += (double)r.m[a * n + c] * r.m[b * n + c];
                assert_true(fabs(dot - (a == b)) < 1e-6);
            }
        vs_rotation_free(&r);
    }
}

static void test_rotation_commands(void **state)
{
    (void)state;
    struct vs_rotation r;
    float *dense = malloc(128 * 128 * sizeof *dense);
    assert_int_equal(vs_rotation_hadamard(64, 32, 1234, &r), VS_OK);
    assert_int_equal(r.block, 32);
    vs_rotation_to_dense(&r, dense);
    compare("rotation.hadamard.64.b32", dense, 64 * 64, 0);
    vs_rotation_free(&r);
    /* msModelSlim's float32 product B·P·B, summed in another order: entries are sums of 32
     * (or 16) products ±1/32, so they agree to a few ulp of 1 */
    assert_int_equal(vs_rotation_block_hadamard_shifted(64, -1, 1234, &r), VS_OK);
    compare("rotation.shifted.64.b-1", r.m, 64 * 64, 2.5e-7);
    vs_rotation_free(&r);
    assert_int_equal(vs_rotation_block_hadamard_shifted(32, 16, 1234, &r), VS_OK);
    compare("rotation.shifted.32.b16", r.m, 32 * 32, 2.5e-7);
    vs_rotation_free(&r);
    free(dense);
}

static void test_rotation_refusals(void **state)
{
    (void)state;
    struct vs_rotation r;
    assert_int_equal(vs_rotation_hadamard(64, 24, 1234, &r), VS_ERR_CONFIG);
    assert_true(vs_test_contains(vs_error_message(), "block_size 24"));
    assert_int_equal(vs_rotation_hadamard(64, 128, 1234, &r), VS_ERR_CONFIG);
    assert_int_equal(vs_rotation_hadamard(100, -1, 1234, &r), VS_ERR_UNSUPPORTED);
    assert_true(vs_test_contains(vs_error_message(), "size 100"));
    assert_int_equal(vs_rotation_block_hadamard_shifted(16, -1, 1234, &r), VS_ERR_CONFIG); /* b = 32 > 16 */
    assert_true(vs_test_contains(vs_error_message(), "BLOCK_HADAMARD_SHIFTED"));
}

/* msModelSlim's hadamard_txt files, when supplied, replace the constructions. */
static void test_txt_files(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("hadamard_txt");
    /* a valid order-12 matrix that is not vlmslim's: Paley I with the first two rows swapped */
    int8_t h[144], f[144];
    assert_int_equal(vs_hadamard_base(12, h), VS_OK);
    char text[12 * 13 + 2];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        int src = i == 0 ? 1 : i == 1 ? 0 : i;
        for (int j = 0; j < 12; j++)
            text[n++] = h[src * 12 + j] > 0 ? '+' : '-';
        text[n++] = '\n';
    }
    text[n++] = '\n'; /* trailing blank line: stripped, as msModelSlim does */
    free(vs_test_write(dir, "had.12.txt", text, n));
    char *path = vs_path_join(dir, "had.12.txt");
    assert_int_equal(vs_hadamard_read_txt(path, 12, f), VS_OK);
    assert_memory_equal(f, h + 12, 12), assert_memory_equal(f + 12, h, 12), assert_memory_equal(f + 24, h + 24, 120);
    /* the rotation of size 48 (k = 12) uses the file: R[i][p] = d_i K[p/4][i/4] H4[p%4][i%4] / √48 */
    struct vs_rotation r;
    assert_int_equal(vs_rotation_hadamard_from(48, -1, 1234, dir, &r), VS_OK);
    int8_t d[48];
    vs_torch_random_signs(1234, 48, d);
    float one = 1.0f / sqrtf(48.0f);
    for (int i = 0; i < 48; i++)
        for (int p = 0; p < 48; p++) {
            int v = d[i] * f[(p / 4) * 12 + i / 4] * ((__builtin_popcount((unsigned)((p % 4) & (i % 4))) & 1) ? -1 : 1);
            assert_true(r.m[i * 48 + p] == (float)v * one);
        }
    assert_null(r.signs);
    vs_rotation_free(&r);
    /* without the file: the construction, which differs */
    assert_int_equal(vs_rotation_hadamard_from(48, -1, 1234, "no/such/dir", &r), VS_OK);
    compare("random_hadamard.48", r.m, 48 * 48, 0);
    vs_rotation_free(&r);
    /* malformed files name the file and line */
    static const struct { const char *text, *msg; } bad[] = {
        {"++\n+x\n", "line 2: character 2 is 'x'"},
        {"++\n+\n", "line 2: 1 characters, expected 2"},
        {"++\n", "1 rows, expected 2"},
        {"++\n+-\n++\n", "line 3: more than 2 rows"},
        {"++\n++\n", "not a Hadamard matrix (rows 1 and 2 are not orthogonal)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = vs_test_write(dir, "bad.txt", bad[i].text, strlen(bad[i].text));
        int8_t b[4];
        assert_int_equal(vs_hadamard_read_txt(p, 2, b), VS_ERR_FORMAT);
        if (!vs_test_contains(vs_error_message(), bad[i].msg) || !vs_test_contains(vs_error_message(), "bad.txt"))
            fail_msg("%s: got '%s'", bad[i].msg, vs_error_message());
        free(p);
    }
    assert_int_equal(vs_hadamard_read_txt("no/such/file.txt", 2, f), VS_ERR_IO);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_order),
        cmocka_unit_test(test_bases_orthogonal_and_golden),
        cmocka_unit_test(test_bases_equal_sloane),
        cmocka_unit_test(test_random_hadamard_bitwise),
        cmocka_unit_test(test_rotation_commands),
        cmocka_unit_test(test_rotation_refusals),
        cmocka_unit_test(test_txt_files),
    };
    return cmocka_run_group_tests(tests, golden_open, golden_close);
}
