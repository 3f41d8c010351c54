/* Unit tests of reply conversion and every client-visible error text. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter.h"
#include "server/srv.h"

TestSuite(reply, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static struct proto_buf out;

static void setup(void)
{
    proto_buf_init(&out);
}

static void teardown(void)
{
    proto_buf_fini(&out);
}

/* Compares the output with @want (may hold NULs: length given). */
static void expect(const char *want)
{
    size_t n = strlen(want);
    char *got = malloc(out.len + 1);
    memcpy(got, out.data, out.len);
    got[out.len] = '\0';
    cr_assert(eq(str, got, (char *)want));
    cr_assert(eq(sz, out.len, n));
    free(got);
    out.len = 0;
}

static struct kv_reply mk(enum kv_reply_type t)
{
    struct kv_reply r;
    memset(&r, 0, sizeof(r));
    r.type = t;
    return r;
}

static struct kv_reply mkstr(enum kv_reply_type t, const char *s)
{
    struct kv_reply r = mk(t);
    r.str = (char *)s;
    r.len = strlen(s);
    return r;
}

/* ------------------------------------------------------------------------
 * kv reply trees
 * ---------------------------------------------------------------------- */

Test(reply, scalars_resp2_and_resp3, .init = setup, .fini = teardown)
{
    struct kv_reply r = mk(KV_REPLY_NIL);
    cr_assert(eq(int, srv_reply_kv(&out, 2, &r, "get"), 0));
    expect("$-1\r\n");
    srv_reply_kv(&out, 3, &r, "get");
    expect("_\r\n");

    r = mk(KV_REPLY_NIL_ARRAY);
    srv_reply_kv(&out, 2, &r, "x");
    expect("*-1\r\n");
    srv_reply_kv(&out, 3, &r, "x");
    expect("_\r\n");

    r = mkstr(KV_REPLY_STATUS, "OK");
    srv_reply_kv(&out, 2, &r, "set");
    expect("+OK\r\n");

    r = mk(KV_REPLY_INT);
    r.i = -42;
    srv_reply_kv(&out, 3, &r, "incr");
    expect(":-42\r\n");

    r = mkstr(KV_REPLY_BULK, "hello");
    srv_reply_kv(&out, 2, &r, "get");
    expect("$5\r\nhello\r\n");

    r = mk(KV_REPLY_BULK);
    srv_reply_kv(&out, 2, &r, "get");
    expect("$0\r\n\r\n");

    r = mk(KV_REPLY_DOUBLE);
    r.d = 1.5;
    srv_reply_kv(&out, 2, &r, "incrbyfloat");
    expect("$3\r\n1.5\r\n");
    srv_reply_kv(&out, 3, &r, "incrbyfloat");
    expect(",1.5\r\n");
}

Test(reply, nested_arrays_and_maps, .init = setup, .fini = teardown)
{
    struct kv_reply inner[2] = {mkstr(KV_REPLY_BULK, "a"), mk(KV_REPLY_NIL)};
    struct kv_reply pairs[4] = {mkstr(KV_REPLY_BULK, "k"), mk(KV_REPLY_INT),
                                mkstr(KV_REPLY_BULK, "arr"),
                                mk(KV_REPLY_ARRAY)};
    pairs[1].i = 7;
    pairs[3].elems = inner;
    pairs[3].n = 2;
    struct kv_reply map = mk(KV_REPLY_MAP);
    map.elems = pairs;
    map.n = 4;

    srv_reply_kv(&out, 2, &map, "x");
    expect("*4\r\n$1\r\nk\r\n:7\r\n$3\r\narr\r\n*2\r\n$1\r\na\r\n$-1\r\n");
    srv_reply_kv(&out, 3, &map, "x");
    expect("%2\r\n$1\r\nk\r\n:7\r\n$3\r\narr\r\n*2\r\n$1\r\na\r\n_\r\n");

    struct kv_reply empty = mk(KV_REPLY_ARRAY);
    srv_reply_kv(&out, 3, &empty, "x");
    expect("*0\r\n");
}

Test(reply, kv_errors_use_kv_text, .init = setup, .fini = teardown)
{
    struct kv_reply r = mk(KV_REPLY_ERROR);
    r.err = KV_ERR_WRONGTYPE;
    srv_reply_kv(&out, 2, &r, "get");
    expect(
        "-WRONGTYPE Operation against a key holding the wrong kind of "
        "value\r\n");

    r.err = KV_ERR_NOTINT;
    srv_reply_kv(&out, 3, &r, "incr");
    expect("-ERR value is not an integer or out of range\r\n");

    r.err = KV_ERR_SYNTAX;
    srv_reply_kv(&out, 2, &r, "set");
    expect("-ERR syntax error\r\n");
}

Test(reply, kv_error_substitutes_command_name, .init = setup, .fini = teardown)
{
    struct kv_reply r = mkstr(KV_REPLY_ERROR, "get");
    r.err = KV_ERR_ARITY;
    srv_reply_kv(&out, 2, &r, NULL);
    expect("-ERR wrong number of arguments for 'get' command\r\n");

    /* No name carried: the caller's command name is used. */
    r = mk(KV_REPLY_ERROR);
    r.err = KV_ERR_BADEXPIRE;
    srv_reply_kv(&out, 2, &r, "set");
    expect("-ERR invalid expire time in 'set' command\r\n");
}

Test(reply, every_kv_error_has_text, .init = setup, .fini = teardown)
{
    for (int e = KV_ERR_WRONGTYPE; e < KV_ERR__LAST; e++) {
        const char *t = kv_strerror(e);
        cr_assert(t != NULL && t[0] != '\0', "code %d", e);
        cr_assert(strchr(t, '\r') == NULL && strchr(t, '\n') == NULL);
        cr_assert(eq(str, (char *)srv_strerror(e), (char *)t));
    }
}

/* ------------------------------------------------------------------------
 * Server error codes
 * ---------------------------------------------------------------------- */

Test(reply, server_error_texts, .init = setup, .fini = teardown)
{
    static const struct
    {
        int code;
        const char *want;
    } cases[] = {
        {RADAPTER_ENOTLEADER,
         "-CLUSTERDOWN this node is not the leader, or no leader is known\r\n"},
        {RADAPTER_EUNKNOWN,
         "-UNKNOWN the write may or may not have been applied (leader lost, "
         "retries exhausted)\r\n"},
        {RADAPTER_ETIMEDOUT,
         "-TIMEOUT leadership not confirmed within the read's deadline "
         "(RAFTKV TIMEOUT, capped by verify-timeout-ms)\r\n"},
        {RADAPTER_EBUSY,
         "-BUSY a bounded queue is full (max-pending-reads or "
         "max-pending-writes); try again later\r\n"},
        {RADAPTER_ESHUTDOWN, "-SHUTDOWN the node is shutting down\r\n"},
        {RADAPTER_EIO, "-IOERR disk error on this node\r\n"},
        {RADAPTER_ECORRUPT, "-ERR the data directory is damaged\r\n"},
        {RADAPTER_ELOCKED, "-ERR data dir locked by another process\r\n"},
        {-ENOMEM, "-OOM command not allowed: out of memory\r\n"},
        {-12345678, "-ERR internal error\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert(eq(int, srv_reply_error_code(&out, cases[i].code, 0), 0));
        expect(cases[i].want);
    }
}

Test(reply, protocol_error_texts, .init = setup, .fini = teardown)
{
    static const struct
    {
        int code;
        const char *want;
    } cases[] = {
        {PROTO_EBADMBULKLEN, "invalid multibulk length"},
        {PROTO_EBADBULKLEN, "invalid bulk length"},
        {PROTO_EBIGMBULK, "too big mbulk count string"},
        {PROTO_EBIGBULK, "too big bulk count string"},
        {PROTO_EBIGINLINE, "too big inline request"},
        {PROTO_EQUOTES, "unbalanced quotes in request"},
    };
    char want[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        srv_reply_error_code(&out, cases[i].code, 0);
        snprintf(want, sizeof(want), "-ERR Protocol error: %s\r\n",
                 cases[i].want);
        expect(want);
    }
    srv_reply_error_code(&out, PROTO_EEXPECTDOLLAR, 'x');
    expect("-ERR Protocol error: expected '$', got 'x'\r\n");
}

/* ------------------------------------------------------------------------
 * Command errors
 * ---------------------------------------------------------------------- */

Test(reply, unknown_command_like_redis, .init = setup, .fini = teardown)
{
    const char *argv[] = {"foo", "a", "b"};
    size_t lens[] = {3, 1, 1};
    srv_reply_unknown_command(&out, 3, argv, lens);
    expect(
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        "\r\n");

    srv_reply_unknown_command(&out, 1, argv, lens);
    expect("-ERR unknown command 'foo', with args beginning with: \r\n");

    /* CR/LF never break the framing. */
    const char *argv2[] = {"f\r\no", "x\ny"};
    size_t lens2[] = {4, 3};
    srv_reply_unknown_command(&out, 2, argv2, lens2);
    expect(
        "-ERR unknown command 'f  o', with args beginning with: 'x y' "
        "\r\n");
}

Test(reply, unknown_command_truncates, .init = setup, .fini = teardown)
{
    char name[300];
    char arg[300];
    memset(name, 'n', sizeof(name));
    memset(arg, 'a', sizeof(arg));
    const char *argv[] = {name, "x", arg, "y"};
    size_t lens[] = {sizeof(name), 1, sizeof(arg), 1};
    srv_reply_unknown_command(&out, 4, argv, lens);
    /* Name: 128 bytes. Args: 'x' (4 bytes) then the next argument cut at
     * 124 bytes, after which 128 bytes are shown and nothing more. */
    char want[600];
    int n = snprintf(want, sizeof(want),
                     "-ERR unknown command '%.128s', with args beginning "
                     "with: 'x' '%.124s' \r\n",
                     name, arg);
    cr_assert(n > 0);
    expect(want);
}

Test(reply, arity_and_subcommand, .init = setup, .fini = teardown)
{
    srv_reply_arity(&out, "config|set");
    expect("-ERR wrong number of arguments for 'config|set' command\r\n");
    srv_reply_unknown_subcommand(&out, "foo", 3, "CONFIG");
    expect("-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
    srv_reply_errorf(&out, "ERR %s", "a\r\nb");
    expect("-ERR a  b\r\n");
}
