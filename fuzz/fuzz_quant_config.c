/* A msModelSlim YAML quant config: the YAML loader (anchors, merge keys, tags, the YAML 1.1
 * resolver) and the schema (processors, quant types, include/exclude patterns). */
#include <stdint.h>
#include <stdlib.h>

#include "config/quant_config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    char *path = fz_write("config.yaml", data, size);
    struct vs_quant_config *cfg = NULL;
    if (vs_quant_config_load(path, &cfg) == VS_OK)
        vs_quant_config_free(cfg);
    free(path);
    return 0;
}
