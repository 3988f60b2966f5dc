/*
 * The bfloat16 sgemm on AMX tiles: gemm_template.h with GEMM_BF16 and
 * GEMM_AMX, compiled with the AVX-512 flags, -mavx512bf16 and -mamx-tile
 * -mamx-bf16, and called only where CPUID, XCR0 and the kernel's
 * permission allow it (cpu.c, dispatch.c). The packers are the vdpbf16ps
 * level's (operands rounded to bfloat16, nearest even, in pairs of k);
 * tdpbf16ps multiplies 16 x 32 by 32 x 16 bfloat16 into 16 x 16 float32
 * accumulators, so one instruction does the work of 16 vdpbf16ps.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transpose_avx.h"
#include "vec_avx512.h"

#define GEMM_BF16 1
#define GEMM_AMX 1
#define GEMM_MR 32
#define GEMM_NV 2
#define GEMM_KC 320 /* B panel 160 words x 32 (20 KiB of the 48 KiB L1) */
#define GEMM_SUFFIX(name) name##_amx_impl

#define GEMM_TRANSPOSE8 vaei_transpose8

#include "gemm_template.h"

void vaei_sgemm_amx(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k, float alpha,
                    const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                    size_t ldc)
{
    sgemm_amx_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
