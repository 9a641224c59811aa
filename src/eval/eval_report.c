#include "eval/eval_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fs.h"
#include "tensor/compute.h"
#include "text/tokenizer.h"

const char *vs_eval_verdict(const struct vs_eval_result *r)
{
    if (r->kl_mean < 0.01 && r->top1 >= 0.95)
        return "good";
    if (r->kl_mean < 0.1 && r->top1 >= 0.85)
        return "check";
    return "poor";
}

/* The unit where the relative error of the hidden states grows most over the previous unit's. */
static size_t worst_step(const struct vs_eval_result *r, double *from, double *to)
{
    size_t best = 0;
    double prev = 0, gain = -INFINITY;
    *from = *to = 0;
    for (size_t i = 0; i < r->n_units; i++) {
        double e = r->units[i].rel_error_mean;
        if (isnan(e))
            continue;
        if (e - prev > gain)
            gain = e - prev, best = i, *from = prev, *to = e;
        prev = e;
    }
    return best;
}

/* The verdict lines, each a sentence (for the terminal, the JSON and the page). */
static char **verdict_lines(const struct vs_eval_result *r, size_t *n)
{
    char **l = calloc(4, sizeof *l);
    if (!l)
        return NULL;
    double from, to;
    size_t w = worst_step(r, &from, &to);
    int k = 0;
    k += asprintf(&l[0], "%s: mean KL divergence %.6g (p99 %.6g, max %.6g) over %lld text positions of %zu sample(s)",
                  vs_eval_verdict(r), r->kl_mean, r->kl_p99, r->kl_max, (long long)r->positions, r->n_samples) < 0;
    k += asprintf(&l[1], "top-1 agreement %.2f%%, logits cosine mean %.6f", 100 * r->top1, r->cosine_mean) < 0;
    if (r->n_units)
        k += asprintf(&l[2], "the largest error enters at %s: hidden-state relative error %.3g -> %.3g", r->units[w].name,
                      from, to) < 0;
    *n = r->n_units ? 3 : 2;
    if (k) {
        for (size_t i = 0; i < 3; i++)
            free(l[i]);
        free(l);
        return NULL;
    }
    return l;
}

static void free_lines(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

/* Bytes as valid UTF-8: each byte of an invalid sequence written as "\xNN". */
static char *printable(const char *b, size_t n)
{
    char *out = malloc(4 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)b[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && c != 0;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)b[i + k] >> 6) == 2;
        if (ok && c >= 0x20) {
            memcpy(o, b + i, len);
            o += len, i += len;
        } else if (ok && (c == '\n' || c == '\t')) {
            *o++ = (char)c, i++;
        } else {
            o += sprintf(o, "\\x%02x", c);
            i++;
        }
    }
    *o = '\0';
    return out;
}

/* ids[begin, end) decoded (NULL without a tokenizer or for ids it does not know). */
static char *decode(const struct vs_tokenizer *tok, const int64_t *ids, int64_t begin, int64_t end)
{
    if (!tok || end <= begin)
        return tok ? calloc(1, 1) : NULL;
    int32_t *v = malloc((size_t)(end - begin) * sizeof *v);
    char *text = NULL, *out = NULL;
    size_t len = 0;
    for (int64_t i = begin; v && i < end; i++)
        v[i - begin] = (int32_t)ids[i];
    if (v && vs_tokenizer_decode(tok, v, (size_t)(end - begin), &text, &len) == VS_OK)
        out = printable(text, len);
    free(v), free(text);
    return out;
}

/* One model's continuation: the ids, the text before and after the first divergence. */
static json_t *continuation(const struct vs_tokenizer *tok, const int64_t *ids, int64_t n, int64_t div)
{
    json_t *o = json_object(), *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    json_object_set_new(o, "ids", a);
    int64_t cut = div < 0 || div > n ? n : div;
    char *same = decode(tok, ids, 0, cut), *rest = decode(tok, ids, cut, n);
    json_object_set_new(o, "text_agreed", same ? json_string(same) : json_null());
    json_object_set_new(o, "text_after", rest ? json_string(rest) : json_null());
    free(same), free(rest);
    return o;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* The ten quantized Linears with the largest relative output error in quant_report.json. */
struct worst {
    const char *name, *scheme;
    double err;
};

static int cmp_worst(const void *a, const void *b)
{
    double x = ((const struct worst *)a)->err, y = ((const struct worst *)b)->err;
    return x < y ? 1 : x > y ? -1 : 0;
}

static enum vs_status read_worst(const char *path, json_t **doc, struct worst *w, size_t *n)
{
    *n = 0, *doc = NULL;
    if (!path)
        return VS_OK;
    json_error_t err;
    if (!(*doc = json_load_file(path, 0, &err)))
        return vs_error_set(VS_ERR_IO, "%s:%d: %s", path, err.line, err.text);
    json_t *lin = json_object_get(*doc, "linears");
    if (!json_is_array(lin))
        return vs_error_set(VS_ERR_MODEL, "%s: no \"linears\" array", path);
    size_t count = json_array_size(lin), kept = 0;
    struct worst *all = calloc(count ? count : 1, sizeof *all);
    if (!all)
        return VS_ERR_NOMEM;
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(lin, i);
        json_t *err_v = json_object_get(e, "relative_output_error");
        if (!json_is_string(json_object_get(e, "name")) || !json_is_number(err_v))
            continue;
        all[kept++] = (struct worst){json_string_value(json_object_get(e, "name")),
                                     json_string_value(json_object_get(e, "scheme")), json_number_value(err_v)};
    }
    qsort(all, kept, sizeof *all, cmp_worst);
    *n = kept < 10 ? kept : 10;
    memcpy(w, all, *n * sizeof *w);
    free(all);
    return VS_OK;
}

static json_t *report_json(const struct vs_eval_result *r, const struct vs_eval_report_info *info, char **lines,
                           size_t n_lines, const struct worst *w, size_t n_worst, const struct vs_tokenizer *tok)
{
    json_t *j = json_object(), *a;
    json_object_set_new(j, "model_path", json_string(info->model_path));
    json_object_set_new(j, "quant_path", json_string(info->quant_path));
    json_object_set_new(j, "model_type", json_string(info->model_type));
    json_object_set_new(j, "export_format", json_string(r->export_format));
    json_object_set_new(j, "compute", json_string(vs_compute_name(vs_compute_get())));
    json_object_set_new(j, "verdict", json_string(vs_eval_verdict(r)));
    json_object_set_new(j, "verdict_lines", a = json_array());
    for (size_t i = 0; i < n_lines; i++)
        json_array_append_new(a, json_string(lines[i]));
    json_t *s = json_object();
    json_object_set_new(s, "samples", json_integer((json_int_t)r->n_samples));
    json_object_set_new(s, "positions", json_integer(r->positions));
    json_object_set_new(s, "kl_mean", num(r->kl_mean));
    json_object_set_new(s, "kl_median", num(r->kl_median));
    json_object_set_new(s, "kl_p99", num(r->kl_p99));
    json_object_set_new(s, "kl_p999", num(r->kl_p999));
    json_object_set_new(s, "kl_max", num(r->kl_max));
    json_object_set_new(s, "top1_agreement", num(r->top1));
    json_object_set_new(s, "logits_cosine_mean", num(r->cosine_mean));
    json_object_set_new(s, "quantized_linears", json_integer((json_int_t)r->quantized_linears));
    json_object_set_new(s, "seconds", num(r->seconds));
    json_object_set_new(j, "summary", s);
    json_object_set_new(j, "samples", a = json_array());
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct vs_eval_sample *x = &r->samples[i];
        json_t *o = json_object();
        json_object_set_new(o, "positions", json_integer(x->positions));
        json_object_set_new(o, "kl_mean", num(x->kl_mean));
        json_object_set_new(o, "kl_p99", num(x->kl_p99));
        json_object_set_new(o, "kl_max", num(x->kl_max));
        json_object_set_new(o, "top1_agreement", num(x->top1));
        json_object_set_new(o, "logits_cosine_mean", num(x->cosine_mean));
        json_object_set_new(o, "logits_cosine_min", num(x->cosine_min));
        json_t *last = json_object();
        json_object_set_new(last, "kl", num(x->last_kl));
        json_object_set_new(last, "logits_cosine", num(x->last_cosine));
        json_object_set_new(last, "top1_agrees", json_boolean(x->last_top1));
        json_object_set_new(o, "last_position", last);
        if (x->gen_float || x->gen_quant) {
            json_t *g = json_object();
            json_object_set_new(g, "float", continuation(tok, x->gen_float, x->n_gen_float, x->first_divergence));
            json_object_set_new(g, "quant", continuation(tok, x->gen_quant, x->n_gen_quant, x->first_divergence));
            json_object_set_new(g, "first_divergence", x->first_divergence < 0 ? json_null()
                                                                                : json_integer(x->first_divergence));
            json_object_set_new(o, "generation", g);
        }
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "units", a = json_array());
    for (size_t i = 0; i < r->n_units; i++) {
        const struct vs_eval_unit *u = &r->units[i];
        json_t *o = json_object(), *c = json_array(), *e = json_array();
        json_object_set_new(o, "name", json_string(u->name));
        json_object_set_new(o, "hidden_cosine_mean", num(u->cosine_mean));
        json_object_set_new(o, "hidden_cosine_min", num(u->cosine_min));
        json_object_set_new(o, "relative_error_mean", num(u->rel_error_mean));
        json_object_set_new(o, "relative_error_max", num(u->rel_error_max));
        for (size_t k = 0; k < r->n_samples; k++) {
            json_array_append_new(c, num(u->cosine[k]));
            json_array_append_new(e, num(u->rel_error[k]));
        }
        json_object_set_new(o, "per_sample_cosine", c);
        json_object_set_new(o, "per_sample_relative_error", e);
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "moe_routing", a = json_array());
    for (size_t i = 0; i < r->n_routes; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "layer", json_string(r->routes[i].layer));
        json_object_set_new(o, "expert", json_integer(r->routes[i].expert));
        json_object_set_new(o, "tokens_float", json_integer(r->routes[i].tokens_float));
        json_object_set_new(o, "tokens_quant", json_integer(r->routes[i].tokens_quant));
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "worst_linears", a = json_array());
    for (size_t i = 0; i < n_worst; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(w[i].name));
        json_object_set_new(o, "scheme", w[i].scheme ? json_string(w[i].scheme) : json_null());
        json_object_set_new(o, "relative_output_error", num(w[i].err));
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "quant_report", info->quant_report_path ? json_string(info->quant_report_path) : json_null());
    return j;
}

/* ---- the page ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* A line chart of one value per unit (NaN skipped), y from 0 to the largest value. */
static void svg_units(FILE *f, const struct vs_eval_result *r, bool cosine, const char *title)
{
    const int W = 760, H = 220, L = 60, B = 40, T = 24;
    double top = 0, bottom = cosine ? 1 : 0;
    for (size_t i = 0; i < r->n_units; i++) {
        double v = cosine ? r->units[i].cosine_min : r->units[i].rel_error_max;
        if (isnan(v))
            continue;
        top = fmax(top, cosine ? 1 : v);
        bottom = fmin(bottom, v);
    }
    if (!(top > bottom))
        top = bottom + 1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"16\" class=\"t\">", L);
    esc(f, title);
    fputs("</text>\n", f);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"ax\"/>", L, H - B, W - 10, H - B);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"ax\"/>\n", L, T, L, H - B);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor=\"end\">%.4g</text>", L - 4, T + 4, top);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor=\"end\">%.4g</text>\n", L - 4, H - B, bottom);
    double dx = r->n_units > 1 ? (double)(W - 10 - L) / (double)(r->n_units - 1) : 0;
    for (int series = 0; series < 2; series++) {
        fprintf(f, "<polyline class=\"%s\" points=\"", series ? "s2" : "s1");
        for (size_t i = 0; i < r->n_units; i++) {
            const struct vs_eval_unit *u = &r->units[i];
            double v = cosine ? (series ? u->cosine_min : u->cosine_mean) : (series ? u->rel_error_max : u->rel_error_mean);
            if (isnan(v))
                continue;
            fprintf(f, "%.1f,%.1f ", L + dx * (double)i, (H - B) - (v - bottom) / (top - bottom) * (H - B - T));
        }
        fputs("\"/>\n", f);
    }
    for (size_t i = 0; i < r->n_units; i++) {
        size_t step = r->n_units / 12 + 1;
        if (i % step == 0 || i + 1 == r->n_units)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"l\" text-anchor=\"middle\">%zu</text>", L + dx * (double)i,
                    H - B + 16, i);
    }
    fprintf(f, "\n<text x=\"%d\" y=\"%d\" class=\"l\">unit (0: the vision tower)</text>", L, H - 6);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l s1t\">%s</text><text x=\"%d\" y=\"%d\" class=\"l s2t\">%s</text>\n",
            W - 250, H - 6, "mean over samples", W - 120, H - 6, cosine ? "min" : "max");
    fputs("</svg>\n", f);
}

/* Per MoE layer, each expert's routed tokens in both models, as paired bars. */
static void svg_routing(FILE *f, const struct vs_eval_result *r)
{
    for (size_t a = 0; a < r->n_routes;) {
        size_t b = a;
        int64_t most = 1;
        while (b < r->n_routes && !strcmp(r->routes[b].layer, r->routes[a].layer)) {
            most = r->routes[b].tokens_float > most ? r->routes[b].tokens_float : most;
            most = r->routes[b].tokens_quant > most ? r->routes[b].tokens_quant : most;
            b++;
        }
        const int H = 90;
        double bw = 700.0 / (double)(b - a) / 2;
        fputs("<p class=\"l\">", f);
        esc(f, r->routes[a].layer);
        fputs("</p>\n", f);
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"%d\" role=\"img\">", H + 4);
        for (size_t k = a; k < b; k++) {
            double x = 40 + (double)(k - a) * 2 * bw;
            double hf = (double)r->routes[k].tokens_float / (double)most * H;
            double hq = (double)r->routes[k].tokens_quant / (double)most * H;
            fprintf(f, "<rect class=\"b1\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", x, H - hf, bw, hf);
            fprintf(f, "<rect class=\"b2\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", x + bw, H - hq, bw, hq);
        }
        fprintf(f, "<text x=\"0\" y=\"12\" class=\"l\">%lld</text></svg>\n", (long long)most);
        a = b;
    }
}

/* A continuation: its text (where the tokenizer decodes it) and its ids, the part from the first
 * divergence marked in both. */
static void gen_cell(FILE *f, const struct vs_tokenizer *tok, const int64_t *ids, int64_t n, int64_t div)
{
    int64_t cut = div < 0 || div > n ? n : div;
    char *same = decode(tok, ids, 0, cut), *rest = decode(tok, ids, cut, n);
    fputs("<td class=\"g\">", f);
    if (same && rest) {
        esc(f, same);
        fputs("<mark>", f);
        esc(f, rest);
        fputs("</mark><br>", f);
    }
    fputs("<span class=\"ids\">", f);
    for (int64_t i = 0; i < n; i++)
        fprintf(f, "%s%lld", i == cut ? " <mark>" : i ? " " : "", (long long)ids[i]);
    fputs(cut < n ? "</mark></span></td>" : "</span></td>", f);
    free(same), free(rest);
}

static void write_page(FILE *f, const struct vs_eval_result *r, const struct vs_eval_report_info *info, char **lines,
                       size_t n_lines, const struct worst *w, size_t n_worst, const struct vs_tokenizer *tok)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vlmslim eval</title>\n<style>\n"
          "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:900px}\n"
          "h1{font-size:20px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse}\n"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}\n"
          "td:first-child,th:first-child{text-align:left}.v{font-size:16px;padding:8px 12px;border-radius:4px}\n"
          ".good{background:#e3f4e3}.check{background:#fff3d6}.poor{background:#fbe0e0}\n"
          ".t{font-weight:600;font-size:13px}.l{font-size:11px;fill:#444}.ax{stroke:#888}\n"
          ".s1{fill:none;stroke:#1f5fbf;stroke-width:2}.s2{fill:none;stroke:#d0612a;stroke-width:1.5;"
          "stroke-dasharray:4 3}.s1t{fill:#1f5fbf}.s2t{fill:#d0612a}.b1{fill:#1f5fbf}.b2{fill:#d0612a}\n"
          "td.g{text-align:left;white-space:pre-wrap;max-width:340px}mark{background:#fde2c8}"
          ".ids{font-size:11px;color:#555}\n"
          "</style></head><body>\n<h1>vlmslim eval</h1>\n<p>float model <code>",
          f);
    esc(f, info->model_path);
    fputs("</code>, export <code>", f);
    esc(f, info->quant_path);
    fputs("</code> (", f);
    esc(f, r->export_format);
    fputs(", ", f);
    esc(f, vs_compute_name(vs_compute_get()));
    fputs(" compute, ", f);
    esc(f, info->model_type);
    fprintf(f, ")</p>\n<div class=\"v %s\">", vs_eval_verdict(r));
    for (size_t i = 0; i < n_lines; i++) {
        esc(f, lines[i]);
        fputs(i + 1 < n_lines ? "<br>\n" : "", f);
    }
    fputs("</div>\n<h2>Summary</h2>\n<table>\n", f);
    fprintf(f, "<tr><th>metric</th><th>value</th></tr>\n<tr><td>samples</td><td>%zu</td></tr>\n"
            "<tr><td>text positions</td><td>%lld</td></tr>\n<tr><td>mean KL divergence</td><td>%.6g</td></tr>\n"
            "<tr><td>median KL</td><td>%.6g</td></tr>\n<tr><td>p99 KL</td><td>%.6g</td></tr>\n"
            "<tr><td>p99.9 KL</td><td>%.6g</td></tr>\n<tr><td>max KL</td><td>%.6g</td></tr>\n"
            "<tr><td>top-1 agreement</td><td>%.2f%%</td></tr>\n<tr><td>logits cosine (mean)</td><td>%.6f</td></tr>\n"
            "<tr><td>quantized Linear modules</td><td>%zu</td></tr>\n</table>\n",
            r->n_samples, (long long)r->positions, r->kl_mean, r->kl_median, r->kl_p99, r->kl_p999, r->kl_max,
            100 * r->top1, r->cosine_mean, r->quantized_linears);
    fputs("<h2>Where the error enters</h2>\n", f);
    svg_units(f, r, false, "hidden-state relative error ||h_q - h|| / ||h|| after each unit");
    svg_units(f, r, true, "hidden-state cosine after each unit");
    fputs("<h2>Samples</h2>\n<table>\n<tr><th>sample</th><th>positions</th><th>mean KL</th><th>p99 KL</th>"
          "<th>max KL</th><th>top-1</th><th>cosine</th><th>last position KL</th></tr>\n",
          f);
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct vs_eval_sample *s = &r->samples[i];
        fprintf(f, "<tr><td>%zu</td><td>%lld</td><td>%.6g</td><td>%.6g</td><td>%.6g</td><td>%.2f%%</td><td>%.6f</td>"
                "<td>%.6g%s</td></tr>\n", i, (long long)s->positions, s->kl_mean, s->kl_p99, s->kl_max, 100 * s->top1,
                s->cosine_mean, s->last_kl, s->last_top1 ? "" : " (top-1 differs)");
    }
    fputs("</table>\n", f);
    if (r->n_samples && (r->samples[0].gen_float || r->samples[0].gen_quant)) {
        fputs("<h2>Generations</h2>\n<p>greedy continuations; from the first token where they differ "
              "<mark>marked</mark></p>\n<table>\n<tr><th>sample</th><th>first difference</th><th>float model</th>"
              "<th>quantized model</th></tr>\n",
              f);
        for (size_t i = 0; i < r->n_samples; i++) {
            const struct vs_eval_sample *s = &r->samples[i];
            fprintf(f, "<tr><td>%zu</td><td>", i);
            if (s->first_divergence < 0)
                fputs("none", f);
            else
                fprintf(f, "token %lld", (long long)s->first_divergence);
            fputs("</td>", f);
            gen_cell(f, tok, s->gen_float, s->n_gen_float, s->first_divergence);
            gen_cell(f, tok, s->gen_quant, s->n_gen_quant, s->first_divergence);
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    if (n_worst) {
        fputs("<h2>Worst Linears of the calibration</h2>\n<p>from <code>", f);
        esc(f, info->quant_report_path);
        fputs("</code></p>\n<table>\n<tr><th>Linear</th><th>scheme</th><th>||y_q - y|| / ||y||</th></tr>\n", f);
        for (size_t i = 0; i < n_worst; i++) {
            fputs("<tr><td>", f);
            esc(f, w[i].name);
            fputs("</td><td>", f);
            esc(f, w[i].scheme);
            fprintf(f, "</td><td>%.4g</td></tr>\n", w[i].err);
        }
        fputs("</table>\n", f);
    }
    if (r->n_routes) {
        fputs("<h2>MoE routing</h2>\n<p>tokens routed to each expert: "
              "<span class=\"s1t\">float</span> and <span class=\"s2t\">quantized</span> model</p>\n",
              f);
        svg_routing(f, r);
    }
    fputs("</body></html>\n", f);
}

static enum vs_status write_atomic(const char *path, const char *data, size_t len)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return VS_ERR_NOMEM;
    enum vs_status st = vs_fs_write_file(tmp, data, len, 0644);
    if (st == VS_OK && rename(tmp, path) != 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot rename into place", path);
    if (st != VS_OK)
        remove(tmp);
    free(tmp);
    return st;
}

enum vs_status vs_eval_report_write(const struct vs_eval_result *r, const struct vs_eval_report_info *info,
                                    const char *json_path, const char *html_path)
{
    json_t *qr = NULL;
    struct worst w[10];
    size_t n_worst = 0, n_lines = 0;
    enum vs_status st = read_worst(info->quant_report_path, &qr, w, &n_worst);
    char **lines = st == VS_OK ? verdict_lines(r, &n_lines) : NULL;
    if (st == VS_OK && !lines)
        st = VS_ERR_NOMEM;
    struct vs_tokenizer *tok = NULL;
    char *tok_path = vs_path_join(info->model_path, "tokenizer.json");
    if (tok_path && vs_fs_is_file(tok_path) && vs_tokenizer_open(tok_path, &tok) != VS_OK)
        tok = NULL; /* the generations then show token ids */
    free(tok_path);
    json_t *j = st == VS_OK ? report_json(r, info, lines, n_lines, w, n_worst, tok) : NULL;
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (st == VS_OK && !text)
        st = VS_ERR_NOMEM;
    if (st == VS_OK)
        st = write_atomic(json_path, text, strlen(text));
    char *page = NULL;
    size_t page_len = 0;
    FILE *f = st == VS_OK ? open_memstream(&page, &page_len) : NULL;
    if (st == VS_OK && !f)
        st = VS_ERR_NOMEM;
    if (f) {
        write_page(f, r, info, lines, n_lines, w, n_worst, tok);
        if (fclose(f) != 0)
            st = VS_ERR_NOMEM;
    }
    if (st == VS_OK)
        st = write_atomic(html_path, page, page_len);
    free(page);
    free(text);
    json_decref(j);
    json_decref(qr);
    free_lines(lines, n_lines);
    vs_tokenizer_close(tok);
    return st;
}
