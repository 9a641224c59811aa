/* A sharded checkpoint's model.safetensors.index.json: vs_st_model_open checks the weight_map
 * against two fixed shards (tensors "a" and "b" in model-00001-of-00002.safetensors, "c" in
 * model-00002-of-00002.safetensors). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/safetensors.h"

static void write_shard(const char *name, const char *header)
{
    size_t hn = strlen(header);
    uint8_t buf[512] = {0};
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    free(fz_write(name, buf, 8 + hn + 16)); /* 16 data bytes */
}

static void init(void)
{
    write_shard("ckpt/model-00001-of-00002.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}");
    write_shard("ckpt/model-00002-of-00002.safetensors",
                "{\"__metadata__\":{\"format\":\"pt\"},\"c\":{\"dtype\":\"I8\",\"shape\":[16],\"data_offsets\":[0,16]}}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    if (size > (1 << 16))
        return 0;
    char *path = fz_write("ckpt/model.safetensors.index.json", data, size), *dir = fz_path("ckpt");
    struct vs_st_model *m = NULL;
    if (vs_st_model_open(dir, &m) == VS_OK) {
        for (size_t i = 0; i < vs_st_model_count(m); i++) {
            const struct vs_st_tensor *t = NULL;
            if (vs_st_model_get(m, vs_st_model_name_at(m, i), &t) != VS_OK || !t)
                abort(); /* every listed name can be looked up */
        }
        vs_st_model_close(m);
    }
    free(dir);
    free(path);
    return 0;
}
