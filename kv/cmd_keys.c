/* Generic key commands: existence, deletion, renaming, expiry, iteration
 * and introspection. Semantics and error texts follow Redis 7.0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static bool expired(const struct kv_entry *e, int64_t now_ms)
{
    int64_t when = kv__expire(e);
    return when != -1 && when <= now_ms;
}

/* Looks @key up for a write command. An expired key is deleted on the
 * spot (as a Redis master does): writes run at the log entry's stamp, so
 * every replica makes the same decision. Reads never do this. */
static struct kv_entry *lookup_write(struct kv_store *s,
                                     const struct kv_exec_ctx *ctx,
                                     const char *key,
                                     size_t klen)
{
    struct kv_entry *e = kv__find_raw(s, key, klen);
    if (e != NULL && expired(e, ctx->now_ms)) {
        kv__del(s, key, klen);
        return NULL;
    }
    return e;
}

static bool same_key(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* ------------------------------------------------------------------------
 * DEL, UNLINK, EXISTS, TOUCH, TYPE
 * ---------------------------------------------------------------------- */

static void del_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    int64_t n = 0;
    for (int i = 1; i < argc; i++) {
        struct kv_entry *e = kv__find_raw(s, argv[i], lens[i]);
        if (e == NULL) {
            continue;
        }
        /* An expired key goes too, but does not count as deleted. */
        if (!expired(e, ctx->now_ms)) {
            n++;
        }
        kv__del(s, argv[i], lens[i]);
    }
    kv__reply_int(out, n);
}

/* EXISTS and TOUCH: a key named twice counts twice. */
static void exists_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    int64_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (kv__find(s, argv[i], lens[i], ctx->now_ms) != NULL) {
            n++;
        }
    }
    kv__reply_int(out, n);
}

static void type_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    (void)argc;
    struct kv_entry *e = kv__find(s, argv[1], lens[1], ctx->now_ms);
    if (e == NULL) {
        kv__reply_status(out, "none");
    } else {
        kv__reply_status(out, kv__type(e) == KV_TYPE_LIST ? "list" : "string");
    }
}

/* ------------------------------------------------------------------------
 * RENAME, RENAMENX, COPY
 * ---------------------------------------------------------------------- */

static void rename_generic(struct kv_store *s,
                           const struct kv_exec_ctx *ctx,
                           const char *const *argv,
                           const size_t *lens,
                           bool nx,
                           struct kv_reply *out)
{
    if (lookup_write(s, ctx, argv[1], lens[1]) == NULL) {
        kv__reply_err(out, KV_ERR_NOKEY);
        return;
    }
    if (same_key(argv[1], lens[1], argv[2], lens[2])) {
        if (nx) {
            kv__reply_int(out, 0);
        } else {
            kv__reply_ok(out);
        }
        return;
    }
    if (nx && lookup_write(s, ctx, argv[2], lens[2]) != NULL) {
        kv__reply_int(out, 0);
        return;
    }
    if (kv__rename(s, argv[1], lens[1], argv[2], lens[2]) != 0) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    if (nx) {
        kv__reply_int(out, 1);
    } else {
        kv__reply_ok(out);
    }
}

static void rename_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    (void)argc;
    rename_generic(s, ctx, argv, lens, false, out);
}

static void renamenx_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    (void)argc;
    rename_generic(s, ctx, argv, lens, true, out);
}

/* COPY source destination [DB destination-db] [REPLACE]. Only database 0
 * exists, so any other DB index is out of range. */
static void copy_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    bool replace = false;
    for (int i = 3; i < argc; i++) {
        if (kv__eq(argv[i], lens[i], "replace")) {
            replace = true;
        } else if (kv__eq(argv[i], lens[i], "db") && i + 1 < argc) {
            int64_t db;
            i++;
            /* Redis reads the index as a C int. */
            if (!kv__str2ll(argv[i], lens[i], &db) || db < INT32_MIN ||
                db > INT32_MAX) {
                kv__reply_err(out, KV_ERR_NOTINT);
                return;
            }
            if (db != 0) {
                kv__reply_err(out, KV_ERR_DBINDEX);
                return;
            }
        } else {
            kv__reply_err(out, KV_ERR_SYNTAX);
            return;
        }
    }
    if (same_key(argv[1], lens[1], argv[2], lens[2])) {
        kv__reply_err(out, KV_ERR_SAMEOBJ);
        return;
    }
    struct kv_entry *src = lookup_write(s, ctx, argv[1], lens[1]);
    if (src == NULL) {
        kv__reply_int(out, 0);
        return;
    }
    if (lookup_write(s, ctx, argv[2], lens[2]) != NULL && !replace) {
        kv__reply_int(out, 0);
        return;
    }
    if (kv__set_copy(s, src, argv[2], lens[2], kv__expire(src)) != 0) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    kv__reply_int(out, 1);
}

/* ------------------------------------------------------------------------
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST
 * ---------------------------------------------------------------------- */

#define EXP_NX 1u
#define EXP_XX 2u
#define EXP_GT 4u
#define EXP_LT 8u

/* Parses the NX/XX/GT/LT flags at argv[3..). Redis checks them before the
 * time argument and before looking at the key. Returns false after
 * replying with the error. */
static bool parse_expire_flags(int argc,
                               const char *const *argv,
                               const size_t *lens,
                               unsigned *flags,
                               struct kv_reply *out)
{
    unsigned f = 0;
    for (int i = 3; i < argc; i++) {
        if (kv__eq(argv[i], lens[i], "nx")) {
            f |= EXP_NX;
        } else if (kv__eq(argv[i], lens[i], "xx")) {
            f |= EXP_XX;
        } else if (kv__eq(argv[i], lens[i], "gt")) {
            f |= EXP_GT;
        } else if (kv__eq(argv[i], lens[i], "lt")) {
            f |= EXP_LT;
        } else {
            kv__reply_err_arg(out, KV_ERR_BADOPTION, argv[i], lens[i]);
            return false;
        }
    }
    if ((f & EXP_NX) && (f & (EXP_XX | EXP_GT | EXP_LT))) {
        kv__reply_err(out, KV_ERR_EXPIRE_NXCOMBO);
        return false;
    }
    if ((f & EXP_GT) && (f & EXP_LT)) {
        kv__reply_err(out, KV_ERR_EXPIRE_GTLT);
        return false;
    }
    *flags = f;
    return true;
}

/* Whether the flags let a key whose expiry is @cur (-1: none) take the
 * new absolute expiry @when. No expiry counts as infinite for GT/LT. */
static bool expire_allowed(unsigned f, int64_t cur, int64_t when)
{
    if ((f & EXP_NX) && cur != -1) {
        return false;
    }
    if ((f & EXP_XX) && cur == -1) {
        return false;
    }
    if ((f & EXP_GT) && (cur == -1 || when <= cur)) {
        return false;
    }
    if ((f & EXP_LT) && cur != -1 && when >= cur) {
        return false;
    }
    return true;
}

/* The four EXPIRE variants. @relative: the time counts from now_ms;
 * @seconds: it is in seconds rather than milliseconds. */
static void expire_generic(struct kv_store *s,
                           const struct kv_exec_ctx *ctx,
                           int argc,
                           const char *const *argv,
                           const size_t *lens,
                           bool relative,
                           bool seconds,
                           struct kv_reply *out)
{
    unsigned f;
    int64_t when;

    if (!parse_expire_flags(argc, argv, lens, &f, out)) {
        return;
    }
    if (!kv__str2ll(argv[2], lens[2], &when)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    /* Negative times are allowed (they delete the key), but a unit
     * conversion or base addition that overflows is an error. */
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
            kv__reply_err(out, KV_ERR_BADEXPIRE);
            return;
        }
        when *= 1000;
    }
    if (relative) {
        int64_t base = ctx->now_ms;
        if ((base > 0 && when > INT64_MAX - base) ||
            (base < 0 && when < INT64_MIN - base)) {
            kv__reply_err(out, KV_ERR_BADEXPIRE);
            return;
        }
        when += base;
    }
    struct kv_entry *e = lookup_write(s, ctx, argv[1], lens[1]);
    if (e == NULL || !expire_allowed(f, kv__expire(e), when)) {
        kv__reply_int(out, 0);
        return;
    }
    if (when <= ctx->now_ms || when == -1) {
        /* Already in the past: the key goes now. (-1 is the "no expiry"
         * mark and can only be in the past for a sane clock.) */
        kv__del(s, argv[1], lens[1]);
    } else {
        kv__set_expire(s, e, when);
    }
    kv__reply_int(out, 1);
}

static void expire_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    expire_generic(s, ctx, argc, argv, lens, true, true, out);
}

static void pexpire_cmd(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        int argc,
                        const char *const *argv,
                        const size_t *lens,
                        struct kv_reply *out)
{
    expire_generic(s, ctx, argc, argv, lens, true, false, out);
}

static void expireat_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    expire_generic(s, ctx, argc, argv, lens, false, true, out);
}

static void pexpireat_cmd(struct kv_store *s,
                          const struct kv_exec_ctx *ctx,
                          int argc,
                          const char *const *argv,
                          const size_t *lens,
                          struct kv_reply *out)
{
    expire_generic(s, ctx, argc, argv, lens, false, false, out);
}

static void persist_cmd(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        int argc,
                        const char *const *argv,
                        const size_t *lens,
                        struct kv_reply *out)
{
    (void)argc;
    struct kv_entry *e = lookup_write(s, ctx, argv[1], lens[1]);
    if (e == NULL || kv__expire(e) == -1) {
        kv__reply_int(out, 0);
        return;
    }
    kv__set_expire(s, e, -1);
    kv__reply_int(out, 1);
}

/* ------------------------------------------------------------------------
 * TTL, PTTL, EXPIRETIME, PEXPIRETIME
 * ---------------------------------------------------------------------- */

/* -2 for a missing key, -1 for no expiry, else the remaining (or, with
 * @absolute, the absolute) time, in ms or rounded to seconds. */
static void ttl_generic(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        const char *const *argv,
                        const size_t *lens,
                        bool ms,
                        bool absolute,
                        struct kv_reply *out)
{
    struct kv_entry *e = kv__find(s, argv[1], lens[1], ctx->now_ms);
    if (e == NULL) {
        kv__reply_int(out, -2);
        return;
    }
    int64_t when = kv__expire(e);
    if (when == -1) {
        kv__reply_int(out, -1);
        return;
    }
    int64_t t = when;
    if (!absolute) {
        /* when > now_ms here; saturate if the difference overflows. */
        t = (ctx->now_ms < 0 && when > INT64_MAX + ctx->now_ms)
                ? INT64_MAX
                : when - ctx->now_ms;
    }
    if (t < 0) {
        t = 0;
    }
    kv__reply_int(out, ms ? t : t / 1000 + (t % 1000 >= 500 ? 1 : 0));
}

static void ttl_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    (void)argc;
    ttl_generic(s, ctx, argv, lens, false, false, out);
}

static void pttl_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    (void)argc;
    ttl_generic(s, ctx, argv, lens, true, false, out);
}

static void expiretime_cmd(struct kv_store *s,
                           const struct kv_exec_ctx *ctx,
                           int argc,
                           const char *const *argv,
                           const size_t *lens,
                           struct kv_reply *out)
{
    (void)argc;
    ttl_generic(s, ctx, argv, lens, false, true, out);
}

static void pexpiretime_cmd(struct kv_store *s,
                            const struct kv_exec_ctx *ctx,
                            int argc,
                            const char *const *argv,
                            const size_t *lens,
                            struct kv_reply *out)
{
    (void)argc;
    ttl_generic(s, ctx, argv, lens, true, true, out);
}

/* ------------------------------------------------------------------------
 * KEYS, SCAN
 * ---------------------------------------------------------------------- */

/* Keys gathered by a KEYS or SCAN walk: views into the store, valid while
 * the command runs (neither command modifies the store). */
struct key_list
{
    const char **keys; /* owned array of borrowed key pointers */
    size_t *lens;      /* owned */
    size_t n;          /* keys gathered */
    size_t cap;        /* slots allocated */
    bool oom;          /* an append failed */
};

static void key_list_push(struct key_list *l, const char *k, size_t len)
{
    if (l->oom) {
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 16 : l->cap * 2;
        const char **keys = realloc(l->keys, cap * sizeof(*keys));
        if (keys == NULL) {
            l->oom = true;
            return;
        }
        l->keys = keys;
        size_t *lens = realloc(l->lens, cap * sizeof(*lens));
        if (lens == NULL) {
            l->oom = true;
            return;
        }
        l->lens = lens;
        l->cap = cap;
    }
    l->keys[l->n] = k;
    l->lens[l->n] = len;
    l->n++;
}

static void key_list_fini(struct key_list *l)
{
    free(l->keys);
    free(l->lens);
}

/* Fills @out (an array reply, or one of its elements) with the keys of
 * @l, in order. */
static void reply_key_list(struct kv_reply *out, const struct key_list *l)
{
    if (l->oom) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    struct kv_reply *elems = kv__reply_array(out, l->n, false);
    if (elems == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        kv__reply_bulk(&elems[i], l->keys[i], l->lens[i]);
        if (elems[i].type == KV_REPLY_ERROR) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return;
        }
    }
}

/* What a walk keeps: live keys matching the pattern and type filter. */
struct key_filter
{
    struct key_list list; /* the result */
    int64_t now_ms;       /* keys expired at this time are skipped */
    const char *pat;      /* glob pattern, NULL for all */
    size_t plen;          /* bytes in pat */
    bool type_ok;         /* false: a TYPE filter excludes every key */
    int type;             /* enum kv_type to keep, 0: any */
    size_t visited;       /* entries seen, kept or not (SCAN's COUNT) */
};

static void filter_cb(void *arg, struct kv_entry *e)
{
    struct key_filter *f = arg;
    size_t klen;
    const char *k = kv__key(e, &klen);

    f->visited++;
    if (!f->type_ok || expired(e, f->now_ms) ||
        (f->type != 0 && (int)kv__type(e) != f->type)) {
        return;
    }
    if (f->pat != NULL && !kv__glob_match(f->pat, f->plen, k, klen, false)) {
        return;
    }
    key_list_push(&f->list, k, klen);
}

/* A pattern of a single '*' matches everything: skip the matcher. */
static void set_pattern(struct key_filter *f, const char *pat, size_t plen)
{
    if (plen == 1 && pat[0] == '*') {
        f->pat = NULL;
    } else {
        f->pat = pat;
        f->plen = plen;
    }
}

static void keys_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    (void)argc;
    struct key_filter f = {.now_ms = ctx->now_ms, .type_ok = true};

    /* Followers build no replies, and KEYS has no other effect. */
    if (out == NULL) {
        return;
    }
    /* KEYS cannot stop half way: refuse it up front when the keyspace is
     * larger than the budget, so one client cannot hold the loop. */
    if (ctx->work_budget > 0 && kv_store_size(s) > ctx->work_budget) {
        char msg[160];
        int n =
            snprintf(msg, sizeof msg,
                     "KEYS would examine %zu keys, more than "
                     "heavy-command-budget (%llu); use SCAN",
                     kv_store_size(s), (unsigned long long)ctx->work_budget);
        kv__reply_err_arg(out, KV_ERR_BUSY, msg, (size_t)n);
        return;
    }
    set_pattern(&f, argv[1], lens[1]);
    kv__foreach(s, filter_cb, &f);
    reply_key_list(out, &f.list);
    key_list_fini(&f.list);
}

/* Parses a SCAN cursor as Redis does with strtoul: an optional sign (a
 * minus negates modulo 2^64), decimal digits, no leading space, no
 * overflow; the empty string is cursor 0. */
static bool parse_cursor(const char *p, size_t len, uint64_t *cursor)
{
    size_t i = 0;
    bool negative = false;
    uint64_t v = 0;

    if (len == 0) {
        *cursor = 0;
        return true;
    }
    if (p[0] == '+' || p[0] == '-') {
        negative = p[0] == '-';
        i = 1;
        if (len == 1) {
            return false;
        }
    }
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    *cursor = negative ? (uint64_t)0 - v : v;
    return true;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. COUNT bounds the
 * keys looked at (before filtering, as in Redis); ctx->scan_max_count
 * caps it. Like Redis, at most 10*COUNT steps are taken per call. */
static void scan_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    struct key_filter f = {.now_ms = ctx->now_ms, .type_ok = true};
    uint64_t cursor;
    int64_t count = 10;

    if (!parse_cursor(argv[1], lens[1], &cursor)) {
        kv__reply_err(out, KV_ERR_CURSOR);
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        bool has_value = i + 1 < argc;
        if (has_value && kv__eq(argv[i], lens[i], "count")) {
            if (!kv__str2ll(argv[i + 1], lens[i + 1], &count)) {
                kv__reply_err(out, KV_ERR_NOTINT);
                return;
            }
            if (count < 1) {
                kv__reply_err(out, KV_ERR_SYNTAX);
                return;
            }
        } else if (has_value && kv__eq(argv[i], lens[i], "match")) {
            set_pattern(&f, argv[i + 1], lens[i + 1]);
        } else if (has_value && kv__eq(argv[i], lens[i], "type")) {
            /* Redis 7.0 accepts any name and simply matches nothing for
             * a type it has no key of. */
            if (kv__eq(argv[i + 1], lens[i + 1], "string")) {
                f.type = KV_TYPE_STRING;
            } else if (kv__eq(argv[i + 1], lens[i + 1], "list")) {
                f.type = KV_TYPE_LIST;
            } else {
                f.type_ok = false;
            }
        } else {
            kv__reply_err(out, KV_ERR_SYNTAX);
            return;
        }
    }
    if (out == NULL) {
        return;
    }
    size_t want = (size_t)count;
    if (ctx->scan_max_count > 0 && want > ctx->scan_max_count) {
        want = ctx->scan_max_count;
    }
    /* COUNT is a hint: past the budget SCAN returns sooner, with a cursor
     * to continue from, as Redis may. */
    if (ctx->work_budget > 0 && want > ctx->work_budget) {
        want = (size_t)ctx->work_budget;
    }
    size_t steps = want > SIZE_MAX / 10 ? SIZE_MAX : want * 10;
    do {
        cursor = kv__scan(s, cursor, filter_cb, &f);
    } while (cursor != 0 && --steps > 0 && f.visited < want);

    struct kv_reply *elems = kv__reply_array(out, 2, false);
    if (elems != NULL) {
        char buf[24];
        size_t n = 0;
        char *p = buf + sizeof(buf);
        do {
            *--p = (char)('0' + (int)(cursor % 10));
            cursor /= 10;
            n++;
        } while (cursor != 0);
        kv__reply_bulk(&elems[0], p, n);
        reply_key_list(&elems[1], &f.list);
        if (elems[0].type == KV_REPLY_ERROR ||
            elems[1].type == KV_REPLY_ERROR) {
            kv__reply_err(out, KV_ERR_NOMEM);
        }
    }
    key_list_fini(&f.list);
}

/* ------------------------------------------------------------------------
 * RANDOMKEY
 * ---------------------------------------------------------------------- */

struct first_live
{
    int64_t now_ms;         /* keys expired at this time do not count */
    struct kv_entry *found; /* the first live entry seen, or NULL */
};

static void first_live_cb(void *arg, struct kv_entry *e)
{
    struct first_live *f = arg;
    if (f->found == NULL && !expired(e, f->now_ms)) {
        f->found = e;
    }
}

static void randomkey_cmd(struct kv_store *s,
                          const struct kv_exec_ctx *ctx,
                          int argc,
                          const char *const *argv,
                          const size_t *lens,
                          struct kv_reply *out)
{
    (void)argc;
    (void)argv;
    (void)lens;
    uint64_t rng = ctx->random;
    struct kv_entry *e = NULL;

    /* Random picks skip expired keys; if they keep landing on expired
     * ones, a walk finds a live key if there is any. */
    for (int tries = 0; tries < 100; tries++) {
        e = kv__random(s, &rng);
        if (e == NULL || !expired(e, ctx->now_ms)) {
            break;
        }
    }
    if (e != NULL && expired(e, ctx->now_ms)) {
        struct first_live f = {ctx->now_ms, NULL};
        kv__foreach(s, first_live_cb, &f);
        e = f.found;
    }
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    size_t klen;
    const char *k = kv__key(e, &klen);
    kv__reply_bulk(out, k, klen);
}

/* ------------------------------------------------------------------------
 * OBJECT
 * ---------------------------------------------------------------------- */

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store "
    "the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned "
    "integer is",
    "    proportional to the logarithm of the recent access frequency of the "
    "key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number "
    "of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the "
    "specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

/* Redis shares the objects of the integers 0..9999 and reports them with
 * this reference count. */
#define SHARED_REFCOUNT 2147483647
#define SHARED_INTS     10000

static void object_key(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       const char *sub,
                       size_t sublen,
                       const char *key,
                       size_t klen,
                       struct kv_reply *out)
{
    struct kv_entry *e = kv__find(s, key, klen, ctx->now_ms);
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    if (kv__eq(sub, sublen, "encoding") && kv__type(e) == KV_TYPE_LIST) {
        kv__reply_bulk(out, "quicklist", 9); /* Redis 7.0: every list */
    } else if (kv__eq(sub, sublen, "encoding")) {
        static const char *const names[] = {"", "int", "embstr", "raw"};
        kv__reply_bulk(out, names[kv__enc(e)], strlen(names[kv__enc(e)]));
    } else if (kv__eq(sub, sublen, "refcount")) {
        int64_t v;
        bool shared = kv__int(e, &v) && v >= 0 && v < SHARED_INTS;
        kv__reply_int(out, shared ? SHARED_REFCOUNT : 1);
    } else if (kv__eq(sub, sublen, "idletime")) {
        /* Access times would make reads modify state; none are kept. */
        kv__reply_int(out, 0);
    } else {
        /* FREQ: there is no LFU policy. */
        kv__reply_err(out, KV_ERR_NOLFU);
    }
}

static void object_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    const char *sub = argv[1];
    size_t sublen = lens[1];
    char name[32] = "object|";

    if (kv__eq(sub, sublen, "help")) {
        if (argc != 2) {
            kv__reply_err_arg(out, KV_ERR_ARITY, "object|help", 11);
            return;
        }
        size_t n = sizeof(object_help) / sizeof(object_help[0]);
        struct kv_reply *elems = kv__reply_array(out, n, false);
        for (size_t i = 0; elems != NULL && i < n; i++) {
            kv__reply_status(&elems[i], object_help[i]);
        }
        return;
    }
    static const char *const subs[] = {"encoding", "refcount", "idletime",
                                       "freq"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (!kv__eq(sub, sublen, subs[i])) {
            continue;
        }
        if (argc != 3) {
            /* Redis names the subcommand in lower case: object|encoding. */
            size_t l = strlen(subs[i]);
            memcpy(name + 7, subs[i], l);
            kv__reply_err_arg(out, KV_ERR_ARITY, name, 7 + l);
            return;
        }
        object_key(s, ctx, sub, sublen, argv[2], lens[2], out);
        return;
    }
    kv__reply_err_arg(out, KV_ERR_SUBCOMMAND, sub, sublen);
}

/* ------------------------------------------------------------------------
 * DBSIZE, FLUSHDB, FLUSHALL
 * ---------------------------------------------------------------------- */

static void dbsize_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    (void)lens;
    /* Like Redis, this counts expired keys not yet removed. */
    kv__reply_int(out, (int64_t)kv_store_size(s));
}

/* FLUSHDB and FLUSHALL [ASYNC|SYNC]: one database, so they are the same;
 * the mode does not matter to the result. */
static void flush_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    (void)ctx;
    if (argc > 2 || (argc == 2 && !kv__eq(argv[1], lens[1], "sync") &&
                     !kv__eq(argv[1], lens[1], "async"))) {
        kv__reply_err(out, KV_ERR_SYNTAX);
        return;
    }
    kv_store_clear(s);
    kv__reply_ok(out);
}

/* ------------------------------------------------------------------------
 * Table
 * ---------------------------------------------------------------------- */

#define W KV_CMD_WRITE
#define R KV_CMD_READONLY

const struct kv_cmd kv__key_cmds[] = {
    {"del", -2, W, del_cmd},
    {"unlink", -2, W, del_cmd},
    {"exists", -2, R, exists_cmd},
    {"touch", -2, R, exists_cmd},
    {"type", 2, R, type_cmd},
    {"rename", 3, W, rename_cmd},
    {"renamenx", 3, W, renamenx_cmd},
    {"copy", -3, W, copy_cmd},
    {"expire", -3, W, expire_cmd},
    {"pexpire", -3, W, pexpire_cmd},
    {"expireat", -3, W, expireat_cmd},
    {"pexpireat", -3, W, pexpireat_cmd},
    {"persist", 2, W, persist_cmd},
    {"ttl", 2, R, ttl_cmd},
    {"pttl", 2, R, pttl_cmd},
    {"expiretime", 2, R, expiretime_cmd},
    {"pexpiretime", 2, R, pexpiretime_cmd},
    {"keys", 2, R, keys_cmd},
    {"scan", -2, R, scan_cmd},
    {"randomkey", 1, R, randomkey_cmd},
    {"object", -2, R, object_cmd},
    {"dbsize", 1, R, dbsize_cmd},
    {"flushdb", -1, W, flush_cmd},
    {"flushall", -1, W, flush_cmd},
    {NULL, 0, 0, NULL},
};
