/* LZ4 frame compression of FSM snapshots. libraft 0.22 no longer
 * compresses (notes, rule 7); the frame's magic number tells a compressed
 * snapshot from a raw one on restore, and its content checksum catches
 * damage. */

#include <errno.h>
#include <lz4frame.h>
#include <raft.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

/* The LZ4 frame magic number 0x184D2204, little endian. */
static const unsigned char lz4_magic[4] = {0x04, 0x22, 0x4D, 0x18};

/* A decompressed snapshot larger than this is refused as corrupt. */
#define MAX_SNAPSHOT_BYTES (64ull * 1024 * 1024 * 1024)

bool radapter__lz4_is_frame(const void *buf, size_t len)
{
    return len >= sizeof lz4_magic && memcmp(buf, lz4_magic, 4) == 0;
}

int radapter__lz4_decompress(const void *src,
                             size_t n,
                             void **dst,
                             size_t *dlen)
{
    LZ4F_dctx *dctx;
    LZ4F_frameInfo_t info;
    size_t in_len = n;
    size_t out_len;
    size_t hint;
    size_t done_in;
    size_t done_out = 0;
    unsigned char *out = NULL;
    int result = -EPROTO;

    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        return -ENOMEM;
    }
    hint = LZ4F_getFrameInfo(dctx, &info, src, &in_len);
    if (LZ4F_isError(hint) || info.contentSize == 0 ||
        info.contentSize > MAX_SNAPSHOT_BYTES) {
        goto out;
    }
    out_len = (size_t)info.contentSize;
    out = malloc(out_len);
    if (out == NULL) {
        result = -ENOMEM;
        goto out;
    }
    done_in = in_len;
    while (done_in < n) {
        size_t src_size = n - done_in;
        size_t dst_size = out_len - done_out;
        hint = LZ4F_decompress(dctx, out + done_out, &dst_size,
                               (const char *)src + done_in, &src_size, NULL);
        if (LZ4F_isError(hint)) {
            goto out;
        }
        done_in += src_size;
        done_out += dst_size;
        if (hint == 0) {
            break; /* frame complete and checksum verified */
        }
        if (src_size == 0 && dst_size == 0) {
            goto out; /* no progress: truncated */
        }
    }
    if (hint != 0 || done_in != n || done_out != out_len) {
        goto out;
    }
    *dst = out;
    *dlen = out_len;
    out = NULL;
    result = 0;
out:
    free(out);
    LZ4F_freeDecompressionContext(dctx);
    return result;
}

/* ------------------------------------------------------------------------
 * Streaming writer
 * ---------------------------------------------------------------------- */

static void lz4w_prefs(const struct radapter__lz4w *w, LZ4F_preferences_t *p)
{
    memset(p, 0, sizeof *p);
    /* 64 KiB blocks match the pieces kv_snapshot_write hands over, and
     * autoFlush compresses each piece at once, straight from the caller's
     * buffer (no copy into LZ4's own block buffer). */
    p->frameInfo.blockSizeID = (LZ4F_blockSizeID_t)w->blocks_max;
    p->frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    p->frameInfo.contentSize = w->content_size;
    p->compressionLevel = 0;
    p->autoFlush = 1;
}

/* Makes room for @need more output bytes. */
static int lz4w_reserve(struct radapter__lz4w *w, size_t need)
{
    if (w->cap - w->len >= need) {
        return 0;
    }
    if (w->external) {
        return -ENOSPC;
    }
    size_t cap = w->cap * 2;
    if (cap < w->len + need) {
        cap = w->len + need;
    }
    unsigned char *p = raft_realloc(w->out, cap);
    if (p == NULL) {
        return -ENOMEM;
    }
    w->out = p;
    w->cap = cap;
    return 0;
}

int radapter__lz4w_begin(struct radapter__lz4w *w,
                         size_t content_size,
                         void *ext,
                         size_t ext_cap)
{
    LZ4F_preferences_t prefs;
    LZ4F_cctx *cctx;
    size_t rv;

    memset(w, 0, sizeof *w);
    w->content_size = content_size;
    w->blocks_max = LZ4F_max64KB;
    if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION))) {
        return -ENOMEM;
    }
    w->cctx = cctx;
    if (ext != NULL) {
        w->external = true;
        w->out = ext;
        w->cap = ext_cap;
    } else {
        /* Snapshots compress about 10:1; the buffer grows if not. */
        w->cap = content_size / 8 + LZ4F_HEADER_SIZE_MAX + 4096;
        w->out = raft_malloc(w->cap);
    }
    if (w->out == NULL) {
        radapter__lz4w_abort(w);
        return -ENOMEM;
    }
    lz4w_prefs(w, &prefs);
    rv = LZ4F_compressBegin(cctx, w->out, w->cap, &prefs);
    if (LZ4F_isError(rv)) {
        radapter__lz4w_abort(w);
        return -EINVAL;
    }
    w->len = rv;
    return 0;
}

int radapter__lz4w_put(void *arg, const void *data, size_t len)
{
    struct radapter__lz4w *w = arg;
    LZ4F_preferences_t prefs;
    size_t rv;

    if (len > w->content_size - w->fed) {
        return -EINVAL;
    }
    lz4w_prefs(w, &prefs);
    if (lz4w_reserve(w, LZ4F_compressBound(len, &prefs)) != 0) {
        return -ENOMEM;
    }
    rv = LZ4F_compressUpdate(w->cctx, w->out + w->len, w->cap - w->len, data,
                             len, NULL);
    if (LZ4F_isError(rv)) {
        return -EINVAL;
    }
    w->len += rv;
    w->fed += len;
    return 0;
}

int radapter__lz4w_end(struct radapter__lz4w *w, void **dst, size_t *dlen)
{
    LZ4F_preferences_t prefs;
    size_t rv;

    if (w->fed != w->content_size) {
        radapter__lz4w_abort(w);
        return -EINVAL;
    }
    lz4w_prefs(w, &prefs);
    if (lz4w_reserve(w, LZ4F_compressBound(0, &prefs)) != 0) {
        radapter__lz4w_abort(w);
        return -ENOMEM;
    }
    rv = LZ4F_compressEnd(w->cctx, w->out + w->len, w->cap - w->len, NULL);
    if (LZ4F_isError(rv)) {
        radapter__lz4w_abort(w);
        return -EINVAL;
    }
    *dst = w->out;
    *dlen = w->len + rv;
    w->out = NULL;
    radapter__lz4w_abort(w); /* frees the context */
    return 0;
}

void radapter__lz4w_abort(struct radapter__lz4w *w)
{
    if (w->cctx != NULL) {
        LZ4F_freeCompressionContext(w->cctx);
        w->cctx = NULL;
    }
    if (!w->external) {
        raft_free(w->out);
    }
    w->out = NULL;
}
