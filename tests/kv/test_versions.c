/* Key versions for WATCH: every modification path stamps the applying
 * entry's index, reads and refused writes do not, absent and expired keys
 * read as KV_VERSION_ABSENT, and versions survive a snapshot. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/kv/kv_test_util.h"

TestSuite(versions, .timeout = 30);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Runs the command in the NULL-terminated @args as the write of log entry
 * @index at time @now and discards the reply. */
static void at(struct kv_store *s,
               uint64_t index,
               int64_t now,
               const char *const *args)
{
    struct kv_exec_ctx ctx = kvt_ctx(now);
    ctx.index = index;
    struct kv_reply r = kvt_exec_ctx(s, &ctx, args);
    cr_assert(ne(int, (int)r.type, (int)KV_REPLY_ERROR), "%s failed", args[0]);
    kv_reply_fini(&r);
}

#define AT(s, index, ...) \
    at((s), (index), 1000, (const char *const[]){__VA_ARGS__, NULL})

static uint64_t ver(struct kv_store *s, const char *key)
{
    return kv_store_version(s, key, strlen(key), 1000);
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(versions, absent_keys_have_no_version)
{
    struct kv_store *s = kvt_store(1);
    cr_assert(eq(u64, ver(s, "nope"), KV_VERSION_ABSENT));
    AT(s, 5, "SET", "k", "v");
    cr_assert(eq(u64, ver(s, "k"), 5));
    AT(s, 6, "DEL", "k");
    cr_assert(eq(u64, ver(s, "k"), KV_VERSION_ABSENT));
    kv_store_free(s);
}

Test(versions, every_string_write_stamps_the_index)
{
    struct kv_store *s = kvt_store(2);
    uint64_t i = 10;
    AT(s, ++i, "SET", "k", "1");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "SET", "k", "1"); /* same value: still a write (Redis) */
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "INCR", "k");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "INCRBYFLOAT", "k", "1.5");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "APPEND", "k", "x");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "SETRANGE", "k", "0", "ab");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "SETBIT", "k", "3", "1");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "BITFIELD", "k", "SET", "u8", "0", "7");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "GETSET", "k", "z");
    cr_assert(eq(u64, ver(s, "k"), i));
    AT(s, ++i, "MSET", "k", "1", "k2", "2");
    cr_assert(eq(u64, ver(s, "k"), i));
    cr_assert(eq(u64, ver(s, "k2"), i));
    AT(s, ++i, "BITOP", "OR", "dst", "k", "k2");
    cr_assert(eq(u64, ver(s, "dst"), i));
    AT(s, ++i, "GETDEL", "k2");
    cr_assert(eq(u64, ver(s, "k2"), KV_VERSION_ABSENT));
    kv_store_free(s);
}

Test(versions, expiry_rename_and_copy_stamp_the_index)
{
    struct kv_store *s = kvt_store(3);
    AT(s, 1, "SET", "a", "v");
    AT(s, 2, "EXPIRE", "a", "100");
    cr_assert(eq(u64, ver(s, "a"), 2));
    AT(s, 3, "PERSIST", "a");
    cr_assert(eq(u64, ver(s, "a"), 3));
    AT(s, 4, "GETEX", "a", "PX", "5000");
    cr_assert(eq(u64, ver(s, "a"), 4));
    AT(s, 5, "COPY", "a", "b");
    cr_assert(eq(u64, ver(s, "a"), 4)); /* the source is only read */
    cr_assert(eq(u64, ver(s, "b"), 5));
    AT(s, 6, "RENAME", "a", "c");
    cr_assert(eq(u64, ver(s, "a"), KV_VERSION_ABSENT));
    cr_assert(eq(u64, ver(s, "c"), 6));
    AT(s, 7, "SET", "big", "0123456789012345678901234567890123456789xxxxx");
    AT(s, 8, "APPEND", "big", "y"); /* heap value: moved by RENAME */
    AT(s, 9, "RENAME", "big", "c");
    cr_assert(eq(u64, ver(s, "c"), 9));
    AT(s, 10, "FLUSHALL");
    cr_assert(eq(u64, ver(s, "b"), KV_VERSION_ABSENT));
    cr_assert(eq(u64, ver(s, "c"), KV_VERSION_ABSENT));
    kv_store_free(s);
}

Test(versions, reads_and_refused_writes_do_not_stamp)
{
    struct kv_store *s = kvt_store(4);
    AT(s, 1, "SET", "a", "v");
    AT(s, 2, "GET", "a");
    AT(s, 3, "EXPIRE", "a", "100", "XX"); /* no TTL: refused */
    AT(s, 4, "PERSIST", "a");             /* no TTL: nothing to do */
    AT(s, 5, "GETEX", "a", "PERSIST");    /* likewise (Redis) */
    AT(s, 6, "SET", "a", "w", "NX");
    AT(s, 7, "STRLEN", "a");
    AT(s, 8, "BITFIELD", "a", "GET", "u8", "0");
    AT(s, 9, "SETRANGE", "a", "0", "");
    AT(s, 10, "RENAME", "a", "a");
    AT(s, 11, "LPOP", "nolist", "0");
    cr_assert(eq(u64, ver(s, "a"), 1));
    kv_store_free(s);
}

Test(versions, expired_keys_read_as_absent)
{
    struct kv_store *s = kvt_store(5);
    AT(s, 1, "SET", "a", "v", "PX", "500"); /* expires at 1500 */
    cr_assert(eq(u64, kv_store_version(s, "a", 1, 1499), 1));
    cr_assert(eq(u64, kv_store_version(s, "a", 1, 1500), KV_VERSION_ABSENT));
    cr_assert(kv_store_expire_if_due(s, "a", 1, 1500));
    cr_assert(eq(u64, kv_store_version(s, "a", 1, 0), KV_VERSION_ABSENT));
    kv_store_free(s);
}

Test(versions, index_zero_counts_as_one)
{
    struct kv_store *s = kvt_store(6);
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "v");
    cr_assert(eq(u64, kv_store_version(s, "a", 1, 0), 1));
    kv_store_free(s);
}

Test(versions, versions_match_is_the_exec_check)
{
    struct kv_store *s = kvt_store(7);
    AT(s, 3, "SET", "a", "v");
    const char *keys[2] = {"a", "b"};
    size_t lens[2] = {1, 1};
    uint64_t want[2] = {3, KV_VERSION_ABSENT};
    cr_assert(kv_store_versions_match(s, 1000, 2, keys, lens, want));
    cr_assert(kv_store_versions_match(s, 1000, 0, keys, lens, want));
    AT(s, 4, "SET", "b", "x");
    cr_assert(not(kv_store_versions_match(s, 1000, 2, keys, lens, want)));
    AT(s, 5, "DEL", "b");
    /* Created and deleted again: absent again, so it matches (a deviation
     * from Redis, which aborts; versions keep no tombstones). */
    cr_assert(kv_store_versions_match(s, 1000, 2, keys, lens, want));
    AT(s, 6, "PEXPIRE", "a", "10");
    cr_assert(not(kv_store_versions_match(s, 1000, 2, keys, lens, want)));
    want[0] = 6;
    cr_assert(kv_store_versions_match(s, 1000, 2, keys, lens, want));
    /* The key expires: a change, as in Redis. */
    cr_assert(not(kv_store_versions_match(s, 1010, 2, keys, lens, want)));
    kv_store_free(s);
}

Test(versions, snapshot_round_trip_keeps_versions)
{
    struct kv_store *s = kvt_store(8);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        AT(s, (uint64_t)(100 + i), "SET", key, i % 2 ? "12" : "value");
    }
    AT(s, 5000, "PEXPIRE", "k7", "100000");
    void *buf;
    size_t len;
    cr_assert(eq(int, kv_snapshot_encode(s, &buf, &len), 0));
    struct kv_store *t = kvt_store(9);
    cr_assert(eq(int, kv_snapshot_decode(t, buf, len), 0));
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(eq(u64, ver(t, key), i == 7 ? 5000 : (uint64_t)(100 + i)));
    }
    free(buf);
    kv_store_free(t);
    kv_store_free(s);
}
