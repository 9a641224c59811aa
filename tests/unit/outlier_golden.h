/* The outlier-suppression goldens (tests/golden/outlier/make_golden.py, PyTorch), shared by the
 * Hadamard, QuaRot and smoothing tests: the file is opened once per test group. */
#ifndef VS_TEST_OUTLIER_GOLDEN_H
#define VS_TEST_OUTLIER_GOLDEN_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define GOLDEN "tests/golden/outlier/outlier.safetensors"

static struct vs_st_file *golden;

static inline int golden_open(void **state)
{
    (void)state;
    return vs_st_file_open(GOLDEN, &golden) == VS_OK ? 0 : -1;
}

static inline int golden_close(void **state)
{
    (void)state;
    vs_st_file_close(golden);
    return 0;
}

/* The golden tensor `name` (of dtype F32 when f32_only); a missing one fails the test. */
static inline const struct vs_st_tensor *golden_tensor(const char *name, bool f32_only)
{
    const struct vs_st_tensor *t = vs_st_file_find(golden, name);
    if (!t || (f32_only && t->dtype != VS_DTYPE_F32))
        fail_msg("%s: no %stensor %s", GOLDEN, f32_only ? "F32 " : "", name);
    return t;
}

/* A writable copy of an F32 golden tensor; *n (may be NULL) receives its element count. */
static inline float *golden_copy(const char *name, int64_t *n)
{
    const struct vs_st_tensor *t = golden_tensor(name, true);
    float *p = malloc(t->nbytes);
    memcpy(p, t->data, t->nbytes);
    if (n)
        *n = (int64_t)(t->nbytes / 4);
    return p;
}

/* got[0..n) against the F32 golden `name`: max |diff| within 1e-6 of the largest |value| (float32
 * sums of tens of terms summed in another order). */
static inline void golden_compare(const char *name, const float *got, int64_t n)
{
    const struct vs_st_tensor *t = golden_tensor(name, true);
    assert_int_equal(t->nbytes, (size_t)n * 4);
    const float *w = t->data;
    double mx = 0, err = 0;
    for (int64_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(w[i]));
        err = fmax(err, fabs((double)got[i] - w[i]));
    }
    if (err > 1e-6 * mx)
        fail_msg("%s: max |diff| %g vs max |ref| %g", name, err, mx);
}

#endif
