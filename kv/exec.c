/* Command lookup, arity checks, dispatch and error texts. */
#include <assert.h>
#include <ctype.h>
#include <string.h>
#include <threads.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Error texts
 * ---------------------------------------------------------------------- */

const char *kv_strerror(int err)
{
    switch (err) {
        case KV_ERR_WRONGTYPE:
            return "WRONGTYPE Operation against a key holding the wrong "
                   "kind of value";
        case KV_ERR_NOTINT:
            return "ERR value is not an integer or out of range";
        case KV_ERR_NOTFLOAT:
            return "ERR value is not a valid float";
        case KV_ERR_OVERFLOW:
            return "ERR increment or decrement would overflow";
        case KV_ERR_NANINF:
            return "ERR increment would produce NaN or Infinity";
        case KV_ERR_SYNTAX:
            return "ERR syntax error";
        case KV_ERR_NOKEY:
            return "ERR no such key";
        case KV_ERR_BADEXPIRE:
            return "ERR invalid expire time in '%s' command";
        case KV_ERR_BITOFFSET:
            return "ERR bit offset is not an integer or out of range";
        case KV_ERR_BITVALUE:
            return "ERR bit is not an integer or out of range";
        case KV_ERR_TOOBIG:
            return "ERR string exceeds maximum allowed size "
                   "(proto-max-bulk-len)";
        case KV_ERR_ARITY:
            return "ERR wrong number of arguments for '%s' command";
        case KV_ERR_UNKNOWN:
            /* Redis appends the first arguments; with one "%s" we give
             * the form Redis prints for a command without arguments. */
            return "ERR unknown command '%s', with args beginning with: ";
        case KV_ERR_NOMEM:
            return "OOM command not allowed when used memory > 'maxmemory'.";
        case KV_ERR_EXPIRE_NXCOMBO:
            return "ERR NX and XX, GT or LT options at the same time are not "
                   "compatible";
        case KV_ERR_EXPIRE_GTLT:
            return "ERR GT and LT options at the same time are not "
                   "compatible";
        case KV_ERR_BADOPTION:
            return "ERR Unsupported option %s";
        case KV_ERR_DBINDEX:
            return "ERR DB index is out of range";
        case KV_ERR_SAMEOBJ:
            return "ERR source and destination objects are the same";
        case KV_ERR_CURSOR:
            return "ERR invalid cursor";
        case KV_ERR_SUBCOMMAND:
            return "ERR unknown subcommand '%s'. Try OBJECT HELP.";
        case KV_ERR_NOLFU:
            return "ERR An LFU maxmemory policy is not selected, access "
                   "frequency not tracked. Please note that when switching "
                   "between policies at runtime LRU and LFU data will take "
                   "some time to adjust.";
        case KV_ERR_OFFSET:
            return "ERR offset is out of range";
        case KV_ERR_DECR_OVERFLOW:
            return "ERR decrement would overflow";
        case KV_ERR_BITARG:
            return "ERR The bit argument must be 1 or 0.";
        case KV_ERR_BITOP_NOT:
            return "ERR BITOP NOT must be called with a single source key.";
        case KV_ERR_BF_OVERFLOW:
            return "ERR Invalid OVERFLOW type specified";
        case KV_ERR_BF_TYPE:
            return "ERR Invalid bitfield type. Use something like i16 u8. "
                   "Note that u64 is not supported but i64 is.";
        case KV_ERR_BF_RO:
            return "ERR BITFIELD_RO only supports the GET subcommand";
        case KV_ERR_LCS_IDXLEN:
            return "ERR If you want both the length and indexes, please just "
                   "use IDX.";
        case KV_ERR_LCS_TYPE:
            return "ERR The specified keys must contain string values";
        case KV_ERR_LCS_MEM:
            return "ERR Insufficient memory, transient memory for LCS exceeds "
                   "proto-max-bulk-len";
        case KV_ERR_BUSY:
            return "BUSY %s";
        case KV_ERR_POSITIVE:
            return "ERR value is out of range, must be positive";
        case KV_ERR_LIST_TOOBIG:
            return "ERR list exceeds maximum allowed size "
                   "(proto-max-bulk-len)";
        default:
            return "ERR unknown error";
    }
}

/* ------------------------------------------------------------------------
 * Command index. The three tables are static data; the index over them is
 * built once, on first use, and never changes afterwards, so it holds no
 * state that could make two replicas behave differently.
 * ---------------------------------------------------------------------- */

#define INDEX_SLOTS 256u /* power of two, well above the command count */
#define NAME_MAX    32u  /* longer names are never commands */

static const struct kv_cmd *index_slots[INDEX_SLOTS];
static once_flag index_once = ONCE_FLAG_INIT;

/* FNV-1a over the lower-cased name. */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)tolower((unsigned char)name[i]);
        h *= 16777619u;
    }
    return h;
}

static void index_add(const struct kv_cmd *cmd)
{
    size_t len = strlen(cmd->name);
    uint32_t i = name_hash(cmd->name, len) & (INDEX_SLOTS - 1);
    /* Linear probing; the table is at most a third full. A duplicate name
     * keeps its first definition. */
    while (index_slots[i] != NULL) {
        if (strcmp(index_slots[i]->name, cmd->name) == 0) {
            return;
        }
        i = (i + 1) & (INDEX_SLOTS - 1);
    }
    index_slots[i] = cmd;
}

static void index_build(void)
{
    const struct kv_cmd *tables[] = {kv__string_cmds, kv__bit_cmds,
                                     kv__key_cmds, kv__list_cmds};
    size_t count = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const struct kv_cmd *c = tables[t]; c->name != NULL; c++) {
            count++;
            assert(strlen(c->name) < NAME_MAX);
            assert(count < INDEX_SLOTS / 2);
            index_add(c);
        }
    }
    (void)count;
}

static const struct kv_cmd *cmd_find(const char *name, size_t len)
{
    if (name == NULL || len == 0 || len >= NAME_MAX) {
        return NULL;
    }
    call_once(&index_once, index_build);
    uint32_t i = name_hash(name, len) & (INDEX_SLOTS - 1);
    while (index_slots[i] != NULL) {
        const struct kv_cmd *c = index_slots[i];
        if (kv__eq(name, len, c->name)) {
            return c;
        }
        i = (i + 1) & (INDEX_SLOTS - 1);
    }
    return NULL;
}

bool kv_cmd_lookup(const char *name, size_t len, unsigned *flags)
{
    const struct kv_cmd *c = cmd_find(name, len);
    if (c == NULL) {
        return false;
    }
    *flags = c->flags;
    return true;
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ---------------------------------------------------------------------- */

static bool arity_ok(int arity, int argc)
{
    return arity >= 0 ? argc == arity : argc >= -arity;
}

void kv_exec(struct kv_store *s,
             const struct kv_exec_ctx *ctx,
             int argc,
             const char *const *argv,
             const size_t *lens,
             struct kv_reply *out)
{
    assert(s != NULL && ctx != NULL);
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->type = KV_REPLY_NIL;
    }
    /* The argv may come from the log: check its shape, never assume. */
    if (argc < 1 || argv == NULL || lens == NULL || argv[0] == NULL) {
        kv__reply_err(out, KV_ERR_UNKNOWN);
        return;
    }
    const struct kv_cmd *c = cmd_find(argv[0], lens[0]);
    if (c == NULL) {
        kv__reply_err_arg(out, KV_ERR_UNKNOWN, argv[0], lens[0]);
        return;
    }
    if (!arity_ok(c->arity, argc)) {
        kv__reply_err_arg(out, KV_ERR_ARITY, c->name, strlen(c->name));
        return;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL) {
            kv__reply_err(out, KV_ERR_SYNTAX);
            return;
        }
    }
    if (c->flags & KV_CMD_WRITE) {
        kv__set_write_version(s, ctx->index);
    }
    c->fn(s, ctx, argc, argv, lens, out);
    /* Errors whose text names the command get its name here, so command
     * code can use plain kv__reply_err. */
    if (out != NULL && out->type == KV_REPLY_ERROR && out->str == NULL &&
        strstr(kv_strerror(out->err), "%s") != NULL) {
        kv__reply_err_arg(out, out->err, c->name, strlen(c->name));
    }
}
