/* The state machine's table of applied request ids (Raft dissertation §6.3,
 * client sessions), so a write retried after a lost reply applies once.
 *
 * Every forwarded write carries a request id that stays the same across
 * its retries. When the FSM applies a command with an id it has seen, it
 * does not execute it again: it answers with the reply it recorded the
 * first time. The table is replicated state: every replica fills it from
 * the same log in the same order, and it travels in snapshots.
 *
 * Bounds: an id is kept for DEDUP_TTL_MS of log time (entry stamps, never
 * a local clock, so every replica forgets the same ids at the same entry),
 * far longer than a forward's retry budget, and the table holds at most
 * DEDUP_MAX ids (oldest forgotten first). A reply is kept encoded. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

#define DEDUP_TTL_MS 60000
#define DEDUP_MAX    (1u << 20)
#define MIN_BUCKETS  1024

struct radapter__dedup_entry
{
    uint64_t id;                         /* request id, never 0 */
    int64_t stamp;                       /* log time it was applied */
    size_t len;                          /* bytes of reply */
    struct radapter__dedup_entry *hnext; /* bucket chain */
    struct radapter__dedup_entry *fnext; /* FIFO, oldest first */
    unsigned char reply[];               /* encoded reply */
};

/* ids are random tokens; mix anyway, cheaply (a murmur3 finalizer step). */
static size_t mix(uint64_t id)
{
    id ^= id >> 33;
    id *= UINT64_C(0xff51afd7ed558ccd);
    id ^= id >> 33;
    return (size_t)id;
}

static size_t bucket_of(const struct radapter__dedup *d, uint64_t id)
{
    return mix(id) & (d->nbuckets - 1);
}

static int grow(struct radapter__dedup *d)
{
    size_t n = d->nbuckets == 0 ? MIN_BUCKETS : d->nbuckets * 2;
    struct radapter__dedup_entry **b = calloc(n, sizeof *b);
    if (b == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct radapter__dedup_entry *e = d->buckets[i];
        while (e != NULL) {
            struct radapter__dedup_entry *next = e->hnext;
            size_t k = mix(e->id) & (n - 1);
            e->hnext = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
    return 0;
}

static void unlink_bucket(struct radapter__dedup *d,
                          struct radapter__dedup_entry *e)
{
    struct radapter__dedup_entry **pp = &d->buckets[bucket_of(d, e->id)];
    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp == e) {
        *pp = e->hnext;
    }
}

static void drop_oldest(struct radapter__dedup *d)
{
    struct radapter__dedup_entry *e = d->head;
    d->head = e->fnext;
    if (d->head == NULL) {
        d->tail = NULL;
    }
    unlink_bucket(d, e);
    d->count--;
    d->bytes -= e->len;
    free(e);
}

bool radapter__dedup_get(struct radapter__dedup *d,
                         uint64_t id,
                         const unsigned char **reply,
                         size_t *len)
{
    if (d->nbuckets == 0) {
        return false;
    }
    for (struct radapter__dedup_entry *e = d->buckets[bucket_of(d, id)];
         e != NULL; e = e->hnext) {
        if (e->id == id) {
            *reply = e->reply;
            *len = e->len;
            return true;
        }
    }
    return false;
}

int radapter__dedup_put(struct radapter__dedup *d,
                        uint64_t id,
                        int64_t stamp,
                        const void *reply,
                        size_t len)
{
    struct radapter__dedup_entry *e;
    size_t k;
    if (d->count >= d->nbuckets && grow(d) != 0) {
        return -ENOMEM;
    }
    e = malloc(sizeof *e + len);
    if (e == NULL) {
        return -ENOMEM;
    }
    e->id = id;
    e->stamp = stamp;
    e->len = len;
    memcpy(e->reply, reply, len);
    k = bucket_of(d, id);
    e->hnext = d->buckets[k];
    d->buckets[k] = e;
    e->fnext = NULL;
    if (d->tail != NULL) {
        d->tail->fnext = e;
    } else {
        d->head = e;
    }
    d->tail = e;
    d->count++;
    d->bytes += len;
    while (d->count > DEDUP_MAX) {
        drop_oldest(d);
    }
    return 0;
}

void radapter__dedup_expire(struct radapter__dedup *d, int64_t now)
{
    while (d->head != NULL && d->head->stamp + DEDUP_TTL_MS < now) {
        drop_oldest(d);
    }
}

void radapter__dedup_clear(struct radapter__dedup *d)
{
    while (d->head != NULL) {
        drop_oldest(d);
    }
    free(d->buckets);
    d->buckets = NULL;
    d->nbuckets = 0;
}

/* ------------------------------------------------------------------------
 * Snapshot encoding: u64 count, then per id (oldest first): u64 id, i64
 * stamp, u32 len, reply bytes. Little endian.
 * ---------------------------------------------------------------------- */

size_t radapter__dedup_encoded_size(const struct radapter__dedup *d)
{
    return 8 + d->count * 20 + d->bytes;
}

void radapter__dedup_encode(const struct radapter__dedup *d, unsigned char *p)
{
    radapter__put_le(p, d->count, 8);
    p += 8;
    for (const struct radapter__dedup_entry *e = d->head; e != NULL;
         e = e->fnext) {
        radapter__put_le(p, e->id, 8);
        radapter__put_le(p + 8, (uint64_t)e->stamp, 8);
        radapter__put_le(p + 16, e->len, 4);
        memcpy(p + 20, e->reply, e->len);
        p += 20 + e->len;
    }
}

int radapter__dedup_decode(struct radapter__dedup *d,
                           const unsigned char *p,
                           size_t len)
{
    uint64_t n;
    size_t pos = 8;
    radapter__dedup_clear(d);
    if (len < 8) {
        return -EPROTO;
    }
    n = radapter__get_le(p, 8);
    if (n > DEDUP_MAX || n > (len - 8) / 20) {
        return -EPROTO;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id;
        int64_t stamp;
        size_t rlen;
        if (len - pos < 20) {
            goto bad;
        }
        id = radapter__get_le(p + pos, 8);
        stamp = (int64_t)radapter__get_le(p + pos + 8, 8);
        rlen = (size_t)radapter__get_le(p + pos + 16, 4);
        pos += 20;
        if (len - pos < rlen || id == 0) {
            goto bad;
        }
        if (radapter__dedup_put(d, id, stamp, p + pos, rlen) != 0) {
            radapter__dedup_clear(d);
            return -ENOMEM;
        }
        pos += rlen;
    }
    if (pos != len) {
        goto bad;
    }
    return 0;
bad:
    radapter__dedup_clear(d);
    return -EPROTO;
}
