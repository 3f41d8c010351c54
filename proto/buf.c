/* Growable byte buffer: doubling growth, and never a partial change on
 * failure, so callers can reserve once and then append without checks. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* The first allocation: small replies and short requests fit in it. */
#define MIN_CAP 64

void proto_buf_init(struct proto_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void proto_buf_fini(struct proto_buf *b)
{
    free(b->data);
    proto_buf_init(b);
}

int proto_buf_reserve(struct proto_buf *b, size_t extra)
{
    size_t need;
    size_t cap;
    char *data;

    if (b->cap - b->len >= extra) {
        return 0;
    }
    if (extra > SIZE_MAX - b->len) {
        return -ENOMEM;
    }
    need = b->len + extra;
    /* Doubling keeps a run of appends amortised O(1) per byte. */
    cap = b->cap < MIN_CAP ? MIN_CAP : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    data = realloc(b->data, cap);
    if (data == NULL) {
        return -ENOMEM;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int proto_buf_append(struct proto_buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (proto_buf_reserve(b, n) != 0) {
        return -ENOMEM;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void proto_buf_consume(struct proto_buf *b, size_t n)
{
    /* n > len breaks the contract; dropping everything is the safe
     * reading of it. */
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
