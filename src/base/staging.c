#include "base/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"

int (*vs_staging_flock)(int fd, int operation) = flock;

struct vs_staging {
    char *target, *label;
    char *dir;       /* the staging directory */
    char *guard;     /* `.<name>.vlmslim-lock` beside the target */
    int lock_fd;     /* dir's lock file, locked; -1 without file locks */
    bool published;
};

static bool lock_unsupported(int err)
{
    return err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS;
}

static void warn_unsupported(const char *path, int err)
{
    static bool warned;
    if (!warned)
        vs_warn("%s: file locks are not supported here (%s); staging directories left by interrupted runs are "
                "not removed and concurrent runs to one output are not detected",
                path, strerror(err));
    warned = true;
}

/* Takes the lock on the guard file (waiting for a run that holds it while it scans, creates or
 * publishes: moments). *fd is -1 without file locks. The holder unlinks the file before it lets
 * go, so a lock taken on an inode no longer at that path is dropped and taken again. */
static enum vs_status guard_take(const char *path, int *fd)
{
    *fd = -1;
    for (;;) {
        int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (f < 0)
            return vs_error_set(VS_ERR_IO, "%s: cannot create the lock file: %s", path, strerror(errno));
        if (vs_staging_flock(f, LOCK_EX) != 0) {
            int err = errno;
            close(f);
            if (err == EINTR)
                continue;
            if (lock_unsupported(err)) {
                unlink(path);
                warn_unsupported(path, err);
                return VS_OK;
            }
            return vs_error_set(VS_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
        }
        struct stat held, named;
        if (fstat(f, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            *fd = f;
            return VS_OK;
        }
        close(f);
    }
}

static void guard_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

/* Whether `name` is one of `prefix` followed by mkdtemp's six characters. */
static bool is_staging_name(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && strlen(name + n) == 6;
}

/* Removes the staging directories of `s->target` whose lock is free; a held one is the error.
 * Runs under the guard. */
static enum vs_status reclaim_stale(const struct vs_staging *s)
{
    char *parent = vs_path_dirname(s->target), *base = vs_path_basename(s->target);
    char *prefix = parent && base ? vs_strfmt(".%s.vlmslim-tmp-", base) : NULL;
    char **names = NULL;
    size_t n = 0;
    enum vs_status st = prefix ? vs_fs_list_dir(parent, &names, &n) : VS_ERR_NOMEM;
    for (size_t i = 0; i < n && st == VS_OK; i++) {
        if (!is_staging_name(names[i], prefix))
            continue;
        char *dir = vs_path_join(parent, names[i]);
        char *lock = dir ? vs_path_join(dir, VS_STAGING_LOCK_NAME) : NULL;
        struct stat sb;
        if (!lock) {
            st = VS_ERR_NOMEM;
        } else if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            /* no lock file: left by a run killed before it made one (it is made under the guard) */
            int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0 && errno != ENOENT) {
                st = vs_error_set(VS_ERR_IO, "%s: cannot open: %s", lock, strerror(errno));
            } else if (fd >= 0 && vs_staging_flock(fd, LOCK_EX | LOCK_NB) != 0) {
                if (errno == EWOULDBLOCK)
                    st = vs_error_set(VS_ERR_USAGE, "%s: another vlmslim run is writing it (its staging directory %s "
                                                    "is locked); wait for it to finish or choose another path",
                                      s->label, dir);
                else
                    st = vs_error_set(VS_ERR_IO, "%s: cannot lock: %s", lock, strerror(errno));
            } else if ((st = vs_fs_remove_tree(dir)) == VS_OK) {
                vs_warn("removed %s: a staging directory left by an interrupted run", dir);
            } else {
                st = vs_error_prefix(st, "a staging directory left by an interrupted run");
            }
            if (fd >= 0)
                close(fd);
        }
        free(lock);
        free(dir);
    }
    vs_fs_free_names(names, n);
    free(prefix);
    free(parent);
    free(base);
    return st;
}

/* Creates the directory and its locked lock file (the guard held, when there are file locks). */
static enum vs_status create_locked(struct vs_staging *s, bool locks)
{
    enum vs_status st = vs_fs_mkdtemp_beside(s->target, &s->dir);
    if (st != VS_OK || !locks)
        return st;
    char *lock = vs_path_join(s->dir, VS_STAGING_LOCK_NAME);
    if (!lock)
        return VS_ERR_NOMEM;
    int fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot create the lock file: %s", lock, strerror(errno));
    else if (vs_staging_flock(fd, LOCK_EX | LOCK_NB) != 0)
        st = vs_error_set(VS_ERR_IO, "%s: cannot lock: %s", lock, strerror(errno));
    if (st == VS_OK)
        s->lock_fd = fd;
    else if (fd >= 0)
        close(fd);
    free(lock);
    return st;
}

enum vs_status vs_staging_open(const char *target, const char *label, struct vs_staging **out)
{
    *out = NULL;
    struct vs_staging *s = vs_calloc(1, sizeof *s);
    if (!s)
        return VS_ERR_NOMEM;
    s->lock_fd = -1;
    char *parent = vs_path_dirname(target), *base = vs_path_basename(target);
    s->target = vs_strdup(target);
    s->label = vs_strdup(label);
    s->guard = parent && base ? vs_strfmt("%s/.%s.vlmslim-lock", parent, base) : NULL;
    free(parent);
    free(base);
    enum vs_status st = s->target && s->label && s->guard ? VS_OK : VS_ERR_NOMEM;
    int guard = -1;
    if (st == VS_OK)
        st = guard_take(s->guard, &guard);
    if (st == VS_OK && guard >= 0)
        st = reclaim_stale(s);
    if (st == VS_OK)
        st = create_locked(s, guard >= 0);
    guard_release(s->guard, guard);
    if (st != VS_OK) {
        vs_staging_close(s);
        return st;
    }
    *out = s;
    return VS_OK;
}

const char *vs_staging_dir(const struct vs_staging *s)
{
    return s->dir;
}

/* The directory renamed to the target. An existing target is swapped with it in one step
 * (RENAME_EXCHANGE), so that a run killed now leaves the old output at the staging path, without a
 * lock file, for the next run to reclaim, and never neither; where the file system cannot swap,
 * the target is moved aside to *old first. *old is what to remove afterwards. */
static enum vs_status move_into_place(const struct vs_staging *s, char **old)
{
    *old = NULL;
    bool replacing = vs_fs_exists(s->target);
    if (replacing && renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->target, RENAME_EXCHANGE) == 0) {
        *old = vs_strdup(s->dir); /* without it, the next run reclaims the old output */
        return VS_OK;
    }
    if (replacing) {
        char *parent = vs_path_dirname(s->target), *base = vs_path_basename(s->target);
        *old = parent && base ? vs_strfmt("%s/.%s.vlmslim-old-%ld", parent, base, (long)getpid()) : NULL;
        free(parent);
        free(base);
        if (!*old)
            return VS_ERR_NOMEM;
        if (rename(s->target, *old) != 0) {
            enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot replace: %s", s->label, strerror(errno));
            free(*old);
            *old = NULL;
            return st;
        }
    }
    if (rename(s->dir, s->target) != 0) {
        enum vs_status st = vs_error_set(VS_ERR_IO, "%s: cannot move the output into place: %s", s->label,
                                         strerror(errno));
        if (*old && rename(*old, s->target) == 0) {
            free(*old);
            *old = NULL;
        }
        return st;
    }
    return VS_OK;
}

/* The lock file goes under the guard: a scan never sees a live directory without one. */
static void unlink_lock_file(const struct vs_staging *s)
{
    char *lock = vs_path_join(s->dir, VS_STAGING_LOCK_NAME);
    if (lock)
        unlink(lock);
    free(lock);
}

enum vs_status vs_staging_publish(struct vs_staging *s)
{
    int guard = -1;
    enum vs_status st = s->lock_fd >= 0 ? guard_take(s->guard, &guard) : VS_OK;
    if (st != VS_OK)
        return st;
    char *old = NULL;
    if (s->lock_fd >= 0)
        unlink_lock_file(s);
    st = move_into_place(s, &old);
    if (st == VS_OK)
        s->published = true;
    else if (s->lock_fd >= 0) { /* the staging stays this run's */
        char *lock = vs_path_join(s->dir, VS_STAGING_LOCK_NAME);
        int fd = lock ? open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
        if (fd >= 0 && vs_staging_flock(fd, LOCK_EX | LOCK_NB) == 0) {
            close(s->lock_fd);
            s->lock_fd = fd;
        } else if (fd >= 0) {
            close(fd);
        }
        free(lock);
    }
    guard_release(s->guard, guard);
    if (old) {
        if (st == VS_OK)
            st = vs_fs_remove_tree(old);
        free(old);
    }
    return st;
}

/* Everything but the lock file (the directory stays the run's while it is emptied). */
static void remove_contents(const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    if (vs_fs_list_dir(dir, &names, &n) != VS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], VS_STAGING_LOCK_NAME) == 0)
            continue;
        char *child = vs_path_join(dir, names[i]);
        if (child)
            vs_fs_remove_tree(child);
        free(child);
    }
    vs_fs_free_names(names, n);
}

void vs_staging_close(struct vs_staging *s)
{
    if (!s)
        return;
    if (s->dir && !s->published) {
        char msg[VS_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s", vs_error_message());
        remove_contents(s->dir);
        int guard = -1;
        if (s->lock_fd >= 0 && guard_take(s->guard, &guard) == VS_OK && guard >= 0) {
            unlink_lock_file(s);
            rmdir(s->dir);
            guard_release(s->guard, guard);
        } else {
            vs_fs_remove_tree(s->dir);
        }
        vs_error_set(VS_OK, "%s", msg); /* the message only: callers return their own status */
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->target);
    free(s->label);
    free(s->dir);
    free(s->guard);
    free(s);
}
