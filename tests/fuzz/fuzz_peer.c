/* Fuzz target: the peer-RPC frames (proto/peer.c).
 *
 * Input: the bytes read from a peer connection after its opening, parsed
 * as a stream of frames; the same bytes are also decoded as a FORWARD
 * payload on their own.
 *
 * Checks: a frame the parser accepts took at most the bytes given, its
 * payload is a view inside them, and every shorter prefix of it asks for
 * more bytes; writing the decoded frame again gives the same bytes; a
 * FORWARD payload that decodes encodes back to itself. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"
#include "tests/fuzz/fuzz.h"

/* Arguments a decoded FORWARD payload may hold here: enough that the
 * fuzzer can reach the limit. */
#define MAX_ARGS 16

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static bool has_payload(unsigned type)
{
    return type == PROTO_PEER_FORWARD || type == PROTO_PEER_FORWARD_RESP ||
           type == PROTO_PEER_JOIN || type == PROTO_PEER_JOIN_RESP ||
           type == PROTO_PEER_ADDRS;
}

/* Decodes @p as FORWARD arguments and, if that works, checks the views and
 * that encoding them gives @p back. */
static void check_args(const unsigned char *p, size_t len)
{
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    struct proto_buf b;
    int argc = proto_peer_decode_args(p, len, argv, lens, MAX_ARGS);

    if (argc < 0) {
        FUZZ_CHECK(argc == PROTO_EMALFORMED);
        return;
    }
    FUZZ_CHECK(argc >= 1 && argc <= MAX_ARGS);
    for (int i = 0; i < argc; i++) {
        const unsigned char *a = (const unsigned char *)argv[i];
        FUZZ_CHECK(a >= p && lens[i] <= len &&
                   (size_t)(a - p) <= len - lens[i]);
    }
    proto_buf_init(&b);
    FUZZ_CHECK(proto_peer_encode_args(&b, argc, argv, lens) == 0);
    FUZZ_CHECK(b.len == len && memcmp(b.data, p, len) == 0);
    proto_buf_fini(&b);
}

/* Checks one frame of @n bytes at @p that decoded into @m. */
static void check_frame(const unsigned char *p,
                        size_t n,
                        const struct proto_peer_msg *m)
{
    struct proto_peer_msg again;
    struct proto_buf b;

    FUZZ_CHECK(proto_peer_parse(p, n - 1, &again) == 0);
    proto_buf_init(&b);
    if (has_payload(m->type)) {
        const void *parts[1] = {m->payload};
        size_t lens[1] = {m->payload_len};
        FUZZ_CHECK(m->payload != NULL && m->payload >= p &&
                   m->payload_len <= n &&
                   (size_t)(m->payload - p) == n - m->payload_len);
        FUZZ_CHECK(m->c == 0);
        FUZZ_CHECK(proto_peer_write_payload(&b, (enum proto_peer_type)m->type,
                                            m->a, m->b, parts, lens,
                                            m->payload_len > 0 ? 1 : 0) == 0);
        if (m->type == PROTO_PEER_FORWARD) {
            check_args(m->payload, m->payload_len);
        }
    } else {
        FUZZ_CHECK(m->payload == NULL && m->payload_len == 0);
        FUZZ_CHECK(proto_peer_write(&b, (enum proto_peer_type)m->type, m->a,
                                    m->b, m->c) == 0);
    }
    FUZZ_CHECK(b.len == n && memcmp(b.data, p, n) == 0);
    proto_buf_fini(&b);
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct proto_peer_msg m;
        long n = proto_peer_parse(data + off, size - off, &m);
        if (n <= 0) {
            FUZZ_CHECK(n == 0 || n == PROTO_EMALFORMED);
            break;
        }
        FUZZ_CHECK((size_t)n <= size - off);
        check_frame(data + off, (size_t)n, &m);
        off += (size_t)n;
    }
    check_args(data, size);
    return 0;
}
