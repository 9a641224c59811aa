#include "tensor/dtype.h"
#include "tensor/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} vs_dtype_table[VS_DTYPE_COUNT] = {
    [VS_DTYPE_BOOL] = {"BOOL", 1}, [VS_DTYPE_U8] = {"U8", 1},     [VS_DTYPE_I8] = {"I8", 1},
    [VS_DTYPE_I16] = {"I16", 2},   [VS_DTYPE_I32] = {"I32", 4},   [VS_DTYPE_I64] = {"I64", 8},
    [VS_DTYPE_F16] = {"F16", 2},   [VS_DTYPE_BF16] = {"BF16", 2}, [VS_DTYPE_F32] = {"F32", 4},
    [VS_DTYPE_F64] = {"F64", 8},   [VS_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
};

size_t vs_dtype_size(enum vs_dtype dt)
{
    return (unsigned)dt < VS_DTYPE_COUNT ? vs_dtype_table[dt].size : 0;
}

const char *vs_dtype_name(enum vs_dtype dt)
{
    return (unsigned)dt < VS_DTYPE_COUNT ? vs_dtype_table[dt].name : "?";
}

int vs_dtype_parse(const char *name)
{
    for (int i = 0; i < VS_DTYPE_COUNT; i++)
        if (strcmp(name, vs_dtype_table[i].name) == 0)
            return i;
    return -1;
}

int vs_dtype_is_float(enum vs_dtype dt)
{
    return dt == VS_DTYPE_F16 || dt == VS_DTYPE_BF16 || dt == VS_DTYPE_F32 || dt == VS_DTYPE_F64;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float vs_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

float vs_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0)
            return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31)
        return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t vs_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00u;
    if (a >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return sign | 0x7c00u;
    if (a < 0x38800000u) { /* below 2^-14: subnormal or zero */
        /* value in units of 2^-24, rounded half to even */
        float v = bits_f32(a) * 16777216.0f;
        float r = nearbyintf(v);
        return sign | (uint16_t)r;
    }
    uint32_t exp = (a >> 23) - 112;
    uint32_t man = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++;
    return sign | (uint16_t)h;
}

/* Converts s[lo, hi) into dst[lo, hi). */
static void convert_range_to_f32(enum vs_dtype src_type, const unsigned char *s, float *dst, size_t lo, size_t hi)
{
    if (src_type == VS_DTYPE_BF16) { /* the bits shifted into place, written directly so that the loop vectorizes */
        #pragma omp simd
        for (size_t i = lo; i < hi; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(dst + i, &u, 4);
        }
    } else {
        for (size_t i = lo; i < hi; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = vs_f16_to_f32(h);
        }
    }
}

int vs_convert_to_f32(enum vs_dtype src_type, const void *src, float *dst, size_t n)
{
    const unsigned char *s = src;
    switch (src_type) {
    case VS_DTYPE_F32:
        memcpy(dst, src, n * 4);
        return 0;
    case VS_DTYPE_BF16:
    case VS_DTYPE_F16:
        /* Decided before any parallel construct: a region with a false if clause still costs a
         * team start (futex calls), and callers convert one row at a time inside their own
         * parallel loops (vs_param_read_f32 on an expert's column block: thousands of rows). */
        if (n < VS_PARALLEL_MIN || omp_in_parallel()) {
            convert_range_to_f32(src_type, s, dst, 0, n);
            return 0;
        }
        #pragma omp parallel
        {
            size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
            convert_range_to_f32(src_type, s, dst, n * t / nt, n * (t + 1) / nt);
        }
        return 0;
    case VS_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return -1;
    }
}

int vs_convert_from_f32(enum vs_dtype dst_type, const float *src, void *dst, size_t n)
{
    unsigned char *d = dst;
    switch (dst_type) {
    case VS_DTYPE_F32:
        memcpy(dst, src, n * 4);
        return 0;
    case VS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = vs_f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return 0;
    case VS_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = vs_f32_to_f16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return 0;
    case VS_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            double v = src[i];
            memcpy(d + 8 * i, &v, 8);
        }
        return 0;
    default:
        return -1;
    }
}

int vs_convert_from_f32_in_place(enum vs_dtype dst_type, float *v, size_t n)
{
    if (dst_type != VS_DTYPE_BF16 && dst_type != VS_DTYPE_F16)
        return -1;
    uint16_t tmp[4096];
    for (size_t i = 0; i < n; i += 4096) {
        size_t k = n - i < 4096 ? n - i : 4096;
        vs_convert_from_f32(dst_type, v + i, tmp, k);
        memcpy((unsigned char *)v + 2 * i, tmp, 2 * k); /* below v + i: read already */
    }
    return 0;
}

int vs_convert_to_f32_in_place(enum vs_dtype src_type, void *buf, size_t n)
{
    if (src_type != VS_DTYPE_BF16 && src_type != VS_DTYPE_F16)
        return -1;
    uint16_t tmp[4096];
    for (size_t end = n; end > 0;) {
        size_t k = end < 4096 ? end : 4096, i = end - k;
        memcpy(tmp, (unsigned char *)buf + 2 * i, 2 * k);
        vs_convert_to_f32(src_type, tmp, (float *)buf + i, k); /* above 2·i: read already */
        end = i;
    }
    return 0;
}

/* The exponent bits all set: NaN or infinity. Tested on the bits so that the loop vectorizes
 * and -ffast-math style assumptions cannot drop the test. */
static inline int bits_nonfinite(const float *v)
{
    uint32_t u;
    memcpy(&u, v, 4);
    return (u & 0x7f800000u) == 0x7f800000u;
}

size_t vs_count_nonfinite_bf16(const uint16_t *h, size_t n, size_t *first)
{
    size_t count = 0;
    #pragma omp parallel for simd reduction(+ : count) schedule(static) if (n >= VS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        count += (h[i] & 0x7f80u) == 0x7f80u;
    if (first) {
        size_t i = 0;
        while (count && i < n && (h[i] & 0x7f80u) != 0x7f80u)
            i++;
        *first = count ? i : n;
    }
    return count;
}

size_t vs_count_nonfinite_f32(const float *v, size_t n, size_t *first)
{
    size_t count = 0;
    #pragma omp parallel for simd reduction(+ : count) schedule(static) if (n >= VS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        count += (size_t)bits_nonfinite(v + i);
    if (first) {
        size_t i = 0;
        while (count && i < n && !bits_nonfinite(v + i))
            i++;
        *first = count ? i : n;
    }
    return count;
}

size_t vs_count_overflow_f32(enum vs_dtype dst_type, const float *v, size_t n, size_t *first)
{
    size_t count = 0, at = n;
    if (dst_type == VS_DTYPE_F16 || dst_type == VS_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) {
            if (bits_nonfinite(v + i))
                continue;
            /* converted as the writer converts it: infinity out of a finite value is an overflow */
            uint16_t h = dst_type == VS_DTYPE_F16 ? vs_f32_to_f16(v[i]) : vs_f32_to_bf16(v[i]);
            if ((h & 0x7fffu) == (dst_type == VS_DTYPE_F16 ? 0x7c00u : 0x7f80u))
                at = count++ ? at : i;
        }
    if (first)
        *first = at;
    return count;
}

int64_t vs_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i])
            return -1;
        n *= shape[i];
    }
    return n;
}

const char *vs_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    else
        snprintf(buf + cap - 4, 4, "...");
    return buf;
}
