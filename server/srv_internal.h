/* Server-private declarations shared by the files of server/. */
#ifndef SRV_SRV_INTERNAL_H
#define SRV_SRV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kv/kv.h"
#include "proto/proto.h"
#include "raftadapter/radapter.h"
#include "server/srv.h"

/* Writes in flight per connection before it stops parsing and reading. */
#define SRV_MAX_INFLIGHT_WRITES 1024
/* Unparsed bytes a paused connection may hold before reads stop. */
#define SRV_PAUSED_QBUF_LIMIT (1024 * 1024)
/* Pending output that stops reading while the socket is not draining. */
#define SRV_OUTPUT_PAUSE_LIMIT (4 * 1024 * 1024)
/* Read size offered to libuv. */
#define SRV_READ_CHUNK (16 * 1024)

/* ------------------------------------------------------------------------
 * Intrusive doubly linked list.
 * ---------------------------------------------------------------------- */

struct srv__link
{
    struct srv__link *prev; /* weak */
    struct srv__link *next; /* weak */
};

static inline void srv__list_init(struct srv__link *head)
{
    head->prev = head->next = head;
}

static inline bool srv__list_empty(const struct srv__link *head)
{
    return head->next == head;
}

static inline void srv__list_push(struct srv__link *head, struct srv__link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

static inline void srv__list_remove(struct srv__link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

#define SRV__CONTAINER(ptr, type, field) \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* ------------------------------------------------------------------------
 * The server.
 * ---------------------------------------------------------------------- */

struct srv_stats
{
    uint64_t connections_received; /* accepted connections */
    uint64_t rejected_connections; /* refused: maxclients */
    uint64_t commands_processed;   /* commands executed */
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t protocol_errors;
    uint64_t error_replies;
    uint64_t oom_rejections;      /* writes refused above maxmemory */
    uint64_t heavy_rejections;    /* reads refused over heavy-command-budget */
    uint64_t obuf_disconnections; /* client-output-buffer-limit closes */
    uint64_t per_ip_rejections;   /* maxclients-per-ip refusals */
    uint64_t ops_sample_time_ms;  /* instantaneous ops bookkeeping */
    uint64_t ops_sample_count;
    uint64_t ops_per_sec;
};

/* Exit status after the memory watch shut the node down. */
#define SRV_EXIT_MEMORY 2

/* What the watchdog measured (watchdog.c). The lag fields describe the
 * last complete loop-monitor window. */
struct srv_watchdog_stats
{
    uint64_t windows; /* windows completed */
    uint64_t lag_p50_ns;
    uint64_t lag_p99_ns;
    uint64_t lag_max_ns;
    uint64_t lag_mean_ns;
    uint64_t utilization_ppm; /* busy share of the window, parts per million */
    uint64_t slow_appends;    /* appends above disk-slow-warn-ms */
};

struct srv_server
{
    uv_loop_t *loop;            /* owned: the default loop */
    struct srv_config *cfg;     /* borrowed from srv_run: CONFIG SET edits */
    struct kv_store *store;     /* owned */
    struct radapter *ra;        /* owned until radapter_close */
    struct proto_limits limits; /* parser limits from cfg */
    uv_tcp_t listener;          /* the RESP socket */
    bool listener_open;         /* listener initialised, not yet closed */
    uv_prepare_t prepare;       /* flushes output once per iteration */
    uv_idle_t idle;             /* resumes paused connections */
    uv_timer_t cron;            /* 100 ms housekeeping and shutdown */
    uv_signal_t sigterm;
    uv_signal_t sigint;
    struct srv__link conns;     /* open connections (link_all) */
    struct srv__link flushq;    /* connections with output (link_flush) */
    struct srv__link readyq;    /* connections to resume (link_ready) */
    size_t nconns;              /* open connections */
    size_t nzombies;            /* closing, awaiting callbacks */
    uint64_t next_id;           /* CLIENT ID source */
    uint64_t rng;               /* xorshift state for kv reads */
    uint64_t start_ms;          /* wall clock at start */
    int tcp_port;               /* bound port */
    char run_id[41];            /* random hex, as Redis */
    bool shutting_down;         /* a signal arrived */
    bool ra_closing;            /* radapter_close was called */
    bool transferring;          /* handing leadership over at shutdown */
    uint64_t clients_mem;       /* client buffers, as of the last cron */
    uint64_t shutdown_start_ms; /* uv_now when the signal arrived */
    int exit_code;
    struct srv_stats stats;
    char **extra_config; /* owned: name, value pairs (CONFIG) */
    size_t nextra;       /* entries (pairs) in extra_config */
};

/* ------------------------------------------------------------------------
 * Connections.
 *
 * State: OPEN -> CLOSING (no more I/O; waiting for in-flight writes) ->
 * CLOSED (uv_close issued; freed in the close callback).
 * ---------------------------------------------------------------------- */

enum srv__conn_state {
    SRV__CONN_OPEN = 1,
    SRV__CONN_CLOSING,
    SRV__CONN_CLOSED,
};

/* A command kept aside until the connection may run it. */
struct srv__stash
{
    bool active;   /* holds a command or a protocol error */
    int proto_err; /* != 0: reply this protocol error */
    char bad_byte; /* for PROTO_EEXPECTDOLLAR */
    int argc;
    const char **argv; /* owned array; strings point into blob */
    size_t *lens;      /* owned */
    char *blob;        /* owned copy of the arguments */
    size_t argcap;     /* slots in argv/lens */
    size_t blobcap;    /* bytes in blob */
};

struct srv_conn
{
    uv_tcp_t tcp;           /* handle.data == this */
    struct srv_server *srv; /* weak */
    enum srv__conn_state state;
    uint64_t id;                 /* CLIENT ID */
    int resp;                    /* 2 or 3 */
    struct proto_parser *parser; /* owned */
    struct proto_buf qbuf;       /* owned: query bytes */
    size_t qoff;                 /* bytes of qbuf already consumed */
    struct proto_buf out;        /* owned: replies not yet written */
    struct proto_buf wbuf;       /* owned: bytes held by wreq */
    uv_write_t wreq;             /* in flight while writing */
    bool writing;                /* wreq is in flight */
    bool reading;                /* uv_read_start is active */
    bool close_after_reply;      /* QUIT, protocol error, CLIENT KILL self */
    bool paused_cap;             /* too many writes in flight */
    bool read_waiting;           /* rreq is queued in radapter */
    struct radapter_read rreq;   /* the waiting read */
    struct srv__stash stash;     /* command waiting to run */
    unsigned inflight;           /* writes proposed, callback pending */
    struct srv_cmd **ring;       /* owned: command of each write in flight */
    uint64_t *ring_ns;           /* owned: uv_hrtime when each write in the
                                    ring was proposed (metrics) */
    uint64_t read_start_ns;      /* uv_hrtime when rreq was queued */
    size_t ring_cap;             /* slots (power of two) */
    size_t ring_head;            /* oldest write */
    struct srv__link link_all;
    struct srv__link link_flush;
    struct srv__link link_ready;
    bool in_flush;
    bool in_ready;
    char *name;                     /* owned: CLIENT SETNAME, NULL if none */
    char *lib_name;                 /* owned: CLIENT SETINFO */
    char *lib_ver;                  /* owned */
    char addr[64];                  /* peer "ip:port" */
    char laddr[64];                 /* local "ip:port" */
    int fd;                         /* socket, for CLIENT LIST */
    uint64_t ctime_ms;              /* accept time (uv_now) */
    uint64_t last_ms;               /* last command (uv_now) */
    const struct srv_cmd *last_cmd; /* weak: into the table */
    uint64_t read_timeout_ms;       /* RAFTKV TIMEOUT; 0: the server cap */
    uint64_t obuf_soft_since_ms;    /* uv_now when pending replies first
                                       passed the soft limit; 0: below */
    bool in_multi;                  /* between MULTI and EXEC/DISCARD */
    bool multi_dirty;               /* a queued command was refused */
    uint32_t multi_n;               /* commands queued */
    struct proto_buf multi;         /* owned: queued commands, encoded as
                                       proto_peer_encode_args each */
    struct proto_buf watch;         /* owned: WATCHed keys with the version
                                       each had locally, proto_watch_add
                                       each; EXEC ships it */
    uint32_t watch_n;               /* keys in watch (a key watched twice
                                       counts twice) */
};

/* ------------------------------------------------------------------------
 * Functions shared between server files.
 * ---------------------------------------------------------------------- */

/* conn.c: accepts a connection on @srv's listener. */
void srv__conn_accept(struct srv_server *srv);

/* conn.c, from the cron: one walk over the connections applies
 * client-output-buffer-limit's soft limit (the hard limit is checked as
 * replies accumulate) and sums the memory of the others into clients_mem
 * (INFO, maxmemory). */
void srv__conn_cron(struct srv_server *srv);
/* Bytes @c holds: the struct, its buffers and its parser. */
uint64_t srv__conn_memory(const struct srv_conn *c);

/* conn.c: closes @c: stops I/O, cancels its read, and frees it once no
 * callback can reference it. Safe to call on a connection that is on the
 * stack (memory is released later, from libuv's close callback). */
void srv__conn_close(struct srv_conn *c);

/* conn.c: for a CLOSING connection, issues uv_close once no callback can
 * reference it any more (no writes in flight). */
void srv__conn_release(struct srv_conn *c);

/* conn.c: asks for @c's output to be written at the end of the iteration. */
void srv__conn_want_flush(struct srv_conn *c);

/* conn.c: asks for @c to be processed again (parse more input) soon. */
void srv__conn_schedule(struct srv_conn *c);

/* conn.c: flushes every connection with pending output. */
void srv__conn_flush_all(struct srv_server *srv);

/* conn.c: processes every scheduled connection. */
void srv__conn_run_ready(struct srv_server *srv);

/* conn.c: stops reading on every connection (shutdown). */
void srv__conn_stop_all(struct srv_server *srv);

/* conn.c: closes every connection at once (after radapter closed). */
void srv__conn_close_all(struct srv_server *srv);

/* conn.c: true when @c has nothing in flight and nothing to write. */
bool srv__conn_is_idle(const struct srv_conn *c);

/* dispatch.c: runs one command parsed from @c's input (views valid during
 * the call). Returns true if parsing may continue, false if @c must stop
 * (command stashed, waiting, or closing). */
bool srv__dispatch(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);

/* dispatch.c: runs @c's stashed command or protocol error once nothing is
 * in flight. Returns true if parsing may continue. */
bool srv__dispatch_stash(struct srv_conn *c);

/* dispatch.c: releases the stash buffers. */
void srv__stash_fini(struct srv__stash *s);

/* dispatch.c: wall clock in ms (CLOCK_REALTIME). */
int64_t srv__now_ms(void);

/* listener.c: parses "host:port" ("[v6]:port", "localhost", "*") into
 * @out. Returns 0 or a negative errno. */
int srv__parse_addr(const char *text, struct sockaddr_storage *out);

/* listener.c: binds and listens on cfg->redis_addr. Returns 0 or a
 * negative libuv error with a message in @err. */
int srv__listener_start(struct srv_server *srv, char *err, size_t errlen);

/* listener.c: stops accepting (idempotent). */
void srv__listener_close(struct srv_server *srv);

/* server.c: the idle callback that runs srv__conn_run_ready. */
void srv__idle_cb(uv_idle_t *h);

/* server.c: the single server of this process (NULL outside srv_run). */
extern struct srv_server *srv__server;

/* Server command handlers (cmd_server.c, cmd_client.c, cmd_config.c,
 * cmd_command.c, cmd_info.c). */
void srv__cmd_ping(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_echo(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
/* Asynchronous commands: a handler calls srv__async_begin (0 or -ENOMEM),
 * starts the operation with srv__async_done_cb and @c as its callback, and
 * on success calls srv__async_started; the reply then arrives in order
 * like a write's. */
int srv__async_begin(struct srv_conn *c);
void srv__async_started(struct srv_conn *c);
void srv__async_done_cb(void *arg, int status, struct kv_reply *reply);

/* Per-connection WATCH limits: past either, WATCH fails and watches
 * nothing more (Redis has no limit; ours bounds the transaction's log
 * entry and the connection's memory). */
#define SRV_WATCH_MAX_KEYS  4096u
#define SRV_WATCH_MAX_BYTES (1024u * 1024u) /* key bytes */

/* MULTI / EXEC / DISCARD / WATCH / UNWATCH (cmd_multi.c).
 * srv__multi_queue queues a command given while a transaction is open; it
 * returns true if it handled it. srv__unwatch forgets @c's watches. */
bool srv__multi_queue(struct srv_conn *c,
                      const struct srv_cmd *cmd,
                      int argc,
                      const char *const *argv,
                      const size_t *lens);
void srv__multi_reset(struct srv_conn *c);
void srv__unwatch(struct srv_conn *c);
void srv__cmd_watch(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens);
void srv__cmd_unwatch(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens);
void srv__cmd_multi(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens);
void srv__cmd_exec(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_discard(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens);

void srv__cmd_raftkv(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens);

/* Starts a graceful shutdown (as SIGTERM does): stop accepting, hand
 * leadership to another voter when this node leads, answer what is in
 * flight, close raft, exit 0. @reason is logged. Idempotent: only the
 * first call starts anything. */
void srv__shutdown(struct srv_server *srv, const char *reason);

/* used_memory as INFO reports it (dataset + client buffers, the latter
 * as of the last cron tick), and whether it is above a set maxmemory. */
uint64_t srv__used_memory(struct srv_server *srv);
bool srv__over_maxmemory(struct srv_server *srv);

/* The same, exiting with @code (e.g. SRV_EXIT_MEMORY). */
void srv__shutdown_code(struct srv_server *srv, const char *reason, int code);

/* watchdog.c: the stall watch (event-loop lag, late duties, slow disk,
 * memory watch). Start once the loop and raft run; close on shutdown. */
int srv__watchdog_start(struct srv_server *srv);
void srv__watchdog_close(struct srv_server *srv);
void srv__watchdog_stats(struct srv_watchdog_stats *out);
/* Gaps seen across duties: above the election timeout (@critical) or
 * above the heartbeat interval only. */
uint64_t srv__watchdog_gaps(bool critical);
/* A radapter_duty_cb (@arg: the server). */
void srv__watchdog_duty(void *arg, const char *duty, uint64_t late_ns);
/* A radapter_latency_cb for log appends (@arg: the server): metrics and
 * the slow-disk warning. */
void srv__watchdog_append(void *arg, uint64_t ns);
void srv__cmd_debug(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens);

void srv__cmd_shutdown(struct srv_conn *c,
                       int argc,
                       const char *const *argv,
                       const size_t *lens);
void srv__cmd_quit(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_hello(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens);
void srv__cmd_auth(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_select(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens);
void srv__cmd_time(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_dbsize(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens);
void srv__cmd_info(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens);
void srv__cmd_command(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens);
void srv__cmd_client(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens);
void srv__cmd_config(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens);

/* cmd_server.c: parses a strict decimal integer (no spaces, no '+', no
 * leading zeros) from @s (@n bytes) into @out. */
bool srv__parse_ll(const char *s, size_t n, long long *out);

/* cmd_client.c: validates a client name (CLIENT SETNAME, HELLO SETNAME). */
bool srv__client_name_ok(const char *s, size_t n);

/* cmd_client.c: sets @c's name (empty clears). Returns 0 or -ENOMEM. */
int srv__client_set_name(struct srv_conn *c, const char *s, size_t n);

/* cmd_config.c: releases the echoed Redis settings. */
void srv__config_extra_fini(struct srv_server *srv);

/* Case-insensitive comparison of a counted argument with a C string. */
static inline bool srv__arg_is(const char *a, size_t n, const char *want)
{
    size_t i = 0;
    for (; i < n && want[i] != '\0'; i++) {
        char x = a[i];
        char y = want[i];
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return i == n && want[i] == '\0';
}

#endif /* SRV_SRV_INTERNAL_H */
