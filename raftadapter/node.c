/* Node lifecycle: data dir lock, raft + raft_uv setup, bootstrap, the
 * per-iteration duties, leadership tracking, shutdown and state reporting.
 *
 * Happy path: radapter_new locks the data dir, initialises raft_uv and raft
 * and bootstraps a one-node configuration on an empty dir; radapter_start
 * loads snapshot and log (libraft applies what is committed) and the node
 * elects itself. A prepare handle runs once per loop iteration: it notices
 * leadership changes recorded by step_cb, proposes the "ready" barrier of a
 * new term, flushes group-committed proposals and moves reads along.
 *
 * Failure modes: a second process on the same dir gets RADAPTER_ELOCKED; a
 * damaged dir makes raft_start fail and we report libraft's message, which
 * names the file (auto-recovery is off, so nothing is moved aside silently);
 * a failed term or vote write aborts the process (libraft would otherwise
 * swallow it and act on a vote it never persisted). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "raftadapter/radapter.h"
#include "raftadapter/radapter_internal.h"

/* ------------------------------------------------------------------------
 * Helpers.
 * ---------------------------------------------------------------------- */

static char last_error[1024];

const char *radapter_last_error(void)
{
    return last_error;
}

static void set_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

int64_t radapter__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes @s as a JSON string body (without quotes) to @f. */
static void json_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
}

static int min_level = 1;

void radapter_set_log_level(int level)
{
    min_level = level;
}

static int level_rank(const char *level)
{
    return strcmp(level, "debug") == 0  ? 0
           : strcmp(level, "info") == 0 ? 1
           : strcmp(level, "warn") == 0 ? 2
                                        : 3;
}

/* One JSON object per line on stderr, the same shape as the server's log:
 * ts, level, event, then a "msg" field. */
void radapter__log(const char *level, const char *event, const char *fmt, ...)
{
    if (level_rank(level) < min_level) {
        return;
    }
    char msg[1024];
    char ts[64];
    struct timespec now;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr,
            "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\","
            "\"module\":\"raft\",\"msg\":\"",
            ts, now.tv_nsec / 1000000, level, event);
    json_escape(stderr, msg);
    fputs("\"}\n", stderr);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp) {
        return -ENAMETOOLONG;
    }
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

/* Translates a libraft code at our boundary (STYLE §6.4). */
static int from_raft(int rv)
{
    switch (rv) {
        case 0:
            return 0;
        case RAFT_NOMEM:
            return -ENOMEM;
        case RAFT_NOTLEADER:
            return RADAPTER_ENOTLEADER;
        case RAFT_LEADERSHIPLOST:
            return RADAPTER_EUNKNOWN;
        case RAFT_SHUTDOWN:
            return RADAPTER_ESHUTDOWN;
        case RAFT_CORRUPT:
        case RAFT_MALFORMED:
            return RADAPTER_ECORRUPT;
        case RAFT_IOERR:
        case RAFT_NOSPACE:
            return RADAPTER_EIO;
        default:
            return -EINVAL;
    }
}

/* ------------------------------------------------------------------------
 * State queries.
 * ---------------------------------------------------------------------- */

bool radapter__is_leader(struct radapter *r)
{
    return r->started && !r->closing && raft_state(&r->raft) == RAFT_LEADER &&
           raft_transferee(&r->raft) == 0;
}

bool radapter__is_ready(struct radapter *r)
{
    return radapter__is_leader(r) &&
           r->ready_term == raft_current_term(&r->raft);
}

bool radapter__other_leader(struct radapter *r)
{
    raft_id id = 0;
    const char *addr = NULL;
    if (!r->started) {
        return false;
    }
    raft_leader(&r->raft, &id, &addr);
    return id != 0 && id != r->cfg.id;
}

uint64_t radapter__voters(struct radapter *r)
{
    return radapter__count_voters(&r->raft);
}

/* ------------------------------------------------------------------------
 * Persistence guards (libraft notes, rule 11).
 * ---------------------------------------------------------------------- */

struct radapter *radapter__from_io(struct raft_io *io)
{
    /* io is a member of struct radapter, so the result is aligned. */
    return (struct radapter *)(void *)((char *)io -
                                       offsetof(struct radapter, io));
}

/* Fail-stop on a disk error: the message names what failed, and the exit
 * status (RADAPTER_EXIT_DISK) tells a supervisor why. No graceful close:
 * libraft cannot be closed cleanly after a failed write (notes, rule 10),
 * and a leader that keeps running without a working log would hang its
 * clients. _exit, not exit: nothing may run that could write more. */
static void fail_stop_msg(const char *what, const char *why)
{
    radapter__log("error", "disk_error",
                  "%s failed: %s; stopping now (fail-stop, exit status %d) so "
                  "that another node can lead",
                  what, why, RADAPTER_EXIT_DISK);
    fflush(NULL);
    _exit(RADAPTER_EXIT_DISK);
}

static void fail_stop(const char *what, int rv)
{
    fail_stop_msg(what, raft_strerror(rv));
}

/* raft_uv never fails an append whose write failed: it logs "retry failed
 * write" to its tracer and retries on a timer wired to the wrong handle,
 * which crashes the process disk_retry ms later (notes, rule 10). The
 * tracer is the only place the failure shows, so a failed write stops the
 * node here, cleanly and at once. Nothing else is done here: libraft also
 * traces from its thread pool, into one shared static buffer. */
static void tracer_emit(struct raft_tracer *t, int type, const void *data)
{
    const struct raft_tracer_info *info = data;
    static const char failed[] = "retry failed write";
    (void)t;
    if (type != RAFT_TRACER_DIAGNOSTIC || info == NULL ||
        info->diagnostic.message == NULL) {
        return;
    }
    if (strncmp(info->diagnostic.message, failed, sizeof(failed) - 1) == 0) {
        fail_stop_msg("writing the raft log", info->diagnostic.message);
    }
}

/* raft_uv also retries a segment it failed to create, forever, while the
 * appends waiting for it hang: an append outstanding longer than
 * disk_stall_ms means the disk is gone (called from the cron timer). */
static void check_disk_stall(struct radapter *r)
{
    struct radapter__timed *t = r->appends_head;
    uint64_t limit = (uint64_t)r->cfg.disk_stall_ms * 1000000u;
    if (t == NULL || limit == 0 || r->closing) {
        return;
    }
    uint64_t age = uv_hrtime() - t->start_ns;
    if (age > limit) {
        char why[128];
        snprintf(why, sizeof why,
                 "an append has been outstanding for %llu ms (limit %u ms)",
                 (unsigned long long)(age / 1000000u), r->cfg.disk_stall_ms);
        fail_stop_msg("writing the raft log", why);
    }
}

static int guarded_set_term(struct raft_io *io, raft_term term)
{
    struct radapter *r = radapter__from_io(io);
    int rv = r->orig_set_term(io, term);
    if (rv != 0) {
        (void)term;
        fail_stop("persisting the term", rv);
    }
    return 0;
}

static int guarded_set_vote(struct raft_io *io, raft_id id)
{
    struct radapter *r = radapter__from_io(io);
    int rv = r->orig_set_vote(io, id);
    if (rv != 0) {
        (void)id;
        fail_stop("persisting the vote", rv);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Late duties.
 * ---------------------------------------------------------------------- */

void radapter__duty_arm(struct radapter *r,
                        struct radapter__duty *d,
                        uint64_t delay_ms)
{
    (void)r;
    d->due_ns = uv_hrtime() + delay_ms * 1000000u;
}

void radapter__duty_ran(struct radapter *r, struct radapter__duty *d)
{
    uint64_t now = uv_hrtime();
    if (d->due_ns != 0 && r->cfg.duty_observer != NULL) {
        r->cfg.duty_observer(r->cfg.duty_observer_arg, d->name,
                             now > d->due_ns ? now - d->due_ns : 0);
    }
    d->due_ns = d->period_ns != 0 ? now + d->period_ns : 0;
}

/* libraft's tick (heartbeats, election timers) runs every heartbeat
 * interval from raft_uv's timer; ours wraps it to see how late it runs. */
static void watched_tick(struct raft_io *io)
{
    struct radapter *r = radapter__from_io(io);
    radapter__duty_ran(r, &r->tick_duty);
    r->raft_tick(io);
}

static int watched_start(struct raft_io *io,
                         unsigned msecs,
                         raft_io_tick_cb tick,
                         raft_io_recv_cb recv)
{
    struct radapter *r = radapter__from_io(io);
    r->raft_tick = tick;
    r->tick_duty.period_ns = (uint64_t)msecs * 1000000u;
    radapter__duty_arm(r, &r->tick_duty, msecs);
    return r->orig_start(io, msecs, watched_tick, recv);
}

/* ------------------------------------------------------------------------
 * Log append timing: every append (a write and an fsync, O_DSYNC in
 * raft_uv) is timed from the call to its callback, for the fsync-latency
 * histogram. raft_uv completes appends in order, so the match is almost
 * always the oldest entry.
 * ---------------------------------------------------------------------- */

static void timed_unlink(struct radapter *r, struct radapter__timed *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        r->appends_head = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    } else {
        r->appends_tail = t->prev;
    }
}

static void timed_link(struct radapter *r, struct radapter__timed *t)
{
    t->next = NULL;
    t->prev = r->appends_tail;
    if (r->appends_tail != NULL) {
        r->appends_tail->next = t;
    } else {
        r->appends_head = t;
    }
    r->appends_tail = t;
}

static void timed_append_cb(struct raft_io_append *req, int status)
{
    struct radapter__timed *t = req->data;
    struct radapter *r = t->r;
    uint64_t ns = uv_hrtime() - t->start_ns;
    raft_io_append_cb cb = t->cb;
    req->data = t->data;
    timed_unlink(r, t);
    free(t);
    if (status == RAFT_CANCELED && r->closing) {
        cb(req, status); /* raft_close cancels what is queued */
        return;
    }
    if (status != 0) {
        fail_stop("writing the raft log", status);
    }
    r->appends++;
    if (ns > r->append_max_ns) {
        r->append_max_ns = ns;
    }
    if (r->cfg.append_observer != NULL) {
        r->cfg.append_observer(r->cfg.append_observer_arg, ns);
    }
    cb(req, status);
}

static int timed_append(struct raft_io *io,
                        struct raft_io_append *req,
                        const struct raft_entry entries[],
                        unsigned n,
                        raft_io_append_cb cb)
{
    struct radapter *r = radapter__from_io(io);
    struct radapter__timed *t = malloc(sizeof *t);
    int rv;
    if (t == NULL) {
        return r->orig_append(io, req, entries, n, cb); /* untimed */
    }
    t->r = r;
    t->data = req->data;
    t->cb = cb;
    t->start_ns = uv_hrtime();
    req->data = t;
    timed_link(r, t);
    rv = r->orig_append(io, req, entries, n, timed_append_cb);
    if (rv != 0) {
        req->data = t->data;
        timed_unlink(r, t);
        free(t);
    }
    return rv;
}

/* ------------------------------------------------------------------------
 * Per-iteration duties.
 * ---------------------------------------------------------------------- */

/* libraft calls this after every raft event, sometimes from inside
 * raft_apply or raft_barrier: record only (notes, rule 12). */
static void step_cb(struct raft *raft)
{
    (void)raft;
}

static void ready_cb(struct raft_barrier *req, int status)
{
    struct radapter *r = req->data;
    r->ready_inflight = false;
    if (status == 0 && radapter__is_leader(r) &&
        raft_current_term(&r->raft) == r->ready_req_term) {
        /* An entry of this term is committed and applied, so everything any
         * earlier leader committed is applied here too (Raft §8). */
        r->ready_term = r->ready_req_term;
        radapter__log(
            "info", "leader_ready", "leader ready in term %llu at index %llu",
            (unsigned long long)r->ready_term, raft_last_applied(&r->raft));
    }
    radapter__reads_process(r);
}

static void track_leadership(struct radapter *r)
{
    int state = (int)raft_state(&r->raft);
    uint64_t term = raft_current_term(&r->raft);

    if (state != r->last_state || term != r->last_term) {
        if (state == RAFT_LEADER && r->last_state != RAFT_LEADER) {
            r->leader_changes++;
            radapter__log("info", "became_leader", "term %llu",
                          (unsigned long long)term);
        } else if (r->last_state == RAFT_LEADER && state != RAFT_LEADER) {
            r->leader_changes++;
            radapter__log("warn", "lost_leadership", "term %llu, now %s",
                          (unsigned long long)term, raft_state_name(state));
        }
        r->last_state = state;
        r->last_term = term;
    }
    if (state == RAFT_LEADER && r->ready_term != term && !r->ready_inflight) {
        r->ready_req.data = r;
        r->ready_req_term = term;
        if (raft_barrier(&r->raft, &r->ready_req, ready_cb) == 0) {
            r->ready_inflight = true;
        }
    }
}

static void prepare_cb(uv_prepare_t *h)
{
    struct radapter *r = h->data;
    if (r->closing || !r->started) {
        return;
    }
    track_leadership(r);
    radapter__propose_flush(r);
    radapter__reads_process(r);
}

/* Runs right after the poll phase, where a log write completes: the batch
 * held while it was outstanding (propose.c) goes to disk at once, not after
 * the replies are flushed and the timers run in the next iteration. */
static void check_cb(uv_check_t *h)
{
    struct radapter *r = h->data;
    if (r->closing || !r->started) {
        return;
    }
    radapter__propose_flush(r);
}

static void cron_cb(uv_timer_t *h)
{
    struct radapter *r = h->data;
    if (r->closing || !r->started) {
        return;
    }
    radapter__duty_ran(r, &r->cron_duty);
    check_disk_stall(r);
    radapter__expire_cycle(r);
    radapter__forward_tick(r);
    radapter__join_tick(r);
    radapter__addrs_tick(r);
    kv_store_rehash_step(r->store, 100);
}

/* ------------------------------------------------------------------------
 * Lifecycle.
 * ---------------------------------------------------------------------- */

void radapter_config_default(struct radapter_config *c)
{
    memset(c, 0, sizeof *c);
    c->id = 1;
    c->heartbeat_ms = 100;
    c->election_ms = 1000;
    c->snapshot_threshold = 8192;
    c->snapshot_trailing = 8192;
    c->max_inflight = 64;
    c->max_batch_bytes = 1024 * 1024;
    c->max_pending_writes = 100000;
    c->verify_timeout_ms = 5000;
    c->max_pending_reads = 10000;
    c->disk_stall_ms = 10000;
    c->snapshot_fork = true;
    c->max_bulk_len = 512ull * 1024 * 1024;
}

static int lock_dir(struct radapter *r)
{
    char path[4096];
    int fd;
    snprintf(path, sizeof path, "%s/LOCK", r->data_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_error("cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(fd);
        if (err == EWOULDBLOCK) {
            set_error("data dir %s is locked by another process (%s)",
                      r->data_dir, path);
            return RADAPTER_ELOCKED;
        }
        set_error("cannot lock %s: %s", path, strerror(err));
        return -err;
    }
    r->lock_fd = fd;
    return 0;
}

static int setup_raft(struct radapter *r)
{
    int rv;

    rv = radapter__transport_init(&r->transport, r, r->loop);
    if (rv != 0) {
        set_error("raft transport init failed: %s", raft_strerror(rv));
        return from_raft(rv);
    }
    rv = raft_uv_init(&r->io, r->loop, r->raft_dir, &r->transport.outer);
    if (rv != 0) {
        set_error("raft storage init failed in %s: %s", r->raft_dir,
                  r->io.errmsg);
        radapter__transport_fini(&r->transport);
        return rv == RAFT_CORRUPT ? RADAPTER_ECORRUPT : from_raft(rv);
    }
    /* Never move a damaged segment aside silently (notes, rule 14). */
    raft_uv_set_auto_recovery(&r->io, false);
    r->tracer.impl = r;
    r->tracer.version = 2;
    r->tracer.emit = tracer_emit;
    raft_uv_set_tracer(&r->io, &r->tracer);
    r->orig_set_term = r->io.set_term;
    r->orig_set_vote = r->io.set_vote;
    r->io.set_term = guarded_set_term;
    r->io.set_vote = guarded_set_vote;
    r->orig_append = r->io.append;
    r->io.append = timed_append;
    r->orig_start = r->io.start;
    r->io.start = watched_start;
    r->orig_snapshot_put = r->io.snapshot_put;
    r->io.snapshot_put = radapter__snapfork_put;
    r->snapfork.fd = -1;
    r->tick_duty.name = "raft_tick";
    r->cron_duty.name = "active_expiry";
    r->cron_duty.period_ns = 100 * 1000000u;
    r->round_duty.name = "probe_round";

    radapter__fsm_init(r);
    rv = raft_init(&r->raft, &r->io, &r->fsm, r->cfg.id, r->peer_addr);
    if (rv != 0) {
        set_error("raft init failed: %s", raft_strerror(rv));
        raft_uv_close(&r->io);
        radapter__transport_fini(&r->transport);
        return from_raft(rv);
    }
    r->raft_inited = true;
    r->raft.data = r;
    r->raft.legacy.step_cb = step_cb;
    raft_set_heartbeat_timeout(&r->raft, r->cfg.heartbeat_ms);
    raft_set_election_timeout(&r->raft, r->cfg.election_ms);
    raft_set_pre_vote(&r->raft, true);
    raft_set_snapshot_threshold(&r->raft, r->cfg.snapshot_threshold);
    raft_set_snapshot_trailing(&r->raft, r->cfg.snapshot_trailing);
    /* Our own bound is cfg.max_inflight batches; let raft pipeline that many
     * plus the barriers (notes, rule 6). */
    raft_set_max_inflight_entries(&r->raft, r->cfg.max_inflight + 16);
    return 0;
}

static int bootstrap(struct radapter *r)
{
    struct raft_configuration conf;
    bool self_listed = r->cfg.n_members == 0;
    int rv = 0;

    raft_configuration_init(&conf);
    if (r->cfg.n_members == 0) {
        rv = raft_configuration_add(&conf, r->cfg.id, r->peer_addr, RAFT_VOTER);
    }
    for (size_t i = 0; rv == 0 && i < r->cfg.n_members; i++) {
        const struct radapter_member *m = &r->cfg.members[i];
        if (m->id == r->cfg.id) {
            self_listed = true;
            if (strcmp(m->peer_addr, r->peer_addr) != 0) {
                raft_configuration_close(&conf);
                set_error(
                    "the cluster configuration gives node %llu the "
                    "address %s but --peer is %s",
                    (unsigned long long)m->id, m->peer_addr, r->peer_addr);
                return -EINVAL;
            }
        }
        rv = raft_configuration_add(&conf, m->id, m->peer_addr, RAFT_VOTER);
    }
    if (rv != 0) {
        raft_configuration_close(&conf);
        set_error("invalid cluster configuration: %s", raft_strerror(rv));
        return -EINVAL;
    }
    if (!self_listed) {
        raft_configuration_close(&conf);
        set_error("this node's id %llu is not in the cluster configuration",
                  (unsigned long long)r->cfg.id);
        return -EINVAL;
    }
    rv = raft_bootstrap(&r->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP) {
        return 0; /* existing state: restart from it */
    }
    if (rv != 0) {
        set_error("raft bootstrap in %s failed: %s", r->raft_dir,
                  raft_errmsg(&r->raft));
        return from_raft(rv);
    }
    radapter__log("info", "bootstrap",
                  "bootstrapped a %zu-node cluster, this node is id %llu",
                  r->cfg.n_members > 0 ? r->cfg.n_members : 1,
                  (unsigned long long)r->cfg.id);
    return 0;
}

static void raft_close_early_cb(struct raft *raft)
{
    (void)raft;
}

int radapter_new(uv_loop_t *loop,
                 const struct radapter_config *cfg,
                 struct kv_store *store,
                 struct radapter **out)
{
    struct radapter *r;
    size_t n;
    int rv;

    last_error[0] = '\0';
    if (cfg->id == 0 || cfg->data_dir == NULL || cfg->peer_addr == NULL) {
        set_error("invalid raft configuration");
        return -EINVAL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return -ENOMEM;
    }
    r->loop = loop;
    r->cfg = *cfg;
    r->store = store;
    r->lock_fd = -1;
    r->last_state = RAFT_UNAVAILABLE;
    r->data_dir = strdup(cfg->data_dir);
    r->peer_addr = strdup(cfg->peer_addr);
    n = strlen(cfg->data_dir) + sizeof "/raft";
    r->raft_dir = malloc(n);
    if (r->data_dir == NULL || r->peer_addr == NULL || r->raft_dir == NULL) {
        rv = -ENOMEM;
        goto err_after_alloc;
    }
    snprintf(r->raft_dir, n, "%s/raft", cfg->data_dir);
    rv = mkdir_p(r->raft_dir);
    if (rv != 0) {
        set_error("cannot create %s: %s", r->raft_dir, strerror(-rv));
        goto err_after_alloc;
    }
    rv = lock_dir(r);
    if (rv != 0) {
        goto err_after_alloc;
    }
    rv = radapter__validate_dir(r->raft_dir, last_error, sizeof last_error);
    if (rv != 0) {
        goto err_after_lock;
    }
    rv = setup_raft(r);
    if (rv != 0) {
        goto err_after_lock;
    }
    if (cfg->join_addr != NULL && cfg->join_addr[0] != '\0') {
        /* Join instead of bootstrapping, unless this dir already has raft
         * state (a restart of a node that joined before). */
        char meta[4096];
        snprintf(meta, sizeof meta, "%s/metadata1", r->raft_dir);
        if (access(meta, F_OK) != 0 &&
            strlen(cfg->join_addr) < sizeof r->join_addr) {
            strcpy(r->join_addr, cfg->join_addr);
            radapter__log("info", "joining", "joining the cluster through %s",
                          r->join_addr);
        }
        rv = 0;
    } else {
        rv = bootstrap(r);
    }
    r->cfg.join_addr = NULL;
    snprintf(r->redis_addr, sizeof r->redis_addr, "%s",
             cfg->redis_addr != NULL ? cfg->redis_addr : "");
    snprintf(r->http_addr, sizeof r->http_addr, "%s",
             cfg->http_addr != NULL ? cfg->http_addr : "");
    r->cfg.redis_addr = r->cfg.http_addr = NULL;
    r->cfg.members = NULL; /* borrowed only for the bootstrap */
    r->cfg.n_members = 0;
    if (rv != 0) {
        goto err_after_raft;
    }
    radapter__reads_init(r);
    *out = r;
    return 0;

err_after_raft:
    /* raft_close before raft_start completes synchronously enough for the
     * process to exit; the caller exits on this error. */
    raft_close(&r->raft, raft_close_early_cb);
err_after_lock:
    close(r->lock_fd);
err_after_alloc:
    free(r->raft_dir);
    free(r->peer_addr);
    free(r->data_dir);
    free(r);
    return rv;
}

/* The snapshot libraft loads: the data file (not .meta) with the highest
 * index in its name, snapshot-TERM-INDEX-TIMESTAMP. */
static void newest_snapshot(const char *dir, char *out, size_t cap)
{
    unsigned long long best = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    out[0] = '\0';
    while (d != NULL && (e = readdir(d)) != NULL) {
        unsigned long long term;
        unsigned long long index;
        unsigned long long ts;
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "snapshot-", 9) != 0 ||
            (n > 5 && strcmp(e->d_name + n - 5, ".meta") == 0)) {
            continue;
        }
        if (sscanf(e->d_name, "snapshot-%llu-%llu-%llu", &term, &index, &ts) ==
                3 &&
            index >= best) {
            best = index;
            snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

int radapter_start(struct radapter *r)
{
    int rv;

    r->restore_error[0] = '\0';
    rv = raft_start(&r->raft);
    if (rv != 0) {
        if (r->listen_error[0] != '\0') {
            /* The peer port, not the data: say so, not "damaged". */
            set_error("peer port: %s", r->listen_error);
            return r->listen_errno < 0 ? r->listen_errno : -EADDRINUSE;
        }
        if (r->restore_error[0] != '\0') {
            char snap[2048];
            newest_snapshot(r->raft_dir, snap, sizeof snap);
            set_error("snapshot %s is damaged: %s",
                      snap[0] != '\0' ? snap : r->raft_dir, r->restore_error);
        } else {
            const char *why = raft_errmsg(&r->raft);
            set_error("raft could not load %s%s%s", r->raft_dir,
                      why[0] != '\0' ? ": " : "", why);
        }
        return rv == RAFT_NOMEM ? -ENOMEM : RADAPTER_ECORRUPT;
    }
    r->started = true;
    uv_prepare_init(r->loop, &r->prepare);
    r->prepare.data = r;
    uv_prepare_start(&r->prepare, prepare_cb);
    uv_check_init(r->loop, &r->check);
    r->check.data = r;
    uv_check_start(&r->check, check_cb);
    uv_timer_init(r->loop, &r->cron);
    r->cron.data = r;
    uv_timer_start(&r->cron, cron_cb, 100, 100);
    uv_timer_init(r->loop, &r->deadline_timer);
    r->deadline_timer.data = r;
    uv_timer_init(r->loop, &r->round_timer);
    r->round_timer.data = r;
    r->handles_open = 5;
    radapter__log("info", "raft_started",
                  "raft started: id %llu, dir %s, peer %s, last index %llu, "
                  "applied %llu",
                  (unsigned long long)r->cfg.id, r->raft_dir, r->peer_addr,
                  raft_last_index(&r->raft), raft_last_applied(&r->raft));
    return 0;
}

/* ------------------------------------------------------------------------
 * Shutdown: fail what waits, close raft (its callbacks fail what is in
 * flight), close our handles, then release everything.
 * ---------------------------------------------------------------------- */

static void finish_close(struct radapter *r)
{
    radapter__reads_fini(r);
    radapter__dedup_clear(&r->dedup);
    if (r->lock_fd >= 0) {
        close(r->lock_fd);
        r->lock_fd = -1;
    }
    if (r->close_cb != NULL) {
        r->close_cb(r);
    }
    free(r->raft_dir);
    free(r->peer_addr);
    free(r->data_dir);
    free(r);
}

void radapter__maybe_finish_close(struct radapter *r)
{
    if (r->closing && r->raft_closed && r->handles_open == 0 &&
        r->rpc_open == 0 && !r->snapfork.poll_open) {
        finish_close(r);
    }
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct radapter *r = h->data;
    r->handles_open--;
    radapter__maybe_finish_close(r);
}

static void raft_closed_cb(struct raft *raft)
{
    struct radapter *r = raft->data;
    /* raft_close tore down io and transport; release their memory. */
    raft_uv_close(&r->io);
    radapter__transport_fini(&r->transport);
    /* Anything the close left behind (requests never proposed). */
    radapter__propose_fail_all(r, RADAPTER_ESHUTDOWN);
    r->raft_closed = true;
    if (r->handles_open > 0) {
        uv_close((uv_handle_t *)&r->prepare, handle_closed_cb);
        uv_close((uv_handle_t *)&r->check, handle_closed_cb);
        uv_close((uv_handle_t *)&r->cron, handle_closed_cb);
        uv_close((uv_handle_t *)&r->deadline_timer, handle_closed_cb);
        uv_close((uv_handle_t *)&r->round_timer, handle_closed_cb);
        return;
    }
    radapter__maybe_finish_close(r); /* never started: no handles of ours */
}

void radapter_close(struct radapter *r, radapter_close_cb cb)
{
    if (r->closing) {
        return;
    }
    r->closing = true;
    r->close_cb = cb;
    radapter__reads_fail_all(r, RADAPTER_ESHUTDOWN);
    radapter__propose_fail_all(r, RADAPTER_ESHUTDOWN);
    /* Sent to the leader already: they may yet apply. */
    radapter__forward_fail_all(r, RADAPTER_EUNKNOWN);
    radapter__rpc_close_all(r);
    radapter__snapfork_close(r);
    raft_close(&r->raft, raft_closed_cb);
}

/* ------------------------------------------------------------------------
 * State reporting.
 * ---------------------------------------------------------------------- */

void radapter_get_info(struct radapter *r, struct radapter_info *out)
{
    raft_id leader = 0;
    const char *leader_addr = NULL;
    memset(out, 0, sizeof *out);
    out->id = r->cfg.id;
    out->leader_redis_addr = out->leader_http_addr = "";
    if (!r->started) {
        out->role = "unavailable";
        return;
    }
    switch (raft_state(&r->raft)) {
        case RAFT_LEADER:
            out->role = "leader";
            break;
        case RAFT_FOLLOWER:
            out->role = "follower";
            break;
        case RAFT_CANDIDATE:
            out->role = "candidate";
            break;
        default:
            out->role = "unavailable";
            break;
    }
    raft_leader(&r->raft, &leader, &leader_addr);
    out->term = raft_current_term(&r->raft);
    out->leader_id = leader;
    out->leader_addr = leader != 0 ? leader_addr : NULL;
    out->commit_index = raft_commit_index(&r->raft);
    out->applied_index = raft_last_applied(&r->raft);
    out->last_index = raft_last_index(&r->raft);
    out->snapshot_index = r->snapshot_index;
    out->snapshots = r->snapshots;
    out->ready = radapter__is_ready(r);
    out->voters = radapter__voters(r);
    out->pending_reads = r->rc.heap_len;
    out->pending_writes = r->pending_cmds;
    out->inflight_entries = r->inflight;
    out->entries_proposed = r->entries_proposed;
    out->commands_proposed = r->commands_proposed;
    out->reads_timed_out = r->rc.reads_timed_out;
    out->reads_max_late_ms = r->rc.reads_max_late_ms;
    out->reads_refused = r->rc.reads_refused;
    out->expired_keys = r->expired_keys;
    out->leader_changes = r->leader_changes;
    out->probes_sent = r->rc.probes_sent;
    out->rounds_confirmed = r->rc.rounds_confirmed;
    out->rounds_retried = r->rc.rounds_retried;
    out->remote_reads = r->rc.remote_reads;
    out->forwarded_writes = r->forwarded_writes;
    out->forward_retries = r->forward_retries;
    out->forward_unknown = r->forward_unknown;
    out->dedup_hits = r->dedup_hits;
    out->breaker_opened = r->breaker_opened;
    out->snapshot_last_ns = r->snapshot_last_ns;
    out->snapshot_total_ns = r->snapshot_total_ns;
    out->appends = r->appends;
    out->append_max_ns = r->append_max_ns;
    out->leader_redis_addr = out->leader_http_addr = "";
    if (leader != 0) {
        struct radapter_member_info m[RADAPTER_MAX_VOTERS];
        size_t n = radapter_get_members(r, m, RADAPTER_MAX_VOTERS);
        for (size_t i = 0; i < n; i++) {
            if (m[i].id == leader) {
                out->leader_redis_addr = m[i].redis_addr;
                out->leader_http_addr = m[i].http_addr;
            }
        }
    }
}
