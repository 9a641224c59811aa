/* The model registry config/config.ini ([ModelAdapter] groups and their entry points). Only
 * parsed and queried: resolving a plugin entry would dlopen what the input names. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    char *path = fz_write("config.ini", data, size);
    struct vs_registry *r = NULL;
    if (vs_registry_load(path, &r) == VS_OK) {
        for (size_t i = 0; i < vs_registry_count(r); i++)
            if (!vs_registry_group_of(r, vs_registry_name_at(r, i)))
                abort(); /* every listed name has a group */
        vs_registry_free(r);
    }
    free(path);
    return 0;
}
