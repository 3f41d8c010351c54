/* Replies: kv reply trees to RESP, and every client-visible error text. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "raftadapter/radapter.h"
#include "server/srv.h"

/* ------------------------------------------------------------------------
 * Error texts for server-level codes. One table: what a client sees for
 * each failure of the layers below.
 * ---------------------------------------------------------------------- */

static const struct
{
    int code;
    const char *text;
} errors[] = {
    {RADAPTER_ENOTLEADER,
     "CLUSTERDOWN this node is not the leader, or no leader is known"},
    {RADAPTER_EUNKNOWN,
     "UNKNOWN the write may or may not have been applied (leader lost, "
     "retries exhausted)"},
    {RADAPTER_ETIMEDOUT,
     "TIMEOUT leadership not confirmed within the read's deadline (RAFTKV "
     "TIMEOUT, capped by verify-timeout-ms)"},
    {RADAPTER_EBUSY,
     "BUSY a bounded queue is full (max-pending-reads or "
     "max-pending-writes); try again later"},
    {RADAPTER_ESHUTDOWN, "SHUTDOWN the node is shutting down"},
    {RADAPTER_ECORRUPT, "ERR the data directory is damaged"},
    {RADAPTER_ELOCKED, "ERR data dir locked by another process"},
    {RADAPTER_EIO, "IOERR disk error on this node"},
    {-ENOMEM, "OOM command not allowed: out of memory"},
    {PROTO_EBADMBULKLEN, "invalid multibulk length"},
    {PROTO_EBADBULKLEN, "invalid bulk length"},
    {PROTO_EEXPECTDOLLAR, "expected '$', got '%c'"},
    {PROTO_EBIGMBULK, "too big mbulk count string"},
    {PROTO_EBIGBULK, "too big bulk count string"},
    {PROTO_EBIGINLINE, "too big inline request"},
    {PROTO_EQUOTES, "unbalanced quotes in request"},
};

static bool is_proto_error(int code)
{
    return code <= PROTO_EBADMBULKLEN && code >= PROTO_EQUOTES;
}

const char *srv_strerror(int code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].code == code) {
            return errors[i].text;
        }
    }
    if (code >= KV_ERR_WRONGTYPE && code < KV_ERR__LAST) {
        return kv_strerror(code);
    }
    return "ERR internal error";
}

/* ------------------------------------------------------------------------
 * Error helpers
 * ---------------------------------------------------------------------- */

/* Appends "-" @s "\r\n" with CR and LF inside @s replaced by spaces, so a
 * client-supplied string can never break the framing. */
static int error_raw(struct proto_buf *b, const char *s, size_t n)
{
    int rv = proto_buf_reserve(b, n + 3);
    if (rv != 0) {
        return rv;
    }
    char *p = b->data + b->len;
    *p++ = '-';
    for (size_t i = 0; i < n; i++) {
        *p++ = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    }
    *p++ = '\r';
    *p++ = '\n';
    b->len += n + 3;
    return 0;
}

int srv_reply_errorf(struct proto_buf *b, const char *fmt, ...)
{
    char stack[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -EINVAL;
    }
    if ((size_t)n < sizeof(stack)) {
        return error_raw(b, stack, (size_t)n);
    }
    char *heap = malloc((size_t)n + 1);
    if (heap == NULL) {
        return -ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(heap, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rv = error_raw(b, heap, (size_t)n);
    free(heap);
    return rv;
}

/* Substitutes the first "%s" of @text with @arg (@argn bytes); "%%" stays
 * as written. Kv texts are data, never used as a format string. */
static int error_subst(struct proto_buf *b,
                       const char *text,
                       const char *arg,
                       size_t argn)
{
    const char *at = strstr(text, "%s");
    if (at == NULL) {
        return error_raw(b, text, strlen(text));
    }
    size_t pre = (size_t)(at - text);
    size_t post = strlen(at + 2);
    char stack[512];
    char *tmp = stack;
    if (pre + argn + post > sizeof(stack)) {
        tmp = malloc(pre + argn + post);
        if (tmp == NULL) {
            return -ENOMEM;
        }
    }
    memcpy(tmp, text, pre);
    /* Verbatim: kv already gives command names in lower case, as Redis
     * prints them, and other arguments (an option, a subcommand) appear
     * as the client wrote them. */
    memcpy(tmp + pre, arg, argn);
    memcpy(tmp + pre + argn, at + 2, post);
    int rv = error_raw(b, tmp, pre + argn + post);
    if (tmp != stack) {
        free(tmp);
    }
    return rv;
}

int srv_reply_error_code(struct proto_buf *b, int code, char bad_byte)
{
    if (is_proto_error(code)) {
        const char *t = srv_strerror(code);
        if (code == PROTO_EEXPECTDOLLAR) {
            return srv_reply_errorf(
                b, "ERR Protocol error: expected '$', got '%c'", bad_byte);
        }
        return srv_reply_errorf(b, "ERR Protocol error: %s", t);
    }
    const char *t = srv_strerror(code);
    return error_raw(b, t, strlen(t));
}

int srv_reply_unknown_command(struct proto_buf *b,
                              int argc,
                              const char *const *argv,
                              const size_t *lens)
{
    /* Redis 7 prints the name and each argument as C strings (up to a NUL)
     * and stops adding arguments once 128 bytes of them are shown. */
    char args[128 + 128 + 8];
    size_t alen = 0;
    size_t namelen = strnlen(argv[0], lens[0] < 128 ? lens[0] : 128);
    for (int i = 1; i < argc && alen < 128; i++) {
        size_t room = 128 - alen;
        size_t n = strnlen(argv[i], lens[i] < room ? lens[i] : room);
        args[alen++] = '\'';
        memcpy(args + alen, argv[i], n);
        alen += n;
        args[alen++] = '\'';
        args[alen++] = ' ';
    }
    return srv_reply_errorf(
        b, "ERR unknown command '%.*s', with args beginning with: %.*s",
        (int)namelen, argv[0], (int)alen, args);
}

int srv_reply_unknown_subcommand(struct proto_buf *b,
                                 const char *sub,
                                 size_t sublen,
                                 const char *parent)
{
    size_t n = strnlen(sub, sublen < 128 ? sublen : 128);
    return srv_reply_errorf(b, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                            (int)n, sub, parent);
}

int srv_reply_arity(struct proto_buf *b, const char *name)
{
    return srv_reply_errorf(b, "ERR wrong number of arguments for '%s' command",
                            name);
}

int srv_reply_status(struct proto_buf *b, const char *s)
{
    return proto_write_simple(b, s, strlen(s));
}

int srv_reply_bulk_cstr(struct proto_buf *b, const char *s)
{
    return proto_write_bulk(b, s, strlen(s));
}

/* ------------------------------------------------------------------------
 * kv reply trees
 * ---------------------------------------------------------------------- */

static int kv_error(struct proto_buf *b,
                    const struct kv_reply *r,
                    const char *cmd)
{
    const char *text = kv_strerror(r->err);
    if (r->str != NULL && r->len > 0) {
        return error_subst(b, text, r->str, r->len);
    }
    if (cmd == NULL) {
        cmd = "";
    }
    return error_subst(b, text, cmd, strlen(cmd));
}

static int kv_tree(struct proto_buf *b,
                   int resp,
                   const struct kv_reply *r,
                   const char *cmd,
                   int depth)
{
    int rv = 0;
    if (depth > 64) {
        return -EINVAL; /* kv never nests this deep */
    }
    switch (r->type) {
        case KV_REPLY_NIL:
            return proto_write_null(b, resp);
        case KV_REPLY_NIL_ARRAY:
            return proto_write_null_array(b, resp);
        case KV_REPLY_STATUS:
            return proto_write_simple(b, r->str != NULL ? r->str : "", r->len);
        case KV_REPLY_INT:
            return proto_write_int(b, r->i);
        case KV_REPLY_BULK:
            return proto_write_bulk(b, r->str != NULL ? r->str : "", r->len);
        case KV_REPLY_DOUBLE:
            return proto_write_double(b, resp, r->d);
        case KV_REPLY_ERROR:
            return kv_error(b, r, cmd);
        case KV_REPLY_ARRAY:
            rv = proto_write_array_len(b, r->n);
            break;
        case KV_REPLY_MAP:
            rv = proto_write_map_len(b, resp, r->n / 2);
            break;
        default:
            return error_raw(b, "ERR internal error", 18);
    }
    for (size_t i = 0; i < r->n && rv == 0; i++) {
        rv = kv_tree(b, resp, &r->elems[i], cmd, depth + 1);
    }
    return rv;
}

int srv_reply_kv(struct proto_buf *b,
                 int resp,
                 const struct kv_reply *r,
                 const char *cmd)
{
    return kv_tree(b, resp, r, cmd, 0);
}
