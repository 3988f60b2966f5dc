/*
 * Training through the public API: it learns, it is reproducible, it
 * resumes bit for bit, and a numerical fault changes nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

static vae_dataset *train_set;

static int setup(void **state)
{
    (void)state;
    train_set = load_mnist_head("train", 2000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vae_dataset_free(train_set);
    return 0;
}

static void test_training_lowers_the_loss(void **state)
{
    (void)state;
    vae_model *m = small_model(128, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    vae_loss before, after, epoch;
    ASSERT_OK(vae_model_evaluate(m, train_set, &before));
    /* An untrained decoder predicts ~0.5 everywhere: ~784 log 2 = 543 nats. */
    assert_true(before.recon > 450 && before.recon < 650);
    for (int e = 0; e < 3; e++) ASSERT_OK(vae_train_epoch(m, opt, train_set, 128, NULL, NULL, &epoch));
    ASSERT_OK(vae_model_evaluate(m, train_set, &after));
    assert_true(after.total < before.total - 250);
    assert_true(after.total < 230);
    assert_true(after.kl > 0.5); /* the 2-D latent is in use */
    assert_true(fabs(after.total - after.recon - after.kl) < 1e-9);
    assert_int_equal(vae_model_epochs(m), 3);
    assert_int_equal(vae_model_steps(m), 3 * 16); /* ceil(2000 / 128) batches */
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* Train `epochs` epochs from scratch at a precision (vae_precision);
 * return the parameters (caller frees). */
static float *train_copy_at(int precision, uint64_t seed, int epochs, vae_loss *last)
{
    vae_model *m = small_model(64, 2, 0, seed);
    ASSERT_OK(vae_model_set(m, VAE_PARAM_PRECISION, precision));
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    for (int e = 0; e < epochs; e++) ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, last));
    const size_t n = vae_model_param_count(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, vae_model_params(m), n * sizeof *p);
    vae_optimizer_free(opt);
    vae_model_free(m);
    return p;
}

static float *train_copy(uint64_t seed, int epochs, vae_loss *last)
{
    return train_copy_at(VAE_PRECISION_FP32, seed, epochs, last);
}

/* The parameter count of the models train_copy_at() trains. */
static size_t trained_param_count(void)
{
    vae_model *probe = small_model(64, 2, 0, 5);
    const size_t n = vae_model_param_count(probe);
    vae_model_free(probe);
    return n;
}

/* Train twice at 2 threads (seed 5, `epochs` epochs): the two runs must
 * give the same bits and loss. Returns the first's parameters (caller
 * frees) and loss. */
static float *train_twice_at_2_threads(const char *what, int precision, int epochs, size_t n,
                                       vae_loss *la)
{
    vae_loss lb;
    ASSERT_OK(vae_set_threads(2));
    float *a = train_copy_at(precision, 5, epochs, la), *b = train_copy_at(precision, 5, epochs, &lb);
    if (memcmp(a, b, n * sizeof *a) != 0 || la->total != lb.total)
        fail_msg("%s: two runs at 2 threads differ", what);
    free(b);
    return a;
}

/* Training at 1 and at 3 threads gives the bits `a` and loss `la` of the
 * run at 2. Leaves the thread count at 3. */
static void assert_any_thread_count_same(const char *what, int precision, int epochs, size_t n,
                                         const float *a, const vae_loss *la)
{
    for (int t = 1; t <= 3; t += 2) {
        vae_loss lc;
        ASSERT_OK(vae_set_threads(t));
        float *c = train_copy_at(precision, 5, epochs, &lc);
        if (memcmp(a, c, n * sizeof *a) != 0 || la->total != lc.total)
            fail_msg("%s: %d threads differ from 2", what, t);
        free(c);
    }
}

/* Make a temporary directory from the template `dir`, and in it save
 * (to `path`) a model of seed 3 trained one epoch at a precision, with its
 * optimizer; `loss` gets the epoch's. */
static void save_after_one_epoch(int precision, char *dir, char path[256], vae_loss *loss)
{
    assert_non_null(mkdtemp(dir));
    snprintf(path, 256, "%s/model.vae", dir);
    vae_model *m = small_model(64, 2, 0, 3);
    ASSERT_OK(vae_model_set(m, VAE_PARAM_PRECISION, precision));
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, loss));
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* Whether this build and CPU run bfloat16; if not, the setting must say
 * VAE_ERR_UNAVAILABLE and change nothing. */
static int bf16_available(void)
{
    vae_model *m = small_model(16, 2, 0, 1);
    const vae_status s = vae_model_set(m, VAE_PARAM_PRECISION, VAE_PRECISION_BF16);
    double v = -1;
    ASSERT_OK(vae_model_get(m, VAE_PARAM_PRECISION, &v));
    vae_model_free(m);
    if (s == VAE_OK) {
        assert_true(v == VAE_PRECISION_BF16);
        return 1;
    }
    assert_int_equal(s, VAE_ERR_UNAVAILABLE);
    assert_non_null(strstr(vae_last_error(), "AVX512_BF16"));
    assert_true(v == VAE_PRECISION_FP32);
    return 0;
}

/* bfloat16 training is reproducible bit for bit at a fixed thread count
 * (and, on libvae's own levels, at any), learns as float32 does within a
 * few nats, and is not float32 in disguise. */
static void test_bf16_training(void **state)
{
    (void)state;
    if (!bf16_available()) skip();
    const size_t n = trained_param_count();
    const int threads_before = vae_get_threads();
    vae_loss la, lf;
    float *a = train_twice_at_2_threads("bf16", VAE_PRECISION_BF16, 2, n, &la);
    assert_any_thread_count_same("bf16", VAE_PRECISION_BF16, 2, n, a, &la);
    ASSERT_OK(vae_set_threads(2));
    float *f = train_copy(5, 2, &lf);
    assert_memory_not_equal(a, f, n * sizeof *a);
    assert_true(isfinite(la.total));
    assert_true(fabs(la.total - lf.total) < 5.0); /* nats per image, of ~200 */
    free(a);
    free(f);
    ASSERT_OK(vae_set_threads(threads_before));
}

/* Checkpoints hold float32 and no precision: a bfloat16 run saved and
 * resumed in bfloat16 continues bit for bit, and the same file resumes in
 * float32 too. */
static void test_bf16_checkpoint_resumes_in_either(void **state)
{
    (void)state;
    if (!bf16_available()) skip();
    vae_loss straight, resumed;
    float *ref = train_copy_at(VAE_PRECISION_BF16, 3, 2, &straight);
    char dir[] = "/tmp/vae-test-XXXXXX", path[256];
    save_after_one_epoch(VAE_PRECISION_BF16, dir, path, &resumed);
    vae_model *m = NULL;
    vae_optimizer *opt = NULL;

    for (int precision = VAE_PRECISION_BF16; precision >= VAE_PRECISION_FP32; precision--) {
        ASSERT_OK(vae_checkpoint_load(path, &m, &opt));
        double v = -1;
        ASSERT_OK(vae_model_get(m, VAE_PARAM_PRECISION, &v));
        assert_true(v == VAE_PRECISION_FP32); /* not stored */
        ASSERT_OK(vae_model_set(m, VAE_PARAM_PRECISION, precision));
        ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, &resumed));
        if (precision == VAE_PRECISION_BF16) {
            assert_memory_equal(vae_model_params(m), ref, vae_model_param_count(m) * sizeof *ref);
            assert_true(resumed.total == straight.total);
        } else {
            assert_true(fabs(resumed.total - straight.total) < 5.0);
        }
        vae_optimizer_free(opt);
        vae_model_free(m);
    }
    unlink(path);
    rmdir(dir);
    free(ref);
}

static void test_same_seed_same_bits(void **state)
{
    (void)state;
    vae_loss la, lb, lc;
    float *a = train_copy(5, 1, &la), *b = train_copy(5, 1, &lb), *c = train_copy(6, 1, &lc);
    vae_model *m = small_model(64, 2, 0, 5);
    const size_t n = vae_model_param_count(m);
    assert_memory_equal(a, b, n * sizeof *a);
    assert_true(la.total == lb.total);
    assert_memory_not_equal(a, c, n * sizeof *a);
    vae_model_free(m);
    free(a);
    free(b);
    free(c);
}

/* Every compute level trains reproducibly at a fixed thread count, and all
 * but the BLAS one give the same bits on any thread count (their kernels
 * split work so that each result is computed the same way whichever thread
 * owns it). */
static void test_every_level_reproducible(void **state)
{
    (void)state;
    const size_t n = trained_param_count();
    const int threads_before = vae_get_threads();
    for (size_t i = 0; i < vae_backend_count(); i++) {
        const char *name = vae_backend_name(i);
        ASSERT_OK(vae_backend_select(name));
        vae_loss la;
        float *a = train_twice_at_2_threads(name, VAE_PRECISION_FP32, 1, n, &la);
        if (level_is_ours(name))
            assert_any_thread_count_same(name, VAE_PRECISION_FP32, 1, n, a, &la);
        free(a);
    }
    ASSERT_OK(vae_set_threads(threads_before));
    ASSERT_OK(vae_backend_select("auto"));
}

static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    vae_loss straight, resumed;
    float *ref = train_copy(3, 2, &straight);

    char dir[] = "/tmp/vae-test-XXXXXX", path[256];
    save_after_one_epoch(VAE_PRECISION_FP32, dir, path, &resumed);
    vae_model *m = NULL;
    vae_optimizer *opt = NULL;

    ASSERT_OK(vae_checkpoint_load(path, &m, &opt));
    assert_non_null(opt);
    assert_int_equal(vae_model_epochs(m), 1);
    ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, &resumed));
    assert_memory_equal(vae_model_params(m), ref, vae_model_param_count(m) * sizeof *ref);
    assert_true(resumed.total == straight.total);
    vae_optimizer_free(opt);
    vae_model_free(m);
    unlink(path);
    rmdir(dir);
    free(ref);
}

static void test_non_finite_step_changes_nothing(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    float x[4 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 4, x, NULL));
    ASSERT_OK(vae_model_train_step(m, opt, x, NULL, 4, NULL));

    /* Poison one decoder weight: the logits become NaN. */
    const size_t n = vae_model_param_count(m);
    float *p = vae_model_params(m), *saved = malloc(n * sizeof *saved);
    assert_non_null(saved);
    size_t off;
    ASSERT_OK(vae_model_tensor_info(m, 2, NULL, NULL, NULL, &off)); /* encoder.head.weight */
    p[off] = INFINITY;
    memcpy(saved, p, n * sizeof *p);
    const uint64_t steps = vae_model_steps(m);
    assert_int_equal(vae_model_train_step(m, opt, x, NULL, 4, NULL), VAE_ERR_NUMERIC);
    assert_non_null(strstr(vae_last_error(), "not finite"));
    assert_memory_equal(p, saved, n * sizeof *p);
    assert_int_equal(vae_model_steps(m), steps);

    /* Repair it and go on: the optimizer state was not touched either. */
    p[off] = 0.0f;
    ASSERT_OK(vae_model_train_step(m, opt, x, NULL, 4, NULL));
    assert_int_equal(vae_model_steps(m), steps + 1);

    /* A NaN in a hidden ReLU layer's weights or in the log-variance column of
     * the head is not swallowed by the activation or the clamp either. */
    size_t hidden_off, head_off, head_cols;
    ASSERT_OK(vae_model_tensor_info(m, 0, NULL, NULL, NULL, &hidden_off));
    ASSERT_OK(vae_model_tensor_info(m, 2, NULL, NULL, &head_cols, &head_off));
    const size_t nan_at[] = {hidden_off + 3, head_off + head_cols / 2};
    for (size_t t = 0; t < 2; t++) {
        const float keep = p[nan_at[t]];
        p[nan_at[t]] = NAN;
        memcpy(saved, p, n * sizeof *p);
        assert_int_equal(vae_model_train_step(m, opt, x, NULL, 4, NULL), VAE_ERR_NUMERIC);
        assert_memory_equal(p, saved, n * sizeof *p);
        p[nan_at[t]] = keep;
    }
    free(saved);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static void test_bernoulli_refuses_out_of_range(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    float x[2 * 784] = {0};
    x[784 + 10] = 1.5f;
    assert_int_equal(vae_model_train_step(m, opt, x, NULL, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "row 1, column 10"));
    x[784 + 10] = NAN;
    assert_int_equal(vae_model_train_step(m, opt, x, NULL, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_steps(m), 0);

    /* Float datasets with values outside [0,1] are refused by the epoch too. */
    float *big = malloc(8 * 784 * sizeof *big);
    assert_non_null(big);
    for (size_t i = 0; i < 8 * 784; i++) big[i] = 2.0f;
    vae_dataset *ds = NULL;
    ASSERT_OK(vae_dataset_from_f32(&ds, big, 8, 784, NULL, VAE_DATASET_BORROW));
    assert_int_equal(vae_train_epoch(m, opt, ds, 4, NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    vae_loss l;
    assert_int_equal(vae_model_evaluate(m, ds, &l), VAE_ERR_INVALID_ARGUMENT);
    vae_dataset_free(ds);
    free(big);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* The encoder's log-variance is clamped to [logvar_min, logvar_max], so
 * exp() of it cannot overflow, whatever the weights: here the head's
 * log-variance biases are pushed far out both ways. The clamped values lie
 * inside the range as set even where the bounds are not floats (-1e-300
 * used to round to -0.0, above the maximum; found by the fuzzer). */
static void test_logvar_clamp(void **state)
{
    (void)state;
    const double bounds[][2] = {{-30, 20}, {-80, 80}, {-2.5, 1e-7}, {-1, -1e-300}};
    float x[2 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 2, x, NULL));
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        vae_model *m = small_model(16, 2, 0, 1);
        ASSERT_OK(vae_model_set(m, VAE_PARAM_LOGVAR_MIN, bounds[k][0]));
        ASSERT_OK(vae_model_set(m, VAE_PARAM_LOGVAR_MAX, bounds[k][1]));
        size_t off, cols;
        ASSERT_OK(vae_model_tensor_info(m, 3, NULL, NULL, &cols, &off)); /* encoder.head.bias */
        assert_int_equal(cols, 4); /* [mu | logvar], L = 2 */
        float *p = vae_model_params(m);
        p[off + 2] = 1e30f;  /* logvar[0] far above */
        p[off + 3] = -1e30f; /* logvar[1] far below */
        float mu[4], lv[4];
        ASSERT_OK(vae_model_encode(m, x, NULL, 2, mu, lv));
        for (size_t i = 0; i < 4; i++) {
            assert_true(lv[i] >= bounds[k][0] && lv[i] <= bounds[k][1]);
            assert_true(isfinite(expf(lv[i])) && isfinite(expf(0.5f * lv[i])));
        }
        /* Each clamped value is the nearest float inside the bound. */
        assert_true(nextafterf(lv[0], INFINITY) > bounds[k][1]);
        assert_true(nextafterf(lv[1], -INFINITY) < bounds[k][0]);
        vae_loss loss;
        ASSERT_OK(vae_model_backward(m, x, NULL, 2, &loss));
        assert_true(isfinite(loss.total));
        vae_model_free(m);
    }
    /* The range itself is checked: [-80, 80], min below max, with a float
     * between them. */
    double lo, hi;
    ASSERT_OK(vae_param_bounds(VAE_PARAM_LOGVAR_MAX, &lo, &hi));
    assert_true(lo == -80 && hi == 80);
    vae_config *cfg = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LOGVAR_MAX, 81), VAE_ERR_INVALID_ARGUMENT);
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MIN, 1e-300));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MAX, 2e-300));
    vae_model *m = NULL;
    assert_int_equal(vae_model_create(&m, cfg), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "no float32"));
    assert_null(m);
    vae_config_free(cfg);
}

static int stop_after_three(void *user, size_t batch, size_t batches, const vae_loss *loss)
{
    (void)batches;
    assert_true(isfinite(loss->total));
    *(size_t *)user = batch;
    return batch >= 2;
}

static void test_progress_can_cancel(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    size_t last = 0;
    vae_loss mean = {0};
    assert_int_equal(vae_train_epoch(m, opt, train_set, 100, stop_after_three, &last, &mean),
                     VAE_ERR_CANCELLED);
    assert_int_equal(last, 2);
    assert_int_equal(vae_model_steps(m), 3);
    assert_int_equal(vae_model_epochs(m), 0);
    assert_true(mean.total > 0); /* the batches done are reported */
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static int stop_at_the_last(void *user, size_t batch, size_t batches, const vae_loss *loss)
{
    (void)user;
    (void)loss;
    return batch + 1 == batches;
}

/* vae.h: a stop asked after the last batch cancels too (a Ctrl-C there was
 * lost); the epoch, all of whose batches were applied, counts. */
static void test_stop_after_the_last_batch(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    assert_int_equal(vae_train_epoch(m, opt, train_set, 500, stop_at_the_last, NULL, NULL),
                     VAE_ERR_CANCELLED);
    assert_non_null(strstr(vae_last_error(), "after batch 4 of 4"));
    assert_int_equal(vae_model_steps(m), 4);
    assert_int_equal(vae_model_epochs(m), 1);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* A failed step leaves the training noise as it was: the retry gives the
 * bits of a run that never failed (binarisation draws noise too). */
static void test_failed_step_keeps_the_noise(void **state)
{
    (void)state;
    float x[4 * 784];
    ASSERT_OK(vae_dataset_get(train_set, 0, 4, x, NULL));
    vae_model *a = small_model(16, 2, 0, 5), *b = small_model(16, 2, 0, 5);
    vae_optimizer *oa = NULL, *ob = NULL;
    ASSERT_OK(vae_optimizer_create(&oa, a, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_optimizer_create(&ob, b, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_model_set(a, VAE_PARAM_BINARIZE, 1));
    ASSERT_OK(vae_model_set(b, VAE_PARAM_BINARIZE, 1));
    size_t off;
    ASSERT_OK(vae_model_tensor_info(a, 2, NULL, NULL, NULL, &off)); /* encoder.head.weight */
    float *p = vae_model_params(a);
    const float keep = p[off];
    p[off] = INFINITY;
    assert_int_equal(vae_model_train_step(a, oa, x, NULL, 4, NULL), VAE_ERR_NUMERIC);
    assert_int_equal(vae_model_backward(a, x, NULL, 4, NULL), VAE_ERR_NUMERIC);
    p[off] = keep;
    /* A failure in the update, after the pass drew its noise: the weights
     * of the blank border pixels get a zero gradient, which with eps 0 is
     * Adam's 0/0. */
    ASSERT_OK(vae_optimizer_set(oa, VAE_OPTIM_EPS, 0));
    assert_int_equal(vae_model_train_step(a, oa, x, NULL, 4, NULL), VAE_ERR_NUMERIC);
    ASSERT_OK(vae_optimizer_set(oa, VAE_OPTIM_EPS, 1e-8));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(vae_model_train_step(a, oa, x, NULL, 4, NULL));
        ASSERT_OK(vae_model_train_step(b, ob, x, NULL, 4, NULL));
    }
    assert_memory_equal(vae_model_params(a), vae_model_params(b),
                        vae_model_param_count(a) * sizeof(float));
    vae_optimizer_free(oa);
    vae_optimizer_free(ob);
    vae_model_free(a);
    vae_model_free(b);
}

/* An update that would not be finite is refused whole, with a finite
 * gradient: 0/0 (eps 0, zero moments) and g^2 overflowing float. */
static void test_update_must_be_finite(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    const size_t n = vae_model_param_count(m);
    float *p = vae_model_params(m), *g = vae_model_grads(m);
    float *saved = malloc(n * sizeof *saved);
    assert_non_null(saved);
    memcpy(saved, p, n * sizeof *p);
    vae_optimizer *adam = NULL, *sgd = NULL;
    ASSERT_OK(vae_optimizer_create(&adam, m, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_optimizer_set(adam, VAE_OPTIM_EPS, 0));
    memset(g, 0, n * sizeof *g);
    assert_int_equal(vae_optimizer_step(adam), VAE_ERR_NUMERIC);
    assert_non_null(strstr(vae_last_error(), "nothing was changed"));
    assert_memory_equal(p, saved, n * sizeof *p);
    assert_int_equal(vae_model_steps(m), 0);
    ASSERT_OK(vae_optimizer_set(adam, VAE_OPTIM_EPS, 1e-8));
    g[7] = 1e30f; /* finite, but g^2 = inf in the second moment */
    assert_int_equal(vae_optimizer_step(adam), VAE_ERR_NUMERIC);
    assert_memory_equal(p, saved, n * sizeof *p);
    /* The state was untouched: a save works and a sane step goes on. */
    char path[] = "/tmp/vae-test-update-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ASSERT_OK(vae_checkpoint_save(path, m, adam));
    g[7] = 1.0f;
    ASSERT_OK(vae_optimizer_step(adam));
    assert_int_equal(vae_model_steps(m), 1);

    /* SGD: an overflowing parameter. */
    ASSERT_OK(vae_optimizer_create(&sgd, m, VAE_OPTIM_SGD));
    ASSERT_OK(vae_optimizer_set(sgd, VAE_OPTIM_LR, 1000));
    memcpy(saved, p, n * sizeof *p);
    g[3] = 3e38f;
    assert_int_equal(vae_optimizer_step(sgd), VAE_ERR_NUMERIC);
    assert_memory_equal(p, saved, n * sizeof *p);
    unlink(path);
    free(saved);
    vae_optimizer_free(sgd);
    vae_optimizer_free(adam);
    vae_model_free(m);
}

/* No file is written from a non-finite model: the good checkpoint stays. */
static void test_save_refuses_non_finite(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    char path[] = "/tmp/vae-test-save-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char before[1 << 20], after[1 << 20];
    const size_t len = fread(before, 1, sizeof before, f);
    fclose(f);
    float *p = vae_model_params(m);
    p[10] = NAN;
    assert_int_equal(vae_checkpoint_save(path, m, opt), VAE_ERR_NUMERIC);
    assert_non_null(strstr(vae_last_error(), "parameter 10"));
    assert_int_equal(vae_checkpoint_save(path, m, NULL), VAE_ERR_NUMERIC);
    p[10] = 0.0f;
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(after, 1, sizeof after, f), len);
    fclose(f);
    assert_memory_equal(before, after, len);
    unlink(path);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static void test_conditional_training(void **state)
{
    (void)state;
    vae_model *m = small_model(64, 2, 10, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    vae_loss l0, l1;
    ASSERT_OK(vae_model_evaluate(m, train_set, &l0));
    for (int e = 0; e < 3; e++) ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, NULL));
    ASSERT_OK(vae_model_evaluate(m, train_set, &l1));
    assert_true(l1.total < l0.total - 200);

    /* Too few conditioning slots for the labels. */
    vae_model *narrow = small_model(8, 2, 5, 1);
    vae_optimizer *o2 = NULL;
    ASSERT_OK(vae_optimizer_create(&o2, narrow, VAE_OPTIM_ADAM));
    assert_int_equal(vae_train_epoch(narrow, o2, train_set, 100, NULL, NULL, NULL), VAE_ERR_MISMATCH);
    vae_optimizer_free(o2);
    vae_model_free(narrow);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static void test_evaluate_is_repeatable(void **state)
{
    (void)state;
    vae_model *m = small_model(32, 2, 0, 1);
    vae_loss a, b, mean_a;
    ASSERT_OK(vae_model_evaluate(m, train_set, &a));
    ASSERT_OK(vae_model_evaluate(m, train_set, &b));
    assert_true(a.total == b.total);
    ASSERT_OK(vae_model_set(m, VAE_PARAM_EVAL_USE_MEAN, 1));
    ASSERT_OK(vae_model_evaluate(m, train_set, &mean_a));
    assert_true(mean_a.total != a.total);
    assert_true(fabs(mean_a.kl - a.kl) < 1e-9); /* the KL term does not depend on z */
    vae_model_free(m);
}

static void test_sgd_also_learns(void **state)
{
    (void)state;
    vae_model *m = small_model(64, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_SGD));
    ASSERT_OK(vae_optimizer_set(opt, VAE_OPTIM_LR, 0.002));
    ASSERT_OK(vae_optimizer_set(opt, VAE_OPTIM_MOMENTUM, 0.9));
    vae_loss l0, l1;
    ASSERT_OK(vae_model_evaluate(m, train_set, &l0));
    for (int e = 0; e < 2; e++) ASSERT_OK(vae_train_epoch(m, opt, train_set, 100, NULL, NULL, NULL));
    ASSERT_OK(vae_model_evaluate(m, train_set, &l1));
    assert_true(l1.total < l0.total - 200);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_lowers_the_loss),
        cmocka_unit_test(test_same_seed_same_bits),
        cmocka_unit_test(test_every_level_reproducible),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_non_finite_step_changes_nothing),
        cmocka_unit_test(test_bernoulli_refuses_out_of_range),
        cmocka_unit_test(test_logvar_clamp),
        cmocka_unit_test(test_progress_can_cancel),
        cmocka_unit_test(test_stop_after_the_last_batch),
        cmocka_unit_test(test_failed_step_keeps_the_noise),
        cmocka_unit_test(test_update_must_be_finite),
        cmocka_unit_test(test_save_refuses_non_finite),
        cmocka_unit_test(test_conditional_training),
        cmocka_unit_test(test_evaluate_is_repeatable),
        cmocka_unit_test(test_sgd_also_learns),
        cmocka_unit_test(test_bf16_training),
        cmocka_unit_test(test_bf16_checkpoint_resumes_in_either),
    };
    return cmocka_run_group_tests_name("train", tests, setup, teardown);
}
