/**
 * @file
 * libvae version: the one source of truth. meson.build reads these three
 * numbers; the soname is libvae.so.VAE_VERSION_MAJOR.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_VERSION_H
#define VAE_VERSION_H

/** Changes with an incompatible ABI change, and with it the soname. */
#define VAE_VERSION_MAJOR 1
/** Changes when functions or enum values are added (docs/abi.md). */
#define VAE_VERSION_MINOR 0
/** Changes with fixes that leave the ABI as it is. */
#define VAE_VERSION_PATCH 0

/** MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 10000 for 1.0.0. */
#define VAE_VERSION_NUMBER \
    (VAE_VERSION_MAJOR * 10000 + VAE_VERSION_MINOR * 100 + VAE_VERSION_PATCH)

/** The tokens of x as a string literal (helper of VAE_STRINGIFY). */
#define VAE_STRINGIFY_(x) #x
/** x macro-expanded, then as a string literal. */
#define VAE_STRINGIFY(x) VAE_STRINGIFY_(x)
/** "MAJOR.MINOR.PATCH" of the header the caller compiled against. */
#define VAE_VERSION_STRING                                                  \
    VAE_STRINGIFY(VAE_VERSION_MAJOR) "." VAE_STRINGIFY(VAE_VERSION_MINOR) \
        "." VAE_STRINGIFY(VAE_VERSION_PATCH)

#endif /* VAE_VERSION_H */
