/* Unit tests of the JSON log line formatter. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"

TestSuite(log, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static int fmt(struct proto_buf *b,
               int64_t ts,
               enum srv_log_level lvl,
               const char *event,
               const char *fields,
               ...)
{
    va_list ap;
    va_start(ap, fields);
    int rv = srv_log_format(b, ts, lvl, event, fields, ap);
    va_end(ap);
    return rv;
}

static char *take(struct proto_buf *b)
{
    char *s = malloc(b->len + 1);
    memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    proto_buf_fini(b);
    return s;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(log, line_shape)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int,
                 fmt(&b, 1700000000123, SRV_LOG_INFO, "startup",
                     "id=%llu dir=%s port=%d ok=%u ratio=%g", 5ull, "/tmp/x",
                     6379, 1u, 0.5),
                 0));
    char *s = take(&b);
    cr_assert(eq(str, s,
                 "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\","
                 "\"event\":\"startup\",\"id\":5,\"dir\":\"/tmp/x\","
                 "\"port\":6379,\"ok\":1,\"ratio\":0.5}\n"));
    free(s);
}

Test(log, strings_are_escaped)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int,
                 fmt(&b, 0, SRV_LOG_ERROR, "ev\"x", "msg=%s n=%s",
                     "a\"b\\c\nd\x01\xff", (const char *)NULL),
                 0));
    char *s = take(&b);
    cr_assert(strstr(s, "\"event\":\"ev\\\"x\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"msg\":\"a\\\"b\\\\c\\nd\\u0001\\u00ff\"") != NULL,
              "%s", s);
    cr_assert(strstr(s, "\"n\":null") != NULL, "%s", s);
    cr_assert(strstr(s, "\"level\":\"error\"") != NULL);
    free(s);
}

Test(log, precision_and_sizes)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int,
                 fmt(&b, 0, SRV_LOG_DEBUG, "e", "k=%.*s z=%zu l=%ld lit=abc", 3,
                     "abcdef", (size_t)42, -7L),
                 0));
    char *s = take(&b);
    cr_assert(
        strstr(s, "\"k\":\"abc\",\"z\":42,\"l\":-7,\"lit\":\"abc\"}") != NULL,
        "%s", s);
    free(s);
}

Test(log, no_fields_and_levels)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int, fmt(&b, 0, SRV_LOG_WARN, "bye", NULL), 0));
    char *s = take(&b);
    cr_assert(eq(str, s,
                 "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"warn\","
                 "\"event\":\"bye\"}\n"));
    free(s);
    srv_log_set_level(SRV_LOG_WARN);
    cr_assert(not(srv_log_enabled(SRV_LOG_INFO)));
    cr_assert(srv_log_enabled(SRV_LOG_ERROR));
    srv_log_set_level(SRV_LOG_INFO);
}
