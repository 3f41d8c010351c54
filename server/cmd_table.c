/* The command table as data, with a case-insensitive hash index. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "server/srv.h"
#include "server/srv_internal.h"

/* ------------------------------------------------------------------------
 * Flag shorthands
 * ---------------------------------------------------------------------- */

#define W  SRV_CMD_WRITE
#define R  SRV_CMD_READONLY
#define M  SRV_CMD_DENYOOM
#define A  SRV_CMD_ADMIN
#define NS SRV_CMD_NOSCRIPT
#define LD SRV_CMD_LOADING
#define ST SRV_CMD_STALE
#define F  SRV_CMD_FAST
#define NA SRV_CMD_NO_AUTH
#define AB SRV_CMD_ALLOWBUSY
#define SE SRV_CMD_SENTINEL
#define D  SRV_CMD_DATA

/* A data command (executed by kv). */
#define DCMD(n, ar, fl, fk, lk, st, acl, grp, since, sum, cx)                 \
    {                                                                         \
        n, n, NULL, ar, (fl) | D, fk, lk, st, acl, grp, since, sum, cx, NULL, \
            0, NULL, 0, 0, 0, 0, 0                                            \
    }

/* A server command with a handler. */
#define SCMD(n, h, ar, fl, acl, grp, since, sum, cx)                          \
    {                                                                         \
        n, n, h, ar, fl, 0, 0, 0, acl, grp, since, sum, cx, NULL, 0, NULL, 0, \
            0, 0, 0, 0                                                        \
    }

/* A subcommand; fullname is "parent|name". */
#define SUB(p, n, h, ar, fl, acl, since, sum, cx)                            \
    {                                                                        \
        n, p "|" n, h, ar, fl, 0, 0, 0, acl, "server", since, sum, cx, NULL, \
            0, NULL, 0, 0, 0, 0, 0                                           \
    }

#define NSUB(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * Subcommands
 * ---------------------------------------------------------------------- */

#define ADM     A | NS | LD | ST
#define ADM_ACL "@admin @slow @dangerous"
#define CCMD    srv__cmd_command
#define CLI     srv__cmd_client
#define CFG     srv__cmd_config

/* clang-format off */
static struct srv_cmd command_subs[] = {
    SUB("command", "count", CCMD, 2, LD | ST, "@slow @connection", "2.8.13",
        "Get total number of Redis commands", "O(1)"),
    SUB("command", "docs", CCMD, -2, LD | ST, "@slow @connection", "7.0.0",
        "Get array of specific Redis command documentation",
        "O(N) where N is the number of commands to look up"),
    SUB("command", "getkeys", CCMD, -4, LD | ST, "@slow @connection", "2.8.13",
        "Extract keys given a full Redis command",
        "O(N) where N is the number of arguments to the command"),
    SUB("command", "getkeysandflags", CCMD, -4, LD | ST, "@slow @connection",
        "7.0.0", "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command"),
    SUB("command", "help", CCMD, 2, LD | ST, "@slow @connection", "5.0.0",
        "Show helpful text about the different subcommands", "O(1)"),
    SUB("command", "info", CCMD, -2, LD | ST, "@slow @connection", "2.8.13",
        "Get array of specific Redis command details, or all when no "
        "argument is given.",
        "O(N) where N is the number of commands to look up"),
    SUB("command", "list", CCMD, -2, LD | ST, "@slow @connection", "7.0.0",
        "Get an array of Redis command names",
        "O(N) where N is the total number of Redis commands"),
};

static struct srv_cmd client_subs[] = {
    SUB("client", "getname", CLI, 2, NS | LD | ST, "@slow @connection", "2.6.9",
        "Get the current connection name", "O(1)"),
    SUB("client", "help", CLI, 2, LD | ST, "@slow @connection", "5.0.0",
        "Show helpful text about the different subcommands", "O(1)"),
    SUB("client", "id", CLI, 2, NS | LD | ST, "@slow @connection", "5.0.0",
        "Returns the client ID for the current connection", "O(1)"),
    SUB("client", "info", CLI, 2, NS | LD | ST, "@slow @connection", "6.2.0",
        "Returns information about the current client connection.", "O(1)"),
    SUB("client", "kill", CLI, -3, ADM, ADM_ACL " @connection", "2.4.0",
        "Kill the connection of a client",
        "O(N) where N is the number of client connections"),
    SUB("client", "list", CLI, -2, ADM, ADM_ACL " @connection", "2.4.0",
        "Get the list of client connections",
        "O(N) where N is the number of client connections"),
    SUB("client", "no-evict", CLI, 3, ADM, ADM_ACL " @connection", "7.0.0",
        "Set client eviction mode for the current connection", "O(1)"),
    SUB("client", "no-touch", CLI, 3, NS | LD | ST, "@slow @connection",
        "7.2.0",
        "Controls whether commands sent by the client will alter the "
        "LRU/LFU of the keys they access.",
        "O(1)"),
    SUB("client", "reply", CLI, 3, NS | LD | ST, "@slow @connection", "3.2.0",
        "Instruct the server whether to reply to commands", "O(1)"),
    SUB("client", "setinfo", CLI, 4, NS | LD | ST, "@slow @connection", "7.2.0",
        "Set client or connection specific info", "O(1)"),
    SUB("client", "setname", CLI, 3, NS | LD | ST, "@slow @connection", "2.6.9",
        "Set the current connection name", "O(1)"),
};

static struct srv_cmd config_subs[] = {
    SUB("config", "get", CFG, -3, ADM, ADM_ACL, "2.0.0",
        "Get the values of configuration parameters",
        "O(N) when N is the number of configuration parameters provided"),
    SUB("config", "help", CFG, 2, LD | ST, "@slow", "5.0.0",
        "Show helpful text about the different subcommands", "O(1)"),
    SUB("config", "resetstat", CFG, 2, ADM, ADM_ACL, "2.0.0",
        "Reset the stats returned by INFO", "O(1)"),
    SUB("config", "rewrite", CFG, 2, ADM, ADM_ACL, "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        "O(1)"),
    SUB("config", "set", CFG, -4, ADM, ADM_ACL, "2.0.0",
        "Set configuration parameters to the given values",
        "O(N) when N is the number of configuration parameters provided"),
};

/* ------------------------------------------------------------------------
 * The table. Data commands carry Redis 7's metadata; whether kv executes
 * each is learned from kv_cmd_lookup at init.
 * ---------------------------------------------------------------------- */

#define WS "@write @string"
#define RS "@read @string"
#define WB "@write @bitmap"
#define RB "@read @bitmap"
#define WK "@keyspace @write"
#define RK "@keyspace @read"
#define O1 "O(1)"
#define WL "@write @list"
#define RL "@read @list"
#define PUSHN                                                          \
    "O(1) for each element added, so O(N) to add N elements when the " \
    "command is called with multiple arguments."

static struct srv_cmd table[] = {
    /* Strings. */
    DCMD("append", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "2.0.0",
        "Append a value to a key", O1),
    DCMD("decr", 2, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Decrement the integer value of a key by one", O1),
    DCMD("decrby", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Decrement the integer value of a key by the given number", O1),
    DCMD("get", 2, R | F, 1, 1, 1, RS " @fast", "string", "1.0.0",
        "Get the value of a key", O1),
    DCMD("getdel", 2, W | F, 1, 1, 1, WS " @fast", "string", "6.2.0",
        "Get the value of a key and delete the key", O1),
    DCMD("getex", -2, W | F, 1, 1, 1, WS " @fast", "string", "6.2.0",
        "Get the value of a key and optionally set its expiration", O1),
    DCMD("getrange", 4, R, 1, 1, 1, RS " @slow", "string", "2.4.0",
        "Get a substring of the string stored at a key",
        "O(N) where N is the length of the returned string."),
    DCMD("getset", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Set the string value of a key and return its old value", O1),
    DCMD("incr", 2, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Increment the integer value of a key by one", O1),
    DCMD("incrby", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Increment the integer value of a key by the given amount", O1),
    DCMD("incrbyfloat", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "2.6.0",
        "Increment the float value of a key by the given amount", O1),
    DCMD("lcs", -3, R, 1, 2, 1, RS " @slow", "string", "7.0.0",
        "Find longest common substring",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
    DCMD("mget", -2, R | F, 1, -1, 1, RS " @fast", "string", "1.0.0",
        "Get the values of all the given keys",
        "O(N) where N is the number of keys to retrieve."),
    DCMD("mset", -3, W | M, 1, -1, 2, WS " @slow", "string", "1.0.1",
        "Set multiple keys to multiple values",
        "O(N) where N is the number of keys to set."),
    DCMD("msetnx", -3, W | M, 1, -1, 2, WS " @slow", "string", "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys "
        "exist",
        "O(N) where N is the number of keys to set."),
    DCMD("psetex", 4, W | M, 1, 1, 1, WS " @slow", "string", "2.6.0",
        "Set the value and expiration in milliseconds of a key", O1),
    DCMD("set", -3, W | M, 1, 1, 1, WS " @slow", "string", "1.0.0",
        "Set the string value of a key", O1),
    DCMD("setex", 4, W | M, 1, 1, 1, WS " @slow", "string", "2.0.0",
        "Set the value and expiration of a key", O1),
    DCMD("setnx", 3, W | M | F, 1, 1, 1, WS " @fast", "string", "1.0.0",
        "Set the value of a key, only if the key does not exist", O1),
    DCMD("setrange", 4, W | M, 1, 1, 1, WS " @slow", "string", "2.2.0",
        "Overwrite part of a string at key starting at the specified " "offset",
        O1),
    DCMD("strlen", 2, R | F, 1, 1, 1, RS " @fast", "string", "2.2.0",
        "Get the length of the value stored in a key", O1),
    DCMD("substr", 4, R, 1, 1, 1, RS " @slow", "string", "1.0.0",
        "Get a substring of the string stored at a key",
        "O(N) where N is the length of the returned string."),
    /* Bitmaps. */
    DCMD("bitcount", -2, R, 1, 1, 1, RB " @slow", "bitmap", "2.6.0",
        "Count set bits in a string", "O(N)"),
    DCMD("bitfield", -2, W | M, 1, 1, 1, WB " @slow", "bitmap", "3.2.0",
        "Perform arbitrary bitfield integer operations on strings",
        "O(1) for each subcommand specified"),
    DCMD("bitfield_ro", -2, R | F, 1, 1, 1, RB " @fast", "bitmap", "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. "
        "Read-only variant of BITFIELD",
        "O(1) for each subcommand specified"),
    DCMD("bitop", -4, W | M, 2, -1, 1, WB " @slow", "bitmap", "2.6.0",
        "Perform bitwise operations between strings", "O(N)"),
    DCMD("bitpos", -3, R, 1, 1, 1, RB " @slow", "bitmap", "2.8.7",
        "Find first bit set or clear in a string", "O(N)"),
    DCMD("getbit", 3, R | F, 1, 1, 1, RB " @fast", "bitmap", "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        O1),
    DCMD("setbit", 4, W | M, 1, 1, 1, WB " @slow", "bitmap", "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
        O1),
    /* Keys. */
    DCMD("copy", -3, W | M, 1, 2, 1, WK " @slow", "generic", "6.2.0",
        "Copy a key", "O(N) worst case for collections"),
    DCMD("del", -2, W, 1, -1, 1, WK " @slow", "generic", "1.0.0",
        "Delete a key", "O(N) where N is the number of keys"),
    DCMD("exists", -2, R | F, 1, -1, 1, RK " @fast", "generic", "1.0.0",
        "Determine if a key exists", "O(N) where N is the number of keys"),
    DCMD("expire", -3, W | F, 1, 1, 1, WK " @fast", "generic", "1.0.0",
        "Set a key's time to live in seconds", O1),
    DCMD("expireat", -3, W | F, 1, 1, 1, WK " @fast", "generic", "1.2.0",
        "Set the expiration for a key as a UNIX timestamp", O1),
    DCMD("expiretime", 2, R | F, 1, 1, 1, RK " @fast", "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key", O1),
    DCMD("keys", 2, R, 0, 0, 0, RK " @slow @dangerous", "generic", "1.0.0",
        "Find all keys matching the given pattern",
        "O(N) with N being the number of keys in the database"),
    /* Shown as Redis 7 shows the container (no flags, keys or categories
     * of its own); kv still runs it as a read of key 2. */
    DCMD("object", -2, 0, 0, 0, 0, "@slow", "generic", "2.2.3",
        "A container for object introspection commands",
        "Depends on subcommand."),
    DCMD("persist", 2, W | F, 1, 1, 1, WK " @fast", "generic", "2.2.0",
        "Remove the expiration from a key", O1),
    DCMD("pexpire", -3, W | F, 1, 1, 1, WK " @fast", "generic", "2.6.0",
        "Set a key's time to live in milliseconds", O1),
    DCMD("pexpireat", -3, W | F, 1, 1, 1, WK " @fast", "generic", "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in "
        "milliseconds",
        O1),
    DCMD("pexpiretime", 2, R | F, 1, 1, 1, RK " @fast", "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds", O1),
    DCMD("pttl", 2, R | F, 1, 1, 1, RK " @fast", "generic", "2.6.0",
        "Get the time to live for a key in milliseconds", O1),
    DCMD("randomkey", 1, R, 0, 0, 0, RK " @slow", "generic", "1.0.0",
        "Return a random key from the keyspace", O1),
    DCMD("rename", 3, W, 1, 2, 1, WK " @slow", "generic", "1.0.0",
        "Rename a key", O1),
    DCMD("renamenx", 3, W | F, 1, 2, 1, WK " @fast", "generic", "1.0.0",
        "Rename a key, only if the new key does not exist", O1),
    DCMD("scan", -2, R, 0, 0, 0, RK " @slow", "generic", "2.8.0",
        "Incrementally iterate the keys space",
        "O(1) for every call. O(N) for a complete iteration."),
    DCMD("touch", -2, R | F, 1, -1, 1, RK " @fast", "generic", "3.2.1",
        "Alters the last access time of a key(s). Returns the number of "
        "existing keys specified.",
        "O(N) where N is the number of keys that will be touched."),
    DCMD("ttl", 2, R | F, 1, 1, 1, RK " @fast", "generic", "1.0.0",
        "Get the time to live for a key in seconds", O1),
    DCMD("type", 2, R | F, 1, 1, 1, RK " @fast", "generic", "1.0.0",
        "Determine the type stored at key", O1),
    DCMD("unlink", -2, W | F, 1, -1, 1, WK " @fast", "generic", "4.0.0",
        "Delete a key asynchronously in another thread.",
        "O(1) for each key removed regardless of its size."),
    /* Lists. */
    DCMD("lindex", 3, R, 1, 1, 1, RL " @slow", "list", "1.0.0",
        "Get an element from a list by its index",
        "O(N) where N is the number of elements to traverse to get to the "
        "element at index. This makes asking for the first or the last "
        "element of the list O(1)."),
    DCMD("llen", 2, R | F, 1, 1, 1, RL " @fast", "list", "1.0.0",
        "Get the length of a list", O1),
    DCMD("lpop", -2, W | F, 1, 1, 1, WL " @fast", "list", "1.0.0",
        "Remove and get the first elements in a list",
        "O(N) where N is the number of elements returned"),
    DCMD("lpush", -3, W | M | F, 1, 1, 1, WL " @fast", "list", "1.0.0",
        "Prepend one or multiple elements to a list", PUSHN),
    DCMD("lpushx", -3, W | M | F, 1, 1, 1, WL " @fast", "list", "2.2.0",
        "Prepend an element to a list, only if the list exists", PUSHN),
    DCMD("lrange", 4, R, 1, 1, 1, RL " @slow", "list", "1.0.0",
        "Get a range of elements from a list",
        "O(S+N) where S is the distance of start offset from HEAD for small "
        "lists, from nearest end (HEAD or TAIL) for large lists; and N is "
        "the number of elements in the specified range."),
    DCMD("rpop", -2, W | F, 1, 1, 1, WL " @fast", "list", "1.0.0",
        "Remove and get the last elements in a list",
        "O(N) where N is the number of elements returned"),
    DCMD("rpush", -3, W | M | F, 1, 1, 1, WL " @fast", "list", "1.0.0",
        "Append one or multiple elements to a list", PUSHN),
    DCMD("rpushx", -3, W | M | F, 1, 1, 1, WL " @fast", "list", "2.2.0",
        "Append an element to a list, only if the list exists", PUSHN),
    /* Keyspace-wide commands kv executes (FLUSH* go through raft). */
    DCMD("flushall", -1, W, 0, 0, 0, WK " @slow @dangerous", "server", "1.0.0",
        "Remove all keys from all databases",
        "O(N) where N is the total number of keys in all databases"),
    DCMD("flushdb", -1, W, 0, 0, 0, WK " @slow @dangerous", "server", "1.0.0",
        "Remove all keys from the current database",
        "O(N) where N is the number of keys in the selected database"),
    {"dbsize", "dbsize", srv__cmd_dbsize, 1, R | F | D, 0, 0, 0, RK " @fast",
        "server", "1.0.0", "Return the number of keys in the selected database",
        O1, NULL, 0, NULL, 0, 0, 0, 0, 0},
    /* Connection and server. */
    SCMD("auth", srv__cmd_auth, -2, NS | LD | ST | F | NA | SE | AB,
        "@fast @connection", "connection", "1.0.0",
        "Authenticate to the server",
        "O(N) where N is the number of passwords defined for the user"),
    SCMD("echo", srv__cmd_echo, 2, LD | ST | F, "@fast @connection", "connection",
        "1.0.0", "Echo the given string", O1),
    SCMD("hello", srv__cmd_hello, -1, NS | LD | ST | F | NA | SE | AB,
        "@fast @connection", "connection", "6.0.0", "Handshake with Redis", O1),
    SCMD("info", srv__cmd_info, -1, LD | ST | SE, "@slow @dangerous", "server",
        "1.0.0", "Get information and statistics about the server", O1),
    SCMD("ping", srv__cmd_ping, -1, F | SE, "@fast @connection", "connection",
        "1.0.0", "Ping the server", O1),
    SCMD("multi", srv__cmd_multi, 1, NS | LD | ST | F | AB,
        "@fast @transaction", "transactions", "1.2.0",
        "Start a transaction block", O1),
    SCMD("exec", srv__cmd_exec, 1, NS | LD | ST | SE,
        "@slow @transaction", "transactions", "1.2.0",
        "Execute all commands issued after MULTI", O1),
    SCMD("discard", srv__cmd_discard, 1, NS | LD | ST | F | AB,
        "@fast @transaction", "transactions", "2.0.0",
        "Discard all commands issued after MULTI", O1),
    {"watch", "watch", srv__cmd_watch, -2, NS | LD | ST | F | AB, 1, -1, 1,
        "@fast @transaction", "transactions", "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block",
        "O(1) for every key.", NULL, 0, NULL, 0, 0, 0, 0, 0},
    SCMD("unwatch", srv__cmd_unwatch, 1, NS | LD | ST | F | AB,
        "@fast @transaction", "transactions", "2.2.0",
        "Forget about all watched keys", O1),
    SCMD("quit", srv__cmd_quit, -1, AB | NS | LD | ST | F | NA,
        "@fast @connection", "connection", "1.0.0", "Close the connection", O1),
    SCMD("select", srv__cmd_select, 2, LD | ST | F, "@fast @connection",
        "connection", "1.0.0",
        "Change the selected database for the " "current connection", O1),
    SCMD("raftkv", srv__cmd_raftkv, -2, ADM, ADM_ACL, "server", "0.1.0",
        "Cluster administration: STATUS, NODE ADD|REMOVE, TRANSFER, HELP",
        O1),
    SCMD("shutdown", srv__cmd_shutdown, -1, ADM | NA | AB, ADM_ACL, "server",
        "1.0.0", "Synchronously save the dataset to disk and then shut down "
        "the server", O1),
    SCMD("debug", srv__cmd_debug, -2, ADM, ADM_ACL, "server", "1.0.0",
         "A container for debugging commands", "Depends on subcommand."),
    SCMD("time", srv__cmd_time, 1, LD | ST | F, "@fast", "server", "2.6.0",
        "Return the current server time", O1),
    {"command", "command", srv__cmd_command, -1, LD | ST | SE, 0, 0, 0,
        "@slow @connection", "server", "2.8.13",
        "Get array of Redis command details",
        "O(N) where N is the total number of Redis commands", command_subs,
        NSUB(command_subs), NULL, 0, 0, 0, 0, 0},
    {"client", "client", NULL, -2, SE, 0, 0, 0, "@slow", "connection", "2.4.0",
        "A container for client connection commands", "Depends on subcommand.",
        client_subs, NSUB(client_subs), NULL, 0, 0, 0, 0, 0},
    {"config", "config", NULL, -2, 0, 0, 0, 0, "@slow", "server", "2.0.0",
        "A container for server configuration commands",
        "Depends on subcommand.", config_subs, NSUB(config_subs), NULL, 0, 0, 0,
        0, 0},
};
/* clang-format on */

#define NCMDS (sizeof(table) / sizeof(table[0]))

/* ------------------------------------------------------------------------
 * Hash index: open addressing over lower-cased names. This is the hot
 * path: one hash over at most 32 bytes and usually one comparison.
 * ---------------------------------------------------------------------- */

#define INDEX_SIZE 256 /* power of two, > 2 * NCMDS */
#define MAX_NAME   32

static struct srv_cmd *index_[INDEX_SIZE];
static struct srv_cmd *avail[NCMDS];
static size_t navail;
static bool ready;

static uint32_t hash_nocase(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 'A' && ch <= 'Z') {
            ch = (unsigned char)(ch + 32);
        }
        h = (h ^ ch) * 16777619u;
    }
    return h;
}

bool srv_cmd_is_available(const struct srv_cmd *cmd)
{
    if (cmd->flags & SRV_CMD_DATA) {
        return cmd->kv_flags != 0 || cmd->handler != NULL;
    }
    return cmd->handler != NULL || cmd->subcmds != NULL;
}

void srv_cmd_table_init(void)
{
    if (ready) {
        return;
    }
    navail = 0;
    for (size_t i = 0; i < NCMDS; i++) {
        struct srv_cmd *cmd = &table[i];
        cmd->namelen = strlen(cmd->name);
        if (cmd->flags & SRV_CMD_DATA) {
            unsigned fl = 0;
            if (kv_cmd_lookup(cmd->name, cmd->namelen, &fl)) {
                cmd->kv_flags = fl != 0 ? fl : KV_CMD_READONLY;
            }
        }
        for (size_t k = 0; k < cmd->nsubcmds; k++) {
            cmd->subcmds[k].parent = cmd;
            cmd->subcmds[k].namelen = strlen(cmd->subcmds[k].name);
        }
        if (!srv_cmd_is_available(cmd)) {
            continue;
        }
        avail[navail++] = cmd;
        uint32_t h = hash_nocase(cmd->name, cmd->namelen) & (INDEX_SIZE - 1);
        while (index_[h] != NULL) {
            h = (h + 1) & (INDEX_SIZE - 1);
        }
        index_[h] = cmd;
    }
    ready = true;
}

struct srv_cmd *srv_cmd_lookup(const char *name, size_t len)
{
    if (len == 0 || len > MAX_NAME) {
        return NULL;
    }
    uint32_t h = hash_nocase(name, len) & (INDEX_SIZE - 1);
    for (;;) {
        struct srv_cmd *cmd = index_[h];
        if (cmd == NULL) {
            return NULL;
        }
        if (cmd->namelen == len && strncasecmp(cmd->name, name, len) == 0) {
            return cmd;
        }
        h = (h + 1) & (INDEX_SIZE - 1);
    }
}

struct srv_cmd *srv_cmd_lookup_sub(const struct srv_cmd *parent,
                                   const char *name,
                                   size_t len)
{
    for (size_t i = 0; i < parent->nsubcmds; i++) {
        struct srv_cmd *sub = &parent->subcmds[i];
        if (sub->namelen == len && strncasecmp(sub->name, name, len) == 0) {
            return sub;
        }
    }
    return NULL;
}

size_t srv_cmd_count(void)
{
    return navail;
}

struct srv_cmd *srv_cmd_at(size_t i)
{
    return i < navail ? avail[i] : NULL;
}

void srv_cmd_reset_stats(void)
{
    for (size_t i = 0; i < NCMDS; i++) {
        table[i].calls = table[i].rejected = table[i].failed = 0;
        for (size_t k = 0; k < table[i].nsubcmds; k++) {
            struct srv_cmd *s = &table[i].subcmds[k];
            s->calls = s->rejected = s->failed = 0;
        }
    }
}

/* ------------------------------------------------------------------------
 * Glob matching (Redis's pattern language, written from its description):
 * '*' any run, '?' one byte, '[...]' a set with ranges and '^' negation,
 * '\' quotes the next byte. Backtracking only to the last '*', so the
 * cost is O(pattern * string) at worst.
 * ---------------------------------------------------------------------- */

static int fold(int ch, bool nocase)
{
    return nocase ? tolower(ch) : ch;
}

/* Matches one set starting at pat[0] == '['. Returns the bytes of pattern
 * consumed, and whether @ch is in the set in @hit. */
static size_t match_set(const char *pat,
                        size_t patlen,
                        int ch,
                        bool nocase,
                        bool *hit)
{
    size_t i = 1;
    bool neg = false;
    bool in = false;
    if (i < patlen && pat[i] == '^') {
        neg = true;
        i++;
    }
    while (i < patlen && pat[i] != ']') {
        if (pat[i] == '\\' && i + 1 < patlen) {
            i++;
            in |= fold((unsigned char)pat[i], nocase) == ch;
            i++;
        } else if (i + 2 < patlen && pat[i + 1] == '-' && pat[i + 2] != ']') {
            int lo = fold((unsigned char)pat[i], nocase);
            int hi = fold((unsigned char)pat[i + 2], nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            in |= ch >= lo && ch <= hi;
            i += 3;
        } else {
            in |= fold((unsigned char)pat[i], nocase) == ch;
            i++;
        }
    }
    if (i < patlen) {
        i++; /* the closing ']' */
    }
    *hit = neg ? !in : in;
    return i;
}

bool srv_glob_match(const char *pat,
                    size_t patlen,
                    const char *s,
                    size_t slen,
                    bool nocase)
{
    size_t p = 0;
    size_t i = 0;
    size_t star_p = (size_t)-1;
    size_t star_i = 0;

    while (i < slen) {
        if (p < patlen && pat[p] == '*') {
            while (p < patlen && pat[p] == '*') {
                p++;
            }
            if (p == patlen) {
                return true;
            }
            star_p = p;
            star_i = i;
            continue;
        }
        if (p < patlen) {
            int ch = fold((unsigned char)s[i], nocase);
            bool hit;
            size_t used = 1;
            if (pat[p] == '?') {
                hit = true;
            } else if (pat[p] == '[') {
                used = match_set(pat + p, patlen - p, ch, nocase, &hit);
            } else if (pat[p] == '\\' && p + 1 < patlen) {
                hit = fold((unsigned char)pat[p + 1], nocase) == ch;
                used = 2;
            } else {
                hit = fold((unsigned char)pat[p], nocase) == ch;
            }
            if (hit) {
                p += used;
                i++;
                continue;
            }
        }
        if (star_p == (size_t)-1) {
            return false;
        }
        p = star_p;
        i = ++star_i;
    }
    while (p < patlen && pat[p] == '*') {
        p++;
    }
    return p == patlen;
}
