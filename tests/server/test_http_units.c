/* Unit tests of the HTTP surface's pure parts: durations, query strings,
 * histograms and the Prometheus text format, JSON escaping. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_internal.h"

TestSuite(http_units, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static int dur(const char *s, uint64_t *out)
{
    return srv__parse_duration_ms(s, strlen(s), out);
}

static char *take(struct proto_buf *b)
{
    char *s = malloc(b->len + 1);
    memcpy(s, b->data != NULL ? b->data : "", b->len);
    s[b->len] = '\0';
    proto_buf_fini(b);
    return s;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(http_units, durations_with_and_without_units)
{
    static const struct
    {
        const char *in;
        uint64_t ms;
    } ok[] = {
        {"1500", 1500}, {"0", 0},       {"250ms", 250},
        {"1s", 1000},   {"1.5s", 1500}, {"0.25s", 250},
        {"2m", 120000}, {"10ms", 10},   {"1.", 1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 12345;
        cr_assert(eq(int, dur(ok[i].in, &v), 0), "%s", ok[i].in);
        cr_assert(eq(u64, v, ok[i].ms), "%s", ok[i].in);
    }
}

Test(http_units, malformed_durations_are_refused)
{
    static const char *const bad[] = {
        "",
        "s",
        "ms",
        "-1",
        "1h",
        "1 s",
        "1sec",
        "abc",
        ".",
        "1e3",
        "99999999999999999999",
        "1ss",
        "+5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        cr_assert(eq(int, dur(bad[i], &v), -EINVAL), "%s", bad[i]);
        cr_assert(eq(u64, v, 7), "%s: out written on failure", bad[i]);
    }
}

Test(http_units, query_parameters)
{
    const char *q = "timeout=1s&verbose&x=&id=42";
    const char *v;
    size_t n;
    cr_assert(srv__http_query_get(q, strlen(q), "timeout", &v, &n));
    cr_assert(eq(u64, n, 2));
    cr_assert(eq(int, memcmp(v, "1s", 2), 0));
    cr_assert(srv__http_query_get(q, strlen(q), "verbose", &v, &n));
    cr_assert(eq(u64, n, 0));
    cr_assert(srv__http_query_get(q, strlen(q), "x", &v, &n));
    cr_assert(eq(u64, n, 0));
    cr_assert(srv__http_query_get(q, strlen(q), "id", &v, &n));
    cr_assert(eq(int, memcmp(v, "42", 2), 0));
    cr_assert(not(srv__http_query_get(q, strlen(q), "time", &v, &n)));
    cr_assert(not(srv__http_query_get(q, strlen(q), "timeouts", &v, &n)));
    cr_assert(not(srv__http_query_get("", 0, "id", &v, &n)));
}

Test(http_units, histogram_buckets_are_upper_bounds)
{
    struct srv_hist h;
    memset(&h, 0, sizeof(h));
    srv__hist_observe(&h, 100000);     /* exactly 0.0001 s: first bucket */
    srv__hist_observe(&h, 100001);     /* just above: second */
    srv__hist_observe(&h, 3000000000); /* above every bound */
    cr_assert(eq(u64, h.buckets[0], 1));
    cr_assert(eq(u64, h.buckets[1], 1));
    cr_assert(eq(u64, h.inf, 1));
    cr_assert(eq(u64, h.count, 3));
    cr_assert(eq(u64, h.sum_ns, UINT64_C(3000200001)));
    for (size_t i = 1; i < SRV_HIST_BUCKETS; i++) {
        cr_assert(gt(u64, srv__hist_bound_ns(i), srv__hist_bound_ns(i - 1)));
    }
}

Test(http_units, prometheus_histogram_text)
{
    struct srv_hist h;
    struct proto_buf b;
    memset(&h, 0, sizeof(h));
    proto_buf_init(&b);
    srv__hist_observe(&h, 1500000); /* 1.5 ms */
    srv__hist_observe(&h, 2000000); /* 2 ms */
    cr_assert(eq(int, srv__prom_hist(&b, "x_seconds", "cmd=\"get\"", &h), 0));
    char *s = take(&b);
    cr_assert(
        strstr(s, "x_seconds_bucket{cmd=\"get\",le=\"0.0001\"} 0\n") != NULL,
        "%s", s);
    cr_assert(
        strstr(s, "x_seconds_bucket{cmd=\"get\",le=\"0.001\"} 0\n") != NULL,
        "%s", s);
    cr_assert(
        strstr(s, "x_seconds_bucket{cmd=\"get\",le=\"0.0025\"} 2\n") != NULL,
        "%s", s);
    cr_assert(strstr(s, "x_seconds_bucket{cmd=\"get\",le=\"2.5\"} 2\n") != NULL,
              "%s", s);
    cr_assert(
        strstr(s, "x_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 2\n") != NULL,
        "%s", s);
    cr_assert(strstr(s, "x_seconds_sum{cmd=\"get\"} 0.0035\n") != NULL, "%s",
              s);
    cr_assert(strstr(s, "x_seconds_count{cmd=\"get\"} 2\n") != NULL, "%s", s);
    free(s);

    proto_buf_init(&b);
    cr_assert(eq(int, srv__prom_hist(&b, "y", "", &h), 0));
    s = take(&b);
    cr_assert(strstr(s, "y_bucket{le=\"1\"} 2\n") != NULL, "%s", s);
    cr_assert(strstr(s, "y_sum 0.0035\ny_count 2\n") != NULL, "%s", s);
    free(s);
}

Test(http_units, prometheus_head_sample_and_label_escaping)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int, srv__prom_head(&b, "raftkv_x", "counter", "Things."), 0));
    cr_assert(eq(int, srv__prom_sample(&b, "raftkv_x", "", 7), 0));
    cr_assert(eq(int, srv__prom_sample(&b, "raftkv_x", "a=\"b\"", 8), 0));
    cr_assert(eq(int, srv__prom_label_value(&b, "q\"b\\n\nz", 7), 0));
    char *s = take(&b);
    cr_assert(eq(str, s,
                 "# HELP raftkv_x Things.\n# TYPE raftkv_x counter\n"
                 "raftkv_x 7\nraftkv_x{a=\"b\"} 8\n"
                 "q\\\"b\\\\n\\nz"));
    free(s);
}

Test(http_units, json_strings_are_escaped)
{
    struct proto_buf b;
    proto_buf_init(&b);
    cr_assert(eq(int, srv_json_string(&b, "a\"b\\c\n\x01\xff", 8), 0));
    char *s = take(&b);
    cr_assert(eq(str, s, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\""));
    free(s);
}
