/* The layer-wise quantization run: units in forward order, each loaded from the checkpoint,
 * quantized by the configured processors and written, then freed; then the tail; then the
 * export is moved into place atomically.
 *
 * The export is written into a temporary directory beside --save_path and renamed into place
 * only when complete, so an interrupted or failed run leaves no complete-looking output. */
#ifndef VS_RUNNER_QUANT_RUN_H
#define VS_RUNNER_QUANT_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "config/quant_config.h"
#include "model/adapter.h"
#include "quant/linear_quant.h"

struct vs_quant_options {
    const char *model_path;
    const char *save_path;
    const char *model_type;                /* display name */
    const struct vs_adapter_ops *adapter;
    const struct vs_quant_config *config;  /* its source_path is exported as the best practice */
    bool overwrite;                        /* replace a non-empty save_path */
    uint64_t part_bytes_override;          /* > 0: shard size in bytes instead of part_file_size GiB */
    volatile sig_atomic_t *interrupted;    /* set asynchronously to stop (Ctrl-C); may be NULL */
    /* Calibration (configs with a W8A8 static entry): the config's spec.dataset (resolved
     * against the current directory, then lab_calib_dir), each sample built with the
     * checkpoint's processor; or, when calib_inputs is set, model-input files
     * <calib_inputs>/sample_<i>.safetensors (vs_model_inputs_read) instead. */
    const char *calib_inputs;
    const char *lab_calib_dir;             /* may be NULL */
    bool propagate_float;                  /* feed each unit the float outputs of the previous one */
    uint64_t spill_budget;                 /* bytes of carried activations kept in memory */
    /* Calibrated runs: where quant_report.json goes (NULL: <save_path>.quant_report.json);
     * no_report skips the error measurement (the last unit's quantized pass and, with outlier
     * processors, writing each unit's transformed claimed weights out to read them again) and
     * the report. */
    const char *report_path;
    bool no_report;
    /* The report's error is measured on every report_stride-th row each Linear sees (0: the
     * default, VS_REPORT_STRIDE_DEFAULT; 1: every row). */
    int64_t report_stride;
};

enum { VS_REPORT_STRIDE_DEFAULT = 4 };

/* One quantized Linear of a calibrated run, as quant_report.json lists it. */
struct vs_quant_report_entry {
    char *name;
    enum vs_scheme scheme;
    double rel_error;         /* ||y_q − y|| / ||y|| over the calibration data; < 0 if not run */
    float act_min, act_max;   /* W8A8: calibration range of the input */
    float in_min, in_max;     /* input range in the measuring pass */
    float act_scale, act_offset;
    int64_t rows;             /* input rows of the measuring pass */
    int64_t measured_rows;    /* of which the error was measured on (every report_stride-th) */
    int64_t routed_tokens;    /* a MoE expert: tokens routed to it; -1 otherwise */
};

struct vs_quant_summary {
    size_t units;
    size_t linears_total;
    size_t linears_quantized[VS_SCHEME_COUNT]; /* by enum vs_scheme */
    size_t samples;              /* calibration samples (0 for a data-free run) */
    size_t experts_unrouted;     /* W8A8 experts no calibration token was routed to */
    uint64_t bytes_in;           /* checkpoint bytes read */
    uint64_t bytes_out;          /* tensor bytes written */
    uint64_t largest_unit_bytes; /* checkpoint bytes of the largest unit (tail included) */
    uint64_t largest_unit_f32_bytes; /* the same unit in float32 */
    /* a calibrated unit's weights in memory at most: its float32 copy, the checkpoint's bf16
     * Linear weights it multiplies in place (bf16 mode), the int8 weights kept for the int8 pass
     * and the calibration buffers */
    uint64_t calibrated_unit_held_bytes;
    uint64_t carried_peak_bytes; /* calibration states in memory at most (0 without calibration) */
    uint64_t peak_rss_bytes;     /* of this process, at the end of the run */
    double seconds;
    /* where the time went: samples read or built, units converted to float32 for the forward
     * passes, the passes themselves, quantization, and writing the export (the rest) */
    double seconds_samples, seconds_convert, seconds_forward, seconds_quantize, seconds_write;
    struct vs_quant_report_entry *report; /* calibrated runs: every Linear of the calibrated units */
    size_t n_report;
    char *report_path;                    /* where it was written (caller frees with the summary) */
};

void vs_quant_summary_free(struct vs_quant_summary *s);

/* Checks that every processor of the config is available in this build, before any work. */
enum vs_status vs_quant_check_config(const struct vs_quant_config *cfg);
/* True if some linear_quant entry of the config needs calibration data (W8A8 static). */
bool vs_quant_config_needs_data(const struct vs_quant_config *cfg);

enum vs_status vs_quant_run(const struct vs_quant_options *o, struct vs_quant_summary *summary);

#endif
