#include "cli/datadir.h"

#include <stdlib.h>

#include "base/fs.h"
#include "base/status.h"
#include "vs_build_config.h"

static char *try_root(const char *root, const char *relative)
{
    char *p = root ? vs_path_join(root, relative) : NULL;
    if (p && vs_fs_exists(p))
        return p;
    free(p);
    return NULL;
}

char *vs_datadir_find(const char *relative)
{
    char *found = try_root(getenv("VLMSLIM_DATA_DIR"), relative);
    if (found)
        return found;
    char *exe = vs_fs_exe_dir();
    if (exe) {
        char *installed = vs_path_join(exe, "../share/vlmslim");
        char *source = vs_path_join(exe, "..");
        found = try_root(installed, relative);
        if (!found)
            found = try_root(source, relative);
        free(installed);
        free(source);
        free(exe);
        if (found)
            return found;
    }
    return try_root(VS_INSTALL_DATADIR, relative);
}

char *vs_datadir_lab_calib(void)
{
    const char *env = getenv("VLMSLIM_LAB_CALIB_DIR");
    if (env && *env)
        return vs_fs_is_dir(env) ? vs_strdup(env) : NULL;
    return vs_datadir_find("lab_calib");
}
