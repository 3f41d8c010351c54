/* MULTI / EXEC / DISCARD: a transaction commits as one unit through raft.
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
 * transaction. WATCH is not supported yet (issue 6). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server/srv_internal.h"

static void reply_err(struct srv_conn *c, const char *msg)
{
    proto_write_error(&c->out, msg, strlen(msg));
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
        strcmp(n, "multi") == 0 || strcmp(n, "quit") == 0) {
        return false; /* the handlers deal with these */
    }
    if (cmd->kv_flags == 0) {
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
    proto_write_simple(&c->out, "OK", 2);
}

void srv__cmd_exec(struct srv_conn *c,
                   int argc,
                   const char *const *argv,
                   const size_t *lens)
{
    const char *uargv[2] = {"raftkv.exec", NULL};
    size_t ulens[2] = {11, 0};
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
        reply_err(c,
                  "EXECABORT Transaction discarded because of previous "
                  "errors.");
        return;
    }
    if (c->multi_n == 0) {
        srv__multi_reset(c);
        proto_write_array_len(&c->out, 0);
        return;
    }
    uargv[1] = c->multi.data;
    ulens[1] = c->multi.len;
    rv = srv__async_begin(c);
    if (rv == 0) {
        rv = radapter_propose(c->srv->ra, 2, uargv, ulens, srv__async_done_cb,
                              c);
    }
    srv__multi_reset(c); /* radapter_propose copied the command */
    if (rv == 0) {
        srv__async_started(c);
    } else {
        srv_reply_error_code(&c->out, rv, 0);
    }
}
