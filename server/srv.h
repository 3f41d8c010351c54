/* The RESP server: configuration, logging, replies, commands, the loop. */
#ifndef SRV_SRV_H
#define SRV_SRV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kv/kv.h"
#include "proto/proto.h"

#define SRV_VERSION       "0.1.0"
#define SRV_REDIS_VERSION "7.0.0"

/* ------------------------------------------------------------------------
 * Configuration (config.c). Every option has one spelling used everywhere:
 * "--data-dir" on the command line, "data-dir" in the config file,
 * RAFTKV_DATA_DIR in the environment. Precedence, lowest first: defaults,
 * config file, environment, command line.
 * ---------------------------------------------------------------------- */

enum srv_log_level {
    SRV_LOG_DEBUG = 0,
    SRV_LOG_INFO,
    SRV_LOG_WARN,
    SRV_LOG_ERROR,
};

struct srv_config
{
    char *config_file;           /* owned; NULL when none was given */
    uint64_t id;                 /* raft node id, >= 1 */
    char *data_dir;              /* owned */
    char *redis_addr;            /* owned: "host:port" of the RESP listener */
    char *peer_addr;             /* owned: "host:port" of the raft listener */
    char *http_addr;             /* owned: "host:port" of the HTTP listener */
    char *join;                  /* owned: member to join through; "" none */
    char *cluster;               /* owned: "id=host:port,..." bootstrap
                                    voters; empty: a one-node cluster */
    char *cluster_http;          /* owned: "id=host:port,..." HTTP
                                    addresses of the members (dashboard);
                                    empty: unknown */
    char *admin_token;           /* owned: bearer token for HTTP operator
                                    actions; empty: actions disabled */
    int log_level;               /* enum srv_log_level */
    uint64_t maxclients;         /* connections beyond this are refused */
    uint64_t proto_max_bulk_len; /* longest bulk string accepted */
    uint64_t client_query_buffer_limit;    /* per-connection query buffer cap */
    uint64_t heartbeat_ms;                 /* raft heartbeat */
    uint64_t election_ms;                  /* raft election timeout */
    uint64_t snapshot_threshold;           /* entries between snapshots */
    uint64_t snapshot_trailing;            /* entries kept after a snapshot */
    uint64_t verify_timeout_ms;            /* cap on a read's wait */
    uint64_t max_pending_reads;            /* reads waiting for verification */
    uint64_t max_pending_writes;           /* commands queued for proposal */
    uint64_t max_inflight_entries;         /* raft entries in flight */
    uint64_t max_batch_bytes;              /* soft cap on one entry's size */
    uint64_t maxmemory;                    /* -OOM for writes above; 0 none */
    uint64_t memory_shutdown_threshold_mb; /* RSS watch; 0 off */
    uint64_t memory_poll_interval_ms;      /* RSS watch period */
    uint64_t loop_monitor_interval_ms;     /* lag report window */
    uint64_t disk_slow_warn_ms;            /* slow append warning */
    uint64_t disk_stall_timeout_ms;        /* stuck append: fail-stop */
    uint64_t heavy_command_budget;         /* kv_exec_ctx.work_budget */
    char *client_output_buffer_limit;      /* owned: canonical Redis form */
    uint64_t obuf_hard; /* normal clients: pending reply bytes cap (0: none) */
    uint64_t obuf_soft; /* ... soft cap (0: none) */
    uint64_t obuf_soft_s; /* ... seconds above soft before disconnecting */
    uint64_t maxclients_per_ip; /* 0: no limit */
    char *snapshot_fork;        /* owned: "yes" or "no" */
    char *enable_debug_command; /* owned: no|yes|local */
};

/* Most voters a --cluster list may name. */
#define SRV_CLUSTER_MAX 64

/* One voter of a --cluster list. */
struct srv_cluster_member
{
    uint64_t id;         /* raft id, >= 1 */
    char peer_addr[256]; /* "host:port" */
};

/* Parses a --cluster list "id=host:port,id=host:port" (the empty string is
 * an empty list) into @out (up to @cap members; @out may be NULL to only
 * validate and count). Returns the number of members, or -EINVAL for a
 * malformed list, a repeated id or more than SRV_CLUSTER_MAX members. */
int srv_cluster_parse(const char *spec,
                      struct srv_cluster_member *out,
                      size_t cap);

/* What srv_config_load asks the caller to do besides running. */
#define SRV_CONFIG_HELP    1 /* --help was given: print srv_config_usage */
#define SRV_CONFIG_VERSION 2 /* --version was given */

/* Returns the environment variable @name or NULL (getenv's shape). */
typedef const char *(*srv_getenv_cb)(const char *name);

/* Fills @c with the defaults. Returns 0 or -ENOMEM (then @c holds nothing
 * that needs releasing). */
int srv_config_init(struct srv_config *c);

/* Releases the strings @c owns. */
void srv_config_fini(struct srv_config *c);

/* Sets option @name (spelled without dashes, e.g. "data-dir"; a few Redis
 * spellings such as "loglevel" are accepted) to @value. Returns 0, -ENOENT
 * for an unknown name, -EINVAL for a bad value, or -ENOMEM; on error a
 * one-line message is written to @err (@errlen bytes) and @c is unchanged. */
int srv_config_set(struct srv_config *c,
                   const char *name,
                   const char *value,
                   char *err,
                   size_t errlen);

/* Formats the current value of option @name into @out (@outlen bytes), as
 * CONFIG GET shows it. Returns 0 or -ENOENT. */
int srv_config_get(const struct srv_config *c,
                   const char *name,
                   char *out,
                   size_t outlen);

/* Applies the config file @path: lines "name value", '#' comments, blank
 * lines; values may be quoted with "" or ''. Returns 0 or a negative errno
 * with a message naming the file and line in @err. */
int srv_config_load_file(struct srv_config *c,
                         const char *path,
                         char *err,
                         size_t errlen);

/* Applies the environment (RAFTKV_<NAME>) through @getenv_fn. Returns 0 or
 * -EINVAL with a message in @err. */
int srv_config_load_env(struct srv_config *c,
                        srv_getenv_cb getenv_fn,
                        char *err,
                        size_t errlen);

/* Builds the configuration from the defaults, the config file named by
 * --config or RAFTKV_CONFIG, the environment and @argv, in that order of
 * precedence. Borrows @argv during the call. Returns 0, SRV_CONFIG_HELP,
 * SRV_CONFIG_VERSION, or a negative errno with a one-line message in @err.
 * @c must have been initialised with srv_config_init. */
int srv_config_load(struct srv_config *c,
                    int argc,
                    char **argv,
                    srv_getenv_cb getenv_fn,
                    char *err,
                    size_t errlen);

/* Prints the --help text (every option, its default and variable). */
void srv_config_usage(FILE *f, const char *prog);

/* Names of the options (NULL-terminated), for CONFIG GET and tests. */
const char *const *srv_config_names(void);

/* True if option @name may be changed at run time with CONFIG SET. */
bool srv_config_is_mutable(const char *name);

/* Parses a Redis memory amount ("512mb", "1gb", "100", "4k"). Returns 0 and
 * the value in @out, or -EINVAL. */
int srv_parse_memory(const char *s, uint64_t *out);

/* Parses client-output-buffer-limit as Redis writes it: groups of <class>
 * <hard> <soft> <soft-seconds>, class normal|replica|slave|pubsub. Sets the
 * three outputs from the "normal" group when there is one. 0 or -EINVAL. */
int srv_parse_obuf_limit(const char *s,
                         uint64_t *hard,
                         uint64_t *soft,
                         uint64_t *soft_s);

/* ------------------------------------------------------------------------
 * Logging (log.c): one JSON object per line on stderr.
 * ---------------------------------------------------------------------- */

/* Sets the least severe level that is written. */
void srv_log_set_level(enum srv_log_level level);

/* True if a message at @level would be written. */
bool srv_log_enabled(enum srv_log_level level);

/* The level's name: "debug", "info", "warn", "error". */
const char *srv_log_level_name(enum srv_log_level level);

/* Writes {"ts":..., "level":..., "event":@event, fields...} to stderr.
 * @fields is a space-separated list of "key=%conv" items, checked like
 * printf: %s (JSON-escaped; NULL writes null), %.*s, %d, %u, %ld, %lu, %lld,
 * %llu, %zu, %zd, %g, %f; "key=text" without '%' writes a literal string.
 * Each key must be a plain identifier. NULL @fields means no fields. */
void srv_log(enum srv_log_level level,
             const char *event,
             const char *fields,
             ...) __attribute__((format(printf, 3, 4)));

/* Formats like srv_log into @b (with a trailing newline), stamping @ts_ms
 * (Unix milliseconds). Returns 0 or -ENOMEM. For tests and srv_log. */
int srv_log_format(struct proto_buf *b,
                   int64_t ts_ms,
                   enum srv_log_level level,
                   const char *event,
                   const char *fields,
                   va_list ap);

/* Appends @s (@n bytes) to @b as a JSON string with quotes. Returns 0 or
 * -ENOMEM. */
int srv_json_string(struct proto_buf *b, const char *s, size_t n);

/* ------------------------------------------------------------------------
 * Replies (reply.c). Every client-visible error text is produced here.
 * ---------------------------------------------------------------------- */

/* Appends the RESP encoding (@resp 2 or 3) of the kv reply tree @r
 * (borrowed). Errors use kv_strerror with the command name @cmd (lower
 * case, may be NULL) for "%s" when @r carries none. Returns 0 or -ENOMEM. */
int srv_reply_kv(struct proto_buf *b,
                 int resp,
                 const struct kv_reply *r,
                 const char *cmd);

/* The full error text (without '-' and CRLF) for a server-level code:
 * RADAPTER_E*, PROTO_E*, -ENOMEM, ... Never NULL. */
const char *srv_strerror(int code);

/* Appends "-<srv_strerror(code)>\r\n". Protocol errors become
 * "-ERR Protocol error: <text>", with @bad_byte for PROTO_EEXPECTDOLLAR.
 * Returns 0 or -ENOMEM. */
int srv_reply_error_code(struct proto_buf *b, int code, char bad_byte);

/* Appends an error built from printf-style @fmt; CR and LF in the result
 * become spaces (as Redis does). Returns 0 or -ENOMEM. */
int srv_reply_errorf(struct proto_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends Redis 7's unknown-command error for argv[0..argc). */
int srv_reply_unknown_command(struct proto_buf *b,
                              int argc,
                              const char *const *argv,
                              const size_t *lens);

/* Appends "-ERR unknown subcommand '<sub>'. Try <PARENT> HELP.". */
int srv_reply_unknown_subcommand(struct proto_buf *b,
                                 const char *sub,
                                 size_t sublen,
                                 const char *parent);

/* Appends "-ERR wrong number of arguments for '<name>' command". */
int srv_reply_arity(struct proto_buf *b, const char *name);

/* Appends a simple string given as a C string. */
int srv_reply_status(struct proto_buf *b, const char *s);

/* Appends a bulk string given as a C string. */
int srv_reply_bulk_cstr(struct proto_buf *b, const char *s);

/* ------------------------------------------------------------------------
 * The command table (cmd_table.c).
 * ---------------------------------------------------------------------- */

struct srv_conn; /* opaque: a client connection */

/* Runs a server command for @c with argv[0..argc) (borrowed during the
 * call); the reply is appended to the connection's output. */
typedef void (*srv_cmd_cb)(struct srv_conn *c,
                           int argc,
                           const char *const *argv,
                           const size_t *lens);

#define SRV_CMD_WRITE     (1u << 0)
#define SRV_CMD_READONLY  (1u << 1)
#define SRV_CMD_DENYOOM   (1u << 2)
#define SRV_CMD_ADMIN     (1u << 3)
#define SRV_CMD_NOSCRIPT  (1u << 4)
#define SRV_CMD_LOADING   (1u << 5)
#define SRV_CMD_STALE     (1u << 6)
#define SRV_CMD_FAST      (1u << 7)
#define SRV_CMD_NO_AUTH   (1u << 8)
#define SRV_CMD_ALLOWBUSY (1u << 9)
#define SRV_CMD_SENTINEL  (1u << 10)
#define SRV_CMD_DATA      (1u << 16) /* executed by kv (when kv knows it) */

struct srv_cmd
{
    const char *name;     /* lower case: "get"; for CONFIG GET, "get" */
    const char *fullname; /* "get" or "config|get" */
    srv_cmd_cb handler;   /* NULL for data commands executed by kv */
    int arity;            /* argc including the name; negative: minimum */
    uint32_t flags;       /* SRV_CMD_* */
    int first_key;        /* position of the first key, 0: none */
    int last_key;         /* position of the last key, negative: from end */
    int key_step;         /* distance between keys */
    const char *acl;      /* space-separated categories "@read @fast" */
    const char *group;    /* COMMAND DOCS group */
    const char *since;    /* first Redis version */
    const char *summary;  /* one line */
    const char *complexity;
    struct srv_cmd *subcmds;      /* owned by the table; NULL if none */
    size_t nsubcmds;              /* entries in subcmds */
    const struct srv_cmd *parent; /* weak: set by srv_cmd_table_init */
    unsigned kv_flags;            /* KV_CMD_* when kv executes it, else 0 */
    size_t namelen;               /* strlen(name) */
    uint64_t calls;               /* stats: times executed */
    uint64_t rejected; /* stats: refused before running (arity, ...) */
    uint64_t failed;   /* stats: ran and replied with an error */
};

/* Prepares the table (hash index, kv flags). Idempotent. */
void srv_cmd_table_init(void);

/* Looks a top-level command up by name, case-insensitively. Returns a view
 * into the static table, or NULL. Commands kv does not know and no server
 * handler runs are reported as unknown. */
struct srv_cmd *srv_cmd_lookup(const char *name, size_t len);

/* Looks up the subcommand @name of @parent, or NULL. */
struct srv_cmd *srv_cmd_lookup_sub(const struct srv_cmd *parent,
                                   const char *name,
                                   size_t len);

/* Number of available top-level commands, and the i-th (0-based). */
size_t srv_cmd_count(void);
struct srv_cmd *srv_cmd_at(size_t i);

/* True if the command can run (a handler, or kv knows it). */
bool srv_cmd_is_available(const struct srv_cmd *cmd);

/* Checks @argc against @cmd's arity. */
static inline bool srv_cmd_arity_ok(const struct srv_cmd *cmd, int argc)
{
    return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Glob-style matching as Redis's CONFIG GET and KEYS use: * ? [a-z] [^x]
 * and backslash escapes. */
bool srv_glob_match(const char *pat,
                    size_t patlen,
                    const char *s,
                    size_t slen,
                    bool nocase);

/* Resets the per-command statistics. */
void srv_cmd_reset_stats(void);

/* ------------------------------------------------------------------------
 * Running the server (server.c).
 * ---------------------------------------------------------------------- */

/* Runs the server with configuration @cfg (takes ownership of its strings
 * on every path; @cfg is finalised before returning) until SIGTERM/SIGINT.
 * Returns the process exit code: 0 after a graceful shutdown, 1 when
 * startup failed (the reason is logged and printed on stderr). */
int srv_run(struct srv_config *cfg);

#endif /* SRV_SRV_H */
