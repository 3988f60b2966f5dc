/*
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "vae/vae.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: property failed: %s (last error: %s)\n", file, line, what,
            vae_last_error());
    abort();
}
