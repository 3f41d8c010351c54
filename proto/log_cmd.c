/* The raft log-command encoding (wire format in proto.h).
 *
 * Integers are written and read byte by byte in little endian, so the format
 * does not depend on the host and no unaligned access ever happens.
 *
 * The decoder treats an entry as untrusted input, like any other bytes from
 * disk or the network: proto_log_reader_init walks the whole body once and
 * checks every count and length against the buffer before a single item is
 * handed out. A state machine therefore applies an entry entirely or not at
 * all, never the first half of a corrupt batch. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* Offsets inside the header, and the item count that opens every body. */
#define OFF_VERSION  0
#define OFF_TYPE     1
#define OFF_RESERVED 2
#define OFF_BODY_LEN 4
#define OFF_STAMP    8
#define OFF_COUNT    PROTO_LOG_HEADER_LEN
#define COUNT_LEN    4
#define ID_LEN       8
#define LEN_LEN      4

/* Entries are padded with zeros to a multiple of this (libraft's rule). */
#define ALIGN 8

/* ------------------------------------------------------------------------
 * Little-endian integers
 * ---------------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static size_t pad_to_align(size_t n)
{
    return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1);
}

static bool type_is_known(unsigned type)
{
    return type == PROTO_LOG_BATCH || type == PROTO_LOG_EXPIRE ||
           type == PROTO_LOG_BATCH_IDS;
}

/* ------------------------------------------------------------------------
 * Writer
 *
 * The buffer holds the header and the count with placeholder values from
 * the start; _finish fills them in. Each _add_* reserves all the room the
 * item needs first, so after the reservation nothing can fail and the
 * writer is never left holding half an item.
 * ---------------------------------------------------------------------- */

int proto_log_writer_init(struct proto_log_writer *w,
                          enum proto_log_type type,
                          uint64_t stamp_ms)
{
    unsigned char h[PROTO_LOG_HEADER_LEN + COUNT_LEN];

    proto_buf_init(&w->buf);
    w->count = 0;
    w->type = (uint8_t)type;
    if (!type_is_known((unsigned)type)) {
        return -EINVAL;
    }
    memset(h, 0, sizeof h);
    h[OFF_VERSION] = PROTO_LOG_VERSION;
    h[OFF_TYPE] = (unsigned char)type;
    put_u64(h + OFF_STAMP, stamp_ms);
    return proto_buf_append(&w->buf, h, sizeof h);
}

/* Checks that @extra more body bytes keep body_len and the count within
 * their u32 fields, and reserves them. Returns 0, -EINVAL or -ENOMEM. */
static int reserve_item(struct proto_log_writer *w, size_t extra)
{
    size_t body = w->buf.len - PROTO_LOG_HEADER_LEN;
    if (w->count == UINT32_MAX || extra > UINT32_MAX ||
        body + extra > UINT32_MAX) {
        return -EINVAL;
    }
    return proto_buf_reserve(&w->buf, extra);
}

/* Appends a u32 or u64 whose room is reserved. */
static void put_int(struct proto_buf *b, uint64_t v, size_t n)
{
    unsigned char x[8];
    if (n == 8) {
        put_u64(x, v);
    } else {
        put_u32(x, (uint32_t)v);
    }
    memcpy(b->data + b->len, x, n);
    b->len += n;
}

/* Appends "u32 len, bytes" whose room is reserved. */
static void put_field(struct proto_buf *b, const void *s, size_t n)
{
    put_int(b, n, LEN_LEN);
    if (n > 0) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

/* Appends one command, preceded by @id when @with_id. */
static int add_cmd_generic(struct proto_log_writer *w,
                           bool with_id,
                           uint64_t id,
                           int argc,
                           const char *const *argv,
                           const size_t *lens)
{
    size_t need = (with_id ? ID_LEN : 0) + LEN_LEN;
    int rv;

    if (argc <= 0) {
        return -EINVAL;
    }
    for (int i = 0; i < argc; i++) {
        /* Checked before adding, so the sum cannot wrap even on 32 bits. */
        if (lens[i] > UINT32_MAX - LEN_LEN ||
            need > UINT32_MAX - LEN_LEN - lens[i]) {
            return -EINVAL;
        }
        need += LEN_LEN + lens[i];
    }
    rv = reserve_item(w, need);
    if (rv != 0) {
        return rv;
    }
    if (with_id) {
        put_int(&w->buf, id, ID_LEN);
    }
    put_int(&w->buf, (uint64_t)argc, LEN_LEN);
    for (int i = 0; i < argc; i++) {
        put_field(&w->buf, argv[i], lens[i]);
    }
    w->count++;
    return 0;
}

int proto_log_writer_add_cmd(struct proto_log_writer *w,
                             int argc,
                             const char *const *argv,
                             const size_t *lens)
{
    /* In a BATCH_IDS entry a command without an id carries id 0. */
    if (w->type == PROTO_LOG_BATCH_IDS) {
        return add_cmd_generic(w, true, 0, argc, argv, lens);
    }
    if (w->type != PROTO_LOG_BATCH) {
        return -EINVAL;
    }
    return add_cmd_generic(w, false, 0, argc, argv, lens);
}

int proto_log_writer_add_cmd_id(struct proto_log_writer *w,
                                uint64_t id,
                                int argc,
                                const char *const *argv,
                                const size_t *lens)
{
    /* A BATCH entry has nowhere to put an id; "none" fits as it is. */
    if (w->type == PROTO_LOG_BATCH && id == 0) {
        return add_cmd_generic(w, false, 0, argc, argv, lens);
    }
    if (w->type != PROTO_LOG_BATCH_IDS) {
        return -EINVAL;
    }
    return add_cmd_generic(w, true, id, argc, argv, lens);
}

int proto_log_writer_add_key(struct proto_log_writer *w,
                             const char *key,
                             size_t len)
{
    int rv;
    if (w->type != PROTO_LOG_EXPIRE) {
        return -EINVAL;
    }
    if (len > UINT32_MAX) {
        return -EINVAL;
    }
    rv = reserve_item(w, LEN_LEN + len);
    if (rv != 0) {
        return rv;
    }
    put_field(&w->buf, key, len);
    w->count++;
    return 0;
}

size_t proto_log_writer_size(const struct proto_log_writer *w)
{
    return pad_to_align(w->buf.len);
}

int proto_log_writer_finish(struct proto_log_writer *w,
                            void *(*alloc)(size_t),
                            void **data,
                            size_t *len)
{
    size_t n = proto_log_writer_size(w);
    unsigned char *out;

    if (w->buf.len < PROTO_LOG_HEADER_LEN + COUNT_LEN) {
        return -EINVAL; /* not initialised, or already finished */
    }
    out = alloc(n);
    if (out == NULL) {
        return -ENOMEM;
    }
    memcpy(out, w->buf.data, w->buf.len);
    memset(out + w->buf.len, 0, n - w->buf.len);
    /* reserve_item kept both within their u32 fields. */
    put_u32(out + OFF_BODY_LEN, (uint32_t)(w->buf.len - PROTO_LOG_HEADER_LEN));
    put_u32(out + OFF_COUNT, w->count);
    *data = out;
    *len = n;
    proto_buf_fini(&w->buf);
    w->count = 0;
    return 0;
}

void proto_log_writer_fini(struct proto_log_writer *w)
{
    proto_buf_fini(&w->buf);
    w->count = 0;
}

/* ------------------------------------------------------------------------
 * Validation
 * ---------------------------------------------------------------------- */

/* A bounds-checked cursor over [pos, end). */
struct cursor
{
    const unsigned char *pos; /* borrowed */
    const unsigned char *end; /* borrowed */
};

static bool take(struct cursor *c, size_t n, const unsigned char **at)
{
    if ((size_t)(c->end - c->pos) < n) {
        return false;
    }
    *at = c->pos;
    c->pos += n;
    return true;
}

static bool take_u32(struct cursor *c, uint32_t *v)
{
    const unsigned char *at;
    if (!take(c, 4, &at)) {
        return false;
    }
    *v = get_u32(at);
    return true;
}

/* Reads "u32 len, bytes". */
static bool take_field(struct cursor *c, const unsigned char **s, size_t *n)
{
    uint32_t len;
    if (!take_u32(c, &len) || !take(c, len, s)) {
        return false;
    }
    *n = len;
    return true;
}

/* Reads a command's argc: at least 1, at most what the bytes left could
 * hold (each argument takes its 4-byte length at least), which also bounds
 * the scratch a reader allocates by the entry's size. */
static bool take_argc(struct cursor *c, uint32_t *argc)
{
    if (!take_u32(c, argc)) {
        return false;
    }
    return *argc >= 1 && *argc <= INT_MAX &&
           *argc <= (size_t)(c->end - c->pos) / LEN_LEN;
}

/* Walks every item of a body so that reading it later cannot fail. */
static bool body_is_valid(unsigned type,
                          const unsigned char *body,
                          const unsigned char *end)
{
    struct cursor c = {body, end};
    const unsigned char *s;
    uint32_t count;
    size_t n;

    if (!take_u32(&c, &count)) {
        return false;
    }
    /* Every item takes at least 4 bytes, so a bogus count fails within
     * body_len / 4 iterations. */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t argc;
        if (type == PROTO_LOG_EXPIRE) {
            if (!take_field(&c, &s, &n)) {
                return false;
            }
            continue;
        }
        if (type == PROTO_LOG_BATCH_IDS && !take(&c, ID_LEN, &s)) {
            return false;
        }
        if (!take_argc(&c, &argc)) {
            return false;
        }
        for (uint32_t j = 0; j < argc; j++) {
            if (!take_field(&c, &s, &n)) {
                return false;
            }
        }
    }
    /* The count must account for the body exactly. */
    return c.pos == c.end;
}

/* ------------------------------------------------------------------------
 * Reader
 * ---------------------------------------------------------------------- */

int proto_log_reader_init(struct proto_log_reader *r,
                          const void *buf,
                          size_t len)
{
    const unsigned char *p = buf;
    size_t end;

    memset(r, 0, sizeof *r);
    if (len == 0) {
        return PROTO_EMALFORMED;
    }
    /* The version comes first: a later version may frame differently. */
    if (p[OFF_VERSION] != PROTO_LOG_VERSION) {
        return PROTO_EVERSION;
    }
    if (len < PROTO_LOG_HEADER_LEN + COUNT_LEN) {
        return PROTO_EMALFORMED;
    }
    if (!type_is_known(p[OFF_TYPE]) || p[OFF_RESERVED] != 0 ||
        p[OFF_RESERVED + 1] != 0) {
        return PROTO_EMALFORMED;
    }
    /* body_len is compared with what is left, never added to an offset
     * first, so no value of it can overflow. */
    if (get_u32(p + OFF_BODY_LEN) < COUNT_LEN ||
        get_u32(p + OFF_BODY_LEN) > len - PROTO_LOG_HEADER_LEN) {
        return PROTO_EMALFORMED;
    }
    end = PROTO_LOG_HEADER_LEN + (size_t)get_u32(p + OFF_BODY_LEN);
    /* Accepted: the exact length, or the length padded to 8 with zeros. */
    if (len != end && len != pad_to_align(end)) {
        return PROTO_EMALFORMED;
    }
    for (size_t i = end; i < len; i++) {
        if (p[i] != 0) {
            return PROTO_EMALFORMED;
        }
    }
    if (!body_is_valid(p[OFF_TYPE], p + OFF_COUNT, p + end)) {
        return PROTO_EMALFORMED;
    }
    r->type = p[OFF_TYPE];
    r->stamp_ms = get_u64(p + OFF_STAMP);
    r->remaining = get_u32(p + OFF_COUNT);
    r->pos = p + OFF_COUNT + COUNT_LEN;
    r->end = p + end;
    return 0;
}

/* Makes room for @argc views in the reader's scratch. */
static int reserve_views(struct proto_log_reader *r, uint32_t argc)
{
    const char **argv;
    size_t *lens;

    if ((int64_t)argc <= (int64_t)r->cap) {
        return 0;
    }
    argv = realloc(r->argv, argc * sizeof *argv);
    if (argv == NULL) {
        return -ENOMEM;
    }
    r->argv = argv;
    lens = realloc(r->lens, argc * sizeof *lens);
    if (lens == NULL) {
        return -ENOMEM; /* cap unchanged: both arrays still hold it */
    }
    r->lens = lens;
    r->cap = (int)argc;
    return 0;
}

int proto_log_reader_next_cmd(struct proto_log_reader *r, struct proto_cmd *out)
{
    uint64_t id;
    if (r->type != PROTO_LOG_BATCH) {
        return PROTO_EMALFORMED;
    }
    return proto_log_reader_next_cmd_id(r, out, &id);
}

int proto_log_reader_next_cmd_id(struct proto_log_reader *r,
                                 struct proto_cmd *out,
                                 uint64_t *id)
{
    struct cursor c = {r->pos, r->end};
    const unsigned char *at;
    uint64_t cmd_id = 0;
    uint32_t argc;
    int rv;

    if (r->type != PROTO_LOG_BATCH && r->type != PROTO_LOG_BATCH_IDS) {
        return PROTO_EMALFORMED;
    }
    if (r->remaining == 0) {
        return 0;
    }
    /* reader_init validated the body; the checks below only keep a reader
     * whose fields were tampered with from reading out of bounds. */
    if (r->type == PROTO_LOG_BATCH_IDS) {
        if (!take(&c, ID_LEN, &at)) {
            return PROTO_EMALFORMED;
        }
        cmd_id = get_u64(at);
    }
    if (!take_argc(&c, &argc)) {
        return PROTO_EMALFORMED;
    }
    rv = reserve_views(r, argc);
    if (rv != 0) {
        return rv;
    }
    for (uint32_t i = 0; i < argc; i++) {
        const unsigned char *s;
        if (!take_field(&c, &s, &r->lens[i])) {
            return PROTO_EMALFORMED;
        }
        r->argv[i] = (const char *)s;
    }
    r->pos = c.pos;
    r->remaining--;
    out->argc = (int)argc;
    out->argv = r->argv;
    out->lens = r->lens;
    *id = cmd_id;
    return 1;
}

int proto_log_reader_next_key(struct proto_log_reader *r,
                              const char **key,
                              size_t *len)
{
    struct cursor c = {r->pos, r->end};
    const unsigned char *s;
    size_t n;

    if (r->type != PROTO_LOG_EXPIRE) {
        return PROTO_EMALFORMED;
    }
    if (r->remaining == 0) {
        return 0;
    }
    if (!take_field(&c, &s, &n)) {
        return PROTO_EMALFORMED;
    }
    r->pos = c.pos;
    r->remaining--;
    *key = (const char *)s;
    *len = n;
    return 1;
}

void proto_log_reader_fini(struct proto_log_reader *r)
{
    free(r->argv);
    free(r->lens);
    r->argv = NULL;
    r->lens = NULL;
    r->cap = 0;
}
