/* A float32 copy of a unit: every float parameter materialised once (converted, MoE expert
 * views un-transposed) into an owned F32 tensor, so that a forward pass over many samples
 * converts each weight once. The copy is itself a unit (same parameter names, shapes and
 * Linear modules) whose parameters are whole F32 tensors, and it can be handed to any code
 * that takes a unit. Its values may be overwritten (e.g. by dequantized weights). */
#ifndef VS_MODEL_UNIT_F32_H
#define VS_MODEL_UNIT_F32_H

#include "model/unit.h"

struct vs_unit_f32 {
    struct vs_unit *unit;          /* the copy */
    struct vs_st_tensor *tensors;  /* [unit->n_params], the storage behind each parameter */
    size_t n_tensors;
    size_t bytes;                  /* total bytes held */
};

/* Copies unit u (float parameters as F32, others in their own dtype). Errors name the parameter. */
enum vs_status vs_unit_f32_make(const struct vs_unit *u, struct vs_unit_f32 **out);
void vs_unit_f32_free(struct vs_unit_f32 *f);

/* Writable float32 values of parameter i, or NULL if it is not a float parameter. */
float *vs_unit_f32_values(struct vs_unit_f32 *f, size_t i);

#endif
