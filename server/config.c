/* Configuration: defaults, config file, environment and command line. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"

/* ------------------------------------------------------------------------
 * The option table. Adding an option is adding a row here; --help, the
 * environment, the config file and CONFIG GET all read this table.
 * ---------------------------------------------------------------------- */

enum opt_type {
    OPT_UINT,    /* decimal integer within [min, max] */
    OPT_MEM,     /* Redis memory amount: 512mb, 1gb, 4096 */
    OPT_STR,     /* non-empty string */
    OPT_ADDR,    /* host:port */
    OPT_LEVEL,   /* debug|info|warn|error */
    OPT_CLUSTER, /* id=host:port,...; may be empty */
    OPT_OPTADDR, /* host:port, or empty for none */
    OPT_SECRET,  /* string, may be empty; CONFIG GET does not reveal it */
};

struct opt
{
    const char *name; /* long option without dashes, file key */
    const char *env;  /* environment variable */
    enum opt_type type;
    size_t off;   /* offset in struct srv_config */
    uint64_t min; /* OPT_UINT / OPT_MEM bounds */
    uint64_t max;
    const char *def;  /* default, parsed at init */
    bool mutable_;    /* settable by CONFIG SET */
    const char *help; /* one line for --help */
};

#define OFF(f) offsetof(struct srv_config, f)
#define U32MAX UINT64_C(4294967295)

static const struct opt opts[] = {
    {"id", "RAFTKV_ID", OPT_UINT, OFF(id), 1, UINT64_MAX >> 1, "1", false,
     "raft node id (>= 1)"},
    {"data-dir", "RAFTKV_DATA_DIR", OPT_STR, OFF(data_dir), 0, 0,
     "./raftkv-data", false, "directory for raft log and snapshots"},
    {"redis", "RAFTKV_REDIS", OPT_ADDR, OFF(redis_addr), 0, 0, "127.0.0.1:6379",
     false, "RESP listener address"},
    {"peer", "RAFTKV_PEER", OPT_ADDR, OFF(peer_addr), 0, 0, "127.0.0.1:7379",
     false, "raft peer listener address"},
    {"http", "RAFTKV_HTTP", OPT_ADDR, OFF(http_addr), 0, 0, "127.0.0.1:8379",
     false, "HTTP listener address"},
    {"join", "RAFTKV_JOIN", OPT_OPTADDR, OFF(join), 0, 0, "", false,
     "join a running cluster through this member's peer address (on an "
     "empty data dir)"},
    {"cluster", "RAFTKV_CLUSTER", OPT_CLUSTER, OFF(cluster), 0, 0, "", false,
     "bootstrap voters id=host:port,... (used on an empty data dir)"},
    {"cluster-http", "RAFTKV_CLUSTER_HTTP", OPT_CLUSTER, OFF(cluster_http), 0,
     0, "", false,
     "HTTP addresses of the members id=host:port,... (for the dashboard)"},
    {"admin-token", "RAFTKV_ADMIN_TOKEN", OPT_SECRET, OFF(admin_token), 0, 0,
     "", false,
     "bearer token enabling HTTP operator actions (empty: disabled)"},
    {"log-level", "RAFTKV_LOG_LEVEL", OPT_LEVEL, OFF(log_level), 0, 0, "info",
     true, "debug|info|warn|error"},
    {"maxclients", "RAFTKV_MAXCLIENTS", OPT_UINT, OFF(maxclients), 1, 1000000,
     "10000", true, "maximum simultaneous clients"},
    {"proto-max-bulk-len", "RAFTKV_PROTO_MAX_BULK_LEN", OPT_MEM,
     OFF(proto_max_bulk_len), 1024 * 1024, UINT64_C(1) << 40, "512mb", true,
     "longest bulk string a request may carry"},
    {"client-query-buffer-limit", "RAFTKV_CLIENT_QUERY_BUFFER_LIMIT", OPT_MEM,
     OFF(client_query_buffer_limit), 1024 * 1024, UINT64_C(1) << 40, "1gb",
     true, "per-client query buffer cap"},
    {"heartbeat-ms", "RAFTKV_HEARTBEAT_MS", OPT_UINT, OFF(heartbeat_ms), 1,
     600000, "100", false, "raft heartbeat interval"},
    {"election-ms", "RAFTKV_ELECTION_MS", OPT_UINT, OFF(election_ms), 10,
     600000, "1000", false, "raft election timeout"},
    {"snapshot-threshold", "RAFTKV_SNAPSHOT_THRESHOLD", OPT_UINT,
     OFF(snapshot_threshold), 1, U32MAX, "8192", false,
     "log entries between snapshots"},
    {"snapshot-trailing", "RAFTKV_SNAPSHOT_TRAILING", OPT_UINT,
     OFF(snapshot_trailing), 0, U32MAX, "8192", false,
     "log entries kept after a snapshot"},
    {"verify-timeout-ms", "RAFTKV_VERIFY_TIMEOUT_MS", OPT_UINT,
     OFF(verify_timeout_ms), 1, 3600000, "5000", true,
     "cap on how long a read waits for leader verification"},
    {"max-pending-reads", "RAFTKV_MAX_PENDING_READS", OPT_UINT,
     OFF(max_pending_reads), 1, U32MAX, "10000", false,
     "reads that may wait for verification"},
    {"max-pending-writes", "RAFTKV_MAX_PENDING_WRITES", OPT_UINT,
     OFF(max_pending_writes), 1, U32MAX, "100000", false,
     "write commands that may wait for proposal"},
    {"max-inflight-entries", "RAFTKV_MAX_INFLIGHT_ENTRIES", OPT_UINT,
     OFF(max_inflight_entries), 1, 100000, "64", false,
     "raft entries proposed but not yet applied"},
    {"max-batch-bytes", "RAFTKV_MAX_BATCH_BYTES", OPT_MEM, OFF(max_batch_bytes),
     4096, UINT64_C(1) << 30, "1mb", false,
     "soft cap on one raft entry's size"},
    {"maxmemory", "RAFTKV_MAXMEMORY", OPT_MEM, OFF(maxmemory), 0,
     UINT64_C(1) << 50, "0", true,
     "refuse writes with -OOM while used_memory is above this (0: no limit)"},
    {"memory-shutdown-threshold-mb", "RAFTKV_MEMORY_SHUTDOWN_THRESHOLD_MB",
     OPT_UINT, OFF(memory_shutdown_threshold_mb), 0, UINT64_C(1) << 30, "0",
     false,
     "shut down gracefully (exit code 2) when RSS reaches this many MiB (0: "
     "off)"},
    {"memory-poll-interval-ms", "RAFTKV_MEMORY_POLL_INTERVAL_MS", OPT_UINT,
     OFF(memory_poll_interval_ms), 10, 3600000, "1000", false,
     "how often the memory watch reads RSS"},
    {"loop-monitor-interval-ms", "RAFTKV_LOOP_MONITOR_INTERVAL_MS", OPT_UINT,
     OFF(loop_monitor_interval_ms), 100, 3600000, "10000", false,
     "window of the event-loop lag report (event_loop_lag log line)"},
    {"disk-slow-warn-ms", "RAFTKV_DISK_SLOW_WARN_MS", OPT_UINT,
     OFF(disk_slow_warn_ms), 1, 3600000, "1000", true,
     "log a slow_disk warning when a raft log append takes longer"},
    {"client-output-buffer-limit", "RAFTKV_CLIENT_OUTPUT_BUFFER_LIMIT", OPT_STR,
     OFF(client_output_buffer_limit), 0, 0, "normal 1gb 256mb 60", true,
     "as Redis: <class> <hard> <soft> <soft-seconds>...; a normal client "
     "whose pending replies pass hard, or stay above soft that long, is "
     "disconnected (0: no limit)"},
    {"maxclients-per-ip", "RAFTKV_MAXCLIENTS_PER_IP", OPT_UINT,
     OFF(maxclients_per_ip), 0, 1000000, "0", true,
     "connections one client IP may hold (0: no limit)"},
    {"heavy-command-budget", "RAFTKV_HEAVY_COMMAND_BUDGET", OPT_UINT,
     OFF(heavy_command_budget), 0, UINT64_C(1) << 40, "100000", true,
     "work one read may do on the loop: keys KEYS may examine, SCAN's COUNT "
     "cap, LCS cells / 100; past it -BUSY (0: no limit)"},
    {"disk-stall-timeout-ms", "RAFTKV_DISK_STALL_TIMEOUT_MS", OPT_UINT,
     OFF(disk_stall_timeout_ms), 1000, 3600000, "10000", false,
     "a raft log append outstanding this long is a failed disk: exit 3"},
    {"snapshot-fork", "RAFTKV_SNAPSHOT_FORK", OPT_STR, OFF(snapshot_fork), 0, 0,
     "yes", false,
     "write snapshots from a forked child (yes) or on the event loop (no)"},
    {"enable-debug-command", "RAFTKV_ENABLE_DEBUG_COMMAND", OPT_STR,
     OFF(enable_debug_command), 0, 0, "no", false,
     "allow DEBUG (SLEEP): no|yes|local (local: loopback clients only)"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Redis spellings accepted as aliases (CONFIG SET loglevel ...). */
static const struct
{
    const char *alias;
    const char *name;
} aliases[] = {
    {"loglevel", "log-level"},
    {"port", NULL}, /* refused: the listener address is "redis" */
};

static const char *names[NOPTS + 2];

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].alias) == 0) {
            if (aliases[i].name == NULL) {
                return NULL;
            }
            name = aliases[i].name;
            break;
        }
    }
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcasecmp(name, opts[i].name) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s == '\0' || !isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -EINVAL;
    }
    *out = (uint64_t)v;
    return 0;
}

int srv_parse_memory(const char *s, uint64_t *out)
{
    static const struct
    {
        const char *suffix;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1000},
        {"kb", 1024},
        {"m", 1000 * 1000},
        {"mb", 1024 * 1024},
        {"g", 1000 * 1000 * 1000},
        {"gb", UINT64_C(1024) * 1024 * 1024},
    };
    char num[32];
    size_t n = 0;
    while (isdigit((unsigned char)s[n])) {
        n++;
    }
    if (n == 0 || n >= sizeof(num)) {
        return -EINVAL;
    }
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    if (parse_u64(num, &v) != 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(s + n, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mul) {
                return -EINVAL;
            }
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -EINVAL;
}

int srv_parse_obuf_limit(const char *s,
                         uint64_t *hard,
                         uint64_t *soft,
                         uint64_t *soft_s)
{
    char buf[256];
    char *words[16];
    int n = 0;
    char *save = NULL;

    if (strlen(s) >= sizeof(buf)) {
        return -EINVAL;
    }
    strcpy(buf, s);
    for (char *w = strtok_r(buf, " \t", &save); w != NULL;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == (int)(sizeof(words) / sizeof(words[0]))) {
            return -EINVAL;
        }
        words[n++] = w;
    }
    if (n == 0 || n % 4 != 0) {
        return -EINVAL;
    }
    for (int i = 0; i < n; i += 4) {
        uint64_t h;
        uint64_t so;
        uint64_t secs;
        const char *cls = words[i];
        if (strcasecmp(cls, "normal") != 0 && strcasecmp(cls, "replica") != 0 &&
            strcasecmp(cls, "slave") != 0 && strcasecmp(cls, "pubsub") != 0) {
            return -EINVAL;
        }
        if (srv_parse_memory(words[i + 1], &h) != 0 ||
            srv_parse_memory(words[i + 2], &so) != 0 ||
            parse_u64(words[i + 3], &secs) != 0 || secs > 86400 * 365) {
            return -EINVAL;
        }
        if (strcasecmp(cls, "normal") == 0) {
            *hard = h;
            *soft = so;
            *soft_s = secs;
        }
    }
    return 0; /* classes not given keep their values */
}

static int parse_level(const char *s)
{
    static const struct
    {
        const char *name;
        int level;
    } levels[] = {
        {"debug", SRV_LOG_DEBUG},   {"info", SRV_LOG_INFO},
        {"warn", SRV_LOG_WARN},     {"error", SRV_LOG_ERROR},
        {"verbose", SRV_LOG_DEBUG}, {"notice", SRV_LOG_INFO},
        {"warning", SRV_LOG_WARN},
    };
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcasecmp(s, levels[i].name) == 0) {
            return levels[i].level;
        }
    }
    return -1;
}

static bool valid_addr(const char *s)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;
    if (colon == NULL || colon == s) {
        return false;
    }
    if (parse_u64(colon + 1, &port) != 0 || port > 65535) {
        return false;
    }
    if (s[0] == '[' && colon[-1] != ']') {
        return false;
    }
    return true;
}

/* OPT_STR options that take one of a few words. */
static const struct
{
    const char *name;
    const char *choices; /* "a|b|c" */
} choices_tab[] = {
    {"enable-debug-command", "no|yes|local"},
    {"snapshot-fork", "yes|no"},
};

static const char *choices_of(const struct opt *o)
{
    for (size_t i = 0; i < sizeof(choices_tab) / sizeof(choices_tab[0]); i++) {
        if (strcmp(o->name, choices_tab[i].name) == 0) {
            return choices_tab[i].choices;
        }
    }
    return NULL;
}

/* Whether @value is one of the '|'-separated @choices. */
static bool in_choices(const char *choices, const char *value)
{
    size_t n = strlen(value);
    const char *p = choices;
    while (*p != '\0') {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncasecmp(p, value, n) == 0) {
            return true;
        }
        p += len + (bar != NULL ? 1 : 0);
    }
    return false;
}

/* Sets one option from text. @dash ("--" or "") prefixes the name in
 * messages. */
static int set_opt(struct srv_config *c,
                   const struct opt *o,
                   const char *value,
                   const char *dash,
                   char *err,
                   size_t errlen)
{
    char *base = (char *)c + o->off;
    uint64_t v = 0;
    int lvl;
    char *dup;
    char canon[160];

    switch (o->type) {
        case OPT_UINT:
        case OPT_MEM:
            if ((o->type == OPT_UINT ? parse_u64(value, &v)
                                     : srv_parse_memory(value, &v)) != 0) {
                snprintf(err, errlen, "invalid value '%s' for %s%s: %s", value,
                         dash, o->name,
                         o->type == OPT_UINT
                             ? "not a non-negative integer"
                             : "not a memory amount (e.g. 1048576, 64mb, 1gb)");
                return -EINVAL;
            }
            if (v < o->min || v > o->max) {
                snprintf(err, errlen,
                         "invalid value '%s' for %s%s: must be between %" PRIu64
                         " and %" PRIu64,
                         value, dash, o->name, o->min, o->max);
                return -EINVAL;
            }
            memcpy(base, &v, sizeof(v));
            return 0;
        case OPT_LEVEL:
            lvl = parse_level(value);
            if (lvl < 0) {
                snprintf(err, errlen,
                         "invalid value '%s' for %s%s: must be one of debug, "
                         "info, warn, error",
                         value, dash, o->name);
                return -EINVAL;
            }
            memcpy(base, &lvl, sizeof(lvl));
            return 0;
        case OPT_OPTADDR:
            if (value[0] != '\0' && !valid_addr(value)) {
                snprintf(err, errlen,
                         "invalid value '%s' for %s%s: expected HOST:PORT",
                         value, dash, o->name);
                return -EINVAL;
            }
            __attribute__((fallthrough));
        case OPT_SECRET:
        case OPT_CLUSTER:
            if (o->type == OPT_CLUSTER &&
                srv_cluster_parse(value, NULL, 0) < 0) {
                snprintf(
                    err, errlen,
                    "invalid value '%s' for %s%s: expected "
                    "ID=HOST:PORT[,ID=HOST:PORT...] with distinct ids >= 1",
                    value, dash, o->name);
                return -EINVAL;
            }
            /* Stored as a string, like the others. */
            __attribute__((fallthrough));
        case OPT_ADDR:
        case OPT_STR:
            if (value[0] == '\0' && o->type != OPT_CLUSTER &&
                o->type != OPT_OPTADDR && o->type != OPT_SECRET) {
                snprintf(err, errlen, "invalid value for %s%s: empty", dash,
                         o->name);
                return -EINVAL;
            }
            if (choices_of(o) != NULL && !in_choices(choices_of(o), value)) {
                snprintf(err, errlen,
                         "invalid value '%s' for %s%s: must be one of %s",
                         value, dash, o->name, choices_of(o));
                return -EINVAL;
            }
            if (strcmp(o->name, "client-output-buffer-limit") == 0) {
                uint64_t h = c->obuf_hard;
                uint64_t so = c->obuf_soft;
                uint64_t secs = c->obuf_soft_s;
                if (srv_parse_obuf_limit(value, &h, &so, &secs) != 0) {
                    snprintf(err, errlen,
                             "invalid value '%s' for %s%s: expected <class> "
                             "<hard> <soft> <soft-seconds> per class (normal, "
                             "replica, pubsub)",
                             value, dash, o->name);
                    return -EINVAL;
                }
                c->obuf_hard = h;
                c->obuf_soft = so;
                c->obuf_soft_s = secs;
                /* Stored in Redis's canonical form: CONFIG GET shows every
                 * class, in bytes (only "normal" applies here). */
                snprintf(canon, sizeof canon,
                         "normal %llu %llu %llu slave 268435456 67108864 60 "
                         "pubsub 33554432 8388608 60",
                         (unsigned long long)h, (unsigned long long)so,
                         (unsigned long long)secs);
                value = canon;
            }
            if (o->type == OPT_ADDR && !valid_addr(value)) {
                snprintf(err, errlen,
                         "invalid value '%s' for %s%s: expected HOST:PORT with "
                         "a port between 0 and 65535",
                         value, dash, o->name);
                return -EINVAL;
            }
            dup = strdup(value);
            if (dup == NULL) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
            }
            char *old;
            memcpy(&old, base, sizeof(old));
            free(old);
            memcpy(base, &dup, sizeof(dup));
            return 0;
    }
    return -EINVAL;
}

/* ------------------------------------------------------------------------
 * Cluster lists
 * ---------------------------------------------------------------------- */

int srv_cluster_parse(const char *spec,
                      struct srv_cluster_member *out,
                      size_t cap)
{
    uint64_t seen[SRV_CLUSTER_MAX];
    size_t n = 0;
    const char *p = spec;

    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        char idbuf[24];
        char addr[sizeof out->peer_addr];
        uint64_t id;
        size_t alen;

        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof idbuf) {
            return -EINVAL;
        }
        memcpy(idbuf, p, (size_t)(eq - p));
        idbuf[eq - p] = '\0';
        alen = len - (size_t)(eq - p) - 1;
        if (parse_u64(idbuf, &id) != 0 || id == 0 || alen == 0 ||
            alen >= sizeof addr) {
            return -EINVAL;
        }
        memcpy(addr, eq + 1, alen);
        addr[alen] = '\0';
        if (!valid_addr(addr)) {
            return -EINVAL;
        }
        if (n == SRV_CLUSTER_MAX) {
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            if (seen[i] == id) {
                return -EINVAL;
            }
        }
        seen[n] = id;
        if (out != NULL && n < cap) {
            out[n].id = id;
            memcpy(out[n].peer_addr, addr, alen + 1);
        }
        n++;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return -EINVAL;
            }
        }
    }
    return (int)n;
}

/* ------------------------------------------------------------------------
 * Public API
 * ---------------------------------------------------------------------- */

int srv_config_init(struct srv_config *c)
{
    char err[256];
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NOPTS; i++) {
        int rv = set_opt(c, &opts[i], opts[i].def, "", err, sizeof(err));
        if (rv != 0) {
            srv_config_fini(c);
            return rv;
        }
    }
    return 0;
}

void srv_config_fini(struct srv_config *c)
{
    free(c->config_file);
    free(c->data_dir);
    free(c->redis_addr);
    free(c->peer_addr);
    free(c->cluster);
    free(c->join);
    free(c->http_addr);
    free(c->cluster_http);
    free(c->admin_token);
    free(c->enable_debug_command);
    free(c->client_output_buffer_limit);
    free(c->snapshot_fork);
    c->snapshot_fork = NULL;
    c->cluster_http = c->admin_token = c->enable_debug_command = NULL;
    c->client_output_buffer_limit = NULL;
    c->config_file = c->data_dir = c->redis_addr = NULL;
    c->peer_addr = c->http_addr = c->cluster = c->join = NULL;
}

int srv_config_set(struct srv_config *c,
                   const char *name,
                   const char *value,
                   char *err,
                   size_t errlen)
{
    const struct opt *o = find_opt(name);
    if (o == NULL) {
        snprintf(err, errlen, "unknown option '%s'", name);
        return -ENOENT;
    }
    return set_opt(c, o, value, "", err, errlen);
}

int srv_config_get(const struct srv_config *c,
                   const char *name,
                   char *out,
                   size_t outlen)
{
    const struct opt *o = find_opt(name);
    const char *base;
    uint64_t v;
    int lvl;
    const char *s;

    if (o == NULL) {
        return -ENOENT;
    }
    base = (const char *)c + o->off;
    switch (o->type) {
        case OPT_UINT:
        case OPT_MEM:
            memcpy(&v, base, sizeof(v));
            snprintf(out, outlen, "%" PRIu64, v);
            break;
        case OPT_LEVEL:
            memcpy(&lvl, base, sizeof(lvl));
            snprintf(out, outlen, "%s",
                     srv_log_level_name((enum srv_log_level)lvl));
            break;
        case OPT_ADDR:
        case OPT_STR:
        case OPT_CLUSTER:
        case OPT_OPTADDR:
            memcpy(&s, base, sizeof(s));
            snprintf(out, outlen, "%s", s != NULL ? s : "");
            break;
        case OPT_SECRET:
            /* Tells whether it is set, never what it is. */
            memcpy(&s, base, sizeof(s));
            snprintf(out, outlen, "%s", s != NULL && *s != '\0' ? "(set)" : "");
            break;
    }
    return 0;
}

const char *const *srv_config_names(void)
{
    if (names[0] == NULL) {
        for (size_t i = 0; i < NOPTS; i++) {
            names[i] = opts[i].name;
        }
        names[NOPTS] = NULL;
    }
    return names;
}

bool srv_config_is_mutable(const char *name)
{
    const struct opt *o = find_opt(name);
    return o != NULL && o->mutable_;
}

/* ------------------------------------------------------------------------
 * Sources: file, environment, command line
 * ---------------------------------------------------------------------- */

/* Splits a config line into name and value in place. Returns 1 for a
 * setting, 0 for a blank or comment line, -EINVAL for a malformed one. */
static int split_line(char *line, char **name, char **value)
{
    char *p = line;
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)p[n - 1])) {
        p[--n] = '\0';
    }
    while (isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '\0' || *p == '#') {
        return 0;
    }
    *name = p;
    while (*p != '\0' && !isspace((unsigned char)*p)) {
        p++;
    }
    if (*p == '\0') {
        return -EINVAL;
    }
    *p++ = '\0';
    while (isspace((unsigned char)*p)) {
        p++;
    }
    n = strlen(p);
    if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0]) {
        p[n - 1] = '\0';
        p++;
    }
    *value = p;
    return 1;
}

int srv_config_load_file(struct srv_config *c,
                         const char *path,
                         char *err,
                         size_t errlen)
{
    char line[4096];
    char msg[256];
    unsigned lineno = 0;
    int rv = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        rv = -errno;
        snprintf(err, errlen, "cannot open config file '%s': %s", path,
                 strerror(errno));
        return rv;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *name;
        char *value;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            rv = -EINVAL;
            break;
        }
        int k = split_line(line, &name, &value);
        if (k == 0) {
            continue;
        }
        if (k < 0) {
            snprintf(err, errlen, "%s:%u: expected 'name value'", path, lineno);
            rv = -EINVAL;
            break;
        }
        if (strcmp(name, "config") == 0) {
            snprintf(err, errlen, "%s:%u: 'config' cannot be nested", path,
                     lineno);
            rv = -EINVAL;
            break;
        }
        rv = srv_config_set(c, name, value, msg, sizeof(msg));
        if (rv != 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
            rv = rv == -ENOENT ? -EINVAL : rv;
            break;
        }
    }
    fclose(f);
    return rv;
}

int srv_config_load_env(struct srv_config *c,
                        srv_getenv_cb getenv_fn,
                        char *err,
                        size_t errlen)
{
    char msg[256];
    for (size_t i = 0; i < NOPTS; i++) {
        const char *v = getenv_fn(opts[i].env);
        if (v == NULL) {
            continue;
        }
        int rv = set_opt(c, &opts[i], v, "", msg, sizeof(msg));
        if (rv != 0) {
            snprintf(err, errlen, "environment %s: %s", opts[i].env, msg);
            return rv;
        }
    }
    return 0;
}

/* Splits argv[*i] ("--name", "--name=value") and fetches its value. */
static int next_arg(int argc,
                    char **argv,
                    int *i,
                    const char **name,
                    size_t *namelen,
                    const char **value,
                    char *err,
                    size_t errlen)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
        return -EINVAL;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    *name = a;
    if (eq != NULL) {
        *namelen = (size_t)(eq - a);
        *value = eq + 1;
        return 0;
    }
    *namelen = strlen(a);
    *value = NULL;
    if (strcmp(a, "help") == 0 || strcmp(a, "version") == 0) {
        return 0;
    }
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "option '--%s' requires a value", a);
        return -EINVAL;
    }
    *value = argv[++*i];
    return 0;
}

static bool arg_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

int srv_config_load(struct srv_config *c,
                    int argc,
                    char **argv,
                    srv_getenv_cb getenv_fn,
                    char *err,
                    size_t errlen)
{
    const char *file = NULL;
    const char *name;
    const char *value;
    size_t len;
    char opt[128];
    int rv;

    /* First pass: --help, --version, --config, and syntax. */
    for (int i = 1; i < argc; i++) {
        rv = next_arg(argc, argv, &i, &name, &len, &value, err, errlen);
        if (rv != 0) {
            return rv;
        }
        if (arg_is(name, len, "help") || arg_is(name, len, "version")) {
            if (value != NULL) {
                snprintf(err, errlen, "option '--%.*s' takes no value",
                         (int)len, name);
                return -EINVAL;
            }
            return name[0] == 'h' ? SRV_CONFIG_HELP : SRV_CONFIG_VERSION;
        }
        if (arg_is(name, len, "config")) {
            file = value;
        }
    }
    if (file == NULL) {
        file = getenv_fn("RAFTKV_CONFIG");
    }
    if (file != NULL) {
        char *dup = strdup(file);
        if (dup == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        free(c->config_file);
        c->config_file = dup;
        rv = srv_config_load_file(c, file, err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    rv = srv_config_load_env(c, getenv_fn, err, errlen);
    if (rv != 0) {
        return rv;
    }
    for (int i = 1; i < argc; i++) {
        next_arg(argc, argv, &i, &name, &len, &value, err, errlen);
        if (arg_is(name, len, "config")) {
            continue;
        }
        if (len >= sizeof(opt)) {
            len = sizeof(opt) - 1;
        }
        memcpy(opt, name, len);
        opt[len] = '\0';
        const struct opt *o = NULL;
        for (size_t k = 0; k < NOPTS; k++) {
            if (strcmp(opt, opts[k].name) == 0) {
                o = &opts[k];
            }
        }
        if (o == NULL) {
            snprintf(err, errlen, "unknown option '--%s' (see --help)", opt);
            return -EINVAL;
        }
        rv = set_opt(c, o, value, "--", err, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

void srv_config_usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [--config FILE] [--OPTION VALUE]...\n"
            "A Redis-compatible key-value server replicated with Raft.\n\n"
            "Every option may also be set in the config file (a line\n"
            "'option value') or in the environment (the variable shown).\n"
            "Precedence: defaults < config file < environment < command "
            "line.\n\n",
            prog);
    fprintf(f, "  --%-26s %s\n  %-28s env RAFTKV_CONFIG, default: none\n",
            "config FILE", "read options from FILE", "");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s VALUE", opts[i].name);
        fprintf(f, "  --%-26s %s\n  %-28s env %s, default: %s\n", left,
                opts[i].help, "", opts[i].env, opts[i].def);
    }
    fprintf(f, "  --%-26s %s\n  --%-26s %s\n", "help", "show this help",
            "version", "print the version and exit");
}
