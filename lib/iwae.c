/*
 * The importance-weighted bound on log p(x) (Burda et al. 2015):
 *     L_k(x) = log (1/k) sum_i w_i,
 *     log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x),  z_i = mu + sigma eps_i.
 * With q and p(z) Gaussian, log p(z) - log q(z|x) = -1/2 sum_j (z_j^2 - eps_j^2 - lv_j):
 * the log(2 pi) terms cancel.
 *
 * Images are encoded a chunk at a time; their k draws each are laid out
 * image after image in blocks of rows, so that one decoder GEMM scores many
 * samples whatever k is (k = 1 and k = 5000 both fill the block). Each
 * image folds its log weights into a running log-sum-exp (max and scaled
 * sum, in double), so no k-sized buffer is needed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "error.h"
#include "iwae.h"
#include "objective.h"

enum { IWAE_ROWS = 512 }; /* rows per decoder block, and images per encoder chunk */

#define STREAM_IWAE 0x49574145ull /* "IWAE" */

uint64_t vaei_iwae_stream(uint64_t seed, size_t image)
{
    return vaei_mix64(vaei_mix64(seed ^ STREAM_IWAE) + (uint64_t)image);
}

/* Running log-sum-exp of one image's log weights: sum_i exp(lw_i) =
 * exp(max) * scaled; plus the plain sum of the log weights for the ELBO. */
typedef struct lse {
    double max, scaled, sum;
} lse;

static void lse_add(lse *a, double lw)
{
    if (lw > a->max) {
        a->scaled = a->scaled * exp(a->max - lw) + 1.0; /* exp(-inf) = 0 at the first */
        a->max = lw;
    } else {
        a->scaled += exp(lw - a->max);
    }
    a->sum += lw;
}

/* Score the k draws of each of the n images staged in ws.x0 and encoded in
 * ws.enc; image i of the chunk is image first + i of the dataset. */
static vae_status score_chunk(vae_model *m, size_t first, size_t n, size_t k, uint64_t seed,
                              size_t rows_cap, lse *acc, size_t *owner)
{
    const size_t L = m->L, C = m->C, w = m->D + C;
    const float *S = m->ws.enc[m->n_enc - 1];
    for (size_t i = 0; i < n; i++) acc[i] = (lse){-INFINITY, 0.0, 0.0};

    vaei_rng r;
    vaei_rng_seed(&r, vaei_iwae_stream(seed, first));
    size_t img = 0, drawn = 0; /* the next draw is number `drawn` of image `img` */
    while (img < n) {
        size_t rows = 0;
        for (; rows < rows_cap && img < n; rows++) {
            float *eps = m->ws.eps + rows * L, *z = m->ws.z + rows * (L + C);
            vaei_rng_normal(&r, eps, L);
            vaei_reparameterize(m, S + img * 2 * L, eps, z, 1);
            vaei_stage_cond(m, z + L, L + C, m->ws.x0 + img * w + m->D, w, 1);
            owner[rows] = img;
            if (++drawn == k) {
                drawn = 0;
                if (++img < n) vaei_rng_seed(&r, vaei_iwae_stream(seed, first + img));
            }
        }
        VAEI_TRY(vaei_decoder_forward(m, rows));
        const float *out = m->ws.dec[m->n_dec - 1];
        for (size_t row = 0; row < rows; row++) {
            const size_t i = owner[row];
            const float *mu = S + i * 2 * L, *lv = mu + L, *eps = m->ws.eps + row * L;
            const float *z = m->ws.z + row * (L + C);
            double prior_ratio = 0.0; /* log p(z) - log q(z|x) */
            for (size_t j = 0; j < L; j++)
                prior_ratio -= 0.5 * ((double)z[j] * z[j] - (double)eps[j] * eps[j] - lv[j]);
            const double log_px =
                -vaei_recon(m, 1, m->ws.x0 + i * w, m->D, out + row * m->D, NULL, 0.0f);
            lse_add(&acc[i], log_px + prior_ratio);
        }
    }
    return VAE_OK;
}

vae_status vae_model_iwae(vae_model *m, vae_dataset *ds, size_t k, uint64_t seed, double *mean,
                          double *bound, double *elbo)
{
    VAEI_CHECK_ARG(m != NULL && ds != NULL);
    VAEI_CHECK(k >= 1, VAE_ERR_INVALID_ARGUMENT, "vae_model_iwae: k is 0; it needs 1 or more "
               "samples per image");
    VAEI_TRY(vaei_check_dataset(m, ds));
    const size_t n = ds->n, rows_cap = m->ws.cap > IWAE_ROWS ? m->ws.cap : IWAE_ROWS;
    vaei_chunks ch; /* images a chunk: the encoder's rows */
    VAEI_TRY(vaei_model_reserve(m, rows_cap));
    VAEI_TRY(vaei_chunks_begin(&ch, m, n, rows_cap));

    /* Results go to the caller only when every image succeeded. */
    VAEI_CHECK(n <= SIZE_MAX / (2 * sizeof(double)), VAE_ERR_LIMIT, "%zu images", n);
    double *res = malloc(2 * n * sizeof *res);
    lse *acc = malloc(rows_cap * sizeof *acc);
    size_t *owner = malloc(rows_cap * sizeof *owner);
    vae_status s = VAE_OK;
    if (!res || !acc || !owner) {
        s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "vae_model_iwae: no memory for %zu images", n);
        goto done;
    }
    const double log_k = log((double)k);
    double total = 0.0;
    while (s == VAE_OK && vaei_chunks_next(&ch)) {
        const size_t first = ch.first, c = ch.n;
        s = vaei_stage_range(m, ds, first, c);
        if (s == VAE_OK) s = vaei_encoder_forward(m, m->ws.x0, m->D + m->C, c);
        if (s == VAE_OK) s = score_chunk(m, first, c, k, seed, rows_cap, acc, owner);
        for (size_t i = 0; i < c && s == VAE_OK; i++) {
            const double lk = acc[i].max + log(acc[i].scaled) - log_k;
            if (!isfinite(lk) || !isfinite(acc[i].sum))
                s = vaei_fail(VAE_ERR_NUMERIC, "vae_model_iwae: image %zu: the importance "
                              "weights are not finite", first + i);
            res[first + i] = lk;
            res[n + first + i] = acc[i].sum / (double)k;
            total += lk;
        }
    }
    if (s == VAE_OK) {
        if (mean) *mean = total / (double)n;
        if (bound) memcpy(bound, res, n * sizeof *bound);
        if (elbo) memcpy(elbo, res + n, n * sizeof *elbo);
    }
done:
    free(res);
    free(acc);
    free(owner);
    return s;
}
