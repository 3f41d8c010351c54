/* What every libFuzzer target of tests/fuzz shares: the entry point and a
 * check that holds in every build type. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point (the name is libFuzzer's): runs one input of
 * @size bytes at @data, borrowed during the call. Returns 0; an input that
 * breaks an invariant aborts, and the sanitizers report memory errors.
 * Linked either with libFuzzer (-Dfuzzing=true) or with replay.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition unless @cond holds. Unlike assert() it
 * stays live under NDEBUG: the invariants are the point of a target. */
#define FUZZ_CHECK(cond)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

#endif /* TESTS_FUZZ_FUZZ_H */
