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
