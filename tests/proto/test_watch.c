/* Tests of the transaction watch list (proto/watch.c): round trip, exact
 * bytes, and refusal of every truncation. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(proto, watch_round_trip)
{
    struct proto_buf b;
    const char *keys[3] = {"a", "", "bin\0key"};
    size_t lens[3] = {1, 0, 7};
    uint64_t vers[3] = {0, UINT64_C(0x0102030405060708), UINT64_MAX};
    proto_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        cr_assert(eq(int, proto_watch_add(&b, keys[i], lens[i], vers[i]), 0));
    }
    cr_assert(eq(sz, b.len, 3 * 12 + 8));
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        const char *k;
        size_t kl;
        uint64_t v;
        cr_assert(eq(int,
                     proto_watch_next((const unsigned char *)b.data, b.len,
                                      &pos, &k, &kl, &v),
                     1));
        cr_assert(eq(sz, kl, lens[i]));
        cr_assert(eq(int, memcmp(k, keys[i], kl), 0));
        cr_assert(eq(u64, v, vers[i]));
    }
    const char *k;
    size_t kl;
    uint64_t v;
    cr_assert(eq(int,
                 proto_watch_next((const unsigned char *)b.data, b.len, &pos,
                                  &k, &kl, &v),
                 0));
    proto_buf_fini(&b);
}

Test(proto, watch_exact_bytes)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int, proto_watch_add(&b, "key", 3, 0x0201), 0));
    const unsigned char want[] = {1, 2, 0, 0, 0,   0,   0,  0,
                                  3, 0, 0, 0, 'k', 'e', 'y'};
    cr_assert(eq(sz, b.len, sizeof want));
    cr_assert(eq(int, memcmp(b.data, want, sizeof want), 0));
    proto_buf_fini(&b);
}

Test(proto, watch_refuses_every_truncation)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int, proto_watch_add(&b, "abcdef", 6, 9), 0));
    for (size_t n = 1; n < b.len; n++) {
        size_t pos = 0;
        const char *k;
        size_t kl;
        uint64_t v;
        cr_assert(eq(int,
                     proto_watch_next((const unsigned char *)b.data, n, &pos,
                                      &k, &kl, &v),
                     PROTO_EMALFORMED));
        cr_assert(eq(sz, pos, 0));
    }
    proto_buf_fini(&b);
}
