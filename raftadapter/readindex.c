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
 * (random high bits, counter low bits): a late ACK of an earlier attempt can
 * never confirm a later one (etcd issue 20418). With a single voter, (2)
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
 * or term abandons the round and its reads start over on the new path. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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
    /* How late past its deadline a read is answered, on the monotonic
     * clock now rather than the loop's cached time: a stalled loop shows. */
    uint64_t precise = uv_hrtime() / 1000000;
    while (r->heap_len > 0 && r->heap[0]->deadline_ms <= now) {
        uint64_t late = precise > r->heap[0]->deadline_ms
                            ? precise - r->heap[0]->deadline_ms
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

/* Retry interval of an unanswered round: a lost frame or a peer that was
 * reconnecting costs at most this much. */
static uint64_t retry_ms(struct radapter *r)
{
    return r->cfg.heartbeat_ms < 20 ? 20 : r->cfg.heartbeat_ms;
}

uint64_t radapter__new_token(struct radapter *r)
{
    return r->token_nonce ^ ++r->token_counter;
}

/* Position of voter @id in the configuration's voters, or -1. */
static int voter_pos(struct radapter *r, uint64_t id)
{
    int pos = 0;
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
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
static void serve_applied(struct radapter *r)
{
    uint64_t applied = raft_last_applied(&r->raft);
    while (!list_empty(&r->apply_list) &&
           r->apply_list.next->read_index <= applied) {
        finish(r, r->apply_list.next, 0);
    }
}

/* Moves the round's reads to apply_list with read index @index. */
static void confirm_reads(struct radapter *r, uint64_t index)
{
    for (struct radapter_read *q = r->round_list.next; q != &r->round_list;
         q = q->next) {
        q->read_index = index;
    }
    list_splice(&r->apply_list, &r->round_list);
}

/* Abandons the round in flight: its reads wait for the next one. */
static void abandon_round(struct radapter *r)
{
    struct radapter_read tmp;
    if (!r->round_inflight) {
        return;
    }
    r->round_inflight = false;
    uv_timer_stop(&r->round_timer);
    list_init(&tmp);
    list_splice(&tmp, &r->round_list);
    list_splice(&tmp, &r->wait_list);
    list_splice(&r->wait_list, &tmp);
    for (size_t i = 0; i < r->n_remote; i++) {
        r->remote[i].in_round = false;
    }
}

static void send_probes(struct radapter *r)
{
    r->round_token = radapter__new_token(r);
    r->round_acks = 0;
    int self = voter_pos(r, r->cfg.id);
    if (self >= 0) {
        r->round_acks |= UINT64_C(1) << self;
    }
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        if (s->role == RAFT_VOTER && s->id != r->cfg.id) {
            radapter__rpc_send(r, s->id, PROTO_PEER_PROBE, r->round_token,
                               r->round_term, 0);
            r->probes_sent++;
        }
    }
}

static void round_timer_cb(uv_timer_t *h);

static void arm_round_timer(struct radapter *r)
{
    uv_timer_start(&r->round_timer, round_timer_cb, retry_ms(r), 0);
    radapter__duty_arm(r, &r->round_duty, retry_ms(r));
}

static void start_leader_round(struct radapter *r)
{
    list_splice(&r->round_list, &r->wait_list);
    for (size_t i = 0; i < r->n_remote; i++) {
        r->remote[i].in_round = true;
    }
    r->round_inflight = true;
    r->round_leader = r->cfg.id;
    r->round_term = raft_current_term(&r->raft);
    r->round_read_index = raft_commit_index(&r->raft);
    send_probes(r);
    arm_round_timer(r);
}

static void start_follower_round(struct radapter *r, uint64_t leader)
{
    list_splice(&r->round_list, &r->wait_list);
    r->round_inflight = true;
    r->round_leader = leader;
    r->round_token = radapter__new_token(r);
    radapter__rpc_send(r, leader, PROTO_PEER_READINDEX_REQ, r->round_token, 0,
                       0);
    arm_round_timer(r);
}

static void round_timer_cb(uv_timer_t *h)
{
    struct radapter *r = h->data;
    if (r->closing || !r->round_inflight) {
        return;
    }
    radapter__duty_ran(r, &r->round_duty);
    r->rounds_retried++;
    if (r->round_leader == r->cfg.id) {
        if (radapter__is_ready(r) &&
            raft_current_term(&r->raft) == r->round_term) {
            send_probes(r); /* same reads, same read index, new token */
            arm_round_timer(r);
            return;
        }
    } else {
        raft_id leader = 0;
        const char *addr = NULL;
        raft_leader(&r->raft, &leader, &addr);
        if (leader == r->round_leader && leader != r->cfg.id) {
            r->round_token = radapter__new_token(r);
            radapter__rpc_send(r, leader, PROTO_PEER_READINDEX_REQ,
                               r->round_token, 0, 0);
            arm_round_timer(r);
            return;
        }
    }
    abandon_round(r);
    radapter__reads_process(r);
}

/* Answers every follower request the confirmed round covered. */
static void answer_remotes(struct radapter *r, uint64_t index, int status)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_remote; i++) {
        struct radapter__remote *m = &r->remote[i];
        if (m->in_round || status != 0) {
            radapter__rpc_send(r, m->from, PROTO_PEER_READINDEX_RESP, m->req_id,
                               index, (uint64_t)(int64_t)status);
            if (status == 0) {
                r->remote_reads++;
            }
        } else {
            r->remote[k++] = *m;
        }
    }
    r->n_remote = k;
}

static void on_ack(struct radapter *r,
                   uint64_t from,
                   uint64_t token,
                   uint64_t term)
{
    int pos;
    int n = 0;
    uint64_t voters;
    if (!r->round_inflight || r->round_leader != r->cfg.id ||
        token != r->round_token || term != r->round_term ||
        !radapter__is_ready(r) || raft_current_term(&r->raft) != term) {
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
    voters = radapter__voters(r);
    if ((uint64_t)n * 2 <= voters) {
        return;
    }
    r->round_inflight = false;
    uv_timer_stop(&r->round_timer);
    r->rounds_confirmed++;
    confirm_reads(r, r->round_read_index);
    answer_remotes(r, r->round_read_index, 0);
    radapter__reads_process(r);
}

static void on_readindex_req(struct radapter *r, uint64_t from, uint64_t id)
{
    size_t i;
    if (!radapter__is_ready(r)) {
        radapter__rpc_send(r, from, PROTO_PEER_READINDEX_RESP, id, 0,
                           (uint64_t)(int64_t)RADAPTER_ENOTLEADER);
        return;
    }
    for (i = 0; i < r->n_remote; i++) {
        if (r->remote[i].from == from) {
            break; /* a retry replaces the earlier request */
        }
    }
    if (i == r->n_remote) {
        if (r->n_remote == RADAPTER_MAX_VOTERS) {
            radapter__rpc_send(r, from, PROTO_PEER_READINDEX_RESP, id, 0,
                               (uint64_t)(int64_t)RADAPTER_EBUSY);
            return;
        }
        r->n_remote++;
    }
    r->remote[i].from = from;
    r->remote[i].req_id = id;
    r->remote[i].in_round = false;
    radapter__reads_process(r);
}

static void on_readindex_resp(struct radapter *r,
                              uint64_t from,
                              uint64_t id,
                              uint64_t index,
                              int status)
{
    if (!r->round_inflight || r->round_leader == r->cfg.id ||
        from != r->round_leader || id != r->round_token) {
        return;
    }
    if (status != 0) {
        /* The leader could not serve it now; the retry timer asks again
         * (or asks the new leader) until the reads' deadlines. */
        return;
    }
    r->round_inflight = false;
    uv_timer_stop(&r->round_timer);
    confirm_reads(r, index);
    radapter__reads_process(r);
}

void radapter__rpc_on_msg(struct radapter *r,
                          struct radapter__rpc_conn *conn,
                          uint64_t from,
                          const struct proto_peer_msg *m)
{
    if (r->closing || !r->started) {
        return;
    }
    radapter__peer_seen(r, from);
    switch (m->type) {
        case PROTO_PEER_PROBE:
            /* Peer side: answer with our current term; touch nothing. */
            radapter__rpc_send(r, from, PROTO_PEER_ACK, m->a,
                               raft_current_term(&r->raft), 0);
            break;
        case PROTO_PEER_ACK:
            on_ack(r, from, m->a, m->b);
            break;
        case PROTO_PEER_READINDEX_REQ:
            on_readindex_req(r, from, m->a);
            break;
        case PROTO_PEER_READINDEX_RESP:
            on_readindex_resp(r, from, m->a, m->b, (int)(int64_t)m->c);
            break;
        case PROTO_PEER_FORWARD:
        case PROTO_PEER_FORWARD_RESP:
            radapter__forward_on_msg(r, from, m);
            break;
        case PROTO_PEER_JOIN:
            radapter__on_join(r, conn, m);
            break;
        case PROTO_PEER_JOIN_RESP:
            radapter__on_join_resp(r, m);
            break;
        case PROTO_PEER_ADDRS:
            radapter__on_addrs(r, m);
            break;
        default:
            break;
    }
}

void radapter__reads_process(struct radapter *r)
{
    raft_id leader = 0;
    const char *addr = NULL;

    if (r->closing || !r->started) {
        return;
    }
    serve_applied(r);
    if (r->heap_len == 0 && r->n_remote == 0) {
        return;
    }
    if (radapter__is_leader(r)) {
        if (r->round_inflight &&
            (r->round_leader != r->cfg.id ||
             r->round_term != raft_current_term(&r->raft))) {
            abandon_round(r);
        }
        if (!radapter__is_ready(r)) {
            return; /* the ready barrier's callback calls us again */
        }
        if (radapter__voters(r) <= 1) {
            confirm_reads(r, raft_commit_index(&r->raft));
            list_splice(&r->round_list, &r->wait_list);
            confirm_reads(r, raft_commit_index(&r->raft));
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
    raft_leader(&r->raft, &leader, &addr);
    if (r->round_inflight &&
        (r->round_leader == r->cfg.id || leader != r->round_leader)) {
        abandon_round(r);
    }
    if (leader != 0 && leader != r->cfg.id && !r->round_inflight &&
        !list_empty(&r->wait_list)) {
        start_follower_round(r, leader);
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
    uint8_t nonce[8] = {0};
    list_init(&r->wait_list);
    list_init(&r->round_list);
    list_init(&r->apply_list);
    /* Tokens: random high bits per boot, so no token repeats across
     * restarts either; the counter takes the low bits. */
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        memcpy(nonce, &r, sizeof(void *) < 8 ? sizeof(void *) : 8);
    }
    for (int i = 0; i < 8; i++) {
        r->token_nonce = (r->token_nonce << 8) | nonce[i];
    }
    r->token_nonce &= ~UINT64_C(0xffffffff);
}

void radapter__reads_fail_all(struct radapter *r, int status)
{
    r->round_inflight = false;
    finish_list(r, &r->apply_list, status);
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
