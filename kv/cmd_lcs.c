/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
 * common subsequence of two strings. Its table entry is in cmd_string.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* One matching run: a[a0..a1] equals b[b0..b1] (inclusive bounds). */
struct lcs_range
{
    size_t a0, a1, b0, b1;
};

struct lcs_opts
{
    bool idx;            /* IDX: reply with the matching ranges */
    bool len;            /* LEN: reply with the length only */
    bool withmatchlen;   /* WITHMATCHLEN: add each range's length */
    int64_t minmatchlen; /* MINMATCHLEN: shortest range reported */
};

/* Parses the options in argv[3..argc). Unknown words and a MINMATCHLEN
 * without its value are syntax errors; a negative MINMATCHLEN counts as
 * 0, as in Redis. Returns 0, KV_ERR_SYNTAX, KV_ERR_NOTINT or
 * KV_ERR_LCS_IDXLEN. */
static int parse_opts(int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct lcs_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int j = 3; j < argc; j++) {
        if (kv__eq(argv[j], lens[j], "idx")) {
            o->idx = true;
        } else if (kv__eq(argv[j], lens[j], "len")) {
            o->len = true;
        } else if (kv__eq(argv[j], lens[j], "withmatchlen")) {
            o->withmatchlen = true;
        } else if (kv__eq(argv[j], lens[j], "minmatchlen") && j + 1 < argc) {
            j++;
            if (!kv__str2ll(argv[j], lens[j], &o->minmatchlen)) {
                return KV_ERR_NOTINT;
            }
            if (o->minmatchlen < 0) {
                o->minmatchlen = 0;
            }
        } else {
            return KV_ERR_SYNTAX;
        }
    }
    return o->idx && o->len ? KV_ERR_LCS_IDXLEN : 0;
}

/* Copies the value of @key into a new buffer (an absent key is the empty
 * string), so that later lookups cannot invalidate it. Returns 0,
 * KV_ERR_LCS_TYPE for a key of another type, or KV_ERR_NOMEM. */
static int load(struct kv_store *s,
                const struct kv_exec_ctx *ctx,
                const char *key,
                size_t klen,
                char **buf,
                size_t *len)
{
    struct kv_entry *e = kv__find(s, key, klen, ctx->now_ms);
    const char *p = "";
    char tmp[32];
    size_t n = 0;

    if (e != NULL && kv__type(e) != KV_TYPE_STRING) {
        return KV_ERR_LCS_TYPE;
    }
    if (e != NULL) {
        p = kv__str(e, &n, tmp);
    }
    *buf = malloc(n + 1);
    if (*buf == NULL) {
        return KV_ERR_NOMEM;
    }
    memcpy(*buf, p, n);
    *len = n;
    return 0;
}

/* Fills the dynamic-programming table: cell (i, j), at t[i * (blen + 1) +
 * j], is the LCS length of a[0..i) and b[0..j). Lengths fit in 32 bits
 * because the caller bounds the table (hence each string) by
 * max_bulk_len. */
static void fill(uint32_t *t,
                 const char *a,
                 size_t alen,
                 const char *b,
                 size_t blen)
{
    size_t w = blen + 1;

    for (size_t j = 0; j <= blen; j++) {
        t[j] = 0;
    }
    for (size_t i = 1; i <= alen; i++) {
        uint32_t *row = t + i * w;
        const uint32_t *up = row - w;
        row[0] = 0;
        for (size_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1]) {
                row[j] = up[j - 1] + 1;
            } else {
                row[j] = up[j] > row[j - 1] ? up[j] : row[j - 1];
            }
        }
    }
}

/* Walks the table back from the bottom-right corner, writing the common
 * subsequence into @res (its length is the corner cell) and the maximal
 * diagonal runs of at least @minlen into @ranges (from the end of the
 * strings towards the start, the order Redis reports). On a mismatch the
 * walk drops a character of @a only when that keeps a strictly longer
 * subsequence, which picks the same subsequence as Redis. Returns the
 * number of ranges written. */
static size_t walk(const uint32_t *t,
                   const char *a,
                   size_t alen,
                   const char *b,
                   size_t blen,
                   size_t minlen,
                   char *res,
                   struct lcs_range *ranges)
{
    size_t w = blen + 1;
    size_t k = t[alen * w + blen];
    size_t nranges = 0;
    struct lcs_range cur = {0, 0, 0, 0};
    bool open = false;
    size_t i = alen;
    size_t j = blen;

    while (i > 0 && j > 0) {
        if (a[i - 1] == b[j - 1]) {
            res[--k] = a[i - 1];
            i--;
            j--;
            if (open && cur.a0 == i + 1 && cur.b0 == j + 1) {
                cur.a0 = i;
                cur.b0 = j;
                continue;
            }
            if (open && cur.a1 - cur.a0 + 1 >= minlen) {
                ranges[nranges++] = cur;
            }
            cur = (struct lcs_range){i, i, j, j};
            open = true;
        } else if (t[(i - 1) * w + j] > t[i * w + j - 1]) {
            i--;
        } else {
            j--;
        }
    }
    if (open && cur.a1 - cur.a0 + 1 >= minlen) {
        ranges[nranges++] = cur;
    }
    return nranges;
}

/* Fills @r with [start, end] as a two-element array. Returns false on
 * OOM (then @r is the error). */
static bool reply_pair(struct kv_reply *r, size_t start, size_t end)
{
    struct kv_reply *p = kv__reply_array(r, 2, false);

    if (p == NULL) {
        return false;
    }
    kv__reply_int(&p[0], (int64_t)start);
    kv__reply_int(&p[1], (int64_t)end);
    return true;
}

/* Builds the IDX reply: a map {"matches": [[[a0, a1], [b0, b1](, len)]
 * ...], "len": n}. Any OOM turns the whole of @out into the error. */
static void reply_idx(struct kv_reply *out,
                      const struct lcs_range *ranges,
                      size_t n,
                      size_t lcs_len,
                      bool withmatchlen)
{
    struct kv_reply *top = kv__reply_array(out, 4, true);
    struct kv_reply *list;

    if (top == NULL) {
        return;
    }
    kv__reply_bulk(&top[0], "matches", 7);
    kv__reply_bulk(&top[2], "len", 3);
    kv__reply_int(&top[3], (int64_t)lcs_len);
    list = kv__reply_array(&top[1], n, false);
    if (top[0].type == KV_REPLY_ERROR || top[2].type == KV_REPLY_ERROR ||
        top[1].type == KV_REPLY_ERROR) {
        goto err_nomem;
    }
    for (size_t i = 0; i < n; i++) {
        struct kv_reply *m =
            kv__reply_array(&list[i], withmatchlen ? 3 : 2, false);
        if (m == NULL || !reply_pair(&m[0], ranges[i].a0, ranges[i].a1) ||
            !reply_pair(&m[1], ranges[i].b0, ranges[i].b1)) {
            goto err_nomem;
        }
        if (withmatchlen) {
            kv__reply_int(&m[2], (int64_t)(ranges[i].a1 - ranges[i].a0 + 1));
        }
    }
    return;

err_nomem:
    kv__reply_err(out, KV_ERR_NOMEM);
}

/* Replies for two loaded strings according to @o. */
static void lcs_reply(const struct kv_exec_ctx *ctx,
                      const char *a,
                      size_t alen,
                      const char *b,
                      size_t blen,
                      const struct lcs_opts *o,
                      struct kv_reply *out)
{
    uint32_t *t = NULL;
    char *res = NULL;
    struct lcs_range *ranges = NULL;
    size_t lcs_len;
    size_t n;

    /* The table holds (alen + 1) * (blen + 1) cells of 4 bytes. Like Redis
     * 7.2, refuse transient memory beyond proto-max-bulk-len rather than
     * let a read allocate without bound. */
    if (alen >= SIZE_MAX / sizeof(*t) ||
        (blen + 1) > SIZE_MAX / sizeof(*t) / (alen + 1) ||
        (uint64_t)((alen + 1) * (blen + 1) * sizeof(*t)) > ctx->max_bulk_len) {
        kv__reply_err(out, KV_ERR_LCS_MEM);
        return;
    }
    if (ctx->work_budget > 0 &&
        (uint64_t)((alen + 1) * (blen + 1)) / 100 > ctx->work_budget) {
        char msg[160];
        int mlen = snprintf(msg, sizeof msg,
                            "LCS would fill %zu table cells, more than 100 x "
                            "heavy-command-budget (%llu)",
                            (alen + 1) * (blen + 1),
                            (unsigned long long)ctx->work_budget);
        kv__reply_err_arg(out, KV_ERR_BUSY, msg, (size_t)mlen);
        return;
    }
    t = malloc((alen + 1) * (blen + 1) * sizeof(*t));
    if (t == NULL) {
        goto err_nomem;
    }
    fill(t, a, alen, b, blen);
    lcs_len = t[alen * (blen + 1) + blen];
    if (o->len) {
        kv__reply_int(out, (int64_t)lcs_len);
        free(t);
        return;
    }
    /* There are at most lcs_len runs; +1 keeps malloc(0) out. */
    res = malloc(lcs_len + 1);
    ranges = malloc((lcs_len + 1) * sizeof(*ranges));
    if (res == NULL || ranges == NULL) {
        goto err_nomem;
    }
    n = walk(t, a, alen, b, blen, (size_t)o->minmatchlen, res, ranges);
    if (o->idx) {
        reply_idx(out, ranges, n, lcs_len, o->withmatchlen);
    } else {
        kv__reply_bulk(out, res, lcs_len);
    }
    free(ranges);
    free(res);
    free(t);
    return;

err_nomem:
    free(ranges);
    free(res);
    free(t);
    kv__reply_err(out, KV_ERR_NOMEM);
}

/* ------------------------------------------------------------------------
 * Command
 * ---------------------------------------------------------------------- */

/* As in Redis 7, the type check comes first, then the options; a missing
 * key is the empty string. LCS is read-only, so without a reply to build
 * (out == NULL) there is nothing to do. */
void kv__lcs_cmd(struct kv_store *s,
                 const struct kv_exec_ctx *ctx,
                 int argc,
                 const char *const *argv,
                 const size_t *lens,
                 struct kv_reply *out)
{
    struct lcs_opts o;
    char *a = NULL;
    char *b = NULL;
    size_t alen = 0;
    size_t blen = 0;
    int rv;

    if (out == NULL) {
        return;
    }
    /* Both types are checked before either value is needed. */
    rv = load(s, ctx, argv[1], lens[1], &a, &alen);
    if (rv == 0) {
        rv = load(s, ctx, argv[2], lens[2], &b, &blen);
    }
    if (rv == 0) {
        rv = parse_opts(argc, argv, lens, &o);
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
    } else {
        lcs_reply(ctx, a, alen, b, blen, &o, out);
    }
    free(b);
    free(a);
}
