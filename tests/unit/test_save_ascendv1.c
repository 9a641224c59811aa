/* The ascendv1 saver: tensor sets and dtypes per type, the description file, side files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "io/safetensors.h"
#include "save/ascendv1.h"
#include "test_util.h"

static char *read_text(const char *dir, const char *name)
{
    char *path = vs_path_join(dir, name), *text = NULL;
    size_t len;
    assert_int_equal(vs_fs_read_file(path, &text, &len), VS_OK);
    free(path);
    return text;
}

static unsigned file_mode(const char *dir, const char *name)
{
    char *path = vs_path_join(dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    free(path);
    return st.st_mode & 0777;
}

static json_t *load_description(const char *dir)
{
    char *text = read_text(dir, "quant_model_description.json");
    json_error_t err;
    json_t *d = json_loads(text, 0, &err);
    assert_non_null(d);
    free(text);
    return d;
}

static void expect_type(json_t *d, const char *name, const char *type)
{
    json_t *v = json_object_get(d, name);
    if (!v || strcmp(json_string_value(v), type) != 0)
        fail_msg("%s: expected %s, got %s", name, type, v ? json_string_value(v) : "(missing)");
}

/* A minimal source checkpoint directory with side files. */
static char *make_model_dir(int with_quant_config)
{
    char *dir = vs_test_tmpdir("ascendv1-model");
    const char *cfg = with_quant_config
        ? "{\"model_type\": \"qwen3_vl\", \"quantization_config\": {\"bits\": 8},\n"
          " \"text_config\": {\"hidden_size\": 8, \"quantization_config\": {}}}"
        : "{\"model_type\":\"qwen3_vl\",   \"text_config\": {\"hidden_size\": 8}}\n";
    free(vs_test_write(dir, "config.json", cfg, strlen(cfg)));
    free(vs_test_write(dir, "tokenizer.json", "{\"a\": 1}", 8));
    free(vs_test_write(dir, "merges.txt", "a b\n", 4));
    free(vs_test_write(dir, "chat_template.jinja", "{{ x }}", 7));
    free(vs_test_write(dir, "custom_model.py", "pass\n", 5));
    free(vs_test_write(dir, "model.safetensors.index.json", "{}", 2));
    free(vs_test_write(dir, "README.md", "# m\n", 4));
    free(vs_test_write(dir, "tokenizer.model", "x", 1));
    char *sub = vs_path_join(dir, "sub");
    mkdir(sub, 0755);
    free(vs_test_write(sub, "inner.json", "{}", 2));
    free(sub);
    return dir;
}

static void test_weight_quant_tensors_and_description(void **state)
{
    (void)state;
    char *model = make_model_dir(0), *out = vs_test_tmpdir("ascendv1-out");
    struct vs_ascendv1 *s;
    assert_int_equal(vs_ascendv1_open(out, 0, &s), VS_OK);

    uint16_t emb[4] = {0x3f80, 0x4000, 0x4040, 0x4080}; /* bf16 1, 2, 3, 4 */
    int64_t emb_shape[2] = {2, 2};
    assert_int_equal(vs_ascendv1_add_float(s, "embed.weight", VS_DTYPE_BF16, 2, emb_shape, emb), VS_OK);
    int8_t q[6] = {1, -2, 3, 127, -127, 0};
    float scale[2] = {0.5f, 0.25f}, offset[2] = {1.0f, -3.0f}, bias[2] = {7.0f, -7.0f};
    assert_int_equal(vs_ascendv1_add_weight_quant(s, VS_QT_W8A8_DYNAMIC, "a.q_proj", q, 2, 3, scale, NULL, bias), VS_OK);
    assert_int_equal(vs_ascendv1_add_weight_quant(s, VS_QT_W8A16, "a.o_proj", q, 2, 3, scale, offset, NULL), VS_OK);
    assert_int_equal(vs_ascendv1_finish(s, model), VS_OK);

    char *weights = vs_path_join(out, "quant_model_weights.safetensors");
    struct vs_st_file *f;
    assert_int_equal(vs_st_file_open(weights, &f), VS_OK);
    const struct vs_st_tensor *t = vs_st_file_find(f, "a.q_proj.weight");
    assert_non_null(t);
    assert_int_equal(t->dtype, VS_DTYPE_I8);
    assert_memory_equal(t->data, q, 6);
    t = vs_st_file_find(f, "a.q_proj.weight_scale");
    assert_int_equal(t->dtype, VS_DTYPE_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 1);
    assert_memory_equal(t->data, scale, sizeof scale);
    t = vs_st_file_find(f, "a.q_proj.weight_offset");
    const float zeros[2] = {0, 0};
    assert_memory_equal(t->data, zeros, sizeof zeros);
    t = vs_st_file_find(f, "a.q_proj.bias");
    assert_int_equal(t->dtype, VS_DTYPE_F32);
    assert_memory_equal(t->data, bias, sizeof bias);
    assert_null(vs_st_file_find(f, "a.o_proj.bias"));
    t = vs_st_file_find(f, "a.o_proj.weight_offset");
    assert_memory_equal(t->data, offset, sizeof offset);
    t = vs_st_file_find(f, "embed.weight");
    assert_int_equal(t->dtype, VS_DTYPE_BF16);
    assert_memory_equal(t->data, emb, sizeof emb);
    assert_int_equal(vs_st_file_count(f), 8);
    vs_st_file_close(f);
    free(weights);

    json_t *d = load_description(out);
    expect_type(d, "embed.weight", "FLOAT");
    expect_type(d, "a.q_proj.weight", "W8A8_DYNAMIC");
    expect_type(d, "a.q_proj.weight_scale", "W8A8_DYNAMIC");
    expect_type(d, "a.q_proj.weight_offset", "W8A8_DYNAMIC");
    expect_type(d, "a.q_proj.bias", "FLOAT");
    expect_type(d, "a.o_proj.weight", "W8A16");
    expect_type(d, "version", "1.0.0");
    /* W8A8_DYNAMIC ranks above W8A16 */
    expect_type(d, "model_quant_type", "W8A8_DYNAMIC");
    assert_int_equal(json_object_size(json_object_get(d, "metadata")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "group_size")), 0);
    assert_int_equal(json_object_size(json_object_get(d, "optional")), 0);
    /* 8 tensors + 5 globals, tensors first */
    assert_int_equal(json_object_size(d), 13);
    const char *first = json_object_iter_key(json_object_iter(d));
    assert_string_equal(first, "embed.weight");
    json_decref(d);
    assert_int_equal(file_mode(out, "quant_model_description.json"), 0600);

    vs_fs_remove_tree(out);
    vs_fs_remove_tree(model);
    free(out);
    free(model);
}

static void test_side_files(void **state)
{
    (void)state;
    char *model = make_model_dir(1), *out = vs_test_tmpdir("ascendv1-side");
    struct vs_ascendv1 *s;
    assert_int_equal(vs_ascendv1_open(out, 0, &s), VS_OK);
    assert_int_equal(vs_ascendv1_finish(s, model), VS_OK);

    const char *copied[] = {"tokenizer.json", "merges.txt", "chat_template.jinja", "custom_model.py"};
    for (size_t i = 0; i < 4; i++) {
        char *a = read_text(model, copied[i]), *b = read_text(out, copied[i]);
        assert_string_equal(a, b);
        assert_int_equal(file_mode(out, copied[i]), 0600);
        free(a);
        free(b);
    }
    const char *skipped[] = {"model.safetensors.index.json", "README.md", "tokenizer.model", "sub", "inner.json"};
    for (size_t i = 0; i < 5; i++) {
        char *p = vs_path_join(out, skipped[i]);
        assert_false(vs_fs_exists(p));
        free(p);
    }
    /* quantization_config removed at the top level and in text_config, rest kept */
    char *cfg_text = read_text(out, "config.json");
    json_t *cfg = json_loads(cfg_text, 0, NULL);
    assert_non_null(cfg);
    assert_null(json_object_get(cfg, "quantization_config"));
    assert_null(json_object_get(json_object_get(cfg, "text_config"), "quantization_config"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(cfg, "text_config"), "hidden_size")), 8);
    assert_string_equal(json_string_value(json_object_get(cfg, "model_type")), "qwen3_vl");
    assert_non_null(strstr(cfg_text, "\n  \"model_type\": \"qwen3_vl\""));  /* indent 2 */
    json_decref(cfg);
    free(cfg_text);
    assert_int_equal(file_mode(out, "config.json"), 0600);

    json_t *d = load_description(out);
    expect_type(d, "model_quant_type", "Unknown"); /* nothing quantized: msModelSlim's initial value */
    json_decref(d);
    vs_fs_remove_tree(out);
    vs_fs_remove_tree(model);
    free(out);
    free(model);
}

static void test_config_without_quant_config_is_byte_identical(void **state)
{
    (void)state;
    char *model = make_model_dir(0), *out = vs_test_tmpdir("ascendv1-cfg");
    struct vs_ascendv1 *s;
    assert_int_equal(vs_ascendv1_open(out, 0, &s), VS_OK);
    assert_int_equal(vs_ascendv1_finish(s, model), VS_OK);
    char *a = read_text(model, "config.json"), *b = read_text(out, "config.json");
    assert_string_equal(a, b);
    free(a);
    free(b);
    vs_fs_remove_tree(out);
    vs_fs_remove_tree(model);
    free(out);
    free(model);
}

static void test_sharded_output_has_index(void **state)
{
    (void)state;
    char *model = make_model_dir(0), *out = vs_test_tmpdir("ascendv1-shards");
    struct vs_ascendv1 *s;
    assert_int_equal(vs_ascendv1_open(out, 64, &s), VS_OK);
    float v[12] = {0};
    int64_t shape[1] = {12};
    assert_int_equal(vs_ascendv1_add_float(s, "a", VS_DTYPE_F32, 1, shape, v), VS_OK);
    assert_int_equal(vs_ascendv1_add_float(s, "b", VS_DTYPE_F32, 1, shape, v), VS_OK);
    assert_int_equal(vs_ascendv1_finish(s, model), VS_OK);
    char *index = read_text(out, "quant_model_weights.safetensors.index.json");
    json_t *j = json_loads(index, 0, NULL);
    assert_non_null(j);
    json_t *map = json_object_get(j, "weight_map");
    assert_string_equal(json_string_value(json_object_get(map, "a")), "quant_model_weights-00001-of-00002.safetensors");
    assert_string_equal(json_string_value(json_object_get(map, "b")), "quant_model_weights-00002-of-00002.safetensors");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metadata"), "total_size")), 96);
    json_decref(j);
    free(index);
    vs_fs_remove_tree(out);
    vs_fs_remove_tree(model);
    free(out);
    free(model);
}

static void test_missing_model_dir_is_error(void **state)
{
    (void)state;
    char *out = vs_test_tmpdir("ascendv1-missing");
    struct vs_ascendv1 *s;
    assert_int_equal(vs_ascendv1_open(out, 0, &s), VS_OK);
    assert_int_equal(vs_ascendv1_finish(s, "/nonexistent-model-dir"), VS_ERR_IO);
    assert_true(vs_test_contains(vs_error_message(), "/nonexistent-model-dir"));
    vs_fs_remove_tree(out);
    free(out);
}

/* W8A8 static: the tensor set of spec 7.3; deq_scale F32 for a bf16 model, else I64 holding
 * the float32 bits; W8A8 ranks above W8A8_DYNAMIC. */
static void test_w8a8_static_tensors(void **state)
{
    (void)state;
    char *model = make_model_dir(0);
    for (int bf16 = 0; bf16 < 2; bf16++) {
        char *out = vs_test_tmpdir("ascendv1-w8a8");
        struct vs_ascendv1 *s;
        assert_int_equal(vs_ascendv1_open(out, 0, &s), VS_OK);
        int8_t q[6] = {1, -2, 3, 127, -127, 0};
        int32_t qb[2] = {-5, 1000000};
        float deq[2] = {0.001f, 3.5e-5f}, scale[2] = {0.5f, 0.25f}, bias[2] = {0.25f, -1.0f};
        assert_int_equal(vs_ascendv1_add_weight_quant(s, VS_QT_W8A8_DYNAMIC, "a.up_proj", q, 2, 3, scale, NULL, NULL),
                         VS_OK);
        assert_int_equal(vs_ascendv1_add_w8a8(s, "a.q_proj", q, 2, 3, qb, 0.02f, -7.0f, deq,
                                              bf16 ? VS_DTYPE_BF16 : VS_DTYPE_F16, bias), VS_OK);
        assert_int_equal(vs_ascendv1_finish(s, model), VS_OK);
        char *weights = vs_path_join(out, "quant_model_weights.safetensors");
        struct vs_st_file *f;
        assert_int_equal(vs_st_file_open(weights, &f), VS_OK);
        assert_int_equal(vs_st_file_count(f), 9);
        const struct vs_st_tensor *t = vs_st_file_find(f, "a.q_proj.weight");
        assert_int_equal(t->dtype, VS_DTYPE_I8);
        assert_memory_equal(t->data, q, 6);
        t = vs_st_file_find(f, "a.q_proj.quant_bias");
        assert_int_equal(t->dtype, VS_DTYPE_I32);
        assert_int_equal(t->ndim, 1);
        assert_memory_equal(t->data, qb, sizeof qb);
        t = vs_st_file_find(f, "a.q_proj.input_scale");
        assert_int_equal(t->dtype, VS_DTYPE_F32);
        assert_int_equal(t->shape[0], 1);
        assert_true(*(const float *)t->data == 0.02f);
        t = vs_st_file_find(f, "a.q_proj.input_offset");
        assert_true(*(const float *)t->data == -7.0f);
        t = vs_st_file_find(f, "a.q_proj.deq_scale");
        if (bf16) {
            assert_int_equal(t->dtype, VS_DTYPE_F32);
            assert_memory_equal(t->data, deq, sizeof deq);
        } else {
            assert_int_equal(t->dtype, VS_DTYPE_I64);
            for (int i = 0; i < 2; i++) {
                int64_t v;
                int32_t bits;
                memcpy(&v, (const char *)t->data + 8 * i, 8);
                memcpy(&bits, &deq[i], 4);
                assert_int_equal(v, bits);
            }
        }
        t = vs_st_file_find(f, "a.q_proj.bias");
        assert_int_equal(t->dtype, VS_DTYPE_F32);
        assert_memory_equal(t->data, bias, sizeof bias);
        assert_null(vs_st_file_find(f, "a.q_proj.weight_scale"));
        vs_st_file_close(f);
        free(weights);
        json_t *d = load_description(out);
        expect_type(d, "a.q_proj.weight", "W8A8");
        expect_type(d, "a.q_proj.quant_bias", "W8A8");
        expect_type(d, "a.q_proj.input_scale", "W8A8");
        expect_type(d, "a.q_proj.input_offset", "W8A8");
        expect_type(d, "a.q_proj.deq_scale", "W8A8");
        expect_type(d, "a.q_proj.bias", "FLOAT");
        expect_type(d, "model_quant_type", "W8A8");
        json_decref(d);
        vs_fs_remove_tree(out);
        free(out);
    }
    vs_fs_remove_tree(model);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_quant_tensors_and_description),
        cmocka_unit_test(test_w8a8_static_tensors),
        cmocka_unit_test(test_side_files),
        cmocka_unit_test(test_config_without_quant_config_is_byte_identical),
        cmocka_unit_test(test_sharded_output_has_index),
        cmocka_unit_test(test_missing_model_dir_is_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
