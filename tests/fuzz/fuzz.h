/*
 * The one entry point every fuzz target defines (libFuzzer's). The same
 * sources build two ways: linked with -fsanitize=fuzzer (tools/ci/fuzz.sh),
 * or with standalone.c, which replays a corpus as a meson test.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_FUZZ_H
#define VAE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the target checks failed: abort, so that libFuzzer keeps the
 * input and the replay test fails. */
#define FUZZ_ASSERT(cond)                                                           \
    do {                                                                            \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                          \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif /* VAE_FUZZ_H */
