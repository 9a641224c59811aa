#include "base/status.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char vs_error_buf[VS_ERROR_MAX];

enum vs_status vs_error_setv(enum vs_status code, const char *fmt, va_list ap)
{
    vsnprintf(vs_error_buf, sizeof vs_error_buf, fmt, ap);
    return code;
}

enum vs_status vs_error_set(enum vs_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vs_error_setv(code, fmt, ap);
    va_end(ap);
    return code;
}

enum vs_status vs_error_prefix(enum vs_status code, const char *fmt, ...)
{
    char prefix[VS_ERROR_MAX], old[VS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, vs_error_buf, sizeof old);
    /* Truncation of an over-long message is acceptable; the prefix comes first. */
    size_t n = strlen(prefix);
    if (n > sizeof vs_error_buf - 3)
        n = sizeof vs_error_buf - 3;
    memcpy(vs_error_buf, prefix, n);
    memcpy(vs_error_buf + n, ": ", 2);
    size_t room = sizeof vs_error_buf - n - 3, m = strlen(old);
    if (m > room)
        m = room;
    memcpy(vs_error_buf + n + 2, old, m);
    vs_error_buf[n + 2 + m] = '\0';
    return code;
}

const char *vs_error_message(void) { return vs_error_buf; }

void vs_error_clear(void) { vs_error_buf[0] = '\0'; }

const char *vs_status_name(enum vs_status code)
{
    switch (code) {
    case VS_OK: return "ok";
    case VS_ERR_USAGE: return "usage error";
    case VS_ERR_IO: return "i/o error";
    case VS_ERR_FORMAT: return "format error";
    case VS_ERR_CONFIG: return "config error";
    case VS_ERR_MODEL: return "model error";
    case VS_ERR_DATASET: return "dataset error";
    case VS_ERR_UNSUPPORTED: return "unsupported";
    case VS_ERR_NOMEM: return "out of memory";
    case VS_ERR_INTERNAL: return "internal error";
    case VS_ERR_NONFINITE: return "non-finite values";
    }
    return "error";
}

int vs_status_exit_code(enum vs_status code)
{
    if (code == VS_OK)
        return 0;
    return code == VS_ERR_USAGE ? 2 : 1;
}

/* The failure hook: armed is checked on every allocation; the rest only while armed. */
static atomic_bool alloc_armed;
static atomic_size_t alloc_seen, alloc_failed, alloc_fail_at;
static atomic_bool alloc_fail_persist;

#define ALLOC_NEVER ((size_t)-1)

static void alloc_arm(size_t fail_at, bool persist)
{
    atomic_store(&alloc_armed, false);
    atomic_store(&alloc_seen, 0);
    atomic_store(&alloc_failed, 0);
    atomic_store(&alloc_fail_at, fail_at);
    atomic_store(&alloc_fail_persist, persist);
    atomic_store(&alloc_armed, true);
}

void vs_alloc_fail_after(size_t n, enum vs_alloc_fail_mode mode)
{
    alloc_arm(n, mode == VS_ALLOC_FAIL_PERSIST);
}

void vs_alloc_count_start(void) { alloc_arm(ALLOC_NEVER, false); }

void vs_alloc_hook_off(void) { atomic_store(&alloc_armed, false); }

size_t vs_alloc_count(void) { return atomic_load(&alloc_seen); }

size_t vs_alloc_failures(void) { return atomic_load(&alloc_failed); }

bool vs_alloc_should_fail(void)
{
    if (__builtin_expect(!atomic_load_explicit(&alloc_armed, memory_order_relaxed), 1))
        return false;
    size_t i = atomic_fetch_add(&alloc_seen, 1), at = atomic_load(&alloc_fail_at);
    bool fail = at != ALLOC_NEVER && (i == at || (i > at && atomic_load(&alloc_fail_persist)));
    if (fail)
        atomic_fetch_add(&alloc_failed, 1);
    return fail;
}

void *vs_malloc(size_t n)
{
    void *p = vs_alloc_should_fail() ? NULL : malloc(n ? n : 1);
    if (!p)
        vs_error_set(VS_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *vs_calloc(size_t count, size_t size)
{
    void *p = vs_alloc_should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        vs_error_set(VS_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *vs_realloc(void *p, size_t n)
{
    void *q = vs_alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
    if (!q)
        vs_error_set(VS_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return q;
}

char *vs_strdup(const char *s)
{
    return vs_strndup(s, strlen(s));
}

char *vs_strndup(const char *s, size_t n)
{
    char *d = vs_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *vs_strfmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n = -1;
    if (!vs_alloc_should_fail()) {
        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
    }
    if (n < 0) {
        vs_error_set(VS_ERR_NOMEM, "out of memory formatting a string");
        return NULL;
    }
    return s;
}

bool vs_str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}
