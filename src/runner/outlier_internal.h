/* Shared by the outlier-suppression processors (outlier.c, proc_quarot.c, proc_smooth.c). */
#ifndef VS_RUNNER_OUTLIER_INTERNAL_H
#define VS_RUNNER_OUTLIER_INTERNAL_H

#include "model/subgraph.h"
#include "quant/hadamard.h"
#include "quant/linear_weights.h"
#include "runner/outlier.h"

struct vs_outlier {
    const struct vs_quant_config *cfg;
    const struct vs_adapter_ops *ops;
    struct vs_model *m;
    const struct vs_processor_config *quarot; /* NULL without quarot */
    struct vs_rotation R, Ruv;
    struct vs_quarot_phase pre, post;
    bool *pre_done;                           /* per pre-run command */
    struct vs_unit *tail;                     /* quarot: the tail and its transformed copy */
    struct vs_unit_f32 *tail_f32;
    struct vs_st_file *tail_file;             /* after vs_outlier_spill_tail: the copy, written out
                                               * (tail then views it; tail_f32 is NULL) */
    long last_data_unit;
    struct vs_st_tensor **biases;             /* zero biases added for asymmetric smoothing */
    size_t n_biases;
};

/* A unit's float32 copy with the dtypes it was loaded in. */
struct vs_xunit {
    const struct vs_unit *u;
    struct vs_unit_f32 *f;
};

/* Linear `module`'s weights in the copy (w, and b when the unit has `<module>.bias`); false if
 * the unit has no `<module>.weight`. Two-dimensional parameters only (an embedding counts). */
bool vs_xunit_linear(const struct vs_xunit *x, const char *module, struct vs_linear_weights *out);
/* The float32 values of parameter `name`, or NULL; *n its element count. */
float *vs_xunit_param(const struct vs_xunit *x, const char *name, size_t *n);
/* Rounds parameter `name` (if present) / a Linear's weight and bias to the checkpoint dtype. */
enum vs_status vs_xunit_round_param(const struct vs_xunit *x, const char *name);
enum vs_status vs_xunit_round_linear(const struct vs_xunit *x, const char *module);

/* quarot: the phase commands naming modules of this unit (pre-run: those not yet done). */
enum vs_status vs_proc_quarot_open(struct vs_outlier *o, const struct vs_processor_config *p);
enum vs_status vs_proc_quarot_pre_run(struct vs_outlier *o, const struct vs_xunit *x);
enum vs_status vs_proc_quarot_unit(struct vs_outlier *o, size_t i, const struct vs_xunit *x);
enum vs_status vs_proc_quarot_tail(struct vs_outlier *o, const struct vs_xunit *x);

/* iter_smooth / smooth_quant on one unit: the selected subgraphs (may be none). */
/* Whether a smoothing processor asks for the vision blocks' subgraphs too (vision_subgraphs). */
bool vs_proc_smooth_wants_vision(const struct vs_processor_config *p);
enum vs_status vs_proc_smooth_select(const struct vs_outlier *o, const struct vs_processor_config *p, size_t i,
                                     struct vs_subgraph_list *out);
enum vs_status vs_proc_smooth_unit(struct vs_outlier *o, const struct vs_processor_config *p, size_t i,
                                   const struct vs_xunit *x, struct vs_layerwise *lw);

#endif
