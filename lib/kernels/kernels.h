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
} vaei_kernels;

/* The levels; each file defines its table. */
extern const vaei_kernels vaei_kernels_ref;
#ifdef VAE_HAVE_BLAS
extern const vaei_kernels vaei_kernels_blas;
#endif

/* GEMM through the active backend (or the host's callback). Fails only when
 * a host callback reports failure. */
vae_status vaei_gemm(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc);

/* The table in use, after the one-time initialisation. */
const vaei_kernels *vaei_kernels_active(void);

#endif /* VAEI_KERNELS_H */
