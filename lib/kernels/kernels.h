/*
 * The compute kernels behind one table. Kernels see matrices and vectors
 * only: they know nothing of models, losses or files.
 *
 * All matrices are row-major. sgemm computes
 *     C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C
 * where op(X) is X or its transpose; beta == 0 ignores C's prior contents.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_KERNELS_H
#define VAEI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "elementwise.h"
#include "vae/vae.h"

typedef void (*vaei_sgemm_kernel)(vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                                  size_t k, float alpha, const float *a, size_t lda,
                                  const float *b, size_t ldb, float beta, float *c,
                                  size_t ldc);

typedef struct vaei_kernels {
    const char *name;
    vaei_sgemm_kernel sgemm;
    /* Called when the thread count changes (NULL: nothing to tell). */
    void (*set_threads)(int n);
    /* The element-wise kernels that go with it (the BLAS level borrows the
     * best SIMD table at run time). */
    const vaei_vecops *vec;
} vaei_kernels;

/* The levels; each file defines its table. The SIMD ones exist when the
 * build made them (meson option simd) and are used only when
 * vaei_cpu_features() has their bit. */
extern const vaei_kernels vaei_kernels_ref;
#ifdef VAE_HAVE_BLAS
extern const vaei_kernels vaei_kernels_blas;
#endif
#ifdef VAE_HAVE_AVX2
extern const vaei_kernels vaei_kernels_avx2;
#endif
#ifdef VAE_HAVE_AVX512
extern const vaei_kernels vaei_kernels_avx512;
#endif
#ifdef VAE_HAVE_NEON
extern const vaei_kernels vaei_kernels_neon;
#endif

/* CPU and OS support, checked once per call (cpu.c). */
enum {
    VAEI_CPU_AVX2 = 1u << 0,
    VAEI_CPU_AVX512 = 1u << 1,
    VAEI_CPU_NEON = 1u << 2,
    VAEI_CPU_AVX512_BF16 = 1u << 3, /* with VAEI_CPU_AVX512 only */
    VAEI_CPU_AMX_BF16 = 1u << 4     /* AMX-TILE, AMX-BF16 and their XCR0 state; with AVX512_BF16 only */
};
unsigned vaei_cpu_features(void);
/* VAEI_CPU_AMX_BF16 and, on Linux, the process's permission to use the
 * tile data (asked once; see cpu.c). */
int vaei_amx_permitted(void);

/* Threads the SIMD kernels may use (vae_set_threads). */
int vaei_threads(void);

/* GEMM through the active backend (or the host's callback). Fails only when
 * a host callback reports failure. */
vae_status vaei_gemm(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc);

/* Whether products may run inside the parts of a vaei_parallel job, one
 * on each thread at a time: at libvae's own levels, not with the BLAS (it
 * runs threads of its own) nor with the host's sgemm (it need not be
 * re-entrant). */
int vaei_gemm_in_parts(void);

/* The bfloat16 product: operands rounded to bfloat16 (nearest even) as
 * they are packed, products summed in float32, by vdpbf16ps
 * (sgemm_avx512bf16.c, path "avx512bf16") or by AMX tiles, tdpbf16ps
 * (sgemm_amx.c, path "amx"); the skinny products (k, m or n <= 8) stay
 * float32. The path is amx where the CPU and the OS allow it, else
 * avx512bf16; VAE_BF16=amx|avx512bf16|auto in the environment or
 * vaei_bf16_select() choose. vaei_bf16_sgemm() returns NULL when the
 * build or the CPU lacks AVX512_BF16. */
#ifdef VAE_HAVE_AVX512BF16
void vaei_sgemm_avx512bf16(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                           float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                           float beta, float *c, size_t ldc);
#endif
#ifdef VAE_HAVE_AMX
void vaei_sgemm_amx(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k, float alpha,
                    const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                    size_t ldc);
#endif
vaei_sgemm_kernel vaei_bf16_sgemm(void);
int vaei_bf16_sgemm_built(void); /* whether the build has it at all */
/* The path in use ("amx", "avx512bf16"; NULL: none), and a choice of it by
 * name ("auto": the best here) for the products that start after it;
 * VAE_ERR_UNAVAILABLE for a path this build or CPU cannot run, the choice
 * then unchanged. For tests and benchmarks: the two paths differ in bits. */
const char *vaei_bf16_path(void);
vae_status vaei_bf16_select(const char *name);

/* A product at a precision (VAE_PRECISION_*): float32 is vaei_gemm;
 * bfloat16 runs the bfloat16 path (vaei_bf16_sgemm) unless the host
 * plugged in its own sgemm, which then does every product as it would in
 * float32. */
vae_status vaei_gemm_prec(int precision, vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                          size_t k, float alpha, const float *a, size_t lda, const float *b,
                          size_t ldb, float beta, float *c, size_t ldc);

/* The table in use, after the one-time initialisation. */
const vaei_kernels *vaei_kernels_active(void);

#endif /* VAEI_KERNELS_H */
