#include "io/seq_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"

/* O_DIRECT needs the buffer address, the file offset and the length aligned to the device's
 * logical block (512 or 4096 bytes in practice); 4096 satisfies both. Every buffer but the last
 * is a whole number of blocks; the last one's partial block goes through the page cache. */
enum { ALIGN = 4096, N_BUFS = 4, BUF_BYTES = 8 << 20 };

struct vs_seq_writer {
    int fd;
    char *path;
    char *buf[N_BUFS];
    size_t len[N_BUFS];   /* bytes to write from buf[i] (a multiple of ALIGN but for the last) */
    uint64_t off[N_BUFS]; /* where they go */
    bool full[N_BUFS];    /* handed to the thread, not yet written */
    int cur;              /* the buffer being filled */
    size_t fill;
    uint64_t appended;    /* bytes appended so far */
    pthread_t thread;
    bool started;         /* the thread runs (from the first full buffer on) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int err;              /* first write failure (errno), 0 if none */
};

static bool set_direct(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return false;
    return fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) == 0;
}

static int pwrite_all(int fd, const char *p, size_t n, uint64_t at)
{
    for (size_t done = 0; done < n;) {
        ssize_t k = pwrite(fd, p + done, n - done, (off_t)(at + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno;
        if (k == 0)
            return EIO;
        done += (size_t)k;
    }
    return 0;
}

/* One buffer at its offset: its whole blocks with O_DIRECT (refused at write time, e.g. EINVAL
 * for a device wanting a larger alignment: through the page cache from then on), the rest
 * through the page cache. */
static int write_buffer(struct vs_seq_writer *w, const char *p, size_t n, uint64_t at)
{
    size_t head = n / ALIGN * ALIGN;
    bool direct = (fcntl(w->fd, F_GETFL) & O_DIRECT) != 0;
    int e = 0;
    if (direct && head > 0) {
        e = pwrite_all(w->fd, p, head, at);
        if (e == EINVAL) { /* nothing was written: pwrite fails whole on alignment */
            set_direct(w->fd, false);
            direct = false;
            e = 0;
        } else {
            p += head, at += head, n -= head;
        }
    }
    if (e == 0 && n > 0) {
        if (direct)
            set_direct(w->fd, false);
        e = pwrite_all(w->fd, p, n, at);
        if (e == 0) /* through the page cache: start its writeback now rather than at the end */
            (void)sync_file_range(w->fd, (off_t)at, (off_t)n, SYNC_FILE_RANGE_WRITE);
    }
    return e;
}

/* Writes the buffers in the order they were handed over. */
static void *thread_main(void *arg)
{
    struct vs_seq_writer *w = arg;
    int next = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->full[next] && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->full[next])
            break; /* stopped with nothing left */
        pthread_mutex_unlock(&w->mu);
        int e = w->err ? 0 : write_buffer(w, w->buf[next], w->len[next], w->off[next]);
        pthread_mutex_lock(&w->mu);
        if (e && !w->err)
            w->err = e;
        w->full[next] = false;
        pthread_cond_broadcast(&w->cv);
        next = (next + 1) % N_BUFS;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static enum vs_status failure(const struct vs_seq_writer *w)
{
    return vs_error_set(VS_ERR_IO, "%s: write failed: %s", w->path, strerror(w->err));
}

static void free_writer(struct vs_seq_writer *w)
{
    for (int i = 0; i < N_BUFS; i++)
        free(w->buf[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->path);
    free(w);
}

enum vs_status vs_seq_writer_open(int fd, const char *path, struct vs_seq_writer **out)
{
    *out = NULL;
    struct vs_seq_writer *w = vs_calloc(1, sizeof *w);
    if (!w)
        return VS_ERR_NOMEM;
    w->fd = fd;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (!(w->path = vs_strdup(path))) {
        free_writer(w);
        return VS_ERR_NOMEM;
    }
    set_direct(fd, true); /* refused (tmpfs, ...): the page cache it is */
    *out = w;
    return VS_OK;
}

/* Hands buf[cur] (len bytes) to the thread and waits until the next buffer is free. */
static void submit(struct vs_seq_writer *w, size_t len)
{
    pthread_mutex_lock(&w->mu);
    w->len[w->cur] = len;
    w->off[w->cur] = w->appended - w->fill;
    w->full[w->cur] = true;
    pthread_cond_broadcast(&w->cv);
    w->cur = (w->cur + 1) % N_BUFS;
    while (w->full[w->cur])
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    w->fill = 0;
}

static int error_now(struct vs_seq_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int e = w->err;
    pthread_mutex_unlock(&w->mu);
    return e;
}

enum vs_status vs_seq_writer_write(struct vs_seq_writer *w, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        /* buffers are allocated as they are first filled: a small file needs one */
        if (!w->buf[w->cur] &&
            !(w->buf[w->cur] = vs_alloc_should_fail() ? NULL : aligned_alloc(ALIGN, BUF_BYTES)))
            return vs_error_set(VS_ERR_NOMEM, "%s: cannot allocate a write buffer of %d bytes", w->path,
                                (int)BUF_BYTES);
        size_t k = BUF_BYTES - w->fill < n ? BUF_BYTES - w->fill : n;
        memcpy(w->buf[w->cur] + w->fill, p, k);
        w->fill += k;
        w->appended += k;
        p += k;
        n -= k;
        if (w->fill == BUF_BYTES) {
            /* a file smaller than one buffer is written at close, without a thread */
            if (!w->started && pthread_create(&w->thread, NULL, thread_main, w) != 0)
                return vs_error_set(VS_ERR_IO, "%s: cannot start the writer thread", w->path);
            w->started = true;
            submit(w, BUF_BYTES);
        }
    }
    return error_now(w) ? failure(w) : VS_OK;
}

enum vs_status vs_seq_writer_close(struct vs_seq_writer *w)
{
    if (!w)
        return VS_OK;
    if (!w->started) {
        if (w->fill > 0)
            w->err = write_buffer(w, w->buf[w->cur], w->fill, w->appended - w->fill);
    } else {
        if (w->fill > 0)
            submit(w, w->fill);
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    enum vs_status st = w->err ? failure(w) : VS_OK;
    set_direct(w->fd, false);
    free_writer(w);
    return st;
}
