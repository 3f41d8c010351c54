/* raftadapter's private state, shared by its files. Never include this from
 * another directory. */
#ifndef RADAPTER_RADAPTER_INTERNAL_H
#define RADAPTER_RADAPTER_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kv/kv.h"
#include "proto/proto.h"
#include "raftadapter/radapter.h"
#include "raftadapter/readcore.h"

struct radapter__dedup;

/* ------------------------------------------------------------------------
 * Little-endian fields of our wire and disk formats (and libraft's), byte
 * by byte: no unaligned access, no dependence on the host's order.
 * ---------------------------------------------------------------------- */

/* Writes the low @n bytes of @v at @p, least significant first. */
static inline void radapter__put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* Reads @n bytes at @p, least significant first. */
static inline uint64_t radapter__get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* ------------------------------------------------------------------------
 * Proposals.
 * ---------------------------------------------------------------------- */

/* One client command waiting for its entry to apply. */
struct radapter__wcb
{
    radapter_write_cb cb; /* called once */
    void *arg;            /* borrowed: passed to cb */
};

/* One log entry being filled, waiting for a slot, or in flight. */
struct radapter__batch
{
    struct raft_apply req;          /* req.data points back here */
    struct radapter *r;             /* weak: owner */
    struct proto_log_writer writer; /* owned: the entry being built */
    void *buf;                      /* handed to raft once proposed */
    size_t buf_len;                 /* bytes in buf */
    struct radapter__wcb *cbs;      /* owned: one per command */
    struct kv_reply *replies;       /* owned: filled by the FSM, one per cmd */
    uint32_t n;                     /* commands in this batch */
    uint32_t cap;                   /* slots in cbs */
    uint64_t queued_at;             /* uv_now() when opened */
    bool applied;                   /* the FSM filled replies */
    struct radapter__batch *next;   /* owned chain: queue or in-flight FIFO */
};

/* ------------------------------------------------------------------------
 * The peer transport (transport.c): raft and our RPCs on one port.
 * ---------------------------------------------------------------------- */

struct incoming;

struct radapter__transport
{
    struct raft_uv_transport outer;      /* what libraft sees */
    struct raft_uv_transport inner;      /* raft_uv_tcp: outgoing raft links */
    struct radapter *r;                  /* weak: owner */
    uv_loop_t *loop;                     /* borrowed */
    uint64_t id;                         /* this node */
    uv_tcp_t listener;                   /* the peer port */
    bool listening;                      /* listener open */
    raft_uv_accept_cb raft_accept;       /* libraft's accept callback */
    struct incoming *incoming;           /* owned: connections handshaking */
    int aborting;                        /* handshakes still closing */
    bool closing;                        /* close() called */
    bool inner_closed;                   /* inner transport closed */
    raft_uv_transport_close_cb close_cb; /* libraft's, fired once */
};

/* Sets up @t for node @r. Returns 0 or a RAFT_* code. */
int radapter__transport_init(struct radapter__transport *t,
                             struct radapter *r,
                             uv_loop_t *loop);
/* Releases the inner transport's memory, after the close callback ran. */
void radapter__transport_fini(struct radapter__transport *t);
void radapter__transport_maybe_closed(struct radapter__transport *t);

/* ------------------------------------------------------------------------
 * Peer RPCs (rpc.c).
 * ---------------------------------------------------------------------- */

struct radapter__rpc_conn; /* one connection, either direction */

/* The outgoing connection to one peer, reopened after failures. */
struct radapter__rpc_link
{
    uint64_t id;                     /* the peer, or 0 for one known only
                                        by address (a join target) */
    char addr[64];                   /* for id 0 */
    struct radapter__rpc_conn *conn; /* weak: open connection, or NULL */
    uint64_t retry_at;               /* uv_now() before which not to dial */
    unsigned failures;               /* consecutive failed connections */
    uint64_t breaker_opened;         /* times the circuit breaker opened */
    struct radapter__rpc_link *next; /* owned chain */
};

/* Takes ownership of an accepted RPC @stream from node @id. */
void radapter__rpc_accept(struct radapter *r, uint64_t id, uv_stream_t *stream);

/* Queues a frame to voter @to over its link, dialing it if needed. Returns
 * 0, or an error when it cannot be queued now (no address, reconnect
 * back-off, output full): callers retry with a fresh token. */
int radapter__rpc_send(struct radapter *r,
                       uint64_t to,
                       enum proto_peer_type type,
                       uint64_t a,
                       uint64_t b,
                       uint64_t c);

/* As radapter__rpc_send, for FORWARD / FORWARD_RESP with a payload made
 * of @nparts byte strings (borrowed during the call). */
int radapter__rpc_send_payload(struct radapter *r,
                               uint64_t to,
                               enum proto_peer_type type,
                               uint64_t a,
                               uint64_t b,
                               const void *const *parts,
                               const size_t *lens,
                               size_t nparts);

/* Closes every RPC connection (shutdown). */
void radapter__rpc_close_all(struct radapter *r);

/* Finds @id; on success *reply views the encoded reply (valid until the
 * table changes). */
bool radapter__dedup_get(struct radapter__dedup *d,
                         uint64_t id,
                         const unsigned char **reply,
                         size_t *len);
/* Records @id applied at log time @stamp with its encoded reply (copied).
 * Returns 0 or -ENOMEM. */
int radapter__dedup_put(struct radapter__dedup *d,
                        uint64_t id,
                        int64_t stamp,
                        const void *reply,
                        size_t len);
/* Forgets ids applied long enough before log time @now. */
void radapter__dedup_expire(struct radapter__dedup *d, int64_t now);
void radapter__dedup_clear(struct radapter__dedup *d);
size_t radapter__dedup_encoded_size(const struct radapter__dedup *d);
/* Writes exactly radapter__dedup_encoded_size() bytes at @p. */
void radapter__dedup_encode(const struct radapter__dedup *d, unsigned char *p);
/* Replaces the table with the encoded one. Returns 0, -EPROTO (table left
 * empty) or -ENOMEM. */
int radapter__dedup_decode(struct radapter__dedup *d,
                           const unsigned char *p,
                           size_t len);

/* forward.c: kv replies as bytes, for FORWARD_RESP and the dedup table. */
int radapter__reply_encode(struct proto_buf *b, const struct kv_reply *r);
/* Decodes exactly @len bytes into @out (owned by the caller afterwards;
 * release with kv_reply_fini also on failure). Returns 0 or -EPROTO /
 * -ENOMEM. */
int radapter__reply_decode(const unsigned char *p,
                           size_t len,
                           struct kv_reply *out);

/* forward.c: writes proposed on a follower go to the leader. */
struct radapter__fwd;
/* Sends argv to the leader; @cb later, in proposal order. Returns 0, or
 * RADAPTER_ENOTLEADER / -ENOMEM without calling @cb. */
int radapter__forward(struct radapter *r,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      radapter_write_cb cb,
                      void *arg);
/* Deadlines and retries; called from the cron timer. */
void radapter__forward_tick(struct radapter *r);
void radapter__forward_fail_all(struct radapter *r, int status);
void radapter__forward_on_msg(struct radapter *r,
                              uint64_t from,
                              const struct proto_peer_msg *m);
/* A request id or probe token never used before in this boot. */
uint64_t radapter__new_token(struct radapter *r);

/* readindex.c: handles a frame from node @from that came on @conn. */
void radapter__rpc_on_msg(struct radapter *r,
                          struct radapter__rpc_conn *conn,
                          uint64_t from,
                          const struct proto_peer_msg *m);

/* rpc.c: answers on the connection a frame came on (for peers not in the
 * configuration yet). */
int radapter__rpc_reply_payload(struct radapter__rpc_conn *conn,
                                enum proto_peer_type type,
                                uint64_t a,
                                uint64_t b,
                                const void *const *parts,
                                const size_t *lens,
                                size_t nparts);
/* rpc.c: sends to a peer known only by its address. */
int radapter__rpc_send_addr(struct radapter *r,
                            const char *addr,
                            enum proto_peer_type type,
                            uint64_t a,
                            uint64_t b,
                            const void *const *parts,
                            const size_t *lens,
                            size_t nparts);

/* membership.c */
void radapter__on_join(struct radapter *r,
                       struct radapter__rpc_conn *conn,
                       const struct proto_peer_msg *m);
void radapter__on_join_resp(struct radapter *r, const struct proto_peer_msg *m);
void radapter__join_tick(struct radapter *r);
/* Notes that a frame from @id arrived (last contact). */
void radapter__peer_seen(struct radapter *r, uint64_t id);
void radapter__on_addrs(struct radapter *r, const struct proto_peer_msg *m);
/* Tells every voter our addresses now and then. */
void radapter__addrs_tick(struct radapter *r);

/* dedup.c: request ids the state machine has applied, with their replies. */
struct radapter__dedup_entry;
struct radapter__dedup
{
    struct radapter__dedup_entry **buckets; /* owned: hash chains */
    size_t nbuckets;                        /* a power of two, or 0 */
    struct radapter__dedup_entry *head;     /* owned: oldest first */
    struct radapter__dedup_entry *tail;     /* weak */
    size_t count;                           /* ids held */
    size_t bytes;                           /* encoded reply bytes held */
};

/* ------------------------------------------------------------------------
 * The node.
 * ---------------------------------------------------------------------- */

/* What we know of another node from its own frames. */
struct radapter__peer_info
{
    uint64_t id;
    char redis_addr[64]; /* as it told us */
    char http_addr[64];
    uint64_t last_contact; /* uv_now() of its last frame, 0: never */
};

/* A periodic duty watched for lateness (issue 5, late timers): when it is
 * due next on the monotonic clock, so the time it actually runs shows how
 * long the loop held it back. */
struct radapter__duty
{
    const char *name;   /* static: "raft_tick", "active_expiry", ... */
    uint64_t due_ns;    /* uv_hrtime it should run at; 0: not armed */
    uint64_t period_ns; /* for repeating duties; 0: one-shot */
};

/* Arms @d to be due @delay_ms from now. */
void radapter__duty_arm(struct radapter *r,
                        struct radapter__duty *d,
                        uint64_t delay_ms);

/* Records that @d runs now: reports its lateness to the duty observer and,
 * for a repeating duty, arms the next period. */
void radapter__duty_ran(struct radapter *r, struct radapter__duty *d);

/* fsm.c: the FSM snapshot header ("RKVF", version, stamp, kv length). */
#define RADAPTER_FSM_HEADER_LEN 24

struct fork_head;

/* A snapshot being written by a forked child (snap_fork.c). */
struct radapter__snapfork
{
    pid_t pid;              /* the child; 0: none */
    int fd;                 /* read end of its pipe; -1: none */
    uv_poll_t poll;         /* EOF on fd: the child exited */
    bool poll_open;         /* poll initialised and not yet closed */
    void *map;              /* shared mapping: header, then the frame */
    size_t map_len;         /* bytes mapped */
    struct fork_head *head; /* into map */
    unsigned char *data;    /* the snapshot buffer given to libraft */
    uint64_t index;         /* snapshot index */
    bool put_held;          /* a snapshot_put waits for the child */
    unsigned trailing;
    struct raft_io_snapshot_put *req;
    const struct raft_snapshot *snapshot;
    raft_io_snapshot_put_cb cb;
};

/* One log append in flight, timed from the call to its callback; libraft's
 * own data and callback are restored before libraft sees the completion.
 * Linked oldest first, to see an append that never completes. */
struct radapter__timed
{
    struct radapter *r;
    void *data;
    raft_io_append_cb cb;
    uint64_t start_ns;
    struct radapter__timed *prev;
    struct radapter__timed *next;
};

struct radapter
{
    uv_loop_t *loop;            /* borrowed */
    struct radapter_config cfg; /* copied; strings below */
    char *data_dir;             /* owned */
    char *raft_dir;             /* owned: data_dir/raft */
    char *peer_addr;            /* owned */
    struct kv_store *store;     /* borrowed from the caller */
    int lock_fd;                /* flock'ed data_dir/LOCK */

    struct raft raft;                     /* the engine */
    struct raft_io io;                    /* raft_uv */
    struct radapter__transport transport; /* raft + RPC on the peer port */
    struct raft_fsm fsm;                  /* our callbacks */
    int (*orig_set_term)(struct raft_io *, raft_term);
    int (*orig_append)(struct raft_io *,
                       struct raft_io_append *,
                       const struct raft_entry[],
                       unsigned,
                       raft_io_append_cb);
    uint64_t appends;                     /* appends completed */
    struct radapter__timed *appends_head; /* outstanding, oldest first */
    struct radapter__timed *appends_tail; /* newest outstanding */
    struct raft_tracer tracer; /* raft_uv's diagnostics, watched for disk
                                  write failures */
    struct radapter__snapfork snapfork; /* snapshot written by a child */
    int (*orig_snapshot_put)(struct raft_io *,
                             unsigned,
                             struct raft_io_snapshot_put *,
                             const struct raft_snapshot *,
                             raft_io_snapshot_put_cb);
    uint64_t append_max_ns;     /* slowest append */
    uint64_t snapshot_last_ns;  /* last snapshot's loop time */
    uint64_t snapshot_total_ns; /* all snapshots' loop time */
    int (*orig_set_vote)(struct raft_io *, raft_id);
    int (*orig_start)(struct raft_io *,
                      unsigned,
                      raft_io_tick_cb,
                      raft_io_recv_cb);
    raft_io_tick_cb raft_tick;        /* libraft's tick, called by ours */
    struct radapter__duty tick_duty;  /* libraft's tick (heartbeats) */
    struct radapter__duty cron_duty;  /* active expiry and forwarding */
    struct radapter__duty round_duty; /* leader-verification probe retry */
    bool raft_inited;                 /* raft_init succeeded */
    bool started;                     /* raft_start succeeded */

    uv_prepare_t prepare;      /* per-iteration duties */
    uv_check_t check;          /* proposes right after the poll phase */
    uv_timer_t cron;           /* expiry, rehash, deadlines */
    uv_timer_t deadline_timer; /* earliest read deadline */
    int handles_open;          /* handles to close */

    /* Leadership tracking (recorded in step_cb, acted on in prepare). */
    int last_state;                /* RAFT_* state seen last */
    uint64_t last_term;            /* term seen last */
    uint64_t ready_term;           /* term whose barrier applied */
    struct raft_barrier ready_req; /* the "ready" barrier */
    bool ready_inflight;           /* ready_req proposed */
    uint64_t ready_req_term;       /* term ready_req was proposed in */

    /* Writes. */
    struct radapter__batch *open;  /* owned: batch being filled */
    struct radapter__batch *qhead; /* owned: closed, not yet proposed */
    struct radapter__batch *qtail; /* weak */
    struct radapter__batch *fhead; /* owned: in flight, proposal order */
    struct radapter__batch *ftail; /* weak */
    unsigned inflight;             /* batches in flight */
    uint64_t pending_cmds;         /* commands queued or in flight */
    int64_t last_stamp;            /* last stamp given to an entry */
    bool expire_inflight;          /* an EXPIRE entry is in flight */

    /* FSM. */
    int64_t fsm_stamp;            /* max stamp applied so far */
    struct radapter__dedup dedup; /* applied request ids */
    char restore_error[128];      /* why the last restore failed, or "" */
    char listen_error[256];       /* why the peer port could not listen */
    int listen_errno;             /* its negative errno (libuv's), or 0 */
    uint64_t dedup_hits;          /* retries answered from the table */

    /* Reads (readindex.c, on libuv and the peer port by reads.c). */
    struct radapter__rc rc;
    uv_timer_t round_timer; /* re-sends an unanswered round */

    /* Peer RPC. */
    struct radapter__rpc_conn *rpc_conns; /* weak list: open connections */
    int rpc_open;                         /* connections not yet freed */
    struct radapter__rpc_link *links;     /* owned: outgoing links */

    /* Forwarded writes (forward.c). */
    struct radapter__fwd *fwd_head; /* owned FIFO, proposal order */
    struct radapter__fwd *fwd_tail; /* weak */
    uint64_t forwarded_writes;      /* FORWARD frames sent */
    uint64_t forward_retries;       /* of which re-sends */
    uint64_t forward_unknown;       /* budget ran out, outcome unknown */
    uint64_t breaker_opened;        /* peer circuit breakers opened */

    /* Peers as they describe themselves (membership.c). */
    struct radapter__peer_info peers[RADAPTER_MAX_VOTERS];
    size_t n_peers;
    char redis_addr[64]; /* ours, told to peers */
    char http_addr[64];
    uint64_t addrs_next; /* uv_now() of the next ADDRS */

    /* Joining a running cluster (membership.c). */
    char join_addr[256]; /* member to ask; "" once joined */
    uint64_t join_next;  /* uv_now() of the next attempt */

    /* Shutdown. */
    bool raft_closed; /* raft_close completed */
    bool closing;
    radapter_close_cb close_cb;

    /* Stats. */
    uint64_t entries_proposed;
    uint64_t commands_proposed;
    uint64_t expired_keys;
    uint64_t leader_changes;
    uint64_t snapshots;
    uint64_t snapshot_index;
};

/* fsm.c: fills r->fsm with our callbacks. */
void radapter__fsm_init(struct radapter *r);

/* propose.c */
/* radapter_propose with a request id (0: none) that the state machine
 * deduplicates. */
int radapter__propose_id(struct radapter *r,
                         uint64_t id,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         radapter_write_cb cb,
                         void *arg);
void radapter__propose_flush(struct radapter *r);
void radapter__propose_fail_all(struct radapter *r, int status);
void radapter__expire_cycle(struct radapter *r);
/* Returns the in-flight batch that owns the entry being applied, if any. */
struct radapter__batch *radapter__match_batch(struct radapter *r,
                                              const struct raft_buffer *buf);

/* snap_lz4.c. Decompressed buffers come from malloc; returns 0, -ENOMEM
 * or -EPROTO. */
bool radapter__lz4_is_frame(const void *buf, size_t len);
int radapter__lz4_decompress(const void *src,
                             size_t n,
                             void **dst,
                             size_t *dlen);

/* A streaming LZ4 frame writer (64 KiB blocks, content size and checksum
 * set), fed in pieces so that no full-size raw copy is ever made. begin, then
 * put (a kv_snapshot_sink) any number of times with exactly @content_size bytes
 * in all, then end (output from raft_malloc) or abort. */
struct radapter__lz4w
{
    void *cctx;         /* LZ4F_cctx */
    unsigned char *out; /* raft_malloc */
    size_t len;
    size_t cap;
    size_t content_size;
    size_t fed;
    unsigned blocks_max; /* LZ4F_blockSizeID_t */
    bool external;       /* out is the caller's: never grown or freed */
};
/* @ext (borrowed, @ext_cap bytes) is the output buffer when not NULL; the
 * frame must then fit (-ENOSPC otherwise). */
int radapter__lz4w_begin(struct radapter__lz4w *w,
                         size_t content_size,
                         void *ext,
                         size_t ext_cap);
int radapter__lz4w_put(void *w, const void *data, size_t len);
int radapter__lz4w_end(struct radapter__lz4w *w, void **dst, size_t *dlen);
void radapter__lz4w_abort(struct radapter__lz4w *w);

/* reads.c */
void radapter__reads_init(struct radapter *r);
void radapter__reads_process(struct radapter *r);
void radapter__reads_fail_all(struct radapter *r, int status);
void radapter__reads_fini(struct radapter *r);

/* validate.c: checks (and repairs a torn tail of) raft_uv's open segments
 * in @dir before libraft loads them. Returns 0, RADAPTER_ECORRUPT or a
 * negative errno, with a message naming the file in @err. */
int radapter__validate_dir(const char *dir, char *err, size_t errlen);

/* node.c */
/* Frees the node once raft, its handles and its RPC connections are all
 * closed (called by each as it finishes). */
void radapter__maybe_finish_close(struct radapter *r);
bool radapter__is_leader(struct radapter *r);
bool radapter__is_ready(struct radapter *r);
/* Leader known and it is another node. */
bool radapter__other_leader(struct radapter *r);
uint64_t radapter__voters(struct radapter *r);
void radapter__log(const char *level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t radapter__wall_ms(void);

/* fsm.c: measures the keyspace and streams the FSM snapshot (header, the
 * kv encoding, the dedup table) through LZ4 into @ext (@ext_cap bytes), or
 * into a new raft_malloc buffer returned in *@packed when @ext is NULL.
 * The frame's length in *@packed_len, the bytes before compression in
 * *@raw_len. 0 or a negative errno. */
int radapter__fsm_stream(struct radapter *r,
                         void *ext,
                         size_t ext_cap,
                         void **packed,
                         size_t *packed_len,
                         size_t *raw_len);

/* snap_fork.c */
int radapter__snapfork_start(struct radapter *r,
                             struct raft_buffer **bufs,
                             unsigned *n_bufs);
bool radapter__snapfork_owns(struct radapter *r, const void *base);
void radapter__snapfork_release(struct radapter *r);
int radapter__snapfork_put(struct raft_io *io,
                           unsigned trailing,
                           struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot,
                           raft_io_snapshot_put_cb cb);
void radapter__snapfork_close(struct radapter *r);
struct radapter *radapter__from_io(struct raft_io *io);

#endif /* RADAPTER_RADAPTER_INTERNAL_H */
