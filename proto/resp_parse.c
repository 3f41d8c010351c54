/* Incremental RESP request parser with hard limits.
 *
 * RESP (redis.io/docs/reference/protocol-spec): "Clients send commands to a
 * Redis server as an array of bulk strings", for example
 * "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n". A request whose first byte is not '*' is
 * an inline command: one line of space-separated, optionally quoted
 * arguments. We accept and refuse exactly what Redis 7 does; the error texts
 * themselves live in the server's reply path.
 *
 * Incrementality: the caller keeps the unconsumed bytes and hands us the
 * whole buffer on every call. We remember offsets, never pointers (the
 * caller may realloc its buffer between calls), of the arguments already
 * located and of how far we searched for a line end. Every byte is therefore
 * examined a bounded number of times however the request is split, and a
 * 100 MB bulk arriving in 64 KB reads costs O(1) per read once its length
 * line is known.
 *
 * Memory: argument slots grow by doubling as arguments actually arrive,
 * never with a count a client merely announced, and oversized state left by
 * one huge command is released before the next one is parsed. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* Redis's PROTO_INLINE_MAX_SIZE: the longest count or length line we wait
 * for before calling the request malformed. */
#define LINE_MAX_WAIT (64 * 1024)

/* Argument slots allocated for the first argument of a command. */
#define MIN_SLOTS 8

/* Above these sizes the parser's scratch is released between commands, so
 * that one huge command does not pin memory for the connection's life. */
#define KEEP_SLOTS   1024
#define KEEP_SCRATCH (16 * 1024)

struct proto_parser
{
    struct proto_limits lim; /* copied from the caller */
    bool in_mbulk;           /* a multibulk request is partly parsed */
    uint64_t remaining;      /* multibulk: arguments still to locate */
    uint64_t announced;      /* multibulk: the count line's value */
    bool have_bulklen;       /* multibulk: bulklen holds the next length */
    uint64_t bulklen;        /* multibulk: length of the bulk being read */
    size_t pos;              /* multibulk: offset of the next unparsed byte */
    size_t scanned;          /* offset before which no line end was found */
    size_t seen;             /* buffer length at the previous call */
    int argc;                /* arguments located so far */
    int cap;                 /* slots in offs, lens and argv */
    size_t *offs;            /* owned: argument offsets into the caller's
                                buffer (multibulk) or into scratch (inline) */
    size_t *lens;            /* owned: argument lengths */
    const char **argv;       /* owned: pointers handed out on success */
    char *scratch;           /* owned: unescaped inline arguments */
    size_t scratch_cap;      /* bytes allocated for scratch */
    char bad;                /* byte behind the last PROTO_EEXPECTDOLLAR */
};

/* ------------------------------------------------------------------------
 * Construction and accounting
 * ---------------------------------------------------------------------- */

void proto_limits_default(struct proto_limits *l)
{
    l->max_bulk_len = 512ull * 1024 * 1024;
    l->max_multibulk_len = 1024 * 1024;
    l->max_inline_len = 64 * 1024;
}

void proto_parser_set_limits(struct proto_parser *p,
                             const struct proto_limits *limits)
{
    p->lim = *limits;
    /* argc is an int: Redis refuses counts above INT_MAX whatever the
     * configuration says, and so do we. */
    if (p->lim.max_multibulk_len > INT_MAX) {
        p->lim.max_multibulk_len = INT_MAX;
    }
}

struct proto_parser *proto_parser_new(const struct proto_limits *limits)
{
    struct proto_parser *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    proto_parser_set_limits(p, limits);
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
    size_t slot = 2 * sizeof(size_t) + sizeof(const char *);
    return sizeof *p + (size_t)p->cap * slot + p->scratch_cap;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Forgets the request in progress, keeping allocations for the next one. */
static void reset(struct proto_parser *p)
{
    p->in_mbulk = false;
    p->remaining = 0;
    p->announced = 0;
    p->have_bulklen = false;
    p->bulklen = 0;
    p->pos = 0;
    p->scanned = 0;
    p->seen = 0;
    p->argc = 0;
}

/* Releases slots and scratch grown by an unusually large command. Only
 * called between commands, when no view handed out is still promised. */
static void shrink(struct proto_parser *p)
{
    if (p->cap > KEEP_SLOTS) {
        free(p->offs);
        free(p->lens);
        free(p->argv);
        p->offs = NULL;
        p->lens = NULL;
        p->argv = NULL;
        p->cap = 0;
    }
    if (p->scratch_cap > KEEP_SCRATCH) {
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_cap = 0;
    }
}

/* Makes room for one more argument. The three arrays are grown one by one;
 * a failure part way leaves each at least p->cap slots, so the state stays
 * consistent. */
static int add_slot(struct proto_parser *p, uint64_t limit)
{
    size_t cap;
    size_t *offs;
    size_t *lens;
    const char **argv;

    if (p->argc < p->cap) {
        return 0;
    }
    cap = p->cap < MIN_SLOTS ? MIN_SLOTS : (size_t)p->cap * 2;
    if (cap > limit && limit > MIN_SLOTS) {
        cap = (size_t)limit; /* never beyond the announced count */
    }
    if (cap > INT_MAX) {
        cap = INT_MAX;
    }
    if (cap <= (size_t)p->cap) {
        return -ENOMEM; /* cannot happen: argc stays within the limit */
    }
    offs = realloc(p->offs, cap * sizeof *offs);
    if (offs == NULL) {
        return -ENOMEM;
    }
    p->offs = offs;
    lens = realloc(p->lens, cap * sizeof *lens);
    if (lens == NULL) {
        return -ENOMEM;
    }
    p->lens = lens;
    argv = realloc(p->argv, cap * sizeof *argv);
    if (argv == NULL) {
        return -ENOMEM;
    }
    p->argv = argv;
    p->cap = (int)cap;
    return 0;
}

/* Parses a decimal integer the way Redis's string2ll does: an optional '-',
 * then digits without a leading zero (except "0" itself), no '+', no
 * spaces, within the range of a signed 64-bit integer. */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0;
    uint64_t max;
    size_t i = 0;

    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= n || s[i] < '1' || s[i] > '9') {
        return false;
    }
    max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return true;
}

/* Finds the line that starts at @start and ends in '\r' plus one more byte
 * (Redis looks for the '\r' and skips the byte after it unchecked).
 * Searches from p->scanned, so bytes already examined are not searched
 * again. Returns true and sets @cr to the offset of the '\r', or false when
 * the line is not complete yet. */
static bool find_line(struct proto_parser *p,
                      const char *buf,
                      size_t len,
                      size_t start,
                      size_t *cr)
{
    size_t from = p->scanned > start ? p->scanned : start;
    const char *hit = NULL;
    size_t at;

    if (from < len) {
        hit = memchr(buf + from, '\r', len - from);
    }
    if (hit == NULL) {
        p->scanned = len;
        return false;
    }
    at = (size_t)(hit - buf);
    if (at + 1 >= len) {
        p->scanned = at; /* the byte after '\r' has not arrived */
        return false;
    }
    *cr = at;
    return true;
}

/* Fills @out with the located arguments as pointers into @base. */
static void emit(struct proto_parser *p,
                 const char *base,
                 struct proto_cmd *out)
{
    for (int i = 0; i < p->argc; i++) {
        p->argv[i] = base + p->offs[i];
    }
    out->argc = p->argc;
    out->argv = p->argc > 0 ? p->argv : NULL;
    out->lens = p->argc > 0 ? p->lens : NULL;
}

/* ------------------------------------------------------------------------
 * Multibulk: "*<count>\r\n" then count times "$<len>\r\n<bytes>\r\n"
 * ---------------------------------------------------------------------- */

/* Reads the count line "*<count>\r\n". Returns the bytes consumed (> 0)
 * for a count <= 0, which is no command at all; 0 when more bytes are
 * needed or when the arguments follow (p->in_mbulk is then set); or a
 * PROTO_E* error. */
static long parse_count(struct proto_parser *p,
                        const char *buf,
                        size_t len,
                        struct proto_cmd *out)
{
    size_t cr;
    int64_t ll;

    if (!find_line(p, buf, len, 0, &cr)) {
        return len > LINE_MAX_WAIT ? PROTO_EBIGMBULK : 0;
    }
    if (!parse_i64(buf + 1, cr - 1, &ll) ||
        (ll > 0 && (uint64_t)ll > p->lim.max_multibulk_len)) {
        return PROTO_EBADMBULKLEN;
    }
    p->scanned = 0;
    if (ll <= 0) {
        /* "*0\r\n" and "*-1\r\n" are consumed as no command at all. */
        out->argc = 0;
        out->argv = NULL;
        out->lens = NULL;
        return (long)(cr + 2);
    }
    p->in_mbulk = true;
    p->announced = (uint64_t)ll;
    p->remaining = (uint64_t)ll;
    p->pos = cr + 2;
    p->argc = 0;
    p->have_bulklen = false;
    return 0;
}

/* Reads one "$<len>\r\n" line at p->pos. Returns 1 when the length is known,
 * 0 when more bytes are needed, or a PROTO_E* error. */
static int parse_bulk_len(struct proto_parser *p, const char *buf, size_t len)
{
    size_t cr;
    int64_t ll;

    if (!find_line(p, buf, len, p->pos, &cr)) {
        return len - p->pos > LINE_MAX_WAIT ? PROTO_EBIGBULK : 0;
    }
    /* Like Redis, the '$' is checked once the whole line is here. */
    if (buf[p->pos] != '$') {
        p->bad = buf[p->pos];
        return PROTO_EEXPECTDOLLAR;
    }
    if (!parse_i64(buf + p->pos + 1, cr - p->pos - 1, &ll) || ll < 0 ||
        (uint64_t)ll > p->lim.max_bulk_len) {
        return PROTO_EBADBULKLEN;
    }
    p->bulklen = (uint64_t)ll;
    p->have_bulklen = true;
    p->pos = cr + 2;
    p->scanned = 0;
    return 1;
}

static long parse_multibulk(struct proto_parser *p,
                            const char *buf,
                            size_t len,
                            struct proto_cmd *out)
{
    long consumed;

    if (!p->in_mbulk) {
        long rv = parse_count(p, buf, len, out);
        if (!p->in_mbulk) {
            return rv;
        }
    }
    while (p->remaining > 0) {
        if (!p->have_bulklen) {
            int rv = parse_bulk_len(p, buf, len);
            if (rv <= 0) {
                return rv;
            }
        }
        /* The data and the two bytes after it, which Redis skips without
         * checking that they are "\r\n"; so do we. */
        if (len - p->pos < p->bulklen || len - p->pos - p->bulklen < 2) {
            return 0;
        }
        if (add_slot(p, p->announced) != 0) {
            return -ENOMEM;
        }
        p->offs[p->argc] = p->pos;
        p->lens[p->argc] = (size_t)p->bulklen;
        p->argc++;
        p->pos += (size_t)p->bulklen + 2;
        p->have_bulklen = false;
        p->remaining--;
    }
    emit(p, buf, out);
    consumed = (long)p->pos;
    reset(p);
    return consumed;
}

/* ------------------------------------------------------------------------
 * Inline: one line of arguments, split as Redis's sdssplitargs does
 * ---------------------------------------------------------------------- */

/* isspace() in the C locale: what separates arguments before a token and
 * what may follow a closing quote. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' ||
           c == '\f';
}

/* What ends an unquoted token. Deliberately narrower than is_blank: Redis
 * keeps '\v' and '\f' inside an unquoted argument. */
static bool ends_token(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
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

/* The byte a backslash escape inside double quotes stands for. */
static char unescape(char c)
{
    switch (c) {
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'b':
            return '\b';
        case 'a':
            return '\a';
        default:
            return c;
    }
}

/* Reads a "double quoted" token whose opening quote is at *@sp, appending
 * its bytes to @dst. Returns 0 with *@sp past the closing quote, or
 * PROTO_EQUOTES. */
static int read_dquoted(const char **sp, const char *end, char *dst, size_t *n)
{
    const char *s = *sp + 1;
    for (; s < end; s++) {
        if (*s == '\\' && end - s >= 4 && s[1] == 'x' && hex_value(s[2]) >= 0 &&
            hex_value(s[3]) >= 0) {
            dst[(*n)++] = (char)(hex_value(s[2]) * 16 + hex_value(s[3]));
            s += 3;
        } else if (*s == '\\' && end - s >= 2) {
            s++;
            dst[(*n)++] = unescape(*s);
        } else if (*s == '"') {
            /* "closing quote must be followed by a space or nothing". */
            if (end - s >= 2 && !is_blank(s[1])) {
                return PROTO_EQUOTES;
            }
            *sp = s + 1;
            return 0;
        } else {
            dst[(*n)++] = *s;
        }
    }
    return PROTO_EQUOTES;
}

/* As read_dquoted for a 'single quoted' token, where only \' is an escape. */
static int read_squoted(const char **sp, const char *end, char *dst, size_t *n)
{
    const char *s = *sp + 1;
    for (; s < end; s++) {
        if (*s == '\\' && end - s >= 2 && s[1] == '\'') {
            s++;
            dst[(*n)++] = '\'';
        } else if (*s == '\'') {
            if (end - s >= 2 && !is_blank(s[1])) {
                return PROTO_EQUOTES;
            }
            *sp = s + 1;
            return 0;
        } else {
            dst[(*n)++] = *s;
        }
    }
    return PROTO_EQUOTES;
}

/* Splits the line [s, end) into arguments, unescaping into p->scratch.
 * Returns 0 or PROTO_EQUOTES / -ENOMEM. */
static int split_line(struct proto_parser *p, const char *s, const char *end)
{
    size_t used = 0;
    const char *nul = memchr(s, '\0', (size_t)(end - s));

    /* Redis splits a C string, so a NUL byte ends the line's content. */
    if (nul != NULL) {
        end = nul;
    }
    /* Unescaping never makes text longer, so one line's worth suffices. */
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
        size_t start;
        while (s < end && is_blank(*s)) {
            s++;
        }
        if (s == end) {
            return 0;
        }
        start = used;
        /* A token may start bare and continue quoted: a"b c" is the one
         * argument "ab c", as in Redis. A closing quote must be followed by
         * a blank or the end, so a quoted part always ends its token. */
        while (s < end && !ends_token(*s)) {
            if (*s == '"' || *s == '\'') {
                int rv = *s == '"' ? read_dquoted(&s, end, p->scratch, &used)
                                   : read_squoted(&s, end, p->scratch, &used);
                if (rv != 0) {
                    return rv;
                }
                break;
            }
            p->scratch[used++] = *s++;
        }
        if (add_slot(p, UINT64_MAX) != 0) {
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
    const char *nl = NULL;
    const char *end;
    long consumed;
    int rv;

    if (p->scanned < len) {
        nl = memchr(buf + p->scanned, '\n', len - p->scanned);
    }
    if (nl == NULL) {
        p->scanned = len;
        return len > p->lim.max_inline_len ? PROTO_EBIGINLINE : 0;
    }
    end = nl;
    if (end > buf && end[-1] == '\r') {
        end--;
    }
    rv = split_line(p, buf, end);
    if (rv != 0) {
        return rv;
    }
    emit(p, p->scratch, out);
    consumed = (long)(nl - buf) + 1;
    reset(p);
    return consumed;
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

long proto_parse(struct proto_parser *p,
                 const char *buf,
                 size_t len,
                 struct proto_cmd *out)
{
    long rv;

    /* A buffer shorter than the last one breaks the contract; rather than
     * read offsets past its end, start the request over. */
    if (len < p->seen) {
        reset(p);
    }
    if (!p->in_mbulk && p->scanned == 0) {
        shrink(p); /* between commands: no view handed out is still valid */
    }
    if (len == 0) {
        return 0;
    }
    if (len > LONG_MAX) {
        len = LONG_MAX; /* a request that long fails its limits anyway */
    }
    if (p->in_mbulk || buf[0] == '*') {
        rv = parse_multibulk(p, buf, len, out);
    } else {
        rv = parse_inline(p, buf, len, out);
    }
    if (rv < 0) {
        reset(p); /* the caller closes; leave no half state behind */
    } else if (rv == 0) {
        p->seen = len;
    }
    return rv;
}
