/* Tests of the reply encoders (proto/resp_write.c) and of the byte buffer
 * they append to (proto/buf.c): the exact bytes of every proto_write_* in
 * RESP2 and RESP3. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

#define B(s) s, sizeof(s) - 1

/* Renders @n bytes as a C string literal body, so that a mismatch prints
 * both sides readably. Returns a view into one of two static buffers. */
static const char *escaped(const char *s, size_t n)
{
    static char out[2][4096];
    static int which;
    char *o = out[which++ % 2];
    size_t k = 0;

    for (size_t i = 0; i < n && k + 5 < sizeof out[0]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            k += (size_t)sprintf(o + k, "\\r");
        } else if (c == '\n') {
            k += (size_t)sprintf(o + k, "\\n");
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            k += (size_t)sprintf(o + k, "\\x%02x", c);
        } else {
            o[k++] = (char)c;
        }
    }
    o[k] = '\0';
    return o;
}

/* Asserts that @b holds exactly @want (@n bytes), then empties it. */
static void expect(struct proto_buf *b, const char *want, size_t n)
{
    const char *got = escaped(b->data != NULL ? b->data : "", b->len);
    cr_assert(eq(str, (char *)got, (char *)escaped(want, n)));
    cr_assert(eq(sz, b->len, n));
    b->len = 0;
}

/* ------------------------------------------------------------------------
 * Tests: buffer
 * ---------------------------------------------------------------------- */

Test(proto, buf_append_reserve_consume)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert_null(b.data);
    cr_assert(eq(int, proto_buf_append(&b, "", 0), 0));
    cr_assert(eq(sz, b.len, 0));
    for (int i = 0; i < 1000; i++) {
        char c = (char)('a' + i % 26);
        cr_assert(eq(int, proto_buf_append(&b, &c, 1), 0));
    }
    cr_assert(eq(sz, b.len, 1000));
    cr_assert(ge(sz, b.cap, 1000));
    proto_buf_consume(&b, 26);
    cr_assert(eq(sz, b.len, 974));
    cr_assert(eq(chr, b.data[0], 'a'));
    cr_assert(eq(int, proto_buf_reserve(&b, 5000), 0));
    cr_assert(ge(sz, b.cap - b.len, 5000));
    proto_buf_consume(&b, 10000);
    cr_assert(eq(sz, b.len, 0));
    proto_buf_fini(&b);
    cr_assert_null(b.data);
    cr_assert(eq(sz, b.cap, 0));
}

Test(proto, buf_reserve_overflow_leaves_buffer_unchanged)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_buf_append(&b, "abc", 3), 0));
    cr_assert(eq(int, proto_buf_reserve(&b, SIZE_MAX), -ENOMEM));
    cr_assert(eq(int, proto_buf_reserve(&b, SIZE_MAX - 1), -ENOMEM));
    cr_assert(eq(sz, b.len, 3));
    cr_assert(eq(int, memcmp(b.data, "abc", 3), 0));
    proto_buf_fini(&b);
}

/* ------------------------------------------------------------------------
 * Tests: simple types
 * ---------------------------------------------------------------------- */

Test(proto, write_simple_and_error)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_simple(&b, B("OK")), 0));
    expect(&b, B("+OK\r\n"));
    cr_assert(eq(int, proto_write_simple(&b, "", 0), 0));
    expect(&b, B("+\r\n"));
    cr_assert(eq(int, proto_write_error(&b, B("ERR unknown command")), 0));
    expect(&b, B("-ERR unknown command\r\n"));
    proto_buf_fini(&b);
}

Test(proto, write_int_exact)
{
    static const struct
    {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, ":0\r\n"},
        {1, ":1\r\n"},
        {-1, ":-1\r\n"},
        {9, ":9\r\n"},
        {10, ":10\r\n"},
        {99, ":99\r\n"},
        {100, ":100\r\n"},
        {-100, ":-100\r\n"},
        {1234567, ":1234567\r\n"},
        {INT64_MAX, ":9223372036854775807\r\n"},
        {INT64_MIN, ":-9223372036854775808\r\n"},
        {INT64_MIN + 1, ":-9223372036854775807\r\n"},
    };
    struct proto_buf b;

    proto_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert(eq(int, proto_write_int(&b, cases[i].v), 0));
        expect(&b, cases[i].want, strlen(cases[i].want));
    }
    proto_buf_fini(&b);
}

/* Every power of ten and its neighbours, and a pseudo-random sweep, agree
 * with printf. */
Test(proto, write_int_matches_printf)
{
    struct proto_buf b;
    char want[64];
    uint64_t x = 0x9e3779b97f4a7c15u;

    proto_buf_init(&b);
    for (int sign = -1; sign <= 1; sign += 2) {
        int64_t p = 1;
        for (int e = 0; e <= 18; e++) {
            for (int64_t d = -1; d <= 1; d++) {
                int64_t v = sign * p + d;
                int n = snprintf(want, sizeof want, ":%" PRId64 "\r\n", v);
                cr_assert(eq(int, proto_write_int(&b, v), 0));
                expect(&b, want, (size_t)n);
            }
            if (e < 18) {
                p *= 10; /* 10^18 is the last power below INT64_MAX */
            }
        }
    }
    for (int i = 0; i < 100000; i++) {
        int64_t v;
        int n;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = (int64_t)(x >> (i % 64));
        if (i % 3 == 0) {
            v = -v;
        }
        n = snprintf(want, sizeof want, ":%" PRId64 "\r\n", v);
        cr_assert(eq(int, proto_write_int(&b, v), 0));
        expect(&b, want, (size_t)n);
    }
    proto_buf_fini(&b);
}

Test(proto, write_bulk)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_bulk(&b, B("hello")), 0));
    expect(&b, B("$5\r\nhello\r\n"));
    cr_assert(eq(int, proto_write_bulk(&b, "", 0), 0));
    expect(&b, B("$0\r\n\r\n"));
    cr_assert(eq(int, proto_write_bulk(&b, NULL, 0), 0));
    expect(&b, B("$0\r\n\r\n"));
    cr_assert(eq(int, proto_write_bulk(&b, B("a\0\r\n")), 0));
    expect(&b, B("$4\r\na\0\r\n\r\n"));
    proto_buf_fini(&b);
}

Test(proto, write_long_bulk)
{
    enum { N = 100000 };
    struct proto_buf b;
    char *s = malloc(N);

    cr_assert_not_null(s);
    memset(s, 'x', N);
    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_bulk(&b, s, N), 0));
    cr_assert(eq(sz, b.len, 9 + N + 2));
    cr_assert(eq(int, memcmp(b.data, "$100000\r\n", 9), 0));
    cr_assert(eq(int, memcmp(b.data + 9, s, N), 0));
    cr_assert(eq(int, memcmp(b.data + 9 + N, "\r\n", 2), 0));
    proto_buf_fini(&b);
    free(s);
}

Test(proto, write_nulls)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_null(&b, 2), 0));
    expect(&b, B("$-1\r\n"));
    cr_assert(eq(int, proto_write_null(&b, 3), 0));
    expect(&b, B("_\r\n"));
    cr_assert(eq(int, proto_write_null_array(&b, 2), 0));
    expect(&b, B("*-1\r\n"));
    cr_assert(eq(int, proto_write_null_array(&b, 3), 0));
    expect(&b, B("_\r\n"));
    proto_buf_fini(&b);
}

Test(proto, write_bool)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_bool(&b, 2, true), 0));
    expect(&b, B(":1\r\n"));
    cr_assert(eq(int, proto_write_bool(&b, 2, false), 0));
    expect(&b, B(":0\r\n"));
    cr_assert(eq(int, proto_write_bool(&b, 3, true), 0));
    expect(&b, B("#t\r\n"));
    cr_assert(eq(int, proto_write_bool(&b, 3, false), 0));
    expect(&b, B("#f\r\n"));
    proto_buf_fini(&b);
}

/* ------------------------------------------------------------------------
 * Tests: aggregates
 * ---------------------------------------------------------------------- */

Test(proto, write_array_len)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_array_len(&b, 0), 0));
    expect(&b, B("*0\r\n"));
    cr_assert(eq(int, proto_write_array_len(&b, 3), 0));
    expect(&b, B("*3\r\n"));
    cr_assert(eq(int, proto_write_array_len(&b, 1234567890123u), 0));
    expect(&b, B("*1234567890123\r\n"));
    cr_assert(eq(int, proto_write_array_len(&b, SIZE_MAX), 0));
    expect(&b, B("*18446744073709551615\r\n"));
    proto_buf_fini(&b);
}

Test(proto, write_map_len)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_map_len(&b, 3, 2), 0));
    expect(&b, B("%2\r\n"));
    cr_assert(eq(int, proto_write_map_len(&b, 2, 2), 0));
    expect(&b, B("*4\r\n"));
    cr_assert(eq(int, proto_write_map_len(&b, 2, 0), 0));
    expect(&b, B("*0\r\n"));
    cr_assert(eq(int, proto_write_map_len(&b, 3, 0), 0));
    expect(&b, B("%0\r\n"));
    cr_assert(eq(int, proto_write_map_len(&b, 2, SIZE_MAX / 2), 0));
    expect(&b, B("*18446744073709551614\r\n"));
    cr_assert(eq(int, proto_write_map_len(&b, 2, SIZE_MAX), -EINVAL));
    cr_assert(eq(sz, b.len, 0));
    proto_buf_fini(&b);
}

Test(proto, write_set_len)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_set_len(&b, 3, 5), 0));
    expect(&b, B("~5\r\n"));
    cr_assert(eq(int, proto_write_set_len(&b, 2, 5), 0));
    expect(&b, B("*5\r\n"));
    proto_buf_fini(&b);
}

/* ------------------------------------------------------------------------
 * Tests: doubles and verbatim strings
 * ---------------------------------------------------------------------- */

Test(proto, write_double)
{
    static const struct
    {
        double d;
        const char *text;
    } cases[] = {
        {1.5, "1.5"},
        {3.0, "3"},
        {0.0, "0"},
        {-0.0, "-0"},
        {-2.25, "-2.25"},
        {0.1, "0.10000000000000001"},
        {1.0 / 3.0, "0.33333333333333331"},
        {1e300, "1.0000000000000001e+300"},
        {1e-300, "1e-300"},
        {2.5e-5, "2.5000000000000001e-05"},
        {1.2345678901234568e+17, "1.2345678901234568e+17"},
        {HUGE_VAL, "inf"},
        {-HUGE_VAL, "-inf"},
        {(double)NAN, "nan"},
        {-(double)NAN, "nan"},
    };
    struct proto_buf b;
    char want[128];

    proto_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t tl = strlen(cases[i].text);
        int n;

        cr_assert(eq(int, proto_write_double(&b, 3, cases[i].d), 0));
        n = snprintf(want, sizeof want, ",%s\r\n", cases[i].text);
        expect(&b, want, (size_t)n);
        cr_assert(eq(int, proto_write_double(&b, 2, cases[i].d), 0));
        n = snprintf(want, sizeof want, "$%zu\r\n%s\r\n", tl, cases[i].text);
        expect(&b, want, (size_t)n);
    }
    proto_buf_fini(&b);
}

Test(proto, write_verbatim)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_verbatim(&b, 3, "txt", B("hello")), 0));
    expect(&b, B("=9\r\ntxt:hello\r\n"));
    cr_assert(eq(int, proto_write_verbatim(&b, 3, "mkd", "", 0), 0));
    expect(&b, B("=4\r\nmkd:\r\n"));
    cr_assert(eq(int, proto_write_verbatim(&b, 3, "txt", B("a\r\nb")), 0));
    expect(&b, B("=8\r\ntxt:a\r\nb\r\n"));
    cr_assert(eq(int, proto_write_verbatim(&b, 2, "txt", B("hello")), 0));
    expect(&b, B("$5\r\nhello\r\n"));
    proto_buf_fini(&b);
}

/* ------------------------------------------------------------------------
 * Tests: composition and failure
 * ---------------------------------------------------------------------- */

/* Writers append after what the buffer holds: a whole RESP3 reply built
 * piece by piece. */
Test(proto, write_appends_a_nested_reply)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_map_len(&b, 3, 2), 0));
    cr_assert(eq(int, proto_write_bulk(&b, B("server")), 0));
    cr_assert(eq(int, proto_write_simple(&b, B("raftkv")), 0));
    cr_assert(eq(int, proto_write_bulk(&b, B("list")), 0));
    cr_assert(eq(int, proto_write_array_len(&b, 4), 0));
    cr_assert(eq(int, proto_write_int(&b, -7), 0));
    cr_assert(eq(int, proto_write_null(&b, 3), 0));
    cr_assert(eq(int, proto_write_bool(&b, 3, true), 0));
    cr_assert(eq(int, proto_write_double(&b, 3, 0.5), 0));
    expect(&b, B("%2\r\n$6\r\nserver\r\n+raftkv\r\n$4\r\nlist\r\n*4\r\n"
                 ":-7\r\n_\r\n#t\r\n,0.5\r\n"));
    proto_buf_fini(&b);
}

/* A length that cannot be framed fails before any byte is written. */
Test(proto, write_impossible_length_leaves_buffer_unchanged)
{
    struct proto_buf b;

    proto_buf_init(&b);
    cr_assert(eq(int, proto_write_simple(&b, B("x")), 0));
    cr_assert(eq(int, proto_write_bulk(&b, "", SIZE_MAX), -ENOMEM));
    cr_assert(eq(int, proto_write_bulk(&b, "", SIZE_MAX - 20), -ENOMEM));
    cr_assert(eq(int, proto_write_simple(&b, "", SIZE_MAX), -ENOMEM));
    cr_assert(eq(int, proto_write_error(&b, "", SIZE_MAX - 2), -ENOMEM));
    cr_assert(
        eq(int, proto_write_verbatim(&b, 3, "txt", "", SIZE_MAX - 3), -ENOMEM));
    expect(&b, B("+x\r\n"));
    proto_buf_fini(&b);
}
