/* What each HTTP path answers: liveness and leadership probes, readiness,
 * the status document, the dashboard's files and the operator actions.
 *
 * /healthz/leader and /readyz wait for a leader verification (the
 * ReadIndex machinery reads use) bounded by the probe's ?timeout=, capped
 * by verify-timeout-ms; everything else answers at once. Operator actions
 * (POST /admin/api/transfer?id=N, POST /admin/api/remove?id=N) need the
 * --admin-token as a bearer token and run on the leader; their answer
 * arrives when raft reports the outcome.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"

#define MAX_MEMBERS 64

static const char ctype_text[] = "text/plain; charset=utf-8";
static const char ctype_json[] = "application/json";
static const char cors[] = "Access-Control-Allow-Origin: *\r\n";

/* ------------------------------------------------------------------------
 * Parsing helpers (pure)
 * ---------------------------------------------------------------------- */

bool srv__http_query_get(const char *q,
                         size_t qlen,
                         const char *name,
                         const char **val,
                         size_t *vlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&') {
            end++;
        }
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = eq != NULL ? (size_t)(eq - (q + i)) : end - i;
        if (klen == nlen && memcmp(q + i, name, nlen) == 0) {
            *val = eq != NULL ? eq + 1 : "";
            *vlen = eq != NULL ? (size_t)(q + end - (eq + 1)) : 0;
            return true;
        }
        i = end + 1;
    }
    return false;
}

int srv__parse_duration_ms(const char *s, size_t n, uint64_t *out)
{
    uint64_t mant = 0;
    uint64_t div = 1;
    size_t i = 0;
    size_t digits = 0;
    uint64_t mul_us;

    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        if (mant >= UINT64_C(100000000)) {
            /* Over a day in any unit; also keeps the products below
             * from overflowing. */
            return -EINVAL;
        }
        mant = mant * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (div >= 1000) {
                continue; /* digits past the third are ignored */
            }
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            div *= 10;
        }
    }
    if (digits == 0) {
        return -EINVAL;
    }
    if (i == n || (n - i == 2 && memcmp(s + i, "ms", 2) == 0)) {
        mul_us = 1000;
    } else if (n - i == 1 && s[i] == 's') {
        mul_us = 1000000;
    } else if (n - i == 1 && s[i] == 'm') {
        mul_us = 60000000;
    } else {
        return -EINVAL;
    }
    *out = mant * mul_us / div / 1000;
    return 0;
}

/* The deadline a probe asks for with ?timeout=, capped by the server's
 * verify-timeout-ms. Returns false for a malformed value. */
static bool probe_timeout(const struct srv_http_req *req, uint64_t *ms)
{
    const char *v;
    size_t n;
    uint64_t cap = srv__server->cfg->verify_timeout_ms;
    *ms = SRV_HTTP_DEFAULT_TIMEOUT_MS;
    if (srv__http_query_get(req->query, req->query_len, "timeout", &v, &n) &&
        srv__parse_duration_ms(v, n, ms) != 0) {
        return false;
    }
    if (*ms > cap) {
        *ms = cap;
    }
    return true;
}

static bool path_is(const struct srv_http_req *req, const char *p)
{
    return req->path_len == strlen(p) &&
           memcmp(req->path, p, req->path_len) == 0;
}

/* ------------------------------------------------------------------------
 * JSON output
 * ---------------------------------------------------------------------- */

struct jbuf
{
    struct proto_buf b; /* owned */
    int rv;             /* first error, sticky */
};

static void jraw(struct jbuf *j, const char *s, size_t n)
{
    if (j->rv == 0) {
        j->rv = proto_buf_append(&j->b, s, n);
    }
}

static void jkey(struct jbuf *j, const char *key)
{
    if (j->b.len > 0 && j->b.data[j->b.len - 1] != '{' &&
        j->b.data[j->b.len - 1] != '[') {
        jraw(j, ",", 1);
    }
    if (key != NULL && j->rv == 0) {
        j->rv = srv_json_string(&j->b, key, strlen(key));
        jraw(j, ":", 1);
    }
}

static void jstr(struct jbuf *j, const char *key, const char *v)
{
    jkey(j, key);
    if (v == NULL) {
        jraw(j, "null", 4);
    } else if (j->rv == 0) {
        j->rv = srv_json_string(&j->b, v, strlen(v));
    }
}

static void jfmt(struct jbuf *j, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void jfmt(struct jbuf *j, const char *key, const char *fmt, ...)
{
    char num[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(num, sizeof(num), fmt, ap);
    va_end(ap);
    jkey(j, key);
    jraw(j, num, (size_t)n < sizeof(num) ? (size_t)n : sizeof(num) - 1);
}

static void ju64(struct jbuf *j, const char *key, uint64_t v)
{
    jfmt(j, key, "%llu", (unsigned long long)v);
}

static void jopen(struct jbuf *j, const char *key, char ch)
{
    jkey(j, key);
    jraw(j, &ch, 1);
}

static void jclose(struct jbuf *j, char ch)
{
    jraw(j, &ch, 1);
}

static void respond_buf(struct srv_http_conn *c,
                        unsigned status,
                        const char *ctype,
                        struct jbuf *j,
                        const char *extra)
{
    if (j->rv != 0) {
        srv__http_respond(c, 500, ctype_text, "out of memory\n", 14, NULL);
    } else {
        srv__http_respond(c, status, ctype, j->b.data != NULL ? j->b.data : "",
                          j->b.len, extra);
    }
    proto_buf_fini(&j->b);
}

static void respond_text(struct srv_http_conn *c,
                         unsigned status,
                         const char *s)
{
    srv__http_respond(c, status, ctype_text, s, strlen(s), NULL);
}

/* ------------------------------------------------------------------------
 * Probes: /healthz, /healthz/leader, /readyz
 * ---------------------------------------------------------------------- */

static void get_info(struct radapter_info *ri)
{
    memset(ri, 0, sizeof(*ri));
    ri->role = "unavailable";
    if (srv__server->ra != NULL) {
        radapter_get_info(srv__server->ra, ri);
    }
}

static const char *verify_reason(int status)
{
    switch (status) {
        case 0:
            return "";
        case RADAPTER_ETIMEDOUT:
            return "leader verification timed out";
        case RADAPTER_ENOTLEADER:
            return "not the leader";
        case RADAPTER_EBUSY:
            return "too many pending reads";
        case RADAPTER_ESHUTDOWN:
            return "shutting down";
        default:
            return "leader verification failed";
    }
}

/* Answers a leadership probe: 200 if @ok, else 503 with @why. */
static void leader_answer(struct srv_http_conn *c,
                          const struct srv_http_req *req,
                          bool ok,
                          const char *why,
                          uint64_t latency_ns)
{
    struct radapter_info ri;
    struct jbuf j = {0};
    char text[256];

    get_info(&ri);
    if (req->want_json) {
        jopen(&j, NULL, '{');
        jfmt(&j, "ok", "%s", ok ? "true" : "false");
        jstr(&j, "role", ri.role);
        ju64(&j, "term", ri.term);
        ju64(&j, "leader_id", ri.leader_id);
        ju64(&j, "id", ri.id);
        jstr(&j, "reason", ok ? "leader verified" : why);
        ju64(&j, "verify_us", latency_ns / 1000);
        jclose(&j, '}');
        jraw(&j, "\n", 1);
        respond_buf(c, ok ? 200 : 503, ctype_json, &j, NULL);
        return;
    }
    if (ok) {
        snprintf(text, sizeof(text),
                 "ok: leader of term %llu (verified in %.3f ms)\n",
                 (unsigned long long)ri.term, (double)latency_ns / 1e6);
    } else {
        snprintf(text, sizeof(text),
                 "not ok: %s (role %s, term %llu, leader %llu)\n", why, ri.role,
                 (unsigned long long)ri.term, (unsigned long long)ri.leader_id);
    }
    respond_text(c, ok ? 200 : 503, text);
}

static void leader_verified_cb(struct srv_http_conn *c,
                               const struct srv_http_req *req,
                               int status,
                               uint64_t latency_ns)
{
    struct radapter_info ri;
    get_info(&ri);
    if (status == 0 && strcmp(ri.role, "leader") != 0) {
        /* Confirmed a read index, but through another leader. */
        status = RADAPTER_ENOTLEADER;
    }
    leader_answer(c, req, status == 0, verify_reason(status), latency_ns);
}

static void route_healthz_leader(struct srv_http_conn *c,
                                 const struct srv_http_req *req)
{
    struct radapter_info ri;
    uint64_t ms;

    if (!probe_timeout(req, &ms)) {
        respond_text(c, 400, "bad timeout: use milliseconds or 250ms, 1s\n");
        return;
    }
    get_info(&ri);
    if (strcmp(ri.role, "leader") != 0) {
        leader_answer(c, req, false, "not the leader", 0);
        return;
    }
    int rv = srv__http_verify(c, ms, leader_verified_cb);
    if (rv != 0) {
        leader_answer(c, req, false, verify_reason(rv), 0);
    }
}

/* The synchronous readiness checks; returns how many passed in order. */
struct ready_check
{
    const char *name;
    bool ok;
    char why[96];
};

static size_t ready_static(struct ready_check *ck)
{
    struct radapter_info ri;
    get_info(&ri);
    ck[0].name = "raft";
    ck[0].ok = srv__server->ra != NULL && !srv__server->shutting_down &&
               strcmp(ri.role, "unavailable") != 0;
    snprintf(ck[0].why, sizeof(ck[0].why), "role %s", ri.role);
    ck[1].name = "leader-known";
    ck[1].ok = ri.leader_id != 0;
    snprintf(ck[1].why, sizeof(ck[1].why), "no leader known");
    ck[2].name = "applied-committed";
    ck[2].ok = ri.applied_index >= ri.commit_index;
    snprintf(ck[2].why, sizeof(ck[2].why), "applied %llu < commit %llu",
             (unsigned long long)ri.applied_index,
             (unsigned long long)ri.commit_index);
    ck[3].name = "linearizable-read";
    ck[3].ok = false;
    snprintf(ck[3].why, sizeof(ck[3].why), "not attempted");
    size_t n = 0;
    while (n < 3 && ck[n].ok) {
        n++;
    }
    return n;
}

static void ready_answer(struct srv_http_conn *c,
                         const struct srv_http_req *req,
                         struct ready_check *ck)
{
    const char *v;
    size_t vn;
    bool verbose =
        srv__http_query_get(req->query, req->query_len, "verbose", &v, &vn);
    bool ok = ck[0].ok && ck[1].ok && ck[2].ok && ck[3].ok;
    struct jbuf j = {0};

    if (req->want_json) {
        jopen(&j, NULL, '{');
        jfmt(&j, "ok", "%s", ok ? "true" : "false");
        jopen(&j, "checks", '[');
        for (size_t i = 0; i < 4; i++) {
            jopen(&j, NULL, '{');
            jstr(&j, "name", ck[i].name);
            jfmt(&j, "ok", "%s", ck[i].ok ? "true" : "false");
            jstr(&j, "reason", ck[i].ok ? "" : ck[i].why);
            jclose(&j, '}');
        }
        jclose(&j, ']');
        jclose(&j, '}');
        jraw(&j, "\n", 1);
        respond_buf(c, ok ? 200 : 503, ctype_json, &j, NULL);
        return;
    }
    if (verbose) {
        /* etcd's shape: one "[+]name ok" or "[-]name failed: why" line
         * per check, then the verdict. */
        for (size_t i = 0; i < 4; i++) {
            char line[160];
            int n = ck[i].ok
                        ? snprintf(line, sizeof(line), "[+]%s ok\n", ck[i].name)
                        : snprintf(line, sizeof(line), "[-]%s failed: %s\n",
                                   ck[i].name, ck[i].why);
            jraw(&j, line, (size_t)n);
        }
    }
    if (ok) {
        jraw(&j, "ok\n", 3);
    } else {
        jraw(&j, "readyz check failed\n", 20);
    }
    respond_buf(c, ok ? 200 : 503, ctype_text, &j, NULL);
}

static void ready_verified_cb(struct srv_http_conn *c,
                              const struct srv_http_req *req,
                              int status,
                              uint64_t latency_ns)
{
    struct ready_check ck[4];
    (void)latency_ns;
    ready_static(ck);
    ck[3].ok = status == 0;
    snprintf(ck[3].why, sizeof(ck[3].why), "%s", verify_reason(status));
    ready_answer(c, req, ck);
}

static void route_readyz(struct srv_http_conn *c,
                         const struct srv_http_req *req)
{
    struct ready_check ck[4];
    uint64_t ms;

    if (!probe_timeout(req, &ms)) {
        respond_text(c, 400, "bad timeout: use milliseconds or 250ms, 1s\n");
        return;
    }
    if (ready_static(ck) < 3) {
        ready_answer(c, req, ck);
        return;
    }
    int rv = srv__http_verify(c, ms, ready_verified_cb);
    if (rv != 0) {
        ck[3].ok = false;
        snprintf(ck[3].why, sizeof(ck[3].why), "%s", verify_reason(rv));
        ready_answer(c, req, ck);
    }
}

/* ------------------------------------------------------------------------
 * /status
 * ---------------------------------------------------------------------- */

/* The HTTP address --cluster-http gives for node @id, or NULL. */
static const char *cluster_http(uint64_t id,
                                struct srv_cluster_member *cm,
                                int n)
{
    for (int i = 0; i < n; i++) {
        if (cm[i].id == id) {
            return cm[i].peer_addr;
        }
    }
    return NULL;
}

static void status_members(struct jbuf *j, struct srv_server *srv)
{
    struct radapter_member_info m[MAX_MEMBERS];
    struct srv_cluster_member cm[MAX_MEMBERS];
    const char *spec =
        srv->cfg->cluster_http != NULL ? srv->cfg->cluster_http : "";
    int ncm = srv_cluster_parse(spec, cm, MAX_MEMBERS);
    size_t n =
        srv->ra != NULL ? radapter_get_members(srv->ra, m, MAX_MEMBERS) : 0;

    if (ncm < 0) {
        ncm = 0;
    }
    if (n > MAX_MEMBERS) {
        n = MAX_MEMBERS;
    }
    jopen(j, "members", '[');
    for (size_t i = 0; i < n; i++) {
        bool self = m[i].id == srv->cfg->id;
        const char *http_addr = cluster_http(m[i].id, cm, ncm);
        if (http_addr == NULL) {
            http_addr = self ? srv->cfg->http_addr : m[i].http_addr;
        }
        jopen(j, NULL, '{');
        ju64(j, "id", m[i].id);
        jstr(j, "peer", m[i].peer_addr);
        jstr(j, "role", m[i].role);
        jstr(j, "redis", self ? srv->cfg->redis_addr : m[i].redis_addr);
        jstr(j, "http", http_addr != NULL ? http_addr : "");
        ju64(j, "match_index", m[i].match_index);
        jfmt(j, "last_contact_ms", "%lld", (long long)m[i].last_contact_ms);
        jfmt(j, "self", "%s", self ? "true" : "false");
        jclose(j, '}');
    }
    jclose(j, ']');
}

static void route_status(struct srv_http_conn *c)
{
    struct srv_server *srv = srv__server;
    struct radapter_info ri;
    struct srv_hist vh;
    uint64_t lag, lag_max, rss, hopen, hacc, href;
    struct jbuf j = {0};

    get_info(&ri);
    srv__metrics_snapshot(&lag, &lag_max, &vh, &rss);
    srv__http_conn_stats(srv, &hopen, &hacc, &href);
    jopen(&j, NULL, '{');
    ju64(&j, "id", srv->cfg->id);
    jstr(&j, "version", SRV_VERSION);
    jstr(&j, "role", ri.role);
    ju64(&j, "term", ri.term);
    ju64(&j, "leader_id", ri.leader_id);
    jstr(&j, "leader_peer", ri.leader_addr != NULL ? ri.leader_addr : "");
    jstr(&j, "leader_redis", ri.leader_redis_addr);
    jstr(&j, "leader_http", ri.leader_http_addr);
    jfmt(&j, "ready", "%s", ri.ready ? "true" : "false");
    ju64(&j, "voters", ri.voters);
    ju64(&j, "commit_index", ri.commit_index);
    ju64(&j, "applied_index", ri.applied_index);
    ju64(&j, "last_index", ri.last_index);
    ju64(&j, "snapshot_index", ri.snapshot_index);
    ju64(&j, "snapshots", ri.snapshots);
    ju64(&j, "pending_reads", ri.pending_reads);
    ju64(&j, "pending_writes", ri.pending_writes);
    ju64(&j, "leader_changes", ri.leader_changes);
    ju64(&j, "probes_sent", ri.probes_sent);
    ju64(&j, "rounds_confirmed", ri.rounds_confirmed);
    ju64(&j, "reads_timed_out", ri.reads_timed_out);
    ju64(&j, "reads_refused", ri.reads_refused);
    ju64(&j, "forwarded_writes", ri.forwarded_writes);
    ju64(&j, "forward_retries", ri.forward_retries);
    ju64(&j, "forward_unknown", ri.forward_unknown);
    ju64(&j, "inflight_entries", ri.inflight_entries);
    ju64(&j, "entries_proposed", ri.entries_proposed);
    ju64(&j, "commands_proposed", ri.commands_proposed);
    ju64(&j, "expired_keys", ri.expired_keys);
    ju64(&j, "rounds_retried", ri.rounds_retried);
    ju64(&j, "remote_reads", ri.remote_reads);
    ju64(&j, "dedup_hits", ri.dedup_hits);
    jopen(&j, "addrs", '{');
    jstr(&j, "redis", srv->cfg->redis_addr);
    jstr(&j, "peer", srv->cfg->peer_addr);
    jstr(&j, "http", srv->cfg->http_addr);
    jclose(&j, '}');
    ju64(&j, "now_ms", (uint64_t)srv__now_ms());
    ju64(&j, "uptime_s", ((uint64_t)srv__now_ms() - srv->start_ms) / 1000);
    ju64(&j, "loop_lag_ms", lag);
    ju64(&j, "loop_lag_max_ms", lag_max);
    jopen(&j, "verify", '{');
    ju64(&j, "count", vh.count);
    jfmt(&j, "sum_ms", "%.3f", (double)vh.sum_ns / 1e6);
    jclose(&j, '}');
    jopen(&j, "memory", '{');
    ju64(&j, "rss_bytes", rss);
    ju64(&j, "dataset_bytes",
         srv->store != NULL ? kv_store_memory(srv->store) : 0);
    jclose(&j, '}');
    ju64(&j, "keys", srv->store != NULL ? kv_store_size(srv->store) : 0);
    /* How close the node runs to its limits (issue 5). */
    struct srv_watchdog_stats ws;
    srv__watchdog_stats(&ws);
    jopen(&j, "limits", '{');
    jfmt(&j, "loop_lag_p99_ms", "%.3f", (double)ws.lag_p99_ns / 1e6);
    jfmt(&j, "loop_utilization", "%.4f", (double)ws.utilization_ppm / 1e6);
    ju64(&j, "heartbeat_gaps_warn", srv__watchdog_gaps(false));
    ju64(&j, "heartbeat_gaps_critical", srv__watchdog_gaps(true));
    ju64(&j, "slow_disk_appends", ws.slow_appends);
    ju64(&j, "used_memory", srv->store != NULL ? srv__used_memory(srv) : 0);
    ju64(&j, "maxmemory", srv->cfg->maxmemory);
    ju64(&j, "memory_shutdown_threshold_bytes",
         srv->cfg->memory_shutdown_threshold_mb << 20);
    ju64(&j, "oom_rejections", srv->stats.oom_rejections);
    ju64(&j, "heavy_command_rejections", srv->stats.heavy_rejections);
    ju64(&j, "client_output_buffer_disconnections",
         srv->stats.obuf_disconnections);
    jclose(&j, '}');
    jopen(&j, "connections", '{');
    ju64(&j, "resp", srv->nconns);
    ju64(&j, "http", hopen);
    jclose(&j, '}');
    jfmt(&j, "admin_actions", "%s",
         srv->cfg->admin_token != NULL && srv->cfg->admin_token[0] != '\0'
             ? "true"
             : "false");
    status_members(&j, srv);
    jclose(&j, '}');
    jraw(&j, "\n", 1);
    respond_buf(c, 200, ctype_json, &j, cors);
}

/* ------------------------------------------------------------------------
 * Operator actions
 * ---------------------------------------------------------------------- */

static bool token_ok(const struct srv_http_req *req, const char *want)
{
    size_t n = strlen(want);
    unsigned char diff = (unsigned char)(req->token_len != n);
    /* Constant time in the token's contents. */
    for (size_t i = 0; i < n; i++) {
        unsigned char a = i < req->token_len ? (unsigned char)req->token[i] : 0;
        diff |= (unsigned char)(a ^ (unsigned char)want[i]);
    }
    return n > 0 && diff == 0;
}

static void action_json(struct srv_http_conn *c,
                        unsigned status,
                        bool ok,
                        const char *msg)
{
    struct radapter_info ri;
    struct jbuf j = {0};
    get_info(&ri);
    jopen(&j, NULL, '{');
    jfmt(&j, "ok", "%s", ok ? "true" : "false");
    jstr(&j, ok ? "result" : "error", msg);
    jstr(&j, "role", ri.role);
    ju64(&j, "leader_id", ri.leader_id);
    jstr(&j, "leader_http", ri.leader_http_addr);
    jclose(&j, '}');
    jraw(&j, "\n", 1);
    respond_buf(c, status, ctype_json, &j, cors);
}

static const char *action_error(int code)
{
    switch (code) {
        case -EEXIST:
            return "already a member";
        case -ENOENT:
            return "no such member";
        case -EINVAL:
            return "invalid request";
        case RADAPTER_EBUSY:
            return "another configuration change is in progress";
        default:
            return srv_strerror(code);
    }
}

static void action_done_cb(struct srv_http_conn *c,
                           int status,
                           struct kv_reply *reply)
{
    if (reply != NULL) {
        kv_reply_fini(reply);
    }
    if (c == NULL) {
        return;
    }
    srv_log(SRV_LOG_INFO, "http_admin_action_done", "status=%d", status);
    if (status == 0) {
        action_json(c, 200, true, "done");
    } else {
        action_json(c, status == RADAPTER_ENOTLEADER ? 409 : 503, false,
                    action_error(status));
    }
}

static void route_action(struct srv_http_conn *c,
                         const struct srv_http_req *req,
                         bool transfer)
{
    struct srv_server *srv = srv__server;
    const char *tok = srv->cfg->admin_token;
    const char *v;
    size_t vn;
    long long id = -1;

    if (req->method == SRV_HTTP_OPTIONS) {
        srv__http_respond(c, 204, ctype_text, "", 0,
                          "Access-Control-Allow-Origin: *\r\n"
                          "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
                          "Access-Control-Allow-Headers: Authorization\r\n"
                          "Access-Control-Max-Age: 600\r\n");
        return;
    }
    if (req->method != SRV_HTTP_POST) {
        srv__http_respond(c, 405, ctype_text, "use POST\n", 9,
                          "Allow: POST\r\n");
        return;
    }
    if (tok == NULL || tok[0] == '\0') {
        action_json(c, 403, false,
                    "operator actions are disabled: start the server with "
                    "--admin-token");
        return;
    }
    if (!token_ok(req, tok)) {
        action_json(c, 401, false, "missing or wrong bearer token");
        return;
    }
    if (srv__http_query_get(req->query, req->query_len, "id", &v, &vn) &&
        !srv__parse_ll(v, vn, &id)) {
        id = -1;
    }
    if (id < (transfer ? 0 : 1)) {
        action_json(c, 400, false, "give ?id=N (a member's raft id)");
        return;
    }
    if (srv->ra == NULL || srv->shutting_down) {
        action_json(c, 503, false, "shutting down");
        return;
    }
    void *ctx = srv__http_admin_begin(c, action_done_cb);
    if (ctx == NULL) {
        action_json(c, 500, false, "out of memory");
        return;
    }
    int rv = transfer ? radapter_transfer(srv->ra, (uint64_t)id,
                                          srv__http_admin_done_cb, ctx)
                      : radapter_remove_node(srv->ra, (uint64_t)id,
                                             srv__http_admin_done_cb, ctx);
    srv_log(SRV_LOG_INFO, "http_admin_action", "action=%s id=%lld rv=%d",
            transfer ? "transfer" : "remove", id, rv);
    if (rv != 0) {
        srv__http_admin_abort(ctx);
        action_json(c, rv == RADAPTER_ENOTLEADER ? 409 : 503, false,
                    action_error(rv));
    }
}

/* ------------------------------------------------------------------------
 * Routing
 * ---------------------------------------------------------------------- */

static void route_asset(struct srv_http_conn *c, const char *name)
{
    for (size_t i = 0; i < srv__nassets; i++) {
        if (strcmp(srv__assets[i].name, name) == 0) {
            srv__http_respond(c, 200, srv__assets[i].ctype,
                              (const char *)srv__assets[i].data,
                              srv__assets[i].len, NULL);
            return;
        }
    }
    respond_text(c, 404, "not found\n");
}

static void route_metrics(struct srv_http_conn *c)
{
    struct jbuf j = {0};
    j.rv = srv__metrics_render(&j.b, srv__server);
    respond_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", &j, NULL);
}

static const char index_text[] =
    "raftkv HTTP endpoints:\n"
    "  /healthz          liveness\n"
    "  /healthz/leader   200 only on a verified leader (?timeout=1s)\n"
    "  /readyz           readiness (?verbose, ?timeout=)\n"
    "  /metrics          Prometheus metrics\n"
    "  /status           this node's state (JSON)\n"
    "  /admin            the dashboard\n";

void srv__http_route(struct srv_http_conn *c, const struct srv_http_req *req)
{
    bool get = req->method == SRV_HTTP_GET || req->method == SRV_HTTP_HEAD;

    if (path_is(req, "/admin/api/transfer") ||
        path_is(req, "/admin/api/remove")) {
        route_action(c, req, path_is(req, "/admin/api/transfer"));
        return;
    }
    if (!get) {
        srv__http_respond(c, 405, ctype_text, "method not allowed\n", 19,
                          "Allow: GET, HEAD\r\n");
        return;
    }
    if (path_is(req, "/healthz") || path_is(req, "/livez")) {
        if (req->want_json) {
            srv__http_respond(c, 200, ctype_json, "{\"ok\":true}\n", 12, NULL);
        } else {
            respond_text(c, 200, "ok\n");
        }
    } else if (path_is(req, "/healthz/leader")) {
        route_healthz_leader(c, req);
    } else if (path_is(req, "/readyz")) {
        route_readyz(c, req);
    } else if (path_is(req, "/metrics")) {
        route_metrics(c);
    } else if (path_is(req, "/status")) {
        route_status(c);
    } else if (path_is(req, "/admin") || path_is(req, "/admin/")) {
        route_asset(c, "index.html");
    } else if (req->path_len > 7 && memcmp(req->path, "/admin/", 7) == 0 &&
               req->path_len - 7 < 64) {
        char name[64];
        memcpy(name, req->path + 7, req->path_len - 7);
        name[req->path_len - 7] = '\0';
        route_asset(c, name);
    } else if (path_is(req, "/")) {
        respond_text(c, 200, index_text);
    } else {
        respond_text(c, 404, "not found\n");
    }
}
