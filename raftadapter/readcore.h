/* The linearizable-read state machine (readindex.c), free of libuv and of
 * sockets: the bounded pending-reads queue, leader verification by probe
 * rounds, and read indexes for followers.
 *
 * Its owner supplies a clock, timers, a way to send peer frames and the
 * leadership predicates (struct radapter__rc_ops), and calls in when a frame
 * arrives, a timer fires or the node's raft state may have changed. The
 * live node (node.c) runs it on libuv and the peer port; the simulation
 * tests (tests/raftadapter/test_sim.c) run it on libraft's in-memory
 * fixture with simulated time and a network they control, so the read path
 * is tested deterministically against the same code. */
#ifndef RADAPTER_READCORE_H
#define RADAPTER_READCORE_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "raftadapter/radapter.h"

/* Most voters a round can count (a bit each in round_acks). */
#define RADAPTER_MAX_VOTERS 64

/* Attempts of one round whose answers still count (the latest ones). */
#define RADAPTER_ROUND_ATTEMPTS 8

enum radapter__rc_timer {
    RADAPTER__RC_ROUND,    /* re-sends an unanswered round */
    RADAPTER__RC_DEADLINE, /* the earliest read deadline */
};

struct radapter__rc_ops
{
    /* Milliseconds on the clock read deadlines are measured in. */
    uint64_t (*now)(void *ctx);
    /* Sends a peer frame to node @to. A frame that cannot be sent is lost:
     * rounds are re-sent with new tokens. */
    void (*send)(void *ctx,
                 uint64_t to,
                 enum proto_peer_type type,
                 uint64_t a,
                 uint64_t b,
                 uint64_t c);
    /* Arms @timer to fire once after @delay_ms (replacing an armed one), or
     * stops it when !@on. The owner then calls radapter__rc_round_timeout
     * or radapter__rc_expire. */
    void (*timer)(void *ctx,
                  enum radapter__rc_timer timer,
                  bool on,
                  uint64_t delay_ms);
    /* Leader and not transferring leadership away. */
    bool (*is_leader)(void *ctx);
    /* Leader that has applied an entry of its current term. */
    bool (*is_ready)(void *ctx);
};

/* A follower's read-index request waiting on the leader. */
struct radapter__remote
{
    uint64_t from;   /* the follower */
    uint64_t req_id; /* its latest request id, echoed in the response */
    uint64_t round;  /* its round's first request id, 0: not given */
    bool in_round;   /* covered by the round in flight */
};

struct radapter__rc
{
    const struct radapter__rc_ops *ops; /* borrowed */
    void *ctx;                          /* borrowed: passed to ops */
    struct raft *raft;                  /* borrowed: term, indexes, config */
    uint64_t id;                        /* this node */
    size_t max_pending;                 /* bound on waiting reads */
    uint64_t verify_timeout_ms;         /* cap on any read's deadline */
    uint64_t retry_ms;                  /* re-send interval of a round */

    struct radapter_read wait_list;  /* sentinel: waiting for a round */
    struct radapter_read round_list; /* sentinel: in the current round */
    struct radapter_read apply_list; /* sentinel: confirmed, waiting for
                                        applied >= read_index */
    struct radapter_read **heap;     /* owned array: deadline min-heap */
    size_t heap_len;                 /* reads waiting */
    size_t heap_cap;                 /* slots */
    bool round_inflight;             /* a round is under way */
    uint64_t round_tokens[RADAPTER_ROUND_ATTEMPTS]; /* the round's latest
                                        attempts' tokens (leader: probe
                                        tokens; follower: read-index request
                                        ids), a ring; 0: unused */
    unsigned round_attempts;   /* attempts made in this round */
    uint64_t round_term;       /* leader: term of the round */
    uint64_t round_read_index; /* leader: commit index at start */
    uint64_t round_acks;       /* leader: bit per voter position */
    uint64_t round_leader;     /* follower: the leader asked */
    uint64_t token_nonce;      /* random per boot, high bits */
    uint64_t token_counter;    /* never repeats within a boot */
    struct radapter__remote remote[RADAPTER_MAX_VOTERS]; /* leader: one
                                                            per follower */
    size_t n_remote;                                     /* slots in use */

    uint64_t probes_sent;       /* probe frames sent */
    uint64_t rounds_confirmed;  /* leader rounds confirmed */
    uint64_t rounds_retried;    /* rounds re-sent with new tokens */
    uint64_t remote_reads;      /* read indexes served to followers */
    uint64_t reads_timed_out;   /* reads failed at their deadline */
    uint64_t reads_max_late_ms; /* worst lateness past a deadline */
    uint64_t reads_refused;     /* reads refused: queue full */
};

/* Sets up @rc; @nonce's high 32 bits prefix every token (random per boot,
 * so tokens do not repeat across restarts either). */
void radapter__rc_init(struct radapter__rc *rc,
                       const struct radapter__rc_ops *ops,
                       void *ctx,
                       struct raft *raft,
                       uint64_t id,
                       uint64_t nonce);
void radapter__rc_fini(struct radapter__rc *rc);

/* Voters in @raft's current configuration (node.c counts them too). */
uint64_t radapter__count_voters(const struct raft *raft);

/* A request id or probe token never used before by @rc. */
uint64_t radapter__rc_new_token(struct radapter__rc *rc);

/* Queues @req (see radapter_read). Returns 0, RADAPTER_EBUSY or -ENOMEM. */
int radapter__rc_read(struct radapter__rc *rc,
                      struct radapter_read *req,
                      uint64_t deadline_ms,
                      radapter_read_cb cb,
                      void *arg);
void radapter__rc_cancel(struct radapter__rc *rc, struct radapter_read *req);

/* True if a read may run now without waiting (a ready single voter). */
bool radapter__rc_read_now(struct radapter__rc *rc);

/* Moves reads along after raft's state may have changed (an entry
 * applied, a change of role, term or leader). Cheap when nothing waits. */
void radapter__rc_process(struct radapter__rc *rc);

/* A PROBE, ACK, READINDEX_REQ or READINDEX_RESP frame from node @from. */
void radapter__rc_on_msg(struct radapter__rc *rc,
                         uint64_t from,
                         enum proto_peer_type type,
                         uint64_t a,
                         uint64_t b,
                         uint64_t c);

/* The timers' work. @precise_ms: the monotonic clock now, to measure how
 * late past their deadlines reads are answered. */
void radapter__rc_round_timeout(struct radapter__rc *rc);
void radapter__rc_expire(struct radapter__rc *rc, uint64_t precise_ms);

/* Fails every waiting read with @status (shutdown). */
void radapter__rc_fail_all(struct radapter__rc *rc, int status);

#endif
