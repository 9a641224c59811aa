/* Helpers shared by the dataset loaders (not part of the public API). */
#ifndef VS_DATA_DATASET_INTERNAL_H
#define VS_DATA_DATASET_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "data/dataset.h"

/* Appends a sample; text is copied, the paths are taken over (freed even on failure). */
enum vs_status vs_dataset_push(struct vs_dataset *d, const char *text, char *image, char *audio,
                               char *video);

/* Python-style Path.suffix of the base name ("" if none), borrowed from path. */
const char *vs_dataset_suffix(const char *path);
/* True if the suffix of path is in the NULL-terminated list (case-insensitive). */
bool vs_dataset_suffix_in(const char *path, const char *const *allowed);

/* Copy of s without leading/trailing whitespace; NULL on allocation failure. */
char *vs_dataset_strip(const char *s);
/* True if s is empty or all whitespace. */
bool vs_dataset_is_blank(const char *s);
/* Python truthiness of a JSON value (NULL = missing = false). */
bool vs_dataset_json_truthy(const json_t *v);

/* Splits text into lines with Python's universal newlines (\n, \r\n, \r). Calls fn for each
 * line (1-based number, not NUL-terminated: ptr+len) until it returns non-VS_OK. */
typedef enum vs_status (*vs_dataset_line_fn)(void *ctx, size_t lineno, const char *line,
                                             size_t len);
enum vs_status vs_dataset_each_line(const char *text, size_t len, vs_dataset_line_fn fn,
                                    void *ctx);

/* Reads a whole file, turning failures into VS_ERR_DATASET naming the path. */
enum vs_status vs_dataset_read(const char *path, char **text, size_t *len);

extern const char *const vs_dataset_image_suffixes[]; /* .jpg .jpeg .png */

/* Loader 1/2: strict index.json / index.jsonl at index_path. */
enum vs_status vs_dataset_load_index(const char *index_path, const char *default_text,
                                     struct vs_dataset *d);
/* Loader 3: a .json/.jsonl file of texts. */
enum vs_status vs_dataset_load_legacy_file(const char *path, struct vs_dataset *d);
/* Loader 3: an image directory with at most one description file. */
enum vs_status vs_dataset_load_legacy_dir(const char *dir, const char *default_text,
                                          struct vs_dataset *d);

#endif
