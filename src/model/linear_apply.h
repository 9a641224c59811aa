/* The one call through which every Linear of a forward pass runs, so that observers (and later
 * fake quantization) are added here and never in model code. */
#ifndef VS_MODEL_LINEAR_APPLY_H
#define VS_MODEL_LINEAR_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "model/unit.h"

/* A Linear's weights in float32, read-only: they point into the checkpoint when it already holds
 * them as aligned float32 (no copy), and into converted copies owned here otherwise. An expert
 * of a fused MoE tensor keeps that tensor's layout, [in, out] (w_in_out; rows ldw apart), so that
 * it is neither transposed nor, in float32, copied. */
struct vs_linear_f32 {
    const char *name; /* module name, borrowed from the unit */
    const float *w;   /* [out, in], or [in, out] when w_in_out */
    const float *b;   /* [out] or NULL */
    int64_t out, in;
    bool w_in_out;
    int64_t ldw;      /* distance between rows of w */
    float *own_w, *own_b; /* the converted copies (NULL when borrowed); freed by vs_linear_f32_free */
};

struct vs_linear_hooks {
    /* Sees every Linear's input (rows × in) before the Linear is applied; may be NULL. */
    void (*observe_input)(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols);
    void *ctx;
    /* May replace the input (fake quantization): returns x itself or rows × cols floats owned
     * by the hooks and valid until the next call; runs after observe_input; may be NULL. */
    const float *(*transform_input)(void *ctx, const char *module, const float *x, int64_t rows, int64_t cols);
    /* Told by an adapter's forward pass how many tokens a router sent to a routed Linear (a
     * MoE expert) in one call, also when all experts see every token; may be NULL. */
    void (*routed_tokens)(void *ctx, const char *module, int64_t tokens);
    /* Sees every Linear's output (rows × out) after it is computed; may be NULL. */
    void (*observe_output)(void *ctx, const char *module, const float *y, int64_t rows, int64_t cols);
    /* The hooks' results depend on how the rows are split into calls (a histogram rebinned per
     * call, a running shift): the runner then passes the rows of one sample per call. */
    bool per_sample;
    /* The hooks may compute a Linear themselves instead of from the unit's float weights (a
     * quantized model read from an export, in integer arithmetic): computes() says whether they
     * take `module` and gives its in/out features; compute() then writes y [rows, out] from x
     * (after observe_input and transform_input; observe_output sees y). The unit's weights of
     * such a Linear are never read. Both NULL or both set. */
    bool (*computes)(void *ctx, const char *module, int64_t *in, int64_t *out);
    enum vs_status (*compute)(void *ctx, const char *module, const float *x, int64_t rows, float *y);
};

/* Loads `<module>.weight` (and `<module>.bias` if present) of unit u as float32 (see above). */
enum vs_status vs_linear_f32_load(const struct vs_unit *u, const char *module, struct vs_linear_f32 *out);
void vs_linear_f32_free(struct vs_linear_f32 *l);

/* y[rows, out] = x[rows, in] · wᵀ + b (x · w + b when w_in_out), after the hooks have seen x.
 * NaN or infinity in x (before any hook sees it) or in y is VS_ERR_NONFINITE, naming the Linear
 * and the first such element's row and column of this call. */
enum vs_status vs_linear_apply(const struct vs_linear_f32 *l, const float *x, int64_t rows, float *y,
                     const struct vs_linear_hooks *hooks);

/* A Linear's weight as a bf16 checkpoint's own bits, for the bf16 mode (tensor/compute.h): a
 * whole [out, in] tensor, or an expert's column block of a fused [E, in, out'] one (w_in_out). */
struct vs_linear_bf16 {
    const uint16_t *w;
    int64_t ldw; /* distance between stored rows */
    bool w_in_out;
    int64_t out, in;
    int bias; /* the unit's bias parameter, or -1 */
};
/* Linear `module` of unit u viewed so, where its weight is stored as bf16 and every value is
 * finite (scanned unless the parameter is known_finite); false otherwise (the float32 path then
 * reads it, and names a non-finite value). */
bool vs_linear_bf16_view(const struct vs_unit *u, const char *module, struct vs_linear_bf16 *v);

/* Linear `module` of unit u on x: vs_linear_f32_load, vs_linear_apply, vs_linear_f32_free; or,
 * when hooks->computes takes the module, the hooks' own computation with the same checks and
 * observers. */
enum vs_status vs_linear_run(const struct vs_unit *u, const char *module, const float *x, int64_t rows, float *y,
                             const struct vs_linear_hooks *hooks);

/* Loads any parameter of the unit as float32 (caller frees); *n receives the element count. */
enum vs_status vs_unit_param_f32(const struct vs_unit *u, const char *name, float **out, int64_t *n);

/* y = norm(x) over rows of n (y may alias x) with `<prefix>.weight` and, when the unit has it,
 * `<prefix>.bias`: an RMSNorm (the bias, one that smoothing created, added after) or a LayerNorm. */
enum vs_status vs_unit_norm(const struct vs_unit *u, const char *prefix, bool rms, float eps, const float *x, float *y,
                            int64_t rows, int64_t n);

#endif
