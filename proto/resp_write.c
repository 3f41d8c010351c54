/* RESP2 / RESP3 reply encoding.
 *
 * Every function appends one complete reply element to the buffer or, on
 * failure, leaves the buffer exactly as it was: room is reserved first and
 * the bytes copied after, so a half-written element never reaches a client.
 * RESP3 types quoted from the spec (redis.io/docs/reference/protocol-spec):
 * null "_\r\n", double ",<floating-point-number>\r\n" with "inf", "-inf" and
 * "nan", boolean "#t\r\n"/"#f\r\n", map "%<count>\r\n", set "~<count>\r\n",
 * verbatim string "=<length>\r\n<encoding>:<data>\r\n" where the encoding is
 * exactly three bytes. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"

/* Longest "<type><int64>\r\n" header: 1 + 20 digits + sign + CRLF. */
#define HEADER_MAX 32

/* ------------------------------------------------------------------------
 * Integer formatting
 *
 * Every integer reply and every bulk or aggregate length goes through here,
 * so it avoids snprintf and emits two digits per division.
 * ---------------------------------------------------------------------- */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes the decimal form of @v at @out (room for 20 bytes); returns the
 * number of bytes written. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    size_t n;

    while (v >= 100) {
        size_t pair = (size_t)(v % 100) * 2;
        v /= 100;
        tmp[--i] = digit_pairs[pair + 1];
        tmp[--i] = digit_pairs[pair];
    }
    if (v >= 10) {
        size_t pair = (size_t)v * 2;
        tmp[--i] = digit_pairs[pair + 1];
        tmp[--i] = digit_pairs[pair];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    n = sizeof tmp - i;
    memcpy(out, tmp + i, n);
    return n;
}

static size_t fmt_i64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        /* Negate in unsigned arithmetic: -INT64_MIN does not fit. */
        return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return fmt_u64(out, (uint64_t)v);
}

/* Formats "<type><v>\r\n" into @line (HEADER_MAX bytes); returns its
 * length. */
static size_t fmt_header(char *line, char type, uint64_t v)
{
    size_t n = 1;
    line[0] = type;
    n += fmt_u64(line + 1, v);
    line[n++] = '\r';
    line[n++] = '\n';
    return n;
}

/* ------------------------------------------------------------------------
 * Framing helpers
 * ---------------------------------------------------------------------- */

/* Appends @n bytes whose room was reserved by the caller. */
static void put(struct proto_buf *b, const void *s, size_t n)
{
    if (n > 0) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

/* Appends "<type><v>\r\n" for a count or length. */
static int write_count(struct proto_buf *b, char type, uint64_t v)
{
    char line[HEADER_MAX];
    return proto_buf_append(b, line, fmt_header(line, type, v));
}

/* Appends "<type><s>\r\n" as one unit. */
static int write_line(struct proto_buf *b, char type, const void *s, size_t n)
{
    if (n > SIZE_MAX - 3 || proto_buf_reserve(b, n + 3) != 0) {
        return -ENOMEM;
    }
    b->data[b->len++] = type;
    put(b, s, n);
    put(b, "\r\n", 2);
    return 0;
}

/* Appends "<type><n + extra>\r\n", @prefix (@plen bytes), @s (@n bytes) and
 * "\r\n" as one unit: the shape of bulk and verbatim strings. */
static int write_blob(struct proto_buf *b,
                      char type,
                      const char *prefix,
                      size_t plen,
                      const void *s,
                      size_t n)
{
    char line[HEADER_MAX];
    size_t h;

    if (n > SIZE_MAX - plen - HEADER_MAX - 2) {
        return -ENOMEM;
    }
    h = fmt_header(line, type, (uint64_t)(n + plen));
    if (proto_buf_reserve(b, h + plen + n + 2) != 0) {
        return -ENOMEM;
    }
    put(b, line, h);
    put(b, prefix, plen);
    put(b, s, n);
    put(b, "\r\n", 2);
    return 0;
}

/* ------------------------------------------------------------------------
 * Simple types
 * ---------------------------------------------------------------------- */

int proto_write_simple(struct proto_buf *b, const char *s, size_t n)
{
    return write_line(b, '+', s, n);
}

int proto_write_error(struct proto_buf *b, const char *s, size_t n)
{
    return write_line(b, '-', s, n);
}

int proto_write_int(struct proto_buf *b, int64_t v)
{
    char line[HEADER_MAX];
    size_t n = 1;
    line[0] = ':';
    n += fmt_i64(line + 1, v);
    line[n++] = '\r';
    line[n++] = '\n';
    return proto_buf_append(b, line, n);
}

int proto_write_bulk(struct proto_buf *b, const void *s, size_t n)
{
    return write_blob(b, '$', NULL, 0, s, n);
}

int proto_write_null(struct proto_buf *b, int resp)
{
    if (resp == 3) {
        return proto_buf_append(b, "_\r\n", 3);
    }
    return proto_buf_append(b, "$-1\r\n", 5);
}

int proto_write_null_array(struct proto_buf *b, int resp)
{
    if (resp == 3) {
        return proto_buf_append(b, "_\r\n", 3);
    }
    return proto_buf_append(b, "*-1\r\n", 5);
}

int proto_write_bool(struct proto_buf *b, int resp, bool v)
{
    if (resp == 3) {
        return proto_buf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
    }
    return proto_buf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

/* ------------------------------------------------------------------------
 * Aggregate headers
 * ---------------------------------------------------------------------- */

int proto_write_array_len(struct proto_buf *b, size_t n)
{
    return write_count(b, '*', (uint64_t)n);
}

int proto_write_map_len(struct proto_buf *b, int resp, size_t n)
{
    if (resp == 3) {
        return write_count(b, '%', (uint64_t)n);
    }
    /* RESP2 has no map: a flat array of key, value, key, value... */
    if ((uint64_t)n > UINT64_MAX / 2) {
        return -EINVAL;
    }
    return write_count(b, '*', 2 * (uint64_t)n);
}

int proto_write_set_len(struct proto_buf *b, int resp, size_t n)
{
    return write_count(b, resp == 3 ? '~' : '*', (uint64_t)n);
}

/* ------------------------------------------------------------------------
 * Doubles and verbatim strings
 * ---------------------------------------------------------------------- */

int proto_write_double(struct proto_buf *b, int resp, double d)
{
    char s[64];
    size_t n;

    /* Spelled out rather than left to printf: libcs disagree on infinity,
     * and glibc prints a negative NaN as "-nan". */
    if (isinf(d)) {
        n = d > 0 ? 3 : 4;
        memcpy(s, d > 0 ? "inf" : "-inf", n);
    } else if (isnan(d)) {
        n = 3;
        memcpy(s, "nan", n);
    } else {
        /* Redis 7's addReplyDouble: 17 significant digits round-trip any
         * double. %.17g never needs more than 24 bytes. */
        int w = snprintf(s, sizeof s, "%.17g", d);
        if (w < 0 || (size_t)w >= sizeof s) {
            return -EINVAL;
        }
        n = (size_t)w;
    }
    if (resp == 3) {
        return write_line(b, ',', s, n);
    }
    return proto_write_bulk(b, s, n);
}

int proto_write_verbatim(struct proto_buf *b,
                         int resp,
                         const char *fmt,
                         const char *s,
                         size_t n)
{
    char prefix[4];

    if (resp != 3) {
        return proto_write_bulk(b, s, n);
    }
    /* The length counts the "fmt:" prefix as well as the text. */
    memcpy(prefix, fmt, 3);
    prefix[3] = ':';
    return write_blob(b, '=', prefix, sizeof prefix, s, n);
}
