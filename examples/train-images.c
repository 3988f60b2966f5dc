/*
 * The image grids of vae-train; see train-images.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "train-images.h"
#include "train-options.h"

enum { RECON = 16, SAMPLES = 64, GRID = 20, PAIRS = 4, PATH_STEPS = 10, TRAVERSE_DIMS = 10,
       TRAVERSE_STEPS = 11, CLASS_ROWS_MAX = 20 };

/*
 * Inverse of the standard normal CDF: Acklam's rational approximation
 * (relative error 1.2e-9), then one Halley step on erfc for full double
 * precision. p in (0, 1).
 */
static double inverse_normal_cdf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double p_low = 0.02425;
    double x;

    if (p < p_low || p > 1.0 - p_low) {
        /* tails: a rational function of sqrt(-2 log(tail mass)) */
        double q = sqrt(-2.0 * log(p < p_low ? p : 1.0 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
        if (p > 1.0 - p_low) x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    /* Halley: e = Phi(x) - p, u = e / phi(x), x -= u / (1 + x u / 2) */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2.0 * 3.14159265358979323846) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

static float *alloc_floats(size_t n, size_t dim)
{
    float *p = dim && n > SIZE_MAX / sizeof(float) / dim ? NULL : calloc(n * dim, sizeof(float));
    if (!p) die("out of memory for %zu images", n);
    return p;
}

/* Write a grid as <out>/<stem>.png (or .pgm); dies on failure. */
static void save_grid(const char *out, const char *stem, const float *images, size_t n,
                      size_t cols, size_t dim)
{
    char name[64], path[PATH_SIZE];
    size_t h, w;
    image_shape(dim, &h, &w);
    snprintf(name, sizeof name, "%s%s", stem, image_extension());
    cli_join(path, sizeof path, out, name);
    if (image_write_grid(path, images, n, cols, h, w) != 0) die("%s: %s", path, strerror(errno));
}

/* [n x classes] one-hot rows of labels. */
static float *one_hot(const int32_t *labels, size_t n, size_t classes)
{
    float *c = alloc_floats(n, classes);
    for (size_t i = 0; i < n; i++)
        if ((size_t)labels[i] < classes) c[i * classes + (size_t)labels[i]] = 1.0f;
    return c;
}

/* Kingma & Welling's figure 4: evenly spaced points of the unit square
 * mapped through the inverse normal CDF, so each cell holds the same prior
 * mass. z1 grows rightwards and z2 upwards, as on a plot. */
static void write_manifold(vae_model *m, const char *out, size_t dim)
{
    float z[GRID * GRID * 2];
    for (size_t r = 0; r < GRID; r++) {
        for (size_t c = 0; c < GRID; c++) {
            z[2 * (r * GRID + c)] = (float)inverse_normal_cdf((c + 0.5) / GRID);
            z[2 * (r * GRID + c) + 1] = (float)inverse_normal_cdf(1.0 - (r + 0.5) / GRID);
        }
    }
    float *grid = alloc_floats(GRID * GRID, dim);
    cli_check(vae_model_decode(m, z, NULL, GRID * GRID, grid), "decoding the latent grid");
    save_grid(out, "manifold", grid, GRID * GRID, GRID, dim);
    free(grid);
}

/* Draws from the prior: 64 in a grid; for a conditional model one row per
 * class (at most CLASS_ROWS_MAX), every row decoding the same 10 draws, so
 * that a column shows one style across the classes. */
static void write_samples(vae_model *m, const char *out, size_t dim, size_t L, size_t classes,
                          uint64_t seed)
{
    const size_t rows = classes < CLASS_ROWS_MAX ? classes : CLASS_ROWS_MAX;
    const size_t n = classes ? rows * 10 : SAMPLES, cols = classes ? 10 : 8;
    float *s = alloc_floats(n, dim);
    if (!classes) {
        cli_check(vae_model_sample(m, NULL, n, seed, s, NULL), "sampling");
    } else {
        float *cond = alloc_floats(n, classes), *z = alloc_floats(n, L);
        for (size_t i = 0; i < n; i++) cond[i * classes + i / 10] = 1.0f;
        cli_check(vae_model_sample(m, cond, 10, seed, s, z), "sampling");
        for (size_t r = 1; r < rows; r++) memcpy(z + r * 10 * L, z, 10 * L * sizeof *z);
        cli_check(vae_model_decode(m, z, cond, n, s), "decoding samples");
        free(z);
        free(cond);
    }
    save_grid(out, "samples", s, n, cols, dim);
    free(s);
}

/* Interpolation between the posterior means of test images 2p and 2p+1,
 * decoded with image 2p's conditioning: a linear row above a slerp row. */
static void write_interpolation(vae_model *m, const char *out, size_t dim, size_t L,
                                size_t classes, const float *mu, const float *cond, size_t pairs)
{
    float *grid = alloc_floats(2 * pairs * PATH_STEPS, dim);
    for (size_t p = 0; p < pairs; p++) {
        const float *c = classes ? cond + 2 * p * classes : NULL;
        for (int kind = VAE_INTERP_LINEAR; kind <= VAE_INTERP_SLERP; kind++)
            cli_check(vae_model_interpolate(m, mu + 2 * p * L, mu + (2 * p + 1) * L, c,
                                            (vae_interpolation)kind, PATH_STEPS,
                                            grid + (2 * p + (size_t)kind) * PATH_STEPS * dim, NULL),
                      "interpolating");
    }
    save_grid(out, "interpolation", grid, 2 * pairs * PATH_STEPS, PATH_STEPS, dim);
    free(grid);
}

/* One row per latent dimension: swept over [-3, 3] from the first image's mean. */
static void write_traversal(vae_model *m, const char *out, size_t dim, size_t L,
                            const float *mu, const float *cond)
{
    const size_t rows = L < TRAVERSE_DIMS ? L : TRAVERSE_DIMS;
    float *grid = alloc_floats(rows * TRAVERSE_STEPS, dim);
    for (size_t d = 0; d < rows; d++)
        cli_check(vae_model_traverse(m, mu, cond, d, -3.0, 3.0, TRAVERSE_STEPS,
                                     grid + d * TRAVERSE_STEPS * dim, NULL),
                  "traversing dimension %zu", d);
    save_grid(out, "traversal", grid, rows * TRAVERSE_STEPS, TRAVERSE_STEPS, dim);
    free(grid);
}

void write_images(vae_model *m, vae_dataset *test, const char *out, uint64_t seed)
{
    const size_t dim = vae_dataset_dim(test), L = model_size(m, VAE_PARAM_LATENT_DIM);
    const size_t classes = model_size(m, VAE_PARAM_COND_DIM);
    const size_t n = vae_dataset_count(test) < RECON ? vae_dataset_count(test) : RECON;
    size_t h, w;
    image_shape(dim, &h, &w);

    /* Originals in the top row, decode(encode(x).mu) below. */
    float *x = alloc_floats(n, dim), *y = alloc_floats(n, dim), *cond = NULL;
    int32_t labels[RECON];
    cli_check(vae_dataset_get(test, 0, n, x, classes ? labels : NULL), "reading test images");
    if (classes) cond = one_hot(labels, n, classes);
    cli_check(vae_model_reconstruct(m, x, cond, n, y), "reconstructing test images");
    const float *rows[] = {x, y};
    char path[PATH_SIZE], name[64];
    snprintf(name, sizeof name, "reconstructions%s", image_extension());
    cli_join(path, sizeof path, out, name);
    if (image_write_rows(path, rows, 2, n, h, w) != 0) die("%s: %s", path, strerror(errno));

    write_samples(m, out, dim, L, classes, seed);
    if (L == 2 && classes == 0) write_manifold(m, out, dim);

    float *mu = alloc_floats(n, L);
    cli_check(vae_model_encode(m, x, cond, n, mu, NULL), "encoding test images");
    const size_t pairs = n / 2 < PAIRS ? n / 2 : PAIRS;
    if (pairs) write_interpolation(m, out, dim, L, classes, mu, cond, pairs);
    write_traversal(m, out, dim, L, mu, cond);
    free(mu);
    free(x);
    free(y);
    free(cond);
}
