/*
 * Data-parallel training over real MPI, through the callbacks vae-train-mpi
 * uses (examples/mpi-collective.c). Run by meson as
 *     mpirun -np 2 --oversubscribe test_mpi
 * Every worker runs every test; worker 0 does the comparisons. A failing
 * assertion on one worker cannot hang the other for long: the collectives
 * time out after TIMEOUT seconds.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <mpi.h>

#include "collective_check.h"
#include "common.h"
#include "mpi-collective.h"

enum { TIMEOUT = 60 };

static mpi_collective coll;

/* Whether every worker holds worker 0's bits in buf [n floats]. */
static int same_on_all_workers(const float *buf, size_t n)
{
    float *copy = malloc(n * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, buf, n * sizeof *copy);
    assert_int_equal(mpi_broadcast(&coll, copy, n * sizeof *copy, 0), 0);
    double differ = memcmp(copy, buf, n * sizeof *copy) != 0;
    free(copy);
    assert_int_equal(mpi_allreduce(&coll, &differ, 1, VAE_DTYPE_F64), 0);
    return differ == 0;
}

/* Two workers on 64 images each against one worker on the 128. */
static void test_step_matches_one_big_batch(void **state)
{
    (void)state;
    const size_t hidden = 400, B = 128, b = B / (size_t)coll.world;
    assert_int_equal(B % (size_t)coll.world, 0);
    float *x = malloc(B * 784 * sizeof *x);
    assert_non_null(x);
    ASSERT_OK(vae_dataset_get(train_set, 0, B, x, NULL));

    vae_model *m = small_model(hidden, 2, 0, 7);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    prepare_worker_gradient(m, x, b, (size_t)coll.rank);
    ASSERT_OK(mpi_collective_join(&coll, opt));
    ASSERT_OK(vae_optimizer_step(opt));
    assert_true(same_on_all_workers(vae_model_params(m), vae_model_param_count(m)));

    if (coll.rank == 0) check_step_matches(x, B, m, hidden, 7, 1e-3);
    vae_optimizer_free(opt);
    vae_model_free(m);
    free(x);
}

/* Workers created with different seeds train as one after joining. */
static void test_epochs_keep_workers_identical(void **state)
{
    (void)state;
    vae_model *m = small_model(32, 2, 0, 3 + (uint64_t)coll.rank);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    ASSERT_OK(mpi_collective_join(&coll, opt));
    vae_loss mean;
    for (int e = 0; e < 2; e++) ASSERT_OK(vae_train_epoch(m, opt, train_set, 50, NULL, NULL, &mean));
    const size_t global = 50 * (size_t)coll.world;
    assert_int_equal(vae_model_steps(m), 2 * ((1000 + global - 1) / global));
    assert_true(same_on_all_workers(vae_model_params(m), vae_model_param_count(m)));
    float loss = (float)mean.total;
    assert_true(same_on_all_workers(&loss, 1));
    assert_true(mean.total < 535); /* an untrained model scores ~543 */
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* A worker whose step fails makes the others fail too, at once. */
static void test_a_failing_step_fails_every_worker(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    ASSERT_OK(mpi_collective_join(&coll, opt));
    float x[4 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 4, x, NULL));
    if (coll.rank == 1) x[100] = 1.5f; /* refused by the Bernoulli model */
    const vae_status s = vae_model_train_step(m, opt, x, NULL, 4, NULL);
    assert_int_equal(s, coll.rank == 1 ? VAE_ERR_INVALID_ARGUMENT : VAE_ERR_NUMERIC);
    assert_int_equal(vae_model_steps(m), 0);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mpi_collective_init(&coll, MPI_COMM_WORLD, TIMEOUT);
    if (coll.world < 2) {
        fprintf(stderr, "test_mpi: run me under mpirun -np 2 (or more)\n");
        MPI_Finalize();
        return 77; /* skipped */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_matches_one_big_batch),
        cmocka_unit_test(test_epochs_keep_workers_identical),
        cmocka_unit_test(test_a_failing_step_fails_every_worker),
    };
    const int failed = cmocka_run_group_tests_name("mpi", tests, workers_setup, workers_teardown);
    MPI_Finalize();
    return failed;
}
