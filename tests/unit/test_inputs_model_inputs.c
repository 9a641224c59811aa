/* The model-input file: round trips and every malformed-file error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "io/safetensors.h"
#include "test_util.h"

static void sample(struct vs_model_inputs *in, int64_t (*grid)[3], int64_t *ids, float *pv)
{
    /* two images of 1x2x2 and 1x2x4 patches: 12 patches of 6 values */
    grid[0][0] = 1, grid[0][1] = 2, grid[0][2] = 2;
    grid[1][0] = 1, grid[1][1] = 2, grid[1][2] = 4;
    for (int i = 0; i < 7; i++)
        ids[i] = 100 + i;
    for (int i = 0; i < 72; i++)
        pv[i] = (float)i * 0.25f - 3.0f;
    *in = (struct vs_model_inputs){.input_ids = ids, .n_tokens = 7, .pixel_values = pv, .n_patches = 12,
                                   .patch_dim = 6, .image_grid_thw = grid, .n_images = 2};
}

static void test_round_trip(void **state)
{
    (void)state;
    int64_t grid[2][3], ids[7];
    float pv[72];
    struct vs_model_inputs in, back;
    sample(&in, grid, ids, pv);
    char *dir = vs_test_tmpdir("inputs-rt"), *path = vs_path_join(dir, "sample_0.safetensors");
    assert_int_equal(vs_model_inputs_write(&in, path), VS_OK);
    assert_int_equal(vs_model_inputs_read(path, &back), VS_OK);
    assert_int_equal(back.n_tokens, 7);
    assert_memory_equal(back.input_ids, ids, sizeof ids);
    assert_int_equal(back.n_patches, 12);
    assert_int_equal(back.patch_dim, 6);
    assert_memory_equal(back.pixel_values, pv, sizeof pv);
    assert_int_equal(back.n_images, 2);
    assert_memory_equal(back.image_grid_thw, grid, sizeof grid);

    /* the file holds the four tensors by their Hugging Face names, with the HF shapes */
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(path, &f), VS_OK);
    assert_int_equal(vs_st_file_count(f), 4);
    const struct vs_st_tensor *t = vs_st_file_find(f, "attention_mask");
    assert_non_null(t);
    assert_int_equal(t->shape[0], 1);
    assert_int_equal(t->shape[1], 7);
    int64_t ones[7];
    memcpy(ones, t->data, sizeof ones);
    for (int i = 0; i < 7; i++)
        assert_int_equal(ones[i], 1);
    vs_st_file_close(f);
    vs_model_inputs_free(&back);
    free(path);
    free(dir);
}

static void test_text_only(void **state)
{
    (void)state;
    int64_t ids[3] = {1, 2, 3};
    struct vs_model_inputs in = {.input_ids = ids, .n_tokens = 3}, back;
    char *dir = vs_test_tmpdir("inputs-text"), *path = vs_path_join(dir, "s.safetensors");
    assert_int_equal(vs_model_inputs_write(&in, path), VS_OK);
    assert_int_equal(vs_model_inputs_read(path, &back), VS_OK);
    assert_int_equal(back.n_tokens, 3);
    assert_int_equal(back.n_patches, 0);
    assert_null(back.pixel_values);
    assert_int_equal(back.n_images, 0);
    assert_null(back.image_grid_thw);
    vs_model_inputs_free(&back);
    free(path);
    free(dir);
}

/* Writes the tensors given (name, dtype, shape, data) as one safetensors file. */
struct tensor_spec {
    const char *name;
    enum vs_dtype dtype;
    int64_t shape[2];
    const void *data;
};

static char *write_custom(const char *dir, const char *name, const struct tensor_spec *ts, size_t n)
{
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, name, 0, 0644, &w), VS_OK);
    for (size_t i = 0; i < n; i++) {
        size_t bytes = (size_t)(ts[i].shape[0] * ts[i].shape[1]) * vs_dtype_size(ts[i].dtype);
        assert_int_equal(vs_st_writer_add(w, ts[i].name, ts[i].dtype, 2, ts[i].shape, ts[i].data, bytes), VS_OK);
    }
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *file = vs_strfmt("%s.safetensors", name), *path = vs_path_join(dir, file);
    free(file);
    return path;
}

static void expect_error(const char *dir, const char *name, const struct tensor_spec *ts, size_t n,
                         const char *needle)
{
    char *path = write_custom(dir, name, ts, n);
    struct vs_model_inputs back;
    assert_int_not_equal(vs_model_inputs_read(path, &back), VS_OK);
    if (!vs_test_contains(vs_error_message(), needle) || !vs_test_contains(vs_error_message(), path))
        fail_msg("%s: message '%s' lacks '%s' or the path", name, vs_error_message(), needle);
    assert_null(back.input_ids);
    free(path);
}

static void test_errors(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("inputs-err");
    int64_t ids[4] = {5, 6, 7, 8}, ones[4] = {1, 1, 1, 1}, padded[4] = {1, 1, 1, 0};
    int64_t grid[3] = {1, 2, 2}, bad_grid[3] = {1, 0, 2}, grid4[4] = {1, 2, 2, 1};
    float pv[4 * 6] = {0};
    const struct tensor_spec good[4] = {
        {"input_ids", VS_DTYPE_I64, {1, 4}, ids},
        {"attention_mask", VS_DTYPE_I64, {1, 4}, ones},
        {"pixel_values", VS_DTYPE_F32, {4, 6}, pv},
        {"image_grid_thw", VS_DTYPE_I64, {1, 3}, grid},
    };
    struct tensor_spec t[5];

    memcpy(t, good, sizeof good);
    expect_error(dir, "missing", t, 3, "tensor 'image_grid_thw' is missing");
    memcpy(t, good, sizeof good);
    t[4] = (struct tensor_spec){"labels", VS_DTYPE_I64, {1, 4}, ids};
    expect_error(dir, "extra", t, 5, "unexpected tensor 'labels'");
    memcpy(t, good, sizeof good);
    t[0].dtype = VS_DTYPE_I32;
    t[0].shape[1] = 8; /* same bytes */
    expect_error(dir, "dtype", t, 4, "input_ids' must be I64 of rank 2");
    memcpy(t, good, sizeof good);
    t[0].shape[0] = 2, t[0].shape[1] = 2;
    expect_error(dir, "batch", t, 4, "input_ids must have shape [1, n]");
    memcpy(t, good, sizeof good);
    t[1].data = padded;
    expect_error(dir, "padded", t, 4, "attention_mask[0, 3] is 0");
    memcpy(t, good, sizeof good);
    t[1].shape[1] = 2;
    expect_error(dir, "mask-shape", t, 4, "attention_mask has shape [1, 2]");
    memcpy(t, good, sizeof good);
    t[3].data = bad_grid;
    expect_error(dir, "grid", t, 4, "image_grid_thw[0] = [1, 0, 2] is not a grid");
    memcpy(t, good, sizeof good);
    t[3].shape[1] = 4, t[3].data = grid4;
    expect_error(dir, "grid-rank", t, 4, "image_grid_thw must have shape [images, 3]");
    memcpy(t, good, sizeof good);
    t[2].shape[0] = 2, t[2].shape[1] = 12;
    expect_error(dir, "patches", t, 4, "pixel_values has 2 patches, image_grid_thw gives 4");

    struct vs_model_inputs in = {.input_ids = ids, .n_tokens = 4};
    char *bad = vs_path_join(dir, "sample.bin");
    assert_int_equal(vs_model_inputs_write(&in, bad), VS_ERR_USAGE);
    assert_true(vs_test_contains(vs_error_message(), "must end in .safetensors"));
    free(bad);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_text_only),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
