/* Fuzz target: the HTTP request path (server/http.c) up to the routes.
 *
 * Input: the bytes one client sends on an HTTP connection. They go through
 * srv__http_parse: http-parser with the connection's own callbacks, limits
 * and request building, without a socket or a server. Each request is then
 * taken apart the way the routes do first (the ?timeout= and ?id= query
 * parameters, durations).
 *
 * Checks: the outcome is one of the statuses a connection answers with;
 * every view of a request can be read, and respects the limits. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "server/http_internal.h"
#include "tests/fuzz/fuzz.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Reads every byte of a view, so that ASan checks it is valid. */
static unsigned touch(const char *p, size_t n)
{
    unsigned sum = 0;
    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; i < n; i++) {
        sum += (unsigned char)p[i];
    }
    return sum;
}

/* Looks up @name in @req's query and parses it as a duration. */
static void query_duration(const struct srv_http_req *req, const char *name)
{
    const char *v;
    size_t n;
    uint64_t ms = 0;

    if (!srv__http_query_get(req->query, req->query_len, name, &v, &n)) {
        return;
    }
    /* A bare name's value is "", not a view. */
    FUZZ_CHECK(n == 0 || (v >= req->query && n <= req->query_len &&
                          (size_t)(v - req->query) <= req->query_len - n));
    int rv = srv__parse_duration_ms(v, n, &ms);
    FUZZ_CHECK(rv == 0 || rv == -EINVAL);
}

static void request_cb(void *arg, const struct srv_http_req *req)
{
    size_t *count = arg;
    volatile unsigned sink;

    (*count)++;
    FUZZ_CHECK(req->method >= SRV_HTTP_GET && req->method <= SRV_HTTP_OTHER);
    FUZZ_CHECK(req->path_len > 0);
    FUZZ_CHECK(req->path_len + req->query_len <= SRV_HTTP_MAX_HEADER_BYTES);
    FUZZ_CHECK(req->token_len <= SRV_HTTP_MAX_HEADER_BYTES);
    FUZZ_CHECK(req->body_len <= SRV_HTTP_MAX_BODY_BYTES);
    sink = touch(req->path, req->path_len) + touch(req->query, req->query_len) +
           touch(req->token, req->token_len) + touch(req->body, req->body_len);
    (void)sink;
    query_duration(req, "timeout");
    query_duration(req, "id");
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    int rv = srv__http_parse((const char *)data, size, request_cb, &count);

    FUZZ_CHECK(rv == 0 || rv == 400 || rv == 413 || rv == 414 || rv == 431);
    /* A request that allows another is at least "GET / HTTP/1.1\n\n"
     * (one that does not ends the parse), so this is generous. */
    FUZZ_CHECK(count <= 1 + size / 8);
    return 0;
}
