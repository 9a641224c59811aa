/* Calibration of one unit's claimed Linear modules: observers on the inputs of the W8A8
 * (static) ones over every token of every sample, their activation parameters, the weights of
 * every claimed Linear quantized, and the hooks of the propagation pass (dequantized weights
 * written into the unit's float32 copy, activations fake-quantized).
 *
 * Activation ranges are the min/max over all calibration tokens (act method minmax) or the clip
 * range of a histogram observer fed every call's input (act method histogram, quant/histogram.h),
 * and the propagation pass uses these final parameters (msModelSlim fake-quantizes each sample with the range seen so far;
 * docs/design.md). */
#ifndef VS_RUNNER_CALIB_H
#define VS_RUNNER_CALIB_H

#include <stdbool.h>
#include <stdint.h>

#include "model/linear_apply.h"
#include "model/unit_f32.h"
#include "quant/histogram.h"
#include "quant/linear_quant.h"

struct vs_calib_linear {
    int linear;              /* index in the unit's linears */
    enum vs_scheme scheme;
    bool symmetric;          /* W8A8: symmetric activation (offset 0) */
    bool routed;             /* a MoE expert */
    /* W8A8 input statistics */
    struct vs_histogram *hist; /* act method histogram: its observer, else NULL (minmax) */
    float min, max;            /* the range observed; with hist, the clip range after finish_stats */
    bool nan;
    int64_t rows;            /* input rows observed */
    int64_t routed_tokens;   /* tokens the router sent it (routed only) */
    /* results */
    int8_t *q;               /* [out, in] */
    float *w_scale;          /* [out] */
    float act_scale, act_offset;
    float *deq_scale;        /* W8A8: [out] */
    int32_t *quant_bias;     /* W8A8: [out] */
    /* error measurement of the propagation pass (when measuring) */
    bool dequantized;        /* the float32 copy holds the dequantized weight (q and scales freed) */
    float *w_float;          /* the float weight, kept before it is replaced when there is no src */
    double err2, ref2;       /* Σ (y_q − y)², Σ y² over the measured rows */
    float in_min, in_max;    /* input range seen by the propagation pass */
    int64_t pass_rows;       /* input rows the propagation pass showed it */
    int64_t eval_rows;       /* of which measured */
};

struct vs_calib_unit {
    const struct vs_unit *u;   /* the unit as loaded (names) */
    struct vs_unit_f32 *f;     /* its float32 copy, run by the forward passes */
    struct vs_calib_linear *cl;
    size_t n;
    const char **sorted;       /* module names of cl, sorted, for the hooks' look-ups */
    int *sorted_idx;
    float *buf;                /* fake-quantized input */
    size_t buf_cap;
    enum vs_status hook_status; /* first failure inside a hook */
    size_t unrouted;           /* W8A8 experts no token was routed to (warned about) */
    bool measure;              /* the propagation pass also measures ||y_q − y|| / ||y|| */
    bool float_after;          /* the float weights are put back after it (--propagate float) */
    bool vllm_kernels;         /* the int8 pass computes as vLLM's kernels do (the run's first
                                * export, at --save_path, is compressed-tensors), not as vLLM Ascend's */
    int64_t measure_stride;    /* on every measure_stride-th row of each Linear (>= 1) */
    const struct vs_unit *src; /* a unit holding the float weights (by name): the checkpoint's
                                * when f's weights are its values, else the transformed ones
                                * written out; they are read again from it rather than kept.
                                * NULL: kept (w_float) */
    float *wbuf;               /* a float weight read again from src */
    size_t wbuf_cap;
    float *ybuf;               /* the float output of the Linear being measured (its picked rows) */
    size_t ybuf_cap;
    struct vs_calib_linear *pending; /* whose float output ybuf holds */
    int64_t pending_rows, pending_first, pending_picked; /* the call's rows, first picked, count */
};

/* scheme[k] for linear k of f->unit: an enum vs_scheme, or -1 when no entry claims it;
 * symmetric[k] the W8A8 activation symmetry; routed[k] whether it is a MoE expert; histogram[k]
 * (NULL: none) whether its W8A8 act method is histogram. */
enum vs_status vs_calib_unit_open(struct vs_unit_f32 *f, const int *scheme, const bool *symmetric, const bool *routed,
                                  const bool *histogram, struct vs_calib_unit **out);
void vs_calib_unit_free(struct vs_calib_unit *cu);

/* True if some W8A8 Linear is claimed; all_experts is then set if one of them is routed. */
bool vs_calib_unit_needs_stats(const struct vs_calib_unit *cu, bool *all_experts);

/* Hooks of the statistics pass (observers, routed counts). */
void vs_calib_unit_observe_hooks(struct vs_calib_unit *cu, struct vs_linear_hooks *h);

/* Activation parameters from the statistics (histogram: spec §6.2's formulas on the clip range).
 * A failure inside an observer hook (a histogram range too wide, an infinite input) is returned
 * first. A W8A8 Linear that saw no token, or NaN, is an
 * error naming it; a routed one that no token was routed to is named in a warning (its range
 * comes from all tokens). `where` names the config entry for messages. */
enum vs_status vs_calib_unit_finish_stats(struct vs_calib_unit *cu);

/* Quantizes claimed Linear c's weight (from the float32 copy) and, for W8A8, deq_scale and
 * quant_bias; NaN or zero scales are errors naming the tensor. */
enum vs_status vs_calib_linear_quantize(struct vs_calib_unit *cu, struct vs_calib_linear *c);
/* Whether c's weight stays as the copy holds it through the quantized pass: bf16 mode computes a
 * W8A8 Linear in int8 from its int8 weight, and a weight held as bf16 (a view, or stored back
 * after a transform: model/unit_f32.h) is its float weight for the report. */
bool vs_calib_linear_keeps_weight(const struct vs_calib_unit *cu, const struct vs_calib_linear *c);
/* Overwrites c's weight in the float32 copy with its dequantized values and frees the int8
 * weight (written out by then; the scales stay for the int8 pass). With cu->measure or cu->float_after set and no
 * cu->src, the float weight is kept first (it is needed again). Set those before. */
enum vs_status vs_calib_linear_dequantize(struct vs_calib_unit *cu, struct vs_calib_linear *c);
/* Frees c's int8 weight and scales (written out, no quantized pass to follow). */
void vs_calib_linear_release(struct vs_calib_linear *c);
/* Dequantizes every claimed Linear not dequantized yet and sets the hooks of the propagation
 * pass (W8A8: per-tensor fake quantization with the final parameters; W8A8_DYNAMIC: per-token
 * symmetric; W8A16: none). In bf16 mode (tensor/compute.h) W8A8 and W8A8_DYNAMIC Linears are
 * computed instead as vLLM Ascend's int8 kernels do (quant/int8_linear.h: int8 input, the int8
 * weight (kept, or taken back from the dequantized one), quant_bias and deq_scale), or with
 * cu->vllm_kernels as vLLM's do (the zero point's adjustment, the float bias; routed
 * W8A8_DYNAMIC experts as its fused-MoE kernel); W8A16 on its dequantized weight. With cu->measure set every call also accumulates the input range and
 * ||y_q − y||² and ||y||² (y: the float Linear on the same input) over every
 * cu->measure_stride-th row the Linear sees, counted over the whole pass (so the measured rows
 * are the same however the rows come in calls; a stride of 4 costs a quarter of the float GEMMs
 * that measuring every row does). A failure (memory, reading a float weight again) is left in
 * cu->hook_status. */
void vs_calib_unit_apply(struct vs_calib_unit *cu, struct vs_linear_hooks *h);
/* Bytes cu holds beside the unit: int8 weights kept, its buffers. */
size_t vs_calib_unit_held_bytes(const struct vs_calib_unit *cu);
/* Puts the float weights back into the float32 copy (kept, or read again from cu->src). */
enum vs_status vs_calib_unit_restore_float(struct vs_calib_unit *cu);

#endif
