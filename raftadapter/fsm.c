/* The raft_fsm: applies committed log commands to the keyspace, takes and
 * restores snapshots.
 *
 * Every replica applies the same entries in the same order with the time
 * each entry was stamped with, so every replica reaches the same keyspace.
 * Only the node that proposed an entry needs its replies: apply fills the
 * in-flight batch's reply slots when the entry is ours and builds no reply
 * otherwise. apply never fails (notes, rule 11): a malformed entry is
 * logged and skipped, never asserted on, because the log is input.
 *
 * Snapshot format (wire format: change with a version bump): an LZ4 frame
 * around: "RKVF", u32 version (2), i64 fsm stamp, u64 length of the kv
 * snapshot (all little endian), the kv snapshot bytes (kv_snapshot_encode),
 * then the table of applied request ids (dedup.c). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

#define FSM_MAGIC      "RKVF"
#define FSM_VERSION    2
#define FSM_HEADER_LEN RADAPTER_FSM_HEADER_LEN

/* ------------------------------------------------------------------------
 * apply
 * ---------------------------------------------------------------------- */

/* ------------------------------------------------------------------------
 * Transactions: "raftkv.exec <blob> [<watches>]" runs the commands encoded
 * in blob (proto_peer_encode_args, back to back) as one unit: nothing else
 * runs between them, and the reply is the array of their replies. With a
 * watch list (proto_watch_add; WATCH), the commands run only if every
 * watched key still has the version the client saw, at this entry's index
 * and stamp (an expired key is absent); otherwise none runs and the reply
 * is a null array, as Redis's EXEC after a touched WATCH. Blob and list
 * are log input: a malformed one gives an error reply on every replica
 * alike.
 * ---------------------------------------------------------------------- */

static bool is_unit(const struct proto_cmd *cmd)
{
    return (cmd->argc == 2 || cmd->argc == 3) && cmd->lens[0] == 11 &&
           memcmp(cmd->argv[0], "raftkv.exec", 11) == 0;
}

/* Checks the watch list @p (@len bytes). Returns 1 if every key has the
 * version recorded, 0 if one differs, PROTO_EMALFORMED for a bad list
 * (walked whole first, so the answer never depends on the store). */
static int watches_hold(struct radapter *r,
                        const struct kv_exec_ctx *ctx,
                        const unsigned char *p,
                        size_t len)
{
    const char *key;
    size_t klen;
    uint64_t version;
    size_t pos = 0;
    int rv;
    do {
        rv = proto_watch_next(p, len, &pos, &key, &klen, &version);
    } while (rv == 1);
    if (rv != 0) {
        return rv;
    }
    pos = 0;
    while (proto_watch_next(p, len, &pos, &key, &klen, &version) == 1) {
        if (kv_store_version(r->store, key, klen, ctx->now_ms) != version) {
            return 0;
        }
    }
    return 1;
}

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* UNWATCH queued inside MULTI: Redis answers +OK at EXEC and changes
 * nothing (the watches were checked before the first command ran). */
static bool is_unwatch(uint32_t argc, const char **argv, const size_t *lens)
{
    static const char name[] = "unwatch";
    if (argc != 1 || lens[0] != sizeof name - 1) {
        return false;
    }
    for (size_t i = 0; i < lens[0]; i++) {
        char ch = argv[0][i];
        if ((ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch) != name[i]) {
            return false;
        }
    }
    return true;
}

static void reply_ok(struct kv_reply *out)
{
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof *out);
    out->type = KV_REPLY_STATUS;
    out->str = malloc(2);
    if (out->str == NULL) {
        radapter__log("error", "fsm_oom", "transaction; stopping");
        abort();
    }
    memcpy(out->str, "OK", 2);
    out->len = 2;
}

/* Walks the blob; with @run, executes each command (replies into
 * @elems[i] when not NULL). Returns the number of commands, or -1 if the
 * blob is malformed (then nothing was run: callers validate first). */
static long walk_unit(struct radapter *r,
                      const struct kv_exec_ctx *ctx,
                      const unsigned char *p,
                      size_t len,
                      bool run,
                      struct kv_reply *elems)
{
    size_t pos = 0;
    long n = 0;
    while (pos < len) {
        uint32_t argc;
        const char **argv;
        size_t *lens;
        if (len - pos < 4) {
            return -1;
        }
        argc = rd_u32(p + pos);
        pos += 4;
        if (argc == 0 || argc > (len - pos) / 4) {
            return -1;
        }
        argv = run ? malloc(argc * sizeof *argv) : NULL;
        lens = run ? malloc(argc * sizeof *lens) : NULL;
        if (run && (argv == NULL || lens == NULL)) {
            radapter__log("error", "fsm_oom", "transaction; stopping");
            abort();
        }
        for (uint32_t i = 0; i < argc; i++) {
            uint32_t k;
            if (len - pos < 4 || (k = rd_u32(p + pos), len - pos - 4 < k)) {
                free(argv);
                free(lens);
                return -1;
            }
            if (run) {
                argv[i] = (const char *)p + pos + 4;
                lens[i] = k;
            }
            pos += 4 + k;
        }
        if (run) {
            struct kv_reply *out = elems != NULL ? &elems[n] : NULL;
            if (is_unwatch(argc, argv, lens)) {
                reply_ok(out);
            } else {
                kv_exec(r->store, ctx, (int)argc, argv, lens, out);
            }
            free(argv);
            free(lens);
        }
        n++;
    }
    return n;
}

static void exec_unit(struct radapter *r,
                      const struct kv_exec_ctx *ctx,
                      const struct proto_cmd *cmd,
                      struct kv_reply *out)
{
    const unsigned char *p = (const unsigned char *)cmd->argv[1];
    long n = walk_unit(r, ctx, p, cmd->lens[1], false, NULL);
    struct kv_reply *elems = NULL;
    int held = 1;
    if (n >= 0 && cmd->argc == 3) {
        held = watches_hold(r, ctx, (const unsigned char *)cmd->argv[2],
                            cmd->lens[2]);
    }
    if (n < 0 || held < 0) {
        if (out != NULL) {
            memset(out, 0, sizeof *out);
            out->type = KV_REPLY_ERROR;
            out->err = KV_ERR_SYNTAX;
        }
        return;
    }
    if (held == 0) {
        if (out != NULL) {
            memset(out, 0, sizeof *out);
            out->type = KV_REPLY_NIL_ARRAY;
        }
        return;
    }
    if (out != NULL) {
        elems = calloc((size_t)(n > 0 ? n : 1), sizeof *elems);
        if (elems == NULL) {
            radapter__log("error", "fsm_oom", "transaction; stopping");
            abort();
        }
        memset(out, 0, sizeof *out);
        out->type = KV_REPLY_ARRAY;
        out->elems = elems;
        out->n = (size_t)n;
    }
    walk_unit(r, ctx, p, cmd->lens[1], true, elems);
}

/* Executes one log command: a transaction or a kv command. */
static void exec_cmd(struct radapter *r,
                     const struct kv_exec_ctx *ctx,
                     const struct proto_cmd *cmd,
                     struct kv_reply *out)
{
    if (is_unit(cmd)) {
        exec_unit(r, ctx, cmd, out);
    } else {
        kv_exec(r->store, ctx, cmd->argc, cmd->argv, cmd->lens, out);
    }
}

/* Executes one command that carries request id @id: a first-seen id runs
 * and its reply is recorded; a seen id (a retry) gets the recorded reply
 * and changes nothing. Both happen identically on every replica. */
static void apply_with_id(struct radapter *r,
                          const struct kv_exec_ctx *ctx,
                          uint64_t id,
                          const struct proto_cmd *cmd,
                          struct kv_reply *out)
{
    const unsigned char *seen;
    size_t seen_len;
    struct kv_reply tmp;
    struct proto_buf enc;

    if (radapter__dedup_get(&r->dedup, id, &seen, &seen_len)) {
        r->dedup_hits++;
        if (out != NULL && radapter__reply_decode(seen, seen_len, out) != 0) {
            kv_reply_fini(out);
            memset(out, 0, sizeof *out);
            out->type = KV_REPLY_ERROR;
            out->err = KV_ERR_NOMEM;
        }
        return;
    }
    memset(&tmp, 0, sizeof tmp);
    exec_cmd(r, ctx, cmd, &tmp);
    proto_buf_init(&enc);
    if (radapter__reply_encode(&enc, &tmp) != 0 ||
        radapter__dedup_put(&r->dedup, id, r->fsm_stamp, enc.data, enc.len) !=
            0) {
        /* Out of memory: this replica could answer a retry differently,
         * and only the process dying keeps replicas equal. */
        radapter__log("error", "dedup_oom",
                      "cannot record request id; stopping");
        abort();
    }
    proto_buf_fini(&enc);
    if (out != NULL) {
        *out = tmp;
    } else {
        kv_reply_fini(&tmp);
    }
}

static void apply_batch(struct radapter *r,
                        struct proto_log_reader *rd,
                        struct radapter__batch *mine)
{
    struct kv_exec_ctx ctx;
    struct proto_cmd cmd;
    uint64_t id = 0;
    uint32_t i = 0;
    int rv;

    memset(&ctx, 0, sizeof ctx);
    ctx.now_ms = r->fsm_stamp;
    ctx.max_bulk_len = r->cfg.max_bulk_len;
    /* The index of the entry being applied: raft sets last_applied to it
     * right after this apply returns, and applies entries in order. It is
     * the version of every key this entry writes (WATCH). */
    ctx.index = (uint64_t)raft_last_applied(&r->raft) + 1;
    radapter__dedup_expire(&r->dedup, r->fsm_stamp);
    while ((rv = proto_log_reader_next_cmd_id(rd, &cmd, &id)) == 1) {
        struct kv_reply *out = NULL;
        if (mine != NULL && i < mine->n) {
            out = &mine->replies[i];
        }
        if (id != 0) {
            apply_with_id(r, &ctx, id, &cmd, out);
        } else {
            exec_cmd(r, &ctx, &cmd, out);
        }
        i++;
    }
    if (rv < 0) {
        radapter__log("error", "log_entry_malformed",
                      "command %u of entry %llu is malformed (%d); skipped the"
                      " rest of the entry",
                      i, raft_last_applied(&r->raft) + 1, rv);
    }
}

static void apply_expire(struct radapter *r, struct proto_log_reader *rd)
{
    const char *key;
    size_t len;
    while (proto_log_reader_next_key(rd, &key, &len) == 1) {
        if (kv_store_expire_if_due(r->store, key, len, r->fsm_stamp)) {
            r->expired_keys++;
        }
    }
}

static int fsm_apply(struct raft_fsm *fsm,
                     const struct raft_buffer *buf,
                     void **result)
{
    struct radapter *r = fsm->data;
    struct radapter__batch *mine = radapter__match_batch(r, buf);
    struct proto_log_reader rd;
    int rv;

    *result = mine;
    rv = proto_log_reader_init(&rd, buf->base, buf->len);
    if (rv != 0) {
        radapter__log("error", "log_entry_malformed",
                      "entry %llu cannot be decoded (%d); skipped",
                      raft_last_applied(&r->raft) + 1, rv);
        return 0;
    }
    /* Time never runs backwards inside the state machine, whatever the
     * clocks of successive leaders say. */
    if ((int64_t)rd.stamp_ms > r->fsm_stamp) {
        r->fsm_stamp = (int64_t)rd.stamp_ms;
    }
    if (rd.type == PROTO_LOG_BATCH || rd.type == PROTO_LOG_BATCH_IDS) {
        apply_batch(r, &rd, mine);
    } else if (rd.type == PROTO_LOG_EXPIRE) {
        apply_expire(r, &rd);
    }
    proto_log_reader_fini(&rd);
    if (mine != NULL) {
        mine->applied = true;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * snapshot / restore
 * ---------------------------------------------------------------------- */

int radapter__fsm_stream(struct radapter *r,
                         void *ext,
                         size_t ext_cap,
                         void **packed,
                         size_t *packed_len,
                         size_t *raw_len)
{
    struct kv_snapshot_plan plan;
    struct radapter__lz4w w;
    unsigned char head[FSM_HEADER_LEN];
    unsigned char *dedup = NULL;
    void *out;
    int rv;

    kv_snapshot_measure(r->store, &plan);
    size_t dlen = radapter__dedup_encoded_size(&r->dedup);
    *raw_len = FSM_HEADER_LEN + plan.len + dlen;
    if (dlen > 0) {
        dedup = malloc(dlen);
        if (dedup == NULL) {
            return -ENOMEM;
        }
        radapter__dedup_encode(&r->dedup, dedup);
    }
    memcpy(head, FSM_MAGIC, 4);
    radapter__put_le(head + 4, FSM_VERSION, 4);
    radapter__put_le(head + 8, (uint64_t)r->fsm_stamp, 8);
    radapter__put_le(head + 16, plan.len, 8);
    rv = radapter__lz4w_begin(&w, *raw_len, ext, ext_cap);
    if (rv == 0) {
        rv = radapter__lz4w_put(&w, head, sizeof head);
    }
    if (rv == 0) {
        rv = kv_snapshot_write(r->store, &plan, radapter__lz4w_put, &w);
    }
    if (rv == 0 && dlen > 0) {
        rv = radapter__lz4w_put(&w, dedup, dlen);
    }
    free(dedup);
    if (rv != 0) {
        radapter__lz4w_abort(&w);
        return rv;
    }
    rv = radapter__lz4w_end(&w, &out, packed_len);
    if (rv == 0 && packed != NULL) {
        *packed = out;
    }
    return rv;
}

/* Counts a snapshot taken at the applied index; @t0: when it began. The
 * time it held the loop is how late every other duty ran. */
static void count_snapshot(struct radapter *r, uint64_t t0)
{
    r->snapshots++;
    r->snapshot_index = raft_last_applied(&r->raft);
    r->snapshot_last_ns = uv_hrtime() - t0;
    r->snapshot_total_ns += r->snapshot_last_ns;
    if (r->cfg.duty_observer != NULL) {
        r->cfg.duty_observer(r->cfg.duty_observer_arg, "snapshot",
                             r->snapshot_last_ns);
    }
}

/* libraft calls this on the loop (notes, rule 8). By default a forked
 * child writes the snapshot (snap_fork.c) and the loop only pays for the
 * fork. Otherwise, or if the fork fails, it is built here, streamed: the
 * keyspace is measured, then encoded in 64 KiB pieces compressed as they
 * come, with no full-size raw copy. */
static int fsm_snapshot(struct raft_fsm *fsm,
                        struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct radapter *r = fsm->data;
    void *packed = NULL;
    size_t packed_len = 0;
    size_t raw_len = 0;
    uint64_t t0 = uv_hrtime();
    int rv;

    if (r->cfg.snapshot_fork) {
        rv = radapter__snapfork_start(r, bufs, n_bufs);
        if (rv == 0) {
            count_snapshot(r, t0);
            radapter__log("info", "snapshot_taken",
                          "snapshot at index %llu: %zu keys, written by a "
                          "child; %.1f ms on the loop (fork)",
                          (unsigned long long)r->snapshot_index,
                          kv_store_size(r->store),
                          (double)r->snapshot_last_ns / 1e6);
            return 0;
        }
        radapter__log("warn", "snapshot_fork_failed",
                      "cannot fork a snapshot writer (%s); writing it on "
                      "the loop",
                      strerror(-rv));
    }
    rv = radapter__fsm_stream(r, NULL, 0, &packed, &packed_len, &raw_len);
    if (rv != 0) {
        radapter__log("error", "snapshot_failed", "encoding failed (%d)", rv);
        return RAFT_NOMEM;
    }
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        raft_free(packed);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = packed;
    (*bufs)[0].len = packed_len;
    *n_bufs = 1;
    count_snapshot(r, t0);
    radapter__log("info", "snapshot_taken",
                  "snapshot at index %llu: %zu keys, %zu bytes raw, %zu "
                  "compressed, %.1f ms on the loop",
                  (unsigned long long)r->snapshot_index,
                  kv_store_size(r->store), raw_len, packed_len,
                  (double)r->snapshot_last_ns / 1e6);
    return 0;
}

/* We own the buffers (fsm version 2): release them once raft is done. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm,
                                 struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    struct radapter *r = fsm->data;
    for (unsigned i = 0; i < *n_bufs; i++) {
        if (radapter__snapfork_owns(r, (*bufs)[i].base)) {
            radapter__snapfork_release(r); /* the child's mapping */
        } else {
            raft_free((*bufs)[i].base);
        }
    }
    raft_free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* On success we own buf->base and release it; on failure raft does. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct radapter *r = fsm->data;
    void *raw = NULL;
    size_t raw_len = 0;
    const unsigned char *p;
    int rv;

    if (radapter__lz4_is_frame(buf->base, buf->len)) {
        rv = radapter__lz4_decompress(buf->base, buf->len, &raw, &raw_len);
        if (rv != 0) {
            radapter__log("error", "snapshot_corrupt",
                          "snapshot does not decompress (%d)", rv);
            snprintf(r->restore_error, sizeof r->restore_error,
                     "it does not decompress");
            return rv == -ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
        }
        p = raw;
    } else {
        p = buf->base;
        raw_len = buf->len;
    }
    uint64_t kvlen =
        raw_len >= FSM_HEADER_LEN ? radapter__get_le(p + 16, 8) : 0;
    if (raw_len < FSM_HEADER_LEN || memcmp(p, FSM_MAGIC, 4) != 0 ||
        radapter__get_le(p + 4, 4) != FSM_VERSION ||
        kvlen > raw_len - FSM_HEADER_LEN) {
        radapter__log("error", "snapshot_corrupt",
                      "snapshot has a bad header or unknown version");
        snprintf(r->restore_error, sizeof r->restore_error,
                 "bad header or unknown version");
        free(raw);
        return RAFT_CORRUPT;
    }
    rv = kv_snapshot_decode(r->store, p + FSM_HEADER_LEN, (size_t)kvlen);
    if (rv == 0) {
        rv = radapter__dedup_decode(&r->dedup, p + FSM_HEADER_LEN + kvlen,
                                    raw_len - FSM_HEADER_LEN - kvlen);
    }
    if (rv != 0) {
        radapter__log("error", "snapshot_corrupt",
                      "snapshot contents fail validation (%d)", rv);
        snprintf(r->restore_error, sizeof r->restore_error,
                 "its contents fail validation");
        free(raw);
        return rv == -ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
    }
    r->fsm_stamp = (int64_t)radapter__get_le(p + 8, 8);
    free(raw);
    raft_free(buf->base);
    radapter__log("info", "snapshot_restored", "restored %zu keys",
                  kv_store_size(r->store));
    return 0;
}

void radapter__fsm_init(struct radapter *r)
{
    memset(&r->fsm, 0, sizeof r->fsm);
    r->fsm.version = 2;
    r->fsm.data = r;
    r->fsm.apply = fsm_apply;
    r->fsm.snapshot = fsm_snapshot;
    r->fsm.restore = fsm_restore;
    r->fsm.snapshot_finalize = fsm_snapshot_finalize;
}
