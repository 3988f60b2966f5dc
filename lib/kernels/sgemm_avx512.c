/*
 * sgemm for AVX-512 F/DQ/BW/VL (compiled with those flags; chosen at run
 * time only when CPUID and XCR0 say the CPU and the OS support them).
 * Register tile 8 x 32: 16 accumulators, 2 loads of B and 8 broadcasts
 * of A per k; masked loads and stores at the edges.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transpose_avx.h"
#include "vec_avx512.h"

#define GEMM_MR 8
#define GEMM_NV 2
#define GEMM_KC 256
#define GEMM_SUFFIX(name) name##_avx512

/* 8 rows of A, kc columns -> dst[p 8 + r]. */
static void pack_a_rows_avx512(const float *src, size_t lda, size_t kc, float *dst)
{
    size_t p = 0;
    for (; p + 8 <= kc; p += 8) transpose8(src + p, lda, dst + 8 * p, 8);
    for (; p < kc; p++)
        for (size_t r = 0; r < 8; r++) dst[8 * p + r] = src[r * lda + p];
}
#define GEMM_PACK_A_ROWS pack_a_rows_avx512

/* 32 rows of B (columns of op(B)), kc columns -> dst[p 32 + c]. */
static void pack_b_cols_avx512(const float *src, size_t ldb, size_t kc, float *dst)
{
    size_t p = 0;
    for (; p + 8 <= kc; p += 8)
        for (size_t c = 0; c < 32; c += 8) transpose8(src + c * ldb + p, ldb, dst + p * 32 + c, 32);
    for (; p < kc; p++)
        for (size_t c = 0; c < 32; c++) dst[p * 32 + c] = src[c * ldb + p];
}
#define GEMM_PACK_B_COLS pack_b_cols_avx512

#include "gemm_template.h"

const vaei_kernels vaei_kernels_avx512 = {
    .name = "avx512",
    .sgemm = sgemm_avx512,
    .set_threads = NULL,
};
