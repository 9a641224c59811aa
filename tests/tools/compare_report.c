/* Compares vlmslim's quant_report.json with the reference's relative output errors
 * (tests/reference/calib_torch.py --report-out):
 *   vs-compare-report quant_report.json REFERENCE.json [REL]
 * Every Linear of either file must be in the other, with relative_output_error equal within
 * REL relative (default 1e-4); a Linear no measured token reached (a MoE expert no token was
 * routed to) has a null error in the report and no entry in the reference. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: vs-compare-report quant_report.json REFERENCE.json [REL]\n");
        return 2;
    }
    double rel = argc == 4 ? atof(argv[3]) : 1e-4;
    json_error_t err;
    json_t *got = json_load_file(argv[1], 0, &err), *want = got ? json_load_file(argv[2], 0, &err) : NULL;
    if (!got || !want) {
        fprintf(stderr, "vs-compare-report: %s:%d: %s\n", err.source, err.line, err.text);
        return 2;
    }
    json_t *list = json_object_get(got, "linears"), *ref = json_object_get(want, "relative_output_error");
    if (!json_is_array(list) || !json_is_object(ref)) {
        fprintf(stderr, "vs-compare-report: %s needs \"linears\" [...], %s \"relative_output_error\" {...}\n", argv[1], argv[2]);
        return 2;
    }
    int bad = 0;
    size_t i;
    json_t *e;
    double worst = 0;
    size_t unmeasured = 0;
    json_array_foreach(list, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *g = json_object_get(e, "relative_output_error"), *w = name ? json_object_get(ref, name) : NULL;
        if (name && json_is_null(g) && !w) {
            unmeasured++;
            continue;
        }
        if (!name || !json_is_number(g) || !json_is_number(w)) {
            fprintf(stderr, "%s: missing or not a number in one of the reports\n", name ? name : "(unnamed)");
            bad = 1;
            continue;
        }
        double a = json_number_value(g), b = json_number_value(w), d = fabs(a - b) / fmax(fabs(b), 1e-30);
        worst = fmax(worst, d);
        if (d > rel) {
            fprintf(stderr, "%s: relative output error %.9g, reference %.9g\n", name, a, b);
            bad = 1;
        }
    }
    if (json_array_size(list) - unmeasured != json_object_size(ref)) {
        fprintf(stderr, "%s lists %zu measured Linear modules, %s %zu\n", argv[1], json_array_size(list) - unmeasured,
                argv[2], json_object_size(ref));
        bad = 1;
    }
    printf("vs-compare-report: %zu Linear modules (%zu not reached), worst relative difference %.3g: %s\n",
           json_array_size(list), unmeasured, worst, bad ? "MISMATCH" : "ok");
    json_decref(got);
    json_decref(want);
    return bad;
}
