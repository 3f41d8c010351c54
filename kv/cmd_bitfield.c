/* BITFIELD and BITFIELD_RO: integer fields of 1..64 bits (signed) or
 * 1..63 bits (unsigned) at arbitrary bit offsets of a string. Their table
 * entries are in cmd_bits.c.
 *
 * A field is read most significant bit first, bit 0 being the top bit of
 * the first byte, and bits past the end of the string read as 0. */
#include <stdint.h>
#include <stdlib.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */

enum bf_code { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

/* One parsed GET/SET/INCRBY. */
struct bf_op
{
    enum bf_code code;
    enum bf_overflow ow; /* the OVERFLOW mode in force when it was parsed */
    bool sign;           /* i<bits> rather than u<bits> */
    unsigned bits;       /* 1..64 signed, 1..63 unsigned */
    uint64_t off;        /* bit offset of the field's top bit */
    int64_t arg;         /* SET: the value; INCRBY: the increment */
};

/* Parses a field type, "i1".."i64" or "u1".."u63" (lower case only, as
 * in Redis). */
static bool parse_type(const char *p, size_t len, bool *sign, unsigned *bits)
{
    int64_t n;

    if (len < 2) {
        return false;
    }
    if (p[0] == 'i') {
        *sign = true;
    } else if (p[0] == 'u') {
        *sign = false;
    } else {
        return false;
    }
    if (!kv__str2ll(p + 1, len - 1, &n) || n < 1 || n > (*sign ? 64 : 63)) {
        return false;
    }
    *bits = (unsigned)n;
    return true;
}

/* Parses the subcommands in argv[2..argc) into @ops (room for argc / 3 + 1
 * entries), in Redis's order of checks. Sets *n and *writes (whether any
 * SET/INCRBY appears). Returns 0 or the error to reply. */
static int parse_ops(const struct kv_exec_ctx *ctx,
                     int argc,
                     const char *const *argv,
                     const size_t *lens,
                     struct bf_op *ops,
                     size_t *n,
                     bool *writes)
{
    enum bf_overflow ow = BF_WRAP;

    *n = 0;
    *writes = false;
    for (int j = 2; j < argc; j++) {
        int rem = argc - j - 1;
        struct bf_op *op = &ops[*n];

        if (kv__eq(argv[j], lens[j], "get") && rem >= 2) {
            op->code = BF_GET;
        } else if (kv__eq(argv[j], lens[j], "set") && rem >= 3) {
            op->code = BF_SET;
        } else if (kv__eq(argv[j], lens[j], "incrby") && rem >= 3) {
            op->code = BF_INCRBY;
        } else if (kv__eq(argv[j], lens[j], "overflow") && rem >= 1) {
            j++;
            if (kv__eq(argv[j], lens[j], "wrap")) {
                ow = BF_WRAP;
            } else if (kv__eq(argv[j], lens[j], "sat")) {
                ow = BF_SAT;
            } else if (kv__eq(argv[j], lens[j], "fail")) {
                ow = BF_FAIL;
            } else {
                return KV_ERR_BF_OVERFLOW;
            }
            continue;
        } else {
            return KV_ERR_SYNTAX;
        }
        if (!parse_type(argv[j + 1], lens[j + 1], &op->sign, &op->bits)) {
            return KV_ERR_BF_TYPE;
        }
        if (!kv__bit_offset(argv[j + 2], lens[j + 2], true, op->bits,
                            ctx->max_bulk_len, &op->off)) {
            return KV_ERR_BITOFFSET;
        }
        op->arg = 0;
        if (op->code != BF_GET) {
            if (!kv__str2ll(argv[j + 3], lens[j + 3], &op->arg)) {
                return KV_ERR_NOTINT;
            }
            *writes = true;
        }
        op->ow = ow;
        (*n)++;
        j += op->code == BF_GET ? 2 : 3;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Field access and arithmetic
 * ---------------------------------------------------------------------- */

/* Reads @bits bits at @off of @p (@len bytes) as an unsigned number. */
static uint64_t field_read(const unsigned char *p,
                           size_t len,
                           uint64_t off,
                           unsigned bits)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bits; i++) {
        uint64_t b = off + i;
        unsigned bit = 0;
        if ((b >> 3) < len) {
            bit = ((unsigned)p[b >> 3] >> (7 - (b & 7))) & 1u;
        }
        v = (v << 1) | bit;
    }
    return v;
}

/* Writes the low @bits bits of @v at @off of @p, which is long enough. */
static void field_write(unsigned char *p,
                        uint64_t off,
                        unsigned bits,
                        uint64_t v)
{
    for (unsigned i = 0; i < bits; i++) {
        uint64_t b = off + i;
        unsigned char mask = (unsigned char)(0x80u >> (b & 7));
        if ((v >> (bits - 1 - i)) & 1u) {
            p[b >> 3] |= mask;
        } else {
            p[b >> 3] &= (unsigned char)~mask;
        }
    }
}

/* Converts two's complement bits to int64 without implementation-defined
 * behaviour. */
static int64_t to_signed(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Sign-extends the low @bits bits of @u. */
static int64_t sign_extend(uint64_t u, unsigned bits)
{
    if (bits < 64) {
        uint64_t mask = (UINT64_C(1) << bits) - 1;
        u &= mask;
        if (u >> (bits - 1)) {
            u |= ~mask;
        }
    }
    return to_signed(u);
}

/* Computes @old + @incr for a signed field of @bits bits under @ow. For
 * SET, @old is the new value and @incr 0, so the checks are a range check.
 * Returns false when FAIL refuses the operation. */
static bool signed_add(int64_t old,
                       int64_t incr,
                       unsigned bits,
                       enum bf_overflow ow,
                       int64_t *res)
{
    int64_t max = bits == 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1;
    int64_t min = -max - 1;
    /* max - incr and min - incr are representable for these signs: the
     * exact sum is compared without computing it. */
    bool over = incr >= 0 && old > max - incr;
    bool under = incr <= 0 && old < min - incr;

    if (!over && !under) {
        *res = old + incr;
        return true;
    }
    switch (ow) {
        case BF_WRAP:
            *res = sign_extend((uint64_t)old + (uint64_t)incr, bits);
            return true;
        case BF_SAT:
            *res = over ? max : min;
            return true;
        case BF_FAIL:
        default:
            return false;
    }
}

/* The unsigned counterpart of signed_add (@bits <= 63). For SET, Redis
 * takes the value's two's complement bits as @old, so a negative value
 * overflows upwards: SAT gives the maximum and WRAP keeps its low bits. */
static bool unsigned_add(uint64_t old,
                         int64_t incr,
                         unsigned bits,
                         enum bf_overflow ow,
                         uint64_t *res)
{
    uint64_t max = (UINT64_C(1) << bits) - 1;
    bool over = false;
    bool under = false;

    if (incr >= 0) {
        over = (uint64_t)incr > max || old > max - (uint64_t)incr;
    } else {
        /* |incr| computed without negating INT64_MIN. */
        under = (uint64_t)(-(incr + 1)) + 1 > old;
    }
    if (!over && !under) {
        *res = old + (uint64_t)incr;
        return true;
    }
    switch (ow) {
        case BF_WRAP:
            *res = (old + (uint64_t)incr) & max;
            return true;
        case BF_SAT:
            *res = over ? max : 0;
            return true;
        case BF_FAIL:
        default:
            return false;
    }
}

/* Executes @op on @p (@len bytes; writable and long enough for writes)
 * and fills @r (may be NULL) with its result: GET the value, SET the old
 * value, INCRBY the new value, nil when OVERFLOW FAIL refuses it. */
static void exec_op(const struct bf_op *op,
                    unsigned char *p,
                    size_t len,
                    struct kv_reply *r)
{
    uint64_t raw = field_read(p, len, op->off, op->bits);
    int64_t old = op->sign ? sign_extend(raw, op->bits) : (int64_t)raw;
    uint64_t bits_out;
    bool ok;

    if (op->code == BF_GET) {
        kv__reply_int(r, old);
        return;
    }
    if (op->sign) {
        int64_t v;
        ok = op->code == BF_SET
                 ? signed_add(op->arg, 0, op->bits, op->ow, &v)
                 : signed_add(old, op->arg, op->bits, op->ow, &v);
        bits_out = (uint64_t)v;
        if (ok) {
            kv__reply_int(r, op->code == BF_SET ? old : v);
        }
    } else {
        uint64_t v;
        ok = op->code == BF_SET
                 ? unsigned_add((uint64_t)op->arg, 0, op->bits, op->ow, &v)
                 : unsigned_add(raw, op->arg, op->bits, op->ow, &v);
        bits_out = v;
        if (ok) {
            kv__reply_int(r, op->code == BF_SET ? old : (int64_t)v);
        }
    }
    if (!ok) {
        kv__reply_nil(r);
        return;
    }
    field_write(p, op->off, op->bits, bits_out);
}

/* ------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------- */

/* The worker of BITFIELD and BITFIELD_RO (@ro). Everything is parsed
 * before the key is touched. With a write among the operations the string
 * is first grown (zero-filled, raw) to hold the furthest field written,
 * even if OVERFLOW FAIL then refuses every write, as Redis does. The
 * writes happen whether or not a reply is built (out == NULL). */
static void bitfield_generic(struct kv_store *s,
                             const struct kv_exec_ctx *ctx,
                             int argc,
                             const char *const *argv,
                             const size_t *lens,
                             bool ro,
                             struct kv_reply *out)
{
    struct bf_op *ops = malloc(((size_t)argc / 3 + 1) * sizeof(*ops));
    struct kv_reply *elems;
    unsigned char *p;
    size_t len = 0;
    size_t n;
    bool writes;
    int rv;

    if (ops == NULL) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    rv = parse_ops(ctx, argc, argv, lens, ops, &n, &writes);
    if (rv == 0 && writes && ro) {
        rv = KV_ERR_BF_RO;
    }
    if (rv != 0) {
        kv__reply_err(out, rv);
        goto done;
    }
    if (writes) {
        uint64_t end = 0; /* one past the last byte written */
        for (size_t i = 0; i < n; i++) {
            uint64_t last = (ops[i].off + ops[i].bits - 1) >> 3;
            if (ops[i].code != BF_GET && last + 1 > end) {
                end = last + 1;
            }
        }
        p = kv__bits_grow(s, ctx, argv[1], lens[1], (size_t)end, &len, out);
        if (p == NULL) {
            goto done;
        }
    } else {
        struct kv_entry *e;
        char tmp[32];
        if (!kv__lookup_string(s, ctx, argv[1], lens[1], &e, out)) {
            goto done;
        }
        /* Reads only: the value's view stays valid, nothing mutates. */
        p = (unsigned char *)(e != NULL ? kv__str(e, &len, tmp) : "");
        elems = kv__reply_array(out, n, false);
        for (size_t i = 0; i < n; i++) {
            exec_op(&ops[i], p, len, elems != NULL ? &elems[i] : NULL);
        }
        goto done;
    }
    /* On OOM for the reply array the writes still happen (the state must
     * not depend on whether a reply is built) and the reply is the
     * error. */
    elems = kv__reply_array(out, n, false);
    for (size_t i = 0; i < n; i++) {
        exec_op(&ops[i], p, len, elems != NULL ? &elems[i] : NULL);
    }

done:
    free(ops);
}

/* BITFIELD key [GET type offset] [SET type offset value] [INCRBY type
 * offset increment] [OVERFLOW WRAP|SAT|FAIL] ... */
void kv__bitfield_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out)
{
    bitfield_generic(s, ctx, argc, argv, lens, false, out);
}

/* BITFIELD_RO key [GET type offset] ...: OVERFLOW is accepted (and has no
 * effect); SET and INCRBY are refused. */
void kv__bitfield_ro_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out)
{
    bitfield_generic(s, ctx, argc, argv, lens, true, out);
}
