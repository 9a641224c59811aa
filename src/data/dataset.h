/* Calibration datasets of msModelSlim's VLM pipeline (spec §3): path resolution and the
 * three loaders tried in order (strict index file, strict indexed directory, lenient legacy
 * directory / json(l) file). Images are not decoded here; samples only carry paths.
 *
 * Every error is VS_ERR_DATASET (VS_ERR_NOMEM for allocation failures) with one line that
 * names the file, and the line or entry where there is one. Entry numbers count from 0 in
 * file order (blank JSONL lines are not entries); line numbers count from 1. */
#ifndef VS_DATA_DATASET_H
#define VS_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

/* One calibration sample. text is never NULL; the paths are absolute real paths or NULL. */
struct vs_calib_sample {
    char *text;
    char *image;
    char *audio;
    char *video;
};

struct vs_dataset {
    struct vs_calib_sample *samples;
    size_t count;
    size_t cap; /* allocated slots (internal) */
};

/* Finds the dataset named `name` (§3.2): an absolute path is used as is; a relative one is
 * looked up against the current directory first, then under lab_calib_dir (may be NULL).
 * *out receives the absolute real path (caller frees). */
enum vs_status vs_dataset_resolve_path(const char *name, const char *lab_calib_dir, char **out);

/* Loads the dataset at `path` (§3.3). default_text (NULL counts as "") fills samples whose
 * text is missing where the rules allow it. Caller frees *out with vs_dataset_free. */
enum vs_status vs_dataset_load(const char *path, const char *default_text,
                               struct vs_dataset **out);

void vs_dataset_free(struct vs_dataset *d);

/* True if every sample has both an image and a non-empty text (what the Qwen3-VL adapters
 * need). Otherwise false and, if first_bad is not NULL, the index of the first sample that
 * lacks one. An empty dataset counts as true. */
bool vs_dataset_has_image_text(const struct vs_dataset *d, size_t *first_bad);

#endif
