/* Dispatch: central arity checks, and routing of writes through raft and
 * reads through leader verification before they touch kv.
 *
 * Happy path: a write is proposed and parsing continues (writes pipeline);
 * its reply is appended when its callback runs, and callbacks of one
 * connection run in proposal order. A read runs at once when the adapter
 * says it may (radapter_read_now), otherwise it waits in radapter_read and
 * runs in the callback.
 *
 * Ordering: any command other than an accepted write, on a connection with
 * writes in flight, is copied aside (the stash) and parsing stops; it runs
 * once the last write's callback has run, from the idle handle. Replies
 * therefore leave in request order.
 *
 * Failure modes: a proposal or read refused at once is answered at once
 * when nothing is in flight, else stashed and retried when the writes
 * finish; a refused callback status becomes an error reply (reply.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/http_internal.h"
#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

int64_t srv__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t next_random(struct srv_server *srv)
{
    /* xorshift64*: plenty for RANDOMKEY. */
    uint64_t x = srv->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    srv->rng = x;
    return x * UINT64_C(2685821657736338717);
}

void srv__stash_fini(struct srv__stash *s)
{
    free(s->argv);
    free(s->lens);
    free(s->blob);
    memset(s, 0, sizeof(*s));
}

/* Copies argv[0..argc) into @c's stash. Returns 0 or -ENOMEM. */
static int stash_copy(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    struct srv__stash *s = &c->stash;
    size_t total = 0;
    for (int i = 0; i < argc; i++) {
        total += lens[i] + 1;
    }
    if ((size_t)argc > s->argcap) {
        const char **nargv = realloc(s->argv, (size_t)argc * sizeof(*nargv));
        if (nargv == NULL) {
            return -ENOMEM;
        }
        s->argv = nargv;
        size_t *nlens = realloc(s->lens, (size_t)argc * sizeof(*nlens));
        if (nlens == NULL) {
            return -ENOMEM;
        }
        s->lens = nlens;
        s->argcap = (size_t)argc;
    }
    if (total > s->blobcap) {
        char *nblob = malloc(total);
        if (nblob == NULL) {
            return -ENOMEM;
        }
        free(s->blob);
        s->blob = nblob;
        s->blobcap = total;
    }
    char *p = s->blob;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], lens[i]);
        p[lens[i]] = '\0';
        s->argv[i] = p;
        s->lens[i] = lens[i];
        p += lens[i] + 1;
    }
    s->argc = argc;
    s->proto_err = 0;
    s->active = true;
    return 0;
}

/* Keeps the command aside until nothing is in flight. Returns false (stop
 * parsing). On out-of-memory the connection is closed: dropping a command
 * silently would break the reply order. */
static bool defer(struct srv_conn *c,
                  int argc,
                  const char *const *argv,
                  const size_t *lens)
{
    if (stash_copy(c, argc, argv, lens) != 0) {
        srv_log(SRV_LOG_ERROR, "stash_failed", "id=%llu error=%s",
                (unsigned long long)c->id, "out of memory");
        srv__conn_close(c);
    }
    return false;
}

/* Makes room to remember one more write's command. */
static int ring_reserve(struct srv_conn *c)
{
    if (c->inflight < c->ring_cap) {
        return 0;
    }
    size_t ncap = c->ring_cap == 0 ? 16 : c->ring_cap * 2;
    struct srv_cmd **n = malloc(ncap * sizeof(*n));
    uint64_t *nt = malloc(ncap * sizeof(*nt));
    if (n == NULL || nt == NULL) {
        free(n);
        free(nt);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->inflight; i++) {
        n[i] = c->ring[(c->ring_head + i) & (c->ring_cap - 1)];
        nt[i] = c->ring_ns[(c->ring_head + i) & (c->ring_cap - 1)];
    }
    free(c->ring);
    free(c->ring_ns);
    c->ring = n;
    c->ring_ns = nt;
    c->ring_cap = ncap;
    c->ring_head = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * Writes
 * ---------------------------------------------------------------------- */

static void write_done_cb(void *arg, int status, struct kv_reply *reply)
{
    struct srv_conn *c = arg;
    struct srv_cmd *cmd = c->ring[c->ring_head];
    srv__metrics_cmd(cmd, uv_hrtime() - c->ring_ns[c->ring_head]);
    c->ring_head = (c->ring_head + 1) & (c->ring_cap - 1);
    c->inflight--;

    if (c->state != SRV__CONN_OPEN) {
        if (reply != NULL) {
            kv_reply_fini(reply);
        }
        srv__conn_release(c);
        return;
    }
    if (status == 0 && reply != NULL) {
        if (reply->type == KV_REPLY_ERROR) {
            cmd->failed++;
        }
        srv_reply_kv(&c->out, c->resp, reply, cmd->name);
        kv_reply_fini(reply);
    } else {
        cmd->failed++;
        srv_reply_error_code(&c->out, status != 0 ? status : -ENOMEM, 0);
    }
    srv__conn_want_flush(c);
    if ((c->inflight == 0 && c->stash.active) ||
        (c->paused_cap && c->inflight <= SRV_MAX_INFLIGHT_WRITES / 2)) {
        srv__conn_schedule(c);
    }
}

/* ------------------------------------------------------------------------
 * Asynchronous server commands (RAFTKV NODE ...) complete like writes.
 * ---------------------------------------------------------------------- */

int srv__async_begin(struct srv_conn *c)
{
    return ring_reserve(c);
}

void srv__async_started(struct srv_conn *c)
{
    /* The ring holds the table's own (mutable) entry for the stats. */
    struct srv_cmd *cmd =
        srv_cmd_lookup(c->last_cmd->name, c->last_cmd->namelen);
    c->ring[(c->ring_head + c->inflight) & (c->ring_cap - 1)] = cmd;
    c->ring_ns[(c->ring_head + c->inflight) & (c->ring_cap - 1)] = uv_hrtime();
    c->inflight++;
}

void srv__async_done_cb(void *arg, int status, struct kv_reply *reply)
{
    write_done_cb(arg, status, reply);
}

/* Proposes a write. Returns true if parsing may continue. */
static bool run_write(struct srv_conn *c,
                      struct srv_cmd *cmd,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    struct srv_server *srv = c->srv;
    int rv = ring_reserve(c);
    if (rv == 0) {
        rv = radapter_propose(srv->ra, argc, argv, lens, write_done_cb, c);
    }
    if (rv == 0) {
        c->ring[(c->ring_head + c->inflight) & (c->ring_cap - 1)] = cmd;
        c->ring_ns[(c->ring_head + c->inflight) & (c->ring_cap - 1)] =
            uv_hrtime();
        c->inflight++;
        cmd->calls++;
        srv->stats.commands_processed++;
        return true;
    }
    if (c->inflight > 0) {
        /* The error must not overtake the replies still to come. */
        return defer(c, argc, argv, lens);
    }
    cmd->failed++;
    srv_reply_error_code(&c->out, rv, 0);
    return true;
}

/* ------------------------------------------------------------------------
 * Reads
 * ---------------------------------------------------------------------- */

static void exec_read(struct srv_conn *c,
                      struct srv_cmd *cmd,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    struct srv_server *srv = c->srv;
    struct kv_exec_ctx ctx;
    struct kv_reply r;

    ctx.now_ms = srv__now_ms();
    ctx.max_bulk_len = srv->cfg->proto_max_bulk_len;
    ctx.random = next_random(srv);
    ctx.scan_max_count = 0;
    ctx.work_budget = srv->cfg->heavy_command_budget;
    memset(&r, 0, sizeof(r));
    kv_exec(srv->store, &ctx, argc, argv, lens, &r);
    if (r.type == KV_REPLY_ERROR) {
        cmd->failed++;
        if (r.err == KV_ERR_BUSY) {
            srv->stats.heavy_rejections++;
        }
    } else if (r.type == KV_REPLY_NIL) {
        srv->stats.keyspace_misses++;
    } else if (r.type == KV_REPLY_BULK) {
        srv->stats.keyspace_hits++;
    }
    srv_reply_kv(&c->out, c->resp, &r, cmd->name);
    kv_reply_fini(&r);
    cmd->calls++;
    srv->stats.commands_processed++;
}

static void read_done_cb(void *arg, int status)
{
    struct srv_conn *c = arg;
    struct srv__stash *s = &c->stash;
    c->read_waiting = false;
    if (c->state != SRV__CONN_OPEN) {
        return;
    }
    struct srv_cmd *cmd = srv_cmd_lookup(s->argv[0], s->lens[0]);
    srv__metrics_verify(status, uv_hrtime() - c->read_start_ns);
    if (status == 0) {
        exec_read(c, cmd, s->argc, s->argv, s->lens);
    } else {
        cmd->failed++;
        srv_reply_error_code(&c->out, status, 0);
    }
    srv__metrics_cmd(cmd, uv_hrtime() - c->read_start_ns);
    s->active = false;
    srv__conn_want_flush(c);
    srv__conn_schedule(c);
}

/* Runs a read now or queues it. Returns true if parsing may continue. */
static bool run_read(struct srv_conn *c,
                     struct srv_cmd *cmd,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     bool from_stash)
{
    struct srv_server *srv = c->srv;
    if (radapter_read_now(srv->ra)) {
        uint64_t t0 = uv_hrtime();
        exec_read(c, cmd, argc, argv, lens);
        srv__metrics_cmd(cmd, uv_hrtime() - t0);
        return true;
    }
    if (!from_stash && stash_copy(c, argc, argv, lens) != 0) {
        srv_reply_error_code(&c->out, -ENOMEM, 0);
        return true;
    }
    /* The connection's own deadline (RAFTKV TIMEOUT), else the cap; the
     * adapter caps it by verify-timeout-ms either way. */
    uint64_t wait = c->read_timeout_ms != 0 ? c->read_timeout_ms
                                            : srv->cfg->verify_timeout_ms;
    uint64_t deadline = uv_now(srv->loop) + wait;
    c->read_start_ns = uv_hrtime();
    int rv = radapter_read(srv->ra, &c->rreq, deadline, read_done_cb, c);
    if (rv != 0) {
        c->stash.active = false;
        cmd->failed++;
        srv_reply_error_code(&c->out, rv, 0);
        return true;
    }
    c->read_waiting = true;
    return false;
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------- */

static bool dispatch(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     bool from_stash)
{
    struct srv_server *srv = c->srv;
    struct srv_cmd *cmd = srv_cmd_lookup(argv[0], lens[0]);
    bool arity_ok = cmd != NULL && srv_cmd_arity_ok(cmd, argc);

    if (c->inflight > 0 && !(arity_ok && (cmd->kv_flags & KV_CMD_WRITE) != 0)) {
        return defer(c, argc, argv, lens);
    }
    if (cmd == NULL) {
        srv->stats.error_replies++;
        srv_reply_unknown_command(&c->out, argc, argv, lens);
        c->multi_dirty = c->in_multi; /* Redis aborts the transaction */
        return true;
    }
    if (!arity_ok) {
        cmd->rejected++;
        srv_reply_arity(&c->out, cmd->fullname);
        c->multi_dirty = c->in_multi;
        return true;
    }
    if (c->in_multi && srv__multi_queue(c, cmd, argc, argv, lens)) {
        return true;
    }
    if (cmd->subcmds != NULL && argc >= 2) {
        struct srv_cmd *sub = srv_cmd_lookup_sub(cmd, argv[1], lens[1]);
        if (sub == NULL) {
            char upper[32];
            size_t i = 0;
            for (; cmd->name[i] != '\0' && i < sizeof(upper) - 1; i++) {
                char ch = cmd->name[i];
                upper[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
            }
            upper[i] = '\0';
            srv_reply_unknown_subcommand(&c->out, argv[1], lens[1], upper);
            return true;
        }
        if (!srv_cmd_arity_ok(sub, argc)) {
            sub->rejected++;
            srv_reply_arity(&c->out, sub->fullname);
            return true;
        }
        cmd = sub;
    }
    c->last_cmd = cmd;
    if ((cmd->flags & SRV_CMD_DENYOOM) && srv__over_maxmemory(srv)) {
        /* As Redis: commands that may grow the dataset are refused above
         * maxmemory; reads, deletes and server commands still run. */
        srv->stats.oom_rejections++;
        srv->stats.error_replies++;
        cmd->rejected++;
        srv_reply_errorf(&c->out, "%s", kv_strerror(KV_ERR_NOMEM));
        return true;
    }
    if (cmd->kv_flags & KV_CMD_WRITE) {
        return run_write(c, cmd, argc, argv, lens);
    }
    if (cmd->kv_flags != 0) {
        return run_read(c, cmd, argc, argv, lens, from_stash);
    }
    cmd->calls++;
    srv->stats.commands_processed++;
    uint64_t t0 = uv_hrtime();
    cmd->handler(c, argc, argv, lens);
    srv__metrics_cmd(cmd, uv_hrtime() - t0);
    return c->state == SRV__CONN_OPEN && !c->close_after_reply;
}

bool srv__dispatch(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    return dispatch(c, argc, argv, lens, false);
}

bool srv__dispatch_stash(struct srv_conn *c)
{
    struct srv__stash *s = &c->stash;
    if (!s->active) {
        return true;
    }
    if (c->inflight > 0 || c->read_waiting) {
        return false;
    }
    if (s->proto_err != 0) {
        srv_reply_error_code(&c->out, s->proto_err, s->bad_byte);
        s->active = false;
        s->proto_err = 0;
        c->close_after_reply = true;
        srv__conn_want_flush(c);
        return false;
    }
    bool cont = dispatch(c, s->argc, s->argv, s->lens, true);
    if (!c->read_waiting) {
        s->active = false;
    }
    return cont && !c->read_waiting && c->state == SRV__CONN_OPEN;
}
