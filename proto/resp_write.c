/* RESP2 / RESP3 reply encoding. Every function appends one complete reply
 * element to the buffer or leaves it unchanged (-ENOMEM). */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Writes the decimal form of @v into @out (at least 21 bytes), returns the
 * length. No snprintf: this runs for every integer and length we send. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

static size_t fmt_i64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return fmt_u64(out, (uint64_t)v);
}

/* Appends "<type><v>\r\n". */
static int write_header(struct proto_buf *b, char type, int64_t v)
{
    char line[32];
    size_t n;
    line[0] = type;
    n = 1 + fmt_i64(line + 1, v);
    line[n++] = '\r';
    line[n++] = '\n';
    return proto_buf_append(b, line, n);
}

/* Appends prefix, body and CRLF as one unit. */
static int write_framed(struct proto_buf *b, char type, const void *s, size_t n)
{
    if (proto_buf_reserve(b, n + 3) != 0) {
        return -ENOMEM;
    }
    b->data[b->len++] = type;
    if (n > 0) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
    return 0;
}

/* ------------------------------------------------------------------------
 * Public encoders
 * ---------------------------------------------------------------------- */

int proto_write_simple(struct proto_buf *b, const char *s, size_t n)
{
    return write_framed(b, '+', s, n);
}

int proto_write_error(struct proto_buf *b, const char *s, size_t n)
{
    return write_framed(b, '-', s, n);
}

int proto_write_int(struct proto_buf *b, int64_t v)
{
    return write_header(b, ':', v);
}

int proto_write_bulk(struct proto_buf *b, const void *s, size_t n)
{
    char line[32];
    size_t h;
    line[0] = '$';
    h = 1 + fmt_u64(line + 1, n);
    line[h++] = '\r';
    line[h++] = '\n';
    if (proto_buf_reserve(b, h + n + 2) != 0) {
        return -ENOMEM;
    }
    memcpy(b->data + b->len, line, h);
    b->len += h;
    if (n > 0) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
    return 0;
}

int proto_write_null(struct proto_buf *b, int resp)
{
    return resp == 3 ? proto_buf_append(b, "_\r\n", 3)
                     : proto_buf_append(b, "$-1\r\n", 5);
}

int proto_write_null_array(struct proto_buf *b, int resp)
{
    return resp == 3 ? proto_buf_append(b, "_\r\n", 3)
                     : proto_buf_append(b, "*-1\r\n", 5);
}

int proto_write_array_len(struct proto_buf *b, size_t n)
{
    return write_header(b, '*', (int64_t)n);
}

int proto_write_map_len(struct proto_buf *b, int resp, size_t n)
{
    return resp == 3 ? write_header(b, '%', (int64_t)n)
                     : write_header(b, '*', (int64_t)(2 * n));
}

int proto_write_set_len(struct proto_buf *b, int resp, size_t n)
{
    return write_header(b, resp == 3 ? '~' : '*', (int64_t)n);
}

int proto_write_double(struct proto_buf *b, int resp, double d)
{
    char s[64];
    int n;
    if (isinf(d)) {
        n = snprintf(s, sizeof s, "%s", d > 0 ? "inf" : "-inf");
    } else if (isnan(d)) {
        n = snprintf(s, sizeof s, "nan");
    } else {
        n = snprintf(s, sizeof s, "%.17g", d);
    }
    if (n < 0) {
        return -EINVAL;
    }
    if (resp == 3) {
        return write_framed(b, ',', s, (size_t)n);
    }
    return proto_write_bulk(b, s, (size_t)n);
}

int proto_write_bool(struct proto_buf *b, int resp, bool v)
{
    if (resp == 3) {
        return proto_buf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
    }
    return proto_buf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

int proto_write_verbatim(struct proto_buf *b,
                         int resp,
                         const char *fmt,
                         const char *s,
                         size_t n)
{
    size_t start = b->len;
    if (resp != 3) {
        return proto_write_bulk(b, s, n);
    }
    if (write_header(b, '=', (int64_t)(n + 4)) != 0 ||
        proto_buf_append(b, fmt, 3) != 0 || proto_buf_append(b, ":", 1) != 0 ||
        proto_buf_append(b, s, n) != 0 || proto_buf_append(b, "\r\n", 2) != 0) {
        b->len = start;
        return -ENOMEM;
    }
    return 0;
}
