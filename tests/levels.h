/*
 * Which compute levels are libvae's own: all but the BLAS. Those compute
 * each element of a product by one fixed sequence of operations, so their
 * results depend neither on the thread count nor on the batch a row sits
 * in (test_kernels.c checks it); a BLAS makes no such promise. Shared by
 * common.h and test_kernels.c (which is also built without common.h, for
 * the aarch64 cross build: tools/ci/test-neon.sh).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_TEST_LEVELS_H
#define VAE_TEST_LEVELS_H

#include <string.h>

static inline int level_is_ours(const char *name)
{
    return strcmp(name, "blas") != 0;
}

#endif /* VAE_TEST_LEVELS_H */
