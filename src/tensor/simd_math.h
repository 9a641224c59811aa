/* Vector variants of expf, tanhf and erff for `#pragma omp simd` loops. glibc's libmvec
 * implements them (≤ 4 ulp per its manual, no errno), but <math.h> declares them only under
 * -ffast-math; declaring them here lets the kernels use them without fast-math's other effects
 * (reassociation, no NaN/Inf semantics). Link with -lmvec. */
#ifndef VS_TENSOR_SIMD_MATH_H
#define VS_TENSOR_SIMD_MATH_H

#include <math.h>

#if defined(__x86_64__) && !defined(__FAST_MATH__) && defined(_OPENMP)
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float tanhf(float);
#pragma omp declare simd notinbranch
float erff(float);
#endif

/* Loops calling them are compiled for AVX-512, AVX2 and the baseline, chosen at load time, so
 * that they use libmvec's 16- or 8-wide variants where the CPU has them. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VS_VECTOR_CLONES
#endif

#endif
