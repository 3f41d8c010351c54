/* Counters: INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT. Their table
 * entries are in cmd_string.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* Redis formats INCRBYFLOAT results with "%.17Lf", so a finite long double
 * near LDBL_MAX needs about 4950 characters (Redis's MAX_LONG_DOUBLE_CHARS
 * is 5 KiB for the same reason). */
#define LD_STR_CAP (5 * 1024)

/* ------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------- */

/* The worker of INCR, DECR, INCRBY and DECRBY: adds @incr to the integer
 * held at @key (0 when absent). The value must be a strict decimal int64
 * and the sum must not overflow. The TTL is kept. */
static void incr_generic(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         const char *key,
                         size_t klen,
                         int64_t incr,
                         struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t value = 0;
    char buf[32];
    int n;

    if (!kv__lookup_string(s, ctx, key, klen, &e, out)) {
        return;
    }
    if (e != NULL) {
        size_t len;
        const char *p = kv__str(e, &len, buf);
        if (!kv__str2ll(p, len, &value)) {
            kv__reply_err(out, KV_ERR_NOTINT);
            return;
        }
    }
    if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
        (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
        kv__reply_err(out, KV_ERR_OVERFLOW);
        return;
    }
    value += incr;
    n = snprintf(buf, sizeof(buf), "%lld", (long long)value);
    if (kv__set_str(s, key, klen, buf, (size_t)n, -1, true, ctx->now_ms) != 0) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    kv__reply_int(out, value);
}

void kv__incr_cmd(struct kv_store *s,
                  const struct kv_exec_ctx *ctx,
                  int argc,
                  const char *const *argv,
                  const size_t *lens,
                  struct kv_reply *out)
{
    (void)argc;
    incr_generic(s, ctx, argv[1], lens[1], 1, out);
}

void kv__decr_cmd(struct kv_store *s,
                  const struct kv_exec_ctx *ctx,
                  int argc,
                  const char *const *argv,
                  const size_t *lens,
                  struct kv_reply *out)
{
    (void)argc;
    incr_generic(s, ctx, argv[1], lens[1], -1, out);
}

void kv__incrby_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    int64_t incr;

    (void)argc;
    if (!kv__str2ll(argv[2], lens[2], &incr)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    incr_generic(s, ctx, argv[1], lens[1], incr, out);
}

/* DECRBY key decrement. The decrement is negated, which INT64_MIN cannot
 * survive: Redis 7 has a dedicated error for it, checked before the key. */
void kv__decrby_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out)
{
    int64_t decr;

    (void)argc;
    if (!kv__str2ll(argv[2], lens[2], &decr)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    if (decr == INT64_MIN) {
        kv__reply_err(out, KV_ERR_DECR_OVERFLOW);
        return;
    }
    incr_generic(s, ctx, argv[1], lens[1], -decr, out);
}

/* INCRBYFLOAT key increment. Works in long double like Redis (so values
 * beyond double's range are fine), rejects a NaN or infinite result,
 * stores and replies the humanfriendly decimal form. The TTL is kept. */
void kv__incrbyfloat_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    struct kv_entry *e;
    long double value = 0;
    long double incr;
    char buf[LD_STR_CAP];
    size_t n;

    (void)argc;
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e != NULL) {
        size_t len;
        const char *p = kv__str(e, &len, buf);
        if (!kv__str2ld(p, len, &value)) {
            kv__reply_err(out, KV_ERR_NOTFLOAT);
            return;
        }
    }
    if (!kv__str2ld(argv[2], lens[2], &incr)) {
        kv__reply_err(out, KV_ERR_NOTFLOAT);
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        kv__reply_err(out, KV_ERR_NANINF);
        return;
    }
    n = kv__ld2str(buf, sizeof(buf), value);
    if (n == 0 ||
        kv__set_str(s, argv[1], lens[1], buf, n, -1, true, ctx->now_ms) != 0) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    kv__reply_bulk(out, buf, n);
}
