/* Validation of raft_uv's open segments before raft_start.
 *
 * Why: libraft treats any bad batch in an open segment as a torn write and
 * silently drops it and everything after it, so a bit flip in the middle of
 * the open segment loses acknowledged entries without a word; and an open
 * segment that ends inside a batch makes libraft 0.22 free memory twice at
 * load (libraft notes, rule 14). We walk every open segment ourselves:
 *
 *   - a bad batch followed only by zeros (or by nothing we can parse) is a
 *     torn tail: the process died while appending it, so it was never
 *     acknowledged. We log it and zero it on disk, so libraft sees a clean
 *     end of log (this also defuses the double free);
 *   - a bad batch followed by a valid batch is damage in the middle: we
 *     refuse to start and name the file and offset.
 *
 * Segment format (libraft disk-format.rst): u64 format version (1), then
 * batches: u32 crc32 of the batch header, u32 crc32 of the data, then the
 * header (u64 entry count n, then per entry u64 term, u8 type, 3 unused
 * bytes, u32 length), then each entry's data padded to 8 bytes. Little
 * endian. Closed segments are checked by libraft itself (auto-recovery is
 * off, so a damaged one stops the load with its name). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raftadapter/radapter_internal.h"

#define MAX_ENTRIES_PER_BATCH (1u << 20)

/* libraft's checksum: CRC-32 with polynomial 0x04C11DB7 processed most
 * significant bit first, initial value 0 and no final inversion (not the
 * reflected zlib variant). The table is built on first use. */
static uint32_t crc_table[256];
static bool crc_table_ready;

static uint32_t crc(const unsigned char *p, size_t n)
{
    uint32_t c = 0;
    if (!crc_table_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t v = i << 24;
            for (int k = 0; k < 8; k++) {
                v = (v & 0x80000000u) ? (v << 1) ^ 0x04C11DB7u : v << 1;
            }
            crc_table[i] = v;
        }
        crc_table_ready = true;
    }
    while (n-- > 0) {
        c = (c << 8) ^ crc_table[((c >> 24) ^ *p++) & 0xffu];
    }
    return c;
}

enum batch_check {
    BATCH_OK,
    BATCH_END, /* zeros: the preallocated, never written rest */
    BATCH_BAD, /* checksum or framing does not hold */
};

/* Checks the batch at @pos of @buf (@size bytes); on BATCH_OK sets *next. */
static enum batch_check check_batch(const unsigned char *buf,
                                    size_t size,
                                    size_t pos,
                                    size_t *next)
{
    uint64_t n;
    size_t hdr_len;
    size_t data_len = 0;

    if (pos + 16 > size) {
        return pos == size ? BATCH_END : BATCH_BAD;
    }
    n = radapter__get_le(buf + pos + 8, 8);
    if (n == 0 && radapter__get_le(buf + pos, 8) == 0) {
        return BATCH_END;
    }
    if (n == 0 || n > MAX_ENTRIES_PER_BATCH) {
        return BATCH_BAD;
    }
    hdr_len = 8 + 16 * (size_t)n;
    if (pos + 8 + hdr_len > size) {
        return BATCH_BAD;
    }
    if (crc(buf + pos + 8, hdr_len) !=
        (uint32_t)radapter__get_le(buf + pos, 4)) {
        return BATCH_BAD;
    }
    for (uint64_t i = 0; i < n; i++) {
        size_t len =
            (uint32_t)radapter__get_le(buf + pos + 16 + 16 * i + 12, 4);
        data_len += (len + 7) & ~(size_t)7;
    }
    if (pos + 8 + hdr_len + data_len > size) {
        return BATCH_BAD;
    }
    if (crc(buf + pos + 8 + hdr_len, data_len) !=
        (uint32_t)radapter__get_le(buf + pos + 4, 4)) {
        return BATCH_BAD;
    }
    *next = pos + 8 + hdr_len + data_len;
    return BATCH_OK;
}

/* True if a batch with a valid header checksum starts somewhere after
 * @from: proof that the bad batch at @from is not the tail. */
static bool valid_batch_after(const unsigned char *buf,
                              size_t size,
                              size_t from)
{
    for (size_t p = from + 8; p + 24 <= size; p += 8) {
        uint64_t n = radapter__get_le(buf + p + 8, 8);
        if (n == 0 || n > MAX_ENTRIES_PER_BATCH) {
            continue;
        }
        size_t hdr_len = 8 + 16 * (size_t)n;
        if (p + 8 + hdr_len <= size &&
            crc(buf + p + 8, hdr_len) ==
                (uint32_t)radapter__get_le(buf + p, 4)) {
            return true;
        }
    }
    return false;
}

static int read_file(const char *path, unsigned char **buf, size_t *size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *size = (size_t)st.st_size;
    *buf = malloc(*size > 0 ? *size : 1);
    if (*buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t done = 0;
    while (done < *size) {
        ssize_t k = read(fd, *buf + done, *size - done);
        if (k <= 0) {
            int err = k < 0 ? -errno : -EIO;
            free(*buf);
            close(fd);
            return err;
        }
        done += (size_t)k;
    }
    close(fd);
    return 0;
}

/* Zeroes @path from @from to its end and syncs it. */
static int zero_tail(const char *path, size_t from, size_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int rv = 0;
    if (fd < 0) {
        return -errno;
    }
    unsigned char zeros[4096];
    memset(zeros, 0, sizeof zeros);
    for (size_t p = from; p < size && rv == 0;) {
        size_t k = size - p < sizeof zeros ? size - p : sizeof zeros;
        if (pwrite(fd, zeros, k, (off_t)p) != (ssize_t)k) {
            rv = -errno;
        }
        p += k;
    }
    if (rv == 0 && fsync(fd) != 0) {
        rv = -errno;
    }
    close(fd);
    return rv;
}

static int validate_open(const char *path, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t size = 0;
    size_t pos = 8;
    int rv = read_file(path, &buf, &size);

    if (rv != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rv));
        return rv;
    }
    if (size < 8 || radapter__get_le(buf, 8) == 0) {
        free(buf); /* never written: nothing to check */
        return 0;
    }
    if (radapter__get_le(buf, 8) != 1) {
        snprintf(err, errlen, "%s: unknown segment format %llu", path,
                 (unsigned long long)radapter__get_le(buf, 8));
        free(buf);
        return RADAPTER_ECORRUPT;
    }
    for (;;) {
        size_t next = 0;
        enum batch_check c = check_batch(buf, size, pos, &next);
        if (c == BATCH_OK) {
            pos = next;
            continue;
        }
        if (c == BATCH_END) {
            break;
        }
        if (valid_batch_after(buf, size, pos)) {
            snprintf(err, errlen,
                     "%s is damaged at byte %zu: a batch fails its checksum "
                     "but valid entries follow it; refusing to drop "
                     "acknowledged entries",
                     path, pos);
            free(buf);
            return RADAPTER_ECORRUPT;
        }
        radapter__log("warn", "torn_tail",
                      "%s: dropping the torn batch at byte %zu (%zu bytes): "
                      "the process stopped while writing it, so it was never "
                      "acknowledged",
                      path, pos, size - pos);
        rv = zero_tail(path, pos, size);
        if (rv != 0) {
            snprintf(err, errlen, "cannot repair %s: %s", path, strerror(-rv));
        }
        break;
    }
    free(buf);
    return rv;
}

int radapter__validate_dir(const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rv = 0;

    if (d == NULL) {
        return 0; /* created later by raft_uv */
    }
    while (rv == 0 && (e = readdir(d)) != NULL) {
        char path[4096];
        if (strncmp(e->d_name, "open-", 5) != 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rv = validate_open(path, err, errlen);
    }
    closedir(d);
    return rv;
}
