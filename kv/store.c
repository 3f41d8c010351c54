/* The keyspace map: a SipHash-keyed chained hash table with incremental
 * rehashing, and the entries it holds.
 *
 * Layout. Each key is one allocation: a 24-byte header (chain pointer,
 * expiry, key length, packed value length and flags) followed by the key
 * bytes and then the value region. The value region holds either the
 * int64 of an int-encoded value, the value bytes themselves, or (once a
 * command has grown the value in place) a pointer to a separate growable
 * buffer. The region is never shorter than a pointer, so an entry can
 * switch to a separate buffer without moving: a struct kv_entry pointer
 * stays valid across every call except those that replace or delete its
 * key.
 *
 * Rehashing. Like Redis's dict, the store keeps two tables while resizing
 * and moves one bucket per access from the old one to the new one, so no
 * single command pays for a whole resize. The table grows when it holds as
 * many keys as buckets and shrinks when fewer than one bucket in ten is
 * used.
 *
 * Scanning. kv__scan walks buckets in reverse-binary cursor order: the
 * cursor's bits are incremented from the most significant end, so the
 * buckets of a smaller table map onto contiguous runs of a larger one and
 * a key present for the whole scan is reported at least once even if the
 * table is resized between calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"
#include "kv/store_layout.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint64_t hash_key(const struct kv_store *s,
                                const char *key,
                                size_t klen)
{
    return kv__siphash(key, klen, s->k0, s->k1);
}

/* ------------------------------------------------------------------------
 * Allocation with accounting
 * ---------------------------------------------------------------------- */

static size_t usable(void *p, size_t requested)
{
#if defined(__GLIBC__)
    (void)requested;
    return malloc_usable_size(p);
#else
    return requested;
#endif
}

static void *acct_malloc(struct kv_store *s, size_t n)
{
    void *p = malloc(n);
    if (p != NULL) {
        s->mem += usable(p, n);
    }
    return p;
}

static void *acct_calloc(struct kv_store *s, size_t count, size_t n)
{
    void *p = calloc(count, n);
    if (p != NULL) {
        s->mem += usable(p, count * n);
    }
    return p;
}

static void acct_free(struct kv_store *s, void *p, size_t requested)
{
    if (p != NULL) {
        s->mem -= usable(p, requested);
        free(p);
    }
}

void *kv__mem_alloc(struct kv_store *s, size_t n)
{
    return acct_malloc(s, n);
}

void kv__mem_free(struct kv_store *s, void *p, size_t n)
{
    acct_free(s, p, n);
}

/* ------------------------------------------------------------------------
 * Entries
 * ---------------------------------------------------------------------- */

/* The size of the value region. For ST_HEAP, @vlen is the length of the
 * inline region the entry had before its value moved out (0 if it was
 * born on the heap), which the packed length bits keep. */
static size_t region_size(enum storage st, size_t vlen)
{
    if (st == ST_INT) {
        return sizeof(int64_t);
    }
    return vlen < PTR_REGION ? PTR_REGION : vlen;
}

static size_t entry_size(const struct kv_entry *e)
{
    return sizeof(*e) + e->klen + region_size(st_of(e), inline_len(e));
}

static size_t heap_size(uint64_t cap)
{
    return sizeof(struct heapval) + (size_t)cap;
}

static void entry_free(struct kv_store *s, struct kv_entry *e)
{
    if (kv__type(e) == KV_TYPE_LIST) {
        kv__list_free(s, kv__list_of(e));
    } else if (st_of(e) == ST_HEAP) {
        struct heapval *h = heap_of(e);
        acct_free(s, h, heap_size(h->cap));
    }
    acct_free(s, e, entry_size(e));
}

/* Allocates an entry for @key whose value is @val with encoding @enc
 * (KV_ENC_INT requires @val to be canonical decimal). The expiry is -1.
 * Returns NULL on out-of-memory or if a length does not fit. */
static struct kv_entry *entry_new(struct kv_store *s,
                                  const char *key,
                                  size_t klen,
                                  const char *val,
                                  size_t vlen,
                                  enum kv_enc enc)
{
    enum storage st = ST_INLINE;
    int64_t iv = 0;

    if (klen > UINT32_MAX) {
        return NULL;
    }
    if (enc == KV_ENC_INT && kv__str2ll(val, vlen, &iv)) {
        st = ST_INT;
    } else if (enc == KV_ENC_INT) {
        enc = vlen <= 44 ? KV_ENC_EMBSTR : KV_ENC_RAW;
    }
    if (st == ST_INLINE && vlen > INLINE_MAX) {
        st = ST_HEAP;
    }
    size_t rsize = st == ST_HEAP ? PTR_REGION : region_size(st, vlen);
    if (klen > SIZE_MAX - sizeof(struct kv_entry) - rsize) {
        return NULL;
    }
    struct kv_entry *e = acct_malloc(s, sizeof(*e) + klen + rsize);
    if (e == NULL) {
        return NULL;
    }
    e->next = NULL;
    e->expire = -1;
    e->version = s->write_version;
    e->klen = (uint32_t)klen;
    memcpy(e->data, key, klen);
    switch (st) {
        case ST_INT:
            e->meta = make_meta(0, st, KV_ENC_INT, KV_TYPE_STRING);
            memcpy(region(e), &iv, sizeof(iv));
            break;
        case ST_INLINE:
            e->meta = make_meta((uint32_t)vlen, st, enc, KV_TYPE_STRING);
            if (vlen > 0) {
                memcpy(region(e), val, vlen);
            }
            break;
        case ST_HEAP: {
            if (vlen > SIZE_MAX - sizeof(struct heapval)) {
                acct_free(s, e, sizeof(*e) + klen + rsize);
                return NULL;
            }
            struct heapval *h = acct_malloc(s, heap_size(vlen));
            if (h == NULL) {
                acct_free(s, e, sizeof(*e) + klen + rsize);
                return NULL;
            }
            h->len = vlen;
            h->cap = vlen;
            memcpy(h->bytes, val, vlen);
            e->meta = make_meta(0, st, enc, KV_TYPE_STRING);
            memcpy(region(e), &h, sizeof(h));
            break;
        }
    }
    return e;
}

/* Redis's rule for a fresh string: "int" if it is the canonical form of
 * an int64 (at most 20 bytes), "embstr" up to 44 bytes, else "raw". */
static enum kv_enc enc_for(const char *val, size_t vlen)
{
    int64_t iv;
    if (vlen <= 20 && kv__str2ll(val, vlen, &iv)) {
        return KV_ENC_INT;
    }
    return vlen <= 44 ? KV_ENC_EMBSTR : KV_ENC_RAW;
}

/* ------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------- */

static size_t next_pow2(size_t n)
{
    size_t size = MIN_SIZE;
    while (size < n && size <= SIZE_MAX / 2) {
        size *= 2;
    }
    return size;
}

/* Starts a resize to the smallest power of two >= @n. Failure to allocate
 * is harmless: chains just get longer until a later attempt succeeds. */
static void resize(struct kv_store *s, size_t n)
{
    size_t size = next_pow2(n);
    if (rehashing(s) || size == s->t[0].size ||
        size > SIZE_MAX / sizeof(struct kv_entry *)) {
        return;
    }
    struct kv_entry **b = acct_calloc(s, size, sizeof(*b));
    if (b == NULL) {
        return;
    }
    struct table fresh = {.b = b, .size = size, .used = 0};
    if (s->t[0].size == 0) {
        s->t[0] = fresh;
        return;
    }
    s->t[1] = fresh;
    s->rehash_idx = 0;
}

/* Moves up to @n non-empty buckets from t[0] to t[1], looking at no more
 * than 10*@n empty ones, so one step has a bounded cost even across a
 * sparse stretch. Returns true if rehashing is still under way. */
static bool rehash(struct kv_store *s, size_t n)
{
    size_t empty_budget = n * 10;

    if (!rehashing(s)) {
        return false;
    }
    struct table *from = &s->t[0];
    struct table *to = &s->t[1];
    while (n-- > 0 && from->used > 0) {
        while (from->b[s->rehash_idx] == NULL) {
            s->rehash_idx++;
            if (--empty_budget == 0) {
                return true;
            }
        }
        struct kv_entry *e = from->b[s->rehash_idx];
        while (e != NULL) {
            struct kv_entry *next = e->next;
            size_t i = (size_t)hash_key(s, e->data, e->klen) & (to->size - 1);
            e->next = to->b[i];
            to->b[i] = e;
            from->used--;
            to->used++;
            e = next;
        }
        from->b[s->rehash_idx] = NULL;
        s->rehash_idx++;
    }
    if (from->used > 0) {
        return true;
    }
    acct_free(s, from->b, from->size * sizeof(*from->b));
    s->t[0] = s->t[1];
    memset(&s->t[1], 0, sizeof(s->t[1]));
    s->rehash_idx = NO_REHASH;
    return false;
}

static inline void step(struct kv_store *s)
{
    if (rehashing(s)) {
        rehash(s, 1);
    }
}

/* Starts a shrink when fewer than one bucket in ten is used. */
static void maybe_shrink(struct kv_store *s)
{
    const struct table *t = &s->t[0];
    if (!rehashing(s) && t->size > MIN_SIZE && t->used * 10 < t->size) {
        resize(s, t->used);
    }
}

/* Returns the link that points at @key's entry (a bucket head or a
 * predecessor's next field), or NULL; *tab is the table index. */
static struct kv_entry **lookup(struct kv_store *s,
                                const char *key,
                                size_t klen,
                                uint64_t h,
                                int *tab)
{
    for (int t = 0; t < 2; t++) {
        struct table *tb = &s->t[t];
        if (tb->size == 0) {
            break;
        }
        struct kv_entry **link = &tb->b[(size_t)h & (tb->size - 1)];
        for (; *link != NULL; link = &(*link)->next) {
            struct kv_entry *e = *link;
            if (e->klen == klen && memcmp(e->data, key, klen) == 0) {
                *tab = t;
                return link;
            }
        }
        if (!rehashing(s)) {
            break;
        }
    }
    return NULL;
}

/* Makes sure a table exists, so that insert() always has buckets. */
static int ensure_table(struct kv_store *s)
{
    if (s->t[0].size == 0) {
        resize(s, MIN_SIZE);
        if (s->t[0].size == 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* Chains the new entry @e (hash @h) into the table that takes inserts,
 * growing first when the load factor has reached 1. A table exists
 * (ensure_table). */
static void insert(struct kv_store *s, struct kv_entry *e, uint64_t h)
{
    if (!rehashing(s) && s->t[0].used >= s->t[0].size) {
        resize(s, s->t[0].used + 1);
    }
    struct table *tb = rehashing(s) ? &s->t[1] : &s->t[0];
    size_t i = (size_t)h & (tb->size - 1);
    e->next = tb->b[i];
    tb->b[i] = e;
    tb->used++;
    if (e->expire != -1) {
        s->expires++;
    }
}

/* Unchains the entry at @link from table @tab and returns it. */
static struct kv_entry *unlink_at(struct kv_store *s,
                                  struct kv_entry **link,
                                  int tab)
{
    struct kv_entry *e = *link;
    *link = e->next;
    e->next = NULL;
    s->t[tab].used--;
    if (e->expire != -1) {
        s->expires--;
    }
    return e;
}

/* Replaces the entry at @link by @fresh in place (same key). */
static void replace_at(struct kv_store *s,
                       struct kv_entry **link,
                       struct kv_entry *fresh)
{
    struct kv_entry *old = *link;
    fresh->next = old->next;
    *link = fresh;
    if (old->expire != -1) {
        s->expires--;
    }
    if (fresh->expire != -1) {
        s->expires++;
    }
    entry_free(s, old);
}

/* ------------------------------------------------------------------------
 * The store (kv.h)
 * ---------------------------------------------------------------------- */

struct kv_store *kv_store_new(const uint8_t seed[16])
{
    struct kv_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    if (seed != NULL) {
        s->k0 = load_le64(seed);
        s->k1 = load_le64(seed + 8);
    }
    s->rehash_idx = NO_REHASH;
    s->write_version = 1;
    return s;
}

/* Frees the entries of @tb's buckets [from, to); returns entries freed. */
static size_t free_buckets(struct kv_store *s,
                           struct table *tb,
                           size_t from,
                           size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        struct kv_entry *e = tb->b[i];
        while (e != NULL) {
            struct kv_entry *next = e->next;
            entry_free(s, e);
            e = next;
            n++;
        }
        tb->b[i] = NULL;
    }
    return n;
}

static void free_table(struct kv_store *s, struct table *tb)
{
    free_buckets(s, tb, 0, tb->size);
    acct_free(s, tb->b, tb->size * sizeof(*tb->b));
    memset(tb, 0, sizeof(*tb));
}

/* Frees what an earlier flush left, at most about @budget entries; returns
 * true if more remains. */
static bool dead_step(struct kv_store *s, size_t budget)
{
    size_t freed = 0;
    for (int t = 0; t < 2; t++) {
        struct table *tb = &s->dead[t];
        while (s->dead_idx < tb->size && freed < budget) {
            freed += free_buckets(s, tb, s->dead_idx, s->dead_idx + 1);
            s->dead_idx++;
        }
        if (s->dead_idx < tb->size) {
            return true;
        }
        if (tb->size > 0) {
            free_table(s, tb);
        }
        s->dead_idx = 0;
    }
    return false;
}

void kv_store_clear(struct kv_store *s)
{
    /* A big keyspace is not freed here, on the loop: the tables move aside
     * and kv_store_rehash_step frees them in bounded steps, like Redis's
     * lazy free. Nothing of them is visible any more. */
    if (kv_store_size(s) > KV_LAZYFREE_MIN) {
        dead_step(s, SIZE_MAX); /* an earlier flush still in progress */
        s->dead[0] = s->t[0];
        s->dead[1] = s->t[1];
        s->dead_idx = 0;
        memset(s->t, 0, sizeof(s->t));
    } else {
        free_table(s, &s->t[0]);
        free_table(s, &s->t[1]);
    }
    s->rehash_idx = NO_REHASH;
    s->expires = 0;
    s->sample_cursor = 0;
}

bool kv_store_freeing(const struct kv_store *s)
{
    return s->dead[0].size > 0 || s->dead[1].size > 0;
}

void kv_store_free(struct kv_store *s)
{
    if (s == NULL) {
        return;
    }
    kv_store_clear(s);
    dead_step(s, SIZE_MAX);
    free(s);
}

size_t kv_store_size(const struct kv_store *s)
{
    return s->t[0].used + s->t[1].used;
}

size_t kv_store_expires(const struct kv_store *s)
{
    return s->expires;
}

size_t kv_store_memory(const struct kv_store *s)
{
    return s->mem;
}

bool kv_store_rehash_step(struct kv_store *s, int steps)
{
    if (kv_store_freeing(s)) {
        dead_step(s, (steps > 0 ? (size_t)steps : 1) * 500);
    }
    if (!rehashing(s)) {
        maybe_shrink(s);
    }
    if (rehash(s, steps > 0 ? (size_t)steps : 1)) {
        return true;
    }
    /* A finished resize may leave the table sparse enough for another
     * shrink (deletes during a rehash cannot start one). */
    maybe_shrink(s);
    return rehashing(s) || kv_store_freeing(s);
}

/* ------------------------------------------------------------------------
 * Keys (kv_internal.h)
 * ---------------------------------------------------------------------- */

struct kv_entry *kv__find_raw(struct kv_store *s, const char *key, size_t klen)
{
    int tab;
    step(s);
    struct kv_entry **link = lookup(s, key, klen, hash_key(s, key, klen), &tab);
    return link != NULL ? *link : NULL;
}

struct kv_entry *kv__find(struct kv_store *s,
                          const char *key,
                          size_t klen,
                          int64_t now_ms)
{
    struct kv_entry *e = kv__find_raw(s, key, klen);
    return e != NULL && !is_expired(e, now_ms) ? e : NULL;
}

/* Puts @fresh (key @key, hash @h) in place of any entry for the key, or
 * adds it. @fresh's expiry is already set. */
static void put(struct kv_store *s,
                const char *key,
                size_t klen,
                uint64_t h,
                struct kv_entry *fresh)
{
    int tab;
    struct kv_entry **link = lookup(s, key, klen, h, &tab);
    if (link != NULL) {
        replace_at(s, link, fresh);
    } else {
        insert(s, fresh, h);
    }
}

int kv__set_str(struct kv_store *s,
                const char *key,
                size_t klen,
                const char *val,
                size_t vlen,
                int64_t expire_ms,
                bool keep_ttl,
                int64_t now_ms)
{
    int tab;
    step(s);
    if (ensure_table(s) != 0) {
        return -ENOMEM;
    }
    uint64_t h = hash_key(s, key, klen);
    struct kv_entry **link = lookup(s, key, klen, h, &tab);
    if (keep_ttl && link != NULL && !is_expired(*link, now_ms)) {
        expire_ms = (*link)->expire;
    }
    /* Build the new entry before touching the old one: @key and @val may
     * point into the entry being replaced. */
    struct kv_entry *fresh =
        entry_new(s, key, klen, val, vlen, enc_for(val, vlen));
    if (fresh == NULL) {
        return -ENOMEM;
    }
    fresh->expire = expire_ms;
    if (link != NULL) {
        replace_at(s, link, fresh);
    } else {
        insert(s, fresh, h);
    }
    return 0;
}

int kv__set_copy(struct kv_store *s,
                 const struct kv_entry *src,
                 const char *key,
                 size_t klen,
                 int64_t expire_ms)
{
    char tmp[24];
    size_t vlen;
    step(s);
    if (ensure_table(s) != 0) {
        return -ENOMEM;
    }
    if (kv__type(src) == KV_TYPE_LIST) {
        struct kv_list *l = kv__list_dup(s, kv__list_of(src));
        if (l == NULL) {
            return -ENOMEM;
        }
        if (kv__set_list(s, key, klen, l, expire_ms) == NULL) {
            kv__list_free(s, l);
            return -ENOMEM;
        }
        return 0;
    }
    const char *val = kv__str(src, &vlen, tmp);
    struct kv_entry *fresh = entry_new(s, key, klen, val, vlen, kv__enc(src));
    if (fresh == NULL) {
        return -ENOMEM;
    }
    fresh->expire = expire_ms;
    put(s, key, klen, hash_key(s, key, klen), fresh);
    return 0;
}

int kv__rename(struct kv_store *s,
               const char *key,
               size_t klen,
               const char *newkey,
               size_t nklen)
{
    int tab;
    step(s);
    uint64_t h = hash_key(s, key, klen);
    struct kv_entry **link = lookup(s, key, klen, h, &tab);
    if (link == NULL) {
        return -ENOENT;
    }
    if (klen == nklen && memcmp(key, newkey, klen) == 0) {
        return 0;
    }
    struct kv_entry *src = *link;
    struct kv_entry *fresh;
    if (st_of(src) == ST_HEAP) {
        /* Move the buffer instead of copying it: only the small entry
         * (which carries the key) is reallocated. */
        size_t rsize = PTR_REGION;
        if (nklen > UINT32_MAX || nklen > SIZE_MAX - sizeof(*fresh) - rsize) {
            return -ENOMEM;
        }
        fresh = acct_malloc(s, sizeof(*fresh) + nklen + rsize);
        if (fresh == NULL) {
            return -ENOMEM;
        }
        fresh->klen = (uint32_t)nklen;
        fresh->version = s->write_version;
        fresh->meta = make_meta(0, ST_HEAP, kv__enc(src), kv__type(src));
        memcpy(fresh->data, newkey, nklen);
        memcpy(region(fresh), cregion(src), PTR_REGION);
    } else {
        char tmp[24];
        size_t vlen;
        const char *val = kv__str(src, &vlen, tmp);
        fresh = entry_new(s, newkey, nklen, val, vlen, kv__enc(src));
        if (fresh == NULL) {
            return -ENOMEM;
        }
    }
    fresh->next = NULL;
    fresh->expire = src->expire;
    /* Unchain the source first (it cannot be the destination), then free
     * its shell: its heap buffer, if any, now belongs to @fresh. */
    unlink_at(s, link, tab);
    if (st_of(src) == ST_HEAP) {
        acct_free(s, src, entry_size(src));
    } else {
        entry_free(s, src);
    }
    put(s, newkey, nklen, hash_key(s, newkey, nklen), fresh);
    return 0;
}

struct kv_entry *kv__set_list(struct kv_store *s,
                              const char *key,
                              size_t klen,
                              struct kv_list *l,
                              int64_t expire_ms)
{
    step(s);
    if (ensure_table(s) != 0 || klen > UINT32_MAX ||
        klen > SIZE_MAX - sizeof(struct kv_entry) - PTR_REGION) {
        return NULL;
    }
    struct kv_entry *fresh = acct_malloc(s, sizeof(*fresh) + klen + PTR_REGION);
    if (fresh == NULL) {
        return NULL;
    }
    fresh->next = NULL;
    fresh->expire = expire_ms;
    fresh->version = s->write_version;
    fresh->klen = (uint32_t)klen;
    fresh->meta = make_meta(0, ST_HEAP, 0, KV_TYPE_LIST);
    memcpy(fresh->data, key, klen);
    memcpy(region(fresh), &l, sizeof(l));
    put(s, key, klen, hash_key(s, key, klen), fresh);
    return fresh;
}

bool kv__del(struct kv_store *s, const char *key, size_t klen)
{
    int tab;
    step(s);
    struct kv_entry **link = lookup(s, key, klen, hash_key(s, key, klen), &tab);
    if (link == NULL) {
        return false;
    }
    entry_free(s, unlink_at(s, link, tab));
    maybe_shrink(s);
    return true;
}

/* Redis's growth rule for strings grown in place: double below 1 MiB,
 * then add 1 MiB at a time. */
#define GROW_LIMIT ((uint64_t)1 << 20)

char *kv__str_resize(struct kv_store *s, struct kv_entry *e, size_t newlen)
{
    if (newlen > SIZE_MAX - sizeof(struct heapval) - GROW_LIMIT) {
        return NULL;
    }
    /* The caller writes the returned bytes: a change either way. On
     * failure below the value is unchanged, and a version bumped anyway
     * only makes a watching EXEC abort, never run wrongly. */
    e->version = s->write_version;
    if (st_of(e) == ST_HEAP) {
        struct heapval *h = heap_of(e);
        if (newlen > h->cap) {
            uint64_t cap = newlen < GROW_LIMIT ? (uint64_t)newlen * 2
                                               : (uint64_t)newlen + GROW_LIMIT;
            size_t old_usable = usable(h, heap_size(h->cap));
            struct heapval *g = realloc(h, heap_size(cap));
            if (g == NULL) {
                return NULL;
            }
            s->mem = s->mem - old_usable + usable(g, heap_size(cap));
            g->cap = cap;
            h = g;
            memcpy(region(e), &h, sizeof(h));
        }
        if (newlen > h->len) {
            memset(h->bytes + h->len, 0, newlen - (size_t)h->len);
        }
        h->len = newlen;
        return h->bytes;
    }
    /* First in-place change: move the value to its own exact-size buffer
     * (Redis too turns embstr and int into raw here). The entry keeps its
     * now unused region: it cannot shrink without moving. */
    char tmp[24];
    size_t oldlen;
    const char *old = kv__str(e, &oldlen, tmp);
    struct heapval *h = acct_malloc(s, heap_size(newlen));
    if (h == NULL) {
        return NULL;
    }
    h->len = newlen;
    h->cap = newlen;
    size_t keep = oldlen < newlen ? oldlen : newlen;
    memcpy(h->bytes, old, keep);
    memset(h->bytes + keep, 0, newlen - keep);
    /* The region keeps the size it was allocated with, and the packed
     * length bits remember it so entry_size() stays right. An int region
     * is 8 bytes, the same as a pointer region, recorded as 0. */
    uint32_t keep_len = st_of(e) == ST_INLINE ? inline_len(e) : 0;
    e->meta = make_meta(keep_len, ST_HEAP, KV_ENC_RAW, kv__type(e));
    memcpy(region(e), &h, sizeof(h));
    return h->bytes;
}

/* ------------------------------------------------------------------------
 * Restore (kv_snapshot.c)
 * ---------------------------------------------------------------------- */

void kv__reserve(struct kv_store *s, size_t n)
{
    if (kv_store_size(s) == 0 && !rehashing(s) && n > s->t[0].size) {
        acct_free(s, s->t[0].b, s->t[0].size * sizeof(*s->t[0].b));
        memset(&s->t[0], 0, sizeof(s->t[0]));
        resize(s, n);
    }
}

int kv__restore(struct kv_store *s,
                const char *key,
                size_t klen,
                const char *val,
                size_t vlen,
                enum kv_enc enc,
                int64_t expire_ms,
                uint64_t version)
{
    int tab;
    if (ensure_table(s) != 0) {
        return -ENOMEM;
    }
    uint64_t h = hash_key(s, key, klen);
    if (lookup(s, key, klen, h, &tab) != NULL) {
        return -EEXIST;
    }
    struct kv_entry *e = entry_new(s, key, klen, val, vlen, enc);
    if (e == NULL) {
        return -ENOMEM;
    }
    e->expire = expire_ms;
    e->version = version != 0 ? version : 1;
    insert(s, e, h);
    return 0;
}
