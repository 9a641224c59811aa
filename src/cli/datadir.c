#include "cli/datadir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "vs_build_config.h"

enum { MAX_ROOTS = 5 };

/* The data roots in lookup order (caller frees each); $VLMSLIM_DATA_DIR only when set. */
static enum vs_status data_roots(char *roots[MAX_ROOTS], size_t *n)
{
    *n = 0;
    const char *env = getenv("VLMSLIM_DATA_DIR");
    char *exe = vs_fs_exe_dir();
    const char *fixed[] = {VS_INSTALL_DATADIR, VS_SOURCE_DATADIR};
    enum vs_status st = VS_OK;
    if (env && *env && !(roots[(*n)++] = vs_strdup(env)))
        st = VS_ERR_NOMEM;
    if (st == VS_OK && exe && !(roots[(*n)++] = vs_path_join(exe, "../share/vlmslim")))
        st = VS_ERR_NOMEM;
    if (st == VS_OK && exe && !(roots[(*n)++] = vs_path_join(exe, "..")))
        st = VS_ERR_NOMEM;
    for (size_t i = 0; i < 2 && st == VS_OK; i++)
        if (!(roots[(*n)++] = vs_strdup(fixed[i])))
            st = VS_ERR_NOMEM;
    free(exe);
    return st;
}

static void free_roots(char *roots[MAX_ROOTS], size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(roots[i]);
}

/* The first root holding `relative`; *out NULL if none does. */
static enum vs_status find_in(char *roots[MAX_ROOTS], size_t n, const char *relative, char **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        char *p = roots[i] ? vs_path_join(roots[i], relative) : NULL;
        if (!p)
            return VS_ERR_NOMEM;
        if (vs_fs_exists(p)) {
            *out = p;
            return VS_OK;
        }
        free(p);
    }
    return VS_OK;
}

char *vs_datadir_find(const char *relative)
{
    char *roots[MAX_ROOTS] = {0}, *found = NULL;
    size_t n;
    if (data_roots(roots, &n) == VS_OK)
        find_in(roots, n, relative, &found);
    free_roots(roots, n);
    return found;
}

enum vs_status vs_datadir_require(const char *relative, char **out)
{
    char *roots[MAX_ROOTS] = {0};
    size_t n;
    *out = NULL;
    enum vs_status st = data_roots(roots, &n);
    if (st == VS_OK)
        st = find_in(roots, n, relative, out);
    if (st == VS_OK && !*out) {
        char looked[VS_ERROR_MAX] = "";
        size_t used = 0;
        const char *env = getenv("VLMSLIM_DATA_DIR");
        if (!env || !*env)
            used += (size_t)snprintf(looked, sizeof looked, "$VLMSLIM_DATA_DIR (unset)");
        for (size_t i = 0; i < n && used < sizeof looked; i++)
            used += (size_t)snprintf(looked + used, sizeof looked - used, "%s%s", used ? ", " : "", roots[i]);
        st = vs_error_set(VS_ERR_CONFIG, "%s not found; looked in %s (set VLMSLIM_DATA_DIR to the directory holding it)",
                          relative, looked);
    }
    free_roots(roots, n);
    return st;
}

char *vs_datadir_lab_calib(void)
{
    const char *env = getenv("VLMSLIM_LAB_CALIB_DIR");
    if (env && *env)
        return vs_fs_is_dir(env) ? vs_strdup(env) : NULL;
    return vs_datadir_find("lab_calib");
}
