/* Tests of the generic key commands against Redis 7.0's replies and
 * error texts, and of command lookup and dispatch. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/kv/kv_test_util.h"

TestSuite(keys, .timeout = 30);

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

static struct kv_store *s;

static void setup(void)
{
    s = kvt_store(1);
}

static void teardown(void)
{
    kv_store_free(s);
}

/* Sorted copy of the bulk strings of an array reply, joined by ','. */
static void joined_sorted(const struct kv_reply *arr, char *buf, size_t cap)
{
    size_t n = arr->n;
    const char **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        cr_assert(eq(int, (int)arr->elems[i].type, (int)KV_REPLY_BULK));
        v[i] = arr->elems[i].str;
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(buf, v[i], cap - strlen(buf) - 2);
        if (i + 1 < n) {
            strcat(buf, ",");
        }
    }
    free(v);
}

#define KVT_EXPECT_KEYS(now_ms, joined, ...)                             \
    do {                                                                 \
        char b_[4096];                                                   \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);                \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_ARRAY), "line %d", \
                  __LINE__);                                             \
        joined_sorted(&r_, b_, sizeof(b_));                              \
        cr_assert(eq(str, b_, (char *)(joined)), "line %d", __LINE__);   \
        kv_reply_fini(&r_);                                              \
    } while (0)

/* ------------------------------------------------------------------------
 * Lookup and dispatch
 * ---------------------------------------------------------------------- */

Test(keys, lookup_is_case_insensitive_with_flags)
{
    unsigned flags = 0;
    cr_assert(kv_cmd_lookup("DEL", 3, &flags));
    cr_assert(eq(u32, flags, KV_CMD_WRITE));
    cr_assert(kv_cmd_lookup("pTtL", 4, &flags));
    cr_assert(eq(u32, flags, KV_CMD_READONLY));
    cr_assert(kv_cmd_lookup("get", 3, &flags));
    cr_assert(kv_cmd_lookup("SETBIT", 6, &flags));
    cr_assert(eq(u32, flags, KV_CMD_WRITE));
    cr_assert(not(kv_cmd_lookup("ping", 4, &flags)));
    cr_assert(not(kv_cmd_lookup("dele", 4, &flags)));
    cr_assert(not(kv_cmd_lookup("de", 2, &flags)));
    cr_assert(not(kv_cmd_lookup("", 0, &flags)));
    /* The length counts, not a NUL. */
    cr_assert(kv_cmd_lookup("delete", 3, &flags));
}

Test(keys, flags_match_redis, .init = setup, .fini = teardown)
{
    const char *writes[] = {"del",       "unlink",  "rename",  "renamenx",
                            "copy",      "expire",  "pexpire", "expireat",
                            "pexpireat", "persist", "flushdb", "flushall"};
    const char *reads[] = {"exists",     "type",        "ttl",    "pttl",
                           "expiretime", "pexpiretime", "keys",   "scan",
                           "randomkey",  "object",      "dbsize", "touch"};
    unsigned flags;
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        cr_assert(kv_cmd_lookup(writes[i], strlen(writes[i]), &flags));
        cr_assert(eq(u32, flags, KV_CMD_WRITE), "%s", writes[i]);
    }
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        cr_assert(kv_cmd_lookup(reads[i], strlen(reads[i]), &flags));
        cr_assert(eq(u32, flags, KV_CMD_READONLY), "%s", reads[i]);
    }
}

Test(keys, arity_and_unknown, .init = setup, .fini = teardown)
{
    KVT_EXPECT_ERR(s, 0, "ERR wrong number of arguments for 'del' command",
                   "DEL");
    KVT_EXPECT_ERR(s, 0, "ERR wrong number of arguments for 'type' command",
                   "TyPe", "a", "b");
    KVT_EXPECT_ERR(s, 0,
                   "ERR wrong number of arguments for 'randomkey' command",
                   "RANDOMKEY", "x");
    KVT_EXPECT_ERR(
        s, 0,
        "ERR unknown command 'nosuch', with args beginning with: ", "nosuch");
    /* Malformed argv from the log: no crash, an error. */
    struct kv_exec_ctx ctx = kvt_ctx(0);
    struct kv_reply r;
    kv_exec(s, &ctx, 0, NULL, NULL, &r);
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ERROR));
    kv_reply_fini(&r);
    const char *argv[] = {"del", NULL};
    size_t lens[] = {3, 0};
    kv_exec(s, &ctx, 2, argv, lens, &r);
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ERROR));
    kv_reply_fini(&r);
    /* Followers pass no reply. */
    const char *set[] = {"set", "k", "v"};
    size_t setl[] = {3, 1, 1};
    kv_exec(s, &ctx, 3, set, setl, NULL);
    KVT_EXPECT_INT(s, 0, 1, "EXISTS", "k");
}

/* ------------------------------------------------------------------------
 * DEL, EXISTS, TYPE, TOUCH
 * ---------------------------------------------------------------------- */

Test(keys, del_exists_type, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "2");
    KVT_EXPECT_INT(s, 0, 3, "EXISTS", "a", "b", "a", "c");
    KVT_EXPECT_INT(s, 0, 2, "TOUCH", "a", "b", "c");
    KVT_EXPECT_STATUS(s, 0, "string", "TYPE", "a");
    KVT_EXPECT_STATUS(s, 0, "none", "TYPE", "zz");
    KVT_EXPECT_INT(s, 0, 1, "DEL", "a", "a", "c");
    KVT_EXPECT_INT(s, 0, 1, "UNLINK", "b");
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "a", "b");
    KVT_EXPECT_INT(s, 0, 0, "DBSIZE");
}

Test(keys, expired_keys_are_absent, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1", "PX", "100");
    KVT_EXPECT_INT(s, 99, 1, "EXISTS", "a");
    KVT_EXPECT_INT(s, 100, 0, "EXISTS", "a");
    KVT_EXPECT_STATUS(s, 100, "none", "TYPE", "a");
    KVT_EXPECT_INT(s, 100, -2, "TTL", "a");
    /* Reads do not remove it; DBSIZE counts it, as Redis does. */
    KVT_EXPECT_INT(s, 100, 1, "DBSIZE");
    /* DEL removes it but does not count it. */
    KVT_EXPECT_INT(s, 100, 0, "DEL", "a");
    KVT_EXPECT_INT(s, 100, 0, "DBSIZE");
}

/* ------------------------------------------------------------------------
 * RENAME, RENAMENX, COPY
 * ---------------------------------------------------------------------- */

Test(keys, rename, .init = setup, .fini = teardown)
{
    KVT_EXPECT_ERR(s, 0, "ERR no such key", "RENAME", "a", "b");
    KVT_EXPECT_ERR(s, 0, "ERR no such key", "RENAME", "a", "a");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "hello", "PX", "5000");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "x");
    KVT_EXPECT_STATUS(s, 0, "OK", "RENAME", "a", "a");
    KVT_EXPECT_STATUS(s, 0, "OK", "RENAME", "a", "b");
    KVT_EXPECT_BULK(s, 0, "hello", "GET", "b");
    KVT_EXPECT_INT(s, 0, 5000, "PTTL", "b");
    KVT_EXPECT_INT(s, 0, 0, "EXISTS", "a");
    KVT_EXPECT_INT(s, 0, 1, "DBSIZE");
    /* An expired source is gone. */
    KVT_EXPECT_ERR(s, 5000, "ERR no such key", "RENAME", "b", "c");
    KVT_EXPECT_INT(s, 5000, 0, "DBSIZE");
}

Test(keys, rename_keeps_raw_value, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "abc");
    KVT_EXPECT_INT(s, 0, 6, "APPEND", "a", "def");
    KVT_EXPECT_STATUS(s, 0, "OK", "RENAME", "a", "b");
    KVT_EXPECT_BULK(s, 0, "raw", "OBJECT", "ENCODING", "b");
    KVT_EXPECT_BULK(s, 0, "abcdef", "GET", "b");
    KVT_EXPECT_INT(s, 0, 9, "APPEND", "b", "ghi");
    KVT_EXPECT_BULK(s, 0, "abcdefghi", "GET", "b");
}

Test(keys, renamenx, .init = setup, .fini = teardown)
{
    KVT_EXPECT_ERR(s, 0, "ERR no such key", "RENAMENX", "a", "b");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "2");
    KVT_EXPECT_INT(s, 0, 0, "RENAMENX", "a", "a");
    KVT_EXPECT_INT(s, 0, 0, "RENAMENX", "a", "b");
    KVT_EXPECT_INT(s, 0, 1, "RENAMENX", "a", "c");
    KVT_EXPECT_BULK(s, 0, "1", "GET", "c");
    KVT_EXPECT_BULK(s, 0, "2", "GET", "b");
    /* An expired destination does not block. */
    KVT_EXPECT_INT(s, 0, 1, "PEXPIRE", "b", "10");
    KVT_EXPECT_INT(s, 10, 1, "RENAMENX", "c", "b");
    KVT_EXPECT_INT(s, 10, -1, "PTTL", "b");
}

Test(keys, copy, .init = setup, .fini = teardown)
{
    KVT_EXPECT_INT(s, 0, 0, "COPY", "a", "b");
    KVT_EXPECT_ERR(s, 0, "ERR source and destination objects are the same",
                   "COPY", "a", "a");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "12", "PX", "700");
    KVT_EXPECT_INT(s, 0, 1, "COPY", "a", "b");
    KVT_EXPECT_BULK(s, 0, "12", "GET", "b");
    KVT_EXPECT_INT(s, 0, 700, "PTTL", "b");
    KVT_EXPECT_BULK(s, 0, "int", "OBJECT", "ENCODING", "b");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "c", "x");
    KVT_EXPECT_INT(s, 0, 0, "COPY", "a", "c");
    KVT_EXPECT_INT(s, 0, 1, "COPY", "a", "c", "REPLACE");
    KVT_EXPECT_BULK(s, 0, "12", "GET", "c");
    KVT_EXPECT_INT(s, 0, 1, "COPY", "a", "d", "db", "0");
    KVT_EXPECT_ERR(s, 0, "ERR DB index is out of range", "COPY", "a", "e", "DB",
                   "1", "REPLACE");
    KVT_EXPECT_ERR(s, 0, "ERR value is not an integer or out of range", "COPY",
                   "a", "e", "DB", "x");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "COPY", "a", "e", "DB");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "COPY", "a", "e", "foo");
    /* The copy is independent. */
    KVT_EXPECT_INT(s, 0, 13, "INCR", "b");
    KVT_EXPECT_BULK(s, 0, "12", "GET", "a");
}

/* ------------------------------------------------------------------------
 * Expiry
 * ---------------------------------------------------------------------- */

Test(keys, expire_variants, .init = setup, .fini = teardown)
{
    const int64_t now = 1000000;
    KVT_EXPECT_INT(s, now, 0, "EXPIRE", "a", "10");
    KVT_EXPECT_STATUS(s, now, "OK", "SET", "a", "v");
    KVT_EXPECT_INT(s, now, 1, "EXPIRE", "a", "10");
    KVT_EXPECT_INT(s, now, 10000, "PTTL", "a");
    KVT_EXPECT_INT(s, now, 10, "TTL", "a");
    KVT_EXPECT_INT(s, now + 4501, 5, "TTL", "a"); /* 5499 ms rounds to 5 */
    KVT_EXPECT_INT(s, now + 4500, 6, "TTL", "a"); /* 5500 ms rounds to 6 */
    KVT_EXPECT_INT(s, now, 1, "PEXPIRE", "a", "1234");
    KVT_EXPECT_INT(s, now, 1234, "PTTL", "a");
    KVT_EXPECT_INT(s, now, 1, "EXPIREAT", "a", "2000");
    KVT_EXPECT_INT(s, now, 2000000, "PEXPIRETIME", "a");
    KVT_EXPECT_INT(s, now, 2000, "EXPIRETIME", "a");
    KVT_EXPECT_INT(s, now, 1, "PEXPIREAT", "a", "1500500");
    KVT_EXPECT_INT(s, now, 1501, "EXPIRETIME", "a");
    KVT_EXPECT_INT(s, now, 1, "PERSIST", "a");
    KVT_EXPECT_INT(s, now, 0, "PERSIST", "a");
    KVT_EXPECT_INT(s, now, 0, "PERSIST", "nokey");
    KVT_EXPECT_INT(s, now, -1, "TTL", "a");
    KVT_EXPECT_INT(s, now, -1, "PEXPIRETIME", "a");
    KVT_EXPECT_INT(s, now, -2, "EXPIRETIME", "nokey");
    /* A time in the past deletes the key. */
    KVT_EXPECT_INT(s, now, 1, "EXPIRE", "a", "-1");
    KVT_EXPECT_INT(s, now, 0, "EXISTS", "a");
    KVT_EXPECT_INT(s, now, 0, "DBSIZE");
    KVT_EXPECT_STATUS(s, now, "OK", "SET", "a", "v");
    KVT_EXPECT_INT(s, now, 1, "PEXPIREAT", "a", "1000000");
    KVT_EXPECT_INT(s, now, 0, "DBSIZE");
}

Test(keys, expire_flags, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "v");
    KVT_EXPECT_INT(s, 0, 0, "EXPIRE", "a", "100", "XX");
    KVT_EXPECT_INT(s, 0, 0, "EXPIRE", "a", "100", "GT");
    KVT_EXPECT_INT(s, 0, 1, "EXPIRE", "a", "100", "LT");
    KVT_EXPECT_INT(s, 0, 0, "EXPIRE", "a", "50", "NX");
    KVT_EXPECT_INT(s, 0, 0, "EXPIRE", "a", "200", "LT");
    KVT_EXPECT_INT(s, 0, 1, "EXPIRE", "a", "50", "lt");
    KVT_EXPECT_INT(s, 0, 0, "EXPIRE", "a", "50", "GT");
    KVT_EXPECT_INT(s, 0, 1, "EXPIRE", "a", "60", "gt", "xx");
    KVT_EXPECT_INT(s, 0, 60, "TTL", "a");
    KVT_EXPECT_INT(s, 0, 1, "EXPIRE", "a", "70", "XX");
    KVT_EXPECT_INT(s, 0, 70, "TTL", "a");
}

Test(keys, expire_errors, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "z", "v");
    KVT_EXPECT_ERR(s, 0,
                   "ERR NX and XX, GT or LT options at the same time are not "
                   "compatible",
                   "EXPIRE", "z", "10", "nx", "xx");
    KVT_EXPECT_ERR(s, 0,
                   "ERR NX and XX, GT or LT options at the same time are not "
                   "compatible",
                   "EXPIRE", "z", "1", "gt", "lt", "nx");
    KVT_EXPECT_ERR(s, 0,
                   "ERR GT and LT options at the same time are not compatible",
                   "EXPIRE", "z", "10", "gt", "lt");
    KVT_EXPECT_ERR(s, 0, "ERR value is not an integer or out of range",
                   "EXPIRE", "z", "abc", "nx");
    KVT_EXPECT_ERR(s, 0, "ERR Unsupported option foo", "EXPIRE", "z", "10",
                   "foo");
    /* Options are checked before the time and the key. */
    KVT_EXPECT_ERR(s, 0, "ERR Unsupported option foo", "EXPIRE", "z", "abc",
                   "foo");
    KVT_EXPECT_ERR(s, 0, "ERR Unsupported option foo", "EXPIRE", "nokey", "10",
                   "foo");
    KVT_EXPECT_ERR(s, 0, "ERR invalid expire time in 'expire' command",
                   "EXPIRE", "z", "9223372036854775807");
    KVT_EXPECT_ERR(s, 0, "ERR invalid expire time in 'expireat' command",
                   "EXPIREAT", "z", "-9223372036854775807");
    KVT_EXPECT_ERR(s, 1000, "ERR invalid expire time in 'pexpire' command",
                   "PEXPIRE", "z", "9223372036854775807");
    KVT_EXPECT_ERR(s, 0, "ERR wrong number of arguments for 'expire' command",
                   "EXPIRE", "z");
    /* None of this touched the key. */
    KVT_EXPECT_INT(s, 0, -1, "TTL", "z");
    KVT_EXPECT_INT(s, 0, 1, "PEXPIREAT", "z", "9223372036854775807");
    KVT_EXPECT_INT(s, 0, 9223372036854775807LL, "PEXPIRETIME", "z");
}

/* ------------------------------------------------------------------------
 * KEYS, SCAN, RANDOMKEY
 * ---------------------------------------------------------------------- */

Test(keys, keys_glob, .init = setup, .fini = teardown)
{
    const char *names[] = {"hello", "hallo", "hxllo", "heeeello",
                           "hllo",  "a*b",   "Hello", "x"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", names[i], "1");
    }
    KVT_EXPECT_INT(s, 0, 1, "PEXPIRE", "x", "5");
    KVT_EXPECT_KEYS(0, "Hello,a*b,hallo,heeeello,hello,hllo,hxllo,x", "KEYS",
                    "*");
    KVT_EXPECT_KEYS(5, "Hello,a*b,hallo,heeeello,hello,hllo,hxllo", "KEYS",
                    "*");
    KVT_EXPECT_KEYS(0, "hallo,hello,hxllo", "KEYS", "h?llo");
    KVT_EXPECT_KEYS(0, "hallo,heeeello,hello,hllo,hxllo", "KEYS", "h*llo");
    KVT_EXPECT_KEYS(0, "hallo,hello", "KEYS", "h[ae]llo");
    KVT_EXPECT_KEYS(0, "hxllo", "KEYS", "h[^ae]llo");
    KVT_EXPECT_KEYS(0, "hallo", "KEYS", "h[a-b]llo");
    KVT_EXPECT_KEYS(0, "a*b", "KEYS", "a\\*b");
    KVT_EXPECT_KEYS(0, "", "KEYS", "nomatch*");
}

/* Runs a full SCAN with @count and returns the keys seen, sorted. */
static void full_scan(int64_t now,
                      const char *count,
                      const char *match,
                      const char *type,
                      char *buf,
                      size_t cap)
{
    char cursor[32] = "0";
    struct kv_reply all = {.type = KV_REPLY_ARRAY};
    size_t total = 0;
    struct kv_reply *acc = NULL;
    int calls = 0;
    do {
        const char *args[10] = {"SCAN", cursor, "COUNT", count};
        int n = 4;
        if (match != NULL) {
            args[n++] = "MATCH";
            args[n++] = match;
        }
        if (type != NULL) {
            args[n++] = "TYPE";
            args[n++] = type;
        }
        args[n] = NULL;
        struct kv_reply r = kvt_exec(s, now, args);
        cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
        cr_assert(eq(sz, r.n, 2));
        cr_assert(eq(int, (int)r.elems[0].type, (int)KV_REPLY_BULK));
        snprintf(cursor, sizeof(cursor), "%s", r.elems[0].str);
        struct kv_reply *keys = &r.elems[1];
        acc = realloc(acc, (total + keys->n + 1) * sizeof(*acc));
        for (size_t i = 0; i < keys->n; i++) {
            acc[total++] = keys->elems[i];
            memset(&keys->elems[i], 0, sizeof(keys->elems[i]));
        }
        kv_reply_fini(&r);
        calls++;
    } while (strcmp(cursor, "0") != 0 && calls < 100000);
    all.elems = acc;
    all.n = total;
    joined_sorted(&all, buf, cap);
    kv_reply_fini(&all);
}

Test(keys, scan_options, .init = setup, .fini = teardown)
{
    char buf[8192];
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "k%02d", i);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", k, "v");
    }
    KVT_EXPECT_INT(s, 0, 1, "PEXPIRE", "k05", "10");
    full_scan(0, "7", "k0*", NULL, buf, sizeof(buf));
    cr_assert(eq(str, buf, "k00,k01,k02,k03,k04,k05,k06,k07,k08,k09"));
    full_scan(10, "1", "k0*", "STRING", buf, sizeof(buf));
    cr_assert(eq(str, buf, "k00,k01,k02,k03,k04,k06,k07,k08,k09"));
    full_scan(0, "1000", "*", "hash", buf, sizeof(buf));
    cr_assert(eq(str, buf, ""));
    full_scan(0, "3", NULL, NULL, buf, sizeof(buf));
    cr_assert(eq(sz, strlen(buf), 100 * 4 - 1));

    KVT_EXPECT_ERR(s, 0, "ERR invalid cursor", "SCAN", "abc");
    KVT_EXPECT_ERR(s, 0, "ERR invalid cursor", "SCAN", " 1");
    KVT_EXPECT_ERR(s, 0, "ERR invalid cursor", "SCAN", "18446744073709551616");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "SCAN", "0", "COUNT", "0");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "SCAN", "0", "COUNT");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "SCAN", "0", "MATCH");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "SCAN", "0", "foo", "bar");
    KVT_EXPECT_ERR(s, 0, "ERR value is not an integer or out of range", "SCAN",
                   "0", "COUNT", "abc");
    /* Redis accepts what strtoul accepts. */
    struct kv_reply r = KVT(s, 0, "SCAN", "", "COUNT", "1000");
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(eq(str, r.elems[0].str, "0"));
    cr_assert(eq(sz, r.elems[1].n, 100));
    kv_reply_fini(&r);
    r = KVT(s, 0, "SCAN", "-1");
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    kv_reply_fini(&r);
}

Test(keys, scan_max_count_caps_work, .init = setup, .fini = teardown)
{
    char k[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "k%04d", i);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", k, "v");
    }
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.scan_max_count = 5;
    struct kv_reply r = kvt_exec_ctx(
        s, &ctx, (const char *const[]){"SCAN", "0", "COUNT", "1000", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(lt(sz, r.elems[1].n, 50));
    cr_assert(ne(str, r.elems[0].str, "0"));
    kv_reply_fini(&r);
}

Test(keys, randomkey, .init = setup, .fini = teardown)
{
    KVT_EXPECT_NIL(s, 0, "RANDOMKEY");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1", "PX", "10");
    KVT_EXPECT_BULK(s, 0, "a", "RANDOMKEY");
    KVT_EXPECT_NIL(s, 10, "RANDOMKEY");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "1");
    for (int i = 0; i < 20; i++) {
        KVT_EXPECT_BULK(s, 10, "b", "RANDOMKEY");
    }
    /* Different random seeds reach different keys. */
    char k[16];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", k, "v");
    }
    int distinct = 0;
    char prev[16] = "";
    for (uint64_t seed = 0; seed < 20; seed++) {
        struct kv_exec_ctx ctx = kvt_ctx(0);
        ctx.random = seed;
        struct kv_reply r =
            kvt_exec_ctx(s, &ctx, (const char *const[]){"RANDOMKEY", NULL});
        cr_assert(eq(int, (int)r.type, (int)KV_REPLY_BULK));
        if (strcmp(prev, r.str) != 0) {
            distinct++;
        }
        snprintf(prev, sizeof(prev), "%s", r.str);
        kv_reply_fini(&r);
    }
    cr_assert(gt(int, distinct, 5));
}

/* ------------------------------------------------------------------------
 * OBJECT, DBSIZE, FLUSHDB
 * ---------------------------------------------------------------------- */

Test(keys, object, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "i", "123");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "big", "12345");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "e", "abc");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "r",
                      "123456789012345678901234567890123456789012345");
    KVT_EXPECT_BULK(s, 0, "int", "OBJECT", "ENCODING", "i");
    KVT_EXPECT_BULK(s, 0, "embstr", "object", "encoding", "e");
    KVT_EXPECT_BULK(s, 0, "raw", "OBJECT", "ENCODING", "r");
    KVT_EXPECT_NIL(s, 0, "OBJECT", "ENCODING", "nokey");
    KVT_EXPECT_INT(s, 0, 2147483647, "OBJECT", "REFCOUNT", "i");
    KVT_EXPECT_INT(s, 0, 1, "OBJECT", "REFCOUNT", "big");
    KVT_EXPECT_INT(s, 0, 0, "OBJECT", "IDLETIME", "e");
    KVT_EXPECT_NIL(s, 0, "OBJECT", "FREQ", "nokey");
    KVT_EXPECT_ERR(s, 0,
                   "ERR An LFU maxmemory policy is not selected, access "
                   "frequency not tracked. Please note that when switching "
                   "between policies at runtime LRU and LFU data will take "
                   "some time to adjust.",
                   "OBJECT", "FREQ", "e");
    KVT_EXPECT_ERR(s, 0, "ERR unknown subcommand 'foo'. Try OBJECT HELP.",
                   "OBJECT", "foo", "e");
    KVT_EXPECT_ERR(s, 0,
                   "ERR wrong number of arguments for 'object|encoding' "
                   "command",
                   "OBJECT", "ENCODING");
    KVT_EXPECT_ERR(s, 0,
                   "ERR wrong number of arguments for 'object|help' command",
                   "OBJECT", "help", "x");
    KVT_EXPECT_ERR(s, 0, "ERR wrong number of arguments for 'object' command",
                   "OBJECT");
    struct kv_reply r = KVT(s, 0, "OBJECT", "HELP");
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(eq(sz, r.n, 15));
    cr_assert(eq(int, (int)r.elems[0].type, (int)KV_REPLY_STATUS));
    cr_assert(eq(str, r.elems[14].str, "    Prints this help."));
    kv_reply_fini(&r);
}

Test(keys, flush, .init = setup, .fini = teardown)
{
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", "1");
    KVT_EXPECT_INT(s, 0, 2, "DBSIZE");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "FLUSHDB", "foo");
    KVT_EXPECT_ERR(s, 0, "ERR syntax error", "FLUSHDB", "async", "x");
    KVT_EXPECT_INT(s, 0, 2, "DBSIZE");
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHDB", "ASYNC");
    KVT_EXPECT_INT(s, 0, 0, "DBSIZE");
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", "1");
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHALL", "sync");
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHALL");
    KVT_EXPECT_INT(s, 0, 0, "DBSIZE");
    cr_assert(eq(sz, kv_store_memory(s), 0));
}

/* ------------------------------------------------------------------------
 * heavy-command-budget (issue 5) and lazy FLUSHALL
 * ---------------------------------------------------------------------- */

static void fill_keys(int n)
{
    char k[16];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "k%05d", i);
        KVT_EXPECT_STATUS(s, 0, "OK", "SET", k, "v");
    }
}

Test(keys, keys_over_budget_is_busy, .init = setup, .fini = teardown)
{
    char buf[256];
    fill_keys(200);
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.work_budget = 100;
    struct kv_reply r =
        kvt_exec_ctx(s, &ctx, (const char *const[]){"KEYS", "k0001*", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ERROR));
    cr_assert(eq(int, r.err, KV_ERR_BUSY));
    kvt_err_text(&r, buf, sizeof(buf));
    cr_assert(eq(str, buf,
                 "BUSY KEYS would examine 200 keys, more than "
                 "heavy-command-budget (100); use SCAN"));
    kv_reply_fini(&r);
    ctx.work_budget = 200;
    r = kvt_exec_ctx(s, &ctx, (const char *const[]){"KEYS", "k0001*", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(eq(sz, r.n, 10));
    kv_reply_fini(&r);
}

Test(keys, scan_count_is_capped_by_budget, .init = setup, .fini = teardown)
{
    fill_keys(1000);
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.work_budget = 10;
    struct kv_reply r = kvt_exec_ctx(
        s, &ctx,
        (const char *const[]){"SCAN", "0", "COUNT", "1000000000", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_ARRAY));
    cr_assert(lt(sz, r.elems[1].n, 100));
    cr_assert(ne(str, r.elems[0].str, "0"));
    kv_reply_fini(&r);
}

Test(keys, lcs_over_budget_is_busy, .init = setup, .fini = teardown)
{
    char v[1001];
    memset(v, 'a', 1000);
    v[1000] = '\0';
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "a", v);
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "b", v);
    struct kv_exec_ctx ctx = kvt_ctx(0);
    ctx.work_budget = 1000; /* 100000 cells; the table has 1002001 */
    struct kv_reply r = kvt_exec_ctx(
        s, &ctx, (const char *const[]){"LCS", "a", "b", "LEN", NULL});
    cr_assert(eq(int, r.err, KV_ERR_BUSY));
    kv_reply_fini(&r);
    ctx.work_budget = 100000;
    r = kvt_exec_ctx(s, &ctx,
                     (const char *const[]){"LCS", "a", "b", "LEN", NULL});
    cr_assert(eq(int, (int)r.type, (int)KV_REPLY_INT));
    cr_assert(eq(i64, r.i, 1000));
    kv_reply_fini(&r);
}

Test(keys, big_flush_is_freed_in_steps, .init = setup, .fini = teardown)
{
    size_t empty = kv_store_memory(s);
    fill_keys(20000);
    size_t full = kv_store_memory(s);
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHALL");
    cr_assert(eq(sz, kv_store_size(s), 0));
    cr_assert(kv_store_freeing(s));
    KVT_EXPECT_INT(s, 0, 0, "DBSIZE");
    KVT_EXPECT_NIL(s, 0, "GET", "k00001");
    /* New writes during the free are independent of it. */
    KVT_EXPECT_STATUS(s, 0, "OK", "SET", "k00001", "new");
    int steps = 0;
    while (kv_store_rehash_step(s, 1)) {
        steps++;
        cr_assert(lt(int, steps, 100000));
    }
    cr_assert(gt(int, steps, 10), "freed in %d steps", steps);
    cr_assert(not(kv_store_freeing(s)));
    KVT_EXPECT_BULK(s, 0, "new", "GET", "k00001");
    cr_assert(lt(sz, kv_store_memory(s), empty + (full - empty) / 10));
    /* A flush while an earlier one is still being freed, then free the
     * store mid-way: nothing leaks (ASan). */
    fill_keys(10000);
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHALL");
    fill_keys(10000);
    KVT_EXPECT_STATUS(s, 0, "OK", "FLUSHDB");
    cr_assert(kv_store_freeing(s));
}
