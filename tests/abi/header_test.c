/*
 * One public header on its own, included twice: it must be self-contained,
 * guarded, and clean under -Wall -Wextra -Wpedantic -Werror in the language
 * standard this target is built with. header_test.cpp includes this file, so
 * from C++ the call below links only if the header gives its functions C
 * linkage (extern "C").
 *
 * SPDX-License-Identifier: MIT
 */
#include VAE_HEADER
#include VAE_HEADER

int main(void)
{
#ifdef VAE_VAE_H
    return vae_version_number() == VAE_VERSION_NUMBER ? 0 : 1;
#else
    return 0;
#endif
}
