/* One HTTP connection's request parser: nodejs http-parser's callbacks,
 * the header, URL and body limits (http_internal.h), the few headers the
 * routes use (Accept, Authorization), and the request as views into the
 * parser's buffers. No socket, no loop: http.c feeds it what a connection
 * reads, and srv__http_parse feeds it a buffer (fuzzing, tests).
 *
 * The parser pauses at each message end, so pipelined requests come out
 * one at a time; a limit refused sets the status the connection answers
 * before it closes. */
#include <errno.h>
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"

/* ------------------------------------------------------------------------
 * Parser callbacks
 * ---------------------------------------------------------------------- */

static bool lower_eq(const char *a, size_t n, const char *want)
{
    return srv__arg_is(a, n, want);
}

static bool contains_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (srv__arg_is(s + i, k, needle)) {
            return true;
        }
    }
    return false;
}

/* Inspects the header just read (hfield: hval). */
static void header_done(struct srv_http_parser *c)
{
    const char *v = c->hval.data != NULL ? c->hval.data : "";
    size_t n = c->hval.len;
    if (lower_eq(c->hfield.data, c->hfield.len, "accept")) {
        c->want_json = contains_ci(v, n, "application/json");
    } else if (lower_eq(c->hfield.data, c->hfield.len, "authorization") &&
               n > 7 && srv__arg_is(v, 7, "bearer ")) {
        size_t off = 7;
        while (off < n && v[off] == ' ') {
            off++;
        }
        size_t len = n - off;
        while (len > 0 &&
               (v[off + len - 1] == ' ' || v[off + len - 1] == '\t')) {
            len--;
        }
        if (len < sizeof(c->token)) {
            memcpy(c->token, v + off, len);
            c->token_len = len;
        }
    }
    c->hfield.len = 0;
    c->hval.len = 0;
}

/* Counts @n more header bytes; false when over the limit. */
static bool header_room(struct srv_http_parser *c, size_t n, unsigned status)
{
    c->header_bytes += n;
    if (c->header_bytes > SRV_HTTP_MAX_HEADER_BYTES) {
        c->limit_status = status;
        return false;
    }
    return true;
}

static int on_message_begin(http_parser *p)
{
    struct srv_http_parser *c = p->data;
    c->url.len = 0;
    c->hfield.len = 0;
    c->hval.len = 0;
    c->body.len = 0;
    c->token_len = 0;
    c->in_value = false;
    c->header_bytes = 1;
    c->want_json = false;
    c->limit_status = 0;
    if (c->on_begin != NULL) {
        c->on_begin(c->arg);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct srv_http_parser *c = p->data;
    if (!header_room(c, n, 414) || proto_buf_append(&c->url, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct srv_http_parser *c = p->data;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    if (!header_room(c, n, 431) || proto_buf_append(&c->hfield, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct srv_http_parser *c = p->data;
    c->in_value = true;
    if (!header_room(c, n, 431) || proto_buf_append(&c->hval, at, n) != 0) {
        return 1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct srv_http_parser *c = p->data;
    if (c->in_value) {
        header_done(c);
        c->in_value = false;
    }
    if ((p->flags & F_CONTENTLENGTH) != 0 &&
        p->content_length > SRV_HTTP_MAX_BODY_BYTES) {
        c->limit_status = 413;
        return -1; /* 1 and 2 mean "no body" and "upgrade" */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct srv_http_parser *c = p->data;
    if (c->body.len + n > SRV_HTTP_MAX_BODY_BYTES) {
        c->limit_status = 413;
        return 1;
    }
    return proto_buf_append(&c->body, at, n) != 0 ? 1 : 0;
}

static int on_message_complete(http_parser *p)
{
    struct srv_http_parser *c = p->data;
    c->keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
    /* Stop here: the bytes after this message are the next request, parsed
     * once this one has been answered. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static enum srv_http_method method_of(unsigned m)
{
    switch (m) {
        case HTTP_GET:
            return SRV_HTTP_GET;
        case HTTP_HEAD:
            return SRV_HTTP_HEAD;
        case HTTP_POST:
            return SRV_HTTP_POST;
        case HTTP_OPTIONS:
            return SRV_HTTP_OPTIONS;
        default:
            return SRV_HTTP_OTHER;
    }
}

/* Fills c->req from the request the parser just completed, as views into
 * @c's buffers. Returns false for a target without a usable path. */
static bool make_req(struct srv_http_parser *c)
{
    struct http_parser_url u;
    struct srv_http_req *r = &c->req;

    http_parser_url_init(&u);
    if (c->url.len == 0 ||
        http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->method = method_of(c->parser.method);
    r->path = "/";
    r->path_len = 1;
    r->query = "";
    if (u.field_set & (1 << UF_PATH)) {
        r->path = c->url.data + u.field_data[UF_PATH].off;
        r->path_len = u.field_data[UF_PATH].len;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        r->query = c->url.data + u.field_data[UF_QUERY].off;
        r->query_len = u.field_data[UF_QUERY].len;
    }
    r->want_json = c->want_json;
    r->token = c->token;
    r->token_len = c->token_len;
    r->body = c->body.data != NULL ? c->body.data : "";
    r->body_len = c->body.len;
    return true;
}

unsigned srv__http_parser_next(struct srv_http_parser *c,
                               const char *data,
                               size_t avail,
                               size_t *used)
{
    size_t n = http_parser_execute(&c->parser, &settings, data, avail);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    *used = n;
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        return make_req(c) ? 0 : 400;
    }
    if (e != HPE_OK) {
        srv_log(SRV_LOG_DEBUG, "http_bad_request", "error=%s",
                http_errno_name(e));
        return c->limit_status != 0 ? c->limit_status : 400;
    }
    /* http-parser consumes everything or stops with an error. */
    return n < avail ? 400 : SRV_HTTP_PARSE_MORE;
}

void srv__http_parser_init(struct srv_http_parser *hp,
                           void (*on_begin)(void *arg),
                           void *arg)
{
    memset(hp, 0, sizeof(*hp));
    http_parser_init(&hp->parser, HTTP_REQUEST);
    hp->parser.data = hp;
    hp->on_begin = on_begin;
    hp->arg = arg;
}

void srv__http_parser_fini(struct srv_http_parser *hp)
{
    proto_buf_fini(&hp->url);
    proto_buf_fini(&hp->hfield);
    proto_buf_fini(&hp->hval);
    proto_buf_fini(&hp->body);
}

/* ------------------------------------------------------------------------
 * Parsing without a socket
 * ---------------------------------------------------------------------- */

int srv__http_parse(const char *buf, size_t len, srv_http_req_cb cb, void *arg)
{
    struct srv_http_parser *hp = malloc(sizeof(*hp));
    unsigned status = SRV_HTTP_PARSE_MORE;
    size_t off = 0;

    if (hp == NULL) {
        return -ENOMEM;
    }
    srv__http_parser_init(hp, NULL, NULL);
    while (off < len) {
        size_t used = 0;
        status = srv__http_parser_next(hp, buf + off, len - off, &used);
        off += used;
        if (status != 0) {
            break;
        }
        cb(arg, &hp->req);
        if (!hp->keep_alive) {
            break; /* a live connection closes after this answer */
        }
    }
    srv__http_parser_fini(hp);
    free(hp);
    return status == SRV_HTTP_PARSE_MORE ? 0 : (int)status;
}
