/* Replays fuzz inputs without libFuzzer: the driver that builds without
 * -Dfuzzing (gcc, ASan) link with one fuzz target each, so the seed corpus
 * and every kept crash input run in every build.
 *
 * Usage: replay_<name> DIR...
 * Feeds each regular file of each DIR (a missing DIR is skipped; names
 * starting with '.' are ignored) to LLVMFuzzerTestOneInput in a child
 * process of its own, so that a crash fails that input only, and prints
 * one TAP line per file, then the plan. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Reads @path into a new buffer of exactly its size (so that ASan sees a
 * read past the end). Returns 0 or a negative errno. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *p;
    int rv = 0;

    if (f == NULL) {
        return -errno;
    }
    if (fstat(fileno(f), &st) != 0) {
        rv = -errno;
        goto err_after_open;
    }
    p = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (p == NULL) {
        rv = -ENOMEM;
        goto err_after_open;
    }
    if (st.st_size > 0 &&
        fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(p);
        rv = -EIO;
        goto err_after_open;
    }
    *data = p;
    *size = (size_t)st.st_size;
err_after_open:
    fclose(f);
    return rv;
}

/* Runs one input in a child. Returns true if it passed; @why describes a
 * failure. */
static bool run_one(const char *path, char *why, size_t whylen)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int status;
    int rv = read_file(path, &data, &size);
    pid_t pid;

    if (rv != 0) {
        snprintf(why, whylen, "cannot read: %s", strerror(-rv));
        return false;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        free(data);
        return false;
    }
    if (pid == 0) {
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        exit(0); /* through atexit, so that LeakSanitizer runs */
    }
    free(data);
    if (waitpid(pid, &status, 0) != pid) {
        snprintf(why, whylen, "waitpid: %s", strerror(errno));
        return false;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "killed by signal %d", WTERMSIG(status));
        return false;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "exit status %d", WEXITSTATUS(status));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int n = 0;
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        struct dirent **names;
        int count = scandir(argv[i], &names, visible, alphasort);
        if (count < 0) {
            printf("# %s: %s (skipped)\n", argv[i], strerror(errno));
            continue;
        }
        for (int j = 0; j < count; j++) {
            char path[4096];
            char why[128];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name);
            free(names[j]);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            /* Name inputs from tests/fuzz/ on, as the tree shows them. */
            const char *label = strstr(path, "tests/fuzz/");
            label = label != NULL ? label : path;
            n++;
            if (run_one(path, why, sizeof(why))) {
                printf("ok %d - %s\n", n, label);
            } else {
                printf("not ok %d - %s: %s\n", n, label, why);
                failed++;
            }
        }
        free(names);
    }
    printf("1..%d\n", n);
    return failed > 0 ? 1 : 0;
}
