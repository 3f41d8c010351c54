/* Entry accessors, key iteration (SCAN cursors, random picks) and
 * active-expiry sampling over the store's table. */
#include <string.h>

#include "kv/kv_internal.h"
#include "kv/store_layout.h"

/* ------------------------------------------------------------------------
 * Entry accessors (kv_internal.h)
 * ---------------------------------------------------------------------- */

enum kv_type kv__type(const struct kv_entry *e)
{
    return (enum kv_type)((e->meta >> META_TYP_SHIFT) & 15u);
}

enum kv_enc kv__enc(const struct kv_entry *e)
{
    return (enum kv_enc)((e->meta >> META_ENC_SHIFT) & 3u);
}

const char *kv__key(const struct kv_entry *e, size_t *klen)
{
    *klen = e->klen;
    return e->data;
}

/* Writes the decimal form of @v at the end of @tmp (24 bytes) and returns
 * where it starts. */
static const char *format_int(int64_t v, char *tmp, size_t *len)
{
    char *end = tmp + 24;
    char *p = end;
    /* Work on the magnitude in unsigned arithmetic so INT64_MIN is fine. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    if (v < 0) {
        *--p = '-';
    }
    *len = (size_t)(end - p);
    return p;
}

const char *kv__str(const struct kv_entry *e, size_t *len, char *tmp)
{
    if (kv__type(e) != KV_TYPE_STRING) {
        *len = 0; /* callers check the type; never read a list as bytes */
        return "";
    }
    switch (st_of(e)) {
        case ST_INT: {
            int64_t iv;
            memcpy(&iv, cregion(e), sizeof(iv));
            return format_int(iv, tmp, len);
        }
        case ST_HEAP: {
            struct heapval *h = heap_of(e);
            *len = (size_t)h->len;
            return h->bytes;
        }
        default:
            *len = inline_len(e);
            return cregion(e);
    }
}

bool kv__int(const struct kv_entry *e, int64_t *v)
{
    if (st_of(e) != ST_INT) {
        return false;
    }
    memcpy(v, cregion(e), sizeof(*v));
    return true;
}

int64_t kv__expire(const struct kv_entry *e)
{
    return e->expire;
}

void kv__set_expire(struct kv_store *s, struct kv_entry *e, int64_t ms)
{
    if (e->expire == -1 && ms != -1) {
        s->expires++;
    } else if (e->expire != -1 && ms == -1) {
        s->expires--;
    }
    e->expire = ms;
    e->version = s->write_version;
}

/* ------------------------------------------------------------------------
 * Iteration
 * ---------------------------------------------------------------------- */

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
    v = ((v >> 16) & 0x0000ffff0000ffffull) |
        ((v & 0x0000ffff0000ffffull) << 16);
    return (v >> 32) | (v << 32);
}

/* Adds one to @v counting from its most significant bit, after setting
 * every bit outside @mask so the carry runs off the top once the bits
 * under @mask wrap. */
static inline uint64_t rev_incr(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    return rev64(rev64(v) + 1);
}

static void visit_chain(struct kv_entry *e, kv__visit_cb fn, void *arg)
{
    while (e != NULL) {
        struct kv_entry *next = e->next;
        fn(arg, e);
        e = next;
    }
}

uint64_t kv__scan(struct kv_store *s,
                  uint64_t cursor,
                  kv__visit_cb fn,
                  void *arg)
{
    if (kv_store_size(s) == 0 || s->t[0].size == 0) {
        return 0;
    }
    if (!rehashing(s)) {
        uint64_t m0 = (uint64_t)s->t[0].size - 1;
        visit_chain(s->t[0].b[cursor & m0], fn, arg);
        return rev_incr(cursor, m0);
    }
    /* While rehashing, a small-table bucket i corresponds to every
     * large-table bucket whose low bits equal i: visit them all before
     * moving on, so the cursor means the same in either table. */
    const struct table *small = &s->t[0];
    const struct table *large = &s->t[1];
    if (small->size > large->size) {
        small = &s->t[1];
        large = &s->t[0];
    }
    uint64_t m0 = (uint64_t)small->size - 1;
    uint64_t m1 = (uint64_t)large->size - 1;
    visit_chain(small->b[cursor & m0], fn, arg);
    do {
        visit_chain(large->b[cursor & m1], fn, arg);
        cursor = rev_incr(cursor, m1);
    } while ((cursor & (m0 ^ m1)) != 0);
    return cursor;
}

/* Buckets ahead whose first entry is prefetched: a whole-keyspace walk
 * (snapshots) is bound by cache misses on scattered entries, and asking
 * for them early overlaps the misses (measured: about 2x on 1M keys). */
#define PREFETCH_AHEAD 16u

void kv__foreach(const struct kv_store *s, kv__visit_cb fn, void *arg)
{
    for (int t = 0; t < 2; t++) {
        const struct table *tb = &s->t[t];
        for (size_t i = 0; i < tb->size; i++) {
            if (i + PREFETCH_AHEAD < tb->size) {
                const struct kv_entry *ahead = tb->b[i + PREFETCH_AHEAD];
                if (ahead != NULL) {
                    __builtin_prefetch(ahead);
                }
            }
            visit_chain(tb->b[i], fn, arg);
        }
    }
}

/* SplitMix64: a tiny, well-mixed generator for the caller's seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Returns the head of bucket @i counting t[0] then t[1]. */
static struct kv_entry *bucket_at(const struct kv_store *s, size_t i)
{
    if (i < s->t[0].size) {
        return s->t[0].b[i];
    }
    return s->t[1].b[i - s->t[0].size];
}

struct kv_entry *kv__random(struct kv_store *s, uint64_t *rng)
{
    if (kv_store_size(s) == 0) {
        return NULL;
    }
    /* Buckets of t[0] below rehash_idx are already empty: skip them. */
    size_t lo = rehashing(s) ? s->rehash_idx : 0;
    size_t total = s->t[0].size + s->t[1].size;
    struct kv_entry *head = NULL;
    /* The load factor stays above 1/10 (shrinking restores it), so a
     * random bucket is non-empty with good odds; the walk after the tries
     * bounds the worst case. */
    for (int tries = 0; tries < 1000 && head == NULL; tries++) {
        head = bucket_at(s, lo + (size_t)(splitmix64(rng) % (total - lo)));
    }
    for (size_t i = lo; head == NULL && i < total; i++) {
        head = bucket_at(s, i);
    }
    if (head == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (struct kv_entry *e = head; e != NULL; e = e->next) {
        n++;
    }
    size_t pick = (size_t)(splitmix64(rng) % n);
    while (pick-- > 0) {
        head = head->next;
    }
    return head;
}

/* ------------------------------------------------------------------------
 * Expiry (kv.h)
 * ---------------------------------------------------------------------- */

struct sample_ctx
{
    int64_t now_ms;
    size_t max;
    size_t reported;
    size_t visited;
    void (*cb)(void *arg, const char *key, size_t len);
    void *arg;
};

static void sample_cb(void *arg, struct kv_entry *e)
{
    struct sample_ctx *c = arg;
    c->visited++;
    if (c->reported < c->max && is_expired(e, c->now_ms)) {
        c->reported++;
        c->cb(c->arg, e->data, e->klen);
    }
}

size_t kv_store_sample_expired(struct kv_store *s,
                               int64_t now_ms,
                               size_t max,
                               void (*cb)(void *arg,
                                          const char *key,
                                          size_t len),
                               void *arg)
{
    struct sample_ctx c = {now_ms, max, 0, 0, cb, arg};

    if (s->expires == 0 || max == 0) {
        return 0;
    }
    /* Bound the effort by keys looked at (20 per wanted key, as Redis's
     * active expire cycle) and by buckets, so a sparse table costs no
     * more than a dense one. */
    size_t key_budget = max > SIZE_MAX / 20 ? SIZE_MAX : max * 20;
    size_t bucket_budget =
        key_budget > SIZE_MAX / 10 ? SIZE_MAX : key_budget * 10;
    /* Stop at the end of a pass too: a small table must not report the
     * same key twice in one call. */
    for (size_t b = 0; b < bucket_budget; b++) {
        s->sample_cursor = kv__scan(s, s->sample_cursor, sample_cb, &c);
        if (c.reported >= max || c.visited >= key_budget ||
            s->sample_cursor == 0) {
            break;
        }
    }
    return c.reported;
}

uint64_t kv__version(const struct kv_entry *e)
{
    return e->version;
}

void kv__stamp(struct kv_store *s, struct kv_entry *e)
{
    e->version = s->write_version;
}

void kv__set_version(struct kv_entry *e, uint64_t version)
{
    e->version = version != KV_VERSION_ABSENT ? version : 1;
}

struct kv_list *kv__list_of(const struct kv_entry *e)
{
    struct kv_list *l;
    memcpy(&l, cregion(e), sizeof(l));
    return l;
}

void kv__set_write_version(struct kv_store *s, uint64_t index)
{
    s->write_version = index != 0 ? index : 1;
}

uint64_t kv_store_version(struct kv_store *s,
                          const char *key,
                          size_t len,
                          int64_t now_ms)
{
    struct kv_entry *e = kv__find(s, key, len, now_ms);
    return e != NULL ? e->version : KV_VERSION_ABSENT;
}

bool kv_store_versions_match(struct kv_store *s,
                             int64_t now_ms,
                             size_t n,
                             const char *const *keys,
                             const size_t *lens,
                             const uint64_t *versions)
{
    for (size_t i = 0; i < n; i++) {
        if (kv_store_version(s, keys[i], lens[i], now_ms) != versions[i]) {
            return false;
        }
    }
    return true;
}

bool kv_store_expire_if_due(struct kv_store *s,
                            const char *key,
                            size_t len,
                            int64_t now_ms)
{
    struct kv_entry *e = kv__find_raw(s, key, len);
    if (e == NULL || !is_expired(e, now_ms)) {
        return false;
    }
    return kv__del(s, key, len);
}
