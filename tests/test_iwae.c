/*
 * The importance-weighted bound: against an independent double-precision
 * computation that replays the same draws, then its properties on a model
 * trained on the bundled data (Jensen's inequality per image, k = 1 is the
 * ELBO, monotone in k on average, converging as k grows, reproducible).
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

#include "common.h"
#include "iwae.h"
#include "reference.h"
#include "rng.h"

/* ---- against the reference ------------------------------------------------ */

enum { NI = 5 }; /* images */

/* L_k and the mean log weight of image i, in double, with the library's draws. */
static void reference_iwae(const vae_model *m, const double *p, const float *x,
                           const float *cond, size_t i, size_t k, uint64_t seed, double *lk,
                           double *elbo)
{
    const size_t L = m->L;
    double mu[8], lv[8], z[8], out[REF_MAX_WIDTH];
    ref_encode(m, p, x, cond, mu, lv);
    double *lw = malloc(k * sizeof *lw), max = -INFINITY, sum = 0;
    assert_non_null(lw);
    vaei_rng r;
    vaei_rng_seed(&r, vaei_iwae_stream(seed, i));
    for (size_t s = 0; s < k; s++) {
        float eps[8];
        vaei_rng_normal(&r, eps, L);
        /* log N(z; 0, I) - log N(z; mu, exp(lv)) */
        double lpz = 0, lqz = 0;
        for (size_t j = 0; j < L; j++) {
            z[j] = mu[j] + exp(0.5 * lv[j]) * eps[j];
            lpz -= 0.5 * (log(2 * M_PI) + z[j] * z[j]);
            lqz -= 0.5 * (log(2 * M_PI) + lv[j] + (z[j] - mu[j]) * (z[j] - mu[j]) / exp(lv[j]));
        }
        ref_decode(m, p, z, cond, out);
        lw[s] = ref_log_px(m, p, x, out) + lpz - lqz;
        if (lw[s] > max) max = lw[s];
        sum += lw[s];
    }
    double acc = 0;
    for (size_t s = 0; s < k; s++) acc += exp(lw[s] - max);
    *lk = max + log(acc / (double)k);
    *elbo = sum / (double)k;
    free(lw);
}

static void check_reference(int likelihood, size_t cond, size_t k)
{
    vae_config *cfg;
    ASSERT_OK(vae_config_create(&cfg));
    const size_t enc[] = {7, 6}, dec[] = {6};
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, 9));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 3));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_COND_DIM, (double)cond));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_ACTIVATION, VAE_ACTIVATION_TANH));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, likelihood));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_GAUSSIAN_LOGVAR, -1.0));
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_ENCODER, enc, 2));
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_DECODER, dec, 1));
    vae_model *m;
    ASSERT_OK(vae_model_create(&m, cfg));
    vae_config_free(cfg);

    vaei_rng r;
    vaei_rng_seed(&r, 11);
    const size_t P = vae_model_param_count(m);
    double *p = malloc(P * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < P; i++) {
        m->params[i] = (float)(vaei_rng_uniform(&r) * 1.6 - 0.8);
        p[i] = m->params[i];
    }
    float x[NI * 9], c[NI * 4] = {0};
    int32_t labels[NI];
    for (size_t i = 0; i < NI * 9; i++) x[i] = (float)vaei_rng_uniform(&r);
    for (size_t i = 0; i < NI; i++) {
        labels[i] = (int32_t)(cond ? i % cond : 0);
        if (cond) c[i * cond + (size_t)labels[i]] = 1.0f;
    }
    vae_dataset *ds;
    ASSERT_OK(vae_dataset_from_f32(&ds, x, NI, 9, cond ? labels : NULL, 0));

    double bound[NI], elbo[NI], mean;
    ASSERT_OK(vae_model_iwae(m, ds, k, 42, &mean, bound, elbo));
    double sum = 0;
    for (size_t i = 0; i < NI; i++) {
        double lk, el;
        reference_iwae(m, p, x + i * 9, c + i * cond, i, k, 42, &lk, &el);
        /* float32 forward pass against double: a few 1e-6 relative per weight. */
        if (fabs(bound[i] - lk) > 1e-4 * fmax(1, fabs(lk)) || fabs(elbo[i] - el) > 1e-4 * fmax(1, fabs(el)))
            fail_msg("lik %d cond %zu k %zu image %zu: library %.8g / %.8g, reference %.8g / %.8g",
                     likelihood, cond, k, i, bound[i], elbo[i], lk, el);
        sum += bound[i];
    }
    assert_true(fabs(mean - sum / NI) < 1e-9 * fmax(1, fabs(mean)));
    vae_dataset_free(ds);
    vae_model_free(m);
    free(p);
}

static void test_iwae_matches_reference(void **state)
{
    (void)state;
    /* k = 300 on 5 images: 1500 draws cross the 512-row blocks inside images. */
    check_reference(VAE_LIKELIHOOD_BERNOULLI, 0, 300);
    check_reference(VAE_LIKELIHOOD_BERNOULLI, 3, 1);
    check_reference(VAE_LIKELIHOOD_GAUSSIAN, 0, 7);
    check_reference(VAE_LIKELIHOOD_GAUSSIAN_LEARNED, 2, 130);
}

/* ---- properties on a trained model ------------------------------------------ */

enum { TEST_IMAGES = 200 };

static vae_model *model;
static vae_dataset *test_set;

static int setup(void **state)
{
    (void)state;
    vae_dataset *train = load_mnist_head("train", 2000);
    test_set = load_mnist_head("t10k", TEST_IMAGES);
    model = small_model(128, 2, 0, 1);
    vae_optimizer *opt;
    ASSERT_OK(vae_optimizer_create(&opt, model, VAE_OPTIM_ADAM));
    for (int e = 0; e < 3; e++) ASSERT_OK(vae_train_epoch(model, opt, train, 128, NULL, NULL, NULL));
    vae_optimizer_free(opt);
    vae_dataset_free(train);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vae_model_free(model);
    vae_dataset_free(test_set);
    return 0;
}

static void test_iwae_above_paired_elbo_on_every_image(void **state)
{
    (void)state;
    double bound[TEST_IMAGES], elbo[TEST_IMAGES];
    ASSERT_OK(vae_model_iwae(model, test_set, 50, 3, NULL, bound, elbo));
    size_t strict = 0;
    for (size_t i = 0; i < TEST_IMAGES; i++) {
        /* log mean exp >= mean: Jensen, for the very same 50 draws. */
        if (bound[i] < elbo[i] - 1e-9 * fabs(elbo[i]))
            fail_msg("image %zu: IWAE %.6f below the ELBO %.6f of the same draws", i, bound[i], elbo[i]);
        strict += bound[i] > elbo[i] + 0.1;
    }
    assert_true(strict > TEST_IMAGES * 9 / 10); /* the weights are not all equal */
}

static void test_iwae_k1_is_the_elbo(void **state)
{
    (void)state;
    double bound[TEST_IMAGES], elbo[TEST_IMAGES], mean;
    ASSERT_OK(vae_model_iwae(model, test_set, 1, 5, &mean, bound, elbo));
    for (size_t i = 0; i < TEST_IMAGES; i++) assert_true(bound[i] == elbo[i]);

    /* L_1 is an unbiased one-draw estimate of the ELBO: its mean over 8
     * seeds (standard error ~0.15 nats here) matches a 1000-draw estimate. */
    double l1 = 0, precise = 0;
    for (uint64_t seed = 10; seed < 18; seed++) {
        ASSERT_OK(vae_model_iwae(model, test_set, 1, seed, &mean, NULL, NULL));
        l1 += mean / 8;
    }
    ASSERT_OK(vae_model_iwae(model, test_set, 1000, 4, NULL, bound, elbo));
    for (size_t i = 0; i < TEST_IMAGES; i++) precise += elbo[i] / TEST_IMAGES;
    if (fabs(l1 - precise) > 0.75)
        fail_msg("mean L_1 over 8 seeds %.3f, but the 1000-draw ELBO is %.3f", l1, precise);
    /* vae_model_evaluate() estimates the same ELBO with a closed-form KL and
     * one draw of the reconstruction; with 200 images its fixed draw is
     * within a few nats (a sign error or a lost KL term would be 10+). */
    vae_loss loss;
    ASSERT_OK(vae_model_evaluate(model, test_set, &loss));
    if (fabs(-precise - loss.total) > 3.0)
        fail_msg("the evaluated negative ELBO is %.3f but the 1000-draw one %.3f", loss.total,
                 -precise);
}

static void test_iwae_rises_and_settles_with_k(void **state)
{
    (void)state;
    static const size_t ks[] = {1, 10, 100, 1000};
    double mean[4], spread[4];
    double *a = malloc(2 * TEST_IMAGES * sizeof *a), *b = a + TEST_IMAGES;
    assert_non_null(a);
    for (size_t t = 0; t < 4; t++) {
        ASSERT_OK(vae_model_iwae(model, test_set, ks[t], 7, &mean[t], a, NULL));
        ASSERT_OK(vae_model_iwae(model, test_set, ks[t], 8, NULL, b, NULL));
        spread[t] = 0;
        for (size_t i = 0; i < TEST_IMAGES; i++) spread[t] += fabs(a[i] - b[i]) / TEST_IMAGES;
        print_message("k = %4zu: mean L_k %.3f nats, mean |seed 7 - seed 8| %.4f\n", ks[t],
                      mean[t], spread[t]);
    }
    vae_loss loss;
    ASSERT_OK(vae_model_evaluate(model, test_set, &loss));
    for (size_t t = 1; t < 4; t++) {
        assert_true(mean[t] > mean[t - 1]);               /* monotone on average */
        assert_true(mean[t] > -loss.total);               /* above the ELBO */
        assert_true(spread[t] < spread[t - 1]);           /* the estimate settles */
    }
    /* Diminishing increments: the bound approaches a limit, log p(x). */
    assert_true(mean[3] - mean[2] < mean[2] - mean[1]);
    assert_true(mean[2] - mean[1] < mean[1] - mean[0]);
    free(a);
}

static void test_iwae_is_reproducible(void **state)
{
    (void)state;
    double a[TEST_IMAGES], b[TEST_IMAGES], c[20], ma, mb;
    ASSERT_OK(vae_model_iwae(model, test_set, 20, 9, &ma, a, NULL));
    ASSERT_OK(vae_model_iwae(model, test_set, 20, 9, &mb, b, NULL));
    assert_memory_equal(a, b, sizeof a);
    assert_true(ma == mb);
    /* Image i's draws depend on (seed, i) only, not on the rest of the data. */
    vae_dataset *head = head_of(test_set, 20);
    ASSERT_OK(vae_model_iwae(model, head, 20, 9, NULL, c, NULL));
    for (size_t i = 0; i < 20; i++) assert_true(fabs(c[i] - a[i]) < 1e-4);
    vae_dataset_free(head);
}

static void test_iwae_errors(void **state)
{
    (void)state;
    double mean = 123;
    assert_int_equal(vae_model_iwae(model, test_set, 0, 1, &mean, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_iwae(NULL, test_set, 1, 1, &mean, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    float x[2 * 10] = {0};
    vae_dataset *narrow;
    ASSERT_OK(vae_dataset_from_f32(&narrow, x, 2, 10, NULL, 0));
    assert_int_equal(vae_model_iwae(model, narrow, 1, 1, &mean, NULL, NULL), VAE_ERR_MISMATCH);
    vae_dataset_free(narrow);
    /* A poisoned parameter: refused, and the outputs are left alone. */
    size_t off, last = vae_model_tensor_count(model) - 1;
    const char *name;
    ASSERT_OK(vae_model_tensor_info(model, last, &name, NULL, NULL, &off));
    assert_string_equal(name, "decoder.out.bias");
    float *p = vae_model_params(model);
    const float saved = p[off];
    p[off] = NAN;
    assert_int_equal(vae_model_iwae(model, test_set, 2, 1, &mean, NULL, NULL), VAE_ERR_NUMERIC);
    p[off] = saved;
    assert_true(mean == 123);
}

int main(void)
{
    const struct CMUnitTest reference[] = {
        cmocka_unit_test(test_iwae_matches_reference),
    };
    const struct CMUnitTest trained[] = {
        cmocka_unit_test(test_iwae_above_paired_elbo_on_every_image),
        cmocka_unit_test(test_iwae_k1_is_the_elbo),
        cmocka_unit_test(test_iwae_rises_and_settles_with_k),
        cmocka_unit_test(test_iwae_is_reproducible),
        cmocka_unit_test(test_iwae_errors),
    };
    return cmocka_run_group_tests_name("iwae reference", reference, NULL, NULL) |
           cmocka_run_group_tests_name("iwae properties", trained, setup, teardown);
}
