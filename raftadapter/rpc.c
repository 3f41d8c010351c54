/* Node-to-node RPC connections over the peer port.
 *
 * Each node keeps at most one outgoing connection per peer (a "link"),
 * opened on first use and reopened after a failure no sooner than
 * RECONNECT_MS later; it also accepts connections from peers (via
 * transport.c). Frames (proto_peer_*) may arrive on either kind; replies to
 * a request go back over the replier's own outgoing link, so neither side
 * needs to remember which connection a request came on.
 *
 * Bounds: a connection's unsent output is capped at MAX_OUTPUT; frames
 * beyond it are dropped (every RPC here is retried by its sender with a
 * fresh token, so a drop only delays), and its input is capped by
 * PROTO_PEER_MAX_FRAME. A malformed frame closes the connection.
 *
 * Lifetime: a connection is freed only from its uv_close callback; the
 * node counts open connections so shutdown can wait for them. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raftadapter/radapter_internal.h"

#define RECONNECT_MS 100
#define MAX_OUTPUT   (4u * 1024 * 1024)

/* Circuit breaker: after BREAKER_FAILURES connections in a row that fail
 * before ever completing, the link stays closed for BREAKER_OPEN_MS, so
 * requests to a peer that keeps failing fail fast instead of each waiting
 * on a doomed connect. */
#define BREAKER_FAILURES 3
#define BREAKER_OPEN_MS  1000

struct radapter__rpc_conn
{
    struct radapter *r;              /* weak: owner */
    uv_tcp_t tcp;                    /* the socket */
    uv_connect_t connect_req;        /* outgoing only */
    uv_write_t write_req;            /* one write in flight at most */
    struct proto_buf in;             /* owned: unparsed input */
    struct proto_buf out;            /* owned: frames not yet written */
    struct proto_buf wbuf;           /* owned: the frames being written */
    uint64_t peer_id;                /* the other node */
    struct radapter__rpc_link *link; /* weak: set for outgoing */
    bool connected;                  /* outgoing: connect completed */
    bool writing;                    /* write_req in flight */
    bool closing;                    /* uv_close called */
    struct radapter__rpc_conn *next; /* all connections of the node */
    struct radapter__rpc_conn *prev;
};

/* ------------------------------------------------------------------------
 * Connection lifecycle
 * ---------------------------------------------------------------------- */

static struct radapter__rpc_conn *conn_new(struct radapter *r)
{
    struct radapter__rpc_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->r = r;
    proto_buf_init(&c->in);
    proto_buf_init(&c->out);
    proto_buf_init(&c->wbuf);
    uv_tcp_init(r->loop, &c->tcp);
    c->tcp.data = c;
    c->next = r->rpc_conns;
    if (r->rpc_conns != NULL) {
        r->rpc_conns->prev = c;
    }
    r->rpc_conns = c;
    r->rpc_open++;
    return c;
}

static void conn_closed_cb(uv_handle_t *h)
{
    struct radapter__rpc_conn *c = h->data;
    struct radapter *r = c->r;
    proto_buf_fini(&c->in);
    proto_buf_fini(&c->out);
    proto_buf_fini(&c->wbuf);
    free(c);
    r->rpc_open--;
    radapter__maybe_finish_close(r);
}

static void conn_close(struct radapter__rpc_conn *c)
{
    struct radapter *r = c->r;
    if (c->closing) {
        return;
    }
    c->closing = true;
    if (c->link != NULL) {
        struct radapter__rpc_link *l = c->link;
        l->conn = NULL;
        l->retry_at = uv_now(r->loop) + RECONNECT_MS;
        if (!c->connected && ++l->failures >= BREAKER_FAILURES) {
            l->retry_at = uv_now(r->loop) + BREAKER_OPEN_MS;
            l->failures = 0;
            l->breaker_opened++;
            r->breaker_opened++;
            radapter__log("warn", "peer_circuit_open",
                          "node %llu unreachable %d times in a row; not "
                          "dialing it for %d ms",
                          (unsigned long long)l->id, BREAKER_FAILURES,
                          BREAKER_OPEN_MS);
        }
        c->link = NULL;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        r->rpc_conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

static void flush(struct radapter__rpc_conn *c);

static void write_cb(uv_write_t *req, int status)
{
    struct radapter__rpc_conn *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (status != 0) {
        conn_close(c);
        return;
    }
    if (!c->closing) {
        flush(c);
    }
}

static void flush(struct radapter__rpc_conn *c)
{
    struct proto_buf tmp;
    uv_buf_t b;
    if (c->writing || c->closing || c->out.len == 0 ||
        (c->link != NULL && !c->connected)) {
        return;
    }
    /* Swap: what was queued becomes what is being written. */
    tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    c->out.len = 0;
    b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        conn_close(c);
        return;
    }
    c->writing = true;
}

static int conn_send(struct radapter__rpc_conn *c,
                     enum proto_peer_type type,
                     uint64_t a,
                     uint64_t b,
                     uint64_t d)
{
    if (c->closing) {
        return RADAPTER_ENOTLEADER;
    }
    if (c->out.len > MAX_OUTPUT) {
        return RADAPTER_EBUSY;
    }
    if (proto_peer_write(&c->out, type, a, b, d) != 0) {
        return -ENOMEM;
    }
    flush(c);
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct radapter__rpc_conn *c = h->data;
    (void)suggested;
    if (proto_buf_reserve(&c->in, 64 * 1024) != 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in.data + c->in.len;
    buf->len = c->in.cap - c->in.len;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct radapter__rpc_conn *c = s->data;
    size_t off = 0;
    (void)buf;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->in.len += (size_t)nread;
    while (!c->closing && off < c->in.len) {
        struct proto_peer_msg m;
        long n = proto_peer_parse(c->in.data + off, c->in.len - off, &m);
        if (n < 0) {
            radapter__log("warn", "peer_rpc_malformed",
                          "malformed frame from node %llu; closing",
                          (unsigned long long)c->peer_id);
            conn_close(c);
            return;
        }
        if (n == 0) {
            break;
        }
        off += (size_t)n;
        radapter__rpc_on_msg(c->r, c, c->peer_id, &m);
    }
    if (!c->closing) {
        proto_buf_consume(&c->in, off);
    }
}

/* ------------------------------------------------------------------------
 * Incoming and outgoing connections
 * ---------------------------------------------------------------------- */

void radapter__rpc_accept(struct radapter *r, uint64_t id, uv_stream_t *stream)
{
    struct radapter__rpc_conn *c;
    uv_os_fd_t fd;

    /* The transport's handle cannot be embedded in our struct: move its
     * socket into a handle of ours. */
    if (r->closing || uv_fileno((uv_handle_t *)stream, &fd) != 0 ||
        (c = conn_new(r)) == NULL) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)free);
        return;
    }
    int dupfd = dup(fd);
    uv_close((uv_handle_t *)stream, (uv_close_cb)free);
    if (dupfd < 0 || uv_tcp_open(&c->tcp, dupfd) != 0) {
        if (dupfd >= 0) {
            close(dupfd);
        }
        conn_close(c);
        return;
    }
    c->peer_id = id;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct radapter__rpc_conn *c = req->data;
    unsigned char hello[24];
    if (c->closing) {
        return;
    }
    if (status != 0) {
        conn_close(c);
        return;
    }
    c->connected = true;
    if (c->link != NULL) {
        c->link->failures = 0;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* The opening goes before anything queued while connecting. */
    radapter__put_le(hello, PROTO_PEER_MAGIC, 8);
    radapter__put_le(hello + 8, c->r->cfg.id, 8);
    radapter__put_le(hello + 16, 0, 8);
    if (proto_buf_reserve(&c->out, sizeof hello) != 0) {
        conn_close(c);
        return;
    }
    memmove(c->out.data + sizeof hello, c->out.data, c->out.len);
    memcpy(c->out.data, hello, sizeof hello);
    c->out.len += sizeof hello;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    flush(c);
}

/* Parses "a.b.c.d:port". */
static int to_sockaddr(const char *addr, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    size_t n;
    if (colon == NULL || (n = (size_t)(colon - addr)) == 0 ||
        n >= sizeof host) {
        return -EINVAL;
    }
    memcpy(host, addr, n);
    host[n] = '\0';
    return uv_ip4_addr(host, atoi(colon + 1), out);
}

static struct radapter__rpc_link *find_link(struct radapter *r,
                                            uint64_t id,
                                            const char *addr)
{
    for (struct radapter__rpc_link *l = r->links; l != NULL; l = l->next) {
        if (l->id == id && (id != 0 || strcmp(l->addr, addr) == 0)) {
            return l;
        }
    }
    return NULL;
}

/* The raft address of voter @id in the current configuration, or NULL. */
static const char *peer_address(struct radapter *r, uint64_t id)
{
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        if (r->raft.configuration.servers[i].id == id) {
            return r->raft.configuration.servers[i].address;
        }
    }
    return NULL;
}

static struct radapter__rpc_conn *link_conn(struct radapter *r,
                                            uint64_t id,
                                            const char *known_addr)
{
    const char *addr = id != 0 ? peer_address(r, id) : known_addr;
    struct radapter__rpc_link *l;
    struct sockaddr_in sa;
    struct radapter__rpc_conn *c;

    if (addr == NULL || strlen(addr) >= sizeof l->addr) {
        return NULL;
    }
    l = find_link(r, id, addr);
    if (l == NULL) {
        l = calloc(1, sizeof *l);
        if (l == NULL) {
            return NULL;
        }
        l->id = id;
        strcpy(l->addr, addr);
        l->next = r->links;
        r->links = l;
    }
    if (l->conn != NULL) {
        return l->conn;
    }
    if (uv_now(r->loop) < l->retry_at || to_sockaddr(addr, &sa) != 0) {
        return NULL;
    }
    c = conn_new(r);
    if (c == NULL) {
        return NULL;
    }
    c->peer_id = id;
    c->link = l;
    l->conn = c;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&sa,
                       connect_cb) != 0) {
        conn_close(c);
        return NULL;
    }
    return c;
}

int radapter__rpc_send(struct radapter *r,
                       uint64_t to,
                       enum proto_peer_type type,
                       uint64_t a,
                       uint64_t b,
                       uint64_t c)
{
    struct radapter__rpc_conn *conn;
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    conn = link_conn(r, to, NULL);
    if (conn == NULL) {
        return RADAPTER_ENOTLEADER;
    }
    return conn_send(conn, type, a, b, c);
}

static int send_payload(struct radapter__rpc_conn *conn,
                        enum proto_peer_type type,
                        uint64_t a,
                        uint64_t b,
                        const void *const *parts,
                        const size_t *lens,
                        size_t nparts);

int radapter__rpc_send_payload(struct radapter *r,
                               uint64_t to,
                               enum proto_peer_type type,
                               uint64_t a,
                               uint64_t b,
                               const void *const *parts,
                               const size_t *lens,
                               size_t nparts)
{
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    return send_payload(link_conn(r, to, NULL), type, a, b, parts, lens,
                        nparts);
}

static int send_payload(struct radapter__rpc_conn *conn,
                        enum proto_peer_type type,
                        uint64_t a,
                        uint64_t b,
                        const void *const *parts,
                        const size_t *lens,
                        size_t nparts)
{
    if (conn == NULL || conn->closing) {
        return RADAPTER_ENOTLEADER;
    }
    if (conn->out.len > MAX_OUTPUT) {
        return RADAPTER_EBUSY;
    }
    if (proto_peer_write_payload(&conn->out, type, a, b, parts, lens, nparts) !=
        0) {
        return -ENOMEM;
    }
    flush(conn);
    return 0;
}

int radapter__rpc_reply_payload(struct radapter__rpc_conn *conn,
                                enum proto_peer_type type,
                                uint64_t a,
                                uint64_t b,
                                const void *const *parts,
                                const size_t *lens,
                                size_t nparts)
{
    return send_payload(conn, type, a, b, parts, lens, nparts);
}

int radapter__rpc_send_addr(struct radapter *r,
                            const char *addr,
                            enum proto_peer_type type,
                            uint64_t a,
                            uint64_t b,
                            const void *const *parts,
                            const size_t *lens,
                            size_t nparts)
{
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    return send_payload(link_conn(r, 0, addr), type, a, b, parts, lens, nparts);
}

void radapter__rpc_close_all(struct radapter *r)
{
    while (r->rpc_conns != NULL) {
        conn_close(r->rpc_conns);
    }
    while (r->links != NULL) {
        struct radapter__rpc_link *l = r->links;
        r->links = l->next;
        free(l);
    }
}
