/*
 * The check shared by test_collective.c (threads) and test_mpi.c (MPI):
 * one Adam step of W workers on b images each gives the parameters of one
 * worker on the W x b images, up to float rounding, with a tolerance derived
 * below rather than guessed.
 *
 * The gradient. One worker computes g1 = (1/B) sum_b t_b over the B = W x b
 * rows (t_b: row b's own gradient); worker r computes the mean over its b
 * rows, and the workers' all-reduce and division by W give g2, the same sum
 * grouped differently. Recursive summation of k terms errs by at most
 * gamma_k = k u / (1 - k u) times the sum of the |terms| (Higham, Accuracy
 * and Stability, 4.2), u = 2^-24; each side sums B terms, so
 *     |g2_i - g1_i| <= T_i = 2 gamma_B S_i,   S_i = (1/B) sum_b |t_b,i|,
 * doubled again (4 B u S_i) for the rows' own backward passes. The
 * forward pass of a row must not depend on the batch: workers_setup picks
 * a level where it does not. S_i is measured here
 * from B single-row passes, in double.
 *
 * The update. From a fresh Adam state the first step is
 *     p1 = p0 - lr g / (|g| + eps)
 * (m = (1-b1) g and sqrt(v) = sqrt(1-b2) |g| cancel their bias corrections),
 * so Adam turns the gradient into nearly its sign: a gradient error matters
 * only through f(g) = g / (|g| + eps), whose slope eps / (|g| + eps)^2 is
 * tiny unless |g| is near eps = 1e-8. Over [g1 - T, g1 + T], with
 * a = max(0, |g1| - T),
 *     |p2 - p1| <= lr min(2, T eps / (a + eps)^2) + 8 u lr + 2 u |p1|,
 * the last two terms being the rounding of the update and of p - update.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_TEST_COLLECTIVE_CHECK_H
#define VAE_TEST_COLLECTIVE_CHECK_H

#include <math.h>

#include "common.h"

/* The data of the tests with several workers: the first 1000 training
 * images, one GEMM thread per worker (the workers share the cores), and a
 * level whose rows do not depend on the batch size: the bound above covers
 * the gradient sums' rounding, not a forward pass that a BLAS may round
 * differently for 64 rows than for 128 (test_kernels.c). */
static vae_dataset *train_set;

static int workers_setup(void **state)
{
    (void)state;
    train_set = load_mnist_head("train", 1000);
    if (select_row_invariant_level() != 0) return -1;
    return vae_set_threads(1) == VAE_OK ? 0 : -1;
}

static int workers_teardown(void **state)
{
    (void)state;
    vae_dataset_free(train_set);
    return 0;
}

/* Leave in m's gradient buffer worker `rank`'s part of a step on the rows
 * x[rank * b .. (rank + 1) * b): first draw the latent noise the rows before
 * them used in the one-worker step (the lesson's 2-D latent takes one
 * Box-Muller pair per row), so that every row sees the same noise. */
static inline void prepare_worker_gradient(vae_model *m, const float *x, size_t b, size_t rank)
{
    double dim;
    ASSERT_OK(vae_model_get(m, VAE_PARAM_INPUT_DIM, &dim));
    if (rank > 0) ASSERT_OK(vae_model_backward(m, x, NULL, rank * b, NULL));
    ASSERT_OK(vae_model_backward(m, x + rank * b * (size_t)dim, NULL, b, NULL));
}

/* worker: one of the workers after a W-worker step on the B rows x (its
 * gradient buffer holds the mean), created as small_model(hidden, 2, 0,
 * seed). Takes the one-worker step on x and compares. */
static inline void check_step_matches(const float *x, size_t B, vae_model *worker,
                                      size_t hidden, uint64_t seed, double lr)
{
    vae_model *single = small_model(hidden, 2, 0, seed);
    vae_optimizer *adam = NULL;
    ASSERT_OK(vae_optimizer_create(&adam, single, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_optimizer_set(adam, VAE_OPTIM_LR, lr));
    float *p0 = malloc(vae_model_param_count(single) * sizeof *p0);
    assert_non_null(p0);
    memcpy(p0, vae_model_params(single), vae_model_param_count(single) * sizeof *p0);
    ASSERT_OK(vae_model_train_step(single, adam, x, NULL, B, NULL));

    const size_t n = vae_model_param_count(single);
    const double u = 0x1p-24, eps = 1e-8;

    /* S_i from B single-row passes of a fresh copy (the same noise in turn). */
    vae_model *rows = small_model(hidden, 2, 0, seed);
    double *S = calloc(n, sizeof *S);
    assert_non_null(S);
    for (size_t b = 0; b < B; b++) {
        ASSERT_OK(vae_model_backward(rows, x + b * 784, NULL, 1, NULL));
        const float *t = vae_model_grads(rows);
        for (size_t i = 0; i < n; i++) S[i] += fabs((double)t[i]) / (double)B;
    }
    vae_model_free(rows);

    const float *g1 = vae_model_grads(single), *g2 = vae_model_grads(worker);
    const float *p1 = vae_model_params(single), *p2 = vae_model_params(worker);
    double worst_g = 0, worst_p = 0, moved = 0;
    size_t bad_g = 0, bad_p = 0;
    for (size_t i = 0; i < n; i++) {
        const double T = 4.0 * (double)B * u * S[i];
        const double dg = fabs((double)g2[i] - g1[i]), dp = fabs((double)p2[i] - p1[i]);
        if (dg > T) bad_g++;
        if (T > 0) worst_g = fmax(worst_g, dg / T);
        const double a = fmax(0.0, fabs((double)g1[i]) - T);
        const double tol = lr * fmin(2.0, T * eps / ((a + eps) * (a + eps))) + 8 * u * lr +
                           2 * u * fabs((double)p1[i]);
        if (dp > tol) bad_p++;
        if (tol > 0) worst_p = fmax(worst_p, dp / tol);
        moved = fmax(moved, fabs((double)p1[i] - p0[i]));
    }
    print_message("step of %zu rows: gradient error <= %.3g of its bound, parameter error <= "
                  "%.3g of its bound, largest update %.3g\n",
                  B, worst_g, worst_p, moved);
    free(S);
    free(p0);
    vae_optimizer_free(adam);
    vae_model_free(single);
    assert_true(moved > 0.5 * lr); /* the step did move the parameters */
    assert_int_equal(bad_g, 0);
    assert_int_equal(bad_p, 0);
}

#endif /* VAE_TEST_COLLECTIVE_CHECK_H */
