/* The embedded Raft engine: proposals, linearizable reads, node lifecycle. */
#ifndef RADAPTER_RADAPTER_H
#define RADAPTER_RADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kv/kv.h"

/* ------------------------------------------------------------------------
 * Error codes (negative, far from errno; no RAFT_* value leaves here).
 * ---------------------------------------------------------------------- */

#define RADAPTER_ENOTLEADER                          \
    (-13001) /* this node cannot accept the request: \
                not the leader / no leader known */
#define RADAPTER_EUNKNOWN                                                   \
    (-13002)                        /* leadership lost after proposing: the \
                                       write may or may not be applied */
#define RADAPTER_ETIMEDOUT (-13003) /* the caller's deadline passed */
#define RADAPTER_EBUSY     (-13004) /* a bounded queue is full */
#define RADAPTER_ESHUTDOWN (-13005) /* the node is shutting down */
#define RADAPTER_ECORRUPT  (-13006) /* data dir damaged: refuse to start */
#define RADAPTER_ELOCKED   (-13007) /* data dir locked by another process */
#define RADAPTER_EIO       (-13008) /* disk error: fail-stop */

/* ------------------------------------------------------------------------
 * Configuration.
 * ---------------------------------------------------------------------- */

/* One voter of the bootstrap configuration. */
struct radapter_member
{
    uint64_t id;           /* raft id, >= 1 */
    const char *peer_addr; /* borrowed: "host:port" of its raft listener */
};

/* Receives a duration in nanoseconds (e.g. one log append's latency). */
typedef void (*radapter_latency_cb)(void *arg, uint64_t ns);

/* Receives, each time a periodic duty runs, how long after its due time it
 * ran: @duty is "raft_tick" (libraft's tick, which sends heartbeats and
 * runs election timers), "active_expiry" (expiry, forwarding and join
 * timers), "probe_round" (a leader-verification retry) or "snapshot"
 * (@late_ns: how long taking it held the loop). A late duty
 * means the event loop was held (a stall, a slow callback, a paused
 * process). */
typedef void (*radapter_duty_cb)(void *arg, const char *duty, uint64_t late_ns);

/* Exit status of a node that stopped because its disk failed (a log write
 * or a term/vote write returned an error): fail-stop, so that a supervisor
 * restarts it and the cluster elects another leader. */
#define RADAPTER_EXIT_DISK 3

struct radapter_config
{
    uint64_t id;           /* this node's raft id, >= 1 */
    const char *data_dir;  /* borrowed: directory for raft files */
    const char *peer_addr; /* borrowed: "host:port" of the raft listener */
    unsigned heartbeat_ms; /* raft heartbeat timeout (default 100) */
    unsigned election_ms;  /* raft election timeout (default 1000) */
    unsigned snapshot_threshold; /* entries between snapshots (default 8192) */
    unsigned
        snapshot_trailing;  /* entries kept after a snapshot (default 8192) */
    unsigned max_inflight;  /* entries proposed but not applied (default 64) */
    size_t max_batch_bytes; /* soft cap on one entry's size (default 1 MiB) */
    unsigned
        max_pending_writes; /* commands queued for proposal (default 100000) */
    unsigned
        verify_timeout_ms; /* cap on any leader verification (default 5000) */
    unsigned max_pending_reads; /* waiting reads (default 10000) */
    unsigned disk_stall_ms;     /* a log append outstanding this long is a
                                   failed disk: fail-stop (default 10000) */
    bool snapshot_fork;         /* write snapshots from a forked child (default
                                   true); false: on the loop */
    uint64_t max_bulk_len;      /* proto-max-bulk-len passed to kv */
    const char *redis_addr;     /* borrowed: this node's RESP address, told to
                                   peers (NULL: none) */
    const char *http_addr;      /* borrowed: this node's HTTP address */
    radapter_latency_cb append_observer; /* called with each log append's
                                            latency (write + fsync); NULL:
                                            none */
    void *append_observer_arg;           /* borrowed: passed to it */
    radapter_duty_cb duty_observer;      /* NULL: none */
    void *duty_observer_arg;             /* borrowed: passed to it */
    const char *join_addr; /* borrowed: a member's peer address to join
                              through when the data dir is empty; NULL:
                              bootstrap instead */
    const struct radapter_member *members; /* borrowed: bootstrap voters;
                                              NULL: this node alone */
    size_t n_members;                      /* entries in members */
};

/* Fills @c with defaults (data_dir and peer_addr NULL). */
void radapter_config_default(struct radapter_config *c);

/* ------------------------------------------------------------------------
 * Lifecycle.
 * ---------------------------------------------------------------------- */

struct radapter; /* opaque */

typedef void (*radapter_close_cb)(struct radapter *r);

/* Creates the node on @loop over the keyspace @store (borrowed: it must
 * outlive the node; the node applies committed writes to it). Locks the
 * data dir, validates its files, and when it is empty bootstraps the
 * configuration cfg.members (every node of a new cluster is given the same
 * list), or a one-node configuration when cfg.members is NULL. A non-empty
 * data dir ignores cfg.members. Returns 0 and the node in @out, owned by
 * the caller (release with radapter_close), or a negative error:
 * RADAPTER_ELOCKED, RADAPTER_ECORRUPT (after logging which file), -EINVAL
 * (this node missing from cfg.members, or listed with another address),
 * -errno. On failure nothing is left to undo. */
int radapter_new(uv_loop_t *loop,
                 const struct radapter_config *cfg,
                 struct kv_store *store,
                 struct radapter **out);

/* Starts raft: loads the snapshot and log, applies committed entries,
 * begins elections and timers. Returns 0 or a negative error. */
int radapter_start(struct radapter *r);

/* Shuts the node down: fails queued requests with RADAPTER_ESHUTDOWN, closes
 * raft and every handle, then calls @cb (never from inside this call), after
 * which @r is freed. @cb may be NULL. */
void radapter_close(struct radapter *r, radapter_close_cb cb);

/* Sets the least severe level raftadapter logs: 0 debug, 1 info, 2 warn,
 * 3 error (default 1). Process-wide, like the server's own log level. */
void radapter_set_log_level(int level);

/* A human-readable message for the last error radapter_new/start returned,
 * e.g. naming the damaged file. Valid until the next call on this thread. */
const char *radapter_last_error(void);

/* ------------------------------------------------------------------------
 * Writes. Many commands from many clients share one log entry (group
 * commit); entries in flight are bounded by cfg.max_inflight.
 *
 * Happy path: radapter_propose queues the command and returns 0; at the
 * end of this loop iteration (on a single voter whose previous log write
 * is outstanding, and whose queue is under 4 KiB: at the end of the
 * iteration that completes that write), the queue is encoded into one
 * entry and handed to raft;
 * once committed and applied, @cb runs with status 0 and the
 * command's reply. Failure modes: @cb runs with RADAPTER_ENOTLEADER (never
 * proposed), RADAPTER_EUNKNOWN (proposed, outcome unknown), -ENOMEM or
 * RADAPTER_ESHUTDOWN. Callbacks of one proposer run in proposal order.
 * ---------------------------------------------------------------------- */

/* Runs once per proposed command. On status 0 @reply holds the result and
 * the callback takes ownership of its contents (kv_reply_fini); otherwise
 * @reply is NULL. */
typedef void (*radapter_write_cb)(void *arg,
                                  int status,
                                  struct kv_reply *reply);

/* Queues the command argv[0..argc) (borrowed during the call: it is copied).
 * Returns 0 and later runs @cb exactly once, or returns RADAPTER_ENOTLEADER,
 * RADAPTER_EBUSY (queue full), RADAPTER_ESHUTDOWN or -ENOMEM and never runs
 * @cb. */
int radapter_propose(struct radapter *r,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     radapter_write_cb cb,
                     void *arg);

/* ------------------------------------------------------------------------
 * Linearizable reads.
 *
 * radapter_read_now() tells whether a read may run against the keyspace
 * right now without waiting (a ready leader whose leadership needs no
 * probe, e.g. the only voter). Otherwise the caller queues a read request;
 * its callback runs once the read may proceed (status 0: read the keyspace
 * now, in the callback) or fails (RADAPTER_ETIMEDOUT, RADAPTER_ENOTLEADER,
 * RADAPTER_EBUSY is returned at once instead when the queue is full).
 * ---------------------------------------------------------------------- */

typedef void (*radapter_read_cb)(void *arg, int status);

/* A waiting read. Caller-allocated (e.g. inside the connection); its fields
 * are the adapter's. Must stay valid until @cb ran or radapter_read_cancel
 * returned. */
struct radapter_read
{
    struct radapter_read *next; /* weak: queue link */
    struct radapter_read *prev; /* weak: queue link */
    uint64_t deadline_ms;       /* uv_now() based */
    uint64_t read_index;        /* index to reach before serving */
    radapter_read_cb cb;        /* called once */
    void *arg;                  /* borrowed: passed to cb */
    size_t heap_pos;            /* position in the deadline heap */
    bool queued;                /* on a queue */
};

/* True if a linearizable read may run now without waiting. */
bool radapter_read_now(struct radapter *r);

/* Queues @req to run @cb once a linearizable read may proceed, or with an
 * error by @deadline_ms (uv_now() based, capped by cfg.verify_timeout_ms).
 * Returns 0 (cb later, never inside this call), RADAPTER_EBUSY when
 * cfg.max_pending_reads reads already wait, RADAPTER_ENOTLEADER when another
 * node is known to lead (follower reads come with issue 3), -ENOMEM, or
 * RADAPTER_ESHUTDOWN; @cb never runs then. */
int radapter_read(struct radapter *r,
                  struct radapter_read *req,
                  uint64_t deadline_ms,
                  radapter_read_cb cb,
                  void *arg);

/* Removes a queued @req; its callback will not run. O(1). */
void radapter_read_cancel(struct radapter *r, struct radapter_read *req);

/* ------------------------------------------------------------------------
 * Membership (leader only; RADAPTER_ENOTLEADER elsewhere). Each returns 0
 * and later runs @cb once (status 0 with an "OK" status reply, which the
 * callback owns; or an error code and no reply), or returns an error and
 * never runs @cb: RADAPTER_EBUSY while another change is in progress,
 * -EEXIST / -ENOENT for a node that is / is not a member, -EINVAL.
 * ---------------------------------------------------------------------- */

/* Adds node @id at @peer_addr (borrowed during the call) as a non-voter,
 * then promotes it to voter once it has caught up. */
int radapter_add_voter(struct radapter *r,
                       uint64_t id,
                       const char *peer_addr,
                       radapter_write_cb cb,
                       void *arg);

/* Removes node @id from the configuration. */
int radapter_remove_node(struct radapter *r,
                         uint64_t id,
                         radapter_write_cb cb,
                         void *arg);

/* Hands leadership to voter @id (0: the most up-to-date voter); the
 * callback's status is 0 once another node leads, RADAPTER_ETIMEDOUT if
 * none took over within an election timeout. */
int radapter_transfer(struct radapter *r,
                      uint64_t id,
                      radapter_write_cb cb,
                      void *arg);

/* One member of the current configuration. */
struct radapter_member_info
{
    uint64_t id;
    const char *peer_addr;   /* view: valid until the configuration changes */
    const char *role;        /* "voter", "standby" or "spare" */
    uint64_t match_index;    /* known on the leader (0 elsewhere) */
    const char *redis_addr;  /* view: as the node told us; "" if unknown */
    const char *http_addr;   /* view: likewise */
    int64_t last_contact_ms; /* ms since a frame from it arrived; -1 never;
                                0 for this node */
};

/* Fills @out with up to @cap members; returns how many. */
size_t radapter_get_members(struct radapter *r,
                            struct radapter_member_info *out,
                            size_t cap);

/* ------------------------------------------------------------------------
 * State, for INFO and metrics.
 * ---------------------------------------------------------------------- */

struct radapter_info
{
    const char *role;   /* "leader", "follower", "candidate", "unavailable" */
    uint64_t id;        /* this node */
    uint64_t term;      /* current term */
    uint64_t leader_id; /* 0 if unknown */
    const char *leader_addr; /* borrowed; NULL if unknown */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_index;
    uint64_t snapshot_index; /* last snapshot taken or installed */
    uint64_t snapshots;      /* snapshots taken */
    bool ready;              /* leader with an entry of its term applied */
    uint64_t voters;         /* voters in the configuration */
    uint64_t pending_reads;
    uint64_t pending_writes; /* queued + in flight commands */
    uint64_t inflight_entries;
    uint64_t entries_proposed;
    uint64_t commands_proposed;
    uint64_t reads_timed_out;
    uint64_t reads_max_late_ms; /* worst time past its deadline at which a
                                   timed-out read was answered */
    uint64_t reads_refused;
    uint64_t expired_keys; /* keys removed by active expiry */
    uint64_t leader_changes;
    uint64_t probes_sent;       /* leader-verification probes sent */
    uint64_t rounds_confirmed;  /* verification rounds a majority confirmed */
    uint64_t rounds_retried;    /* rounds re-sent with a new token */
    uint64_t remote_reads;      /* read indexes served to followers */
    uint64_t forwarded_writes;  /* writes this follower sent to the leader */
    uint64_t forward_retries;   /* of which re-sends (never proposed) */
    uint64_t forward_unknown;   /* forwarded writes with unknown outcome */
    uint64_t dedup_hits;        /* retried writes answered, not re-applied */
    uint64_t breaker_opened;    /* times a peer's circuit breaker opened */
    uint64_t snapshot_last_ns;  /* time the last snapshot held the loop */
    uint64_t snapshot_total_ns; /* all snapshots together */
    uint64_t appends;           /* log appends completed */
    uint64_t append_max_ns;     /* slowest log append */
    const char *leader_redis_addr; /* view: "" if unknown */
    const char *leader_http_addr;  /* view: "" if unknown */
};

/* Fills @out with the node's current state (views valid until the next
 * loop iteration). */
void radapter_get_info(struct radapter *r, struct radapter_info *out);

#endif /* RADAPTER_RADAPTER_H */
