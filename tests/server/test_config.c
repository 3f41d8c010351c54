/* Unit tests of the server's configuration: defaults, sources, errors. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/srv.h"

TestSuite(config, .timeout = 10);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* A fake environment: NULL-terminated name, value pairs. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; fake_env != NULL && fake_env[i] != NULL; i += 2) {
        if (strcmp(fake_env[i], name) == 0) {
            return fake_env[i + 1];
        }
    }
    return NULL;
}

static const char *no_env(const char *name)
{
    (void)name;
    return NULL;
}

/* Writes @text to a new temporary file; returns its malloc'd path. */
static char *write_file(const char *text)
{
    char *path = strdup("/tmp/raftkv-test-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = strlen(text);
    cr_assert(eq(sz, (size_t)write(fd, text, n), n));
    close(fd);
    return path;
}

static int load(struct srv_config *c, int argc, const char **argv, char *err)
{
    return srv_config_load(c, argc, (char **)argv, fake_getenv, err, 256);
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(config, defaults)
{
    struct srv_config c;
    cr_assert(eq(int, srv_config_init(&c), 0));
    cr_assert(eq(u64, c.id, 1));
    cr_assert(eq(str, c.data_dir, "./raftkv-data"));
    cr_assert(eq(str, c.redis_addr, "127.0.0.1:6379"));
    cr_assert(eq(str, c.peer_addr, "127.0.0.1:7379"));
    cr_assert(eq(str, c.http_addr, "127.0.0.1:8379"));
    cr_assert(eq(int, c.log_level, SRV_LOG_INFO));
    cr_assert(eq(u64, c.maxclients, 10000));
    cr_assert(eq(u64, c.proto_max_bulk_len, 512ull * 1024 * 1024));
    cr_assert(eq(u64, c.client_query_buffer_limit, 1024ull * 1024 * 1024));
    cr_assert(eq(u64, c.heartbeat_ms, 100));
    cr_assert(eq(u64, c.election_ms, 1000));
    cr_assert(eq(u64, c.verify_timeout_ms, 5000));
    cr_assert(eq(u64, c.max_pending_reads, 10000));
    cr_assert(eq(u64, c.max_inflight_entries, 64));
    cr_assert(c.config_file == NULL);
    srv_config_fini(&c);
}

Test(config, parse_memory)
{
    uint64_t v;
    cr_assert(eq(int, srv_parse_memory("100", &v), 0));
    cr_assert(eq(u64, v, 100));
    cr_assert(eq(int, srv_parse_memory("4k", &v), 0));
    cr_assert(eq(u64, v, 4000));
    cr_assert(eq(int, srv_parse_memory("4KB", &v), 0));
    cr_assert(eq(u64, v, 4096));
    cr_assert(eq(int, srv_parse_memory("512mb", &v), 0));
    cr_assert(eq(u64, v, 512ull << 20));
    cr_assert(eq(int, srv_parse_memory("1gb", &v), 0));
    cr_assert(eq(u64, v, 1ull << 30));
    cr_assert(eq(int, srv_parse_memory("1tb", &v), -EINVAL));
    cr_assert(eq(int, srv_parse_memory("-1", &v), -EINVAL));
    cr_assert(eq(int, srv_parse_memory("", &v), -EINVAL));
    cr_assert(eq(int, srv_parse_memory("99999999999999999999gb", &v), -EINVAL));
}

Test(config, set_values_and_errors)
{
    struct srv_config c;
    char err[256];
    srv_config_init(&c);
    cr_assert(eq(int, srv_config_set(&c, "id", "7", err, sizeof(err)), 0));
    cr_assert(eq(u64, c.id, 7));
    cr_assert(
        eq(int, srv_config_set(&c, "id", "0", err, sizeof(err)), -EINVAL));
    cr_assert(eq(u64, c.id, 7), "a failed set leaves the value");
    cr_assert(strstr(err, "id") != NULL);
    cr_assert(
        eq(int, srv_config_set(&c, "id", "x1", err, sizeof(err)), -EINVAL));
    cr_assert(
        eq(int, srv_config_set(&c, "id", "1x", err, sizeof(err)), -EINVAL));
    cr_assert(
        eq(int, srv_config_set(&c, "maxclients", "-5", err, 256), -EINVAL));
    cr_assert(eq(int, srv_config_set(&c, "log-level", "debug", err, 256), 0));
    cr_assert(eq(int, c.log_level, SRV_LOG_DEBUG));
    cr_assert(eq(int, srv_config_set(&c, "loglevel", "warning", err, 256), 0));
    cr_assert(eq(int, c.log_level, SRV_LOG_WARN));
    cr_assert(
        eq(int, srv_config_set(&c, "log-level", "loud", err, 256), -EINVAL));
    cr_assert(
        eq(int, srv_config_set(&c, "redis", "0.0.0.0:6400", err, 256), 0));
    cr_assert(eq(str, c.redis_addr, "0.0.0.0:6400"));
    cr_assert(
        eq(int, srv_config_set(&c, "redis", "nohost", err, 256), -EINVAL));
    cr_assert(
        eq(int, srv_config_set(&c, "redis", "h:70000", err, 256), -EINVAL));
    cr_assert(eq(int, srv_config_set(&c, "data-dir", "", err, 256), -EINVAL));
    cr_assert(eq(int, srv_config_set(&c, "nosuch", "1", err, 256), -ENOENT));
    cr_assert(
        eq(int, srv_config_set(&c, "proto-max-bulk-len", "1gb", err, 256), 0));
    cr_assert(eq(u64, c.proto_max_bulk_len, 1ull << 30));
    cr_assert(eq(int, srv_config_set(&c, "proto-max-bulk-len", "10", err, 256),
                 -EINVAL),
              "below the 1 MB minimum");
    srv_config_fini(&c);
}

Test(config, get_formats_values)
{
    struct srv_config c;
    char out[64];
    srv_config_init(&c);
    cr_assert(eq(int, srv_config_get(&c, "maxclients", out, sizeof(out)), 0));
    cr_assert(eq(str, out, "10000"));
    cr_assert(eq(int, srv_config_get(&c, "loglevel", out, sizeof(out)), 0));
    cr_assert(eq(str, out, "info"));
    cr_assert(eq(int, srv_config_get(&c, "data-dir", out, sizeof(out)), 0));
    cr_assert(eq(str, out, "./raftkv-data"));
    cr_assert(eq(int, srv_config_get(&c, "nosuch", out, sizeof(out)), -ENOENT));
    cr_assert(srv_config_is_mutable("maxclients"));
    cr_assert(not(srv_config_is_mutable("id")));
    srv_config_fini(&c);
}

Test(config, file_parsing)
{
    struct srv_config c;
    char err[256];
    char *path = write_file(
        "# a comment\n"
        "\n"
        "   id 3\n"
        "data-dir \"/tmp/with space\"\n"
        "maxclients   50   \n"
        "loglevel warn\n");
    srv_config_init(&c);
    cr_assert(eq(int, srv_config_load_file(&c, path, err, sizeof(err)), 0),
              "%s", err);
    cr_assert(eq(u64, c.id, 3));
    cr_assert(eq(str, c.data_dir, "/tmp/with space"));
    cr_assert(eq(u64, c.maxclients, 50));
    cr_assert(eq(int, c.log_level, SRV_LOG_WARN));
    unlink(path);
    free(path);
    srv_config_fini(&c);
}

Test(config, file_errors_name_the_line)
{
    struct srv_config c;
    char err[256];
    char *path = write_file("id 2\nbogus 1\n");
    srv_config_init(&c);
    cr_assert(
        eq(int, srv_config_load_file(&c, path, err, sizeof(err)), -EINVAL));
    cr_assert(strstr(err, ":2:") != NULL, "%s", err);
    cr_assert(strstr(err, "bogus") != NULL, "%s", err);
    unlink(path);
    free(path);

    path = write_file("id\n");
    cr_assert(
        eq(int, srv_config_load_file(&c, path, err, sizeof(err)), -EINVAL));
    cr_assert(strstr(err, ":1:") != NULL, "%s", err);
    unlink(path);
    free(path);

    cr_assert(eq(
        int, srv_config_load_file(&c, "/nonexistent/x.conf", err, sizeof(err)),
        -ENOENT));
    cr_assert(strstr(err, "/nonexistent/x.conf") != NULL);
    srv_config_fini(&c);
}

Test(config, precedence_file_env_argv)
{
    struct srv_config c;
    char err[256];
    char *path = write_file(
        "id 2\nmaxclients 20\nelection-ms 2000\n"
        "heartbeat-ms 150\n");
    const char *env[] = {"RAFTKV_MAXCLIENTS", "30", "RAFTKV_ELECTION_MS",
                         "3000", NULL};
    const char *argv[] = {"prog",          "--config", path,
                          "--election-ms", "4000",     "--data-dir=/x"};
    fake_env = env;
    srv_config_init(&c);
    cr_assert(eq(int, load(&c, 6, argv, err), 0), "%s", err);
    cr_assert(eq(u64, c.id, 2), "file over default");
    cr_assert(eq(u64, c.heartbeat_ms, 150), "file over default");
    cr_assert(eq(u64, c.maxclients, 30), "env over file");
    cr_assert(eq(u64, c.election_ms, 4000), "argv over env");
    cr_assert(eq(str, c.data_dir, "/x"));
    cr_assert(eq(str, c.config_file, path));
    unlink(path);
    free(path);
    srv_config_fini(&c);
}

Test(config, config_file_from_env)
{
    struct srv_config c;
    char err[256];
    char *path = write_file("id 9\n");
    const char *env[] = {"RAFTKV_CONFIG", path, NULL};
    const char *argv[] = {"prog"};
    fake_env = env;
    srv_config_init(&c);
    cr_assert(eq(int, load(&c, 1, argv, err), 0), "%s", err);
    cr_assert(eq(u64, c.id, 9));
    unlink(path);
    free(path);
    srv_config_fini(&c);
}

Test(config, argv_errors)
{
    struct srv_config c;
    char err[256];
    fake_env = NULL;
    srv_config_init(&c);
    const char *a1[] = {"prog", "--bogus", "1"};
    cr_assert(eq(int, load(&c, 3, a1, err), -EINVAL));
    cr_assert(strstr(err, "--bogus") != NULL, "%s", err);
    const char *a2[] = {"prog", "--id"};
    cr_assert(eq(int, load(&c, 2, a2, err), -EINVAL));
    cr_assert(strstr(err, "requires a value") != NULL, "%s", err);
    const char *a3[] = {"prog", "--id", "zero"};
    cr_assert(eq(int, load(&c, 3, a3, err), -EINVAL));
    cr_assert(strstr(err, "--id") != NULL, "%s", err);
    const char *a4[] = {"prog", "stray"};
    cr_assert(eq(int, load(&c, 2, a4, err), -EINVAL));
    const char *env[] = {"RAFTKV_ID", "abc", NULL};
    fake_env = env;
    const char *a5[] = {"prog"};
    cr_assert(eq(int, load(&c, 1, a5, err), -EINVAL));
    cr_assert(strstr(err, "RAFTKV_ID") != NULL, "%s", err);
    fake_env = NULL;
    srv_config_fini(&c);
}

Test(config, help_and_version)
{
    struct srv_config c;
    char err[256];
    fake_env = NULL;
    srv_config_init(&c);
    const char *a1[] = {"prog", "--id", "3", "--help"};
    cr_assert(eq(int, load(&c, 4, a1, err), SRV_CONFIG_HELP));
    const char *a2[] = {"prog", "--version"};
    cr_assert(eq(int, load(&c, 2, a2, err), SRV_CONFIG_VERSION));
    srv_config_fini(&c);
}

Test(config, usage_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    srv_config_usage(f, "raftkv-server");
    fclose(f);
    const char *const *names = srv_config_names();
    for (size_t i = 0; names[i] != NULL; i++) {
        char opt[80];
        snprintf(opt, sizeof(opt), "--%s", names[i]);
        cr_assert(strstr(text, opt) != NULL, "%s missing", opt);
    }
    cr_assert(strstr(text, "RAFTKV_DATA_DIR") != NULL);
    cr_assert(strstr(text, "default: 127.0.0.1:6379") != NULL);
    free(text);
    (void)no_env;
}
