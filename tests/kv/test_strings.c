/* Tests of the string commands (cmd_string.c, cmd_counter.c, cmd_lcs.c).
 * Expected replies and error orders were checked against redis-server
 * 7.0.15. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

#define TS_NOW     INT64_C(1700000000000)
#define TS_MAXBULK (UINT64_C(512) * 1024 * 1024)
#define TS_MAXARGS 32

static struct kv_store *ts_s;
static struct kv_exec_ctx ts_ctx;
static char ts_desc[1024]; /* the last command, for failure messages */

static void ts_setup(void)
{
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

    ts_s = kv_store_new(seed);
    cr_assert_not_null(ts_s);
    memset(&ts_ctx, 0, sizeof(ts_ctx));
    ts_ctx.now_ms = TS_NOW;
    ts_ctx.max_bulk_len = TS_MAXBULK;
}

static void ts_teardown(void)
{
    kv_store_free(ts_s);
}

TestSuite(strings, .init = ts_setup, .fini = ts_teardown, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Runs argv[0..argc) (binary-safe) against @s, building a reply unless
 * @noreply. */
static struct kv_reply ts_exec(struct kv_store *s,
                               int argc,
                               const char *const *argv,
                               const size_t *lens,
                               bool noreply)
{
    struct kv_reply r;
    size_t used = 0;

    memset(&r, 0, sizeof(r));
    ts_desc[0] = '\0';
    for (int i = 0; i < argc && used + 2 < sizeof(ts_desc); i++) {
        int n = snprintf(ts_desc + used, sizeof(ts_desc) - used, "%s%.*s",
                         i ? " " : "", (int)lens[i], argv[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    kv_exec(s, &ts_ctx, argc, argv, lens, noreply ? NULL : &r);
    return r;
}

/* Runs a command given as NUL-terminated words, the list ending in NULL. */
static struct kv_reply ts_run(const char *first, ...)
{
    const char *argv[TS_MAXARGS];
    size_t lens[TS_MAXARGS];
    int argc = 0;
    va_list ap;

    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < TS_MAXARGS;
         a = va_arg(ap, const char *)) {
        argv[argc] = a;
        lens[argc] = strlen(a);
        argc++;
    }
    va_end(ap);
    return ts_exec(ts_s, argc, argv, lens, false);
}

#define RUN(...) ts_run(__VA_ARGS__, (const char *)NULL)

static void ts_is_status(struct kv_reply r, const char *want)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_STATUS), "%s", ts_desc);
    cr_assert(eq(str, r.str, (char *)want), "%s", ts_desc);
    kv_reply_fini(&r);
}

static void ts_is_int(struct kv_reply r, int64_t want)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_INT), "%s (err %d)", ts_desc,
              r.err);
    cr_assert(eq(i64, r.i, want), "%s", ts_desc);
    kv_reply_fini(&r);
}

static void ts_is_bulk_n(struct kv_reply r, const char *want, size_t n)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_BULK), "%s (err %d)", ts_desc,
              r.err);
    cr_assert(eq(sz, r.len, n), "%s", ts_desc);
    cr_assert(n == 0 || memcmp(r.str, want, n) == 0, "%s: got %.*s", ts_desc,
              (int)r.len, r.str);
    kv_reply_fini(&r);
}

static void ts_is_nil(struct kv_reply r)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_NIL), "%s (type %d)", ts_desc,
              (int)r.type);
    kv_reply_fini(&r);
}

static void ts_is_err(struct kv_reply r, int err)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_ERROR), "%s (type %d)", ts_desc,
              (int)r.type);
    cr_assert(eq(int, r.err, err), "%s", ts_desc);
    kv_reply_fini(&r);
}

/* An error whose text names the command: kv_exec fills in its name. */
static void ts_is_err_cmd(struct kv_reply r, int err, const char *cmd)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_ERROR), "%s", ts_desc);
    cr_assert(eq(int, r.err, err), "%s", ts_desc);
    cr_assert(eq(str, r.str, (char *)cmd), "%s", ts_desc);
    kv_reply_fini(&r);
}

#define OK(...)      ts_is_status(RUN(__VA_ARGS__), "OK")
#define INT(v, ...)  ts_is_int(RUN(__VA_ARGS__), (v))
#define BULK(s, ...) ts_is_bulk_n(RUN(__VA_ARGS__), (s), strlen(s))
#define NIL(...)     ts_is_nil(RUN(__VA_ARGS__))
#define ERR(e, ...)  ts_is_err(RUN(__VA_ARGS__), (e))

/* The live entry of @key, or NULL. */
static struct kv_entry *ts_entry(const char *key)
{
    return kv__find(ts_s, key, strlen(key), ts_ctx.now_ms);
}

static void ts_has_expire(const char *key, int64_t want)
{
    struct kv_entry *e = ts_entry(key);

    cr_assert_not_null(e, "%s missing", key);
    cr_assert(eq(i64, kv__expire(e), want), "%s", key);
}

static void ts_has_enc(const char *key, enum kv_enc want)
{
    struct kv_entry *e = ts_entry(key);

    cr_assert_not_null(e, "%s missing", key);
    cr_assert(eq(int, (int)kv__enc(e), (int)want), "%s", key);
}

/* Checks one element of an array reply. */
static void ts_elem_int(const struct kv_reply *r, size_t i, int64_t v)
{
    cr_assert(lt(sz, i, r->n));
    cr_assert(eq(int, (int)r->elems[i].type, KV_REPLY_INT));
    cr_assert(eq(i64, r->elems[i].i, v));
}

static void ts_elem_bulk(const struct kv_reply *r, size_t i, const char *s)
{
    cr_assert(lt(sz, i, r->n));
    cr_assert(eq(int, (int)r->elems[i].type, KV_REPLY_BULK));
    cr_assert(eq(sz, r->elems[i].len, strlen(s)));
    cr_assert(memcmp(r->elems[i].str, s, strlen(s)) == 0);
}

/* Checks a [[a0, a1], [b0, b1](, len)] LCS match. */
static void ts_match(const struct kv_reply *m,
                     int64_t a0,
                     int64_t a1,
                     int64_t b0,
                     int64_t b1,
                     int64_t len)
{
    cr_assert(eq(int, (int)m->type, KV_REPLY_ARRAY));
    cr_assert(eq(sz, m->n, len >= 0 ? 3 : 2));
    ts_elem_int(&m->elems[0], 0, a0);
    ts_elem_int(&m->elems[0], 1, a1);
    ts_elem_int(&m->elems[1], 0, b0);
    ts_elem_int(&m->elems[1], 1, b1);
    if (len >= 0) {
        ts_elem_int(m, 2, len);
    }
}

/* ------------------------------------------------------------------------
 * Tests: GET, SET and options
 * ---------------------------------------------------------------------- */

Test(strings, get_set_basic)
{
    NIL("get", "k");
    OK("set", "k", "hello");
    BULK("hello", "get", "k");
    OK("SET", "k", "world");
    BULK("world", "GeT", "k");
    cr_assert(eq(sz, kv_store_size(ts_s), 1));
}

Test(strings, set_is_binary_safe)
{
    const char *argv[] = {"set", "k\0x", "a\0b\r\n"};
    const size_t lens[] = {3, 3, 5};
    const char *gv[] = {"get", "k\0x"};
    const size_t gl[] = {3, 3};
    struct kv_reply r = ts_exec(ts_s, 3, argv, lens, false);

    ts_is_status(r, "OK");
    ts_is_bulk_n(ts_exec(ts_s, 2, gv, gl, false), "a\0b\r\n", 5);
    NIL("get", "k");
}

Test(strings, set_nx_xx)
{
    NIL("set", "k", "v", "xx");
    NIL("get", "k");
    OK("set", "k", "v1", "nx");
    NIL("set", "k", "v2", "nx");
    BULK("v1", "get", "k");
    OK("set", "k", "v3", "xx");
    BULK("v3", "get", "k");
}

Test(strings, set_get_option)
{
    NIL("set", "k", "v1", "get");
    BULK("v1", "set", "k", "v2", "get");
    /* Redis 7 allows NX with GET: the old value, and no write. */
    BULK("v2", "set", "k", "v3", "nx", "get");
    BULK("v2", "get", "k");
    NIL("set", "n", "v", "xx", "get");
    NIL("get", "n");
    NIL("set", "n", "v", "nx", "get");
    BULK("v", "get", "n");
}

Test(strings, set_expiry_forms)
{
    OK("set", "a", "v", "ex", "10");
    ts_has_expire("a", TS_NOW + 10000);
    OK("set", "b", "v", "px", "1500");
    ts_has_expire("b", TS_NOW + 1500);
    OK("set", "c", "v", "exat", "1700000100");
    ts_has_expire("c", INT64_C(1700000100000));
    OK("set", "d", "v", "pxat", "1700000100123");
    ts_has_expire("d", INT64_C(1700000100123));
    /* The same option twice is accepted; the last value wins. */
    OK("set", "e", "v", "ex", "10", "ex", "20");
    ts_has_expire("e", TS_NOW + 20000);
    OK("set", "f", "v", "pxat", "9223372036854775807");
    ts_has_expire("f", INT64_MAX);
    cr_assert(eq(sz, kv_store_expires(ts_s), 6));

    ts_ctx.now_ms = TS_NOW + 1499;
    BULK("v", "get", "b");
    ts_ctx.now_ms = TS_NOW + 1500;
    NIL("get", "b");
    BULK("v", "get", "a");
}

Test(strings, set_clears_ttl_unless_keepttl)
{
    OK("set", "k", "v", "ex", "100");
    OK("set", "k", "v2", "keepttl");
    ts_has_expire("k", TS_NOW + 100000);
    OK("set", "k", "v3");
    ts_has_expire("k", -1);
    /* KEEPTTL on a missing key simply has no TTL to keep. */
    OK("set", "n", "v", "keepttl");
    ts_has_expire("n", -1);
}

Test(strings, set_expired_key_counts_as_missing)
{
    OK("set", "k", "old", "px", "10");
    ts_ctx.now_ms += 10;
    NIL("set", "k", "v", "xx");
    OK("set", "k", "v", "nx");
    BULK("v", "get", "k");
    ts_has_expire("k", -1);
}

Test(strings, set_past_expiry_deletes)
{
    OK("set", "k", "old");
    BULK("old", "set", "k", "new", "pxat", "1", "get");
    NIL("get", "k");
    cr_assert(eq(sz, kv_store_size(ts_s), 0));
    OK("set", "k", "v", "exat", "1700000000");
    cr_assert(eq(sz, kv_store_size(ts_s), 0));
}

Test(strings, set_syntax_errors)
{
    OK("set", "k", "orig");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "nx", "xx");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "xx", "nx");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "ex", "10", "px", "100");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "exat", "10", "pxat", "100");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "ex", "10", "keepttl");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "keepttl", "px", "10");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "ex");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "persist");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "foo");
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "e");
    /* Syntax is checked before the expiry value. */
    ERR(KV_ERR_SYNTAX, "set", "k", "v", "ex", "abc", "nx", "xx");
    BULK("orig", "get", "k");
}

Test(strings, set_expire_value_errors)
{
    OK("set", "k", "orig");
    ERR(KV_ERR_NOTINT, "set", "k", "v", "ex", "abc");
    ERR(KV_ERR_NOTINT, "set", "k", "v", "px", "1.5");
    ERR(KV_ERR_NOTINT, "set", "k", "v", "ex", " 10");
    ts_is_err_cmd(RUN("set", "k", "v", "ex", "0"), KV_ERR_BADEXPIRE, "set");
    ts_is_err_cmd(RUN("set", "k", "v", "px", "-1"), KV_ERR_BADEXPIRE, "set");
    ts_is_err_cmd(RUN("set", "k", "v", "exat", "0"), KV_ERR_BADEXPIRE, "set");
    /* Seconds to ms overflows; ms plus the clock overflows. */
    ts_is_err_cmd(RUN("set", "k", "v", "ex", "9223372036854775807"),
                  KV_ERR_BADEXPIRE, "set");
    ts_is_err_cmd(RUN("set", "k", "v", "ex", "9223372036854774"),
                  KV_ERR_BADEXPIRE, "set");
    ts_is_err_cmd(RUN("set", "k", "v", "px", "9223372036854775807"),
                  KV_ERR_BADEXPIRE, "set");
    ts_is_err_cmd(RUN("set", "k", "v", "xx", "get", "ex", "0"),
                  KV_ERR_BADEXPIRE, "set");
    BULK("orig", "get", "k");
    ts_has_expire("k", -1);
}

Test(strings, setnx_setex_psetex)
{
    INT(1, "setnx", "k", "a");
    INT(0, "setnx", "k", "b");
    BULK("a", "get", "k");

    OK("setex", "k", "10", "v");
    ts_has_expire("k", TS_NOW + 10000);
    BULK("v", "get", "k");
    OK("psetex", "k", "250", "w");
    ts_has_expire("k", TS_NOW + 250);

    ts_is_err_cmd(RUN("setex", "k", "0", "x"), KV_ERR_BADEXPIRE, "setex");
    ts_is_err_cmd(RUN("psetex", "k", "-5", "x"), KV_ERR_BADEXPIRE, "psetex");
    ERR(KV_ERR_NOTINT, "setex", "k", "ten", "x");
    BULK("w", "get", "k");
    ts_is_err_cmd(RUN("setex", "k", "1"), KV_ERR_ARITY, "setex");
}

Test(strings, getset_and_getdel)
{
    NIL("getset", "k", "a");
    OK("set", "k", "b", "ex", "100");
    BULK("b", "getset", "k", "c");
    ts_has_expire("k", -1);
    BULK("c", "getdel", "k");
    NIL("getdel", "k");
    cr_assert(eq(sz, kv_store_size(ts_s), 0));
}

/* ------------------------------------------------------------------------
 * Tests: GETEX
 * ---------------------------------------------------------------------- */

Test(strings, getex_options)
{
    OK("set", "k", "v", "ex", "100");
    BULK("v", "getex", "k");
    ts_has_expire("k", TS_NOW + 100000);
    BULK("v", "getex", "k", "px", "500");
    ts_has_expire("k", TS_NOW + 500);
    BULK("v", "getex", "k", "exat", "1800000000");
    ts_has_expire("k", INT64_C(1800000000000));
    BULK("v", "getex", "k", "pxat", "1800000000001");
    ts_has_expire("k", INT64_C(1800000000001));
    BULK("v", "getex", "k", "ex", "7");
    ts_has_expire("k", TS_NOW + 7000);
    BULK("v", "getex", "k", "persist");
    ts_has_expire("k", -1);
    cr_assert(eq(sz, kv_store_expires(ts_s), 0));
    NIL("getex", "missing", "persist");
}

Test(strings, getex_past_time_deletes)
{
    OK("set", "k", "v");
    BULK("v", "getex", "k", "exat", "1");
    NIL("get", "k");
    cr_assert(eq(sz, kv_store_size(ts_s), 0));
}

Test(strings, getex_errors)
{
    OK("set", "k", "v", "ex", "100");
    ERR(KV_ERR_SYNTAX, "getex", "k", "nx");
    ERR(KV_ERR_SYNTAX, "getex", "k", "keepttl");
    ERR(KV_ERR_SYNTAX, "getex", "k", "get");
    ERR(KV_ERR_SYNTAX, "getex", "k", "persist", "ex", "10");
    ERR(KV_ERR_SYNTAX, "getex", "k", "ex", "10", "persist");
    ERR(KV_ERR_SYNTAX, "getex", "k", "ex");
    ERR(KV_ERR_NOTINT, "getex", "k", "ex", "abc");
    ts_is_err_cmd(RUN("getex", "k", "ex", "0"), KV_ERR_BADEXPIRE, "getex");
    /* Redis 7.0 parses the value only for an existing key. */
    NIL("getex", "missing", "ex", "abc");
    ts_has_expire("k", TS_NOW + 100000);
}

/* ------------------------------------------------------------------------
 * Tests: MGET, MSET, MSETNX
 * ---------------------------------------------------------------------- */

Test(strings, mget_mset)
{
    struct kv_reply r;

    OK("set", "c", "old", "ex", "10");
    OK("mset", "a", "1", "b", "two", "c", "3", "a", "4");
    ts_has_expire("c", -1);
    r = RUN("mget", "a", "nope", "b", "c");
    cr_assert(eq(int, (int)r.type, KV_REPLY_ARRAY));
    cr_assert(eq(sz, r.n, 4));
    ts_elem_bulk(&r, 0, "4");
    cr_assert(eq(int, (int)r.elems[1].type, KV_REPLY_NIL));
    ts_elem_bulk(&r, 2, "two");
    ts_elem_bulk(&r, 3, "3");
    kv_reply_fini(&r);

    ts_is_err_cmd(RUN("mset", "a", "1", "b"), KV_ERR_ARITY, "mset");
    ts_is_err_cmd(RUN("mset", "a"), KV_ERR_ARITY, "mset");
    BULK("4", "get", "a");
}

Test(strings, msetnx_all_or_nothing)
{
    INT(1, "msetnx", "a", "1", "b", "2");
    INT(0, "msetnx", "c", "3", "a", "x");
    NIL("get", "c");
    BULK("1", "get", "a");
    ts_is_err_cmd(RUN("msetnx", "a", "1", "b"), KV_ERR_ARITY, "msetnx");
}

/* ------------------------------------------------------------------------
 * Tests: APPEND, STRLEN, GETRANGE, SETRANGE
 * ---------------------------------------------------------------------- */

Test(strings, append_and_strlen)
{
    INT(0, "strlen", "k");
    INT(2, "append", "k", "12");
    ts_has_enc("k", KV_ENC_INT);
    INT(2, "strlen", "k");
    OK("set", "k", "12", "ex", "100");
    INT(5, "append", "k", "abc");
    BULK("12abc", "get", "k");
    ts_has_enc("k", KV_ENC_RAW);
    ts_has_expire("k", TS_NOW + 100000);
    INT(5, "append", "k", "");
    INT(5, "strlen", "k");
}

Test(strings, append_respects_max_bulk_len)
{
    ts_ctx.max_bulk_len = 10;
    OK("set", "k", "12345678");
    INT(10, "append", "k", "90");
    ERR(KV_ERR_TOOBIG, "append", "k", "x");
    BULK("1234567890", "get", "k");
}

Test(strings, getrange_cases)
{
    static const struct
    {
        const char *start, *end, *want;
    } cases[] = {
        {"0", "3", "This"},
        {"-3", "-1", "ing"},
        {"0", "-1", "This is a string"},
        {"10", "100", "string"},
        {"5", "3", ""},
        {"-100", "-200", ""},
        {"-100", "2", "Thi"},
        {"16", "20", ""},
        {"15", "15", "g"},
        {"-1", "-100", ""},
        {"3", "-100", ""},
        {"-9223372036854775808", "9223372036854775807", "This is a string"},
    };

    OK("set", "s", "This is a string");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        BULK(cases[i].want, "getrange", "s", cases[i].start, cases[i].end);
    }
    BULK("Th", "substr", "s", "0", "1");
    BULK("", "getrange", "missing", "0", "10");
    ERR(KV_ERR_NOTINT, "getrange", "s", "0", "x");
    ERR(KV_ERR_NOTINT, "getrange", "s", "a", "1");
    OK("set", "i", "12345");
    BULK("234", "getrange", "i", "1", "3");
    OK("set", "e", "");
    BULK("", "getrange", "e", "0", "-1");
}

Test(strings, setrange_pads_and_overwrites)
{
    INT(7, "setrange", "k", "5", "hi");
    ts_is_bulk_n(RUN("get", "k"), "\0\0\0\0\0hi", 7);
    ts_has_enc("k", KV_ENC_RAW);
    INT(7, "setrange", "k", "0", "ab");
    ts_is_bulk_n(RUN("get", "k"), "ab\0\0\0hi", 7);

    OK("set", "w", "Hello World", "ex", "60");
    INT(11, "setrange", "w", "6", "Redis");
    BULK("Hello Redis", "get", "w");
    ts_has_expire("w", TS_NOW + 60000);

    /* An empty value neither creates the key nor re-encodes it. */
    INT(0, "setrange", "missing", "5", "");
    cr_assert_null(ts_entry("missing"));
    OK("set", "e", "abc");
    INT(3, "setrange", "e", "100", "");
    ts_has_enc("e", KV_ENC_EMBSTR);
    OK("set", "n", "123");
    INT(3, "setrange", "n", "0", "4");
    BULK("423", "get", "n");
    ts_has_enc("n", KV_ENC_RAW);
}

Test(strings, setrange_errors)
{
    ts_ctx.max_bulk_len = 10;
    OK("set", "k", "abc");
    ERR(KV_ERR_OFFSET, "setrange", "k", "-1", "x");
    ERR(KV_ERR_NOTINT, "setrange", "k", "x", "x");
    ERR(KV_ERR_TOOBIG, "setrange", "k", "9", "ab");
    ERR(KV_ERR_TOOBIG, "setrange", "new", "9223372036854775807", "ab");
    cr_assert_null(ts_entry("new"));
    INT(10, "setrange", "k", "8", "ab");
    INT(10, "setrange", "k", "99", "");
    BULK("", "getrange", "new", "0", "1");
}

/* ------------------------------------------------------------------------
 * Tests: counters
 * ---------------------------------------------------------------------- */

Test(strings, incr_decr_family)
{
    INT(1, "incr", "n");
    ts_has_enc("n", KV_ENC_INT);
    INT(0, "decr", "n");
    INT(10, "incrby", "n", "10");
    INT(-5, "decrby", "n", "15");
    INT(-5, "incrby", "n", "0");
    BULK("-5", "get", "n");
    INT(-1, "decr", "fresh");
}

Test(strings, incr_rejects_non_integers)
{
    static const char *bad[] = {"abc", " 5",  "05", "+5",
                                "-0",  "3.0", "",   "99999999999999999999"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        OK("set", "k", bad[i]);
        ERR(KV_ERR_NOTINT, "incr", "k");
        BULK(bad[i], "get", "k");
    }
    ERR(KV_ERR_NOTINT, "incrby", "n", "1.5");
    ERR(KV_ERR_NOTINT, "decrby", "n", "x");
    cr_assert_null(ts_entry("n"));
}

Test(strings, incr_overflow)
{
    OK("set", "k", "9223372036854775806");
    INT(INT64_MAX, "incr", "k");
    ERR(KV_ERR_OVERFLOW, "incr", "k");
    ERR(KV_ERR_OVERFLOW, "incrby", "k", "1");
    OK("set", "k", "-9223372036854775807");
    INT(INT64_MIN, "decr", "k");
    ERR(KV_ERR_OVERFLOW, "decr", "k");
    ERR(KV_ERR_OVERFLOW, "incrby", "k", "-1");
    BULK("-9223372036854775808", "get", "k");
    INT(-1, "incrby", "k", "9223372036854775807");
    /* DECRBY cannot negate INT64_MIN: its own error, before the key. */
    OK("set", "s", "abc");
    ERR(KV_ERR_DECR_OVERFLOW, "decrby", "s", "-9223372036854775808");
    INT(INT64_MAX, "decrby", "z", "-9223372036854775807");
}

Test(strings, incr_keeps_ttl)
{
    OK("set", "k", "5", "ex", "100");
    INT(6, "incr", "k");
    INT(16, "incrby", "k", "10");
    ts_has_expire("k", TS_NOW + 100000);
    BULK("17.5", "incrbyfloat", "k", "1.5");
    ts_has_expire("k", TS_NOW + 100000);
}

Test(strings, incrbyfloat)
{
    BULK("10.5", "incrbyfloat", "f", "10.50");
    BULK("10.6", "incrbyfloat", "f", "0.1");
    BULK("5.6", "incrbyfloat", "f", "-5");
    OK("set", "f", "5.0e3");
    BULK("5200", "incrbyfloat", "f", "2.0e2");
    OK("set", "f", "3");
    BULK("4.5", "incrbyfloat", "f", "1.5");
    OK("set", "f", "1");
    BULK("1.3", "incrbyfloat", "f", "0.3");
    BULK("1.30001", "incrbyfloat", "f", "1e-5");
    OK("set", "f", "1");
    BULK("12345678901234567891", "incrbyfloat", "f", "12345678901234567890");
}

Test(strings, incrbyfloat_errors)
{
    OK("set", "f", "1.5");
    ERR(KV_ERR_NOTFLOAT, "incrbyfloat", "f", "abc");
    ERR(KV_ERR_NOTFLOAT, "incrbyfloat", "f", " 1");
    ERR(KV_ERR_NOTFLOAT, "incrbyfloat", "f", "1 ");
    ERR(KV_ERR_NOTFLOAT, "incrbyfloat", "f", "nan");
    ERR(KV_ERR_NANINF, "incrbyfloat", "f", "inf");
    OK("set", "s", "abc");
    ERR(KV_ERR_NOTFLOAT, "incrbyfloat", "s", "1");
    BULK("1.5", "get", "f");
}

/* ------------------------------------------------------------------------
 * Tests: LCS (outputs of redis-server 7.0.15)
 * ---------------------------------------------------------------------- */

Test(strings, lcs_string_and_len)
{
    OK("mset", "key1", "ohmytext", "key2", "mynewtext");
    BULK("mytext", "lcs", "key1", "key2");
    INT(6, "lcs", "key1", "key2", "len");
    INT(6, "lcs", "key1", "key2", "LEN", "withmatchlen", "minmatchlen", "3");
    BULK("", "lcs", "key1", "missing");
    BULK("", "lcs", "x", "y");
}

Test(strings, lcs_idx)
{
    struct kv_reply r;

    OK("mset", "key1", "ohmytext", "key2", "mynewtext");
    r = RUN("lcs", "key1", "key2", "idx");
    cr_assert(eq(int, (int)r.type, KV_REPLY_MAP));
    cr_assert(eq(sz, r.n, 4));
    ts_elem_bulk(&r, 0, "matches");
    ts_elem_bulk(&r, 2, "len");
    ts_elem_int(&r, 3, 6);
    cr_assert(eq(sz, r.elems[1].n, 2));
    ts_match(&r.elems[1].elems[0], 4, 7, 5, 8, -1);
    ts_match(&r.elems[1].elems[1], 2, 3, 0, 1, -1);
    kv_reply_fini(&r);

    r = RUN("lcs", "key1", "key2", "idx", "minmatchlen", "4", "withmatchlen");
    cr_assert(eq(sz, r.elems[1].n, 1));
    ts_match(&r.elems[1].elems[0], 4, 7, 5, 8, 4);
    kv_reply_fini(&r);

    r = RUN("lcs", "key1", "key2", "idx", "minmatchlen", "-5", "withmatchlen");
    cr_assert(eq(sz, r.elems[1].n, 2));
    ts_match(&r.elems[1].elems[1], 2, 3, 0, 1, 2);
    kv_reply_fini(&r);

    r = RUN("lcs", "key1", "missing", "idx");
    cr_assert(eq(sz, r.elems[1].n, 0));
    ts_elem_int(&r, 3, 0);
    kv_reply_fini(&r);
}

Test(strings, lcs_errors)
{
    OK("mset", "key1", "ohmytext", "key2", "mynewtext");
    ERR(KV_ERR_LCS_IDXLEN, "lcs", "key1", "key2", "idx", "len");
    ERR(KV_ERR_LCS_IDXLEN, "lcs", "key1", "key2", "len", "idx");
    ERR(KV_ERR_SYNTAX, "lcs", "key1", "key2", "minmatchlen");
    ERR(KV_ERR_SYNTAX, "lcs", "key1", "key2", "foo");
    ERR(KV_ERR_SYNTAX, "lcs", "key1", "key2", "idx", "len", "foo");
    ERR(KV_ERR_NOTINT, "lcs", "key1", "key2", "minmatchlen", "x");
    ERR(KV_ERR_NOTINT, "lcs", "key1", "key2", "idx", "len", "minmatchlen", "x");
    /* A 9x10 table of 4-byte cells is 360 bytes. */
    ts_ctx.max_bulk_len = 359;
    ERR(KV_ERR_LCS_MEM, "lcs", "key1", "key2");
    ts_ctx.max_bulk_len = 360;
    INT(6, "lcs", "key1", "key2", "len");
}

/* ------------------------------------------------------------------------
 * Tests: encodings, flags, followers
 * ---------------------------------------------------------------------- */

Test(strings, encodings_follow_redis)
{
    OK("set", "i", "12345");
    ts_has_enc("i", KV_ENC_INT);
    OK("set", "z", "012");
    ts_has_enc("z", KV_ENC_EMBSTR);
    OK("set", "e", "hello");
    ts_has_enc("e", KV_ENC_EMBSTR);
    OK("set", "r", "0123456789012345678901234567890123456789012345");
    ts_has_enc("r", KV_ENC_RAW);
    INT(12346, "incr", "i");
    ts_has_enc("i", KV_ENC_INT);
    INT(6, "append", "e", "!");
    ts_has_enc("e", KV_ENC_RAW);
}

Test(strings, command_flags)
{
    static const struct
    {
        const char *name;
        unsigned flags;
    } cmds[] = {
        {"get", KV_CMD_READONLY},      {"set", KV_CMD_WRITE},
        {"setnx", KV_CMD_WRITE},       {"setex", KV_CMD_WRITE},
        {"psetex", KV_CMD_WRITE},      {"getset", KV_CMD_WRITE},
        {"getdel", KV_CMD_WRITE},      {"getex", KV_CMD_WRITE},
        {"mget", KV_CMD_READONLY},     {"mset", KV_CMD_WRITE},
        {"msetnx", KV_CMD_WRITE},      {"append", KV_CMD_WRITE},
        {"strlen", KV_CMD_READONLY},   {"getrange", KV_CMD_READONLY},
        {"substr", KV_CMD_READONLY},   {"setrange", KV_CMD_WRITE},
        {"incr", KV_CMD_WRITE},        {"decr", KV_CMD_WRITE},
        {"incrby", KV_CMD_WRITE},      {"decrby", KV_CMD_WRITE},
        {"incrbyfloat", KV_CMD_WRITE}, {"LCS", KV_CMD_READONLY},
    };

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        unsigned flags = 0;
        cr_assert(kv_cmd_lookup(cmds[i].name, strlen(cmds[i].name), &flags),
                  "%s", cmds[i].name);
        cr_assert(eq(u32, flags, cmds[i].flags), "%s", cmds[i].name);
    }
}

Test(strings, arity_errors)
{
    ts_is_err_cmd(RUN("get"), KV_ERR_ARITY, "get");
    ts_is_err_cmd(RUN("set", "k"), KV_ERR_ARITY, "set");
    ts_is_err_cmd(RUN("getrange", "k", "0"), KV_ERR_ARITY, "getrange");
    ts_is_err_cmd(RUN("lcs", "a"), KV_ERR_ARITY, "lcs");
}

/* Runs the same writes on a store with replies and one without (as a
 * follower does) and compares the keyspaces key by key. */
Test(strings, no_reply_gives_same_state)
{
    static const char *const script[][6] = {
        {"set", "a", "1", "ex", "100", NULL},
        {"set", "b", "x", "get", NULL},
        {"setnx", "c", "v", NULL},
        {"setex", "d", "5", "v", NULL},
        {"psetex", "e", "5", "v", NULL},
        {"getset", "a", "2", NULL},
        {"mset", "f", "1", "g", "2", NULL},
        {"msetnx", "h", "1", "f", "2", NULL},
        {"append", "g", "zz", NULL},
        {"setrange", "i", "3", "ab", NULL},
        {"incr", "f", NULL},
        {"incrbyfloat", "f", "0.5", NULL},
        {"decrby", "j", "7", NULL},
        {"getex", "b", "ex", "50", NULL},
        {"getdel", "c", NULL},
        {"set", "a", "3", "keepttl", NULL},
        {"set", "k", "v", "ex", "0", NULL},
    };
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f",
                                       "g", "h", "i", "j", "k"};
    uint8_t seed[16] = {9};
    struct kv_store *quiet = kv_store_new(seed);

    cr_assert_not_null(quiet);
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        size_t lens[6];
        int argc = 0;
        struct kv_reply r;
        while (argc < 6 && script[i][argc] != NULL) {
            lens[argc] = strlen(script[i][argc]);
            argc++;
        }
        r = ts_exec(ts_s, argc, script[i], lens, false);
        kv_reply_fini(&r);
        (void)ts_exec(quiet, argc, script[i], lens, true);
    }
    cr_assert(eq(sz, kv_store_size(quiet), kv_store_size(ts_s)));
    cr_assert(eq(sz, kv_store_expires(quiet), kv_store_expires(ts_s)));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct kv_entry *x = ts_entry(keys[i]);
        struct kv_entry *y =
            kv__find(quiet, keys[i], strlen(keys[i]), ts_ctx.now_ms);
        char tx[32];
        char ty[32];
        size_t lx;
        size_t ly;
        cr_assert(eq(int, x == NULL, y == NULL), "%s", keys[i]);
        if (x == NULL) {
            continue;
        }
        const char *px = kv__str(x, &lx, tx);
        const char *py = kv__str(y, &ly, ty);
        cr_assert(eq(sz, lx, ly), "%s", keys[i]);
        cr_assert(memcmp(px, py, lx) == 0, "%s", keys[i]);
        cr_assert(eq(i64, kv__expire(x), kv__expire(y)), "%s", keys[i]);
        cr_assert(eq(int, (int)kv__enc(x), (int)kv__enc(y)), "%s", keys[i]);
    }
    kv_store_free(quiet);
}
