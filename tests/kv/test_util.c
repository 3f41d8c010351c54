/* Tests of kv's parsing, formatting and glob helpers (util.c). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "kv/kv_internal.h"

TestSuite(util, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static bool ll(const char *s, int64_t *v)
{
    return kv__str2ll(s, strlen(s), v);
}

static bool ld(const char *s, long double *v)
{
    return kv__str2ld(s, strlen(s), v);
}

static bool glob(const char *p, const char *s, bool nocase)
{
    return kv__glob_match(p, strlen(p), s, strlen(s), nocase);
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(util, str2ll_is_strict)
{
    int64_t v = 0;
    cr_assert(ll("0", &v) && v == 0);
    cr_assert(ll("-1", &v) && v == -1);
    cr_assert(ll("9223372036854775807", &v) && v == INT64_MAX);
    cr_assert(ll("-9223372036854775808", &v) && v == INT64_MIN);
    const char *bad[] = {"",
                         "-",
                         "-0",
                         "01",
                         "+1",
                         " 1",
                         "1 ",
                         "1a",
                         "0x1",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "123456789012345678901",
                         "1.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(not(ll(bad[i], &v)), "'%s'", bad[i]);
    }
    cr_assert(not(kv__str2ll("1\0", 2, &v)));
}

Test(util, str2ld_rules)
{
    long double v = 0;
    cr_assert(ld("1.5", &v) && v == 1.5L);
    cr_assert(ld("-0.25", &v) && v == -0.25L);
    cr_assert(ld("1e10", &v) && v == 1e10L);
    cr_assert(ld("0x10", &v) && v == 16.0L);
    cr_assert(ld("inf", &v));
    const char *bad[] = {"", " 1", "1 ", "nan", "abc", "1e99999", "1.5x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(not(ld(bad[i], &v)), "'%s'", bad[i]);
    }
}

/* Expected outputs taken from redis-server 7.0.15's INCRBYFLOAT. */
Test(util, ld2str_matches_redis)
{
    char buf[6000];
    struct
    {
        long double v;
        const char *out;
    } cases[] = {
        {3.0L, "3"},      {-0.0L, "0"},      {1e-20L, "0"},
        {10.5L, "10.5"},  {-2.25L, "-2.25"}, {1.5L + 0.1L, "1.6"},
        {5.0e3L, "5000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = kv__ld2str(buf, sizeof(buf), cases[i].v);
        cr_assert(eq(str, buf, (char *)cases[i].out));
        cr_assert(eq(sz, n, strlen(cases[i].out)));
    }
    /* Large: the full fixed form with a big buffer, as Redis prints. */
    long double big;
    cr_assert(kv__str2ld("1e300", 5, &big));
    size_t n = kv__ld2str(buf, sizeof(buf), big);
    cr_assert(eq(sz, n, 301));
    cr_assert(
        eq(int, strncmp(buf, "1000000000000000000008997324079559", 34), 0));
    /* ... and the %Lg fallback in a small one. */
    char small[64];
    n = kv__ld2str(small, sizeof(small), big);
    cr_assert(eq(str, small, "1e+300"));
    cr_assert(eq(sz, n, strlen(small)));
    n = kv__ld2str(small, sizeof(small), -1.0L / 0.0L);
    cr_assert(eq(str, small, "-inf"));
}

Test(util, glob_match)
{
    cr_assert(glob("*", "", false));
    cr_assert(glob("*", "anything", false));
    cr_assert(glob("h?llo", "hello", false));
    cr_assert(not(glob("h?llo", "hllo", false)));
    cr_assert(glob("h*llo", "hllo", false));
    cr_assert(glob("h*llo", "heeeeello", false));
    cr_assert(glob("h[ae]llo", "hallo", false));
    cr_assert(not(glob("h[ae]llo", "hillo", false)));
    cr_assert(glob("h[^e]llo", "hallo", false));
    cr_assert(not(glob("h[^e]llo", "hello", false)));
    cr_assert(glob("h[a-b]llo", "hbllo", false));
    cr_assert(glob("h[b-a]llo", "hallo", false));
    cr_assert(not(glob("h[a-b]llo", "hcllo", false)));
    cr_assert(glob("a\\*b", "a*b", false));
    cr_assert(not(glob("a\\*b", "axb", false)));
    cr_assert(glob("a[\\]]b", "a]b", false));
    cr_assert(glob("HELLO", "hello", true));
    cr_assert(not(glob("HELLO", "hello", false)));
    cr_assert(glob("[A-C]x", "bx", true));
    cr_assert(glob("*a*b*c*", "xxaxxbxxcxx", false));
    cr_assert(not(glob("*a*b*c*", "xxaxxcxxbxx", false)));
    cr_assert(glob("a*", "a", false));
    cr_assert(not(glob("a?", "a", false)));
    /* Unterminated class runs to the end of the pattern (Redis). */
    cr_assert(glob("x[ab", "xa", false));
    cr_assert(not(glob("x[", "x", false)));
    cr_assert(glob("a\\", "a\\", false));
    /* Pathological patterns stay fast. */
    char s[201];
    memset(s, 'a', 200);
    s[200] = '\0';
    cr_assert(not(glob("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s, false)));
}

Test(util, eq_is_case_insensitive)
{
    cr_assert(kv__eq("NX", 2, "nx"));
    cr_assert(kv__eq("nX", 2, "nx"));
    cr_assert(not(kv__eq("nxx", 3, "nx")));
    cr_assert(not(kv__eq("n", 1, "nx")));
    cr_assert(kv__eq("", 0, ""));
}
