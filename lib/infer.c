/*
 * Using a trained model: encode, decode, sample from the prior, reconstruct.
 * Inputs of any length are processed in chunks that fit the workspace.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "error.h"
#include "model.h"

enum { CHUNK = 256 };

static size_t chunk_rows(const vae_model *m, size_t n)
{
    const size_t c = m->ws.cap > CHUNK ? m->ws.cap : CHUNK;
    return n < c ? n : c;
}

static vae_status check_call(const vae_model *m, const float *cond, size_t n)
{
    VAEI_CHECK(n >= 1, VAE_ERR_INVALID_ARGUMENT, "zero rows");
    VAEI_CHECK(m->C == 0 || cond != NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model takes a conditioning vector of %zu floats, but cond is NULL", m->C);
    VAEI_CHECK(m->C > 0 || cond == NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model has no conditioning input, but cond was given");
    return VAE_OK;
}

/* dst <- rows [a | c] of n rows, a of width wa; c (width m->C) is row
 * `first` onwards of the caller's cond. */
static void concat(const vae_model *m, float *dst, const float *a, size_t wa, const float *cond,
                   size_t first, size_t n)
{
    const size_t w = wa + m->C;
    for (size_t i = 0; i < n; i++) {
        memcpy(dst + i * w, a + i * wa, wa * sizeof(float));
        if (m->C) memcpy(dst + i * w + wa, cond + (first + i) * m->C, m->C * sizeof(float));
    }
}

/* Decoder output to the likelihood's mean: sigmoid(l) = 1 / (1 + exp(-l))
 * for Bernoulli, the Gaussian mean as it is. */
static void emit(const vae_model *m, size_t n, float *out)
{
    const float *o = m->ws.dec[m->n_dec - 1];
    const int bernoulli = (int)VAEI_CFG(m, S_LIKELIHOOD) == VAE_LIKELIHOOD_BERNOULLI;
    for (size_t i = 0; i < n * m->D; i++) out[i] = bernoulli ? 1.0f / (1.0f + expf(-o[i])) : o[i];
}

/* Encoder on rows [first, first + k) of x: ws.x0 <- [x | c], then S. */
static vae_status encode_chunk(vae_model *m, const float *x, const float *cond, size_t first,
                               size_t k)
{
    concat(m, m->ws.x0, x + first * m->D, m->D, cond, first, k);
    return vaei_encoder_forward(m, m->ws.x0, m->D + m->C, k);
}

vae_status vae_model_encode(vae_model *m, const float *x, const float *cond, size_t n, float *mu,
                            float *logvar)
{
    VAEI_CHECK_ARG(m != NULL && x != NULL);
    VAEI_TRY(check_call(m, cond, n));
    VAEI_TRY(vaei_check_inputs(m, x, m->D, n));
    const size_t c = chunk_rows(m, n), L = m->L;
    VAEI_TRY(vaei_model_reserve(m, c));
    for (size_t first = 0; first < n; first += c) {
        const size_t k = n - first < c ? n - first : c;
        VAEI_TRY(encode_chunk(m, x, cond, first, k));
        const float *S = m->ws.enc[m->n_enc - 1];
        for (size_t i = 0; i < k; i++) {
            if (mu) memcpy(mu + (first + i) * L, S + i * 2 * L, L * sizeof *mu);
            if (logvar) memcpy(logvar + (first + i) * L, S + i * 2 * L + L, L * sizeof *logvar);
        }
    }
    return VAE_OK;
}

vae_status vae_model_decode(vae_model *m, const float *z, const float *cond, size_t n, float *out)
{
    VAEI_CHECK_ARG(m != NULL && z != NULL && out != NULL);
    VAEI_TRY(check_call(m, cond, n));
    const size_t c = chunk_rows(m, n);
    VAEI_TRY(vaei_model_reserve(m, c));
    for (size_t first = 0; first < n; first += c) {
        const size_t k = n - first < c ? n - first : c;
        concat(m, m->ws.z, z + first * m->L, m->L, cond, first, k);
        VAEI_TRY(vaei_decoder_forward(m, k));
        emit(m, k, out + first * m->D);
    }
    return VAE_OK;
}

vae_status vae_model_sample(vae_model *m, const float *cond, size_t n, uint64_t seed, float *out,
                            float *z)
{
    VAEI_CHECK_ARG(m != NULL && out != NULL);
    VAEI_TRY(check_call(m, cond, n));
    const size_t c = chunk_rows(m, n), L = m->L;
    VAEI_TRY(vaei_model_reserve(m, c));
    vaei_rng r;
    vaei_rng_seed(&r, seed);
    for (size_t first = 0; first < n; first += c) {
        const size_t k = n - first < c ? n - first : c;
        vaei_rng_normal(&r, m->ws.eps, k * L);
        if (z) memcpy(z + first * L, m->ws.eps, k * L * sizeof *z);
        concat(m, m->ws.z, m->ws.eps, L, cond, first, k);
        VAEI_TRY(vaei_decoder_forward(m, k));
        emit(m, k, out + first * m->D);
    }
    return VAE_OK;
}

vae_status vae_model_reconstruct(vae_model *m, const float *x, const float *cond, size_t n,
                                 float *out)
{
    VAEI_CHECK_ARG(m != NULL && x != NULL && out != NULL);
    VAEI_TRY(check_call(m, cond, n));
    VAEI_TRY(vaei_check_inputs(m, x, m->D, n));
    const size_t c = chunk_rows(m, n), L = m->L;
    VAEI_TRY(vaei_model_reserve(m, c));
    for (size_t first = 0; first < n; first += c) {
        const size_t k = n - first < c ? n - first : c;
        VAEI_TRY(encode_chunk(m, x, cond, first, k));
        /* z = mu: eps = 0 in the reparameterisation. */
        memset(m->ws.eps, 0, k * L * sizeof *m->ws.eps);
        vaei_reparameterize(m, m->ws.x0, m->D + m->C, k);
        VAEI_TRY(vaei_decoder_forward(m, k));
        emit(m, k, out + first * m->D);
    }
    return VAE_OK;
}
