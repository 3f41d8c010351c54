/* Writes the seed corpus of every fuzz target, using the real encoders
 * where there is one, so the seeds follow the formats as they change.
 *
 * Usage: fuzz_gen_seeds DIR   (DIR is tests/fuzz/corpus; each target's
 * seeds go to DIR/<name>/, overwriting files of the same name). Not run
 * by the tests: rerun it after a format change and review the diff. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv/kv.h"
#include "proto/proto.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* A byte string with its length, so tables can hold NULs. */
#define B(s) s, sizeof(s) - 1

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_gen_seeds: %s\n", what);
    exit(1);
}

static void put_file(const char *target,
                     const char *name,
                     const void *data,
                     size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        die(path);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        die(path);
    }
}

/* ------------------------------------------------------------------------
 * resp: a control byte (see fuzz_resp.c), then a client's bytes
 * ---------------------------------------------------------------------- */

static void resp_seed(const char *name,
                      unsigned char ctrl,
                      const char *s,
                      size_t n)
{
    char *b = malloc(n + 1);
    if (b == NULL) {
        die("out of memory");
    }
    b[0] = (char)ctrl;
    memcpy(b + 1, s, n);
    put_file("resp", name, b, n + 1);
    free(b);
}

static void gen_resp(void)
{
    resp_seed("set", 0x00, B("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"));
    resp_seed("pipeline-split", 0x07,
              B("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n*0\r\n"
                "*-1\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"));
    resp_seed("inline-quotes", 0x03,
              B("SET k \"a\\x41\\n\\\"\" 'it\\'s'\r\nPING\r\n\r\n  \n"));
    resp_seed("binary-bytewise", 0x80,
              B("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\nGET a\0b\n"));
    resp_seed("tiny-limits", 0x0a,
              B("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET key\r\n"));
    resp_seed("small-limits", 0x15,
              B("*2\r\n$4\r\nECHO\r\n$70\r\n"
                "0123456789012345678901234567890123456789012345678901234567"
                "890123456789\r\n"));
    resp_seed("zero-limits", 0x1b, B("*1\r\n$0\r\n\r\nPING\r\n"));
    resp_seed("switch-limits", 0x26,
              B("*2\r\n$4\r\nECHO\r\n$20\r\n01234567890123456789\r\n"
                "ECHO 0123456789abcdef\r\n"));
    resp_seed("filler-mbulk", 0x40, B("*1"));
    resp_seed("filler-bulk", 0x41, B("*1\r\n$9"));
    resp_seed("filler-inline", 0x42, B("GET a"));
    resp_seed("err-dollar", 0x01, B("*1\r\n+3\r\nabc\r\n"));
    resp_seed("err-mbulklen", 0x00, B("*x\r\n"));
    resp_seed("err-bulklen", 0x02, B("*1\r\n$-3\r\n"));
    resp_seed("err-quotes", 0x04, B("SET \"unbalanced\r\n"));
}

/* ------------------------------------------------------------------------
 * logcmd: log entries made with the writer
 * ---------------------------------------------------------------------- */

/* Finishes @w into file @name; @unpadded drops the padding (the reader
 * takes both lengths). */
static void log_seed(const char *name,
                     struct proto_log_writer *w,
                     bool unpadded)
{
    unsigned char *data;
    void *out;
    size_t len;
    if (proto_log_writer_finish(w, malloc, &out, &len) != 0) {
        die("log writer");
    }
    data = out;
    if (unpadded) {
        /* u32 body_len at offset 4 of the header. */
        len = PROTO_LOG_HEADER_LEN + ((size_t)data[4] | (size_t)data[5] << 8 |
                                      (size_t)data[6] << 16 |
                                      (size_t)data[7] << 24);
    }
    put_file("logcmd", name, data, len);
    free(data);
    proto_log_writer_fini(w);
}

static void gen_logcmd(void)
{
    static const char *const set[] = {"SET", "k", "hello"};
    static const size_t set_lens[] = {3, 1, 5};
    static const char *const incr[] = {"INCRBY", "n", "-7"};
    static const size_t incr_lens[] = {6, 1, 2};
    static const char *const bin[] = {"SET", "a\0b", ""};
    static const size_t bin_lens[] = {3, 3, 0};
    struct proto_log_writer w;
    int rv;

    rv = proto_log_writer_init(&w, PROTO_LOG_BATCH, 1700000000000ull);
    rv = rv ? rv : proto_log_writer_add_cmd(&w, 3, set, set_lens);
    rv = rv ? rv : proto_log_writer_add_cmd(&w, 3, incr, incr_lens);
    rv = rv ? rv : proto_log_writer_add_cmd(&w, 3, bin, bin_lens);
    if (rv != 0) {
        die("log batch");
    }
    log_seed("batch", &w, false);

    rv = proto_log_writer_init(&w, PROTO_LOG_BATCH_IDS, 42);
    rv = rv ? rv : proto_log_writer_add_cmd_id(&w, 7, 3, set, set_lens);
    rv = rv ? rv : proto_log_writer_add_cmd_id(&w, 0, 3, incr, incr_lens);
    rv =
        rv ? rv : proto_log_writer_add_cmd_id(&w, UINT64_MAX, 3, bin, bin_lens);
    if (rv != 0) {
        die("log batch ids");
    }
    log_seed("batch-ids", &w, false);

    rv = proto_log_writer_init(&w, PROTO_LOG_EXPIRE, 99);
    rv = rv ? rv : proto_log_writer_add_key(&w, "k", 1);
    rv = rv ? rv : proto_log_writer_add_key(&w, "", 0);
    rv = rv ? rv : proto_log_writer_add_key(&w, "session:1", 9);
    if (rv != 0) {
        die("log expire");
    }
    log_seed("expire", &w, false);

    rv = proto_log_writer_init(&w, PROTO_LOG_BATCH, 0);
    if (rv != 0) {
        die("log empty");
    }
    log_seed("batch-empty", &w, false);

    /* 16 + 4 + (4 + 4 + 3) = 31 bytes: the padding is one byte. */
    rv = proto_log_writer_init(&w, PROTO_LOG_BATCH, 5);
    rv = rv ? rv : proto_log_writer_add_cmd(&w, 1, set, set_lens);
    if (rv != 0) {
        die("log unpadded");
    }
    log_seed("batch-unpadded", &w, true);
}

/* ------------------------------------------------------------------------
 * peer: frames made with the writers
 * ---------------------------------------------------------------------- */

static void gen_peer(void)
{
    static const char *const args[] = {"SET", "k", "v"};
    static const size_t arg_lens[] = {3, 1, 1};
    struct proto_buf all;
    struct proto_buf b;
    struct proto_buf payload;
    int rv = 0;

    proto_buf_init(&all);
    proto_buf_init(&payload);
    if (proto_peer_encode_args(&payload, 3, args, arg_lens) != 0) {
        die("peer args");
    }
    put_file("peer", "forward-args", payload.data, payload.len);

    static const struct
    {
        const char *name;
        enum proto_peer_type type;
        uint64_t a, b, c;
    } fixed[] = {
        {"probe", PROTO_PEER_PROBE, 17, 3, 0},
        {"ack", PROTO_PEER_ACK, 17, 3, 0},
        {"readindex-req", PROTO_PEER_READINDEX_REQ, 5, 5, 0},
        {"readindex-resp", PROTO_PEER_READINDEX_RESP, 5, 1234,
         (uint64_t)-10001},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        proto_buf_init(&b);
        rv = proto_peer_write(&b, fixed[i].type, fixed[i].a, fixed[i].b,
                              fixed[i].c);
        rv = rv ? rv : proto_buf_append(&all, b.data, b.len);
        if (rv != 0) {
            die("peer frame");
        }
        put_file("peer", fixed[i].name, b.data, b.len);
        proto_buf_fini(&b);
    }

    const char *addr = "127.0.0.1:7001";
    const char *addrs = "127.0.0.1:6379\n127.0.0.1:8080";
    static const struct
    {
        const char *name;
        enum proto_peer_type type;
        uint64_t a, b;
    } with_payload[] = {
        {"forward", PROTO_PEER_FORWARD, 9, 500},
        {"forward-resp", PROTO_PEER_FORWARD_RESP, 9, 0},
        {"join", PROTO_PEER_JOIN, 4, 0},
        {"join-resp", PROTO_PEER_JOIN_RESP, 0, 0},
        {"addrs", PROTO_PEER_ADDRS, 2, 0},
    };
    for (size_t i = 0; i < sizeof(with_payload) / sizeof(with_payload[0]);
         i++) {
        const void *part = payload.data;
        size_t len = payload.len;
        if (with_payload[i].type == PROTO_PEER_FORWARD_RESP) {
            part = "+OK\r\n";
            len = 5;
        } else if (with_payload[i].type == PROTO_PEER_JOIN ||
                   with_payload[i].type == PROTO_PEER_JOIN_RESP) {
            part = addr;
            len = strlen(addr);
        } else if (with_payload[i].type == PROTO_PEER_ADDRS) {
            part = addrs;
            len = strlen(addrs);
        }
        proto_buf_init(&b);
        rv = proto_peer_write_payload(&b, with_payload[i].type,
                                      with_payload[i].a, with_payload[i].b,
                                      &part, &len, 1);
        rv = rv ? rv : proto_buf_append(&all, b.data, b.len);
        if (rv != 0) {
            die("peer payload frame");
        }
        put_file("peer", with_payload[i].name, b.data, b.len);
        proto_buf_fini(&b);
    }
    put_file("peer", "stream", all.data, all.len);
    proto_buf_fini(&all);
    proto_buf_fini(&payload);
}

/* ------------------------------------------------------------------------
 * snapshot: keyspaces encoded by kv
 * ---------------------------------------------------------------------- */

static void exec(struct kv_store *s, int argc, const char *const *argv)
{
    struct kv_exec_ctx ctx = {
        .now_ms = 1700000000000,
        .max_bulk_len = 512ull * 1024 * 1024,
    };
    size_t lens[8];
    struct kv_reply r;
    for (int i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    kv_exec(s, &ctx, argc, argv, lens, &r);
    if (r.type == KV_REPLY_ERROR) {
        die(argv[0]);
    }
    kv_reply_fini(&r);
}

static void snapshot_seed(const char *name, const struct kv_store *s)
{
    void *buf;
    size_t len;
    if (kv_snapshot_encode(s, &buf, &len) != 0) {
        die("snapshot encode");
    }
    put_file("snapshot", name, buf, len);
    free(buf);
}

static void gen_snapshot(void)
{
    static const uint8_t seed[16] = {1, 2,  3,  4,  5,  6,  7,  8,
                                     9, 10, 11, 12, 13, 14, 15, 16};
    static const char *const cmds[][5] = {
        {"SET", "greeting", "hello", NULL, NULL},
        {"SET", "counter", "12345", NULL, NULL},
        {"SET", "neg", "-9223372036854775808", NULL, NULL},
        {"SET", "session", "token", "PX", "60000"},
        {"SET", "raw",
         "a value longer than forty-four bytes, so it is stored raw", NULL,
         NULL},
        {"SET", "", "empty key", NULL, NULL},
        {"RPUSH", "list", "a", "", "third"},
        {"LPUSH", "list", "head", NULL, NULL},
        {"RPUSH", "ttl-list", "x", NULL, NULL},
        {"PEXPIRE", "ttl-list", "60000", NULL, NULL},
    };
    struct kv_store *s = kv_store_new(seed);
    if (s == NULL) {
        die("out of memory");
    }
    snapshot_seed("empty", s);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        exec(s, cmds[i][4] != NULL ? 5 : cmds[i][3] != NULL ? 4 : 3, cmds[i]);
    }
    snapshot_seed("keys", s);
    kv_store_free(s);
}

/* ------------------------------------------------------------------------
 * http: requests as clients send them
 * ---------------------------------------------------------------------- */

static void gen_http(void)
{
    static const struct
    {
        const char *name;
        const char *req;
    } reqs[] = {
        {"healthz", "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"},
        {"readyz-json",
         "GET /readyz?timeout=1.5s HTTP/1.1\r\nHost: localhost\r\n"
         "Accept: text/html, application/json\r\n\r\n"},
        {"leader-head",
         "HEAD /healthz/leader?timeout=250ms HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"admin-transfer",
         "POST /admin/api/transfer?id=2 HTTP/1.1\r\nHost: x\r\n"
         "Authorization: Bearer  s3cret \r\nContent-Length: 4\r\n\r\n"
         "body"},
        {"chunked",
         "POST /admin/api/remove?id=3 HTTP/1.1\r\nHost: x\r\n"
         "Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n"},
        {"pipeline",
         "GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
         "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /dashboard/app.js HTTP/1.1\r\nConnection: close\r\n\r\n"
         "GET /after-close HTTP/1.1\r\n\r\n"},
        {"http10", "GET /readyz?timeout=2 HTTP/1.0\r\n\r\n"},
        {"absolute-url",
         "GET http://node1:8080/healthz?x=1&timeout=1m#frag HTTP/1.1\r\n"
         "Host: node1\r\n\r\n"},
        {"too-large-body",
         "POST /admin/api/transfer?id=2 HTTP/1.1\r\n"
         "Content-Length: 99999999\r\n\r\n"},
        {"bad-request", "GET /\x01 HTTP/1.1\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        put_file("http", reqs[i].name, reqs[i].req, strlen(reqs[i].req));
    }
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fuzz/corpus\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        die(root);
    }
    gen_resp();
    gen_logcmd();
    gen_peer();
    gen_snapshot();
    gen_http();
    return 0;
}
