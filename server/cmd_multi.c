/* MULTI / EXEC / DISCARD / WATCH / UNWATCH: a transaction commits as one
 * unit through raft.
 *
 * Between MULTI and EXEC, data commands are checked (name, arity) and
 * queued, each answered +QUEUED; a command that fails those checks is
 * answered with its error and makes EXEC answer EXECABORT, as in Redis.
 * EXEC proposes the whole queue as one internal command, "raftkv.exec"
 * with the queued commands encoded in one argument; the state machine runs
 * them back to back within one log entry, so no other write interleaves,
 * and the reply is the array of their replies (an error inside is that
 * command's reply, the others still run: Redis semantics). Reads inside a
 * transaction run at apply time too, so they see exactly the state the
 * transaction's writes act on. Server commands are refused inside a
 * transaction, except UNWATCH, which is queued and answers +OK at EXEC as
 * in Redis.
 *
 * WATCH (optimistic locking, Redis's check-and-set): WATCH records, per
 * key, the key's version in the local keyspace (kv_store_version: the raft
 * index of its last change, 0 when absent or expired). The read is local
 * and may lag on a follower; that is safe, because the check that counts
 * happens at apply time: EXEC ships the list as the third argument of
 * "raftkv.exec" and the state machine runs the queued commands only if
 * every key still has the recorded version in the entry that carries the
 * transaction; otherwise nothing runs and EXEC answers a null array. A
 * lagging WATCH can only make EXEC abort when Redis would not, never run
 * when Redis would not, with one exception (documented in the README): a
 * key absent at WATCH, then created and deleted again before EXEC, is
 * absent again and does not abort, where Redis aborts. EXEC (whatever its
 * outcome), DISCARD and UNWATCH forget the watches; MULTI keeps them. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server/srv_internal.h"

static void reply_err(struct srv_conn *c, const char *msg)
{
    proto_write_error(&c->out, msg, strlen(msg));
}

void srv__unwatch(struct srv_conn *c)
{
    c->watch_n = 0;
    c->watch.len = 0;
    if (c->watch.cap > 64 * 1024) {
        proto_buf_fini(&c->watch);
    }
}

void srv__multi_reset(struct srv_conn *c)
{
    c->in_multi = false;
    c->multi_dirty = false;
    c->multi_n = 0;
    c->multi.len = 0;
}

bool srv__multi_queue(struct srv_conn *c,
                      const struct srv_cmd *cmd,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    const char *n = cmd->name;
    if (strcmp(n, "exec") == 0 || strcmp(n, "discard") == 0 ||
        strcmp(n, "multi") == 0 || strcmp(n, "quit") == 0 ||
        strcmp(n, "watch") == 0) {
        return false; /* the handlers deal with these */
    }
    /* UNWATCH is queued (Redis does so; the state machine answers it +OK
     * without touching the keyspace, see fsm.c). */
    if (cmd->kv_flags == 0 && strcmp(n, "unwatch") != 0) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "ERR Command not allowed inside a transaction: '%s'",
                 cmd->fullname);
        reply_err(c, msg);
        c->multi_dirty = true;
        return true;
    }
    if (proto_peer_encode_args(&c->multi, argc, argv, lens) != 0) {
        srv_reply_error_code(&c->out, -ENOMEM, 0);
        c->multi_dirty = true;
        return true;
    }
    c->multi_n++;
    proto_write_simple(&c->out, "QUEUED", 6);
    return true;
}

void srv__cmd_multi(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens)
{
    (void)argc;
    (void)argv;
    (void)lens;
    if (c->in_multi) {
        reply_err(c, "ERR MULTI calls can not be nested");
        return;
    }
    srv__multi_reset(c);
    c->in_multi = true;
    proto_write_simple(&c->out, "OK", 2);
}

void srv__cmd_discard(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    (void)argc;
    (void)argv;
    (void)lens;
    if (!c->in_multi) {
        reply_err(c, "ERR DISCARD without MULTI");
        return;
    }
    srv__multi_reset(c);
    srv__unwatch(c);
    proto_write_simple(&c->out, "OK", 2);
}

void srv__cmd_exec(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    const char *uargv[3] = {"raftkv.exec", NULL, NULL};
    size_t ulens[3] = {11, 0, 0};
    int rv;
    (void)argc;
    (void)argv;
    (void)lens;
    if (!c->in_multi) {
        reply_err(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->multi_dirty) {
        srv__multi_reset(c);
        srv__unwatch(c);
        reply_err(c,
                  "EXECABORT Transaction discarded because of previous "
                  "errors.");
        return;
    }
    if (c->multi_n == 0 && c->watch_n == 0) {
        srv__multi_reset(c);
        proto_write_array_len(&c->out, 0);
        return;
    }
    /* With watches, even an empty transaction goes through the log: its
     * reply (empty array or null) depends on the check there. */
    uargv[1] = c->multi.len > 0 ? c->multi.data : "";
    ulens[1] = c->multi.len;
    uargv[2] = c->watch.len > 0 ? c->watch.data : "";
    ulens[2] = c->watch.len;
    rv = srv__async_begin(c);
    if (rv == 0) {
        rv = radapter_propose(c->srv->ra, c->watch_n > 0 ? 3 : 2, uargv, ulens,
                              srv__async_done_cb, c);
    }
    /* radapter_propose copied the command. */
    srv__multi_reset(c);
    srv__unwatch(c);
    if (rv == 0) {
        srv__async_started(c);
    } else {
        srv_reply_error_code(&c->out, rv, 0);
    }
}

void srv__cmd_watch(struct srv_conn *c,
                    int argc,
                    const char *const *argv,
                    const size_t *lens)
{
    size_t bytes = 0;
    if (c->in_multi) {
        /* Redis answers this without marking the transaction failed. */
        reply_err(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < argc; i++) {
        bytes += lens[i];
    }
    /* Key bytes already watched (never above the cap). */
    size_t held = c->watch.len - (size_t)c->watch_n * PROTO_WATCH_ITEM_FIXED;
    if ((size_t)(argc - 1) > SRV_WATCH_MAX_KEYS - c->watch_n ||
        bytes > SRV_WATCH_MAX_BYTES - held) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "ERR too many watched keys (at most %u keys and %u key "
                 "bytes per connection)",
                 SRV_WATCH_MAX_KEYS, SRV_WATCH_MAX_BYTES);
        reply_err(c, msg);
        return;
    }
    size_t start = c->watch.len;
    int64_t now = srv__now_ms();
    for (int i = 1; i < argc; i++) {
        uint64_t v = kv_store_version(c->srv->store, argv[i], lens[i], now);
        if (proto_watch_add(&c->watch, argv[i], lens[i], v) != 0) {
            c->watch.len = start; /* all or nothing */
            srv_reply_error_code(&c->out, -ENOMEM, 0);
            return;
        }
    }
    c->watch_n += (uint32_t)(argc - 1);
    proto_write_simple(&c->out, "OK", 2);
}

void srv__cmd_unwatch(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    (void)argc;
    (void)argv;
    (void)lens;
    srv__unwatch(c);
    proto_write_simple(&c->out, "OK", 2);
}
