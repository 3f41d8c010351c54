/* Tests of the RESP request parser (proto/resp_parse.c): tables of byte
 * strings fed in every split, each error with its trigger, the limits, and
 * the memory and time bounds the contract promises. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

/* One suite for the whole binary: the other files of tests/proto use it. */
TestSuite(proto, .timeout = 30);

#define MAX_ARGS 8

/* A byte string with its length, so tables can hold NULs. */
#define B(s) s, sizeof(s) - 1

struct valid_case
{
    const char *name;
    const char *in; /* exactly one request */
    size_t in_len;
    int argc;
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
};

struct error_case
{
    const char *name;
    const char *in;
    size_t in_len;
    long err; /* the PROTO_E* once the input is complete */
};

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static struct proto_parser *new_parser(void)
{
    struct proto_limits lim;
    struct proto_parser *p;

    proto_limits_default(&lim);
    p = proto_parser_new(&lim);
    cr_assert_not_null(p);
    return p;
}

static struct proto_parser *new_parser_with(uint64_t max_bulk,
                                            uint64_t max_mbulk,
                                            size_t max_inline)
{
    struct proto_limits lim = {max_bulk, max_mbulk, max_inline};
    struct proto_parser *p = proto_parser_new(&lim);
    cr_assert_not_null(p);
    return p;
}

/* Copies @n bytes into a fresh allocation of exactly that size, so ASan
 * catches any read past what the parser was given, and any pointer the
 * parser kept into an earlier copy. */
static char *copy_of(const char *s, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);
    cr_assert_not_null(c);
    if (n > 0) {
        memcpy(c, s, n);
    }
    return c;
}

static void assert_cmd(const char *what,
                       const struct proto_cmd *cmd,
                       int argc,
                       const char *const *argv,
                       const size_t *lens)
{
    cr_assert(eq(int, cmd->argc, argc), "%s: argc", what);
    for (int i = 0; i < argc; i++) {
        cr_assert(eq(sz, cmd->lens[i], lens[i]), "%s: length of arg %d", what,
                  i);
        cr_assert(eq(int, memcmp(cmd->argv[i], argv[i], lens[i]), 0),
                  "%s: bytes of arg %d", what, i);
    }
}

static void assert_case(const struct valid_case *c, const struct proto_cmd *cmd)
{
    assert_cmd(c->name, cmd, c->argc, c->argv, c->lens);
}

/* Parses @c->in whole, one call. */
static void check_whole(const struct valid_case *c)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;
    char *buf = copy_of(c->in, c->in_len);
    long n = proto_parse(p, buf, c->in_len, &cmd);

    cr_assert(eq(long, n, (long)c->in_len), "%s: whole", c->name);
    assert_case(c, &cmd);
    free(buf);
    proto_parser_free(p);
}

/* Feeds every proper prefix to a fresh parser (each must ask for more),
 * then the whole request to that same parser, from a moved buffer. */
static void check_every_split(const struct valid_case *c)
{
    for (size_t k = 0; k < c->in_len; k++) {
        struct proto_parser *p = new_parser();
        struct proto_cmd cmd;
        char *buf = copy_of(c->in, k);
        long n = proto_parse(p, buf, k, &cmd);

        cr_assert(eq(long, n, 0), "%s: prefix of %zu bytes", c->name, k);
        free(buf);
        buf = copy_of(c->in, c->in_len);
        n = proto_parse(p, buf, c->in_len, &cmd);
        cr_assert(eq(long, n, (long)c->in_len), "%s: after split at %zu",
                  c->name, k);
        assert_case(c, &cmd);
        free(buf);
        proto_parser_free(p);
    }
}

/* Accumulates the request one byte at a time in one parser, each call
 * with a freshly allocated buffer. */
static void check_byte_at_a_time(const struct valid_case *c)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    for (size_t k = 1; k <= c->in_len; k++) {
        char *buf = copy_of(c->in, k);
        long n = proto_parse(p, buf, k, &cmd);
        if (k < c->in_len) {
            cr_assert(eq(long, n, 0), "%s: %zu bytes so far", c->name, k);
        } else {
            cr_assert(eq(long, n, (long)c->in_len), "%s: last byte", c->name);
            assert_case(c, &cmd);
        }
        free(buf);
    }
    proto_parser_free(p);
}

/* Feeds @c->in whole and then byte by byte: the result must be 0 until
 * the error is due, then the error. */
static void check_error(const struct error_case *c)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;
    long n = proto_parse(p, c->in, c->in_len, &cmd);

    cr_assert(eq(long, n, c->err), "%s: whole", c->name);
    proto_parser_free(p);

    p = new_parser();
    for (size_t k = 1; k <= c->in_len; k++) {
        char *buf = copy_of(c->in, k);
        n = proto_parse(p, buf, k, &cmd);
        free(buf);
        if (n != 0) {
            break;
        }
    }
    cr_assert(eq(long, n, c->err), "%s: byte at a time", c->name);
    proto_parser_free(p);
}

/* ------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------- */

/* One row per case reads better than clang-format's one field per line. */
/* clang-format off */
static const struct valid_case valid_cases[] = {
    {"mbulk ping", B("*1\r\n$4\r\nPING\r\n"), 1, {"PING"}, {4}},
    {"mbulk set", B("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"), 3,
     {"SET", "k", "hello"}, {3, 1, 5}},
    {"mbulk empty argument", B("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), 2,
     {"GET", ""}, {3, 0}},
    {"mbulk binary with NUL and CRLF inside",
     B("*2\r\n$4\r\na\0\r\n\r\n$6\r\n\r\n\0\r\n*\r\n"), 2,
     {"a\0\r\n", "\r\n\0\r\n*"}, {4, 6}},
    {"mbulk all bytes are data", B("*1\r\n$5\r\n$*\r\n\n\r\n"), 1,
     {"$*\r\n\n"}, {5}},
    {"mbulk count zero", B("*0\r\n"), 0, {NULL}, {0}},
    {"mbulk count minus one", B("*-1\r\n"), 0, {NULL}, {0}},
    {"mbulk count very negative", B("*-9223372036854775808\r\n"), 0, {NULL},
     {0}},
    {"inline ping crlf", B("PING\r\n"), 1, {"PING"}, {4}},
    {"inline ping lf", B("PING\n"), 1, {"PING"}, {4}},
    {"inline spaces", B("  set \t k   v \r\n"), 3, {"set", "k", "v"},
     {3, 1, 1}},
    {"inline empty crlf", B("\r\n"), 0, {NULL}, {0}},
    {"inline empty lf", B("\n"), 0, {NULL}, {0}},
    {"inline blanks only", B(" \t \r\n"), 0, {NULL}, {0}},
    {"inline double quotes", B("set k \"hello world\"\r\n"), 3,
     {"set", "k", "hello world"}, {3, 1, 11}},
    {"inline escapes", B("\"a\\nb\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"), 1,
     {"a\nb\r\t\b\a\\\"q"}, {10}},
    {"inline hex escapes", B("\"\\x41\\x4a\\x4A\\x00\\xzz\"\n"), 1,
     {"AJJ\0xzz"}, {7}},
    {"inline single quotes", B("'it\\'s' 'a\\nb' '\"'\n"), 3,
     {"it's", "a\\nb", "\""}, {4, 4, 1}},
    {"inline empty quoted", B("\"\" ''\n"), 2, {"", ""}, {0, 0}},
    {"inline bare then quoted", B("a\"b c\" d\n"), 2, {"ab c", "d"}, {4, 1}},
    {"inline quote then blank", B("\"a\"\tb \"c\"\vd\n"), 4,
     {"a", "b", "c", "d"}, {1, 1, 1, 1}},
    {"inline vertical tab inside token", B("a\vb\fc\n"), 1, {"a\vb\fc"}, {5}},
    {"inline leading vertical tab", B("\va\n"), 1, {"a"}, {1}},
    {"inline carriage return splits", B("a\rb\r\n"), 2, {"a", "b"}, {1, 1}},
    {"inline only one cr stripped", B("a\r\r\n"), 1, {"a"}, {1}},
    {"inline NUL ends the line", B("ab\0cd \"\r\n"), 1, {"ab"}, {2}},
    {"inline dollar first", B("$3\r\n"), 1, {"$3"}, {2}},
};
/* clang-format on */

#define NVALID (sizeof valid_cases / sizeof valid_cases[0])

static const struct error_case error_cases[] = {
    {"count not a number", B("*x\r\n"), PROTO_EBADMBULKLEN},
    {"count empty", B("*\r\n"), PROTO_EBADMBULKLEN},
    {"count leading zero", B("*01\r\n"), PROTO_EBADMBULKLEN},
    {"count plus sign", B("*+1\r\n"), PROTO_EBADMBULKLEN},
    {"count leading space", B("* 1\r\n"), PROTO_EBADMBULKLEN},
    {"count trailing space", B("*1 \r\n"), PROTO_EBADMBULKLEN},
    {"count minus zero", B("*-0\r\n"), PROTO_EBADMBULKLEN},
    {"count lone minus", B("*-\r\n"), PROTO_EBADMBULKLEN},
    {"count overflows", B("*9223372036854775808\r\n"), PROTO_EBADMBULKLEN},
    {"count underflows", B("*-9223372036854775809\r\n"), PROTO_EBADMBULKLEN},
    {"count over limit", B("*1048577\r\n"), PROTO_EBADMBULKLEN},
    {"count with NUL", B("*1\0\r\n"), PROTO_EBADMBULKLEN},
    {"dollar missing", B("*1\r\nX3\r\nfoo\r\n"), PROTO_EEXPECTDOLLAR},
    {"dollar is CR", B("*1\r\n\r\n"), PROTO_EEXPECTDOLLAR},
    {"dollar missing in second arg", B("*2\r\n$1\r\na\r\n:1\r\n"),
     PROTO_EEXPECTDOLLAR},
    {"bulk length not a number", B("*1\r\n$x\r\n"), PROTO_EBADBULKLEN},
    {"bulk length empty", B("*1\r\n$\r\n"), PROTO_EBADBULKLEN},
    {"bulk length negative", B("*1\r\n$-1\r\n"), PROTO_EBADBULKLEN},
    {"bulk length leading zero", B("*1\r\n$03\r\n"), PROTO_EBADBULKLEN},
    {"bulk length over limit", B("*1\r\n$536870913\r\n"), PROTO_EBADBULKLEN},
    {"bulk length overflows", B("*1\r\n$99999999999999999999\r\n"),
     PROTO_EBADBULKLEN},
    {"unterminated double quote", B("set k \"abc\r\n"), PROTO_EQUOTES},
    {"unterminated single quote", B("set k 'abc\n"), PROTO_EQUOTES},
    {"double quote then text", B("\"a\"b\n"), PROTO_EQUOTES},
    {"single quote then text", B("'a'b\n"), PROTO_EQUOTES},
    {"two quoted parts", B("'a''b'\n"), PROTO_EQUOTES},
    {"escaped closing quote", B("\"abc\\\"\n"), PROTO_EQUOTES},
    {"backslash at end", B("\"abc\\\n"), PROTO_EQUOTES},
    {"quote closed after NUL", B("\"ab\0\"\n"), PROTO_EQUOTES},
};

#define NERROR (sizeof error_cases / sizeof error_cases[0])

/* ------------------------------------------------------------------------
 * Tests: valid requests
 * ---------------------------------------------------------------------- */

Test(proto, parse_valid_whole)
{
    for (size_t i = 0; i < NVALID; i++) {
        check_whole(&valid_cases[i]);
    }
}

Test(proto, parse_valid_every_split)
{
    for (size_t i = 0; i < NVALID; i++) {
        check_every_split(&valid_cases[i]);
    }
}

Test(proto, parse_valid_byte_at_a_time)
{
    for (size_t i = 0; i < NVALID; i++) {
        check_byte_at_a_time(&valid_cases[i]);
    }
}

/* A request followed by the start of the next one takes only its bytes. */
Test(proto, parse_valid_with_trailing_bytes)
{
    static const char tail[] = "*2\r\n$3\r\nGE";
    for (size_t i = 0; i < NVALID; i++) {
        const struct valid_case *c = &valid_cases[i];
        struct proto_parser *p = new_parser();
        struct proto_cmd cmd;
        size_t n = c->in_len + sizeof tail - 1;
        char *buf = malloc(n);

        cr_assert_not_null(buf);
        memcpy(buf, c->in, c->in_len);
        memcpy(buf + c->in_len, tail, sizeof tail - 1);
        cr_assert(eq(long, proto_parse(p, buf, n, &cmd), (long)c->in_len), "%s",
                  c->name);
        assert_case(c, &cmd);
        free(buf);
        proto_parser_free(p);
    }
}

/* Redis skips the two bytes after bulk data and the byte after a length
 * line's '\r' without looking at them; so do we. */
Test(proto, parse_unchecked_terminators_as_redis)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;
    const char *a[] = {"a"};
    size_t l[] = {1};

    cr_assert(eq(long, proto_parse(p, B("*1\r\n$1\r\naXY"), &cmd), 11));
    assert_cmd("data terminator", &cmd, 1, a, l);
    cr_assert(eq(long, proto_parse(p, B("*1\rX$1\rYaZZ"), &cmd), 11));
    assert_cmd("line terminator", &cmd, 1, a, l);
    proto_parser_free(p);
}

Test(proto, parse_reuse_after_success)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < NVALID; i++) {
            const struct valid_case *c = &valid_cases[i];
            cr_assert(eq(long, proto_parse(p, c->in, c->in_len, &cmd),
                         (long)c->in_len),
                      "%s", c->name);
            assert_case(c, &cmd);
        }
    }
    proto_parser_free(p);
}

/* ------------------------------------------------------------------------
 * Tests: pipelines
 * ---------------------------------------------------------------------- */

/* Thousands of commands of every valid shape back to back, parsed one call
 * per command from the start of what is left, as the server does. */
Test(proto, parse_pipeline_of_many_commands)
{
    enum { N = 20000 };
    struct proto_parser *p = new_parser();
    struct proto_buf b;
    struct proto_cmd cmd;
    size_t off = 0;

    proto_buf_init(&b);
    for (size_t i = 0; i < N; i++) {
        const struct valid_case *c = &valid_cases[i % NVALID];
        cr_assert(eq(int, proto_buf_append(&b, c->in, c->in_len), 0));
    }
    for (size_t i = 0; i < N; i++) {
        const struct valid_case *c = &valid_cases[i % NVALID];
        long n = proto_parse(p, b.data + off, b.len - off, &cmd);
        cr_assert(eq(long, n, (long)c->in_len), "command %zu (%s)", i, c->name);
        assert_case(c, &cmd);
        off += (size_t)n;
    }
    cr_assert(eq(sz, off, b.len));
    cr_assert(eq(long, proto_parse(p, b.data + off, 0, &cmd), 0));
    proto_buf_fini(&b);
    proto_parser_free(p);
}

/* The pipeline arrives in reads of odd sizes; the caller appends each read
 * and drops what was consumed, moving the buffer around. */
Test(proto, parse_pipeline_in_odd_reads)
{
    enum { N = 3000 };
    struct proto_parser *p = new_parser();
    struct proto_buf all;
    struct proto_buf q;
    struct proto_cmd cmd;
    size_t fed = 0;
    size_t done = 0;
    size_t step = 1;

    proto_buf_init(&all);
    proto_buf_init(&q);
    for (size_t i = 0; i < N; i++) {
        const struct valid_case *c = &valid_cases[(i * 7) % NVALID];
        cr_assert(eq(int, proto_buf_append(&all, c->in, c->in_len), 0));
    }
    while (done < N) {
        size_t n = step < all.len - fed ? step : all.len - fed;
        long rv;

        cr_assert(eq(int, proto_buf_append(&q, all.data + fed, n), 0));
        fed += n;
        step = step % 97 + 13;
        while ((rv = proto_parse(p, q.data, q.len, &cmd)) > 0) {
            const struct valid_case *c = &valid_cases[(done * 7) % NVALID];
            cr_assert(eq(long, rv, (long)c->in_len), "command %zu", done);
            assert_case(c, &cmd);
            proto_buf_consume(&q, (size_t)rv);
            done++;
        }
        cr_assert(eq(long, rv, 0));
    }
    cr_assert(eq(sz, q.len, 0));
    proto_buf_fini(&all);
    proto_buf_fini(&q);
    proto_parser_free(p);
}

Test(proto, parse_error_after_good_command_in_pipeline)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;
    static const char in[] = "PING\r\n*1\r\n!4\r\nPING\r\n";

    cr_assert(eq(long, proto_parse(p, in, sizeof in - 1, &cmd), 6));
    cr_assert(eq(long, proto_parse(p, in + 6, sizeof in - 7, &cmd),
                 PROTO_EEXPECTDOLLAR));
    cr_assert(eq(chr, proto_parser_bad_byte(p), '!'));
    proto_parser_free(p);
}

/* ------------------------------------------------------------------------
 * Tests: errors
 * ---------------------------------------------------------------------- */

Test(proto, parse_errors)
{
    for (size_t i = 0; i < NERROR; i++) {
        check_error(&error_cases[i]);
    }
}

Test(proto, parse_bad_byte_is_reported)
{
    static const char bytes[] = {'X', '\0', ':', '+', '\n', (char)0xff};
    for (size_t i = 0; i < sizeof bytes; i++) {
        struct proto_parser *p = new_parser();
        struct proto_cmd cmd;
        char in[] = "*1\r\n?1\r\na\r\n";

        in[4] = bytes[i];
        cr_assert(eq(long, proto_parse(p, in, sizeof in - 1, &cmd),
                     PROTO_EEXPECTDOLLAR));
        cr_assert(eq(chr, proto_parser_bad_byte(p), bytes[i]));
        proto_parser_free(p);
    }
}

/* Replaces each byte of a valid request in turn and checks what Redis would
 * do. The class string names each position's role: 'c' a count byte or
 * the count line's '\r' (the count becomes invalid), 'l' the byte skipped
 * after a '\r', '$' a bulk marker, 'b' a bulk length byte or its line's
 * '\r', 'd' data, 'e' the two skipped bytes after data. */
Test(proto, parse_malformed_byte_at_every_position)
{
    static const char in[] = "*2\r\n$3\r\nGET\r\n$10\r\nkey:000001\r\n";
    static const char cls[] =
        "*ccl$bbl"
        "ddde"
        "e$bbbl"
        "dddddddddde"
        "e";
    static const char subst[] = {'X', '\0', '-', '\r'};
    size_t len = sizeof in - 1;

    cr_assert(eq(sz, sizeof cls - 1, len));
    for (size_t i = 1; i < len; i++) {
        for (size_t s = 0; s < sizeof subst; s++) {
            struct proto_parser *p;
            struct proto_cmd cmd;
            char buf[sizeof in];
            long want;
            long n;

            if (in[i] == subst[s]) {
                continue;
            }
            memcpy(buf, in, sizeof in);
            buf[i] = subst[s];
            switch (cls[i]) {
                case 'c':
                    want = PROTO_EBADMBULKLEN;
                    break;
                case '$':
                    want = PROTO_EEXPECTDOLLAR;
                    break;
                case 'b':
                    want = PROTO_EBADBULKLEN;
                    break;
                default:
                    want = (long)len;
                    break;
            }
            /* A '\r' put in a length line ends it early: "$1\r0" is a
             * valid length 1 followed by misplaced data. */
            if (subst[s] == '\r' && (cls[i] == 'b' || cls[i] == 'c') &&
                in[i] != '\r' && in[i - 1] != '$' && in[i - 1] != '*') {
                continue;
            }
            p = new_parser();
            n = proto_parse(p, buf, len, &cmd);
            cr_assert(eq(long, n, want), "byte %zu set to 0x%02x", i,
                      (unsigned)(unsigned char)subst[s]);
            if (want == PROTO_EEXPECTDOLLAR) {
                cr_assert(eq(chr, proto_parser_bad_byte(p), subst[s]));
            }
            if (cls[i] == 'd') {
                cr_assert(eq(int, cmd.argc, 2));
                cr_assert(eq(chr,
                             cmd.argv[i < 16 ? 0 : 1][i < 16 ? i - 8 : i - 18],
                             subst[s]));
            }
            proto_parser_free(p);
        }
    }
}

/* ------------------------------------------------------------------------
 * Tests: limits
 * ---------------------------------------------------------------------- */

Test(proto, parse_bulk_at_and_over_limit)
{
    struct proto_parser *p = new_parser_with(10, 1024, 1024);
    struct proto_cmd cmd;
    const char *a[] = {"0123456789"};
    size_t l[] = {10};

    cr_assert(
        eq(long, proto_parse(p, B("*1\r\n$10\r\n0123456789\r\n"), &cmd), 21));
    assert_cmd("at limit", &cmd, 1, a, l);
    cr_assert(
        eq(long, proto_parse(p, B("*1\r\n$11\r\n"), &cmd), PROTO_EBADBULKLEN));
    proto_parser_free(p);
}

Test(proto, parse_default_bulk_limit_is_512mb)
{
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    /* Accepted length: the parser waits for the data. */
    cr_assert(eq(long, proto_parse(p, B("*1\r\n$536870912\r\n"), &cmd), 0));
    proto_parser_free(p);
    p = new_parser();
    cr_assert(eq(long, proto_parse(p, B("*1\r\n$536870913\r\n"), &cmd),
                 PROTO_EBADBULKLEN));
    proto_parser_free(p);
}

Test(proto, parse_multibulk_count_at_and_over_limit)
{
    struct proto_parser *p = new_parser_with(1024, 3, 1024);
    struct proto_cmd cmd;

    cr_assert(eq(
        long, proto_parse(p, B("*3\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nc\r\n"), &cmd),
        24));
    cr_assert(eq(int, cmd.argc, 3));
    cr_assert(eq(long, proto_parse(p, B("*4\r\n"), &cmd), PROTO_EBADMBULKLEN));
    proto_parser_free(p);
}

/* argc is an int: counts over INT_MAX are refused whatever the limit. */
Test(proto, parse_multibulk_count_capped_at_int_max)
{
    struct proto_parser *p = new_parser_with(1024, UINT64_MAX, 1024);
    struct proto_cmd cmd;

    cr_assert(eq(long, proto_parse(p, B("*2147483647\r\n"), &cmd), 0));
    proto_parser_free(p);
    p = new_parser_with(1024, UINT64_MAX, 1024);
    cr_assert(eq(long, proto_parse(p, B("*2147483648\r\n"), &cmd),
                 PROTO_EBADMBULKLEN));
    proto_parser_free(p);
}

Test(proto, parse_set_limits_applies_to_next_length)
{
    struct proto_parser *p = new_parser();
    struct proto_limits lim;
    struct proto_cmd cmd;

    proto_limits_default(&lim);
    lim.max_bulk_len = 2;
    proto_parser_set_limits(p, &lim);
    cr_assert(eq(long, proto_parse(p, B("*1\r\n$2\r\nab\r\n"), &cmd), 12));
    cr_assert(
        eq(long, proto_parse(p, B("*1\r\n$3\r\n"), &cmd), PROTO_EBADBULKLEN));
    proto_parser_free(p);
}

Test(proto, parse_inline_at_and_over_limit)
{
    enum { LIM = 100 };
    char buf[LIM + 2];
    struct proto_parser *p = new_parser_with(1024, 1024, LIM);
    struct proto_cmd cmd;

    memset(buf, 'a', sizeof buf);
    cr_assert(eq(long, proto_parse(p, buf, LIM, &cmd), 0));
    cr_assert(eq(long, proto_parse(p, buf, LIM + 1, &cmd), PROTO_EBIGINLINE));
    proto_parser_free(p);

    /* As in Redis, the cap applies while waiting for the newline: a longer
     * line that arrives complete is accepted. */
    p = new_parser_with(1024, 1024, LIM);
    buf[LIM + 1] = '\n';
    cr_assert(eq(long, proto_parse(p, buf, LIM + 2, &cmd), LIM + 2));
    cr_assert(eq(int, cmd.argc, 1));
    cr_assert(eq(sz, cmd.lens[0], LIM + 1));
    proto_parser_free(p);
}

Test(proto, parse_count_line_too_long)
{
    enum { MAXW = 64 * 1024 };
    char *buf = malloc(MAXW + 1);
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    cr_assert_not_null(buf);
    buf[0] = '*';
    memset(buf + 1, '1', MAXW);
    cr_assert(eq(long, proto_parse(p, buf, MAXW, &cmd), 0));
    cr_assert(eq(long, proto_parse(p, buf, MAXW + 1, &cmd), PROTO_EBIGMBULK));
    proto_parser_free(p);
    free(buf);
}

Test(proto, parse_bulk_line_too_long)
{
    enum { MAXW = 64 * 1024, HEAD = 4 };
    char *buf = malloc(HEAD + MAXW + 1);
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    cr_assert_not_null(buf);
    memcpy(buf, "*1\r\n", HEAD);
    buf[HEAD] = '$';
    memset(buf + HEAD + 1, '1', MAXW);
    cr_assert(eq(long, proto_parse(p, buf, HEAD + MAXW, &cmd), 0));
    cr_assert(
        eq(long, proto_parse(p, buf, HEAD + MAXW + 1, &cmd), PROTO_EBIGBULK));
    proto_parser_free(p);
    free(buf);
}

/* ------------------------------------------------------------------------
 * Tests: memory and time
 * ---------------------------------------------------------------------- */

/* An announced count costs nothing until arguments arrive, and slots grow
 * with the arguments that do. */
Test(proto, parse_huge_announced_count_allocates_little)
{
    struct proto_parser *p = new_parser_with(1024, INT_MAX, 1024);
    struct proto_cmd cmd;
    size_t base = proto_parser_memory(p);
    char *buf = malloc(64 + 7 * 10);
    size_t len;

    cr_assert_not_null(buf);
    cr_assert(eq(long, proto_parse(p, B("*2147483647\r\n"), &cmd), 0));
    cr_assert(le(sz, proto_parser_memory(p), base + 1024));
    len = (size_t)sprintf(buf, "*2147483647\r\n");
    for (int i = 0; i < 10; i++) {
        memcpy(buf + len, "$1\r\na\r\n", 7);
        len += 7;
        cr_assert(eq(long, proto_parse(p, buf, len, &cmd), 0));
    }
    cr_assert(le(sz, proto_parser_memory(p), base + 1024));
    free(buf);
    proto_parser_free(p);
}

/* One command with many arguments is parsed, and the memory it took is
 * given back before the next command. */
Test(proto, parse_many_arguments_then_memory_returns)
{
    enum { N = 200000 };
    struct proto_parser *p = new_parser();
    struct proto_buf b;
    struct proto_cmd cmd;
    char line[32];
    size_t base = proto_parser_memory(p);
    long n;

    proto_buf_init(&b);
    n = sprintf(line, "*%d\r\n", N);
    cr_assert(eq(int, proto_buf_append(&b, line, (size_t)n), 0));
    for (int i = 0; i < N; i++) {
        n = sprintf(line, "$%d\r\n%d\r\n",
                    i < 10    ? 1
                    : i < 100 ? 2
                              : 6,
                    i < 100 ? i : 100000 + i);
        cr_assert(eq(int, proto_buf_append(&b, line, (size_t)n), 0));
    }
    cr_assert(eq(long, proto_parse(p, b.data, b.len, &cmd), (long)b.len));
    cr_assert(eq(int, cmd.argc, N));
    cr_assert(eq(sz, cmd.lens[N - 1], 6));
    cr_assert(eq(int, memcmp(cmd.argv[N - 1], "299999", 6), 0));
    cr_assert(eq(int, memcmp(cmd.argv[42], "42", 2), 0));
    cr_assert(eq(long, proto_parse(p, B("PING\r\n"), &cmd), 6));
    cr_assert(le(sz, proto_parser_memory(p), base + 64 * 1024));
    proto_buf_fini(&b);
    proto_parser_free(p);
}

/* A 32 MB bulk arriving 8 KB at a time: after its length line each call
 * is O(1), whatever has arrived before. */
Test(proto, parse_big_bulk_in_small_reads)
{
    enum { SIZE = 32 * 1024 * 1024, STEP = 8 * 1024 };
    static const char head[] = "*2\r\n$3\r\nSET\r\n$33554432\r\n";
    size_t hl = sizeof head - 1;
    size_t total = hl + SIZE + 2;
    char *buf = malloc(total);
    struct proto_parser *p = new_parser();
    struct proto_cmd cmd;

    cr_assert_not_null(buf);
    memcpy(buf, head, hl);
    memset(buf + hl, '\r', SIZE); /* line ends everywhere: must not matter */
    memcpy(buf + hl + SIZE, "\r\n", 2);
    for (size_t k = STEP; k < total; k += STEP) {
        cr_assert(eq(long, proto_parse(p, buf, k, &cmd), 0));
    }
    cr_assert(eq(long, proto_parse(p, buf, total, &cmd), (long)total));
    cr_assert(eq(sz, cmd.lens[1], SIZE));
    cr_assert(eq(ptr, (void *)cmd.argv[1], (void *)(buf + hl)));
    proto_parser_free(p);
    free(buf);
}

/* An 8 MB inline line arriving 128 bytes at a time: the search for its
 * newline resumes where it stopped. Rescanning would read 256 GB and blow
 * the timeout; resuming reads 8 MB. */
Test(proto, parse_long_line_scanned_once, .timeout = 20)
{
    enum { SIZE = 8 * 1024 * 1024, STEP = 128 };
    char *buf = malloc(SIZE);
    struct proto_parser *p = new_parser_with(1024, 1024, SIZE);
    struct proto_cmd cmd;

    cr_assert_not_null(buf);
    memset(buf, 'a', SIZE);
    buf[SIZE - 1] = '\n';
    for (size_t k = STEP; k < SIZE; k += STEP) {
        cr_assert(eq(long, proto_parse(p, buf, k, &cmd), 0));
    }
    cr_assert(eq(long, proto_parse(p, buf, SIZE, &cmd), SIZE));
    cr_assert(eq(int, cmd.argc, 1));
    cr_assert(eq(sz, cmd.lens[0], SIZE - 1));
    proto_parser_free(p);
    free(buf);
}

/* 300000 pipelined commands, one call each: every call costs O(its own
 * bytes), never O(what is buffered behind it). */
Test(proto, parse_pipeline_of_pings_is_fast, .timeout = 20)
{
    enum { N = 300000 };
    struct proto_parser *p = new_parser();
    char *buf = malloc((size_t)N * 14);
    struct proto_cmd cmd;
    size_t off = 0;
    size_t len = 0;

    cr_assert_not_null(buf);
    for (int i = 0; i < N; i++) {
        memcpy(buf + len, i % 2 ? "*1\r\n$4\r\nPING\r\n" : "PING\r\n",
               i % 2 ? 14 : 6);
        len += i % 2 ? 14 : 6;
    }
    for (int i = 0; i < N; i++) {
        long n = proto_parse(p, buf + off, len - off, &cmd);
        cr_assert(gt(long, n, 0));
        off += (size_t)n;
    }
    cr_assert(eq(sz, off, len));
    proto_parser_free(p);
    free(buf);
}
