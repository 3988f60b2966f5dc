/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "rng.h"

__extension__ typedef unsigned __int128 u128;

uint64_t vaei_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void vaei_rng_seed(vaei_rng *r, uint64_t seed)
{
    /* Four successive splitmix64 outputs: never the all-zero state. */
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ull;
        r->s[i] = vaei_mix64(seed);
    }
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t vaei_rng_next(vaei_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t out = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double vaei_rng_uniform(vaei_rng *r)
{
    return (double)(vaei_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t vaei_rng_below(vaei_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift with rejection of the biased low range. */
    u128 m = (u128)vaei_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        const uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (u128)vaei_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void vaei_rng_normal(vaei_rng *r, float *out, size_t n)
{
    /* Box-Muller: r = sqrt(-2 ln u1), theta = 2 pi u2 gives two independent
     * N(0,1) draws r cos(theta), r sin(theta). u1 in (0,1] avoids log(0). */
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        const double u1 = 1.0 - vaei_rng_uniform(r);
        const double u2 = vaei_rng_uniform(r);
        const double rad = sqrt(-2.0 * log(u1));
        out[i] = (float)(rad * cos(two_pi * u2));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(two_pi * u2));
    }
}

void vaei_rng_permutation(vaei_rng *r, size_t *perm, size_t n)
{
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        const size_t j = (size_t)vaei_rng_below(r, i);
        const size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
