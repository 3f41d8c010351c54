/* The watch list carried by a transaction (format in proto.h). */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

#define ITEM_FIXED PROTO_WATCH_ITEM_FIXED /* version, key length */

int proto_watch_add(struct proto_buf *out,
                    const char *key,
                    size_t len,
                    uint64_t version)
{
    unsigned char fixed[ITEM_FIXED];
    if (len > UINT32_MAX) {
        return -EINVAL;
    }
    if (proto_buf_reserve(out, ITEM_FIXED + len) != 0) {
        return -ENOMEM;
    }
    for (int i = 0; i < 8; i++) {
        fixed[i] = (unsigned char)(version >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        fixed[8 + i] = (unsigned char)(len >> (8 * i));
    }
    /* Cannot fail: the room is reserved. */
    (void)proto_buf_append(out, fixed, sizeof fixed);
    (void)proto_buf_append(out, key, len);
    return 0;
}

int proto_watch_next(const unsigned char *p,
                     size_t len,
                     size_t *pos,
                     const char **key,
                     size_t *klen,
                     uint64_t *version)
{
    size_t at = *pos;
    uint64_t v = 0;
    size_t k = 0;
    if (at == len) {
        return 0;
    }
    if (at > len || len - at < ITEM_FIXED) {
        return PROTO_EMALFORMED;
    }
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[at + (size_t)i];
    }
    for (int i = 3; i >= 0; i--) {
        k = k << 8 | p[at + 8 + (size_t)i];
    }
    at += ITEM_FIXED;
    if (k > len - at) {
        return PROTO_EMALFORMED;
    }
    *key = (const char *)p + at;
    *klen = k;
    *version = v;
    *pos = at + k;
    return 1;
}
