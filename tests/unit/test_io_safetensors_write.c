/* safetensors writing: output compared with an independent writer (tests/golden/safetensors,
 * make_golden.py), round trips of every dtype, the shard rule at its edges, shard and index
 * names and layout, file modes, streaming to temporary names, bad arguments, and write
 * failures (RLIMIT_FSIZE makes writes fail with EFBIG) that must leave nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "io/safetensors.h"
#include "test_util.h"

#define GOLDEN "tests/golden/safetensors"

static char *g_dir; /* a fresh directory per test */

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("st-write");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

static void expect_message(const char *want)
{
    if (strcmp(vs_error_message(), want) != 0)
        fail_msg("message\n  got:  %s\n  want: %s", vs_error_message(), want);
}

static char *in_dir(const char *dir, const char *name)
{
    char *p = vs_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static size_t dir_count(const char *dir)
{
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(dir, &names, &n), VS_OK);
    vs_fs_free_names(names, n);
    return n;
}

/* ---- the tensors of make_golden.py's writer_tensors() ---- */

static const struct {
    const char *name;
    enum vs_dtype dtype;
    int ndim;
    int64_t shape[2];
} k_tensors[] = {
    {"a", VS_DTYPE_U8, 1, {16}},           {"b", VS_DTYPE_F32, 2, {4, 2}},     {"c", VS_DTYPE_I16, 1, {8}},
    {"d", VS_DTYPE_BF16, 2, {2, 3}},       {"e", VS_DTYPE_F64, 1, {0}},        {"f", VS_DTYPE_I64, 0, {0}},
    {"model.layers.0.g", VS_DTYPE_F32, 1, {20}}, {"h", VS_DTYPE_BOOL, 1, {3}}, {"i", VS_DTYPE_F8_E4M3, 2, {2, 2}},
    {"j", VS_DTYPE_I8, 1, {57}},           {"k", VS_DTYPE_F16, 1, {3}},        {"l", VS_DTYPE_I32, 1, {1}},
};
#define N_TENSORS (sizeof k_tensors / sizeof k_tensors[0])

static unsigned char *pattern(int k, size_t n)
{
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 37 + 11 + (size_t)k) % 256);
    return b;
}

static void write_golden_tensors(const char *dir, uint64_t part)
{
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "model", part, 0644, &w), VS_OK);
    enum vs_log_level level = vs_log_get_level();
    vs_log_set_level(VS_LOG_ERROR); /* the oversize tensor's warning */
    uint64_t total = 0;
    for (size_t k = 0; k < N_TENSORS; k++) {
        size_t n = (size_t)vs_shape_numel(k_tensors[k].ndim, k_tensors[k].shape) * vs_dtype_size(k_tensors[k].dtype);
        unsigned char *data = pattern((int)k, n);
        if (vs_st_writer_add(w, k_tensors[k].name, k_tensors[k].dtype, k_tensors[k].ndim, k_tensors[k].shape, data, n) != VS_OK)
            fail_msg("%s", vs_error_message());
        free(data);
        total += n;
        assert_int_equal(vs_st_writer_total_bytes(w), total);
    }
    vs_log_set_level(level);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
}

/* The same header JSON (less padding) and the same data as the reference file; the very same
 * bytes when `exact` (the header padded to 8 bytes, as on a filesystem that cannot insert). */
static void expect_same_safetensors(const char *got_path, const char *want_path, int exact)
{
    char *got, *want;
    size_t gl, wl;
    assert_int_equal(vs_fs_read_file(got_path, &got, &gl), VS_OK);
    assert_int_equal(vs_fs_read_file(want_path, &want, &wl), VS_OK);
    uint64_t gh = 0, wh = 0;
    for (int i = 7; i >= 0; i--) {
        gh = (gh << 8) | (unsigned char)got[i];
        wh = (wh << 8) | (unsigned char)want[i];
    }
    assert_true(gh % 8 == 0 && 8 + gh <= gl);
    size_t gj = (size_t)gh, wj = (size_t)wh;
    while (gj > 0 && got[8 + gj - 1] == ' ')
        gj--;
    while (wj > 0 && want[8 + wj - 1] == ' ')
        wj--;
    if (gj != wj || memcmp(got + 8, want + 8, gj) != 0)
        fail_msg("%s: header\n  got:  %.*s\n  want: %.*s", got_path, (int)gj, got + 8, (int)wj, want + 8);
    assert_int_equal(gl - 8 - gh, wl - 8 - wh);
    assert_memory_equal(got + 8 + gh, want + 8 + wh, wl - 8 - wh);
    if (exact) {
        assert_int_equal(gl, wl);
        assert_memory_equal(got, want, wl);
    }
    free(got);
    free(want);
}

/* Same file names; index files byte for byte; shards as above. */
static void expect_same_dir(const char *got_dir, const char *want_dir, int exact)
{
    char **gn, **wn;
    size_t g, n;
    assert_int_equal(vs_fs_list_dir(got_dir, &gn, &g), VS_OK);
    assert_int_equal(vs_fs_list_dir(want_dir, &wn, &n), VS_OK);
    assert_int_equal(g, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(gn[i], wn[i]);
        char *gp = in_dir(got_dir, gn[i]), *wp = in_dir(want_dir, wn[i]);
        struct stat sb;
        assert_int_equal(stat(gp, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0644);
        if (strstr(gn[i], ".index.json")) {
            char *a, *b;
            size_t al, bl;
            assert_int_equal(vs_fs_read_file(gp, &a, &al), VS_OK);
            assert_int_equal(vs_fs_read_file(wp, &b, &bl), VS_OK);
            assert_string_equal(a, b);
            free(a);
            free(b);
        } else {
            expect_same_safetensors(gp, wp, exact);
        }
        free(gp);
        free(wp);
    }
    vs_fs_free_names(gn, g);
    vs_fs_free_names(wn, n);
}

static void test_matches_reference_single(void **state)
{
    (void)state;
    write_golden_tensors(g_dir, 0);
    expect_same_dir(g_dir, GOLDEN "/writer_single", 0);
}

static void test_matches_reference_sharded(void **state)
{
    (void)state;
    write_golden_tensors(g_dir, 64);
    expect_same_dir(g_dir, GOLDEN "/writer_sharded", 0);
}

/* tmpfs cannot insert blocks: the shards are assembled with 8-byte padding, exactly like the
 * reference writer's files. */
static void test_matches_reference_bytes_on_tmpfs(void **state)
{
    (void)state;
    char *dir = vs_test_tmpfs_dir("st");
    if (!dir) {
        skip();
        return;
    }
    write_golden_tensors(dir, 0);
    expect_same_dir(dir, GOLDEN "/writer_single", 1);
    vs_fs_remove_tree(dir);
    free(dir);
    assert_non_null(dir = vs_test_tmpfs_dir("st"));
    write_golden_tensors(dir, 64);
    expect_same_dir(dir, GOLDEN "/writer_sharded", 1);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- round trips ---- */

static void test_round_trip_every_dtype(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(g_dir, "x", 0, 0600, &w), VS_OK);
    char name[64];
    int64_t shapes[4][VS_MAX_DIMS] = {{3, 5}, {0}, {0}, {1, 2, 1, 2, 1, 2, 1, 2}};
    int ndims[4] = {2, 0, 1, 8};
    int k = 0;
    for (int dt = VS_DTYPE_COUNT - 1; dt >= 0; dt--) /* added in reverse name order */
        for (int s = 0; s < 4; s++, k++) {
            snprintf(name, sizeof name, "%s.%d", vs_dtype_name((enum vs_dtype)dt), s);
            size_t n = (size_t)vs_shape_numel(ndims[s], shapes[s]) * vs_dtype_size((enum vs_dtype)dt);
            unsigned char *data = pattern(k, n);
            assert_int_equal(vs_st_writer_add(w, name, (enum vs_dtype)dt, ndims[s], shapes[s], data, n), VS_OK);
            free(data);
        }
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    assert_int_equal(dir_count(g_dir), 1);

    char *path = in_dir(g_dir, "x.safetensors");
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(path, &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), 4 * VS_DTYPE_COUNT);
    k = 0;
    const unsigned char *prev_end = NULL;
    for (int dt = VS_DTYPE_COUNT - 1; dt >= 0; dt--)
        for (int s = 0; s < 4; s++, k++) {
            snprintf(name, sizeof name, "%s.%d", vs_dtype_name((enum vs_dtype)dt), s);
            const struct vs_st_tensor *t = vs_st_file_find(f, name);
            assert_non_null(t);
            assert_int_equal(t->dtype, dt);
            assert_int_equal(t->ndim, ndims[s]);
            for (int i = 0; i < ndims[s]; i++)
                assert_int_equal(t->shape[i], shapes[s][i]);
            size_t n = (size_t)vs_shape_numel(ndims[s], shapes[s]) * vs_dtype_size((enum vs_dtype)dt);
            assert_int_equal(t->nbytes, n);
            unsigned char *data = pattern(k, n);
            assert_memory_equal(t->data, data, n);
            free(data);
            if (prev_end) /* data laid out in add order, back to back */
                assert_ptr_equal(t->data, prev_end);
            prev_end = (const unsigned char *)t->data + t->nbytes;
        }
    vs_st_file_close(f);

    /* header keys in add order, no __metadata__ */
    char *raw;
    size_t len;
    assert_int_equal(vs_fs_read_file(path, &raw, &len), VS_OK);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | (unsigned char)raw[i];
    assert_int_equal(h % 8, 0);
    json_t *header = json_loadb(raw + 8, (size_t)h, 0, NULL);
    assert_non_null(header);
    void *it = json_object_iter(header);
    for (int dt = VS_DTYPE_COUNT - 1; dt >= 0; dt--)
        for (int s = 0; s < 4; s++, it = json_object_iter_next(header, it)) {
            snprintf(name, sizeof name, "%s.%d", vs_dtype_name((enum vs_dtype)dt), s);
            assert_non_null(it);
            assert_string_equal(json_object_iter_key(it), name);
        }
    assert_null(it);
    json_decref(header);
    free(raw);
    free(path);
}

/* ---- the shard rule ---- */

/* Adds tensors of the given byte sizes (U8 [n]) named t0, t1, ... with part size `part`;
 * checks each lands in shard want[i] (1-based) of `k` and the index. */
static void expect_shards(uint64_t part, const size_t *sizes, const int *want, size_t n, int k)
{
    char *dir = vs_test_tmpdir("st-rule");
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "q", part, 0600, &w), VS_OK);
    enum vs_log_level level = vs_log_get_level();
    vs_log_set_level(VS_LOG_ERROR);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%zu", i);
        int64_t shape = (int64_t)sizes[i];
        unsigned char *data = pattern((int)i, sizes[i]);
        assert_int_equal(vs_st_writer_add(w, name, VS_DTYPE_U8, 1, &shape, data, sizes[i]), VS_OK);
        free(data);
        total += sizes[i];
    }
    vs_log_set_level(level);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    assert_int_equal(dir_count(dir), (size_t)k + 1);
    char *ipath = in_dir(dir, "q.safetensors.index.json");
    json_t *idx = json_load_file(ipath, 0, NULL);
    assert_non_null(idx);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(idx, "metadata"), "total_size")), total);
    json_t *map = json_object_get(idx, "weight_map");
    assert_int_equal(json_object_size(map), n);
    void *it = json_object_iter(map);
    for (size_t i = 0; i < n; i++, it = json_object_iter_next(map, it)) {
        char name[32], file[64];
        snprintf(name, sizeof name, "t%zu", i);
        snprintf(file, sizeof file, "q-%05d-of-%05d.safetensors", want[i], k);
        assert_string_equal(json_object_iter_key(it), name); /* insertion order */
        if (strcmp(json_string_value(json_object_iter_value(it)), file) != 0)
            fail_msg("part %llu: %s in %s, want %s", (unsigned long long)part, name,
                     json_string_value(json_object_iter_value(it)), file);
        char *spath = in_dir(dir, file);
        struct vs_st_file *f;
        assert_int_equal(vs_st_file_open(spath, &f), VS_OK);
        const struct vs_st_tensor *t = vs_st_file_find(f, name);
        assert_non_null(t);
        unsigned char *data = pattern((int)i, sizes[i]);
        assert_memory_equal(t->data, data, sizes[i]);
        free(data);
        vs_st_file_close(f);
        free(spath);
    }
    json_decref(idx);
    free(ipath);
    vs_fs_remove_tree(dir);
    free(dir);
}

#define RULE(part, k, ...)                                                                  \
    do {                                                                                    \
        static const size_t s_[] = {__VA_ARGS__};                                           \
        expect_shards(part, s_, want_, sizeof s_ / sizeof s_[0], k);                         \
    } while (0)

static void test_shard_rule_edges(void **state)
{
    (void)state;
    {   /* pending + next == limit: flush first */
        static const int want_[] = {1, 2};
        RULE(8, 2, 4, 4);
    }
    {   /* one byte below the limit: stays together; the next reaches it */
        static const int want_[] = {1, 1, 2};
        RULE(8, 2, 3, 4, 1);
    }
    {   /* a tensor exactly the limit: alone, no flush before it when nothing is pending */
        static const int want_[] = {1, 2, 3};
        RULE(8, 3, 8, 8, 1);
    }
    {   /* zero-byte tensors ride along with the pending set */
        static const int want_[] = {1, 1, 1, 2};
        RULE(8, 2, 0, 5, 0, 3);
    }
    {   /* ... but one after a full pending set flushes it (8 + 0 reaches 8) */
        static const int want_[] = {1, 2, 2};
        RULE(8, 2, 8, 0, 1);
    }
    {   /* oversize first, oversize twice in a row, oversize after a pending tensor */
        static const int want_[] = {1, 2, 3, 4, 5, 5};
        RULE(8, 5, 20, 30, 1, 9, 2, 2);
    }
    {   /* many small: 3+3 < 8, +3 reaches 9 >= 8 */
        static const int want_[] = {1, 1, 2, 2, 3, 3, 4};
        RULE(8, 4, 3, 3, 3, 3, 3, 3, 3);
    }
    {   /* everything fits: one shard, still numbered and indexed */
        static const int want_[] = {1, 1, 1};
        RULE(1000, 1, 10, 20, 30);
    }
}

/* The warning for a tensor over the limit, read back from stderr. */
static void test_oversize_warning(void **state)
{
    (void)state;
    char *log = in_dir(g_dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    enum vs_log_level level = vs_log_get_level();
    vs_log_set_level(VS_LOG_INFO);
    char *out = vs_test_tmpdir("st-warn");
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(out, "m", 8, 0600, &w), VS_OK);
    static unsigned char buf[80];
    int64_t n = 20, e = 8;
    assert_int_equal(vs_st_writer_add(w, "exact", VS_DTYPE_U8, 1, &e, buf, 8), VS_OK); /* not over: silent */
    assert_int_equal(vs_st_writer_add(w, "lm_head.weight", VS_DTYPE_F32, 1, &n, buf, 80), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    vs_log_set_level(level);
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(log, &text, &len), VS_OK);
    assert_string_equal(text, "vlmslim: warning: tensor 'lm_head.weight' (80 bytes) is larger than the shard size 8; "
                              "it gets a shard of its own\n");
    free(text);
    free(log);
    vs_fs_remove_tree(out);
    free(out);
}

static void test_shard_names_and_index_layout(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(g_dir, "quant_model_weights", 8, 0600, &w), VS_OK);
    static unsigned char buf[8];
    int64_t four = 4, one = 1;
    assert_int_equal(vs_st_writer_add(w, "z.weight", VS_DTYPE_F32, 1, &one, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "a.weight", VS_DTYPE_U8, 1, &four, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "m.bias", VS_DTYPE_U8, 1, &four, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *ipath = in_dir(g_dir, "quant_model_weights.safetensors.index.json");
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(ipath, &text, &len), VS_OK);
    assert_string_equal(text, "{\n"
                              "  \"metadata\": {\n"
                              "    \"total_size\": 12\n"
                              "  },\n"
                              "  \"weight_map\": {\n"
                              "    \"z.weight\": \"quant_model_weights-00001-of-00003.safetensors\",\n"
                              "    \"a.weight\": \"quant_model_weights-00002-of-00003.safetensors\",\n"
                              "    \"m.bias\": \"quant_model_weights-00003-of-00003.safetensors\"\n"
                              "  }\n"
                              "}");
    free(text);
    free(ipath);
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(g_dir, &names, &n), VS_OK);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "quant_model_weights-00001-of-00003.safetensors");
    assert_string_equal(names[2], "quant_model_weights-00003-of-00003.safetensors");
    assert_string_equal(names[3], "quant_model_weights.safetensors.index.json");
    vs_fs_free_names(names, n);
}

static void test_one_shard_and_no_shards(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    static unsigned char buf[8];
    int64_t four = 4;
    /* part size > 0: numbered even when there is one shard */
    assert_int_equal(vs_st_writer_open(g_dir, "model", 1000, 0600, &w), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &four, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *p = in_dir(g_dir, "model-00001-of-00001.safetensors");
    assert_true(vs_fs_is_file(p));
    free(p);
    struct vs_st_model *m;
    assert_int_equal(vs_st_model_open(g_dir, &m), VS_OK); /* found through model.safetensors.index.json */
    assert_int_equal(vs_st_model_count(m), 1);
    vs_st_model_close(m);
    vs_fs_remove_tree(g_dir);
    assert_int_equal(vs_fs_mkdirs(g_dir, 0700), VS_OK);

    /* nothing added: one empty shard and an index with an empty weight_map */
    assert_int_equal(vs_st_writer_open(g_dir, "model", 1000, 0600, &w), VS_OK);
    assert_int_equal(vs_st_writer_total_bytes(w), 0);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    p = in_dir(g_dir, "model-00001-of-00001.safetensors");
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(p, &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), 0);
    vs_st_file_close(f);
    free(p);
    p = in_dir(g_dir, "model.safetensors.index.json");
    char *text;
    size_t len;
    assert_int_equal(vs_fs_read_file(p, &text, &len), VS_OK);
    assert_string_equal(text, "{\n  \"metadata\": {\n    \"total_size\": 0\n  },\n  \"weight_map\": {}\n}");
    free(text);
    free(p);
    vs_fs_remove_tree(g_dir);
    assert_int_equal(vs_fs_mkdirs(g_dir, 0700), VS_OK);

    /* part size 0, nothing added: `<prefix>.safetensors` = length 8 + "{}" + 6 spaces, no index */
    assert_int_equal(vs_st_writer_open(g_dir, "w", 0, 0600, &w), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    assert_int_equal(dir_count(g_dir), 1);
    p = in_dir(g_dir, "w.safetensors");
    assert_int_equal(vs_fs_read_file(p, &text, &len), VS_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(text, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(text);
    free(p);
}

/* Shards are written as tensors are added, under -of-00000 names until close: a shard is
 * complete on disk once the next one starts (its data goes out in 8 MiB blocks as it is added,
 * io/seq_writer.h). */
static void test_streams_to_temporary_names(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(g_dir, "m", 100, 0600, &w), VS_OK);
    unsigned char *a = pattern(1, 60), *b = pattern(2, 50);
    int64_t n60 = 60, n50 = 50;
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &n60, a, 60), VS_OK);
    char *t1 = in_dir(g_dir, "m-00001-of-00000.safetensors"), *t2 = in_dir(g_dir, "m-00002-of-00000.safetensors");
    assert_true(vs_fs_exists(t1)); /* created with its first tensor */
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_U8, 1, &n50, b, 50), VS_OK); /* 110 >= 100: a flushed */
    assert_true(vs_fs_exists(t2));
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(t1, &f), VS_OK); /* complete already */
    assert_memory_equal(vs_st_file_find(f, "a")->data, a, 60);
    vs_st_file_close(f);
    assert_int_equal(dir_count(g_dir), 2);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    assert_false(vs_fs_exists(t1));
    assert_false(vs_fs_exists(t2));
    char *final = in_dir(g_dir, "m-00002-of-00002.safetensors");
    assert_int_equal(vs_st_file_open(final, &f), VS_OK);
    assert_memory_equal(vs_st_file_find(f, "b")->data, b, 50);
    vs_st_file_close(f);
    free(final);
    free(t1);
    free(t2);
    free(a);
    free(b);
}

static void expect_modes(unsigned mask, unsigned mode)
{
    char *dir = vs_test_tmpdir("st-mode");
    mode_t old = umask(mask);
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "m", 4, mode, &w), VS_OK);
    static unsigned char buf[4];
    int64_t four = 4;
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &four, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_U8, 1, &four, buf, 4), VS_OK);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    umask(old);
    char **names;
    size_t n;
    assert_int_equal(vs_fs_list_dir(dir, &names, &n), VS_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        char *p = in_dir(dir, names[i]);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        if ((sb.st_mode & 07777) != mode)
            fail_msg("%s: mode %o, want %o (umask %o)", names[i], sb.st_mode & 07777, mode, mask);
        free(p);
    }
    vs_fs_free_names(names, n);
    vs_fs_remove_tree(dir);
    free(dir);
}

static void test_file_mode_ignores_umask(void **state)
{
    (void)state;
    expect_modes(0077, 0644);
    expect_modes(0, 0600);
    expect_modes(0022, 0640);
}

/* ---- bad arguments: refused, and the writer goes on ---- */

static void test_add_errors(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(g_dir, "m", 0, 0600, &w), VS_OK);
    static unsigned char buf[64];
    int64_t two = 2, s23[2] = {2, 3}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg = -1;
    char want[1100];
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_F32, 1, &two, buf, 8), VS_OK);
    assert_int_equal(vs_st_writer_add(w, "a", VS_DTYPE_F32, 1, &two, buf, 8), VS_ERR_INTERNAL);
    snprintf(want, sizeof want, "%s: tensor 'a' written twice", g_dir);
    expect_message(want);
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_F32, 2, s23, buf, 20), VS_ERR_INTERNAL);
    expect_message("tensor 'b': 20 bytes do not match its shape and dtype F32");
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_F32, 1, &neg, buf, 0), VS_ERR_INTERNAL);
    expect_message("tensor 'b': 0 bytes do not match its shape and dtype F32");
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_COUNT, 1, &two, buf, 2), VS_ERR_INTERNAL);
    expect_message("tensor 'b': invalid dtype 11 or rank 1");
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_U8, 9, s9, buf, 1), VS_ERR_INTERNAL);
    expect_message("tensor 'b': invalid dtype 1 or rank 9");
    assert_int_equal(vs_st_writer_add(w, "__metadata__", VS_DTYPE_U8, 1, &two, buf, 2), VS_ERR_INTERNAL);
    expect_message("tensor name '__metadata__' is reserved by safetensors");
    assert_int_equal(vs_st_writer_add(w, "bad\xff", VS_DTYPE_U8, 1, &two, buf, 2), VS_ERR_INTERNAL);
    expect_message("tensor name 'bad\xff' is not valid UTF-8");
    assert_int_equal(vs_st_writer_add(w, "b", VS_DTYPE_BF16, 2, s23, buf, 12), VS_OK);
    assert_int_equal(vs_st_writer_total_bytes(w), 20);
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *p = in_dir(g_dir, "m.safetensors");
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(p, &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), 2);
    vs_st_file_close(f);
    free(p);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct vs_st_writer *w = NULL;
    char *missing = in_dir(g_dir, "nope");
    assert_int_equal(vs_st_writer_open(missing, "m", 0, 0600, &w), VS_ERR_IO);
    char want[1100];
    snprintf(want, sizeof want, "%s: not a directory", missing);
    expect_message(want);
    assert_null(w);
    assert_int_equal(vs_st_writer_open(g_dir, "a/b", 0, 0600, &w), VS_ERR_INTERNAL);
    expect_message("safetensors file prefix 'a/b' is not a plain file name");
    assert_int_equal(vs_st_writer_open(g_dir, "", 0, 0600, &w), VS_ERR_INTERNAL);
    assert_null(w);
    free(missing);
}

static void test_abort_removes_everything(void **state)
{
    (void)state;
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(g_dir, "m", 10, 0600, &w), VS_OK);
    static unsigned char buf[16];
    int64_t six = 6;
    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "t%d", i);
        assert_int_equal(vs_st_writer_add(w, name, VS_DTYPE_U8, 1, &six, buf, 6), VS_OK);
    }
    assert_int_equal(dir_count(g_dir), 5);
    vs_st_writer_abort(w);
    assert_true(vs_fs_dir_is_empty(g_dir));
    assert_int_equal(vs_st_writer_open(g_dir, "m", 0, 0600, &w), VS_OK);
    vs_st_writer_abort(w);
    vs_st_writer_abort(NULL);
    assert_true(vs_fs_dir_is_empty(g_dir));
}

/* ---- write failures: files beyond `limit` bytes fail with EFBIG ---- */

enum failure { FAIL_DATA, FAIL_FLUSH, FAIL_INDEX };

/* In a child (the limit is per process): returns 0 if the writer reported the failure as
 * expected, else a code saying what went wrong. */
static int child_write_failure(const char *dir, enum failure what)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = what == FAIL_INDEX ? 8192 : what == FAIL_FLUSH ? 2048 : 4096,
                        .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    struct vs_st_writer *w;
    if (vs_st_writer_open(dir, "big", what == FAIL_INDEX ? 1 : 0, 0600, &w) != VS_OK)
        return 11;
    static unsigned char buf[16384];
    char want[1200];
    enum vs_status st = VS_OK;
    if (what == FAIL_DATA) {
        int64_t n = 3000;
        if (vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &n, buf, 3000) != VS_OK)
            return 12;
        /* crosses 4096: the data is written off the caller's thread, so the failure comes back
         * from a later add (once the thread has hit it) or at the latest from close */
        st = vs_st_writer_add(w, "b", VS_DTYPE_U8, 1, &n, buf, 3000);
        for (int i = 0; st == VS_OK && i < 8; i++) { /* 8 × 2 MiB: past the 8 MiB staging buffers */
            static unsigned char big[2 << 20];
            int64_t nb = sizeof big;
            char name[16];
            snprintf(name, sizeof name, "c%d", i);
            st = vs_st_writer_add(w, name, VS_DTYPE_U8, 1, &nb, big, sizeof big);
        }
        bool at_close = st == VS_OK;
        if (at_close)
            st = vs_st_writer_close(w);
        snprintf(want, sizeof want, "%s/big.safetensors: write failed: File too large", dir);
        if (st != VS_ERR_IO || strcmp(vs_error_message(), want) != 0)
            return fprintf(stderr, "data: %d %s\n", st, vs_error_message()), 13;
        if (!at_close && (vs_st_writer_add(w, "d", VS_DTYPE_U8, 1, &n, buf, 3000) != VS_ERR_INTERNAL ||
                          !vs_test_contains(vs_error_message(), "tensor 'd' added to a safetensors writer after a failed write")))
            return fprintf(stderr, "after: %s\n", vs_error_message()), 14;
        if (!at_close)
            vs_st_writer_abort(w);
        return 0;
    }
    if (what == FAIL_FLUSH) { /* the data fits, data + header does not (the header write fails
                                 * where it is inserted, the copy where the shard is assembled) */
        int64_t n = 2040;
        if (vs_st_writer_add(w, "a", VS_DTYPE_U8, 1, &n, buf, 2040) != VS_OK)
            return 15;
        st = vs_st_writer_close(w);
        if (st != VS_ERR_IO || !vs_test_contains(vs_error_message(), ": write failed: File too large") ||
            strncmp(vs_error_message(), dir, strlen(dir)) != 0)
            return fprintf(stderr, "flush: %d %s\n", st, vs_error_message()), 16;
        return 0;
    }
    /* FAIL_INDEX: 300 one-byte shards fit, their index (~20 KB) does not */
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "model.layers.%d.self_attn.q_proj.weight", i);
        int64_t one = 1;
        if (vs_st_writer_add(w, name, VS_DTYPE_U8, 1, &one, buf, 1) != VS_OK)
            return fprintf(stderr, "index add: %s\n", vs_error_message()), 17;
    }
    st = vs_st_writer_close(w);
    snprintf(want, sizeof want, "%s/big.safetensors.index.json: write failed: File too large", dir);
    if (st != VS_ERR_IO || strcmp(vs_error_message(), want) != 0)
        return fprintf(stderr, "index: %d %s\n", st, vs_error_message()), 18;
    return 0;
}

static void expect_write_failure(const char *dir, enum failure what)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_write_failure(dir, what));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(vs_fs_dir_is_empty(dir)); /* nothing left behind */
}

static void test_write_failure_in_data(void **state)
{
    (void)state;
    expect_write_failure(g_dir, FAIL_DATA);
}

static void test_write_failure_at_flush(void **state)
{
    (void)state;
    expect_write_failure(g_dir, FAIL_FLUSH);
}

static void test_write_failure_in_index(void **state)
{
    (void)state;
    expect_write_failure(g_dir, FAIL_INDEX);
}

/* The same failures where shards are assembled by copying (tmpfs). */
static void test_write_failures_on_tmpfs(void **state)
{
    (void)state;
    char *dir = vs_test_tmpfs_dir("st");
    if (!dir) {
        skip();
        return;
    }
    expect_write_failure(dir, FAIL_DATA);
    expect_write_failure(dir, FAIL_FLUSH);
    expect_write_failure(dir, FAIL_INDEX);
    vs_fs_remove_tree(dir);
    free(dir);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_matches_reference_single),
        T(test_matches_reference_sharded),
        T(test_matches_reference_bytes_on_tmpfs),
        T(test_round_trip_every_dtype),
        T(test_shard_rule_edges),
        T(test_oversize_warning),
        T(test_shard_names_and_index_layout),
        T(test_one_shard_and_no_shards),
        T(test_streams_to_temporary_names),
        T(test_file_mode_ignores_umask),
        T(test_add_errors),
        T(test_open_errors),
        T(test_abort_removes_everything),
        T(test_write_failure_in_data),
        T(test_write_failure_at_flush),
        T(test_write_failure_in_index),
        T(test_write_failures_on_tmpfs),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
