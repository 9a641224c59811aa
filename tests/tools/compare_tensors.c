/* Compares the tensors of two safetensors files:
 *   vs-compare-tensors [--only NAME] GOT.safetensors WANT.safetensors [REL]
 * Both must hold the same names with the same dtypes and shapes (with --only: tensor NAME only,
 * e.g. the logits of a rotated model, whose hidden states differ by the rotation). Float tensors pass when
 * max |got − want| <= REL × max |want| (REL defaults to 1e-4); other tensors must be equal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "tensor/dtype.h"

int main(int argc, char **argv)
{
    const char *only = NULL;
    if (argc > 2 && !strcmp(argv[1], "--only")) {
        only = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: vs-compare-tensors [--only NAME] GOT.safetensors WANT.safetensors [REL]\n");
        return 2;
    }
    double rel = argc == 4 ? atof(argv[3]) : 1e-4;
    struct vs_st_file *got, *want;
    if (vs_st_file_open(argv[1], &got) != VS_OK || vs_st_file_open(argv[2], &want) != VS_OK) {
        fprintf(stderr, "vs-compare-tensors: %s\n", vs_error_message());
        return 2;
    }
    int bad = 0;
    if (!only && vs_st_file_count(got) != vs_st_file_count(want)) {
        fprintf(stderr, "%s holds %zu tensors, %s %zu\n", argv[1], vs_st_file_count(got), argv[2], vs_st_file_count(want));
        bad = 1;
    }
    for (size_t i = 0; i < vs_st_file_count(want); i++) {
        const struct vs_st_tensor *w = vs_st_file_at(want, i), *g = vs_st_file_find(got, w->name);
        if (only && strcmp(w->name, only) != 0)
            continue;
        if (!g || g->dtype != w->dtype || g->ndim != w->ndim ||
            memcmp(g->shape, w->shape, (size_t)w->ndim * sizeof *w->shape) != 0) {
            fprintf(stderr, "%s: %s in %s (dtype, shape or presence differs)\n", w->name, g ? "differs" : "missing", argv[1]);
            bad = 1;
            continue;
        }
        if (!vs_dtype_is_float(w->dtype)) {
            int same = memcmp(g->data, w->data, w->nbytes) == 0;
            printf("%-20s %s\n", w->name, same ? "equal" : "DIFFERS");
            bad |= !same;
            continue;
        }
        size_t n = w->nbytes / vs_dtype_size(w->dtype);
        float *a = malloc(n * sizeof *a + 4), *b = malloc(n * sizeof *b + 4);
        vs_convert_to_f32(g->dtype, g->data, a, n);
        vs_convert_to_f32(w->dtype, w->data, b, n);
        double mx = 0, err = 0;
        for (size_t k = 0; k < n; k++) {
            mx = fmax(mx, fabs(b[k]));
            err = isnan(a[k]) != isnan(b[k]) ? INFINITY : fmax(err, fabs((double)a[k] - b[k]));
        }
        int ok = err <= rel * mx;
        printf("%-20s max |diff| %.3g, max |ref| %.3g, ratio %.3g: %s\n", w->name, err, mx, mx > 0 ? err / mx : 0,
               ok ? "ok" : "MISMATCH");
        bad |= !ok;
        free(a);
        free(b);
    }
    if (only && !vs_st_file_find(want, only)) {
        fprintf(stderr, "%s: no tensor %s\n", argv[2], only);
        bad = 1;
    }
    vs_st_file_close(got);
    vs_st_file_close(want);
    return bad;
}
