/* Group-committed proposals: many client commands per log entry, a bounded
 * number of entries in flight, replies delivered in proposal order.
 *
 * Happy path: radapter_propose appends the command to the open batch (one
 * log entry under construction). Once per loop iteration (prepare handle,
 * and check handle right after the poll phase) the open batch is closed,
 * unless a single voter's previous log write is still outstanding (and the
 * batch is small: disk_busy), and closed batches are handed to raft_apply
 * while fewer than cfg.max_inflight are in flight. Holding the batch while
 * the disk is busy makes it one entry per disk write, as Redis's
 * appendfsync always makes one fsync per event-loop iteration for all
 * clients. The FSM fills the batch's
 * reply slots when it applies the entry (fsm.c), and apply_cb then runs each
 * command's callback in order.
 *
 * Failure modes: not the leader when flushing → every queued command fails
 * with RADAPTER_ENOTLEADER (never proposed, so certainly not applied); the
 * entry's apply callback reports leadership lost → RADAPTER_EUNKNOWN (it may
 * still commit under the next leader); shutdown → RADAPTER_ESHUTDOWN. Any
 * other raft_apply error leaves libraft unusable (notes, rule 4): abort.
 *
 * While no leader is known (an election is running, or the node just
 * started), commands wait in the queue up to cfg.verify_timeout_ms for one
 * to emerge rather than failing at once. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

/* Slots for callbacks grow in these steps. */
#define MIN_CBS 16

/* Keys proposed for deletion per active-expiry entry. */
#define EXPIRE_BATCH 128

/* ------------------------------------------------------------------------
 * Batches.
 * ---------------------------------------------------------------------- */

static int64_t next_stamp(struct radapter *r)
{
    int64_t now = radapter__wall_ms();
    if (now < r->last_stamp) {
        now = r->last_stamp;
    }
    r->last_stamp = now;
    return now;
}

static struct radapter__batch *batch_new(struct radapter *r,
                                         enum proto_log_type type)
{
    struct radapter__batch *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    if (proto_log_writer_init(&b->writer, type, (uint64_t)next_stamp(r)) != 0) {
        free(b);
        return NULL;
    }
    b->r = r;
    b->req.data = b;
    b->queued_at = uv_now(r->loop);
    return b;
}

static void batch_free(struct radapter__batch *b)
{
    if (b->replies != NULL) {
        for (uint32_t i = 0; i < b->n; i++) {
            kv_reply_fini(&b->replies[i]);
        }
        free(b->replies);
    }
    proto_log_writer_fini(&b->writer);
    free(b->cbs);
    free(b);
}

/* Runs every callback of @b with @status (no replies) and frees @b. */
static void batch_fail(struct radapter *r,
                       struct radapter__batch *b,
                       int status)
{
    r->pending_cmds -= b->n;
    for (uint32_t i = 0; i < b->n; i++) {
        b->cbs[i].cb(b->cbs[i].arg, status, NULL);
    }
    batch_free(b);
}

static void enqueue_closed(struct radapter *r, struct radapter__batch *b)
{
    b->next = NULL;
    if (r->qtail != NULL) {
        r->qtail->next = b;
    } else {
        r->qhead = b;
    }
    r->qtail = b;
}

static void close_open_batch(struct radapter *r)
{
    if (r->open != NULL && r->open->n > 0) {
        enqueue_closed(r, r->open);
        r->open = NULL;
    }
}

/* ------------------------------------------------------------------------
 * Public entry point.
 * ---------------------------------------------------------------------- */

int radapter_propose(struct radapter *r,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     radapter_write_cb cb,
                     void *arg)
{
    return radapter__propose_id(r, 0, argc, argv, lens, cb, arg);
}

int radapter__propose_id(struct radapter *r,
                         uint64_t id,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         radapter_write_cb cb,
                         void *arg)
{
    struct radapter__batch *b;

    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    if (r->pending_cmds >= r->cfg.max_pending_writes) {
        return RADAPTER_EBUSY;
    }
    if (!radapter__is_leader(r) && radapter__other_leader(r)) {
        /* A follower: the leader proposes it for us (forward.c). */
        return radapter__forward(r, argc, argv, lens, cb, arg);
    }
    if (r->open != NULL &&
        proto_log_writer_size(&r->open->writer) >= r->cfg.max_batch_bytes) {
        close_open_batch(r);
    }
    if (r->open == NULL) {
        r->open = batch_new(r, PROTO_LOG_BATCH_IDS);
        if (r->open == NULL) {
            return -ENOMEM;
        }
    }
    b = r->open;
    if (b->n == b->cap) {
        uint32_t cap = b->cap == 0 ? MIN_CBS : b->cap * 2;
        struct radapter__wcb *cbs = realloc(b->cbs, cap * sizeof *cbs);
        if (cbs == NULL) {
            return -ENOMEM;
        }
        b->cbs = cbs;
        b->cap = cap;
    }
    if (proto_log_writer_add_cmd_id(&b->writer, id, argc, argv, lens) != 0) {
        return -ENOMEM;
    }
    b->cbs[b->n].cb = cb;
    b->cbs[b->n].arg = arg;
    b->n++;
    r->pending_cmds++;
    return 0;
}

/* ------------------------------------------------------------------------
 * Proposing and completing.
 * ---------------------------------------------------------------------- */

static void unlink_inflight(struct radapter *r, struct radapter__batch *b)
{
    struct radapter__batch **pp = &r->fhead;
    struct radapter__batch *prev = NULL;
    while (*pp != NULL && *pp != b) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == b) {
        *pp = b->next;
        if (r->ftail == b) {
            r->ftail = prev;
        }
        r->inflight--;
    }
    b->next = NULL;
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct radapter__batch *b = req->data;
    struct radapter *r = b->r;
    bool is_expire = b->writer.type == PROTO_LOG_EXPIRE;
    (void)result;

    unlink_inflight(r, b);
    if (is_expire) {
        r->expire_inflight = false;
    }
    if (status == 0 && b->applied) {
        r->pending_cmds -= b->n;
        for (uint32_t i = 0; i < b->n; i++) {
            /* The callback takes the reply's contents. */
            b->cbs[i].cb(b->cbs[i].arg, 0, &b->replies[i]);
            memset(&b->replies[i], 0, sizeof b->replies[i]);
        }
        free(b->replies);
        b->replies = NULL;
        b->n = 0;
        batch_free(b);
        return;
    }
    /* Proposed but not known to be applied here: the outcome is unknown
     * (RAFT_LEADERSHIPLOST), unless raft refused it outright. */
    if (status == RAFT_NOTLEADER) {
        batch_fail(r, b, RADAPTER_ENOTLEADER);
    } else if (status == RAFT_SHUTDOWN) {
        batch_fail(r, b, RADAPTER_ESHUTDOWN);
    } else {
        batch_fail(r, b, RADAPTER_EUNKNOWN);
    }
}

/* Hands @b to raft. Returns 0, or a RADAPTER_ error after which @b is
 * still ours. */
static int propose_one(struct radapter *r, struct radapter__batch *b)
{
    struct raft_buffer buf;
    int rv;

    b->replies = calloc(b->n > 0 ? b->n : 1, sizeof *b->replies);
    if (b->replies == NULL) {
        return -ENOMEM;
    }
    if (proto_log_writer_finish(&b->writer, raft_malloc, &b->buf,
                                &b->buf_len) != 0) {
        return -ENOMEM;
    }
    buf.base = b->buf;
    buf.len = b->buf_len;
    rv = raft_apply(&r->raft, &b->req, &buf, 1, apply_cb);
    if (rv != 0) {
        raft_free(b->buf);
        b->buf = NULL;
        if (rv == RAFT_NOTLEADER || rv == RAFT_NOSPACE ||
            rv == RAFT_CANTCHANGE) {
            return rv == RAFT_NOSPACE ? RADAPTER_EIO : RADAPTER_ENOTLEADER;
        }
        radapter__log("error", "raft_apply_failed",
                      "raft_apply failed: %s; libraft cannot continue",
                      raft_strerror(rv));
        abort();
    }
    b->next = NULL;
    if (r->ftail != NULL) {
        r->ftail->next = b;
    } else {
        r->fhead = b;
    }
    r->ftail = b;
    r->inflight++;
    r->entries_proposed++;
    r->commands_proposed += b->n;
    return 0;
}

/* The open batch is held while the disk is busy only up to this size (one
 * disk block). Without pipelining a batch rarely gets there (50 clients'
 * SETs are about 2 KiB); with redis-benchmark -P 16, holding the whole
 * batch until the write completed made SET slower than before (median
 * raftkv/redis 0.76 vs 0.87 over 9 alternating bench/run.sh pairs), so a
 * large batch goes to raft_uv at once, which queues it behind the write in
 * progress and coalesces it into the next write, as before. */
#define HOLD_MAX_BYTES 4096

/* True while a single voter's own log write is outstanding and the open
 * batch is still small. raft_uv writes one batch at a time and puts
 * everything appended meanwhile into the next write, so closing a small
 * batch now would not save a disk write; it would only cut the next write
 * into more, smaller entries (more raft work per command) and deliver the
 * replies in dribbles, which keeps the following batches small too.
 *
 * Not with other voters: there an entry handed to raft goes to the
 * followers at once, in parallel with the local write, and holding it
 * until that write ends serialises the two (bench/cluster.sh: leader SET
 * 9.6k/s held against 12.5k/s not held, etcd alike in both runs). */
static bool disk_busy(struct radapter *r)
{
    if (r->open != NULL &&
        proto_log_writer_size(&r->open->writer) >= HOLD_MAX_BYTES) {
        return false;
    }
    return r->appends_head != NULL && radapter__is_leader(r) &&
           radapter__voters(r) <= 1;
}

void radapter__propose_flush(struct radapter *r)
{
    /* Group commit: while the local log write is outstanding or every
     * in-flight slot is taken, the open batch keeps growing (up to
     * cfg.max_batch_bytes), so the next entry carries everything that
     * arrived meanwhile: one entry per disk write, as Redis's appendfsync
     * always makes one fsync per event-loop iteration. */
    if (r->qhead == NULL && r->inflight < r->cfg.max_inflight &&
        !disk_busy(r)) {
        close_open_batch(r);
    }
    if (r->qhead == NULL) {
        return;
    }
    if (!radapter__is_leader(r)) {
        /* Wait for an election only while no other leader is known, and
         * only up to the verification cap. */
        uint64_t now = uv_now(r->loop);
        bool give_up = radapter__other_leader(r) ||
                       now - r->qhead->queued_at >= r->cfg.verify_timeout_ms;
        while (give_up && r->qhead != NULL) {
            struct radapter__batch *b = r->qhead;
            r->qhead = b->next;
            if (r->qhead == NULL) {
                r->qtail = NULL;
            }
            batch_fail(r, b, RADAPTER_ENOTLEADER);
        }
        return;
    }
    while (r->inflight < r->cfg.max_inflight) {
        struct radapter__batch *b;
        int rv;
        if (r->qhead == NULL) {
            if (disk_busy(r)) {
                break;
            }
            close_open_batch(r);
            if (r->qhead == NULL) {
                break;
            }
        }
        b = r->qhead;
        r->qhead = b->next;
        if (r->qhead == NULL) {
            r->qtail = NULL;
        }
        rv = propose_one(r, b);
        if (rv != 0) {
            batch_fail(r, b, rv);
        }
    }
}

void radapter__propose_fail_all(struct radapter *r, int status)
{
    close_open_batch(r);
    while (r->qhead != NULL) {
        struct radapter__batch *b = r->qhead;
        r->qhead = b->next;
        batch_fail(r, b, status);
    }
    r->qtail = NULL;
}

struct radapter__batch *radapter__match_batch(struct radapter *r,
                                              const struct raft_buffer *buf)
{
    /* Our entries apply in the order we proposed them, so only the oldest
     * in-flight batch not yet applied can match (libraft runs apply
     * callbacks later, so applied batches may still head the FIFO), and it
     * matches by index, exactly as libraft 0.22 pairs entries with requests
     * (the buffer apply sees is libraft's copy, not ours). An entry of
     * another leader never sits at that index while the batch is still in
     * flight: losing leadership fails the batch first (RAFT_LEADERSHIPLOST),
     * before any truncation. */
    struct radapter__batch *b = r->fhead;
    (void)buf;
    while (b != NULL && b->applied) {
        b = b->next;
    }
    if (b != NULL && b->req.index == raft_last_applied(&r->raft) + 1) {
        return b;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Active expiry: the leader proposes deletion of keys whose time has passed
 * on its clock; each replica deletes only what is expired at the entry's
 * stamp (kv_store_expire_if_due), so a key refreshed meanwhile survives.
 * ---------------------------------------------------------------------- */

static void add_expired_cb(void *arg, const char *key, size_t len)
{
    struct radapter__batch *b = arg;
    if (proto_log_writer_add_key(&b->writer, key, len) == 0) {
        b->cap++; /* counts keys; no callbacks in expire batches */
    }
}

void radapter__expire_cycle(struct radapter *r)
{
    struct radapter__batch *b;
    int rv;

    if (r->expire_inflight || !radapter__is_ready(r) ||
        r->inflight >= r->cfg.max_inflight || kv_store_expires(r->store) == 0) {
        return;
    }
    b = batch_new(r, PROTO_LOG_EXPIRE);
    if (b == NULL) {
        return;
    }
    kv_store_sample_expired(r->store, r->last_stamp, EXPIRE_BATCH,
                            add_expired_cb, b);
    if (b->cap == 0) {
        batch_free(b);
        return;
    }
    b->cap = 0;
    rv = propose_one(r, b);
    if (rv != 0) {
        batch_free(b);
        return;
    }
    r->expire_inflight = true;
}
