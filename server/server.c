/* The server's lifecycle: startup, the per-iteration handles, shutdown.
 *
 * Startup: listener, keyspace, raft node, handles; any failure prints one
 * clear line and exits 1, leaving nothing open (uv_loop_close succeeds).
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting and reading; wait until no
 * connection has a write or read in flight (bounded by a few seconds);
 * radapter_close; then close every connection and handle, so the loop
 * ends by itself and uv_loop_close returns 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "server/http_internal.h"
#include "server/srv_internal.h"

#define CRON_MS          100
#define DRAIN_MS         10
#define DRAIN_TIMEOUT_MS 5000

struct srv_server *srv__server;

/* ------------------------------------------------------------------------
 * Per-iteration handles
 * ---------------------------------------------------------------------- */

void srv__idle_cb(uv_idle_t *h)
{
    struct srv_server *srv = h->data;
    srv__conn_run_ready(srv);
    if (srv__list_empty(&srv->readyq)) {
        uv_idle_stop(h);
    }
}

static void prepare_cb(uv_prepare_t *h)
{
    struct srv_server *srv = h->data;
    srv__conn_flush_all(srv);
}

/* ------------------------------------------------------------------------
 * Shutdown
 * ---------------------------------------------------------------------- */

static void close_handles(struct srv_server *srv)
{
    srv__listener_close(srv);
    uv_close((uv_handle_t *)&srv->prepare, NULL);
    uv_close((uv_handle_t *)&srv->idle, NULL);
    uv_close((uv_handle_t *)&srv->cron, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
}

static void ra_closed_cb(struct radapter *r)
{
    struct srv_server *srv = srv__server;
    (void)r;
    srv->ra = NULL;
    srv__conn_flush_all(srv);
    srv__conn_close_all(srv);
    close_handles(srv);
    srv_log(SRV_LOG_INFO, "shutdown_complete", NULL);
}

static bool drained(struct srv_server *srv)
{
    for (struct srv__link *l = srv->conns.next; l != &srv->conns; l = l->next) {
        struct srv_conn *c = SRV__CONTAINER(l, struct srv_conn, link_all);
        if (c->inflight > 0 || c->read_waiting) {
            return false;
        }
    }
    /* The hand-over waits at most an election timeout: with the other
     * voters gone it cannot succeed, and they would elect by then anyway. */
    bool handing_over =
        srv->transferring &&
        uv_now(srv->loop) - srv->shutdown_start_ms < srv->cfg->election_ms;
    return srv->nzombies == 0 && !handing_over;
}

static void cron_cb(uv_timer_t *h)
{
    struct srv_server *srv = h->data;
    uint64_t now = uv_now(srv->loop);

    if (!srv->shutting_down) {
        uint64_t dt = now - srv->stats.ops_sample_time_ms;
        if (dt >= 1000) {
            uint64_t ops =
                srv->stats.commands_processed - srv->stats.ops_sample_count;
            srv->stats.ops_per_sec = ops * 1000 / dt;
            srv->stats.ops_sample_time_ms = now;
            srv->stats.ops_sample_count = srv->stats.commands_processed;
        }
        kv_store_rehash_step(srv->store, 100);
        srv__conn_cron(srv);
        return;
    }
    if (srv->ra_closing) {
        return;
    }
    if (drained(srv) || now - srv->shutdown_start_ms >= DRAIN_TIMEOUT_MS) {
        srv__conn_flush_all(srv);
        srv->ra_closing = true;
        uv_timer_stop(h);
        radapter_close(srv->ra, ra_closed_cb);
    }
}

static void shutdown_transfer_cb(void *arg, int status, struct kv_reply *reply)
{
    struct srv_server *srv = arg;
    if (reply != NULL) {
        kv_reply_fini(reply);
    }
    srv->transferring = false;
    srv_log(status == 0 ? SRV_LOG_INFO : SRV_LOG_WARN, "shutdown_transfer",
            "outcome=%s",
            status == 0 ? "another node leads" : srv_strerror(status));
}

void srv__shutdown_code(struct srv_server *srv, const char *reason, int code)
{
    struct radapter_info info;
    if (srv->shutting_down) {
        srv_log(SRV_LOG_WARN, "shutdown_in_progress", "reason=%s", reason);
        return;
    }
    srv_log(SRV_LOG_INFO, "shutdown", "reason=%s clients=%zu exit_code=%d",
            reason, srv->nconns, code);
    srv->shutting_down = true;
    srv->exit_code = code;
    srv->shutdown_start_ms = uv_now(srv->loop);
    srv__listener_close(srv);
    srv__http_close(srv);
    srv__watchdog_close(srv);
    srv__conn_stop_all(srv);
    /* A leader that leaves hands over first, so the cluster does not wait
     * an election timeout for a new one (bounded: the transfer gives up
     * after an election timeout, the drain after DRAIN_TIMEOUT_MS). */
    if (srv->ra != NULL) {
        radapter_get_info(srv->ra, &info);
        if (strcmp(info.role, "leader") == 0 && info.voters > 1 &&
            radapter_transfer(srv->ra, 0, shutdown_transfer_cb, srv) == 0) {
            srv->transferring = true;
        }
    }
    uv_timer_start(&srv->cron, cron_cb, 0, DRAIN_MS);
}

void srv__shutdown(struct srv_server *srv, const char *reason)
{
    srv__shutdown_code(srv, reason, 0);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    srv__shutdown(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ------------------------------------------------------------------------
 * Startup
 * ---------------------------------------------------------------------- */

static void fill_random(void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = getrandom((char *)buf + off, n - off, 0);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* No entropy source: degrade to the clock, loudly. */
            srv_log(SRV_LOG_WARN, "getrandom_failed", "error=%s",
                    strerror(errno));
            int64_t t = srv__now_ms();
            for (; off < n; off++) {
                ((unsigned char *)buf)[off] = (unsigned char)(t >> (off % 8));
            }
            return;
        }
        off += (size_t)k;
    }
}

static void fail(const char *event, const char *msg)
{
    srv_log(SRV_LOG_ERROR, event, "error=%s", msg);
    fprintf(stderr, "raftkv-server: %s\n", msg);
}

static int start_raft(struct srv_server *srv)
{
    struct radapter_config rc;
    struct srv_config *cfg = srv->cfg;
    char msg[512];

    radapter_config_default(&rc);
    rc.id = cfg->id;
    rc.data_dir = cfg->data_dir;
    rc.peer_addr = cfg->peer_addr;
    rc.heartbeat_ms = (unsigned)cfg->heartbeat_ms;
    rc.election_ms = (unsigned)cfg->election_ms;
    rc.snapshot_threshold = (unsigned)cfg->snapshot_threshold;
    rc.snapshot_trailing = (unsigned)cfg->snapshot_trailing;
    rc.max_inflight = (unsigned)cfg->max_inflight_entries;
    rc.max_batch_bytes = (size_t)cfg->max_batch_bytes;
    rc.max_pending_writes = (unsigned)cfg->max_pending_writes;
    rc.verify_timeout_ms = (unsigned)cfg->verify_timeout_ms;
    rc.max_pending_reads = (unsigned)cfg->max_pending_reads;
    rc.disk_stall_ms = (unsigned)cfg->disk_stall_timeout_ms;
    rc.snapshot_fork = strcasecmp(cfg->snapshot_fork, "yes") == 0;
    rc.max_bulk_len = cfg->proto_max_bulk_len;
    rc.join_addr = cfg->join;
    rc.append_observer = srv__watchdog_append;
    rc.append_observer_arg = srv;
    rc.duty_observer = srv__watchdog_duty;
    rc.duty_observer_arg = srv;
    rc.redis_addr = cfg->redis_addr;
    rc.http_addr = cfg->http_addr;

    /* The bootstrap voters, when --cluster names them (validated when the
     * option was set). */
    struct srv_cluster_member *cm = NULL;
    struct radapter_member *members = NULL;
    int n =
        srv_cluster_parse(cfg->cluster != NULL ? cfg->cluster : "", NULL, 0);
    if (n > 0) {
        cm = calloc((size_t)n, sizeof(*cm));
        members = calloc((size_t)n, sizeof(*members));
        if (cm == NULL || members == NULL) {
            free(cm);
            free(members);
            fail("startup_failed", "out of memory");
            return -ENOMEM;
        }
        srv_cluster_parse(cfg->cluster, cm, (size_t)n);
        for (int i = 0; i < n; i++) {
            members[i].id = cm[i].id;
            members[i].peer_addr = cm[i].peer_addr;
        }
        rc.members = members;
        rc.n_members = (size_t)n;
    }

    int rv = radapter_new(srv->loop, &rc, srv->store, &srv->ra);
    free(members);
    free(cm);
    if (rv != 0) {
        if (rv == RADAPTER_ELOCKED) {
            snprintf(msg, sizeof(msg), "data dir %s locked by another process",
                     cfg->data_dir);
        } else if (rv == RADAPTER_ECORRUPT) {
            snprintf(msg, sizeof(msg), "data dir %s is damaged: %s",
                     cfg->data_dir, radapter_last_error());
        } else {
            snprintf(msg, sizeof(msg), "cannot open data dir %s: %s (%s)",
                     cfg->data_dir, radapter_last_error(),
                     rv > -10000 ? strerror(-rv) : srv_strerror(rv));
        }
        fail("startup_failed", msg);
        srv->ra = NULL;
        return rv;
    }
    rv = radapter_start(srv->ra);
    if (rv != 0) {
        snprintf(msg, sizeof(msg), "cannot start raft: %s (%s)",
                 radapter_last_error(),
                 rv > -10000 ? strerror(-rv) : srv_strerror(rv));
        fail("startup_failed", msg);
        return rv;
    }
    return 0;
}

static void startup_ra_closed_cb(struct radapter *r)
{
    (void)r;
    srv__server->ra = NULL;
}

static int init_handles(struct srv_server *srv)
{
    uv_prepare_init(srv->loop, &srv->prepare);
    srv->prepare.data = srv;
    uv_prepare_start(&srv->prepare, prepare_cb);
    uv_idle_init(srv->loop, &srv->idle);
    srv->idle.data = srv;
    uv_timer_init(srv->loop, &srv->cron);
    srv->cron.data = srv;
    uv_timer_start(&srv->cron, cron_cb, CRON_MS, CRON_MS);
    uv_signal_init(srv->loop, &srv->sigterm);
    srv->sigterm.data = srv;
    uv_signal_start(&srv->sigterm, signal_cb, SIGTERM);
    uv_signal_init(srv->loop, &srv->sigint);
    srv->sigint.data = srv;
    uv_signal_start(&srv->sigint, signal_cb, SIGINT);
    return 0;
}

int srv_run(struct srv_config *cfg)
{
    struct srv_server *srv;
    uint8_t seed[16];
    unsigned char rid[20];
    char err[512];
    int rv;

    srv_log_set_level((enum srv_log_level)cfg->log_level);
    signal(SIGPIPE, SIG_IGN);
    srv_cmd_table_init();

    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        fail("startup_failed", "out of memory");
        goto err;
    }
    srv__server = srv;
    srv->cfg = cfg;
    srv->loop = uv_default_loop();
    srv->exit_code = 0;
    /* Loop utilization for the watchdog; must precede uv_run. */
    uv_loop_configure(srv->loop, UV_METRICS_IDLE_TIME);
    srv__list_init(&srv->conns);
    srv__list_init(&srv->flushq);
    srv__list_init(&srv->readyq);
    proto_limits_default(&srv->limits);
    srv->limits.max_bulk_len = cfg->proto_max_bulk_len;
    srv->start_ms = (uint64_t)srv__now_ms();
    fill_random(seed, sizeof(seed));
    fill_random(&srv->rng, sizeof(srv->rng));
    srv->rng |= 1;
    fill_random(rid, sizeof(rid));
    for (size_t i = 0; i < sizeof(rid); i++) {
        snprintf(srv->run_id + 2 * i, 3, "%02x", rid[i]);
    }

    rv = srv__listener_start(srv, err, sizeof(err));
    if (rv != 0) {
        fail("startup_failed", err);
        goto err_after_listener;
    }
    rv = srv__http_start(srv, err, sizeof(err));
    if (rv != 0) {
        fail("startup_failed", err);
        goto err_after_listener;
    }
    srv->store = kv_store_new(seed);
    if (srv->store == NULL) {
        fail("startup_failed", "out of memory");
        goto err_after_listener;
    }
    rv = start_raft(srv);
    if (rv != 0) {
        goto err_after_raft;
    }
    init_handles(srv);
    rv = srv__watchdog_start(srv);
    if (rv != 0) {
        fail("startup_failed", "cannot start the watchdog timers");
        srv__shutdown_code(srv, "startup", 1);
    }
    srv_log(SRV_LOG_INFO, "startup",
            "version=%s id=%llu data_dir=%s redis=%s port=%d peer=%s http=%s "
            "pid=%d",
            SRV_VERSION, (unsigned long long)cfg->id, cfg->data_dir,
            cfg->redis_addr, srv->tcp_port, cfg->peer_addr, cfg->http_addr,
            (int)getpid());

    uv_run(srv->loop, UV_RUN_DEFAULT);

    rv = uv_loop_close(srv->loop);
    if (rv != 0) {
        srv_log(SRV_LOG_WARN, "loop_close_failed", "error=%s", uv_strerror(rv));
    }
    kv_store_free(srv->store);
    srv__config_extra_fini(srv);
    rv = srv->exit_code;
    free(srv);
    srv__server = NULL;
    srv_config_fini(cfg);
    return rv;

err_after_raft:
    if (srv->ra != NULL) {
        radapter_close(srv->ra, startup_ra_closed_cb);
    }
err_after_listener:
    srv__http_close(srv);
    srv__listener_close(srv);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(srv->loop);
    if (srv->store != NULL) {
        kv_store_free(srv->store);
    }
    free(srv);
    srv__server = NULL;
err:
    srv_config_fini(cfg);
    return 1;
}
