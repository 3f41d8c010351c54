/* One peer port for raft traffic and our own node-to-node RPCs.
 *
 * We hand libraft a raft_uv_transport of our own. Outgoing raft connections
 * (init, connect) are delegated to an inner raft_uv_tcp transport, so raft
 * keeps speaking its own wire format. Listening is ours: every accepted
 * connection first sends 8 bytes that say what it is.
 *
 *   - raft_uv_tcp's handshake starts with its protocol version, the u64
 *     value 1 in little endian, then the sender's id and address length
 *     (u64 each), then the address. We read it the way raft_uv_tcp would
 *     and hand the stream to raft's accept callback.
 *   - Our RPC connections start with PROTO_PEER_MAGIC; the stream goes to
 *     radapter__rpc_accept (rpc.c).
 *
 * Happy path: listen → accept → read 24 bytes → dispatch. Failure modes:
 * an unknown first word, an absurd address length, a peer that sends
 * nothing for HANDSHAKE_TIMEOUT_MS, or close() while handshaking: the
 * connection is closed and forgotten, nothing is handed on. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define MAX_ADDRESS_LEN      256

/* A connection whose first bytes have not been read yet. */
struct incoming
{
    struct radapter__transport *t; /* weak: owner */
    uv_tcp_t *tcp;                 /* owned until handed on */
    uv_timer_t timer;              /* handshake deadline */
    unsigned char preamble[24];    /* kind word, id, address length */
    size_t nread;                  /* bytes of preamble or address read */
    char *address;                 /* owned: raft peer's address */
    size_t address_len;            /* bytes expected */
    int handles;                   /* handles still open while aborting */
    struct incoming *next;         /* list of handshaking connections */
    struct incoming *prev;
};

static struct radapter__transport *from_transport(struct raft_uv_transport *t)
{
    return t->impl;
}

/* ------------------------------------------------------------------------
 * Handshaking connections
 * ---------------------------------------------------------------------- */

static void unlink_incoming(struct incoming *in)
{
    struct radapter__transport *t = in->t;
    if (in->prev != NULL) {
        in->prev->next = in->next;
    } else {
        t->incoming = in->next;
    }
    if (in->next != NULL) {
        in->next->prev = in->prev;
    }
    in->next = in->prev = NULL;
}

static void incoming_closed_cb(uv_handle_t *h)
{
    struct incoming *in = h->data;
    if (--in->handles > 0) {
        return;
    }
    struct radapter__transport *t = in->t;
    t->aborting--;
    free(in->tcp);
    free(in->address);
    free(in);
    radapter__transport_maybe_closed(t);
}

static void abort_incoming(struct incoming *in)
{
    unlink_incoming(in);
    in->t->aborting++;
    in->handles = 2;
    uv_close((uv_handle_t *)in->tcp, incoming_closed_cb);
    uv_close((uv_handle_t *)&in->timer, incoming_closed_cb);
}

static void timer_freed_cb(uv_handle_t *h)
{
    struct incoming *in = h->data;
    struct radapter__transport *t = in->t;
    free(in->address);
    free(in);
    t->aborting--;
    radapter__transport_maybe_closed(t);
}

/* Hands the stream on and frees the handshake state (the timer closes
 * asynchronously; the stream now belongs to the receiver). */
static void finish_incoming(struct incoming *in, bool is_raft)
{
    struct radapter__transport *t = in->t;
    uv_stream_t *stream = (uv_stream_t *)in->tcp;
    uint64_t id = radapter__get_le(in->preamble + 8, 8);

    uv_read_stop(stream);
    unlink_incoming(in);
    in->tcp = NULL;
    t->aborting++; /* until the timer is closed */
    uv_close((uv_handle_t *)&in->timer, timer_freed_cb);
    if (is_raft) {
        t->raft_accept(&t->outer, id, in->address, stream);
    } else {
        radapter__rpc_accept(t->r, id, stream);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct incoming *in = h->data;
    (void)suggested;
    if (in->address == NULL) {
        buf->base = (char *)in->preamble + in->nread;
        buf->len = sizeof in->preamble - in->nread;
    } else {
        buf->base = in->address + in->nread;
        buf->len = in->address_len - in->nread;
    }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct incoming *in = s->data;
    (void)buf;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        abort_incoming(in);
        return;
    }
    in->nread += (size_t)nread;
    if (in->address == NULL) {
        uint64_t kind;
        uint64_t len;
        if (in->nread < sizeof in->preamble) {
            return;
        }
        kind = radapter__get_le(in->preamble, 8);
        if (kind == PROTO_PEER_MAGIC) {
            finish_incoming(in, false);
            return;
        }
        len = radapter__get_le(in->preamble + 16, 8);
        if (kind != 1 || len == 0 || len > MAX_ADDRESS_LEN) {
            abort_incoming(in);
            return;
        }
        in->address_len = (size_t)len;
        in->address = calloc(1, (size_t)len + 1);
        if (in->address == NULL) {
            abort_incoming(in);
            return;
        }
        in->nread = 0;
        return;
    }
    if (in->nread == in->address_len) {
        finish_incoming(in, true);
    }
}

static void handshake_timeout_cb(uv_timer_t *h)
{
    abort_incoming(h->data);
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct radapter__transport *t = server->data;
    struct incoming *in;

    if (status != 0 || t->closing) {
        return;
    }
    in = calloc(1, sizeof *in);
    if (in == NULL) {
        return;
    }
    in->tcp = malloc(sizeof *in->tcp);
    if (in->tcp == NULL) {
        free(in);
        return;
    }
    in->t = t;
    uv_tcp_init(t->loop, in->tcp);
    in->tcp->data = in;
    if (uv_accept(server, (uv_stream_t *)in->tcp) != 0) {
        uv_close((uv_handle_t *)in->tcp, (uv_close_cb)free);
        free(in);
        return;
    }
    uv_tcp_nodelay(in->tcp, 1);
    uv_timer_init(t->loop, &in->timer);
    in->timer.data = in;
    uv_timer_start(&in->timer, handshake_timeout_cb, HANDSHAKE_TIMEOUT_MS, 0);
    in->next = t->incoming;
    if (t->incoming != NULL) {
        t->incoming->prev = in;
    }
    t->incoming = in;
    uv_read_start((uv_stream_t *)in->tcp, alloc_cb, read_cb);
}

/* ------------------------------------------------------------------------
 * The raft_uv_transport methods
 * ---------------------------------------------------------------------- */

static int transport_init(struct raft_uv_transport *outer,
                          raft_id id,
                          const char *address)
{
    struct radapter__transport *t = from_transport(outer);
    t->id = id;
    return t->inner.init(&t->inner, id, address);
}

static int transport_listen(struct raft_uv_transport *outer,
                            raft_uv_accept_cb cb)
{
    struct radapter__transport *t = from_transport(outer);
    struct sockaddr_in addr;
    char host[MAX_ADDRESS_LEN];
    const char *colon = strrchr(t->r->peer_addr, ':');
    size_t hlen;
    int rv;

    t->raft_accept = cb;
    if (colon == NULL || (hlen = (size_t)(colon - t->r->peer_addr)) == 0 ||
        hlen >= sizeof host) {
        snprintf(outer->errmsg, sizeof outer->errmsg, "bad peer address %s",
                 t->r->peer_addr);
        return RAFT_INVALID;
    }
    memcpy(host, t->r->peer_addr, hlen);
    host[hlen] = '\0';
    rv = uv_ip4_addr(host, atoi(colon + 1), &addr);
    if (rv == 0) {
        uv_tcp_init(t->loop, &t->listener);
        t->listener.data = t;
        t->listening = true;
        rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&addr, 0);
        if (rv == 0) {
            rv = uv_listen((uv_stream_t *)&t->listener, 128, connection_cb);
        }
    }
    if (rv != 0) {
        snprintf(outer->errmsg, sizeof outer->errmsg, "cannot listen on %s: %s",
                 t->r->peer_addr, uv_strerror(rv));
        snprintf(t->r->listen_error, sizeof t->r->listen_error, "%s",
                 outer->errmsg);
        t->r->listen_errno = rv;
        return RAFT_IOERR;
    }
    return 0;
}

static int transport_connect(struct raft_uv_transport *outer,
                             struct raft_uv_connect *req,
                             raft_id id,
                             const char *address,
                             raft_uv_connect_cb cb)
{
    struct radapter__transport *t = from_transport(outer);
    return t->inner.connect(&t->inner, req, id, address, cb);
}

void radapter__transport_maybe_closed(struct radapter__transport *t)
{
    raft_uv_transport_close_cb cb;
    if (!t->closing || t->aborting > 0 || t->incoming != NULL || t->listening ||
        !t->inner_closed || t->close_cb == NULL) {
        return;
    }
    cb = t->close_cb;
    t->close_cb = NULL;
    cb(&t->outer);
}

static void listener_closed_cb(uv_handle_t *h)
{
    struct radapter__transport *t = h->data;
    t->listening = false;
    radapter__transport_maybe_closed(t);
}

static void inner_closed_cb(struct raft_uv_transport *inner)
{
    struct radapter__transport *t = inner->data;
    t->inner_closed = true;
    radapter__transport_maybe_closed(t);
}

static void transport_close(struct raft_uv_transport *outer,
                            raft_uv_transport_close_cb cb)
{
    struct radapter__transport *t = from_transport(outer);
    t->closing = true;
    t->close_cb = cb;
    while (t->incoming != NULL) {
        abort_incoming(t->incoming);
    }
    if (t->listening) {
        uv_close((uv_handle_t *)&t->listener, listener_closed_cb);
    }
    t->inner.close(&t->inner, inner_closed_cb);
}

int radapter__transport_init(struct radapter__transport *t,
                             struct radapter *r,
                             uv_loop_t *loop)
{
    int rv;
    memset(t, 0, sizeof *t);
    t->r = r;
    t->loop = loop;
    /* libraft 0.22 refuses raft_uv_tcp_init without this (notes, rule 2). */
    t->inner.version = 1;
    t->inner.data = t;
    rv = raft_uv_tcp_init(&t->inner, loop);
    if (rv != 0) {
        return rv;
    }
    t->outer.version = 1;
    t->outer.data = r;
    t->outer.impl = t;
    t->outer.init = transport_init;
    t->outer.listen = transport_listen;
    t->outer.connect = transport_connect;
    t->outer.close = transport_close;
    return 0;
}

void radapter__transport_fini(struct radapter__transport *t)
{
    raft_uv_tcp_close(&t->inner);
}
