/* Fuzz target: the RESP request parser (proto/resp_parse.c).
 *
 * Input: one control byte, then the bytes a client sends.
 *   bits 0-2: cut points of the chunked run (0 to 7, at pseudo-random
 *             offsets derived from the control byte)
 *   bits 3-4: limits: Redis's defaults, tiny, small or all zero
 *   bit 5:    switch limits between chunks (CONFIG SET while a request is
 *             half read); the comparison of the two runs is skipped
 *   bit 6:    append 64 KiB of the last byte ('0' for a line end), past
 *             the parser's wait limit for a count, length or inline line
 *   bit 7:    feed the chunked run one byte at a time (inputs up to 1 KiB)
 *
 * Checks, on every call: a parse that returns n > 0 consumed at most the
 * bytes given and its views can be read; the parser's memory grows only
 * with bytes that arrived. Each call gets a freshly allocated buffer of
 * exactly the unconsumed bytes, as the contract allows (the caller may
 * realloc), so a read past them is caught by ASan. Then: the stream fed
 * whole and fed in chunks gives the same commands and ends the same way,
 * except that the chunked run may stop earlier on a limit that is checked
 * only while a line is incomplete (Redis behaves the same). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "tests/fuzz/fuzz.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

#define CUTS_MASK       0x07u
#define LIMITS_SHIFT    3
#define SWITCH_LIMITS   0x20u
#define ADD_FILLER      0x40u
#define BYTEWISE        0x80u
#define FILLER_LEN      (64 * 1024 + 1)
#define BYTEWISE_MAX    1024
#define MAX_CHUNKS      9
#define MEMORY_SLACK    1024
#define MEMORY_PER_BYTE 32

/* The unconsumed bytes of a connection's query buffer, always in an
 * allocation of exactly their size. */
struct query
{
    char *data; /* owned; NULL while empty */
    size_t len; /* bytes in data */
    size_t off; /* bytes of data already consumed */
};

/* What one run produced. */
struct run
{
    struct proto_buf log; /* owned: every command, length-prefixed */
    size_t consumed;      /* bytes taken by commands */
    long end;             /* 0: ran out of bytes; else the error */
    size_t fed;           /* bytes handed to the parser so far */
};

static void query_append(struct query *q, const char *p, size_t n)
{
    size_t keep = q->len - q->off;
    char *d = malloc(keep + n);
    FUZZ_CHECK(d != NULL);
    if (keep > 0) {
        memcpy(d, q->data + q->off, keep);
    }
    memcpy(d + keep, p, n);
    free(q->data);
    q->data = d;
    q->len = keep + n;
    q->off = 0;
}

static void log_append(struct run *r, const void *p, size_t n)
{
    FUZZ_CHECK(proto_buf_append(&r->log, p, n) == 0);
}

/* Checks one parsed command and appends it to the run's log. @buf and @n
 * are the bytes given to proto_parse and its return value. */
static void record(struct run *r,
                   const char *buf,
                   long n,
                   const struct proto_cmd *cmd)
{
    uint64_t argc = (uint64_t)cmd->argc;
    size_t total = 0;

    FUZZ_CHECK(cmd->argc >= 0);
    FUZZ_CHECK(cmd->argc == 0 || (cmd->argv != NULL && cmd->lens != NULL));
    log_append(r, &argc, sizeof argc);
    for (int i = 0; i < cmd->argc; i++) {
        uint64_t len = cmd->lens[i];
        /* A multibulk argument is a view into the bytes just consumed. */
        if (buf[0] == '*') {
            FUZZ_CHECK(cmd->argv[i] >= buf);
            FUZZ_CHECK(cmd->lens[i] <= (size_t)n);
            FUZZ_CHECK((size_t)(cmd->argv[i] - buf) <=
                       (size_t)n - cmd->lens[i]);
        }
        total += cmd->lens[i];
        log_append(r, &len, sizeof len);
        log_append(r, cmd->argv[i], cmd->lens[i]);
    }
    /* Unescaping and framing only ever shrink the bytes. */
    FUZZ_CHECK(total <= (size_t)n);
    r->consumed += (size_t)n;
}

/* Parses @q until the parser needs more bytes or fails. Returns false once
 * the run has ended with an error. */
static bool drain(struct proto_parser *p, struct query *q, struct run *r)
{
    for (;;) {
        struct proto_cmd cmd;
        size_t len = q->len - q->off;
        const char *buf = len > 0 ? q->data + q->off : "";
        long n = proto_parse(p, buf, len, &cmd);

        FUZZ_CHECK(proto_parser_memory(p) <=
                   MEMORY_SLACK + MEMORY_PER_BYTE * r->fed);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            FUZZ_CHECK(n == -ENOMEM ||
                       (n <= PROTO_EBADMBULKLEN && n >= PROTO_EQUOTES));
            if (n == PROTO_EEXPECTDOLLAR) {
                (void)proto_parser_bad_byte(p);
            }
            r->end = n;
            return false;
        }
        FUZZ_CHECK((size_t)n <= len);
        record(r, buf, n, &cmd);
        q->off += (size_t)n;
    }
}

static void limits_of(unsigned which, struct proto_limits *l)
{
    proto_limits_default(l);
    switch (which & 3u) {
        case 1:
            l->max_bulk_len = 3;
            l->max_multibulk_len = 2;
            l->max_inline_len = 6;
            break;
        case 2:
            l->max_bulk_len = 64;
            l->max_multibulk_len = 16;
            l->max_inline_len = 128;
            break;
        case 3:
            l->max_bulk_len = 0;
            l->max_multibulk_len = 0;
            l->max_inline_len = 0;
            break;
        default:
            break;
    }
}

static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a;
    size_t y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Feeds @s (@len bytes) to a new parser with limits @lim, in one piece
 * (@whole) or in the pieces @ctrl picks, and fills @r with what came out. */
static void run_stream(const char *s,
                       size_t len,
                       const struct proto_limits *lim,
                       unsigned ctrl,
                       bool whole,
                       struct run *r)
{
    struct proto_limits other;
    struct proto_parser *p = proto_parser_new(lim);
    struct query q = {NULL, 0, 0};
    size_t at[MAX_CHUNKS + 1];
    size_t ncuts = 0;
    uint32_t seed = 0x9e3779b9u ^ ctrl ^ (uint32_t)len << 8;
    bool bytewise = !whole && (ctrl & BYTEWISE) && len <= BYTEWISE_MAX;

    FUZZ_CHECK(p != NULL);
    proto_limits_default(&other);
    proto_buf_init(&r->log);
    r->consumed = 0;
    r->end = 0;
    r->fed = 0;
    if (!whole && !bytewise) {
        ncuts = ctrl & CUTS_MASK;
        for (size_t i = 0; i < ncuts; i++) {
            at[i] = len > 0 ? next_random(&seed) % len : 0;
        }
        qsort(at, ncuts, sizeof at[0], cmp_size);
    }
    at[ncuts] = len;
    size_t from = 0;
    size_t chunk = 0;
    while (from < len) {
        size_t to = bytewise ? from + 1 : at[chunk++];
        if (to <= from) {
            continue; /* an empty piece, or a repeated cut */
        }
        query_append(&q, s + from, to - from);
        r->fed += to - from;
        from = to;
        if (ctrl & SWITCH_LIMITS) {
            proto_parser_set_limits(p, (from & 1) ? &other : lim);
        }
        if (!drain(p, &q, r)) {
            break;
        }
    }
    free(q.data);
    proto_parser_free(p);
}

static bool is_wait_limit(long end)
{
    return end == PROTO_EBIGMBULK || end == PROTO_EBIGBULK ||
           end == PROTO_EBIGINLINE;
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_limits lim;
    struct run whole;
    struct run split;
    unsigned ctrl;
    size_t len;
    char *s;

    if (size == 0) {
        return 0;
    }
    ctrl = data[0];
    len = size - 1;
    if (ctrl & ADD_FILLER) {
        len += FILLER_LEN;
    }
    s = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data + 1, size - 1);
    if (ctrl & ADD_FILLER) {
        /* One line too long to wait for, not 64 Ki tiny commands. */
        int fill = size > 1 ? data[size - 1] : '0';
        memset(s + size - 1, fill == '\r' || fill == '\n' ? '0' : fill,
               FILLER_LEN);
    }
    limits_of(ctrl >> LIMITS_SHIFT, &lim);

    run_stream(s, len, &lim, ctrl, true, &whole);
    run_stream(s, len, &lim, ctrl, false, &split);
    if (!(ctrl & SWITCH_LIMITS)) {
        bool same =
            split.end == whole.end && split.consumed == whole.consumed &&
            split.log.len == whole.log.len &&
            (split.log.len == 0 ||
             memcmp(split.log.data, whole.log.data, split.log.len) == 0);
        if (!same) {
            FUZZ_CHECK(is_wait_limit(split.end));
            FUZZ_CHECK(split.log.len <= whole.log.len);
            FUZZ_CHECK(split.log.len == 0 ||
                       memcmp(split.log.data, whole.log.data, split.log.len) ==
                           0);
        }
    }
    proto_buf_fini(&whole.log);
    proto_buf_fini(&split.log);
    free(s);
    return 0;
}
