/* Metrics: latency histograms, the event-loop lag sampler and the
 * Prometheus text exposition format (version 0.0.4) of /metrics.
 *
 * Counters kept elsewhere (the command table's calls and failures, the
 * adapter's raft counters, the server's connection counts) are read when
 * /metrics is scraped; only what nobody else keeps lives here: latency
 * histograms per command and of leader verifications, and the loop lag.
 * Every metric is prefixed raftkv_. Values are integers or decimal seconds
 * formatted from integer nanoseconds, so no floating point is involved.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/http_internal.h"

#define LAG_WINDOW 500 /* samples: ten seconds at watchdog.c's 20 ms */

/* One command's latency histogram, in an open-addressing table keyed by
 * the command's table entry. */
struct cmd_hist
{
    const struct srv_cmd *cmd; /* weak: NULL for an empty slot */
    struct srv_hist h;
};

static struct
{
    uint64_t lag_ns[LAG_WINDOW]; /* the last samples */
    size_t lag_pos;              /* next slot in lag_ns */
    struct srv_hist lag;         /* all samples */
    struct srv_hist verify;      /* leader verifications */
    struct srv_hist append;      /* raft log appends (write + fsync) */
    uint64_t verify_failed;      /* verifications that did not succeed */
    struct cmd_hist *cmds;       /* owned: capacity ncap, power of two */
    size_t ncap;
    size_t nused;
} m;

/* ------------------------------------------------------------------------
 * Histograms
 * ---------------------------------------------------------------------- */

static const uint64_t bounds_ns[SRV_HIST_BUCKETS] = {
    100000,   250000,   500000,    1000000,   2500000,   5000000,    10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000,
};

uint64_t srv__hist_bound_ns(size_t i)
{
    return bounds_ns[i];
}

void srv__hist_observe(struct srv_hist *h, uint64_t ns)
{
    size_t i = 0;
    while (i < SRV_HIST_BUCKETS && ns > bounds_ns[i]) {
        i++;
    }
    if (i < SRV_HIST_BUCKETS) {
        h->buckets[i]++;
    } else {
        h->inf++;
    }
    h->count++;
    h->sum_ns += ns;
}

/* ------------------------------------------------------------------------
 * Text format
 * ---------------------------------------------------------------------- */

/* Formats @ns as decimal seconds: 1500000 -> "0.0015", 10^9 -> "1". */
static void fmt_seconds(char *out, size_t cap, uint64_t ns)
{
    char frac[16];
    int n;
    snprintf(frac, sizeof(frac), "%09llu",
             (unsigned long long)(ns % UINT64_C(1000000000)));
    n = 9;
    while (n > 0 && frac[n - 1] == '0') {
        n--;
    }
    frac[n] = '\0';
    snprintf(out, cap, "%llu%s%s",
             (unsigned long long)(ns / UINT64_C(1000000000)), n > 0 ? "." : "",
             frac);
}

static int appendf(struct proto_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int appendf(struct proto_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -EINVAL;
    }
    return proto_buf_append(
        b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

int srv__prom_label_value(struct proto_buf *b, const char *s, size_t n)
{
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++) {
        if (s[i] == '\\') {
            rv = proto_buf_append(b, "\\\\", 2);
        } else if (s[i] == '"') {
            rv = proto_buf_append(b, "\\\"", 2);
        } else if (s[i] == '\n') {
            rv = proto_buf_append(b, "\\n", 2);
        } else {
            rv = proto_buf_append(b, &s[i], 1);
        }
    }
    return rv;
}

int srv__prom_head(struct proto_buf *b,
                   const char *name,
                   const char *type,
                   const char *help)
{
    return appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int srv__prom_sample(struct proto_buf *b,
                     const char *name,
                     const char *labels,
                     uint64_t value)
{
    if (labels[0] == '\0') {
        return appendf(b, "%s %llu\n", name, (unsigned long long)value);
    }
    return appendf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
}

static int sample_seconds(struct proto_buf *b,
                          const char *name,
                          const char *labels,
                          uint64_t ns)
{
    char s[40];
    fmt_seconds(s, sizeof(s), ns);
    if (labels[0] == '\0') {
        return appendf(b, "%s %s\n", name, s);
    }
    return appendf(b, "%s{%s} %s\n", name, labels, s);
}

int srv__prom_hist(struct proto_buf *b,
                   const char *name,
                   const char *labels,
                   const struct srv_hist *h)
{
    const char *sep = labels[0] != '\0' ? "," : "";
    uint64_t cum = 0;
    char le[40];
    int rv = 0;

    for (size_t i = 0; i < SRV_HIST_BUCKETS && rv == 0; i++) {
        cum += h->buckets[i];
        fmt_seconds(le, sizeof(le), bounds_ns[i]);
        rv = appendf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                     le, (unsigned long long)cum);
    }
    if (rv == 0) {
        rv = appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                     (unsigned long long)h->count);
    }
    if (rv == 0) {
        char sum[64];
        snprintf(sum, sizeof(sum), "%s_sum", name);
        rv = sample_seconds(b, sum, labels, h->sum_ns);
    }
    if (rv == 0) {
        char cnt[64];
        snprintf(cnt, sizeof(cnt), "%s_count", name);
        rv = srv__prom_sample(b, cnt, labels, h->count);
    }
    return rv;
}

/* ------------------------------------------------------------------------
 * Recording
 * ---------------------------------------------------------------------- */

static size_t slot_of(const struct srv_cmd *cmd, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)cmd;
    x ^= x >> 29;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    return (size_t)(x >> 32) & (cap - 1);
}

static int grow(void)
{
    size_t ncap = m.ncap == 0 ? 256 : m.ncap * 2;
    struct cmd_hist *n = calloc(ncap, sizeof(*n));
    if (n == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < m.ncap; i++) {
        if (m.cmds[i].cmd != NULL) {
            size_t s = slot_of(m.cmds[i].cmd, ncap);
            while (n[s].cmd != NULL) {
                s = (s + 1) & (ncap - 1);
            }
            n[s] = m.cmds[i];
        }
    }
    free(m.cmds);
    m.cmds = n;
    m.ncap = ncap;
    return 0;
}

static struct cmd_hist *find(const struct srv_cmd *cmd)
{
    if (m.ncap == 0) {
        return NULL;
    }
    size_t s = slot_of(cmd, m.ncap);
    while (m.cmds[s].cmd != NULL) {
        if (m.cmds[s].cmd == cmd) {
            return &m.cmds[s];
        }
        s = (s + 1) & (m.ncap - 1);
    }
    return NULL;
}

void srv__metrics_cmd(const struct srv_cmd *cmd, uint64_t ns)
{
    struct cmd_hist *e = find(cmd);
    if (e == NULL) {
        if ((m.nused + 1) * 2 > m.ncap && grow() != 0) {
            return; /* out of memory: the sample is lost, nothing else */
        }
        size_t s = slot_of(cmd, m.ncap);
        while (m.cmds[s].cmd != NULL) {
            s = (s + 1) & (m.ncap - 1);
        }
        e = &m.cmds[s];
        e->cmd = cmd;
        m.nused++;
    }
    srv__hist_observe(&e->h, ns);
}

void srv__metrics_append(void *arg, uint64_t ns)
{
    (void)arg;
    srv__hist_observe(&m.append, ns);
}

void srv__metrics_verify(int status, uint64_t ns)
{
    if (status != 0) {
        m.verify_failed++;
    }
    srv__hist_observe(&m.verify, ns);
}

void srv__metrics_lag(uint64_t ns)
{
    m.lag_ns[m.lag_pos] = ns;
    m.lag_pos = (m.lag_pos + 1) % LAG_WINDOW;
    srv__hist_observe(&m.lag, ns);
}

int srv__metrics_start(struct srv_server *srv)
{
    (void)srv;
    free(m.cmds);
    memset(&m, 0, sizeof(m));
    return 0;
}

void srv__metrics_close(struct srv_server *srv)
{
    (void)srv;
}

int srv__prom_seconds(struct proto_buf *b,
                      const char *name,
                      const char *labels,
                      uint64_t ns)
{
    return sample_seconds(b, name, labels, ns);
}

uint64_t srv__rss_bytes(void)
{
    unsigned long long size = 0;
    unsigned long long res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &size, &res) != 2) {
        res = 0;
    }
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

void srv__metrics_snapshot(uint64_t *lag_ms,
                           uint64_t *lag_max_ms,
                           struct srv_hist *verify,
                           uint64_t *rss)
{
    uint64_t max = 0;
    for (size_t i = 0; i < LAG_WINDOW; i++) {
        max = m.lag_ns[i] > max ? m.lag_ns[i] : max;
    }
    *lag_ms = m.lag_ns[(m.lag_pos + LAG_WINDOW - 1) % LAG_WINDOW] / 1000000;
    *lag_max_ms = max / 1000000;
    *verify = m.verify;
    *rss = srv__rss_bytes();
}

/* ------------------------------------------------------------------------
 * Rendering
 * ---------------------------------------------------------------------- */

/* Size of the newest snapshot file in @dir (libraft names them
 * snapshot-TERM-INDEX-TIMESTAMP, with a .meta file beside each). */
static uint64_t snapshot_size(const char *dir)
{
    char path[4096];
    struct stat st;
    uint64_t size = 0;
    long long best = -1;
    DIR *d = dir != NULL ? opendir(dir) : NULL;
    if (d == NULL) {
        return 0;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "snapshot-", 9) != 0 ||
            (n > 5 && strcmp(e->d_name + n - 5, ".meta") == 0)) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && (long long)st.st_mtime >= best) {
            best = (long long)st.st_mtime;
            size = (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return size;
}

struct gauge
{
    const char *name;
    const char *type;
    const char *help;
    uint64_t value;
};

static int render_list(struct proto_buf *b, const struct gauge *g, size_t n)
{
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++) {
        rv = srv__prom_head(b, g[i].name, g[i].type, g[i].help);
        if (rv == 0) {
            rv = srv__prom_sample(b, g[i].name, "", g[i].value);
        }
    }
    return rv;
}

static int render_raft(struct proto_buf *b, struct srv_server *srv)
{
    static const char *const roles[] = {"leader", "follower", "candidate",
                                        "unavailable"};
    struct radapter_info ri;
    int rv;

    memset(&ri, 0, sizeof(ri));
    ri.role = "unavailable";
    if (srv->ra != NULL) {
        radapter_get_info(srv->ra, &ri);
    }
    rv = srv__prom_head(b, "raftkv_raft_role", "gauge",
                        "1 for this node's current raft role");
    for (size_t i = 0; i < 4 && rv == 0; i++) {
        char l[48];
        snprintf(l, sizeof(l), "role=\"%s\"", roles[i]);
        rv = srv__prom_sample(b, "raftkv_raft_role", l,
                              strcmp(ri.role, roles[i]) == 0 ? 1 : 0);
    }
    const struct gauge g[] = {
        {"raftkv_raft_term", "gauge", "Current raft term.", ri.term},
        {"raftkv_raft_leader_id", "gauge", "Known leader (0: none).",
         ri.leader_id},
        {"raftkv_raft_commit_index", "gauge", "Commit index.", ri.commit_index},
        {"raftkv_raft_applied_index", "gauge", "Last applied index.",
         ri.applied_index},
        {"raftkv_raft_last_index", "gauge", "Last log index.", ri.last_index},
        {"raftkv_raft_snapshot_index", "gauge", "Index of the last snapshot.",
         ri.snapshot_index},
        {"raftkv_raft_voters", "gauge", "Voters in the configuration.",
         ri.voters},
        {"raftkv_raft_leader_changes_total", "counter", "Leader changes seen.",
         ri.leader_changes},
        {"raftkv_verify_probes_total", "counter",
         "Leader-verification probes sent to followers.", ri.probes_sent},
        {"raftkv_verify_rounds_confirmed_total", "counter",
         "Verification rounds a majority confirmed.", ri.rounds_confirmed},
        {"raftkv_verify_rounds_retried_total", "counter",
         "Verification rounds re-sent.", ri.rounds_retried},
        {"raftkv_verify_timeouts_total", "counter",
         "Reads whose leader verification timed out.", ri.reads_timed_out},
        {"raftkv_verify_refused_total", "counter",
         "Reads refused because the pending-reads queue was full.",
         ri.reads_refused},
        {"raftkv_pending_reads", "gauge",
         "Reads waiting for leader verification.", ri.pending_reads},
        {"raftkv_pending_writes", "gauge",
         "Write commands queued or in flight.", ri.pending_writes},
        {"raftkv_inflight_entries", "gauge", "Raft entries in flight.",
         ri.inflight_entries},
        {"raftkv_remote_reads_total", "counter",
         "Read indexes served to followers.", ri.remote_reads},
        {"raftkv_forwarded_writes_total", "counter",
         "Writes this follower forwarded to the leader.", ri.forwarded_writes},
        {"raftkv_forward_retries_total", "counter", "Forwarded writes re-sent.",
         ri.forward_retries},
        {"raftkv_forward_unknown_total", "counter",
         "Forwarded writes with an unknown outcome.", ri.forward_unknown},
        {"raftkv_dedup_hits_total", "counter",
         "Retried writes answered without re-applying.", ri.dedup_hits},
        {"raftkv_snapshots_total", "counter", "Snapshots taken.", ri.snapshots},
        {"raftkv_snapshot_last_duration_microseconds", "gauge",
         "How long the last snapshot held the event loop.",
         ri.snapshot_last_ns / 1000},
        {"raftkv_snapshot_duration_microseconds_total", "counter",
         "How long all snapshots together held the event loop.",
         ri.snapshot_total_ns / 1000},
        {"raftkv_log_append_max_duration_microseconds", "gauge",
         "Slowest raft log append since start.", ri.append_max_ns / 1000},
        {"raftkv_snapshot_size_bytes", "gauge",
         "Size of the newest snapshot on disk.",
         snapshot_size(srv->cfg->data_dir)},
    };
    if (rv == 0) {
        rv = render_list(b, g, sizeof(g) / sizeof(g[0]));
    }
    return rv;
}

static int render_cmd(struct proto_buf *b, const struct srv_cmd *cmd, int pass)
{
    char labels[160];
    struct proto_buf l;
    int rv;

    if (cmd->calls == 0 && cmd->failed == 0 && cmd->rejected == 0) {
        return 0;
    }
    proto_buf_init(&l);
    rv = proto_buf_append(&l, "cmd=\"", 5);
    if (rv == 0) {
        rv = srv__prom_label_value(&l, cmd->fullname, strlen(cmd->fullname));
    }
    if (rv == 0) {
        rv = proto_buf_append(&l, "\"", 1);
    }
    snprintf(labels, sizeof(labels), "%.*s", (int)l.len, l.data);
    proto_buf_fini(&l);
    if (rv != 0) {
        return rv;
    }
    if (pass == 0) {
        return srv__prom_sample(b, "raftkv_commands_total", labels, cmd->calls);
    }
    if (pass == 1) {
        return srv__prom_sample(b, "raftkv_command_errors_total", labels,
                                cmd->failed + cmd->rejected);
    }
    const struct cmd_hist *e = find(cmd);
    return e != NULL ? srv__prom_hist(b, "raftkv_command_duration_seconds",
                                      labels, &e->h)
                     : 0;
}

static int render_cmds(struct proto_buf *b)
{
    static const char *const heads[3][3] = {
        {"raftkv_commands_total", "counter", "Commands executed."},
        {"raftkv_command_errors_total", "counter",
         "Commands refused or answered with an error."},
        {"raftkv_command_duration_seconds", "histogram",
         "Time from dispatch to reply."},
    };
    int rv = 0;
    for (int pass = 0; pass < 3 && rv == 0; pass++) {
        rv = srv__prom_head(b, heads[pass][0], heads[pass][1], heads[pass][2]);
        for (size_t i = 0; i < srv_cmd_count() && rv == 0; i++) {
            const struct srv_cmd *cmd = srv_cmd_at(i);
            rv = render_cmd(b, cmd, pass);
            for (size_t k = 0; k < cmd->nsubcmds && rv == 0; k++) {
                rv = render_cmd(b, &cmd->subcmds[k], pass);
            }
        }
    }
    return rv;
}

static int render_process(struct proto_buf *b, struct srv_server *srv)
{
    uint64_t hopen, hacc, href, lag, lag_max, rss;
    struct srv_hist vh;
    int rv;

    srv__http_conn_stats(srv, &hopen, &hacc, &href);
    srv__metrics_snapshot(&lag, &lag_max, &vh, &rss);
    rv = srv__prom_head(b, "raftkv_connections", "gauge", "Open connections.");
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections", "kind=\"resp\"",
                              srv->nconns);
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections", "kind=\"http\"", hopen);
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_connections_accepted_total", "counter",
                            "Connections accepted.");
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections_accepted_total",
                              "kind=\"resp\"", srv->stats.connections_received);
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections_accepted_total",
                              "kind=\"http\"", hacc);
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_connections_rejected_total", "counter",
                            "Connections refused at the limit.");
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections_rejected_total",
                              "kind=\"resp\"", srv->stats.rejected_connections);
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_connections_rejected_total",
                              "kind=\"http\"", href);
    }
    const struct gauge g[] = {
        {"raftkv_memory_rss_bytes", "gauge", "Resident set size.", rss},
        {"raftkv_memory_dataset_bytes", "gauge",
         "Memory the keyspace occupies.",
         srv->store != NULL ? kv_store_memory(srv->store) : 0},
        {"raftkv_keys", "gauge", "Keys in the keyspace.",
         srv->store != NULL ? kv_store_size(srv->store) : 0},
        {"raftkv_uptime_seconds", "gauge", "Seconds since start.",
         ((uint64_t)srv__now_ms() - srv->start_ms) / 1000},
    };
    if (rv == 0) {
        rv = render_list(b, g, sizeof(g) / sizeof(g[0]));
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_event_loop_lag_max_seconds", "gauge",
                            "Worst event-loop lag in the last ten seconds.");
    }
    if (rv == 0) {
        uint64_t max = 0;
        for (size_t i = 0; i < LAG_WINDOW; i++) {
            max = m.lag_ns[i] > max ? m.lag_ns[i] : max;
        }
        rv = sample_seconds(b, "raftkv_event_loop_lag_max_seconds", "", max);
    }
    return rv;
}

int srv__metrics_render(struct proto_buf *b, struct srv_server *srv)
{
    int rv = appendf(b,
                     "# HELP raftkv_build_info Build information.\n"
                     "# TYPE raftkv_build_info gauge\n"
                     "raftkv_build_info{version=\"%s\"} 1\n",
                     SRV_VERSION);
    if (rv == 0) {
        rv = render_cmds(b);
    }
    if (rv == 0) {
        rv = render_raft(b, srv);
    }
    if (rv == 0) {
        rv = srv__watchdog_render(b, srv);
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_verify_duration_seconds", "histogram",
                            "Leader verifications (reads and probes), from "
                            "request to outcome.");
    }
    if (rv == 0) {
        rv = srv__prom_hist(b, "raftkv_verify_duration_seconds", "", &m.verify);
    }
    if (rv == 0) {
        rv =
            srv__prom_head(b, "raftkv_log_append_duration_seconds", "histogram",
                           "Raft log appends, from the write to its fsync "
                           "completing (raft_uv writes with O_DSYNC).");
    }
    if (rv == 0) {
        rv = srv__prom_hist(b, "raftkv_log_append_duration_seconds", "",
                            &m.append);
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_verify_failures_total", "counter",
                            "Leader verifications that did not succeed.");
    }
    if (rv == 0) {
        rv = srv__prom_sample(b, "raftkv_verify_failures_total", "",
                              m.verify_failed);
    }
    if (rv == 0) {
        rv = render_process(b, srv);
    }
    if (rv == 0) {
        rv = srv__prom_head(b, "raftkv_event_loop_lag_seconds", "histogram",
                            "Delay of a 100 ms timer past its due time.");
    }
    if (rv == 0) {
        rv = srv__prom_hist(b, "raftkv_event_loop_lag_seconds", "", &m.lag);
    }
    return rv;
}
