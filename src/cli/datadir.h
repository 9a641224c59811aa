/* Where vlmslim's data files (config/config.ini, lab_practice/, lab_calib/) are found:
 * $VLMSLIM_DATA_DIR, then <dir of the binary>/../share/vlmslim (installed), then <dir of the
 * binary>/.. (a build directory inside the source tree), then the configured install prefix. */
#ifndef VS_CLI_DATADIR_H
#define VS_CLI_DATADIR_H

/* Path of the first existing `<root>/<relative>` (caller frees), or NULL. */
char *vs_datadir_find(const char *relative);

/* The directory that short dataset names resolve under (msModelSlim's lab_calib/):
 * $VLMSLIM_LAB_CALIB_DIR, else vs_datadir_find("lab_calib"); NULL if neither exists. */
char *vs_datadir_lab_calib(void);

#endif
