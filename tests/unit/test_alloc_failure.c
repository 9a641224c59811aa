/* Allocation-failure injection (SQLite's malloc-failure harness) for the parsers and the saver:
 * each operation runs once to count its allocations N (the vs_ helpers and jansson's), then N
 * times more with allocation i made to fail, once with only that one failing and once with
 * every later one failing too. A run must return an error with a message (VS_ERR_NOMEM) or, if
 * it recovers, VS_OK with the result of the normal run; the ASan build checks that nothing
 * leaks. The saver's runs also check that a failed export leaves no partial file behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/status.h"
#include "config/quant_config.h"
#include "data/dataset.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "io/yaml_doc.h"
#include "model/qwen3_vl_common.h"
#include "save/ascendv1.h"
#include "test_util.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "vision/image.h"

#define ST_GOLDEN "tests/golden/safetensors"
#define TINY_MODEL "tests/golden/e2e/dense_f32" /* config.json, tokenizer.json, chat template */

/* One operation under test. run() is what allocations may fail in; describe() prints the
 * result (hook off) so that a run that recovered can be compared with the normal one. */
struct target {
    const char *name;
    enum vs_status (*run)(void *ctx, void **result);
    void (*describe)(void *ctx, void *result, FILE *out);
    void (*release)(void *ctx, void *result);
    void (*after_run)(void *ctx, enum vs_status st); /* optional: checks and cleans up output */
    void *ctx;
};

static char *describe(const struct target *t, void *result)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    t->describe(t->ctx, result, f);
    fclose(f);
    return text;
}

/* Returns N, the number of allocation points exercised. */
static size_t exercise(const struct target *t)
{
    void *res = NULL;
    vs_error_clear();
    vs_alloc_count_start();
    enum vs_status st = t->run(t->ctx, &res);
    vs_alloc_hook_off();
    size_t n = vs_alloc_count();
    if (st != VS_OK)
        fail_msg("%s: the normal run failed: %s", t->name, vs_error_message());
    assert_true(n > 0);
    char *want = describe(t, res);
    t->release(t->ctx, res);
    if (t->after_run)
        t->after_run(t->ctx, VS_OK);
    for (int persist = 0; persist < 2; persist++) {
        for (size_t i = 0; i < n; i++) {
            res = NULL;
            vs_error_clear();
            vs_alloc_fail_after(i, persist ? VS_ALLOC_FAIL_PERSIST : VS_ALLOC_FAIL_ONCE);
            st = t->run(t->ctx, &res);
            vs_alloc_hook_off();
            if (vs_alloc_failures() == 0)
                fail_msg("%s: allocation %zu of %zu was never reached (the count is not deterministic)",
                         t->name, i, n);
            if (st == VS_OK) {
                char *got = describe(t, res);
                if (strcmp(got, want) != 0) {
                    size_t at = 0, line = 1;
                    for (; got[at] && got[at] == want[at]; at++)
                        line += got[at] == '\n';
                    while (at > 0 && got[at - 1] != '\n')
                        at--;
                    fail_msg("%s: allocation %zu failed (%s) but the call returned VS_OK with a different "
                             "result, from line %zu:\n%.300s\nwant:\n%.300s",
                             t->name, i, persist ? "persistent" : "once", line, got + at, want + at);
                }
                free(got);
                t->release(t->ctx, res);
            } else {
                if (!*vs_error_message())
                    fail_msg("%s: allocation %zu failed (%s): status '%s' without a message", t->name, i,
                             persist ? "persistent" : "once", vs_status_name(st));
                if (st != VS_ERR_NOMEM)
                    fail_msg("%s: allocation %zu failed (%s): status '%s', not out of memory: %s", t->name,
                             i, persist ? "persistent" : "once", vs_status_name(st), vs_error_message());
            }
            if (t->after_run)
                t->after_run(t->ctx, st);
        }
    }
    free(want);
    print_message("%s: %zu allocation points\n", t->name, n);
    return n;
}

/* ---- safetensors ---- */

static enum vs_status st_file_run(void *ctx, void **result)
{
    return vs_st_file_open(ctx, (struct vs_st_file **)result);
}

static void print_tensor(FILE *out, const struct vs_st_tensor *t)
{
    fprintf(out, "%s %d %d", t->name, (int)t->dtype, t->ndim);
    for (int d = 0; d < t->ndim; d++)
        fprintf(out, " %lld", (long long)t->shape[d]);
    fprintf(out, " %zu:", t->nbytes);
    for (size_t b = 0; b < t->nbytes && b < 16; b++)
        fprintf(out, "%02x", ((const unsigned char *)t->data)[b]);
    fprintf(out, "\n");
}

static void st_file_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    struct vs_st_file *f = result;
    for (size_t i = 0; i < vs_st_file_count(f); i++)
        print_tensor(out, vs_st_file_at(f, i));
}

static void st_file_release(void *ctx, void *result)
{
    (void)ctx;
    vs_st_file_close(result);
}

static void test_safetensors_header(void **state)
{
    (void)state;
    const char *files[] = {ST_GOLDEN "/reference.safetensors", ST_GOLDEN "/shuffled.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        struct target t = {files[i], st_file_run, st_file_describe, st_file_release, NULL, (void *)files[i]};
        exercise(&t);
    }
}

static enum vs_status st_model_run(void *ctx, void **result)
{
    return vs_st_model_open(ctx, (struct vs_st_model **)result);
}

static void st_model_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    struct vs_st_model *m = result;
    for (size_t i = 0; i < vs_st_model_count(m); i++) {
        const struct vs_st_tensor *t;
        assert_int_equal(vs_st_model_get(m, vs_st_model_name_at(m, i), &t), VS_OK);
        print_tensor(out, t);
    }
}

static void st_model_release(void *ctx, void *result)
{
    (void)ctx;
    vs_st_model_close(result);
}

static void test_safetensors_model(void **state)
{
    (void)state;
    /* an index, a single model.safetensors, and a directory listing of *.safetensors */
    char *listed = vs_test_tmpdir("oom-listed");
    char *dst = vs_path_join(listed, "a.safetensors");
    assert_int_equal(vs_fs_copy_file(ST_GOLDEN "/reference.safetensors", dst, 0644), VS_OK);
    free(dst);
    const char *dirs[] = {ST_GOLDEN "/sharded", ST_GOLDEN "/writer_single", listed};
    for (size_t i = 0; i < 3; i++) {
        struct target t = {dirs[i], st_model_run, st_model_describe, st_model_release, NULL, (void *)dirs[i]};
        exercise(&t);
    }
    vs_fs_remove_tree(listed);
    free(listed);
}

/* ---- config.json (the dense Qwen3-VL adapter's open) ---- */

static enum vs_status model_run(void *ctx, void **result)
{
    return vs_qwen3_vl_open(ctx, "Qwen3-VL-32B-Instruct", &vs_qwen3_vl_family, (struct vs_model **)result);
}

static void model_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    const struct vs_model *m = result;
    const struct vs_qwen3_vl_dims *d = &m->d;
    fprintf(out, "%s %s %d\n", m->model_type, m->config_path, (int)m->dtype);
    fprintf(out, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld\n", (long long)d->hidden,
            (long long)d->layers, (long long)d->heads, (long long)d->kv_heads, (long long)d->head_dim,
            (long long)d->intermediate, (long long)d->vocab, (long long)d->experts, (long long)d->topk,
            (long long)d->merge_size, (long long)d->out_hidden, (long long)d->image_token_id,
            (long long)d->num_position_embeddings);
    fprintf(out, "%g %g %d %d [%lld %lld %lld]\n", d->rms_norm_eps, d->rope_theta, d->tie_word_embeddings,
            d->norm_topk_prob, (long long)d->mrope_section[0], (long long)d->mrope_section[1],
            (long long)d->mrope_section[2]);
    for (size_t i = 0; i < d->n_deepstack; i++)
        fprintf(out, "deepstack %lld\n", (long long)d->deepstack_indexes[i]);
    for (size_t i = 0; i < d->n_mlp_only_layers; i++)
        fprintf(out, "mlp_only %lld\n", (long long)d->mlp_only_layers[i]);
    fprintf(out, "%zu tensors\n", vs_st_model_count(m->weights));
}

static void model_release(void *ctx, void *result)
{
    (void)ctx;
    vs_qwen3_vl_close(result);
}

static void test_model_config(void **state)
{
    (void)state;
    char *dir = vs_test_tmpdir("oom-model");
    /* a checkpoint with as many layers and blocks as the config names (one scalar each) */
    struct vs_st_writer *w;
    assert_int_equal(vs_st_writer_open(dir, "model", 0, 0644, &w), VS_OK);
    float one = 1.0f;
    int64_t shape[1] = {1};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "model.language_model.layers.%d.input_layernorm.weight", i);
        assert_int_equal(vs_st_writer_add(w, name, VS_DTYPE_F32, 1, shape, &one, sizeof one), VS_OK);
        if (i < 2) {
            snprintf(name, sizeof name, "model.visual.blocks.%d.norm1.weight", i);
            assert_int_equal(vs_st_writer_add(w, name, VS_DTYPE_F32, 1, shape, &one, sizeof one), VS_OK);
        }
    }
    assert_int_equal(vs_st_writer_close(w), VS_OK);
    char *cfg = vs_path_join(dir, "config.json");
    assert_int_equal(vs_fs_copy_file(TINY_MODEL "/config.json", cfg, 0644), VS_OK);
    free(cfg);
    struct target t = {"config.json", model_run, model_describe, model_release, NULL, dir};
    exercise(&t);
    vs_fs_remove_tree(dir);
    free(dir);
}

/* ---- YAML ---- */

static enum vs_status yaml_run(void *ctx, void **result)
{
    return vs_yaml_load_file(ctx, (json_t **)result);
}

static void yaml_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    char *text = json_dumps(result, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    assert_non_null(text);
    fputs(text, out);
    free(text);
}

static void yaml_release(void *ctx, void *result)
{
    (void)ctx;
    json_decref(result);
}

static void test_yaml(void **state)
{
    (void)state;
    struct target t = {"scalars.yaml", yaml_run, yaml_describe, yaml_release, NULL,
                       "tests/data/config/scalars.yaml"};
    exercise(&t);
}

static enum vs_status quant_config_run(void *ctx, void **result)
{
    return vs_quant_config_load(ctx, (struct vs_quant_config **)result);
}

static void print_patterns(FILE *out, const char *what, const struct vs_pattern_list *l)
{
    fprintf(out, " %s%s[", what, l->present ? "" : "?");
    for (size_t i = 0; i < l->count; i++)
        fprintf(out, "%s,", l->items[i]);
    fprintf(out, "]");
}

static void print_processor(FILE *out, const struct vs_processor_config *p)
{
    fprintf(out, "%s %s", p->path, vs_proc_type_name(p->type));
    switch (p->type) {
    case VS_PROC_LINEAR_QUANT: {
        const struct vs_linear_quant_config *c = &p->u.linear_quant;
        const struct vs_qconfig *q[2] = {&c->act, &c->weight};
        for (int i = 0; i < 2; i++)
            fprintf(out, " %s/%s/%d/%s/%lld/%s", vs_qdtype_name(q[i]->dtype), vs_qscope_name(q[i]->scope),
                    q[i]->symmetric, q[i]->method, (long long)q[i]->ext_group_size, q[i]->ext_aggregation);
        print_patterns(out, "include", &c->include);
        print_patterns(out, "exclude", &c->exclude);
        break;
    }
    case VS_PROC_ITER_SMOOTH: {
        const struct vs_iter_smooth_config *c = &p->u.iter_smooth;
        fprintf(out, " %g %g %d %u", c->alpha, c->scale_min, c->symmetric, c->subgraph_types);
        print_patterns(out, "include", &c->include);
        print_patterns(out, "exclude", &c->exclude);
        break;
    }
    case VS_PROC_SMOOTH_QUANT: {
        const struct vs_smooth_quant_config *c = &p->u.smooth_quant;
        fprintf(out, " %g %d", c->alpha, c->symmetric);
        print_patterns(out, "include", &c->include);
        print_patterns(out, "exclude", &c->exclude);
        break;
    }
    case VS_PROC_QUAROT: {
        const struct vs_quarot_config *c = &p->u.quarot;
        fprintf(out, " %d %lld %lld %d [", c->online, (long long)c->block_size, (long long)c->max_tp_size,
                c->export_extra_info);
        for (size_t i = 0; i < c->n_down_proj_online_layers; i++)
            fprintf(out, "%lld,", (long long)c->down_proj_online_layers[i]);
        fprintf(out, "]");
        break;
    }
    case VS_PROC_ASCENDV1_SAVER:
        fprintf(out, " %lld", (long long)p->u.saver.part_file_size);
        break;
    default:
        break;
    }
    fprintf(out, "\n");
}

static void quant_config_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    const struct vs_quant_config *c = result;
    const struct vs_practice_metadata *m = &c->metadata;
    fprintf(out, "%s %s %d %s %s\n", c->source_path, c->apiversion, (int)c->runner, c->dataset, c->default_text);
    fprintf(out, "%s %g %lld %lld %d %d %s\n", m->config_id ? m->config_id : "-", m->score, (long long)m->w_bit,
            (long long)m->a_bit, m->is_sparse, m->kv_cache, m->fa_bit ? m->fa_bit : "-");
    for (size_t i = 0; i < m->n_verified_model_types; i++)
        fprintf(out, "verified %s\n", m->verified_model_types[i]);
    for (size_t i = 0; i < m->n_verified_tags; i++) {
        fprintf(out, "tags %s:", m->verified_tags[i].model_type);
        for (size_t s = 0; s < m->verified_tags[i].n_scenarios; s++)
            for (size_t k = 0; k < m->verified_tags[i].scenarios[s].count; k++)
                fprintf(out, " %zu/%s", s, m->verified_tags[i].scenarios[s].tags[k]);
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < c->n_process; i++)
        print_processor(out, &c->process[i]);
    for (size_t i = 0; i < c->n_save; i++)
        print_processor(out, &c->save[i]);
}

static void quant_config_release(void *ctx, void *result)
{
    (void)ctx;
    vs_quant_config_free(result);
}

static void test_quant_config(void **state)
{
    (void)state;
    const char *files[] = {"tests/data/configs/dense_w8a8_quarot_asym_smooth.yaml",
                           "tests/data/configs/moe_w8a8_static_experts.yaml",
                           TINY_MODEL "/Qwen3-VL-32B-Instruct_best_practice.yaml"};
    for (size_t i = 0; i < 3; i++) {
        struct target t = {files[i], quant_config_run, quant_config_describe, quant_config_release, NULL,
                           (void *)files[i]};
        exercise(&t);
    }
}

/* ---- calibration datasets ---- */

static enum vs_status dataset_run(void *ctx, void **result)
{
    return vs_dataset_load(ctx, "Describe this image in detail.", (struct vs_dataset **)result);
}

static void dataset_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    const struct vs_dataset *d = result;
    for (size_t i = 0; i < d->count; i++) {
        const struct vs_calib_sample *s = &d->samples[i];
        fprintf(out, "%s|%s|%s|%s\n", s->text, s->image ? s->image : "-", s->audio ? s->audio : "-",
                s->video ? s->video : "-");
    }
}

static void dataset_release(void *ctx, void *result)
{
    (void)ctx;
    vs_dataset_free(result);
}

static void put(const char *dir, const char *name, const char *text)
{
    free(vs_test_write(dir, name, text, strlen(text)));
}

static void test_datasets(void **state)
{
    (void)state;
    char *root = vs_test_tmpdir("oom-data");
    char *index_file = vs_path_join(root, "index.jsonl"), *media = vs_path_join(root, "media");
    assert_int_equal(mkdir(media, 0755), 0);
    put(media, "a.jpg", "x");
    put(media, "b.png", "x");
    put(media, "s.wav", "x");
    put(root, "index.jsonl",
        "{\"image\": \"media/a.jpg\", \"text\": \" first \"}\n\n"
        "{\"image\": \"media/b.png\"}\n"
        "{\"text\": \"audio\", \"audio\": \"media/s.wav\"}\n");
    /* an indexed directory with index.json */
    char *indexed = vs_path_join(root, "indexed");
    assert_int_equal(mkdir(indexed, 0755), 0);
    put(indexed, "b.jpeg", "x");
    put(indexed, "a.png", "x");
    put(indexed, "index.json", "[{\"image\": \"b.jpeg\", \"text\": \"one\"}, {\"image\": \"a.png\"}]");
    /* legacy: a text file with a line that is not JSON, and a directory of images */
    char *legacy_file = vs_path_join(root, "mix_calib.jsonl");
    put(root, "mix_calib.jsonl", "\"plain text\"\n{\"text\": \" object \"}\n{\"text\": \n\"中文\"\n");
    char *legacy_dir = vs_path_join(root, "images");
    assert_int_equal(mkdir(legacy_dir, 0755), 0);
    put(legacy_dir, "c.jpg", "x");
    put(legacy_dir, "a.png", "x");
    put(legacy_dir, "b.JPEG", "x");
    char *paths[] = {index_file, indexed, legacy_file, legacy_dir};
    for (size_t i = 0; i < 4; i++) {
        struct target t = {paths[i], dataset_run, dataset_describe, dataset_release, NULL, paths[i]};
        exercise(&t);
        free(paths[i]);
    }
    free(media);
    vs_fs_remove_tree(root);
    free(root);
}

/* ---- tokenizer, chat template ---- */

struct encoded {
    struct vs_tokenizer *tok;
    int32_t *ids;
    size_t n;
};

static const char ENCODE_TEXT[] = "<|im_start|>user\nHello, world! 描述这张图片 12345 <|image_pad|>\n"
                                  "  tabs\tand   spaces<|im_end|>\n";

static enum vs_status tokenizer_run(void *ctx, void **result)
{
    struct encoded *e = calloc(1, sizeof *e);
    assert_non_null(e);
    enum vs_status st = vs_tokenizer_open(ctx, &e->tok);
    if (st == VS_OK)
        st = vs_tokenizer_encode(e->tok, ENCODE_TEXT, sizeof ENCODE_TEXT - 1, &e->ids, &e->n);
    if (st != VS_OK) {
        vs_tokenizer_close(e->tok);
        free(e);
        return st;
    }
    *result = e;
    return VS_OK;
}

static void tokenizer_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    const struct encoded *e = result;
    for (size_t i = 0; i < e->n; i++)
        fprintf(out, "%d ", e->ids[i]);
}

static void tokenizer_release(void *ctx, void *result)
{
    (void)ctx;
    struct encoded *e = result;
    vs_tokenizer_close(e->tok);
    free(e->ids);
    free(e);
}

static void test_tokenizer(void **state)
{
    (void)state;
    struct target t = {"tokenizer.json", tokenizer_run, tokenizer_describe, tokenizer_release, NULL,
                       TINY_MODEL "/tokenizer.json"};
    exercise(&t);
}

struct template_case {
    const char *model_dir; /* loads the model's template, or else parses source */
    const char *source;
    json_t *messages, *extra;
};

static enum vs_status template_run(void *ctx, void **result)
{
    const struct template_case *c = ctx;
    struct vs_chat_template *t;
    enum vs_status st = c->model_dir ? vs_chat_template_load(c->model_dir, &t)
                                     : vs_chat_template_parse(c->source, "t.jinja", &t);
    if (st != VS_OK)
        return st;
    st = vs_chat_template_render(t, c->messages, true, c->extra, (char **)result);
    vs_chat_template_free(t);
    return st;
}

static void template_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    fputs(result, out);
}

static void template_release(void *ctx, void *result)
{
    (void)ctx;
    free(result);
}

static void test_chat_template(void **state)
{
    (void)state;
    json_error_t err;
    json_t *messages = json_loads("[{\"role\": \"system\", \"content\": \"Be brief.\"},"
                                  " {\"role\": \"user\", \"content\": [{\"type\": \"image\"},"
                                  " {\"type\": \"text\", \"text\": \"Describe this image.\"}]},"
                                  " {\"role\": \"assistant\", \"content\": \"A cat.\"},"
                                  " {\"role\": \"user\", \"content\": \"And now?\"}]",
                                  0, &err);
    json_t *extra = json_loads("{\"bos_token\": \"<s>\", \"n\": \"0x2A\"}", 0, &err);
    assert_non_null(messages);
    assert_non_null(extra);
    struct template_case cases[] = {
        {TINY_MODEL, NULL, messages, NULL},
        {NULL,
         "{%- for m in messages %}{{ loop.index }}:{{ m.role | upper }}={{ m.content if m.content is string "
         "else m.content | tojson }}\n{%- endfor %}{{ bos_token ~ ('42' | int) ~ (n | int(0, 16)) ~ "
         "' 1_000' | int }}{% set ns = namespace(s='') %}{% for k in ['a', 'b'] %}{% set ns.s = ns.s ~ k * 3 "
         "%}{% endfor %}{{ ns.s | replace('a', 'x') | list | join('-') }}",
         messages, extra},
    };
    for (size_t i = 0; i < 2; i++) {
        struct target t = {cases[i].model_dir ? "chat template" : "template filters", template_run,
                           template_describe, template_release, NULL, &cases[i]};
        exercise(&t);
    }
    json_decref(messages);
    json_decref(extra);
}

/* ---- image decode ---- */

static enum vs_status image_run(void *ctx, void **result)
{
    struct vs_image *img = calloc(1, sizeof *img);
    assert_non_null(img);
    enum vs_status st = vs_image_load(ctx, img);
    if (st != VS_OK) {
        assert_null(img->rgb);
        free(img);
        return st;
    }
    *result = img;
    return VS_OK;
}

static void image_describe(void *ctx, void *result, FILE *out)
{
    (void)ctx;
    const struct vs_image *img = result;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
        h = (h ^ img->rgb[i]) * 1099511628211ull;
    fprintf(out, "%dx%d %016llx", img->width, img->height, (unsigned long long)h);
}

static void image_release(void *ctx, void *result)
{
    (void)ctx;
    vs_image_free(result);
    free(result);
}

static void test_image_decode(void **state)
{
    (void)state;
    const char *files[] = {"tests/golden/vision/images/rgb_37x23.png", "tests/golden/vision/images/palette_trns_37x23.png",
                           "tests/golden/vision/images/interlaced_37x23.png", "tests/golden/vision/images/exif8_13x7.png",
                           "tests/golden/vision/images/photo_64x48.jpg", "tests/golden/vision/images/exif6_13x7.jpg",
                           "tests/golden/vision/images/cmyk_9x7.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct target t = {files[i], image_run, image_describe, image_release, NULL, (void *)files[i]};
        exercise(&t);
    }
}

/* ---- the ascendv1 saver ---- */

struct saved_file {
    char *name, *data;
    size_t len;
};

struct export_case {
    char *model, *out;
    uint64_t part_bytes;
    struct saved_file *ref; /* the files of the normal run */
    size_t n_ref;
};

static enum vs_status export_run(void *ctx, void **result)
{
    struct export_case *c = ctx;
    struct vs_ascendv1 *s;
    enum vs_status st = vs_ascendv1_open(c->out, c->part_bytes, &s);
    if (st != VS_OK)
        return st;
    uint16_t emb[4] = {0x3f80, 0x4000, 0x4040, 0x4080};
    int64_t emb_shape[2] = {2, 2};
    int8_t q[6] = {1, -2, 3, 127, -127, 0};
    float scale[2] = {0.5f, 0.25f}, offset[2] = {1.0f, -3.0f}, bias[2] = {7.0f, -7.0f};
    int32_t qbias[2] = {5, -5};
    if ((st = vs_ascendv1_add_float(s, "embed.weight", VS_DTYPE_BF16, 2, emb_shape, emb)) != VS_OK ||
        (st = vs_ascendv1_add_weight_quant(s, VS_QT_W8A8_DYNAMIC, "a.q_proj", q, 2, 3, scale, NULL, bias)) != VS_OK ||
        (st = vs_ascendv1_add_weight_quant(s, VS_QT_W8A16, "a.o_proj", q, 2, 3, scale, offset, NULL)) != VS_OK ||
        (st = vs_ascendv1_add_w8a8(s, "a.up_proj", q, 2, 3, qbias, 0.1f, 2.0f, scale, VS_DTYPE_F32, bias)) != VS_OK ||
        (st = vs_ascendv1_set_optional(s, "{\"quarot\": {\"rotation\": \"r.safetensors\"}}")) != VS_OK) {
        vs_ascendv1_abort(s);
        return st;
    }
    st = vs_ascendv1_finish(s, c->model);
    *result = c;
    return st;
}

/* Every file of the export with its content, sorted by name. */
static struct saved_file *read_export(const char *dir, size_t *n)
{
    char **names;
    assert_int_equal(vs_fs_list_dir(dir, &names, n), VS_OK);
    struct saved_file *files = calloc(*n + 1, sizeof *files);
    assert_non_null(files);
    for (size_t i = 0; i < *n; i++) {
        char *path = vs_path_join(dir, names[i]);
        files[i].name = strdup(names[i]);
        assert_int_equal(vs_fs_read_file(path, &files[i].data, &files[i].len), VS_OK);
        free(path);
    }
    vs_fs_free_names(names, *n);
    return files;
}

static void free_export(struct saved_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
}

static void export_describe(void *ctx, void *result, FILE *out)
{
    (void)result;
    const struct export_case *c = ctx;
    size_t n;
    struct saved_file *files = read_export(c->out, &n);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s %zu\n", files[i].name, files[i].len);
        for (size_t b = 0; b < files[i].len; b++) /* hex: the results are compared as strings */
            fprintf(out, "%02x", (unsigned char)files[i].data[b]);
        fprintf(out, "\n");
    }
    free_export(files, n);
}

static void export_release(void *ctx, void *result)
{
    (void)ctx;
    (void)result;
}

/* After a failed run, every file left must be one the normal run wrote, byte for byte: nothing
 * partial (the caller removes the directory on error; a file that looks complete but is not
 * would survive a careless caller). Then the directory is emptied for the next run. */
static void export_after_run(void *ctx, enum vs_status st)
{
    struct export_case *c = ctx;
    size_t n;
    struct saved_file *files = read_export(c->out, &n);
    if (!c->ref) {
        assert_int_equal(st, VS_OK);
        c->ref = files;
        c->n_ref = n;
    } else {
        for (size_t i = 0; i < n; i++) {
            const struct saved_file *r = NULL;
            for (size_t k = 0; k < c->n_ref && !r; k++)
                if (strcmp(c->ref[k].name, files[i].name) == 0)
                    r = &c->ref[k];
            if (!r || r->len != files[i].len || memcmp(r->data, files[i].data, r->len) != 0)
                fail_msg("export (%s): %s left behind %s, which the normal run %s", vs_status_name(st),
                         c->out, files[i].name, r ? "wrote differently" : "does not write");
        }
        free_export(files, n);
    }
    assert_int_equal(vs_fs_remove_tree(c->out), VS_OK);
    assert_int_equal(mkdir(c->out, 0755), 0);
}

static void test_export(void **state)
{
    (void)state;
    char *model = vs_test_tmpdir("oom-src");
    put(model, "config.json", "{\"model_type\": \"qwen3_vl\", \"quantization_config\": {\"bits\": 8},\n"
                              " \"text_config\": {\"hidden_size\": 8, \"quantization_config\": {}}}");
    put(model, "tokenizer_config.json", "{\"eos_token\": \"<|im_end|>\"}");
    put(model, "chat_template.jinja", "{{ x }}");
    put(model, "model.safetensors.index.json", "{}");
    for (int sharded = 0; sharded < 2; sharded++) {
        struct export_case c = {model, vs_test_tmpdir("oom-export"), sharded ? 16 : 0, NULL, 0};
        struct target t = {sharded ? "export (sharded)" : "export", export_run, export_describe, export_release,
                           export_after_run, &c};
        exercise(&t);
        free_export(c.ref, c.n_ref);
        vs_fs_remove_tree(c.out);
        free(c.out);
    }
    vs_fs_remove_tree(model);
    free(model);
}

int main(void)
{
    vs_json_hook_allocs();
    if (getenv("VS_TEST_FILTER")) /* e.g. VS_TEST_FILTER=test_export, to debug one target */
        cmocka_set_test_filter(getenv("VS_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_header),
        cmocka_unit_test(test_safetensors_model),
        cmocka_unit_test(test_model_config),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_quant_config),
        cmocka_unit_test(test_datasets),
        cmocka_unit_test(test_tokenizer),
        cmocka_unit_test(test_chat_template),
        cmocka_unit_test(test_image_decode),
        cmocka_unit_test(test_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
