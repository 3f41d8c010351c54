/* The live node's side of the read path: runs readindex.c's state machine
 * (readcore.h) on the node's libuv loop, with libuv timers and the peer
 * port, and dispatches the peer frames that arrive on that port. */

#include <string.h>
#include <sys/random.h>

#include "raftadapter/radapter_internal.h"

static struct radapter *of(void *ctx)
{
    return ctx;
}

static uint64_t ops_now(void *ctx)
{
    return uv_now(of(ctx)->loop);
}

static void ops_send(void *ctx,
                     uint64_t to,
                     enum proto_peer_type type,
                     uint64_t a,
                     uint64_t b,
                     uint64_t c)
{
    /* A frame that cannot be queued now is lost like one dropped on the
     * wire: the round's retry sends a new one. */
    (void)radapter__rpc_send(of(ctx), to, type, a, b, c);
}

static void round_timer_cb(uv_timer_t *h)
{
    struct radapter *r = h->data;
    if (r->closing) {
        return;
    }
    radapter__duty_ran(r, &r->round_duty);
    radapter__rc_round_timeout(&r->rc);
}

static void deadline_cb(uv_timer_t *h)
{
    struct radapter *r = h->data;
    /* How late past its deadline a read is answered, on the monotonic
     * clock now rather than the loop's cached time: a stalled loop shows. */
    radapter__rc_expire(&r->rc, uv_hrtime() / 1000000);
}

static void ops_timer(void *ctx,
                      enum radapter__rc_timer timer,
                      bool on,
                      uint64_t delay_ms)
{
    struct radapter *r = of(ctx);
    uv_timer_t *h =
        timer == RADAPTER__RC_ROUND ? &r->round_timer : &r->deadline_timer;
    if (!r->started || r->closing) {
        return;
    }
    if (!on) {
        uv_timer_stop(h);
        return;
    }
    uv_timer_start(h,
                   timer == RADAPTER__RC_ROUND ? round_timer_cb : deadline_cb,
                   delay_ms, 0);
    if (timer == RADAPTER__RC_ROUND) {
        radapter__duty_arm(r, &r->round_duty, delay_ms);
    }
}

static bool ops_is_leader(void *ctx)
{
    return radapter__is_leader(of(ctx));
}

static bool ops_is_ready(void *ctx)
{
    return radapter__is_ready(of(ctx));
}

static const struct radapter__rc_ops live_ops = {
    .now = ops_now,
    .send = ops_send,
    .timer = ops_timer,
    .is_leader = ops_is_leader,
    .is_ready = ops_is_ready,
};

void radapter__rpc_on_msg(struct radapter *r,
                          struct radapter__rpc_conn *conn,
                          uint64_t from,
                          const struct proto_peer_msg *m)
{
    if (r->closing || !r->started) {
        return;
    }
    radapter__peer_seen(r, from);
    switch (m->type) {
        case PROTO_PEER_PROBE:
        case PROTO_PEER_ACK:
        case PROTO_PEER_READINDEX_REQ:
        case PROTO_PEER_READINDEX_RESP:
            radapter__rc_on_msg(&r->rc, from, m->type, m->a, m->b, m->c);
            break;
        case PROTO_PEER_FORWARD:
        case PROTO_PEER_FORWARD_RESP:
            radapter__forward_on_msg(r, from, m);
            break;
        case PROTO_PEER_JOIN:
            radapter__on_join(r, conn, m);
            break;
        case PROTO_PEER_JOIN_RESP:
            radapter__on_join_resp(r, m);
            break;
        case PROTO_PEER_ADDRS:
            radapter__on_addrs(r, m);
            break;
        default:
            break;
    }
}

uint64_t radapter__new_token(struct radapter *r)
{
    return radapter__rc_new_token(&r->rc);
}

void radapter__reads_process(struct radapter *r)
{
    if (r->closing || !r->started) {
        return;
    }
    radapter__rc_process(&r->rc);
}

bool radapter_read_now(struct radapter *r)
{
    return radapter__rc_read_now(&r->rc);
}

int radapter_read(struct radapter *r,
                  struct radapter_read *req,
                  uint64_t deadline_ms,
                  radapter_read_cb cb,
                  void *arg)
{
    if (r->closing || !r->started) {
        return RADAPTER_ESHUTDOWN;
    }
    return radapter__rc_read(&r->rc, req, deadline_ms, cb, arg);
}

void radapter_read_cancel(struct radapter *r, struct radapter_read *req)
{
    radapter__rc_cancel(&r->rc, req);
}

void radapter__reads_init(struct radapter *r)
{
    uint8_t bytes[8] = {0};
    uint64_t nonce = 0;
    /* Tokens: random high bits per boot, so no token repeats across
     * restarts either; the counter takes the low bits. */
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        memcpy(bytes, &r, sizeof(void *) < 8 ? sizeof(void *) : 8);
    }
    for (int i = 0; i < 8; i++) {
        nonce = (nonce << 8) | bytes[i];
    }
    radapter__rc_init(&r->rc, &live_ops, r, &r->raft, r->cfg.id, nonce);
    r->rc.max_pending = r->cfg.max_pending_reads;
    r->rc.verify_timeout_ms = r->cfg.verify_timeout_ms;
    /* A lost frame or a peer that was reconnecting costs at most this. */
    r->rc.retry_ms = r->cfg.heartbeat_ms < 20 ? 20 : r->cfg.heartbeat_ms;
}

void radapter__reads_fail_all(struct radapter *r, int status)
{
    radapter__rc_fail_all(&r->rc, status);
}

void radapter__reads_fini(struct radapter *r)
{
    radapter__rc_fini(&r->rc);
}
