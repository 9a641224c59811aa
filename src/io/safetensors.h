/* safetensors reading (memory-mapped, lazy per tensor, single file or sharded) and
 * streaming writing (sharded with an index, as Hugging Face and msModelSlim name them). */
#ifndef VS_IO_SAFETENSORS_H
#define VS_IO_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "tensor/dtype.h"

/* One tensor of an opened file or checkpoint. Pointers stay valid until the file or
 * checkpoint is closed. `data` points into the read-only mapping (a tensor a caller builds
 * over its own memory sets `heap`). */
struct vs_st_tensor {
    const char *name;
    enum vs_dtype dtype;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    const void *data;
    size_t nbytes;
    const char *file; /* path of the file holding it */
    bool heap;        /* data is memory of the program's own (a copy), not a mapping of the file */
};

/* ---- a single file ---- */
struct vs_st_file;

/* Maps `path` and validates its header: 8-byte little-endian header length within the
 * file, JSON object, every entry with a known dtype, a shape of non-negative ints,
 * data_offsets [begin, end] inside the data area with end - begin = numel * dtype size,
 * no overlapping spans. Errors name the file (and tensor). */
enum vs_status vs_st_file_open(const char *path, struct vs_st_file **out);
void vs_st_file_close(struct vs_st_file *f);
size_t vs_st_file_count(const struct vs_st_file *f);
/* Tensors in the order of their data offsets. */
const struct vs_st_tensor *vs_st_file_at(const struct vs_st_file *f, size_t i);
const struct vs_st_tensor *vs_st_file_find(const struct vs_st_file *f, const char *name);
const char *vs_st_file_path(const struct vs_st_file *f);

/* ---- a checkpoint directory (one or several files) ---- */
struct vs_st_model;

/* Opens a checkpoint directory: `model.safetensors.index.json` if present (every file it
 * names must exist and hold the tensors the weight_map assigns to it), else
 * `model.safetensors`, else every `*.safetensors` file in the directory (sorted by name;
 * a tensor name in two files is an error). Every file is mapped and its header validated at
 * open (the index is checked against every file); data pages are read only when touched. */
enum vs_status vs_st_model_open(const char *dir, struct vs_st_model **out);
void vs_st_model_close(struct vs_st_model *m);
size_t vs_st_model_count(const struct vs_st_model *m);
/* Tensor names in sorted order. */
const char *vs_st_model_name_at(const struct vs_st_model *m, size_t i);
/* Looks a tensor up. Returns VS_OK and sets *out, or an error (VS_ERR_MODEL "tensor not
 * found" naming the tensor and directory). */
enum vs_status vs_st_model_get(struct vs_st_model *m, const char *name,
                               const struct vs_st_tensor **out);
/* True if the checkpoint has a tensor of that name. */
int vs_st_model_has(const struct vs_st_model *m, const char *name);
/* Tells the kernel the tensor's pages are no longer needed (they leave this process's
 * resident set; the page cache keeps them). Safe to call on any tensor at any time: a heap
 * tensor (whose pages would be lost, not dropped) is left alone. */
void vs_st_release(const struct vs_st_tensor *t);
/* The same for bytes [off, off + len) of the tensor (the whole pages inside it). */
void vs_st_release_range(const struct vs_st_tensor *t, size_t off, size_t len);

/* ---- writing ---- */
struct vs_st_writer;

/* Writes tensors into `dir`:
 *   part_bytes == 0: one file `<prefix>.safetensors`, no index;
 *   part_bytes  > 0: `<prefix>-00001-of-0000K.safetensors` ... (5-digit numbers, plain
 *   numbers above 99999 files) and `<prefix>.safetensors.index.json` =
 *   {"metadata": {"total_size": N}, "weight_map": {name: file}} (indent 2), even when K = 1.
 * Shard rule (msModelSlim's): before adding a tensor, if the pending bytes plus the tensor's
 * bytes reach part_bytes, the pending tensors are flushed to the next shard; a tensor larger
 * than part_bytes alone gets its own shard (with a warning).
 * Data is streamed to disk as tensors are added (memory stays near one tensor); the header
 * is assembled when a shard is flushed. Files are created with mode `file_mode`. */
enum vs_status vs_st_writer_open(const char *dir, const char *prefix, uint64_t part_bytes,
                                 unsigned file_mode, struct vs_st_writer **out);
/* Copies `nbytes` of `data` (nbytes must equal numel * dtype size). Names must be unique. */
enum vs_status vs_st_writer_add(struct vs_st_writer *w, const char *name, enum vs_dtype dtype,
                                int ndim, const int64_t *shape, const void *data, size_t nbytes);
/* Flushes the last shard, renames shards to their final names, writes the index. */
enum vs_status vs_st_writer_close(struct vs_st_writer *w);
/* Frees the writer after an error, deleting what it wrote. */
void vs_st_writer_abort(struct vs_st_writer *w);
/* Total tensor bytes added so far. */
uint64_t vs_st_writer_total_bytes(const struct vs_st_writer *w);

#endif
