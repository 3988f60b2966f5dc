/*
 * Portable reference sgemm: the yardstick every fast kernel is tested
 * against, and the fallback on any CPU. Loops are ordered so the innermost
 * one walks contiguous memory of C and B where the layout allows.
 *
 * SPDX-License-Identifier: MIT
 */
#include "kernels.h"

static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (size_t j = 0; j < n; j++) ci[j] = 0.0f;
        else if (beta != 1.0f)
            for (size_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

static void sgemm_ref(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                      float beta, float *c, size_t ldc)
{
    scale_c(m, n, beta, c, ldc);
    if (alpha == 0.0f || k == 0) return;

    if (tb == VAE_NO_TRANS) {
        /* C[i,:] += alpha * op(A)[i,p] * B[p,:] */
        for (size_t i = 0; i < m; i++) {
            float *ci = c + i * ldc;
            for (size_t p = 0; p < k; p++) {
                const float aip = alpha * (ta == VAE_NO_TRANS ? a[i * lda + p] : a[p * lda + i]);
                const float *bp = b + p * ldb;
                for (size_t j = 0; j < n; j++) ci[j] += aip * bp[j];
            }
        }
    } else {
        /* C[i,j] += alpha * dot(op(A)[i,:], B[j,:]) */
        for (size_t i = 0; i < m; i++) {
            float *ci = c + i * ldc;
            for (size_t j = 0; j < n; j++) {
                const float *bj = b + j * ldb;
                float acc = 0.0f;
                if (ta == VAE_NO_TRANS) {
                    const float *ai = a + i * lda;
                    for (size_t p = 0; p < k; p++) acc += ai[p] * bj[p];
                } else {
                    for (size_t p = 0; p < k; p++) acc += a[p * lda + i] * bj[p];
                }
                ci[j] += alpha * acc;
            }
        }
    }
}

const vaei_kernels vaei_kernels_ref = {
    .name = "ref",
    .sgemm = sgemm_ref,
    .set_threads = NULL,
    .vec = &vaei_vec_ref,
};
