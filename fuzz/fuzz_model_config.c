/* A checkpoint's config.json as the Qwen3-VL and Qwen3-VL-MoE adapters read it (model_type,
 * vision_config, text_config, dtypes, MoE fields), beside an empty model.safetensors. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/adapter.h"
#include "model/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        static const uint8_t empty_st[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
        free(fz_write("ckpt/model.safetensors", empty_st, sizeof empty_st));
        ready = 1;
    }
    if (size > (1 << 16))
        return 0;
    char *path = fz_write("ckpt/config.json", data, size), *dir = fz_path("ckpt");
    static const char *const keys[] = {"qwen3_vl", "qwen3_vl_moe"};
    for (size_t k = 0; k < 2; k++) {
        const struct vs_adapter_ops *ops = vs_builtin_adapter(keys[k]);
        struct vs_model *m = NULL;
        if (ops && ops->open(dir, "Fuzz-Model", &m) == VS_OK) {
            ops->unit_count(m);
            ops->close(m);
        }
    }
    free(dir);
    free(path);
    return 0;
}
