/*
 * Looking inside a trained model: which latent dimensions carry information
 * (active units), and decoded paths through the latent space
 * (interpolation, traversal).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "error.h"

/* Active units: Var_x(mu_j(x)) per dimension, from sums of d = mu - shift
 * in double, shift being the first image's mean, so that the difference
 * s2/n - (s1/n)^2 does not cancel catastrophically:
 *     Var = (sum d^2 - (sum d)^2 / n) / n. */
vae_status vae_model_active_units(vae_model *m, vae_dataset *ds, double threshold,
                                  size_t *active, double *variances)
{
    VAEI_CHECK_ARG(m != NULL && ds != NULL);
    VAEI_CHECK(isfinite(threshold) && threshold >= 0.0, VAE_ERR_INVALID_ARGUMENT,
               "vae_model_active_units: threshold %g must be finite and >= 0", threshold);
    VAEI_TRY(vaei_check_dataset(m, ds));
    const size_t L = m->L;
    vaei_chunks ch;
    VAEI_TRY(vaei_chunks_begin(&ch, m, ds->n, VAEI_CHUNK));
    double *sums = calloc(3 * L, sizeof *sums); /* shift, s1, s2 */
    VAEI_CHECK(sums != NULL, VAE_ERR_OUT_OF_MEMORY, "no memory for %zu latent dimensions", L);
    double *shift = sums, *s1 = sums + L, *s2 = sums + 2 * L;
    vae_status s = VAE_OK;
    while (s == VAE_OK && vaei_chunks_next(&ch)) {
        s = vaei_stage_range(m, ds, ch.first, ch.n);
        if (s == VAE_OK) s = vaei_encoder_forward(m, m->ws.x0, m->D + m->C, ch.n);
        if (s != VAE_OK) break;
        const float *S = m->ws.enc[m->n_enc - 1];
        if (ch.first == 0)
            for (size_t j = 0; j < L; j++) shift[j] = S[j];
        for (size_t i = 0; i < ch.n; i++)
            for (size_t j = 0; j < L; j++) {
                const double d = (double)S[i * 2 * L + j] - shift[j];
                s1[j] += d;
                s2[j] += d * d;
            }
    }
    if (s == VAE_OK) {
        const double count = (double)ds->n;
        size_t on = 0;
        for (size_t j = 0; j < L; j++) {
            const double var = fmax(0.0, (s2[j] - s1[j] * s1[j] / count) / count);
            on += var > threshold;
            if (variances) variances[j] = var;
        }
        if (active) *active = on;
    }
    free(sums);
    return s;
}

static vae_status check_finite_vector(const float *v, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        VAEI_CHECK(isfinite(v[i]), VAE_ERR_INVALID_ARGUMENT, "%s[%zu] is not finite", what, i);
    return VAE_OK;
}

/* Shared argument checks of the paths; *pts receives a buffer for the
 * points, freed by path_end(). */
static vae_status path_begin(const vae_model *m, const float *cond, size_t steps, float *out,
                             float **pts)
{
    VAEI_CHECK_ARG(out != NULL);
    VAEI_CHECK(steps >= 2, VAE_ERR_INVALID_ARGUMENT, "%zu steps: a path needs 2 or more", steps);
    VAEI_CHECK(steps <= SIZE_MAX / sizeof(float) / (m->L + m->C), VAE_ERR_LIMIT, "%zu steps",
               steps);
    VAEI_TRY(vaei_check_batch(m, NULL, cond, 1)); /* one cond for every point */
    *pts = malloc(steps * (m->L + m->C) * sizeof **pts);
    VAEI_CHECK(*pts != NULL, VAE_ERR_OUT_OF_MEMORY, "no memory for %zu points", steps);
    return VAE_OK;
}

/* Decode the `steps` points with the same cond for each; the points go to
 * the caller's user_pts (when not NULL) only on success. */
static vae_status path_end(vae_model *m, float *pts, const float *cond, size_t steps,
                           float *out, float *user_pts)
{
    float *conds = m->C ? pts + steps * m->L : NULL; /* [steps x C] after the points */
    for (size_t i = 0; i < steps && m->C; i++) memcpy(conds + i * m->C, cond, m->C * sizeof *conds);
    const vae_status s = vae_model_decode(m, pts, conds, steps, out);
    if (s == VAE_OK && user_pts) memcpy(user_pts, pts, steps * m->L * sizeof *pts);
    free(pts);
    return s;
}

vae_status vae_model_interpolate(vae_model *m, const float *z0, const float *z1,
                                 const float *cond, vae_interpolation kind, size_t steps,
                                 float *out, float *z)
{
    VAEI_CHECK_ARG(m != NULL && z0 != NULL && z1 != NULL);
    VAEI_CHECK(kind == VAE_INTERP_LINEAR || kind == VAE_INTERP_SLERP, VAE_ERR_INVALID_ARGUMENT,
               "unknown interpolation %d", (int)kind);
    const size_t L = m->L;
    VAEI_TRY(check_finite_vector(z0, L, "z0"));
    VAEI_TRY(check_finite_vector(z1, L, "z1"));
    float *pts;
    VAEI_TRY(path_begin(m, cond, steps, out, &pts));

    /* Slerp weights from the angle theta between z0 and z1, in double. */
    double dot = 0.0, n0 = 0.0, n1 = 0.0;
    for (size_t j = 0; j < L; j++) {
        dot += (double)z0[j] * z1[j];
        n0 += (double)z0[j] * z0[j];
        n1 += (double)z1[j] * z1[j];
    }
    double theta = 0.0, sin_theta = 0.0;
    if (n0 > 0.0 && n1 > 0.0) {
        theta = acos(fmax(-1.0, fmin(1.0, dot / sqrt(n0 * n1))));
        sin_theta = sin(theta);
    }
    const int slerp = kind == VAE_INTERP_SLERP && sin_theta >= 1e-6;
    for (size_t i = 0; i < steps; i++) {
        const double t = (double)i / (double)(steps - 1);
        const double a = slerp ? sin((1.0 - t) * theta) / sin_theta : 1.0 - t;
        const double b = slerp ? sin(t * theta) / sin_theta : t;
        float *p = pts + i * L;
        for (size_t j = 0; j < L; j++) p[j] = (float)(a * z0[j] + b * z1[j]);
    }
    memcpy(pts, z0, L * sizeof *pts); /* the ends exactly */
    memcpy(pts + (steps - 1) * L, z1, L * sizeof *pts);
    return path_end(m, pts, cond, steps, out, z);
}

vae_status vae_model_traverse(vae_model *m, const float *z, const float *cond, size_t dim,
                              double lo, double hi, size_t steps, float *out, float *zs)
{
    VAEI_CHECK_ARG(m != NULL && z != NULL);
    VAEI_CHECK(dim < m->L, VAE_ERR_INVALID_ARGUMENT,
               "dimension %zu: the model has %zu latent dimensions", dim, m->L);
    VAEI_CHECK(isfinite(lo) && isfinite(hi), VAE_ERR_INVALID_ARGUMENT,
               "traversal range [%g, %g] is not finite", lo, hi);
    VAEI_TRY(check_finite_vector(z, m->L, "z"));
    float *pts;
    VAEI_TRY(path_begin(m, cond, steps, out, &pts));
    for (size_t i = 0; i < steps; i++) {
        float *p = pts + i * m->L;
        memcpy(p, z, m->L * sizeof *p);
        p[dim] = i + 1 == steps ? (float)hi
                                : (float)(lo + (hi - lo) * (double)i / (double)(steps - 1));
    }
    return path_end(m, pts, cond, steps, out, zs);
}
