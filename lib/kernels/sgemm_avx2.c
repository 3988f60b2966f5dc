/*
 * sgemm for AVX2 + FMA (compiled with -mavx2 -mfma; chosen at run time only
 * when CPUID and XCR0 say the CPU and the OS support it). Register tile
 * 4 x 24: 12 accumulators, 3 loads of B and 4 broadcasts of A per k.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transpose_avx.h"
#include "vec_avx2.h"

#define GEMM_MR 4
#define GEMM_NV 3
#define GEMM_KC 256
#define GEMM_SUFFIX(name) name##_avx2

/* 4 rows of A, kc columns -> dst[p 4 + r]: 4 x 4 transposes. */
static void pack_a_rows_avx2(const float *src, size_t lda, size_t kc, float *dst)
{
    size_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        __m128 r0 = _mm_loadu_ps(src + p), r1 = _mm_loadu_ps(src + lda + p);
        __m128 r2 = _mm_loadu_ps(src + 2 * lda + p), r3 = _mm_loadu_ps(src + 3 * lda + p);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + 4 * p, r0);
        _mm_storeu_ps(dst + 4 * p + 4, r1);
        _mm_storeu_ps(dst + 4 * p + 8, r2);
        _mm_storeu_ps(dst + 4 * p + 12, r3);
    }
    for (; p < kc; p++)
        for (size_t r = 0; r < 4; r++) dst[4 * p + r] = src[r * lda + p];
}
#define GEMM_PACK_A_ROWS pack_a_rows_avx2

#define GEMM_TRANSPOSE8 vaei_transpose8

#include "gemm_template.h"

const vaei_kernels vaei_kernels_avx2 = {
    .name = "avx2",
    .sgemm = sgemm_avx2,
    .set_threads = NULL,
    .vec = &vaei_vec_avx2,
};
