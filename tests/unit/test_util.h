/* Helpers shared by the unit tests. */
#ifndef VS_TEST_UTIL_H
#define VS_TEST_UTIL_H

#include <stddef.h>

/* A fresh empty directory for one test (under $VS_TEST_TMP or /tmp); caller frees. */
char *vs_test_tmpdir(const char *tag);
/* A fresh empty directory on tmpfs (/dev/shm), or NULL where /dev/shm is not tmpfs (the test
 * skips); caller removes and frees it. */
char *vs_test_tmpfs_dir(const char *tag);
/* Writes bytes to dir/name; returns the full path (caller frees). Aborts the test on error. */
char *vs_test_write(const char *dir, const char *name, const void *data, size_t len);
/* True if haystack contains needle (for checking error messages). */
int vs_test_contains(const char *haystack, const char *needle);

#endif
