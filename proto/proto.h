/* Every byte format raftkv speaks: RESP requests and replies, log commands. */
#ifndef PROTO_PROTO_H
#define PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Error codes. Negative, far from the errno range (STYLE §6.4). The
 * client-visible text for each is produced by the server's reply path.
 * ---------------------------------------------------------------------- */

#define PROTO_EBADMBULKLEN  (-11001) /* "invalid multibulk length" */
#define PROTO_EBADBULKLEN   (-11002) /* "invalid bulk length" */
#define PROTO_EEXPECTDOLLAR (-11003) /* "expected '$', got '%c'" */
#define PROTO_EBIGMBULK     (-11004) /* "too big mbulk count string" */
#define PROTO_EBIGBULK      (-11005) /* "too big bulk count string" */
#define PROTO_EBIGINLINE    (-11006) /* "too big inline request" */
#define PROTO_EQUOTES       (-11007) /* "unbalanced quotes in request" */
#define PROTO_EMALFORMED    (-11008) /* a log entry failed validation */
#define PROTO_EVERSION      (-11009) /* a log entry of an unknown version */

/* ------------------------------------------------------------------------
 * Growable byte buffer.
 * ---------------------------------------------------------------------- */

struct proto_buf
{
    char *data; /* owned; NULL while cap == 0 */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

/* Initialises an empty buffer; allocates nothing. */
void proto_buf_init(struct proto_buf *b);

/* Releases the buffer's memory and leaves it empty. */
void proto_buf_fini(struct proto_buf *b);

/* Makes room for at least @extra more bytes. Returns 0 or -ENOMEM (the
 * buffer is unchanged on failure). */
int proto_buf_reserve(struct proto_buf *b, size_t extra);

/* Appends @n bytes borrowed from @p. Returns 0 or -ENOMEM (unchanged). */
int proto_buf_append(struct proto_buf *b, const void *p, size_t n);

/* Drops the first @n bytes (n <= len), moving the rest to the front. */
void proto_buf_consume(struct proto_buf *b, size_t n);

/* ------------------------------------------------------------------------
 * A parsed command: argc arguments, each a byte string (may hold NULs).
 * ---------------------------------------------------------------------- */

struct proto_cmd
{
    int argc;           /* number of arguments, >= 1 when produced by parse */
    const char **argv;  /* borrowed: see the producer's contract */
    const size_t *lens; /* borrowed: lens[i] is the length of argv[i] */
};

/* ------------------------------------------------------------------------
 * RESP request parser (multibulk and inline), incremental, with hard limits.
 *
 * The caller keeps unconsumed bytes in its own query buffer. Each call is
 * given the whole unconsumed buffer, which must begin at the same byte as in
 * the previous call that returned 0; the parser remembers how far it has
 * scanned, so a large bulk arriving in many reads is not rescanned
 * (no quadratic cost). The parser's own memory grows only with bytes that
 * actually arrived: a client announcing "*1000000" and sending nothing makes
 * it allocate almost nothing.
 * ---------------------------------------------------------------------- */

struct proto_limits
{
    uint64_t max_bulk_len; /* proto-max-bulk-len; Redis: 512 MB */
    uint64_t
        max_multibulk_len; /* max arguments per command; Redis: 1024*1024*1024 >
                              INT_MAX is refused, we default 1024*1024 */
    size_t max_inline_len; /* inline request cap; Redis: 64 KiB */
};

/* Fills @l with the Redis 7 defaults. */
void proto_limits_default(struct proto_limits *l);

struct proto_parser; /* opaque */

/* Returns a new parser owned by the caller (free with proto_parser_free), or
 * NULL on out-of-memory. Borrows @limits only during the call (copied). */
struct proto_parser *proto_parser_new(const struct proto_limits *limits);

/* Replaces @p's limits with a copy of @limits (borrowed during the call),
 * for CONFIG SET. Takes effect from the next length or count line parsed;
 * a bulk whose length was already accepted completes. */
void proto_parser_set_limits(struct proto_parser *p,
                             const struct proto_limits *limits);

/* Releases @p and everything it holds. */
void proto_parser_free(struct proto_parser *p);

/* Parses one command from @buf (@len bytes).
 *
 * Returns the number of bytes the command occupied (> 0) and fills @out,
 * 0 when more bytes are needed (@out untouched), or a negative PROTO_E*
 * error after which the connection must be closed. For PROTO_EEXPECTDOLLAR
 * proto_parser_bad_byte() tells the offending byte.
 *
 * An empty inline line ("\r\n") or a multibulk of count <= 0 ("*0\r\n",
 * "*-1\r\n") is consumed with out->argc == 0: the caller skips it, as Redis
 * does.
 *
 * On success @out's arrays and strings are views into @buf or into the
 * parser, valid until the next call to proto_parse or proto_parser_free;
 * the caller then drops the returned byte count from the front of its
 * buffer. */
long proto_parse(struct proto_parser *p,
                 const char *buf,
                 size_t len,
                 struct proto_cmd *out);

/* The byte that caused the last PROTO_EEXPECTDOLLAR. */
char proto_parser_bad_byte(const struct proto_parser *p);

/* Bytes currently held by the parser's own state (for memory accounting). */
size_t proto_parser_memory(const struct proto_parser *p);

/* ------------------------------------------------------------------------
 * RESP reply encoding (RESP2 and RESP3). Each appends to @b and returns 0 or
 * -ENOMEM. @resp is 2 or 3 and selects the framing where they differ.
 * ---------------------------------------------------------------------- */

int proto_write_simple(struct proto_buf *b, const char *s, size_t n); /* +s */
int proto_write_error(struct proto_buf *b, const char *s, size_t n);  /* -s */
int proto_write_int(struct proto_buf *b, int64_t v);                  /* :v */
int proto_write_bulk(struct proto_buf *b, const void *s, size_t n);   /* $n */
/* RESP2 "$-1", RESP3 "_". */
int proto_write_null(struct proto_buf *b, int resp);
/* RESP2 "*-1", RESP3 "_". */
int proto_write_null_array(struct proto_buf *b, int resp);
int proto_write_array_len(struct proto_buf *b, size_t n); /* *n */
/* RESP3 "%n"; RESP2 "*2n" (a flat array of key, value pairs). */
int proto_write_map_len(struct proto_buf *b, int resp, size_t n);
/* RESP3 "~n"; RESP2 "*n". */
int proto_write_set_len(struct proto_buf *b, int resp, size_t n);
/* RESP3 ",d" (inf, -inf, nan spelled as RESP3 says); RESP2 a bulk string
 * formatted as Redis's addReplyDouble does ("%.17g"). */
int proto_write_double(struct proto_buf *b, int resp, double d);
/* RESP3 "#t"/"#f"; RESP2 ":1"/":0". */
int proto_write_bool(struct proto_buf *b, int resp, bool v);
/* RESP3 "=n\r\ntxt:..." verbatim string; RESP2 a bulk string. @fmt is a
 * three-letter format such as "txt". */
int proto_write_verbatim(struct proto_buf *b,
                         int resp,
                         const char *fmt,
                         const char *s,
                         size_t n);

/* ------------------------------------------------------------------------
 * Raft log commands. Wire format: change with a version bump.
 *
 *   header (16 bytes, little endian):
 *     u8  version        PROTO_LOG_VERSION
 *     u8  type           enum proto_log_type
 *     u16 reserved       0
 *     u32 body_len       bytes of body that follow the header
 *     u64 stamp_ms       leader's wall clock when the entry was made; the
 *                        state machine computes expiry from it, never from
 *                        its own clock
 *   body, PROTO_LOG_BATCH:
 *     u32 ncmds, then per command: u32 argc, then per argument: u32 len, bytes
 *   body, PROTO_LOG_BATCH_IDS: as BATCH, but each command is preceded by
 *     u64 request id (0: none); the state machine applies a command whose
 *     id it has seen only once and answers its retries with the first reply
 *   body, PROTO_LOG_EXPIRE:
 *     u32 nkeys, then per key: u32 len, bytes
 *   padding: zero bytes up to a multiple of 8 (libraft rejects other sizes)
 *
 * The decoder validates every length against the buffer and refuses
 * trailing garbage, unknown versions and unknown types: the log is input.
 * ---------------------------------------------------------------------- */

#define PROTO_LOG_VERSION    1
#define PROTO_LOG_HEADER_LEN 16

enum proto_log_type {
    PROTO_LOG_BATCH = 1,     /* client commands, group-committed */
    PROTO_LOG_EXPIRE = 2,    /* delete these keys if expired at stamp_ms */
    PROTO_LOG_BATCH_IDS = 3, /* client commands, each with a request id */
};

/* Builds one entry. Usage: proto_log_writer_init, then _add_cmd (or
 * _add_key) for each item, then _finish, which yields the padded buffer. */
struct proto_log_writer
{
    struct proto_buf buf; /* owned */
    uint32_t count;       /* commands or keys added */
    uint8_t type;         /* enum proto_log_type */
};

/* Starts an entry of @type stamped @stamp_ms. Returns 0 or -ENOMEM. */
int proto_log_writer_init(struct proto_log_writer *w,
                          enum proto_log_type type,
                          uint64_t stamp_ms);

/* Appends a command (BATCH entries). Borrows @argv/@lens during the call.
 * Returns 0 or -ENOMEM (the writer is unchanged on failure). */
int proto_log_writer_add_cmd(struct proto_log_writer *w,
                             int argc,
                             const char *const *argv,
                             const size_t *lens);

/* Appends a command with request id @id (BATCH_IDS entries). As
 * proto_log_writer_add_cmd otherwise. */
int proto_log_writer_add_cmd_id(struct proto_log_writer *w,
                                uint64_t id,
                                int argc,
                                const char *const *argv,
                                const size_t *lens);

/* Appends a key (EXPIRE entries). Returns 0 or -ENOMEM (unchanged). */
int proto_log_writer_add_key(struct proto_log_writer *w,
                             const char *key,
                             size_t len);

/* Bytes the entry would take if finished now (including padding). */
size_t proto_log_writer_size(const struct proto_log_writer *w);

/* Finishes the entry: writes the count and body length, pads to 8 bytes.
 * On success returns 0 and hands the buffer to the caller (@data, @len,
 * allocated with the allocator given: malloc-compatible signature so the
 * caller can pass raft_malloc); the writer is left empty. On failure
 * returns -ENOMEM and the writer still owns its state. */
int proto_log_writer_finish(struct proto_log_writer *w,
                            void *(*alloc)(size_t),
                            void **data,
                            size_t *len);

/* Releases whatever the writer still holds. */
void proto_log_writer_fini(struct proto_log_writer *w);

/* Reads one entry. Views into the entry's buffer, which must outlive it. */
struct proto_log_reader
{
    const unsigned char *pos; /* borrowed: next unread byte */
    const unsigned char *end; /* borrowed: end of body */
    uint32_t remaining;       /* items not yet read */
    uint8_t type;             /* enum proto_log_type */
    uint64_t stamp_ms;        /* from the header */
    const char **argv;        /* owned scratch for _next_cmd */
    size_t *lens;             /* owned scratch for _next_cmd */
    int cap;                  /* slots in argv/lens */
};

/* Validates the header and body framing of @buf (@len bytes; the padded
 * length is accepted) and prepares to read it. Returns 0, PROTO_EVERSION,
 * or PROTO_EMALFORMED. Borrows @buf until proto_log_reader_fini. */
int proto_log_reader_init(struct proto_log_reader *r,
                          const void *buf,
                          size_t len);

/* Reads the next command of a BATCH entry into @out (views valid until the
 * next call). Returns 1 when a command was read, 0 at the end, or
 * PROTO_EMALFORMED / -ENOMEM. */
int proto_log_reader_next_cmd(struct proto_log_reader *r,
                              struct proto_cmd *out);

/* As proto_log_reader_next_cmd, for BATCH and BATCH_IDS entries, also
 * giving the command's request id in @id (0 for BATCH entries). */
int proto_log_reader_next_cmd_id(struct proto_log_reader *r,
                                 struct proto_cmd *out,
                                 uint64_t *id);

/* Reads the next key of an EXPIRE entry. Returns 1, 0 at the end, or
 * PROTO_EMALFORMED. */
int proto_log_reader_next_key(struct proto_log_reader *r,
                              const char **key,
                              size_t *len);

/* Releases the reader's scratch. */
void proto_log_reader_fini(struct proto_log_reader *r);

/* ------------------------------------------------------------------------
 * Peer RPC. A node-to-node RPC connection on the peer port opens with 24
 * bytes: u64 PROTO_PEER_MAGIC, u64 sender id, u64 0 (little endian). The
 * magic cannot be mistaken for libraft's handshake, whose first word is its
 * protocol version (1). Wire format: change with a version bump (the last
 * byte of the magic).
 * ---------------------------------------------------------------------- */

#define PROTO_PEER_MAGIC UINT64_C(0x3152454550564B52) /* "RKVPEER1" */

/* After the opening, frames: u32 body length, then the body: u8 type and
 * the type's fields (little endian). Unknown types are an error: both ends
 * run the same version. */
enum proto_peer_type {
    PROTO_PEER_PROBE = 1,          /* a = token, b = leader's term */
    PROTO_PEER_ACK = 2,            /* a = token, b = responder's term */
    PROTO_PEER_READINDEX_REQ = 3,  /* a = request id, b = its round's first
                                      request id */
    PROTO_PEER_READINDEX_RESP = 4, /* a = request id, b = read index,
                                      c = status (0 or a RADAPTER_E* code
                                      stored as two's complement) */
    PROTO_PEER_FORWARD = 5,        /* a = request id, b = deadline budget in
                                      ms; payload: u32 argc, then per
                                      argument u32 length and bytes */
    PROTO_PEER_FORWARD_RESP = 6,   /* a = request id, b = status (as for
                                      READINDEX_RESP); payload: the reply,
                                      opaque to proto */
    PROTO_PEER_JOIN = 7,           /* a = joining node's id; payload: its
                                      peer address */
    PROTO_PEER_JOIN_RESP = 8,      /* a = status; payload: the leader's
                                      peer address when known */
    PROTO_PEER_ADDRS = 9,          /* a = sender id; payload: its RESP
                                      address, '\n', its HTTP address */
};

/* Largest frame accepted: room for a bulk of proto-max-bulk-len's default
 * (512 MB) plus framing, since a forwarded write or its reply may carry
 * one. A connection's buffer grows only with bytes that arrive. */
#define PROTO_PEER_MAX_FRAME (600u * 1024 * 1024)

/* A decoded frame. */
struct proto_peer_msg
{
    uint8_t type; /* enum proto_peer_type */
    uint64_t a;
    uint64_t b;
    uint64_t c;
    const unsigned char *payload; /* view into the parsed buffer, or NULL */
    size_t payload_len;           /* bytes of payload */
};

/* Appends a frame of @type with fields @a, @b, @c (those the type has).
 * Returns 0 or -ENOMEM (@out unchanged). */
int proto_peer_write(struct proto_buf *out,
                     enum proto_peer_type type,
                     uint64_t a,
                     uint64_t b,
                     uint64_t c);

/* Appends a frame of a payload-carrying @type (FORWARD, FORWARD_RESP,
 * JOIN, JOIN_RESP, ADDRS) with fields @a, @b
 * and a payload built from @parts: @nparts byte strings concatenated
 * (borrowed during the call). Returns 0, -EINVAL (too big) or -ENOMEM
 * (@out unchanged). */
int proto_peer_write_payload(struct proto_buf *out,
                             enum proto_peer_type type,
                             uint64_t a,
                             uint64_t b,
                             const void *const *parts,
                             const size_t *lens,
                             size_t nparts);

/* Encodes argv as a FORWARD payload into @out (appending). Returns 0,
 * -EINVAL or -ENOMEM. */
int proto_peer_encode_args(struct proto_buf *out,
                           int argc,
                           const char *const *argv,
                           const size_t *lens);

/* Decodes a FORWARD payload. On success returns argc (>= 1) and fills
 * @argv/@lens (caller-provided arrays of @cap slots) with views into the
 * payload; returns PROTO_EMALFORMED for a bad payload or more than @cap
 * arguments. */
int proto_peer_decode_args(const unsigned char *payload,
                           size_t len,
                           const char **argv,
                           size_t *lens,
                           size_t cap);

/* ------------------------------------------------------------------------
 * Watch list: the optional third argument of the internal transaction
 * command "raftkv.exec <commands> <watches>" (WATCH ... EXEC), so log
 * input. Wire format: change with a version bump. Per watched key, back to
 * back: u64 version (the key's version as the watcher saw it; 0: absent),
 * u32 key length, key bytes; little endian. An empty list is valid.
 * ---------------------------------------------------------------------- */

#define PROTO_WATCH_ITEM_FIXED 12 /* bytes of an item besides its key */

/* Appends the key @key (@len bytes, borrowed) with @version to @out.
 * Returns 0, -EINVAL (key too long) or -ENOMEM (@out unchanged). */
int proto_watch_add(struct proto_buf *out,
                    const char *key,
                    size_t len,
                    uint64_t version);

/* Reads the item at *@pos of the list @p (@len bytes, borrowed). Returns 1
 * and sets @key/@klen (a view into @p), @version and the next *@pos; 0 at
 * the end of the list; PROTO_EMALFORMED for a truncated item (outputs
 * untouched). */
int proto_watch_next(const unsigned char *p,
                     size_t len,
                     size_t *pos,
                     const char **key,
                     size_t *klen,
                     uint64_t *version);

/* Decodes one frame from @buf (@len bytes). Returns the bytes it took
 * (> 0) and fills @out, 0 when more bytes are needed, or PROTO_EMALFORMED
 * (unknown type, wrong length, frame over PROTO_PEER_MAX_FRAME): the
 * connection must be closed. */
long proto_peer_parse(const void *buf, size_t len, struct proto_peer_msg *out);

#endif /* PROTO_PROTO_H */
