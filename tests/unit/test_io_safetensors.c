/* safetensors: reading files written by an independent implementation, writer round trips,
 * the sharding rule, and one test per malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "test_util.h"

#define GOLDEN "tests/golden/safetensors"

static double value_at(const struct vs_st_tensor *t, size_t i)
{
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case VS_DTYPE_BOOL: case VS_DTYPE_U8: case VS_DTYPE_F8_E4M3: return p[i];
    case VS_DTYPE_I8: return ((const int8_t *)p)[i];
    case VS_DTYPE_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case VS_DTYPE_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case VS_DTYPE_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case VS_DTYPE_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    default: { float f; vs_convert_to_f32(t->dtype, p + vs_dtype_size(t->dtype) * i, &f, 1); return f; }
    }
}

static void expect_tensor(const struct vs_st_tensor *t, json_t *want)
{
    assert_non_null(t);
    assert_string_equal(vs_dtype_name(t->dtype), json_string_value(json_object_get(want, "dtype")));
    json_t *shape = json_object_get(want, "shape"), *vals = json_object_get(want, "values");
    assert_int_equal(t->ndim, json_array_size(shape));
    for (int i = 0; i < t->ndim; i++)
        assert_int_equal(t->shape[i], json_integer_value(json_array_get(shape, (size_t)i)));
    size_t n = json_array_size(vals);
    assert_int_equal(t->nbytes, n * vs_dtype_size(t->dtype));
    for (size_t i = 0; i < n; i++)
        if (value_at(t, i) != json_number_value(json_array_get(vals, i)))
            fail_msg("%s[%zu]: %g != %g", t->name, i, value_at(t, i), json_number_value(json_array_get(vals, i)));
}

static void test_reads_independent_file(void **state)
{
    (void)state;
    json_t *expected = json_load_file(GOLDEN "/expected.json", 0, NULL);
    assert_non_null(expected);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(GOLDEN "/reference.safetensors", &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), json_object_size(expected));
    const char *name;
    json_t *want;
    json_object_foreach(expected, name, want) expect_tensor(vs_st_file_find(f, name), want);
    assert_null(vs_st_file_find(f, "__metadata__"));
    assert_null(vs_st_file_find(f, "nope"));
    /* in data-offset order */
    for (size_t i = 1; i < vs_st_file_count(f); i++)
        assert_true((const char *)vs_st_file_at(f, i - 1)->data <= (const char *)vs_st_file_at(f, i)->data);
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
    assert_string_equal(vs_st_model_name_at(m, 2), "c");
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "c", &t), VS_OK);
    assert_true(vs_test_contains(t->file, "model-00002-of-00002.safetensors"));
    assert_true(value_at(t, 2) == -2.0);
    assert_int_equal(vs_st_model_get(m, "b", &t), VS_OK);
    assert_true(value_at(t, 3) == 3.0);
    vs_st_release(t);
    assert_int_equal(vs_st_model_get(m, "zzz", &t), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "tensor 'zzz' not found"));
    assert_false(vs_st_model_has(m, "zzz"));
    vs_st_model_close(m);
}

static void test_round_trip_all_dtypes(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-roundtrip");
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "x", 0, 0640, &w), VS_OK);
    unsigned char bytes[64];
    for (int i = 0; i < 64; i++)
        bytes[i] = (unsigned char)(i * 37 + 11);
    for (int dt = 0; dt < VS_DTYPE_COUNT; dt++) {
        int64_t shape[2] = {2, 8 / (int64_t)vs_dtype_size((enum vs_dtype)dt)};
        assert_int_equal(vs_st_writer_add(w, vs_dtype_name((enum vs_dtype)dt), (enum vs_dtype)dt, 2, shape, bytes, 16), VS_OK);
    }
    int64_t none = 0;
    assert_int_equal(vs_st_writer_add(w, "scalar", VS_DTYPE_F32, 0, &none, bytes, 4), VS_OK);
    int64_t empty[2] = {0, 3};
    assert_int_equal(vs_st_writer_add(w, "empty", VS_DTYPE_F32, 2, empty, bytes, 0), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "scalar", VS_DTYPE_F32, 0, &none, bytes, 4), VS_ERR_INTERNAL);
    assert_int_equal(vs_st_writer_add(w, "bad", VS_DTYPE_F32, 2, empty, bytes, 4), VS_ERR_INTERNAL);
    assert_int_equal(vs_st_writer_total_bytes(w), 16 * VS_DTYPE_COUNT + 4);
    assert_int_equal(vs_st_writer_close(w), VS_OK);

    char *path = vs_path_join(dir, "x.safetensors");
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(path, &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), VS_DTYPE_COUNT + 2);
    for (int dt = 0; dt < VS_DTYPE_COUNT; dt++) {
        const struct vs_st_tensor *t = vs_st_file_find(f, vs_dtype_name((enum vs_dtype)dt));
        assert_non_null(t);
        assert_int_equal(t->dtype, dt);
        assert_int_equal(t->ndim, 2);
        assert_memory_equal(t->data, bytes, 16);
    }
    assert_int_equal(vs_st_file_find(f, "scalar")->ndim, 0);
    assert_int_equal(vs_st_file_find(f, "empty")->nbytes, 0);
    vs_st_file_close(f);
    /* header length is a multiple of 8 and nothing else is left in the directory */
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(dir, &names, &n), VS_OK);
    assert_int_equal(n, 1);
    vs_fs_free_names(names, n);
    vs_fs_remove_tree(dir);
    free(path);
    free(dir);
}

static char *shard_of(json_t *map, const char *name) { return (char *)json_string_value(json_object_get(map, name)); }

static void test_shard_rule(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-shards");
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "q", 100, 0600, &w), VS_OK);
    static unsigned char buf[200];
    int64_t s40 = 40, s60 = 60, s150 = 150, s10 = 10;
    /* 40 pending; 40 + 60 reaches the limit: flush [a]; b pending; c (150 > limit) flushes b and
     * gets its own shard; d flushes c. */
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &s40, buf, 40), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_U8, 1, &s60, buf, 60), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "c", VS_DTYPE_U8, 1, &s150, buf, 150), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "d", VS_DTYPE_U8, 1, &s10, buf, 10), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *ipath = vs_path_join(dir, "q.safetensors.index.json");
    json_t *idx = json_load_file(ipath, 0, NULL);
    assert_non_null(idx);
    json_t *map = json_object_get(idx, "weight_map");
    assert_string_equal(shard_of(map, "a"), "q-00001-of-00004.safetensors");
    assert_string_equal(shard_of(map, "b"), "q-00002-of-00004.safetensors");
    assert_string_equal(shard_of(map, "c"), "q-00003-of-00004.safetensors");
    assert_string_equal(shard_of(map, "d"), "q-00004-of-00004.safetensors");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(idx, "metadata"), "total_size")), 260);
    assert_string_equal(json_object_iter_key(json_object_iter(map)), "a"); /* insertion order */
    json_decref(idx);
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(ipath, &text, &len), VS_OK);
    assert_true(vs_test_contains(text, "{\n  \"metadata\": {\n    \"total_size\": 260\n  },")); /* indent 2 */
    free(text);
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(dir, &m), VS_OK); /* no model.* index: every *.safetensors is scanned */
    assert_int_equal(vs_st_model_count(m), 4);
    vs_st_model_close(m);
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(dir, &names, &n), VS_OK);
    assert_int_equal(n, 5);
    vs_fs_free_names(names, n);
    free(ipath);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_exact_limit_and_single_shard_naming(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-limit");
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "model", 8, 0600, &w), VS_OK);
    unsigned char buf[8] = {0};
    int64_t s4 = 4;
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &s4, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_U8, 1, &s4, buf, 4), VS_OK); /* 4 + 4 == 8: flush a */
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(dir, &m), VS_OK); /* HF names: model.safetensors.index.json */
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "b", &t), VS_OK);
    assert_true(vs_test_contains(t->file, "model-00002-of-00002.safetensors"));
    vs_st_model_close(m);
    vs_fs_remove_tree(dir);
    free(dir);

    dir = vs_test_tmpdir("st-one");
    assert_int_equal(vs_st_writer_open(dir, "model", 1000, 0600, &w), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &s4, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *p = vs_path_join(dir, "model-00001-of-00001.safetensors");
    assert_true(vs_fs_is_file(p));
    free(p);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* Builds a file from a header string and a data size. */
static char *make_file(const char *dir, const char *name, const char *header, size_t data, int64_t len_override)
{
    size_t h = strlen(header);
    unsigned char *buf = calloc(1, 8 + h + data);
    uint64_t len = len_override >= 0 ? (uint64_t)len_override : h;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, h);
    char *path = vs_test_write(dir, name, buf, 8 + h + data);
    free(buf);
    return path;
}

static void expect_open_error(const char *dir, const char *header, size_t data, int64_t len, const char *msg)
{
    char *path = make_file(dir, "bad.safetensors", header, data, len);
    struct vs_st_file *f = NULL;
    enum vs_status st = vs_st_file_open(path, &f);
    if (st == VS_OK || !vs_test_contains(vs_error_message(), msg) || !vs_test_contains(vs_error_message(), "bad.safetensors"))
        fail_msg("header %s: got status %d, message '%s', expected '%s'", header, st, vs_error_message(), msg);
    free(path);
}

static void test_corrupt_headers(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-corrupt");
    char *empty = vs_test_write(dir, "empty.safetensors", "", 0);
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(empty, &f), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "empty.safetensors: file of 0 bytes is too short"));
    char *seven = vs_test_write(dir, "seven.safetensors", "1234567", 7);
    assert_int_equal(vs_st_file_open(seven, &f), VS_ERR_FORMAT);
    assert_int_equal(vs_st_file_open("tests/no-such-file.safetensors", &f), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "no-such-file.safetensors: cannot open"));

    const char *ok = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_open_error(dir, ok, 8, 100000, "header length 100000 exceeds the file size");
    expect_open_error(dir, "{\"t\": ", 0, -1, "header is not valid JSON");
    expect_open_error(dir, "[1, 2]", 0, -1, "header must be a JSON object");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1, "tensor 't': unknown dtype 'F17'");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1, "shape[0] must be a non-negative integer");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, -1, "'shape' must be a list");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,8]}}", 32, -1,
                      "tensor 't': data_offsets [0, 8] span 8 bytes but shape [2, 4] x F32 needs 32");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1, "outside the data area of 4 bytes");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, -1, "outside the data area");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, -1, "'data_offsets' must be [begin, end]");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, -1, "overlap");
    expect_open_error(dir, "{\"t\":3}", 0, -1, "tensor 't': header entry must be an object");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":1}}", 0, -1, "unknown header field 'x'");
    expect_open_error(dir, "{\"__metadata__\":{\"a\":1}}", 0, -1, "'__metadata__.a' must be a string");
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                      0, -1, "header is not valid JSON"); /* duplicate key */
    expect_open_error(dir, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8, -1, "span 8 bytes");
    free(empty);
    free(seven);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void write_index(const char *dir, const char *json)
{
    free(vs_test_write(dir, "model.safetensors.index.json", json, strlen(json)));
}

static void test_index_errors(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-index");
    free(make_file(dir, "model-00001-of-00001.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1));
    struct vs_st_model *m;
    write_index(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00001.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(),
        "model.safetensors.index.json: tensor 'b' is mapped to 'model-00002-of-00002.safetensors', which does not exist"));
    write_index(dir, "{\"weight_map\": {\"z\": \"model-00001-of-00001.safetensors\"}}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "tensor 'z' is mapped to 'model-00001-of-00001.safetensors', which does not contain it"));
    write_index(dir, "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "is not a file name inside the directory"));
    write_index(dir, "{\"weight_map\": [1]}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "'weight_map' must be an object"));
    write_index(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00001.safetensors\"},}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "model.safetensors.index.json:1:"));
    write_index(dir, "{\"weight_map\": {\"a\": \"model-00001-of-00001.safetensors\"}}");
    assert_int_equal(vs_st_model_open(dir, &m), VS_OK);
    vs_st_model_close(m);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_directory_scan(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-scan");
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "no model.safetensors.index.json, model.safetensors or *.safetensors"));
    free(make_file(dir, "b.safetensors", "{\"y\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1));
    free(make_file(dir, "a.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1));
    assert_int_equal(vs_st_model_open(dir, &m), VS_OK);
    assert_int_equal(vs_st_model_count(m), 2);
    vs_st_model_close(m);
    free(make_file(dir, "c.safetensors", "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1));
    assert_int_equal(vs_st_model_open(dir, &m), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "tensor 'x' is in both"));
    vs_fs_remove_tree(dir);
    free(dir);
}

/* Random byte flips in the header region: opening must succeed or fail cleanly. */
static void test_mutated_headers_never_crash(void **state)
{
    (void)state;
    char *data;
    size_t len;
    assert_int_equal(vs_fs_read_file(GOLDEN "/reference.safetensors", &data, &len), VS_OK);
    char *dir = vs_test_tmpdir("st-fuzz");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, bad = 0;
    for (int it = 0; it < 3000; it++) {
        char *copy = malloc(len);
        memcpy(copy, data, len);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            size_t pos = (size_t)(seed % (it % 3 == 0 ? 8 : 600));
            copy[pos] = (char)(seed >> 32);
        }
        size_t cut = it % 5 == 0 ? (size_t)(seed % len) : len;
        char *path = vs_test_write(dir, "fuzz.safetensors", copy, cut);
        struct vs_st_file *f;
        if (vs_st_file_open(path, &f) == VS_OK) {
            for (size_t i = 0; i < vs_st_file_count(f); i++) { /* every span must be readable */
                const struct vs_st_tensor *t = vs_st_file_at(f, i);
                volatile unsigned char sink = 0;
                for (size_t b = 0; b < t->nbytes; b++)
                    sink ^= ((const unsigned char *)t->data)[b];
                (void)sink;
            }
            vs_st_file_close(f);
            ok++;
        } else {
            assert_true(vs_test_contains(vs_error_message(), "fuzz.safetensors"));
            bad++;
        }
        free(path);
        free(copy);
    }
    assert_true(bad > 1000); /* most mutations must be caught */
    (void)ok;
    free(data);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_write_failure_reports_and_cleans_up(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-efbig");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* In a child: files beyond 4 KiB fail with EFBIG. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        struct vs_st_writer *w;
        if (vs_st_writer_open(dir, "big", 0, 0600, &w) != VS_OK)
            _exit(2);
        static unsigned char buf[16384];
        int64_t n = sizeof buf;
        enum vs_status st = vs_st_writer_add(w, "t", VS_DTYPE_U8, 1, &n, buf, sizeof buf);
        if (st == VS_OK)
            st = vs_st_writer_close(w);
        else
            vs_st_writer_abort(w);
        _exit(st == VS_ERR_IO && vs_test_contains(vs_error_message(), "write failed: File too large") ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(vs_fs_dir_is_empty(dir)); /* nothing left behind */
    vs_fs_remove_tree(dir);
    free(dir);
}

/* On a filesystem that cannot insert blocks (tmpfs) the writer assembles the shard a second
 * way; both give readable files with 8-byte-aligned headers. */
static void check_writer_in(const char *dir)
{
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "model", 5000, 0600, &w), VS_OK);
    static float a[1000], b[1000];
    for (int i = 0; i < 1000; i++)
        a[i] = (float)i, b[i] = -(float)i;
    int64_t n = 1000;
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_F32, 1, &n, a, sizeof a), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_F32, 1, &n, b, sizeof b), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(dir, &m), VS_OK);
    const struct vs_st_tensor *t;
    assert_int_equal(vs_st_model_get(m, "b", &t), VS_OK);
    assert_memory_equal(t->data, b, sizeof b);
    assert_int_equal(((uintptr_t)t->data) % 8, 0);
    assert_int_equal(vs_st_model_get(m, "a", &t), VS_OK);
    assert_memory_equal(t->data, a, sizeof a);
    vs_st_model_close(m);
    char **names;
    size_t k;
    assert_int_equal(vs_fs_list_dir(dir, &names, &k), VS_OK);
    assert_int_equal(k, 3); /* two shards and the index; no leftovers */
    vs_fs_free_names(names, k);
}

static void test_writer_on_disk_and_tmpfs(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("st-disk");
    check_writer_in(dir);
    vs_fs_remove_tree(dir);
    free(dir);
    if (!vs_fs_is_dir("/dev/shm"))
        return; /* no tmpfs here: the fallback is then also exercised by the empty-shard case */
    char tmpl[] = "/dev/shm/vlmslim-st-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    check_writer_in(tmpl);
    vs_fs_remove_tree(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_independent_file),
        cmocka_unit_test(test_reads_sharded_checkpoint),
        cmocka_unit_test(test_round_trip_all_dtypes),
        cmocka_unit_test(test_shard_rule),
        cmocka_unit_test(test_exact_limit_and_single_shard_naming),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_index_errors),
        cmocka_unit_test(test_directory_scan),
        cmocka_unit_test(test_mutated_headers_never_crash),
        cmocka_unit_test(test_write_failure_reports_and_cleans_up),
        cmocka_unit_test(test_writer_on_disk_and_tmpfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
