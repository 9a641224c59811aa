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

/* A unit's copy (model/unit_f32.h) with the dtypes it was loaded in. */
struct vs_xunit {
    const struct vs_unit *u;
    struct vs_unit_f32 *f;
    bool by_rows; /* row-local edits of its bf16 matrices a block of rows at a time (quarot's tail) */
};

/* Linear `module`'s weights in the copy as float32, for a transform to edit in place (a weight
 * held as bf16 is converted first): w, and b when the unit has `<module>.bias`; *found false if
 * the unit has no two-dimensional `<module>.weight` (an embedding counts). Each open ends with
 * vs_xunit_linear_close, before the next Linear is opened where the transform allows. */
enum vs_status vs_xunit_linear_open(const struct vs_xunit *x, const char *module, struct vs_linear_weights *out,
                                    bool *found);
/* Ends a transform of `module`: if edited, its weight and bias rounded to the checkpoint dtype;
 * then in bf16 mode a Linear weight the checkpoint stores as bf16 is stored back as bf16
 * (vs_unit_f32_store_bf16), so that the copy holds few Linears in float32 at a time. */
enum vs_status vs_xunit_linear_close(const struct vs_xunit *x, const char *module, bool edited);
/* A row-local edit of a Linear's weights (each output row's new values depend on that row alone:
 * a norm fused into it, a right rotation by a fast Hadamard transform), given some of its rows. */
typedef enum vs_status (*vs_row_edit)(void *ctx, const struct vs_linear_weights *rows);
/* Edits Linear `module` and ends it as vs_xunit_linear_close(edited) does; *found as
 * vs_xunit_linear_open. A row-local edit on x->by_rows of a weight held as bf16 bits goes a block
 * of rows at a time (converted to float32, edited, rounded back into the bits), so that no
 * float32 copy of the whole weight is held: a vocabulary-sized head or embedding; any other edit
 * gets the whole weight at once. */
enum vs_status vs_xunit_linear_edit(const struct vs_xunit *x, const char *module, vs_row_edit edit, void *ctx,
                                    bool row_local, bool *found);
/* The float32 values of parameter `name`, or NULL; *n its element count. */
float *vs_xunit_param(const struct vs_xunit *x, const char *name, size_t *n);
/* Rounds parameter `name` (if present) to the checkpoint dtype. */
enum vs_status vs_xunit_round_param(const struct vs_xunit *x, const char *name);

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
