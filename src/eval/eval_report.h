/* What `vlmslim eval` writes: eval_report.json and a self-contained HTML page (inline CSS and
 * SVG, nothing fetched) with the verdict, the summary, the per-unit error curve, the samples,
 * the worst Linears of the calibration's quant_report.json and the MoE routing. */
#ifndef VS_EVAL_EVAL_REPORT_H
#define VS_EVAL_EVAL_REPORT_H

#include "base/status.h"
#include "eval/eval_run.h"

struct vs_eval_report_info {
    const char *model_path, *quant_path, *model_type;
    const char *quant_report_path; /* the export's quant_report.json, or NULL when there is none */
};

/* The verdict: "good" (mean KL < 0.01 and top-1 agreement >= 0.95), "check" (< 0.1 and >= 0.85)
 * or "poor". */
const char *vs_eval_verdict(const struct vs_eval_result *r);

/* Both files are written whole to a temporary name and renamed into place. Errors name the file
 * (an unreadable quant_report.json included). */
enum vs_status vs_eval_report_write(const struct vs_eval_result *r, const struct vs_eval_report_info *info,
                                    const char *json_path, const char *html_path);

#endif
