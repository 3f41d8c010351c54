/* The RESP listener: address parsing, bind, listen, accept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Address parsing
 * ---------------------------------------------------------------------- */

int srv__parse_addr(const char *text, struct sockaddr_storage *out)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) {
        return -EINVAL;
    }
    size_t hlen = (size_t)(colon - text);
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || colon[1] == '\0') {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out);
    }
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    } else if (strcmp(host, "*") == 0 || hlen == 0) {
        snprintf(host, sizeof(host), "0.0.0.0");
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out);
}

/* ------------------------------------------------------------------------
 * Listening
 * ---------------------------------------------------------------------- */

static void connection_cb(uv_stream_t *server, int status)
{
    struct srv_server *srv = server->data;
    if (status < 0) {
        srv_log(SRV_LOG_WARN, "accept_error", "error=%s", uv_strerror(status));
        return;
    }
    if (srv->shutting_down) {
        return;
    }
    srv__conn_accept(srv);
}

int srv__listener_start(struct srv_server *srv, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    const char *addr = srv->cfg->redis_addr;
    int rv = srv__parse_addr(addr, &ss);

    if (rv != 0) {
        snprintf(err, errlen, "invalid listen address '%s'", addr);
        return rv;
    }
    rv = uv_tcp_init(srv->loop, &srv->listener);
    if (rv != 0) {
        snprintf(err, errlen, "cannot create socket: %s", uv_strerror(rv));
        return rv;
    }
    srv->listener.data = srv;
    srv->listener_open = true;
    rv = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&srv->listener, 511, connection_cb);
    }
    if (rv != 0) {
        snprintf(
            err, errlen, "cannot listen on %s: %s", addr,
            rv == UV_EADDRINUSE ? "address already in use" : uv_strerror(rv));
        return rv;
    }
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0) {
        srv->tcp_port = ss.ss_family == AF_INET6
                            ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                            : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return 0;
}

void srv__listener_close(struct srv_server *srv)
{
    if (srv->listener_open) {
        srv->listener_open = false;
        uv_close((uv_handle_t *)&srv->listener, NULL);
    }
}
