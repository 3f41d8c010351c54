/* CLIENT: ID, INFO, LIST, KILL, SETNAME, GETNAME, SETINFO, HELP, ... */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

bool srv__client_name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '!' || s[i] > '~') {
            return false;
        }
    }
    return true;
}

static int set_str(char **dst, const char *s, size_t n)
{
    char *v = NULL;
    if (n > 0) {
        v = malloc(n + 1);
        if (v == NULL) {
            return -ENOMEM;
        }
        memcpy(v, s, n);
        v[n] = '\0';
    }
    free(*dst);
    *dst = v;
    return 0;
}

int srv__client_set_name(struct srv_conn *c, const char *s, size_t n)
{
    return set_str(&c->name, s, n);
}

/* ------------------------------------------------------------------------
 * CLIENT LIST / INFO lines
 * ---------------------------------------------------------------------- */

static int append_info(struct proto_buf *b, const struct srv_conn *c)
{
    uint64_t now = uv_now(c->srv->loop);
    char line[1024];
    size_t qbuf = c->qbuf.len - c->qoff;
    size_t omem = c->out.cap + c->wbuf.cap;
    size_t tot =
        sizeof(*c) + c->qbuf.cap + omem + proto_parser_memory(c->parser);
    int n = snprintf(
        line, sizeof(line),
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu "
        "flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu qbuf-free=%zu "
        "argv-mem=0 multi-mem=0 rbs=%zu rbp=%zu obl=%zu oll=0 omem=%zu "
        "tot-mem=%zu events=r cmd=%s user=default redir=-1 resp=%d\n",
        (unsigned long long)c->id, c->addr, c->laddr, c->fd,
        c->name != NULL ? c->name : "",
        (unsigned long long)((now - c->ctime_ms) / 1000),
        (unsigned long long)((now - c->last_ms) / 1000), qbuf,
        c->qbuf.cap - c->qbuf.len, c->qbuf.cap, c->qbuf.len, c->out.len, omem,
        tot, c->last_cmd != NULL ? c->last_cmd->fullname : "NULL", c->resp);
    if (n < 0) {
        return -EINVAL;
    }
    return proto_buf_append(
        b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void reply_text(struct srv_conn *c, struct proto_buf *text)
{
    proto_write_verbatim(&c->out, c->resp, "txt",
                         text->data != NULL ? text->data : "", text->len);
    proto_buf_fini(text);
}

static void client_list(struct srv_conn *c,
                        int argc,
                        const char *const *argv,
                        const size_t *lens)
{
    struct srv_server *srv = c->srv;
    struct proto_buf text;
    bool all = true;
    bool none = false;
    int first_id = 0;

    if (argc == 4 && srv__arg_is(argv[2], lens[2], "type")) {
        if (srv__arg_is(argv[3], lens[3], "normal")) {
            all = true;
        } else if (srv__arg_is(argv[3], lens[3], "master") ||
                   srv__arg_is(argv[3], lens[3], "replica") ||
                   srv__arg_is(argv[3], lens[3], "slave") ||
                   srv__arg_is(argv[3], lens[3], "pubsub")) {
            none = true;
        } else {
            srv_reply_errorf(&c->out, "ERR Unknown client type '%.*s'",
                             (int)strnlen(argv[3], lens[3]), argv[3]);
            return;
        }
    } else if (argc >= 4 && srv__arg_is(argv[2], lens[2], "id")) {
        for (int i = 3; i < argc; i++) {
            long long id;
            if (!srv__parse_ll(argv[i], lens[i], &id) || id <= 0) {
                srv_reply_errorf(&c->out, "ERR Invalid client ID");
                return;
            }
        }
        all = false;
        first_id = 3;
    } else if (argc != 2) {
        srv_reply_errorf(&c->out, "ERR syntax error");
        return;
    }
    proto_buf_init(&text);
    for (struct srv__link *l = srv->conns.next; !none && l != &srv->conns;
         l = l->next) {
        const struct srv_conn *o = SRV__CONTAINER(l, struct srv_conn, link_all);
        bool pick = all;
        for (int i = first_id; !all && i < argc; i++) {
            long long id;
            srv__parse_ll(argv[i], lens[i], &id);
            pick |= (uint64_t)id == o->id;
        }
        if (pick) {
            append_info(&text, o);
        }
    }
    reply_text(c, &text);
}

/* ------------------------------------------------------------------------
 * CLIENT KILL
 * ---------------------------------------------------------------------- */

struct kill_filter
{
    long long id;     /* 0: any */
    const char *addr; /* NULL: any */
    size_t addrlen;
    const char *laddr; /* NULL: any */
    size_t laddrlen;
    bool none; /* TYPE or USER that matches nothing */
    bool skipme;
};

static bool arg_eq(const char *a, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(a, s, n) == 0;
}

static bool kill_match(const struct kill_filter *f, const struct srv_conn *o)
{
    return !f->none && (f->id == 0 || (uint64_t)f->id == o->id) &&
           (f->addr == NULL || arg_eq(f->addr, f->addrlen, o->addr)) &&
           (f->laddr == NULL || arg_eq(f->laddr, f->laddrlen, o->laddr));
}

/* Parses the filter form. Returns true, or false after replying. */
static bool kill_parse(struct srv_conn *c,
                       int argc,
                       const char *const *argv,
                       const size_t *lens,
                       struct kill_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->skipme = true;
    if ((argc - 2) % 2 != 0) {
        srv_reply_errorf(&c->out, "ERR syntax error");
        return false;
    }
    for (int i = 2; i < argc; i += 2) {
        const char *v = argv[i + 1];
        size_t n = lens[i + 1];
        if (srv__arg_is(argv[i], lens[i], "id")) {
            if (!srv__parse_ll(v, n, &f->id) || f->id <= 0) {
                srv_reply_errorf(&c->out,
                                 "ERR client-id should be greater than 0");
                return false;
            }
        } else if (srv__arg_is(argv[i], lens[i], "addr")) {
            f->addr = v;
            f->addrlen = n;
        } else if (srv__arg_is(argv[i], lens[i], "laddr")) {
            f->laddr = v;
            f->laddrlen = n;
        } else if (srv__arg_is(argv[i], lens[i], "type")) {
            if (srv__arg_is(v, n, "normal")) {
                continue;
            }
            if (srv__arg_is(v, n, "master") || srv__arg_is(v, n, "replica") ||
                srv__arg_is(v, n, "slave") || srv__arg_is(v, n, "pubsub")) {
                f->none = true;
                continue;
            }
            srv_reply_errorf(&c->out, "ERR Unknown client type '%.*s'",
                             (int)strnlen(v, n), v);
            return false;
        } else if (srv__arg_is(argv[i], lens[i], "user")) {
            f->none |= !arg_eq(v, n, "default");
        } else if (srv__arg_is(argv[i], lens[i], "skipme")) {
            if (srv__arg_is(v, n, "yes")) {
                f->skipme = true;
            } else if (srv__arg_is(v, n, "no")) {
                f->skipme = false;
            } else {
                srv_reply_errorf(&c->out, "ERR syntax error");
                return false;
            }
        } else {
            srv_reply_errorf(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

static void client_kill(struct srv_conn *c,
                        int argc,
                        const char *const *argv,
                        const size_t *lens)
{
    struct srv_server *srv = c->srv;
    struct kill_filter f;
    bool old_form = argc == 3;
    long long killed = 0;

    if (old_form) {
        memset(&f, 0, sizeof(f));
        f.addr = argv[2];
        f.addrlen = lens[2];
    } else if (!kill_parse(c, argc, argv, lens, &f)) {
        return;
    }
    for (struct srv__link *l = srv->conns.next; l != &srv->conns;) {
        struct srv_conn *o = SRV__CONTAINER(l, struct srv_conn, link_all);
        l = l->next; /* o may leave the list below */
        if (!kill_match(&f, o)) {
            continue;
        }
        if (o == c) {
            if (f.skipme) {
                continue;
            }
            /* Never free the caller here: it is on the stack. It closes
             * once this reply is written. */
            c->close_after_reply = true;
        } else {
            srv__conn_close(o);
        }
        killed++;
    }
    if (old_form) {
        if (killed == 0) {
            srv_reply_errorf(&c->out, "ERR No such client");
        } else {
            proto_write_simple(&c->out, "OK", 2);
        }
    } else {
        proto_write_int(&c->out, killed);
    }
}

/* ------------------------------------------------------------------------
 * CLIENT dispatcher
 * ---------------------------------------------------------------------- */

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>,",
    "    LADDR <ip:port>, TYPE (NORMAL|MASTER|REPLICA|PUBSUB), USER <name>,",
    "    SKIPME (YES|NO).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "    * ID <client-id> [<client-id> ...]",
    "NO-EVICT (ON|OFF)",
    "    Accepted for compatibility; clients are never evicted.",
    "NO-TOUCH (ON|OFF)",
    "    Accepted for compatibility.",
    "REPLY (ON)",
    "    Replies are always on.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
};

static void on_off(struct srv_conn *c, const char *v, size_t n)
{
    if (srv__arg_is(v, n, "on") || srv__arg_is(v, n, "off")) {
        proto_write_simple(&c->out, "OK", 2);
    } else {
        srv_reply_errorf(&c->out, "ERR syntax error");
    }
}

static void client_setinfo(struct srv_conn *c,
                           const char *const *argv,
                           const size_t *lens)
{
    char **dst;
    if (srv__arg_is(argv[2], lens[2], "lib-name")) {
        dst = &c->lib_name;
    } else if (srv__arg_is(argv[2], lens[2], "lib-ver")) {
        dst = &c->lib_ver;
    } else {
        srv_reply_errorf(&c->out, "ERR Unrecognized option '%.*s'",
                         (int)strnlen(argv[2], lens[2]), argv[2]);
        return;
    }
    if (!srv__client_name_ok(argv[3], lens[3])) {
        srv_reply_errorf(&c->out,
                         "ERR %s cannot contain spaces, newlines or special "
                         "characters.",
                         dst == &c->lib_name ? "lib-name" : "lib-ver");
        return;
    }
    if (set_str(dst, argv[3], lens[3]) != 0) {
        srv_reply_error_code(&c->out, -ENOMEM, 0);
        return;
    }
    proto_write_simple(&c->out, "OK", 2);
}

void srv__cmd_client(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens)
{
    const char *sub = argv[1];
    size_t n = lens[1];
    struct proto_buf text;

    if (srv__arg_is(sub, n, "id")) {
        proto_write_int(&c->out, (int64_t)c->id);
    } else if (srv__arg_is(sub, n, "getname")) {
        if (c->name == NULL) {
            proto_write_null(&c->out, c->resp);
        } else {
            srv_reply_bulk_cstr(&c->out, c->name);
        }
    } else if (srv__arg_is(sub, n, "setname")) {
        if (!srv__client_name_ok(argv[2], lens[2])) {
            srv_reply_errorf(&c->out,
                             "ERR Client names cannot contain spaces, newlines "
                             "or special characters.");
        } else if (srv__client_set_name(c, argv[2], lens[2]) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
        } else {
            proto_write_simple(&c->out, "OK", 2);
        }
    } else if (srv__arg_is(sub, n, "info")) {
        proto_buf_init(&text);
        append_info(&text, c);
        reply_text(c, &text);
    } else if (srv__arg_is(sub, n, "list")) {
        client_list(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "kill")) {
        client_kill(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "setinfo")) {
        client_setinfo(c, argv, lens);
    } else if (srv__arg_is(sub, n, "no-evict") ||
               srv__arg_is(sub, n, "no-touch")) {
        on_off(c, argv[2], lens[2]);
    } else if (srv__arg_is(sub, n, "reply")) {
        if (srv__arg_is(argv[2], lens[2], "on")) {
            proto_write_simple(&c->out, "OK", 2);
        } else if (srv__arg_is(argv[2], lens[2], "off") ||
                   srv__arg_is(argv[2], lens[2], "skip")) {
            srv_reply_errorf(&c->out,
                             "ERR CLIENT REPLY OFF and SKIP are not supported");
        } else {
            srv_reply_errorf(&c->out, "ERR syntax error");
        }
    } else {
        size_t k = sizeof(client_help) / sizeof(client_help[0]);
        proto_write_array_len(&c->out, k);
        for (size_t i = 0; i < k; i++) {
            srv_reply_status(&c->out, client_help[i]);
        }
    }
}
