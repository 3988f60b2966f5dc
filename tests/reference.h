/*
 * An independent forward pass in double precision, written from the
 * formulas rather than from lib/model.c: the reference that the gradient
 * and IWAE tests compare the library against. Reads only the model's layer
 * shapes and settings; the parameters come as doubles from the caller, so
 * finite differences can perturb them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_TEST_REFERENCE_H
#define VAE_TEST_REFERENCE_H

#include <math.h>
#include <stddef.h>

#include "model.h"

enum { REF_MAX_WIDTH = 256 };

static double ref_act(int a, double v, double slope)
{
    switch (a) {
    case VAE_ACTIVATION_RELU: return v > 0 ? v : 0;
    case VAE_ACTIVATION_TANH: return tanh(v);
    case VAE_ACTIVATION_LEAKY_RELU: return v > 0 ? v : slope * v;
    case VAE_ACTIVATION_ELU: return v > 0 ? v : exp(v) - 1;
    default: return log1p(exp(v));
    }
}

/* One side's layers on in[0..ly[0].in): hidden layers with the activation,
 * the last one linear; the output is left in out (REF_MAX_WIDTH doubles). */
static void ref_side(const vae_model *m, const double *p, const vaei_layer *ly, size_t nl,
                     const double *in, double *out)
{
    const int a = (int)m->cfg.v[S_ACTIVATION];
    const double slope = m->cfg.v[S_LEAKY_SLOPE];
    double buf[2][REF_MAX_WIDTH];
    const double *x = in;
    for (size_t l = 0; l < nl; l++) {
        double *y = l + 1 == nl ? out : buf[l % 2];
        /* y = act(x W + b), W [in x out] */
        for (size_t j = 0; j < ly[l].out; j++) {
            double s = p[ly[l].b + j];
            for (size_t i = 0; i < ly[l].in; i++) s += x[i] * p[ly[l].w + i * ly[l].out + j];
            y[j] = l + 1 == nl ? s : ref_act(a, s, slope);
        }
        x = y;
    }
}

/* Encoder: [x | cond] -> mu [L], lv [L] (lv clamped as the model does). */
static void ref_encode(const vae_model *m, const double *p, const float *x, const float *cond,
                       double *mu, double *lv)
{
    double in[REF_MAX_WIDTH], S[REF_MAX_WIDTH];
    for (size_t j = 0; j < m->D; j++) in[j] = x[j];
    for (size_t k = 0; k < m->C; k++) in[m->D + k] = cond[k];
    ref_side(m, p, m->enc, m->n_enc, in, S);
    for (size_t k = 0; k < m->L; k++) {
        mu[k] = S[k];
        lv[k] = fmin(fmax(S[m->L + k], m->cfg.v[S_LOGVAR_MIN]), m->cfg.v[S_LOGVAR_MAX]);
    }
}

/* Decoder: [z | cond] -> out [D] (logits or Gaussian means). */
static void ref_decode(const vae_model *m, const double *p, const double *z, const float *cond,
                       double *out)
{
    double in[REF_MAX_WIDTH];
    for (size_t k = 0; k < m->L; k++) in[k] = z[k];
    for (size_t k = 0; k < m->C; k++) in[m->L + k] = cond[k];
    ref_side(m, p, m->dec, m->n_dec, in, out);
}

/* log p(x | decoder output): the naive formulas, no stable rewriting. */
static double ref_log_px(const vae_model *m, const double *p, const float *x, const double *out)
{
    const int lik = (int)m->cfg.v[S_LIKELIHOOD];
    double lp = 0;
    for (size_t j = 0; j < m->D; j++) {
        if (lik == VAE_LIKELIHOOD_BERNOULLI) {
            /* x log s + (1-x) log(1-s), s = sigmoid(o) */
            const double s = 1 / (1 + exp(-out[j]));
            lp += x[j] * log(s) + (1 - x[j]) * log1p(-s);
        } else {
            const double v = lik == VAE_LIKELIHOOD_GAUSSIAN_LEARNED ? p[m->px_logvar + j]
                                                                    : m->cfg.v[S_GAUSSIAN_LOGVAR];
            lp -= 0.5 * (log(2 * 3.14159265358979323846) + v + (x[j] - out[j]) * (x[j] - out[j]) / exp(v));
        }
    }
    return lp;
}

#endif /* VAE_TEST_REFERENCE_H */
