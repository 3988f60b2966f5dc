/*
 * Data-parallel training without MPI: W workers are W threads in this
 * process, each with its own model, joined by an in-process all-reduce and
 * broadcast (a barrier, then a sum in rank order). The same checks run over
 * real MPI in test_mpi.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "collective_check.h"
#include "common.h"

enum { MAX_WORKERS = 4 };

/* ---- the in-process collectives ------------------------------------------ */

typedef struct group {
    int world;
    pthread_barrier_t barrier;
    void *bufs[MAX_WORKERS];
    int calls_left; /* world 1 only: fail once this many calls succeeded (-1: never) */
} group;

typedef struct worker {
    group *g;
    int rank;
} worker;

/* Sum in rank order, so every worker computes the very same bits. */
static int fake_allreduce(void *user, void *buf, size_t count, vae_dtype type)
{
    worker *w = user;
    group *g = w->g;
    if (g->calls_left == 0) return -1;
    if (g->calls_left > 0) g->calls_left--;
    const size_t size = type == VAE_DTYPE_F64 ? sizeof(double) : sizeof(float);
    void *sum = malloc(count * size);
    assert_non_null(sum);
    g->bufs[w->rank] = buf;
    pthread_barrier_wait(&g->barrier);
    for (size_t i = 0; i < count; i++) {
        if (type == VAE_DTYPE_F64) {
            double s = ((double *)g->bufs[0])[i];
            for (int r = 1; r < g->world; r++) s += ((double *)g->bufs[r])[i];
            ((double *)sum)[i] = s;
        } else {
            float s = ((float *)g->bufs[0])[i];
            for (int r = 1; r < g->world; r++) s += ((float *)g->bufs[r])[i];
            ((float *)sum)[i] = s;
        }
    }
    pthread_barrier_wait(&g->barrier); /* every worker has read every buf */
    memcpy(buf, sum, count * size);
    free(sum);
    return 0;
}

static int fake_broadcast(void *user, void *buf, size_t bytes, int root)
{
    worker *w = user;
    group *g = w->g;
    if (g->calls_left == 0) return -1;
    if (g->calls_left > 0) g->calls_left--;
    g->bufs[w->rank] = buf;
    pthread_barrier_wait(&g->barrier);
    if (w->rank != root) memcpy(buf, g->bufs[root], bytes);
    pthread_barrier_wait(&g->barrier);
    return 0;
}

/* One job per worker, run on its own thread. */
typedef struct job {
    worker w;
    vae_model *m;
    vae_optimizer *opt;
    vae_dataset *ds;
    size_t batch;
    int epochs;
    vae_progress_fn progress;
    vae_status status; /* of the last call */
    char error[512];
    vae_loss mean;
} job;

static void run_workers(group *g, job *jobs, void *(*fn)(void *))
{
    pthread_t t[MAX_WORKERS];
    pthread_barrier_init(&g->barrier, NULL, (unsigned)g->world);
    for (int r = 0; r < g->world; r++) {
        jobs[r].w = (worker){g, r};
        assert_int_equal(pthread_create(&t[r], NULL, fn, &jobs[r]), 0);
    }
    for (int r = 0; r < g->world; r++) pthread_join(t[r], NULL);
    pthread_barrier_destroy(&g->barrier);
}

static void finish(job *j, vae_status s)
{
    j->status = s;
    snprintf(j->error, sizeof j->error, "%s", vae_last_error());
}

static void *join_job(void *arg)
{
    job *j = arg;
    finish(j, vae_optimizer_set_collective(j->opt, fake_allreduce, fake_broadcast, &j->w,
                                           j->w.rank, j->w.g->world));
    return NULL;
}

/* Join, then train j->epochs epochs (stopping at the first failure). */
static void *train_job(void *arg)
{
    job *j = arg;
    vae_status s = vae_optimizer_set_collective(j->opt, fake_allreduce, fake_broadcast, &j->w,
                                                j->w.rank, j->w.g->world);
    for (int e = 0; e < j->epochs && s == VAE_OK; e++)
        s = vae_train_epoch(j->m, j->opt, j->ds, j->batch, j->progress, j, &j->mean);
    finish(j, s);
    return NULL;
}

static void *step_job(void *arg)
{
    job *j = arg;
    vae_status s = vae_optimizer_set_collective(j->opt, fake_allreduce, fake_broadcast, &j->w,
                                                j->w.rank, j->w.g->world);
    if (s == VAE_OK) s = vae_optimizer_step(j->opt);
    finish(j, s);
    return NULL;
}

static void free_jobs(job *jobs, int n)
{
    for (int r = 0; r < n; r++) {
        vae_optimizer_free(jobs[r].opt);
        vae_model_free(jobs[r].m);
    }
}

static job new_job(size_t hidden, uint64_t seed, vae_optim_kind kind)
{
    job j = {.m = small_model(hidden, 2, 0, seed), .ds = train_set};
    ASSERT_OK(vae_optimizer_create(&j.opt, j.m, kind));
    return j;
}

/* ---- one step: W workers on b images each = one worker on W x b ---------- */

static void step_matches_one_big_batch(int world)
{
    const size_t batch = 128 / (size_t)world, hidden = 400; /* the lesson's model */
    float *x = malloc(128 * 784 * sizeof *x);
    assert_non_null(x);
    ASSERT_OK(vae_dataset_get(train_set, 0, 128, x, NULL));

    group g = {.world = world, .calls_left = -1};
    job jobs[MAX_WORKERS];
    for (int r = 0; r < world; r++) {
        jobs[r] = new_job(hidden, 7, VAE_OPTIM_ADAM);
        prepare_worker_gradient(jobs[r].m, x, batch, (size_t)r);
    }
    run_workers(&g, jobs, step_job);
    for (int r = 0; r < world; r++) ASSERT_OK(jobs[r].status);

    check_step_matches(x, 128, jobs[0].m, hidden, 7, 1e-3);
    for (int r = 1; r < world; r++) /* the workers' copies stay identical */
        assert_memory_equal(vae_model_params(jobs[r].m), vae_model_params(jobs[0].m),
                            vae_model_param_count(jobs[0].m) * sizeof(float));
    free_jobs(jobs, world);
    free(x);
}

static void test_two_workers_step_as_one(void **state)
{
    (void)state;
    step_matches_one_big_batch(2);
}

static void test_four_workers_step_as_one(void **state)
{
    (void)state;
    step_matches_one_big_batch(4);
}

/* ---- epochs ---------------------------------------------------------------- */

/* Train 2 epochs of a small model with `world` workers; returns worker 0's
 * parameters (caller frees) and its mean loss of the last epoch. */
static float *train_workers(int world, size_t batch, vae_loss *mean, vae_dataset *ds)
{
    group g = {.world = world, .calls_left = -1};
    job jobs[MAX_WORKERS];
    for (int r = 0; r < world; r++) {
        jobs[r] = new_job(32, 3, VAE_OPTIM_ADAM);
        jobs[r].ds = ds;
        jobs[r].batch = batch;
        jobs[r].epochs = 2;
    }
    run_workers(&g, jobs, train_job);
    const size_t n = vae_model_param_count(jobs[0].m);
    for (int r = 0; r < world; r++) {
        ASSERT_OK(jobs[r].status);
        assert_int_equal(vae_model_epochs(jobs[r].m), 2);
        assert_memory_equal(vae_model_params(jobs[r].m), vae_model_params(jobs[0].m),
                            n * sizeof(float));
        assert_true(jobs[r].mean.total == jobs[0].mean.total); /* the same global mean */
    }
    /* ceil(n / (world x batch)) steps per epoch, on every worker */
    const size_t global = (size_t)world * batch, count = vae_dataset_count(ds);
    assert_int_equal(vae_model_steps(jobs[0].m), 2 * ((count + global - 1) / global));
    *mean = jobs[0].mean;
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, vae_model_params(jobs[0].m), n * sizeof *p);
    free_jobs(jobs, world);
    return p;
}

/* The model of train_workers() trained 2 epochs alone, with no collective. */
static job train_alone(size_t batch, vae_loss *mean)
{
    job j = new_job(32, 3, VAE_OPTIM_ADAM);
    for (int e = 0; e < 2; e++)
        ASSERT_OK(vae_train_epoch(j.m, j.opt, train_set, batch, NULL, NULL, mean));
    return j;
}

static void test_one_worker_is_single_training(void **state)
{
    (void)state;
    vae_loss with, without;
    float *p = train_workers(1, 100, &with, train_set);
    job plain = train_alone(100, &without);
    assert_memory_equal(p, vae_model_params(plain.m), vae_model_param_count(plain.m) * sizeof *p);
    assert_true(with.total == without.total && with.kl == without.kl);
    free_jobs(&plain, 1);
    free(p);
}

static void test_workers_stay_identical_and_learn(void **state)
{
    (void)state;
    /* 1000 images, 3 x 48 per step: 6 full steps and a tail of 136 split
     * 46 + 45 + 45. One worker with the global batch of 144 learns as much,
     * up to the noise (different draws: ~0.3 nats here). */
    vae_loss mean, alone;
    float *p = train_workers(3, 48, &mean, train_set);
    job one = train_alone(144, &alone);
    print_message("2 epochs: 3 workers x 48 %.2f, 1 worker x 144 %.2f\n", mean.total,
                  alone.total);
    assert_true(fabs(mean.total - alone.total) < 3.0);
    assert_true(mean.total < 535); /* an untrained model scores ~543 */
    free_jobs(&one, 1);
    free(p);
}

/* With the latent noise switched off (log-variance clamped to e^-80), an
 * epoch is deterministic up to rounding: W workers over a data set whose
 * last step has fewer images than workers must then follow one worker with
 * the global batch, which tests the sharding and the weighting of unequal
 * parts. SGD keeps the effect of rounding linear (|dp| = lr |dg|). */
static void test_uneven_epoch_matches_one_worker(void **state)
{
    (void)state;
    enum { WORLD = 4, BATCH = 8, COUNT = 5 * WORLD * BATCH + 3 }; /* tail: 1 + 1 + 1 + 0 */
    vae_dataset *ds = head_of(train_set, COUNT);
    job jobs[WORLD + 1];
    for (int r = 0; r <= WORLD; r++) {
        jobs[r] = new_job(32, 5, VAE_OPTIM_SGD);
        ASSERT_OK(vae_model_set(jobs[r].m, VAE_PARAM_LOGVAR_MIN, -80));
        ASSERT_OK(vae_model_set(jobs[r].m, VAE_PARAM_LOGVAR_MAX, -79));
        ASSERT_OK(vae_optimizer_set(jobs[r].opt, VAE_OPTIM_LR, 0.01));
        jobs[r].ds = ds;
        jobs[r].batch = BATCH;
        jobs[r].epochs = 1;
    }
    job *one = &jobs[WORLD];
    const size_t n = vae_model_param_count(one->m);
    float *p0 = malloc(n * sizeof *p0);
    assert_non_null(p0);
    memcpy(p0, vae_model_params(one->m), n * sizeof *p0);
    ASSERT_OK(vae_train_epoch(one->m, one->opt, ds, WORLD * BATCH, NULL, NULL, &one->mean));

    group g = {.world = WORLD, .calls_left = -1};
    run_workers(&g, jobs, train_job);
    ASSERT_OK(jobs[0].status);
    assert_int_equal(vae_model_steps(jobs[0].m), vae_model_steps(one->m));

    const float *pw = vae_model_params(jobs[0].m), *p1 = vae_model_params(one->m);
    double diff = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)pw[i] - p1[i]));
        moved = fmax(moved, fabs((double)p1[i] - p0[i]));
    }
    /* Rounding differences of the gradient sums are ~1e-6 of the update; a
     * misplaced or misweighted share would be of the update's own order. */
    print_message("uneven epoch: max |p_4 - p_1| = %.3g, max update %.3g\n", diff, moved);
    assert_true(moved > 1e-3);
    assert_true(diff <= 1e-4 * moved);
    assert_true(fabs(jobs[0].mean.total - one->mean.total) <= 1e-5 * one->mean.total);
    free_jobs(jobs, WORLD + 1);
    vae_dataset_free(ds);
    free(p0);
}

/* Two workers for 2 epochs, straight or through a checkpoint of worker 0
 * loaded by both: the same bits. */
static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    vae_loss straight;
    float *ref = train_workers(2, 50, &straight, train_set);

    char dir[] = "/tmp/vae-test-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.vae", dir);
    group g = {.world = 2, .calls_left = -1};
    job jobs[2];
    for (int r = 0; r < 2; r++) {
        jobs[r] = new_job(32, 3, VAE_OPTIM_ADAM);
        jobs[r].batch = 50;
        jobs[r].epochs = 1;
    }
    run_workers(&g, jobs, train_job);
    ASSERT_OK(jobs[0].status);
    ASSERT_OK(vae_checkpoint_save(path, jobs[0].m, jobs[0].opt));
    free_jobs(jobs, 2);
    for (int r = 0; r < 2; r++) {
        ASSERT_OK(vae_checkpoint_load(path, &jobs[r].m, &jobs[r].opt));
        jobs[r].ds = train_set;
    }
    run_workers(&g, jobs, train_job);
    ASSERT_OK(jobs[1].status);
    assert_memory_equal(vae_model_params(jobs[1].m), ref,
                        vae_model_param_count(jobs[1].m) * sizeof *ref);
    assert_true(jobs[1].mean.total == straight.total);
    free_jobs(jobs, 2);
    unlink(path);
    rmdir(dir);
    free(ref);
}

/* ---- joining ----------------------------------------------------------------- */

static void test_join_adopts_worker_zero(void **state)
{
    (void)state;
    group g = {.world = 2, .calls_left = -1};
    job jobs[2] = {new_job(32, 1, VAE_OPTIM_ADAM), new_job(32, 2, VAE_OPTIM_ADAM)};
    ASSERT_OK(vae_optimizer_set(jobs[0].opt, VAE_OPTIM_LR, 3e-4));
    run_workers(&g, jobs, join_job);
    ASSERT_OK(jobs[0].status);
    ASSERT_OK(jobs[1].status);
    const size_t n = vae_model_param_count(jobs[0].m);
    assert_memory_equal(vae_model_params(jobs[1].m), vae_model_params(jobs[0].m), n * sizeof(float));
    double lr, seed;
    ASSERT_OK(vae_optimizer_get(jobs[1].opt, VAE_OPTIM_LR, &lr));
    ASSERT_OK(vae_model_get(jobs[1].m, VAE_PARAM_SEED, &seed));
    assert_true(lr == 3e-4 && seed == 1);
    free_jobs(jobs, 2);
}

static void test_join_refuses_other_shapes(void **state)
{
    (void)state;
    group g = {.world = 2, .calls_left = -1};
    job jobs[2] = {new_job(32, 1, VAE_OPTIM_ADAM), new_job(16, 1, VAE_OPTIM_ADAM)};
    const size_t n = vae_model_param_count(jobs[1].m);
    float *before = malloc(n * sizeof *before);
    assert_non_null(before);
    memcpy(before, vae_model_params(jobs[1].m), n * sizeof *before);
    run_workers(&g, jobs, join_job);
    for (int r = 0; r < 2; r++) assert_int_equal(jobs[r].status, VAE_ERR_MISMATCH);
    assert_non_null(strstr(jobs[0].error, "another shape"));
    assert_memory_equal(vae_model_params(jobs[1].m), before, n * sizeof *before);
    /* Not joined: the optimizer still works alone. */
    ASSERT_OK(vae_train_epoch(jobs[1].m, jobs[1].opt, train_set, 500, NULL, NULL, NULL));
    free_jobs(jobs, 2);
    free(before);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    job j = new_job(8, 1, VAE_OPTIM_ADAM);
    worker w = {NULL, 0};
    assert_int_equal(vae_optimizer_set_collective(NULL, fake_allreduce, fake_broadcast, &w, 0, 1),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_set_collective(j.opt, fake_allreduce, NULL, &w, 0, 1),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_set_collective(j.opt, fake_allreduce, fake_broadcast, &w, 2, 2),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "rank 2 is outside [0, 2)"));
    assert_int_equal(vae_optimizer_set_collective(j.opt, fake_allreduce, fake_broadcast, &w, 0, 0),
                     VAE_ERR_INVALID_ARGUMENT);
    ASSERT_OK(vae_optimizer_set_collective(j.opt, NULL, NULL, NULL, 0, 0)); /* detach: fine */
    free_jobs(&j, 1);
}

/* ---- failures: every worker returns, none waits ----------------------------- */

static void test_failing_callback_changes_nothing(void **state)
{
    (void)state;
    group g = {.world = 1, .calls_left = -1};
    job j = new_job(16, 1, VAE_OPTIM_ADAM);
    j.w = (worker){&g, 0};
    pthread_barrier_init(&g.barrier, NULL, 1);
    ASSERT_OK(vae_optimizer_set_collective(j.opt, fake_allreduce, fake_broadcast, &j.w, 0, 1));
    float x[4 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 4, x, NULL));
    ASSERT_OK(vae_model_train_step(j.m, j.opt, x, NULL, 4, NULL));

    const size_t n = vae_model_param_count(j.m);
    float *saved = malloc(n * sizeof *saved);
    assert_non_null(saved);
    memcpy(saved, vae_model_params(j.m), n * sizeof *saved);
    g.calls_left = 0;
    assert_int_equal(vae_model_train_step(j.m, j.opt, x, NULL, 4, NULL), VAE_ERR_CALLBACK);
    assert_non_null(strstr(vae_last_error(), "all-reduce of the gradient"));
    assert_non_null(strstr(vae_last_error(), "returned -1"));
    assert_memory_equal(vae_model_params(j.m), saved, n * sizeof *saved);
    assert_int_equal(vae_model_steps(j.m), 1);
    assert_int_equal(vae_train_epoch(j.m, j.opt, train_set, 100, NULL, NULL, NULL),
                     VAE_ERR_CALLBACK);
    assert_memory_equal(vae_model_params(j.m), saved, n * sizeof *saved);
    assert_int_equal(vae_model_epochs(j.m), 0);

    g.calls_left = 1; /* the epoch check passes, the first step's reduce fails */
    assert_int_equal(vae_train_epoch(j.m, j.opt, train_set, 100, NULL, NULL, NULL),
                     VAE_ERR_CALLBACK);
    assert_non_null(strstr(vae_last_error(), "step's losses"));
    assert_int_equal(vae_model_steps(j.m), 1);

    /* A failed join leaves the optimizer as it was: alone. */
    vae_optimizer *other = NULL;
    ASSERT_OK(vae_optimizer_create(&other, j.m, VAE_OPTIM_SGD));
    g.calls_left = 0;
    assert_int_equal(vae_optimizer_set_collective(other, fake_allreduce, fake_broadcast, &j.w, 0, 1),
                     VAE_ERR_CALLBACK);
    ASSERT_OK(vae_optimizer_step(other)); /* no collective: no callback called */
    vae_optimizer_free(other);
    pthread_barrier_destroy(&g.barrier);
    free_jobs(&j, 1);
    free(saved);
}

static void *bad_step_job(void *arg)
{
    job *j = arg;
    float x[4 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 4, x, NULL));
    if (j->w.rank == 1) x[100] = 1.5f; /* outside [0,1]: refused by the Bernoulli model */
    vae_status s = vae_optimizer_set_collective(j->opt, fake_allreduce, fake_broadcast, &j->w,
                                                j->w.rank, j->w.g->world);
    if (s == VAE_OK) s = vae_model_train_step(j->m, j->opt, x, NULL, 4, NULL);
    finish(j, s);
    return NULL;
}

static void test_a_failing_step_fails_every_worker(void **state)
{
    (void)state;
    group g = {.world = 2, .calls_left = -1};
    job jobs[2] = {new_job(16, 1, VAE_OPTIM_ADAM), new_job(16, 1, VAE_OPTIM_ADAM)};
    run_workers(&g, jobs, bad_step_job);
    assert_int_equal(jobs[1].status, VAE_ERR_INVALID_ARGUMENT); /* its own reason */
    assert_non_null(strstr(jobs[1].error, "row 0, column 100"));
    assert_int_equal(jobs[0].status, VAE_ERR_NUMERIC);
    assert_non_null(strstr(jobs[0].error, "averaged over 2 workers is not finite"));
    for (int r = 0; r < 2; r++) assert_int_equal(vae_model_steps(jobs[r].m), 0);
    free_jobs(jobs, 2);
}

/* Two workers, each on its own copy of the data, train one epoch. */
static void train_pair(job jobs[2], vae_dataset *ds0, vae_dataset *ds1)
{
    group g = {.world = 2, .calls_left = -1};
    vae_dataset *ds[2] = {ds0, ds1};
    for (int r = 0; r < 2; r++) {
        jobs[r] = new_job(16, 1, VAE_OPTIM_ADAM);
        jobs[r].ds = ds[r];
        jobs[r].batch = 50;
        jobs[r].epochs = 1;
    }
    run_workers(&g, jobs, train_job);
}

static void test_a_failing_epoch_fails_every_worker(void **state)
{
    (void)state;
    /* Worker 1's copy of the data holds values a Bernoulli model refuses. */
    const size_t count = 200;
    float *bad = malloc(count * 784 * sizeof *bad);
    assert_non_null(bad);
    for (size_t i = 0; i < count * 784; i++) bad[i] = 2.0f;
    vae_dataset *bad_ds = NULL, *good = head_of(train_set, count);
    ASSERT_OK(vae_dataset_from_f32(&bad_ds, bad, count, 784, NULL, VAE_DATASET_BORROW));
    job jobs[2];
    train_pair(jobs, good, bad_ds);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(jobs[r].status, VAE_ERR_INVALID_ARGUMENT);
        assert_int_equal(vae_model_steps(jobs[r].m), 0);
    }
    assert_non_null(strstr(jobs[0].error, "1 other worker(s) failed (invalid argument"));
    free_jobs(jobs, 2);

    /* Workers with data sets of different sizes would take different step
     * counts: refused by all before the first step. */
    vae_dataset *small = head_of(train_set, count / 2);
    job more[2];
    train_pair(more, good, small);
    for (int r = 0; r < 2; r++) assert_int_equal(more[r].status, VAE_ERR_MISMATCH);
    assert_non_null(strstr(more[0].error, "disagree on the data set size"));
    free_jobs(more, 2);
    vae_dataset_free(small);
    vae_dataset_free(good);
    vae_dataset_free(bad_ds);
    free(bad);
}

/* Two workers (new_job(16, 1, Adam)) train one epoch in batches of
 * `batch`, with a progress callback that gets each its job. */
static void train_two_with_progress(job jobs[2], size_t batch, vae_progress_fn progress)
{
    group g = {.world = 2, .calls_left = -1};
    for (int r = 0; r < 2; r++) {
        jobs[r] = new_job(16, 1, VAE_OPTIM_ADAM);
        jobs[r].batch = batch;
        jobs[r].epochs = 1;
        jobs[r].progress = progress;
    }
    run_workers(&g, jobs, train_job);
}

static int stop_on_worker_zero(void *user, size_t batch, size_t batches, const vae_loss *loss)
{
    (void)batches;
    (void)loss;
    const job *j = user;
    return j->w.rank == 0 && batch >= 2;
}

static void test_a_stop_stops_every_worker(void **state)
{
    (void)state;
    job jobs[2];
    train_two_with_progress(jobs, 50, stop_on_worker_zero);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(jobs[r].status, VAE_ERR_CANCELLED);
        assert_int_equal(vae_model_steps(jobs[r].m), 3); /* stopped after batch 2 (0-based) */
        assert_int_equal(vae_model_epochs(jobs[r].m), 0);
        assert_true(jobs[r].mean.total > 0);
    }
    assert_memory_equal(vae_model_params(jobs[1].m), vae_model_params(jobs[0].m),
                        vae_model_param_count(jobs[0].m) * sizeof(float));
    free_jobs(jobs, 2);
}

static int stop_at_the_last_on_worker_one(void *user, size_t batch, size_t batches,
                                          const vae_loss *loss)
{
    (void)loss;
    const job *j = user;
    return j->w.rank == 1 && batch + 1 == batches;
}

/* A stop after the last batch has no next step to be voted with: it gets a
 * vote of its own, so every worker returns VAE_ERR_CANCELLED (it was lost),
 * and the epoch, whole, counts on every worker. */
static void test_a_stop_after_the_last_batch_stops_every_worker(void **state)
{
    (void)state;
    job jobs[2];
    train_two_with_progress(jobs, 250, stop_at_the_last_on_worker_one);
    const size_t count = vae_dataset_count(jobs[0].ds);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(jobs[r].status, VAE_ERR_CANCELLED);
        assert_int_equal(vae_model_steps(jobs[r].m), (count + 499) / 500);
        assert_int_equal(vae_model_epochs(jobs[r].m), 1);
    }
    assert_memory_equal(vae_model_params(jobs[1].m), vae_model_params(jobs[0].m),
                        vae_model_param_count(jobs[0].m) * sizeof(float));
    free_jobs(jobs, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers_step_as_one),
        cmocka_unit_test(test_four_workers_step_as_one),
        cmocka_unit_test(test_one_worker_is_single_training),
        cmocka_unit_test(test_workers_stay_identical_and_learn),
        cmocka_unit_test(test_uneven_epoch_matches_one_worker),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_join_adopts_worker_zero),
        cmocka_unit_test(test_join_refuses_other_shapes),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_failing_callback_changes_nothing),
        cmocka_unit_test(test_a_failing_step_fails_every_worker),
        cmocka_unit_test(test_a_failing_epoch_fails_every_worker),
        cmocka_unit_test(test_a_stop_stops_every_worker),
        cmocka_unit_test(test_a_stop_after_the_last_batch_stops_every_worker),
    };
    return cmocka_run_group_tests_name("collective", tests, workers_setup, workers_teardown);
}
