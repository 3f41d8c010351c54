/* Helpers for kv's unit tests: run a command given as strings and check
 * its reply. Header-only (static inline), so any test file may use it. */
#ifndef TESTS_KV_KV_TEST_UTIL_H
#define TESTS_KV_KV_TEST_UTIL_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>

#include "kv/kv.h"

/* The default context: 512 MiB bulk limit (Redis's default), a fixed
 * random seed, no SCAN cap. */
static inline struct kv_exec_ctx kvt_ctx(int64_t now_ms)
{
    struct kv_exec_ctx ctx = {
        .now_ms = now_ms,
        .max_bulk_len = 512ull * 1024 * 1024,
        .random = 42,
        .scan_max_count = 0,
    };
    return ctx;
}

/* Returns a new store with a seed derived from @n (free with
 * kv_store_free). */
static inline struct kv_store *kvt_store(uint8_t n)
{
    uint8_t seed[16];
    for (int i = 0; i < 16; i++) {
        seed[i] = (uint8_t)(n * 16 + i);
    }
    struct kv_store *s = kv_store_new(seed);
    cr_assert(s != NULL);
    return s;
}

/* Runs the NULL-terminated string argv @args against @s with @ctx and
 * returns the reply (release with kv_reply_fini). Arguments are binary
 * safe only up to their first NUL; use kvt_execv for other bytes. */
static inline struct kv_reply kvt_exec_ctx(struct kv_store *s,
                                           const struct kv_exec_ctx *ctx,
                                           const char *const *args)
{
    size_t lens[64];
    int argc = 0;
    while (args[argc] != NULL) {
        cr_assert(argc < 64);
        lens[argc] = strlen(args[argc]);
        argc++;
    }
    struct kv_reply r;
    kv_exec(s, ctx, argc, args, lens, &r);
    return r;
}

static inline struct kv_reply kvt_exec(struct kv_store *s,
                                       int64_t now_ms,
                                       const char *const *args)
{
    struct kv_exec_ctx ctx = kvt_ctx(now_ms);
    return kvt_exec_ctx(s, &ctx, args);
}

/* Usage: struct kv_reply r = KVT(s, now_ms, "SET", "k", "v"); */
#define KVT(s, now_ms, ...) \
    kvt_exec((s), (now_ms), (const char *const[]){__VA_ARGS__, NULL})

/* Writes the client-visible error text of @r ("%s" substituted) into
 * @buf and returns @buf. */
static inline const char *kvt_err_text(const struct kv_reply *r,
                                       char *buf,
                                       size_t cap)
{
    const char *fmt = kv_strerror(r->err);
    const char *pct = strstr(fmt, "%s");
    if (pct == NULL) {
        snprintf(buf, cap, "%s", fmt);
    } else {
        snprintf(buf, cap, "%.*s%.*s%s", (int)(pct - fmt), fmt, (int)r->len,
                 r->str != NULL ? r->str : "", pct + 2);
    }
    return buf;
}

/* Each KVT_EXPECT_* runs a command, checks its reply and releases it. */
#define KVT_EXPECT_INT(s, now_ms, v, ...)                                      \
    do {                                                                       \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);                      \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_INT),                    \
                  "line %d: not an integer reply (err %d)", __LINE__, r_.err); \
        cr_assert(eq(i64, r_.i, (int64_t)(v)), "line %d", __LINE__);           \
        kv_reply_fini(&r_);                                                    \
    } while (0)

#define KVT_EXPECT_BULK(s, now_ms, text, ...)                              \
    do {                                                                   \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);                  \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_BULK),               \
                  "line %d: not a bulk reply (err %d)", __LINE__, r_.err); \
        cr_assert(eq(sz, r_.len, strlen(text)), "line %d", __LINE__);      \
        cr_assert(eq(int, memcmp(r_.str, text, r_.len), 0), "line %d",     \
                  __LINE__);                                               \
        kv_reply_fini(&r_);                                                \
    } while (0)

#define KVT_EXPECT_STATUS(s, now_ms, text, ...)                              \
    do {                                                                     \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);                    \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_STATUS),               \
                  "line %d: not a status reply (err %d)", __LINE__, r_.err); \
        cr_assert(eq(str, r_.str, (char *)(text)), "line %d", __LINE__);     \
        kv_reply_fini(&r_);                                                  \
    } while (0)

#define KVT_EXPECT_NIL(s, now_ms, ...)                      \
    do {                                                    \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);   \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_NIL), \
                  "line %d: not a nil reply", __LINE__);    \
        kv_reply_fini(&r_);                                 \
    } while (0)

/* @text is the full client-visible text, e.g. "ERR syntax error". */
#define KVT_EXPECT_ERR(s, now_ms, text, ...)                             \
    do {                                                                 \
        char buf_[512];                                                  \
        struct kv_reply r_ = KVT(s, now_ms, __VA_ARGS__);                \
        cr_assert(eq(int, (int)r_.type, (int)KV_REPLY_ERROR),            \
                  "line %d: not an error reply", __LINE__);              \
        cr_assert(eq(str, (char *)kvt_err_text(&r_, buf_, sizeof(buf_)), \
                     (char *)(text)),                                    \
                  "line %d", __LINE__);                                  \
        kv_reply_fini(&r_);                                              \
    } while (0)

#endif /* TESTS_KV_KV_TEST_UTIL_H */
