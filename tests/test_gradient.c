/*
 * The gradient of the whole objective (negative ELBO with beta, free bits,
 * every likelihood and activation, conditional inputs) against central
 * finite differences of an independent double-precision forward pass
 * written here from the formulas, with the noise eps held fixed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "model.h"
#include "objective.h"
#include "reference.h"
#include "rng.h"

enum { N = 5 }; /* batch */

typedef struct {
    vae_model *m;
    double *p;      /* parameters in double, perturbed by the finite differences */
    float x[N * 64], cond[N * 8], eps[N * 8];
    double free_bits;
} fixture;

/* The objective per image, computed from scratch; kl_dim gets the batch
 * mean KL of each latent dimension. */
static double objective(const fixture *f, double *kl_dim)
{
    const vae_model *m = f->m;
    const size_t D = m->D, L = m->L, C = m->C;
    const double beta = m->cfg.v[S_BETA];
    double recon = 0, kl[8] = {0};
    for (size_t n = 0; n < N; n++) {
        double mu[8], lv[8], z[8], out[REF_MAX_WIDTH];
        ref_encode(m, f->p, f->x + n * D, f->cond + n * C, mu, lv);
        for (size_t k = 0; k < L; k++) {
            kl[k] += 0.5 * (mu[k] * mu[k] + exp(lv[k]) - lv[k] - 1);
            z[k] = mu[k] + exp(0.5 * lv[k]) * f->eps[n * L + k];
        }
        ref_decode(m, f->p, z, f->cond + n * C, out);
        recon -= ref_log_px(m, f->p, f->x + n * D, out);
    }
    double penalty = 0;
    for (size_t k = 0; k < L; k++) {
        kl_dim[k] = kl[k] / N;
        penalty += fmax(kl_dim[k], f->free_bits);
    }
    return recon / N + beta * penalty;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Build a small model, compare every parameter's analytic gradient with the
 * central difference of the double objective. free_mode: 0 none, 1 a floor
 * between the dimensions' KLs, 2 a floor above all of them. */
static void check(int activation, int likelihood, size_t cond, double beta, int free_mode,
                  size_t enc_layers)
{
    vae_config *cfg;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    const size_t enc[] = {7, 6, 5}, dec[] = {6};
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, 9), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 3), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_COND_DIM, (double)cond), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_ACTIVATION, activation), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, likelihood), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LEAKY_SLOPE, 0.1), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_BETA, beta), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_GAUSSIAN_LOGVAR, -1.0), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_SEED, 7), VAE_OK);
    assert_int_equal(vae_config_set_hidden(cfg, VAE_ENCODER, enc, enc_layers), VAE_OK);
    assert_int_equal(vae_config_set_hidden(cfg, VAE_DECODER, dec, 1), VAE_OK);

    fixture f = {0};
    assert_int_equal(vae_model_create(&f.m, cfg), VAE_OK);
    vae_config_free(cfg);
    vae_model *m = f.m;
    const size_t P = vae_model_param_count(m);
    f.p = malloc(P * sizeof *f.p);
    assert_non_null(f.p);

    vaei_rng r;
    vaei_rng_seed(&r, 99);
    /* Larger weights than the default init, so that every unit matters. */
    for (size_t i = 0; i < P; i++) m->params[i] = (float)(vaei_rng_uniform(&r) * 1.6 - 0.8);
    if (likelihood == VAE_LIKELIHOOD_GAUSSIAN_LEARNED)
        for (size_t j = 0; j < m->D; j++)
            m->params[m->px_logvar + j] = (float)(vaei_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < N * m->D; i++) f.x[i] = (float)vaei_rng_uniform(&r);
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < cond; k++) f.cond[n * cond + k] = k == n % cond ? 1.0f : 0.0f;
    vaei_rng_normal(&r, f.eps, N * m->L);
    for (size_t i = 0; i < P; i++) f.p[i] = m->params[i];

    double kl_dim[8];
    objective(&f, kl_dim);
    if (free_mode) {
        qsort(kl_dim, m->L, sizeof *kl_dim, cmp_double);
        f.free_bits = free_mode == 1 ? 0.5 * (kl_dim[0] + kl_dim[1]) : kl_dim[m->L - 1] + 1.0;
        assert_int_equal(vae_model_set(m, VAE_PARAM_FREE_BITS, f.free_bits), VAE_OK);
    }

    /* Analytic gradient with the same eps. */
    const size_t ld = m->D + m->C;
    assert_int_equal(vaei_model_reserve(m, N), VAE_OK);
    for (size_t n = 0; n < N; n++) {
        memcpy(m->ws.x0 + n * ld, f.x + n * m->D, m->D * sizeof(float));
        memcpy(m->ws.x0 + n * ld + m->D, f.cond + n * cond, cond * sizeof(float));
    }
    memcpy(m->ws.eps, f.eps, N * m->L * sizeof(float));
    vae_loss loss;
    assert_int_equal(vaei_encoder_forward(m, m->ws.x0, ld, N), VAE_OK);
    vaei_reparameterize(m, m->ws.enc[m->n_enc - 1], m->ws.eps, m->ws.z, N);
    vaei_stage_cond(m, m->ws.z + m->L, m->L + m->C, m->ws.x0 + m->D, ld, N);
    assert_int_equal(vaei_decoder_forward(m, N), VAE_OK);
    assert_int_equal(vaei_objective(m, m->ws.x0, ld, N, 1, &loss), VAE_OK);

    double kl_unused[8];
    const double obj = objective(&f, kl_unused);
    assert_true(fabs(loss.objective - obj) <= 1e-4 * fmax(1.0, fabs(obj)));

    /* Central differences, h = 1e-5: truncation O(h^2), rounding O(1e-16/h). */
    const double h = 1e-5;
    size_t checked = 0;
    for (size_t i = 0; i < P; i++) {
        const double p0 = f.p[i];
        f.p[i] = p0 + h;
        const double up = objective(&f, kl_unused);
        f.p[i] = p0 - h;
        const double down = objective(&f, kl_unused);
        f.p[i] = p0;
        const double fd = (up - down) / (2 * h), an = m->grads[i];
        /* float32 backward: allow a few ulps of the largest terms. */
        if (fabs(an - fd) > 2e-4 + 2e-3 * fabs(fd)) {
            size_t t = 0;
            while (t + 1 < m->n_tensors && m->tensors[t + 1].offset <= i) t++;
            fail_msg("act %d lik %d cond %zu beta %g free %d: %s[%zu]: analytic %.8g, "
                     "finite difference %.8g", activation, likelihood, cond, beta, free_mode,
                     m->tensors[t].name, i - m->tensors[t].offset, an, fd);
        }
        checked++;
    }
    assert_int_equal(checked, P);
    if (free_mode == 2) {
        /* Every dimension under the floor: the KL contributes no gradient, so
         * the head's log-variance gradient comes through z alone. */
        assert_true(fabs(loss.objective - loss.recon - beta * m->L * f.free_bits) < 1e-6);
    }
    free(f.p);
    vae_model_free(m);
}

static void test_gradient_lesson_model(void **state)
{
    (void)state;
    check(VAE_ACTIVATION_RELU, VAE_LIKELIHOOD_BERNOULLI, 0, 1.0, 0, 1);
}

static void test_gradient_activations(void **state)
{
    (void)state;
    for (int a = 0; a <= VAE_ACTIVATION_SOFTPLUS; a++)
        check(a, VAE_LIKELIHOOD_BERNOULLI, 0, 1.0, 0, 3);
}

static void test_gradient_gaussian(void **state)
{
    (void)state;
    check(VAE_ACTIVATION_TANH, VAE_LIKELIHOOD_GAUSSIAN, 0, 1.0, 0, 2);
    check(VAE_ACTIVATION_ELU, VAE_LIKELIHOOD_GAUSSIAN_LEARNED, 0, 1.0, 0, 2);
}

static void test_gradient_conditional(void **state)
{
    (void)state;
    check(VAE_ACTIVATION_RELU, VAE_LIKELIHOOD_BERNOULLI, 4, 1.0, 0, 2);
    check(VAE_ACTIVATION_SOFTPLUS, VAE_LIKELIHOOD_GAUSSIAN_LEARNED, 3, 1.0, 0, 1);
}

static void test_gradient_beta_and_free_bits(void **state)
{
    (void)state;
    check(VAE_ACTIVATION_TANH, VAE_LIKELIHOOD_BERNOULLI, 0, 4.0, 0, 1);
    check(VAE_ACTIVATION_TANH, VAE_LIKELIHOOD_BERNOULLI, 0, 0.5, 1, 2);
    check(VAE_ACTIVATION_LEAKY_RELU, VAE_LIKELIHOOD_BERNOULLI, 2, 2.0, 2, 1);
}

/* vae_model_decode's means against the reference: sigmoid of the
 * double-precision logits for Bernoulli, the outputs themselves for a
 * Gaussian. D = 300 spans more than one of emit()'s blocks of 256. The
 * bound: logits of 40 terms of |w h| < 0.8 x 10 carry a float32 error of
 * about 40 x 2^-24 x 10 = 2.4e-5, which the sigmoid's slope (<= 1/4)
 * halves twice; exp adds a few units of 2^-24. */
static void decode_means(int likelihood)
{
    enum { D = 300, L = 3, ROWS = 6 };
    vae_config *cfg;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    const size_t dec[] = {40};
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, D), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, L), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, likelihood), VAE_OK);
    assert_int_equal(vae_config_set_hidden(cfg, VAE_DECODER, dec, 1), VAE_OK);
    vae_model *m = NULL;
    assert_int_equal(vae_model_create(&m, cfg), VAE_OK);
    vae_config_free(cfg);
    const size_t P = vae_model_param_count(m);
    double *p = malloc(P * sizeof *p);
    float *out = malloc(ROWS * D * sizeof *out), z[ROWS * L];
    assert_non_null(p);
    assert_non_null(out);
    vaei_rng r;
    vaei_rng_seed(&r, 5);
    for (size_t i = 0; i < P; i++) p[i] = m->params[i] = (float)(vaei_rng_uniform(&r) * 1.6 - 0.8);
    vaei_rng_normal(&r, z, ROWS * L);
    z[0] = 40.0f; /* logits far out on both sides: sigmoid 0 and 1 */
    assert_int_equal(vae_model_decode(m, z, NULL, ROWS, out), VAE_OK);
    double worst = 0, lo = 1, hi = 0;
    for (size_t n = 0; n < ROWS; n++) {
        double zd[L], logit[D];
        for (size_t k = 0; k < L; k++) zd[k] = z[n * L + k];
        ref_decode(m, p, zd, NULL, logit);
        for (size_t j = 0; j < D; j++) {
            const double want = likelihood == VAE_LIKELIHOOD_BERNOULLI ? 1 / (1 + exp(-logit[j]))
                                                                       : logit[j];
            const double got = out[n * D + j], err = fabs(got - want) / fmax(1, fabs(want));
            if (err > worst) worst = err;
            if (want < lo) lo = want;
            if (want > hi) hi = want;
            if (likelihood == VAE_LIKELIHOOD_BERNOULLI) assert_true(got >= 0.0f && got <= 1.0f);
        }
    }
    print_message("decode means within %.3g of the reference (range %.3g .. %.3g)\n", worst, lo,
                  hi);
    assert_true(worst < 2e-5);
    if (likelihood == VAE_LIKELIHOOD_BERNOULLI) assert_true(lo < 1e-6 && hi > 1 - 1e-6);
    free(p);
    free(out);
    vae_model_free(m);
}

static void test_decode_against_reference(void **state)
{
    (void)state;
    decode_means(VAE_LIKELIHOOD_BERNOULLI);
    decode_means(VAE_LIKELIHOOD_GAUSSIAN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_lesson_model),
        cmocka_unit_test(test_gradient_activations),
        cmocka_unit_test(test_gradient_gaussian),
        cmocka_unit_test(test_gradient_conditional),
        cmocka_unit_test(test_gradient_beta_and_free_bits),
        cmocka_unit_test(test_decode_against_reference),
    };
    return cmocka_run_group_tests_name("gradient", tests, NULL, NULL);
}
