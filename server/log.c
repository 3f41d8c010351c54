/* Structured logging: one JSON object per line on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raftadapter/radapter.h"
#include "server/srv.h"

/* ------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------- */

static enum srv_log_level min_level = SRV_LOG_INFO;

void srv_log_set_level(enum srv_log_level level)
{
    min_level = level;
    /* raftadapter logs the same way; keep one level for both. */
    radapter_set_log_level((int)level);
}

bool srv_log_enabled(enum srv_log_level level)
{
    return level >= min_level;
}

const char *srv_log_level_name(enum srv_log_level level)
{
    switch (level) {
        case SRV_LOG_DEBUG:
            return "debug";
        case SRV_LOG_INFO:
            return "info";
        case SRV_LOG_WARN:
            return "warn";
        case SRV_LOG_ERROR:
            return "error";
    }
    return "info";
}

/* ------------------------------------------------------------------------
 * JSON helpers
 * ---------------------------------------------------------------------- */

int srv_json_string(struct proto_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rv = proto_buf_reserve(b, n + 2);
    if (rv != 0) {
        return rv;
    }
    rv = proto_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rv == 0; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[6];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            rv = proto_buf_append(b, esc, 2);
        } else if (ch == '\n') {
            rv = proto_buf_append(b, "\\n", 2);
        } else if (ch == '\r') {
            rv = proto_buf_append(b, "\\r", 2);
        } else if (ch == '\t') {
            rv = proto_buf_append(b, "\\t", 2);
        } else if (ch < 0x20 || ch >= 0x7f) {
            /* Bytes outside printable ASCII are written as code points
             * U+0000..U+00FF so the line is always valid JSON, whatever a
             * client sent. */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            rv = proto_buf_append(b, esc, 6);
        } else {
            rv = proto_buf_append(b, &s[i], 1);
        }
    }
    if (rv == 0) {
        rv = proto_buf_append(b, "\"", 1);
    }
    return rv;
}

static int append_str(struct proto_buf *b, const char *s)
{
    return proto_buf_append(b, s, strlen(s));
}

static int append_fmt_ts(struct proto_buf *b, int64_t ts_ms)
{
    char out[96];
    struct tm tm;
    time_t secs = (time_t)(ts_ms / 1000);
    gmtime_r(&secs, &tm);
    snprintf(out, sizeof(out), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000 + 1000) % 1000);
    return append_str(b, out);
}

/* ------------------------------------------------------------------------
 * Field formatting
 * ---------------------------------------------------------------------- */

/* Writes the value of one "%conv" item, consuming its arguments. Returns
 * the number of format bytes used (> 0) or a negative errno. */
static int format_value(struct proto_buf *b, const char *f, va_list *ap)
{
    char num[64];
    size_t used = 1; /* the '%' */
    int lng = 0;
    bool sz = false;
    bool star = false;

    if (strncmp(f + used, ".*", 2) == 0) {
        star = true;
        used += 2;
    }
    while (f[used] == 'l') {
        lng++;
        used++;
    }
    if (f[used] == 'z') {
        sz = true;
        used++;
    }
    switch (f[used]) {
        case 's': {
            int prec = star ? va_arg(*ap, int) : -1;
            const char *s = va_arg(*ap, const char *);
            int rv;
            if (s == NULL) {
                rv = append_str(b, "null");
            } else {
                size_t n = prec >= 0 ? (size_t)prec : strlen(s);
                rv = srv_json_string(b, s, n);
            }
            return rv != 0 ? rv : (int)used + 1;
        }
        case 'd':
        case 'i':
            if (sz) {
                snprintf(num, sizeof(num), "%zd", va_arg(*ap, ssize_t));
            } else if (lng >= 2) {
                snprintf(num, sizeof(num), "%lld", va_arg(*ap, long long));
            } else if (lng == 1) {
                snprintf(num, sizeof(num), "%ld", va_arg(*ap, long));
            } else {
                snprintf(num, sizeof(num), "%d", va_arg(*ap, int));
            }
            break;
        case 'u':
            if (sz) {
                snprintf(num, sizeof(num), "%zu", va_arg(*ap, size_t));
            } else if (lng >= 2) {
                snprintf(num, sizeof(num), "%llu",
                         va_arg(*ap, unsigned long long));
            } else if (lng == 1) {
                snprintf(num, sizeof(num), "%lu", va_arg(*ap, unsigned long));
            } else {
                snprintf(num, sizeof(num), "%u", va_arg(*ap, unsigned));
            }
            break;
        case 'f':
        case 'g':
            snprintf(num, sizeof(num), "%.17g", va_arg(*ap, double));
            if (strpbrk(num, "0123456789") == NULL) {
                snprintf(num, sizeof(num), "null"); /* nan, inf */
            }
            break;
        default:
            return -EINVAL;
    }
    int rv = append_str(b, num);
    return rv != 0 ? rv : (int)used + 1;
}

int srv_log_format(struct proto_buf *b,
                   int64_t ts_ms,
                   enum srv_log_level level,
                   const char *event,
                   const char *fields,
                   va_list ap)
{
    va_list cp;
    int rv = append_str(b, "{\"ts\":");
    rv = rv ? rv : append_fmt_ts(b, ts_ms);
    rv = rv ? rv : append_str(b, ",\"level\":\"");
    rv = rv ? rv : append_str(b, srv_log_level_name(level));
    rv = rv ? rv : append_str(b, "\",\"event\":");
    rv = rv ? rv : srv_json_string(b, event, strlen(event));
    va_copy(cp, ap);
    for (const char *p = fields; rv == 0 && p != NULL && *p != '\0';) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ' ');
        if (end == NULL) {
            end = p + strlen(p);
        }
        if (eq == NULL || eq > end) {
            rv = -EINVAL; /* a malformed field list is a programming error */
            break;
        }
        rv = append_str(b, ",");
        rv = rv ? rv : srv_json_string(b, p, (size_t)(eq - p));
        rv = rv ? rv : append_str(b, ":");
        if (rv != 0) {
            break;
        }
        if (eq[1] == '%') {
            int used = format_value(b, eq + 1, &cp);
            if (used < 0) {
                rv = used;
                break;
            }
            p = eq + 1 + used;
        } else {
            rv = srv_json_string(b, eq + 1, (size_t)(end - eq - 1));
            p = end;
        }
    }
    va_end(cp);
    if (rv == 0) {
        rv = append_str(b, "}\n");
    }
    return rv;
}

void srv_log(enum srv_log_level level,
             const char *event,
             const char *fields,
             ...)
{
    struct proto_buf b;
    struct timespec ts;
    va_list ap;

    if (!srv_log_enabled(level)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    proto_buf_init(&b);
    va_start(ap, fields);
    int rv =
        srv_log_format(&b, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                       level, event, fields, ap);
    va_end(ap);
    if (rv == 0) {
        /* One write per line keeps lines whole when several processes share
         * a terminal or a pipe. */
        size_t off = 0;
        while (off < b.len) {
            ssize_t n = write(STDERR_FILENO, b.data + off, b.len - off);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            off += (size_t)n;
        }
    }
    proto_buf_fini(&b);
}
