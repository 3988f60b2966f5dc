/*
 * The threading contract: distinct models train on distinct threads at the
 * same time, sharing one dataset read-only, and get bit for bit what they
 * get one after the other. Meanwhile other threads use the process-wide
 * calls that may run at any time (log callback, queries) and their own
 * error messages. The log callback and its argument always travel as a
 * pair. Built into the ThreadSanitizer run of tools/run-tests.sh.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "common.h"
#include "error.h"
#include "kernels/threadpool.h"

enum { MODELS = 2, HIDDEN = 32, EPOCHS = 2, BATCH = 64 };

/* VAE_TEST_QUICK=1 (the valgrind run, which runs threads one at a time)
 * shrinks the work; the checks stay the same. */
static size_t samples = 512;
static int log_rounds = 20000;
static vae_dataset *data;

static int setup(void **state)
{
    (void)state;
    if (getenv("VAE_TEST_QUICK")) {
        samples = 128;
        log_rounds = 1000;
    }
    data = load_mnist_head("train", samples);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vae_dataset_free(data);
    return 0;
}

/* What one training run produces. */
typedef struct {
    uint64_t seed;
    pthread_barrier_t *start; /* NULL when run alone */
    vae_status status;
    vae_loss epochs[EPOCHS], test;
    float *params, *z; /* copies, malloc'd */
    size_t n_params;
    char error[256]; /* this thread's own message for a call that must fail */
} run;

static void *train(void *arg)
{
    run *r = arg;
    vae_model *m = NULL;
    vae_optimizer *opt = NULL;
    vae_config *cfg = NULL;
    const size_t hidden = HIDDEN;
    if (r->start) pthread_barrier_wait(r->start);
    r->status = vae_config_create(&cfg);
    if (r->status == VAE_OK) r->status = vae_config_set(cfg, VAE_PARAM_SEED, (double)r->seed);
    if (r->status == VAE_OK) r->status = vae_config_set_hidden(cfg, VAE_BOTH, &hidden, 1);
    if (r->status == VAE_OK) r->status = vae_model_create(&m, cfg);
    vae_config_free(cfg);
    if (r->status == VAE_OK) r->status = vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM);
    for (int e = 0; e < EPOCHS && r->status == VAE_OK; e++)
        r->status = vae_train_epoch(m, opt, data, BATCH, NULL, NULL, &r->epochs[e]);
    if (r->status == VAE_OK) r->status = vae_model_evaluate(m, data, &r->test);
    if (r->status == VAE_OK) {
        r->n_params = vae_model_param_count(m);
        r->params = malloc(r->n_params * sizeof *r->params);
        r->z = malloc(2 * 4 * sizeof *r->z);
        if (!r->params || !r->z) r->status = VAE_ERR_OUT_OF_MEMORY;
    }
    if (r->status == VAE_OK) {
        memcpy(r->params, vae_model_params(m), r->n_params * sizeof *r->params);
        float x[4 * 784];
        r->status = vae_dataset_get(data, 0, 4, x, NULL);
        if (r->status == VAE_OK) r->status = vae_model_encode(m, x, NULL, 4, r->z, NULL); /* 4 x 2 means */
    }
    /* Each thread's last error is its own: a failure naming this seed. */
    if (r->status == VAE_OK) {
        double v = (double)r->seed + 0.5; /* not a whole number */
        if (vae_model_set(m, VAE_PARAM_KL_WARMUP_STEPS, v) != VAE_ERR_INVALID_ARGUMENT)
            r->status = VAE_ERR_INVALID_ARGUMENT;
        snprintf(r->error, sizeof r->error, "%s", vae_last_error());
    }
    vae_optimizer_free(opt);
    vae_model_free(m);
    return NULL;
}

static void free_run(run *r)
{
    free(r->params);
    free(r->z);
}

/* A thread using the calls documented as safe at any time, until told. */
static volatile int stop_bystander;
static void quiet_log(void *user, vae_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    (void)msg;
}

static void *bystander(void *arg)
{
    (void)arg;
    unsigned long spins = 0;
    while (!__atomic_load_n(&stop_bystander, __ATOMIC_ACQUIRE)) {
        vae_log_set(spins % 2 ? quiet_log : NULL, &spins);
        if (!vae_backend_active() || vae_get_threads() < 1 || !vae_version_string()) break;
        if (vae_dataset_count(data) != samples) break; /* a read of the shared dataset */
        spins++;
    }
    vae_log_set(NULL, NULL);
    return NULL;
}

static void expect_same(const run *a, const run *b)
{
    assert_int_equal(a->status, VAE_OK);
    assert_int_equal(b->status, VAE_OK);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof *a->params);
    assert_memory_equal(a->epochs, b->epochs, sizeof a->epochs);
    assert_memory_equal(&a->test, &b->test, sizeof a->test);
    assert_memory_equal(a->z, b->z, 8 * sizeof *a->z);
}

static void test_two_models_two_threads(void **state)
{
    (void)state;
    run alone[MODELS] = {{.seed = 1}, {.seed = 2}};
    for (int i = 0; i < MODELS; i++) {
        train(&alone[i]);
        assert_int_equal(alone[i].status, VAE_OK);
        assert_true(alone[i].epochs[EPOCHS - 1].total < alone[i].epochs[0].total);
    }
    /* The two models differ, so agreeing below means each kept its own. */
    assert_memory_not_equal(alone[0].params, alone[1].params, alone[0].n_params * sizeof(float));

    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, MODELS), 0);
    run together[MODELS] = {{.seed = 1, .start = &start}, {.seed = 2, .start = &start}};
    pthread_t t[MODELS], by;
    stop_bystander = 0;
    assert_int_equal(pthread_create(&by, NULL, bystander, NULL), 0);
    for (int i = 0; i < MODELS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, train, &together[i]), 0);
    for (int i = 0; i < MODELS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    __atomic_store_n(&stop_bystander, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(by, NULL), 0);
    pthread_barrier_destroy(&start);

    for (int i = 0; i < MODELS; i++) {
        expect_same(&alone[i], &together[i]);
        /* "kl_warmup_steps = 1.5 must be a whole number" on thread 1, 2.5 on 2 */
        char want[32];
        snprintf(want, sizeof want, "= %g ", (double)together[i].seed + 0.5);
        if (!strstr(together[i].error, want))
            fail_msg("thread %d saw another's error: %s", i, together[i].error);
        free_run(&alone[i]);
        free_run(&together[i]);
    }
}

/* vae_log_set() while other threads log: every call of a callback gets the
 * argument set with it, never the other callback's. */
static long log_calls[2];

static void log_a(void *user, vae_log_level level, const char *msg)
{
    (void)level;
    (void)msg;
    if (user != &log_calls[0]) abort(); /* a torn pair: fail loudly */
    __atomic_add_fetch(&log_calls[0], 1, __ATOMIC_RELAXED);
}

static void log_b(void *user, vae_log_level level, const char *msg)
{
    (void)level;
    (void)msg;
    if (user != &log_calls[1]) abort();
    __atomic_add_fetch(&log_calls[1], 1, __ATOMIC_RELAXED);
}

static int loggers_started;

/* The first line goes out while only log_a is set, before the main thread
 * starts switching: so log_a is called on any schedule, however late the
 * OS starts this thread. */
static void *logger(void *arg)
{
    (void)arg;
    vaei_log(VAE_LOG_DEBUG, "first line");
    __atomic_add_fetch(&loggers_started, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < log_rounds; i++) vaei_log(VAE_LOG_DEBUG, "line %d", i);
    return NULL;
}

static void test_log_callback_pairs(void **state)
{
    (void)state;
    pthread_t t[2];
    vae_log_set(log_a, &log_calls[0]);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, logger, NULL), 0);
    while (__atomic_load_n(&loggers_started, __ATOMIC_ACQUIRE) < 2) sched_yield();
    for (int i = 0; i < log_rounds; i++) {
        if (i % 2)
            vae_log_set(log_a, &log_calls[0]);
        else
            vae_log_set(log_b, &log_calls[1]);
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    vae_log_set(NULL, NULL);
    assert_true(log_calls[0] + log_calls[1] <= 2 * (long)log_rounds + 2);
    assert_true(log_calls[0] > 0);
    vaei_log(VAE_LOG_ERROR, "after"); /* no callback: nothing happens */
}

/* The pool runs a job on at most the thread setting's threads, however
 * many parts the job has, and each part once; workers made for a larger
 * setting earlier stay out of it. */
enum { PARTS = 16 };
typedef struct {
    pthread_t who[PARTS];
    int runs[PARTS], nparts[PARTS]; /* checked by the test's thread */
} parts_seen;

/* A part lasts 0.2 ms, long enough for every worker the job lets in to
 * wake and take one. */
static void note_part(void *ctx, int part, int nparts)
{
    parts_seen *s = ctx;
    s->nparts[part] = nparts;
    s->who[part] = pthread_self();
    s->runs[part]++;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 200000);
}

static void test_pool_threads(void **state)
{
    (void)state;
    const int saved = vae_get_threads();
    static const int settings[] = {4, 2, 1, 3};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        assert_int_equal(vae_set_threads(settings[i]), VAE_OK);
        for (int round = 0; round < 20; round++) {
            parts_seen s = {0};
            vaei_parallel(PARTS, note_part, &s);
            int distinct = 0;
            for (int p = 0; p < PARTS; p++) {
                assert_int_equal(s.runs[p], 1);
                assert_int_equal(s.nparts[p], PARTS);
                int seen_before = 0;
                for (int q = 0; q < p; q++) seen_before |= pthread_equal(s.who[q], s.who[p]);
                distinct += !seen_before;
            }
            assert_true(distinct <= settings[i]);
            if (settings[i] == 1) assert_true(pthread_equal(s.who[0], pthread_self()));
        }
    }
    assert_int_equal(vae_set_threads(saved), VAE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_models_two_threads),
        cmocka_unit_test(test_log_callback_pairs),
        cmocka_unit_test(test_pool_threads),
    };
    return cmocka_run_group_tests_name("concurrency", tests, setup, teardown);
}
