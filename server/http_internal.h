/* The HTTP surface (server-private): listener, routes, metrics, assets. */
#ifndef SRV_HTTP_INTERNAL_H
#define SRV_HTTP_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Limits. A request line plus headers beyond SRV_HTTP_MAX_HEADER_BYTES gets
 * 431, a body beyond SRV_HTTP_MAX_BODY_BYTES gets 413; connections beyond
 * SRV_HTTP_MAX_CONNS get 503 and are closed. A request must arrive whole
 * within SRV_HTTP_REQUEST_TIMEOUT_MS of its first byte (slow clients), a
 * kept-alive connection may idle SRV_HTTP_IDLE_TIMEOUT_MS, and a response
 * must drain within SRV_HTTP_WRITE_TIMEOUT_MS.
 * ---------------------------------------------------------------------- */

#define SRV_HTTP_MAX_HEADER_BYTES   (16 * 1024)
#define SRV_HTTP_MAX_BODY_BYTES     (64 * 1024)
#define SRV_HTTP_MAX_CONNS          256
#define SRV_HTTP_REQUEST_TIMEOUT_MS 10000
#define SRV_HTTP_IDLE_TIMEOUT_MS    30000
#define SRV_HTTP_WRITE_TIMEOUT_MS   10000
/* Leader-verification deadline of a probe that names none. */
#define SRV_HTTP_DEFAULT_TIMEOUT_MS 1000

/* HTTP methods the routes distinguish (others are SRV_HTTP_OTHER). */
enum srv_http_method {
    SRV_HTTP_GET = 1,
    SRV_HTTP_HEAD,
    SRV_HTTP_POST,
    SRV_HTTP_OPTIONS,
    SRV_HTTP_OTHER,
};

/* One parsed request. Every pointer is a view into the connection's
 * buffers, valid until the response to it has been queued. */
struct srv_http_req
{
    enum srv_http_method method;
    const char *path;  /* view: the path, not decoded; never NULL */
    size_t path_len;   /* bytes in path */
    const char *query; /* view: after '?', not decoded; "" when none */
    size_t query_len;  /* bytes in query */
    bool want_json;    /* Accept names application/json */
    const char *token; /* view: the Authorization bearer token; "" none */
    size_t token_len;  /* bytes in token */
    const char *body;  /* view: the request body; "" when none */
    size_t body_len;   /* bytes in body */
};

struct srv_http_conn; /* opaque: an HTTP connection (http.c) */

/* Runs once a verification started with srv__http_verify ends: @status 0
 * (a linearizable read may proceed: on a leader, leadership confirmed),
 * RADAPTER_ETIMEDOUT, RADAPTER_ENOTLEADER, ...; @latency_ns is the time it
 * took. Never runs when the connection closed first. */
typedef void (*srv_http_verify_cb)(struct srv_http_conn *c,
                                   const struct srv_http_req *req,
                                   int status,
                                   uint64_t latency_ns);

/* Runs once an operator action started with srv__http_admin_begin ends,
 * with the status and reply of a radapter_write_cb (the reply is owned by
 * the callback); @c is NULL when the connection closed meanwhile. */
typedef void (*srv_http_admin_cb)(struct srv_http_conn *c,
                                  int status,
                                  struct kv_reply *reply);

/* ------------------------------------------------------------------------
 * http.c: listener and connections.
 * ---------------------------------------------------------------------- */

/* Binds and listens on cfg->http_addr. Returns 0 or a negative libuv error
 * with a message in @err; on failure nothing is left to close. */
int srv__http_start(struct srv_server *srv, char *err, size_t errlen);

/* Stops accepting, closes every HTTP connection (cancelling their
 * verifications) and the HTTP timers; memory is released from the close
 * callbacks. Idempotent; safe when srv__http_start failed or never ran. */
void srv__http_close(struct srv_server *srv);

/* The bound HTTP port (0 before srv__http_start). */
int srv__http_port(const struct srv_server *srv);

/* Open HTTP connections and the count of those accepted / refused. */
void srv__http_conn_stats(const struct srv_server *srv,
                          uint64_t *open,
                          uint64_t *accepted,
                          uint64_t *refused);

/* Queues the response to @c's current request: @status with the reason
 * phrase, Content-Type @ctype, body @body (@len bytes, borrowed during the
 * call; omitted for HEAD), and @extra, either NULL or complete header lines
 * each ending in CRLF. After it, the request's views are invalid. Returns 0
 * or -ENOMEM (then @c is closed). */
int srv__http_respond(struct srv_http_conn *c,
                      unsigned status,
                      const char *ctype,
                      const char *body,
                      size_t len,
                      const char *extra);

/* Starts a leader verification (radapter_read) for @c's request with a
 * deadline @timeout_ms from now. Returns 0 (@cb runs later, unless @c
 * closes first: then the verification is cancelled at once) or the error
 * of radapter_read (@cb never runs). */
int srv__http_verify(struct srv_http_conn *c,
                     uint64_t timeout_ms,
                     srv_http_verify_cb cb);

/* Marks @c as waiting for an operator action and returns the context to
 * pass as the radapter_write_cb argument with srv__http_admin_done_cb, or
 * NULL on out-of-memory. If starting the action fails, pass the context to
 * srv__http_admin_abort. @c stays allocated until the callback ran. */
void *srv__http_admin_begin(struct srv_http_conn *c, srv_http_admin_cb cb);
void srv__http_admin_abort(void *ctx);
void srv__http_admin_done_cb(void *ctx, int status, struct kv_reply *reply);

/* ------------------------------------------------------------------------
 * http_parse.c: one connection's request parser (nodejs http-parser) with
 * the limits above. Pure: no socket, no loop.
 * ---------------------------------------------------------------------- */

#define SRV_HTTP_TOKEN_MAX 256

struct srv_http_parser
{
    http_parser parser;
    struct proto_buf url;           /* owned: the request target */
    struct proto_buf hfield;        /* owned: the header name being read */
    struct proto_buf hval;          /* owned: the header value being read */
    struct proto_buf body;          /* owned: the request body */
    char token[SRV_HTTP_TOKEN_MAX]; /* the Authorization bearer token */
    size_t token_len;               /* bytes in token */
    bool in_value;                  /* the last header callback was a value */
    size_t header_bytes;            /* request line and headers so far; 0
                                       between requests */
    unsigned limit_status;          /* 413/414/431 when a limit refused */
    bool want_json;                 /* Accept: application/json */
    bool keep_alive;                /* the client allows another request */
    struct srv_http_req req;        /* the request last completed */
    void (*on_begin)(void *arg);    /* a request's first byte arrived */
    void *arg;                      /* borrowed: passed to on_begin */
};

/* srv__http_parser_next's answer when every byte was parsed and no request
 * ended. */
#define SRV_HTTP_PARSE_MORE 1u

void srv__http_parser_init(struct srv_http_parser *hp,
                           void (*on_begin)(void *arg),
                           void *arg);
void srv__http_parser_fini(struct srv_http_parser *hp);

/* Parses up to @len bytes at @data; *@used says how many it took. Returns
 * 0 when a request is complete (in hp->req, views into @hp's buffers,
 * valid until the next call), SRV_HTTP_PARSE_MORE, or the status a refused
 * request gets (400, 413, 414 or 431). */
unsigned srv__http_parser_next(struct srv_http_parser *hp,
                               const char *data,
                               size_t len,
                               size_t *used);

/* Runs for each request srv__http_parse completes; @req's views are valid
 * during the call only. */
typedef void (*srv_http_req_cb)(void *arg, const struct srv_http_req *req);

/* Parses @buf (@len bytes, borrowed during the call) as the bytes one
 * client sent on a connection, with the parser, callbacks and limits of a
 * live connection but without a socket, a loop or a server (for fuzzing
 * and tests). Calls @cb for each complete request, in order, and stops
 * after one that ends the connection (Connection: close, HTTP/1.0,
 * Upgrade). Returns 0 when the bytes ran out or such a request ended the
 * connection, the status a live connection answers before closing (400,
 * 413, 414 or 431), or -ENOMEM. */
int srv__http_parse(const char *buf, size_t len, srv_http_req_cb cb, void *arg);

/* ------------------------------------------------------------------------
 * http_routes.c: what each path answers.
 * ---------------------------------------------------------------------- */

/* Answers @req on @c, now or later (through srv__http_respond). */
void srv__http_route(struct srv_http_conn *c, const struct srv_http_req *req);

/* Finds query parameter @name in @q (@qlen bytes; "a=1&b&c=x"). Returns
 * true if present, with a view of its (undecoded) value in @val / @vlen
 * ("" for a bare name). */
bool srv__http_query_get(const char *q,
                         size_t qlen,
                         const char *name,
                         const char **val,
                         size_t *vlen);

/* Parses a duration: bare milliseconds ("1500") or a number with a unit,
 * "ms", "s" or "m" ("250ms", "1s", "1.5s"). Returns 0 and milliseconds in
 * @out, or -EINVAL. */
int srv__parse_duration_ms(const char *s, size_t n, uint64_t *out);

/* ------------------------------------------------------------------------
 * metrics.c: counters, histograms and the Prometheus text format.
 * ---------------------------------------------------------------------- */

/* Buckets (upper bounds, seconds) shared by every latency histogram. */
#define SRV_HIST_BUCKETS 14

struct srv_hist
{
    uint64_t buckets[SRV_HIST_BUCKETS]; /* observations <= bound (not
                                           cumulative) */
    uint64_t inf;                       /* observations above every bound */
    uint64_t count;                     /* all observations */
    uint64_t sum_ns;                    /* total of the observations */
};

/* Upper bound of bucket @i in nanoseconds. */
uint64_t srv__hist_bound_ns(size_t i);

/* Records one observation of @ns nanoseconds. */
void srv__hist_observe(struct srv_hist *h, uint64_t ns);

/* Appends a histogram @name with the label set @labels (e.g.
 * "cmd=\"get\"" or "" for none) in Prometheus text format, without HELP
 * and TYPE lines. Returns 0 or -ENOMEM. */
int srv__prom_hist(struct proto_buf *b,
                   const char *name,
                   const char *labels,
                   const struct srv_hist *h);

/* Appends "# HELP @name @help\n# TYPE @name @type\n". */
int srv__prom_head(struct proto_buf *b,
                   const char *name,
                   const char *type,
                   const char *help);

/* Appends a sample line "@name{@labels} @value\n" ("" @labels: no
 * braces). */
int srv__prom_sample(struct proto_buf *b,
                     const char *name,
                     const char *labels,
                     uint64_t value);

/* Appends @s (@n bytes) escaped as a Prometheus label value (backslash,
 * quote and newline escaped), without quotes. */
int srv__prom_label_value(struct proto_buf *b, const char *s, size_t n);

/* Starts the event-loop lag sampler on @srv's loop. Returns 0 or a libuv
 * error. */
int srv__metrics_start(struct srv_server *srv);

/* Closes the sampler's timer (idempotent). */
void srv__metrics_close(struct srv_server *srv);

/* Records one executed command @cmd (borrowed: a table entry) that took
 * @ns nanoseconds from dispatch to reply. */
void srv__metrics_cmd(const struct srv_cmd *cmd, uint64_t ns);

/* Records one leader verification that ended with @status after @ns. */
void srv__metrics_verify(int status, uint64_t ns);

/* Records one raft log append's latency (a radapter_latency_cb). */
void srv__metrics_append(void *arg, uint64_t ns);

/* Records one event-loop lag sample (watchdog.c samples). */
void srv__metrics_lag(uint64_t ns);

/* Appends a sample of @ns nanoseconds formatted as decimal seconds. */
int srv__prom_seconds(struct proto_buf *b,
                      const char *name,
                      const char *labels,
                      uint64_t ns);

/* Resident set size from /proc/self/statm (0 if unknown). */
uint64_t srv__rss_bytes(void);

/* Appends the watchdog's metrics (loop lag window, late duties, slow
 * disk). Returns 0 or -ENOMEM. */
int srv__watchdog_render(struct proto_buf *b, struct srv_server *srv);

/* Recent state for /status: the last loop lag and the worst in the last
 * ten seconds (ms), the verification histogram, and the resident set
 * size (bytes). */
void srv__metrics_snapshot(uint64_t *lag_ms,
                           uint64_t *lag_max_ms,
                           struct srv_hist *verify,
                           uint64_t *rss);

/* Appends every metric of @srv in Prometheus text format. Returns 0 or
 * -ENOMEM. */
int srv__metrics_render(struct proto_buf *b, struct srv_server *srv);

/* ------------------------------------------------------------------------
 * dashboard_assets.c (generated by scripts/embed.py): the dashboard.
 * ---------------------------------------------------------------------- */

struct srv_asset
{
    const char *name;          /* "index.html", "app.js", ... */
    const char *ctype;         /* Content-Type */
    const unsigned char *data; /* the file's bytes */
    size_t len;                /* bytes in data */
};

extern const struct srv_asset srv__assets[];
extern const size_t srv__nassets;

#endif /* SRV_HTTP_INTERNAL_H */
