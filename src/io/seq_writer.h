/* Sequential writer of one file from its start, off the caller's thread: data is copied into
 * aligned staging buffers that a background thread writes with O_DIRECT. Writing gigabytes
 * through the page cache costs the caller's thread a copy into freshly allocated cache pages
 * (and, at the end, a wait while they are written back); with O_DIRECT the device reads the
 * staging buffers itself while the caller goes on computing. Where the file system refuses
 * O_DIRECT the thread writes the same buffers through the page cache. The output is the same
 * bytes either way. A file smaller than one staging buffer (8 MiB) is written at close by the
 * caller, without a thread; buffers are allocated as they are first filled. */
#ifndef VS_IO_SEQ_WRITER_H
#define VS_IO_SEQ_WRITER_H

#include <stddef.h>

#include "base/status.h"

struct vs_seq_writer;

/* Writes fd (opened for writing, empty) from offset 0; path names it in error messages. */
enum vs_status vs_seq_writer_open(int fd, const char *path, struct vs_seq_writer **out);

/* Appends n bytes (copied before it returns). The data reaches the file in blocks of 8 MiB, and
 * the rest at close; a failure of a background write is returned by the next call that sees it
 * (a later write, or at the latest close), naming the file. */
enum vs_status vs_seq_writer_write(struct vs_seq_writer *w, const void *data, size_t n);

/* Writes what is staged, waits for the thread and leaves fd as it was opened (no O_DIRECT).
 * Frees w; w may be NULL. */
enum vs_status vs_seq_writer_close(struct vs_seq_writer *w);

#endif
