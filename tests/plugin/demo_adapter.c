/* An adapter plugin as a third party would write it: a shared library defining a
 * `const struct vs_adapter_ops` that config.ini names as `libvs_demo_adapter.so:vs_demo_adapter`.
 * It resolves and reports that it has no model to open; the registry tests load it. */
#include "model/adapter.h"

static enum vs_status demo_open(const char *model_path, const char *model_type, struct vs_model **out)
{
    (void)model_path;
    (void)out;
    /* A real plugin links nothing from vlmslim but may call its exported functions. */
    return vs_error_set(VS_ERR_UNSUPPORTED, "demo adapter for %s opens no model", model_type);
}

static void demo_close(struct vs_model *m) { (void)m; }
static size_t demo_unit_count(const struct vs_model *m) { (void)m; return 0; }
static enum vs_status demo_unit_load(struct vs_model *m, size_t i, struct vs_unit **out)
{
    (void)m; (void)i; (void)out;
    return VS_ERR_INTERNAL;
}
static enum vs_status demo_tail_load(struct vs_model *m, struct vs_unit **out)
{
    (void)m; (void)out;
    return VS_ERR_INTERNAL;
}
static enum vs_dtype demo_dtype(const struct vs_model *m) { (void)m; return VS_DTYPE_F32; }

const struct vs_adapter_ops vs_demo_adapter = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "demo",
    .pedigree = "demo",
    .open = demo_open,
    .close = demo_close,
    .unit_count = demo_unit_count,
    .unit_load = demo_unit_load,
    .tail_load = demo_tail_load,
    .global_dtype = demo_dtype,
};

/* For the ABI test: built against a newer, unknown interface. */
const struct vs_adapter_ops vs_demo_adapter_future = {
    .abi_version = 999,
    .key = "demo",
    .open = demo_open,
    .close = demo_close,
    .unit_count = demo_unit_count,
    .unit_load = demo_unit_load,
    .tail_load = demo_tail_load,
    .global_dtype = demo_dtype,
};

/* For the required-function test: close and the rest are missing. */
const struct vs_adapter_ops vs_demo_adapter_incomplete = {
    .abi_version = VS_ADAPTER_ABI_VERSION,
    .key = "demo",
    .pedigree = "demo",
    .open = demo_open,
};

/* An ABI version of 0 is no version at all. */
const struct vs_adapter_ops vs_demo_adapter_abi0 = {
    .key = "demo",
    .pedigree = "demo",
    .open = demo_open,
    .close = demo_close,
    .unit_count = demo_unit_count,
    .unit_load = demo_unit_load,
    .tail_load = demo_tail_load,
    .global_dtype = demo_dtype,
};

/* An adapter built against ABI version 1, whose table ends after global_dtype: the registry
 * must read only those members. */
struct demo_ops_v1 {
    uint32_t abi_version;
    const char *key, *pedigree;
    enum vs_status (*open)(const char *, const char *, struct vs_model **);
    void (*close)(struct vs_model *);
    size_t (*unit_count)(const struct vs_model *);
    enum vs_status (*unit_load)(struct vs_model *, size_t, struct vs_unit **);
    enum vs_status (*tail_load)(struct vs_model *, struct vs_unit **);
    enum vs_dtype (*global_dtype)(const struct vs_model *);
};
const struct demo_ops_v1 vs_demo_adapter_v1 = {
    .abi_version = 1,
    .key = "demo_v1",
    .pedigree = "demo",
    .open = demo_open,
    .close = demo_close,
    .unit_count = demo_unit_count,
    .unit_load = demo_unit_load,
    .tail_load = demo_tail_load,
    .global_dtype = demo_dtype,
};

/* An adapter built against ABI version 2, whose table ends after linear_is_routed: the registry
 * must leave the ABI-3 (outlier suppression) members NULL. Its forward members are stand-ins
 * that are never called. */
static bool demo_routed(const struct vs_model *m, const char *module)
{
    (void)m;
    (void)module;
    return false;
}
struct demo_ops_v2 {
    struct demo_ops_v1 v1;
    void *forward[8]; /* sample_begin .. sample_free */
    bool (*linear_is_routed)(const struct vs_model *, const char *);
};
const struct demo_ops_v2 vs_demo_adapter_v2 = {
    .v1 = {.abi_version = 2, .key = "demo_v2", .pedigree = "demo", .open = demo_open, .close = demo_close,
           .unit_count = demo_unit_count, .unit_load = demo_unit_load, .tail_load = demo_tail_load,
           .global_dtype = demo_dtype},
    .linear_is_routed = demo_routed,
};

/* An adapter built against ABI version 3, whose table ends after set_tail: the registry must
 * leave the ABI-4 (evaluation) members NULL. */
static void demo_set_tail(struct vs_model *m, const struct vs_unit *tail)
{
    (void)m;
    (void)tail;
}
struct demo_ops_v3 {
    struct demo_ops_v2 v2;
    void *outlier[5]; /* unit_subgraphs .. quarot_post_run */
    void (*set_tail)(struct vs_model *, const struct vs_unit *);
};
const struct demo_ops_v3 vs_demo_adapter_v3 = {
    .v2 = {.v1 = {.abi_version = 3, .key = "demo_v3", .pedigree = "demo", .open = demo_open, .close = demo_close,
                  .unit_count = demo_unit_count, .unit_load = demo_unit_load, .tail_load = demo_tail_load,
                  .global_dtype = demo_dtype},
           .linear_is_routed = demo_routed},
    .set_tail = demo_set_tail,
};
