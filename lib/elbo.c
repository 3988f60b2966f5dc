/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "elbo.h"
#include "kernels/elementwise.h"

double vaei_recon_bernoulli(size_t n, size_t d, const float *x, size_t ldx, const float *l,
                            float *dl, float scale)
{
    /* softplus(l) - x l and its gradient, vectorised (lib/kernels). */
    return vaei_bce_logits(n, d, x, ldx, l, dl, scale);
}

double vaei_recon_gaussian(size_t n, size_t d, const float *x, size_t ldx, const float *mu,
                           const float *lv, size_t lv_step, float *dmu, float *dlv,
                           float scale)
{
    const double log_2pi = 1.8378770664093454836;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx, *mi = mu + i * d;
        for (size_t j = 0; j < d; j++) {
            const float v = lv[j * lv_step], r = mi[j] - xi[j], prec = expf(-v);
            sum += 0.5 * (log_2pi + (double)v + (double)(r * r * prec));
            if (dmu) dmu[i * d + j] = scale * r * prec;
            if (dlv) dlv[j] += scale * 0.5f * (1.0f - r * r * prec);
        }
    }
    return sum;
}

double vaei_kl(size_t n, size_t L, const float *S, double *kl_dim)
{
    double total = 0.0;
    for (size_t k = 0; k < L; k++) kl_dim[k] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *mu = S + i * 2 * L, *lv = mu + L;
        for (size_t k = 0; k < L; k++) {
            const double t = 0.5 * ((double)mu[k] * mu[k] + exp(lv[k]) - lv[k] - 1.0);
            kl_dim[k] += t;
            total += t;
        }
    }
    return total;
}

double vaei_kl_penalty(size_t n, size_t L, const double *kl_dim, double free_bits)
{
    double penalty = 0.0;
    for (size_t k = 0; k < L; k++) penalty += fmax(kl_dim[k] / (double)n, free_bits);
    return penalty;
}

void vaei_kl_grad(size_t n, size_t L, const float *S, const double *kl_dim, double w,
                  double free_bits, float *dS, float scale)
{
    for (size_t i = 0; i < n; i++) {
        const float *mu = S + i * 2 * L, *lv = mu + L;
        float *dmu = dS + i * 2 * L, *dlv = dmu + L;
        for (size_t k = 0; k < L; k++) {
            const float g = kl_dim[k] / (double)n > free_bits ? (float)w * scale : 0.0f;
            dmu[k] = g * mu[k];
            dlv[k] = g * 0.5f * (expf(lv[k]) - 1.0f);
        }
    }
}
