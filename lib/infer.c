/*
 * Using a trained model: encode, decode, sample from the prior, reconstruct.
 * Inputs of any length are processed in chunks that fit the workspace.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "batch.h"
#include "error.h"
#include "kernels/elementwise.h"
#include "objective.h"

/* Chunks over n rows: as many as the workspace already holds, and at least
 * VAEI_CHUNK, so that a call after training allocates nothing. */
static vae_status chunks(vaei_chunks *ch, vae_model *m, size_t n)
{
    return vaei_chunks_begin(ch, m, n, m->ws.cap > VAEI_CHUNK ? m->ws.cap : VAEI_CHUNK);
}

/* Decoder output to the likelihood's mean: sigmoid(l) = 1 / (1 + exp(-l))
 * for Bernoulli, with the vector exp that the Bernoulli term uses
 * (elementwise.h: within a few units of libm's), a block at a time; the
 * Gaussian mean as it is. */
static void emit(const vae_model *m, size_t n, float *out)
{
    enum { BLOCK = 256 };
    const float *o = m->ws.dec[m->n_dec - 1];
    const size_t count = n * m->D;
    if ((int)VAEI_CFG(m, S_LIKELIHOOD) != VAE_LIKELIHOOD_BERNOULLI) {
        memcpy(out, o, count * sizeof *out);
        return;
    }
    const vaei_vecops *vec = vaei_vec();
    float t[BLOCK];
    for (size_t b = 0; b < count; b += BLOCK) {
        const size_t c = count - b < BLOCK ? count - b : BLOCK;
        for (size_t i = 0; i < c; i++) t[i] = -o[b + i];
        vec->exp(t, t, c);
        for (size_t i = 0; i < c; i++) out[b + i] = 1.0f / (1.0f + t[i]);
    }
}

/* Encoder on the chunk's rows of x: ws.x0 <- [x | c], then S. */
static vae_status encode_chunk(vae_model *m, const float *x, const float *cond,
                               const vaei_chunks *ch)
{
    vaei_stage(m, m->ws.x0, x + ch->first * m->D, m->D, cond, ch->first, ch->n);
    return vaei_encoder_forward(m, m->ws.x0, m->D + m->C, ch->n);
}

/* Decoder on the chunk's latent rows z [n x L], the results into out. */
static vae_status decode_chunk(vae_model *m, const float *z, const float *cond,
                               const vaei_chunks *ch, float *out)
{
    vaei_stage(m, m->ws.z, z, m->L, cond, ch->first, ch->n);
    VAEI_TRY(vaei_decoder_forward(m, ch->n));
    emit(m, ch->n, out + ch->first * m->D);
    return VAE_OK;
}

vae_status vae_model_encode(vae_model *m, const float *x, const float *cond, size_t n, float *mu,
                            float *logvar)
{
    VAEI_CHECK_ARG(m != NULL && x != NULL);
    VAEI_TRY(vaei_check_batch(m, x, cond, n));
    const size_t L = m->L;
    vaei_chunks ch;
    VAEI_TRY(chunks(&ch, m, n));
    while (vaei_chunks_next(&ch)) {
        VAEI_TRY(encode_chunk(m, x, cond, &ch));
        const float *S = m->ws.enc[m->n_enc - 1];
        for (size_t i = 0, r = ch.first; i < ch.n; i++, r++) {
            if (mu) memcpy(mu + r * L, S + i * 2 * L, L * sizeof *mu);
            if (logvar) memcpy(logvar + r * L, S + i * 2 * L + L, L * sizeof *logvar);
        }
    }
    return VAE_OK;
}

vae_status vae_model_decode(vae_model *m, const float *z, const float *cond, size_t n, float *out)
{
    VAEI_CHECK_ARG(m != NULL && z != NULL && out != NULL);
    VAEI_TRY(vaei_check_batch(m, NULL, cond, n));
    vaei_chunks ch;
    VAEI_TRY(chunks(&ch, m, n));
    while (vaei_chunks_next(&ch)) VAEI_TRY(decode_chunk(m, z + ch.first * m->L, cond, &ch, out));
    return VAE_OK;
}

vae_status vae_model_sample(vae_model *m, const float *cond, size_t n, uint64_t seed, float *out,
                            float *z)
{
    VAEI_CHECK_ARG(m != NULL && out != NULL);
    VAEI_TRY(vaei_check_batch(m, NULL, cond, n));
    const size_t L = m->L;
    vaei_chunks ch;
    VAEI_TRY(chunks(&ch, m, n));
    vaei_rng r;
    vaei_rng_seed(&r, seed);
    while (vaei_chunks_next(&ch)) {
        vaei_rng_normal(&r, m->ws.eps, ch.n * L);
        if (z) memcpy(z + ch.first * L, m->ws.eps, ch.n * L * sizeof *z);
        VAEI_TRY(decode_chunk(m, m->ws.eps, cond, &ch, out));
    }
    return VAE_OK;
}

vae_status vae_model_reconstruct(vae_model *m, const float *x, const float *cond, size_t n,
                                 float *out)
{
    VAEI_CHECK_ARG(m != NULL && x != NULL && out != NULL);
    VAEI_TRY(vaei_check_batch(m, x, cond, n));
    const size_t L = m->L, w = m->D + m->C;
    vaei_chunks ch;
    VAEI_TRY(chunks(&ch, m, n));
    while (vaei_chunks_next(&ch)) {
        VAEI_TRY(encode_chunk(m, x, cond, &ch));
        /* z = mu: eps = 0 in the reparameterisation. */
        memset(m->ws.eps, 0, ch.n * L * sizeof *m->ws.eps);
        vaei_reparameterize(m, m->ws.enc[m->n_enc - 1], m->ws.eps, m->ws.z, ch.n);
        vaei_stage_cond(m, m->ws.z + L, L + m->C, m->ws.x0 + m->D, w, ch.n);
        VAEI_TRY(vaei_decoder_forward(m, ch.n));
        emit(m, ch.n, out + ch.first * m->D);
    }
    return VAE_OK;
}
