/* The keyspace: a deterministic state machine of Redis string and list
 * keys. */
#ifndef KV_KV_H
#define KV_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Determinism. Nothing in kv reads a clock, a random source or the
 * environment. The time a write executes at (now_ms) comes from the log
 * entry's stamp; the time a read executes at comes from the caller. Given
 * the same sequence of kv_exec calls with the same arguments, every replica
 * reaches the same keyspace (iteration order may differ: it depends on the
 * hash seed, which is per process).
 * ---------------------------------------------------------------------- */

/* Error codes carried in a KV_REPLY_ERROR reply (kv_reply.err). Negative,
 * far from errno. kv_strerror() gives Redis 7's text for each (without the
 * leading '-' and without CRLF); the server frames it. */
enum kv_err {
    KV_ERR_WRONGTYPE = -12001, /* WRONGTYPE Operation against a key ... */
    KV_ERR_NOTINT,             /* ERR value is not an integer or out of range */
    KV_ERR_NOTFLOAT,           /* ERR value is not a valid float */
    KV_ERR_OVERFLOW,           /* ERR increment or decrement would overflow */
    KV_ERR_NANINF,             /* ERR increment would produce NaN or Infinity */
    KV_ERR_SYNTAX,             /* ERR syntax error */
    KV_ERR_NOKEY,              /* ERR no such key */
    KV_ERR_BADEXPIRE,          /* ERR invalid expire time in '%s' command */
    KV_ERR_BITOFFSET, /* ERR bit offset is not an integer or out of range */
    KV_ERR_BITVALUE,  /* ERR bit is not an integer or out of range */
    KV_ERR_TOOBIG,    /* ERR string exceeds maximum allowed size
                         (proto-max-bulk-len) */
    KV_ERR_ARITY,     /* ERR wrong number of arguments for '%s' command */
    KV_ERR_UNKNOWN,   /* ERR unknown command (not a kv command) */
    KV_ERR_NOMEM,     /* OOM: allocation failed; state unchanged */
    /* Further codes may be added before KV_ERR__LAST by kv's authors; each
     * gets its exact Redis 7 text in kv_strerror. */
    /* ERR NX and XX, GT or LT options at the same time are not compatible */
    KV_ERR_EXPIRE_NXCOMBO,
    /* ERR GT and LT options at the same time are not compatible */
    KV_ERR_EXPIRE_GTLT,
    KV_ERR_BADOPTION, /* ERR Unsupported option %s (str: the option) */
    KV_ERR_DBINDEX,   /* ERR DB index is out of range */
    KV_ERR_SAMEOBJ,   /* ERR source and destination objects are the same */
    KV_ERR_CURSOR,    /* ERR invalid cursor */
    /* ERR unknown subcommand '%s'. Try OBJECT HELP. (str: the subcommand) */
    KV_ERR_SUBCOMMAND,
    KV_ERR_NOLFU, /* ERR An LFU maxmemory policy is not selected, ... */
    /* Strings and bits (cmd_string.c, cmd_counter.c, cmd_lcs.c, cmd_bits.c,
     * cmd_bitfield.c). kv_strerror texts, without the leading '-':
     * OFFSET: "ERR offset is out of range"
     * DECR_OVERFLOW: "ERR decrement would overflow"
     * BITARG: "ERR The bit argument must be 1 or 0."
     * BITOP_NOT: "ERR BITOP NOT must be called with a single source key."
     * BF_TYPE: "ERR Invalid bitfield type. Use something like i16 u8. Note
     *   that u64 is not supported but i64 is." (one line, one space)
     * BF_OVERFLOW: "ERR Invalid OVERFLOW type specified"
     * BF_RO: "ERR BITFIELD_RO only supports the GET subcommand"
     * LCS_TYPE: "ERR The specified keys must contain string values"
     * LCS_IDXLEN: "ERR If you want both the length and indexes, please just
     *   use IDX." (one line, one space)
     * LCS_MEM: "ERR Insufficient memory, transient memory for LCS exceeds
     *   proto-max-bulk-len" (one line, one space) */
    KV_ERR_OFFSET,
    KV_ERR_DECR_OVERFLOW,
    KV_ERR_BITARG,
    KV_ERR_BITOP_NOT,
    KV_ERR_BF_TYPE,
    KV_ERR_BF_OVERFLOW,
    KV_ERR_BF_RO,
    KV_ERR_LCS_TYPE,
    KV_ERR_LCS_IDXLEN,
    KV_ERR_LCS_MEM,
    /* BUSY: "BUSY %s" (str: which budget, and by how much); a read that
     * would exceed heavy-command-budget is refused before it runs. */
    KV_ERR_BUSY,
    /* Lists (cmd_list.c):
     * POSITIVE: "ERR value is out of range, must be positive"
     * LIST_TOOBIG: "ERR list exceeds maximum allowed size
     *   (proto-max-bulk-len)" (one line, one space; raftkv's own cap) */
    KV_ERR_POSITIVE,
    KV_ERR_LIST_TOOBIG,
    KV_ERR__LAST
};

/* Redis's text for @err. Where the text names the command ("'%s'"), the
 * returned string holds a literal "%s" and the caller substitutes the
 * command name in lower case, as Redis does. Never NULL.
 * kv_exec always fills the reply's str for such errors: the substitution
 * is the reply's str/len (the lower-case command name, or for
 * KV_ERR_BADOPTION / KV_ERR_SUBCOMMAND the offending argument as given).
 * Every text holds at most one "%s". */
const char *kv_strerror(int err);

/* ------------------------------------------------------------------------
 * Replies: a small tree, converted to RESP by the server.
 * ---------------------------------------------------------------------- */

enum kv_reply_type {
    KV_REPLY_NIL = 1,   /* null bulk ($-1 / _) */
    KV_REPLY_NIL_ARRAY, /* null array (*-1 / _) */
    KV_REPLY_STATUS,    /* simple string: str/len, e.g. "OK", "string" */
    KV_REPLY_INT,       /* integer: i */
    KV_REPLY_BULK,      /* bulk string: str/len */
    KV_REPLY_DOUBLE,    /* double: d (RESP3 ',', RESP2 bulk) */
    KV_REPLY_ARRAY,     /* array of n elems */
    KV_REPLY_MAP,       /* map of n/2 pairs in elems[0..n) (RESP3 '%') */
    KV_REPLY_ERROR,     /* error: err (enum kv_err); str/len may hold an
                           argument for the text, e.g. the command name */
};

struct kv_reply
{
    enum kv_reply_type type;
    int err;                /* KV_REPLY_ERROR: enum kv_err */
    int64_t i;              /* KV_REPLY_INT */
    double d;               /* KV_REPLY_DOUBLE */
    char *str;              /* owned (malloc); STATUS, BULK, ERROR arg */
    size_t len;             /* bytes in str */
    struct kv_reply *elems; /* owned array of n replies; ARRAY, MAP */
    size_t n;               /* number of elems */
};

/* Releases everything @r owns (not @r itself) and zeroes it. */
void kv_reply_fini(struct kv_reply *r);

/* ------------------------------------------------------------------------
 * The store.
 * ---------------------------------------------------------------------- */

struct kv_store; /* opaque */

/* Returns a new empty store owned by the caller (free with kv_store_free),
 * or NULL on out-of-memory. @seed keys the SipHash-based hash function (the
 * caller draws it from a random source: hash-flooding resistance). */
struct kv_store *kv_store_new(const uint8_t seed[16]);

/* Releases @s and every key in it. */
void kv_store_free(struct kv_store *s);

/* Number of keys, including expired ones not yet removed. */
size_t kv_store_size(const struct kv_store *s);

/* Keys that carry a time to live. */
size_t kv_store_expires(const struct kv_store *s);

/* Bytes of memory the dataset occupies (keys, values, table), as counted
 * by the store's allocator hook (malloc_usable_size where available). */
size_t kv_store_memory(const struct kv_store *s);

/* Does a bounded amount (@steps buckets) of incremental rehashing. The
 * store also rehashes a little on every access, like Redis's dict; this
 * lets an idle server finish a resize. Returns true if more remains. */
bool kv_store_rehash_step(struct kv_store *s, int steps);

/* FLUSHALL/FLUSHDB of more than KV_LAZYFREE_MIN keys frees them in steps of
 * kv_store_rehash_step (500 entries per step) instead of at once; the
 * bytes count in kv_store_memory until freed. True while that runs. */
#define KV_LAZYFREE_MIN 4096u
bool kv_store_freeing(const struct kv_store *s);

/* Removes every key. */
void kv_store_clear(struct kv_store *s);

/* ------------------------------------------------------------------------
 * Command execution. Every data command (strings, bits, keys) is executed
 * here, on every replica for writes and locally for reads.
 * ---------------------------------------------------------------------- */

struct kv_exec_ctx
{
    int64_t now_ms;        /* writes: the entry's stamp; reads: caller's
                              clock. Keys with expire <= now_ms are absent. */
    uint64_t max_bulk_len; /* proto-max-bulk-len: cap on string growth */
    uint64_t random;       /* randomness for RANDOMKEY (reads only) */
    size_t scan_max_count; /* cap on work per SCAN/KEYS call (0: none) */
    uint64_t work_budget;  /* heavy-command-budget: keys one KEYS may
                              examine, the cap on SCAN's COUNT, LCS table
                              cells / 100 (0: none). Reads only. */
    uint64_t index;        /* writes: the raft index of the log entry being
                              applied; every key the command creates or
                              changes gets it as its version (0 counts as
                              1). Reads: unused. */
};

/* Flags of a kv command. KV_CMD_WRITE: may modify the keyspace, so it goes
 * through raft. KV_CMD_READONLY: never modifies the keyspace. */
#define KV_CMD_WRITE    (1u << 0)
#define KV_CMD_READONLY (1u << 1)

/* Looks up a kv command by name (case-insensitive). Returns its flags in
 * @flags and true, or false if @name is not a kv command. */
bool kv_cmd_lookup(const char *name, size_t len, unsigned *flags);

/* Executes the command argv[0..argc) against @s at @ctx->now_ms and fills
 * @out (caller-allocated; release with kv_reply_fini). Never fails in a way
 * that leaves the store half-changed: errors arrive as KV_REPLY_ERROR with
 * the keyspace untouched (Redis semantics, including error texts). Arity is
 * checked here too (the argv may come from the log). Borrows argv/lens
 * during the call. If @out is NULL the reply is not built (followers). */
void kv_exec(struct kv_store *s,
             const struct kv_exec_ctx *ctx,
             int argc,
             const char *const *argv,
             const size_t *lens,
             struct kv_reply *out);

/* ------------------------------------------------------------------------
 * Key versions, for WATCH. Every key carries the index of the log entry
 * whose write last created or changed it (a value, an expiry, a rename or
 * copy target), so the version is the same on every replica and only
 * grows. A deleted or expired key has no version: it reads as
 * KV_VERSION_ABSENT. A watcher records versions (possibly from a lagging
 * replica: a stale version only makes the check fail) and the state
 * machine compares them when the transaction applies.
 * ---------------------------------------------------------------------- */

#define KV_VERSION_ABSENT 0u

/* The version of @key (borrowed during the call) at @now_ms, or
 * KV_VERSION_ABSENT if it does not exist or has expired by then. */
uint64_t kv_store_version(struct kv_store *s,
                          const char *key,
                          size_t len,
                          int64_t now_ms);

/* True if each of the @n keys (keys[i], lens[i], borrowed) has version
 * versions[i] at @now_ms (KV_VERSION_ABSENT: absent or expired). */
bool kv_store_versions_match(struct kv_store *s,
                             int64_t now_ms,
                             size_t n,
                             const char *const *keys,
                             const size_t *lens,
                             const uint64_t *versions);

/* ------------------------------------------------------------------------
 * Expiry. The leader samples keys whose time to live has passed on its
 * clock and proposes their deletion; every replica deletes each key only
 * if it is expired at the entry's stamp (so a key refreshed in between
 * survives everywhere).
 * ---------------------------------------------------------------------- */

/* Calls @cb for up to @max keys with expire <= @now_ms, visiting at most
 * about 20*@max keys (Redis's active-expire effort). Resumes where the
 * previous call stopped. @cb borrows the key during the call. Returns the
 * number of keys reported. */
size_t kv_store_sample_expired(struct kv_store *s,
                               int64_t now_ms,
                               size_t max,
                               void (*cb)(void *arg,
                                          const char *key,
                                          size_t len),
                               void *arg);

/* Deletes @key if it exists and expire <= @now_ms. Returns true if it did. */
bool kv_store_expire_if_due(struct kv_store *s,
                            const char *key,
                            size_t len,
                            int64_t now_ms);

/* ------------------------------------------------------------------------
 * Snapshots (uncompressed; compression is the FSM's business).
 * Wire format: change with a version bump. Format: magic "RKVS", u32
 * version, u64 key count, then per key: u8 type, u8 flags, i64 expire_ms
 * (-1: none), u64 key version (from version 3 on), u32 key len, key, u64
 * value len, value; trailer: u64 checksum (FNV-1a 64 over everything
 * before it: bytewise in version 1, over 8-byte words from version 2).
 * Version 3 is written; 1 and 2 are decoded, their keys restored with key
 * version 1 (below any index a later write can have).
 * ---------------------------------------------------------------------- */

/* Streaming encoding, for a caller that compresses as it goes (the FSM's
 * snapshot runs on the event loop; no full-size raw copy is made):
 * kv_snapshot_measure gives the exact length and entry count, then
 * kv_snapshot_write emits exactly those bytes to @sink in pieces of at most
 * 64 KiB. @s must not change in between. The sink returns 0 or a negative
 * errno, which kv_snapshot_write returns. */
struct kv_snapshot_plan
{
    uint64_t count; /* entries */
    size_t len;     /* bytes of the whole encoding */
};
typedef int (*kv_snapshot_sink)(void *arg, const void *data, size_t len);
void kv_snapshot_measure(const struct kv_store *s,
                         struct kv_snapshot_plan *plan);
int kv_snapshot_write(const struct kv_store *s,
                      const struct kv_snapshot_plan *plan,
                      kv_snapshot_sink sink,
                      void *arg);

/* Serialises the whole keyspace. On success returns 0 and a new buffer in
 * @buf/@len owned by the caller (free()). Returns -ENOMEM on failure. */
int kv_snapshot_encode(const struct kv_store *s, void **buf, size_t *len);

/* Replaces the contents of @s with the snapshot in @buf (borrowed). Returns
 * 0, or -EPROTO (bad magic, version, length, checksum: @s is left empty),
 * or -ENOMEM (@s left empty). */
int kv_snapshot_decode(struct kv_store *s, const void *buf, size_t len);

#endif /* KV_KV_H */
