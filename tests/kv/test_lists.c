/* Lists: pushes and pops at both ends with Redis's replies, WRONGTYPE both
 * ways, the empty list deleted, versions stamped, memory given back, deep
 * COPY, RENAME, the size cap, and the snapshot form. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/kv/kv_test_util.h"

TestSuite(lists, .timeout = 30);

#define WRONGTYPE \
    "WRONGTYPE Operation against a key holding the wrong kind of value"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Asserts that LRANGE key 0 -1 gives the @n NUL-terminated @want. */
static void expect_list(struct kv_store *s,
                        const char *key,
                        size_t n,
                        const char *const *want)
{
    struct kv_reply r = KVT(s, 0, "LRANGE", key, "0", "-1");
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(eq(sz, r.n, n), "%s: %zu elements, want %zu", key, r.n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(sz, r.elems[i].len, strlen(want[i])));
        cr_assert(eq(int, memcmp(r.elems[i].str, want[i], r.elems[i].len), 0));
    }
    kv_reply_fini(&r);
}

#define EXPECT_LIST(s, key, ...)                                             \
    expect_list((s), (key),                                                  \
                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *), \
                (const char *const[]){__VA_ARGS__})

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(lists, push_pop_both_ends)
{
    struct kv_store *s = kvt_store(1);
    KVT_EXPECT_INT(s, 0, 3, "RPUSH", "l", "a", "b", "c");
    KVT_EXPECT_INT(s, 0, 5, "LPUSH", "l", "y", "z");
    EXPECT_LIST(s, "l", "z", "y", "a", "b", "c");
    KVT_EXPECT_INT(s, 0, 5, "LLEN", "l");
    KVT_EXPECT_BULK(s, 0, "c", "LINDEX", "l", "-1");
    KVT_EXPECT_NIL(s, 0, "LINDEX", "l", "5");
    KVT_EXPECT_BULK(s, 0, "z", "LPOP", "l");
    KVT_EXPECT_BULK(s, 0, "c", "RPOP", "l");
    KVT_EXPECT_INT(s, 0, 0, "LPUSHX", "nol", "a");
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "nol");
    KVT_EXPECT_INT(s, 0, 4, "RPUSHX", "l", "d");
    struct kv_reply r = KVT(s, 0, "LPOP", "l", "10");
    cr_assert(eq(sz, r.n, 4));
    kv_reply_fini(&r);
    /* The empty list is gone, as in Redis. */
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "l");
    r = KVT(s, 0, "LPOP", "l", "1");
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_NIL_ARRAY));
    kv_reply_fini(&r);
    KVT_EXPECT_ERR(s, 0, "ERR value is out of range, must be positive", "LPOP",
                   "l", "-1");
    KVT_EXPECT_ERR(s, 0, "ERR wrong number of arguments for 'lpop' command",
                   "LPOP", "l", "1", "2");
    kv_store_free(s);
}

Test(lists, a_ring_that_wraps_keeps_order)
{
    struct kv_store *s = kvt_store(2);
    char v[16];
    /* Alternate ends so the ring's head wraps and it grows meanwhile. */
    for (int i = 0; i < 1000; i++) {
        snprintf(v, sizeof v, "%d", i);
        struct kv_reply r = KVT(s, 0, i % 2 ? "LPUSH" : "RPUSH", "l", v);
        kv_reply_fini(&r);
    }
    for (int i = 999; i >= 1; i -= 2) {
        snprintf(v, sizeof v, "%d", i);
        KVT_EXPECT_BULK(s, 0, v, "LPOP", "l");
    }
    for (int i = 998; i >= 0; i -= 2) {
        snprintf(v, sizeof v, "%d", i);
        KVT_EXPECT_BULK(s, 0, v, "RPOP", "l");
    }
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "l");
    kv_store_free(s);
}

Test(lists, wrongtype_both_ways)
{
    struct kv_store *s = kvt_store(3);
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "s", "v");
    KVT_EXPECT_INT(s, 0, 1, "RPUSH", "l", "a");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "LPUSH", "s", "x");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "LLEN", "s");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "LRANGE", "s", "0", "1");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "RPOP", "s");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "GET", "l");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "APPEND", "l", "x");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "INCR", "l");
    KVT_EXPECT_ERR(s, 0, WRONGTYPE, "SETBIT", "l", "1", "1");
    KVT_EXPECT_STATUS(s, 0, "list", "TYPE", "l");
    KVT_EXPECT_BULK(s, 0, "quicklist", "OBJECT", "ENCODING", "l");
    /* SET replaces a list whatever its type. */
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "l", "now a string");
    KVT_EXPECT_STATUS(s, 0, "string", "TYPE", "l");
    kv_store_free(s);
}

Test(lists, versions_are_stamped)
{
    struct kv_store *s = kvt_store(4);
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.index = 10;
    struct kv_reply r = kvt_exec_ctx(
        s, &ctx, (const char *const[]){"RPUSH", "l", "a", "b", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 10));
    ctx.index = 11;
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"LPOP", "l", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 11));
    ctx.index = 12;
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"LPOP", "l", "0", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 11)); /* no change */
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"LLEN", "l", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 11));
    ctx.index = 13;
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"RPUSHX", "l", "c", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), 13));
    ctx.index = 14;
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"RPOP", "l", "5", NULL});
    kv_reply_fini(&r);
    cr_assert(eq(u64, kv_store_version(s, "l", 1, 0), KV_VERSION_ABSENT));
    kv_store_free(s);
}

Test(lists, memory_is_counted_and_given_back)
{
    struct kv_store *s = kvt_store(5);
    size_t base = kv_store_memory(s);
    char v[64];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 2000; i++) {
        struct kv_reply r = KVT(s, 0, "RPUSH", "l", v);
        kv_reply_fini(&r);
    }
    cr_assert(gt(sz, kv_store_memory(s), base + 2000 * 63));
    KVT_EXPECT_INT(s, 0, 1, "DEL", "l");
    cr_assert(le(sz, kv_store_memory(s), base + 256));
    kv_store_free(s);
}

Test(lists, copy_is_deep_and_rename_moves)
{
    struct kv_store *s = kvt_store(6);
    KVT_EXPECT_INT(s, 0, 2, "RPUSH", "a", "1", "2");
    KVT_EXPECT_INT(s, 0, 1, "PEXPIRE", "a", "100000");
    KVT_EXPECT_INT(s, 0, 1, "COPY", "a", "b");
    KVT_EXPECT_INT(s, 0, 3, "RPUSH", "b", "3");
    EXPECT_LIST(s, "a", "1", "2");
    EXPECT_LIST(s, "b", "1", "2", "3");
    KVT_EXPECT_INT(s, 0, 100000, "PTTL", "b");
    KVT_EXPECT_STATUS(s, 0, "OK", "RENAME", "b", "c");
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "b");
    EXPECT_LIST(s, "c", "1", "2", "3");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "str", "v");
    KVT_EXPECT_STATUS(s, 0, "OK", "RENAME", "c", "str");
    EXPECT_LIST(s, "str", "1", "2", "3");
    kv_store_free(s);
}

Test(lists, capped_at_max_bulk_len)
{
    struct kv_store *s = kvt_store(7);
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.max_bulk_len = 10;
    struct kv_reply r = kvt_exec_ctx(
        s, &ctx, (const char *const[]){"RPUSH", "l", "12345", "6789", NULL});
    cr_assert(eq(i64, r.i, 2));
    kv_reply_fini(&r);
    r = kvt_exec_ctx(s, &ctx,
                     (const char *const[]){"RPUSH", "l", "a", "bc", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ERROR));
    cr_assert(eq(int, r.err, KV_ERR_LIST_TOOBIG));
    kv_reply_fini(&r);
    KVT_EXPECT_INT(s, 0, 2, "LLEN", "l"); /* all or nothing */
    kv_store_free(s);
}

Test(lists, snapshot_round_trip)
{
    struct kv_store *s = kvt_store(8);
    KVT_EXPECT_INT(s, 0, 3, "RPUSH", "l", "a", "", "c");
    KVT_EXPECT_INT(s, 0, 1, "RPUSH", "t", "x");
    KVT_EXPECT_INT(s, 0, 1, "PEXPIRE", "t", "5000");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "s", "str");
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(s, &buf, &len), 0));
    struct kv_store *t = kvt_store(9);
    cr_assert(eq(int, kv_snapshot_decode(t, buf, len), 0));
    EXPECT_LIST(t, "l", "a", "", "c");
    KVT_EXPECT_INT(t, 0, 5000, "PTTL", "t");
    KVT_EXPECT_BULK(t, 0, "str", "GET", "s");
    cr_assert(eq(u64, kv_store_version(t, "l", 1, 0),
                 kv_store_version(s, "l", 1, 0)));
    /* Damage every byte of the value region in turn: never a crash. */
    for (size_t i = 16; i + 8 < len; i++) {
        unsigned char *b = buf;
        b[i] ^= 0x5a;
        (void)kv_snapshot_decode(t, buf, len); /* checksum: -EPROTO */
        b[i] ^= 0x5a;
    }
    free(buf);
    kv_store_free(t);
    kv_store_free(s);
}
