/*
 * The public API under misuse: NULL handles, zero sizes, values out of
 * range, mismatched shapes. Every call returns a status and a message,
 * never crashes, and leaves its outputs alone.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "common.h"

/* test_model_alloc_failure makes an allocation fail on purpose: under
 * AddressSanitizer that must give NULL, as the C library does, rather than
 * a report. */
#if defined(__SANITIZE_ADDRESS__)
#define VAE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VAE_TEST_ASAN 1
#endif
#endif
#ifdef VAE_TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static void test_version_and_status(void **state)
{
    (void)state;
    assert_int_equal(vae_version_number(), VAE_VERSION_NUMBER);
    assert_string_equal(vae_version_string(), VAE_VERSION_STRING);
    assert_int_equal(VAE_VERSION_NUMBER, VAE_VERSION_MAJOR * 10000 + VAE_VERSION_MINOR * 100 + VAE_VERSION_PATCH);
    for (int s = VAE_OK; s <= VAE_ERR_CALLBACK; s++)
        assert_string_not_equal(vae_status_string((vae_status)s), "unknown status");
    assert_string_equal(vae_status_string((vae_status)999), "unknown status");
    /* Pinned values: part of the ABI. */
    assert_int_equal(VAE_ERR_NUMERIC, 7);
    assert_int_equal(VAE_PARAM_BETA, 20);
}

static void test_null_handles(void **state)
{
    (void)state;
    float x[784] = {0}, out[784];
    vae_loss l;
    double v;
    assert_int_equal(vae_config_create(NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set(NULL, VAE_PARAM_BETA, 1), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_get(NULL, VAE_PARAM_BETA, &v), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_create(NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_backward(NULL, x, NULL, 1, &l), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_train_step(NULL, NULL, x, NULL, 1, &l), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_train_epoch(NULL, NULL, NULL, 1, NULL, NULL, &l), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_evaluate(NULL, NULL, &l), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_encode(NULL, x, NULL, 1, out, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_decode(NULL, x, NULL, 1, out), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_sample(NULL, NULL, 1, 1, out, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_reconstruct(NULL, x, NULL, 1, out), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_create(NULL, NULL, VAE_OPTIM_ADAM), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_step(NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_checkpoint_save(NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_checkpoint_load(NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_param_count(NULL), 0);
    assert_null(vae_model_params(NULL));
    assert_int_equal(vae_dataset_count(NULL), 0);
    /* Frees accept NULL. */
    vae_config_free(NULL);
    vae_model_free(NULL);
    vae_optimizer_free(NULL);
    vae_dataset_free(NULL);
    assert_true(strlen(vae_last_error()) > 0);
}

static void test_config_bounds(void **state)
{
    (void)state;
    vae_config *cfg = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 2.5), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "whole number"));
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_BETA, NAN), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_ACTIVATION, 99), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set(cfg, (vae_param)12345, 1), VAE_ERR_INVALID_ARGUMENT);
    double lo, hi, v;
    ASSERT_OK(vae_param_bounds(VAE_PARAM_LATENT_DIM, &lo, &hi));
    assert_true(lo == 1 && hi >= 2);
    ASSERT_OK(vae_config_get(cfg, VAE_PARAM_LATENT_DIM, &v));
    assert_true(v == 2); /* unchanged by the refused sets */
    const size_t zero = 0, many[17] = {1};
    assert_int_equal(vae_config_set_hidden(cfg, VAE_BOTH, &zero, 1), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set_hidden(cfg, VAE_BOTH, many, 17), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set_hidden(cfg, VAE_BOTH, many, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_config_set_hidden(cfg, (vae_side)0, many, 1), VAE_ERR_INVALID_ARGUMENT);
    /* Cross-parameter check at creation. */
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MIN, 5));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MAX, 4));
    vae_model *m = (vae_model *)&m;
    assert_int_equal(vae_model_create(&m, cfg), VAE_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(m, (vae_model *)&m);
    vae_config_free(cfg);
}

static void test_model_misuse(void **state)
{
    (void)state;
    vae_model *m = small_model(8, 2, 0, 1), *other = small_model(8, 2, 0, 2);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, other, VAE_OPTIM_ADAM));
    float x[2 * 784] = {0}, out[2 * 784], cond[20] = {0};
    assert_int_equal(vae_model_train_step(m, opt, x, NULL, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "another model"));
    assert_int_equal(vae_model_backward(m, x, NULL, 0, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_backward(m, x, cond, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_decode(m, x, NULL, 0, out), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_set(m, VAE_PARAM_LATENT_DIM, 3), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "architecture"));
    ASSERT_OK(vae_model_set(m, VAE_PARAM_BETA, 4));
    assert_int_equal(vae_model_set(m, VAE_PARAM_LOGVAR_MIN, 30), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_tensor_info(m, 99, NULL, NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_set(opt, VAE_OPTIM_LR, -1), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_set(opt, (vae_optim_param)77, 1), VAE_ERR_INVALID_ARGUMENT);
    vae_optimizer *bad = NULL;
    assert_int_equal(vae_optimizer_create(&bad, m, (vae_optim_kind)9), VAE_ERR_INVALID_ARGUMENT);

    /* A dataset of the wrong width. */
    uint8_t px[3 * 10] = {0};
    vae_dataset *ds = NULL;
    ASSERT_OK(vae_dataset_from_u8(&ds, px, 3, 10, NULL, 0));
    vae_optimizer *mine = NULL;
    ASSERT_OK(vae_optimizer_create(&mine, m, VAE_OPTIM_ADAM));
    assert_int_equal(vae_train_epoch(m, mine, ds, 2, NULL, NULL, NULL), VAE_ERR_MISMATCH);
    assert_non_null(strstr(vae_last_error(), "10 values per sample"));
    assert_int_equal(vae_train_epoch(m, mine, ds, 0, NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    vae_loss l;
    assert_int_equal(vae_model_evaluate(m, ds, &l), VAE_ERR_MISMATCH);
    /* A conditional model without labels. */
    vae_model *cm = small_model(8, 2, 3, 1);
    vae_dataset *wide = NULL;
    uint8_t wpx[2 * 784] = {0};
    ASSERT_OK(vae_dataset_from_u8(&wide, wpx, 2, 784, NULL, 0));
    assert_int_equal(vae_model_evaluate(cm, wide, &l), VAE_ERR_MISMATCH);
    assert_int_equal(vae_model_decode(cm, x, NULL, 1, out), VAE_ERR_INVALID_ARGUMENT);
    vae_dataset_free(wide);
    vae_model_free(cm);
    vae_dataset_free(ds);
    vae_optimizer_free(mine);
    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_model_free(other);
}

static void test_inference_shapes(void **state)
{
    (void)state;
    vae_model *m = small_model(16, 3, 0, 1);
    /* More rows than one internal chunk, to cover the chunking. */
    enum { R = 600 };
    float *x = calloc(R * 784, sizeof *x), *out = malloc(R * 784 * sizeof *out);
    float *mu = malloc(R * 3 * sizeof *mu), *lv = malloc(R * 3 * sizeof *lv), *z = malloc(R * 3 * sizeof *z);
    assert_non_null(x);
    assert_non_null(out);
    for (size_t i = 0; i < R * 784; i++) x[i] = (float)((i * 37) % 256) / 255.0f;
    ASSERT_OK(vae_model_encode(m, x, NULL, R, mu, lv));
    float one_mu[3];
    ASSERT_OK(vae_model_encode(m, x + 517 * 784, NULL, 1, one_mu, NULL));
    /* Rows are independent (up to the GEMM's summation order for one row). */
    for (int k = 0; k < 3; k++) assert_true(fabsf(one_mu[k] - mu[517 * 3 + k]) < 1e-5f);
    ASSERT_OK(vae_model_decode(m, mu, NULL, R, out));
    for (size_t i = 0; i < R * 784; i++) assert_true(out[i] > 0.0f && out[i] < 1.0f);
    float *rec = malloc(R * 784 * sizeof *rec);
    assert_non_null(rec);
    ASSERT_OK(vae_model_reconstruct(m, x, NULL, R, rec));
    assert_memory_equal(rec, out, R * 784 * sizeof *rec); /* reconstruct = decode(mu) */
    ASSERT_OK(vae_model_sample(m, NULL, R, 42, out, z));
    float out2[784], z2[3];
    ASSERT_OK(vae_model_sample(m, NULL, 1, 42, out2, z2));
    assert_memory_equal(z2, z, sizeof z2); /* same seed, same draws */
    free(x);
    free(out);
    free(mu);
    free(lv);
    free(z);
    free(rec);
    vae_model_free(m);
}

static void test_tensor_layout(void **state)
{
    (void)state;
    vae_model *m = small_model(400, 2, 0, 1);
    /* The lesson's model: 784*400+400 + 400*4+4 + 2*400+400 + 400*784+784. */
    assert_int_equal(vae_model_param_count(m), 631188);
    size_t total = 0;
    for (size_t i = 0; i < vae_model_tensor_count(m); i++) {
        const char *name;
        size_t r, c, off;
        ASSERT_OK(vae_model_tensor_info(m, i, &name, &r, &c, &off));
        assert_int_equal(off, total);
        total += r * c;
    }
    assert_int_equal(total, vae_model_param_count(m));
    const char *name;
    size_t r, c;
    ASSERT_OK(vae_model_tensor_info(m, 2, &name, &r, &c, NULL));
    assert_string_equal(name, "encoder.head.weight");
    assert_int_equal(r, 400);
    assert_int_equal(c, 4);
    /* PyTorch's init bound 1/sqrt(fan_in). */
    const float *p = vae_model_params(m);
    for (size_t i = 0; i < 784 * 400; i++) assert_true(fabsf(p[i]) <= 1.0f / 28.0f);
    vae_model_free(m);
}

static int log_lines, error_lines;
static char last_line[512];
static void count_log(void *user, vae_log_level level, const char *msg)
{
    (void)user;
    assert_non_null(msg);
    log_lines++;
    if (level == VAE_LOG_ERROR) {
        error_lines++;
        snprintf(last_line, sizeof last_line, "%s", msg);
    }
}

/* vae.h: VAE_LOG_ERROR is "a call failed"; the line is its vae_last_error().
 * Success logs no error and leaves vae_last_error() as it was. */
static void test_log_callback(void **state)
{
    (void)state;
    vae_log_set(count_log, NULL);
    vae_config *cfg = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    assert_int_equal(error_lines, 0);

    assert_int_equal(vae_config_set(cfg, VAE_PARAM_BETA, -1), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(error_lines, 1);
    assert_string_equal(last_line, vae_last_error());
    char kept[512];
    snprintf(kept, sizeof kept, "%s", vae_last_error());
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_BETA, 2)); /* success: not cleared */
    assert_string_equal(vae_last_error(), kept);
    assert_int_equal(error_lines, 1);

    /* A failure that is reported in a fuller message (the path first) is
     * still one line. */
    char path[] = "/tmp/vae-test-log-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const unsigned char head[] = {0x89, 'V', 'A', 'E', '\r', '\n', 0x1a, '\n', 1, 0, 0, 0,
                                         'A', 'R', 'C', 'H', 16, 0, 0, 0, 0, 0, 0, 0,
                                         1, 0, 0, 0, 20, 0, 0, 0, /* beta = -1.0 */
                                         0, 0, 0, 0, 0, 0, 0xf0, 0xbf, 0, 0, 0, 0};
    assert_int_equal(write(fd, head, sizeof head), (ssize_t)sizeof head);
    close(fd);
    vae_model *m = NULL;
    error_lines = 0;
    assert_int_equal(vae_checkpoint_load(path, &m, NULL), VAE_ERR_FORMAT);
    assert_int_equal(error_lines, 1);
    assert_string_equal(last_line, vae_last_error());
    assert_non_null(strstr(last_line, path));
    assert_non_null(strstr(last_line, "beta"));
    unlink(path);

    vae_log_set(NULL, NULL);
    error_lines = 0;
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_BETA, -1), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(error_lines, 0); /* no callback: nothing is sent */
    vae_config_free(cfg);
}

/* The parameters cannot be allocated: the failure names the count (it was
 * read after the model was freed: a use-after-free under ASan). */
static void test_model_alloc_failure(void **state)
{
    (void)state;
    vae_config *cfg = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    size_t wide[16];
    for (int i = 0; i < 16; i++) wide[i] = 65536;
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_BOTH, wide, 16));
    /* 2 x 15 x 2^32 floats, 512 GiB: refused by an address-space limit just
     * above what the process holds, whatever the machine's overcommit. */
    struct rlimit old = limit_address_space(address_space_held() + ((unsigned long long)1 << 32));
    vae_model *m = (vae_model *)&m;
    const vae_status s = vae_model_create(&m, cfg);
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
    assert_int_equal(s, VAE_ERR_OUT_OF_MEMORY);
    assert_ptr_equal(m, (vae_model *)&m);
    assert_non_null(strstr(vae_last_error(), "parameters"));
    vae_config_free(cfg);
}

/* Each optimizer setting belongs to a kind, with bounds to query. */
static void test_optimizer_bounds(void **state)
{
    (void)state;
    double lo = -1, hi = -1;
    ASSERT_OK(vae_optimizer_param_bounds(VAE_OPTIM_ADAM, VAE_OPTIM_BETA2, &lo, &hi));
    assert_true(lo == 0 && hi > 0.999 && hi < 1);
    ASSERT_OK(vae_optimizer_param_bounds(VAE_OPTIM_SGD, VAE_OPTIM_MOMENTUM, NULL, &hi));
    assert_true(hi < 1);
    ASSERT_OK(vae_optimizer_param_bounds(VAE_OPTIM_SGD, VAE_OPTIM_LR, &lo, NULL));
    assert_int_equal(vae_optimizer_param_bounds(VAE_OPTIM_ADAM, VAE_OPTIM_MOMENTUM, &lo, &hi),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_param_bounds(VAE_OPTIM_SGD, VAE_OPTIM_EPS, &lo, &hi),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_param_bounds((vae_optim_kind)7, VAE_OPTIM_LR, &lo, &hi),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_optimizer_param_bounds(VAE_OPTIM_ADAM, (vae_optim_param)0, &lo, &hi),
                     VAE_ERR_INVALID_ARGUMENT);

    vae_model *m = small_model(8, 2, 0, 1);
    vae_optimizer *adam = NULL, *sgd = NULL;
    ASSERT_OK(vae_optimizer_create(&adam, m, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_optimizer_create(&sgd, m, VAE_OPTIM_SGD));
    double v = 7;
    assert_int_equal(vae_optimizer_set(adam, VAE_OPTIM_MOMENTUM, 0.9), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "Adam has no setting momentum"));
    assert_int_equal(vae_optimizer_get(adam, VAE_OPTIM_MOMENTUM, &v), VAE_ERR_INVALID_ARGUMENT);
    assert_true(v == 7);
    assert_int_equal(vae_optimizer_set(sgd, VAE_OPTIM_BETA1, 0.5), VAE_ERR_INVALID_ARGUMENT);
    ASSERT_OK(vae_optimizer_set(sgd, VAE_OPTIM_MOMENTUM, 0.9));
    /* Every bound is accepted, and just past it refused. */
    for (int k = VAE_OPTIM_ADAM; k <= VAE_OPTIM_SGD; k++)
        for (int p = VAE_OPTIM_LR; p <= VAE_OPTIM_MOMENTUM; p++) {
            vae_optimizer *o = k == VAE_OPTIM_ADAM ? adam : sgd;
            if (vae_optimizer_param_bounds((vae_optim_kind)k, (vae_optim_param)p, &lo, &hi))
                continue;
            ASSERT_OK(vae_optimizer_set(o, (vae_optim_param)p, lo));
            ASSERT_OK(vae_optimizer_set(o, (vae_optim_param)p, hi));
            assert_int_equal(vae_optimizer_set(o, (vae_optim_param)p, hi * 1.01 + 1e-9),
                             VAE_ERR_INVALID_ARGUMENT);
            assert_int_equal(vae_optimizer_set(o, (vae_optim_param)p, lo - 1e-9),
                             VAE_ERR_INVALID_ARGUMENT);
        }
    vae_optimizer_free(adam);
    vae_optimizer_free(sgd);
    vae_model_free(m);
}

/* vae.h's conventions: invalid data is VAE_ERR_INVALID_ARGUMENT, in
 * arrays and in datasets alike; LOGVAR_MIN < LOGVAR_MAX is checked when a
 * model is made or changed, not by vae_config_set. */
static void test_invalid_data_status(void **state)
{
    (void)state;
    vae_model *m = small_model(8, 2, 0, 1);
    vae_optimizer *opt = NULL;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    float x[2 * 784] = {0}, cond[2] = {0}, mu[4];
    x[784 + 5] = NAN;
    assert_int_equal(vae_model_backward(m, x, NULL, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "row 1, column 5"));
    assert_int_equal(vae_model_encode(m, x, NULL, 2, mu, NULL), VAE_ERR_INVALID_ARGUMENT);
    x[784 + 5] = 1.5f; /* Bernoulli data outside [0, 1] */
    assert_int_equal(vae_model_train_step(m, opt, x, NULL, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "[0, 1]"));
    assert_int_equal(vae_model_steps(m), 0);
    x[784 + 5] = 0.5f;
    assert_int_equal(vae_model_backward(m, x, cond, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_encode(m, x, cond, 2, mu, NULL), VAE_ERR_INVALID_ARGUMENT);
    /* The same data in a dataset. */
    x[784 + 5] = 1.5f;
    vae_dataset *ds = NULL;
    ASSERT_OK(vae_dataset_from_f32(&ds, x, 2, 784, NULL, 0));
    assert_int_equal(vae_train_epoch(m, opt, ds, 2, NULL, NULL, NULL), VAE_ERR_INVALID_ARGUMENT);
    vae_loss l;
    assert_int_equal(vae_model_evaluate(m, ds, &l), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_epochs(m), 0);
    vae_dataset_free(ds);

    /* LOGVAR_MIN = LOGVAR_MAX: each is in range alone, so vae_config_set
     * takes it; the model refuses it. */
    vae_config *cfg = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MIN, 3));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LOGVAR_MAX, 3));
    vae_model *bad = NULL;
    assert_int_equal(vae_model_create(&bad, cfg), VAE_ERR_INVALID_ARGUMENT);
    assert_null(bad);
    assert_int_equal(vae_model_set(m, VAE_PARAM_LOGVAR_MAX, -30), VAE_ERR_INVALID_ARGUMENT);
    vae_config_free(cfg);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* A conditioning vector that is not finite is invalid data, as pixels are,
 * in every call that takes one. */
static void test_nonfinite_cond(void **state)
{
    (void)state;
    vae_model *m = small_model(8, 2, 3, 1);
    float x[2 * 784] = {0}, z[2 * 2] = {0}, out[2 * 784], mu[2 * 2];
    const float bad[2] = {NAN, INFINITY};
    for (int b = 0; b < 2; b++) {
        float cond[2 * 3] = {0, 1, 0, 1, 0, 0};
        cond[3 + 2] = bad[b]; /* row 1, column 2 */
        assert_int_equal(vae_model_encode(m, x, cond, 2, mu, NULL), VAE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(vae_last_error(), "cond row 1, column 2"));
        assert_int_equal(vae_model_decode(m, z, cond, 2, out), VAE_ERR_INVALID_ARGUMENT);
        assert_int_equal(vae_model_sample(m, cond, 2, 7, out, NULL), VAE_ERR_INVALID_ARGUMENT);
        assert_int_equal(vae_model_reconstruct(m, x, cond, 2, out), VAE_ERR_INVALID_ARGUMENT);
        assert_int_equal(vae_model_backward(m, x, cond, 2, NULL), VAE_ERR_INVALID_ARGUMENT);
    }
    vae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_status),
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_config_bounds),
        cmocka_unit_test(test_model_misuse),
        cmocka_unit_test(test_inference_shapes),
        cmocka_unit_test(test_tensor_layout),
        cmocka_unit_test(test_log_callback),
        cmocka_unit_test(test_model_alloc_failure),
        cmocka_unit_test(test_optimizer_bounds),
        cmocka_unit_test(test_invalid_data_status),
        cmocka_unit_test(test_nonfinite_cond),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
