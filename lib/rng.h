/*
 * Seeded, reproducible randomness: xoshiro256** (Blackman & Vigna) seeded
 * through splitmix64, with Box-Muller normals computed in double.
 * The whole state is the four words, so a checkpoint stores it exactly.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_RNG_H
#define VAEI_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct vaei_rng {
    uint64_t s[4];
} vaei_rng;

/* splitmix64 step: a good 64-bit mix, also used to derive stream seeds. */
uint64_t vaei_mix64(uint64_t x);

void vaei_rng_seed(vaei_rng *r, uint64_t seed);
uint64_t vaei_rng_next(vaei_rng *r);
/* Uniform double in [0, 1), 53 random bits. */
double vaei_rng_uniform(vaei_rng *r);
/* Uniform integer in [0, n), without modulo bias; n >= 1. */
uint64_t vaei_rng_below(vaei_rng *r, uint64_t n);
/* n standard normals; always consumes ceil(n/2) pairs of uniforms. */
void vaei_rng_normal(vaei_rng *r, float *out, size_t n);
/* Fisher-Yates shuffle of the identity permutation of n indices. */
void vaei_rng_permutation(vaei_rng *r, size_t *perm, size_t n);

#endif /* VAEI_RNG_H */
