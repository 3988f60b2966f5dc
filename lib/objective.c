/*
 * The objective and its gradient: the reparameterisation, the likelihoods,
 * KL with its schedule and free bits. The layers are model.c's.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "error.h"
#include "kernels/elementwise.h"
#include "objective.h"

/* ------------------------------------------------------------------------ */
/* Reparameterisation                                                       */
/* ------------------------------------------------------------------------ */

void vaei_reparameterize(const vae_model *m, const float *S, const float *eps, float *z,
                         size_t n)
{
    const size_t L = m->L, ldz = m->L + m->C;
    for (size_t i = 0; i < n; i++) {
        const float *mu = S + i * 2 * L, *lv = mu + L, *e = eps + i * L;
        float *zi = z + i * ldz;
        for (size_t k = 0; k < L; k++) zi[k] = mu[k] + expf(0.5f * lv[k]) * e[k];
    }
}

/* dS += dz through z = mu + exp(lv/2) eps: dmu += dz, dlv += dz eps exp(lv/2) / 2,
 * except where the clamp held lv at a bound: there lv does not depend on the
 * encoder's output, and no gradient flows. */
static void reparameterize_backward(const vae_model *m, const float *S, const float *dz,
                                    float *dS, size_t n)
{
    const size_t L = m->L;
    float lo, hi;
    vaei_logvar_bounds(&m->cfg, &lo, &hi);
    for (size_t i = 0; i < n; i++) {
        const float *dzi = dz + i * L, *eps = m->ws.eps + i * L, *lv = S + i * 2 * L + L;
        float *dmu = dS + i * 2 * L, *dlv = dmu + L;
        for (size_t k = 0; k < L; k++) {
            dmu[k] += dzi[k];
            if (lv[k] > lo && lv[k] < hi) dlv[k] += dzi[k] * eps[k] * 0.5f * expf(0.5f * lv[k]);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Reconstruction                                                           */
/* ------------------------------------------------------------------------ */

/* Gaussian: sum of 0.5 * (log(2 pi) + v + (x - mu)^2 exp(-v)) where v is
 * lv[j * lv_step] (lv_step 0: one shared log-variance). When dmu is set:
 * dmu = scale * (mu - x) exp(-v); when dlv is set (learned variance):
 * dlv[j] += scale * 0.5 * (1 - (x - mu)^2 exp(-v)). exp(-v) is taken once
 * per column into prec[d], not once per value. */
static double recon_gaussian(size_t n, size_t d, const float *x, size_t ldx, const float *mu,
                             const float *lv, size_t lv_step, float *dmu, float *dlv,
                             float scale, float *prec_of)
{
    const double log_2pi = 1.8378770664093454836;
    for (size_t j = 0; j < (lv_step ? d : 1); j++) prec_of[j] = expf(-lv[j * lv_step]);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx, *mi = mu + i * d;
        for (size_t j = 0; j < d; j++) {
            const float v = lv[j * lv_step], r = mi[j] - xi[j], prec = prec_of[j * lv_step];
            sum += 0.5 * (log_2pi + (double)v + (double)(r * r * prec));
            if (dmu) dmu[i * d + j] = scale * r * prec;
            if (dlv) dlv[j] += scale * 0.5f * (1.0f - r * r * prec);
        }
    }
    return sum;
}

double vaei_recon(vae_model *m, size_t n, const float *x, size_t ldx, const float *out,
                  float *dout, float scale)
{
    const int lik = (int)VAEI_CFG(m, S_LIKELIHOOD);
    /* Bernoulli: softplus(l) - x l, the stable binary cross-entropy of
     * sigmoid(l); dl = scale (sigmoid(l) - x), vectorised in lib/kernels. */
    if (lik == VAE_LIKELIHOOD_BERNOULLI) return vaei_bce_logits(n, m->D, x, ldx, out, dout, scale);
    const int learned = lik == VAE_LIKELIHOOD_GAUSSIAN_LEARNED;
    const float fixed = (float)VAEI_CFG(m, S_GAUSSIAN_LOGVAR);
    float *dlv = NULL;
    if (dout && learned) {
        dlv = m->grads + m->px_logvar;
        memset(dlv, 0, m->D * sizeof *dlv);
    }
    return recon_gaussian(n, m->D, x, ldx, out, learned ? m->params + m->px_logvar : &fixed,
                          learned, dout, dlv, scale, m->ws.prec);
}

/* ------------------------------------------------------------------------ */
/* KL, its schedule and free bits                                           */
/* ------------------------------------------------------------------------ */

/* KL(N(mu, exp(lv)) || N(0, 1)) = 0.5 * (mu^2 + exp(lv) - lv - 1) per dimension,
 * over S = [mu | lv] rows [n x 2L]; per-dimension sums into kl_dim[L];
 * returns the total. */
static double kl_sum(size_t n, size_t L, const float *S, double *kl_dim)
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

/* The KL penalty per image with free bits (Kingma et al. 2016):
 * sum_i max(free_bits, kl_dim[i] / n). */
static double kl_penalty(size_t n, size_t L, const double *kl_dim, double free_bits)
{
    double penalty = 0.0;
    for (size_t k = 0; k < L; k++) penalty += fmax(kl_dim[k] / (double)n, free_bits);
    return penalty;
}

/* Gradient of scale * w * n * penalty with respect to S, into dS [n x 2L]:
 * dmu = mu, dlv = 0.5 (exp(lv) - 1) for dimensions above the floor, 0 for
 * those below it (there the term is the constant free_bits). */
static void kl_grad(size_t n, size_t L, const float *S, const double *kl_dim, double w,
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

/* The KL weight in force at the model's current step. */
static double kl_weight(const vae_model *m)
{
    const double beta = VAEI_CFG(m, S_BETA);
    const double warm = VAEI_CFG(m, S_KL_WARMUP_STEPS), cycle = VAEI_CFG(m, S_KL_CYCLE_STEPS);
    const double step = (double)m->steps;
    switch ((int)VAEI_CFG(m, S_KL_SCHEDULE)) {
    case VAE_KL_LINEAR:
        return warm > 0 ? beta * fmin(1.0, step / warm) : beta;
    case VAE_KL_CYCLICAL: {
        if (cycle <= 0) return beta;
        /* Fu et al. 2019: ramp over the first `warm` steps of every cycle
         * (half the cycle when warm is 0), then hold beta. */
        const double ramp = warm > 0 ? fmin(warm, cycle) : 0.5 * cycle;
        return beta * fmin(1.0, fmod(step, cycle) / ramp);
    }
    default:
        return beta;
    }
}

/* ------------------------------------------------------------------------ */
/* The objective                                                            */
/* ------------------------------------------------------------------------ */

vae_status vaei_objective(vae_model *m, const float *x, size_t ldx, size_t n, int grads,
                          vae_loss *loss)
{
    vaei_workspace *ws = &m->ws;
    const size_t L = m->L;
    const float scale = 1.0f / (float)n;
    const float *S = ws->enc[m->n_enc - 1];
    float *g = ws->g0, *spare = ws->g1; /* gradient ping-pong */

    const double recon = vaei_recon(m, n, x, ldx, ws->dec[m->n_dec - 1], grads ? g : NULL, scale);
    const double kl = kl_sum(n, L, S, ws->kl_dim);
    const double w = kl_weight(m), free_bits = VAEI_CFG(m, S_FREE_BITS);
    if (loss) {
        loss->recon = recon / (double)n;
        loss->kl = kl / (double)n;
        loss->total = loss->recon + loss->kl;
        loss->objective = loss->recon + w * kl_penalty(n, L, ws->kl_dim, free_bits);
        loss->kl_weight = w;
    }
    if (!grads) return VAE_OK;

    /* Decoder: from d/d output down to dz [n x L], left in g; then the
     * encoder head: dS = KL gradient + dz through the reparameterisation. */
    VAEI_TRY(vaei_decoder_backward(m, n, &g, &spare));
    float *dS = spare;
    kl_grad(n, L, S, ws->kl_dim, w, free_bits, dS, scale);
    reparameterize_backward(m, S, g, dS, n);
    return vaei_encoder_backward(m, x, ldx, n, dS, g);
}
