/* Reply trees: release and the builders the command files use. */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Release
 * ---------------------------------------------------------------------- */

void kv_reply_fini(struct kv_reply *r)
{
    if (r == NULL) {
        return;
    }
    if (r->elems != NULL) {
        for (size_t i = 0; i < r->n; i++) {
            kv_reply_fini(&r->elems[i]);
        }
        free(r->elems);
    }
    free(r->str);
    memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------------
 * Builders. Each releases whatever @out held before, so a command may
 * overwrite a reply it started (e.g. replace a partial array by an error).
 * ---------------------------------------------------------------------- */

static void reset(struct kv_reply *out, enum kv_reply_type type)
{
    kv_reply_fini(out);
    out->type = type;
}

void kv__reply_err(struct kv_reply *out, int err)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_ERROR);
    out->err = err;
}

void kv__reply_err_arg(struct kv_reply *out,
                       int err,
                       const char *arg,
                       size_t len)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_ERROR);
    out->err = err;
    /* The argument is optional decoration: if it cannot be copied the
     * error stays an error, only without its argument. */
    char *p = malloc(len + 1);
    if (p != NULL) {
        if (len > 0) {
            memcpy(p, arg, len);
        }
        p[len] = '\0';
        out->str = p;
        out->len = len;
    }
}

/* Copies @n bytes of @p into @out->str (NUL-terminated for convenience,
 * not counted in len). On failure @out becomes KV_ERR_NOMEM. */
static void set_str(struct kv_reply *out,
                    enum kv_reply_type type,
                    const void *p,
                    size_t n)
{
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        kv__reply_err(out, KV_ERR_NOMEM);
        return;
    }
    if (n > 0) {
        memcpy(copy, p, n);
    }
    copy[n] = '\0';
    reset(out, type);
    out->str = copy;
    out->len = n;
}

void kv__reply_status(struct kv_reply *out, const char *s)
{
    if (out == NULL) {
        return;
    }
    set_str(out, KV_REPLY_STATUS, s, strlen(s));
}

void kv__reply_ok(struct kv_reply *out)
{
    kv__reply_status(out, "OK");
}

void kv__reply_nil(struct kv_reply *out)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_NIL);
}

void kv__reply_nil_array(struct kv_reply *out)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_NIL_ARRAY);
}

void kv__reply_int(struct kv_reply *out, int64_t v)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_INT);
    out->i = v;
}

void kv__reply_double(struct kv_reply *out, double d)
{
    if (out == NULL) {
        return;
    }
    reset(out, KV_REPLY_DOUBLE);
    out->d = d;
}

void kv__reply_bulk(struct kv_reply *out, const void *p, size_t n)
{
    if (out == NULL) {
        return;
    }
    set_str(out, KV_REPLY_BULK, p, n);
}

struct kv_reply *kv__reply_array(struct kv_reply *out, size_t n, bool map)
{
    if (out == NULL) {
        return NULL;
    }
    struct kv_reply *elems = NULL;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(*elems)) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return NULL;
        }
        elems = calloc(n, sizeof(*elems));
        if (elems == NULL) {
            kv__reply_err(out, KV_ERR_NOMEM);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            elems[i].type = KV_REPLY_NIL;
        }
    }
    reset(out, map ? KV_REPLY_MAP : KV_REPLY_ARRAY);
    out->elems = elems;
    out->n = n;
    /* An empty array has no element storage; callers get a non-NULL
     * pointer only when there is something to fill. */
    return elems;
}
