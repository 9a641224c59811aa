/* The dense Qwen3-VL adapter (Qwen3VLForConditionalGeneration). */
#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_forward.h"
#include "model/qwen3_vl_outlier.h"

static enum vs_status dense_open(const char *model_path, const char *model_type, struct vs_model **out)
{
    return vs_qwen3_vl_open(model_path, model_type, &vs_qwen3_vl_family, out);
}

static enum vs_status dense_mlp(struct vs_model *m, struct vs_unit *u, int64_t layer, const char *prefix)
{
    (void)layer;
    return vs_qwen3_vl_add_dense_mlp(m, u, prefix, m->d.intermediate);
}

static enum vs_status dense_unit_load(struct vs_model *m, size_t i, struct vs_unit **out)
{
    return vs_qwen3_vl_unit_load(m, i, dense_mlp, out);
}

const struct vs_adapter_ops vs_qwen3_vl_adapter = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "qwen3_vl",
    .pedigree = "qwen3_vl",
    .open = dense_open,
    .close = vs_qwen3_vl_close,
    .unit_count = vs_qwen3_vl_unit_count,
    .unit_load = dense_unit_load,
    .tail_load = vs_qwen3_vl_tail_load,
    .global_dtype = vs_qwen3_vl_global_dtype,
    VS_QWEN3_VL_FORWARD_OPS,
    VS_QWEN3_VL_OUTLIER_OPS,
};
