/* Typed access to JSON documents (jansson) with messages that name the file and key path. */
#ifndef VS_IO_JSON_UTIL_H
#define VS_IO_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* Parses a JSON file; errors name the file, line and column. */
enum vs_status vs_json_load_file(const char *path, json_t **out);
/* The same with jansson decoding flags of the caller's choice (JSON_ALLOW_NUL is always added). */
enum vs_status vs_json_load_file_flags(const char *path, size_t flags, json_t **out);

/* Getters on object `obj` found at key path `where` (e.g. "text_config") of file `file`.
 * A missing key is an error unless a default is given through the _opt variants, which
 * leave *out untouched when the key is absent or null. Type mismatches are always errors. */
enum vs_status vs_json_int(const json_t *obj, const char *key, const char *file, const char *where,
                           int64_t *out);
enum vs_status vs_json_int_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, int64_t *out);
enum vs_status vs_json_num_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, double *out);
enum vs_status vs_json_bool_opt(const json_t *obj, const char *key, const char *file,
                                const char *where, bool *out);
/* Borrowed string (valid while obj lives). */
enum vs_status vs_json_str_opt(const json_t *obj, const char *key, const char *file,
                               const char *where, const char **out);
/* Object member that must be a JSON object. */
enum vs_status vs_json_obj(const json_t *obj, const char *key, const char *file, const char *where,
                           const json_t **out);
/* List of ints (absent → empty, *n = 0); caller frees *out. */
enum vs_status vs_json_int_list_opt(const json_t *obj, const char *key, const char *file,
                                    const char *where, int64_t **out, size_t *n);

/* Writes `root` to `path` with Python json.dump(indent=N) layout, mode as given. */
enum vs_status vs_json_write_file(const json_t *root, const char *path, int indent, unsigned mode);

#endif
