/* Where vlmslim's data files (config/config.ini, lab_practice/, lab_calib/) are found, in order:
 * $VLMSLIM_DATA_DIR, <dir of the binary>/../share/vlmslim (installed), <dir of the binary>/.. (a
 * build directory inside the source tree), the configured install prefix, then the source tree the
 * build was configured from (an out-of-tree build). */
#ifndef VS_CLI_DATADIR_H
#define VS_CLI_DATADIR_H

#include "base/status.h"

/* Path of the first existing `<root>/<relative>` (caller frees), or NULL. */
char *vs_datadir_find(const char *relative);

/* As vs_datadir_find, for a file the command cannot do without: when none exists, a
 * VS_ERR_CONFIG error naming every place looked. */
enum vs_status vs_datadir_require(const char *relative, char **out);

/* The directory that short dataset names resolve under (msModelSlim's lab_calib/):
 * $VLMSLIM_LAB_CALIB_DIR, else vs_datadir_find("lab_calib"); NULL if neither exists. */
char *vs_datadir_lab_calib(void);

#endif
