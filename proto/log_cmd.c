/* The raft log-command encoding (format in proto.h). Integers are written
 * byte by byte in little endian, so the format does not depend on the
 * host and no unaligned access happens. The decoder treats the entry as
 * untrusted input: every length is checked against the buffer. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

#define COUNT_OFFSET PROTO_LOG_HEADER_LEN /* u32 item count */
#define BODY_START   PROTO_LOG_HEADER_LEN

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

static int append_u32(struct proto_buf *b, uint32_t v)
{
    unsigned char x[4];
    put_u32(x, v);
    return proto_buf_append(b, x, 4);
}

/* ------------------------------------------------------------------------
 * Writer
 * ---------------------------------------------------------------------- */

int proto_log_writer_init(struct proto_log_writer *w,
                          enum proto_log_type type,
                          uint64_t stamp_ms)
{
    unsigned char h[PROTO_LOG_HEADER_LEN + 4];
    memset(h, 0, sizeof h);
    h[0] = PROTO_LOG_VERSION;
    h[1] = (unsigned char)type;
    put_u64(h + 8, stamp_ms);
    proto_buf_init(&w->buf);
    w->count = 0;
    w->type = (uint8_t)type;
    if (proto_buf_append(&w->buf, h, sizeof h) != 0) {
        return -ENOMEM;
    }
    return 0;
}

int proto_log_writer_add_cmd(struct proto_log_writer *w,
                             int argc,
                             const char *const *argv,
                             const size_t *lens)
{
    size_t start = w->buf.len;
    size_t need = 4;
    if (argc <= 0) {
        return -EINVAL;
    }
    for (int i = 0; i < argc; i++) {
        if (lens[i] > UINT32_MAX) {
            return -EINVAL;
        }
        need += 4 + lens[i];
    }
    if (proto_buf_reserve(&w->buf, need) != 0) {
        return -ENOMEM;
    }
    append_u32(&w->buf, (uint32_t)argc);
    for (int i = 0; i < argc; i++) {
        append_u32(&w->buf, (uint32_t)lens[i]);
        proto_buf_append(&w->buf, argv[i], lens[i]);
    }
    if (w->buf.len != start + need) {
        w->buf.len = start; /* cannot happen after reserve; stay whole */
        return -ENOMEM;
    }
    w->count++;
    return 0;
}

int proto_log_writer_add_cmd_id(struct proto_log_writer *w,
                                uint64_t id,
                                int argc,
                                const char *const *argv,
                                const size_t *lens)
{
    size_t start = w->buf.len;
    unsigned char x[8];
    int rv;
    put_u64(x, id);
    if (proto_buf_append(&w->buf, x, 8) != 0) {
        return -ENOMEM;
    }
    rv = proto_log_writer_add_cmd(w, argc, argv, lens);
    if (rv != 0) {
        w->buf.len = start;
    }
    return rv;
}

int proto_log_writer_add_key(struct proto_log_writer *w,
                             const char *key,
                             size_t len)
{
    if (len > UINT32_MAX) {
        return -EINVAL;
    }
    if (proto_buf_reserve(&w->buf, 4 + len) != 0) {
        return -ENOMEM;
    }
    append_u32(&w->buf, (uint32_t)len);
    proto_buf_append(&w->buf, key, len);
    w->count++;
    return 0;
}

size_t proto_log_writer_size(const struct proto_log_writer *w)
{
    return (w->buf.len + 7) & ~(size_t)7;
}

int proto_log_writer_finish(struct proto_log_writer *w,
                            void *(*alloc)(size_t),
                            void **data,
                            size_t *len)
{
    size_t n = proto_log_writer_size(w);
    unsigned char *out;
    if (w->buf.len - BODY_START > UINT32_MAX) {
        return -EINVAL;
    }
    out = alloc(n);
    if (out == NULL) {
        return -ENOMEM;
    }
    put_u32((unsigned char *)w->buf.data + 4,
            (uint32_t)(w->buf.len - BODY_START));
    put_u32((unsigned char *)w->buf.data + COUNT_OFFSET, w->count);
    memcpy(out, w->buf.data, w->buf.len);
    memset(out + w->buf.len, 0, n - w->buf.len);
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
 * Reader
 * ---------------------------------------------------------------------- */

int proto_log_reader_init(struct proto_log_reader *r,
                          const void *buf,
                          size_t len)
{
    const unsigned char *p = buf;
    uint32_t body_len;
    size_t end;

    memset(r, 0, sizeof *r);
    if (len < PROTO_LOG_HEADER_LEN + 4) {
        return PROTO_EMALFORMED;
    }
    if (p[0] != PROTO_LOG_VERSION) {
        return PROTO_EVERSION;
    }
    if ((p[1] != PROTO_LOG_BATCH && p[1] != PROTO_LOG_EXPIRE &&
         p[1] != PROTO_LOG_BATCH_IDS) ||
        p[2] != 0 || p[3] != 0) {
        return PROTO_EMALFORMED;
    }
    body_len = get_u32(p + 4);
    if (body_len < 4 || body_len > len - BODY_START) {
        return PROTO_EMALFORMED;
    }
    end = BODY_START + (size_t)body_len;
    /* Only zero padding may follow, less than 8 bytes of it, ending on a
     * multiple of 8. */
    if (len - end >= 8 || len % 8 != 0) {
        return PROTO_EMALFORMED;
    }
    for (size_t i = end; i < len; i++) {
        if (p[i] != 0) {
            return PROTO_EMALFORMED;
        }
    }
    r->type = p[1];
    r->stamp_ms = get_u64(p + 8);
    r->remaining = get_u32(p + COUNT_OFFSET);
    r->pos = p + COUNT_OFFSET + 4;
    r->end = p + end;
    return 0;
}

/* Reads a u32 length-prefixed field. */
static int read_field(struct proto_log_reader *r, const char **s, size_t *n)
{
    uint32_t len;
    if (r->end - r->pos < 4) {
        return PROTO_EMALFORMED;
    }
    len = get_u32(r->pos);
    r->pos += 4;
    if ((size_t)(r->end - r->pos) < len) {
        return PROTO_EMALFORMED;
    }
    *s = (const char *)r->pos;
    *n = len;
    r->pos += len;
    return 0;
}

static int at_end(struct proto_log_reader *r)
{
    return r->pos == r->end ? 0 : PROTO_EMALFORMED;
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
    uint32_t argc;
    if (r->type != PROTO_LOG_BATCH && r->type != PROTO_LOG_BATCH_IDS) {
        return PROTO_EMALFORMED;
    }
    if (r->remaining == 0) {
        return at_end(r);
    }
    *id = 0;
    if (r->type == PROTO_LOG_BATCH_IDS) {
        if (r->end - r->pos < 8) {
            return PROTO_EMALFORMED;
        }
        *id = get_u64(r->pos);
        r->pos += 8;
    }
    if (r->end - r->pos < 4) {
        return PROTO_EMALFORMED;
    }
    argc = get_u32(r->pos);
    r->pos += 4;
    /* Each argument takes at least its 4-byte length: this bounds the
     * scratch we allocate by the entry's size. */
    if (argc == 0 || argc > INT_MAX || argc > (size_t)(r->end - r->pos) / 4) {
        return PROTO_EMALFORMED;
    }
    if ((int)argc > r->cap) {
        const char **argv = realloc(r->argv, argc * sizeof *argv);
        if (argv == NULL) {
            return -ENOMEM;
        }
        r->argv = argv;
        size_t *lens = realloc(r->lens, argc * sizeof *lens);
        if (lens == NULL) {
            return -ENOMEM;
        }
        r->lens = lens;
        r->cap = (int)argc;
    }
    for (uint32_t i = 0; i < argc; i++) {
        int rv = read_field(r, &r->argv[i], &r->lens[i]);
        if (rv != 0) {
            return rv;
        }
    }
    r->remaining--;
    out->argc = (int)argc;
    out->argv = r->argv;
    out->lens = r->lens;
    return 1;
}

int proto_log_reader_next_key(struct proto_log_reader *r,
                              const char **key,
                              size_t *len)
{
    int rv;
    if (r->type != PROTO_LOG_EXPIRE) {
        return PROTO_EMALFORMED;
    }
    if (r->remaining == 0) {
        return at_end(r);
    }
    rv = read_field(r, key, len);
    if (rv != 0) {
        return rv;
    }
    r->remaining--;
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
