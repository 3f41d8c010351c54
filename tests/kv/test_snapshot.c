/* Snapshot encode/decode: round trips, rejection of damaged input, and
 * determinism of command application across hash seeds. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/kv/kv_test_util.h"

TestSuite(snapshot, .timeout = 60);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Reads an @n-byte little-endian integer. */
static uint64_t rd(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcmp(*x, *y);
}

/* Returns a sorted list of hex-encoded records for the snapshot @buf: a
 * canonical form of the contents, independent of table order. Parsing the
 * bytes here also checks the layout kv.h documents. */
static char **records(const void *buf, size_t len, size_t *n)
{
    const unsigned char *b = buf;
    cr_assert(ge(sz, len, 24));
    cr_assert(eq(int, memcmp(b, "RKVS", 4), 0));
    cr_assert(eq(u64, rd(b + 4, 4), 3));
    size_t count = (size_t)rd(b + 8, 8);
    char **out = calloc(count + 1, sizeof(*out));
    size_t p = 16;
    for (size_t i = 0; i < count; i++) {
        size_t klen = (size_t)rd(b + p + 18, 4);
        size_t vlen = (size_t)rd(b + p + 22 + klen, 8);
        size_t rlen = 30 + klen + vlen;
        char *hex = malloc(rlen * 2 + 1);
        for (size_t j = 0; j < rlen; j++) {
            snprintf(hex + 2 * j, 3, "%02x", b[p + j]);
        }
        out[i] = hex;
        p += rlen;
    }
    cr_assert(eq(sz, p + 8, len));
    qsort(out, count, sizeof(*out), cmp_str);
    *n = count;
    return out;
}

static void free_records(char **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i]);
    }
    free(r);
}

/* Asserts that stores @a and @b hold the same keys, values, encodings and
 * expiries. */
static void assert_same_contents(const struct kv_store *a,
                                 const struct kv_store *b)
{
    void *ba;
    void *bb;
    size_t la;
    size_t lb;
    size_t na;
    size_t nb;
    cr_assert(eq(int, kv_snapshot_encode(a, &ba, &la), 0));
    cr_assert(eq(int, kv_snapshot_encode(b, &bb, &lb), 0));
    cr_assert(eq(sz, la, lb));
    char **ra = records(ba, la, &na);
    char **rb = records(bb, lb, &nb);
    cr_assert(eq(sz, na, nb));
    for (size_t i = 0; i < na; i++) {
        cr_assert(eq(str, ra[i], rb[i]));
    }
    free_records(ra, na);
    free_records(rb, nb);
    free(ba);
    free(bb);
}

/* Fills @s with @n keys, some binary, some with expiries, in all three
 * encodings. */
static void fill(struct kv_store *s, int n)
{
    struct kv_exec_ctx ctx = kvt_ctx(1000);
    for (int i = 0; i < n; i++) {
        char key[32];
        char val[80];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        size_t vl;
        if (i % 5 == 0) {
            /* Binary key: embedded NUL and high bytes. */
            key[kl++] = '\0';
            key[kl++] = (char)0xff;
        }
        switch (i % 3) {
            case 0:
                vl = (size_t)snprintf(val, sizeof(val), "%d", i * 7 - 1000);
                break;
            case 1:
                vl = (size_t)snprintf(val, sizeof(val), "v%d", i);
                break;
            default:
                memset(val, 'a' + i % 26, 60);
                val[3] = '\0';
                vl = 60;
                break;
        }
        const char *argv[5] = {"SET", key, val, "PX", "123456"};
        size_t lens[5] = {3, (size_t)kl, vl, 2, 6};
        struct kv_reply r;
        kv_exec(s, &ctx, i % 4 == 0 ? 5 : 3, argv, lens, &r);
        cr_assert(eq(int, (int)r.type, (int)KV_REPLY_STATUS));
        kv_reply_fini(&r);
    }
}

/* ------------------------------------------------------------------------
 * Round trips
 * ---------------------------------------------------------------------- */

Test(snapshot, empty_round_trip)
{
    struct kv_store *a = kvt_store(1);
    struct kv_store *b = kvt_store(2);
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(a, &buf, &len), 0));
    cr_assert(eq(sz, len, 24));
    KVT_EXPECT_STATUS(b, 0, "OK", "SET", "stale", "x");
    cr_assert(eq(int, kv_snapshot_decode(b, buf, len), 0));
    cr_assert(eq(sz, kv_store_size(b), 0));
    free(buf);
    kv_store_free(a);
    kv_store_free(b);
}

Test(snapshot, round_trip_100k_keys)
{
    struct kv_store *a = kvt_store(3);
    struct kv_store *b = kvt_store(4);
    fill(a, 100000);
    /* A value grown in place (raw, on its own buffer). */
    KVT_EXPECT_INT(a, 1000, 6, "APPEND", "grown", "abcdef");
    KVT_EXPECT_INT(a, 1000, 12, "APPEND", "grown", "ghijkl");
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(a, &buf, &len), 0));
    KVT_EXPECT_STATUS(b, 0, "OK", "SET", "stale", "x");
    cr_assert(eq(int, kv_snapshot_decode(b, buf, len), 0));
    cr_assert(eq(sz, kv_store_size(b), kv_store_size(a)));
    cr_assert(eq(sz, kv_store_expires(b), kv_store_expires(a)));
    cr_assert(eq(sz, kv_store_expires(b), (size_t)25000));
    assert_same_contents(a, b);
    KVT_EXPECT_INT(b, 1000, 0, "EXISTS", "stale");
    KVT_EXPECT_BULK(b, 1000, "abcdefghijkl", "GET", "grown");
    KVT_EXPECT_BULK(b, 1000, "raw", "OBJECT", "ENCODING", "grown");
    KVT_EXPECT_BULK(b, 1000, "int", "OBJECT", "ENCODING", "k3");
    KVT_EXPECT_BULK(b, 1000, "embstr", "OBJECT", "ENCODING", "k1");
    KVT_EXPECT_INT(b, 1000, 123456, "PTTL", "k4");
    /* Binary key "k5\0\xff". */
    const char *argv[] = {"EXISTS", "k5\0\xff"};
    size_t lens[] = {6, 4};
    struct kv_exec_ctx ctx = kvt_ctx(1000);
    struct kv_reply r;
    kv_exec(b, &ctx, 2, argv, lens, &r);
    cr_assert(eq(i64, r.i, 1));
    kv_reply_fini(&r);
    free(buf);
    kv_store_free(a);
    kv_store_free(b);
}

/* ------------------------------------------------------------------------
 * Damaged input
 * ---------------------------------------------------------------------- */

static void expect_rejected(struct kv_store *s, const void *buf, size_t len)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "stale", "x");
    cr_assert(eq(int, kv_snapshot_decode(s, buf, len), -EPROTO), "len %zu",
              len);
    cr_assert(eq(sz, kv_store_size(s), 0));
    cr_assert(eq(sz, kv_store_memory(s), 0));
}

Test(snapshot, rejects_every_truncation_and_bit_flip)
{
    struct kv_store *a = kvt_store(5);
    struct kv_store *b = kvt_store(6);
    fill(a, 40);
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(a, &buf, &len), 0));
    for (size_t l = 0; l < len; l++) {
        expect_rejected(b, buf, l);
    }
    unsigned char *copy = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, buf, len);
            copy[i] ^= (unsigned char)(1u << bit);
            expect_rejected(b, copy, len);
        }
    }
    /* Trailing garbage. */
    memcpy(copy, buf, len);
    copy[len] = 0;
    expect_rejected(b, copy, len + 1);
    expect_rejected(b, NULL, 0);
    /* The intact buffer still decodes. */
    cr_assert(eq(int, kv_snapshot_decode(b, buf, len), 0));
    assert_same_contents(a, b);
    free(copy);
    free(buf);
    kv_store_free(a);
    kv_store_free(b);
}

/* FNV-1a 64, to forge valid checksums over malformed bodies. */
static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Appends a correct trailer to @body (@n bytes, room for 8 more). */
static size_t seal(unsigned char *body, size_t n)
{
    uint64_t h = fnv(body, n);
    for (int i = 0; i < 8; i++) {
        body[n + (size_t)i] = (unsigned char)(h >> (8 * i));
    }
    return n + 8;
}

static size_t put(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
    return (size_t)n;
}

/* Writes a header and one entry; returns the body length. */
static size_t forge(unsigned char *b,
                    uint64_t count,
                    unsigned type,
                    unsigned enc,
                    uint32_t klen,
                    const char *key,
                    uint64_t vlen,
                    const char *val)
{
    size_t p = 0;
    memcpy(b, "RKVS", 4);
    p += 4;
    p += put(b + p, 1, 4);
    p += put(b + p, count, 8);
    b[p++] = (unsigned char)type;
    b[p++] = (unsigned char)enc;
    p += put(b + p, (uint64_t)-1, 8);
    p += put(b + p, klen, 4);
    memcpy(b + p, key, strlen(key));
    p += strlen(key);
    p += put(b + p, vlen, 8);
    memcpy(b + p, val, strlen(val));
    p += strlen(val);
    return p;
}

Test(snapshot, rejects_checksummed_malformed_bodies)
{
    struct kv_store *s = kvt_store(7);
    unsigned char b[256];
    size_t n;

    /* Sanity: the forger makes a valid snapshot. */
    n = seal(b, forge(b, 1, 1, 2, 1, "k", 1, "v"));
    cr_assert(eq(int, kv_snapshot_decode(s, b, n), 0));
    KVT_EXPECT_BULK(s, 0, "v", "GET", "k");

    n = seal(b, forge(b, 1, 2, 2, 1, "k", 1, "v")); /* bad type */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 0, 1, "k", 1, "v")); /* bad encoding */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 4, 1, "k", 1, "v"));
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 1, 1, "k", 1, "v")); /* int, not digits */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 1, 1, "k", 2, "01"));
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 2, 0xffffffffu, "k", 1, "v")); /* key len */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 2, 1, "k", UINT64_MAX, "v")); /* value len */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 1, 1, 2, 1, "k", 2, "v"));
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 2, 1, 2, 1, "k", 1, "v")); /* count too big */
    expect_rejected(s, b, n);
    n = seal(b, forge(b, UINT64_MAX, 1, 2, 1, "k", 1, "v"));
    expect_rejected(s, b, n);
    n = seal(b, forge(b, 0, 1, 2, 1, "k", 1, "v")); /* count too small */
    expect_rejected(s, b, n);
    /* A key twice. */
    size_t one = forge(b, 2, 1, 2, 1, "k", 1, "v");
    memcpy(b + one, b + 16, one - 16);
    n = seal(b, one + one - 16);
    expect_rejected(s, b, n);
    /* Unknown version (1, 2 and 3 exist). */
    n = forge(b, 1, 1, 2, 1, "k", 1, "v");
    b[4] = 4;
    expect_rejected(s, b, seal(b, n));
    kv_store_free(s);
}

Test(snapshot, random_bytes_never_crash)
{
    struct kv_store *s = kvt_store(8);
    unsigned char b[512];
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 200) + 24;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[i] = (unsigned char)x;
        }
        memcpy(b, "RKVS\1\0\0\0", 8);
        b[8] = (unsigned char)(round % 4);
        memset(b + 9, 0, 7);
        /* Half of the rounds get a valid checksum over random entries. */
        if (round % 2 == 0) {
            n = seal(b, n - 8);
        }
        int rv = kv_snapshot_decode(s, b, n);
        cr_assert(rv == 0 || rv == -EPROTO);
        if (rv != 0) {
            cr_assert(eq(sz, kv_store_size(s), 0));
        }
    }
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * Determinism
 * ---------------------------------------------------------------------- */

/* The same command sequence on stores with different hash seeds gives the
 * same contents, including expiry decisions made at entry stamps. */
Test(snapshot, same_commands_different_seeds_same_state)
{
    struct kv_store *a = kvt_store(9);
    struct kv_store *b = kvt_store(10);
    uint64_t x = 42;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t now = 1000 + i;
        char k1[16];
        char k2[16];
        char v[16];
        char t[16];
        snprintf(k1, sizeof(k1), "k%u", (unsigned)(x >> 33) % 500);
        snprintf(k2, sizeof(k2), "k%u", (unsigned)(x >> 45) % 500);
        snprintf(v, sizeof(v), "%u", (unsigned)(x >> 20) % 1000);
        snprintf(t, sizeof(t), "%u", (unsigned)(x >> 40) % 50);
        const char *const *cmd;
        const char *const cmds[][6] = {
            {"SET", k1, v, NULL},     {"SET", k1, v, "PX", t, NULL},
            {"DEL", k1, k2, NULL},    {"PEXPIRE", k1, t, NULL},
            {"RENAME", k1, k2, NULL}, {"COPY", k1, k2, "REPLACE", NULL},
            {"APPEND", k1, v, NULL},  {"INCR", k2, NULL},
            {"PERSIST", k1, NULL},    {"RENAMENX", k2, k1, NULL},
        };
        cmd = cmds[(x >> 50) % 10];
        struct kv_reply ra = kvt_exec(a, now, cmd);
        struct kv_reply rb = kvt_exec(b, now, cmd);
        cr_assert(eq(int, (int)ra.type, (int)rb.type));
        cr_assert(eq(i64, ra.i, rb.i));
        kv_reply_fini(&ra);
        kv_reply_fini(&rb);
        if (i % 100 == 0) {
            /* The leader's active expiry, replayed on both. */
            kv_store_expire_if_due(a, k2, strlen(k2), now);
            kv_store_expire_if_due(b, k2, strlen(k2), now);
        }
    }
    cr_assert(eq(sz, kv_store_size(a), kv_store_size(b)));
    assert_same_contents(a, b);
    kv_store_free(a);
    kv_store_free(b);
}

/* ------------------------------------------------------------------------
 * Streaming (kv_snapshot_measure / kv_snapshot_write) and version 1
 * ---------------------------------------------------------------------- */

struct chunks
{
    unsigned char *buf;
    size_t len;
    size_t cap;
    size_t calls;
    size_t max_piece;
};

static int chunk_sink(void *arg, const void *data, size_t len)
{
    struct chunks *c = arg;
    cr_assert(le(sz, c->len + len, c->cap));
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->calls++;
    if (len > c->max_piece) {
        c->max_piece = len;
    }
    return 0;
}

static int failing_sink(void *arg, const void *data, size_t len)
{
    (void)data;
    (void)len;
    size_t *calls = arg;
    return ++*calls == 3 ? -EIO : 0;
}

Test(snapshot, streamed_equals_encoded_and_stops_on_sink_error)
{
    struct kv_store *s = kvt_store(9);
    char k[32];
    char v[300];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", k, i % 3 == 0 ? "12345" : v);
    }
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(s, &buf, &len), 0));
    struct kv_snapshot_plan plan;
    kv_snapshot_measure(s, &plan);
    cr_assert(eq(sz, plan.len, len));
    cr_assert(eq(u64, plan.count, 5000));
    struct chunks c = {malloc(len), 0, len, 0, 0};
    cr_assert(eq(int, kv_snapshot_write(s, &plan, chunk_sink, &c), 0));
    cr_assert(eq(sz, c.len, len));
    cr_assert(eq(int, memcmp(c.buf, buf, len), 0));
    cr_assert(gt(sz, c.calls, 10));            /* in pieces ... */
    cr_assert(le(sz, c.max_piece, 64 * 1024)); /* ... of at most 64 KiB */
    size_t calls = 0;
    cr_assert(eq(int, kv_snapshot_write(s, &plan, failing_sink, &calls), -EIO));
    cr_assert(eq(sz, calls, 3));
    /* A plan that no longer matches the store is refused. */
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "one-more", "x");
    c.len = 0;
    c.cap = 2 * len;
    c.buf = realloc(c.buf, c.cap);
    cr_assert(eq(int, kv_snapshot_write(s, &plan, chunk_sink, &c), -EINVAL));
    free(c.buf);
    free(buf);
    kv_store_free(s);
}

/* Rewrites the version 3 snapshot @b (@len bytes) in place as version
 * @to (1 or 2): every entry loses its key version, and the checksum is
 * the one @to uses. Returns the new length. */
static size_t downgrade(unsigned char *b, size_t len, unsigned to)
{
    size_t count = (size_t)rd(b + 8, 8);
    size_t in = 16;
    size_t out = 16;
    for (size_t i = 0; i < count; i++) {
        size_t klen = (size_t)rd(b + in + 18, 4);
        size_t vlen = (size_t)rd(b + in + 22 + klen, 8);
        memmove(b + out, b + in, 10);
        memmove(b + out + 10, b + in + 18, 4 + klen + 8 + vlen);
        in += 30 + klen + vlen;
        out += 22 + klen + vlen;
    }
    cr_assert(eq(sz, in + 8, len));
    b[4] = (unsigned char)to;
    if (to == 1) {
        return seal(b, out);
    }
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= out; i += 8) {
        h ^= rd(b + i, 8);
        h *= 0x100000001b3ull;
    }
    for (; i < out; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return out + put(b + out, h, 8);
}

Test(snapshot, versions_1_and_2_still_decode)
{
    for (unsigned to = 1; to <= 2; to++) {
        struct kv_store *s = kvt_store(10);
        struct kv_exec_ctx ctx = kvt_ctx(0);
        ctx.index = 77;
        struct kv_reply r =
            kvt_exec_ctx(s, &ctx, (const char *const[]){"SET", "a", "1", NULL});
        kv_reply_fini(&r);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "hello", "PX", "100000");
        void *buf;
        size_t len;
        cr_assert(eq(int, kv_snapshot_encode(s, &buf, &len), 0));
        unsigned char *b = buf;
        len = downgrade(b, len, to);
        struct kv_store *t = kvt_store(11);
        cr_assert(eq(int, kv_snapshot_decode(t, b, len), 0));
        KVT_EXPECT_BULK(t, 0, "hello", "GET", "b");
        KVT_EXPECT_BULK(t, 0, "1", "GET", "a");
        /* No key version in the old formats: every key gets 1. */
        cr_assert(eq(u64, kv_store_version(t, "a", 1, 0), 1));
        cr_assert(eq(u64, kv_store_version(t, "b", 1, 0), 1));
        /* The wrong checksum for the version is damage. */
        b[4] = (unsigned char)(3 - to);
        cr_assert(eq(int, kv_snapshot_decode(t, b, len), -EPROTO));
        free(buf);
        kv_store_free(t);
        kv_store_free(s);
    }
}

/* ------------------------------------------------------------------------
 * Lists (version 3)
 * ---------------------------------------------------------------------- */

/* Appends the version 2+ checksum of body[0..n) and returns n + 8. */
static size_t seal_words(unsigned char *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h ^= rd(b + i, 8);
        h *= 0x100000001b3ull;
    }
    for (; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return n + put(b + n, h, 8);
}

/* A version 3 snapshot of one list "l" whose value is @val (@vlen bytes),
 * with flags @enc. Returns the sealed length. */
static size_t forge_list(unsigned char *b,
                         unsigned enc,
                         const unsigned char *val,
                         size_t vlen)
{
    size_t p = 0;
    memcpy(b, "RKVS", 4);
    p += 4;
    p += put(b + p, 3, 4);
    p += put(b + p, 1, 8);
    b[p++] = 2;
    b[p++] = (unsigned char)enc;
    p += put(b + p, (uint64_t)-1, 8);
    p += put(b + p, 7, 8); /* key version */
    p += put(b + p, 1, 4);
    b[p++] = 'l';
    p += put(b + p, vlen, 8);
    memcpy(b + p, val, vlen);
    return seal_words(b, p + vlen);
}

Test(snapshot, list_values_are_validated)
{
    struct kv_store *s = kvt_store(12);
    unsigned char b[256];
    unsigned char v[64];
    size_t n;

    /* Two elements "ab" and "": valid. */
    size_t vl = put(v, 2, 8);
    vl += put(v + vl, 2, 8);
    memcpy(v + vl, "ab", 2);
    vl += 2;
    vl += put(v + vl, 0, 8);
    n = forge_list(b, 0, v, vl);
    cr_assert(eq(int, kv_snapshot_decode(s, b, n), 0));
    KVT_EXPECT_INT(s, 0, 2, "LLEN", "l");
    KVT_EXPECT_BULK(s, 0, "ab", "LINDEX", "l", "0");
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 7));

    expect_rejected(s, b, forge_list(b, 1, v, vl));     /* flags must be 0 */
    expect_rejected(s, b, forge_list(b, 0, v, vl - 1)); /* truncated */
    v[vl] = 'x';
    expect_rejected(s, b, forge_list(b, 0, v, vl + 1)); /* trailing byte */
    unsigned char z[8];
    put(z, 0, 8);
    expect_rejected(s, b, forge_list(b, 0, z, 8)); /* an empty list */
    put(v, 1000, 8);
    expect_rejected(s, b, forge_list(b, 0, v, vl)); /* count too big */
    put(v, 2, 8);
    put(v + 8, UINT64_MAX, 8);
    expect_rejected(s, b, forge_list(b, 0, v, vl)); /* element length */
    kv_store_free(s);
}
