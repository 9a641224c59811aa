/* An export read back as a model, from its own files alone: its metadata (ascendv1's
 * quant_model_description.json, compressed-tensors' quantization_config in config.json) checked
 * against its weight files both ways, then each unit
 * of the float model seen through the export (float tensors by name, quantized Linears
 * computed from their int8 weights and scales by the kernels' integer arithmetic,
 * quant/int8_linear.h), through the Linear hooks' compute members. */
#ifndef VS_EVAL_EXPORT_MODEL_H
#define VS_EVAL_EXPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "model/linear_apply.h"
#include "model/unit.h"

struct vs_export;

/* Opens dir: its metadata and every top-level *.safetensors file; ascendv1 where it holds
 * quant_model_description.json, else compressed-tensors where config.json's quantization_config
 * says so. Errors (each naming the file and the tensor or key): neither; ascendv1: a description
 * that is not an object of tensor types, a tensor the description promises that no file holds or
 * a file's tensor it does not list, a type vlmslim cannot compute (e.g. W4A8_DYNAMIC), asymmetric
 * dynamic weights; compressed-tensors: a group whose weights or activations vLLM's int8 paths do
 * not take (other bit widths, float formats, group strategies), a quantized tensor no group
 * targets or one `ignore` lists; both: a quantized Linear lacking one of its scheme's tensors or
 * holding one of the wrong dtype or shape. */
enum vs_status vs_export_open(const char *dir, struct vs_export **out);
void vs_export_close(struct vs_export *e);
const char *vs_export_dir(const struct vs_export *e);
/* "ascendv1" or "compressed-tensors". */
const char *vs_export_format_name(const struct vs_export *e);

/* The float unit u seen through the export (caller frees; it borrows the export's tensors): each
 * parameter the export's tensor of the same name (a FLOAT tensor of the same shape), a quantized
 * Linear's weight its int8 tensor (computed by the hooks below, never read as float), Linear
 * biases the export adds (shifted smoothing) added. Marks the tensors it uses. Errors name the
 * tensor. */
enum vs_status vs_export_view(struct vs_export *e, const struct vs_unit *u, struct vs_unit **out);

/* After every unit and the tail have been viewed: an export tensor no view used is an error
 * naming it (the forward would ignore it, e.g. a norm bias from shifted smoothing). */
enum vs_status vs_export_check_all_used(const struct vs_export *e);

/* Offline QuaRot's residual-stream rotation R ([n, n] float32, row-major; NULL, 0 when the export
 * has none): the export's hidden states are the float model's times R. Read from the file the
 * description's optional.quarot.rotation_map.global_rotation names. Errors name the file. */
enum vs_status vs_export_rotation(struct vs_export *e, const float **r, int64_t *n);

/* Hooks that compute the export's quantized Linears (and no other). */
void vs_export_hooks(struct vs_export *e, struct vs_linear_hooks *h);

/* How many quantized Linears the export has. */
size_t vs_export_quantized_count(const struct vs_export *e);

#endif
