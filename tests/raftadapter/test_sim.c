/* Deterministic simulation of the read path and of retried writes, on
 * libraft's in-memory fixture: simulated time, no sockets, no sleeps, a
 * network the test controls. Each simulated node runs
 *
 *   - libraft (the fixture's raft instance, pre-vote on),
 *   - raftkv's real state machine (fsm.c over a kv store, with the table of
 *     applied request ids, dedup.c), fed entries made by proto/'s encoder,
 *   - raftkv's real read path (readindex.c, readcore.h): the bounded
 *     queue, probe rounds with never-reused tokens, follower read indexes,
 *     deadlines,
 *   - the "ready" barrier node.c uses (a new leader serves nothing until an
 *     entry of its term is applied).
 *
 * The peer frames of the read path travel on a simulated channel with a
 * latency; a partition cuts it together with the fixture's raft links, and
 * a test can hold frames back to deliver them late.
 *
 * Properties checked on every run:
 *   - a read that succeeds serves a state at least as new as every entry
 *     committed anywhere when it was issued (no stale read), and a counter
 *     value at least the one every earlier acknowledged INCR produced;
 *   - every read ends by its deadline (plus the fixture's step, below);
 *   - the pending-reads queue never holds more than its bound;
 *   - a write retried after an unknown outcome applies at most once, on
 *     every replica alike;
 *   - libraft's own fixture checks (one leader per term, leader append-only).
 *
 * Randomized runs are seeded; a failing run names its seed. */

#include <criterion/criterion.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "raftadapter/radapter_internal.h"

#define NMAX      5
#define HEARTBEAT 20u
#define ELECTION  500u
#define LATENCY   5u /* one-way latency of the read path's frames, ms */
#define STEP_SLACK                                         \
    25u /* how late the fixture may run one of our events: \
           one tick interval (the heartbeat) */
#define MAX_PENDING 64u
#define MAX_READS   4096
#define MAX_WRITES  1024

/* ------------------------------------------------------------------------
 * The simulated cluster.
 * ---------------------------------------------------------------------- */

struct sim;

struct frame
{
    uint64_t at; /* delivery time */
    unsigned from, to;
    enum proto_peer_type type;
    uint64_t a, b, c;
    bool held; /* kept back until the test releases it */
};

struct node
{
    struct sim *s;
    unsigned i;
    struct radapter *shell; /* owns the real FSM: kv store, dedup table */
    struct radapter__rc rc;
    bool timer_on[2];
    uint64_t timer_at[2];
    uint64_t ready_term;
    struct raft_barrier barrier;
    bool barrier_inflight;
    uint64_t barrier_term;
};

struct sim_read
{
    struct radapter_read req;
    struct node *n;
    uint64_t start;        /* time issued */
    uint64_t deadline;     /* as asked */
    uint64_t commit_floor; /* highest commit index anywhere when issued */
    int64_t acked_floor;   /* highest acknowledged counter value then */
    bool done;
    int status;
    uint64_t end;
    uint64_t served_index; /* applied index of the serving node */
    int64_t value;         /* the counter it read */
};

struct sim_write
{
    struct raft_apply req;
    struct sim *s;
    uint64_t id;       /* request id, the same for every attempt */
    unsigned attempts; /* made so far */
    uint64_t next_at;  /* when to make the next attempt, 0: none due */
    uint64_t give_up;  /* the retry budget ends here */
    bool inflight;
    bool acked;  /* an attempt's apply callback reported success */
    bool lost;   /* that success was "lost" and the client retried */
    unsigned on; /* node the attempt went to */
};

struct sim
{
    struct raft_fixture f;
    struct raft_tracer quiet;
    unsigned n;
    struct node nodes[NMAX];
    struct frame *q;
    size_t qlen, qcap;
    bool cut[NMAX][NMAX];
    bool (*hold)(struct sim *s, const struct frame *fr);
    uint64_t latency; /* one-way latency of the read path's frames */
    uint64_t rng;
    unsigned seed;
    int64_t acked_value; /* highest counter value an acked INCR left */
    struct sim_read *reads;
    size_t n_reads;
    struct sim_write *writes;
    size_t n_writes;
    size_t max_pending_seen;
    uint64_t reads_ok, reads_failed, stale;
};

static uint64_t now_of(struct sim *s)
{
    return (uint64_t)raft_fixture_time(&s->f);
}

static struct raft *raft_of(struct node *n)
{
    return raft_fixture_get(&n->s->f, n->i);
}

static uint64_t rnd(struct sim *s)
{
    /* xorshift64*: reproducible from the seed */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(struct sim *s, uint64_t n)
{
    return n == 0 ? 0 : rnd(s) % n;
}

/* ------------------------------------------------------------------------
 * The read path's environment (readcore.h) for one node.
 * ---------------------------------------------------------------------- */

static uint64_t ops_now(void *ctx)
{
    struct node *n = ctx;
    return now_of(n->s);
}

static void ops_send(void *ctx,
                     uint64_t to,
                     enum proto_peer_type type,
                     uint64_t a,
                     uint64_t b,
                     uint64_t c)
{
    struct node *n = ctx;
    struct sim *s = n->s;
    struct frame fr;
    if (to == 0 || to > s->n || s->cut[n->i][to - 1]) {
        return; /* lost on the wire */
    }
    if (s->qlen == s->qcap) {
        s->qcap = s->qcap == 0 ? 64 : s->qcap * 2;
        s->q = realloc(s->q, s->qcap * sizeof *s->q);
        cr_assert_not_null(s->q);
    }
    fr.at = now_of(s) + s->latency;
    fr.from = n->i;
    fr.to = (unsigned)(to - 1);
    fr.type = type;
    fr.a = a;
    fr.b = b;
    fr.c = c;
    fr.held = s->hold != NULL && s->hold(s, &fr);
    s->q[s->qlen++] = fr;
}

static void ops_timer(void *ctx,
                      enum radapter__rc_timer timer,
                      bool on,
                      uint64_t delay_ms)
{
    struct node *n = ctx;
    n->timer_on[timer] = on;
    n->timer_at[timer] = now_of(n->s) + delay_ms;
}

static bool ops_is_leader(void *ctx)
{
    struct node *n = ctx;
    struct raft *r = raft_of(n);
    return raft_fixture_alive(&n->s->f, n->i) && raft_state(r) == RAFT_LEADER &&
           raft_transferee(r) == 0;
}

static bool ops_is_ready(void *ctx)
{
    struct node *n = ctx;
    return ops_is_leader(ctx) && n->ready_term == raft_current_term(raft_of(n));
}

static const struct radapter__rc_ops sim_ops = {
    .now = ops_now,
    .send = ops_send,
    .timer = ops_timer,
    .is_leader = ops_is_leader,
    .is_ready = ops_is_ready,
};

/* node.c's ready barrier, step for step. */
static void barrier_cb(struct raft_barrier *req, int status)
{
    struct node *n = req->data;
    n->barrier_inflight = false;
    if (status == 0 && ops_is_leader(n) &&
        raft_current_term(raft_of(n)) == n->barrier_term) {
        n->ready_term = n->barrier_term;
    }
    radapter__rc_process(&n->rc);
}

static void track_ready(struct node *n)
{
    struct raft *r = raft_of(n);
    if (!ops_is_leader(n) || n->barrier_inflight ||
        n->ready_term == raft_current_term(r)) {
        return;
    }
    n->barrier.data = n;
    n->barrier_term = raft_current_term(r);
    if (raft_barrier(r, &n->barrier, barrier_cb) == 0) {
        n->barrier_inflight = true;
    }
}

/* ------------------------------------------------------------------------
 * Set-up and tear-down.
 * ---------------------------------------------------------------------- */

/* The fixture's randomized election timeouts: distinct per server, so
 * elections are deterministic and rarely split. */
static void set_timeouts(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        raft_fixture_set_randomized_election_timeout(&s->f, i,
                                                     ELECTION + 60 * i);
    }
}

static void quiet_emit(struct raft_tracer *t, int type, const void *info)
{
    (void)t;
    (void)type;
    (void)info;
}

/* A cluster of @n servers, the first @voting of them voters (the others
 * spares that a test may promote). */
static struct sim *sim_new_cfg(unsigned n, unsigned voting, unsigned seed)
{
    struct sim *s = calloc(1, sizeof *s);
    struct raft_configuration conf;
    uint8_t kseed[16] = {7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9, 0, 4, 5, 2};

    cr_assert_not_null(s);
    s->n = n;
    s->seed = seed;
    s->latency = LATENCY;
    s->rng = (uint64_t)seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    s->quiet.version = 2;
    s->quiet.emit = quiet_emit;
    s->reads = calloc(MAX_READS, sizeof *s->reads);
    s->writes = calloc(MAX_WRITES, sizeof *s->writes);
    cr_assert(s->reads != NULL && s->writes != NULL);
    cr_assert_eq(raft_fixture_initialize(&s->f), 0);
    for (unsigned i = 0; i < n; i++) {
        struct node *nd = &s->nodes[i];
        nd->s = s;
        nd->i = i;
        nd->shell = calloc(1, sizeof *nd->shell);
        cr_assert_not_null(nd->shell);
        nd->shell->store = kv_store_new(kseed);
        cr_assert_not_null(nd->shell->store);
        nd->shell->cfg.max_bulk_len = 512u << 20;
        radapter__fsm_init(nd->shell);
        cr_assert_eq(raft_fixture_grow(&s->f, &nd->shell->fsm), 0);
        struct raft *r = raft_fixture_get(&s->f, i);
        r->tracer = &s->quiet;
        raft_set_pre_vote(r, true);
        raft_set_heartbeat_timeout(r, HEARTBEAT); /* the fixture's tick */
        raft_set_snapshot_threshold(r, 1u << 30);
        radapter__rc_init(&nd->rc, &sim_ops, nd, r, i + 1,
                          (uint64_t)(i + 1) << 40 | (uint64_t)seed << 32);
        nd->rc.max_pending = MAX_PENDING;
        nd->rc.verify_timeout_ms = 5000;
        nd->rc.retry_ms = HEARTBEAT;
    }
    cr_assert_eq(raft_fixture_configuration(&s->f, voting, &conf), 0);
    cr_assert_eq(raft_fixture_bootstrap(&s->f, &conf), 0);
    raft_configuration_close(&conf);
    cr_assert_eq(raft_fixture_start(&s->f), 0);
    /* Timeouts set before the start make libraft 0.22's fixture spin in
     * raft_fixture_start; after it they work. */
    for (unsigned i = 0; i < n; i++) {
        struct raft *r = raft_fixture_get(&s->f, i);
        raft_set_election_timeout(r, ELECTION);
    }
    set_timeouts(s);
    return s;
}

static void sim_free(struct sim *s)
{
    raft_fixture_close(&s->f);
    for (unsigned i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        radapter__rc_fini(&nd->rc);
        radapter__dedup_clear(&nd->shell->dedup);
        kv_store_free(nd->shell->store);
        free(nd->shell);
    }
    free(s->q);
    free(s->reads);
    free(s->writes);
    free(s);
}

static struct sim *sim_new(unsigned n, unsigned seed)
{
    return sim_new_cfg(n, n, seed);
}

/* Cuts (or heals) every link between node @i and the others, raft's and
 * the read path's, both ways. */
static void isolate(struct sim *s, unsigned i, bool cut)
{
    for (unsigned j = 0; j < s->n; j++) {
        if (j == i || s->cut[i][j] == cut) {
            continue;
        }
        if (cut) {
            raft_fixture_disconnect(&s->f, i, j);
            raft_fixture_disconnect(&s->f, j, i);
        } else {
            raft_fixture_reconnect(&s->f, i, j);
            raft_fixture_reconnect(&s->f, j, i);
        }
        s->cut[i][j] = s->cut[j][i] = cut;
    }
}

static void heal_all(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        for (unsigned j = 0; j < s->n; j++) {
            if (i != j && s->cut[i][j]) {
                raft_fixture_reconnect(&s->f, i, j);
                s->cut[i][j] = false;
            }
        }
    }
}

/* ------------------------------------------------------------------------
 * Observations.
 * ---------------------------------------------------------------------- */

static uint64_t commit_anywhere(struct sim *s)
{
    uint64_t c = 0;
    for (unsigned i = 0; i < s->n; i++) {
        uint64_t ci = raft_commit_index(raft_fixture_get(&s->f, i));
        c = ci > c ? ci : c;
    }
    return c;
}

/* The counter in node @n's keyspace, 0 when absent. */
static int64_t counter_of(struct node *n)
{
    const char *argv[] = {"GET", "ctr"};
    size_t lens[] = {3, 3};
    struct kv_exec_ctx ctx;
    struct kv_reply rep;
    int64_t v = 0;
    memset(&ctx, 0, sizeof ctx);
    memset(&rep, 0, sizeof rep);
    ctx.now_ms = n->shell->fsm_stamp;
    ctx.max_bulk_len = 512u << 20;
    kv_exec(n->shell->store, &ctx, 2, argv, lens, &rep);
    if (rep.type == KV_REPLY_BULK) {
        char buf[32] = {0};
        memcpy(buf, rep.str, rep.len < 31 ? rep.len : 31);
        v = strtoll(buf, NULL, 10);
    }
    kv_reply_fini(&rep);
    return v;
}

static int leader_index(struct sim *s)
{
    int found = -1;
    uint64_t best = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct raft *r = raft_fixture_get(&s->f, i);
        if (raft_fixture_alive(&s->f, i) && raft_state(r) == RAFT_LEADER &&
            raft_current_term(r) >= best) {
            best = raft_current_term(r);
            found = (int)i;
        }
    }
    return found;
}

/* ------------------------------------------------------------------------
 * Driving time.
 * ---------------------------------------------------------------------- */

static void deliver(struct sim *s, const struct frame *fr)
{
    struct node *to = &s->nodes[fr->to];
    if (!raft_fixture_alive(&s->f, fr->to)) {
        return;
    }
    radapter__rc_on_msg(&to->rc, fr->from + 1, fr->type, fr->a, fr->b, fr->c);
}

/* Runs every event of ours due by now; true if any ran. */
static bool run_due(struct sim *s)
{
    uint64_t now = now_of(s);
    bool any = false;
    for (size_t k = 0; k < s->qlen;) {
        if (!s->q[k].held && s->q[k].at <= now) {
            struct frame fr = s->q[k];
            memmove(&s->q[k], &s->q[k + 1], (s->qlen - k - 1) * sizeof fr);
            s->qlen--;
            if (!s->cut[fr.from][fr.to]) {
                deliver(s, &fr);
            }
            any = true;
            continue;
        }
        k++;
    }
    for (unsigned i = 0; i < s->n; i++) {
        struct node *n = &s->nodes[i];
        if (!raft_fixture_alive(&s->f, i)) {
            continue;
        }
        if (n->timer_on[RADAPTER__RC_ROUND] &&
            n->timer_at[RADAPTER__RC_ROUND] <= now) {
            n->timer_on[RADAPTER__RC_ROUND] = false;
            radapter__rc_round_timeout(&n->rc);
            any = true;
        }
        if (n->timer_on[RADAPTER__RC_DEADLINE] &&
            n->timer_at[RADAPTER__RC_DEADLINE] <= now) {
            n->timer_on[RADAPTER__RC_DEADLINE] = false;
            radapter__rc_expire(&n->rc, now);
            any = true;
        }
        track_ready(n);
        radapter__rc_process(&n->rc);
        if (n->rc.heap_len > s->max_pending_seen) {
            s->max_pending_seen = n->rc.heap_len;
        }
    }
    return any;
}

static void write_due(struct sim *s);

static uint64_t next_event(struct sim *s)
{
    uint64_t next = UINT64_MAX;
    for (size_t k = 0; k < s->qlen; k++) {
        if (!s->q[k].held && s->q[k].at < next) {
            next = s->q[k].at;
        }
    }
    for (unsigned i = 0; i < s->n; i++) {
        for (int t = 0; t < 2; t++) {
            if (s->nodes[i].timer_on[t] && s->nodes[i].timer_at[t] < next) {
                next = s->nodes[i].timer_at[t];
            }
        }
    }
    for (size_t w = 0; w < s->n_writes; w++) {
        if (s->writes[w].next_at != 0 && s->writes[w].next_at < next) {
            next = s->writes[w].next_at;
        }
    }
    return next;
}

/* Advances simulated time by @ms, interleaving the fixture's events with
 * ours. The fixture moves from one of its events to the next, so one of
 * ours may run up to one fixture step late (at most a heartbeat, or a
 * network or disk latency, with these settings). */
static void run_for(struct sim *s, uint64_t ms)
{
    uint64_t end = now_of(s) + ms;
    for (;;) {
        while (run_due(s)) {
        }
        write_due(s);
        uint64_t now = now_of(s);
        if (now >= end) {
            return;
        }
        uint64_t next = next_event(s);
        uint64_t target = next < end ? next : end;
        if (target <= now) {
            target = now + 1;
        }
        raft_fixture_step_until_elapsed(&s->f, (unsigned)(target - now));
    }
}

/* ------------------------------------------------------------------------
 * Reads.
 * ---------------------------------------------------------------------- */

static void read_cb(void *arg, int status)
{
    struct sim_read *rd = arg;
    struct sim *s = rd->n->s;
    rd->done = true;
    rd->status = status;
    rd->end = now_of(s);
    if (status != 0) {
        s->reads_failed++;
        return;
    }
    s->reads_ok++;
    rd->served_index = raft_last_applied(raft_of(rd->n));
    rd->value = counter_of(rd->n);
    if (rd->served_index < rd->commit_floor || rd->value < rd->acked_floor) {
        s->stale++;
        fprintf(stderr,
                "seed %u: stale read on node %u at %llu ms: served index "
                "%llu < floor %llu, or value %lld < acked %lld\n",
                s->seed, rd->n->i + 1, (unsigned long long)rd->end,
                (unsigned long long)rd->served_index,
                (unsigned long long)rd->commit_floor, (long long)rd->value,
                (long long)rd->acked_floor);
    }
}

/* Issues a read on node @i with a deadline @timeout ms away; returns it,
 * or NULL when the node refused it at once (queue full). */
static struct sim_read *issue_read(struct sim *s, unsigned i, uint64_t timeout)
{
    cr_assert_lt(s->n_reads, MAX_READS);
    struct sim_read *rd = &s->reads[s->n_reads++];
    memset(rd, 0, sizeof *rd);
    rd->n = &s->nodes[i];
    rd->start = now_of(s);
    rd->deadline = rd->start + timeout;
    rd->commit_floor = commit_anywhere(s);
    rd->acked_floor = s->acked_value;
    int rv = radapter__rc_read(&rd->n->rc, &rd->req, rd->deadline, read_cb, rd);
    if (rv != 0) {
        cr_assert_eq(rv, RADAPTER_EBUSY);
        rd->done = true;
        rd->status = rv;
        rd->end = rd->start;
        s->reads_failed++;
        return NULL;
    }
    radapter__rc_process(&rd->n->rc);
    return rd;
}

/* Every read ended, by its deadline, and none was stale. */
static void check_reads(struct sim *s)
{
    for (size_t k = 0; k < s->n_reads; k++) {
        struct sim_read *rd = &s->reads[k];
        cr_assert(rd->done,
                  "seed %u: read %zu (node %u, issued at %llu) never "
                  "ended",
                  s->seed, k, rd->n->i + 1, (unsigned long long)rd->start);
        cr_assert_leq(rd->end, rd->deadline + STEP_SLACK,
                      "seed %u: read %zu ended at %llu, deadline %llu", s->seed,
                      k, (unsigned long long)rd->end,
                      (unsigned long long)rd->deadline);
    }
    cr_assert_eq(s->stale, 0, "seed %u: %llu stale reads", s->seed,
                 (unsigned long long)s->stale);
    cr_assert_leq(s->max_pending_seen, MAX_PENDING);
}

/* ------------------------------------------------------------------------
 * Writes: INCR ctr with a request id, retried like forward.c does (up to 3
 * attempts within a budget, re-resolving the leader) after an unknown
 * outcome, and sometimes after a success whose reply was "lost".
 * ---------------------------------------------------------------------- */

#define ATTEMPTS 3
#define BUDGET   5000u
#define BACKOFF  30u

static void write_cb(struct raft_apply *req, int status, void *result)
{
    struct sim_write *w = req->data;
    struct sim *s = w->s;
    (void)result;
    w->inflight = false;
    if (status == 0) {
        struct node *n = &s->nodes[w->on];
        int64_t v = counter_of(n); /* the leader just applied it */
        w->acked = true;
        if (v > s->acked_value) {
            s->acked_value = v;
        }
        /* One success in four loses its reply: the client cannot tell it
         * from a failure and retries with the same id. */
        if (rnd_below(s, 4) == 0 && w->attempts < ATTEMPTS) {
            w->lost = true;
            w->next_at = now_of(s) + BACKOFF;
        }
        return;
    }
    /* Unknown outcome (leadership lost) or refused: retry if allowed. */
    if (w->attempts < ATTEMPTS && now_of(s) + BACKOFF < w->give_up) {
        w->next_at = now_of(s) + BACKOFF;
    }
}

static void attempt(struct sim *s, struct sim_write *w)
{
    struct proto_log_writer lw;
    const char *argv[] = {"INCR", "ctr"};
    size_t lens[] = {4, 3};
    struct raft_buffer buf;
    void *data = NULL;
    size_t len = 0;
    int li = leader_index(s);

    w->next_at = 0;
    w->attempts++;
    if (li < 0) {
        if (w->attempts < ATTEMPTS) {
            w->next_at = now_of(s) + BACKOFF;
        }
        return;
    }
    cr_assert_eq(proto_log_writer_init(&lw, PROTO_LOG_BATCH_IDS, now_of(s)), 0);
    cr_assert_eq(proto_log_writer_add_cmd_id(&lw, w->id, 2, argv, lens), 0);
    cr_assert_eq(proto_log_writer_finish(&lw, raft_malloc, &data, &len), 0);
    proto_log_writer_fini(&lw);
    buf.base = data;
    buf.len = len;
    w->req.data = w;
    w->on = (unsigned)li;
    if (raft_apply(raft_fixture_get(&s->f, (unsigned)li), &w->req, &buf, 1,
                   write_cb) != 0) {
        raft_free(data);
        if (w->attempts < ATTEMPTS) {
            w->next_at = now_of(s) + BACKOFF;
        }
        return;
    }
    w->inflight = true;
}

static void write_due(struct sim *s)
{
    uint64_t now = now_of(s);
    for (size_t k = 0; k < s->n_writes; k++) {
        struct sim_write *w = &s->writes[k];
        if (w->next_at != 0 && w->next_at <= now && !w->inflight) {
            attempt(s, w);
        }
    }
}

static void issue_write(struct sim *s)
{
    cr_assert_lt(s->n_writes, MAX_WRITES);
    struct sim_write *w = &s->writes[s->n_writes++];
    memset(w, 0, sizeof *w);
    w->s = s;
    w->id = (UINT64_C(1) << 48) | s->n_writes; /* origin 1, session, seq */
    w->give_up = now_of(s) + BUDGET;
    attempt(s, w);
}

/* Every live replica that has applied the whole committed log holds the
 * same counter, equal to the number of distinct ids applied; acknowledged
 * ids are among them; retries of applied ids were absorbed. */
static void check_writes(struct sim *s)
{
    uint64_t applied_ids = 0;
    uint64_t acked = 0, retried = 0;
    struct node *ref = NULL;
    for (unsigned i = 0; i < s->n; i++) {
        if (ref == NULL || raft_last_applied(raft_of(&s->nodes[i])) >
                               raft_last_applied(raft_of(ref))) {
            ref = &s->nodes[i];
        }
    }
    for (size_t k = 0; k < s->n_writes; k++) {
        const unsigned char *rep;
        size_t len;
        struct sim_write *w = &s->writes[k];
        bool applied =
            radapter__dedup_get(&ref->shell->dedup, w->id, &rep, &len);
        applied_ids += applied;
        acked += w->acked;
        retried += w->attempts > 1;
        cr_assert(!w->acked || applied,
                  "seed %u: acknowledged write %llx is not applied", s->seed,
                  (unsigned long long)w->id);
    }
    cr_assert_eq((uint64_t)counter_of(ref), applied_ids,
                 "seed %u: counter %lld but %llu distinct ids applied "
                 "(a retry applied twice?)",
                 s->seed, (long long)counter_of(ref),
                 (unsigned long long)applied_ids);
    for (unsigned i = 0; i < s->n; i++) {
        struct node *n = &s->nodes[i];
        if (raft_last_applied(raft_of(n)) == raft_last_applied(raft_of(ref))) {
            cr_assert_eq(counter_of(n), counter_of(ref),
                         "seed %u: replicas %u and %u differ", s->seed, i + 1,
                         ref->i + 1);
        }
    }
    cr_assert_geq(applied_ids, acked);
    (void)retried;
}

/* ------------------------------------------------------------------------
 * Helpers for the scenarios.
 * ---------------------------------------------------------------------- */

static unsigned elect_ready(struct sim *s, unsigned i)
{
    raft_fixture_elect(&s->f, i);
    /* raft_fixture_elect raised the others' timeouts to make @i win; put
     * them back, or they would never start an election again. */
    set_timeouts(s);
    for (int k = 0; k < 100 && !ops_is_ready(&s->nodes[i]); k++) {
        run_for(s, 10);
    }
    cr_assert(ops_is_ready(&s->nodes[i]), "node %u never became ready", i + 1);
    return i;
}

/* The token of the latest attempt of @n's round in flight. */
static uint64_t cur_token(struct node *n)
{
    return n->rc
        .round_tokens[(n->rc.round_attempts - 1) % RADAPTER_ROUND_ATTEMPTS];
}

static uint64_t rounds_confirmed(struct sim *s, unsigned i)
{
    return s->nodes[i].rc.rounds_confirmed;
}

/* ------------------------------------------------------------------------
 * Scenarios.
 * ---------------------------------------------------------------------- */

Test(sim, reads_on_leader_and_followers)
{
    struct sim *s = sim_new(3, 1);
    elect_ready(s, 0);
    for (int k = 0; k < 5; k++) {
        issue_write(s);
    }
    run_for(s, 300);
    struct sim_read *a = issue_read(s, 0, 1000);
    struct sim_read *b = issue_read(s, 1, 1000);
    struct sim_read *c = issue_read(s, 2, 1000);
    run_for(s, 300);
    cr_assert(a->done && a->status == 0);
    cr_assert(b->done && b->status == 0);
    cr_assert(c->done && c->status == 0);
    cr_assert_eq(a->value, 5);
    cr_assert_eq(b->value, 5);
    cr_assert_eq(c->value, 5);
    cr_assert_geq(rounds_confirmed(s, 0), 1);
    check_reads(s);
    check_writes(s);
    sim_free(s);
}

/* A probe acknowledgement from an earlier attempt never confirms a later
 * one: acks echo the attempt's token, and a token is never reused, not
 * even by a retry (etcd issue 20418). */
Test(sim, late_ack_of_earlier_round_never_confirms_later)
{
    struct sim *s = sim_new(3, 2);
    elect_ready(s, 0);
    struct node *l = &s->nodes[0];
    uint64_t term = raft_current_term(raft_of(l));

    /* Round 1 starts; hold the followers' acks back. */
    struct sim_read *r1 = issue_read(s, 0, 2000);
    cr_assert(l->rc.round_inflight);
    uint64_t t1 = cur_token(l);
    uint64_t confirmed = l->rc.rounds_confirmed;
    /* An ack of a token this leader never sent, and one for the right token
     * but another term, change nothing. */
    radapter__rc_on_msg(&l->rc, 2, PROTO_PEER_ACK, t1 ^ 1, term, 0);
    radapter__rc_on_msg(&l->rc, 3, PROTO_PEER_ACK, t1, term + 1, 0);
    cr_assert_eq(l->rc.rounds_confirmed, confirmed);
    /* Deliver the round's own acks: it confirms. */
    run_for(s, 100);
    cr_assert(r1->done && r1->status == 0);
    cr_assert_eq(l->rc.rounds_confirmed, confirmed + 1);

    /* Round 2: a new token; replaying round 1's acks (late frames) from both
     * followers must not confirm it. */
    struct sim_read *r2 = issue_read(s, 0, 2000);
    cr_assert(l->rc.round_inflight);
    cr_assert_neq(cur_token(l), t1);
    radapter__rc_on_msg(&l->rc, 2, PROTO_PEER_ACK, t1, term, 0);
    radapter__rc_on_msg(&l->rc, 3, PROTO_PEER_ACK, t1, term, 0);
    cr_assert(!r2->done);
    cr_assert_eq(l->rc.rounds_confirmed, confirmed + 1);
    run_for(s, 100);
    cr_assert(r2->done && r2->status == 0);
    check_reads(s);
    sim_free(s);
}

/* Answers slower than the retry interval still confirm: the acks to every
 * attempt of a round count, and a follower's retry of the same round keeps
 * its place in the leader's round. (Counting only the latest attempt never
 * confirmed a follower read here: each retry discarded the answer to the
 * one before.) */
Test(sim, round_trip_longer_than_retry_interval)
{
    struct sim *s = sim_new(3, 8);
    elect_ready(s, 0);
    s->latency = 4 * HEARTBEAT; /* each way; the retry interval is HEARTBEAT */
    issue_write(s);
    run_for(s, 300);
    struct sim_read *a = issue_read(s, 0, 2000);
    struct sim_read *b = issue_read(s, 1, 2000);
    run_for(s, 2500);
    cr_assert(a->done && a->status == 0, "leader read: %d", a->status);
    cr_assert(b->done && b->status == 0, "follower read: %d", b->status);
    cr_assert_eq(b->value, 1);
    cr_assert_gt(s->nodes[1].rc.rounds_retried, 0);
    check_reads(s);
    sim_free(s);
}

static bool hold_acks_to_1(struct sim *s, const struct frame *fr)
{
    (void)s;
    return fr->type == PROTO_PEER_ACK && fr->to == 0;
}

static void release_held(struct sim *s)
{
    s->hold = NULL;
    for (size_t k = 0; k < s->qlen; k++) {
        if (s->q[k].held) {
            s->q[k].held = false;
            s->q[k].at = now_of(s);
        }
    }
}

/* Pauses node @i (SIGSTOP: no ticks, no frames) or resumes it. Reads that
 * wait on a paused node cannot end on time: they are exempt from the
 * deadline check (a real process cannot answer while stopped either). */
static void pause_node(struct sim *s, unsigned i, bool pause)
{
    if (pause) {
        for (size_t k = 0; k < s->n_reads; k++) {
            if (s->reads[k].n->i == i && !s->reads[k].done) {
                s->reads[k].deadline = UINT64_MAX - STEP_SLACK;
            }
        }
        raft_fixture_kill(&s->f, i);
    } else {
        raft_fixture_revive(&s->f, i);
    }
}

static int ready_leader(struct sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (raft_fixture_alive(&s->f, i) && ops_is_ready(&s->nodes[i])) {
            return (int)i;
        }
    }
    return -1;
}

/* etcd 20418's scenario, with a paused leader: the followers' acks to a
 * round are delayed in the network; the leader is paused; the others elect
 * a new leader and commit a write; the old leader resumes, still believing
 * it leads, gets a read, and only then do the late acks arrive. They may
 * confirm the read they were for (issued before the write: any value is
 * linearizable), never the new one: that read fails or, once the old
 * leader has learnt of the new one, is served through it with the new
 * value. */
Test(sim, paused_leader_with_late_acks_never_serves_stale)
{
    struct sim *s = sim_new(3, 3);
    elect_ready(s, 0);
    issue_write(s);
    run_for(s, 200);
    cr_assert_eq(s->acked_value, 1);

    s->hold = hold_acks_to_1;
    struct sim_read *r1 = issue_read(s, 0, 4000);
    run_for(s, 20); /* probes out, the acks held in the network */
    cr_assert(!r1->done);
    pause_node(s, 0, true);
    for (int k = 0; k < 100 && ready_leader(s) < 0; k++) {
        run_for(s, 50);
    }
    cr_assert_geq(ready_leader(s), 1, "no new leader while node 1 is paused");
    issue_write(s);
    for (int k = 0; k < 100 && s->acked_value < 2; k++) {
        run_for(s, 20);
    }
    cr_assert_eq(s->acked_value, 2);

    pause_node(s, 0, false);
    struct node *old = &s->nodes[0];
    cr_assert(ops_is_ready(old),
              "the resumed node should still think it leads");
    struct sim_read *r2 = issue_read(s, 0, 2000);
    release_held(s);
    run_for(s, 3000);
    cr_assert(r1->done && r2->done);
    if (r2->status == 0) {
        cr_assert_eq(r2->value, 2);
    }
    check_reads(s);
    check_writes(s);
    sim_free(s);
}

/* A leader cut off from the others serves no read from the moment it is
 * cut off: its rounds get no majority. The majority side elects a leader
 * whose reads, on it and on its followers, see every committed write. */
Test(sim, partitioned_leader_serves_nothing)
{
    struct sim *s = sim_new(5, 4);
    elect_ready(s, 0);
    issue_write(s);
    run_for(s, 200);
    isolate(s, 0, true);
    size_t first = s->n_reads;
    for (int k = 0; k < 10; k++) {
        issue_read(s, 0, 800);
        run_for(s, 30);
    }
    for (int k = 0; k < 100 && ready_leader(s) < 1; k++) {
        run_for(s, 50);
    }
    cr_assert_geq(ready_leader(s), 1);
    issue_write(s);
    run_for(s, 300);
    for (unsigned i = 1; i < 5; i++) {
        issue_read(s, i, 1000);
    }
    run_for(s, 1500);
    for (size_t k = first; k < first + 10; k++) {
        cr_assert(s->reads[k].done);
        cr_assert_neq(s->reads[k].status, 0,
                      "read %zu on the cut-off leader succeeded", k);
    }
    for (size_t k = first + 10; k < s->n_reads; k++) {
        cr_assert_eq(s->reads[k].status, 0, "read %zu on node %u: %d", k,
                     s->reads[k].n->i + 1, s->reads[k].status);
        cr_assert_eq(s->reads[k].value, 2);
    }
    isolate(s, 0, false);
    run_for(s, 1000);
    cr_assert_eq(counter_of(&s->nodes[0]), 2, "the old leader caught up");
    check_reads(s);
    check_writes(s);
    sim_free(s);
}

/* The bounded queue: past max-pending reads a read is refused at once,
 * nothing else grows, and every queued read ends by its deadline while the
 * followers are unreachable. */
Test(sim, queue_bound_and_deadlines_while_followers_unreachable)
{
    struct sim *s = sim_new(3, 5);
    elect_ready(s, 0);
    isolate(s, 1, true);
    isolate(s, 2, true);
    unsigned refused = 0;
    for (unsigned k = 0; k < MAX_PENDING + 20; k++) {
        if (issue_read(s, 0, 300 + k) == NULL) {
            refused++;
        }
    }
    cr_assert_eq(refused, 20);
    cr_assert_eq(s->nodes[0].rc.reads_refused, 20);
    run_for(s, 1000);
    cr_assert_eq(s->nodes[0].rc.heap_len, 0);
    for (size_t k = 0; k < s->n_reads; k++) {
        cr_assert(s->reads[k].done);
        cr_assert_neq(s->reads[k].status, 0);
    }
    check_reads(s);
    sim_free(s);
}

/* A write whose reply was lost, or whose outcome is unknown after a change
 * of leader, is retried with the same request id: the state machine
 * applies it once, identically on every replica. */
Test(sim, retried_writes_apply_once)
{
    struct sim *s = sim_new(3, 6);
    elect_ready(s, 0);
    for (int k = 0; k < 40; k++) {
        issue_write(s);
        run_for(s, 15);
        if (k == 15) {
            isolate(s, (unsigned)leader_index(s), true);
        }
        if (k == 30) {
            heal_all(s);
        }
    }
    heal_all(s);
    run_for(s, 6000);
    uint64_t hits = 0, lost = 0;
    for (unsigned i = 0; i < 3; i++) {
        hits += s->nodes[i].shell->dedup_hits;
    }
    for (size_t k = 0; k < s->n_writes; k++) {
        lost += s->writes[k].lost;
    }
    cr_assert_gt(lost, 0, "no reply was lost: the test proves nothing");
    cr_assert_gt(hits, 0, "no retry reached the state machine");
    check_writes(s);
    check_reads(s);
    sim_free(s);
}

/* Runs for @ms in 10 ms slices, each with freshly drawn election
 * timeouts: libraft draws each from [T, 2T); the fixture returns a value
 * we set, so we draw it from the seed. (A fixed draw that happens to be
 * equal on two servers would split their votes forever.) */
static void run_random(struct sim *s, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 10) {
        for (unsigned i = 0; i < s->n; i++) {
            raft_fixture_set_randomized_election_timeout(
                &s->f, i, ELECTION + (unsigned)rnd_below(s, ELECTION));
        }
        run_for(s, 10);
    }
}

/* Seeded random runs: reads on every node, writes with retries, and
 * faults (a node or the leader cut off, a node or the leader paused),
 * checked for stale reads, deadlines, the queue bound and single apply. */
static void campaign(unsigned n, unsigned seed, uint64_t duration)
{
    struct sim *s = sim_new(n, seed);
    int cut = -1, paused = -1;
    uint64_t heal_at = 0;
    uint64_t leaders = 0;
    int last_leader = -1;
    uint64_t leaderless_since = 0, max_leaderless = 0;

    elect_ready(s, 0);
    uint64_t end = now_of(s) + duration;
    while (now_of(s) < end) {
        uint64_t dice = rnd_below(s, 1000);
        unsigned who = (unsigned)rnd_below(s, n);
        if (dice < 300) {
            if (raft_fixture_alive(&s->f, who) && s->n_reads < MAX_READS - 8) {
                issue_read(s, who, 200 + rnd_below(s, 1500));
            }
        } else if (dice < 400) {
            if (s->n_writes < MAX_WRITES - 1) {
                issue_write(s);
            }
        } else if (dice < 415 && cut < 0 && paused < 0) {
            int l = leader_index(s);
            cut = (int)(dice & 1 && l >= 0 ? (unsigned)l : who);
            isolate(s, (unsigned)cut, true);
            heal_at = now_of(s) + 300 + rnd_below(s, 2000);
        } else if (dice < 425 && cut < 0 && paused < 0) {
            int l = leader_index(s);
            paused = (int)(dice & 1 && l >= 0 ? (unsigned)l : who);
            pause_node(s, (unsigned)paused, true);
            heal_at = now_of(s) + 300 + rnd_below(s, 1500);
        }
        if (heal_at != 0 && now_of(s) >= heal_at) {
            if (cut >= 0) {
                isolate(s, (unsigned)cut, false);
            }
            if (paused >= 0) {
                pause_node(s, (unsigned)paused, false);
            }
            cut = paused = -1;
            heal_at = 0;
        }
        run_random(s, 10);
        int l = leader_index(s);
        if (l >= 0 && l != last_leader) {
            leaders++;
            last_leader = l;
        }
        /* Elections under faults: one node at a time is cut off or paused,
         * so a majority always remains and a leader ready to serve must
         * emerge (split votes may take a few rounds). */
        if (ready_leader(s) < 0) {
            if (leaderless_since == 0) {
                leaderless_since = now_of(s);
            }
            uint64_t gap = now_of(s) - leaderless_since;
            max_leaderless = gap > max_leaderless ? gap : max_leaderless;
            cr_assert_leq(gap, 10 * ELECTION,
                          "seed %u: no ready leader for %llu ms", seed,
                          (unsigned long long)gap);
        } else {
            leaderless_since = 0;
        }
    }
    if (cut >= 0) {
        isolate(s, (unsigned)cut, false);
    }
    if (paused >= 0) {
        pause_node(s, (unsigned)paused, false);
    }
    run_random(s, 7000); /* every deadline and retry budget ends */
    cr_assert_geq(ready_leader(s), 0, "seed %u: no leader after healing", seed);
    check_reads(s);
    check_writes(s);
    cr_log_info(
        "seed %u, %u nodes: %zu reads (%llu ok, %llu failed), %zu "
        "writes, %llu leaders, longest without a ready leader %llu ms",
        seed, n, s->n_reads, (unsigned long long)s->reads_ok,
        (unsigned long long)s->reads_failed, s->n_writes,
        (unsigned long long)leaders, (unsigned long long)max_leaderless);
    cr_assert_gt(s->reads_ok, 0);
    sim_free(s);
}

/* Seeds first..first+count-1; RAFTKV_SIM_SEED=N replays one seed and
 * RAFTKV_SIM_SEEDS=K runs K seeds from the default first one (long
 * campaigns: README). */
static void seeds(unsigned *first, unsigned *count)
{
    const char *one = getenv("RAFTKV_SIM_SEED");
    const char *many = getenv("RAFTKV_SIM_SEEDS");
    if (one != NULL && *one != '\0') {
        *first = (unsigned)strtoul(one, NULL, 10);
        *count = 1;
    } else if (many != NULL && *many != '\0') {
        *count = (unsigned)strtoul(many, NULL, 10);
    }
}

Test(sim, campaign_3_nodes, .timeout = 0)
{
    unsigned first = 100, count = 40;
    seeds(&first, &count);
    for (unsigned seed = first; seed < first + count; seed++) {
        campaign(3, seed, 15000);
    }
}

Test(sim, campaign_5_nodes, .timeout = 0)
{
    unsigned first = 100000, count = 20;
    seeds(&first, &count);
    for (unsigned seed = first; seed < first + count; seed++) {
        campaign(5, seed, 15000);
    }
}

static void change_cb(struct raft_change *req, int status)
{
    int *out = req->data;
    *out = status == 0 ? 1 : -1;
}

/* One 10 ms slice of background load: maybe a read on a random live node,
 * maybe a write. */
static void load_slice(struct sim *s)
{
    uint64_t dice = rnd_below(s, 100);
    unsigned who = (unsigned)rnd_below(s, s->n);
    if (dice < 40 && raft_fixture_alive(&s->f, who) &&
        s->n_reads < MAX_READS - 8) {
        issue_read(s, who, 300 + rnd_below(s, 1200));
    } else if (dice < 55 && s->n_writes < MAX_WRITES - 1) {
        issue_write(s);
    }
    run_for(s, 10);
}

/* Changes the configuration on the current leader, one change at a time,
 * under load, until it commits. */
static void change(struct sim *s, unsigned id, int role, bool remove)
{
    struct raft_change req;
    int done = 0;
    for (int k = 0; k < 600 && done != 1; k++) {
        int l = leader_index(s);
        if (done == 0 && l >= 0 && ops_is_ready(&s->nodes[l])) {
            struct raft *r = raft_fixture_get(&s->f, (unsigned)l);
            req.data = &done;
            int rv = remove ? raft_remove(r, &req, id, change_cb)
                            : raft_assign(r, &req, id, role, change_cb);
            done = rv == 0 ? 0 : -1;
            if (rv == 0) {
                done = 2; /* in flight */
            }
        }
        if (done == -1) {
            done = 0; /* failed: try again on whoever leads */
        }
        load_slice(s);
    }
    cr_assert_eq(done, 1, "seed %u: configuration change never committed",
                 s->seed);
}

/* Reads and writes across configuration changes, one at a time as libraft
 * makes them: a spare promoted to voter, a voter removed, then the leader
 * cut off. The read path counts a majority of the configuration it sees;
 * with one change at a time any two successive majorities overlap. */
Test(sim, reads_across_membership_changes, .timeout = 120)
{
    for (unsigned seed = 300; seed < 310; seed++) {
        struct sim *s = sim_new_cfg(5, 3, seed);
        elect_ready(s, 0);
        for (int k = 0; k < 30; k++) {
            load_slice(s);
        }
        change(s, 4, RAFT_VOTER, false);
        change(s, 5, RAFT_VOTER, false);
        for (int k = 0; k < 50; k++) {
            load_slice(s);
        }
        change(s, 2, 0, true);
        int l = leader_index(s);
        cr_assert_geq(l, 0);
        isolate(s, (unsigned)l, true);
        for (int k = 0; k < 200; k++) {
            load_slice(s);
        }
        isolate(s, (unsigned)l, false);
        for (int k = 0; k < 50; k++) {
            load_slice(s);
        }
        run_for(s, 7000);
        check_reads(s);
        check_writes(s);
        cr_assert_gt(s->reads_ok, 0);
        uint64_t v = radapter__count_voters(raft_of(&s->nodes[4]));
        cr_assert_eq(v, 4, "seed %u: %llu voters", seed, (unsigned long long)v);
        cr_log_info(
            "seed %u: %zu reads (%llu ok), %zu writes, membership "
            "changes at 3 -> 4 -> 5 -> 4 voters",
            seed, s->n_reads, (unsigned long long)s->reads_ok, s->n_writes);
        sim_free(s);
    }
}

/* The checks above would catch a stale read: a read served on a leader cut
 * off from a majority without verification (what a lease without clock
 * bounds, or a reused probe token, would allow) is flagged. */
Test(sim, stale_read_is_detected)
{
    struct sim *s = sim_new(3, 7);
    elect_ready(s, 0);
    isolate(s, 0, true);
    for (int k = 0; k < 100 && ready_leader(s) < 1; k++) {
        run_for(s, 50);
    }
    issue_write(s);
    run_for(s, 300);
    cr_assert_eq(s->acked_value, 1);
    struct sim_read fake;
    memset(&fake, 0, sizeof fake);
    fake.n = &s->nodes[0];
    fake.commit_floor = commit_anywhere(s);
    fake.acked_floor = s->acked_value;
    read_cb(&fake, 0); /* served locally, unverified */
    cr_assert_eq(s->stale, 1);
    sim_free(s);
}
