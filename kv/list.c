/* List values: a ring of element pointers (O(1) push and pop at both
 * ends, O(1) index), every allocation counted in the store's memory. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------- */

struct elem
{
    uint64_t len; /* bytes */
    char bytes[];
};

struct kv_list
{
    struct elem **ring; /* owned: cap slots (a power of two), or NULL */
    uint64_t cap;       /* slots */
    uint64_t head;      /* slot of the first element */
    uint64_t n;         /* elements */
    uint64_t bytes;     /* sum of element lengths */
};

#define MIN_CAP 4u

static size_t elem_size(uint64_t len)
{
    return sizeof(struct elem) + (size_t)len;
}

static struct elem **slot(const struct kv_list *l, uint64_t i)
{
    return &l->ring[(l->head + i) & (l->cap - 1)];
}

/* ------------------------------------------------------------------------
 * Lifetime
 * ---------------------------------------------------------------------- */

struct kv_list *kv__list_new(struct kv_store *s)
{
    struct kv_list *l = kv__mem_alloc(s, sizeof(*l));
    if (l != NULL) {
        memset(l, 0, sizeof(*l));
    }
    return l;
}

void kv__list_free(struct kv_store *s, struct kv_list *l)
{
    if (l == NULL) {
        return;
    }
    for (uint64_t i = 0; i < l->n; i++) {
        struct elem *e = *slot(l, i);
        kv__mem_free(s, e, elem_size(e->len));
    }
    kv__mem_free(s, l->ring, (size_t)l->cap * sizeof(*l->ring));
    kv__mem_free(s, l, sizeof(*l));
}

/* Makes room for @more elements. Returns 0 or -ENOMEM (unchanged). */
static int reserve(struct kv_store *s, struct kv_list *l, uint64_t more)
{
    if (more > UINT32_MAX || l->n + more <= l->cap) {
        return more > UINT32_MAX ? -ENOMEM : 0;
    }
    uint64_t cap = l->cap < MIN_CAP ? MIN_CAP : l->cap;
    while (cap < l->n + more) {
        cap *= 2;
    }
    if (cap > SIZE_MAX / sizeof(*l->ring)) {
        return -ENOMEM;
    }
    struct elem **ring = kv__mem_alloc(s, (size_t)cap * sizeof(*ring));
    if (ring == NULL) {
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < l->n; i++) {
        ring[i] = *slot(l, i);
    }
    kv__mem_free(s, l->ring, (size_t)l->cap * sizeof(*l->ring));
    l->ring = ring;
    l->cap = cap;
    l->head = 0;
    return 0;
}

/* Lets the ring shrink to a quarter full at most (Redis frees list memory
 * as elements go too). Best effort: a failed allocation keeps it. */
static void maybe_shrink(struct kv_store *s, struct kv_list *l)
{
    if (l->cap <= MIN_CAP || l->n * 4 > l->cap) {
        return;
    }
    uint64_t cap = l->cap / 2;
    struct elem **ring = kv__mem_alloc(s, (size_t)cap * sizeof(*ring));
    if (ring == NULL) {
        return;
    }
    for (uint64_t i = 0; i < l->n; i++) {
        ring[i] = *slot(l, i);
    }
    kv__mem_free(s, l->ring, (size_t)l->cap * sizeof(*l->ring));
    l->ring = ring;
    l->cap = cap;
    l->head = 0;
}

struct kv_list *kv__list_dup(struct kv_store *s, const struct kv_list *l)
{
    struct kv_list *c = kv__list_new(s);
    if (c == NULL || reserve(s, c, l->n) != 0) {
        kv__list_free(s, c);
        return NULL;
    }
    for (uint64_t i = 0; i < l->n; i++) {
        const struct elem *e = *slot(l, i);
        struct elem *d = kv__mem_alloc(s, elem_size(e->len));
        if (d == NULL) {
            kv__list_free(s, c);
            return NULL;
        }
        memcpy(d, e, elem_size(e->len));
        c->ring[i] = d;
        c->n++;
        c->bytes += e->len;
    }
    return c;
}

/* ------------------------------------------------------------------------
 * Access
 * ---------------------------------------------------------------------- */

uint64_t kv__list_len(const struct kv_list *l)
{
    return l->n;
}

uint64_t kv__list_bytes(const struct kv_list *l)
{
    return l->bytes;
}

const char *kv__list_at(const struct kv_list *l, uint64_t i, size_t *len)
{
    const struct elem *e = *slot(l, i);
    *len = (size_t)e->len;
    return e->bytes;
}

int kv__list_push(struct kv_store *s,
                  struct kv_list *l,
                  bool left,
                  size_t n,
                  const char *const *vals,
                  const size_t *lens)
{
    if (reserve(s, l, n) != 0) {
        return -ENOMEM;
    }
    /* Allocate every element before linking any: all or nothing. The
     * ring's extra room is harmless if this fails. */
    struct elem **fresh = kv__mem_alloc(s, n * sizeof(*fresh) + 1);
    if (fresh == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        fresh[i] = kv__mem_alloc(s, elem_size(lens[i]));
        if (fresh[i] == NULL) {
            while (i-- > 0) {
                kv__mem_free(s, fresh[i], elem_size(lens[i]));
            }
            kv__mem_free(s, fresh, n * sizeof(*fresh) + 1);
            return -ENOMEM;
        }
        fresh[i]->len = lens[i];
        memcpy(fresh[i]->bytes, vals[i], lens[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (left) {
            l->head = (l->head + l->cap - 1) & (l->cap - 1);
            l->ring[l->head] = fresh[i];
        } else {
            l->ring[(l->head + l->n) & (l->cap - 1)] = fresh[i];
        }
        l->n++;
        l->bytes += lens[i];
    }
    kv__mem_free(s, fresh, n * sizeof(*fresh) + 1);
    return 0;
}

void kv__list_pop(struct kv_store *s, struct kv_list *l, bool left)
{
    struct elem **at = left ? slot(l, 0) : slot(l, l->n - 1);
    struct elem *e = *at;
    *at = NULL;
    if (left) {
        l->head = (l->head + 1) & (l->cap - 1);
    }
    l->n--;
    l->bytes -= e->len;
    kv__mem_free(s, e, elem_size(e->len));
    maybe_shrink(s, l);
}

/* ------------------------------------------------------------------------
 * Snapshot form
 * ---------------------------------------------------------------------- */

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
        v = v << 8 | p[i];
    }
    return v;
}

uint64_t kv__list_encoded_size(const struct kv_list *l)
{
    return 8 + 8 * l->n + l->bytes;
}

void kv__list_encode(const struct kv_list *l,
                     void (*put)(void *arg, const void *p, size_t n),
                     void *arg)
{
    unsigned char b[8];
    put_u64(b, l->n);
    put(arg, b, 8);
    for (uint64_t i = 0; i < l->n; i++) {
        const struct elem *e = *slot(l, i);
        put_u64(b, e->len);
        put(arg, b, 8);
        put(arg, e->bytes, (size_t)e->len);
    }
}

int kv__restore_list(struct kv_store *s,
                     const char *key,
                     size_t klen,
                     const char *val,
                     size_t vlen,
                     int64_t expire_ms,
                     uint64_t version)
{
    const unsigned char *p = (const unsigned char *)val;
    if (kv__find_raw(s, key, klen) != NULL) {
        return -EEXIST;
    }
    if (vlen < 8) {
        return -EPROTO;
    }
    uint64_t n = get_u64(p);
    /* Every element takes at least its 8-byte length. */
    if (n == 0 || n > (vlen - 8) / 8) {
        return -EPROTO;
    }
    struct kv_list *l = kv__list_new(s);
    if (l == NULL || reserve(s, l, n) != 0) {
        kv__list_free(s, l);
        return -ENOMEM;
    }
    size_t pos = 8;
    int rv = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (vlen - pos < 8 || get_u64(p + pos) > vlen - pos - 8) {
            rv = -EPROTO;
            break;
        }
        size_t len = (size_t)get_u64(p + pos);
        struct elem *e = kv__mem_alloc(s, elem_size(len));
        if (e == NULL) {
            rv = -ENOMEM;
            break;
        }
        e->len = len;
        memcpy(e->bytes, p + pos + 8, len);
        l->ring[i] = e;
        l->n++;
        l->bytes += len;
        pos += 8 + len;
    }
    if (rv == 0 && pos != vlen) {
        rv = -EPROTO;
    }
    if (rv != 0) {
        kv__list_free(s, l);
        return rv;
    }
    struct kv_entry *e = kv__set_list(s, key, klen, l, expire_ms);
    if (e == NULL) {
        kv__list_free(s, l);
        return -ENOMEM;
    }
    kv__set_version(e, version);
    return 0;
}
