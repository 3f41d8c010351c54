/* raftkv-server's entry point: command line and configuration only. */
#include <stdio.h>
#include <stdlib.h>

#include "server/srv.h"

static const char *env_get(const char *name)
{
    return getenv(name);
}

int main(int argc, char **argv)
{
    struct srv_config cfg;
    char err[512];

    if (srv_config_init(&cfg) != 0) {
        fprintf(stderr, "raftkv-server: out of memory\n");
        return 1;
    }
    int rv = srv_config_load(&cfg, argc, argv, env_get, err, sizeof(err));
    if (rv == SRV_CONFIG_HELP) {
        srv_config_usage(stdout, "raftkv-server");
        srv_config_fini(&cfg);
        return 0;
    }
    if (rv == SRV_CONFIG_VERSION) {
        printf("raftkv-server %s (redis_version %s)\n", SRV_VERSION,
               SRV_REDIS_VERSION);
        srv_config_fini(&cfg);
        return 0;
    }
    if (rv != 0) {
        fprintf(stderr, "raftkv-server: %s\n", err);
        srv_config_fini(&cfg);
        return 1;
    }
    return srv_run(&cfg);
}
