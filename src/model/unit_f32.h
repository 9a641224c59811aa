/* A float32 copy of a unit: every float parameter materialised once (converted, MoE expert
 * views un-transposed) into an owned F32 tensor, so that a forward pass over many samples
 * converts each weight once. The copy is itself a unit (same parameter names, shapes and
 * Linear modules) whose parameters are whole F32 tensors, and it can be handed to any code
 * that takes a unit. Its values may be overwritten (e.g. by dequantized weights). In bf16 mode
 * a copy may keep a bf16 checkpoint's Linear weights as views instead (below). */
#ifndef VS_MODEL_UNIT_F32_H
#define VS_MODEL_UNIT_F32_H

#include <stdbool.h>

#include "model/unit.h"

struct vs_unit_f32 {
    struct vs_unit *unit;          /* the copy */
    struct vs_st_tensor *tensors;  /* [unit->n_params], the storage behind each parameter */
    size_t n_tensors;
    size_t bytes;                  /* total bytes held */
    size_t view_bytes;             /* checkpoint bytes its views use in place */
    bool *keep_bf16;               /* [unit->n_params] views, held as bf16 bits again after a
                                    * transform (vs_unit_f32_store_bf16) */
};

/* Copies unit u (float parameters as F32, others in their own dtype). Errors name the parameter. */
enum vs_status vs_unit_f32_make(const struct vs_unit *u, struct vs_unit_f32 **out);
/* The copy a forward pass in the run's compute mode needs: vs_unit_f32_make's, except that in
 * bf16 mode (tensor/compute.h) the Linear weights a checkpoint stores as bf16 are not converted
 * but stay views of it (the same parameter as in u), as a bf16 Linear multiplies those bits
 * themselves: the unit then holds 2 bytes per weight, not 4. Their bits are checked finite here,
 * once (vs_param.known_finite); a weight that is not finite is converted instead, and that
 * conversion names it. The views' pages leave the resident set when the copy is freed. */
enum vs_status vs_unit_f32_make_for_compute(const struct vs_unit *u, struct vs_unit_f32 **out);
/* The copy a transform edits one tensor at a time (quarot's tail): vs_unit_f32_make's, except
 * that a two-dimensional parameter the checkpoint stores as bf16 (an embedding, a head) stays a
 * view until a transform converts it (vs_unit_f32_own), and goes back to bf16 after it. */
enum vs_status vs_unit_f32_make_lazy(const struct vs_unit *u, struct vs_unit_f32 **out);
void vs_unit_f32_free(struct vs_unit_f32 *f);

/* Writable float32 values of parameter i, or NULL if it is not a float parameter or a view. */
float *vs_unit_f32_values(struct vs_unit_f32 *f, size_t i);
/* Whether parameter i is a view of the checkpoint (vs_unit_f32_make_for_compute). */
bool vs_unit_f32_is_view(const struct vs_unit_f32 *f, size_t i);
/* Whether parameter i is held as bf16 bits, which a bf16 Linear multiplies in place: a view, or
 * a weight stored back (vs_unit_f32_store_bf16). */
bool vs_unit_f32_holds_bf16(const struct vs_unit_f32 *f, size_t i);
/* Converts parameter i held as bf16 into an owned float32 copy (writable from then on); VS_OK if
 * it is float32 already. */
enum vs_status vs_unit_f32_own(struct vs_unit_f32 *f, size_t i);
/* Writable bf16 bits of parameter i where the copy holds it so, a view copied into its own memory
 * first (its checkpoint pages released), for an edit a block of rows at a time; NULL where it is
 * not held as bf16, or with *st set: out of memory, or a non-finite checkpoint value (the error
 * names the tensor and element, as a conversion's does). */
uint16_t *vs_unit_f32_bf16_bits(struct vs_unit_f32 *f, size_t i, enum vs_status *st);
/* Stores parameter i back as bf16 bits after a transform that rounded it to the checkpoint's
 * bf16, where it was a view (a bf16 Linear weight in bf16 mode, a matrix of a lazy copy): it then
 * holds 2 bytes a value, and reads as a bf16 parameter known finite. VS_OK with nothing done
 * where it was no view, a value is not finite or not exactly a bf16 (it stays float32), or it is
 * not float32. */
enum vs_status vs_unit_f32_store_bf16(struct vs_unit_f32 *f, size_t i);

#endif
