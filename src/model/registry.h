/* The model registry: config/config.ini in msModelSlim's layout.
 *
 *   [ModelAdapter]             <key> = Display-Name-1, Display-Name-2, ...
 *   [ModelAdapterEntryPoints]  <key> = builtin:<adapter key>  |  path/to/lib.so:<symbol>
 *
 * A display name resolves to its group's entry point. `builtin:NAME` is one of the adapters
 * compiled into vlmslim; `lib.so:symbol` is dlopen'ed (a relative path is taken relative to
 * the config.ini's directory) and `symbol` must be a `const struct vs_adapter_ops`.
 * Other sections ([ModelAdapterDependencies], [Plugin:*]) are accepted and ignored. */
#ifndef VS_MODEL_REGISTRY_H
#define VS_MODEL_REGISTRY_H

#include <stddef.h>

#include "base/status.h"
#include "model/adapter.h"

struct vs_registry;

/* Parses config.ini. Errors name the file and line (syntax), or the key (a group in
 * [ModelAdapter] without an entry point, a display name in two groups). */
enum vs_status vs_registry_load(const char *ini_path, struct vs_registry **out);
void vs_registry_free(struct vs_registry *r);

size_t vs_registry_count(const struct vs_registry *r);   /* display names */
const char *vs_registry_name_at(const struct vs_registry *r, size_t i);
/* Group key of a display name, or NULL if not registered. */
const char *vs_registry_group_of(const struct vs_registry *r, const char *model_type);

/* Resolves a display name to its adapter, loading a plugin if needed (kept loaded until
 * vs_registry_free). An unknown name is VS_ERR_USAGE with a message listing every
 * registered name; a plugin that cannot be loaded, lacks the symbol or declares an ABI
 * version newer than this build is VS_ERR_CONFIG naming the library and symbol. */
enum vs_status vs_registry_resolve(struct vs_registry *r, const char *model_type,
                                   const struct vs_adapter_ops **ops);

/* Built-in adapters by key ("qwen3_vl_moe"); NULL if none. */
const struct vs_adapter_ops *vs_builtin_adapter(const char *key);

#endif
