/* Bit commands: SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP. BITFIELD and
 * BITFIELD_RO live in cmd_bitfield.c; their table entries are here.
 *
 * Bit numbering follows Redis: bit 0 is the most significant bit of the
 * first byte, so a string reads as one big-endian bit array. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* The largest bit offset any command accepts: Redis bounds offsets by
 * proto-max-bulk-len, whose default (512 MiB) gives exactly 2^32 bits. */
#define MAX_BIT_OFFSET UINT64_C(4294967295)

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* kv_internal.h */
bool kv__bit_offset(const char *arg,
                    size_t len,
                    bool hash,
                    unsigned bits,
                    uint64_t max_bulk_len,
                    uint64_t *off)
{
    bool scaled = hash && bits > 0 && len > 0 && arg[0] == '#';
    int64_t v;

    if (scaled) {
        arg++;
        len--;
    }
    if (!kv__str2ll(arg, len, &v) || v < 0) {
        return false;
    }
    if (scaled) {
        if (v > INT64_MAX / (int64_t)bits) {
            return false;
        }
        v *= (int64_t)bits;
    }
    if ((uint64_t)v > MAX_BIT_OFFSET || ((uint64_t)v >> 3) >= max_bulk_len) {
        return false;
    }
    *off = (uint64_t)v;
    return true;
}

/* Counts the set bits of @x (SWAR, no compiler builtins). */
static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) +
        ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* The bits of byte @i of the inclusive bit range [@first, @last] as a
 * mask over that byte (MSB = lowest bit number). */
static unsigned char range_mask(uint64_t i, uint64_t first, uint64_t last)
{
    unsigned m = 0xff;

    if (i == first >> 3) {
        m &= 0xffu >> (first & 7);
    }
    if (i == last >> 3) {
        m &= (0xffu << (7 - (last & 7))) & 0xffu;
    }
    return (unsigned char)m;
}

/* Counts the set bits of @p in the inclusive bit range [@first, @last],
 * which lies inside the string. */
static int64_t count_bits(const unsigned char *p, uint64_t first, uint64_t last)
{
    uint64_t i = first >> 3;
    uint64_t end = last >> 3;
    int64_t n = 0;

    /* The partial first byte, then whole words, then the rest. */
    n += popcount64(p[i] & range_mask(i, first, last));
    for (i++; i + 8 <= end; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof(w));
        n += popcount64(w);
    }
    for (; i <= end; i++) {
        n += popcount64(p[i] & range_mask(i, first, last));
    }
    return n;
}

/* Returns the first bit equal to @bit in the inclusive range [@first,
 * @last] of @p, or -1. */
static int64_t find_bit(const unsigned char *p,
                        uint64_t first,
                        uint64_t last,
                        int bit)
{
    uint64_t skip = bit ? 0 : UINT64_MAX; /* a word with nothing to find */
    uint64_t end = last >> 3;

    for (uint64_t i = first >> 3; i <= end; i++) {
        unsigned c;

        /* Whole middle words that hold no candidate are skipped fast. */
        while (i > first >> 3 && i + 8 <= end) {
            uint64_t w;
            memcpy(&w, p + i, sizeof(w));
            if (w != skip) {
                break;
            }
            i += 8;
        }
        c = (unsigned)(bit ? p[i] : (unsigned char)~p[i]);
        c &= range_mask(i, first, last);
        if (c != 0) {
            int64_t pos = (int64_t)(i * 8);
            for (unsigned m = 0x80; (c & m) == 0; m >>= 1) {
                pos++;
            }
            return pos;
        }
    }
    return -1;
}

/* Turns the BITCOUNT/BITPOS range [@start, @end] (bytes, or bits with
 * @in_bits; negative counts from the end) over a string of @len bytes into
 * an inclusive bit range. Returns false when the range is empty. */
static bool resolve_range(int64_t start,
                          int64_t end,
                          bool in_bits,
                          size_t len,
                          uint64_t *first,
                          uint64_t *last)
{
    int64_t total = (int64_t)len * (in_bits ? 8 : 1);

    /* Adding a non-negative length to a negative index cannot
     * overflow. */
    if (start < 0) {
        start += total;
    }
    if (end < 0) {
        end += total;
    }
    if (start < 0) {
        start = 0;
    }
    if (end < 0) {
        end = 0;
    }
    if (end >= total) {
        end = total - 1;
    }
    if (start > end) {
        return false;
    }
    *first = (uint64_t)start * (in_bits ? 1 : 8);
    *last = in_bits ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return true;
}

/* Parses the optional BYTE|BIT unit. Returns 0 or KV_ERR_SYNTAX. */
static int parse_unit(const char *arg, size_t len, bool *in_bits)
{
    if (kv__eq(arg, len, "bit")) {
        *in_bits = true;
    } else if (kv__eq(arg, len, "byte")) {
        *in_bits = false;
    } else {
        return KV_ERR_SYNTAX;
    }
    return 0;
}

/* kv_internal.h */
unsigned char *kv__bits_grow(struct kv_store *s,
                             const struct kv_exec_ctx *ctx,
                             const char *key,
                             size_t klen,
                             size_t minlen,
                             size_t *len,
                             struct kv_reply *out)
{
    struct kv_entry *e;
    bool created = false;
    char tmp[32];
    size_t olen = 0;
    size_t newlen;
    char *p;

    if (!kv__lookup_string(s, ctx, key, klen, &e, out)) {
        return NULL;
    }
    if (e == NULL) {
        if (kv__set_str(s, key, klen, "", 0, -1, false, ctx->now_ms) != 0) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return NULL;
        }
        created = true;
        e = kv__find(s, key, klen, ctx->now_ms);
    } else {
        (void)kv__str(e, &olen, tmp);
    }
    /* Even without growth the value is resized: Redis unshares it, which
     * makes it raw-encoded. */
    newlen = olen > minlen ? olen : minlen;
    p = e != NULL ? kv__str_resize(s, e, newlen) : NULL;
    if (p == NULL) {
        if (created) {
            kv__del(s, key, klen);
        }
        kv__reply_err(out, KV_ERR_NOMEM);
        return NULL;
    }
    *len = newlen;
    return (unsigned char *)p;
}

/* ------------------------------------------------------------------------
 * SETBIT, GETBIT
 * ---------------------------------------------------------------------- */

/* SETBIT key offset 0|1: replies the old bit. The string grows (zero
 * filled) to hold the bit and becomes raw-encoded. */
static void setbit_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    uint64_t off;
    int64_t on;
    size_t len;
    unsigned char *p;
    unsigned char mask;
    int old;

    (void)argc;
    if (!kv__bit_offset(argv[2], lens[2], false, 0, ctx->max_bulk_len, &off)) {
        kv__reply_err(out, KV_ERR_BITOFFSET);
        return;
    }
    if (!kv__str2ll(argv[3], lens[3], &on) || (on != 0 && on != 1)) {
        kv__reply_err(out, KV_ERR_BITVALUE);
        return;
    }
    p = kv__bits_grow(s, ctx, argv[1], lens[1], (size_t)(off >> 3) + 1, &len,
                      out);
    if (p == NULL) {
        return;
    }
    mask = (unsigned char)(0x80u >> (off & 7));
    old = (p[off >> 3] & mask) != 0;
    if (on) {
        p[off >> 3] |= mask;
    } else {
        p[off >> 3] &= (unsigned char)~mask;
    }
    kv__reply_int(out, old);
}

/* GETBIT key offset: bits past the end (and of missing keys) are 0. */
static void getbit_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    uint64_t off;
    char tmp[32];
    size_t len;
    const unsigned char *p;
    int bit = 0;

    (void)argc;
    if (!kv__bit_offset(argv[2], lens[2], false, 0, ctx->max_bulk_len, &off)) {
        kv__reply_err(out, KV_ERR_BITOFFSET);
        return;
    }
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e != NULL) {
        p = (const unsigned char *)kv__str(e, &len, tmp);
        if ((off >> 3) < len) {
            bit = (p[off >> 3] >> (7 - (off & 7))) & 1;
        }
    }
    kv__reply_int(out, bit);
}

/* ------------------------------------------------------------------------
 * BITCOUNT, BITPOS
 * ---------------------------------------------------------------------- */

/* BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7.0 the key is looked
 * up first: a missing key counts 0 whatever the arguments. */
static void bitcount_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t start = 0;
    int64_t end = -1;
    bool in_bits = false;
    uint64_t first;
    uint64_t last;
    char tmp[32];
    size_t len;
    const unsigned char *p;
    int rv = 0;

    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_int(out, 0);
        return;
    }
    if (argc == 4 || argc == 5) {
        if (!kv__str2ll(argv[2], lens[2], &start) ||
            !kv__str2ll(argv[3], lens[3], &end)) {
            rv = KV_ERR_NOTINT;
        } else if (start < 0 && end < 0 && start > end) {
            /* Redis 7.0 answers two negative indexes in the wrong order
             * with 0 before looking at the unit (clamping would count
             * the first byte or bit). */
            kv__reply_int(out, 0);
            return;
        } else if (argc == 5) {
            rv = parse_unit(argv[4], lens[4], &in_bits);
        }
    } else if (argc != 2) {
        rv = KV_ERR_SYNTAX;
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    p = (const unsigned char *)kv__str(e, &len, tmp);
    if (!resolve_range(start, end, in_bits, len, &first, &last)) {
        kv__reply_int(out, 0);
        return;
    }
    kv__reply_int(out, count_bits(p, first, last));
}

/* BITPOS key bit [start [end [BYTE|BIT]]]: the first bit equal to @bit in
 * the range, or -1. Redis's special case: looking for 0 without an
 * explicit end, a range of all ones answers the first bit past the
 * string (the zero padding), not -1. A missing key is all zeros. */
static void bitpos_cmd(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kv_reply *out)
{
    struct kv_entry *e;
    int64_t bit;
    int64_t start = 0;
    int64_t end = -1;
    bool in_bits = false;
    uint64_t first;
    uint64_t last;
    char tmp[32];
    size_t len;
    const unsigned char *p;
    int64_t pos;
    int rv = 0;

    if (!kv__str2ll(argv[2], lens[2], &bit)) {
        kv__reply_err(out, KV_ERR_NOTINT);
        return;
    }
    if (bit != 0 && bit != 1) {
        kv__reply_err(out, KV_ERR_BITARG);
        return;
    }
    if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
        return;
    }
    if (e == NULL) {
        kv__reply_int(out, bit ? -1 : 0);
        return;
    }
    if (argc >= 4 && argc <= 6) {
        if (!kv__str2ll(argv[3], lens[3], &start)) {
            rv = KV_ERR_NOTINT;
        } else if (argc == 6) {
            rv = parse_unit(argv[5], lens[5], &in_bits);
        }
        if (rv == 0 && argc >= 5 && !kv__str2ll(argv[4], lens[4], &end)) {
            rv = KV_ERR_NOTINT;
        }
    } else if (argc != 3) {
        rv = KV_ERR_SYNTAX;
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
        return;
    }
    p = (const unsigned char *)kv__str(e, &len, tmp);
    if (!resolve_range(start, end, in_bits, len, &first, &last)) {
        kv__reply_int(out, -1);
        return;
    }
    pos = find_bit(p, first, last, (int)bit);
    if (pos == -1 && bit == 0 && argc < 5) {
        pos = (int64_t)last + 1;
    }
    kv__reply_int(out, pos);
}

/* ------------------------------------------------------------------------
 * BITOP
 * ---------------------------------------------------------------------- */

enum bitop { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* Combines source @p (@len bytes, zero-padded to @n) into @res. The first
 * source (@first) initialises @res. */
static void bitop_fold(unsigned char *res,
                       size_t n,
                       const unsigned char *p,
                       size_t len,
                       enum bitop op,
                       bool first)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char v = i < len ? p[i] : 0;
        if (op == BITOP_NOT) {
            res[i] = (unsigned char)~v;
        } else if (first) {
            res[i] = v;
        } else if (op == BITOP_AND) {
            res[i] &= v;
        } else if (op == BITOP_OR) {
            res[i] |= v;
        } else {
            res[i] ^= v;
        }
    }
}

/* BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result, as long
 * as the longest source (shorter ones count as zero-padded), in @destkey
 * without TTL and replies its length; an empty result deletes @destkey.
 * Every source is type-checked before anything is written. */
static void bitop_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    enum bitop op;
    size_t maxlen = 0;
    unsigned char *res;
    struct kv_entry *e;

    if (kv__eq(argv[1], lens[1], "and")) {
        op = BITOP_AND;
    } else if (kv__eq(argv[1], lens[1], "or")) {
        op = BITOP_OR;
    } else if (kv__eq(argv[1], lens[1], "xor")) {
        op = BITOP_XOR;
    } else if (kv__eq(argv[1], lens[1], "not")) {
        op = BITOP_NOT;
    } else {
        kv__reply_err(out, KV_ERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && argc != 4) {
        kv__reply_err(out, KV_ERR_BITOP_NOT);
        return;
    }
    /* Two passes: lengths and types first, then the folding, looking each
     * source up again so no view is held across another lookup. */
    for (int j = 3; j < argc; j++) {
        char tmp[32];
        size_t len = 0;
        if (!kv__lookup_string(s, ctx, argv[j], lens[j], &e, out)) {
            return;
        }
        if (e != NULL) {
            (void)kv__str(e, &len, tmp);
        }
        maxlen = len > maxlen ? len : maxlen;
    }
    if (maxlen == 0) {
        kv__del(s, argv[2], lens[2]);
        kv__reply_int(out, 0);
        return;
    }
    res = malloc(maxlen);
    if (res == NULL) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    for (int j = 3; j < argc; j++) {
        char tmp[32];
        size_t len = 0;
        const char *p = "";
        e = kv__find(s, argv[j], lens[j], ctx->now_ms);
        if (e != NULL) {
            p = kv__str(e, &len, tmp);
        }
        bitop_fold(res, maxlen, (const unsigned char *)p, len, op, j == 3);
    }
    if (kv__set_str(s, argv[2], lens[2], (const char *)res, maxlen, -1, false,
                    ctx->now_ms) != 0) {
        free(res);
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    free(res);
    /* Redis stores the result raw whatever its bytes; resizing to the same
     * length gives that encoding. Failing here leaves the right bytes in
     * another encoding, which only OBJECT ENCODING could tell. */
    e = kv__find(s, argv[2], lens[2], ctx->now_ms);
    if (e != NULL) {
        (void)kv__str_resize(s, e, maxlen);
    }
    kv__reply_int(out, (int64_t)maxlen);
}

/* ------------------------------------------------------------------------
 * Command table. Flags and arities as Redis 7 declares them.
 * ---------------------------------------------------------------------- */

const struct kv_cmd kv__bit_cmds[] = {
    {"setbit", 4, KV_CMD_WRITE, setbit_cmd},
    {"getbit", 3, KV_CMD_READONLY, getbit_cmd},
    {"bitcount", -2, KV_CMD_READONLY, bitcount_cmd},
    {"bitpos", -3, KV_CMD_READONLY, bitpos_cmd},
    {"bitop", -4, KV_CMD_WRITE, bitop_cmd},
    {"bitfield", -2, KV_CMD_WRITE, kv__bitfield_cmd},
    {"bitfield_ro", -2, KV_CMD_READONLY, kv__bitfield_ro_cmd},
    {NULL, 0, 0, NULL},
};
