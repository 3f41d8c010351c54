/* List commands: RPUSH LPUSH RPUSHX LPUSHX LPOP RPOP LLEN LRANGE LINDEX.
 * Semantics, argument order of checks and error texts follow Redis 7.0.
 *
 * A list never exists empty: popping the last element deletes the key,
 * as in Redis. A list's element bytes are capped at proto-max-bulk-len
 * (a push past it fails whole with KV_ERR_LIST_TOOBIG), so a list is never
 * bigger than the largest string, in a snapshot or in one LRANGE reply. */
#include <stdio.h>
#include <string.h>

#include "kv/kv_internal.h"

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Looks @key up for a list command: sets *e (NULL when absent) and
 * returns true, or replies WRONGTYPE and returns false. */
static bool lookup_list(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        const char *key,
                        size_t klen,
                        struct kv_entry **e,
                        struct kv_reply *out)
{
    struct kv_entry *found = kv__find(s, key, klen, ctx->now_ms);
    if (found != NULL && kv__type(found) != KV_TYPE_LIST) {
        kv__reply_err(out, KV_ERR_WRONGTYPE);
        return false;
    }
    *e = found;
    return true;
}

static void reply_elem(struct kv_reply *out,
                       const struct kv_list *l,
                       uint64_t i)
{
    size_t len;
    const char *p = kv__list_at(l, i, &len);
    kv__reply_bulk(out, p, len);
}

/* ------------------------------------------------------------------------
 * Pushes
 * ---------------------------------------------------------------------- */

static void push_generic(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out,
                         bool left,
                         bool only_existing)
{
    struct kv_entry *e;
    size_t n = (size_t)(argc - 2);
    uint64_t bytes = 0;

    if (!lookup_list(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL && only_existing) {
        kv__reply_int(out, 0);
        return;
    }
    struct kv_list *l = e != NULL ? kv__list_of(e) : NULL;
    for (size_t i = 0; i < n; i++) {
        bytes += lens[i + 2];
    }
    uint64_t have = l != NULL ? kv__list_bytes(l) : 0;
    if (ctx->max_bulk_len > 0 &&
        (bytes > ctx->max_bulk_len || have > ctx->max_bulk_len - bytes)) {
        kv__reply_err(out, KV_ERR_LIST_TOOBIG);
        return;
    }
    if (l != NULL) {
        if (kv__list_push(s, l, left, n, argv + 2, lens + 2) != 0) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return;
        }
        kv__stamp(s, e);
        kv__reply_int(out, (int64_t)kv__list_len(l));
        return;
    }
    l = kv__list_new(s);
    if (l == NULL || kv__list_push(s, l, left, n, argv + 2, lens + 2) != 0 ||
        kv__set_list(s, argv[1], lens[1], l, -1) == NULL) {
        kv__list_free(s, l);
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    kv__reply_int(out, (int64_t)n);
}

static void lpush_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    push_generic(s, ctx, argc, argv, lens, out, true, false);
}

static void rpush_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    push_generic(s, ctx, argc, argv, lens, out, false, false);
}

static void lpushx_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    push_generic(s, ctx, argc, argv, lens, out, true, true);
}

static void rpushx_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    push_generic(s, ctx, argc, argv, lens, out, false, true);
}

/* ------------------------------------------------------------------------
 * Pops
 * ---------------------------------------------------------------------- */

static void pop_generic(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        int argc,
                        const char *const *argv,
                        const size_t *lens,
                        struct kv_reply *out,
                        bool left)
{
    int64_t count = 1;
    bool has_count = argc == 3;
    struct kv_entry *e;

    if (argc > 3) {
        kv__reply_err(out, KV_ERR_ARITY);
        return;
    }
    if (has_count && (!kv__str2ll(argv[2], lens[2], &count) || count < 0)) {
        kv__reply_err(out, KV_ERR_POSITIVE);
        return;
    }
    if (!lookup_list(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        if (has_count) {
            kv__reply_nil_array(out);
        } else {
            kv__reply_nil(out);
        }
        return;
    }
    struct kv_list *l = kv__list_of(e);
    uint64_t n =
        (uint64_t)count < kv__list_len(l) ? (uint64_t)count : kv__list_len(l);
    if (!has_count) {
        reply_elem(out, l, left ? 0 : kv__list_len(l) - 1);
    } else if (n == 0) {
        (void)kv__reply_array(out, 0, false);
        return; /* Redis: nothing popped, nothing changed */
    } else {
        struct kv_reply *elems = kv__reply_array(out, (size_t)n, false);
        if (out != NULL && elems == NULL) {
            return; /* out of memory: nothing popped */
        }
        for (uint64_t i = 0; elems != NULL && i < n; i++) {
            reply_elem(&elems[i], l, left ? i : kv__list_len(l) - 1 - i);
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        kv__list_pop(s, l, left);
    }
    if (kv__list_len(l) == 0) {
        kv__del(s, argv[1], lens[1]);
    } else {
        kv__stamp(s, e);
    }
}

static void lpop_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    pop_generic(s, ctx, argc, argv, lens, out, true);
}

static void rpop_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    pop_generic(s, ctx, argc, argv, lens, out, false);
}

/* ------------------------------------------------------------------------
 * Reads
 * ---------------------------------------------------------------------- */

static void llen_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    struct kv_entry *e;
    (void)argc;
    if (!lookup_list(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    kv__reply_int(out, e != NULL ? (int64_t)kv__list_len(kv__list_of(e)) : 0);
}

static void lindex_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t idx;
    (void)argc;
    /* Redis looks the key up before parsing the index. */
    if (!lookup_list(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    if (!kv__str2ll(argv[2], lens[2], &idx)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    struct kv_list *l = kv__list_of(e);
    int64_t n = (int64_t)kv__list_len(l);
    if (idx < 0) {
        idx += n;
    }
    if (idx < 0 || idx >= n) {
        kv__reply_nil(out);
        return;
    }
    reply_elem(out, l, (uint64_t)idx);
}

static void lrange_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t start;
    int64_t stop;
    (void)argc;
    if (!kv__str2ll(argv[2], lens[2], &start) ||
        !kv__str2ll(argv[3], lens[3], &stop)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    if (!lookup_list(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        (void)kv__reply_array(out, 0, false);
        return;
    }
    struct kv_list *l = kv__list_of(e);
    int64_t n = (int64_t)kv__list_len(l);
    if (start < 0) {
        start = start < -n ? 0 : start + n;
    }
    if (stop < 0) {
        stop = stop < -n ? -1 : stop + n;
    }
    if (start > stop || start >= n) {
        (void)kv__reply_array(out, 0, false);
        return;
    }
    if (stop >= n) {
        stop = n - 1;
    }
    uint64_t count = (uint64_t)(stop - start + 1);
    /* LRANGE cannot stop half way: refuse it up front when it would
     * return more elements than the budget, as KEYS is refused. */
    if (ctx->work_budget > 0 && count > ctx->work_budget) {
        char msg[160];
        int m = snprintf(msg, sizeof msg,
                         "LRANGE would return %llu elements, more than "
                         "heavy-command-budget (%llu); ask for a smaller "
                         "range",
                         (unsigned long long)count,
                         (unsigned long long)ctx->work_budget);
        kv__reply_err_arg(out, KV_ERR_BUSY, msg, (size_t)m);
        return;
    }
    struct kv_reply *elems = kv__reply_array(out, (size_t)count, false);
    for (uint64_t i = 0; elems != NULL && i < count; i++) {
        reply_elem(&elems[i], l, (uint64_t)start + i);
    }
}

/* ------------------------------------------------------------------------
 * Table
 * ---------------------------------------------------------------------- */

const struct kv_cmd kv__list_cmds[] = {
    {"lpush", -3, W, lpush_cmd},   {"rpush", -3, W, rpush_cmd},
    {"lpushx", -3, W, lpushx_cmd}, {"rpushx", -3, W, rpushx_cmd},
    {"lpop", -2, W, lpop_cmd},     {"rpop", -2, W, rpop_cmd},
    {"llen", 2, R, llen_cmd},      {"lindex", 3, R, lindex_cmd},
    {"lrange", 4, R, lrange_cmd},  {NULL, 0, 0, NULL},
};
