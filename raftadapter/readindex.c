/* Linearizable reads: the bounded pending-reads queue and leader
 * verification rounds.
 *
 * A read may touch the keyspace once (1) this node is a leader that has
 * applied an entry of its own term (node.c's "ready" barrier), and (2) its
 * leadership has been confirmed after the read arrived. With a single voter
 * (2) holds by construction: no other node can win an election. With more
 * voters, reads are batched into rounds: every read waiting when a round
 * starts rides on one raft_barrier; when that barrier applies in the same
 * term, a majority accepted an entry of this term after the reads arrived,
 * so no newer leader existed then, and everything committed before is
 * applied. Reads arriving during a round join the next one: at most one
 * round in flight, O(1) work per read. (Issue 3 replaces the barrier with
 * a probe that writes nothing; the queue and deadlines stay.)
 *
 * Bounds: at most cfg.max_pending_reads reads wait (past that a read is
 * refused at once); every read has a deadline capped at
 * cfg.verify_timeout_ms, kept in a min-heap so the deadline timer touches
 * only expired reads, never walks all waiters. A cancelled read (client
 * gone) leaves the queue in O(log n).
 *
 * Failure modes: deadline → RADAPTER_ETIMEDOUT; another leader known or
 * leadership lost → RADAPTER_ENOTLEADER; shutdown → RADAPTER_ESHUTDOWN. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

/* ------------------------------------------------------------------------
 * Lists (circular, with sentinels) and the deadline heap.
 * ---------------------------------------------------------------------- */

static void list_init(struct radapter_read *s)
{
    s->next = s;
    s->prev = s;
}

static bool list_empty(const struct radapter_read *s)
{
    return s->next == s;
}

static void list_push(struct radapter_read *s, struct radapter_read *q)
{
    q->prev = s->prev;
    q->next = s;
    s->prev->next = q;
    s->prev = q;
}

static void list_del(struct radapter_read *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    q->next = q->prev = q;
}

/* Moves every element of @from to the end of @to. */
static void list_splice(struct radapter_read *to, struct radapter_read *from)
{
    if (list_empty(from)) {
        return;
    }
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    list_init(from);
}

static void heap_swap(struct radapter *r, size_t a, size_t b)
{
    struct radapter_read *t = r->heap[a];
    r->heap[a] = r->heap[b];
    r->heap[b] = t;
    r->heap[a]->heap_pos = a;
    r->heap[b]->heap_pos = b;
}

static void heap_up(struct radapter *r, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (r->heap[parent]->deadline_ms <= r->heap[i]->deadline_ms) {
            break;
        }
        heap_swap(r, i, parent);
        i = parent;
    }
}

static void heap_down(struct radapter *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1;
        size_t m = i;
        if (l < r->heap_len &&
            r->heap[l]->deadline_ms < r->heap[m]->deadline_ms) {
            m = l;
        }
        if (l + 1 < r->heap_len &&
            r->heap[l + 1]->deadline_ms < r->heap[m]->deadline_ms) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        heap_swap(r, i, m);
        i = m;
    }
}

static void heap_remove(struct radapter *r, struct radapter_read *q)
{
    size_t i = q->heap_pos;
    r->heap_len--;
    if (i != r->heap_len) {
        r->heap[i] = r->heap[r->heap_len];
        r->heap[i]->heap_pos = i;
        heap_down(r, i);
        heap_up(r, i);
    }
}

/* ------------------------------------------------------------------------
 * Completion.
 * ---------------------------------------------------------------------- */

static void deadline_cb(uv_timer_t *h);

static void rearm(struct radapter *r)
{
    if (!r->started || r->closing) {
        return;
    }
    if (r->heap_len == 0) {
        uv_timer_stop(&r->deadline_timer);
        return;
    }
    uint64_t now = uv_now(r->loop);
    uint64_t when = r->heap[0]->deadline_ms;
    uv_timer_start(&r->deadline_timer, deadline_cb, when > now ? when - now : 0,
                   0);
}

/* Takes @q off every queue and runs its callback. The callback may queue
 * new reads. */
static void finish(struct radapter *r, struct radapter_read *q, int status)
{
    list_del(q);
    heap_remove(r, q);
    q->queued = false;
    q->cb(q->arg, status);
}

static void finish_list(struct radapter *r, struct radapter_read *s, int status)
{
    while (!list_empty(s)) {
        finish(r, s->next, status);
    }
}

static void deadline_cb(uv_timer_t *h)
{
    struct radapter *r = h->data;
    uint64_t now = uv_now(r->loop);
    while (r->heap_len > 0 && r->heap[0]->deadline_ms <= now) {
        r->reads_timed_out++;
        finish(r, r->heap[0], RADAPTER_ETIMEDOUT);
    }
    rearm(r);
}

/* ------------------------------------------------------------------------
 * Rounds.
 * ---------------------------------------------------------------------- */

static void round_cb(struct raft_barrier *req, int status)
{
    struct radapter *r = req->data;
    r->round_inflight = false;
    if (r->closing) {
        return;
    }
    if (status == 0 && radapter__is_ready(r) &&
        raft_current_term(&r->raft) == r->round_term) {
        finish_list(r, &r->round_list, 0);
    } else {
        /* Not confirmed: the reads wait for the next round, until their
         * deadline or until another leader is known. */
        struct radapter_read tmp;
        list_init(&tmp);
        list_splice(&tmp, &r->round_list);
        list_splice(&tmp, &r->wait_list);
        list_splice(&r->wait_list, &tmp);
    }
    radapter__reads_process(r);
    rearm(r);
}

void radapter__reads_process(struct radapter *r)
{
    if (r->closing || r->heap_len == 0) {
        return;
    }
    if (!radapter__is_leader(r)) {
        if (radapter__other_leader(r) && !r->round_inflight) {
            /* Issue 3 serves reads on followers; until then they fail. */
            finish_list(r, &r->wait_list, RADAPTER_ENOTLEADER);
            finish_list(r, &r->round_list, RADAPTER_ENOTLEADER);
            rearm(r);
        }
        return;
    }
    if (!radapter__is_ready(r)) {
        return; /* the ready barrier's callback calls us again */
    }
    if (radapter__voters(r) <= 1) {
        finish_list(r, &r->round_list, 0);
        finish_list(r, &r->wait_list, 0);
        rearm(r);
        return;
    }
    if (!r->round_inflight && !list_empty(&r->wait_list)) {
        list_splice(&r->round_list, &r->wait_list);
        r->round_req.data = r;
        r->round_term = raft_current_term(&r->raft);
        if (raft_barrier(&r->raft, &r->round_req, round_cb) == 0) {
            r->round_inflight = true;
        } else {
            list_splice(&r->wait_list, &r->round_list);
        }
    }
}

/* ------------------------------------------------------------------------
 * Public entry points.
 * ---------------------------------------------------------------------- */

bool radapter_read_now(struct radapter *r)
{
    return radapter__is_ready(r) && radapter__voters(r) <= 1 &&
           r->heap_len == 0;
}

int radapter_read(struct radapter *r,
                  struct radapter_read *req,
                  uint64_t deadline_ms,
                  radapter_read_cb cb,
                  void *arg)
{
    uint64_t cap;

    if (r->closing || !r->started) {
        return RADAPTER_ESHUTDOWN;
    }
    if (!radapter__is_leader(r) && radapter__other_leader(r)) {
        return RADAPTER_ENOTLEADER;
    }
    if (r->heap_len >= r->cfg.max_pending_reads) {
        r->reads_refused++;
        return RADAPTER_EBUSY;
    }
    if (r->heap_len == r->heap_cap) {
        size_t ncap = r->heap_cap == 0 ? 64 : r->heap_cap * 2;
        struct radapter_read **h = realloc(r->heap, ncap * sizeof *h);
        if (h == NULL) {
            return -ENOMEM;
        }
        r->heap = h;
        r->heap_cap = ncap;
    }
    cap = uv_now(r->loop) + r->cfg.verify_timeout_ms;
    req->deadline_ms = deadline_ms < cap ? deadline_ms : cap;
    req->read_index = raft_commit_index(&r->raft);
    req->cb = cb;
    req->arg = arg;
    req->queued = true;
    list_push(&r->wait_list, req);
    req->heap_pos = r->heap_len;
    r->heap[r->heap_len++] = req;
    heap_up(r, req->heap_pos);
    if (req->heap_pos == 0) {
        rearm(r);
    }
    return 0;
}

void radapter_read_cancel(struct radapter *r, struct radapter_read *req)
{
    if (!req->queued) {
        return;
    }
    list_del(req);
    heap_remove(r, req);
    req->queued = false;
}

/* ------------------------------------------------------------------------
 * Lifecycle.
 * ---------------------------------------------------------------------- */

void radapter__reads_init(struct radapter *r)
{
    list_init(&r->wait_list);
    list_init(&r->round_list);
}

void radapter__reads_fail_all(struct radapter *r, int status)
{
    finish_list(r, &r->round_list, status);
    finish_list(r, &r->wait_list, status);
}

void radapter__reads_expire(struct radapter *r)
{
    deadline_cb(&r->deadline_timer);
}

void radapter__reads_fini(struct radapter *r)
{
    free(r->heap);
    r->heap = NULL;
    r->heap_len = r->heap_cap = 0;
}
