#include "save/side_files.h"

#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "io/json_util.h"

enum vs_status vs_save_load_config(const char *src, json_t **out, int *removed)
{
    json_t *cfg;
    enum vs_status st = vs_json_load_file(src, &cfg);
    if (st != VS_OK)
        return st;
    *removed = 0;
    if (json_is_object(cfg)) {
        *removed += json_object_del(cfg, "quantization_config") == 0;
        json_t *tc = json_object_get(cfg, "text_config");
        if (json_is_object(tc))
            *removed += json_object_del(tc, "quantization_config") == 0;
    }
    *out = cfg;
    return VS_OK;
}

enum vs_status vs_save_side_files(const char *model_path, const char *dir, vs_config_writer write_config, void *ctx)
{
    char **names;
    size_t n;
    enum vs_status st = vs_fs_list_dir(model_path, &names, &n);
    if (st != VS_OK)
        return st;
    for (size_t i = 0; i < n && st == VS_OK; i++) {
        const char *name = names[i];
        if (!(vs_str_ends_with(name, ".json") || vs_str_ends_with(name, ".py") || vs_str_ends_with(name, ".txt") ||
              vs_str_ends_with(name, ".jinja")) ||
            vs_str_ends_with(name, "index.json"))
            continue;
        char *src = vs_path_join(model_path, name), *dst = vs_path_join(dir, name);
        if (!src || !dst)
            st = VS_ERR_NOMEM;
        else if (vs_fs_is_file(src))
            st = strcmp(name, "config.json") == 0 ? write_config(src, dst, ctx) : vs_fs_copy_file(src, dst, VS_EXPORT_MODE);
        free(src);
        free(dst);
    }
    vs_fs_free_names(names, n);
    return st;
}
