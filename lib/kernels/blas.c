/*
 * The CBLAS backend: OpenBLAS, BLIS or the system's generic libblas.
 * The one call used is declared here with the standard CBLAS ABI (32-bit
 * integers, the enum values of the reference cblas.h), so that no vendor
 * header is needed and Debian's BLAS alternatives all link.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>

#include "kernels.h"

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);

#if defined(VAE_BLAS_OPENBLAS)
void openblas_set_num_threads(int n);
static void blas_set_threads(int n)
{
    openblas_set_num_threads(n);
}
#elif defined(VAE_BLAS_BLIS)
void bli_thread_set_num_threads(long n);
static void blas_set_threads(int n)
{
    bli_thread_set_num_threads(n);
}
#else
#define blas_set_threads NULL /* a generic CBLAS has no portable thread control */
#endif

static void sgemm_blas(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                       float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                       float beta, float *c, size_t ldc)
{
    /* Model sizes are capped far below INT_MAX (see config.c). */
    if (m == 0 || n == 0) return;
    if (k == 0) {
        vaei_kernels_ref.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CBLAS_ROW_MAJOR, ta == VAE_TRANS ? CBLAS_TRANS : CBLAS_NO_TRANS,
                tb == VAE_TRANS ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k, alpha,
                a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

const vaei_kernels vaei_kernels_blas = {
    .name = "blas",
    .sgemm = sgemm_blas,
    .set_threads = blas_set_threads,
    .vec = &vaei_vec_ref, /* replaced by the best SIMD table (dispatch.c) */
};
