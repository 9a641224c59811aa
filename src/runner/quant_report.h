/* quant_report.json of a calibrated run: for every quantized Linear of the calibrated units its
 * scheme, the relative output error ||y_q - y|| / ||y|| on the calibration data, its input range,
 * W8A8 parameters and MoE routed counts. */
#ifndef VS_RUNNER_QUANT_REPORT_H
#define VS_RUNNER_QUANT_REPORT_H

#include "runner/calib.h"
#include "runner/quant_run.h"

/* Appends the calibrated unit's Linears to sum->report. */
enum vs_status vs_quant_report_add(struct vs_quant_summary *sum, const struct vs_calib_unit *cu);

/* Writes sum->report to o->report_path (or <save_path>.quant_report.json; the path goes to
 * sum->report_path) and logs the ten largest errors. */
enum vs_status vs_quant_report_write(const struct vs_quant_options *o, struct vs_quant_summary *sum);

#endif
