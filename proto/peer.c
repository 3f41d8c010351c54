/* Peer RPC frames (format in proto.h): small fixed-field messages. */

#include <errno.h>
#include <string.h>

#include "proto/proto.h"

/* Number of u64 fields each type carries, indexed by type. */
static const unsigned char nfields[] = {
    [PROTO_PEER_PROBE] = 2,         [PROTO_PEER_ACK] = 2,
    [PROTO_PEER_READINDEX_REQ] = 2, [PROTO_PEER_READINDEX_RESP] = 3,
    [PROTO_PEER_FORWARD] = 2,       [PROTO_PEER_FORWARD_RESP] = 2,
    [PROTO_PEER_JOIN] = 2,          [PROTO_PEER_JOIN_RESP] = 2,
    [PROTO_PEER_ADDRS] = 2,
};

/* Types whose fixed fields are followed by a payload. */
static bool has_payload(unsigned type)
{
    return type == PROTO_PEER_FORWARD || type == PROTO_PEER_FORWARD_RESP ||
           type == PROTO_PEER_JOIN || type == PROTO_PEER_JOIN_RESP ||
           type == PROTO_PEER_ADDRS;
}

#define NTYPES (sizeof nfields / sizeof nfields[0])

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

int proto_peer_write(struct proto_buf *out,
                     enum proto_peer_type type,
                     uint64_t a,
                     uint64_t b,
                     uint64_t c)
{
    unsigned char f[4 + 1 + 3 * 8];
    uint64_t fields[3] = {a, b, c};
    unsigned n;
    uint32_t body;

    if ((size_t)type >= NTYPES || nfields[type] == 0 || has_payload(type)) {
        return -EINVAL;
    }
    n = nfields[type];
    body = 1 + 8 * n;
    for (int i = 0; i < 4; i++) {
        f[i] = (unsigned char)(body >> (8 * i));
    }
    f[4] = (unsigned char)type;
    for (unsigned i = 0; i < n; i++) {
        put_u64(f + 5 + 8 * i, fields[i]);
    }
    return proto_buf_append(out, f, 4 + body);
}

long proto_peer_parse(const void *buf, size_t len, struct proto_peer_msg *out)
{
    const unsigned char *p = buf;
    uint32_t body;
    uint8_t type;

    if (len < 4) {
        return 0;
    }
    body = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
    if (body == 0 || body > PROTO_PEER_MAX_FRAME) {
        return PROTO_EMALFORMED;
    }
    if (len < 5) {
        return 0;
    }
    type = p[4];
    if (type >= NTYPES || nfields[type] == 0) {
        return PROTO_EMALFORMED;
    }
    if (has_payload(type) ? body < 1u + 8u * nfields[type]
                          : body != 1u + 8u * nfields[type]) {
        return PROTO_EMALFORMED;
    }
    if (len - 4 < body) {
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->type = type;
    uint64_t *fields[3] = {&out->a, &out->b, &out->c};
    for (unsigned i = 0; i < nfields[type]; i++) {
        *fields[i] = get_u64(p + 5 + 8 * i);
    }
    if (has_payload(type)) {
        out->payload = p + 5 + 8 * nfields[type];
        out->payload_len = body - 1 - 8 * nfields[type];
    }
    return (long)(4 + body);
}

int proto_peer_write_payload(struct proto_buf *out,
                             enum proto_peer_type type,
                             uint64_t a,
                             uint64_t b,
                             const void *const *parts,
                             const size_t *lens,
                             size_t nparts)
{
    unsigned char f[4 + 1 + 2 * 8];
    size_t total = 1 + 16;
    size_t start = out->len;

    if (!has_payload(type)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (lens[i] > PROTO_PEER_MAX_FRAME - total) {
            return -EINVAL;
        }
        total += lens[i];
    }
    for (int i = 0; i < 4; i++) {
        f[i] = (unsigned char)(total >> (8 * i));
    }
    f[4] = (unsigned char)type;
    put_u64(f + 5, a);
    put_u64(f + 13, b);
    if (proto_buf_reserve(out, 4 + total) != 0) {
        return -ENOMEM;
    }
    proto_buf_append(out, f, sizeof f);
    for (size_t i = 0; i < nparts; i++) {
        proto_buf_append(out, parts[i], lens[i]);
    }
    if (out->len != start + 4 + total) {
        out->len = start;
        return -ENOMEM;
    }
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int proto_peer_encode_args(struct proto_buf *out,
                           int argc,
                           const char *const *argv,
                           const size_t *lens)
{
    size_t need = 4;
    size_t start = out->len;
    unsigned char n[4];
    if (argc <= 0) {
        return -EINVAL;
    }
    for (int i = 0; i < argc; i++) {
        if (lens[i] > UINT32_MAX) {
            return -EINVAL;
        }
        need += 4 + lens[i];
    }
    if (proto_buf_reserve(out, need) != 0) {
        return -ENOMEM;
    }
    put_u32(n, (uint32_t)argc);
    proto_buf_append(out, n, 4);
    for (int i = 0; i < argc; i++) {
        put_u32(n, (uint32_t)lens[i]);
        proto_buf_append(out, n, 4);
        proto_buf_append(out, argv[i], lens[i]);
    }
    if (out->len != start + need) {
        out->len = start;
        return -ENOMEM;
    }
    return 0;
}

int proto_peer_decode_args(const unsigned char *payload,
                           size_t len,
                           const char **argv,
                           size_t *lens,
                           size_t cap)
{
    size_t pos = 4;
    uint32_t argc;
    if (len < 4) {
        return PROTO_EMALFORMED;
    }
    argc = get_u32(payload);
    if (argc == 0 || argc > cap || argc > (len - 4) / 4) {
        return PROTO_EMALFORMED;
    }
    for (uint32_t i = 0; i < argc; i++) {
        uint32_t n;
        if (len - pos < 4) {
            return PROTO_EMALFORMED;
        }
        n = get_u32(payload + pos);
        pos += 4;
        if (len - pos < n) {
            return PROTO_EMALFORMED;
        }
        argv[i] = (const char *)payload + pos;
        lens[i] = n;
        pos += n;
    }
    return pos == len ? (int)argc : PROTO_EMALFORMED;
}
