/* Fuzz target: the raft log-command decoder (proto/log_cmd.c).
 *
 * Input: the bytes of one log entry, as read back from the raft log.
 *
 * Checks: an entry the reader accepts yields only views inside the input,
 * and exactly its count of items; reading with the other type's function
 * is refused; re-encoding what was read with the writer gives the input
 * back (the writer always pads, the reader also takes the unpadded
 * length). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "tests/fuzz/fuzz.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Is [p, p + n) inside [data, data + size)? */
static bool inside(const uint8_t *data, size_t size, const void *p, size_t n)
{
    const uint8_t *b = p;
    return b >= data && n <= size && (size_t)(b - data) <= size - n;
}

/* Reads every item of an entry the reader accepted, re-encoding each into
 * @w. Returns the number of items read. */
static uint32_t read_all(struct proto_log_reader *r,
                         struct proto_log_writer *w,
                         const uint8_t *data,
                         size_t size)
{
    uint32_t items = 0;
    int rv;

    if (r->type == PROTO_LOG_EXPIRE) {
        const char *key;
        size_t len;
        struct proto_cmd cmd;
        uint64_t id;
        FUZZ_CHECK(proto_log_reader_next_cmd(r, &cmd) == PROTO_EMALFORMED);
        FUZZ_CHECK(proto_log_reader_next_cmd_id(r, &cmd, &id) ==
                   PROTO_EMALFORMED);
        while ((rv = proto_log_reader_next_key(r, &key, &len)) == 1) {
            FUZZ_CHECK(inside(data, size, key, len));
            FUZZ_CHECK(proto_log_writer_add_key(w, key, len) == 0);
            items++;
        }
        FUZZ_CHECK(rv == 0);
        return items;
    }
    const char *key;
    size_t len;
    FUZZ_CHECK(proto_log_reader_next_key(r, &key, &len) == PROTO_EMALFORMED);
    for (;;) {
        struct proto_cmd cmd;
        uint64_t id = 0;
        if (r->type == PROTO_LOG_BATCH && (items & 1) == 0) {
            rv = proto_log_reader_next_cmd(r, &cmd);
        } else {
            rv = proto_log_reader_next_cmd_id(r, &cmd, &id);
        }
        if (rv != 1) {
            break;
        }
        FUZZ_CHECK(cmd.argc >= 1);
        FUZZ_CHECK(r->type == PROTO_LOG_BATCH_IDS || id == 0);
        for (int i = 0; i < cmd.argc; i++) {
            FUZZ_CHECK(inside(data, size, cmd.argv[i], cmd.lens[i]));
        }
        FUZZ_CHECK(proto_log_writer_add_cmd_id(w, id, cmd.argc, cmd.argv,
                                               cmd.lens) == 0);
        items++;
    }
    FUZZ_CHECK(rv == 0);
    return items;
}

/* ------------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_log_reader r;
    struct proto_log_writer w;
    void *out;
    size_t out_len;
    int rv = proto_log_reader_init(&r, data, size);

    if (rv != 0) {
        FUZZ_CHECK(rv == PROTO_EMALFORMED || rv == PROTO_EVERSION);
        proto_log_reader_fini(&r);
        return 0;
    }
    FUZZ_CHECK(size >= PROTO_LOG_HEADER_LEN + 4);
    FUZZ_CHECK(r.stamp_ms == get_u64(data + 8));
    uint32_t count = r.remaining;
    FUZZ_CHECK(proto_log_writer_init(&w, (enum proto_log_type)r.type,
                                     r.stamp_ms) == 0);
    FUZZ_CHECK(read_all(&r, &w, data, size) == count);
    proto_log_reader_fini(&r);

    FUZZ_CHECK(proto_log_writer_finish(&w, malloc, &out, &out_len) == 0);
    FUZZ_CHECK(out_len % 8 == 0);
    FUZZ_CHECK(out_len == size || out_len == ((size + 7) & ~(size_t)7));
    FUZZ_CHECK(memcmp(out, data, size) == 0);
    free(out);
    proto_log_writer_fini(&w);
    return 0;
}
