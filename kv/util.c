/* Parsing, formatting and matching helpers shared by the command files. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

/* ------------------------------------------------------------------------
 * Integers
 * ---------------------------------------------------------------------- */

/* The longest canonical int64 is "-9223372036854775808": 20 bytes. Redis
 * refuses anything longer before looking at the digits, and so do we. */
#define INT64_MAX_CHARS 20

bool kv__str2ll(const char *s, size_t len, int64_t *v)
{
    if (len == 0 || len > INT64_MAX_CHARS) {
        return false;
    }
    if (len == 1 && s[0] == '0') {
        *v = 0;
        return true;
    }
    size_t i = 0;
    bool negative = false;
    if (s[0] == '-') {
        negative = true;
        i = 1;
        if (len == 1) {
            return false;
        }
    }
    /* The first digit must be 1-9: this rejects leading zeros and "-0",
     * which Redis does not consider canonical. */
    if (s[i] < '1' || s[i] > '9') {
        return false;
    }
    /* Accumulate the magnitude as unsigned so that INT64_MIN, whose
     * magnitude does not fit an int64, parses without overflow. */
    uint64_t mag = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (mag > (UINT64_MAX - digit) / 10) {
            return false;
        }
        mag = mag * 10 + digit;
    }
    if (negative) {
        if (mag > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        /* Negate in unsigned arithmetic, then convert: well defined for
         * every magnitude up to 2^63. */
        *v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) {
            return false;
        }
        *v = (int64_t)mag;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Long doubles
 * ---------------------------------------------------------------------- */

/* Redis caps the textual form of a long double at 5 KiB: enough for the
 * fixed-point form of the largest finite long double. */
#define LD_MAX_CHARS (5 * 1024)

bool kv__str2ld(const char *s, size_t len, long double *v)
{
    char stackbuf[128];
    char *buf = stackbuf;

    if (len == 0 || len >= LD_MAX_CHARS) {
        return false;
    }
    /* strtold needs a NUL-terminated string. */
    if (len >= sizeof(stackbuf)) {
        buf = malloc(len + 1);
        if (buf == NULL) {
            return false;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    char *end = NULL;
    errno = 0;
    long double value = strtold(buf, &end);
    /* Rules, as Redis applies them: no leading space (strtold would skip
     * it), the whole string consumed, no overflow to infinity or underflow
     * to zero, and never NaN. "inf" itself is accepted: the caller's
     * arithmetic then reports NaN or Infinity. An embedded NUL stops the
     * parse early and, unlike Redis, is rejected: a value must be read the
     * same way whatever bytes follow it. */
    bool ok = !isspace((unsigned char)buf[0]) && end == buf + len &&
              !(errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL ||
                                    fpclassify(value) == FP_ZERO)) &&
              !isnan(value);
    if (buf != stackbuf) {
        free(buf);
    }
    if (ok) {
        *v = value;
    }
    return ok;
}

/* Formats @v with "%.17Lf" and strips the trailing zeros of the fraction
 * (and a dangling '.'), as Redis's human-friendly mode does: 17 digits
 * round most short decimals back to what the user typed. Returns the
 * length, or 0 if it does not fit @cap. */
static size_t ld_fixed(char *buf, size_t cap, long double v)
{
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n >= cap) {
        return 0;
    }
    size_t l = (size_t)n;
    if (memchr(buf, '.', l) != NULL) {
        while (l > 0 && buf[l - 1] == '0') {
            l--;
        }
        if (l > 0 && buf[l - 1] == '.') {
            l--;
        }
    }
    /* A negative value that rounds to zero prints as "-0": Redis shows
     * plain "0". */
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

size_t kv__ld2str(char *buf, size_t cap, long double v)
{
    if (cap == 0) {
        return 0;
    }
    if (isinf(v)) {
        const char *t = v > 0 ? "inf" : "-inf";
        size_t l = strlen(t);
        if (l >= cap) {
            buf[0] = '\0';
            return 0;
        }
        memcpy(buf, t, l + 1);
        return l;
    }
    if (isnan(v)) {
        /* Never produced by the commands (they reject NaN first), but the
         * helper must not print an unparsable value. */
        const char *t = "nan";
        size_t l = cap > 3 ? 3 : cap - 1;
        memcpy(buf, t, l);
        buf[l] = '\0';
        return l;
    }
    /* Try the fixed form directly in the caller's buffer; it fits 64
     * bytes for every value below about 1e45. Larger values need up to
     * ~5000 bytes: with a buffer that large the output is Redis's exactly,
     * otherwise fall back to 17 significant digits in %Lg form, which
     * always fits 64 bytes and parses back to the same value. */
    size_t l = ld_fixed(buf, cap, v);
    if (l > 0) {
        return l;
    }
    int n = snprintf(buf, cap, "%.17Lg", v);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

/* ------------------------------------------------------------------------
 * Glob matching
 * ---------------------------------------------------------------------- */

static unsigned char fold(unsigned char c, bool nocase)
{
    return nocase ? (unsigned char)tolower(c) : c;
}

/* Matches one string byte @c against the bracket class that starts just
 * after the '[' at @pat (@plen bytes remain). Sets *used to the pattern
 * bytes consumed including the closing ']'. Semantics follow Redis: a
 * leading '^' negates; "\x" is a literal x (compared case-sensitively, as
 * Redis does); "a-z" is a range whose ends may be given in either order;
 * an unterminated class extends to the end of the pattern. */
static bool match_class(const char *pat,
                        size_t plen,
                        unsigned char c,
                        bool nocase,
                        size_t *used)
{
    size_t i = 0;
    bool negate = false;
    bool hit = false;

    if (i < plen && pat[i] == '^') {
        negate = true;
        i++;
    }
    while (i < plen) {
        unsigned char p = (unsigned char)pat[i];
        if (p == '\\' && plen - i >= 2) {
            if ((unsigned char)pat[i + 1] == c) {
                hit = true;
            }
            i += 2;
        } else if (p == ']') {
            i++;
            *used = i;
            return hit != negate;
        } else if (plen - i >= 3 && pat[i + 1] == '-') {
            unsigned char lo = fold(p, nocase);
            unsigned char hi = fold((unsigned char)pat[i + 2], nocase);
            unsigned char x = fold(c, nocase);
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (x >= lo && x <= hi) {
                hit = true;
            }
            i += 3;
        } else {
            if (fold(p, nocase) == fold(c, nocase)) {
                hit = true;
            }
            i++;
        }
    }
    *used = i;
    return hit != negate;
}

/* Matches the single-byte token at the head of @pat against @c: '?', a
 * bracket class, an escaped byte or a literal. Sets *used to its length. */
static bool match_one(const char *pat,
                      size_t plen,
                      unsigned char c,
                      bool nocase,
                      size_t *used)
{
    switch (pat[0]) {
        case '?':
            *used = 1;
            return true;
        case '[': {
            size_t n = 0;
            bool ok = match_class(pat + 1, plen - 1, c, nocase, &n);
            *used = 1 + n;
            return ok;
        }
        case '\\':
            if (plen >= 2) {
                *used = 2;
                return fold((unsigned char)pat[1], nocase) == fold(c, nocase);
            }
            *used = 1;
            return fold('\\', nocase) == fold(c, nocase);
        default:
            *used = 1;
            return fold((unsigned char)pat[0], nocase) == fold(c, nocase);
    }
}

/* Every token other than '*' consumes exactly one byte of the string, so
 * it is enough to remember the most recent '*': on a mismatch, let that
 * star swallow one more byte and retry from just after it. Earlier stars
 * never need revisiting, which bounds the work by plen * slen (Redis's
 * recursive matcher needed an explicit nesting limit instead). */
bool kv__glob_match(const char *pat,
                    size_t plen,
                    const char *s,
                    size_t slen,
                    bool nocase)
{
    size_t pi = 0;
    size_t si = 0;
    size_t star_pi = SIZE_MAX; /* pattern index just after the last '*' */
    size_t star_si = 0;        /* string index that star resumes from */

    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*') {
                pi++;
            }
            if (pi == plen) {
                return true;
            }
            star_pi = pi;
            star_si = si;
            continue;
        }
        size_t used = 0;
        if (pi < plen && match_one(pat + pi, plen - pi, (unsigned char)s[si],
                                   nocase, &used)) {
            pi += used;
            si++;
            continue;
        }
        if (star_pi == SIZE_MAX) {
            return false;
        }
        pi = star_pi;
        si = ++star_si;
    }
    while (pi < plen && pat[pi] == '*') {
        pi++;
    }
    return pi == plen;
}

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

bool kv__eq(const char *a, size_t alen, const char *lit)
{
    size_t i = 0;
    for (; i < alen; i++) {
        if (lit[i] == '\0' ||
            tolower((unsigned char)a[i]) != (unsigned char)lit[i]) {
            return false;
        }
    }
    return lit[i] == '\0';
}

/* ------------------------------------------------------------------------
 * SipHash-2-4, written from Aumasson and Bernstein's paper ("SipHash: a
 * fast short-input PRF", 2012): 64-bit output, two compression rounds per
 * 8-byte word and four finalisation rounds.
 * ---------------------------------------------------------------------- */

static inline uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64u - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define SIP_ROUND(v0, v1, v2, v3) \
    do {                          \
        v0 += v1;                 \
        v1 = rotl(v1, 13);        \
        v1 ^= v0;                 \
        v0 = rotl(v0, 32);        \
        v2 += v3;                 \
        v3 = rotl(v3, 16);        \
        v3 ^= v2;                 \
        v0 += v3;                 \
        v3 = rotl(v3, 21);        \
        v3 ^= v0;                 \
        v2 += v1;                 \
        v1 = rotl(v1, 17);        \
        v1 ^= v2;                 \
        v2 = rotl(v2, 32);        \
    } while (0)

uint64_t kv__siphash(const void *data, size_t len, uint64_t k0, uint64_t k1)
{
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;
    size_t words = len / 8;

    for (size_t i = 0; i < words; i++, p += 8) {
        uint64_t m = load_le64(p);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* The last word carries the remaining bytes and the length's low
     * byte in its top byte. */
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7u); i++) {
        last |= (uint64_t)p[i] << (8 * i);
    }
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++) {
        SIP_ROUND(v0, v1, v2, v3);
    }
    return v0 ^ v1 ^ v2 ^ v3;
}
