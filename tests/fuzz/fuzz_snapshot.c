/* Fuzz target: the keyspace snapshot decoder (kv/kv_snapshot.c).
 *
 * Input: the bytes of an uncompressed snapshot (format in kv/kv.h).
 *
 * A mutated snapshot almost always fails its checksum, which would keep
 * the fuzzer out of the entry decoder. So an input that is refused is
 * decoded a second time with its trailer replaced by the checksum its
 * version's rule gives (version 1: FNV-1a 64 bytewise; otherwise over
 * little-endian 8-byte words, then the 0-7 bytes left), which lets every
 * mutation of the entries through.
 *
 * Checks: a refused snapshot leaves the store empty; an accepted one
 * encodes, and decoding that encoding (into a fresh store, and again into
 * a store that already holds keys) gives the same number of keys and of
 * keys with a time to live. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "tests/fuzz/fuzz.h"

#define HEADER_LEN  16
#define TRAILER_LEN 8
#define FNV_OFFSET  0xcbf29ce484222325ull
#define FNV_PRIME   0x100000001b3ull

/* A fixed hash seed: a run must be reproducible. */
static const uint8_t seed[16] = {0x52, 0x4b, 0x56, 0x53, 0x66, 0x75,
                                 0x7a, 0x7a, 0x01, 0x02, 0x03, 0x04,
                                 0x05, 0x06, 0x07, 0x08};

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* The checksum of @p (@n bytes) under the rule of @version. */
static uint64_t checksum(uint32_t version, const uint8_t *p, size_t n)
{
    uint64_t h = FNV_OFFSET;
    size_t i = 0;
    if (version != 1) {
        for (; i + 8 <= n; i += 8) {
            h ^= get_u64(p + i);
            h *= FNV_PRIME;
        }
    }
    for (; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Decodes @data into a new store. Returns the store (owned by the caller)
 * on success, NULL when the snapshot was refused. */
static struct kv_store *decode(const uint8_t *data, size_t size)
{
    struct kv_store *s = kv_store_new(seed);
    int rv;

    FUZZ_CHECK(s != NULL);
    rv = kv_snapshot_decode(s, data, size);
    if (rv != 0) {
        FUZZ_CHECK(rv == -EPROTO || rv == -ENOMEM);
        FUZZ_CHECK(kv_store_size(s) == 0);
        kv_store_free(s);
        return NULL;
    }
    return s;
}

/* Encodes @s, decodes the result and compares. */
static void round_trip(const struct kv_store *s,
                       const uint8_t *data,
                       size_t size)
{
    void *buf;
    size_t len;
    struct kv_store *t;

    FUZZ_CHECK(kv_snapshot_encode(s, &buf, &len) == 0);
    t = decode(buf, len);
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(kv_store_size(t) == kv_store_size(s));
    FUZZ_CHECK(kv_store_expires(t) == kv_store_expires(s));
    /* Decoding replaces what a store holds. */
    FUZZ_CHECK(kv_snapshot_decode(t, data, size) == 0);
    FUZZ_CHECK(kv_store_size(t) == kv_store_size(s));
    FUZZ_CHECK(kv_store_expires(t) == kv_store_expires(s));
    kv_store_free(t);
    free(buf);
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kv_store *s = decode(data, size);
    uint8_t *fixed;

    if (s != NULL) {
        round_trip(s, data, size);
        kv_store_free(s);
        return 0;
    }
    if (size < HEADER_LEN + TRAILER_LEN) {
        return 0;
    }
    fixed = malloc(size);
    FUZZ_CHECK(fixed != NULL);
    memcpy(fixed, data, size);
    uint64_t sum = checksum(get_u32(data + 4), fixed, size - TRAILER_LEN);
    for (int i = 0; i < 8; i++) {
        fixed[size - TRAILER_LEN + (size_t)i] = (uint8_t)(sum >> (8 * i));
    }
    s = decode(fixed, size);
    if (s != NULL) {
        round_trip(s, fixed, size);
        kv_store_free(s);
    }
    free(fixed);
    return 0;
}
