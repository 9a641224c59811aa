/* Position machinery of Qwen3-VL (qwen3_vl_spec.md §4.2–4.3, §5.2–5.3): the 3-D position ids
 * of the text model (get_rope_index), the interleaved MRoPE cos/sin tables, the vision tower's
 * 2-D rotary tables and its bilinearly interpolated position embeddings. */
#ifndef VS_MODEL_QWEN3_VL_POSITIONS_H
#define VS_MODEL_QWEN3_VL_POSITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* pos[3][s] (T, H, W rows) for token ids[s]: text tokens count on from the previous maximum + 1;
 * each run of image tokens (image i has grid grids[i] = {t, h, w} in patches) gets
 * (s0 + k + ti, s0 + k + hi, s0 + k + wi) over its (t, h/merge, w/merge) block, where ti is the
 * frame with frame_time, 0 without (Qwen2.5-VL: an image's time index is frame · 0 seconds ·
 * tokens_per_second). Errors when the image tokens do not match the grids (count or length). */
enum vs_status vs_qwen3_vl_rope_index(const int64_t *ids, int64_t s, int64_t image_token_id,
                                      const int64_t (*grids)[3], int64_t n_images, int64_t merge,
                                      bool frame_time, int64_t *pos);

/* cos/sin [s, d] of MRoPE: frequency j < d/2 has inv = theta^(−2j/d) and uses, interleaved
 * (Qwen3-VL), the H position if j % 3 == 1 and j < 3·sec[1], the W position if j % 3 == 2 and
 * j < 3·sec[2], else the T position; in sections (Qwen2.5-VL), T for j < sec[0], H for the next
 * sec[1], W for the rest. Angles are duplicated to d. */
void vs_qwen3_vl_mrope(const int64_t *pos, int64_t s, int64_t d, double theta, const int64_t sec[3],
                       bool interleaved, float *cos, float *sin);

/* Patch coordinates in merge-block order for images with grids[i] = {t, h, w}: for each image,
 * frame, block row, block column, row in block, column in block. rows/cols have Σ t·h·w entries. */
void vs_qwen3_vl_patch_coords(const int64_t (*grids)[3], int64_t n_images, int64_t merge, int64_t *rows,
                              int64_t *cols);

/* Vision rotary cos/sin [n, dv]: inv[k] = 10000^(−2k/(dv/2)) for k < dv/4; angles =
 * concat(row·inv, col·inv), duplicated to dv. */
void vs_qwen3_vl_vision_rope(const int64_t *rows, const int64_t *cols, int64_t n, int64_t dv, float *cos,
                             float *sin);

/* Position embeddings [Σ t·h·w, hidden] in merge-block order, bilinearly interpolated from the
 * table [side², hidden] (side = sqrt(num_position_embeddings)). */
void vs_qwen3_vl_pos_embed(const float *table, int64_t side, int64_t hidden, const int64_t (*grids)[3],
                           int64_t n_images, int64_t merge, float *out);

#endif
