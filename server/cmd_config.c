/* CONFIG GET / SET / RESETSTAT / REWRITE / HELP. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Redis settings that have no effect here but that clients and tools read
 * or set (benchmarks, ORMs, monitoring). They are accepted, validated by
 * kind and echoed back.
 * ---------------------------------------------------------------------- */

enum extra_kind { X_STR, X_INT, X_BOOL, X_MEM, X_IMMUTABLE };

static const struct
{
    const char *name;
    const char *def;
    enum extra_kind kind;
} extras[] = {
    {"activerehashing", "yes", X_BOOL},
    {"appendfsync", "everysec", X_STR},
    {"appendonly", "no", X_BOOL},
    {"busy-reply-threshold", "5000", X_INT},
    {"cluster-enabled", "no", X_IMMUTABLE},
    {"databases", "1", X_IMMUTABLE},
    {"hash-max-listpack-entries", "128", X_INT},
    {"hash-max-listpack-value", "64", X_INT},
    {"hash-max-ziplist-entries", "128", X_INT},
    {"hash-max-ziplist-value", "64", X_INT},
    {"hz", "10", X_INT},
    {"io-threads", "1", X_IMMUTABLE},
    {"latency-monitor-threshold", "0", X_INT},
    {"lazyfree-lazy-eviction", "no", X_BOOL},
    {"lazyfree-lazy-expire", "no", X_BOOL},
    {"lazyfree-lazy-server-del", "no", X_BOOL},
    {"lazyfree-lazy-user-del", "no", X_BOOL},
    {"lazyfree-lazy-user-flush", "no", X_BOOL},
    {"list-compress-depth", "0", X_INT},
    {"list-max-listpack-size", "-2", X_INT},
    {"list-max-ziplist-size", "-2", X_INT},
    {"lua-time-limit", "5000", X_INT},
    {"maxmemory-policy", "noeviction", X_STR},
    {"maxmemory-samples", "5", X_INT},
    {"notify-keyspace-events", "", X_STR},
    {"protected-mode", "no", X_BOOL},
    {"replica-read-only", "yes", X_BOOL},
    {"save", "", X_STR},
    {"set-max-intset-entries", "512", X_INT},
    {"slowlog-log-slower-than", "10000", X_INT},
    {"slowlog-max-len", "128", X_INT},
    {"stop-writes-on-bgsave-error", "yes", X_BOOL},
    {"tcp-keepalive", "300", X_INT},
    {"timeout", "0", X_INT},
    {"zset-max-listpack-entries", "128", X_INT},
    {"zset-max-listpack-value", "64", X_INT},
    {"zset-max-ziplist-entries", "128", X_INT},
    {"zset-max-ziplist-value", "64", X_INT},
};

#define NEXTRAS (sizeof(extras) / sizeof(extras[0]))

/* Options of ours that keep their Redis name in CONFIG. */
static const char *const renamed[][2] = {
    {"loglevel", "log-level"},
};

void srv__config_extra_fini(struct srv_server *srv)
{
    for (size_t i = 0; i < srv->nextra; i++) {
        free(srv->extra_config[i]);
    }
    free(srv->extra_config);
    srv->extra_config = NULL;
    srv->nextra = 0;
}

static const char *extra_value(const struct srv_server *srv, size_t i)
{
    if (i < srv->nextra && srv->extra_config[i] != NULL) {
        return srv->extra_config[i];
    }
    return extras[i].def;
}

static int find_extra(const char *name, size_t n)
{
    for (size_t i = 0; i < NEXTRAS; i++) {
        if (srv__arg_is(name, n, extras[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * CONFIG GET
 * ---------------------------------------------------------------------- */

struct pair
{
    const char *name; /* canonical name, for de-duplication */
    char shown[128];  /* the name as replied */
    char value[256];
};

/* A pattern with no glob characters names one setting: Redis 7 then
 * replies with the name as the client wrote it. */
static bool is_literal(const char *pat, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '*' || pat[i] == '?' || pat[i] == '[' || pat[i] == '\\') {
            return false;
        }
    }
    return n < 128;
}

static bool seen(const struct pair *pairs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pairs[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static void config_get(struct srv_conn *c,
                       int argc,
                       const char *const *argv,
                       const size_t *lens)
{
    struct srv_server *srv = c->srv;
    const char *const *names = srv_config_names();
    size_t nnames = 0;
    while (names[nnames] != NULL) {
        nnames++;
    }
    size_t cap = nnames + NEXTRAS + 4;
    struct pair *pairs = calloc(cap, sizeof(*pairs));
    size_t n = 0;
    if (pairs == NULL) {
        srv_reply_error_code(&c->out, -ENOMEM, 0);
        return;
    }
    for (int a = 2; a < argc; a++) {
        const char *pat = argv[a];
        size_t plen = lens[a];
        for (size_t i = 0; i < nnames + 1 + NEXTRAS + 1; i++) {
            const char *name;
            if (i < nnames) {
                name = names[i];
            } else if (i == nnames) {
                name = renamed[0][0];
            } else if (i < nnames + 1 + NEXTRAS) {
                name = extras[i - nnames - 1].name;
            } else {
                name = "port";
            }
            if (seen(pairs, n, name) ||
                !srv_glob_match(pat, plen, name, strlen(name), true)) {
                continue;
            }
            pairs[n].name = name;
            if (is_literal(pat, plen)) {
                memcpy(pairs[n].shown, pat, plen);
                pairs[n].shown[plen] = '\0';
            } else {
                snprintf(pairs[n].shown, sizeof(pairs[n].shown), "%s", name);
            }
            if (i <= nnames) {
                srv_config_get(srv->cfg, i < nnames ? name : renamed[0][1],
                               pairs[n].value, sizeof(pairs[n].value));
            } else if (i < nnames + 1 + NEXTRAS) {
                snprintf(pairs[n].value, sizeof(pairs[n].value), "%s",
                         extra_value(srv, i - nnames - 1));
            } else {
                snprintf(pairs[n].value, sizeof(pairs[n].value), "%d",
                         srv->tcp_port);
            }
            n++;
        }
    }
    proto_write_map_len(&c->out, c->resp, n);
    for (size_t i = 0; i < n; i++) {
        srv_reply_bulk_cstr(&c->out, pairs[i].shown);
        srv_reply_bulk_cstr(&c->out, pairs[i].value);
    }
    free(pairs);
}

/* ------------------------------------------------------------------------
 * CONFIG SET: validate everything, then apply everything (atomic).
 * ---------------------------------------------------------------------- */

static void set_failed(struct srv_conn *c,
                       const char *name,
                       size_t n,
                       const char *why)
{
    srv_reply_errorf(&c->out,
                     "ERR CONFIG SET failed (possibly related to argument "
                     "'%.*s') - %s",
                     (int)strnlen(name, n), name, why);
}

/* Validates an extra setting's value; returns the error text or NULL. */
static const char *extra_check(int i, const char *v, size_t n)
{
    long long ll;
    uint64_t mem;
    char tmp[64];
    switch (extras[i].kind) {
        case X_IMMUTABLE:
            return "can't set immutable config";
        case X_INT:
            return srv__parse_ll(v, n, &ll)
                       ? NULL
                       : "argument couldn't be parsed into an integer";
        case X_BOOL:
            return srv__arg_is(v, n, "yes") || srv__arg_is(v, n, "no")
                       ? NULL
                       : "argument must be 'yes' or 'no'";
        case X_MEM:
            if (n >= sizeof(tmp) || memchr(v, '\0', n) != NULL) {
                return "argument must be a memory value";
            }
            memcpy(tmp, v, n);
            tmp[n] = '\0';
            return srv_parse_memory(tmp, &mem) == 0
                       ? NULL
                       : "argument must be a memory value";
        case X_STR:
            return NULL;
    }
    return NULL;
}

static int extra_apply(struct srv_server *srv, int i, const char *v, size_t n)
{
    char tmp[64];
    char *val;
    if (srv->extra_config == NULL) {
        srv->extra_config = calloc(NEXTRAS, sizeof(char *));
        if (srv->extra_config == NULL) {
            return -ENOMEM;
        }
        srv->nextra = NEXTRAS;
    }
    if (extras[i].kind == X_MEM) {
        uint64_t mem = 0;
        memcpy(tmp, v, n);
        tmp[n] = '\0';
        srv_parse_memory(tmp, &mem);
        snprintf(tmp, sizeof(tmp), "%" PRIu64, mem);
        v = tmp;
        n = strlen(tmp);
    }
    val = malloc(n + 1);
    if (val == NULL) {
        return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        char ch = v[k];
        val[k] = extras[i].kind == X_BOOL && ch >= 'A' && ch <= 'Z'
                     ? (char)(ch + 32)
                     : ch;
    }
    val[n] = '\0';
    free(srv->extra_config[i]);
    srv->extra_config[i] = val;
    return 0;
}

static void config_set(struct srv_conn *c,
                       int argc,
                       const char *const *argv,
                       const size_t *lens)
{
    struct srv_server *srv = c->srv;
    struct srv_config tmp = *srv->cfg; /* mutable options are numbers only */
    char name[64];
    char value[128];
    char err[256];

    if ((argc - 2) % 2 != 0) {
        srv_reply_errorf(&c->out, "ERR syntax error");
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        for (int k = 2; k < i; k += 2) {
            if (lens[k] == lens[i] &&
                strncasecmp(argv[k], argv[i], lens[i]) == 0) {
                set_failed(c, argv[i], lens[i], "duplicate parameter");
                return;
            }
        }
        int x = find_extra(argv[i], lens[i]);
        if (x >= 0) {
            const char *why = extra_check(x, argv[i + 1], lens[i + 1]);
            if (why != NULL) {
                set_failed(c, argv[i], lens[i], why);
                return;
            }
            continue;
        }
        if (lens[i] >= sizeof(name) || lens[i + 1] >= sizeof(value) ||
            memchr(argv[i], '\0', lens[i]) != NULL) {
            goto unknown;
        }
        memcpy(name, argv[i], lens[i]);
        name[lens[i]] = '\0';
        memcpy(value, argv[i + 1], lens[i + 1]);
        value[lens[i + 1]] = '\0';
        if (srv_config_get(&tmp, name, err, sizeof(err)) != 0) {
            goto unknown;
        }
        if (!srv_config_is_mutable(name)) {
            set_failed(c, argv[i], lens[i], "can't set immutable config");
            return;
        }
        if (srv_config_set(&tmp, name, value, err, sizeof(err)) != 0) {
            /* Redis's wording for values of the wrong kind. */
            const char *why = err;
            if (strstr(err, "not a non-negative integer") != NULL) {
                why = "argument couldn't be parsed into an integer";
            } else if (strstr(err, "not a memory amount") != NULL) {
                why = "argument must be a memory value";
            }
            set_failed(c, argv[i], lens[i], why);
            return;
        }
        continue;
    unknown:
        srv_reply_errorf(&c->out,
                         "ERR Unknown option or number of arguments for "
                         "CONFIG SET - '%.*s'",
                         (int)strnlen(argv[i], lens[i]), argv[i]);
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        int x = find_extra(argv[i], lens[i]);
        if (x >= 0 && extra_apply(srv, x, argv[i + 1], lens[i + 1]) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
    }
    *srv->cfg = tmp;
    srv_log_set_level((enum srv_log_level)tmp.log_level);
    srv->limits.max_bulk_len = tmp.proto_max_bulk_len;
    /* Live connections too, the caller's included, as in Redis. */
    for (struct srv__link *l = srv->conns.next; l != &srv->conns; l = l->next) {
        struct srv_conn *o = SRV__CONTAINER(l, struct srv_conn, link_all);
        proto_parser_set_limits(o->parser, &srv->limits);
    }
    proto_write_simple(&c->out, "OK", 2);
}

/* ------------------------------------------------------------------------
 * CONFIG dispatcher
 * ---------------------------------------------------------------------- */

static const char *const config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    ("    Return parameters matching the glob-like <pattern> and their "
     "values."),
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
};

void srv__cmd_config(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens)
{
    struct srv_server *srv = c->srv;
    const char *sub = argv[1];
    size_t n = lens[1];

    if (srv__arg_is(sub, n, "get")) {
        config_get(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "set")) {
        config_set(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "resetstat")) {
        uint64_t t = srv->stats.ops_sample_time_ms;
        memset(&srv->stats, 0, sizeof(srv->stats));
        srv->stats.ops_sample_time_ms = t;
        srv_cmd_reset_stats();
        proto_write_simple(&c->out, "OK", 2);
    } else if (srv__arg_is(sub, n, "rewrite")) {
        if (srv->cfg->config_file == NULL) {
            srv_reply_errorf(&c->out,
                             "ERR The server is running without a config file");
        } else {
            srv_reply_errorf(&c->out,
                             "ERR CONFIG REWRITE is not supported: edit %s",
                             srv->cfg->config_file);
        }
    } else {
        size_t k = sizeof(config_help) / sizeof(config_help[0]);
        proto_write_array_len(&c->out, k);
        for (size_t i = 0; i < k; i++) {
            srv_reply_status(&c->out, config_help[i]);
        }
    }
}
