/* Incremental RESP request parser with hard limits.
 *
 * RESP (redis.io/docs/reference/protocol-spec): "Clients send commands to a
 * Redis server as an array of bulk strings", e.g. "*2\r\n$3\r\nGET\r\n$1\r\n
 * k\r\n"; anything not starting with '*' is an inline command, one line of
 * space-separated arguments. We mirror Redis 7's acceptance rules and error
 * texts (the texts themselves live in the server's reply path).
 *
 * Incrementality: the caller keeps unconsumed bytes and hands us the whole
 * buffer each time. We remember offsets (not pointers: the caller may move
 * its buffer) of the arguments already located and how far we searched for
 * a line end, so every byte is examined a bounded number of times however
 * the request is split. Our memory grows only with arguments that actually
 * arrived, never with a count a client merely announced. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* Redis's PROTO_INLINE_MAX_SIZE: the longest count line we wait for. */
#define COUNT_LINE_MAX (64 * 1024)

/* Argument slots allocated before any argument has arrived. */
#define MIN_SLOTS 8

struct proto_parser
{
    struct proto_limits lim; /* copied */
    bool in_mbulk;           /* a multibulk command is partly parsed */
    long long remaining;     /* multibulk: arguments still to locate */
    long long bulklen;       /* length of the bulk being read, -1: none */
    size_t pos;              /* multibulk: offset of the next unparsed byte */
    size_t scanned;          /* offset up to which no line end was found */
    int argc;                /* arguments located so far */
    int cap;                 /* slots in offs/lens/argv */
    size_t *offs;            /* owned: argument offsets (multibulk) or
                                offsets into scratch (inline) */
    size_t *lens;            /* owned: argument lengths */
    const char **argv;       /* owned: pointers handed out on success */
    char *scratch;           /* owned: unescaped inline arguments */
    size_t scratch_cap;      /* bytes in scratch */
    char bad;                /* byte behind the last PROTO_EEXPECTDOLLAR */
};

void proto_limits_default(struct proto_limits *l)
{
    l->max_bulk_len = 512ull * 1024 * 1024;
    l->max_multibulk_len = INT_MAX;
    l->max_inline_len = 64 * 1024;
}

struct proto_parser *proto_parser_new(const struct proto_limits *limits)
{
    struct proto_parser *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->lim = *limits;
    if (p->lim.max_multibulk_len > INT_MAX) {
        p->lim.max_multibulk_len = INT_MAX;
    }
    p->bulklen = -1;
    return p;
}

void proto_parser_free(struct proto_parser *p)
{
    if (p == NULL) {
        return;
    }
    free(p->offs);
    free(p->lens);
    free(p->argv);
    free(p->scratch);
    free(p);
}

char proto_parser_bad_byte(const struct proto_parser *p)
{
    return p->bad;
}

size_t proto_parser_memory(const struct proto_parser *p)
{
    return sizeof *p + (size_t)p->cap * (2 * sizeof(size_t) + sizeof(char *)) +
           p->scratch_cap;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static int ensure_slots(struct proto_parser *p, int n)
{
    int cap;
    size_t *offs;
    size_t *lens;
    const char **argv;

    if (n <= p->cap) {
        return 0;
    }
    cap = p->cap < MIN_SLOTS ? MIN_SLOTS : p->cap;
    while (cap < n) {
        cap = cap > INT_MAX / 2 ? INT_MAX : cap * 2;
    }
    offs = realloc(p->offs, (size_t)cap * sizeof *offs);
    if (offs == NULL) {
        return -ENOMEM;
    }
    p->offs = offs;
    lens = realloc(p->lens, (size_t)cap * sizeof *lens);
    if (lens == NULL) {
        return -ENOMEM;
    }
    p->lens = lens;
    argv = realloc(p->argv, (size_t)cap * sizeof *argv);
    if (argv == NULL) {
        return -ENOMEM;
    }
    p->argv = argv;
    p->cap = cap;
    return 0;
}

/* Redis's string2ll rules: optional '-', digits, no leading zeros (except
 * "0"), no spaces or '+', within long long. */
static bool parse_ll(const char *s, size_t n, long long *out)
{
    bool neg = false;
    unsigned long long v = 0;
    size_t i = 0;

    if (n == 0 || n > 20) {
        return false;
    }
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1) {
            return false;
        }
    }
    if (s[i] < '1' || s[i] > '9') {
        return false;
    }
    for (; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return false;
        }
        *out =
            v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX) {
            return false;
        }
        *out = (long long)v;
    }
    return true;
}

/* Finds "\r\n" ending the line that starts at @start, searching from
 * p->scanned. Returns the offset of '\r', or -1 when the line is not
 * complete yet (p->scanned then records the progress). */
static long find_crlf(struct proto_parser *p,
                      const char *buf,
                      size_t len,
                      size_t start)
{
    size_t from = p->scanned > start ? p->scanned : start;
    const char *cr = from < len ? memchr(buf + from, '\r', len - from) : NULL;
    if (cr == NULL) {
        p->scanned = len;
        return -1;
    }
    if ((size_t)(cr - buf) + 1 >= len) {
        p->scanned = (size_t)(cr - buf); /* '\n' not here yet: look again */
        return -1;
    }
    return (long)(cr - buf);
}

static void reset(struct proto_parser *p)
{
    p->in_mbulk = false;
    p->remaining = 0;
    p->bulklen = -1;
    p->pos = 0;
    p->scanned = 0;
    p->argc = 0;
}

/* ------------------------------------------------------------------------
 * Multibulk
 * ---------------------------------------------------------------------- */

static long parse_multibulk(struct proto_parser *p,
                            const char *buf,
                            size_t len,
                            struct proto_cmd *out)
{
    long cr;
    long long ll;

    if (!p->in_mbulk) {
        cr = find_crlf(p, buf, len, 0);
        if (cr < 0) {
            return len > COUNT_LINE_MAX ? PROTO_EBIGMBULK : 0;
        }
        if (!parse_ll(buf + 1, (size_t)cr - 1, &ll) ||
            ll > (long long)p->lim.max_multibulk_len) {
            return PROTO_EBADMBULKLEN;
        }
        p->scanned = 0;
        if (ll <= 0) {
            out->argc = 0;
            out->argv = NULL;
            out->lens = NULL;
            reset(p);
            return cr + 2;
        }
        p->in_mbulk = true;
        p->remaining = ll;
        p->pos = (size_t)cr + 2;
        p->argc = 0;
        p->bulklen = -1;
    }
    while (p->remaining > 0) {
        if (p->bulklen == -1) {
            cr = find_crlf(p, buf, len, p->pos);
            if (cr < 0) {
                return len - p->pos > COUNT_LINE_MAX ? PROTO_EBIGBULK : 0;
            }
            if (buf[p->pos] != '$') {
                p->bad = buf[p->pos];
                return PROTO_EEXPECTDOLLAR;
            }
            if (!parse_ll(buf + p->pos + 1, (size_t)cr - p->pos - 1, &ll) ||
                ll < 0 || (unsigned long long)ll > p->lim.max_bulk_len) {
                return PROTO_EBADBULKLEN;
            }
            p->bulklen = ll;
            p->pos = (size_t)cr + 2;
            p->scanned = 0;
        }
        /* The data and its CRLF; like Redis we skip the two bytes after the
         * data without checking them. */
        if (len - p->pos < (unsigned long long)p->bulklen + 2) {
            return 0;
        }
        if (ensure_slots(p, p->argc + 1) != 0) {
            return -ENOMEM;
        }
        p->offs[p->argc] = p->pos;
        p->lens[p->argc] = (size_t)p->bulklen;
        p->argc++;
        p->pos += (size_t)p->bulklen + 2;
        p->bulklen = -1;
        p->remaining--;
    }
    for (int i = 0; i < p->argc; i++) {
        p->argv[i] = buf + p->offs[i];
    }
    out->argc = p->argc;
    out->argv = p->argv;
    out->lens = p->lens;
    {
        long consumed = (long)p->pos;
        reset(p);
        return consumed;
    }
}

/* ------------------------------------------------------------------------
 * Inline
 * ---------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' ||
           c == '\f';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Splits [s, end) into arguments the way Redis's sdssplitargs does,
 * unescaping into p->scratch. Returns 0 or PROTO_EQUOTES / -ENOMEM. */
static int split_inline(struct proto_parser *p, const char *s, const char *end)
{
    size_t used = 0;
    const char *nul = memchr(s, '\0', (size_t)(end - s));
    if (nul != NULL) {
        end = nul; /* Redis works on a C string: a NUL ends the line */
    }
    /* Unescaping never makes the text longer. */
    if (p->scratch_cap < (size_t)(end - s) + 1) {
        char *sc = realloc(p->scratch, (size_t)(end - s) + 1);
        if (sc == NULL) {
            return -ENOMEM;
        }
        p->scratch = sc;
        p->scratch_cap = (size_t)(end - s) + 1;
    }
    p->argc = 0;
    for (;;) {
        bool inq = false;
        bool insq = false;
        size_t start;
        while (s < end && is_space(*s)) {
            s++;
        }
        if (s >= end) {
            return 0;
        }
        start = used;
        for (;;) {
            if (inq) {
                if (s >= end) {
                    return PROTO_EQUOTES;
                }
                if (*s == '\\' && end - s > 3 && s[1] == 'x' &&
                    hex_value(s[2]) >= 0 && hex_value(s[3]) >= 0) {
                    p->scratch[used++] =
                        (char)(hex_value(s[2]) * 16 + hex_value(s[3]));
                    s += 3;
                } else if (*s == '\\' && end - s > 1) {
                    char c = *++s;
                    switch (c) {
                        case 'n':
                            c = '\n';
                            break;
                        case 'r':
                            c = '\r';
                            break;
                        case 't':
                            c = '\t';
                            break;
                        case 'b':
                            c = '\b';
                            break;
                        case 'a':
                            c = '\a';
                            break;
                        default:
                            break;
                    }
                    p->scratch[used++] = c;
                } else if (*s == '"') {
                    /* A closing quote must be followed by a space or end. */
                    if (end - s > 1 && !is_space(s[1])) {
                        return PROTO_EQUOTES;
                    }
                    s++;
                    break;
                } else {
                    p->scratch[used++] = *s;
                }
                s++;
            } else if (insq) {
                if (s >= end) {
                    return PROTO_EQUOTES;
                }
                if (*s == '\\' && end - s > 1 && s[1] == '\'') {
                    s++;
                    p->scratch[used++] = '\'';
                } else if (*s == '\'') {
                    if (end - s > 1 && !is_space(s[1])) {
                        return PROTO_EQUOTES;
                    }
                    s++;
                    break;
                } else {
                    p->scratch[used++] = *s;
                }
                s++;
            } else {
                if (s >= end || is_space(*s)) {
                    break;
                }
                if (*s == '"') {
                    inq = true;
                } else if (*s == '\'') {
                    insq = true;
                } else {
                    p->scratch[used++] = *s;
                }
                s++;
            }
        }
        if (ensure_slots(p, p->argc + 1) != 0) {
            return -ENOMEM;
        }
        p->offs[p->argc] = start;
        p->lens[p->argc] = used - start;
        p->argc++;
    }
}

static long parse_inline(struct proto_parser *p,
                         const char *buf,
                         size_t len,
                         struct proto_cmd *out)
{
    size_t from = p->scanned;
    const char *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    const char *end;
    int rv;

    if (nl == NULL) {
        p->scanned = len;
        return len > p->lim.max_inline_len ? PROTO_EBIGINLINE : 0;
    }
    end = nl;
    if (end > buf && end[-1] == '\r') {
        end--;
    }
    rv = split_inline(p, buf, end);
    if (rv != 0) {
        return rv;
    }
    for (int i = 0; i < p->argc; i++) {
        p->argv[i] = p->scratch + p->offs[i];
    }
    out->argc = p->argc;
    out->argv = p->argc > 0 ? p->argv : NULL;
    out->lens = p->argc > 0 ? p->lens : NULL;
    {
        long consumed = (long)(nl - buf) + 1;
        reset(p);
        return consumed;
    }
}

long proto_parse(struct proto_parser *p,
                 const char *buf,
                 size_t len,
                 struct proto_cmd *out)
{
    if (len == 0) {
        return 0;
    }
    if (p->in_mbulk || buf[0] == '*') {
        return parse_multibulk(p, buf, len, out);
    }
    return parse_inline(p, buf, len, out);
}
