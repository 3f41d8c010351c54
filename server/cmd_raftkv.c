/* RAFTKV: cluster administration on the RESP port.
 *
 *   RAFTKV STATUS                   this node's view: role, term, leader,
 *                                   indexes and every member
 *   RAFTKV NODE ADD <id> <peer>     add a node (as a non-voter, promoted to
 *                                   voter once caught up); leader only
 *   RAFTKV NODE REMOVE <id>         remove a node; leader only
 *   RAFTKV TRANSFER [<id>]          hand leadership over; leader only
 *   RAFTKV TIMEOUT [<ms>]           this connection's deadline for a read's
 *                                   leader verification (0: the server's
 *                                   cap, --verify-timeout-ms, which also
 *                                   bounds any value set here); without an
 *                                   argument, the deadline in force
 *   RAFTKV HELP
 *
 * Membership changes reply once the change is committed, like a write. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/srv_internal.h"

static bool is(const char *a, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(a, lit, n) == 0;
}

static bool parse_id(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return v != 0;
}

static void reply_err(struct srv_conn *c, const char *msg)
{
    proto_write_error(&c->out, msg, strlen(msg));
}

static void write_kv_str(struct srv_conn *c, const char *k, const char *v)
{
    proto_write_bulk(&c->out, k, strlen(k));
    proto_write_bulk(&c->out, v, strlen(v));
}

static void write_kv_int(struct srv_conn *c, const char *k, uint64_t v)
{
    proto_write_bulk(&c->out, k, strlen(k));
    proto_write_int(&c->out, (int64_t)v);
}

static void status(struct srv_conn *c)
{
    struct radapter_info ri;
    struct radapter_member_info m[SRV_CLUSTER_MAX];
    size_t n = radapter_get_members(c->srv->ra, m, SRV_CLUSTER_MAX);
    radapter_get_info(c->srv->ra, &ri);
    proto_write_map_len(&c->out, c->resp, 8);
    write_kv_int(c, "id", ri.id);
    write_kv_str(c, "role", ri.role);
    write_kv_int(c, "term", ri.term);
    write_kv_int(c, "leader_id", ri.leader_id);
    write_kv_int(c, "commit_index", ri.commit_index);
    write_kv_int(c, "applied_index", ri.applied_index);
    write_kv_int(c, "last_index", ri.last_index);
    proto_write_bulk(&c->out, "members", 7);
    proto_write_array_len(&c->out, n);
    for (size_t i = 0; i < n; i++) {
        proto_write_map_len(&c->out, c->resp, 7);
        write_kv_int(c, "id", m[i].id);
        write_kv_str(c, "peer", m[i].peer_addr);
        write_kv_str(c, "redis", m[i].redis_addr);
        write_kv_str(c, "http", m[i].http_addr);
        write_kv_str(c, "role", m[i].role);
        write_kv_int(c, "match_index", m[i].match_index);
        proto_write_bulk(&c->out, "last_contact_ms", 15);
        proto_write_int(&c->out, m[i].last_contact_ms);
    }
}

static void start(struct srv_conn *c, int rv)
{
    if (rv == 0) {
        srv__async_started(c);
        return;
    }
    if (rv == -EEXIST) {
        reply_err(c, "ERR that node is already a member");
    } else if (rv == -ENOENT) {
        reply_err(c, "ERR no such node in the configuration");
    } else if (rv == -EINVAL) {
        reply_err(c, "ERR invalid node id or address");
    } else {
        srv_reply_error_code(&c->out, rv, 0);
    }
}

void srv__cmd_raftkv(struct srv_conn *c,
                     int argc,
                     const char *const *argv,
                     const size_t *lens)
{
    struct radapter *ra = c->srv->ra;
    uint64_t id = 0;
    char addr[256];

    if (is(argv[1], lens[1], "status") && argc == 2) {
        status(c);
    } else if (is(argv[1], lens[1], "help") && argc == 2) {
        static const char *const help[] = {
            "RAFTKV <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "STATUS",
            "    This node's role, term, leader, indexes, members.",
            "NODE ADD <id> <host:peerport>",
            "    Add a node; it votes once it has caught up (leader only).",
            "NODE REMOVE <id>",
            "    Remove a node (leader only).",
            "TRANSFER [<id>]",
            "    Hand leadership to <id>, or to the best voter (leader only).",
            "TIMEOUT [<ms>]",
            "    Set (0: the server's cap) or show this connection's deadline",
            "    for a read's leader verification.",
            "HELP",
            "    Print this help."};
        size_t n = sizeof help / sizeof help[0];
        proto_write_array_len(&c->out, n);
        for (size_t i = 0; i < n; i++) {
            proto_write_simple(&c->out, help[i], strlen(help[i]));
        }
    } else if (is(argv[1], lens[1], "node") && argc >= 4 &&
               is(argv[2], lens[2], "add") && argc == 5) {
        if (!parse_id(argv[3], lens[3], &id) || lens[4] >= sizeof addr) {
            reply_err(c, "ERR invalid node id or address");
            return;
        }
        memcpy(addr, argv[4], lens[4]);
        addr[lens[4]] = '\0';
        if (srv__async_begin(c) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
        start(c, radapter_add_voter(ra, id, addr, srv__async_done_cb, c));
    } else if (is(argv[1], lens[1], "node") && argc == 4 &&
               is(argv[2], lens[2], "remove")) {
        if (!parse_id(argv[3], lens[3], &id)) {
            reply_err(c, "ERR invalid node id or address");
            return;
        }
        if (srv__async_begin(c) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
        start(c, radapter_remove_node(ra, id, srv__async_done_cb, c));
    } else if (is(argv[1], lens[1], "timeout") && argc <= 3) {
        uint64_t ms = 0;
        if (argc == 3) {
            if (!(lens[2] == 1 && argv[2][0] == '0') &&
                !parse_id(argv[2], lens[2], &ms)) {
                reply_err(c, "ERR timeout is not a non-negative integer");
                return;
            }
            c->read_timeout_ms = ms;
            proto_write_simple(&c->out, "OK", 2);
            return;
        }
        ms = c->read_timeout_ms != 0 ? c->read_timeout_ms
                                     : c->srv->cfg->verify_timeout_ms;
        if (ms > c->srv->cfg->verify_timeout_ms) {
            ms = c->srv->cfg->verify_timeout_ms;
        }
        proto_write_int(&c->out, (int64_t)ms);
    } else if (is(argv[1], lens[1], "transfer") && argc <= 3) {
        if (argc == 3 && !parse_id(argv[2], lens[2], &id)) {
            reply_err(c, "ERR invalid node id or address");
            return;
        }
        if (srv__async_begin(c) != 0) {
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
        start(c, radapter_transfer(ra, id, srv__async_done_cb, c));
    } else {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "ERR unknown subcommand or wrong number of arguments for "
                 "'%.*s'. Try RAFTKV HELP.",
                 (int)(lens[1] > 64 ? 64 : lens[1]), argv[1]);
        reply_err(c, msg);
    }
}
