/*
 * Adam and SGD against steps computed by hand, in double, from their
 * definitions (PyTorch's torch.optim.Adam and SGD, which the header
 * promises): three steps from a fresh state with gradients written into
 * the model's buffer, with and without weight decay and momentum.
 *
 *   Adam:  g' = g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   SGD:   g' = g + wd p;  buf = g' at t = 1, else mu buf + g';
 *          p -= lr buf (lr g' when mu = 0)
 *
 * The library computes in float32: each parameter's update passes through a
 * handful of roundings, so it may differ from the double update by a few
 * units in its last place, and the new parameter by one rounding more:
 *     |p - p_exact| <= 16 u |update| + 2 u |p|,   u = 2^-24,
 * applied per step to the state carried in double.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common.h"

enum { STEPS = 3 };

typedef struct hand {
    double lr, b1, b2, eps, wd, mu;
} hand;

/* A small model and its optimizer of the given kind and settings. */
static vae_model *model_with(vae_optimizer **opt, vae_optim_kind kind, const hand *h)
{
    vae_model *m = small_model(8, 2, 0, 3);
    ASSERT_OK(vae_optimizer_create(opt, m, kind));
    ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_LR, h->lr));
    ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_WEIGHT_DECAY, h->wd));
    if (kind == VAE_OPTIM_ADAM) {
        ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_BETA1, h->b1));
        ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_BETA2, h->b2));
        ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_EPS, h->eps));
    } else {
        ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_MOMENTUM, h->mu));
    }
    return m;
}

/* Gradient of step t: varied signs and magnitudes over six decades, a few
 * exact zeros, the same on both sides. */
static float gradient(size_t i, int t)
{
    if ((i + (size_t)t) % 17 == 0) return 0.0f;
    const double mag = pow(10.0, (double)((i * 7 + (size_t)t * 3) % 7) - 4.0);
    return (float)(((i * 13 + (size_t)t) % 3 == 0 ? -1.0 : 1.0) * mag * (1.0 + 0.1 * t));
}

static void run(vae_optim_kind kind, const hand *h)
{
    vae_optimizer *opt = NULL;
    vae_model *m = model_with(&opt, kind, h);
    const size_t n = vae_model_param_count(m);
    double *p = malloc(n * sizeof *p), *mom = calloc(n, sizeof *mom), *v = calloc(n, sizeof *v);
    assert_non_null(p);
    assert_non_null(mom);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) p[i] = vae_model_params(m)[i];

    const double u = 0x1p-24;
    for (int t = 1; t <= STEPS; t++) {
        float *g = vae_model_grads(m);
        for (size_t i = 0; i < n; i++) g[i] = gradient(i, t);
        ASSERT_OK(vae_optimizer_step(opt));
        const float *got = vae_model_params(m);
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) {
            const double gi = gradient(i, t) + h->wd * p[i];
            double update;
            if (kind == VAE_OPTIM_ADAM) {
                mom[i] = h->b1 * mom[i] + (1 - h->b1) * gi;
                v[i] = h->b2 * v[i] + (1 - h->b2) * gi * gi;
                update = h->lr / (1 - pow(h->b1, t)) * mom[i] /
                         (sqrt(v[i]) / sqrt(1 - pow(h->b2, t)) + h->eps);
            } else {
                mom[i] = t == 1 ? gi : h->mu * mom[i] + gi;
                update = h->lr * (h->mu > 0 ? mom[i] : gi);
            }
            const double want = p[i] - update;
            const double tol = 16 * u * fabs(update) + 2 * u * fabs(want) + 1e-30;
            if (fabs((double)got[i] - want) > tol)
                fail_msg("%s step %d, parameter %zu: %.9g, by hand %.9g (update %.3g)",
                         kind == VAE_OPTIM_ADAM ? "Adam" : "SGD", t, i, (double)got[i], want,
                         update);
            moved += got[i] != (float)p[i];
            p[i] = got[i]; /* carry the library's state: the bound is per step */
        }
        assert_true(moved > n / 2); /* the step did change the parameters */
    }
    free(p);
    free(mom);
    free(v);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static void test_adam_defaults(void **state)
{
    (void)state;
    const hand h = {.lr = 1e-3, .b1 = 0.9, .b2 = 0.999, .eps = 1e-8};
    run(VAE_OPTIM_ADAM, &h);
}

static void test_adam_weight_decay_and_odd_betas(void **state)
{
    (void)state;
    const hand h = {.lr = 3e-2, .b1 = 0.5, .b2 = 0.9, .eps = 1e-3, .wd = 0.1};
    run(VAE_OPTIM_ADAM, &h);
}

static void test_sgd_plain(void **state)
{
    (void)state;
    const hand h = {.lr = 0.05};
    run(VAE_OPTIM_SGD, &h);
}

static void test_sgd_momentum_and_weight_decay(void **state)
{
    (void)state;
    const hand h = {.lr = 0.01, .mu = 0.9, .wd = 0.01};
    run(VAE_OPTIM_SGD, &h);
}

/* The first Adam step moves every parameter with a gradient far above eps
 * by lr against its sign: m / sqrt(v) = g / |g| once bias-corrected. */
static void test_adam_first_step_is_lr_times_sign(void **state)
{
    (void)state;
    const hand h = {.lr = 1e-3, .b1 = 0.9, .b2 = 0.999, .eps = 1e-8};
    vae_optimizer *opt = NULL;
    vae_model *m = model_with(&opt, VAE_OPTIM_ADAM, &h);
    const size_t n = vae_model_param_count(m);
    float *p0 = malloc(n * sizeof *p0);
    assert_non_null(p0);
    memcpy(p0, vae_model_params(m), n * sizeof *p0);
    for (size_t i = 0; i < n; i++) vae_model_grads(m)[i] = i % 2 ? 0.5f : -2.0f;
    ASSERT_OK(vae_optimizer_step(opt));
    for (size_t i = 0; i < n; i++) {
        const double d = (double)vae_model_params(m)[i] - p0[i];
        assert_true(fabs(d - (i % 2 ? -1e-3 : 1e-3)) < 1e-3 * 1e-4 + 4 * 0x1p-24 * fabs(p0[i]));
    }
    free(p0);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_defaults),
        cmocka_unit_test(test_adam_weight_decay_and_odd_betas),
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_momentum_and_weight_decay),
        cmocka_unit_test(test_adam_first_step_is_lr_times_sign),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
