/* Element types of safetensors files and conversions to and from float32. */
#ifndef VS_TENSOR_DTYPE_H
#define VS_TENSOR_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum vs_dtype {
    VS_DTYPE_BOOL,
    VS_DTYPE_U8,
    VS_DTYPE_I8,
    VS_DTYPE_I16,
    VS_DTYPE_I32,
    VS_DTYPE_I64,
    VS_DTYPE_F16,
    VS_DTYPE_BF16,
    VS_DTYPE_F32,
    VS_DTYPE_F64,
    VS_DTYPE_F8_E4M3,
    VS_DTYPE_COUNT,
};

#define VS_MAX_DIMS 8

/* Bytes per element. */
size_t vs_dtype_size(enum vs_dtype dt);
/* The safetensors name ("BF16", "F8_E4M3", ...). */
const char *vs_dtype_name(enum vs_dtype dt);
/* "[4, 8]" into buf (cap bytes; "..." at the end if it does not fit); returns buf. */
const char *vs_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);
/* Parses a safetensors dtype name; returns -1 if unknown. */
int vs_dtype_parse(const char *name);
/* True for F16, BF16, F32, F64 (the types a weight may be stored in for float compute). */
int vs_dtype_is_float(enum vs_dtype dt);

/* Scalar conversions. bf16/f16 rounding is round-to-nearest-even, NaN stays NaN. */
float vs_bf16_to_f32(uint16_t h);
/* inline: the bf16 compute mode rounds every Linear's operands with it (tensor/compute.c) */
static inline uint16_t vs_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet, keep the sign */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
float vs_f16_to_f32(uint16_t h);
uint16_t vs_f32_to_f16(float f);

/* Converts n elements of a float type (F16/BF16/F32/F64) to float32. Returns 0, or -1 if
 * the source type is not a float type. src may be unaligned. */
int vs_convert_to_f32(enum vs_dtype src_type, const void *src, float *dst, size_t n);
/* Converts n float32 values to a float type (F16/BF16/F32/F64). Returns 0 or -1. */
int vs_convert_from_f32(enum vs_dtype dst_type, const float *src, void *dst, size_t n);
/* The same into v's own buffer, for F16/BF16 (else -1): chunk by chunk from the front, each
 * chunk's 2-byte values landing on bytes already read, so that v then begins with the n
 * converted values and no second copy of a tensor of gigabytes is needed. */
int vs_convert_from_f32_in_place(enum vs_dtype dst_type, float *v, size_t n);
/* The reverse: the n F16/BF16 values at the start of buf (room for n floats) expanded into
 * float32 in place, chunk by chunk from the back. Returns 0, or -1 for another type. */
int vs_convert_to_f32_in_place(enum vs_dtype src_type, void *buf, size_t n);

/* Number of NaN and infinite values among v[0..n); *first (when not NULL) receives the index of
 * the first one (n if none). */
size_t vs_count_nonfinite_f32(const float *v, size_t n, size_t *first);
/* The same for n bf16 values (their bits). */
size_t vs_count_nonfinite_bf16(const uint16_t *h, size_t n, size_t *first);
/* Number of values of v[0..n) that are finite in float32 but overflow `dst_type` (F16, BF16)
 * to infinity; *first as above. 0 for other types. */
size_t vs_count_overflow_f32(enum vs_dtype dst_type, const float *v, size_t n, size_t *first);

/* Number of elements of a shape (1 for ndim == 0). Returns -1 on overflow or negative dims. */
int64_t vs_shape_numel(int ndim, const int64_t *shape);

#endif
