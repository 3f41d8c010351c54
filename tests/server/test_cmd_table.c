/* Unit tests of the command table: lookup, agreement with kv, globbing. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "server/srv.h"

TestSuite(cmd_table, .timeout = 30);

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

static struct kv_store *store;

static void setup(void)
{
    static const uint8_t seed[16] = {1, 2, 3};
    srv_cmd_table_init();
    store = kv_store_new(seed);
    cr_assert(store != NULL);
}

static void teardown(void)
{
    kv_store_free(store);
}

/* Every command name Redis 7 has in the families kv may implement, plus
 * others: whatever kv knows must be in the table. */
static const char *const redis_names[] = {
    "append",     "bitcount",    "bitfield",  "bitfield_ro", "bitop",
    "bitpos",     "copy",        "dbsize",    "decr",        "decrby",
    "del",        "dump",        "exists",    "expire",      "expireat",
    "expiretime", "flushall",    "flushdb",   "get",         "getbit",
    "getdel",     "getex",       "getrange",  "getset",      "incr",
    "incrby",     "incrbyfloat", "keys",      "lcs",         "mget",
    "migrate",    "move",        "mset",      "msetnx",      "object",
    "persist",    "pexpire",     "pexpireat", "pexpiretime", "psetex",
    "pttl",       "randomkey",   "rename",    "renamenx",    "restore",
    "scan",       "set",         "setbit",    "setex",       "setnx",
    "setrange",   "sort",        "sort_ro",   "strlen",      "substr",
    "touch",      "ttl",         "type",      "unlink",      "wait",
    "lpush",      "rpush",       "lpop",      "hset",        "hget",
    "sadd",       "zadd",        "xadd",      "publish",     "subscribe",
    "multi",      "exec",        "watch",     "eval",        "swapdb",
};

/* Runs @name with @argc arguments ("k" each) through kv. */
static int exec_err(const char *name, int argc)
{
    const char *argv[16];
    size_t lens[16];
    struct kv_exec_ctx ctx = {0, 512 * 1024 * 1024, 1, 0, 0, 0};
    struct kv_reply r;
    cr_assert(argc <= 16);
    argv[0] = name;
    lens[0] = strlen(name);
    for (int i = 1; i < argc; i++) {
        argv[i] = "1";
        lens[i] = 1;
    }
    memset(&r, 0, sizeof(r));
    kv_exec(store, &ctx, argc, argv, lens, &r);
    int err = r.type == KV_REPLY_ERROR ? r.err : 0;
    kv_reply_fini(&r);
    return err;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(cmd_table, lookup_is_case_insensitive, .init = setup, .fini = teardown)
{
    struct srv_cmd *a = srv_cmd_lookup("ping", 4);
    cr_assert(a != NULL);
    cr_assert(eq(ptr, srv_cmd_lookup("PING", 4), a));
    cr_assert(eq(ptr, srv_cmd_lookup("PiNg", 4), a));
    cr_assert(eq(ptr, srv_cmd_lookup("pingx", 4), a), "length given");
    cr_assert(srv_cmd_lookup("pin", 3) == NULL);
    cr_assert(srv_cmd_lookup("", 0) == NULL);
    char longname[100];
    memset(longname, 'a', sizeof(longname));
    cr_assert(srv_cmd_lookup(longname, sizeof(longname)) == NULL);
    cr_assert(srv_cmd_lookup("nosuchcommand", 13) == NULL);
}

Test(cmd_table, every_available_entry_is_found, .init = setup, .fini = teardown)
{
    cr_assert(srv_cmd_count() > 10);
    for (size_t i = 0; i < srv_cmd_count(); i++) {
        struct srv_cmd *c = srv_cmd_at(i);
        cr_assert(eq(ptr, srv_cmd_lookup(c->name, strlen(c->name)), c));
        cr_assert(c->arity != 0, "%s", c->name);
        cr_assert(c->acl != NULL && c->summary != NULL && c->since != NULL &&
                      c->group != NULL && c->complexity != NULL,
                  "%s", c->name);
        for (size_t k = 0; k < c->nsubcmds; k++) {
            struct srv_cmd *s = &c->subcmds[k];
            cr_assert(
                eq(ptr, srv_cmd_lookup_sub(c, s->name, strlen(s->name)), s));
            cr_assert(s->parent == c);
            cr_assert(strncmp(s->fullname, c->name, strlen(c->name)) == 0);
        }
    }
    struct srv_cmd *cfg = srv_cmd_lookup("config", 6);
    cr_assert(cfg != NULL);
    cr_assert(srv_cmd_lookup_sub(cfg, "GET", 3) != NULL);
    cr_assert(srv_cmd_lookup_sub(cfg, "nope", 4) == NULL);
}

Test(cmd_table, every_kv_command_has_an_entry, .init = setup, .fini = teardown)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(redis_names) / sizeof(redis_names[0]); i++) {
        unsigned flags;
        const char *name = redis_names[i];
        if (!kv_cmd_lookup(name, strlen(name), &flags)) {
            continue;
        }
        n++;
        struct srv_cmd *c = srv_cmd_lookup(name, strlen(name));
        cr_assert(c != NULL, "kv knows %s but the table does not", name);
        cr_assert(ne(u32, c->flags & SRV_CMD_DATA, 0), "%s", name);
        bool kv_write = (flags & KV_CMD_WRITE) != 0;
        bool tbl_write = (c->flags & SRV_CMD_WRITE) != 0;
        cr_assert(eq(int, kv_write, tbl_write), "write flag of %s", name);
        cr_assert(eq(u32, c->kv_flags, flags), "%s", name);
    }
    cr_assert(n > 0, "kv knows no commands?");
}

Test(cmd_table,
     every_data_entry_is_a_kv_command,
     .init = setup,
     .fini = teardown)
{
    for (size_t i = 0; i < srv_cmd_count(); i++) {
        struct srv_cmd *c = srv_cmd_at(i);
        unsigned flags;
        if (!(c->flags & SRV_CMD_DATA)) {
            cr_assert(not(kv_cmd_lookup(c->name, strlen(c->name), &flags)),
                      "%s is a kv command but has no data flag", c->name);
            continue;
        }
        if (c->handler == NULL) {
            cr_assert(kv_cmd_lookup(c->name, strlen(c->name), &flags),
                      "%s is listed but kv does not execute it", c->name);
        }
    }
}

Test(cmd_table, arities_agree_with_kv, .init = setup, .fini = teardown)
{
    for (size_t i = 0; i < srv_cmd_count(); i++) {
        struct srv_cmd *c = srv_cmd_at(i);
        if (c->kv_flags == 0) {
            continue;
        }
        int a = c->arity;
        int ok = a > 0 ? a : -a;
        if (ok <= 16) {
            cr_assert(ne(int, exec_err(c->name, ok), KV_ERR_ARITY),
                      "%s with %d arguments", c->name, ok);
        }
        if (ok - 1 >= 1) {
            cr_assert(eq(int, exec_err(c->name, ok - 1), KV_ERR_ARITY),
                      "%s with %d arguments", c->name, ok - 1);
        }
        if (a > 0 && a + 1 <= 16) {
            cr_assert(eq(int, exec_err(c->name, a + 1), KV_ERR_ARITY),
                      "%s with %d arguments", c->name, a + 1);
        }
    }
}

Test(cmd_table, arity_helper)
{
    struct srv_cmd fixed = {.arity = 2};
    struct srv_cmd min = {.arity = -3};
    cr_assert(srv_cmd_arity_ok(&fixed, 2));
    cr_assert(not(srv_cmd_arity_ok(&fixed, 3)));
    cr_assert(not(srv_cmd_arity_ok(&min, 2)));
    cr_assert(srv_cmd_arity_ok(&min, 3));
    cr_assert(srv_cmd_arity_ok(&min, 30));
}

Test(cmd_table, glob_match)
{
    static const struct
    {
        const char *pat;
        const char *s;
        bool nocase;
        bool want;
    } cases[] = {
        {"*", "", false, true},
        {"*", "anything", false, true},
        {"max*", "maxclients", false, true},
        {"max*", "minclients", false, false},
        {"*clients", "maxclients", false, true},
        {"m?x*", "maxmemory", false, true},
        {"h[ae]llo", "hello", false, true},
        {"h[ae]llo", "hillo", false, false},
        {"h[^e]llo", "hallo", false, true},
        {"h[^e]llo", "hello", false, false},
        {"h[a-c]llo", "hbllo", false, true},
        {"h[a-c]llo", "hdllo", false, false},
        {"h\\*llo", "h*llo", false, true},
        {"h\\*llo", "hello", false, false},
        {"MAX*", "maxclients", true, true},
        {"MAX*", "maxclients", false, false},
        {"*a*b*c*", "xxaxxbxxcxx", false, true},
        {"*a*b*c*", "xxaxxcxxbxx", false, false},
        {"a*", "", false, false},
        {"", "", false, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got =
            srv_glob_match(cases[i].pat, strlen(cases[i].pat), cases[i].s,
                           strlen(cases[i].s), cases[i].nocase);
        cr_assert(eq(int, got, cases[i].want), "'%s' vs '%s'", cases[i].pat,
                  cases[i].s);
    }
}

Test(cmd_table, glob_worst_case_is_fast)
{
    char s[4000];
    char pat[200];
    memset(s, 'a', sizeof(s));
    for (size_t i = 0; i < sizeof(pat); i += 2) {
        pat[i] = '*';
        pat[i + 1] = 'a';
    }
    pat[sizeof(pat) - 1] = 'b';
    cr_assert(not(srv_glob_match(pat, sizeof(pat), s, sizeof(s), false)));
}
