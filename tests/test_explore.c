/*
 * Looking inside a model through the public API: active units on a model
 * that uses only some dimensions, latent interpolation (linear and slerp)
 * and traversal, and their argument checks.
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

enum { IMAGES = 300, LATENT = 6 };

static vae_dataset *images;

static int setup(void **state)
{
    (void)state;
    images = load_mnist_head("t10k", IMAGES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vae_dataset_free(images);
    return 0;
}

/* Offset of the named tensor. */
static size_t tensor(const vae_model *m, const char *want, size_t *rows, size_t *cols)
{
    for (size_t i = 0; i < vae_model_tensor_count(m); i++) {
        const char *name;
        size_t off;
        ASSERT_OK(vae_model_tensor_info(m, i, &name, rows, cols, &off));
        if (!strcmp(name, want)) return off;
    }
    fail_msg("no tensor %s", want);
    return 0;
}

static void test_active_units_on_a_partly_used_latent(void **state)
{
    (void)state;
    vae_model *m = small_model(32, LATENT, 0, 3);
    /* The head's mean columns: zero for dimensions 1 and 4, so their
     * posterior mean is the bias whatever x is; scaled up for the others,
     * so that they vary clearly. */
    size_t rows, cols;
    const size_t w = tensor(m, "encoder.head.weight", &rows, &cols);
    assert_int_equal(cols, 2 * LATENT);
    float *p = vae_model_params(m);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < LATENT; j++) p[w + r * cols + j] *= j == 1 || j == 4 ? 0.0f : 8.0f;

    size_t active = 99;
    double var[LATENT];
    ASSERT_OK(vae_model_active_units(m, images, 0.01, &active, var));
    assert_int_equal(active, LATENT - 2);
    assert_true(var[1] == 0.0 && var[4] == 0.0);

    /* The variances against a two-pass computation from vae_model_encode(). */
    float *x = malloc((size_t)IMAGES * 784 * sizeof *x), *mu = malloc(IMAGES * LATENT * sizeof *mu);
    assert_non_null(x);
    assert_non_null(mu);
    ASSERT_OK(vae_dataset_get(images, 0, IMAGES, x, NULL));
    ASSERT_OK(vae_model_encode(m, x, NULL, IMAGES, mu, NULL));
    size_t expect = 0;
    for (size_t j = 0; j < LATENT; j++) {
        double mean = 0, v = 0;
        for (size_t i = 0; i < IMAGES; i++) mean += mu[i * LATENT + j] / (double)IMAGES;
        for (size_t i = 0; i < IMAGES; i++)
            v += (mu[i * LATENT + j] - mean) * (mu[i * LATENT + j] - mean) / IMAGES;
        assert_true(fabs(var[j] - v) <= 1e-6 * v + 1e-12);
        expect += v > 0.01;
    }
    assert_int_equal(active, expect);

    /* The threshold decides: above every variance, nothing is active. */
    double top = 0;
    for (size_t j = 0; j < LATENT; j++) top = fmax(top, var[j]);
    ASSERT_OK(vae_model_active_units(m, images, top, &active, NULL));
    assert_int_equal(active, 0);
    assert_int_equal(vae_model_active_units(m, images, -1, &active, NULL), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_active_units(m, images, NAN, &active, NULL), VAE_ERR_INVALID_ARGUMENT);
    free(x);
    free(mu);
    vae_model_free(m);
}

static double norm(const float *z, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)z[i] * z[i];
    return sqrt(s);
}

static void assert_close(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > tol) fail_msg("[%zu]: %.9g vs %.9g", i, a[i], b[i]);
}

enum { STEPS = 9 };

static void test_interpolation(void **state)
{
    (void)state;
    vae_model *m = small_model(32, 3, 0, 5);
    /* Two points of the same norm, 120 degrees apart. */
    const float z0[3] = {2.0f, 0.0f, 0.0f}, z1[3] = {-1.0f, 1.7320508f, 0.0f};
    float out[STEPS * 784], z[STEPS * 3], ends[2 * 784], pair[6];
    memcpy(pair, z0, sizeof z0);
    memcpy(pair + 3, z1, sizeof z1);
    ASSERT_OK(vae_model_decode(m, pair, NULL, 2, ends));

    for (int kind = VAE_INTERP_LINEAR; kind <= VAE_INTERP_SLERP; kind++) {
        ASSERT_OK(vae_model_interpolate(m, z0, z1, NULL, (vae_interpolation)kind, STEPS, out, z));
        /* The ends are the endpoints, decoded as vae_model_decode() does. */
        assert_memory_equal(z, z0, sizeof z0);
        assert_memory_equal(z + 3 * (STEPS - 1), z1, sizeof z1);
        assert_close(out, ends, 784, 1e-6);
        assert_close(out + 784 * (STEPS - 1), ends + 784, 784, 1e-6);
        /* Every image is the decoding of its point. */
        float again[STEPS * 784];
        ASSERT_OK(vae_model_decode(m, z, NULL, STEPS, again));
        assert_close(out, again, STEPS * 784, 1e-6);
    }

    /* Linear: the midpoint is the average and its norm dips to r cos(60 deg). */
    ASSERT_OK(vae_model_interpolate(m, z0, z1, NULL, VAE_INTERP_LINEAR, STEPS, out, z));
    const float *mid = z + 3 * (STEPS / 2);
    assert_true(fabs(mid[0] - 0.5) < 1e-6 && fabs(mid[1] - 0.8660254) < 1e-6);
    assert_true(fabs(norm(mid, 3) - 1.0) < 1e-5);
    /* Slerp: the norm stays 2 all along; the angle grows evenly (15 degrees a step). */
    ASSERT_OK(vae_model_interpolate(m, z0, z1, NULL, VAE_INTERP_SLERP, STEPS, out, z));
    for (size_t i = 0; i < STEPS; i++) {
        const float *p = z + 3 * i;
        assert_true(fabs(norm(p, 3) - 2.0) < 1e-5);
        const double angle = atan2(p[1], p[0]) * 180 / M_PI;
        assert_true(fabs(angle - 15.0 * (double)i) < 1e-4);
        assert_true(p[2] == 0.0f);
    }
    /* Different norms: slerp's norm runs between the two ends, never below. */
    const float far[3] = {0.0f, 0.0f, 4.0f};
    ASSERT_OK(vae_model_interpolate(m, z0, far, NULL, VAE_INTERP_SLERP, STEPS, out, z));
    for (size_t i = 0; i < STEPS; i++) assert_true(norm(z + 3 * i, 3) >= 2.0 - 1e-5);
    /* Parallel vectors: slerp is the line. */
    const float twice[3] = {4.0f, 0.0f, 0.0f};
    float lin[STEPS * 3];
    ASSERT_OK(vae_model_interpolate(m, z0, twice, NULL, VAE_INTERP_SLERP, STEPS, out, z));
    ASSERT_OK(vae_model_interpolate(m, z0, twice, NULL, VAE_INTERP_LINEAR, STEPS, out, lin));
    assert_memory_equal(z, lin, sizeof lin);

    /* Refusals leave the outputs alone. */
    float keep = z[0] = 123.0f;
    assert_int_equal(vae_model_interpolate(m, z0, z1, NULL, VAE_INTERP_LINEAR, 1, out, z),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_interpolate(m, z0, z1, NULL, (vae_interpolation)7, 3, out, z),
                     VAE_ERR_INVALID_ARGUMENT);
    const float bad[3] = {0.0f, NAN, 0.0f};
    assert_int_equal(vae_model_interpolate(m, z0, bad, NULL, VAE_INTERP_LINEAR, 3, out, z),
                     VAE_ERR_INVALID_ARGUMENT);
    const float cond[1] = {1.0f};
    assert_int_equal(vae_model_interpolate(m, z0, z1, cond, VAE_INTERP_LINEAR, 3, out, z),
                     VAE_ERR_INVALID_ARGUMENT);
    assert_true(z[0] == keep);
    vae_model_free(m);
}

static void test_traversal(void **state)
{
    (void)state;
    vae_model *m = small_model(32, 4, 0, 5);
    const float base[4] = {0.3f, -0.2f, 1.0f, 0.5f};
    float out[STEPS * 784], zs[STEPS * 4], again[STEPS * 784];
    ASSERT_OK(vae_model_traverse(m, base, NULL, 2, -3.0, 3.0, STEPS, out, zs));
    for (size_t i = 0; i < STEPS; i++)
        for (size_t j = 0; j < 4; j++) {
            const double want = j == 2 ? -3.0 + 6.0 * (double)i / (STEPS - 1) : base[j];
            assert_true(fabs(zs[i * 4 + j] - want) < 1e-6);
        }
    assert_true(zs[2] == -3.0f && zs[(STEPS - 1) * 4 + 2] == 3.0f);
    ASSERT_OK(vae_model_decode(m, zs, NULL, STEPS, again));
    assert_close(out, again, STEPS * 784, 1e-6);
    /* The images change along the sweep. */
    assert_memory_not_equal(out, out + 784 * (STEPS - 1), 784 * sizeof *out);

    assert_int_equal(vae_model_traverse(m, base, NULL, 4, -3, 3, STEPS, out, zs), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_traverse(m, base, NULL, 0, -INFINITY, 3, STEPS, out, zs), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_model_traverse(m, base, NULL, 0, -3, 3, 1, out, zs), VAE_ERR_INVALID_ARGUMENT);
    vae_model_free(m);
}

/* A conditional model: every point is decoded with the same cond. */
static void test_conditional_paths(void **state)
{
    (void)state;
    vae_model *m = small_model(32, 2, 3, 5);
    const float z0[2] = {1, 0}, z1[2] = {0, 1}, cond[3] = {0, 1, 0};
    float out[STEPS * 784], z[STEPS * 2], conds[STEPS * 3], again[STEPS * 784];
    for (size_t i = 0; i < STEPS; i++) memcpy(conds + 3 * i, cond, sizeof cond);
    ASSERT_OK(vae_model_interpolate(m, z0, z1, cond, VAE_INTERP_SLERP, STEPS, out, z));
    ASSERT_OK(vae_model_decode(m, z, conds, STEPS, again));
    assert_close(out, again, STEPS * 784, 1e-6);
    ASSERT_OK(vae_model_traverse(m, z0, cond, 1, -2, 2, STEPS, out, z));
    ASSERT_OK(vae_model_decode(m, z, conds, STEPS, again));
    assert_close(out, again, STEPS * 784, 1e-6);
    assert_int_equal(vae_model_traverse(m, z0, NULL, 1, -2, 2, STEPS, out, z), VAE_ERR_INVALID_ARGUMENT);
    vae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_units_on_a_partly_used_latent),
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_traversal),
        cmocka_unit_test(test_conditional_paths),
    };
    return cmocka_run_group_tests_name("explore", tests, setup, teardown);
}
