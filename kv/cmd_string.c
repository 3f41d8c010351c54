/* String commands: GET/SET and their variants, MGET/MSET, lengths and
 * ranges. */
#include <stdint.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* kv_internal.h: a WRONGTYPE-checked lookup for the string and bit
 * command files. */
bool kv__lookup_string(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       const char *key,
                       size_t klen,
                       struct kv_entry **e,
                       struct kv_reply *out)
{
    struct kv_entry *found = kv__find(s, key, klen, ctx->now_ms);

    if (found != NULL && kv__type(found) != KV_TYPE_STRING) {
        kv__reply_err(out, KV_ERR_WRONGTYPE);
        return false;
    }
    *e = found;
    return true;
}

/* Replies with the bytes of string entry @e (a copy: the reply outlives
 * the entry's view). */
static void reply_value(struct kv_reply *out, const struct kv_entry *e)
{
    char tmp[32];
    size_t len;
    const char *p = kv__str(e, &len, tmp);

    kv__reply_bulk(out, p, len);
}

/* Parses a strict decimal int64 argument. Returns 0 or KV_ERR_NOTINT. */
static int parse_ll(const char *arg, size_t len, int64_t *v)
{
    return kv__str2ll(arg, len, v) ? 0 : KV_ERR_NOTINT;
}

/* ------------------------------------------------------------------------
 * Expiry arguments (SET, SETEX, PSETEX, GETEX)
 * ---------------------------------------------------------------------- */

/* Turns the argument of EX/PX/EXAT/PXAT into an absolute time in ms.
 * @seconds: the unit is seconds (EX, EXAT, SETEX); @relative: the value
 * counts from @now_ms (EX, PX, SETEX, PSETEX). Redis rejects values <= 0,
 * values whose conversion to ms overflows and results <= 0 with "invalid
 * expire time"; a non-integer is "not an integer". Returns 0,
 * KV_ERR_NOTINT or KV_ERR_BADEXPIRE; *abs_ms is written only on success. */
static int parse_expire(const char *arg,
                        size_t len,
                        bool seconds,
                        bool relative,
                        int64_t now_ms,
                        int64_t *abs_ms)
{
    int64_t v;

    if (!kv__str2ll(arg, len, &v)) {
        return KV_ERR_NOTINT;
    }
    if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
        return KV_ERR_BADEXPIRE;
    }
    if (seconds) {
        v *= 1000;
    }
    if (relative) {
        /* Redis adds the clock and rejects a sum that wrapped; here the
         * overflow is detected before it can happen. */
        if ((now_ms > 0 && v > INT64_MAX - now_ms) ||
            (now_ms < 0 && v < INT64_MIN - now_ms)) {
            return KV_ERR_BADEXPIRE;
        }
        v += now_ms;
    }
    if (v <= 0) {
        return KV_ERR_BADEXPIRE;
    }
    *abs_ms = v;
    return 0;
}

#define OPT_NX      (1u << 0)
#define OPT_XX      (1u << 1)
#define OPT_GET     (1u << 2)
#define OPT_KEEPTTL (1u << 3)
#define OPT_PERSIST (1u << 4)
#define OPT_EX      (1u << 5)
#define OPT_PX      (1u << 6)
#define OPT_EXAT    (1u << 7)
#define OPT_PXAT    (1u << 8)
#define OPT_EXPIRES (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

struct str_opts
{
    unsigned flags; /* OPT_* */
    int expire_arg; /* argv index of the EX/PX/EXAT/PXAT value, or 0 */
};

/* Parses the options of SET (@getex false) or GETEX (@getex true) from
 * argv[first..argc). Follows Redis's acceptance rules: NX and XX exclude
 * each other, the four expiry forms exclude each other and KEEPTTL/PERSIST
 * (repeating the same one is allowed, the last value wins), NX/XX/GET/
 * KEEPTTL belong to SET only and PERSIST to GETEX only. Anything else is a
 * syntax error. Returns 0 or KV_ERR_SYNTAX. */
static int parse_str_opts(int argc,
                          const char *const *argv,
                          const size_t *lens,
                          int first,
                          bool getex,
                          struct str_opts *o)
{
    unsigned f = 0;
    int expire_arg = 0;

    for (int j = first; j < argc; j++) {
        const char *a = argv[j];
        size_t n = lens[j];
        bool has_next = j + 1 < argc;
        unsigned form = 0;

        if (!getex && kv__eq(a, n, "nx") && !(f & OPT_XX)) {
            f |= OPT_NX;
        } else if (!getex && kv__eq(a, n, "xx") && !(f & OPT_NX)) {
            f |= OPT_XX;
        } else if (!getex && kv__eq(a, n, "get")) {
            f |= OPT_GET;
        } else if (!getex && kv__eq(a, n, "keepttl") &&
                   !(f & (OPT_PERSIST | OPT_EXPIRES))) {
            f |= OPT_KEEPTTL;
        } else if (getex && kv__eq(a, n, "persist") &&
                   !(f & (OPT_KEEPTTL | OPT_EXPIRES))) {
            f |= OPT_PERSIST;
        } else if (kv__eq(a, n, "ex")) {
            form = OPT_EX;
        } else if (kv__eq(a, n, "px")) {
            form = OPT_PX;
        } else if (kv__eq(a, n, "exat")) {
            form = OPT_EXAT;
        } else if (kv__eq(a, n, "pxat")) {
            form = OPT_PXAT;
        } else {
            return KV_ERR_SYNTAX;
        }
        if (form != 0) {
            unsigned excluded =
                (OPT_EXPIRES & ~form) | OPT_KEEPTTL | OPT_PERSIST;
            if ((f & excluded) || !has_next) {
                return KV_ERR_SYNTAX;
            }
            f |= form;
            expire_arg = ++j;
        }
    }
    o->flags = f;
    o->expire_arg = expire_arg;
    return 0;
}

/* Resolves the expiry option in @o (if any) to an absolute time, or -1.
 * Returns 0 or the error of parse_expire. */
static int opts_expire(const struct str_opts *o,
                       const char *const *argv,
                       const size_t *lens,
                       int64_t now_ms,
                       int64_t *abs_ms)
{
    int j = o->expire_arg;

    if (j == 0) {
        *abs_ms = -1;
        return 0;
    }
    return parse_expire(argv[j], lens[j], (o->flags & (OPT_EX | OPT_EXAT)),
                        (o->flags & (OPT_EX | OPT_PX)), now_ms, abs_ms);
}

/* ------------------------------------------------------------------------
 * SET and its variants
 * ---------------------------------------------------------------------- */

/* What a SET variant replies when it writes and when NX/XX stops it. */
enum set_reply {
    SET_REPLY_OK_NIL,  /* SET, SETEX, PSETEX: +OK / nil */
    SET_REPLY_ONE_ZERO /* SETNX: 1 / 0 */
};

/* The worker of SET, SETNX, SETEX, PSETEX and GETSET. @flags: OPT_NX,
 * OPT_XX, OPT_GET, OPT_KEEPTTL; @expire_ms: absolute expiry or -1.
 * Arguments are validated by the caller. With OPT_GET the old value (or
 * nil) is the reply, whether or not the write happens, and a key of
 * another type fails the command before anything changes. A write whose
 * expiry is already due removes the key, as Redis 7 does. */
static void set_generic(struct kv_store *s,
                        const struct kv_exec_ctx *ctx,
                        const char *key,
                        size_t klen,
                        const char *val,
                        size_t vlen,
                        unsigned flags,
                        int64_t expire_ms,
                        enum set_reply style,
                        struct kv_reply *out)
{
    struct kv_entry *e = kv__find(s, key, klen, ctx->now_ms);
    bool found = e != NULL;

    if (flags & OPT_GET) {
        if (e != NULL && kv__type(e) != KV_TYPE_STRING) {
            kv__reply_err(out, KV_ERR_WRONGTYPE);
            return;
        }
        if (e != NULL) {
            reply_value(out, e);
        } else {
            kv__reply_nil(out);
        }
    }
    if (((flags & OPT_NX) && found) || ((flags & OPT_XX) && !found)) {
        if (flags & OPT_GET) {
            return;
        }
        if (style == SET_REPLY_ONE_ZERO) {
            kv__reply_int(out, 0);
        } else {
            kv__reply_nil(out);
        }
        return;
    }
    if (expire_ms != -1 && expire_ms <= ctx->now_ms) {
        kv__del(s, key, klen);
    } else if (kv__set_str(s, key, klen, val, vlen, expire_ms,
                           (flags & OPT_KEEPTTL) != 0, ctx->now_ms) != 0) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    if (flags & OPT_GET) {
        return;
    }
    if (style == SET_REPLY_ONE_ZERO) {
        kv__reply_int(out, 1);
    } else {
        kv__reply_ok(out);
    }
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts-ms|KEEPTTL] */
static void set_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    struct str_opts o;
    int64_t expire_ms;
    int rv = parse_str_opts(argc, argv, lens, 3, false, &o);

    if (rv == 0) {
        rv = opts_expire(&o, argv, lens, ctx->now_ms, &expire_ms);
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    set_generic(s, ctx, argv[1], lens[1], argv[2], lens[2],
                o.flags & (OPT_NX | OPT_XX | OPT_GET | OPT_KEEPTTL), expire_ms,
                SET_REPLY_OK_NIL, out);
}

/* SETNX key value */
static void setnx_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    (void)argc;
    set_generic(s, ctx, argv[1], lens[1], argv[2], lens[2], OPT_NX, -1,
                SET_REPLY_ONE_ZERO, out);
}

/* SETEX key seconds value and PSETEX key milliseconds value. */
static void setex_generic(struct kv_store *s,
                          const struct kv_exec_ctx *ctx,
                          const char *const *argv,
                          const size_t *lens,
                          bool seconds,
                          struct kv_reply *out)
{
    int64_t expire_ms;
    int rv =
        parse_expire(argv[2], lens[2], seconds, true, ctx->now_ms, &expire_ms);

    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    set_generic(s, ctx, argv[1], lens[1], argv[3], lens[3], 0, expire_ms,
                SET_REPLY_OK_NIL, out);
}

static void setex_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    (void)argc;
    setex_generic(s, ctx, argv, lens, true, out);
}

static void psetex_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    (void)argc;
    setex_generic(s, ctx, argv, lens, false, out);
}

/* GETSET key value: SET key value GET (the TTL is cleared). */
static void getset_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    (void)argc;
    set_generic(s, ctx, argv[1], lens[1], argv[2], lens[2], OPT_GET, -1,
                SET_REPLY_OK_NIL, out);
}

/* ------------------------------------------------------------------------
 * GET and its variants
 * ---------------------------------------------------------------------- */

/* GET key */
static void get_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    struct kv_entry *e;

    (void)argc;
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    reply_value(out, e);
}

/* GETDEL key */
static void getdel_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;

    (void)argc;
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    reply_value(out, e);
    kv__del(s, argv[1], lens[1]);
}

/* GETEX key [EX s|PX ms|EXAT ts|PXAT ts-ms|PERSIST]. As in Redis 7.0, the
 * expiry value is parsed only once the key is known to exist, so a bad
 * value on a missing key still replies nil. */
static void getex_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    struct str_opts o;
    struct kv_entry *e;
    int64_t expire_ms;
    int rv = parse_str_opts(argc, argv, lens, 2, true, &o);

    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_nil(out);
        return;
    }
    rv = opts_expire(&o, argv, lens, ctx->now_ms, &expire_ms);
    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    reply_value(out, e);
    if (expire_ms != -1 && expire_ms <= ctx->now_ms) {
        kv__del(s, argv[1], lens[1]);
    } else if (expire_ms != -1) {
        kv__set_expire(s, e, expire_ms);
    } else if ((o.flags & OPT_PERSIST) && kv__expire(e) != -1) {
        /* As Redis: only a removed expiry counts as a change (WATCH). */
        kv__set_expire(s, e, -1);
    }
}

/* ------------------------------------------------------------------------
 * Multi-key commands
 * ---------------------------------------------------------------------- */

/* MGET key [key ...]: nil for missing keys and keys of other types. */
static void mget_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    struct kv_reply *elems;

    if (out == NULL) {
        return; /* A read: nothing to do without a reply. */
    }
    elems = kv__reply_array(out, (size_t)(argc - 1), false);
    if (elems == NULL) {
        return;
    }
    for (int j = 1; j < argc; j++) {
        struct kv_entry *e = kv__find(s, argv[j], lens[j], ctx->now_ms);
        if (e != NULL && kv__type(e) == KV_TYPE_STRING) {
            reply_value(&elems[j - 1], e);
            if (elems[j - 1].type == KV_REPLY_ERROR) {
                kv__reply_err(out, KV_ERR_NOMEM);
                return;
            }
        }
    }
}

/* MSET/MSETNX key value [key value ...]. With @nx nothing is written if
 * any key exists, and the reply is 1/0. The keys lose any TTL. If memory
 * runs out part way, the pairs before the failing one stay written (the
 * store has no undo) and the reply is the OOM error. */
static void mset_generic(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         bool nx,
                         struct kv_reply *out)
{
    if (argc % 2 == 0) {
        kv__reply_err(out, KV_ERR_ARITY);
        return;
    }
    if (nx) {
        for (int j = 1; j < argc; j += 2) {
            if (kv__find(s, argv[j], lens[j], ctx->now_ms) != NULL) {
                kv__reply_int(out, 0);
                return;
            }
        }
    }
    for (int j = 1; j < argc; j += 2) {
        if (kv__set_str(s, argv[j], lens[j], argv[j + 1], lens[j + 1], -1,
                        false, ctx->now_ms) != 0) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return;
        }
    }
    if (nx) {
        kv__reply_int(out, 1);
    } else {
        kv__reply_ok(out);
    }
}

static void mset_cmd(struct kv_store *s,
                     const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct kv_reply *out)
{
    mset_generic(s, ctx, argc, argv, lens, false, out);
}

static void msetnx_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    mset_generic(s, ctx, argc, argv, lens, true, out);
}

/* ------------------------------------------------------------------------
 * Lengths and ranges
 * ---------------------------------------------------------------------- */

/* APPEND key value: the result may not exceed ctx->max_bulk_len. Appending
 * to an existing key makes it raw-encoded (Redis unshares the value); a
 * new key gets the encoding its bytes call for. The TTL is kept. */
static void append_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    char tmp[32];
    size_t olen;
    char *p;

    (void)argc;
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        if (kv__set_str(s, argv[1], lens[1], argv[2], lens[2], -1, false,
                        ctx->now_ms) != 0) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return;
        }
        kv__reply_int(out, (int64_t)lens[2]);
        return;
    }
    (void)kv__str(e, &olen, tmp);
    if ((uint64_t)lens[2] > ctx->max_bulk_len ||
        (uint64_t)olen > ctx->max_bulk_len - (uint64_t)lens[2]) {
        kv__reply_err(out, KV_ERR_TOOBIG);
        return;
    }
    p = kv__str_resize(s, e, olen + lens[2]);
    if (p == NULL) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    if (lens[2] > 0) {
        memcpy(p + olen, argv[2], lens[2]);
    }
    kv__reply_int(out, (int64_t)(olen + lens[2]));
}

/* STRLEN key */
static void strlen_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    char tmp[32];
    size_t len = 0;

    (void)argc;
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e != NULL) {
        (void)kv__str(e, &len, tmp);
    }
    kv__reply_int(out, (int64_t)len);
}

/* GETRANGE key start end (and its old name SUBSTR). Negative indexes
 * count from the end; the range is clamped to the string, and an empty
 * range (or a missing key) gives an empty string. */
static void getrange_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t start;
    int64_t end;
    int64_t slen;
    char tmp[32];
    size_t len;
    const char *p;
    int rv;

    (void)argc;
    rv = parse_ll(argv[2], lens[2], &start);
    if (rv == 0) {
        rv = parse_ll(argv[3], lens[3], &end);
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_bulk(out, "", 0);
        return;
    }
    /* Redis 7.0 answers two negative indexes in the wrong order with an
     * empty string before clamping them (clamping would give the first
     * character). */
    if (start < 0 && end < 0 && start > end) {
        kv__reply_bulk(out, "", 0);
        return;
    }
    p = kv__str(e, &len, tmp);
    slen = (int64_t)len;
    /* Both adjustments add a non-negative length to a negative index, so
     * neither can overflow. */
    if (start < 0) {
        start = slen + start;
    }
    if (end < 0) {
        end = slen + end;
    }
    if (start < 0) {
        start = 0;
    }
    if (end < 0) {
        end = 0;
    }
    if (end >= slen) {
        end = slen - 1;
    }
    if (slen == 0 || start > end) {
        kv__reply_bulk(out, "", 0);
        return;
    }
    kv__reply_bulk(out, p + start, (size_t)(end - start + 1));
}

/* SETRANGE key offset value: overwrites from @offset, zero-padding a
 * shorter string. The end may not pass ctx->max_bulk_len. An empty value
 * changes nothing (not even creating the key) and replies the length. */
static void setrange_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t offset;
    size_t vlen = lens[3];
    size_t olen = 0;
    size_t newlen;
    bool created = false;
    char tmp[32];
    char *p;

    (void)argc;
    if (!kv__str2ll(argv[2], lens[2], &offset)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    if (offset < 0) {
        kv__reply_err(out, KV_ERR_OFFSET);
        return;
    }
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e != NULL) {
        (void)kv__str(e, &olen, tmp);
    }
    if (vlen == 0) {
        kv__reply_int(out, (int64_t)olen);
        return;
    }
    if ((uint64_t)offset > ctx->max_bulk_len ||
        (uint64_t)vlen > ctx->max_bulk_len - (uint64_t)offset) {
        kv__reply_err(out, KV_ERR_TOOBIG);
        return;
    }
    newlen = (size_t)offset + vlen;
    if (newlen < olen) {
        newlen = olen;
    }
    if (e == NULL) {
        /* Redis creates the key raw, zero-filled: start from an empty
         * string and grow it, undoing the creation if growing fails. */
        if (kv__set_str(s, argv[1], lens[1], "", 0, -1, false, ctx->now_ms) !=
            0) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return;
        }
        created = true;
        e = kv__find(s, argv[1], lens[1], ctx->now_ms);
    }
    p = e != NULL ? kv__str_resize(s, e, newlen) : NULL;
    if (p == NULL) {
        if (created) {
            kv__del(s, argv[1], lens[1]);
        }
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    memcpy(p + offset, argv[3], vlen);
    kv__reply_int(out, (int64_t)newlen);
}

/* ------------------------------------------------------------------------
 * Command table. Flags and arities as Redis 7 declares them. The counters
 * live in cmd_counter.c and LCS in cmd_lcs.c (file size budget).
 * ---------------------------------------------------------------------- */

const struct kv_cmd kv__string_cmds[] = {
    {"get", 2, KV_CMD_READONLY, get_cmd},
    {"set", -3, KV_CMD_WRITE, set_cmd},
    {"setnx", 3, KV_CMD_WRITE, setnx_cmd},
    {"setex", 4, KV_CMD_WRITE, setex_cmd},
    {"psetex", 4, KV_CMD_WRITE, psetex_cmd},
    {"getset", 3, KV_CMD_WRITE, getset_cmd},
    {"getdel", 2, KV_CMD_WRITE, getdel_cmd},
    {"getex", -2, KV_CMD_WRITE, getex_cmd},
    {"mget", -2, KV_CMD_READONLY, mget_cmd},
    {"mset", -3, KV_CMD_WRITE, mset_cmd},
    {"msetnx", -3, KV_CMD_WRITE, msetnx_cmd},
    {"append", 3, KV_CMD_WRITE, append_cmd},
    {"strlen", 2, KV_CMD_READONLY, strlen_cmd},
    {"getrange", 4, KV_CMD_READONLY, getrange_cmd},
    {"substr", 4, KV_CMD_READONLY, getrange_cmd},
    {"setrange", 4, KV_CMD_WRITE, setrange_cmd},
    {"incr", 2, KV_CMD_WRITE, kv__incr_cmd},
    {"decr", 2, KV_CMD_WRITE, kv__decr_cmd},
    {"incrby", 3, KV_CMD_WRITE, kv__incrby_cmd},
    {"decrby", 3, KV_CMD_WRITE, kv__decrby_cmd},
    {"incrbyfloat", 3, KV_CMD_WRITE, kv__incrbyfloat_cmd},
    {"lcs", -3, KV_CMD_READONLY, kv__lcs_cmd},
    {NULL, 0, 0, NULL},
};
