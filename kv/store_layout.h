/* The layout of the store's table and entries, shared by store.c and
 * store_iter.c only. Never include this from anywhere else. */
#ifndef KV_STORE_LAYOUT_H
#define KV_STORE_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------- */

/* Where an entry's value lives (meta bits 24-25). */
enum storage {
    ST_INT = 0,    /* int64 in the value region */
    ST_INLINE = 1, /* bytes in the value region */
    ST_HEAP = 2,   /* pointer to a struct heapval in the value region */
};

#define META_LEN_BITS  24u
#define META_LEN_MASK  ((1u << META_LEN_BITS) - 1u)
#define META_ST_SHIFT  24u
#define META_ENC_SHIFT 26u
#define META_TYP_SHIFT 28u
#define INLINE_MAX     META_LEN_MASK /* longer values go on the heap */

struct kv_entry
{
    struct kv_entry *next; /* chain in its bucket (owned by the table) */
    int64_t expire;        /* absolute expiry in ms, -1 for none */
    uint64_t version;      /* raft index of the write that last changed
                              this key (WATCH); never 0 */
    uint32_t klen;         /* key bytes at data[0] */
    uint32_t meta;         /* inline value length | storage | enc | type */
    char data[];           /* key, then the value region */
};

/* A value grown in place (APPEND, SETRANGE, SETBIT): capacity beyond the
 * length makes repeated growth amortised O(1). */
struct heapval
{
    uint64_t len; /* bytes in use */
    uint64_t cap; /* bytes allocated in bytes[] */
    char bytes[]; /* the value */
};

struct table
{
    struct kv_entry **b; /* size bucket heads (owned), NULL when size 0 */
    size_t size;         /* 0 or a power of two */
    size_t used;         /* entries chained in this table */
};

struct kv_store
{
    struct table t[2];      /* t[1] is in use only while rehashing */
    size_t rehash_idx;      /* next t[0] bucket to move; NO_REHASH if idle */
    uint64_t k0, k1;        /* SipHash key */
    size_t expires;         /* entries with expire != -1 */
    size_t mem;             /* bytes held by entries, buffers and tables */
    uint64_t sample_cursor; /* kv_store_sample_expired resumes here */
    struct table dead[2];   /* a flushed keyspace being freed in steps */
    size_t dead_idx;        /* next bucket of dead[] to free */
    uint64_t write_version; /* version stamped on entries created or
                               changed now: the index of the log entry
                               being applied (kv_exec sets it; >= 1) */
};

#define NO_REHASH  SIZE_MAX
#define MIN_SIZE   4u
#define PTR_REGION sizeof(void *)

/* ------------------------------------------------------------------------
 * Accessors
 * ---------------------------------------------------------------------- */

static inline enum storage st_of(const struct kv_entry *e)
{
    return (enum storage)((e->meta >> META_ST_SHIFT) & 3u);
}

static inline uint32_t inline_len(const struct kv_entry *e)
{
    return e->meta & META_LEN_MASK;
}

static inline char *region(struct kv_entry *e)
{
    return e->data + e->klen;
}

static inline const char *cregion(const struct kv_entry *e)
{
    return e->data + e->klen;
}

static inline struct heapval *heap_of(const struct kv_entry *e)
{
    struct heapval *h;
    memcpy(&h, cregion(e), sizeof(h));
    return h;
}

static inline uint32_t make_meta(uint32_t len,
                                 enum storage st,
                                 enum kv_enc enc,
                                 enum kv_type type)
{
    return len | (uint32_t)st << META_ST_SHIFT |
           (uint32_t)enc << META_ENC_SHIFT | (uint32_t)type << META_TYP_SHIFT;
}

static inline bool rehashing(const struct kv_store *s)
{
    return s->rehash_idx != NO_REHASH;
}

static inline bool is_expired(const struct kv_entry *e, int64_t now_ms)
{
    return e->expire != -1 && e->expire <= now_ms;
}

#endif /* KV_STORE_LAYOUT_H */
