/* The HTTP listener and its connections: limits, slow-client timeouts,
 * responses and the asynchronous waits of the routes (leader
 * verifications, operator actions). Requests are parsed by http_parse.c.
 *
 * Happy path: libuv reads into the connection's input buffer; the parser
 * turns it into one request at a time (it is paused at each message end,
 * so pipelined requests wait their turn); the request goes to the routes
 * (http_routes.c), which answer at once or after a verification; the
 * response is written with uv_write; then the next request is parsed, or
 * the connection idles (keep-alive) or closes (Connection: close).
 *
 * Failure modes: a malformed request gets 400, an oversized one 414, 431
 * or 413, and the connection closes after the answer. A request that does
 * not arrive whole within SRV_HTTP_REQUEST_TIMEOUT_MS gets 408; an idle
 * connection is closed after SRV_HTTP_IDLE_TIMEOUT_MS; a response that does
 * not drain within SRV_HTTP_WRITE_TIMEOUT_MS closes the connection. EOF or
 * an error while a verification is pending closes the connection and
 * cancels the verification at once (a load balancer that gives up leaves
 * nothing behind). A connection is freed only from the close callbacks of
 * its two handles, and only once no operator action still refers to it.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"

#define READ_CHUNK  (16 * 1024)
#define INPUT_LIMIT (SRV_HTTP_MAX_HEADER_BYTES + SRV_HTTP_MAX_BODY_BYTES + 4096)

enum conn_state {
    HC_OPEN = 1, /* reading and answering */
    HC_CLOSING,  /* no more I/O; waiting for an operator action */
    HC_CLOSED,   /* uv_close issued; freed when both handles closed */
};

struct admin_ctx
{
    struct srv_http_conn *c; /* weak: the waiting connection */
    srv_http_admin_cb cb;    /* runs once */
};

struct srv_http_conn
{
    uv_tcp_t tcp;     /* data == this */
    uv_timer_t timer; /* request, idle and write deadlines */
    int handles;      /* handles not yet closed */
    enum conn_state state;
    struct srv__link link;     /* in http.conns */
    struct srv_http_parser hp; /* owned: the request parser (its req is the
                                  request being answered) */
    struct proto_buf in;       /* owned: bytes read, from in_off unparsed */
    size_t in_off;             /* bytes of in already parsed */
    bool busy;                 /* a request is being answered */
    bool writing;              /* wreq is in flight */
    bool close_after_write;    /* close once the response is written */
    struct proto_buf out;      /* owned: the response being written */
    uv_write_t wreq;
    struct radapter_read rreq; /* the pending verification */
    bool read_waiting;         /* rreq is queued in radapter */
    srv_http_verify_cb vcb;    /* runs when rreq completes */
    uint64_t vstart_ns;        /* uv_hrtime when rreq was queued */
    struct admin_ctx *admin;   /* owned while an operator action runs */
};

/* The one HTTP listener of this process (as srv__server is its one
 * server). */
static struct
{
    struct srv_server *srv; /* weak */
    uv_tcp_t listener;
    bool listener_open;
    bool closing;           /* srv__http_close was called */
    int port;               /* bound port */
    struct srv__link conns; /* open connections */
    uint64_t nconns;        /* open connections */
    uint64_t accepted;      /* connections accepted */
    uint64_t refused;       /* connections refused: SRV_HTTP_MAX_CONNS */
} http;

static void process(struct srv_http_conn *c);
static void conn_close(struct srv_http_conn *c);
static void bad_request(struct srv_http_conn *c, unsigned status);

/* ------------------------------------------------------------------------
 * Lifetime
 * ---------------------------------------------------------------------- */

static void conn_free(struct srv_http_conn *c)
{
    proto_buf_fini(&c->in);
    srv__http_parser_fini(&c->hp);
    proto_buf_fini(&c->out);
    free(c);
}

static void handle_close_cb(uv_handle_t *h)
{
    struct srv_http_conn *c = h->data;
    if (--c->handles == 0) {
        conn_free(c);
    }
}

/* Issues uv_close once nothing refers to @c any more. */
static void conn_release(struct srv_http_conn *c)
{
    if (c->state != HC_CLOSING || c->admin != NULL) {
        return;
    }
    c->state = HC_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, handle_close_cb);
    uv_close((uv_handle_t *)&c->timer, handle_close_cb);
}

static void conn_close(struct srv_http_conn *c)
{
    if (c->state != HC_OPEN) {
        return;
    }
    c->state = HC_CLOSING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    if (c->read_waiting) {
        /* The probe's client went away: nothing of it stays queued. */
        radapter_read_cancel(http.srv->ra, &c->rreq);
        c->read_waiting = false;
    }
    srv__list_remove(&c->link);
    http.nconns--;
    conn_release(c);
}

static void timer_cb(uv_timer_t *t)
{
    struct srv_http_conn *c = t->data;
    if (c->state != HC_OPEN) {
        return;
    }
    if (!c->busy && c->hp.header_bytes > 0) {
        /* A request started but did not arrive in time (slow client). */
        bad_request(c, 408);
        return;
    }
    conn_close(c);
}

static void arm(struct srv_http_conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* A request's first byte arrived: it must arrive whole in time. */
static void request_begins(void *arg)
{
    arm(arg, SRV_HTTP_REQUEST_TIMEOUT_MS);
}

/* ------------------------------------------------------------------------
 * Responses
 * ---------------------------------------------------------------------- */

static const char *reason(unsigned status)
{
    switch (status) {
        case 200:
            return "OK";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Internal Server Error";
    }
}

static void write_cb(uv_write_t *w, int status)
{
    struct srv_http_conn *c = w->data;
    c->writing = false;
    c->out.len = 0;
    if (c->state != HC_OPEN) {
        return;
    }
    if (status < 0 || c->close_after_write || !c->hp.keep_alive) {
        conn_close(c);
        return;
    }
    c->busy = false;
    c->hp.header_bytes = 0;
    arm(c, SRV_HTTP_IDLE_TIMEOUT_MS);
    process(c);
}

int srv__http_respond(struct srv_http_conn *c,
                      unsigned status,
                      const char *ctype,
                      const char *body,
                      size_t len,
                      const char *extra)
{
    char head[512];
    assert(c->busy && !c->writing && c->state == HC_OPEN);

    bool close = c->close_after_write || !c->hp.keep_alive;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %u %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Connection: %s\r\n",
                     status, reason(status), ctype, len,
                     close ? "close" : "keep-alive");
    c->out.len = 0;
    int rv = proto_buf_append(&c->out, head, (size_t)n);
    if (rv == 0 && extra != NULL) {
        rv = proto_buf_append(&c->out, extra, strlen(extra));
    }
    if (rv == 0) {
        rv = proto_buf_append(&c->out, "\r\n", 2);
    }
    if (rv == 0 && c->hp.req.method != SRV_HTTP_HEAD && len > 0) {
        rv = proto_buf_append(&c->out, body, len);
    }
    if (rv != 0) {
        conn_close(c);
        return rv;
    }
    uv_buf_t buf = uv_buf_init(c->out.data, (unsigned)c->out.len);
    c->wreq.data = c;
    rv = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
    if (rv != 0) {
        conn_close(c);
        return rv;
    }
    c->writing = true;
    arm(c, SRV_HTTP_WRITE_TIMEOUT_MS);
    return 0;
}

/* ------------------------------------------------------------------------
 * Requests
 * ---------------------------------------------------------------------- */

static void bad_request(struct srv_http_conn *c, unsigned status)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "%s\n", reason(status));
    c->busy = true;
    c->close_after_write = true;
    c->hp.req.method = SRV_HTTP_GET;
    srv__http_respond(c, status, "text/plain", msg, (size_t)n, NULL);
}

/* Parses what was read, one request at a time, and hands each complete
 * request to the routes. */
static void process(struct srv_http_conn *c)
{
    while (c->state == HC_OPEN && !c->busy && c->in_off < c->in.len) {
        size_t used = 0;
        unsigned status = srv__http_parser_next(&c->hp, c->in.data + c->in_off,
                                                c->in.len - c->in_off, &used);
        c->in_off += used;
        if (status == SRV_HTTP_PARSE_MORE) {
            break;
        }
        uv_timer_stop(&c->timer);
        if (status != 0) {
            bad_request(c, status);
            break;
        }
        c->busy = true;
        srv__http_route(c, &c->hp.req);
    }
    if (c->in_off > 0 && c->in_off == c->in.len) {
        c->in.len = 0;
        c->in_off = 0;
    }
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct srv_http_conn *c = h->data;
    (void)suggested;
    if (c->in_off > 0) {
        proto_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    if (proto_buf_reserve(&c->in, READ_CHUNK) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in.data + c->in.len;
    buf->len = READ_CHUNK;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_http_conn *c = s->data;
    (void)buf;
    if (c->state != HC_OPEN) {
        return;
    }
    if (nread < 0) {
        /* EOF or an error: whatever is pending is abandoned. */
        conn_close(c);
        return;
    }
    if (nread == 0) {
        return;
    }
    c->in.len += (size_t)nread;
    if (c->busy) {
        /* Pipelined bytes wait; a client that floods meanwhile goes. */
        if (c->in.len - c->in_off > INPUT_LIMIT) {
            conn_close(c);
        }
        return;
    }
    process(c);
}

/* ------------------------------------------------------------------------
 * Accepting
 * ---------------------------------------------------------------------- */

static void free_cb(uv_handle_t *h)
{
    free(h->data);
}

static void refuse(uv_tcp_t *tcp)
{
    static const char msg[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
    uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
    uv_try_write((uv_stream_t *)tcp, &b, 1);
    uv_close((uv_handle_t *)tcp, free_cb);
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct srv_http_conn *c;
    if (status < 0 || http.closing) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_cb);
        return;
    }
    if (http.nconns >= SRV_HTTP_MAX_CONNS) {
        http.refused++;
        refuse(&c->tcp);
        return;
    }
    uv_timer_init(server->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->state = HC_OPEN;
    srv__http_parser_init(&c->hp, request_begins, c);
    uv_tcp_nodelay(&c->tcp, 1);
    srv__list_push(&http.conns, &c->link);
    http.nconns++;
    http.accepted++;
    arm(c, SRV_HTTP_IDLE_TIMEOUT_MS);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_close(c);
    }
}

/* ------------------------------------------------------------------------
 * Asynchronous waits of the routes
 * ---------------------------------------------------------------------- */

static void verify_cb(void *arg, int status)
{
    struct srv_http_conn *c = arg;
    uint64_t ns = uv_hrtime() - c->vstart_ns;
    c->read_waiting = false;
    srv__metrics_verify(status, ns);
    if (c->state != HC_OPEN) {
        return;
    }
    c->vcb(c, &c->hp.req, status, ns);
}

int srv__http_verify(struct srv_http_conn *c,
                     uint64_t timeout_ms,
                     srv_http_verify_cb cb)
{
    struct srv_server *srv = http.srv;
    assert(c->busy && !c->read_waiting);
    if (srv->ra == NULL || srv->shutting_down) {
        return RADAPTER_ESHUTDOWN;
    }
    uv_update_time(srv->loop);
    c->vcb = cb;
    c->vstart_ns = uv_hrtime();
    int rv = radapter_read(srv->ra, &c->rreq, uv_now(srv->loop) + timeout_ms,
                           verify_cb, c);
    if (rv != 0) {
        srv__metrics_verify(rv, 0);
        return rv;
    }
    c->read_waiting = true;
    return 0;
}

void *srv__http_admin_begin(struct srv_http_conn *c, srv_http_admin_cb cb)
{
    struct admin_ctx *a;
    assert(c->admin == NULL);
    a = malloc(sizeof(*a));
    if (a == NULL) {
        return NULL;
    }
    a->c = c;
    a->cb = cb;
    c->admin = a;
    return a;
}

void srv__http_admin_abort(void *ctx)
{
    struct admin_ctx *a = ctx;
    a->c->admin = NULL;
    free(a);
}

void srv__http_admin_done_cb(void *ctx, int status, struct kv_reply *reply)
{
    struct admin_ctx *a = ctx;
    struct srv_http_conn *c = a->c;
    srv_http_admin_cb cb = a->cb;
    c->admin = NULL;
    free(a);
    if (c->state != HC_OPEN) {
        cb(NULL, status, reply);
        conn_release(c);
        return;
    }
    cb(c, status, reply);
}

/* ------------------------------------------------------------------------
 * Listener
 * ---------------------------------------------------------------------- */

int srv__http_start(struct srv_server *srv, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    const char *addr = srv->cfg->http_addr;
    int rv;

    memset(&http, 0, sizeof(http));
    http.srv = srv;
    srv__list_init(&http.conns);
    rv = srv__parse_addr(addr, &ss);
    if (rv != 0) {
        snprintf(err, errlen, "invalid HTTP listen address '%s'", addr);
        return rv;
    }
    rv = uv_tcp_init(srv->loop, &http.listener);
    if (rv != 0) {
        snprintf(err, errlen, "cannot create socket: %s", uv_strerror(rv));
        return rv;
    }
    http.listener.data = &http;
    http.listener_open = true;
    rv = uv_tcp_bind(&http.listener, (struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&http.listener, 128, connection_cb);
    }
    if (rv != 0) {
        snprintf(
            err, errlen, "cannot listen on %s (http): %s", addr,
            rv == UV_EADDRINUSE ? "address already in use" : uv_strerror(rv));
        http.listener_open = false;
        uv_close((uv_handle_t *)&http.listener, NULL);
        return rv;
    }
    if (uv_tcp_getsockname(&http.listener, (struct sockaddr *)&ss, &len) == 0) {
        http.port = ss.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    rv = srv__metrics_start(srv);
    if (rv != 0) {
        snprintf(err, errlen, "cannot start the loop-lag timer: %s",
                 uv_strerror(rv));
        http.listener_open = false;
        uv_close((uv_handle_t *)&http.listener, NULL);
        return rv;
    }
    return 0;
}

void srv__http_close(struct srv_server *srv)
{
    (void)srv;
    if (http.srv == NULL || http.closing) {
        return;
    }
    http.closing = true;
    if (http.listener_open) {
        http.listener_open = false;
        uv_close((uv_handle_t *)&http.listener, NULL);
    }
    while (!srv__list_empty(&http.conns)) {
        conn_close(SRV__CONTAINER(http.conns.next, struct srv_http_conn, link));
    }
    srv__metrics_close(srv);
}

int srv__http_port(const struct srv_server *srv)
{
    (void)srv;
    return http.port;
}

void srv__http_conn_stats(const struct srv_server *srv,
                          uint64_t *open,
                          uint64_t *accepted,
                          uint64_t *refused)
{
    (void)srv;
    *open = http.nconns;
    *accepted = http.accepted;
    *refused = http.refused;
}
