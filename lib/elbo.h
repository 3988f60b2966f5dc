/*
 * The objective, negative ELBO = reconstruction + KL, term by term, with the
 * gradients of each term. Sums are returned in double; gradients are
 * written in float, multiplied by `scale` (1/batch for a batch mean).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_ELBO_H
#define VAEI_ELBO_H

#include <stddef.h>

/* Bernoulli: sum of softplus(l) - x*l over [n x d], the stable form of the
 * binary cross-entropy of sigmoid(l). dl = scale * (sigmoid(l) - x) when dl
 * is not NULL (dl may alias nothing else). */
double vaei_recon_bernoulli(size_t n, size_t d, const float *x, size_t ldx, const float *l,
                            float *dl, float scale);

/* Gaussian: sum of 0.5 * (log(2 pi) + v + (x - mu)^2 exp(-v)) where v is
 * lv[j * lv_step] (lv_step 0: one shared log-variance). When dmu is set:
 * dmu = scale * (mu - x) exp(-v); when dlv is set (learned variance):
 * dlv[j] += scale * 0.5 * (1 - (x - mu)^2 exp(-v)). */
double vaei_recon_gaussian(size_t n, size_t d, const float *x, size_t ldx, const float *mu,
                           const float *lv, size_t lv_step, float *dmu, float *dlv,
                           float scale);

/* KL(N(mu, exp(lv)) || N(0, 1)) = 0.5 * (mu^2 + exp(lv) - lv - 1) per dimension,
 * over S = [mu | lv] rows [n x 2L]; per-dimension sums into kl_dim[L];
 * returns the total. */
double vaei_kl(size_t n, size_t L, const float *S, double *kl_dim);

/* The KL penalty per image with free bits (Kingma et al. 2016):
 * sum_i max(free_bits, kl_dim[i] / n). */
double vaei_kl_penalty(size_t n, size_t L, const double *kl_dim, double free_bits);

/* Gradient of scale * w * n * penalty with respect to S, into dS [n x 2L]:
 * dmu = mu, dlv = 0.5 (exp(lv) - 1) for dimensions above the floor, 0 for
 * those below it (there the term is the constant free_bits). */
void vaei_kl_grad(size_t n, size_t L, const float *S, const double *kl_dim, double w,
                  double free_bits, float *dS, float scale);

#endif /* VAEI_ELBO_H */
