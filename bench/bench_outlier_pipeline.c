/* In-pipeline cost of the outlier-suppression processors per text layer, next to that layer's
 * calibration forward pass over the same samples, measured side by side in one run with the
 * runner's own code (runner/outlier.h, runner/layerwise.h):
 *   bench_outlier_pipeline MODEL_DIR INPUTS_DIR [results-file]
 * MODEL_DIR: a dense Qwen3-VL checkpoint (bench/outlier_pipeline.sh makes a Qwen3-VL-2B-shaped
 * one); INPUTS_DIR: sample_<i>.safetensors model-input files. For text layer 0 (unit 1), with
 * its float32 copy made once:
 *   forward    one pass of the layer over every sample (what each calibration pass costs)
 *   quarot     block_size 32: the layer's norm fusions and rotations (vs_outlier_unit)
 *   iter_smooth  the observer pass over every sample + scales + folds (vs_outlier_unit)
 * and, once per run, quarot's preparation (R, R_uv, the tail copied to float32 with the
 * embedding rotated, the final norm fused into lm_head and lm_head rotated). Best of 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fs.h"
#include "inputs/model_inputs.h"
#include "model/registry.h"
#include "model/unit_f32.h"
#include "runner/layerwise.h"
#include "runner/outlier.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int die(void)
{
    fprintf(stderr, "bench_outlier_pipeline: %s\n", vs_error_message());
    return 1;
}

static struct vs_quant_config *config(const char *dir, const char *name, const char *process)
{
    char text[1024], *path = vs_path_join(dir, name);
    snprintf(text, sizeof text,
             "apiversion: multimodal_vlm_modelslim_v1\nspec:\n  process:\n%s  save:\n    - type: \"ascendv1_saver\"\n",
             process);
    FILE *f = fopen(path, "w");
    struct vs_quant_config *c = NULL;
    if (f) {
        fputs(text, f);
        fclose(f);
        if (vs_quant_config_load(path, &c) != VS_OK)
            c = NULL;
    }
    free(path);
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_outlier_pipeline MODEL_DIR INPUTS_DIR [results-file]\n");
        return 2;
    }
    const struct vs_adapter_ops *ops = vs_builtin_adapter("qwen3_vl");
    struct vs_model *m;
    struct vs_layerwise *lw;
    const char *td = getenv("TMPDIR");
    char *tmpl = vs_strfmt("%s/bench_outlier_pipeline.XXXXXX", td && *td ? td : "/tmp");
    if (!tmpl || !mkdtemp(tmpl) || ops->open(argv[1], "bench", &m) != VS_OK ||
        vs_layerwise_open(ops, m, UINT64_MAX, NULL, &lw) != VS_OK)
        return die();
    struct vs_quant_config *cq = config(tmpl, "q.yaml", "    - type: \"quarot\"\n      block_size: 32\n"),
                           *cs = config(tmpl, "s.yaml", "    - type: \"iter_smooth\"\n      alpha: 0.9\n");
    if (!cq || !cs)
        return die();
    int64_t tokens = 0;
    for (size_t i = 0;; i++) {
        char name[64];
        snprintf(name, sizeof name, "sample_%zu.safetensors", i);
        char *p = vs_path_join(argv[2], name);
        struct vs_model_inputs in;
        if (!vs_fs_exists(p)) {
            free(p);
            break;
        }
        if (vs_model_inputs_read(p, &in) != VS_OK || vs_layerwise_add_sample(lw, &in) != VS_OK)
            return die();
        tokens += in.n_tokens;
        vs_model_inputs_free(&in);
        free(p);
    }
    size_t samples = vs_layerwise_count(lw);
    double t_open = 1e30, t_fwd = 1e30, t_rot = 1e30, t_smooth = 1e30, t0;
    struct vs_outlier *oq = NULL, *os = NULL;
    for (int rep = 0; rep < 3; rep++) {
        vs_outlier_close(oq);
        t0 = now();
        if (vs_outlier_open(cq, ops, m, &oq) != VS_OK)
            return die();
        double t = now() - t0;
        t_open = t < t_open ? t : t_open;
    }
    if (vs_outlier_open(cs, ops, m, &os) != VS_OK)
        return die();
    /* the vision tower first: its outputs are text layer 0's inputs */
    struct vs_unit *u0, *u1;
    struct vs_unit_f32 *f0, *f1;
    if (ops->unit_load(m, 0, &u0) != VS_OK || vs_unit_f32_make(u0, &f0) != VS_OK ||
        vs_layerwise_run_unit(lw, 0, f0->unit, NULL, false, true, NULL, NULL) != VS_OK)
        return die();
    vs_unit_f32_free(f0);
    vs_unit_free(u0);
    if (ops->unit_load(m, 1, &u1) != VS_OK)
        return die();
    for (int rep = 0; rep < 3; rep++) {
        if (vs_unit_f32_make(u1, &f1) != VS_OK)
            return die();
        t0 = now();
        if (vs_layerwise_run_unit(lw, 1, f1->unit, NULL, false, false, NULL, NULL) != VS_OK)
            return die();
        double a = now() - t0;
        t0 = now();
        if (vs_outlier_unit(oq, 1, u1, f1, lw) != VS_OK)
            return die();
        double b = now() - t0;
        t0 = now();
        if (vs_outlier_unit(os, 1, u1, f1, lw) != VS_OK)
            return die();
        double c = now() - t0;
        t_fwd = a < t_fwd ? a : t_fwd;
        t_rot = b < t_rot ? b : t_rot;
        t_smooth = c < t_smooth ? c : t_smooth;
        vs_unit_f32_free(f1);
    }
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "bench_outlier_pipeline: text layer 0 (%zu samples, %lld tokens), float32 copy, best of 3,\n"
                     "through vlmslim's processor code (vs_outlier_unit) and layer-wise driver\n"
                     "calibration forward of the layer, all samples   %8.3f s  = 1.00\n"
                     "quarot block_size 32: fusions + rotations        %8.3f s  ratio %.4f\n"
                     "iter_smooth: observer pass + scales + folds     %8.3f s  ratio %.4f\n"
                     "quarot preparation, once per run (R, R_uv, tail: embedding, final norm, lm_head) %.3f s\n",
                     samples, (long long)tokens, t_fwd, t_rot, t_rot / t_fwd, t_smooth, t_smooth / t_fwd,
                     t_open);
    fputs(line, stdout);
    if (argc > 3) {
        FILE *f = fopen(argv[3], "a");
        if (f) {
            fwrite(line, 1, (size_t)n, f);
            fclose(f);
        }
    }
    vs_unit_free(u1);
    vs_outlier_close(oq);
    vs_outlier_close(os);
    vs_layerwise_close(lw);
    ops->close(m);
    vs_quant_config_free(cq);
    vs_quant_config_free(cs);
    vs_fs_remove_tree(tmpl);
    free(tmpl);
    return 0;
}
