/* COMMAND and its subcommands, in Redis 7's reply formats. */
#include <string.h>

#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static const struct
{
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {SRV_CMD_WRITE, "write"},       {SRV_CMD_READONLY, "readonly"},
    {SRV_CMD_DENYOOM, "denyoom"},   {SRV_CMD_ADMIN, "admin"},
    {SRV_CMD_NOSCRIPT, "noscript"}, {SRV_CMD_LOADING, "loading"},
    {SRV_CMD_STALE, "stale"},       {SRV_CMD_FAST, "fast"},
    {SRV_CMD_NO_AUTH, "no_auth"},   {SRV_CMD_ALLOWBUSY, "allow_busy"},
};

#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

/* Calls @fn for each "@category" word in @acl. */
static size_t acl_words(const char *acl, const char **words, size_t max)
{
    size_t n = 0;
    const char *p = acl;
    while (*p != '\0' && n < max) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        words[n++] = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
    }
    return n;
}

static size_t word_len(const char *w)
{
    size_t n = 0;
    while (w[n] != '\0' && w[n] != ' ') {
        n++;
    }
    return n;
}

static struct srv_cmd *find_full(const char *name, size_t n)
{
    const char *bar = memchr(name, '|', n);
    if (bar == NULL) {
        return srv_cmd_lookup(name, n);
    }
    struct srv_cmd *parent = srv_cmd_lookup(name, (size_t)(bar - name));
    if (parent == NULL) {
        return NULL;
    }
    return srv_cmd_lookup_sub(parent, bar + 1, n - (size_t)(bar - name) - 1);
}

/* ------------------------------------------------------------------------
 * INFO and DOCS entries
 * ---------------------------------------------------------------------- */

static void write_info(struct proto_buf *b, int resp, const struct srv_cmd *c)
{
    const char *words[16];
    size_t nflags = 0;
    for (size_t i = 0; i < NFLAGS; i++) {
        nflags += (c->flags & flag_names[i].flag) != 0;
    }
    proto_write_array_len(b, 10);
    srv_reply_bulk_cstr(b, c->fullname);
    proto_write_int(b, c->arity);
    proto_write_set_len(b, resp, nflags);
    for (size_t i = 0; i < NFLAGS; i++) {
        if (c->flags & flag_names[i].flag) {
            srv_reply_status(b, flag_names[i].name);
        }
    }
    proto_write_int(b, c->first_key);
    proto_write_int(b, c->last_key);
    proto_write_int(b, c->key_step);
    size_t nw = acl_words(c->acl, words, 16);
    proto_write_set_len(b, resp, nw);
    for (size_t i = 0; i < nw; i++) {
        proto_write_simple(b, words[i], word_len(words[i]));
    }
    proto_write_array_len(b, 0); /* tips */
    proto_write_array_len(b, 0); /* key specs */
    proto_write_array_len(b, c->nsubcmds);
    for (size_t i = 0; i < c->nsubcmds; i++) {
        write_info(b, resp, &c->subcmds[i]);
    }
}

static void write_docs(struct proto_buf *b, int resp, const struct srv_cmd *c)
{
    proto_write_map_len(b, resp, c->nsubcmds > 0 ? 5 : 4);
    srv_reply_bulk_cstr(b, "summary");
    srv_reply_bulk_cstr(b, c->summary);
    srv_reply_bulk_cstr(b, "since");
    srv_reply_bulk_cstr(b, c->since);
    srv_reply_bulk_cstr(b, "group");
    srv_reply_bulk_cstr(b, c->group);
    srv_reply_bulk_cstr(b, "complexity");
    srv_reply_bulk_cstr(b, c->complexity);
    if (c->nsubcmds > 0) {
        srv_reply_bulk_cstr(b, "subcommands");
        proto_write_map_len(b, resp, c->nsubcmds);
        for (size_t i = 0; i < c->nsubcmds; i++) {
            srv_reply_bulk_cstr(b, c->subcmds[i].fullname);
            write_docs(b, resp, &c->subcmds[i]);
        }
    }
}

/* ------------------------------------------------------------------------
 * LIST with filters
 * ---------------------------------------------------------------------- */

static bool has_acl(const struct srv_cmd *c, const char *cat, size_t n)
{
    const char *words[16];
    size_t nw = acl_words(c->acl, words, 16);
    for (size_t i = 0; i < nw; i++) {
        size_t wl = word_len(words[i]);
        if (wl == n + 1 && strncasecmp(words[i] + 1, cat, n) == 0) {
            return true;
        }
    }
    return false;
}

enum filter { F_NONE, F_MODULE, F_ACLCAT, F_PATTERN };

static bool list_match(const struct srv_cmd *c,
                       enum filter f,
                       const char *arg,
                       size_t n)
{
    switch (f) {
        case F_NONE:
            return true;
        case F_MODULE:
            return false;
        case F_ACLCAT:
            return has_acl(c, arg, n);
        case F_PATTERN:
            return srv_glob_match(arg, n, c->fullname, strlen(c->fullname),
                                  true);
    }
    return false;
}

static void command_list(struct srv_conn *c,
                         int argc,
                         const char *const *argv,
                         const size_t *lens)
{
    enum filter f = F_NONE;
    const char *arg = NULL;
    size_t alen = 0;
    struct proto_buf tmp;
    size_t n = 0;

    if (argc == 5 && srv__arg_is(argv[2], lens[2], "filterby")) {
        arg = argv[4];
        alen = lens[4];
        if (srv__arg_is(argv[3], lens[3], "module")) {
            f = F_MODULE;
        } else if (srv__arg_is(argv[3], lens[3], "aclcat")) {
            f = F_ACLCAT;
        } else if (srv__arg_is(argv[3], lens[3], "pattern")) {
            f = F_PATTERN;
        } else {
            srv_reply_errorf(&c->out, "ERR syntax error");
            return;
        }
    } else if (argc != 2) {
        srv_reply_errorf(&c->out, "ERR syntax error");
        return;
    }
    proto_buf_init(&tmp);
    for (size_t i = 0; i < srv_cmd_count(); i++) {
        const struct srv_cmd *cmd = srv_cmd_at(i);
        if (list_match(cmd, f, arg, alen)) {
            srv_reply_bulk_cstr(&tmp, cmd->fullname);
            n++;
        }
        for (size_t k = 0; k < cmd->nsubcmds; k++) {
            if (list_match(&cmd->subcmds[k], f, arg, alen)) {
                srv_reply_bulk_cstr(&tmp, cmd->subcmds[k].fullname);
                n++;
            }
        }
    }
    proto_write_array_len(&c->out, n);
    proto_buf_append(&c->out, tmp.data, tmp.len);
    proto_buf_fini(&tmp);
}

/* ------------------------------------------------------------------------
 * GETKEYS
 * ---------------------------------------------------------------------- */

static void command_getkeys(struct srv_conn *c,
                            int argc,
                            const char *const *argv,
                            const size_t *lens,
                            bool with_flags)
{
    int kargc = argc - 2;
    const char *const *kargv = argv + 2;
    const size_t *klens = lens + 2;
    struct srv_cmd *cmd = srv_cmd_lookup(kargv[0], klens[0]);

    if (cmd == NULL) {
        srv_reply_errorf(&c->out, "ERR Invalid command specified");
        return;
    }
    if (cmd->nsubcmds > 0 && kargc >= 2) {
        struct srv_cmd *sub = srv_cmd_lookup_sub(cmd, kargv[1], klens[1]);
        if (sub == NULL) {
            srv_reply_errorf(&c->out, "ERR Invalid command specified");
            return;
        }
        cmd = sub;
    }
    if (!srv_cmd_arity_ok(cmd, kargc)) {
        srv_reply_errorf(&c->out,
                         "ERR Invalid number of arguments specified for "
                         "command");
        return;
    }
    if (cmd->first_key <= 0) {
        srv_reply_errorf(&c->out, "ERR The command has no key arguments");
        return;
    }
    int last = cmd->last_key < 0 ? kargc + cmd->last_key : cmd->last_key;
    if (last >= kargc) {
        last = kargc - 1;
    }
    size_t n = 0;
    for (int i = cmd->first_key; i <= last; i += cmd->key_step) {
        n++;
    }
    proto_write_array_len(&c->out, n);
    for (int i = cmd->first_key; i <= last; i += cmd->key_step) {
        if (!with_flags) {
            proto_write_bulk(&c->out, kargv[i], klens[i]);
            continue;
        }
        bool ro = (cmd->flags & SRV_CMD_WRITE) == 0;
        proto_write_array_len(&c->out, 2);
        proto_write_bulk(&c->out, kargv[i], klens[i]);
        proto_write_set_len(&c->out, c->resp, 2);
        srv_reply_status(&c->out, ro ? "RO" : "RW");
        srv_reply_status(&c->out, ro ? "access" : "update");
    }
}

/* ------------------------------------------------------------------------
 * COMMAND dispatcher
 * ---------------------------------------------------------------------- */

static const char *const command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    ("LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN "
     "<pattern>)]"),
    "    Return a list of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full command.",
    "HELP",
    "    Prints this help.",
};

static void command_info(struct srv_conn *c,
                         int argc,
                         const char *const *argv,
                         const size_t *lens,
                         int first)
{
    if (argc <= first) {
        proto_write_array_len(&c->out, srv_cmd_count());
        for (size_t i = 0; i < srv_cmd_count(); i++) {
            write_info(&c->out, c->resp, srv_cmd_at(i));
        }
        return;
    }
    proto_write_array_len(&c->out, (size_t)(argc - first));
    for (int i = first; i < argc; i++) {
        const struct srv_cmd *cmd = find_full(argv[i], lens[i]);
        if (cmd == NULL) {
            proto_write_null(&c->out, c->resp);
        } else {
            write_info(&c->out, c->resp, cmd);
        }
    }
}

static void command_docs(struct srv_conn *c,
                         int argc,
                         const char *const *argv,
                         const size_t *lens)
{
    const struct srv_cmd *found[64];
    size_t n = 0;
    if (argc == 2) {
        proto_write_map_len(&c->out, c->resp, srv_cmd_count());
        for (size_t i = 0; i < srv_cmd_count(); i++) {
            srv_reply_bulk_cstr(&c->out, srv_cmd_at(i)->fullname);
            write_docs(&c->out, c->resp, srv_cmd_at(i));
        }
        return;
    }
    for (int i = 2; i < argc && n < 64; i++) {
        const struct srv_cmd *cmd = find_full(argv[i], lens[i]);
        if (cmd != NULL) {
            found[n++] = cmd;
        }
    }
    proto_write_map_len(&c->out, c->resp, n);
    for (size_t i = 0; i < n; i++) {
        srv_reply_bulk_cstr(&c->out, found[i]->fullname);
        write_docs(&c->out, c->resp, found[i]);
    }
}

void srv__cmd_command(struct srv_conn *c,
                      int argc,
                      const char *const *argv,
                      const size_t *lens)
{
    if (argc == 1) {
        command_info(c, argc, argv, lens, 1);
        return;
    }
    const char *sub = argv[1];
    size_t n = lens[1];
    if (srv__arg_is(sub, n, "count")) {
        proto_write_int(&c->out, (int64_t)srv_cmd_count());
    } else if (srv__arg_is(sub, n, "info")) {
        command_info(c, argc, argv, lens, 2);
    } else if (srv__arg_is(sub, n, "docs")) {
        command_docs(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "list")) {
        command_list(c, argc, argv, lens);
    } else if (srv__arg_is(sub, n, "getkeys")) {
        command_getkeys(c, argc, argv, lens, false);
    } else if (srv__arg_is(sub, n, "getkeysandflags")) {
        command_getkeys(c, argc, argv, lens, true);
    } else {
        size_t k = sizeof(command_help) / sizeof(command_help[0]);
        proto_write_array_len(&c->out, k);
        for (size_t i = 0; i < k; i++) {
            srv_reply_status(&c->out, command_help[i]);
        }
    }
}
