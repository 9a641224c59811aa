/* The staging directory an output is assembled in before it is renamed into place, owned by its
 * run through a lock.
 *
 * `.<name>.vlmslim-tmp-XXXXXX` is created beside the target with a lock file
 * (VS_STAGING_LOCK_NAME) inside it, locked with flock(LOCK_EX) for as long as the run holds the
 * staging: the kernel drops the lock when the process dies, however it dies. Opening a staging
 * for a target first removes the staging directories of earlier runs to it whose lock is free
 * (left by a killed or crashed run; one line on stderr each) and refuses while another live run
 * holds one. The scan and the creation (and a publish or removal, when the lock file goes) happen
 * under a lock on `.<name>.vlmslim-lock` beside the target, so two runs starting together cannot
 * both miss each other. On a file system without file locks (ENOLCK, EOPNOTSUPP) a warning says
 * so once and the staging works unprotected, as it did before. */
#ifndef VS_BASE_STAGING_H
#define VS_BASE_STAGING_H

#include <stdbool.h>

#include "base/status.h"

#define VS_STAGING_LOCK_NAME ".vlmslim-lock"

struct vs_staging;

/* Claims a fresh staging directory for `target` (whose parent must exist). `label` names the
 * target in errors (e.g. "--save_path out/x"). A live run's staging for the same target is a
 * VS_ERR_USAGE error naming it. */
enum vs_status vs_staging_open(const char *target, const char *label, struct vs_staging **out);

/* The staging directory's path. */
const char *vs_staging_dir(const struct vs_staging *s);

/* Moves the staging directory into place as the target, without its lock file: an existing
 * target (empty, or one to be replaced) is moved aside first and removed after. On failure the
 * staging stays (vs_staging_close removes it). */
enum vs_status vs_staging_publish(struct vs_staging *s);

/* Removes the staging directory unless it was published, releases its lock and frees s; keeps
 * the recorded error message. NULL is allowed. */
void vs_staging_close(struct vs_staging *s);

/* For tests: the flock the module calls (flock(2) by default). */
extern int (*vs_staging_flock)(int fd, int operation);

#endif
