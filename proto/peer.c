/* Peer RPC frames (format in proto.h): small fixed-field messages. */

#include <errno.h>
#include <string.h>

#include "proto/proto.h"

/* Number of u64 fields each type carries, indexed by type. */
static const unsigned char nfields[] = {
    [PROTO_PEER_PROBE] = 2,
    [PROTO_PEER_ACK] = 2,
    [PROTO_PEER_READINDEX_REQ] = 1,
    [PROTO_PEER_READINDEX_RESP] = 3,
};

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

    if ((size_t)type >= NTYPES || nfields[type] == 0) {
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
    if (type >= NTYPES || nfields[type] == 0 ||
        body != 1u + 8u * nfields[type]) {
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
    return (long)(4 + body);
}
