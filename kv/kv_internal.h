/* kv's private interface between the store and the command files. Never
 * include this from another directory. */
#ifndef KV_KV_INTERNAL_H
#define KV_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

/* ------------------------------------------------------------------------
 * Values. Issue 2 has strings only; the type byte leaves room for more.
 * ---------------------------------------------------------------------- */

enum kv_type {
    KV_TYPE_STRING = 1,
    KV_TYPE_LIST = 2,
};

/* How a string is held, as OBJECT ENCODING reports it: "int" for a value
 * that is the canonical decimal form of an int64 (Redis's rule: no leading
 * zeros or '+', length <= 20), "embstr" for a non-integer of <= 44 bytes,
 * "raw" otherwise (Redis also turns embstr into raw after APPEND/SETRANGE/
 * SETBIT; mirror that with a flag). */
enum kv_enc {
    KV_ENC_INT = 1,
    KV_ENC_EMBSTR,
    KV_ENC_RAW,
};

struct kv_entry; /* opaque: one key, its value and its expiry */

/* Finds @key. A key with expire <= @now_ms is treated as absent (it stays
 * in the table until a replicated delete removes it or a write replaces
 * it). Returns a view valid until the next call that mutates @s, or NULL. */
struct kv_entry *kv__find(struct kv_store *s,
                          const char *key,
                          size_t klen,
                          int64_t now_ms);

enum kv_type kv__type(const struct kv_entry *e);
enum kv_enc kv__enc(const struct kv_entry *e);

/* The key's bytes (view valid while @e is). */
const char *kv__key(const struct kv_entry *e, size_t *klen);

/* The value's bytes. For an int-encoded value the digits are written into
 * @tmp (at least 24 bytes) and a pointer into it is returned. */
const char *kv__str(const struct kv_entry *e, size_t *len, char *tmp);

/* Absolute expiry in ms, or -1 for none. */
int64_t kv__expire(const struct kv_entry *e);

/* Sets (or with -1 removes) the expiry of @e. */
void kv__set_expire(struct kv_store *s, struct kv_entry *e, int64_t ms);

/* Creates or replaces @key with the string @val. @expire_ms: absolute
 * expiry or -1 for none; if @keep_ttl and the key exists (not expired at
 * @now_ms), its expiry is kept instead. The encoding is chosen by Redis's
 * rule from the bytes. Returns 0 or -ENOMEM (store unchanged). */
int kv__set_str(struct kv_store *s,
                const char *key,
                size_t klen,
                const char *val,
                size_t vlen,
                int64_t expire_ms,
                bool keep_ttl,
                int64_t now_ms);

/* Makes the value of string entry @e exactly @newlen bytes long (new bytes
 * zero-filled, old bytes kept up to newlen) and raw-encoded, and returns a
 * pointer to its writable bytes, valid until the next call that mutates
 * @s. Returns NULL on out-of-memory (value unchanged). */
char *kv__str_resize(struct kv_store *s, struct kv_entry *e, size_t newlen);

/* Deletes @key whatever its expiry. Returns true if it existed. */
bool kv__del(struct kv_store *s, const char *key, size_t klen);

/* ------------------------------------------------------------------------
 * More of the store, for cmd_keys.c and kv_snapshot.c (store.c).
 * ---------------------------------------------------------------------- */

/* Like kv__find, but returns the entry whatever its expiry. */
struct kv_entry *kv__find_raw(struct kv_store *s, const char *key, size_t klen);

/* If @e is int-encoded, sets *v to its value and returns true. */
bool kv__int(const struct kv_entry *e, int64_t *v);

/* Creates or replaces @key (borrowed; may point into @src) with a copy of
 * @src's value, keeping its encoding (COPY: Redis duplicates the object),
 * and sets the expiry to @expire_ms (-1: none). Returns 0 or -ENOMEM
 * (store unchanged). */
int kv__set_copy(struct kv_store *s,
                 const struct kv_entry *src,
                 const char *key,
                 size_t klen,
                 int64_t expire_ms);

/* Moves the value and expiry of @key to @newkey, replacing @newkey if it
 * exists (RENAME). Entries for either key previously returned become
 * invalid. Returns 0 (also when the keys are equal), -ENOENT if @key does
 * not exist (whatever its expiry, the caller checks), or -ENOMEM (store
 * unchanged). */
int kv__rename(struct kv_store *s,
               const char *key,
               size_t klen,
               const char *newkey,
               size_t nklen);

/* Visitor for kv__scan and kv__foreach: borrows @e during the call and
 * must not modify the store. */
typedef void (*kv__visit_cb)(void *arg, struct kv_entry *e);

/* One step of a reverse-binary cursor scan: calls @fn for every entry of
 * the bucket(s) @cursor designates and returns the next cursor (0 when
 * the scan is complete). Every key present for the whole scan is visited
 * at least once, even if the table is resized between steps; expired keys
 * are visited too (the caller filters). */
uint64_t kv__scan(struct kv_store *s,
                  uint64_t cursor,
                  kv__visit_cb fn,
                  void *arg);

/* Calls @fn for every entry, expired or not, in table order. */
void kv__foreach(const struct kv_store *s, kv__visit_cb fn, void *arg);

/* Returns a random entry (possibly expired), or NULL if the store is
 * empty. *@rng is the generator's state, advanced by the call. */
struct kv_entry *kv__random(struct kv_store *s, uint64_t *rng);

/* Presizes the table of an empty store for @n keys (a hint). */
void kv__reserve(struct kv_store *s, size_t n);

/* Adds @key with value @val in encoding @enc, expiry @expire_ms and key
 * version @version (0 counts as 1), for snapshot restore. KV_ENC_INT requires
 * canonical integer bytes (else the value is stored as a string). Returns 0,
 * -EEXIST if @key is already present (store unchanged) or -ENOMEM. */
int kv__restore(struct kv_store *s,
                const char *key,
                size_t klen,
                const char *val,
                size_t vlen,
                enum kv_enc enc,
                int64_t expire_ms,
                uint64_t version);

/* The key version of @e (WATCH), never KV_VERSION_ABSENT. */
uint64_t kv__version(const struct kv_entry *e);

/* Sets the version the store stamps on every entry it creates or changes
 * from now on (kv_exec: the write's ctx->index; 0 counts as 1). Every
 * mutating store function (kv__set_str, kv__set_copy, kv__rename's
 * target, kv__str_resize, kv__set_expire) stamps it; kv__restore takes
 * its version as an argument. Deletes need none: absent is absent. */
void kv__set_write_version(struct kv_store *s, uint64_t index);

/* SipHash-2-4 of @data with the 128-bit key (@k0, @k1). */
uint64_t kv__siphash(const void *data, size_t len, uint64_t k0, uint64_t k1);

/* ------------------------------------------------------------------------
 * Lists (list.c; entries in store.c). A list entry holds a pointer to a
 * struct kv_list: a ring of element pointers, O(1) at both ends and by
 * index. Its memory counts in kv_store_memory. OBJECT ENCODING reports
 * "quicklist" (what Redis 7.0 reports for every list).
 * ---------------------------------------------------------------------- */

struct kv_list; /* opaque */

/* Accounted allocation for values that live outside entries (store.c):
 * the bytes count in kv_store_memory. kv__mem_free takes the size given
 * to kv__mem_alloc. */
void *kv__mem_alloc(struct kv_store *s, size_t n);
void kv__mem_free(struct kv_store *s, void *p, size_t n);

/* The list of list entry @e (a view valid while @e is). */
struct kv_list *kv__list_of(const struct kv_entry *e);

/* Stamps @e with the current write version (an in-place change). */
void kv__stamp(struct kv_store *s, struct kv_entry *e);

/* Sets @e's version (snapshot restore; KV_VERSION_ABSENT counts as 1). */
void kv__set_version(struct kv_entry *e, uint64_t version);

/* Creates or replaces @key (borrowed) with a list entry holding @l, with
 * expiry @expire_ms (-1: none), stamped with the write version. Takes
 * ownership of @l on success and returns the entry (a view, as kv__find);
 * returns NULL on out-of-memory (the caller still owns @l, store
 * unchanged). */
struct kv_entry *kv__set_list(struct kv_store *s,
                              const char *key,
                              size_t klen,
                              struct kv_list *l,
                              int64_t expire_ms);

/* Returns a new empty list (owned by the caller; kv__list_free), or NULL
 * on out-of-memory. */
struct kv_list *kv__list_new(struct kv_store *s);

/* Returns a deep copy of @l, or NULL on out-of-memory. */
struct kv_list *kv__list_dup(struct kv_store *s, const struct kv_list *l);

/* Releases @l and its elements. */
void kv__list_free(struct kv_store *s, struct kv_list *l);

/* Elements in @l, and the sum of their lengths. */
uint64_t kv__list_len(const struct kv_list *l);
uint64_t kv__list_bytes(const struct kv_list *l);

/* The element at 0-based position @i (< kv__list_len) from the head: a
 * view valid until the list changes; its length in *len. */
const char *kv__list_at(const struct kv_list *l, uint64_t i, size_t *len);

/* Adds the @n values (borrowed) at the head (@left, each in turn, as
 * LPUSH does) or the tail of @l. All or nothing: returns 0 or -ENOMEM
 * (@l unchanged). */
int kv__list_push(struct kv_store *s,
                  struct kv_list *l,
                  bool left,
                  size_t n,
                  const char *const *vals,
                  const size_t *lens);

/* Removes the head (@left) or tail element of non-empty @l. */
void kv__list_pop(struct kv_store *s, struct kv_list *l, bool left);

/* Snapshot form of a list value: u64 count, then per element u64 length
 * and bytes (little endian). kv__list_encoded_size gives its length;
 * kv__list_encode calls @put for its pieces in order. */
uint64_t kv__list_encoded_size(const struct kv_list *l);
void kv__list_encode(const struct kv_list *l,
                     void (*put)(void *arg, const void *p, size_t n),
                     void *arg);

/* Adds list @key with the snapshot-form value @val (@vlen bytes,
 * borrowed), expiry @expire_ms and version @version. Returns 0, -EPROTO
 * (malformed value, or an empty list: Redis never keeps one), -EEXIST
 * (@key present) or -ENOMEM; the store is unchanged on error. */
int kv__restore_list(struct kv_store *s,
                     const char *key,
                     size_t klen,
                     const char *val,
                     size_t vlen,
                     int64_t expire_ms,
                     uint64_t version);

/* ------------------------------------------------------------------------
 * Reply builders. Each is a no-op when @out is NULL (followers build no
 * replies). Allocation failure turns @out into KV_ERR_NOMEM.
 * ---------------------------------------------------------------------- */

void kv__reply_ok(struct kv_reply *out);
void kv__reply_status(struct kv_reply *out, const char *s);
void kv__reply_nil(struct kv_reply *out);
void kv__reply_nil_array(struct kv_reply *out);
void kv__reply_int(struct kv_reply *out, int64_t v);
void kv__reply_double(struct kv_reply *out, double d);
void kv__reply_bulk(struct kv_reply *out, const void *p, size_t n);
void kv__reply_err(struct kv_reply *out, int err);
/* Like kv__reply_err, with @arg (borrowed; copied) as the text's "%s"
 * argument in str/len. For errors whose text names the command, plain
 * kv__reply_err is enough: kv_exec fills in the command name. */
void kv__reply_err_arg(struct kv_reply *out,
                       int err,
                       const char *arg,
                       size_t len);
/* Makes @out an ARRAY (or MAP when @map) of @n elements, all NIL, and
 * returns the element array to fill (NULL if @out is NULL or on OOM, in
 * which case @out is KV_ERR_NOMEM). */
struct kv_reply *kv__reply_array(struct kv_reply *out, size_t n, bool map);

/* ------------------------------------------------------------------------
 * Command table. Each command file defines a table ending with a zeroed
 * entry; exec.c aggregates them for kv_cmd_lookup and kv_exec.
 * ---------------------------------------------------------------------- */

typedef void (*kv_cmd_fn)(struct kv_store *s,
                          const struct kv_exec_ctx *ctx,
                          int argc,
                          const char *const *argv,
                          const size_t *lens,
                          struct kv_reply *out);

struct kv_cmd
{
    const char *name; /* lower case */
    int arity;        /* Redis convention: N exact, -N at least N */
    unsigned flags;   /* KV_CMD_* */
    kv_cmd_fn fn;
};

extern const struct kv_cmd kv__string_cmds[]; /* cmd_string.c */
extern const struct kv_cmd kv__bit_cmds[];    /* cmd_bits.c */
extern const struct kv_cmd kv__key_cmds[];    /* cmd_keys.c */
extern const struct kv_cmd kv__list_cmds[];   /* cmd_list.c */

/* Looks up @key at ctx->now_ms for a command that needs a string. Sets *e
 * to the entry (a view, as kv__find) or to NULL when the key is absent and
 * returns true; replies KV_ERR_WRONGTYPE into @out (may be NULL) and
 * returns false when the key holds another type. Defined in
 * cmd_string.c. */
bool kv__lookup_string(struct kv_store *s,
                       const struct kv_exec_ctx *ctx,
                       const char *key,
                       size_t klen,
                       struct kv_entry **e,
                       struct kv_reply *out);

/* Parses a bit offset argument of SETBIT, GETBIT or BITFIELD. With @hash,
 * the form "#N" means N * @bits. Valid offsets are 0 .. 2^32 - 1 whose byte
 * (offset / 8) lies below @max_bulk_len. Returns true and sets *off, or
 * false (the caller replies KV_ERR_BITOFFSET). Defined in cmd_bits.c. */
bool kv__bit_offset(const char *arg,
                    size_t len,
                    bool hash,
                    unsigned bits,
                    uint64_t max_bulk_len,
                    uint64_t *off);

/* Makes string @key at least @minlen bytes long and raw-encoded (creating
 * it zero-filled if absent, as SETBIT and BITFIELD do), for an in-place
 * bit write. Returns its writable bytes (a view, as kv__str_resize) and
 * sets *len, or returns NULL after replying KV_ERR_WRONGTYPE or
 * KV_ERR_NOMEM into @out (may be NULL) with the keyspace unchanged.
 * Defined in cmd_bits.c. */
unsigned char *kv__bits_grow(struct kv_store *s,
                             const struct kv_exec_ctx *ctx,
                             const char *key,
                             size_t klen,
                             size_t minlen,
                             size_t *len,
                             struct kv_reply *out);

/* Handlers whose table entry is in another file (cmd_string.c lists the
 * counters of cmd_counter.c and LCS of cmd_lcs.c; cmd_bits.c lists
 * BITFIELD and BITFIELD_RO of cmd_bitfield.c). Same contract as kv_cmd_fn. */
void kv__incr_cmd(struct kv_store *s,
                  const struct kv_exec_ctx *ctx,
                  int argc,
                  const char *const *argv,
                  const size_t *lens,
                  struct kv_reply *out);
void kv__decr_cmd(struct kv_store *s,
                  const struct kv_exec_ctx *ctx,
                  int argc,
                  const char *const *argv,
                  const size_t *lens,
                  struct kv_reply *out);
void kv__incrby_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out);
void kv__decrby_cmd(struct kv_store *s,
                    const struct kv_exec_ctx *ctx,
                    int argc,
                    const char *const *argv,
                    const size_t *lens,
                    struct kv_reply *out);
void kv__incrbyfloat_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out);
void kv__lcs_cmd(struct kv_store *s,
                 const struct kv_exec_ctx *ctx,
                 int argc,
                 const char *const *argv,
                 const size_t *lens,
                 struct kv_reply *out);
void kv__bitfield_cmd(struct kv_store *s,
                      const struct kv_exec_ctx *ctx,
                      int argc,
                      const char *const *argv,
                      const size_t *lens,
                      struct kv_reply *out);
void kv__bitfield_ro_cmd(struct kv_store *s,
                         const struct kv_exec_ctx *ctx,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         struct kv_reply *out);

/* ------------------------------------------------------------------------
 * Helpers shared by the command files (util.c).
 * ---------------------------------------------------------------------- */

/* Redis's string2ll: strict decimal int64 (no spaces, no '+', no leading
 * zeros except "0"). Returns true and sets *v on success. */
bool kv__str2ll(const char *s, size_t len, int64_t *v);

/* Redis's string2ld-style parse for INCRBYFLOAT / float arguments: no
 * spaces, not NaN. Returns true and sets *v. */
bool kv__str2ld(const char *s, size_t len, long double *v);

/* Formats @v as Redis's ld2string humanfriendly mode (used by INCRBYFLOAT).
 * Returns the length written into @buf (@cap >= 5*1024 not required; 64
 * is enough for finite values). */
size_t kv__ld2str(char *buf, size_t cap, long double v);

/* Redis's stringmatchlen glob match (*, ?, [a-z], [^...], \x), with
 * @nocase. */
bool kv__glob_match(const char *pat,
                    size_t plen,
                    const char *s,
                    size_t slen,
                    bool nocase);

/* Case-insensitive compare of @a (len @alen) with the NUL-terminated
 * lower-case @lit, as for option names ("ex", "nx"). */
bool kv__eq(const char *a, size_t alen, const char *lit);

#endif /* KV_KV_INTERNAL_H */
