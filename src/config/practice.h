/* Best-practice selection for `--quant_type` without `--config_path` (spec §1.4), made
 * non-interactive: only an exact match is accepted, anything else is an error that lists
 * the candidates that were considered. */
#ifndef VS_CONFIG_PRACTICE_H
#define VS_CONFIG_PRACTICE_H

#include <stddef.h>

#include "base/status.h"

/* Parses "w8a8", "w4a8c8", "w8a8s" ... (regex w(\d+)a(\d+)(c8|f4|f8)?(s)?). Returns VS_OK
 * and fills the fields, or VS_ERR_USAGE naming the accepted values. */
struct vs_quant_type {
    int w_bit, a_bit;
    int kv_cache;  /* 1 for c8 */
    int fa_bit;    /* 0, 4 or 8 */
    int is_sparse; /* 1 for trailing s */
};
enum vs_status vs_quant_type_parse(const char *s, struct vs_quant_type *out);

/* Looks in every `<dir>/<pedigree>/` for YAML files (.yaml, .yml) (dirs in priority order), sorts
 * candidates by (-score, config_id), and returns (caller frees) the path of the first one
 * whose label equals the quant type and that is verified for `model_type` (verified_model_types
 * contains it, or verified_tags has it and, when tags are given, one scenario holds all of them,
 * case-insensitively). */
enum vs_status vs_practice_select(const char *const *dirs, size_t n_dirs, const char *pedigree,
                                  const char *model_type, const struct vs_quant_type *qt,
                                  const char *const *tags, size_t n_tags, char **chosen_path);

#endif
