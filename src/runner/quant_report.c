#include "runner/quant_report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "io/json_util.h"
#include "tensor/compute.h"

enum vs_status vs_quant_report_add(struct vs_quant_summary *sum, const struct vs_calib_unit *cu)
{
    struct vs_quant_report_entry *e = vs_realloc(sum->report, (sum->n_report + cu->n + 1) * sizeof *e);
    if (!e)
        return VS_ERR_NOMEM;
    sum->report = e;
    for (size_t k = 0; k < cu->n; k++) {
        const struct vs_calib_linear *c = &cu->cl[k];
        struct vs_quant_report_entry *x = &sum->report[sum->n_report];
        *x = (struct vs_quant_report_entry){
            .name = vs_strdup(cu->u->linears[c->linear].name), .scheme = c->scheme,
            .rel_error = c->eval_rows ? (c->ref2 > 0 ? sqrt(c->err2 / c->ref2) : (c->err2 > 0 ? INFINITY : 0)) : -1,
            .act_min = c->min, .act_max = c->max, .in_min = c->in_min, .in_max = c->in_max,
            .act_scale = c->act_scale, .act_offset = c->act_offset, .rows = c->pass_rows,
            .measured_rows = c->eval_rows,
            .routed_tokens = c->routed ? c->routed_tokens : -1};
        if (!x->name)
            return VS_ERR_NOMEM;
        sum->n_report++;
    }
    return VS_OK;
}

void vs_quant_summary_free(struct vs_quant_summary *s)
{
    for (size_t i = 0; i < s->n_report; i++)
        free(s->report[i].name);
    free(s->report);
    free(s->report_path);
    s->report = NULL;
    s->report_path = NULL;
    s->n_report = 0;
}

static int worse_first(const void *a, const void *b)
{
    const struct vs_quant_report_entry *x = *(const struct vs_quant_report_entry *const *)a,
                                       *y = *(const struct vs_quant_report_entry *const *)b;
    return x->rel_error < y->rel_error ? 1 : x->rel_error > y->rel_error ? -1 : strcmp(x->name, y->name);
}

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* quant_report.json: every Linear of the calibrated units; logs the ten worst. */
enum vs_status vs_quant_report_write(const struct vs_quant_options *o, struct vs_quant_summary *sum)
{
    sum->report_path = o->report_path ? vs_strdup(o->report_path) : vs_strfmt("%s.quant_report.json", o->save_path);
    json_t *root = json_object(), *list = json_array();
    if (!sum->report_path || !root || !list) {
        json_decref(root);
        json_decref(list);
        return VS_ERR_NOMEM;
    }
    json_object_set_new(root, "samples", json_integer((json_int_t)sum->samples));
    json_object_set_new(root, "propagate", json_string(o->propagate_float ? "float" : "quantized"));
    json_object_set_new(root, "compute", json_string(vs_compute_name(vs_compute_get())));
    json_object_set_new(root, "report_stride",
                        json_integer(o->report_stride > 0 ? o->report_stride : VS_REPORT_STRIDE_DEFAULT));
    json_object_set_new(root, "linears", list);
    for (size_t i = 0; i < sum->n_report; i++) {
        const struct vs_quant_report_entry *e = &sum->report[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(e->name));
        json_object_set_new(j, "scheme", json_string(vs_scheme_name(e->scheme)));
        json_object_set_new(j, "relative_output_error", e->rel_error < 0 ? json_null() : real_or_null(e->rel_error));
        json_object_set_new(j, "input_rows", json_integer(e->rows));
        json_object_set_new(j, "measured_rows", json_integer(e->measured_rows));
        json_object_set_new(j, "input_min", real_or_null(e->in_min));
        json_object_set_new(j, "input_max", real_or_null(e->in_max));
        if (e->scheme == VS_SCHEME_W8A8) {
            json_object_set_new(j, "calibration_min", real_or_null(e->act_min));
            json_object_set_new(j, "calibration_max", real_or_null(e->act_max));
            json_object_set_new(j, "input_scale", real_or_null(e->act_scale));
            json_object_set_new(j, "input_offset", real_or_null(e->act_offset));
        }
        if (e->routed_tokens >= 0)
            json_object_set_new(j, "routed_tokens", json_integer(e->routed_tokens));
        json_array_append_new(list, j);
    }
    enum vs_status st = vs_json_write_file(root, sum->report_path, 2, 0644);
    json_decref(root);
    const struct vs_quant_report_entry **order = vs_malloc((sum->n_report + 1) * sizeof *order);
    if (st != VS_OK || !order) {
        free(order);
        return st != VS_OK ? st : VS_ERR_NOMEM;
    }
    for (size_t i = 0; i < sum->n_report; i++)
        order[i] = &sum->report[i];
    qsort(order, sum->n_report, sizeof *order, worse_first);
    vs_info("largest relative output errors ||y_q - y|| / ||y|| on the calibration data (all in %s):", sum->report_path);
    for (size_t i = 0; i < sum->n_report && i < 10; i++)
        vs_info("  %.4g  %s (%s)", order[i]->rel_error, order[i]->name, vs_scheme_name(order[i]->scheme));
    free(order);
    return VS_OK;
}

