/* The stall watch (issue 5): how close the node runs to its limits.
 *
 * - Event-loop lag: a timer due every SAMPLE_MS measures how late it runs.
 *   Each sample feeds the /metrics histogram; every loop-monitor-interval-ms
 *   the window's p50/p99/max/mean and the loop's utilization (from libuv's
 *   idle time) are logged as one "event_loop_lag" line and kept for
 *   /metrics and INFO.
 * - Late duties: raftadapter reports how late each periodic duty ran
 *   (libraft's tick, which sends heartbeats; active expiry; probe retries)
 *   and how long each snapshot held the loop. Late by more
 *   than the heartbeat interval logs "heartbeat_gap" with severity "warn";
 *   by more than the election timeout, "critical": followers may already
 *   have started an election.
 * - Slow disk: a raft log append slower than disk-slow-warn-ms logs
 *   "slow_disk" (at most once a second, with the count in between).
 * - Memory watch (off unless memory-shutdown-threshold-mb is set): RSS is
 *   read at start and every memory-poll-interval-ms; crossing the threshold
 *   starts exactly one graceful shutdown, which hands leadership over when
 *   this node leads, and the process exits with status 2.
 * - DEBUG SLEEP, behind enable-debug-command as in Redis 7, to reproduce a
 *   synchronous stall on purpose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/http_internal.h"
#include "server/srv_internal.h"

#define SAMPLE_MS 20u /* loop-lag sampling period */

/* Duties watched for lateness, in the order /metrics lists them. */
static const char *const duty_names[] = {
    "raft_tick",
    "active_expiry",
    "probe_round",
    "snapshot",
};
#define NDUTIES (sizeof(duty_names) / sizeof(duty_names[0]))

struct duty_stat
{
    uint64_t max_late_ns; /* worst lateness seen */
    uint64_t warn;        /* gaps above the heartbeat interval */
    uint64_t critical;    /* gaps above the election timeout */
};

static struct
{
    struct srv_server *srv;
    uv_timer_t sampler; /* loop lag, every SAMPLE_MS */
    uv_timer_t mem;     /* memory watch */
    bool sampler_open;  /* initialised, not closed */
    bool mem_open;
    uint64_t prev_ns; /* when the sampler last ran (hrtime) */
    uint64_t *win;    /* owned: this window's samples */
    size_t win_cap;
    size_t win_len;
    uint64_t win_start_ns; /* hrtime the window began */
    uint64_t win_idle_ns;  /* uv_metrics_idle_time then */
    struct srv_watchdog_stats st;
    struct duty_stat duties[NDUTIES];
    uint64_t slow_pending;  /* slow appends not yet logged */
    uint64_t slow_last_log; /* uv_now of the last slow_disk line */
    bool mem_fired;         /* the memory shutdown was started */
} w;

/* ------------------------------------------------------------------------
 * Late duties
 * ---------------------------------------------------------------------- */

static struct duty_stat *duty_of(const char *name)
{
    for (size_t i = 0; i < NDUTIES; i++) {
        if (strcmp(duty_names[i], name) == 0) {
            return &w.duties[i];
        }
    }
    return NULL;
}

void srv__watchdog_duty(void *arg, const char *duty, uint64_t late_ns)
{
    struct srv_server *srv = arg;
    struct duty_stat *d = duty_of(duty);
    uint64_t hb_ns = srv->cfg->heartbeat_ms * 1000000u;
    uint64_t el_ns = srv->cfg->election_ms * 1000000u;
    const char *severity = NULL;

    if (d == NULL) {
        return;
    }
    if (late_ns > d->max_late_ns) {
        d->max_late_ns = late_ns;
    }
    if (late_ns > el_ns) {
        d->critical++;
        severity = "critical";
    } else if (late_ns > hb_ns) {
        d->warn++;
        severity = "warn";
    }
    if (severity != NULL) {
        srv_log(late_ns > el_ns ? SRV_LOG_ERROR : SRV_LOG_WARN, "heartbeat_gap",
                "severity=%s duty=%s late_ms=%llu heartbeat_ms=%llu "
                "election_ms=%llu",
                severity, duty, (unsigned long long)(late_ns / 1000000u),
                (unsigned long long)srv->cfg->heartbeat_ms,
                (unsigned long long)srv->cfg->election_ms);
    }
}

/* ------------------------------------------------------------------------
 * Slow disk
 * ---------------------------------------------------------------------- */

void srv__watchdog_append(void *arg, uint64_t ns)
{
    struct srv_server *srv = arg;
    srv__metrics_append(arg, ns);
    if (ns <= srv->cfg->disk_slow_warn_ms * 1000000u) {
        return;
    }
    w.st.slow_appends++;
    w.slow_pending++;
    uint64_t now = uv_now(srv->loop);
    if (w.slow_last_log == 0 || now - w.slow_last_log >= 1000) {
        srv_log(SRV_LOG_WARN, "slow_disk",
                "op=raft_log_append latency_ms=%llu threshold_ms=%llu "
                "slow_since_last_report=%llu",
                (unsigned long long)(ns / 1000000u),
                (unsigned long long)srv->cfg->disk_slow_warn_ms,
                (unsigned long long)w.slow_pending);
        w.slow_pending = 0;
        w.slow_last_log = now;
    }
}

/* ------------------------------------------------------------------------
 * Event-loop lag
 * ---------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted @v (@n > 0). */
static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;
    return v[rank == 0 ? 0 : rank - 1];
}

static void close_window(struct srv_server *srv, uint64_t now)
{
    uint64_t idle = uv_metrics_idle_time(srv->loop);
    uint64_t elapsed = now - w.win_start_ns;
    uint64_t sum = 0;
    struct srv_watchdog_stats *st = &w.st;

    if (w.win_len == 0 || elapsed == 0) {
        return;
    }
    qsort(w.win, w.win_len, sizeof(w.win[0]), cmp_u64);
    for (size_t i = 0; i < w.win_len; i++) {
        sum += w.win[i];
    }
    st->windows++;
    st->lag_p50_ns = pct(w.win, w.win_len, 50);
    st->lag_p99_ns = pct(w.win, w.win_len, 99);
    st->lag_max_ns = w.win[w.win_len - 1];
    st->lag_mean_ns = sum / w.win_len;
    uint64_t busy =
        elapsed > idle - w.win_idle_ns ? elapsed - (idle - w.win_idle_ns) : 0;
    st->utilization_ppm = busy * 1000000u / elapsed;
    srv_log(SRV_LOG_INFO, "event_loop_lag",
            "window_ms=%llu samples=%zu p50_ms=%f p99_ms=%f max_ms=%f "
            "mean_ms=%f utilization=%f",
            (unsigned long long)(elapsed / 1000000u), w.win_len,
            (double)st->lag_p50_ns / 1e6, (double)st->lag_p99_ns / 1e6,
            (double)st->lag_max_ns / 1e6, (double)st->lag_mean_ns / 1e6,
            (double)st->utilization_ppm / 1e6);
    w.win_len = 0;
    w.win_start_ns = now;
    w.win_idle_ns = idle;
}

static void sampler_cb(uv_timer_t *t)
{
    struct srv_server *srv = t->data;
    uint64_t now = uv_hrtime();
    uint64_t want = w.prev_ns + (uint64_t)SAMPLE_MS * 1000000u;
    uint64_t lag = now > want ? now - want : 0;

    w.prev_ns = now;
    srv__metrics_lag(lag);
    if (w.win_len < w.win_cap) {
        w.win[w.win_len++] = lag;
    }
    if (now - w.win_start_ns >= srv->cfg->loop_monitor_interval_ms * 1000000u) {
        close_window(srv, now);
    }
}

/* ------------------------------------------------------------------------
 * Memory watch
 * ---------------------------------------------------------------------- */

static void mem_check(struct srv_server *srv)
{
    uint64_t limit = srv->cfg->memory_shutdown_threshold_mb * 1024u * 1024u;
    uint64_t rss = srv__rss_bytes();
    if (w.mem_fired || limit == 0 || rss < limit) {
        return;
    }
    w.mem_fired = true;
    srv_log(SRV_LOG_ERROR, "memory_threshold_exceeded",
            "rss_bytes=%llu threshold_bytes=%llu action=shutdown exit_code=%d",
            (unsigned long long)rss, (unsigned long long)limit,
            SRV_EXIT_MEMORY);
    srv__shutdown_code(srv, "memory-shutdown-threshold", SRV_EXIT_MEMORY);
}

static void mem_cb(uv_timer_t *t)
{
    mem_check(t->data);
}

/* ------------------------------------------------------------------------
 * Lifecycle
 * ---------------------------------------------------------------------- */

int srv__watchdog_start(struct srv_server *srv)
{
    uint64_t cap = srv->cfg->loop_monitor_interval_ms / SAMPLE_MS + 64;
    int rv;

    memset(&w, 0, sizeof(w));
    w.srv = srv;
    w.win = calloc((size_t)cap, sizeof(w.win[0]));
    if (w.win == NULL) {
        return UV_ENOMEM;
    }
    w.win_cap = (size_t)cap;
    w.prev_ns = uv_hrtime();
    w.win_start_ns = w.prev_ns;
    w.win_idle_ns = uv_metrics_idle_time(srv->loop);
    rv = uv_timer_init(srv->loop, &w.sampler);
    if (rv != 0) {
        return rv;
    }
    w.sampler.data = srv;
    w.sampler_open = true;
    uv_timer_start(&w.sampler, sampler_cb, SAMPLE_MS, SAMPLE_MS);
    if (srv->cfg->memory_shutdown_threshold_mb > 0) {
        rv = uv_timer_init(srv->loop, &w.mem);
        if (rv != 0) {
            return rv;
        }
        w.mem.data = srv;
        w.mem_open = true;
        uv_timer_start(&w.mem, mem_cb, srv->cfg->memory_poll_interval_ms,
                       srv->cfg->memory_poll_interval_ms);
        mem_check(srv); /* at once: a node may start above its threshold */
    }
    return 0;
}

void srv__watchdog_close(struct srv_server *srv)
{
    (void)srv;
    if (w.sampler_open) {
        w.sampler_open = false;
        uv_close((uv_handle_t *)&w.sampler, NULL);
    }
    if (w.mem_open) {
        w.mem_open = false;
        uv_close((uv_handle_t *)&w.mem, NULL);
    }
    free(w.win);
    w.win = NULL;
    w.win_cap = w.win_len = 0;
}

void srv__watchdog_stats(struct srv_watchdog_stats *out)
{
    *out = w.st;
}

/* ------------------------------------------------------------------------
 * /metrics
 * ---------------------------------------------------------------------- */

int srv__watchdog_render(struct proto_buf *b, struct srv_server *srv)
{
    static const char used[] = "raftkv_used_memory_bytes";
    static const char maxm[] = "raftkv_maxmemory_bytes";
    static const char oom[] = "raftkv_oom_rejections_total";
    static const char memsd[] = "raftkv_memory_shutdown_threshold_bytes";
    static const char lag[] = "raftkv_event_loop_lag_window_seconds";
    static const char util[] = "raftkv_event_loop_utilization_ppm";
    static const char late[] = "raftkv_duty_late_max_seconds";
    static const char gaps[] = "raftkv_heartbeat_gaps_total";
    static const char slow[] = "raftkv_slow_disk_appends_total";
    static const char heavy[] = "raftkv_heavy_command_rejections_total";
    static const char obuf[] =
        "raftkv_client_output_buffer_disconnections_total";
    static const char perip[] = "raftkv_rejected_connections_per_ip_total";
    int rv;

    rv = srv__prom_head(b, lag, "gauge",
                        "Event-loop lag in the last monitor window "
                        "(quantile 1: the maximum; mean: the mean)");
    rv = rv ? rv
            : srv__prom_seconds(b, lag, "quantile=\"0.5\"", w.st.lag_p50_ns);
    rv = rv ? rv
            : srv__prom_seconds(b, lag, "quantile=\"0.99\"", w.st.lag_p99_ns);
    rv = rv ? rv : srv__prom_seconds(b, lag, "quantile=\"1\"", w.st.lag_max_ns);
    rv = rv ? rv : srv__prom_seconds(b, lag, "stat=\"mean\"", w.st.lag_mean_ns);
    rv = rv ? rv
            : srv__prom_head(b, util, "gauge",
                             "Busy share of the last monitor window, in parts "
                             "per million (from libuv's idle time)");
    rv = rv ? rv : srv__prom_sample(b, util, "", w.st.utilization_ppm);
    rv = rv ? rv
            : srv__prom_head(b, late, "gauge",
                             "Worst lateness of each periodic duty");
    for (size_t i = 0; rv == 0 && i < NDUTIES; i++) {
        char lab[64];
        snprintf(lab, sizeof(lab), "duty=\"%s\"", duty_names[i]);
        rv = srv__prom_seconds(b, late, lab, w.duties[i].max_late_ns);
    }
    rv = rv ? rv
            : srv__prom_head(b, gaps, "counter",
                             "Duties that ran later than the heartbeat "
                             "interval (warn) or election timeout (critical)");
    for (size_t i = 0; rv == 0 && i < NDUTIES; i++) {
        char lab[96];
        snprintf(lab, sizeof(lab), "duty=\"%s\",severity=\"warn\"",
                 duty_names[i]);
        rv = srv__prom_sample(b, gaps, lab, w.duties[i].warn);
        snprintf(lab, sizeof(lab), "duty=\"%s\",severity=\"critical\"",
                 duty_names[i]);
        rv = rv ? rv : srv__prom_sample(b, gaps, lab, w.duties[i].critical);
    }
    rv = rv ? rv
            : srv__prom_head(b, slow, "counter",
                             "Raft log appends slower than disk-slow-warn-ms");
    rv = rv ? rv : srv__prom_sample(b, slow, "", w.st.slow_appends);
    rv = rv ? rv
            : srv__prom_head(b, used, "gauge",
                             "used_memory as INFO reports it (dataset and "
                             "client buffers)");
    rv = rv ? rv : srv__prom_sample(b, used, "", srv__used_memory(srv));
    rv = rv ? rv
            : srv__prom_head(b, maxm, "gauge",
                             "maxmemory; writes get -OOM above it (0: none)");
    rv = rv ? rv : srv__prom_sample(b, maxm, "", srv->cfg->maxmemory);
    rv = rv ? rv
            : srv__prom_head(b, oom, "counter",
                             "Commands refused with -OOM above maxmemory");
    rv = rv ? rv : srv__prom_sample(b, oom, "", srv->stats.oom_rejections);
    rv = rv ? rv
            : srv__prom_head(b, memsd, "gauge",
                             "RSS at which the node shuts down (0: off)");
    rv = rv ? rv
            : srv__prom_sample(b, memsd, "",
                               srv->cfg->memory_shutdown_threshold_mb << 20);
    rv = rv ? rv
            : srv__prom_head(b, heavy, "counter",
                             "Reads refused with -BUSY over "
                             "heavy-command-budget");
    rv = rv ? rv : srv__prom_sample(b, heavy, "", srv->stats.heavy_rejections);
    rv = rv ? rv
            : srv__prom_head(b, obuf, "counter",
                             "Clients disconnected by "
                             "client-output-buffer-limit");
    rv =
        rv ? rv : srv__prom_sample(b, obuf, "", srv->stats.obuf_disconnections);
    rv = rv ? rv
            : srv__prom_head(b, perip, "counter",
                             "Connections refused by maxclients-per-ip");
    rv = rv ? rv : srv__prom_sample(b, perip, "", srv->stats.per_ip_rejections);
    return rv;
}

uint64_t srv__watchdog_gaps(bool critical)
{
    uint64_t n = 0;
    for (size_t i = 0; i < NDUTIES; i++) {
        n += critical ? w.duties[i].critical : w.duties[i].warn;
    }
    return n;
}

/* ------------------------------------------------------------------------
 * DEBUG
 * ---------------------------------------------------------------------- */

static bool is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]", 5) == 0 ||
           strncmp(addr, "::1", 3) == 0;
}

static bool arg_is(const char *arg, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(arg, word, len) == 0;
}

void srv__cmd_debug(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens)
{
    const char *mode = c->srv->cfg->enable_debug_command;
    if (strcasecmp(mode, "yes") != 0 &&
        !(strcasecmp(mode, "local") == 0 && is_loopback(c->addr))) {
        srv_reply_errorf(
            &c->out, "%s",
            "ERR DEBUG command not allowed. If the enable-debug-command option "
            "is set to \"local\", you can run it from a local connection, "
            "otherwise you need to set this option in the configuration file, "
            "and then restart the server.");
        return;
    }
    if (argc == 2 && arg_is(argv[1], lens[1], "help")) {
        static const char *const lines[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Print this help.",
        };
        size_t n = sizeof(lines) / sizeof(lines[0]);
        proto_write_array_len(&c->out, n);
        for (size_t i = 0; i < n; i++) {
            srv_reply_status(&c->out, lines[i]);
        }
        return;
    }
    if (argc == 3 && arg_is(argv[1], lens[1], "sleep")) {
        /* Arguments point into the query buffer: not NUL-terminated. */
        char num[64];
        char *end = num;
        double s = -1;
        if (lens[2] > 0 && lens[2] < sizeof(num)) {
            memcpy(num, argv[2], lens[2]);
            num[lens[2]] = '\0';
            s = strtod(num, &end);
        }
        if (end == num || *end != '\0' || !(s >= 0) || s > 3600) {
            srv_reply_errorf(&c->out, "ERR value is not a valid float");
            return;
        }
        srv_log(SRV_LOG_WARN, "debug_sleep", "seconds=%f client=%s", s,
                c->addr);
        struct timespec ts;
        ts.tv_sec = (time_t)s;
        ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        srv_reply_status(&c->out, "OK");
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg),
             "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
             "Try DEBUG HELP.",
             (int)(lens[1] > 64 ? 64 : lens[1]), argv[1]);
    srv_reply_errorf(&c->out, "%s", msg);
}
