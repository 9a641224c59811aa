/* Units: the granularity at which weights are loaded, processed and written.
 *
 * A unit (the vision tower, one text decoder layer, or the tail: embeddings, final norm,
 * lm_head) is a list of parameters with their Hugging Face names, in module order, and the
 * Linear modules among them. A parameter does not own its values: it describes where they
 * are in the checkpoint (a whole tensor, or a transposed column slice of one expert of a
 * fused 3-D MoE tensor) and is materialised on demand, so a unit's memory is one tensor at
 * a time, not the unit. */
#ifndef VS_MODEL_UNIT_H
#define VS_MODEL_UNIT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "io/safetensors.h"
#include "tensor/dtype.h"

struct vs_param {
    char *name;                        /* "model.visual.blocks.0.attn.qkv.weight" */
    enum vs_dtype dtype;               /* storage dtype (that of the source tensor) */
    int ndim;
    int64_t shape[VS_MAX_DIMS];        /* shape of the materialised value */
    const struct vs_st_tensor *src;    /* borrowed from the open checkpoint */
    /* View of src: slice < 0 means the whole tensor. Otherwise src is [E, A, B], the view is
     * columns [col0, col0 + ncols) of matrix src[slice] ([A, B]), transposed to [ncols, A]. */
    int64_t slice, col0, ncols;
    bool known_finite; /* every value was checked finite already (a bf16 view, model/unit_f32.h) */
};

struct vs_linear {
    char *name;  /* module name, "model.visual.blocks.0.attn.qkv" */
    int weight;  /* index of the weight parameter in the unit */
    int bias;    /* index of the bias parameter, or -1 */
    bool kept_float; /* outside every unit msModelSlim quantizes (InternVL's mlp1): no quantization
                      * config selects it; it is computed, transformed and saved in float */
};

struct vs_unit {
    char *name;  /* "model.visual", "model.language_model.layers.3", "" for the tail */
    struct vs_param *params;
    size_t n_params;
    struct vs_linear *linears;
    size_t n_linears;
    size_t cap_params, cap_linears;
};

struct vs_unit *vs_unit_new(const char *name);
void vs_unit_free(struct vs_unit *u);

/* Appends a parameter that is the whole checkpoint tensor `src` under `name`. */
enum vs_status vs_unit_add_param(struct vs_unit *u, const char *name,
                                 const struct vs_st_tensor *src);
/* Appends a parameter that is the transposed column slice of expert `slice` of the 3-D
 * tensor src ([E, A, B]): value[j, a] = src[slice, a, col0 + j], shape [ncols, A]. */
enum vs_status vs_unit_add_slice_param(struct vs_unit *u, const char *name,
                                       const struct vs_st_tensor *src, int64_t slice,
                                       int64_t col0, int64_t ncols);
/* Declares a Linear over already added parameters (by name); bias_name may be NULL. */
enum vs_status vs_unit_add_linear(struct vs_unit *u, const char *module_name,
                                  const char *weight_name, const char *bias_name);
/* Marks Linear module_name kept float (struct vs_linear). */
enum vs_status vs_unit_keep_float(struct vs_unit *u, const char *module_name);
/* Index of a parameter by name, or -1. */
int vs_unit_find_param(const struct vs_unit *u, const char *name);

size_t vs_param_numel(const struct vs_param *p);
size_t vs_param_nbytes(const struct vs_param *p);
/* Materialises the value in its storage dtype, contiguous row-major (nbytes). */
enum vs_status vs_param_read_raw(const struct vs_param *p, void *dst);
/* Materialises the value as float32 (numel floats); the storage type must be a float type. */
enum vs_status vs_param_read_f32(const struct vs_param *p, float *dst);
/* VS_OK when v[0..n), p's values in float32, are all finite; otherwise an error naming the file,
 * the tensor (and the expert's view of it) and how many are not. vs_param_read_f32 checks its
 * result; callers that view or convert a parameter themselves call this. */
enum vs_status vs_param_check_finite(const struct vs_param *p, const float *v, size_t n);
/* Likewise for values v[0..n) of checkpoint tensor t that start at its element `base`. */
enum vs_status vs_tensor_check_finite(const struct vs_st_tensor *t, const float *v, size_t n, size_t base);
/* That error: `bad` values of t (seen as parameter `view`, or NULL) are not finite, the first at
 * element `first` of the value (NaN or not). */
enum vs_status vs_tensor_nonfinite_error(const struct vs_st_tensor *t, const char *view, size_t bad, size_t first,
                                         bool nan);
/* Drops the source pages from the resident set (see vs_st_release). */
void vs_param_release(const struct vs_param *p);

#endif
