/* Shared by the libFuzzer harnesses: a scratch directory and writing the input into it (the
 * library's parsers take paths). */
#ifndef VS_FUZZ_UTIL_H
#define VS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The harness's scratch directory: created on first use (on /dev/shm when it exists, so the
 * file writes cost little), removed at exit. Silences the library's log. */
const char *fz_dir(void);

/* Writes n bytes to <fz_dir()>/<name>, creating the directories in name; returns the path
 * (caller frees). Aborts on failure: the harness cannot run without its files. */
char *fz_write(const char *name, const void *data, size_t n);

/* <fz_dir()>/<name> (caller frees). */
char *fz_path(const char *name);

#endif
