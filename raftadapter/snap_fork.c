/* Snapshots written by a forked child, so that a big keyspace does not
 * stall the event loop (issue 5; notes, rule 8: libraft calls the FSM's
 * snapshot() synchronously on the loop thread).
 *
 * In snapshot() the process forks. The child holds a copy-on-write image
 * of the keyspace exactly at the snapshot index (the loop is inside
 * snapshot() when it forks); it streams the encoding through LZ4 into a
 * shared anonymous mapping, records the length there and exits. The
 * parent returns at once with that mapping as the snapshot buffer, its
 * length not yet known.
 *
 * libraft hands the buffer to io->snapshot_put straight away and reads it
 * nowhere else (followers that need a snapshot get it from disk through
 * snapshot_get). Our wrapped snapshot_put holds the request until the
 * child has exited (a pipe it inherited reaches EOF), then fills in the
 * length and passes it on; to libraft this is just a slow disk. If the
 * child fails, the request completes with an error and libraft tries again
 * at the next threshold. Closing kills a running child and cancels the
 * request. */
#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raftadapter/radapter_internal.h"

/* The mapping starts with this header; the frame follows it. */
struct fork_head
{
    uint64_t done;    /* 1 once the child finished */
    uint64_t status;  /* 0 or a positive errno */
    uint64_t len;     /* bytes of the frame */
    uint64_t raw_len; /* bytes before compression */
    uint64_t ns;      /* child's encode time */
};
#define HEAD_BYTES 64u

static void child_run(struct radapter *r,
                      struct fork_head *h,
                      unsigned char *out,
                      size_t cap)
{
    uint64_t t0 = uv_hrtime();
    size_t packed = 0;
    size_t raw = 0;
    int rv = radapter__fsm_stream(r, out, cap, NULL, &packed, &raw);
    if (rv != 0) {
        h->status = (uint64_t)-rv;
        return;
    }
    h->len = packed;
    h->raw_len = raw;
    h->ns = uv_hrtime() - t0;
    h->status = 0;
}

/* An upper bound on the compressed snapshot, without walking the
 * keyspace: every entry's key and value bytes are counted in the store's
 * memory, an int value prints in at most 20 digits. */
static size_t frame_bound(struct radapter *r)
{
    LZ4F_preferences_t prefs;
    size_t raw = RADAPTER_FSM_HEADER_LEN + 64 + kv_store_memory(r->store) +
                 kv_store_size(r->store) * (22 + 24) +
                 radapter__dedup_encoded_size(&r->dedup);
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.autoFlush = 1;
    /* Plus a block header and end mark for every piece handed over. */
    return LZ4F_compressFrameBound(raw, &prefs) + (raw / 65536 + 64) * 16 +
           LZ4F_HEADER_SIZE_MAX;
}

static void poll_closed_cb(uv_handle_t *h)
{
    struct radapter *r = h->data;
    r->snapfork.poll_open = false;
    radapter__maybe_finish_close(r);
}

static void release_child(struct radapter *r)
{
    int st;
    if (r->snapfork.pid > 0) {
        while (waitpid(r->snapfork.pid, &st, 0) < 0 && errno == EINTR) {
        }
        r->snapfork.pid = 0;
    }
    if (r->snapfork.poll_open &&
        !uv_is_closing((uv_handle_t *)&r->snapfork.poll)) {
        uv_poll_stop(&r->snapfork.poll);
        uv_close((uv_handle_t *)&r->snapfork.poll, poll_closed_cb);
    }
    if (r->snapfork.fd >= 0) {
        close(r->snapfork.fd);
        r->snapfork.fd = -1;
    }
}

/* Completes the held snapshot_put: passes it on, or fails it. */
static void finish_put(struct radapter *r, int status)
{
    struct radapter__snapfork *f = &r->snapfork;
    if (!f->put_held) {
        return;
    }
    f->put_held = false;
    if (status == 0) {
        f->snapshot->bufs[0].len = f->head->len;
        int rv = r->orig_snapshot_put(&r->io, f->trailing, f->req, f->snapshot,
                                      f->cb);
        if (rv == 0) {
            return;
        }
        status = rv;
    }
    f->cb(f->req, status);
}

static void child_done_cb(uv_poll_t *p, int status, int events)
{
    struct radapter *r = p->data;
    struct radapter__snapfork *f = &r->snapfork;
    char b;
    (void)events;
    if (status == 0 && read(f->fd, &b, 1) > 0) {
        return; /* not EOF yet */
    }
    int st = 0;
    pid_t pid = f->pid;
    if (pid > 0) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        f->pid = 0;
    }
    release_child(r);
    bool ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
              f->head->done == 1 && f->head->status == 0;
    if (ok) {
        radapter__log("info", "snapshot_written",
                      "snapshot at index %llu by child %d: %llu bytes raw, "
                      "%llu compressed, %.1f ms in the child",
                      (unsigned long long)f->index, (int)pid,
                      (unsigned long long)f->head->raw_len,
                      (unsigned long long)f->head->len,
                      (double)f->head->ns / 1e6);
        finish_put(r, 0);
    } else {
        radapter__log("error", "snapshot_failed",
                      "snapshot child %d failed (exit status %d, error %llu); "
                      "libraft retries at the next threshold",
                      (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                      (unsigned long long)f->head->status);
        finish_put(r, RAFT_IOERR);
    }
}

int radapter__snapfork_start(struct radapter *r,
                             struct raft_buffer **bufs,
                             unsigned *n_bufs)
{
    struct radapter__snapfork *f = &r->snapfork;
    int fds[2];
    size_t cap;
    void *map;

    if (f->data != NULL || f->pid != 0) {
        return -EBUSY; /* libraft takes one snapshot at a time */
    }
    cap = HEAD_BYTES + frame_bound(r);
    map = mmap(NULL, cap, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        return -errno;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        munmap(map, cap);
        return -err;
    }
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        close(fds[0]);
        close(fds[1]);
        munmap(map, cap);
        return -ENOMEM;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        raft_free(*bufs);
        close(fds[0]);
        close(fds[1]);
        munmap(map, cap);
        return -err;
    }
    if (pid == 0) {
        /* The child: only the keyspace and this mapping. No signal handler
         * of the parent's may run here, and it dies with the parent. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        struct fork_head *h = map;
        child_run(r, h, (unsigned char *)map + HEAD_BYTES, cap - HEAD_BYTES);
        h->done = 1;
        _exit(h->status == 0 ? 0 : 1);
    }
    close(fds[1]);
    f->pid = pid;
    f->fd = fds[0];
    f->map = map;
    f->map_len = cap;
    f->head = map;
    f->data = (unsigned char *)map + HEAD_BYTES;
    f->index = raft_last_applied(&r->raft);
    uv_poll_init(r->loop, &f->poll, f->fd);
    f->poll.data = r;
    f->poll_open = true;
    uv_poll_start(&f->poll, UV_READABLE | UV_DISCONNECT, child_done_cb);
    (*bufs)[0].base = f->data;
    (*bufs)[0].len = 0; /* set when the child is done */
    *n_bufs = 1;
    return 0;
}

bool radapter__snapfork_owns(struct radapter *r, const void *base)
{
    return base != NULL && base == r->snapfork.data;
}

void radapter__snapfork_release(struct radapter *r)
{
    struct radapter__snapfork *f = &r->snapfork;
    if (f->map != NULL) {
        munmap(f->map, f->map_len);
    }
    f->map = NULL;
    f->head = NULL;
    f->data = NULL;
}

int radapter__snapfork_put(struct raft_io *io,
                           unsigned trailing,
                           struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot,
                           raft_io_snapshot_put_cb cb)
{
    struct radapter *r = radapter__from_io(io);
    struct radapter__snapfork *f = &r->snapfork;
    if (snapshot->n_bufs == 1 &&
        radapter__snapfork_owns(r, snapshot->bufs[0].base) && f->pid != 0) {
        f->put_held = true;
        f->trailing = trailing;
        f->req = req;
        f->snapshot = snapshot;
        f->cb = cb;
        return 0;
    }
    return r->orig_snapshot_put(io, trailing, req, snapshot, cb);
}

void radapter__snapfork_close(struct radapter *r)
{
    struct radapter__snapfork *f = &r->snapfork;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
    }
    release_child(r);
    finish_put(r, RAFT_CANCELED);
}
