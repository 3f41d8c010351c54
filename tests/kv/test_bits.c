/* Tests of the bit commands (cmd_bits.c, cmd_bitfield.c). Expected replies
 * and error orders were checked against redis-server 7.0.15. */
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

#define TB_NOW     INT64_C(1700000000000)
#define TB_MAXBULK (UINT64_C(512) * 1024 * 1024)
#define TB_MAXARGS 40

static struct kv_store *tb_s;
static struct kv_exec_ctx tb_ctx;
static char tb_desc[1024]; /* the last command, for failure messages */

static void tb_setup(void)
{
    uint8_t seed[16] = {7, 7, 7};

    tb_s = kv_store_new(seed);
    cr_assert_not_null(tb_s);
    memset(&tb_ctx, 0, sizeof(tb_ctx));
    tb_ctx.now_ms = TB_NOW;
    tb_ctx.max_bulk_len = TB_MAXBULK;
}

static void tb_teardown(void)
{
    kv_store_free(tb_s);
}

TestSuite(bits, .init = tb_setup, .fini = tb_teardown, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static struct kv_reply tb_exec(struct kv_store *s,
                               int argc,
                               const char *const *argv,
                               const size_t *lens,
                               bool noreply)
{
    struct kv_reply r;
    size_t used = 0;

    memset(&r, 0, sizeof(r));
    tb_desc[0] = '\0';
    for (int i = 0; i < argc && used + 2 < sizeof(tb_desc); i++) {
        int n = snprintf(tb_desc + used, sizeof(tb_desc) - used, "%s%.*s",
                         i ? " " : "", (int)lens[i], argv[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    kv_exec(s, &tb_ctx, argc, argv, lens, noreply ? NULL : &r);
    return r;
}

/* Runs a command given as NUL-terminated words, the list ending in NULL. */
static struct kv_reply tb_run(const char *first, ...)
{
    const char *argv[TB_MAXARGS];
    size_t lens[TB_MAXARGS];
    int argc = 0;
    va_list ap;

    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < TB_MAXARGS;
         a = va_arg(ap, const char *)) {
        argv[argc] = a;
        lens[argc] = strlen(a);
        argc++;
    }
    va_end(ap);
    return tb_exec(tb_s, argc, argv, lens, false);
}

#define RUN(...) tb_run(__VA_ARGS__, (const char *)NULL)

static void tb_is_int(struct kv_reply r, int64_t want)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_INT), "%s (type %d err %d)",
              tb_desc, (int)r.type, r.err);
    cr_assert(eq(i64, r.i, want), "%s", tb_desc);
    kv_reply_fini(&r);
}

static void tb_is_err(struct kv_reply r, int err)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_ERROR), "%s (type %d)", tb_desc,
              (int)r.type);
    cr_assert(eq(int, r.err, err), "%s", tb_desc);
    kv_reply_fini(&r);
}

#define INT(v, ...) tb_is_int(RUN(__VA_ARGS__), (v))
#define ERR(e, ...) tb_is_err(RUN(__VA_ARGS__), (e))

/* Sets @key to @n raw bytes. */
static void tb_set(const char *key, const char *val, size_t n)
{
    const char *argv[] = {"set", key, val};
    const size_t lens[] = {3, strlen(key), n};
    struct kv_reply r = tb_exec(tb_s, 3, argv, lens, false);

    cr_assert(eq(int, (int)r.type, KV_REPLY_STATUS));
    kv_reply_fini(&r);
}

/* Checks the bytes of @key (NULL @want: the key must be absent). */
static void tb_value(const char *key, const char *want, size_t n)
{
    struct kv_entry *e = kv__find(tb_s, key, strlen(key), tb_ctx.now_ms);
    char tmp[32];
    size_t len;
    const char *p;

    if (want == NULL) {
        cr_assert_null(e, "%s exists", key);
        return;
    }
    cr_assert_not_null(e, "%s missing", key);
    p = kv__str(e, &len, tmp);
    cr_assert(eq(sz, len, n), "%s", key);
    cr_assert(memcmp(p, want, n) == 0, "%s", key);
}

static void tb_has_enc(const char *key, enum kv_enc want)
{
    struct kv_entry *e = kv__find(tb_s, key, strlen(key), tb_ctx.now_ms);

    cr_assert_not_null(e);
    cr_assert(eq(int, (int)kv__enc(e), (int)want), "%s", key);
}

/* Runs a BITFIELD-like command and checks its array of integers, where
 * TB_NIL in @want (a value no test reads) stands for nil. */
#define TB_NIL INT64_C(-7777777777777)
static void tb_is_ints(struct kv_reply r, const int64_t *want, size_t n)
{
    cr_assert(eq(int, (int)r.type, KV_REPLY_ARRAY), "%s (type %d err %d)",
              tb_desc, (int)r.type, r.err);
    cr_assert(eq(sz, r.n, n), "%s", tb_desc);
    for (size_t i = 0; i < n; i++) {
        if (want[i] == TB_NIL) {
            cr_assert(eq(int, (int)r.elems[i].type, KV_REPLY_NIL), "%s [%zu]",
                      tb_desc, i);
        } else {
            cr_assert(eq(int, (int)r.elems[i].type, KV_REPLY_INT), "%s [%zu]",
                      tb_desc, i);
            cr_assert(eq(i64, r.elems[i].i, want[i]), "%s [%zu]", tb_desc, i);
        }
    }
    kv_reply_fini(&r);
}

#define INTS(want, ...)                                   \
    tb_is_ints(RUN(__VA_ARGS__), (const int64_t *)(want), \
               sizeof(want) / sizeof((want)[0]))

/* ------------------------------------------------------------------------
 * Tests: SETBIT, GETBIT
 * ---------------------------------------------------------------------- */

Test(bits, setbit_getbit)
{
    INT(0, "setbit", "k", "7", "1");
    tb_value("k", "\x01", 1);
    tb_has_enc("k", KV_ENC_RAW);
    INT(1, "getbit", "k", "7");
    INT(0, "getbit", "k", "6");
    INT(0, "getbit", "k", "100000");
    INT(0, "getbit", "missing", "3");
    INT(1, "setbit", "k", "7", "0");
    INT(0, "setbit", "k", "17", "1");
    tb_value("k", "\x00\x00\x40", 3);
    INT(0, "setbit", "k", "0", "1");
    tb_value("k", "\x80\x00\x40", 3);
}

Test(bits, setbit_on_int_and_ttl)
{
    tb_set("n", "1", 1); /* 0x31 */
    tb_has_enc("n", KV_ENC_INT);
    INT(0, "setbit", "n", "6", "1");
    tb_value("n", "3", 1);
    tb_has_enc("n", KV_ENC_RAW);
    INT(1, "getbit", "n", "7");
    {
        const char *argv[] = {"set", "t", "a", "ex", "100"};
        const size_t lens[] = {3, 1, 1, 2, 3};
        struct kv_reply r = tb_exec(tb_s, 5, argv, lens, false);
        kv_reply_fini(&r);
    }
    INT(0, "setbit", "t", "30", "1");
    cr_assert(
        eq(i64, kv__expire(kv__find(tb_s, "t", 1, TB_NOW)), TB_NOW + 100000));
}

Test(bits, setbit_errors)
{
    ERR(KV_ERR_BITOFFSET, "setbit", "k", "-1", "1");
    ERR(KV_ERR_BITOFFSET, "setbit", "k", "4294967296", "1");
    ERR(KV_ERR_BITOFFSET, "setbit", "k", "x", "1");
    ERR(KV_ERR_BITOFFSET, "setbit", "k", "x", "2");
    ERR(KV_ERR_BITVALUE, "setbit", "k", "4294967295", "2");
    ERR(KV_ERR_BITVALUE, "setbit", "k", "1", "x");
    ERR(KV_ERR_BITVALUE, "setbit", "k", "1", "-1");
    ERR(KV_ERR_BITOFFSET, "getbit", "k", "4294967296");
    ERR(KV_ERR_BITOFFSET, "getbit", "k", "-1");
    INT(0, "getbit", "k", "4294967295");
    tb_value("k", NULL, 0);
}

Test(bits, setbit_respects_max_bulk_len)
{
    tb_ctx.max_bulk_len = 10;
    INT(0, "setbit", "k", "79", "1");
    ERR(KV_ERR_BITOFFSET, "setbit", "k", "80", "1");
    ERR(KV_ERR_BITOFFSET, "getbit", "k", "80");
    INT(1, "getbit", "k", "79");
}

/* ------------------------------------------------------------------------
 * Tests: BITCOUNT, BITPOS
 * ---------------------------------------------------------------------- */

Test(bits, bitcount)
{
    tb_set("f", "foobar", 6);
    INT(26, "bitcount", "f");
    INT(4, "bitcount", "f", "0", "0");
    INT(6, "bitcount", "f", "1", "1");
    INT(6, "bitcount", "f", "1", "1", "BYTE");
    INT(17, "bitcount", "f", "5", "30", "bit");
    INT(7, "bitcount", "f", "-2", "-1");
    INT(0, "bitcount", "f", "3", "1");
    INT(0, "bitcount", "f", "-1", "-5");
    INT(0, "bitcount", "f", "-1", "-5", "foo");
    INT(0, "bitcount", "f", "-1", "-9223372036854775808", "bit");
    INT(26, "bitcount", "f", "-100", "100", "bit");
    INT(1, "bitcount", "f", "1", "1", "bit");
    tb_set("e", "", 0);
    INT(0, "bitcount", "e");
    INT(0, "bitcount", "e", "0", "-1", "bit");
}

Test(bits, bitcount_long_string)
{
    char buf[100];

    memset(buf, 0xff, sizeof(buf));
    tb_set("k", buf, sizeof(buf));
    INT(800, "bitcount", "k");
    INT(795, "bitcount", "k", "3", "797", "bit");
    INT(8 * 90, "bitcount", "k", "5", "94");
}

Test(bits, bitcount_errors)
{
    /* Redis 7.0 looks the key up first: a missing key is 0 whatever
     * follows. */
    INT(0, "bitcount", "missing", "a", "b");
    INT(0, "bitcount", "missing", "1");
    tb_set("f", "foobar", 6);
    ERR(KV_ERR_SYNTAX, "bitcount", "f", "1");
    ERR(KV_ERR_SYNTAX, "bitcount", "f", "1", "2", "3", "4");
    ERR(KV_ERR_SYNTAX, "bitcount", "f", "1", "2", "bits");
    ERR(KV_ERR_SYNTAX, "bitcount", "f", "1", "-5", "foo");
    ERR(KV_ERR_NOTINT, "bitcount", "f", "a", "1", "foo");
    ERR(KV_ERR_NOTINT, "bitcount", "f", "0", "a", "foo");
}

Test(bits, bitpos)
{
    tb_set("a", "\xff\xf0\x00", 3);
    tb_set("b", "\x00\xff\xf0", 3);
    tb_set("c", "\x00\x00\x00", 3);
    tb_set("d", "\xff\xff\xff", 3);
    INT(12, "bitpos", "a", "0");
    INT(8, "bitpos", "b", "1", "0");
    INT(16, "bitpos", "b", "1", "2");
    INT(16, "bitpos", "b", "1", "2", "-1", "byte");
    INT(8, "bitpos", "b", "1", "7", "15", "bit");
    INT(-1, "bitpos", "c", "1");
    INT(-1, "bitpos", "c", "1", "7", "-3", "bit");
    INT(12, "bitpos", "a", "0", "1", "-1", "bit");
    /* Looking for 0 in all ones: past the end unless an end is given. */
    INT(24, "bitpos", "d", "0");
    INT(24, "bitpos", "d", "0", "1");
    INT(-1, "bitpos", "d", "0", "0", "-1");
    INT(-1, "bitpos", "d", "0", "3", "20", "bit");
    INT(-1, "bitpos", "d", "0", "5");
    INT(0, "bitpos", "missing", "0");
    INT(-1, "bitpos", "missing", "1");
    tb_set("e", "", 0);
    INT(-1, "bitpos", "e", "0");
    INT(-1, "bitpos", "e", "1");
}

Test(bits, bitpos_long_string)
{
    char buf[200];

    memset(buf, 0, sizeof(buf));
    buf[150] = 0x10;
    tb_set("k", buf, sizeof(buf));
    INT(150 * 8 + 3, "bitpos", "k", "1");
    INT(150 * 8 + 3, "bitpos", "k", "1", "9", "-1");
    INT(-1, "bitpos", "k", "1", "151");
    INT(-1, "bitpos", "k", "1", "0", "1202", "bit");
    INT(1203, "bitpos", "k", "1", "0", "1203", "bit");
    memset(buf, 0xff, sizeof(buf));
    buf[170] = (char)0xfe;
    tb_set("k", buf, sizeof(buf));
    INT(170 * 8 + 7, "bitpos", "k", "0");
    INT(1600, "bitpos", "k", "0", "171");
}

Test(bits, bitpos_errors)
{
    tb_set("s", "foobar", 6);
    ERR(KV_ERR_BITARG, "bitpos", "s", "2");
    ERR(KV_ERR_BITARG, "bitpos", "missing", "2");
    ERR(KV_ERR_NOTINT, "bitpos", "missing", "x");
    ERR(KV_ERR_NOTINT, "bitpos", "s", "0", "a");
    ERR(KV_ERR_NOTINT, "bitpos", "s", "0", "3", "bit");
    ERR(KV_ERR_SYNTAX, "bitpos", "s", "0", "0", "1", "foo");
    ERR(KV_ERR_SYNTAX, "bitpos", "s", "0", "0", "a", "foo");
    ERR(KV_ERR_SYNTAX, "bitpos", "s", "0", "0", "1", "bit", "5");
}

/* ------------------------------------------------------------------------
 * Tests: BITOP
 * ---------------------------------------------------------------------- */

Test(bits, bitop_ops)
{
    tb_set("x1", "abc", 3);
    tb_set("x2", "abcdef", 6);
    INT(6, "bitop", "and", "r", "x1", "x2");
    tb_value("r", "abc\0\0\0", 6);
    tb_has_enc("r", KV_ENC_RAW);
    INT(6, "bitop", "OR", "r", "x1", "x2");
    tb_value("r", "abcdef", 6);
    INT(6, "bitop", "xor", "r", "x1", "x2");
    tb_value("r", "\0\0\0def", 6);
    INT(3, "bitop", "not", "r", "x1");
    tb_value("r", "\x9e\x9d\x9c", 3);
    INT(6, "bitop", "and", "r", "x2", "missing");
    tb_value("r", "\0\0\0\0\0\0", 6);
    /* The destination may be a source. */
    INT(6, "bitop", "xor", "x2", "x2", "x1");
    tb_value("x2", "\0\0\0def", 6);
    tb_set("n", "1", 1);
    INT(1, "bitop", "or", "r", "n");
    tb_value("r", "1", 1);
    tb_has_enc("r", KV_ENC_RAW);
}

Test(bits, bitop_empty_result_deletes)
{
    tb_set("r", "old", 3);
    INT(0, "bitop", "not", "r", "missing");
    tb_value("r", NULL, 0);
    tb_set("r", "old", 3);
    INT(0, "bitop", "and", "r", "m1", "m2");
    tb_value("r", NULL, 0);
}

Test(bits, bitop_errors_and_ttl)
{
    const char *argv[] = {"set", "r", "old", "ex", "100"};
    const size_t lens[] = {3, 1, 3, 2, 3};
    struct kv_reply r = tb_exec(tb_s, 5, argv, lens, false);

    kv_reply_fini(&r);
    ERR(KV_ERR_BITOP_NOT, "bitop", "not", "r", "a", "b");
    ERR(KV_ERR_SYNTAX, "bitop", "nand", "r", "a");
    tb_value("r", "old", 3);
    tb_set("a", "ab", 2);
    INT(2, "bitop", "or", "r", "a");
    cr_assert(eq(i64, kv__expire(kv__find(tb_s, "r", 1, TB_NOW)), -1));
}

/* ------------------------------------------------------------------------
 * Tests: BITFIELD
 * ---------------------------------------------------------------------- */

Test(bits, bitfield_basic)
{
    static const int64_t w1[] = {1, 0};
    static const int64_t w2[] = {0, 100, 100};
    static const int64_t w3[] = {0};

    INTS(w1, "bitfield", "m", "incrby", "i5", "100", "1", "get", "u4", "0");
    INTS(w2, "bitfield", "m", "set", "i8", "#1", "100", "get", "i8", "8", "get",
         "u16", "0");
    tb_value("m",
             "\x00"
             "d\0\0\0\0\0\0\0\0\0\0\0\x80",
             14);
    tb_has_enc("m", KV_ENC_RAW);
    INTS(w3, "bitfield", "n", "get", "u8", "4294967295");
    tb_value("n", NULL, 0);
}

Test(bits, bitfield_overflow_modes)
{
    static const int64_t w1[] = {0, 255, -1, -128};
    static const int64_t w1b[] = {128, 255};
    static const int64_t w2[] = {TB_NIL, TB_NIL, -1, 127, 56, 255, 254};
    static const int64_t w3[] = {0, 255, -128, -128};

    INTS(w1, "bitfield", "b", "set", "u8", "0", "-1", "overflow", "sat", "set",
         "u8", "0", "-1", "set", "i8", "0", "-200", "get", "i8", "0");
    INTS(w1b, "bitfield", "b", "overflow", "sat", "set", "u8", "0", "-200",
         "get", "u8", "0");
    /* FAIL refuses out-of-range writes; WRAP keeps the low bits; SAT on an
     * unsigned SET of a negative value gives the maximum. */
    INTS(w2, "bitfield", "b", "overflow", "fail", "set", "u8", "0", "-1", "set",
         "i8", "0", "-129", "set", "i8", "0", "127", "overflow", "wrap", "set",
         "u8", "0", "-200", "get", "u8", "0", "incrby", "u8", "0", "-57",
         "incrby", "u8", "0", "-1");
    INTS(w3, "bitfield", "b", "overflow", "sat", "incrby", "u8", "0",
         "-9223372036854775808", "incrby", "u8", "0", "9223372036854775807",
         "incrby", "i8", "0", "-9223372036854775808", "overflow", "wrap",
         "incrby", "i8", "0", "-9223372036854775808");
}

Test(bits, bitfield_sat_set_unsigned_negative)
{
    static const int64_t w[] = {0, 255};

    INTS(w, "bitfield", "b", "overflow", "sat", "set", "u8", "0", "-200", "get",
         "u8", "0");
}

Test(bits, bitfield_64_bit_edges)
{
    static const int64_t w1[] = {0};
    static const int64_t w2[] = {0,         INT64_MIN,
                                 INT64_MIN, INT64_MIN,
                                 INT64_MAX, INT64_C(4611686018427387903),
                                 INT64_MAX};
    static const int64_t w3[] = {INT64_MAX, -1, INT64_C(9223372036854775806)};

    INTS(w1, "bitfield", "z", "set", "i64", "1000", "-1");
    INTS(w2, "bitfield", "z", "get", "i64", "0", "overflow", "sat", "incrby",
         "i64", "0", "-9223372036854775808", "incrby", "i64", "0", "-1",
         "incrby", "i64", "0", "-1", "overflow", "wrap", "incrby", "i64", "0",
         "-1", "set", "u63", "0", "-1", "get", "u63", "0");
    INTS(w3, "bitfield", "z", "overflow", "sat", "set", "u63", "0", "-1", "set",
         "i64", "0", "-5", "overflow", "fail", "incrby", "u63", "0", "1");
}

Test(bits, bitfield_fail_still_grows)
{
    static const int64_t w[] = {TB_NIL};

    INTS(w, "bitfield", "c", "overflow", "fail", "incrby", "u2", "100", "10");
    tb_value("c", "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
}

Test(bits, bitfield_no_ops_and_ro)
{
    static const int64_t none[] = {0};
    static const int64_t w[] = {128};
    struct kv_reply r = RUN("bitfield", "b");

    cr_assert(eq(int, (int)r.type, KV_REPLY_ARRAY));
    cr_assert(eq(sz, r.n, 0));
    kv_reply_fini(&r);
    tb_value("b", NULL, 0);
    INTS(none, "bitfield_ro", "b", "get", "u8", "0");
    tb_set("b", "\x80", 1);
    INTS(w, "bitfield_ro", "b", "overflow", "wrap", "get", "u8", "0");
    ERR(KV_ERR_BF_RO, "bitfield_ro", "b", "set", "u8", "0", "1");
    ERR(KV_ERR_BF_RO, "bitfield_ro", "b", "get", "u8", "0", "incrby", "u8", "0",
        "1");
    tb_value("b", "\x80", 1);
}

Test(bits, bitfield_errors)
{
    static const char *types[] = {"u64", "i65", "u0",  "i0",
                                  "x8",  "u",   "u-1", "u08"};

    tb_set("b", "\x12", 1);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ERR(KV_ERR_BF_TYPE, "bitfield", "b", "get", types[i], "0");
    }
    ERR(KV_ERR_BITOFFSET, "bitfield", "b", "get", "u8", "#");
    ERR(KV_ERR_BITOFFSET, "bitfield", "b", "get", "u8", "-1");
    ERR(KV_ERR_BITOFFSET, "bitfield", "b", "get", "u8", "4294967296");
    ERR(KV_ERR_BITOFFSET, "bitfield", "b", "get", "u8", "#536870912");
    ERR(KV_ERR_BITOFFSET, "bitfield", "b", "set", "i64", "#9223372036854775807",
        "1");
    ERR(KV_ERR_BF_OVERFLOW, "bitfield", "b", "overflow", "foo", "get", "u8",
        "0");
    ERR(KV_ERR_SYNTAX, "bitfield", "b", "get", "u8");
    ERR(KV_ERR_SYNTAX, "bitfield", "b", "foo");
    ERR(KV_ERR_SYNTAX, "bitfield", "b", "overflow");
    ERR(KV_ERR_NOTINT, "bitfield", "b", "set", "u8", "0", "x");
    /* A later bad op fails the whole command before any write. */
    ERR(KV_ERR_NOTINT, "bitfield", "b", "set", "u8", "0", "255", "incrby", "u8",
        "0", "x");
    tb_value("b", "\x12", 1);
    tb_has_enc("b", KV_ENC_EMBSTR);
}

/* ------------------------------------------------------------------------
 * Tests: flags, followers
 * ---------------------------------------------------------------------- */

Test(bits, command_flags)
{
    static const struct
    {
        const char *name;
        unsigned flags;
    } cmds[] = {
        {"setbit", KV_CMD_WRITE},         {"getbit", KV_CMD_READONLY},
        {"bitcount", KV_CMD_READONLY},    {"bitpos", KV_CMD_READONLY},
        {"bitop", KV_CMD_WRITE},          {"bitfield", KV_CMD_WRITE},
        {"bitfield_ro", KV_CMD_READONLY},
    };

    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        unsigned flags = 0;
        cr_assert(kv_cmd_lookup(cmds[i].name, strlen(cmds[i].name), &flags),
                  "%s", cmds[i].name);
        cr_assert(eq(u32, flags, cmds[i].flags), "%s", cmds[i].name);
    }
}

Test(bits, no_reply_gives_same_state)
{
    static const char *const script[][12] = {
        {"setbit", "a", "100", "1", NULL},
        {"setbit", "a", "3", "1", NULL},
        {"bitop", "xor", "b", "a", "c", NULL},
        {"bitop", "not", "d", "a", NULL},
        {"bitfield", "e", "set", "u8", "#3", "200", "incrby", "i16", "4", "-7",
         NULL},
        {"bitfield", "f", "overflow", "fail", "incrby", "u2", "64", "9", NULL},
        {"bitfield", "a", "overflow", "sat", "incrby", "u4", "0", "100", NULL},
        {"bitop", "and", "g", "missing", NULL},
    };
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g"};
    uint8_t seed[16] = {3};
    struct kv_store *quiet = kv_store_new(seed);

    cr_assert_not_null(quiet);
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        size_t lens[12];
        int argc = 0;
        struct kv_reply r;
        while (argc < 12 && script[i][argc] != NULL) {
            lens[argc] = strlen(script[i][argc]);
            argc++;
        }
        r = tb_exec(tb_s, argc, script[i], lens, false);
        cr_assert(ne(int, (int)r.type, KV_REPLY_ERROR), "%s", tb_desc);
        kv_reply_fini(&r);
        (void)tb_exec(quiet, argc, script[i], lens, true);
    }
    cr_assert(eq(sz, kv_store_size(quiet), kv_store_size(tb_s)));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct kv_entry *x = kv__find(tb_s, keys[i], 1, TB_NOW);
        struct kv_entry *y = kv__find(quiet, keys[i], 1, TB_NOW);
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
        cr_assert(eq(int, (int)kv__enc(x), (int)kv__enc(y)), "%s", keys[i]);
    }
    kv_store_free(quiet);
}
