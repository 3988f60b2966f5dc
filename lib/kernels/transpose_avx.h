/*
 * The 8 x 8 float transpose that the x86 packers share (AVX; include only
 * from files compiled with at least -mavx).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_TRANSPOSE_AVX_H
#define VAEI_TRANSPOSE_AVX_H

#include <immintrin.h>
#include <stddef.h>

/* 8 x 8 transpose of rows src[r ld + 0..7] into dst[c dld + 0..7]. */
static inline void vaei_transpose8(const float *src, size_t ld, float *dst, size_t dld)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * dld, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * dld, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

#endif /* VAEI_TRANSPOSE_AVX_H */
