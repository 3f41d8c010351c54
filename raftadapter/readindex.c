/* Linearizable reads: the bounded pending-reads queue, leader verification
 * by probe rounds (ReadIndex), and read indexes for followers.
 *
 * A read may touch the keyspace once (1) a leader that has applied an entry
 * of its own term (node.c's "ready" barrier) has (2) confirmed, after the
 * read arrived, that it still leads, and (3) this node has applied up to the
 * commit index the leader noted when the round began (the read index).
 *
 * Leader rounds (Raft dissertation §6.4, etcd's ReadIndex): note
 * read_index = commit index, send PROBE{token, term} to every other voter,
 * count ACKs that echo the token with the same term; a majority (counting
 * ourselves) proves no newer leader existed when the round began. Every
 * attempt, retries included, gets a token never used before in this boot
 * (random high bits, counter low bits), and a round counts only ACKs of its
 * own attempts: a late ACK of an earlier round can never confirm a later
 * one (etcd issue 20418). ACKs of any of a round's attempts (its latest
 * RADAPTER_ROUND_ATTEMPTS) add up: every attempt was sent after all of the
 * round's reads arrived and all share its read index, so each proves the
 * same thing. Counting only the latest attempt would livelock whenever a
 * round trip takes longer than the retry interval (a slow or distant peer):
 * each retry would discard the answers to the one before; the simulation
 * tests found exactly that for follower reads. With a single voter, (2)
 * holds by construction and reads run at once.
 *
 * Followers (etcd serves linearizable reads on every member this way) send
 * READINDEX_REQ{id} to the leader, which answers with the read index once a
 * round of its own confirms; the follower then waits until it has applied
 * that index and answers locally. The leader keeps at most one request per
 * follower (a retry replaces the previous one), so nothing accumulates while
 * a round cannot complete.
 *
 * Batching: reads arriving during a round join the next one; at most one
 * round in flight; O(1) work per read. Bounds: at most cfg.max_pending_reads
 * reads wait; each has a deadline capped at cfg.verify_timeout_ms, kept in a
 * min-heap so the deadline timer touches only expired reads. A cancelled
 * read leaves in O(log n).
 *
 * Failure modes: deadline → RADAPTER_ETIMEDOUT; shutdown →
 * RADAPTER_ESHUTDOWN. A round that gets no majority is re-sent with a new
 * token every retry interval until the reads' deadlines; a change of leader
 * or term abandons the round and its reads start over on the new path.
 *
 * This file touches no clock, timer or socket itself: see readcore.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/readcore.h"

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

static void heap_swap(struct radapter__rc *r, size_t a, size_t b)
{
    struct radapter_read *t = r->heap[a];
    r->heap[a] = r->heap[b];
    r->heap[b] = t;
    r->heap[a]->heap_pos = a;
    r->heap[b]->heap_pos = b;
}

static void heap_up(struct radapter__rc *r, size_t i)
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

static void heap_down(struct radapter__rc *r, size_t i)
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

static void heap_remove(struct radapter__rc *r, struct radapter_read *q)
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

/* Arms the deadline timer for the earliest deadline, or stops it. */
static void rearm(struct radapter__rc *r)
{
    if (r->heap_len == 0) {
        r->ops->timer(r->ctx, RADAPTER__RC_DEADLINE, false, 0);
        return;
    }
    uint64_t now = r->ops->now(r->ctx);
    uint64_t when = r->heap[0]->deadline_ms;
    r->ops->timer(r->ctx, RADAPTER__RC_DEADLINE, true,
                  when > now ? when - now : 0);
}

/* Takes @q off every queue and runs its callback. The callback may queue
 * new reads. */
static void finish(struct radapter__rc *r, struct radapter_read *q, int status)
{
    list_del(q);
    heap_remove(r, q);
    q->queued = false;
    q->cb(q->arg, status);
}

static void finish_list(struct radapter__rc *r,
                        struct radapter_read *s,
                        int status)
{
    while (!list_empty(s)) {
        finish(r, s->next, status);
    }
}

void radapter__rc_expire(struct radapter__rc *r, uint64_t precise_ms)
{
    uint64_t now = r->ops->now(r->ctx);
    while (r->heap_len > 0 && r->heap[0]->deadline_ms <= now) {
        uint64_t late = precise_ms > r->heap[0]->deadline_ms
                            ? precise_ms - r->heap[0]->deadline_ms
                            : 0;
        if (late > r->reads_max_late_ms) {
            r->reads_max_late_ms = late;
        }
        r->reads_timed_out++;
        finish(r, r->heap[0], RADAPTER_ETIMEDOUT);
    }
    rearm(r);
}

/* ------------------------------------------------------------------------
 * Rounds.
 * ---------------------------------------------------------------------- */

uint64_t radapter__rc_new_token(struct radapter__rc *r)
{
    return r->token_nonce ^ ++r->token_counter;
}

static void send_frame(struct radapter__rc *r,
                       uint64_t to,
                       enum proto_peer_type type,
                       uint64_t a,
                       uint64_t b,
                       uint64_t c)
{
    r->ops->send(r->ctx, to, type, a, b, c);
}

uint64_t radapter__count_voters(const struct raft *raft)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < raft->configuration.n; i++) {
        if (raft->configuration.servers[i].role == RAFT_VOTER) {
            n++;
        }
    }
    return n;
}

static uint64_t voters(struct radapter__rc *r)
{
    return radapter__count_voters(r->raft);
}

/* Position of voter @id in the configuration's voters, or -1. */
static int voter_pos(struct radapter__rc *r, uint64_t id)
{
    int pos = 0;
    for (unsigned i = 0; i < r->raft->configuration.n; i++) {
        const struct raft_server *s = &r->raft->configuration.servers[i];
        if (s->role != RAFT_VOTER) {
            continue;
        }
        if (s->id == id) {
            return pos < RADAPTER_MAX_VOTERS ? pos : -1;
        }
        pos++;
    }
    return -1;
}

/* Serves confirmed reads whose read index is applied. Read indexes are
 * non-decreasing along apply_list, so only its head needs checking. */
static void serve_applied(struct radapter__rc *r)
{
    uint64_t applied = raft_last_applied(r->raft);
    while (!list_empty(&r->apply_list) &&
           r->apply_list.next->read_index <= applied) {
        finish(r, r->apply_list.next, 0);
    }
}

/* Moves the round's reads to apply_list with read index @index. */
static void confirm_reads(struct radapter__rc *r, uint64_t index)
{
    for (struct radapter_read *q = r->round_list.next; q != &r->round_list;
         q = q->next) {
        q->read_index = index;
    }
    list_splice(&r->apply_list, &r->round_list);
}

/* Abandons the round in flight: its reads wait for the next one. */
static void abandon_round(struct radapter__rc *r)
{
    struct radapter_read tmp;
    if (!r->round_inflight) {
        return;
    }
    r->round_inflight = false;
    r->ops->timer(r->ctx, RADAPTER__RC_ROUND, false, 0);
    list_init(&tmp);
    list_splice(&tmp, &r->round_list);
    list_splice(&tmp, &r->wait_list);
    list_splice(&r->wait_list, &tmp);
    for (size_t i = 0; i < r->n_remote; i++) {
        r->remote[i].in_round = false;
    }
}

/* A new attempt of the round in flight: its token. */
static uint64_t new_attempt(struct radapter__rc *r)
{
    uint64_t t = radapter__rc_new_token(r);
    r->round_tokens[r->round_attempts++ % RADAPTER_ROUND_ATTEMPTS] = t;
    return t;
}

/* True if @token is one of the round's latest attempts. */
static bool round_token(const struct radapter__rc *r, uint64_t token)
{
    for (unsigned i = 0; i < RADAPTER_ROUND_ATTEMPTS; i++) {
        if (r->round_tokens[i] == token && token != 0) {
            return true;
        }
    }
    return false;
}

/* Starts a round's bookkeeping: no attempt, no ack yet. */
static void new_round(struct radapter__rc *r)
{
    memset(r->round_tokens, 0, sizeof r->round_tokens);
    r->round_attempts = 0;
    r->round_acks = 0;
    r->round_inflight = true;
}

static void send_probes(struct radapter__rc *r)
{
    uint64_t token = new_attempt(r);
    int self = voter_pos(r, r->id);
    if (self >= 0) {
        r->round_acks |= UINT64_C(1) << self;
    }
    for (unsigned i = 0; i < r->raft->configuration.n; i++) {
        const struct raft_server *s = &r->raft->configuration.servers[i];
        if (s->role == RAFT_VOTER && s->id != r->id) {
            send_frame(r, s->id, PROTO_PEER_PROBE, token, r->round_term, 0);
            r->probes_sent++;
        }
    }
}

/* Re-sends come after the retry interval, doubling per attempt up to four
 * times it: a peer slower than the interval is waited for rather than
 * flooded, and the latest RADAPTER_ROUND_ATTEMPTS attempts span many round
 * trips. */
static void arm_round_timer(struct radapter__rc *r)
{
    unsigned shift = r->round_attempts > 3 ? 2 : r->round_attempts - 1;
    r->ops->timer(r->ctx, RADAPTER__RC_ROUND, true, r->retry_ms << shift);
}

static void start_leader_round(struct radapter__rc *r)
{
    list_splice(&r->round_list, &r->wait_list);
    for (size_t i = 0; i < r->n_remote; i++) {
        r->remote[i].in_round = true;
    }
    new_round(r);
    r->round_leader = r->id;
    r->round_term = raft_current_term(r->raft);
    r->round_read_index = raft_commit_index(r->raft);
    send_probes(r);
    arm_round_timer(r);
}

static void start_follower_round(struct radapter__rc *r, uint64_t leader)
{
    list_splice(&r->round_list, &r->wait_list);
    new_round(r);
    r->round_leader = leader;
    /* b: the round's first token, so the leader can tell a retry of this
     * round from a new round */
    uint64_t token = new_attempt(r);
    send_frame(r, leader, PROTO_PEER_READINDEX_REQ, token, token, 0);
    arm_round_timer(r);
}

void radapter__rc_round_timeout(struct radapter__rc *r)
{
    if (!r->round_inflight) {
        return;
    }
    r->rounds_retried++;
    if (r->round_leader == r->id) {
        if (r->ops->is_ready(r->ctx) &&
            raft_current_term(r->raft) == r->round_term) {
            send_probes(r); /* same reads, same read index, new token */
            arm_round_timer(r);
            return;
        }
    } else {
        raft_id leader = 0;
        const char *addr = NULL;
        raft_leader(r->raft, &leader, &addr);
        if (leader == r->round_leader && leader != r->id) {
            send_frame(r, leader, PROTO_PEER_READINDEX_REQ, new_attempt(r),
                       r->round_tokens[0], 0);
            arm_round_timer(r);
            return;
        }
    }
    abandon_round(r);
    radapter__rc_process(r);
}

/* Answers every follower request the confirmed round covered. */
static void answer_remotes(struct radapter__rc *r, uint64_t index, int status)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_remote; i++) {
        struct radapter__remote *m = &r->remote[i];
        if (m->in_round || status != 0) {
            send_frame(r, m->from, PROTO_PEER_READINDEX_RESP, m->req_id, index,
                       (uint64_t)(int64_t)status);
            if (status == 0) {
                r->remote_reads++;
            }
        } else {
            r->remote[k++] = *m;
        }
    }
    r->n_remote = k;
}

static void on_ack(struct radapter__rc *r,
                   uint64_t from,
                   uint64_t token,
                   uint64_t term)
{
    int pos;
    int n = 0;
    if (!r->round_inflight || r->round_leader != r->id ||
        !round_token(r, token) || term != r->round_term ||
        !r->ops->is_ready(r->ctx) || raft_current_term(r->raft) != term) {
        return; /* a late or foreign ACK: never counts */
    }
    pos = voter_pos(r, from);
    if (pos < 0) {
        return;
    }
    r->round_acks |= UINT64_C(1) << pos;
    for (uint64_t a = r->round_acks; a != 0; a &= a - 1) {
        n++;
    }
    if ((uint64_t)n * 2 <= voters(r)) {
        return;
    }
    r->round_inflight = false;
    r->ops->timer(r->ctx, RADAPTER__RC_ROUND, false, 0);
    r->rounds_confirmed++;
    confirm_reads(r, r->round_read_index);
    answer_remotes(r, r->round_read_index, 0);
    radapter__rc_process(r);
}

/* A follower asks for a read index: request @id of its round @round (the
 * round's first request id; 0 from a node that does not say). */
static void on_readindex_req(struct radapter__rc *r,
                             uint64_t from,
                             uint64_t id,
                             uint64_t round)
{
    size_t i;
    bool retry = false;
    if (!r->ops->is_ready(r->ctx)) {
        send_frame(r, from, PROTO_PEER_READINDEX_RESP, id, 0,
                   (uint64_t)(int64_t)RADAPTER_ENOTLEADER);
        return;
    }
    for (i = 0; i < r->n_remote; i++) {
        if (r->remote[i].from == from) {
            /* A retry replaces the earlier request. A retry of the same
             * round keeps its place in our round in flight: every read of
             * that follower round arrived before its first request, which
             * arrived before our round began. A new round does not. */
            retry = round != 0 && r->remote[i].round == round;
            break;
        }
    }
    if (i == r->n_remote) {
        if (r->n_remote == RADAPTER_MAX_VOTERS) {
            send_frame(r, from, PROTO_PEER_READINDEX_RESP, id, 0,
                       (uint64_t)(int64_t)RADAPTER_EBUSY);
            return;
        }
        r->n_remote++;
    }
    if (!retry) {
        r->remote[i].in_round = false;
    }
    r->remote[i].from = from;
    r->remote[i].req_id = id;
    r->remote[i].round = round;
    radapter__rc_process(r);
}

static void on_readindex_resp(struct radapter__rc *r,
                              uint64_t from,
                              uint64_t id,
                              uint64_t index,
                              int status)
{
    if (!r->round_inflight || r->round_leader == r->id ||
        from != r->round_leader || !round_token(r, id)) {
        return;
    }
    if (status != 0) {
        /* The leader could not serve it now; the retry timer asks again
         * (or asks the new leader) until the reads' deadlines. */
        return;
    }
    r->round_inflight = false;
    r->ops->timer(r->ctx, RADAPTER__RC_ROUND, false, 0);
    confirm_reads(r, index);
    radapter__rc_process(r);
}

void radapter__rc_on_msg(struct radapter__rc *r,
                         uint64_t from,
                         enum proto_peer_type type,
                         uint64_t a,
                         uint64_t b,
                         uint64_t c)
{
    switch (type) {
        case PROTO_PEER_PROBE:
            /* Peer side: answer with our current term; touch nothing. */
            send_frame(r, from, PROTO_PEER_ACK, a, raft_current_term(r->raft),
                       0);
            break;
        case PROTO_PEER_ACK:
            on_ack(r, from, a, b);
            break;
        case PROTO_PEER_READINDEX_REQ:
            on_readindex_req(r, from, a, b);
            break;
        case PROTO_PEER_READINDEX_RESP:
            on_readindex_resp(r, from, a, b, (int)(int64_t)c);
            break;
        default:
            break;
    }
}

void radapter__rc_process(struct radapter__rc *r)
{
    raft_id leader = 0;
    const char *addr = NULL;

    serve_applied(r);
    if (r->heap_len == 0 && r->n_remote == 0) {
        return;
    }
    if (r->ops->is_leader(r->ctx)) {
        if (r->round_inflight &&
            (r->round_leader != r->id ||
             r->round_term != raft_current_term(r->raft))) {
            abandon_round(r);
        }
        if (!r->ops->is_ready(r->ctx)) {
            return; /* the ready barrier's callback calls us again */
        }
        if (voters(r) <= 1) {
            confirm_reads(r, raft_commit_index(r->raft));
            list_splice(&r->round_list, &r->wait_list);
            confirm_reads(r, raft_commit_index(r->raft));
            serve_applied(r);
            rearm(r);
            return;
        }
        if (!r->round_inflight &&
            (!list_empty(&r->wait_list) || r->n_remote > 0)) {
            start_leader_round(r);
        }
        return;
    }
    /* Not the leader: requests followers sent us while we led are void. */
    if (r->n_remote > 0) {
        answer_remotes(r, 0, RADAPTER_ENOTLEADER);
    }
    raft_leader(r->raft, &leader, &addr);
    if (r->round_inflight &&
        (r->round_leader == r->id || leader != r->round_leader)) {
        abandon_round(r);
    }
    if (leader != 0 && leader != r->id && !r->round_inflight &&
        !list_empty(&r->wait_list)) {
        start_follower_round(r, leader);
    }
}

/* ------------------------------------------------------------------------
 * Entry points.
 * ---------------------------------------------------------------------- */

bool radapter__rc_read_now(struct radapter__rc *r)
{
    return r->ops->is_ready(r->ctx) && voters(r) <= 1 && r->heap_len == 0;
}

int radapter__rc_read(struct radapter__rc *r,
                      struct radapter_read *req,
                      uint64_t deadline_ms,
                      radapter_read_cb cb,
                      void *arg)
{
    uint64_t cap;

    if (r->heap_len >= r->max_pending) {
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
    cap = r->ops->now(r->ctx) + r->verify_timeout_ms;
    req->deadline_ms = deadline_ms < cap ? deadline_ms : cap;
    req->read_index = 0; /* set when a round confirms */
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

void radapter__rc_cancel(struct radapter__rc *r, struct radapter_read *req)
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

void radapter__rc_init(struct radapter__rc *r,
                       const struct radapter__rc_ops *ops,
                       void *ctx,
                       struct raft *raft,
                       uint64_t id,
                       uint64_t nonce)
{
    memset(r, 0, sizeof *r);
    r->ops = ops;
    r->ctx = ctx;
    r->raft = raft;
    r->id = id;
    r->max_pending = 10000;
    r->verify_timeout_ms = 5000;
    r->retry_ms = 100;
    list_init(&r->wait_list);
    list_init(&r->round_list);
    list_init(&r->apply_list);
    r->token_nonce = nonce & ~UINT64_C(0xffffffff);
}

void radapter__rc_fail_all(struct radapter__rc *r, int status)
{
    r->round_inflight = false;
    finish_list(r, &r->apply_list, status);
    finish_list(r, &r->round_list, status);
    finish_list(r, &r->wait_list, status);
}

void radapter__rc_fini(struct radapter__rc *r)
{
    free(r->heap);
    r->heap = NULL;
    r->heap_len = r->heap_cap = 0;
}
