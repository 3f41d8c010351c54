/* The HTTP listener and its connections: parsing (nodejs http-parser),
 * limits, slow-client timeouts, responses and the asynchronous waits of
 * the routes (leader verifications, operator actions).
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
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"

#define READ_CHUNK  (16 * 1024)
#define TOKEN_MAX   256
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
    struct srv__link link; /* in http.conns */
    http_parser parser;
    struct proto_buf in;     /* owned: bytes read, from in_off unparsed */
    size_t in_off;           /* bytes of in already parsed */
    struct proto_buf url;    /* owned: the request target */
    struct proto_buf hfield; /* owned: the header name being read */
    struct proto_buf hval;   /* owned: the header value being read */
    struct proto_buf body;   /* owned: the request body */
    char token[TOKEN_MAX];   /* the Authorization bearer token */
    size_t token_len;        /* bytes in token */
    bool in_value;           /* the last header callback was a value */
    size_t header_bytes;     /* request line and headers so far */
    unsigned limit_status;   /* 413/414/431 when a limit refused */
    bool want_json;          /* Accept: application/json */
    bool keep_alive;         /* the client allows another request */
    bool busy;               /* a request is being answered */
    bool writing;            /* wreq is in flight */
    bool close_after_write;  /* close once the response is written */
    struct srv_http_req req; /* the request being answered */
    struct proto_buf out;    /* owned: the response being written */
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
    proto_buf_fini(&c->url);
    proto_buf_fini(&c->hfield);
    proto_buf_fini(&c->hval);
    proto_buf_fini(&c->body);
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
    if (!c->busy && c->header_bytes > 0) {
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

/* ------------------------------------------------------------------------
 * Parser callbacks
 * ---------------------------------------------------------------------- */

static bool lower_eq(const char *a, size_t n, const char *want)
{
    return srv__arg_is(a, n, want);
}

static bool contains_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (srv__arg_is(s + i, k, needle)) {
            return true;
        }
    }
    return false;
}

/* Inspects the header just read (hfield: hval). */
static void header_done(struct srv_http_conn *c)
{
    const char *v = c->hval.data != NULL ? c->hval.data : "";
    size_t n = c->hval.len;
    if (lower_eq(c->hfield.data, c->hfield.len, "accept")) {
        c->want_json = contains_ci(v, n, "application/json");
    } else if (lower_eq(c->hfield.data, c->hfield.len, "authorization") &&
               n > 7 && srv__arg_is(v, 7, "bearer ")) {
        size_t off = 7;
        while (off < n && v[off] == ' ') {
            off++;
        }
        size_t len = n - off;
        while (len > 0 &&
               (v[off + len - 1] == ' ' || v[off + len - 1] == '\t')) {
            len--;
        }
        if (len < sizeof(c->token)) {
            memcpy(c->token, v + off, len);
            c->token_len = len;
        }
    }
    c->hfield.len = 0;
    c->hval.len = 0;
}

/* Counts @n more header bytes; false when over the limit. */
static bool header_room(struct srv_http_conn *c, size_t n, unsigned status)
{
    c->header_bytes += n;
    if (c->header_bytes > SRV_HTTP_MAX_HEADER_BYTES) {
        c->limit_status = status;
        return false;
    }
    return true;
}

static int on_message_begin(http_parser *p)
{
    struct srv_http_conn *c = p->data;
    c->url.len = 0;
    c->hfield.len = 0;
    c->hval.len = 0;
    c->body.len = 0;
    c->token_len = 0;
    c->in_value = false;
    c->header_bytes = 1;
    c->want_json = false;
    arm(c, SRV_HTTP_REQUEST_TIMEOUT_MS);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct srv_http_conn *c = p->data;
    if (!header_room(c, n, 414) || proto_buf_append(&c->url, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct srv_http_conn *c = p->data;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    if (!header_room(c, n, 431) || proto_buf_append(&c->hfield, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct srv_http_conn *c = p->data;
    c->in_value = true;
    if (!header_room(c, n, 431) || proto_buf_append(&c->hval, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct srv_http_conn *c = p->data;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    if ((p->flags & F_CONTENTLENGTH) != 0 &&
        p->content_length > SRV_HTTP_MAX_BODY_BYTES) {
        c->limit_status = 413;
        return -1; /* 1 and 2 mean "no body" and "upgrade" */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct srv_http_conn *c = p->data;
    if (c->body.len + n > SRV_HTTP_MAX_BODY_BYTES) {
        c->limit_status = 413;
        return 1;
    }
    return proto_buf_append(&c->body, at, n) != 0 ? 1 : 0;
}

static int on_message_complete(http_parser *p)
{
    struct srv_http_conn *c = p->data;
    c->keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
    /* Stop here: the bytes after this message are the next request, parsed
     * once this one has been answered. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

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
    if (status < 0 || c->close_after_write || !c->keep_alive) {
        conn_close(c);
        return;
    }
    c->busy = false;
    c->header_bytes = 0;
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

    bool close = c->close_after_write || !c->keep_alive;
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
    if (rv == 0 && c->req.method != SRV_HTTP_HEAD && len > 0) {
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

static enum srv_http_method method_of(unsigned m)
{
    switch (m) {
        case HTTP_GET:
            return SRV_HTTP_GET;
        case HTTP_HEAD:
            return SRV_HTTP_HEAD;
        case HTTP_POST:
            return SRV_HTTP_POST;
        case HTTP_OPTIONS:
            return SRV_HTTP_OPTIONS;
        default:
            return SRV_HTTP_OTHER;
    }
}

static void bad_request(struct srv_http_conn *c, unsigned status)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "%s\n", reason(status));
    c->busy = true;
    c->close_after_write = true;
    c->req.method = SRV_HTTP_GET;
    srv__http_respond(c, status, "text/plain", msg, (size_t)n, NULL);
}

/* Fills c->req from the request the parser just completed, as views into
 * @c's buffers. Returns false for a target without a usable path. */
static bool make_req(struct srv_http_conn *c)
{
    struct http_parser_url u;
    struct srv_http_req *r = &c->req;

    http_parser_url_init(&u);
    if (c->url.len == 0 ||
        http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->method = method_of(c->parser.method);
    r->path = "/";
    r->path_len = 1;
    r->query = "";
    if (u.field_set & (1 << UF_PATH)) {
        r->path = c->url.data + u.field_data[UF_PATH].off;
        r->path_len = u.field_data[UF_PATH].len;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        r->query = c->url.data + u.field_data[UF_QUERY].off;
        r->query_len = u.field_data[UF_QUERY].len;
    }
    r->want_json = c->want_json;
    r->token = c->token;
    r->token_len = c->token_len;
    r->body = c->body.data != NULL ? c->body.data : "";
    r->body_len = c->body.len;
    return true;
}

/* parse_next's answer when every byte was parsed and no request ended. */
#define PARSE_MORE 1u

/* Runs the parser over @c's unparsed input. Returns 0 when a request is
 * complete (in c->req), PARSE_MORE, or the status a refused request gets
 * (400, 413, 414 or 431). */
static unsigned parse_next(struct srv_http_conn *c)
{
    size_t avail = c->in.len - c->in_off;
    size_t n = http_parser_execute(&c->parser, &settings,
                                   c->in.data + c->in_off, avail);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    c->in_off += n;
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        return make_req(c) ? 0 : 400;
    }
    if (e != HPE_OK) {
        srv_log(SRV_LOG_DEBUG, "http_bad_request", "error=%s",
                http_errno_name(e));
        return c->limit_status != 0 ? c->limit_status : 400;
    }
    /* http-parser consumes everything or stops with an error. */
    return n < avail ? 400 : PARSE_MORE;
}

/* Parses what was read, one request at a time, and hands each complete
 * request to the routes. */
static void process(struct srv_http_conn *c)
{
    while (c->state == HC_OPEN && !c->busy && c->in_off < c->in.len) {
        unsigned status = parse_next(c);
        if (status == PARSE_MORE) {
            break;
        }
        uv_timer_stop(&c->timer);
        if (status != 0) {
            bad_request(c, status);
            break;
        }
        c->busy = true;
        srv__http_route(c, &c->req);
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
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
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
    c->vcb(c, &c->req, status, ns);
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

/* ------------------------------------------------------------------------
 * Parsing without a socket
 * ---------------------------------------------------------------------- */

int srv__http_parse(const char *buf, size_t len, srv_http_req_cb cb, void *arg)
{
    struct srv_http_conn *c;
    uv_loop_t loop;
    unsigned status = PARSE_MORE;
    int rv;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -ENOMEM;
    }
    rv = uv_loop_init(&loop);
    if (rv != 0) {
        conn_free(c);
        return rv;
    }
    /* The parser callbacks arm the request timer: give them one, on a loop
     * that never runs. */
    uv_timer_init(&loop, &c->timer);
    c->timer.data = c;
    c->state = HC_OPEN;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    rv = proto_buf_append(&c->in, buf, len);
    while (rv == 0 && c->in_off < c->in.len) {
        status = parse_next(c);
        if (status != 0) {
            break;
        }
        cb(arg, &c->req);
        if (!c->keep_alive) {
            break; /* a live connection closes after this answer */
        }
    }
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    conn_free(c);
    if (rv != 0) {
        return rv;
    }
    return status == PARSE_MORE ? 0 : (int)status;
}
