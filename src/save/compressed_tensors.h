/* The `compressed_tensors_saver` export: a Hugging Face checkpoint with compressed-tensors'
 * int8 quantization, as vLLM and SGLang load it on GPUs (docs/compressed_tensors.md).
 * Files: model.safetensors (or model-0000i-of-0000N.safetensors and
 * model.safetensors.index.json), config.json with `quantization_config`, and the checkpoint's
 * other side files. Per quantized Linear: .weight (I8 [out, in]), .weight_scale (F32 [out, 1]),
 * for static activations .input_scale (F32 [1]) and, when asymmetric, .input_zero_point
 * (I8 [1]); .bias (F32) where the Linear has one. */
#ifndef VS_SAVE_COMPRESSED_TENSORS_H
#define VS_SAVE_COMPRESSED_TENSORS_H

#include "save/saver.h"

extern const struct vs_saver_type vs_compressed_tensors_saver;

#endif
