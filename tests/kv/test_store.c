/* Unit tests of the keyspace map: hashing, incremental rehashing, SCAN
 * cursors, expiry and memory accounting. White-box: uses kv_internal.h. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"
#include "tests/kv/kv_test_util.h"

TestSuite(store, .timeout = 30);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static size_t key_name(char *buf, size_t cap, int i)
{
    int n = snprintf(buf, cap, "key:%08d", i);
    cr_assert(n > 0);
    return (size_t)n;
}

static void put_key(struct kv_store *s, int i, int64_t expire_ms)
{
    char k[32];
    char v[32];
    size_t kl = key_name(k, sizeof(k), i);
    int vl = snprintf(v, sizeof(v), "value-%d", i);
    cr_assert(
        eq(int, kv__set_str(s, k, kl, v, (size_t)vl, expire_ms, false, 0), 0));
}

static bool has_key(struct kv_store *s, int i, int64_t now_ms)
{
    char k[32];
    size_t kl = key_name(k, sizeof(k), i);
    return kv__find(s, k, kl, now_ms) != NULL;
}

static bool del_key(struct kv_store *s, int i)
{
    char k[32];
    size_t kl = key_name(k, sizeof(k), i);
    return kv__del(s, k, kl);
}

/* Parses the number out of "key:%08d" (not NUL-terminated). */
static int parse_index(const char *k, size_t kl)
{
    cr_assert(kl == 12 && memcmp(k, "key:", 4) == 0);
    int v = 0;
    for (size_t i = 4; i < 12; i++) {
        v = v * 10 + (k[i] - '0');
    }
    return v;
}

static int key_index(const struct kv_entry *e)
{
    size_t kl;
    const char *k = kv__key(e, &kl);
    return parse_index(k, kl);
}

/* ------------------------------------------------------------------------
 * SipHash
 * ---------------------------------------------------------------------- */

/* Reference vectors from the SipHash paper: key 00..0f, message 00..n-1. */
Test(store, siphash_reference_vectors)
{
    uint8_t key[16];
    uint8_t msg[16];
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
        msg[i] = (uint8_t)i;
    }
    uint64_t k0 = 0;
    uint64_t k1 = 0;
    for (int i = 7; i >= 0; i--) {
        k0 = k0 << 8 | key[i];
        k1 = k1 << 8 | key[8 + i];
    }
    cr_assert(eq(u64, kv__siphash(msg, 0, k0, k1), 0x726fdb47dd0e0e31ull));
    cr_assert(eq(u64, kv__siphash(msg, 1, k0, k1), 0x74f839c593dc67fdull));
    cr_assert(eq(u64, kv__siphash(msg, 15, k0, k1), 0xa129ca6149be45e5ull));
}

/* ------------------------------------------------------------------------
 * Insert, find, delete across rehashes
 * ---------------------------------------------------------------------- */

Test(store, insert_find_delete_across_rehashes)
{
    struct kv_store *s = kvt_store(1);
    const int n = 50000;
    bool saw_rehash = false;

    for (int i = 0; i < n; i++) {
        put_key(s, i, -1);
        /* Every so often, check a sample while a resize is under way. */
        if (i % 997 == 0) {
            cr_assert(has_key(s, i / 2, 0));
            cr_assert(has_key(s, i, 0));
            cr_assert(not(has_key(s, n + i, 0)));
        }
    }
    cr_assert(eq(sz, kv_store_size(s), (size_t)n));
    for (int i = 0; i < n; i++) {
        cr_assert(has_key(s, i, 0), "key %d", i);
    }
    /* Overwrite does not add. */
    put_key(s, 7, -1);
    cr_assert(eq(sz, kv_store_size(s), (size_t)n));

    /* Delete the even keys: the table shrinks (incrementally) on the way
     * and the odd keys must stay reachable throughout. */
    for (int i = 0; i < n; i += 2) {
        cr_assert(del_key(s, i));
        cr_assert(not(del_key(s, i)));
        if (i % 1001 == 0) {
            cr_assert(has_key(s, i + 1, 0));
        }
    }
    for (int i = 0; i < n; i += 2) {
        cr_assert(not(has_key(s, i, 0)));
        cr_assert(has_key(s, i + 1, 0));
    }
    /* Delete nearly all: shrinking starts and is driven by idle steps. */
    for (int i = 1; i < n - 20; i += 2) {
        cr_assert(del_key(s, i));
    }
    while (kv_store_rehash_step(s, 100)) {
        saw_rehash = true;
    }
    cr_assert(saw_rehash);
    cr_assert(eq(sz, kv_store_size(s), (size_t)10));
    for (int i = n - 19; i < n; i += 2) {
        cr_assert(has_key(s, i, 0));
    }
    kv_store_free(s);
}

Test(store, operations_during_rehash)
{
    struct kv_store *s = kvt_store(2);
    /* 4096 keys fill a 4096-bucket table; the next insert starts a grow
     * to 8192 that takes many steps. */
    for (int i = 0; i < 4096; i++) {
        put_key(s, i, -1);
    }
    while (kv_store_rehash_step(s, 1000)) {
    }
    put_key(s, 4096, -1);
    cr_assert(kv_store_rehash_step(s, 1), "a grow should be under way");
    /* Mix inserts, deletes and lookups while the two tables coexist. */
    for (int i = 0; i < 200; i++) {
        cr_assert(del_key(s, i * 3));
        put_key(s, 10000 + i, -1);
        cr_assert(has_key(s, i * 3 + 1, 0));
        cr_assert(has_key(s, 10000 + i, 0));
        cr_assert(not(has_key(s, i * 3, 0)));
    }
    while (kv_store_rehash_step(s, 1000)) {
    }
    cr_assert(eq(sz, kv_store_size(s), (size_t)4097));
    for (int i = 0; i < 200; i++) {
        cr_assert(not(has_key(s, i * 3, 0)));
        cr_assert(has_key(s, 10000 + i, 0));
    }
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * SCAN
 * ---------------------------------------------------------------------- */

struct seen
{
    unsigned char *count; /* visits per key index */
    size_t cap;           /* entries in count */
};

static void seen_cb(void *arg, struct kv_entry *e)
{
    struct seen *sn = arg;
    int i = key_index(e);
    cr_assert(i >= 0 && (size_t)i < sn->cap);
    if (sn->count[i] < 255) {
        sn->count[i]++;
    }
}

/* Runs a scan while growing (and then shrinking) the table between
 * steps. Keys 0..999 exist throughout and must each be seen. */
static void scan_while_resizing(bool shrink)
{
    struct kv_store *s = kvt_store(3);
    struct seen sn = {calloc(20000, 1), 20000};
    const int stable = 1000;
    int next = stable;

    for (int i = 0; i < stable; i++) {
        put_key(s, i, -1);
    }
    if (shrink) {
        for (int i = stable; i < 16000; i++) {
            put_key(s, i, -1);
        }
        while (kv_store_rehash_step(s, 1000)) {
        }
        next = 16000;
    }
    uint64_t cursor = 0;
    int steps = 0;
    int deleted = stable;
    do {
        cursor = kv__scan(s, cursor, seen_cb, &sn);
        steps++;
        if (shrink) {
            /* Remove the churn keys a batch at a time. */
            for (int j = 0; j < 300 && deleted < next; j++) {
                cr_assert(del_key(s, deleted++));
            }
        } else if (next < 12000) {
            for (int j = 0; j < 50; j++) {
                put_key(s, next++, -1);
            }
        }
        kv_store_rehash_step(s, 3);
    } while (cursor != 0);
    for (int i = 0; i < stable; i++) {
        cr_assert(ge(int, sn.count[i], 1), "key %d missed", i);
    }
    cr_assert(gt(int, steps, 1));
    free(sn.count);
    kv_store_free(s);
}

Test(store, scan_sees_stable_keys_while_growing)
{
    scan_while_resizing(false);
}

Test(store, scan_sees_stable_keys_while_shrinking)
{
    scan_while_resizing(true);
}

Test(store, scan_without_resize_sees_each_key_once)
{
    struct kv_store *s = kvt_store(4);
    struct seen sn = {calloc(5000, 1), 5000};
    for (int i = 0; i < 5000; i++) {
        put_key(s, i, -1);
    }
    while (kv_store_rehash_step(s, 1000)) {
    }
    uint64_t cursor = 0;
    do {
        cursor = kv__scan(s, cursor, seen_cb, &sn);
    } while (cursor != 0);
    for (int i = 0; i < 5000; i++) {
        cr_assert(eq(int, sn.count[i], 1), "key %d", i);
    }
    free(sn.count);
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------- */

Test(store, encodings_follow_redis_rules)
{
    struct kv_store *s = kvt_store(5);
    char tmp[24];
    size_t len;
    struct
    {
        const char *val;
        enum kv_enc enc;
    } cases[] = {
        {"123", KV_ENC_INT},
        {"-9223372036854775808", KV_ENC_INT},
        {"9223372036854775807", KV_ENC_INT},
        {"9223372036854775808", KV_ENC_EMBSTR},
        {"0123", KV_ENC_EMBSTR},
        {"+1", KV_ENC_EMBSTR},
        {"-0", KV_ENC_EMBSTR},
        {"", KV_ENC_EMBSTR},
        {"12345678901234567890123456789012345678901234", KV_ENC_EMBSTR},
        {"123456789012345678901234567890123456789012345", KV_ENC_RAW},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t vl = strlen(cases[i].val);
        cr_assert(
            eq(int, kv__set_str(s, "k", 1, cases[i].val, vl, -1, false, 0), 0));
        struct kv_entry *e = kv__find(s, "k", 1, 0);
        cr_assert(e != NULL);
        cr_assert(eq(int, (int)kv__enc(e), (int)cases[i].enc), "%s",
                  cases[i].val);
        const char *v = kv__str(e, &len, tmp);
        cr_assert(eq(sz, len, vl));
        cr_assert(eq(int, memcmp(v, cases[i].val, vl), 0));
    }
    kv_store_free(s);
}

Test(store, str_resize_keeps_entry_and_bytes)
{
    struct kv_store *s = kvt_store(6);
    char tmp[24];
    size_t len;
    cr_assert(eq(int, kv__set_str(s, "k", 1, "12", 2, 5000, false, 0), 0));
    struct kv_entry *e = kv__find(s, "k", 1, 0);
    char *p = kv__str_resize(s, e, 5);
    cr_assert(p != NULL);
    cr_assert(eq(int, memcmp(p, "12\0\0\0", 5), 0));
    cr_assert(eq(int, (int)kv__enc(e), (int)KV_ENC_RAW));
    /* The entry did not move and kept its expiry. */
    cr_assert(eq(ptr, kv__find(s, "k", 1, 0), e));
    cr_assert(eq(i64, kv__expire(e), 5000));
    /* Grow a lot (amortised), shrink, grow: new bytes are zero. */
    for (size_t n = 6; n < 5000; n += 7) {
        p = kv__str_resize(s, e, n);
        cr_assert(p != NULL);
        p[n - 1] = 'x';
    }
    p = kv__str_resize(s, e, 3);
    p = kv__str_resize(s, e, 10);
    cr_assert(eq(int, memcmp(p, "12\0\0\0\0\0\0\0\0", 10), 0));
    const char *v = kv__str(e, &len, tmp);
    cr_assert(eq(sz, len, 10));
    cr_assert(eq(ptr, (void *)v, (void *)p));
    /* A long inline value converts too. */
    cr_assert(
        eq(int, kv__set_str(s, "a", 1, "hello world", 11, -1, false, 0), 0));
    e = kv__find(s, "a", 1, 0);
    p = kv__str_resize(s, e, 16);
    cr_assert(eq(int, memcmp(p, "hello world\0\0\0\0\0", 16), 0));
    kv_store_free(s);
    /* ASan checks that nothing leaked. */
}

Test(store, set_str_may_alias_replaced_entry)
{
    struct kv_store *s = kvt_store(7);
    char tmp[24];
    size_t kl;
    size_t vl;
    const char *val = "a value long enough to be stored raw.............";
    cr_assert(
        eq(int, kv__set_str(s, "key", 3, val, strlen(val), -1, false, 0), 0));
    struct kv_entry *e = kv__find(s, "key", 3, 0);
    const char *k = kv__key(e, &kl);
    const char *v = kv__str(e, &vl, tmp);
    /* Replace the key with its own bytes, passed by pointer into it. */
    cr_assert(eq(int, kv__set_str(s, k, kl, v + 2, vl - 2, -1, false, 0), 0));
    e = kv__find(s, "key", 3, 0);
    v = kv__str(e, &vl, tmp);
    cr_assert(eq(sz, vl, strlen(val) - 2));
    cr_assert(eq(int, memcmp(v, val + 2, vl), 0));
    kv_store_free(s);
}

Test(store, keep_ttl_keeps_live_expiry_only)
{
    struct kv_store *s = kvt_store(8);
    cr_assert(eq(int, kv__set_str(s, "k", 1, "a", 1, 1000, false, 0), 0));
    cr_assert(eq(sz, kv_store_expires(s), 1));
    cr_assert(eq(int, kv__set_str(s, "k", 1, "b", 1, -1, true, 500), 0));
    cr_assert(eq(i64, kv__expire(kv__find(s, "k", 1, 500)), 1000));
    /* Expired at now: the old TTL is not kept. */
    cr_assert(eq(int, kv__set_str(s, "k", 1, "c", 1, -1, true, 1000), 0));
    cr_assert(eq(i64, kv__expire(kv__find(s, "k", 1, 1000)), -1));
    cr_assert(eq(sz, kv_store_expires(s), 0));
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * Expiry
 * ---------------------------------------------------------------------- */

Test(store, expired_keys_hidden_but_kept)
{
    struct kv_store *s = kvt_store(9);
    cr_assert(eq(int, kv__set_str(s, "k", 1, "v", 1, 1000, false, 0), 0));
    cr_assert(kv__find(s, "k", 1, 999) != NULL);
    cr_assert(kv__find(s, "k", 1, 1000) == NULL);
    cr_assert(kv__find_raw(s, "k", 1) != NULL);
    cr_assert(eq(sz, kv_store_size(s), 1));
    cr_assert(not(kv_store_expire_if_due(s, "k", 1, 999)));
    cr_assert(not(kv_store_expire_if_due(s, "nokey", 5, 5000)));
    cr_assert(kv_store_expire_if_due(s, "k", 1, 1000));
    cr_assert(eq(sz, kv_store_size(s), 0));
    cr_assert(eq(sz, kv_store_expires(s), 0));
    kv_store_free(s);
}

struct collect
{
    unsigned char *seen; /* reports per key index */
    int pending[16];     /* keys reported by the current call */
    size_t npending;     /* entries in pending */
};

static void collect_cb(void *arg, const char *key, size_t len)
{
    struct collect *c = arg;
    int i = parse_index(key, len);
    c->seen[i]++;
    if (c->npending < 16) {
        c->pending[c->npending++] = i;
    }
}

Test(store, sample_expired_finds_all_expired_keys)
{
    struct kv_store *s = kvt_store(10);
    const int n = 20000;
    struct collect c = {.seen = calloc((size_t)n, 1)};

    /* Every 10th key expires at 100; others at 10^6 or never. */
    for (int i = 0; i < n; i++) {
        put_key(s, i, i % 10 == 0 ? 100 : (i % 3 == 0 ? 1000000 : -1));
    }
    cr_assert(eq(sz, kv_store_expires(s), (size_t)8000));
    /* Nothing is due yet. */
    cr_assert(eq(sz, kv_store_sample_expired(s, 99, 10, collect_cb, &c), 0));
    /* Bounded: each call reports at most max keys. Resuming calls cover
     * the table; the leader deletes what it was told about, as the
     * replicated deletes would. */
    int rounds = 0;
    while (kv_store_size(s) > (size_t)(n - n / 10) && rounds < 100000) {
        c.npending = 0;
        size_t got = kv_store_sample_expired(s, 100, 10, collect_cb, &c);
        cr_assert(le(sz, got, 10));
        cr_assert(eq(sz, got, c.npending));
        for (size_t j = 0; j < c.npending; j++) {
            char k[32];
            size_t kl = key_name(k, sizeof(k), c.pending[j]);
            cr_assert(kv_store_expire_if_due(s, k, kl, 100));
        }
        rounds++;
    }
    cr_assert(eq(sz, kv_store_size(s), (size_t)(n - n / 10)));
    cr_assert(eq(sz, kv_store_expires(s), (size_t)6000));
    for (int i = 0; i < n; i++) {
        cr_assert(eq(int, c.seen[i], i % 10 == 0 ? 1 : 0), "key %d", i);
    }
    free(c.seen);
    kv_store_free(s);
}

Test(store, sample_expired_small_table_reports_once_per_call)
{
    struct kv_store *s = kvt_store(11);
    struct collect c = {.seen = calloc(10, 1)};
    put_key(s, 1, 5);
    put_key(s, 2, -1);
    cr_assert(eq(sz, kv_store_sample_expired(s, 10, 100, collect_cb, &c), 1));
    cr_assert(eq(int, c.seen[1], 1));
    free(c.seen);
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * Memory accounting and seeds
 * ---------------------------------------------------------------------- */

Test(store, memory_accounting)
{
    struct kv_store *s = kvt_store(12);
    cr_assert(eq(sz, kv_store_memory(s), 0));
    for (int i = 0; i < 10000; i++) {
        put_key(s, i, -1);
    }
    size_t full = kv_store_memory(s);
    /* At least the key and value bytes; well under 200 bytes a key. */
    cr_assert(gt(sz, full, (size_t)10000 * (12 + 10)));
    cr_assert(lt(sz, full, (size_t)10000 * 200));
    /* Growing a value in place counts its buffer. */
    struct kv_entry *e = kv__find(s, "key:00000001", 12, 0);
    cr_assert(kv__str_resize(s, e, 100000) != NULL);
    cr_assert(ge(sz, kv_store_memory(s), full + 100000));
    for (int i = 0; i < 10000; i++) {
        cr_assert(del_key(s, i));
    }
    while (kv_store_rehash_step(s, 1000)) {
    }
    /* Only the smallest table is left. */
    cr_assert(le(sz, kv_store_memory(s), 64));
    kv_store_clear(s);
    cr_assert(eq(sz, kv_store_memory(s), 0));
    kv_store_free(s);
}

struct sum
{
    uint64_t h; /* order-independent digest of the contents */
    size_t n;   /* entries */
};

static void sum_cb(void *arg, struct kv_entry *e)
{
    struct sum *sm = arg;
    char tmp[24];
    size_t kl;
    size_t vl;
    const char *k = kv__key(e, &kl);
    const char *v = kv__str(e, &vl, tmp);
    uint64_t h = kv__siphash(k, kl, 1, 2) ^ kv__siphash(v, vl, 3, 4) * 31 ^
                 (uint64_t)kv__expire(e) * 7;
    sm->h += h;
    sm->n++;
}

Test(store, different_seeds_same_contents)
{
    struct kv_store *a = kvt_store(13);
    struct kv_store *b = kvt_store(14);
    for (int i = 0; i < 3000; i++) {
        put_key(a, i, i % 7 == 0 ? 5000 + i : -1);
        put_key(b, i, i % 7 == 0 ? 5000 + i : -1);
        if (i % 5 == 0) {
            del_key(a, i / 2);
            del_key(b, i / 2);
        }
    }
    struct sum sa = {0, 0};
    struct sum sb = {0, 0};
    kv__foreach(a, sum_cb, &sa);
    kv__foreach(b, sum_cb, &sb);
    cr_assert(eq(sz, sa.n, sb.n));
    cr_assert(eq(u64, sa.h, sb.h));
    cr_assert(eq(sz, kv_store_expires(a), kv_store_expires(b)));
    kv_store_free(a);
    kv_store_free(b);
}
