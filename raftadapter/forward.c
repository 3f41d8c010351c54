/* Forwarding writes from a follower to the leader (the Commit/Abort proxy).
 *
 * Happy path: radapter_propose on a follower that knows the leader sends
 * FORWARD{id, budget, argv} over the peer channel; the leader proposes the
 * command like a local one and answers FORWARD_RESP{id, status, reply}
 * once it is applied; the follower runs the caller's callback with the
 * decoded reply.
 *
 * Never twice: every request carries an id that stays the same across its
 * attempts, and the state machine applies an id once (dedup.c): a retry of
 * a write that did commit gets the first reply back. So a request is
 * re-sent (to the leader as known then, at most FORWARD_ATTEMPTS times
 * within cfg.verify_timeout_ms, with a short back-off) when the link could
 * not take it, when the receiver refused it, when the leader lost
 * leadership with the outcome unknown, or when an attempt got no answer in
 * its share of the budget. When the budget or the attempts run out, the
 * caller gets RADAPTER_EUNKNOWN if any attempt may have been proposed,
 * RADAPTER_ENOTLEADER if none was.
 *
 * Order: callbacks of one node's forwarded writes run in the order they
 * were proposed, whatever order the answers arrive in: a finished request
 * waits behind unfinished older ones. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

#define FORWARD_ATTEMPTS 3
#define FORWARD_BACKOFF  50 /* ms, times the attempt number */
#define MAX_REPLY_DEPTH  8
#define MAX_FORWARD_ARGS (1024 * 1024)

struct radapter__fwd
{
    uint64_t id;                /* request id, the same for every attempt */
    uint64_t attempt_end;       /* uv_now() by which this attempt expects
                                   an answer */
    bool maybe_proposed;        /* an attempt may have reached a proposal */
    radapter_write_cb cb;       /* the proposer's callback */
    void *arg;                  /* borrowed: passed to cb */
    uint64_t deadline;          /* uv_now() by which it must finish */
    uint64_t retry_at;          /* 0, or when to send the next attempt */
    int attempts;               /* sends so far */
    struct proto_buf args;      /* owned: encoded argv, kept for retries */
    bool done;                  /* result known, waiting for older ones */
    int status;                 /* result */
    struct kv_reply reply;      /* result when status == 0 (owned) */
    struct radapter__fwd *next; /* FIFO in proposal order */
};

/* ------------------------------------------------------------------------
 * Reply encoding: u8 type, then per type: INT i64; DOUBLE 8 bytes;
 * STATUS/BULK u32 len + bytes; ERROR i32 err + u32 len + bytes; ARRAY/MAP
 * u32 n + elements; NIL/NIL_ARRAY nothing. Little endian.
 * ---------------------------------------------------------------------- */

static int put(struct proto_buf *b, uint64_t v, int n)
{
    unsigned char x[8];
    for (int i = 0; i < n; i++) {
        x[i] = (unsigned char)(v >> (8 * i));
    }
    return proto_buf_append(b, x, (size_t)n);
}

int radapter__reply_encode(struct proto_buf *b, const struct kv_reply *r)
{
    uint64_t d;
    if (put(b, (uint64_t)r->type, 1) != 0) {
        return -ENOMEM;
    }
    switch (r->type) {
        case KV_REPLY_INT:
            return put(b, (uint64_t)r->i, 8);
        case KV_REPLY_DOUBLE:
            memcpy(&d, &r->d, 8);
            return put(b, d, 8);
        case KV_REPLY_ERROR:
            if (put(b, (uint64_t)(uint32_t)r->err, 4) != 0) {
                return -ENOMEM;
            }
            /* fall through: the argument text */
            __attribute__((fallthrough));
        case KV_REPLY_STATUS:
        case KV_REPLY_BULK:
            if (r->len > UINT32_MAX || put(b, r->len, 4) != 0) {
                return -ENOMEM;
            }
            return proto_buf_append(b, r->str, r->len);
        case KV_REPLY_ARRAY:
        case KV_REPLY_MAP:
            if (r->n > UINT32_MAX || put(b, r->n, 4) != 0) {
                return -ENOMEM;
            }
            for (size_t i = 0; i < r->n; i++) {
                if (radapter__reply_encode(b, &r->elems[i]) != 0) {
                    return -ENOMEM;
                }
            }
            return 0;
        default:
            return 0;
    }
}

/* Decodes one reply at *pos; validates everything (the frame is input). */
static int decode_reply(const unsigned char *p,
                        size_t len,
                        size_t *pos,
                        struct kv_reply *out,
                        int depth)
{
    uint8_t type;
    uint64_t n;
    memset(out, 0, sizeof *out);
    if (depth > MAX_REPLY_DEPTH || len - *pos < 1) {
        return -EPROTO;
    }
    type = p[(*pos)++];
    out->type = (enum kv_reply_type)type;
    switch (type) {
        case KV_REPLY_NIL:
        case KV_REPLY_NIL_ARRAY:
            return 0;
        case KV_REPLY_INT:
        case KV_REPLY_DOUBLE:
            if (len - *pos < 8) {
                return -EPROTO;
            }
            n = radapter__get_le(p + *pos, 8);
            *pos += 8;
            if (type == KV_REPLY_INT) {
                out->i = (int64_t)n;
            } else {
                memcpy(&out->d, &n, 8);
            }
            return 0;
        case KV_REPLY_ERROR:
        case KV_REPLY_STATUS:
        case KV_REPLY_BULK:
            if (type == KV_REPLY_ERROR) {
                if (len - *pos < 4) {
                    return -EPROTO;
                }
                out->err =
                    (int)(int32_t)(uint32_t)radapter__get_le(p + *pos, 4);
                *pos += 4;
            }
            if (len - *pos < 4) {
                return -EPROTO;
            }
            n = radapter__get_le(p + *pos, 4);
            *pos += 4;
            if (len - *pos < n) {
                return -EPROTO;
            }
            out->str = malloc(n > 0 ? n : 1);
            if (out->str == NULL) {
                return -ENOMEM;
            }
            memcpy(out->str, p + *pos, n);
            out->len = n;
            *pos += n;
            return 0;
        case KV_REPLY_ARRAY:
        case KV_REPLY_MAP:
            if (len - *pos < 4) {
                return -EPROTO;
            }
            n = radapter__get_le(p + *pos, 4);
            *pos += 4;
            if (n > len - *pos) { /* each element takes at least a byte */
                return -EPROTO;
            }
            out->elems = calloc(n > 0 ? n : 1, sizeof *out->elems);
            if (out->elems == NULL) {
                return -ENOMEM;
            }
            out->n = n;
            for (size_t i = 0; i < n; i++) {
                int rv = decode_reply(p, len, pos, &out->elems[i], depth + 1);
                if (rv != 0) {
                    return rv;
                }
            }
            return 0;
        default:
            out->type = KV_REPLY_NIL;
            return -EPROTO;
    }
}

/* ------------------------------------------------------------------------
 * Follower side
 * ---------------------------------------------------------------------- */

/* Runs the callbacks of finished requests at the head of the FIFO. */
int radapter__reply_decode(const unsigned char *p,
                           size_t len,
                           struct kv_reply *out)
{
    size_t pos = 0;
    int rv = decode_reply(p, len, &pos, out, 0);
    if (rv == 0 && pos != len) {
        rv = -EPROTO;
    }
    return rv;
}

static void deliver(struct radapter *r)
{
    while (r->fwd_head != NULL && r->fwd_head->done) {
        struct radapter__fwd *f = r->fwd_head;
        r->fwd_head = f->next;
        if (r->fwd_head == NULL) {
            r->fwd_tail = NULL;
        }
        r->pending_cmds--;
        if (f->status == 0) {
            f->cb(f->arg, 0, &f->reply);
        } else {
            kv_reply_fini(&f->reply);
            f->cb(f->arg, f->status, NULL);
        }
        proto_buf_fini(&f->args);
        free(f);
    }
}

static void finish_fwd(struct radapter__fwd *f, int status)
{
    f->done = true;
    f->status = status;
    f->retry_at = 0;
}

/* Sends an attempt; returns 0 if it left this node. */
static int send_fwd(struct radapter *r, struct radapter__fwd *f)
{
    raft_id leader = 0;
    const char *addr = NULL;
    uint64_t now = uv_now(r->loop);
    const void *parts[1] = {f->args.data};
    size_t lens[1] = {f->args.len};
    int rv;

    raft_leader(&r->raft, &leader, &addr);
    if (leader == 0 || leader == r->cfg.id) {
        return RADAPTER_ENOTLEADER;
    }
    f->attempts++;
    if (f->attempts > 1) {
        r->forward_retries++;
    }
    f->attempt_end = now + r->cfg.verify_timeout_ms / FORWARD_ATTEMPTS;
    rv = radapter__rpc_send_payload(r, leader, PROTO_PEER_FORWARD, f->id,
                                    f->deadline > now ? f->deadline - now : 0,
                                    parts, lens, 1);
    if (rv == 0) {
        r->forwarded_writes++;
        f->maybe_proposed = true;
    }
    return rv;
}

static void finish_unknown_or_not(struct radapter *r, struct radapter__fwd *f)
{
    if (f->maybe_proposed) {
        r->forward_unknown++;
        finish_fwd(f, RADAPTER_EUNKNOWN);
    } else {
        finish_fwd(f, RADAPTER_ENOTLEADER);
    }
}

/* Plans another attempt, or gives up. */
static void retry_or_fail(struct radapter *r, struct radapter__fwd *f)
{
    uint64_t now = uv_now(r->loop);
    uint64_t at = now + FORWARD_BACKOFF * (uint64_t)f->attempts;
    if (f->attempts >= FORWARD_ATTEMPTS || at >= f->deadline) {
        finish_unknown_or_not(r, f);
        return;
    }
    f->retry_at = at;
    f->attempt_end = 0;
}

int radapter__forward(struct radapter *r,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      radapter_write_cb cb,
                      void *arg)
{
    struct radapter__fwd *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return -ENOMEM;
    }
    proto_buf_init(&f->args);
    if (proto_peer_encode_args(&f->args, argc, argv, lens) != 0) {
        free(f);
        return -ENOMEM;
    }
    f->cb = cb;
    f->arg = arg;
    f->id = radapter__new_token(r);
    f->deadline = uv_now(r->loop) + r->cfg.verify_timeout_ms;
    if (send_fwd(r, f) != 0) {
        /* Not sent: nothing happened, say so at once. */
        proto_buf_fini(&f->args);
        free(f);
        return RADAPTER_ENOTLEADER;
    }
    if (r->fwd_tail != NULL) {
        r->fwd_tail->next = f;
    } else {
        r->fwd_head = f;
    }
    r->fwd_tail = f;
    r->pending_cmds++;
    return 0;
}

static void on_forward_resp(struct radapter *r, const struct proto_peer_msg *m)
{
    struct radapter__fwd *f;
    int status = (int)(int64_t)m->b;
    for (f = r->fwd_head; f != NULL && f->id != m->a; f = f->next) {
    }
    if (f == NULL || f->done) {
        return; /* already finished: a late answer to an earlier attempt */
    }
    if (status == RADAPTER_ENOTLEADER || status == RADAPTER_EUNKNOWN ||
        status == RADAPTER_ESHUTDOWN) {
        /* Refused, or lost with the leader: resending the same id is safe
         * either way (the state machine applies an id once). */
        retry_or_fail(r, f);
    } else if (status != 0) {
        finish_fwd(f, status);
    } else {
        size_t pos = 0;
        int rv = decode_reply(m->payload, m->payload_len, &pos, &f->reply, 0);
        if (rv != 0 || pos != m->payload_len) {
            kv_reply_fini(&f->reply);
            finish_fwd(f, RADAPTER_EUNKNOWN); /* applied, reply unreadable */
        } else {
            finish_fwd(f, 0);
        }
    }
    deliver(r);
}

void radapter__forward_tick(struct radapter *r)
{
    uint64_t now = uv_now(r->loop);
    for (struct radapter__fwd *f = r->fwd_head; f != NULL; f = f->next) {
        if (f->done) {
            continue;
        }
        if (now >= f->deadline) {
            finish_unknown_or_not(r, f);
        } else if (f->retry_at != 0 && now >= f->retry_at) {
            f->retry_at = 0;
            if (send_fwd(r, f) != 0) {
                retry_or_fail(r, f);
            }
        } else if (f->attempt_end != 0 && now >= f->attempt_end) {
            /* No answer in this attempt's share of the budget: the leader
             * or the link is gone; ask again (same id). */
            retry_or_fail(r, f);
        }
    }
    deliver(r);
}

void radapter__forward_fail_all(struct radapter *r, int status)
{
    for (struct radapter__fwd *f = r->fwd_head; f != NULL; f = f->next) {
        if (!f->done) {
            finish_fwd(f, status);
        }
    }
    deliver(r);
}

/* ------------------------------------------------------------------------
 * Leader side
 * ---------------------------------------------------------------------- */

struct remote_write
{
    struct radapter *r;
    uint64_t from;
    uint64_t id;
};

static void send_resp(struct radapter *r,
                      uint64_t to,
                      uint64_t id,
                      int status,
                      const struct kv_reply *reply)
{
    struct proto_buf b;
    const void *parts[1];
    size_t lens[1];
    proto_buf_init(&b);
    if (reply != NULL && radapter__reply_encode(&b, reply) != 0) {
        b.len = 0;
        status = RADAPTER_EUNKNOWN;
    }
    parts[0] = b.data;
    lens[0] = b.len;
    radapter__rpc_send_payload(r, to, PROTO_PEER_FORWARD_RESP, id,
                               (uint64_t)(int64_t)status, parts, lens, 1);
    proto_buf_fini(&b);
}

static void remote_write_cb(void *arg, int status, struct kv_reply *reply)
{
    struct remote_write *w = arg;
    if (!w->r->closing) {
        send_resp(w->r, w->from, w->id, status, status == 0 ? reply : NULL);
    }
    if (reply != NULL) {
        kv_reply_fini(reply);
    }
    free(w);
}

static void on_forward(struct radapter *r,
                       uint64_t from,
                       const struct proto_peer_msg *m)
{
    struct remote_write *w;
    const char **argv;
    size_t *lens;
    size_t cap;
    int argc;
    int rv;

    if (!radapter__is_leader(r)) {
        send_resp(r, from, m->a, RADAPTER_ENOTLEADER, NULL);
        return;
    }
    cap = m->payload_len / 4;
    if (cap > MAX_FORWARD_ARGS) {
        cap = MAX_FORWARD_ARGS;
    }
    argv = malloc((cap > 0 ? cap : 1) * sizeof *argv);
    lens = malloc((cap > 0 ? cap : 1) * sizeof *lens);
    w = malloc(sizeof *w);
    if (argv == NULL || lens == NULL || w == NULL) {
        rv = -ENOMEM;
        goto refuse;
    }
    argc = proto_peer_decode_args(m->payload, m->payload_len, argv, lens, cap);
    if (argc < 0) {
        rv = RADAPTER_ENOTLEADER; /* malformed: never proposed */
        goto refuse;
    }
    w->r = r;
    w->from = from;
    w->id = m->a;
    rv = radapter__propose_id(r, m->a, argc, argv, lens, remote_write_cb, w);
    if (rv != 0) {
        goto refuse;
    }
    free(argv);
    free(lens);
    return;
refuse:
    /* Refused before proposing: the sender may safely try again. */
    send_resp(r, from, m->a, rv == RADAPTER_EBUSY ? rv : RADAPTER_ENOTLEADER,
              NULL);
    free(w);
    free(argv);
    free(lens);
}

void radapter__forward_on_msg(struct radapter *r,
                              uint64_t from,
                              const struct proto_peer_msg *m)
{
    if (m->type == PROTO_PEER_FORWARD) {
        on_forward(r, from, m);
    } else if (m->type == PROTO_PEER_FORWARD_RESP) {
        on_forward_resp(r, m);
    }
}
