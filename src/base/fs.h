/* Small filesystem helpers: every one records a message naming the path on failure. */
#ifndef VS_BASE_FS_H
#define VS_BASE_FS_H

#include <stddef.h>

#include "base/status.h"

int vs_fs_is_dir(const char *path);
int vs_fs_is_file(const char *path);
int vs_fs_exists(const char *path);
/* True if path is a directory with no entries. */
int vs_fs_dir_is_empty(const char *path);

/* Reads a whole file (NUL-terminated; *len excludes the NUL). */
enum vs_status vs_fs_read_file(const char *path, char **data, size_t *len);
/* Writes all of data to fd (retrying short writes); errors name `path`. */
enum vs_status vs_fs_write_all(int fd, const void *data, size_t len, const char *path);
/* Writes a whole file with the given mode (creat + write + fsync-free close). */
enum vs_status vs_fs_write_file(const char *path, const void *data, size_t len, unsigned mode);
/* Copies a regular file's bytes to dst created with mode. */
enum vs_status vs_fs_copy_file(const char *src, const char *dst, unsigned mode);
/* mkdir -p. */
enum vs_status vs_fs_mkdirs(const char *path, unsigned mode);
/* rm -rf (no error if absent). */
enum vs_status vs_fs_remove_tree(const char *path);
/* "a/b" joined; caller frees. Returns NULL on allocation failure. */
char *vs_path_join(const char *a, const char *b);
/* Directory part ("." if none) and base name; caller frees. */
char *vs_path_dirname(const char *path);
char *vs_path_basename(const char *path);
/* Creates a fresh directory `.<name>.vlmslim-tmp-XXXXXX` beside `path` (whose parent must exist),
 * where an output is assembled before it is renamed to `path`; *out is its path (caller frees). */
enum vs_status vs_fs_mkdtemp_beside(const char *path, char **out);
/* Directory of the running executable; caller frees; NULL if unknown. */
char *vs_fs_exe_dir(void);

/* Sorted names of the entries of a directory (no "." and ".."). Caller frees with
 * vs_fs_free_names. */
enum vs_status vs_fs_list_dir(const char *dir, char ***names, size_t *count);
void vs_fs_free_names(char **names, size_t count);

#endif
