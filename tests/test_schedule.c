/*
 * The KL weight in force, step by step, as vae_loss.kl_weight reports it:
 * constant, linear warm-up, cyclical annealing (Fu et al. 2019), changed
 * on a live model; and the objective it weights, with and without free bits.
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

enum { B = 4 };

static float batch[B * 784];

static int setup(void **state)
{
    (void)state;
    vae_dataset *ds = load_mnist("t10k");
    ASSERT_OK(vae_dataset_get(ds, 0, B, batch, NULL));
    vae_dataset_free(ds);
    return 0;
}

/* Take `steps` training steps on the batch; weights[s] gets step s's KL weight. */
static void run(vae_model *m, size_t steps, double *weights, vae_loss *last)
{
    vae_optimizer *opt;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    for (size_t s = 0; s < steps; s++) {
        vae_loss l;
        ASSERT_OK(vae_model_train_step(m, opt, batch, NULL, B, &l));
        weights[s] = l.kl_weight;
        /* objective = recon + weight * KL, without free bits */
        assert_true(fabs(l.objective - (l.recon + l.kl_weight * l.kl)) < 1e-9 * l.objective);
        if (last) *last = l;
    }
    vae_optimizer_free(opt);
}

static vae_model *scheduled(double beta, int schedule, double warmup, double cycle)
{
    vae_model *m = small_model(16, 2, 0, 1);
    ASSERT_OK(vae_model_set(m, VAE_PARAM_BETA, beta));
    ASSERT_OK(vae_model_set(m, VAE_PARAM_KL_SCHEDULE, schedule));
    ASSERT_OK(vae_model_set(m, VAE_PARAM_KL_WARMUP_STEPS, warmup));
    ASSERT_OK(vae_model_set(m, VAE_PARAM_KL_CYCLE_STEPS, cycle));
    return m;
}

static void expect(const double *got, const double *want, size_t n)
{
    for (size_t s = 0; s < n; s++)
        if (fabs(got[s] - want[s]) > 1e-12) fail_msg("step %zu: weight %.6f, expected %.6f", s, got[s], want[s]);
}

static void test_constant_and_linear_warmup(void **state)
{
    (void)state;
    double w[12];
    vae_model *m = scheduled(0.5, VAE_KL_CONSTANT, 4, 0);
    run(m, 3, w, NULL);
    expect(w, (const double[]){0.5, 0.5, 0.5}, 3);
    vae_model_free(m);

    /* beta * min(1, s / 4) for s = 0, 1, ...: the first step has weight 0. */
    m = scheduled(2.0, VAE_KL_LINEAR, 4, 0);
    run(m, 7, w, NULL);
    expect(w, (const double[]){0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0}, 7);
    vae_model_free(m);

    /* No warm-up length: the plain beta. */
    m = scheduled(1.0, VAE_KL_LINEAR, 0, 0);
    run(m, 2, w, NULL);
    expect(w, (const double[]){1, 1}, 2);
    vae_model_free(m);
}

static void test_cyclical(void **state)
{
    (void)state;
    double w[12];
    /* Cycles of 6 steps, ramp over the first half (R = 0.5): 0, 1/3, 2/3, 1, 1, 1, again. */
    vae_model *m = scheduled(1.0, VAE_KL_CYCLICAL, 0, 6);
    run(m, 12, w, NULL);
    const double third = 1.0 / 3.0;
    expect(w, (const double[]){0, third, 2 * third, 1, 1, 1, 0, third, 2 * third, 1, 1, 1}, 12);
    vae_model_free(m);

    /* An explicit ramp of 2 steps in cycles of 5, beta 4. */
    m = scheduled(4.0, VAE_KL_CYCLICAL, 2, 5);
    run(m, 10, w, NULL);
    expect(w, (const double[]){0, 2, 4, 4, 4, 0, 2, 4, 4, 4}, 10);
    vae_model_free(m);

    /* A ramp longer than the cycle is cut to the cycle. */
    m = scheduled(1.0, VAE_KL_CYCLICAL, 10, 4);
    run(m, 5, w, NULL);
    expect(w, (const double[]){0, 0.25, 0.5, 0.75, 0}, 5);
    vae_model_free(m);

    /* No cycle length: the plain beta. */
    m = scheduled(3.0, VAE_KL_CYCLICAL, 2, 0);
    run(m, 2, w, NULL);
    expect(w, (const double[]){3, 3}, 2);
    vae_model_free(m);
}

static void test_schedule_follows_the_step_count(void **state)
{
    (void)state;
    double w[8];
    vae_model *m = scheduled(1.0, VAE_KL_CONSTANT, 8, 0);
    run(m, 2, w, NULL);
    /* Switched on a live model, the ramp counts the steps already taken. */
    ASSERT_OK(vae_model_set(m, VAE_PARAM_KL_SCHEDULE, VAE_KL_LINEAR));
    run(m, 3, w, NULL);
    expect(w, (const double[]){0.25, 0.375, 0.5}, 3);
    assert_int_equal(vae_model_steps(m), 5);
    vae_model_free(m);
}

static void test_free_bits_floor(void **state)
{
    (void)state;
    double w[1];
    vae_loss l;
    vae_model *m = scheduled(2.0, VAE_KL_CONSTANT, 0, 0);
    /* A floor above every dimension's KL: the penalty is latent_dim * floor. */
    ASSERT_OK(vae_model_set(m, VAE_PARAM_FREE_BITS, 50.0));
    vae_optimizer *opt;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_model_train_step(m, opt, batch, NULL, B, &l));
    assert_true(l.kl < 100.0);
    assert_true(fabs(l.objective - (l.recon + 2.0 * 2 * 50.0)) < 1e-9 * l.objective);
    vae_optimizer_free(opt);
    /* A floor of 0 is no floor. */
    ASSERT_OK(vae_model_set(m, VAE_PARAM_FREE_BITS, 0.0));
    run(m, 1, w, &l);
    vae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_and_linear_warmup),
        cmocka_unit_test(test_cyclical),
        cmocka_unit_test(test_schedule_follows_the_step_count),
        cmocka_unit_test(test_free_bits_floor),
    };
    return cmocka_run_group_tests_name("schedule", tests, setup, NULL);
}
