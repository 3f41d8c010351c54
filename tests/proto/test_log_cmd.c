/* Tests of the raft log-command encoding (proto/log_cmd.c): round trips of
 * every entry type, the exact bytes, padding, and the decoder's refusal of
 * every kind of damaged entry. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

#define STAMP UINT64_C(0x0102030405060708)

struct entry
{
    unsigned char *data; /* owned, from malloc */
    size_t len;
};

static struct entry finish(struct proto_log_writer *w)
{
    struct entry e;
    void *data = NULL;
    size_t expect = proto_log_writer_size(w);

    cr_assert(eq(int, proto_log_writer_finish(w, malloc, &data, &e.len), 0));
    cr_assert(eq(sz, e.len, expect));
    cr_assert(eq(sz, e.len % 8, 0));
    proto_log_writer_fini(w);
    e.data = data;
    return e;
}

/* An entry of type BATCH: GET k, SET k v, and a binary command. */
static struct entry sample_batch(void)
{
    struct proto_log_writer w;
    const char *get[] = {"GET", "k"};
    size_t get_l[] = {3, 1};
    const char *set[] = {"SET", "k", "v"};
    size_t set_l[] = {3, 1, 1};
    const char *bin[] = {"A\0\r\n", ""};
    size_t bin_l[] = {4, 0};

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH, STAMP), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 2, get, get_l), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 3, set, set_l), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 2, bin, bin_l), 0));
    return finish(&w);
}

static int init_reader(struct proto_log_reader *r,
                       const unsigned char *buf,
                       size_t len)
{
    /* A fresh exact-size copy, so ASan sees any read beyond @len. */
    unsigned char *copy = malloc(len > 0 ? len : 1);
    int rv;

    cr_assert_not_null(copy);
    if (len > 0) {
        memcpy(copy, buf, len);
    }
    rv = proto_log_reader_init(r, copy, len);
    if (rv == 0) {
        /* Drain every item: a reader that accepted must read cleanly. */
        struct proto_cmd cmd;
        const char *key;
        size_t klen;
        uint64_t id;
        int n;
        if (r->type == PROTO_LOG_EXPIRE) {
            while ((n = proto_log_reader_next_key(r, &key, &klen)) == 1) {
            }
        } else {
            while ((n = proto_log_reader_next_cmd_id(r, &cmd, &id)) == 1) {
            }
        }
        cr_assert(eq(int, n, 0));
    }
    proto_log_reader_fini(r);
    free(copy);
    return rv;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* One assertion per command rather than per argument: some tests read
 * hundreds of thousands of arguments. */
static void assert_args(const struct proto_cmd *cmd,
                        int argc,
                        const char *const *argv,
                        const size_t *lens)
{
    int bad = -1;

    cr_assert(eq(int, cmd->argc, argc));
    for (int i = 0; i < argc && bad < 0; i++) {
        if (cmd->lens[i] != lens[i] ||
            memcmp(cmd->argv[i], argv[i], lens[i]) != 0) {
            bad = i;
        }
    }
    cr_assert(eq(int, bad, -1), "first differing argument");
}

static void *failing_alloc(size_t n)
{
    (void)n;
    return NULL;
}

/* ------------------------------------------------------------------------
 * Tests: round trips
 * ---------------------------------------------------------------------- */

Test(proto, log_batch_round_trip)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;
    struct proto_cmd cmd;
    const char *get[] = {"GET", "k"};
    size_t get_l[] = {3, 1};
    const char *set[] = {"SET", "k", "v"};
    size_t set_l[] = {3, 1, 1};
    const char *bin[] = {"A\0\r\n", ""};
    size_t bin_l[] = {4, 0};

    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(eq(u8, r.type, PROTO_LOG_BATCH));
    cr_assert(eq(u64, r.stamp_ms, STAMP));
    cr_assert(eq(u32, r.remaining, 3));
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 1));
    assert_args(&cmd, 2, get, get_l);
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 1));
    assert_args(&cmd, 3, set, set_l);
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 1));
    assert_args(&cmd, 2, bin, bin_l);
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 0));
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 0));
    proto_log_reader_fini(&r);
    free(e.data);
}

Test(proto, log_batch_ids_round_trip)
{
    static const uint64_t ids[] = {0, 1, UINT64_MAX, UINT64_C(1) << 40};
    struct proto_log_writer w;
    struct proto_log_reader r;
    struct proto_cmd cmd;
    struct entry e;
    const char *argv[] = {"INCR", "counter"};
    size_t lens[] = {4, 7};
    uint64_t id;

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH_IDS, 7), 0));
    for (size_t i = 0; i < 4; i++) {
        cr_assert(
            eq(int, proto_log_writer_add_cmd_id(&w, ids[i], 2, argv, lens), 0));
    }
    /* A command without an id carries id 0. */
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 2, argv, lens), 0));
    e = finish(&w);

    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(eq(u8, r.type, PROTO_LOG_BATCH_IDS));
    cr_assert(eq(u64, r.stamp_ms, 7));
    for (size_t i = 0; i < 5; i++) {
        cr_assert(eq(int, proto_log_reader_next_cmd_id(&r, &cmd, &id), 1));
        cr_assert(eq(u64, id, i < 4 ? ids[i] : 0));
        assert_args(&cmd, 2, argv, lens);
    }
    cr_assert(eq(int, proto_log_reader_next_cmd_id(&r, &cmd, &id), 0));
    proto_log_reader_fini(&r);
    free(e.data);
}

Test(proto, log_batch_read_with_ids_gives_zero)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;
    struct proto_cmd cmd;
    uint64_t id = 99;

    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(eq(int, proto_log_reader_next_cmd_id(&r, &cmd, &id), 1));
    cr_assert(eq(u64, id, 0));
    proto_log_reader_fini(&r);
    free(e.data);
}

Test(proto, log_expire_round_trip)
{
    static const char *keys[] = {"a", "", "key\0with\r\nbytes", "k"};
    static const size_t lens[] = {1, 0, 16, 1};
    struct proto_log_writer w;
    struct proto_log_reader r;
    struct entry e;
    const char *key;
    size_t len;

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_EXPIRE, STAMP), 0));
    for (size_t i = 0; i < 4; i++) {
        cr_assert(eq(int, proto_log_writer_add_key(&w, keys[i], lens[i]), 0));
    }
    e = finish(&w);
    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(eq(u8, r.type, PROTO_LOG_EXPIRE));
    cr_assert(eq(u64, r.stamp_ms, STAMP));
    for (size_t i = 0; i < 4; i++) {
        cr_assert(eq(int, proto_log_reader_next_key(&r, &key, &len), 1));
        cr_assert(eq(sz, len, lens[i]));
        cr_assert(eq(int, memcmp(key, keys[i], len), 0));
    }
    cr_assert(eq(int, proto_log_reader_next_key(&r, &key, &len), 0));
    proto_log_reader_fini(&r);
    free(e.data);
}

Test(proto, log_empty_entries)
{
    static const enum proto_log_type types[] = {
        PROTO_LOG_BATCH, PROTO_LOG_EXPIRE, PROTO_LOG_BATCH_IDS};
    for (size_t i = 0; i < 3; i++) {
        struct proto_log_writer w;
        struct proto_log_reader r;
        struct proto_cmd cmd;
        struct entry e;
        const char *key;
        size_t len;
        uint64_t id;

        cr_assert(eq(int, proto_log_writer_init(&w, types[i], 1), 0));
        cr_assert(eq(sz, proto_log_writer_size(&w), 24));
        e = finish(&w);
        cr_assert(eq(sz, e.len, 24));
        cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
        cr_assert(eq(u32, r.remaining, 0));
        if (types[i] == PROTO_LOG_EXPIRE) {
            cr_assert(eq(int, proto_log_reader_next_key(&r, &key, &len), 0));
        } else {
            cr_assert(eq(int, proto_log_reader_next_cmd_id(&r, &cmd, &id), 0));
        }
        proto_log_reader_fini(&r);
        free(e.data);
    }
}

/* Many commands with many arguments of varied lengths. */
Test(proto, log_many_commands_and_arguments)
{
    enum { NCMDS = 300, MAXARGS = 2000 };
    static char data[4096];
    static const char *argv[MAXARGS];
    static size_t lens[MAXARGS];
    struct proto_log_writer w;
    struct proto_log_reader r;
    struct proto_cmd cmd;
    struct entry e;

    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (char)(i * 31 + 7);
    }
    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH, 0), 0));
    for (int c = 0; c < NCMDS; c++) {
        int argc = 1 + (c * 37) % MAXARGS;
        for (int i = 0; i < argc; i++) {
            argv[i] = data + (c + i) % 100;
            lens[i] = (size_t)((c * 13 + i * 7) % 300);
        }
        cr_assert(eq(int, proto_log_writer_add_cmd(&w, argc, argv, lens), 0));
    }
    e = finish(&w);
    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    for (int c = 0; c < NCMDS; c++) {
        int argc = 1 + (c * 37) % MAXARGS;
        for (int i = 0; i < argc; i++) {
            argv[i] = data + (c + i) % 100;
            lens[i] = (size_t)((c * 13 + i * 7) % 300);
        }
        cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 1));
        assert_args(&cmd, argc, argv, lens);
    }
    cr_assert(eq(int, proto_log_reader_next_cmd(&r, &cmd), 0));
    proto_log_reader_fini(&r);
    free(e.data);
}

/* ------------------------------------------------------------------------
 * Tests: exact bytes and padding
 * ---------------------------------------------------------------------- */

Test(proto, log_exact_bytes)
{
    static const unsigned char want[] = {
        1,    1,    0,    0,    /* version, type BATCH, reserved */
        13,   0,    0,    0,    /* body_len: 4 + 4 + 4 + 1 */
        0x08, 0x07, 0x06, 0x05, /* stamp, little endian */
        0x04, 0x03, 0x02, 0x01, /* */
        1,    0,    0,    0,    /* one command */
        1,    0,    0,    0,    /* argc 1 */
        1,    0,    0,    0,    /* length 1 */
        'x',  0,    0,    0,    /* the byte, then padding to 32 */
    };
    struct proto_log_writer w;
    struct entry e;
    const char *argv[] = {"x"};
    size_t lens[] = {1};

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH, STAMP), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 1, argv, lens), 0));
    e = finish(&w);
    cr_assert(eq(sz, e.len, sizeof want));
    for (size_t i = 0; i < sizeof want; i++) {
        cr_assert(eq(u8, e.data[i], want[i]), "byte %zu", i);
    }
    free(e.data);
}

Test(proto, log_exact_bytes_with_id)
{
    static const unsigned char want[] = {
        1,    3,    0, 0, 20, 0, 0, 0,    /* BATCH_IDS, body 20 */
        0,    0,    0, 0, 0,  0, 0, 0,    /* stamp 0 */
        1,    0,    0, 0,                 /* one command */
        0xaa, 0xbb, 0, 0, 0,  0, 0, 0x80, /* id */
        1,    0,    0, 0, 0,  0, 0, 0,    /* argc 1, length 0 */
        0,    0,    0, 0,                 /* padding to 40 */
    };
    struct proto_log_writer w;
    struct entry e;
    const char *argv[] = {""};
    size_t lens[] = {0};

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH_IDS, 0), 0));
    cr_assert(eq(int,
                 proto_log_writer_add_cmd_id(&w, UINT64_C(0x800000000000bbaa),
                                             1, argv, lens),
                 0));
    e = finish(&w);
    cr_assert(eq(sz, e.len, sizeof want));
    for (size_t i = 0; i < sizeof want; i++) {
        cr_assert(eq(u8, e.data[i], want[i]), "byte %zu", i);
    }
    free(e.data);
}

/* Keys of every length modulo 8: the entry is padded with zeros to the
 * next multiple of 8, never by 8 or more, and decodes both padded and
 * exact. */
Test(proto, log_padding_to_eight)
{
    static const char key[16] = "0123456789abcdef";
    for (size_t n = 0; n < 16; n++) {
        struct proto_log_writer w;
        struct proto_log_reader r;
        struct entry e;
        size_t unpadded = PROTO_LOG_HEADER_LEN + 4 + 4 + n;

        cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_EXPIRE, 0), 0));
        cr_assert(eq(int, proto_log_writer_add_key(&w, key, n), 0));
        e = finish(&w);
        cr_assert(eq(sz, e.len, (unpadded + 7) / 8 * 8));
        for (size_t i = unpadded; i < e.len; i++) {
            cr_assert(eq(u8, e.data[i], 0));
        }
        cr_assert(eq(int, init_reader(&r, e.data, e.len), 0));
        cr_assert(eq(int, init_reader(&r, e.data, unpadded), 0));
        free(e.data);
    }
}

/* ------------------------------------------------------------------------
 * Tests: writer misuse and allocation failure
 * ---------------------------------------------------------------------- */

Test(proto, log_writer_refuses_mismatched_items)
{
    struct proto_log_writer w;
    const char *argv[] = {"PING"};
    size_t lens[] = {4};

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH, 0), 0));
    cr_assert(eq(int, proto_log_writer_add_key(&w, "k", 1), -EINVAL));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 0, argv, lens), -EINVAL));
    cr_assert(
        eq(int, proto_log_writer_add_cmd_id(&w, 5, 1, argv, lens), -EINVAL));
    cr_assert(eq(int, proto_log_writer_add_cmd_id(&w, 0, 1, argv, lens), 0));
    cr_assert(eq(u32, w.count, 1));
    proto_log_writer_fini(&w);

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_EXPIRE, 0), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 1, argv, lens), -EINVAL));
    cr_assert(eq(u32, w.count, 0));
    proto_log_writer_fini(&w);

    cr_assert(
        eq(int, proto_log_writer_init(&w, (enum proto_log_type)9, 0), -EINVAL));
    proto_log_writer_fini(&w);
}

/* A failed finish leaves the writer whole: it can be finished again. */
Test(proto, log_finish_allocation_failure_keeps_writer)
{
    struct proto_log_writer w;
    struct proto_log_reader r;
    struct entry e;
    void *data = NULL;
    size_t len = 0;
    const char *argv[] = {"SET", "k", "v"};
    size_t lens[] = {3, 1, 1};

    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH, 5), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 3, argv, lens), 0));
    cr_assert(eq(int, proto_log_writer_finish(&w, failing_alloc, &data, &len),
                 -ENOMEM));
    cr_assert_null(data);
    cr_assert(eq(sz, len, 0));
    cr_assert(eq(int, proto_log_writer_add_cmd(&w, 3, argv, lens), 0));
    e = finish(&w);
    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(eq(u32, r.remaining, 2));
    proto_log_reader_fini(&r);
    free(e.data);
}

Test(proto, log_reader_refuses_wrong_item_kind)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;
    const char *key;
    size_t len;

    cr_assert(eq(int, proto_log_reader_init(&r, e.data, e.len), 0));
    cr_assert(
        eq(int, proto_log_reader_next_key(&r, &key, &len), PROTO_EMALFORMED));
    proto_log_reader_fini(&r);
    free(e.data);
}

/* ------------------------------------------------------------------------
 * Tests: damaged entries
 * ---------------------------------------------------------------------- */

/* Every truncation is refused, except cutting exactly the padding. */
Test(proto, log_decoder_refuses_every_truncation)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;
    size_t unpadded = PROTO_LOG_HEADER_LEN + e.data[4];

    for (size_t k = 0; k < e.len; k++) {
        int want = k == unpadded ? 0 : PROTO_EMALFORMED;
        cr_assert(eq(int, init_reader(&r, e.data, k), want), "%zu bytes", k);
    }
    free(e.data);
}

Test(proto, log_decoder_refuses_wrong_version)
{
    static const unsigned char versions[] = {0, 2, 3, 0x81, 0xff};
    struct entry e = sample_batch();
    struct proto_log_reader r;

    for (size_t i = 0; i < sizeof versions; i++) {
        e.data[0] = versions[i];
        cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EVERSION));
        cr_assert(eq(int, init_reader(&r, e.data, 1), PROTO_EVERSION));
    }
    free(e.data);
}

Test(proto, log_decoder_refuses_unknown_type_and_reserved_bits)
{
    static const unsigned char types[] = {0, 4, 5, 0x80, 0xff};
    struct entry e = sample_batch();
    struct proto_log_reader r;

    for (size_t i = 0; i < sizeof types; i++) {
        e.data[1] = types[i];
        cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    }
    e.data[1] = PROTO_LOG_BATCH;
    cr_assert(eq(int, init_reader(&r, e.data, e.len), 0));
    for (int i = 2; i < 4; i++) {
        e.data[i] = 1;
        cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
        e.data[i] = 0;
    }
    free(e.data);
}

Test(proto, log_decoder_refuses_trailing_bytes_and_bad_padding)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;
    size_t unpadded = PROTO_LOG_HEADER_LEN + e.data[4];
    unsigned char *big = calloc(1, e.len + 16);

    cr_assert_not_null(big);
    cr_assert(gt(sz, e.len, unpadded), "the sample must have padding");
    memcpy(big, e.data, e.len);
    /* Eight or more bytes of zeros are not padding. */
    cr_assert(eq(int, init_reader(&r, big, e.len + 8), PROTO_EMALFORMED));
    cr_assert(eq(int, init_reader(&r, big, e.len + 16), PROTO_EMALFORMED));
    /* Anything nonzero after the body. */
    for (size_t i = unpadded; i < e.len; i++) {
        e.data[i] = 1;
        cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED),
                  "padding byte %zu", i);
        e.data[i] = 0;
    }
    big[e.len] = 'x';
    cr_assert(eq(int, init_reader(&r, big, e.len + 1), PROTO_EMALFORMED));
    free(big);
    free(e.data);
}

Test(proto, log_decoder_refuses_count_mismatch)
{
    struct entry e = sample_batch();
    struct proto_log_reader r;

    put32(e.data + 16, 2);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    put32(e.data + 16, 4);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    put32(e.data + 16, 0);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    put32(e.data + 16, 3);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), 0));
    /* argc of the first command: 0, one short, one over. */
    put32(e.data + 20, 0);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    put32(e.data + 20, 1);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    put32(e.data + 20, 3);
    cr_assert(eq(int, init_reader(&r, e.data, e.len), PROTO_EMALFORMED));
    free(e.data);
}

/* Lengths near 2^32 must be compared, never added into an offset. */
Test(proto, log_decoder_refuses_overflowing_lengths)
{
    static const uint32_t huge[] = {UINT32_MAX, UINT32_MAX - 3, 0x80000000u,
                                    0x7fffffffu, 0x40000000u};
    struct entry e = sample_batch();
    unsigned char *copy = malloc(e.len);
    struct proto_log_reader r;

    cr_assert_not_null(copy);
    /* body_len, count, argc, and the first argument's length. */
    static const size_t fields[] = {4, 16, 20, 24};
    for (size_t f = 0; f < 4; f++) {
        for (size_t h = 0; h < 5; h++) {
            memcpy(copy, e.data, e.len);
            put32(copy + fields[f], huge[h]);
            cr_assert(eq(int, init_reader(&r, copy, e.len), PROTO_EMALFORMED),
                      "field at %zu = %u", fields[f], huge[h]);
        }
    }
    /* body_len smaller than 4. */
    for (uint32_t v = 0; v < 4; v++) {
        memcpy(copy, e.data, e.len);
        put32(copy + 4, v);
        cr_assert(eq(int, init_reader(&r, copy, e.len), PROTO_EMALFORMED));
    }
    free(copy);
    free(e.data);
}

/* Every byte of valid entries set to a handful of values: the decoder may
 * accept or refuse, but an accepted entry reads to its end cleanly and no
 * input makes it read out of bounds (ASan watches). */
Test(proto, log_decoder_survives_every_single_byte_change)
{
    static const unsigned char values[] = {0, 1, 2,    3,    4,
                                           7, 8, 0x7f, 0x80, 0xff};
    struct proto_log_writer w;
    struct entry entries[3];
    const char *argv[] = {"SET", "key", "value"};
    size_t lens[] = {3, 3, 5};

    entries[0] = sample_batch();
    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_BATCH_IDS, 1), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd_id(&w, 42, 3, argv, lens), 0));
    cr_assert(eq(int, proto_log_writer_add_cmd_id(&w, 43, 1, argv, lens), 0));
    entries[1] = finish(&w);
    cr_assert(eq(int, proto_log_writer_init(&w, PROTO_LOG_EXPIRE, 1), 0));
    cr_assert(eq(int, proto_log_writer_add_key(&w, "abc", 3), 0));
    cr_assert(eq(int, proto_log_writer_add_key(&w, "", 0), 0));
    entries[2] = finish(&w);

    for (size_t k = 0; k < 3; k++) {
        struct entry *e = &entries[k];
        for (size_t i = 0; i < e->len; i++) {
            unsigned char orig = e->data[i];
            for (size_t v = 0; v < sizeof values; v++) {
                struct proto_log_reader r;
                int rv;
                e->data[i] = values[v];
                rv = init_reader(&r, e->data, e->len);
                cr_assert(rv == 0 || rv == PROTO_EMALFORMED ||
                          rv == PROTO_EVERSION);
            }
            e->data[i] = orig;
        }
        free(e->data);
    }
}

/* Random bytes behind a valid version and type: never a crash. */
Test(proto, log_decoder_survives_random_entries)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    unsigned char buf[96];
    int accepted = 0;

    for (int n = 0; n < 200000; n++) {
        struct proto_log_reader r;
        size_t len = 20 + (size_t)(n % 77);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)x;
            /* Mostly zero bytes and small values, so that counts and
             * lengths often line up with the bytes that follow. */
            if (i >= 16 && (x >> 40) % 8 != 0) {
                buf[i] =
                    (x >> 43) % 2 == 0 ? 0 : (unsigned char)((x >> 20) % 4);
            }
        }
        buf[0] = PROTO_LOG_VERSION;
        buf[1] = (unsigned char)(1 + n % 3);
        buf[2] = 0;
        buf[3] = 0;
        put32(buf + 4, (uint32_t)(len - PROTO_LOG_HEADER_LEN));
        if (init_reader(&r, buf, len) == 0) {
            accepted++;
        }
    }
    /* Not an assertion of the generator's quality: only a sanity print. */
    cr_log_info("accepted %d random entries", accepted);
}
