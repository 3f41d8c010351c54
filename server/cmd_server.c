/* Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, TIME, DBSIZE. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

bool srv__parse_ll(const char *s, size_t n, long long *out)
{
    /* Strict: optional '-', digits, no spaces, no '+', no leading zeros
     * except "0" itself, no overflow (the rules of Redis's string2ll). */
    size_t i = 0;
    bool neg = false;
    unsigned long long v = 0;
    if (n == 0 || n > 20) {
        return false;
    }
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1) {
            return false;
        }
    }
    if (s[i] == '0' && n > i + 1) {
        return false;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return false;
        }
        *out =
            v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) {
            return false;
        }
        *out = (long long)v;
    }
    if (neg && v == 0) {
        return false; /* "-0" */
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Commands
 * ---------------------------------------------------------------------- */

void srv__cmd_ping(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    if (argc > 2) {
        srv_reply_arity(&c->out, "ping");
    } else if (argc == 2) {
        proto_write_bulk(&c->out, argv[1], lens[1]);
    } else {
        proto_write_simple(&c->out, "PONG", 4);
    }
}

void srv__cmd_echo(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    (void)argc;
    proto_write_bulk(&c->out, argv[1], lens[1]);
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Every acknowledged write
 * is already durable, so SAVE and NOSAVE mean the same here; like Redis, a
 * successful SHUTDOWN sends no reply: the connection closes as the server
 * stops. */
void srv__cmd_shutdown(struct srv_conn *c,
                       int argc,
                       const char *const *argv,
                       const size_t *lens)
{
    static const char *const ok[] = {"nosave", "save", "now", "force"};
    for (int i = 1; i < argc; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
            if (lens[i] == strlen(ok[k]) &&
                strncasecmp(argv[i], ok[k], lens[i]) == 0) {
                known = true;
            }
        }
        if (lens[i] == 5 && strncasecmp(argv[i], "abort", 5) == 0) {
            const char *e = "ERR No shutdown in progress.";
            proto_write_error(&c->out, e, strlen(e));
            return;
        }
        if (!known) {
            proto_write_error(&c->out, "ERR syntax error", 16);
            return;
        }
    }
    srv__shutdown(c->srv, "SHUTDOWN command");
}

void srv__cmd_quit(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    (void)argc;
    (void)argv;
    (void)lens;
    proto_write_simple(&c->out, "OK", 2);
    c->close_after_reply = true;
}

static void hello_reply(struct srv_conn *c)
{
    struct proto_buf *b = &c->out;
    proto_write_map_len(b, c->resp, 7);
    srv_reply_bulk_cstr(b, "server");
    srv_reply_bulk_cstr(b, "redis");
    srv_reply_bulk_cstr(b, "version");
    srv_reply_bulk_cstr(b, SRV_REDIS_VERSION);
    srv_reply_bulk_cstr(b, "proto");
    proto_write_int(b, c->resp);
    srv_reply_bulk_cstr(b, "id");
    proto_write_int(b, (int64_t)c->id);
    srv_reply_bulk_cstr(b, "mode");
    srv_reply_bulk_cstr(b, "standalone");
    srv_reply_bulk_cstr(b, "role");
    srv_reply_bulk_cstr(b, "master");
    srv_reply_bulk_cstr(b, "modules");
    proto_write_array_len(b, 0);
}

void srv__cmd_hello(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens)
{
    long long ver = c->resp;
    int user = -1;
    int name = -1;

    if (argc >= 2) {
        if (!srv__parse_ll(argv[1], lens[1], &ver)) {
            srv_reply_errorf(&c->out,
                             "ERR Protocol version is not an "
                             "integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            srv_reply_errorf(&c->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int i = 2; i < argc; i++) {
        int more = argc - i - 1;
        if (srv__arg_is(argv[i], lens[i], "auth") && more >= 2) {
            user = i + 1;
            i += 2;
        } else if (srv__arg_is(argv[i], lens[i], "setname") && more >= 1) {
            name = i + 1;
            i += 1;
        } else {
            size_t n = strnlen(argv[i], lens[i] < 128 ? lens[i] : 128);
            srv_reply_errorf(&c->out, "ERR Syntax error in HELLO option '%.*s'",
                             (int)n, argv[i]);
            return;
        }
    }
    /* There are no passwords: the default user authenticates with any
     * password, as Redis's "nopass" default user does. */
    if (user >= 0 && !srv__arg_is(argv[user], lens[user], "default")) {
        srv_reply_errorf(&c->out,
                         "WRONGPASS invalid username-password pair "
                         "or user is disabled.");
        return;
    }
    if (name >= 0) {
        if (!srv__client_name_ok(argv[name], lens[name])) {
            srv_reply_errorf(&c->out,
                             "ERR Client names cannot contain spaces, newlines "
                             "or special characters.");
            return;
        }
        if (srv__client_set_name(c, argv[name], lens[name]) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
    }
    c->resp = (int)ver;
    hello_reply(c);
}

void srv__cmd_auth(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    if (argc > 3) {
        srv_reply_errorf(&c->out, "ERR syntax error");
    } else if (argc == 2) {
        srv_reply_errorf(&c->out,
                         "ERR AUTH <password> called without any password "
                         "configured for the default user. Are you sure your "
                         "configuration is correct?");
    } else if (srv__arg_is(argv[1], lens[1], "default")) {
        proto_write_simple(&c->out, "OK", 2);
    } else {
        srv_reply_errorf(&c->out,
                         "WRONGPASS invalid username-password pair "
                         "or user is disabled.");
    }
}

void srv__cmd_select(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens)
{
    long long db;
    (void)argc;
    if (!srv__parse_ll(argv[1], lens[1], &db)) {
        srv_reply_errorf(&c->out,
                         "ERR value is not an integer or out of range");
    } else if (db != 0) {
        srv_reply_errorf(&c->out, "ERR DB index is out of range");
    } else {
        proto_write_simple(&c->out, "OK", 2);
    }
}

void srv__cmd_time(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    struct timespec ts;
    char sec[32];
    char usec[32];
    (void)argc;
    (void)argv;
    (void)lens;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(sec, sizeof(sec), "%lld", (long long)ts.tv_sec);
    snprintf(usec, sizeof(usec), "%ld", ts.tv_nsec / 1000);
    proto_write_array_len(&c->out, 2);
    srv_reply_bulk_cstr(&c->out, sec);
    srv_reply_bulk_cstr(&c->out, usec);
}

void srv__cmd_dbsize(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens)
{
    /* Used only when kv does not execute DBSIZE itself. */
    (void)argc;
    (void)argv;
    (void)lens;
    proto_write_int(&c->out, (int64_t)kv_store_size(c->srv->store));
}
