/* Typed access to JSON documents (jansson) with messages that name the file and key path. */
#ifndef VS_IO_JSON_UTIL_H
#define VS_IO_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"

/* Parses a JSON file; errors name the file, line and column. */
enum vs_status vs_json_load_file(const char *path, json_t **out);
/* json_loadb that fails whenever one of jansson's allocations failed while parsing, with
 * err's code json_error_out_of_memory (see vs_json_load_ran_out). jansson's parser reports
 * most of its allocation failures as syntax errors, and a few not at all (a string token that
 * cannot grow is cut short); with vs_json_hook_allocs in place they are all caught here. */
json_t *vs_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);
/* True if a json_load* call that returned NULL ran out of memory: json_error_out_of_memory,
 * or no error text at all (jansson's silent allocation failures). */
bool vs_json_load_ran_out(const json_error_t *err);
/* Whether the bytes are UTF-8 that jansson accepts as a string, without allocating: after
 * json_stringn returned NULL, tells invalid UTF-8 (false) from out of memory (true). */
bool vs_json_valid_utf8(const char *s, size_t len);
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

/* json_dumps that fails (NULL, VS_ERR_NOMEM) if any allocation of the output failed: jansson
 * ignores a failed append of an object key's text and goes on, which gives JSON with a
 * character missing when memory runs short for a moment. */
char *vs_json_dumps(const json_t *root, size_t flags);
/* Writes `root` to `path` with Python json.dump(indent=N) layout, mode as given. */
enum vs_status vs_json_write_file(const json_t *root, const char *path, int indent, unsigned mode);

/* Installs jansson's allocator (json_set_alloc_funcs): malloc and free, through the
 * allocation-failure hook (vs_alloc_fail_after in base/status.h), recording failures for
 * vs_json_loadb. Process-wide; main() calls it first, as does a test, before any JSON value
 * exists. */
void vs_json_hook_allocs(void);

#endif
