/* Hadamard rotations of msModelSlim's offline QuaRot (msmodelslim_vlm_spec.md §5.3).
 *
 * msModelSlim's random Hadamard matrix of order n is R = diag(d)·T/√n, d = ±1 signs from
 * torch.randint after torch.manual_seed(1234) (quant/torch_mt19937.h), and row i of T the
 * un-normalised transform of the unit vector e_i: with n = k·2^m, butterflies (a, b) → (a+b, a−b)
 * on the low m index bits, then the order-k matrix on the high index part. So
 * T[i][p] = K[p/2^m][i/2^m] · (−1)^popcount((p mod 2^m) & (i mod 2^m)), the Sylvester matrix when
 * k = 1, and every entry of R is ±1/√n rounded once in float32 (fl(1/fl(√n))), as in PyTorch.
 *
 * Order-k matrices: msModelSlim reads Sloane's library files for k ∈ {200, 172, 160, 156, 140,
 * 136, 108, 76, 60, 52, 40, 36, 28, 20, 12}, choosing the largest k with n/k a power of two.
 * vlmslim constructs every one of them instead:
 *   - Williamson-type (20, 28, 52, 156, 172): the Williamson array [[A, B, C, D], [−B, A, −D, C],
 *     [−C, D, A, −B], [−D, −C, B, A]] of four symmetric circulants, from the first rows of A..D
 *     as they appear in Sloane's had.<k>.will.txt;
 *   - Paley I for q ≡ 3 (mod 4) prime (k = q+1: 12, 60, 108, 140, 200) in the normalisation of
 *     Sloane's had.12 (first row +1 then −1s, first column +1s, core χ(a−b) with +1 on the
 *     diagonal);
 *   - Paley II for q ≡ 1 (mod 4) prime (k = 2(q+1): 36, 76);
 *   - doubling [[H, H], [H, −H]] of Paley I (40 = 2·20, 136 = 2·68, 160 = 2·80).
 * All are checked orthogonal. Equal to msModelSlim's file in every row compared against a public
 * copy of it (tests/unit/test_quant_hadamard.c): 12, 20, 28 (whole), 52, 140, 156 and 172 (rows
 * of each). 160 and 200 are built the way Sloane's "tpal" and "pal" files are (the doubling
 * reproduces had.40.tpal.txt whole), but no copy of those two files was at hand to compare.
 * 36, 60, 76 and 108 (msModelSlim's files are Williamson-type, "will") and 40 and 136 ("twill")
 * are valid Hadamard matrices but not msModelSlim's, so sizes using them rotate correctly but
 * differently from msModelSlim. The *_from variants take a directory holding msModelSlim's own
 * hadamard_txt files and use a file whenever it is there (with them, every order matches
 * msModelSlim). Powers of two, which cover every
 * Qwen3-VL head_dim and every hidden size with block_size 32 (the shipped configs) or with -1
 * except 5120, are exact without any file. */
#ifndef VS_QUANT_HADAMARD_H
#define VS_QUANT_HADAMARD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

bool vs_is_pow2(int64_t n);

/* The order k msModelSlim pairs with size n: the largest listed k with n/k a power of two, or 1
 * when n itself is one. VS_ERR_UNSUPPORTED when there is none. */
enum vs_status vs_hadamard_pick_order(int64_t n, int *k);

/* The order-k ±1 matrix (row-major k×k) used for size k·2^m; k must be 1 or a constructed order. */
enum vs_status vs_hadamard_base(int k, int8_t *h);

/* msModelSlim's file name for order k ("had.20.will.txt"), or NULL for an order it does not list. */
const char *vs_hadamard_txt_name(int k);

/* Reads an order-k matrix in msModelSlim's hadamard_txt format (k lines of k '+'/'-', surrounding
 * blank space ignored) and checks that it is a Hadamard matrix; errors name the file and line. */
enum vs_status vs_hadamard_read_txt(const char *path, int k, int8_t *h);

/* r (n×n, row-major) = diag(signs)·T/√n as described above; signs NULL means all +1. The order-k
 * matrix is txt_dir's file for k when txt_dir (may be NULL) holds one, else constructed; an order
 * neither there nor constructed is VS_ERR_UNSUPPORTED naming the file to supply. */
enum vs_status vs_hadamard_matrix(int64_t n, const int8_t *signs, float *r);
enum vs_status vs_hadamard_matrix_from(int64_t n, const int8_t *signs, const char *txt_dir, float *r);

/* A rotation of order `size` stored as the block-diagonal repetition of one block×block matrix
 * (block = size for a dense rotation). Applying it to a dimension that is a multiple of size
 * block-diagonalises it further, as msModelSlim does. */
struct vs_rotation {
    int64_t size, block;
    float *m; /* block×block, row-major (owned) */
    /* When m = diag(signs)·H/√block with H the Sylvester matrix (a HADAMARD command of
     * power-of-two order), its signs (owned), so that it can be applied by the fast transform in
     * O(block·log block) per vector; NULL otherwise. */
    int8_t *signs;
};

/* msModelSlim's HADAMARD rotation command: n = size if block_size == -1, else block_size (which
 * must divide size); R = blockdiag(randomHadamard(n), ...) with the same signs in every block
 * (the generator is re-seeded with `seed` for each command; msModelSlim uses 1234). */
enum vs_status vs_rotation_hadamard(int64_t size, int64_t block_size, uint64_t seed,
                                    struct vs_rotation *out);
enum vs_status vs_rotation_hadamard_from(int64_t size, int64_t block_size, uint64_t seed, const char *txt_dir,
                                         struct vs_rotation *out);

/* BLOCK_HADAMARD_SHIFTED with rot_step 1 (used for R_uv): b = 32 if block_size == -1 else
 * block_size; B = blockdiag(randomHadamard(b)); P = the permutation whose columns are the last
 * 16 columns of the identity, then the others (the identity when size <= 16); R_uv = B·P·B,
 * a dense size×size matrix. The product is summed in double and rounded once, so entries are
 * within an ulp of PyTorch's float32 matmul (whose summation order is its BLAS's). */
enum vs_status vs_rotation_block_hadamard_shifted(int64_t size, int64_t block_size, uint64_t seed,
                                                  struct vs_rotation *out);
enum vs_status vs_rotation_block_hadamard_shifted_from(int64_t size, int64_t block_size, uint64_t seed,
                                                       const char *txt_dir, struct vs_rotation *out);

/* The full size×size matrix into `dense` (size*size floats). */
void vs_rotation_to_dense(const struct vs_rotation *r, float *dense);

void vs_rotation_free(struct vs_rotation *r);

#endif
