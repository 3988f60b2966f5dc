/*
 * The bfloat16 sgemm: gemm_template.h with GEMM_BF16 on the AVX-512 tile
 * (8 x 32), compiled with the AVX-512 flags and -mavx512bf16 and called
 * only when CPUID reports AVX512_BF16 (dispatch.c). Operands are rounded
 * to bfloat16 (8-bit significand, relative error <= 2^-9 each) as they are
 * packed; vdpbf16ps multiplies pairs and sums in float32. On Zen 4 and
 * Zen 5 it issues at the float32 FMA's rate with two products per lane,
 * so the tile's arithmetic takes half the time.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transpose_avx.h"
#include "vec_avx512.h"

#define GEMM_BF16 1
#define GEMM_MR 8
#define GEMM_NV 2
#define GEMM_KC 320 /* B panel 160 words x 32 + A panel: the float32 level's 25 KiB of L1 */
#define GEMM_SUFFIX(name) name##_avx512bf16_impl

#define GEMM_TRANSPOSE8 vaei_transpose8

#include "gemm_template.h"

void vaei_sgemm_avx512bf16(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                           float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                           float beta, float *c, size_t ldc)
{
    sgemm_avx512bf16_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
