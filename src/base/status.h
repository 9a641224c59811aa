/* Status codes and the per-thread error message.
 *
 * Every fallible function returns an enum vs_status and, on failure, records one line that
 * says what went wrong and where (file, tensor, key, line) with vs_error_set(). The CLI prints
 * that line. The message slot is thread-local, like errno: it is the one piece of state shared
 * across calls, and it belongs to the calling thread only. */
#ifndef VS_BASE_STATUS_H
#define VS_BASE_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum vs_status {
    VS_OK = 0,
    VS_ERR_USAGE,       /* bad command-line arguments */
    VS_ERR_IO,          /* a file could not be read/written/created */
    VS_ERR_FORMAT,      /* a file's content is malformed (safetensors, JSON, YAML, image) */
    VS_ERR_CONFIG,      /* a well-formed config with a bad value or key */
    VS_ERR_MODEL,       /* checkpoint inconsistent with its config or the adapter */
    VS_ERR_DATASET,     /* calibration data problem */
    VS_ERR_UNSUPPORTED, /* valid request that this build does not do */
    VS_ERR_NOMEM,
    VS_ERR_INTERNAL,
    VS_ERR_NONFINITE,   /* NaN or infinity in a forward pass's activations */
};

#define VS_ERROR_MAX 1024

/* Records the message (printf format) and returns code, so callers can write
 * `return vs_error_set(VS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));` */
enum vs_status vs_error_set(enum vs_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum vs_status vs_error_setv(enum vs_status code, const char *fmt, va_list ap);

/* Prepends "prefix: " to the current message (adds context on the way up) and returns code. */
enum vs_status vs_error_prefix(enum vs_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *vs_error_message(void);
void vs_error_clear(void);

/* Short name of a status ("io error", "format error", ...). */
const char *vs_status_name(enum vs_status code);

/* Process exit code for a status: 0 for VS_OK, 2 for usage errors, 1 otherwise. */
int vs_status_exit_code(enum vs_status code);

/* Allocation helpers that record VS_ERR_NOMEM; they return NULL on failure. */
void *vs_malloc(size_t n);
void *vs_calloc(size_t count, size_t size);
void *vs_realloc(void *p, size_t n);
char *vs_strdup(const char *s);
char *vs_strndup(const char *s, size_t n);
/* Whether s ends with suffix (an empty suffix always does). */
bool vs_str_ends_with(const char *s, const char *suffix);
/* asprintf that returns NULL (and records VS_ERR_NOMEM) on failure. */
char *vs_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation-failure injection for tests (SQLite's "malloc failure" harness). Once armed, every
 * allocation through the helpers above (and through jansson, see vs_json_hook_allocs) is
 * counted; vs_alloc_fail_after(n, ...) makes the allocation n (0-based, counted from the call)
 * fail: only that one (VS_ALLOC_FAIL_ONCE) or it and all later ones (VS_ALLOC_FAIL_PERSIST).
 * The state is process-wide, so allocations made by worker threads are counted too. Disarmed,
 * an allocation pays one branch. */
enum vs_alloc_fail_mode { VS_ALLOC_FAIL_ONCE, VS_ALLOC_FAIL_PERSIST };
void vs_alloc_fail_after(size_t n, enum vs_alloc_fail_mode mode);
/* Counts allocations from now on without failing any. */
void vs_alloc_count_start(void);
/* Disarms: nothing fails and nothing is counted. */
void vs_alloc_hook_off(void);
/* Allocations seen since the hook was last armed (failed ones included). */
size_t vs_alloc_count(void);
/* Allocations the hook made fail since it was last armed. */
size_t vs_alloc_failures(void);
/* Counts one allocation; true if it must fail. For allocators outside this file. */
bool vs_alloc_should_fail(void);

#endif
