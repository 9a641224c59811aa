/* The Qwen3-VL-MoE adapter (Qwen3VLMoeForConditionalGeneration).
 *
 * A MoE layer's experts are stored fused: `mlp.experts.gate_up_proj` [E, H, 2I] and
 * `mlp.experts.down_proj` [E, I, H], both used as x·W. They are unstacked into the per-expert
 * Linear modules msModelSlim and the engines use (spec §4.4):
 *   experts.{e}.gate_proj.weight = gate_up[e][:, :I]ᵀ   [I, H]
 *   experts.{e}.up_proj.weight   = gate_up[e][:, I:]ᵀ   [I, H]
 *   experts.{e}.down_proj.weight = down[e]ᵀ             [H, I]
 * as views materialised one at a time. */
#include <stdio.h>

#include "model/qwen3_vl_common.h"
#include "model/qwen3_vl_forward.h"
#include "model/qwen3_vl_outlier.h"

static enum vs_status moe_open(const char *model_path, const char *model_type, struct vs_model **out)
{
    return vs_qwen3_vl_open(model_path, model_type, &vs_qwen3_vl_moe_family, out);
}

/* A layer is MoE iff num_experts > 0, it is not in mlp_only_layers and
 * (layer + 1) % decoder_sparse_step == 0. */
static bool is_moe_layer(const struct vs_qwen3_vl_dims *d, int64_t layer)
{
    if (d->experts <= 0)
        return false;
    for (size_t i = 0; i < d->n_mlp_only_layers; i++)
        if (d->mlp_only_layers[i] == layer)
            return false;
    return (layer + 1) % d->decoder_sparse_step == 0;
}

static enum vs_status fused(struct vs_model *m, const char *name, int64_t d0, int64_t d1, int64_t d2,
                            const struct vs_st_tensor **out)
{
    enum vs_status st = vs_qwen3_vl_get(m, name, out);
    if (st != VS_OK)
        return st;
    const struct vs_st_tensor *t = *out;
    if (t->ndim != 3 || t->shape[0] != d0 || t->shape[1] != d1 || t->shape[2] != d2 ||
        !vs_dtype_is_float(t->dtype))
        return vs_error_set(VS_ERR_MODEL,
                            "%s: tensor '%s' must be a float tensor of shape [%lld, %lld, %lld] (num_experts, in, out) per %s",
                            t->file, name, (long long)d0, (long long)d1, (long long)d2, m->config_path);
    return VS_OK;
}

static enum vs_status moe_mlp(struct vs_model *m, struct vs_unit *u, int64_t layer, const char *prefix)
{
    const struct vs_qwen3_vl_dims *d = &m->d;
    if (!is_moe_layer(d, layer))
        return vs_qwen3_vl_add_dense_mlp(m, u, prefix, d->intermediate);

    int64_t E = d->experts, H = d->hidden, I = d->moe_intermediate;
    int64_t router[2] = {E, H};
    enum vs_status st = vs_qwen3_vl_add(m, u, prefix, "mlp.gate.weight", 2, router);
    if (st != VS_OK)
        return st;
    char gname[512], mod[512], w[520];
    snprintf(gname, sizeof gname, "%smlp.gate", prefix);
    snprintf(w, sizeof w, "%smlp.gate.weight", prefix);
    if ((st = vs_unit_add_linear(u, gname, w, NULL)) != VS_OK)
        return st;

    const struct vs_st_tensor *gate_up, *down;
    char name[512];
    snprintf(name, sizeof name, "%smlp.experts.gate_up_proj", prefix);
    if ((st = fused(m, name, E, H, 2 * I, &gate_up)) != VS_OK)
        return st;
    snprintf(name, sizeof name, "%smlp.experts.down_proj", prefix);
    if ((st = fused(m, name, E, I, H, &down)) != VS_OK)
        return st;

    static const char *const proj[3] = {"gate_proj", "up_proj", "down_proj"};
    for (int64_t e = 0; e < E; e++) {
        for (int k = 0; k < 3; k++) {
            snprintf(mod, sizeof mod, "%smlp.experts.%lld.%s", prefix, (long long)e, proj[k]);
            snprintf(w, sizeof w, "%s.weight", mod);
            if (k == 0)
                st = vs_unit_add_slice_param(u, w, gate_up, e, 0, I);
            else if (k == 1)
                st = vs_unit_add_slice_param(u, w, gate_up, e, I, I);
            else
                st = vs_unit_add_slice_param(u, w, down, e, 0, H);
            if (st == VS_OK)
                st = vs_unit_add_linear(u, mod, w, NULL);
            if (st != VS_OK)
                return st;
        }
    }
    return VS_OK;
}

static enum vs_status moe_unit_load(struct vs_model *m, size_t i, struct vs_unit **out)
{
    return vs_qwen3_vl_unit_load(m, i, moe_mlp, out);
}

const struct vs_adapter_ops vs_qwen3_vl_moe_adapter = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "qwen3_vl_moe",
    .pedigree = "qwen3_vl_moe",
    .open = moe_open,
    .close = vs_qwen3_vl_close,
    .unit_count = vs_qwen3_vl_unit_count,
    .unit_load = moe_unit_load,
    .tail_load = vs_qwen3_vl_tail_load,
    .global_dtype = vs_qwen3_vl_global_dtype,
    VS_QWEN3_VL_FORWARD_OPS,
    VS_QWEN3_VL_OUTLIER_OPS,
};
