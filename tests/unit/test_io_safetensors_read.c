/* safetensors reading: files written by an independent implementation (tests/golden/safetensors,
 * make_golden.py), checkpoint directories (index, single file, scan), one test per malformed
 * header or index with its exact message, releasing pages, and random header mutations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "test_util.h"

#define GOLDEN "tests/golden/safetensors"

static char *g_dir; /* a fresh directory per test */

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("st-read");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

/* Asserts that the last error message is exactly "<prefix>: <tail>". */
static void expect_message(const char *prefix, const char *tail)
{
    char want[4096];
    if (snprintf(want, sizeof want, "%s: %s", prefix, tail) >= (int)sizeof want)
        fail_msg("expected message too long");
    if (strcmp(vs_error_message(), want) != 0)
        fail_msg("message\n  got:  %s\n  want: %s", vs_error_message(), want);
}

static double value_at(const struct vs_st_tensor *t, size_t i)
{
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case VS_DTYPE_BOOL: case VS_DTYPE_U8: case VS_DTYPE_F8_E4M3: return p[i];
    case VS_DTYPE_I8: return (int8_t)p[i];
    case VS_DTYPE_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case VS_DTYPE_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case VS_DTYPE_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case VS_DTYPE_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    default: { float f; vs_convert_to_f32(t->dtype, p + vs_dtype_size(t->dtype) * i, &f, 1); return f; }
    }
}

static void expect_tensor(const struct vs_st_tensor *t, const char *name, json_t *want)
{
    if (!t)
        fail_msg("tensor '%s' missing", name);
    assert_string_equal(t->name, name);
    assert_string_equal(vs_dtype_name(t->dtype), json_string_value(json_object_get(want, "dtype")));
    json_t *shape = json_object_get(want, "shape"), *vals = json_object_get(want, "values");
    assert_int_equal(t->ndim, json_array_size(shape));
    for (int i = 0; i < t->ndim; i++)
        assert_int_equal(t->shape[i], json_integer_value(json_array_get(shape, (size_t)i)));
    size_t n = json_array_size(vals);
    assert_int_equal(t->nbytes, n * vs_dtype_size(t->dtype));
    for (size_t i = 0; i < n; i++)
        if (value_at(t, i) != json_number_value(json_array_get(vals, i)))
            fail_msg("%s[%zu]: %.17g != %.17g", t->name, i, value_at(t, i), json_number_value(json_array_get(vals, i)));
}

/* ---- files from the independent writer ---- */

static void test_reads_every_dtype(void **state)
{
    (void)state;
    json_t *expected = json_load_file(GOLDEN "/expected.json", 0, NULL);
    assert_non_null(expected);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(GOLDEN "/reference.safetensors", &f), VS_OK);
    assert_string_equal(vs_st_file_path(f), GOLDEN "/reference.safetensors");
    assert_int_equal(vs_st_file_count(f), json_object_size(expected)); /* __metadata__ is no tensor */
    const char *name;
    json_t *want;
    json_object_foreach(expected, name, want) {
        const struct vs_st_tensor *t = vs_st_file_find(f, name);
        expect_tensor(t, name, want);
        assert_string_equal(t->file, GOLDEN "/reference.safetensors");
    }
    assert_int_equal(vs_st_file_find(f, "scalar")->ndim, 0);
    assert_int_equal(vs_st_file_find(f, "empty")->nbytes, 0);
    assert_null(vs_st_file_find(f, "__metadata__"));
    assert_null(vs_st_file_find(f, "nope"));
    assert_null(vs_st_file_find(f, ""));
    assert_null(vs_st_file_at(f, vs_st_file_count(f)));
    vs_st_file_close(f);
    json_decref(expected);
}

/* Header order differs from data order, a hole in the data, empty tensors at odd offsets. */
static void test_reads_in_data_order(void **state)
{
    (void)state;
    json_t *expected = json_load_file(GOLDEN "/shuffled.json", 0, NULL);
    assert_non_null(expected);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(GOLDEN "/shuffled.safetensors", &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), 5);
    static const char *const order[] = {"a", "empty_mid", "b", "c", "empty_end"}; /* by data offset */
    const unsigned char *base = vs_st_file_at(f, 0)->data;
    for (size_t i = 0; i < 5; i++) {
        const struct vs_st_tensor *t = vs_st_file_at(f, i);
        json_t *want = json_object_get(expected, order[i]);
        expect_tensor(t, order[i], want);
        assert_ptr_equal(vs_st_file_find(f, order[i]), t);
        assert_int_equal((const unsigned char *)t->data - base, json_integer_value(json_object_get(want, "offset")));
    }
    vs_st_file_close(f);
    json_decref(expected);
}

static void test_reads_sharded_checkpoint(void **state)
{
    (void)state;
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(GOLDEN "/sharded", &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 3);
    assert_string_equal(vs_st_model_name_at(m, 0), "a");
    assert_string_equal(vs_st_model_name_at(m, 1), "b");
    assert_string_equal(vs_st_model_name_at(m, 2), "c");
    assert_null(vs_st_model_name_at(m, 3));
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "c", &t), VS_OK);
    assert_string_equal(t->file, GOLDEN "/sharded/model-00002-of-00002.safetensors");
    assert_int_equal(t->dtype, VS_DTYPE_F32);
    assert_true(value_at(t, 0) == 0.0 && value_at(t, 1) == -1.0 && value_at(t, 2) == -2.0);
    assert_int_equal(vs_st_model_get(m, "b", &t), VS_OK);
    assert_int_equal(t->dtype, VS_DTYPE_I32);
    assert_true(value_at(t, 3) == 3.0);
    assert_int_equal(vs_st_model_get(m, "a", &t), VS_OK);
    assert_string_equal(t->file, GOLDEN "/sharded/model-00001-of-00002.safetensors");
    assert_int_equal(t->ndim, 2);
    assert_true(value_at(t, 5) == 5.0);
    assert_true(vs_st_model_has(m, "a"));
    assert_false(vs_st_model_has(m, "zzz"));
    assert_int_equal(vs_st_model_get(m, "zzz", &t), VS_ERR_MODEL);
    expect_message(GOLDEN "/sharded", "tensor 'zzz' not found in the checkpoint");
    vs_st_model_close(m);
}

/* ---- building test files ---- */

/* 8-byte little-endian length (or `len` if >= 0), the header, `data` bytes of a pattern. */
static char *make_file(const char *name, const char *header, size_t data, int64_t len)
{
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + data + 1);
    uint64_t n = len >= 0 ? (uint64_t)len : h;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data; i++)
        buf[8 + h + i] = (unsigned char)(i * 7 + 3);
    char *path = vs_test_write(g_dir, name, buf, 8 + h + data);
    free(buf);
    return path;
}

static void expect_open_fails(const char *path, enum vs_status want, const char *tail)
{
    struct vs_st_file *f = NULL;
    enum vs_status st = vs_st_file_open(path, &f);
    if (st != want)
        fail_msg("%s: status %d (%s), want %d", path, st, vs_error_message(), want);
    assert_null(f);
    expect_message(path, tail);
}

/* bad.safetensors from header + data; opening fails with exactly "<path>: <tail>". */
static void expect_corrupt(const char *header, size_t data, int64_t len, const char *tail)
{
    char *path = make_file("bad.safetensors", header, data, len);
    expect_open_fails(path, VS_ERR_FORMAT, tail);
    free(path);
}

/* As expect_corrupt where the tail comes from jansson: only its start is ours. */
static void expect_bad_json(const char *header, size_t data, const char *start)
{
    char *path = make_file("bad.safetensors", header, data, -1);
    struct vs_st_file *f = NULL;
    assert_int_equal(vs_st_file_open(path, &f), VS_ERR_FORMAT);
    char want[1024];
    snprintf(want, sizeof want, "%s: header is not valid JSON: %s", path, start);
    if (strncmp(vs_error_message(), want, strlen(want)) != 0 || strchr(vs_error_message(), '\n'))
        fail_msg("got '%s', want it to start with '%s'", vs_error_message(), want);
    free(path);
}

#define T_OK "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
#define ENTRY(body) "{\"t\":{" body "}}"

/* ---- one test per malformed file ---- */

static void test_empty_file(void **state)
{
    (void)state;
    char *path = vs_test_write(g_dir, "empty.safetensors", "", 0);
    expect_open_fails(path, VS_ERR_FORMAT, "file of 0 bytes is too short to be safetensors (no 8-byte header length)");
    free(path);
}

static void test_truncated_length(void **state)
{
    (void)state;
    char *path = vs_test_write(g_dir, "seven.safetensors", "\x10\0\0\0\0\0\0", 7);
    expect_open_fails(path, VS_ERR_FORMAT, "file of 7 bytes is too short to be safetensors (no 8-byte header length)");
    free(path);
}

static void test_header_length_beyond_file(void **state)
{
    (void)state;
    expect_corrupt(T_OK, 8, 100000, "header length 100000 exceeds the file size 70 (truncated file?)");
    expect_corrupt(T_OK, 0, (int64_t)1 << 62, "header length 4611686018427387904 exceeds the file size 62 (truncated file?)");
    expect_corrupt(T_OK, 0, 55, "header length 55 exceeds the file size 62 (truncated file?)"); /* one past */
}

static void test_header_length_top_bit(void **state)
{
    (void)state;
    char *path = make_file("bad.safetensors", T_OK, 8, -1);
    FILE *fp = fopen(path, "r+b");
    fputc(0xff, fp); /* 0xff000000000000ff: as an int64 it would be negative */
    fseek(fp, 7, SEEK_SET);
    fputc(0xff, fp);
    fclose(fp);
    expect_open_fails(path, VS_ERR_FORMAT, "header length 18374686479671623935 exceeds the file size 70 (truncated file?)");
    free(path);
}

static void test_truncated_header(void **state)
{
    (void)state;
    /* the file ends inside the header: the length is right for the whole file */
    char *full = make_file("full.safetensors", T_OK, 8, -1);
    char *data;
    size_t len;
    assert_int_equal(vs_fs_read_file(full, &data, &len), VS_OK);
    char *path = vs_test_write(g_dir, "cut.safetensors", data, 30);
    expect_open_fails(path, VS_ERR_FORMAT, "header length 54 exceeds the file size 30 (truncated file?)");
    free(path);
    /* the file ends inside the data */
    path = vs_test_write(g_dir, "cut.safetensors", data, len - 1);
    expect_open_fails(path, VS_ERR_FORMAT, "tensor 't': data_offsets [0, 8] outside the data area of 7 bytes");
    free(path);
    free(data);
    free(full);
}

static void test_header_over_limit(void **state)
{
    (void)state;
    /* a sparse file just big enough to hold a 100000008-byte header */
    char *path = vs_path_join(g_dir, "huge.safetensors");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    uint64_t n = 100000008;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(n >> (8 * i));
    assert_int_equal(write(fd, le, 8), 8);
    assert_int_equal(ftruncate(fd, (off_t)(8 + n)), 0);
    close(fd);
    expect_open_fails(path, VS_ERR_FORMAT, "header length 100000008 is over the 100000000-byte limit of safetensors");
    free(path);
}

static void test_header_not_json(void **state)
{
    (void)state;
    expect_bad_json("{\"t\": ", 0, "");
    expect_bad_json("", 0, "");
    expect_bad_json("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", 8, "");
    expect_bad_json("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8, "");
}

static void test_header_bad_utf8(void **state)
{
    (void)state;
    expect_bad_json("{\"\xff\xfe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "");
}

static void test_header_duplicate_key(void **state)
{
    (void)state;
    expect_bad_json("{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
                    "\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "duplicate object key");
    expect_bad_json(ENTRY("\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]"), 0,
                    "duplicate object key");
}

static void test_header_not_object(void **state)
{
    (void)state;
    expect_corrupt("[1, 2]", 0, -1, "header must be a JSON object");
    expect_corrupt("\"t\"", 0, -1, "header must be a JSON object");
}

static void test_metadata_not_object(void **state)
{
    (void)state;
    expect_corrupt("{\"__metadata__\":[\"a\"]}", 0, -1, "'__metadata__' must be an object of strings");
}

static void test_metadata_value_not_string(void **state)
{
    (void)state;
    expect_corrupt("{\"__metadata__\":{\"format\":\"pt\",\"a\":1}}", 0, -1, "'__metadata__.a' must be a string");
}

static void test_entry_not_object(void **state)
{
    (void)state;
    expect_corrupt("{\"t\":3}", 0, -1, "tensor 't': header entry must be an object");
    expect_corrupt("{\"t\":[\"F32\",[2],[0,8]]}", 8, -1, "tensor 't': header entry must be an object");
}

static void test_entry_unknown_field(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":1"), 0, -1,
                   "tensor 't': unknown header field 'x'");
}

static void test_entry_missing_field(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"shape\":[0],\"data_offsets\":[0,0]"), 0, -1, "tensor 't': missing 'dtype'");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"data_offsets\":[0,0]"), 0, -1, "tensor 't': missing 'shape'");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[0]"), 0, -1, "tensor 't': missing 'data_offsets'");
}

static void test_dtype_not_string(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]"), 8, -1, "tensor 't': 'dtype' must be a string");
}

static void test_dtype_unknown(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]"), 8, -1, "tensor 't': unknown dtype 'F17'");
    expect_corrupt(ENTRY("\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]"), 8, -1, "tensor 't': unknown dtype 'f32'");
    expect_corrupt(ENTRY("\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]"), 4, -1, "tensor 't': unknown dtype 'U16'");
}

static void test_shape_not_list(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': 'shape' must be a list of non-negative integers");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":null,\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': 'shape' must be a list of non-negative integers");
}

static void test_shape_too_many_dims(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]"), 1, -1,
                   "tensor 't': 'shape' has 9 dimensions, more than the 8 supported");
    /* 8 is fine */
    char *path = make_file("ok.safetensors", ENTRY("\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]"),
                           2, -1);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(path, &f), VS_OK);
    assert_int_equal(vs_st_file_at(f, 0)->ndim, 8);
    assert_int_equal(vs_st_file_at(f, 0)->shape[7], 2);
    vs_st_file_close(f);
    free(path);
}

static void test_shape_bad_dim(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': shape[0] must be a non-negative integer");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': shape[1] must be a non-negative integer");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[1,1,\"2\"],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': shape[2] must be a non-negative integer");
}

static void test_offsets_not_pair(void **state)
{
    (void)state;
    static const char *const bad[] = {"\"0,8\"", "[0]", "[0,4,8]", "[0,\"8\"]", "[0.0,8]", "[-1,7]", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[200];
        snprintf(header, sizeof header, ENTRY("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s"), bad[i]);
        expect_corrupt(header, 8, -1, "tensor 't': 'data_offsets' must be [begin, end] (non-negative integers)");
    }
}

static void test_offsets_reversed(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]"), 8, -1,
                   "tensor 't': data_offsets [8, 0] outside the data area of 8 bytes (end before begin)");
}

static void test_offsets_beyond_data(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), 4, -1,
                   "tensor 't': data_offsets [0, 8] outside the data area of 4 bytes");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9,9]"), 8, -1,
                   "tensor 't': data_offsets [9, 9] outside the data area of 8 bytes");
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775807]"), 8, -1,
                   "tensor 't': data_offsets [9223372036854775800, 9223372036854775807] outside the data area of 8 bytes");
}

static void test_offsets_span_mismatch(void **state)
{
    (void)state;
    expect_corrupt("{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[4,8],\"data_offsets\":[0,100]}}", 128, -1,
                   "tensor 'lm_head.weight': data_offsets [0, 100] span 100 bytes but shape [4, 8] x F32 needs 128");
    expect_corrupt(ENTRY("\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,0]"), 0, -1,
                   "tensor 't': data_offsets [0, 0] span 0 bytes but shape [] x BF16 needs 2");
}

static void test_shape_overflow(void **state)
{
    (void)state;
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [4611686018427387904, 4] x F32 needs at least 2^63");
    expect_corrupt(ENTRY("\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [4611686018427387904] x F64 needs at least 2^63");
    /* the element count overflows int64 at the second dimension */
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [4294967296, 4294967296, 16] x F32 needs at least 2^63");
    /* the count fits, its bytes do not */
    expect_corrupt(ENTRY("\"dtype\":\"F64\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [2305843009213693952, 2] x F64 needs at least 2^63");
    /* both fit: the bytes needed are named */
    expect_corrupt(ENTRY("\"dtype\":\"F32\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,8]"), 8, -1,
                   "tensor 't': data_offsets [0, 8] span 8 bytes but shape [1073741824, 1073741824] x F32 needs 4611686018427387904");
}

static void test_overlapping_spans(void **state)
{
    (void)state;
    expect_corrupt("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1,
                   "tensors 't' [0, 8] and 'u' [4, 12] overlap in the data area");
    expect_corrupt("{\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"t\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, -1,
                   "tensors 't' [0, 8] and 'u' [0, 8] overlap in the data area");
}

/* A span that overlaps a later one past an empty tensor and a short one in between. */
static void test_overlap_across_neighbours(void **state)
{
    (void)state;
    expect_corrupt("{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                   "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 32, -1,
                   "tensors 'a' [0, 32] and 'c' [8, 12] overlap in the data area");
    expect_corrupt("{\"a\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}", 32, -1,
                   "tensors 'b' [0, 4] and 'a' [0, 32] overlap in the data area");
}

static void test_not_a_regular_file(void **state)
{
    (void)state;
    expect_open_fails(g_dir, VS_ERR_IO, "not a regular file");
    char *path = vs_path_join(g_dir, "nothing.safetensors");
    expect_open_fails(path, VS_ERR_IO, "cannot open: No such file or directory");
    free(path);
}

/* Valid corner cases: no tensors, only metadata, padding, empty tensors sharing an offset. */
static void test_valid_corner_cases(void **state)
{
    (void)state;
    static const struct { const char *header; size_t data; size_t n; } ok[] = {
        {"{}", 0, 0},
        {"{}      ", 0, 0},
        {"{\"__metadata__\":{}}", 0, 0},
        {" {\"__metadata__\":{\"format\":\"pt\"}} \n", 3, 0},
        {"{\"x\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},\"y\":{\"dtype\":\"I64\",\"shape\":[3,0],"
         "\"data_offsets\":[0,0]},\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 3},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *path = make_file("ok.safetensors", ok[i].header, ok[i].data, -1);
        struct vs_st_file *f;
        if (vs_st_file_open(path, &f) != VS_OK)
            fail_msg("%s: %s", ok[i].header, vs_error_message());
        assert_int_equal(vs_st_file_count(f), ok[i].n);
        if (ok[i].n == 3) { /* same offset: by size, then by name */
            assert_string_equal(vs_st_file_at(f, 0)->name, "x");
            assert_string_equal(vs_st_file_at(f, 1)->name, "y");
            assert_string_equal(vs_st_file_at(f, 2)->name, "z");
        }
        vs_st_file_close(f);
        free(path);
    }
    vs_st_file_close(NULL);
}

/* ---- checkpoint directories ---- */

static void write_index(const char *json)
{
    free(vs_test_write(g_dir, "model.safetensors.index.json", json, strlen(json)));
}

static const char *index_path(void)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", g_dir);
    return buf;
}

static void one_tensor_file(const char *file, const char *tensor)
{
    char header[256];
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", tensor);
    free(make_file(file, header, 1, -1));
}

static void expect_model_fails(enum vs_status want, const char *prefix, const char *tail)
{
    struct vs_st_model *m = NULL;
    enum vs_status st = vs_st_model_open(g_dir, &m);
    if (st != want)
        fail_msg("status %d (%s), want %d", st, vs_error_message(), want);
    assert_null(m);
    expect_message(prefix, tail);
}

static void test_index_missing_file(void **state)
{
    (void)state;
    one_tensor_file("model-00001-of-00002.safetensors", "a");
    write_index("{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"lm_head.weight\": "
                "\"model-00002-of-00002.safetensors\"}}");
    char tail[1024];
    snprintf(tail, sizeof tail, "tensor 'lm_head.weight' is mapped to 'model-00002-of-00002.safetensors', "
             "which does not exist in %s", g_dir);
    expect_model_fails(VS_ERR_MODEL, index_path(), tail);
}

static void test_index_file_without_tensor(void **state)
{
    (void)state;
    one_tensor_file("model-00001-of-00002.safetensors", "a");
    one_tensor_file("model-00002-of-00002.safetensors", "b");
    write_index("{\"metadata\": {\"total_size\": 2}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                "\"b\": \"model-00001-of-00002.safetensors\"}}");
    expect_model_fails(VS_ERR_MODEL, index_path(),
                       "tensor 'b' is mapped to 'model-00001-of-00002.safetensors', which does not contain it");
}

static void test_index_names_outside_directory(void **state)
{
    (void)state;
    one_tensor_file("x.safetensors", "a");
    static const char *const bad[] = {"../x.safetensors", "sub/x.safetensors", "/tmp/x.safetensors", "..", ".", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256], tail[256];
        snprintf(json, sizeof json, "{\"weight_map\": {\"a\": \"%s\"}}", bad[i]);
        write_index(json);
        snprintf(tail, sizeof tail, "weight_map['a'] = '%s' is not a file name inside the directory", bad[i]);
        expect_model_fails(VS_ERR_FORMAT, index_path(), tail);
    }
    write_index("{\"weight_map\": {\"a\": \"x.safetensors\\u0000/../y\"}}");
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_ERR_FORMAT);
}

static void test_index_malformed(void **state)
{
    (void)state;
    one_tensor_file("x.safetensors", "a");
    write_index("{\"weight_map\": {\"a\": 3}}");
    expect_model_fails(VS_ERR_FORMAT, index_path(), "weight_map['a'] must be a file name");
    write_index("{\"metadata\": {}}");
    expect_model_fails(VS_ERR_FORMAT, index_path(), "'weight_map' must be an object of tensor name -> file name");
    write_index("{\"weight_map\": [\"x.safetensors\"]}");
    expect_model_fails(VS_ERR_FORMAT, index_path(), "'weight_map' must be an object of tensor name -> file name");
    write_index("[]");
    expect_model_fails(VS_ERR_FORMAT, index_path(), "must be a JSON object with a 'weight_map'");
    /* found by fuzz/fuzz_safetensors_index.c: the empty tensor list went on to qsort(NULL, 0) */
    write_index("{\"metadata\": {\"total\": 32}, \"weight_map\": {}}");
    expect_model_fails(VS_ERR_FORMAT, index_path(), "'weight_map' is empty: the index names no tensor");
    write_index("{\"weight_map\": {\"a\": \"x.safetensors\"},}");
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_ERR_FORMAT);
    char want[1100];
    snprintf(want, sizeof want, "%s:1:", index_path());
    assert_true(strncmp(vs_error_message(), want, strlen(want)) == 0);
}

/* A file the index names is itself broken: the message names that file. */
static void test_index_corrupt_shard(void **state)
{
    (void)state;
    one_tensor_file("model-00001-of-00002.safetensors", "a");
    char *bad = vs_test_write(g_dir, "model-00002-of-00002.safetensors", "\x40\0\0\0\0\0\0\0{", 9);
    write_index("{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}}");
    expect_model_fails(VS_ERR_FORMAT, bad, "header length 64 exceeds the file size 9 (truncated file?)");
    free(bad);
    /* a directory under a shard's name */
    write_index("{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"sub.safetensors\"}}");
    char *sub = vs_path_join(g_dir, "sub.safetensors");
    assert_int_equal(mkdir(sub, 0700), 0);
    expect_model_fails(VS_ERR_IO, sub, "not a regular file");
    free(sub);
}

/* The index is authoritative: other files and tensors it does not name are not seen. */
static void test_index_wins(void **state)
{
    (void)state;
    free(make_file("model-00001-of-00001.safetensors",
                   "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"extra\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, -1));
    one_tensor_file("model.safetensors", "a"); /* would clash in a scan */
    one_tensor_file("stray.safetensors", "s");
    write_index("{\"metadata\": {\"total_size\": 1}, \"weight_map\": {\"a\": \"model-00001-of-00001.safetensors\"}}");
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 1);
    assert_false(vs_st_model_has(m, "extra"));
    assert_false(vs_st_model_has(m, "s"));
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "a", &t), VS_OK);
    assert_true(vs_test_contains(t->file, "/model-00001-of-00001.safetensors"));
    vs_st_model_close(m);
    vs_st_model_close(NULL);
}

static void test_single_file_wins_over_scan(void **state)
{
    (void)state;
    one_tensor_file("model.safetensors", "a");
    one_tensor_file("other.safetensors", "a"); /* not read: model.safetensors is there */
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 1);
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "a", &t), VS_OK);
    assert_true(vs_test_contains(t->file, "/model.safetensors"));
    vs_st_model_close(m);
}

static void test_directory_scan(void **state)
{
    (void)state;
    char tail[1024];
    expect_model_fails(VS_ERR_MODEL, g_dir, "no model.safetensors.index.json, model.safetensors or *.safetensors file");
    free(vs_test_write(g_dir, "notes.txt", "x", 1));
    expect_model_fails(VS_ERR_MODEL, g_dir, "no model.safetensors.index.json, model.safetensors or *.safetensors file");
    one_tensor_file("b.safetensors", "y");
    one_tensor_file("a.safetensors", "z");
    one_tensor_file("c.safetensors", "x");
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 3);
    assert_string_equal(vs_st_model_name_at(m, 0), "x");
    assert_string_equal(vs_st_model_name_at(m, 2), "z");
    vs_st_model_close(m);
    one_tensor_file("d.safetensors", "z");
    snprintf(tail, sizeof tail, "tensor 'z' is in both %s/a.safetensors and %s/d.safetensors", g_dir, g_dir);
    expect_model_fails(VS_ERR_MODEL, g_dir, tail);
    char *d = vs_path_join(g_dir, "d.safetensors");
    free(make_file("d.safetensors", "{", 0, -1));
    struct vs_st_model *m2;
    assert_int_equal(vs_st_model_open(g_dir, &m2), VS_ERR_FORMAT);
    assert_true(strncmp(vs_error_message(), d, strlen(d)) == 0);
    free(d);
}

/* A model.safetensors without tensors opens as an empty checkpoint (found by
 * fuzz/fuzz_model_config.c: qsort was called on the NULL tensor list, UB under UBSan). */
static void test_tensorless_single_file(void **state)
{
    (void)state;
    free(make_file("model.safetensors", "{}", 0, -1));
    struct vs_st_model *m = NULL;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 0);
    assert_false(vs_st_model_has(m, "a"));
    vs_st_model_close(m);
}

/* A large index: names found by binary search, every file opened once. */
static void test_large_index(void **state)
{
    (void)state;
    enum { FILES = 3, PER_FILE = 10000 };
    json_t *map = json_object();
    for (int f = 0; f < FILES; f++) {
        json_t *header = json_object();
        char name[64], file[64];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", f + 1, FILES);
        for (int i = 0; i < PER_FILE; i++) {
            int k = i * FILES + f;
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.weight", k / 128, k % 128);
            json_object_set_new(header, name, json_pack("{s:s, s:[i], s:[i,i]}", "dtype", "I16", "shape", 1,
                                                        "data_offsets", 2 * i, 2 * i + 2));
            json_object_set_new(map, name, json_string(file));
        }
        char *text = json_dumps(header, JSON_COMPACT);
        free(make_file(file, text, 2 * PER_FILE, -1));
        free(text);
        json_decref(header);
    }
    json_t *root = json_pack("{s:o}", "weight_map", map);
    char *text = json_dumps(root, JSON_INDENT(2));
    write_index(text);
    free(text);
    json_decref(root);
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), FILES * PER_FILE);
    for (size_t i = 1; i < vs_st_model_count(m); i++)
        assert_true(strcmp(vs_st_model_name_at(m, i - 1), vs_st_model_name_at(m, i)) < 0);
    for (int k = 0; k < FILES * PER_FILE; k += 7) {
        char name[64];
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.weight", k / 128, k % 128);
        const struct vs_st_tensor *t;
        assert_int_equal(vs_st_model_get(m, name, &t), VS_OK);
        int i = k / FILES;
        int16_t v;
        memcpy(&v, t->data, 2);
        unsigned char lo = (unsigned char)(2 * i * 7 + 3), hi = (unsigned char)((2 * i + 1) * 7 + 3);
        assert_int_equal((uint16_t)v, (uint16_t)(lo | hi << 8));
    }
    assert_false(vs_st_model_has(m, "model.layers.0.mlp.experts.0.weigh"));
    vs_st_model_close(m);
}

/* ---- releasing pages ---- */

/* Resident kB of the mapping that holds `addr` (from /proc/self/smaps). */
static long rss_kb_at(const void *addr)
{
    FILE *fp = fopen("/proc/self/smaps", "r");
    assert_non_null(fp);
    char line[512];
    int in = 0;
    long kb = -1;
    while (fgets(line, sizeof line, fp)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
            break;
    }
    fclose(fp);
    return kb;
}

static void test_release_drops_pages(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    size_t n = (size_t)page * 64 + 100; /* starts mid-page: 64 whole pages inside, at least 63 */
    char header[256];
    snprintf(header, sizeof header, "{\"small\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
             "\"big\":{\"dtype\":\"U8\",\"shape\":[%zu],\"data_offsets\":[3,%zu]}}", n, n + 3);
    char *path = make_file("big.safetensors", header, n + 3, -1);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(path, &f), VS_OK);
    const struct vs_st_tensor *big = vs_st_file_find(f, "big"), *small = vs_st_file_find(f, "small");
    const unsigned char *p = big->data;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    long before = rss_kb_at(p);
    assert_true(before >= 64 * page / 1024);
    vs_st_release(big);
    long after = rss_kb_at(p);
    assert_true(before - after >= 63 * page / 1024);
    /* the pages come back from the file on the next touch, unchanged */
    unsigned again = 0;
    for (size_t i = 0; i < n; i++)
        again += p[i];
    assert_int_equal(again, sum);
    for (size_t i = 0; i < n; i += 997)
        assert_int_equal(p[i], (unsigned char)((i + 3) * 7 + 3));
    /* a span inside one page, an empty tensor, NULL: nothing to do, no harm */
    vs_st_release(small);
    assert_int_equal(((const unsigned char *)small->data)[2], 17);
    struct vs_st_tensor empty = {.data = p, .nbytes = 0};
    vs_st_release(&empty);
    vs_st_release(NULL);
    /* a heap tensor's pages would be zeroed, not dropped: it is left alone */
    unsigned char *own = aligned_alloc((size_t)page, 8 * (size_t)page);
    assert_non_null(own);
    memset(own, 0x5a, 8 * (size_t)page);
    struct vs_st_tensor copy = {.data = own, .nbytes = 8 * (size_t)page, .heap = true};
    vs_st_release(&copy);
    for (size_t i = 0; i < 8 * (size_t)page; i += 61)
        assert_int_equal(own[i], 0x5a);
    free(own);
    vs_st_file_close(f);
    free(path);
}

/* ---- random mutations ---- */

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fuzz_file(const char *golden, uint64_t seed, int iterations)
{
    char *data;
    size_t len;
    assert_int_equal(vs_fs_read_file(golden, &data, &len), VS_OK);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | (unsigned char)data[i];
    static const char tokens[] = "0123456789[]{},:\" -.eE\\u";
    int ok = 0, bad = 0;
    char *copy = malloc(len);
    for (int it = 0; it < iterations; it++) {
        memcpy(copy, data, len);
        int flips = 1 + (int)(next(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            uint64_t r = next(&seed);
            size_t pos = it % 8 == 0 ? (size_t)(r % 8) : 8 + (size_t)(r % hlen); /* length or header */
            copy[pos] = (r >> 40) & 1 ? tokens[(r >> 20) % (sizeof tokens - 1)] : (char)(r >> 32);
        }
        size_t cut = it % 7 == 0 ? (size_t)(next(&seed) % len) : len;
        char *path = vs_test_write(g_dir, "fuzz.safetensors", copy, cut);
        struct vs_st_file *f = NULL;
        if (vs_st_file_open(path, &f) == VS_OK) {
            size_t total = 0;
            for (size_t i = 0; i < vs_st_file_count(f); i++) { /* every span must be readable */
                const struct vs_st_tensor *t = vs_st_file_at(f, i);
                assert_true(t->nbytes <= cut);
                total += t->nbytes;
                volatile unsigned char sink = 0;
                for (size_t b = 0; b < t->nbytes; b++)
                    sink ^= ((const unsigned char *)t->data)[b];
                (void)sink;
                assert_ptr_equal(vs_st_file_find(f, t->name), t);
            }
            assert_true(total <= cut);
            vs_st_file_close(f);
            ok++;
        } else {
            assert_null(f);
            assert_true(strncmp(vs_error_message(), path, strlen(path)) == 0); /* names the file */
            assert_null(strchr(vs_error_message(), '\n'));                     /* one line */
            bad++;
        }
        free(path);
    }
    assert_true(bad > iterations / 3); /* most mutations must be caught */
    assert_true(ok > 0);
    free(copy);
    free(data);
}

static void test_mutated_headers_fail_cleanly(void **state)
{
    (void)state;
    fuzz_file(GOLDEN "/reference.safetensors", 0x9e3779b97f4a7c15ull, 3000);
    fuzz_file(GOLDEN "/shuffled.safetensors", 0x243f6a8885a308d3ull, 1500);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reads_every_dtype),
        T(test_reads_in_data_order),
        T(test_reads_sharded_checkpoint),
        T(test_empty_file),
        T(test_truncated_length),
        T(test_header_length_beyond_file),
        T(test_header_length_top_bit),
        T(test_truncated_header),
        T(test_header_over_limit),
        T(test_header_not_json),
        T(test_header_bad_utf8),
        T(test_header_duplicate_key),
        T(test_header_not_object),
        T(test_metadata_not_object),
        T(test_metadata_value_not_string),
        T(test_entry_not_object),
        T(test_entry_unknown_field),
        T(test_entry_missing_field),
        T(test_dtype_not_string),
        T(test_dtype_unknown),
        T(test_shape_not_list),
        T(test_shape_too_many_dims),
        T(test_shape_bad_dim),
        T(test_offsets_not_pair),
        T(test_offsets_reversed),
        T(test_offsets_beyond_data),
        T(test_offsets_span_mismatch),
        T(test_shape_overflow),
        T(test_overlapping_spans),
        T(test_overlap_across_neighbours),
        T(test_not_a_regular_file),
        T(test_valid_corner_cases),
        T(test_index_missing_file),
        T(test_index_file_without_tensor),
        T(test_index_names_outside_directory),
        T(test_index_malformed),
        T(test_index_corrupt_shard),
        T(test_index_wins),
        T(test_single_file_wins_over_scan),
        T(test_directory_scan),
        T(test_tensorless_single_file),
        T(test_large_index),
        T(test_release_drops_pages),
        T(test_mutated_headers_fail_cleanly),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
