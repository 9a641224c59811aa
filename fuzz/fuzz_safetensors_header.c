/* A .safetensors file: vs_st_file_open validates the 8-byte length, the JSON header and every
 * entry's dtype, shape and data_offsets; every tensor it accepts must lie inside the file. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20))
        return 0;
    char *path = fz_write("model.safetensors", data, size);
    struct vs_st_file *f = NULL;
    if (vs_st_file_open(path, &f) == VS_OK) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < vs_st_file_count(f); i++) {
            const struct vs_st_tensor *t = vs_st_file_at(f, i);
            if (vs_st_file_find(f, t->name) != t)
                abort();
            if (t->nbytes) /* the first and last byte are readable (ASan checks the mapping's end) */
                sink ^= ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
        }
        (void)sink;
        vs_st_file_close(f);
    }
    free(path);
    return 0;
}
