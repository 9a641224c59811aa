/* A unit's transformed float32 values written out in the checkpoint's dtypes and viewed as a
 * unit again, so that a transformed copy (quarot's tail, a smoothed or rotated unit's weights)
 * need not stay in memory in float32 beside the unit being calibrated. The outlier processors
 * round every value they change to the checkpoint dtype, so the file holds exactly the float32
 * copy's values; a value that does not fit makes vs_unit_file_write decline (*exact false). */
#ifndef VS_RUNNER_UNIT_FILE_H
#define VS_RUNNER_UNIT_FILE_H

#include <stdbool.h>

#include "io/safetensors.h"
#include "model/unit.h"
#include "model/unit_f32.h"

struct vs_unit_file {
    struct vs_unit *unit;     /* u's name, the written parameters, u's Linears whose weight was written */
    struct vs_st_file *file;  /* the mapping behind it (the file itself is unlinked) */
};

/* Writes the parameters i of u with which[i] (which NULL: all) from f's values (float ones in
 * u's dtypes, others as they are) to dir/<prefix>.safetensors, maps it, unlinks it and views it
 * as out->unit. consume: f's float values may be converted in place (f is unusable after), so
 * that no second copy of a large tensor is made. *exact false: a float value does not fit its
 * dtype; nothing was written (f untouched) and out is empty. */
enum vs_status vs_unit_file_write(const struct vs_unit *u, struct vs_unit_f32 *f, const bool *which, bool consume,
                                  const char *dir, const char *prefix, bool *exact, struct vs_unit_file *out);

/* Frees the unit and unmaps the file; uf may hold nothing. */
void vs_unit_file_close(struct vs_unit_file *uf);

#endif
