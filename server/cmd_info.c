/* INFO: Redis's sections plus a raft section. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "server/http_internal.h"
#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void add(struct proto_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct proto_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        size_t len =
            (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 3;
        memcpy(line + len, "\r\n", 2);
        proto_buf_append(b, line, len + 2);
    }
}

static void human(char *out, size_t n, uint64_t bytes)
{
    double d = (double)bytes;
    if (bytes < 1024) {
        snprintf(out, n, "%lluB", (unsigned long long)bytes);
    } else if (bytes < 1024 * 1024) {
        snprintf(out, n, "%.2fK", d / 1024);
    } else if (bytes < UINT64_C(1024) * 1024 * 1024) {
        snprintf(out, n, "%.2fM", d / (1024 * 1024));
    } else {
        snprintf(out, n, "%.2fG", d / (1024.0 * 1024 * 1024));
    }
}

static uint64_t clients_memory(const struct srv_server *srv)
{
    uint64_t total = 0;
    for (const struct srv__link *l = srv->conns.next; l != &srv->conns;
         l = l->next) {
        const struct srv_conn *c =
            SRV__CONTAINER(l, const struct srv_conn, link_all);
        total += srv__conn_memory(c);
    }
    return total;
}

/* ------------------------------------------------------------------------
 * Sections
 * ---------------------------------------------------------------------- */

static void sec_server(struct proto_buf *b, struct srv_server *srv)
{
    struct utsname u;
    uint64_t up = ((uint64_t)srv__now_ms() - srv->start_ms) / 1000;
    uname(&u);
    add(b, "# Server");
    add(b, "redis_version:%s", SRV_REDIS_VERSION);
    add(b, "raftkv_version:%s", SRV_VERSION);
    add(b, "redis_git_sha1:00000000");
    add(b, "redis_git_dirty:0");
    add(b, "redis_mode:standalone");
    add(b, "os:%s %s %s", u.sysname, u.release, u.machine);
    add(b, "arch_bits:%d", (int)(sizeof(void *) * 8));
    add(b, "multiplexing_api:libuv");
    add(b, "libuv_version:%s", uv_version_string());
    add(b, "process_id:%d", (int)getpid());
    add(b, "run_id:%s", srv->run_id);
    add(b, "tcp_port:%d", srv->tcp_port);
    add(b, "server_time_usec:%lld", (long long)srv__now_ms() * 1000);
    add(b, "uptime_in_seconds:%llu", (unsigned long long)up);
    add(b, "uptime_in_days:%llu", (unsigned long long)(up / 86400));
    add(b, "hz:10");
    add(b, "configured_hz:10");
    add(b, "config_file:%s",
        srv->cfg->config_file != NULL ? srv->cfg->config_file : "");
    add(b, "raft_id:%llu", (unsigned long long)srv->cfg->id);
    add(b, "data_dir:%s", srv->cfg->data_dir);
    add(b, "peer_addr:%s", srv->cfg->peer_addr);
}

static void sec_clients(struct proto_buf *b, struct srv_server *srv)
{
    size_t waiting = 0;
    for (struct srv__link *l = srv->conns.next; l != &srv->conns; l = l->next) {
        const struct srv_conn *c =
            SRV__CONTAINER(l, const struct srv_conn, link_all);
        waiting += c->read_waiting || c->stash.active;
    }
    add(b, "# Clients");
    add(b, "connected_clients:%zu", srv->nconns);
    add(b, "cluster_connections:0");
    add(b, "maxclients:%llu", (unsigned long long)srv->cfg->maxclients);
    add(b, "blocked_clients:%zu", waiting);
    add(b, "tracking_clients:0");
    add(b, "clients_in_timeout_table:0");
    add(b, "closing_clients:%zu", srv->nzombies);
}

uint64_t srv__used_memory(struct srv_server *srv)
{
    return kv_store_memory(srv->store) + srv->clients_mem;
}

bool srv__over_maxmemory(struct srv_server *srv)
{
    return srv->cfg->maxmemory != 0 &&
           srv__used_memory(srv) > srv->cfg->maxmemory;
}

static void sec_memory(struct proto_buf *b, struct srv_server *srv)
{
    char h1[32];
    char h2[32];
    char h3[32];
    uint64_t data = kv_store_memory(srv->store);
    uint64_t clients = clients_memory(srv);
    uint64_t used = data + clients;
    struct srv_watchdog_stats ws;
    uint64_t rss = srv__rss_bytes();
    human(h1, sizeof(h1), used);
    human(h2, sizeof(h2), rss);
    add(b, "# Memory");
    add(b, "used_memory:%llu", (unsigned long long)used);
    add(b, "used_memory_human:%s", h1);
    add(b, "used_memory_rss:%llu", (unsigned long long)rss);
    add(b, "used_memory_rss_human:%s", h2);
    add(b, "used_memory_dataset:%llu", (unsigned long long)data);
    add(b, "mem_clients_normal:%llu", (unsigned long long)clients);
    human(h3, sizeof(h3), srv->cfg->maxmemory);
    add(b, "maxmemory:%llu", (unsigned long long)srv->cfg->maxmemory);
    add(b, "maxmemory_human:%s", h3);
    add(b, "maxmemory_policy:noeviction");
    add(b, "memory_shutdown_threshold_mb:%llu",
        (unsigned long long)srv->cfg->memory_shutdown_threshold_mb);
    srv__watchdog_stats(&ws);
    add(b, "event_loop_lag_p50_ms:%.3f", (double)ws.lag_p50_ns / 1e6);
    add(b, "event_loop_lag_p99_ms:%.3f", (double)ws.lag_p99_ns / 1e6);
    add(b, "event_loop_lag_max_ms:%.3f", (double)ws.lag_max_ns / 1e6);
    add(b, "event_loop_utilization:%.4f", (double)ws.utilization_ppm / 1e6);
    add(b, "heartbeat_gaps_warn:%llu",
        (unsigned long long)srv__watchdog_gaps(false));
    add(b, "heartbeat_gaps_critical:%llu",
        (unsigned long long)srv__watchdog_gaps(true));
    add(b, "slow_disk_appends:%llu", (unsigned long long)ws.slow_appends);
    add(b, "mem_allocator:libc");
}

static void sec_persistence(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Persistence");
    add(b, "loading:0");
    add(b, "async_loading:0");
    add(b, "rdb_changes_since_last_save:0");
    add(b, "rdb_bgsave_in_progress:0");
    add(b, "rdb_last_bgsave_status:ok");
    add(b, "aof_enabled:0");
    add(b, "aof_rewrite_in_progress:0");
    add(b, "aof_last_write_status:ok");
}

static void sec_stats(struct proto_buf *b, struct srv_server *srv)
{
    const struct srv_stats *s = &srv->stats;
    add(b, "# Stats");
    add(b, "total_connections_received:%llu",
        (unsigned long long)s->connections_received);
    add(b, "total_commands_processed:%llu",
        (unsigned long long)s->commands_processed);
    add(b, "instantaneous_ops_per_sec:%llu",
        (unsigned long long)s->ops_per_sec);
    add(b, "total_net_input_bytes:%llu",
        (unsigned long long)s->net_input_bytes);
    add(b, "total_net_output_bytes:%llu",
        (unsigned long long)s->net_output_bytes);
    add(b, "rejected_connections:%llu",
        (unsigned long long)s->rejected_connections);
    add(b, "expired_keys:0");
    add(b, "evicted_keys:0");
    add(b, "keyspace_hits:%llu", (unsigned long long)s->keyspace_hits);
    add(b, "keyspace_misses:%llu", (unsigned long long)s->keyspace_misses);
    add(b, "pubsub_channels:0");
    add(b, "pubsub_patterns:0");
    add(b, "total_error_replies:%llu", (unsigned long long)s->error_replies);
    add(b, "oom_rejections:%llu", (unsigned long long)s->oom_rejections);
    add(b, "heavy_command_rejections:%llu",
        (unsigned long long)s->heavy_rejections);
    add(b, "client_output_buffer_limit_disconnections:%llu",
        (unsigned long long)s->obuf_disconnections);
    add(b, "rejected_connections_per_ip:%llu",
        (unsigned long long)s->per_ip_rejections);
    add(b, "protocol_errors:%llu", (unsigned long long)s->protocol_errors);
}

static void sec_replication(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Replication");
    add(b, "role:master");
    add(b, "connected_slaves:0");
    add(b, "master_failover_state:no-failover");
    add(b, "master_repl_offset:0");
}

static void sec_cpu(struct proto_buf *b, struct srv_server *srv)
{
    struct rusage ru;
    (void)srv;
    getrusage(RUSAGE_SELF, &ru);
    add(b, "# CPU");
    add(b, "used_cpu_sys:%ld.%06ld", (long)ru.ru_stime.tv_sec,
        (long)ru.ru_stime.tv_usec);
    add(b, "used_cpu_user:%ld.%06ld", (long)ru.ru_utime.tv_sec,
        (long)ru.ru_utime.tv_usec);
}

static void sec_modules(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Modules");
}

static void sec_errorstats(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Errorstats");
}

static void sec_cluster(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Cluster");
    add(b, "cluster_enabled:0");
}

static void cmdstat(struct proto_buf *b, const struct srv_cmd *c)
{
    if (c->calls == 0 && c->rejected == 0 && c->failed == 0) {
        return;
    }
    add(b,
        "cmdstat_%s:calls=%llu,usec=0,usec_per_call=0.00,rejected_calls=%llu,"
        "failed_calls=%llu",
        c->fullname, (unsigned long long)c->calls,
        (unsigned long long)c->rejected, (unsigned long long)c->failed);
}

static void sec_commandstats(struct proto_buf *b, struct srv_server *srv)
{
    (void)srv;
    add(b, "# Commandstats");
    for (size_t i = 0; i < srv_cmd_count(); i++) {
        const struct srv_cmd *c = srv_cmd_at(i);
        cmdstat(b, c);
        for (size_t k = 0; k < c->nsubcmds; k++) {
            cmdstat(b, &c->subcmds[k]);
        }
    }
}

static void sec_keyspace(struct proto_buf *b, struct srv_server *srv)
{
    size_t keys = kv_store_size(srv->store);
    add(b, "# Keyspace");
    if (keys > 0) {
        add(b, "db0:keys=%zu,expires=%zu,avg_ttl=0", keys,
            kv_store_expires(srv->store));
    }
}

static void sec_raft(struct proto_buf *b, struct srv_server *srv)
{
    struct radapter_info ri;
    add(b, "# Raft");
    if (srv->ra == NULL) {
        add(b, "role:unavailable");
        return;
    }
    memset(&ri, 0, sizeof(ri));
    radapter_get_info(srv->ra, &ri);
    add(b, "role:%s", ri.role != NULL ? ri.role : "unavailable");
    add(b, "node_id:%llu", (unsigned long long)ri.id);
    add(b, "term:%llu", (unsigned long long)ri.term);
    add(b, "leader_id:%llu", (unsigned long long)ri.leader_id);
    add(b, "leader_addr:%s", ri.leader_addr != NULL ? ri.leader_addr : "");
    add(b, "leader_redis_addr:%s", ri.leader_redis_addr);
    add(b, "leader_http_addr:%s", ri.leader_http_addr);
    add(b, "ready:%d", ri.ready ? 1 : 0);
    add(b, "voters:%llu", (unsigned long long)ri.voters);
    add(b, "commit_index:%llu", (unsigned long long)ri.commit_index);
    add(b, "applied_index:%llu", (unsigned long long)ri.applied_index);
    add(b, "last_index:%llu", (unsigned long long)ri.last_index);
    add(b, "snapshot_index:%llu", (unsigned long long)ri.snapshot_index);
    add(b, "snapshots:%llu", (unsigned long long)ri.snapshots);
    add(b, "pending_reads:%llu", (unsigned long long)ri.pending_reads);
    add(b, "pending_writes:%llu", (unsigned long long)ri.pending_writes);
    add(b, "inflight_entries:%llu", (unsigned long long)ri.inflight_entries);
    add(b, "entries_proposed:%llu", (unsigned long long)ri.entries_proposed);
    add(b, "commands_proposed:%llu", (unsigned long long)ri.commands_proposed);
    add(b, "reads_timed_out:%llu", (unsigned long long)ri.reads_timed_out);
    add(b, "reads_max_late_ms:%llu", (unsigned long long)ri.reads_max_late_ms);
    add(b, "reads_refused:%llu", (unsigned long long)ri.reads_refused);
    add(b, "expired_keys:%llu", (unsigned long long)ri.expired_keys);
    add(b, "leader_changes:%llu", (unsigned long long)ri.leader_changes);
    add(b, "probes_sent:%llu", (unsigned long long)ri.probes_sent);
    add(b, "rounds_confirmed:%llu", (unsigned long long)ri.rounds_confirmed);
    add(b, "rounds_retried:%llu", (unsigned long long)ri.rounds_retried);
    add(b, "remote_reads:%llu", (unsigned long long)ri.remote_reads);
    add(b, "forwarded_writes:%llu", (unsigned long long)ri.forwarded_writes);
    add(b, "forward_retries:%llu", (unsigned long long)ri.forward_retries);
    add(b, "forward_unknown:%llu", (unsigned long long)ri.forward_unknown);
    add(b, "dedup_hits:%llu", (unsigned long long)ri.dedup_hits);
    add(b, "peer_breakers_opened:%llu", (unsigned long long)ri.breaker_opened);
    {
        struct radapter_member_info m[SRV_CLUSTER_MAX];
        size_t n = radapter_get_members(srv->ra, m, SRV_CLUSTER_MAX);
        for (size_t i = 0; i < n; i++) {
            add(b,
                "member%llu:role=%s,peer=%s,redis=%s,http=%s,match_index=%llu,"
                "last_contact_ms=%lld",
                (unsigned long long)m[i].id, m[i].role, m[i].peer_addr,
                m[i].redis_addr, m[i].http_addr,
                (unsigned long long)m[i].match_index,
                (long long)m[i].last_contact_ms);
        }
    }
}

/* ------------------------------------------------------------------------
 * INFO
 * ---------------------------------------------------------------------- */

typedef void (*section_cb)(struct proto_buf *b, struct srv_server *srv);

static const struct
{
    const char *name;
    section_cb fn;
    bool in_default;
} sections[] = {
    {"server", sec_server, true},
    {"clients", sec_clients, true},
    {"memory", sec_memory, true},
    {"persistence", sec_persistence, true},
    {"stats", sec_stats, true},
    {"replication", sec_replication, true},
    {"cpu", sec_cpu, true},
    {"modules", sec_modules, true},
    {"commandstats", sec_commandstats, false},
    {"errorstats", sec_errorstats, true},
    {"cluster", sec_cluster, true},
    {"keyspace", sec_keyspace, true},
    {"raft", sec_raft, true},
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

void srv__cmd_info(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    bool want[NSECTIONS] = {false};
    struct proto_buf b;
    bool any = false;

    if (argc == 1) {
        for (size_t i = 0; i < NSECTIONS; i++) {
            want[i] = sections[i].in_default;
        }
    }
    for (int a = 1; a < argc; a++) {
        bool all = srv__arg_is(argv[a], lens[a], "all") ||
                   srv__arg_is(argv[a], lens[a], "everything");
        bool def = srv__arg_is(argv[a], lens[a], "default");
        for (size_t i = 0; i < NSECTIONS; i++) {
            if (all || (def && sections[i].in_default) ||
                srv__arg_is(argv[a], lens[a], sections[i].name)) {
                want[i] = true;
            }
        }
    }
    proto_buf_init(&b);
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!want[i]) {
            continue;
        }
        if (any) {
            proto_buf_append(&b, "\r\n", 2);
        }
        sections[i].fn(&b, c->srv);
        any = true;
    }
    proto_write_verbatim(&c->out, c->resp, "txt", b.data != NULL ? b.data : "",
                         b.len);
    proto_buf_fini(&b);
}
