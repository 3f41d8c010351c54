/* Client connections: reading, parsing, output buffering, lifetime.
 *
 * Happy path: libuv reads into the query buffer; every complete command in
 * it is parsed and dispatched at once (pipelining); replies accumulate in
 * the output buffer; the prepare handle writes each connection's output
 * once per loop iteration (uv_try_write, then uv_write for the rest).
 *
 * Pausing: a connection stops parsing when a command must wait (a read
 * behind in-flight writes, a read waiting for leader verification, too many
 * writes in flight) and is resumed from the idle handle, never from inside
 * the callback that unblocked it. It stops reading from the socket while
 * paused with a full query buffer or while its output does not drain.
 *
 * Failure modes: EOF or a socket error closes the connection; a protocol
 * error is answered and then closes it; a query buffer over
 * client-query-buffer-limit closes it (as Redis). A connection with writes
 * in flight stays allocated (CLOSING) until their callbacks ran.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Lifetime
 * ---------------------------------------------------------------------- */

static void conn_free(struct srv_conn *c)
{
    proto_parser_free(c->parser);
    proto_buf_fini(&c->qbuf);
    proto_buf_fini(&c->out);
    proto_buf_fini(&c->wbuf);
    proto_buf_fini(&c->multi);
    proto_buf_fini(&c->watch);
    srv__stash_fini(&c->stash);
    free(c->ring);
    free(c->ring_ns);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

static void close_cb(uv_handle_t *h)
{
    struct srv_conn *c = h->data;
    c->srv->nzombies--;
    conn_free(c);
}

void srv__conn_release(struct srv_conn *c)
{
    if (c->state != SRV__CONN_CLOSING || c->inflight > 0) {
        return;
    }
    c->state = SRV__CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

void srv__conn_close(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    if (c->state != SRV__CONN_OPEN) {
        return;
    }
    c->state = SRV__CONN_CLOSING;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (c->read_waiting) {
        radapter_read_cancel(srv->ra, &c->rreq);
        c->read_waiting = false;
    }
    srv__list_remove(&c->link_all);
    if (c->in_flush) {
        srv__list_remove(&c->link_flush);
        c->in_flush = false;
    }
    if (c->in_ready) {
        srv__list_remove(&c->link_ready);
        c->in_ready = false;
    }
    srv->nconns--;
    srv->nzombies++;
    srv_log(SRV_LOG_DEBUG, "client_closed", "id=%llu addr=%s inflight=%u",
            (unsigned long long)c->id, c->addr, c->inflight);
    srv__conn_release(c);
}

void srv__conn_want_flush(struct srv_conn *c)
{
    if (!c->in_flush && c->state == SRV__CONN_OPEN) {
        srv__list_push(&c->srv->flushq, &c->link_flush);
        c->in_flush = true;
    }
}

void srv__conn_schedule(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    if (c->in_ready || c->state != SRV__CONN_OPEN) {
        return;
    }
    srv__list_push(&srv->readyq, &c->link_ready);
    c->in_ready = true;
    if (!uv_is_active((uv_handle_t *)&srv->idle)) {
        /* An active idle handle also keeps the loop from blocking in poll
         * while work is queued. */
        uv_idle_start(&srv->idle, srv__idle_cb);
    }
}

bool srv__conn_is_idle(const struct srv_conn *c)
{
    return c->inflight == 0 && !c->read_waiting && !c->stash.active &&
           !c->writing && c->out.len == 0;
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct srv_conn *c = h->data;
    (void)suggested;
    /* Grow geometrically so a large bulk arriving in many reads costs
     * linear time; the parser never needs more than what arrived. */
    size_t want = SRV_READ_CHUNK;
    if (c->qbuf.len - c->qoff > want) {
        want = c->qbuf.len - c->qoff;
        if (want > 64 * 1024 * 1024) {
            want = 64 * 1024 * 1024;
        }
    }
    if (c->qbuf.cap - c->qbuf.len < SRV_READ_CHUNK &&
        proto_buf_reserve(&c->qbuf, want) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->qbuf.data + c->qbuf.len;
    buf->len = c->qbuf.cap - c->qbuf.len;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Starts or stops reading according to @c's state. */
static void update_reading(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    size_t unparsed = c->qbuf.len - c->qoff;
    bool paused = c->stash.active || c->paused_cap;
    bool want =
        c->state == SRV__CONN_OPEN && !c->close_after_reply &&
        !srv->shutting_down && !(paused && unparsed >= SRV_PAUSED_QBUF_LIMIT) &&
        !(c->writing && c->out.len >= SRV_OUTPUT_PAUSE_LIMIT) && !c->paused_cap;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) {
            c->reading = true;
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* client-output-buffer-limit for normal clients, as Redis: replies waiting
 * to be written (queued and in flight) past the hard limit, or above the
 * soft limit for soft-seconds, close the connection instead of eating
 * memory. Returns true if @c was closed. */
static bool obuf_over(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    const struct srv_config *cfg = srv->cfg;
    uint64_t pending = c->out.len + (c->writing ? c->wbuf.len : 0);
    uint64_t now = uv_now(srv->loop);
    const char *which = NULL;

    if (c->state != SRV__CONN_OPEN) {
        return false;
    }
    if (cfg->obuf_hard != 0 && pending > cfg->obuf_hard) {
        which = "hard";
    } else if (cfg->obuf_soft != 0 && pending > cfg->obuf_soft) {
        if (c->obuf_soft_since_ms == 0) {
            c->obuf_soft_since_ms = now != 0 ? now : 1;
        } else if (now - c->obuf_soft_since_ms >= cfg->obuf_soft_s * 1000) {
            which = "soft";
        }
    } else {
        c->obuf_soft_since_ms = 0;
    }
    if (which == NULL) {
        return false;
    }
    srv->stats.obuf_disconnections++;
    srv_log(SRV_LOG_WARN, "client_output_buffer_limit",
            "id=%llu addr=%s limit=%s pending_bytes=%llu hard=%llu soft=%llu "
            "soft_seconds=%llu",
            (unsigned long long)c->id, c->addr, which,
            (unsigned long long)pending, (unsigned long long)cfg->obuf_hard,
            (unsigned long long)cfg->obuf_soft,
            (unsigned long long)cfg->obuf_soft_s);
    srv__conn_close(c);
    return true;
}

uint64_t srv__conn_memory(const struct srv_conn *c)
{
    return sizeof(*c) + c->qbuf.cap + c->out.cap + c->wbuf.cap +
           proto_parser_memory(c->parser);
}

void srv__conn_cron(struct srv_server *srv)
{
    uint64_t total = 0;
    struct srv__link *l = srv->conns.next;
    while (l != &srv->conns) {
        struct srv_conn *c = SRV__CONTAINER(l, struct srv_conn, link_all);
        l = l->next; /* closing may unlink @c */
        if ((c->out.len > 0 || c->writing) && obuf_over(c)) {
            continue; /* closed: its buffers are on their way out */
        }
        total += srv__conn_memory(c);
    }
    srv->clients_mem = total;
}

/* Parses and dispatches every complete command in @c's query buffer. */
static void process(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    struct proto_cmd cmd;

    if (c->state != SRV__CONN_OPEN || srv->shutting_down) {
        return;
    }
    if (c->stash.active && !srv__dispatch_stash(c)) {
        goto out;
    }
    while (c->state == SRV__CONN_OPEN && !c->close_after_reply) {
        if (c->inflight >= SRV_MAX_INFLIGHT_WRITES) {
            c->paused_cap = true;
            break;
        }
        long n = proto_parse(c->parser, c->qbuf.data + c->qoff,
                             c->qbuf.len - c->qoff, &cmd);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            srv->stats.protocol_errors++;
            srv_log(SRV_LOG_DEBUG, "protocol_error", "id=%llu addr=%s code=%ld",
                    (unsigned long long)c->id, c->addr, n);
            c->stash.active = true;
            c->stash.proto_err = (int)n;
            c->stash.bad_byte = proto_parser_bad_byte(c->parser);
            c->stash.argc = 0;
            c->qoff = c->qbuf.len; /* nothing after the error is read */
            srv__dispatch_stash(c);
            break;
        }
        c->qoff += (size_t)n;
        if (cmd.argc == 0) {
            continue;
        }
        if (!srv__dispatch(c, cmd.argc, cmd.argv, cmd.lens)) {
            break;
        }
        if (c->out.len > SRV_OUTPUT_PAUSE_LIMIT && obuf_over(c)) {
            return;
        }
    }
out:
    if (c->state != SRV__CONN_OPEN) {
        return;
    }
    /* Compact: drop consumed bytes; free a large idle buffer. */
    if (c->qoff == c->qbuf.len) {
        c->qbuf.len = 0;
        c->qoff = 0;
        if (c->qbuf.cap > 64 * 1024) {
            proto_buf_fini(&c->qbuf);
        }
    } else if (c->qoff > 0) {
        proto_buf_consume(&c->qbuf, c->qoff);
        c->qoff = 0;
    }
    if (c->out.len > 0 || c->close_after_reply) {
        srv__conn_want_flush(c);
    }
    update_reading(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_conn *c = s->data;
    struct srv_server *srv = c->srv;
    (void)buf;

    if (nread < 0) {
        if (nread != UV_EOF) {
            srv_log(SRV_LOG_DEBUG, "client_read_error", "id=%llu error=%s",
                    (unsigned long long)c->id, uv_strerror((int)nread));
        }
        srv__conn_close(c);
        return;
    }
    if (nread == 0) {
        return;
    }
    c->qbuf.len += (size_t)nread;
    srv->stats.net_input_bytes += (uint64_t)nread;
    c->last_ms = uv_now(srv->loop);
    process(c);
    if (c->state == SRV__CONN_OPEN &&
        c->qbuf.len - c->qoff > srv->cfg->client_query_buffer_limit) {
        srv_log(SRV_LOG_WARN, "client_query_buffer_limit",
                "id=%llu addr=%s qbuf=%zu", (unsigned long long)c->id, c->addr,
                c->qbuf.len - c->qoff);
        srv__conn_close(c);
    }
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

static void flush_one(struct srv_conn *c);

static void write_cb(uv_write_t *req, int status)
{
    struct srv_conn *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (c->state != SRV__CONN_OPEN) {
        return;
    }
    if (status < 0) {
        srv__conn_close(c);
        return;
    }
    if (c->out.len > 0 || c->close_after_reply) {
        srv__conn_want_flush(c);
    }
    update_reading(c);
}

static void flush_one(struct srv_conn *c)
{
    struct srv_server *srv = c->srv;
    if (c->state != SRV__CONN_OPEN || obuf_over(c) || c->writing) {
        return;
    }
    if (c->out.len == 0) {
        if (c->close_after_reply && c->inflight == 0) {
            srv__conn_close(c);
        }
        return;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = c->out.len > UINT32_MAX
                ? UV_EAGAIN
                : uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS) {
        n = 0;
    } else if (n < 0) {
        srv__conn_close(c);
        return;
    }
    srv->stats.net_output_bytes += (uint64_t)n;
    if ((size_t)n == c->out.len) {
        c->out.len = 0;
        if (c->out.cap > 1024 * 1024) {
            proto_buf_fini(&c->out);
        }
        if (c->close_after_reply && c->inflight == 0) {
            srv__conn_close(c);
        }
        return;
    }
    /* The rest goes through uv_write; the buffer moves to wbuf so that new
     * replies can keep accumulating in out meanwhile. */
    struct proto_buf tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    c->out.len = 0;
    size_t rest = c->wbuf.len - (size_t)n;
    b = uv_buf_init(c->wbuf.data + n, (unsigned)rest);
    c->wreq.data = c;
    if (rest > UINT32_MAX ||
        uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        srv__conn_close(c);
        return;
    }
    srv->stats.net_output_bytes += rest;
    c->writing = true;
    update_reading(c);
}

void srv__conn_flush_all(struct srv_server *srv)
{
    while (!srv__list_empty(&srv->flushq)) {
        struct srv_conn *c =
            SRV__CONTAINER(srv->flushq.next, struct srv_conn, link_flush);
        srv__list_remove(&c->link_flush);
        c->in_flush = false;
        flush_one(c);
    }
}

void srv__conn_run_ready(struct srv_server *srv)
{
    while (!srv__list_empty(&srv->readyq)) {
        struct srv_conn *c =
            SRV__CONTAINER(srv->readyq.next, struct srv_conn, link_ready);
        srv__list_remove(&c->link_ready);
        c->in_ready = false;
        c->paused_cap = false;
        process(c);
    }
}

void srv__conn_stop_all(struct srv_server *srv)
{
    for (struct srv__link *l = srv->conns.next; l != &srv->conns; l = l->next) {
        struct srv_conn *c = SRV__CONTAINER(l, struct srv_conn, link_all);
        update_reading(c);
    }
}

void srv__conn_close_all(struct srv_server *srv)
{
    while (!srv__list_empty(&srv->conns)) {
        struct srv_conn *c =
            SRV__CONTAINER(srv->conns.next, struct srv_conn, link_all);
        flush_one(c);
        if (c->state == SRV__CONN_OPEN) {
            srv__conn_close(c);
        }
        if (c->state == SRV__CONN_CLOSING) {
            /* Only called once radapter has closed: no write callback can
             * arrive any more, so nothing is in flight. */
            c->inflight = 0;
            srv__conn_release(c);
        }
    }
}

/* ------------------------------------------------------------------------
 * Accepting
 * ---------------------------------------------------------------------- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", ip, port);
}

static void reject_close_cb(uv_handle_t *h)
{
    free(h);
}

/* Accepts and immediately refuses a client over maxclients, as Redis does:
 * the error is written without waiting, then the socket closes. */
static void reject(struct srv_server *srv)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL || uv_tcp_init(srv->loop, t) != 0) {
        free(t);
        return;
    }
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)t) == 0) {
        uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
        uv_try_write((uv_stream_t *)t, &b, 1);
    }
    uv_close((uv_handle_t *)t, reject_close_cb);
    srv->stats.rejected_connections++;
}

/* Length of the IP part of "ip:port". */
static size_t ip_len(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon != NULL ? (size_t)(colon - addr) : strlen(addr);
}

/* Open connections from the IP of @addr. O(connections), only when
 * maxclients-per-ip is set; accepts are rare next to commands. */
static uint64_t same_ip_count(struct srv_server *srv, const char *addr)
{
    size_t n = ip_len(addr);
    uint64_t count = 0;
    for (const struct srv__link *l = srv->conns.next; l != &srv->conns;
         l = l->next) {
        const struct srv_conn *o =
            SRV__CONTAINER(l, const struct srv_conn, link_all);
        if (o->state == SRV__CONN_OPEN && !o->close_after_reply &&
            ip_len(o->addr) == n && memcmp(o->addr, addr, n) == 0) {
            count++;
        }
    }
    return count;
}

void srv__conn_accept(struct srv_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_os_fd_t fd;

    if (srv->nconns >= srv->cfg->maxclients) {
        reject(srv);
        return;
    }
    struct srv_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        goto err;
    }
    c->parser = proto_parser_new(&srv->limits);
    if (c->parser == NULL) {
        goto err_after_alloc;
    }
    if (uv_tcp_init(srv->loop, &c->tcp) != 0) {
        goto err_after_parser;
    }
    c->tcp.data = c;
    c->srv = srv;
    c->state = SRV__CONN_OPEN;
    if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
        /* The handle is initialised: release through uv_close. */
        c->state = SRV__CONN_CLOSED;
        srv->nzombies++;
        uv_close((uv_handle_t *)&c->tcp, close_cb);
        return;
    }
    c->id = ++srv->next_id;
    c->resp = 2;
    proto_buf_init(&c->qbuf);
    proto_buf_init(&c->out);
    proto_buf_init(&c->wbuf);
    proto_buf_init(&c->multi);
    proto_buf_init(&c->watch);
    c->link_flush.prev = c->link_flush.next = &c->link_flush;
    c->link_ready.prev = c->link_ready.next = &c->link_ready;
    c->ctime_ms = c->last_ms = uv_now(srv->loop);
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        format_addr(&ss, c->addr, sizeof(c->addr));
    }
    len = sizeof(ss);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        format_addr(&ss, c->laddr, sizeof(c->laddr));
    }
    c->fd = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 ? (int)fd : -1;
    bool over_ip = srv->cfg->maxclients_per_ip != 0 &&
                   same_ip_count(srv, c->addr) >= srv->cfg->maxclients_per_ip;
    srv__list_push(&srv->conns, &c->link_all);
    srv->nconns++;
    srv->stats.connections_received++;
    if (over_ip) {
        /* Like maxclients: the error, then the connection closes. */
        srv->stats.per_ip_rejections++;
        srv->stats.rejected_connections++;
        srv_log(SRV_LOG_DEBUG, "client_rejected", "addr=%s reason=%s", c->addr,
                "maxclients-per-ip");
        srv_reply_errorf(&c->out, "ERR max number of clients per IP reached");
        c->close_after_reply = true;
        srv__conn_want_flush(c);
        return;
    }
    update_reading(c);
    srv_log(SRV_LOG_DEBUG, "client_connected", "id=%llu addr=%s",
            (unsigned long long)c->id, c->addr);
    return;

err_after_parser:
    proto_parser_free(c->parser);
err_after_alloc:
    free(c);
err:
    srv_log(SRV_LOG_ERROR, "accept_failed", "error=%s", "out of memory");
    reject(srv);
}
