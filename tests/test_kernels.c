/*
 * Every GEMM backend usable here against a double-precision reference, on
 * random shapes (odd sizes, both transposes, leading dimensions wider than
 * the matrices, alpha and beta variations), on 1 to 3 threads, each level
 * selected by name and, in the runs meson makes with VAE_BACKEND set, forced
 * from the start. The tolerance is the classical
 * bound on a float32 dot product of length k:
 *     |c - c_exact| <= (k + 2) u (|alpha| sum_p |a_ip b_pj| + |beta c_ij|),
 * u = 2^-24, which holds for any summation order, blocked or fused.
 *
 * The bfloat16 products (VAE_PRECISION_BF16) round each operand to an
 * 8-bit significand, a relative error of at most u_b = 2^-8 (nearest
 * even), so each term a b carries at most (2 u_b + u_b^2) |a b| before the
 * float32 sum adds its (k + 2) u:
 *     |c - c_exact| <= ((2 u_b + u_b^2) + (k + 2) u) |alpha| sum_p |a_ip b_pj| + (k + 2) u |beta c_ij|.
 * It holds for both bfloat16 paths, vdpbf16ps (avx512bf16) and AMX's
 * tdpbf16ps (amx): each rounds every sum to float32, in its own order.
 * Both treat subnormals as zero whatever MXCSR says: the packers'
 * vcvtne2ps2bf16 turns a subnormal float into a signed zero, and the two
 * dot-product instructions flush subnormal products and sums to zero
 * (DAZ/FTZ). A flush moves a sum by less than 2^-126, which the bound
 * above does not cover; it never happens to the random inputs here
 * (multiples of 2^-52 in [-1, 1], so every nonzero product and sum of
 * their bfloat16 roundings is at least 2^-118 in magnitude), and
 * test_bf16_subnormals checks the flushing itself with its own bound.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall() */
#endif
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cmocka.h>

#include "kernels/kernels.h"
#include "rng.h"

#include "levels.h"

static float *rand_matrix(vaei_rng *r, size_t rows, size_t ld)
{
    float *p = malloc((rows * ld + 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < rows * ld; i++) p[i] = (float)(2.0 * vaei_rng_uniform(r) - 1.0);
    return p;
}

/* 1: one_case() runs the bfloat16 product instead of the active level. */
static int use_bf16;

static double at(const float *x, size_t ld, vae_transpose t, size_t i, size_t j)
{
    return t == VAE_NO_TRANS ? x[i * ld + j] : x[j * ld + i];
}

/* One random case through the active backend; returns the worst ratio of
 * error to bound (<= 1 passes). */
static double one_case(vaei_rng *r, size_t m, size_t n, size_t k, vae_transpose ta,
                       vae_transpose tb, float alpha, float beta)
{
    const size_t arows = ta == VAE_NO_TRANS ? m : k, acols = ta == VAE_NO_TRANS ? k : m;
    const size_t brows = tb == VAE_NO_TRANS ? k : n, bcols = tb == VAE_NO_TRANS ? n : k;
    const size_t lda = acols + vaei_rng_below(r, 3), ldb = bcols + vaei_rng_below(r, 3);
    const size_t ldc = n + vaei_rng_below(r, 3);
    float *a = rand_matrix(r, arows, lda), *b = rand_matrix(r, brows, ldb);
    float *c = rand_matrix(r, m, ldc), *c0 = malloc((m * ldc + 1) * sizeof *c0);
    assert_non_null(c0);
    if (beta == 0.0f)
        for (size_t i = 0; i < m * ldc; i++) c[i] = NAN; /* beta 0 must ignore C */
    memcpy(c0, c, m * ldc * sizeof *c);
    assert_int_equal(vaei_gemm_prec(use_bf16 ? VAE_PRECISION_BF16 : VAE_PRECISION_FP32, ta, tb, m,
                                    n, k, alpha, a, lda, b, ldb, beta, c, ldc),
                     VAE_OK);

    const double u = 0x1.0p-24, ub = 0x1.0p-8, rel = use_bf16 ? 2 * ub + ub * ub : 0.0;
    double worst = 0.0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < ldc; j++) {
            if (j >= n) { /* padding between rows is never written */
                assert_memory_equal(&c[i * ldc + j], &c0[i * ldc + j], sizeof(float));
                continue;
            }
            double exact = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                const double t = at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                exact += t;
                mag += fabs(t);
            }
            exact *= alpha;
            mag *= fabs(alpha);
            const double products = mag;
            if (beta != 0.0f) {
                exact += (double)beta * c0[i * ldc + j];
                mag += fabs((double)beta * c0[i * ldc + j]);
            }
            const double bound = (double)(k + 2) * u * mag + rel * products + 1e-30;
            const double err = fabs((double)c[i * ldc + j] - exact);
            assert_false(isnan(c[i * ldc + j]));
            if (err / bound > worst) worst = err / bound;
        }
    }
    free(a);
    free(b);
    free(c);
    free(c0);
    return worst;
}

/* The active backend on random shapes: sizes around every vector width,
 * register tile and skinny threshold of the SIMD kernels (8, 16, 24, 32),
 * and k past one k block (256). */
static void check_active(const char *name, int with_large)
{
    vaei_rng r;
    vaei_rng_seed(&r, 2024);
    static const size_t sizes[] = {1,  2,  3,  4,  5,  7,  8,  9,  15,  16,  17,  23, 24,
                                   25, 31, 33, 47, 64, 65, 100, 129, 257, 300};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    double worst = 0.0;
    for (int t = 0; t < 300; t++) {
        const size_t m = sizes[vaei_rng_below(&r, ns)], n = sizes[vaei_rng_below(&r, ns)];
        const size_t k = sizes[vaei_rng_below(&r, ns)];
        const vae_transpose ta = (vae_transpose)vaei_rng_below(&r, 2);
        const vae_transpose tb = (vae_transpose)vaei_rng_below(&r, 2);
        static const float alphas[] = {1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, 0.25f};
        const double w = one_case(&r, m, n, k, ta, tb, alphas[vaei_rng_below(&r, 3)],
                                  betas[vaei_rng_below(&r, 3)]);
        if (w > worst) worst = w;
        if (w > 1.0)
            fail_msg("%s: %zux%zux%zu ta=%d tb=%d: error %.3g times the float32 bound", name, m,
                     n, k, ta, tb, w);
    }
    if (!with_large) return;
    /* The training shapes of the lesson's model (batch 128, 784, 400, 2-D
     * latent) with the transposes the model uses. */
    static const struct {
        size_t m, n, k;
        vae_transpose ta, tb;
    } lesson[] = {
        {128, 400, 784, VAE_NO_TRANS, VAE_NO_TRANS}, {128, 4, 400, VAE_NO_TRANS, VAE_NO_TRANS},
        {128, 400, 2, VAE_NO_TRANS, VAE_NO_TRANS},   {128, 784, 400, VAE_NO_TRANS, VAE_NO_TRANS},
        {400, 784, 128, VAE_TRANS, VAE_NO_TRANS},    {128, 400, 784, VAE_NO_TRANS, VAE_TRANS},
        {2, 400, 128, VAE_TRANS, VAE_NO_TRANS},      {128, 2, 400, VAE_NO_TRANS, VAE_TRANS},
        {400, 4, 128, VAE_TRANS, VAE_NO_TRANS},      {128, 400, 4, VAE_NO_TRANS, VAE_TRANS},
        {784, 400, 128, VAE_TRANS, VAE_NO_TRANS},
    };
    for (size_t s = 0; s < sizeof lesson / sizeof lesson[0]; s++) {
        const double w = one_case(&r, lesson[s].m, lesson[s].n, lesson[s].k, lesson[s].ta,
                                  lesson[s].tb, 1.0f, 0.0f);
        if (w > 1.0) fail_msg("%s: lesson shape %zu: error %.3g times the bound", name, s, w);
    }
    /* Past the packing blocks of the SIMD kernels (256 rows, 1024 columns). */
    const vae_transpose ta = (vae_transpose)vaei_rng_below(&r, 2);
    const vae_transpose tb = (vae_transpose)vaei_rng_below(&r, 2);
    const double w = one_case(&r, 261, 1100, 300, ta, tb, 0.5f, 0.5f);
    if (w > 1.0) fail_msg("%s: 261x1100x300 ta=%d tb=%d: error %.3g times the bound", name, ta, tb, w);
}

static void run_backend(const char *name)
{
    assert_int_equal(vae_backend_select(name), VAE_OK);
    assert_string_equal(vae_backend_active(), name);
    check_active(name, 1);
}

static void test_every_backend_matches_reference(void **state)
{
    (void)state;
    assert_true(vae_backend_count() >= 1);
    for (size_t i = 0; i < vae_backend_count(); i++) run_backend(vae_backend_name(i));
    assert_null(vae_backend_name(vae_backend_count()));
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

static void test_degenerate_shapes(void **state)
{
    (void)state;
    for (size_t i = 0; i < vae_backend_count(); i++) {
        assert_int_equal(vae_backend_select(vae_backend_name(i)), VAE_OK);
        /* k = 0 with beta 0 zeroes C; with beta 1 leaves it. */
        float a[1] = {1}, b[1] = {1}, c[4] = {NAN, NAN, NAN, NAN};
        assert_int_equal(vaei_gemm(VAE_NO_TRANS, VAE_NO_TRANS, 2, 2, 0, 1.0f, a, 1, b, 2, 0.0f, c, 2), VAE_OK);
        for (int j = 0; j < 4; j++) assert_true(c[j] == 0.0f);
        c[0] = 3.0f;
        assert_int_equal(vaei_gemm(VAE_NO_TRANS, VAE_NO_TRANS, 1, 1, 0, 1.0f, a, 1, b, 1, 1.0f, c, 1), VAE_OK);
        assert_true(c[0] == 3.0f);
    }
}

static void test_select_unknown_backend(void **state)
{
    (void)state;
    const char *before = vae_backend_active();
    assert_int_equal(vae_backend_select("no-such-backend"), VAE_ERR_UNAVAILABLE);
    assert_non_null(strstr(vae_last_error(), "no-such-backend"));
    assert_string_equal(vae_backend_active(), before);
    assert_int_equal(vae_backend_select(NULL), VAE_ERR_INVALID_ARGUMENT);
}

static int calls;
static int failing_sgemm(void *user, vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                         size_t k, float alpha, const float *a, size_t lda, const float *b,
                         size_t ldb, float beta, float *c, size_t ldc)
{
    (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    calls++;
    return *(int *)user;
}

static void test_custom_sgemm(void **state)
{
    (void)state;
    int result = 0;
    float a[1] = {2}, b[1] = {3}, c[1] = {0};
    vae_set_sgemm(failing_sgemm, &result);
    assert_string_equal(vae_backend_active(), "custom");
    assert_int_equal(vaei_gemm(VAE_NO_TRANS, VAE_NO_TRANS, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1), VAE_OK);
    assert_int_equal(calls, 1);
    result = -1;
    assert_int_equal(vaei_gemm(VAE_NO_TRANS, VAE_NO_TRANS, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1),
                     VAE_ERR_CALLBACK);
    vae_set_sgemm(NULL, NULL);
    assert_string_not_equal(vae_backend_active(), "custom");
    assert_int_equal(vaei_gemm(VAE_NO_TRANS, VAE_NO_TRANS, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1), VAE_OK);
    assert_true(c[0] == 6.0f);
}

static void test_threads(void **state)
{
    (void)state;
    assert_true(vae_get_threads() >= 1);
    assert_int_equal(vae_set_threads(0), VAE_ERR_INVALID_ARGUMENT);
    for (int t = 1; t <= 3; t++) {
        assert_int_equal(vae_set_threads(t), VAE_OK);
        assert_int_equal(vae_get_threads(), t);
        for (size_t i = 0; i < vae_backend_count(); i++) {
            assert_int_equal(vae_backend_select(vae_backend_name(i)), VAE_OK);
            check_active(vae_backend_name(i), 0);
        }
    }
    assert_int_equal(vae_set_threads(2), VAE_OK);
}

/* C of one product at the given thread count, into c (m x n). */
static void product(int threads, vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                    size_t k, const float *a, const float *b, float *c)
{
    assert_int_equal(vae_set_threads(threads), VAE_OK);
    assert_int_equal(vaei_gemm(ta, tb, m, n, k, 1.0f, a, ta == VAE_NO_TRANS ? k : m, b,
                               tb == VAE_NO_TRANS ? n : k, 0.0f, c, n),
                     VAE_OK);
}

/* Every level gives the same bits when a product is repeated at a fixed
 * thread count. The SIMD levels go further: each element is computed by
 * the same operations whichever thread owns it, so their results do not
 * depend on the thread count either. */
static void test_reproducible(void **state)
{
    (void)state;
    /* The last two: few columns, where op(A) is read in place, not packed. */
    static const size_t shapes[][3] = {{128, 400, 784}, {784, 400, 128}, {128, 4, 400},
                                       {128, 400, 2},   {2, 400, 128},   {97, 203, 300},
                                       {300, 64, 257},  {257, 40, 300}};
    vaei_rng r;
    vaei_rng_seed(&r, 7);
    float *a = rand_matrix(&r, 784, 784), *b = rand_matrix(&r, 784, 784);
    float *c1 = malloc(784 * 784 * sizeof *c1), *c2 = malloc(784 * 784 * sizeof *c2);
    assert_non_null(c1);
    assert_non_null(c2);
    for (size_t i = 0; i < vae_backend_count(); i++) {
        const char *name = vae_backend_name(i);
        assert_int_equal(vae_backend_select(name), VAE_OK);
        const int simd = level_is_ours(name) && strcmp(name, "ref") != 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                const vae_transpose ta = (vae_transpose)(t & 1), tb = (vae_transpose)(t >> 1);
                product(2, ta, tb, m, n, k, a, b, c1);
                product(2, ta, tb, m, n, k, a, b, c2);
                if (memcmp(c1, c2, m * n * sizeof *c1) != 0)
                    fail_msg("%s: %zux%zux%zu t=%d differs between two runs", name, m, n, k, t);
                if (!simd) continue;
                for (int threads = 1; threads <= 3; threads += 2) {
                    product(threads, ta, tb, m, n, k, a, b, c2);
                    if (memcmp(c1, c2, m * n * sizeof *c1) != 0)
                        fail_msg("%s: %zux%zux%zu t=%d: %d threads differ from 2", name, m, n, k,
                                 t, threads);
                }
            }
    }
    assert_int_equal(vae_set_threads(2), VAE_OK);
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

/* libvae's own levels compute each element of C by one fixed sequence of
 * operations over k, whatever the number of rows m: the k blocking, the
 * register tiles and the split between threads are chosen from n and k, or
 * cover rows independently. So a row of a product does not depend on the
 * batch it sits in (of more than 8 rows: at most 8 take the unpacked
 * skinny kernels, gemm_template.h), and the tests that compare a step of 2 x 64 rows with
 * one of 128 (collective_check.h, test_mpi.c, test_collective.py) can
 * demand float32 rounding of the gradient sums alone. A BLAS makes no such
 * promise (OpenBLAS's Haswell kernels block 64 rows otherwise than 128), so
 * those tests run on a level that passes this one. The shapes are those of
 * the lesson's forward and backward data products at batch 128. */
static void test_rows_do_not_depend_on_batch(void **state)
{
    (void)state;
    static const struct {
        size_t n, k;
        vae_transpose tb;
    } shapes[] = {{400, 784, VAE_NO_TRANS}, {4, 400, VAE_NO_TRANS}, {400, 2, VAE_NO_TRANS},
                  {784, 400, VAE_NO_TRANS}, {400, 784, VAE_TRANS},  {2, 400, VAE_TRANS},
                  {400, 4, VAE_TRANS},      {97, 203, VAE_NO_TRANS}};
    enum { M = 128 };
    vaei_rng r;
    vaei_rng_seed(&r, 11);
    float *a = rand_matrix(&r, M, 784), *b = rand_matrix(&r, 784, 784);
    float *whole = malloc(M * 784 * sizeof *whole), *part = malloc(M * 784 * sizeof *part);
    assert_non_null(whole);
    assert_non_null(part);
    size_t checked = 0;
    for (size_t i = 0; i < vae_backend_count(); i++) {
        const char *name = vae_backend_name(i);
        if (!level_is_ours(name)) continue;
        assert_int_equal(vae_backend_select(name), VAE_OK);
        for (int threads = 1; threads <= 2; threads++) {
            assert_int_equal(vae_set_threads(threads), VAE_OK);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const size_t n = shapes[s].n, k = shapes[s].k;
                const size_t ldb = shapes[s].tb == VAE_NO_TRANS ? n : k;
                assert_int_equal(vaei_gemm(VAE_NO_TRANS, shapes[s].tb, M, n, k, 1.0f, a, k, b,
                                           ldb, 0.0f, whole, n),
                                 VAE_OK);
                /* The same rows as two halves, and as two odd blocks. */
                static const size_t parts[][2] = {{0, 64}, {64, 64}, {100, 9}, {5, 31}};
                for (size_t p = 0; p < 4; p++) {
                    const size_t r0 = parts[p][0], rows = parts[p][1];
                    assert_int_equal(vaei_gemm(VAE_NO_TRANS, shapes[s].tb, rows, n, k, 1.0f,
                                               a + r0 * k, k, b, ldb, 0.0f, part, n),
                                     VAE_OK);
                    if (memcmp(part, whole + r0 * n, rows * n * sizeof *part) != 0)
                        fail_msg("%s, %d threads: rows %zu..%zu of %dx%zux%zu differ when "
                                 "computed alone",
                                 name, threads, r0, r0 + rows - 1, M, n, k);
                }
            }
        }
        checked++;
    }
    assert_true(checked >= 1); /* the reference level always qualifies */
    assert_int_equal(vae_set_threads(2), VAE_OK);
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(a);
    free(b);
    free(whole);
    free(part);
}

/* Run by meson once per level with VAE_BACKEND set: the level named there
 * is the one in force from the start (no vae_backend_select), and it
 * passes the same checks. A level this CPU cannot run is skipped. */
static void test_forced_by_environment(void **state)
{
    (void)state;
    const char *want = getenv("VAE_BACKEND");
    if (!want || !*want) skip();
    int usable = 0;
    for (size_t i = 0; i < vae_backend_count(); i++)
        usable |= strcmp(vae_backend_name(i), want) == 0;
    if (!usable) {
        print_message("VAE_BACKEND=%s: not usable on this CPU, skipped\n", want);
        skip();
    }
    assert_string_equal(vae_backend_active(), want);
    check_active(want, 1);
}

/* The edges of the AMX blocks (32 x 32 of C, 32 values of k, k blocks of
 * up to 320) and the alpha and beta of a training step (1 and 0 or 1,
 * which keep the sums in the tiles), against the bound. */
static void check_bf16_edges(const char *path)
{
    static const size_t mn[] = {9, 16, 17, 31, 32, 33, 48, 63, 65, 96};
    static const size_t ks[] = {9, 17, 31, 32, 33, 63, 65, 319, 321, 641};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.25f}, {2.0f, 1.0f}};
    vaei_rng r;
    vaei_rng_seed(&r, 77);
    for (int t = 0; t < 120; t++) {
        const size_t m = mn[vaei_rng_below(&r, 10)], n = mn[vaei_rng_below(&r, 10)];
        const size_t k = ks[vaei_rng_below(&r, 10)];
        const vae_transpose ta = (vae_transpose)vaei_rng_below(&r, 2);
        const vae_transpose tb = (vae_transpose)vaei_rng_below(&r, 2);
        const size_t x = vaei_rng_below(&r, 4);
        const double w = one_case(&r, m, n, k, ta, tb, ab[x][0], ab[x][1]);
        if (w > 1.0)
            fail_msg("bf16 %s: %zux%zux%zu ta=%d tb=%d alpha %g beta %g: error %.3g times the bound",
                     path, m, n, k, ta, tb, (double)ab[x][0], (double)ab[x][1], w);
    }
}

/* The bfloat16 products of one path on the shapes above at 1 to 3
 * threads, against the double reference with the bfloat16 bound; their
 * bits do not depend on the thread count (the same template as the
 * float32 levels), and they do differ from float32's (the operands really
 * are rounded). */
static void check_bf16_path(const char *path)
{
    assert_int_equal(vaei_bf16_select(path), VAE_OK);
    assert_string_equal(vaei_bf16_path(), path);
    use_bf16 = 1;
    for (int t = 1; t <= 3; t++) {
        assert_int_equal(vae_set_threads(t), VAE_OK);
        check_active(path, t == 2);
        check_bf16_edges(path);
    }
    use_bf16 = 0;
    static const size_t shapes[][3] = {{128, 400, 784}, {784, 400, 128}, {400, 784, 128},
                                       {128, 784, 400}, {97, 203, 301},  {101, 67, 1001}};
    vaei_rng r;
    vaei_rng_seed(&r, 5);
    float *a = rand_matrix(&r, 784, 1001), *b = rand_matrix(&r, 1001, 784);
    float *c1 = malloc(784 * 784 * sizeof *c1), *c2 = malloc(784 * 784 * sizeof *c2);
    assert_non_null(c1);
    assert_non_null(c2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            const vae_transpose ta = (vae_transpose)(t & 1), tb = (vae_transpose)(t >> 1);
            const size_t lda = ta == VAE_NO_TRANS ? k : m, ldb = tb == VAE_NO_TRANS ? n : k;
            assert_int_equal(vae_set_threads(2), VAE_OK);
            assert_int_equal(vaei_gemm_prec(VAE_PRECISION_BF16, ta, tb, m, n, k, 1.0f, a, lda, b,
                                            ldb, 0.0f, c1, n),
                             VAE_OK);
            for (int threads = 1; threads <= 3; threads++) {
                assert_int_equal(vae_set_threads(threads), VAE_OK);
                assert_int_equal(vaei_gemm_prec(VAE_PRECISION_BF16, ta, tb, m, n, k, 1.0f, a, lda,
                                                b, ldb, 0.0f, c2, n),
                                 VAE_OK);
                if (memcmp(c1, c2, m * n * sizeof *c1) != 0)
                    fail_msg("bf16 %s %zux%zux%zu t=%d: %d threads differ from 2", path, m, n, k,
                             t, threads);
            }
            assert_int_equal(vaei_gemm_prec(VAE_PRECISION_FP32, ta, tb, m, n, k, 1.0f, a, lda, b,
                                            ldb, 0.0f, c2, n),
                             VAE_OK);
            assert_true(memcmp(c1, c2, m * n * sizeof *c1) != 0);
        }
    assert_int_equal(vae_set_threads(2), VAE_OK);
    assert_int_equal(vaei_bf16_select("auto"), VAE_OK);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

/* One path, or a skip that says what is missing. */
static void bf16_path_or_skip(const char *path, const char *missing)
{
    if (vaei_bf16_select(path) != VAE_OK) {
        print_message("no %s: skipped\n", missing);
        skip();
    }
    check_bf16_path(path);
}

static void test_bf16_avx512bf16(void **state)
{
    (void)state;
    bf16_path_or_skip("avx512bf16", "AVX512_BF16 on this CPU (or in this build)");
}

static void test_bf16_amx(void **state)
{
    (void)state;
    bf16_path_or_skip("amx", "AMX-BF16 on this CPU, in this OS or in this build");
}

/* Both paths where both run: the same products within the same bound,
 * but not the same bits in general (tdpbf16ps sums its 32 values of k in
 * another order than vdpbf16ps's pairs, and the k blocks differ); said,
 * not asserted. */
static void test_bf16_paths_compared(void **state)
{
    (void)state;
    if (vaei_bf16_select("amx") != VAE_OK || vaei_bf16_select("avx512bf16") != VAE_OK) {
        print_message("not both bfloat16 paths here: skipped\n");
        skip();
    }
    vaei_rng r;
    vaei_rng_seed(&r, 9);
    enum { M = 128, N = 400, K = 784 };
    float *a = rand_matrix(&r, M, K), *b = rand_matrix(&r, K, N);
    float *c1 = malloc(M * N * sizeof *c1), *c2 = malloc(M * N * sizeof *c2);
    assert_non_null(c1);
    assert_non_null(c2);
    const char *paths[2] = {"amx", "avx512bf16"};
    float *out[2] = {c1, c2};
    for (int p = 0; p < 2; p++) {
        assert_int_equal(vaei_bf16_select(paths[p]), VAE_OK);
        assert_int_equal(vaei_gemm_prec(VAE_PRECISION_BF16, VAE_NO_TRANS, VAE_NO_TRANS, M, N, K,
                                        1.0f, a, K, b, N, 0.0f, out[p], N),
                         VAE_OK);
    }
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) differ += memcmp(c1 + i, c2 + i, sizeof *c1) != 0;
    print_message("amx and avx512bf16 differ in %zu of %d elements of a %dx%dx%d product\n",
                  differ, M * N, M, N, K);
    assert_int_equal(vaei_bf16_select("auto"), VAE_OK);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

/* Subnormals, on every bfloat16 path here. Where an operand below 2^-126
 * may count as zero and a product or sum below it may be flushed (as
 * vcvtne2ps2bf16, vdpbf16ps and tdpbf16ps do, whatever MXCSR says), the
 * error bound gains k 2^-126 (1 + max |a| + max |b|): what a flushed
 * operand times the other, or a flushed sum, can lose. The cases: products
 * of 2^-70 by 2^-70 (2^-140, subnormal), and of 2^-130 (a subnormal
 * float) by 2^100 (2^-30, which float32 keeps). The bound holds whether
 * the hardware flushes or not, so the verdict is the same on any CPU; what
 * this one did is printed. */
static void test_bf16_subnormals(void **state)
{
    (void)state;
    static const char *const paths[] = {"amx", "avx512bf16"};
    static const float av[2] = {0x1p-70f, 0x1p-130f}, bv[2] = {0x1p-70f, 0x1p100f};
    int ran = 0;
    enum { M = 40, N = 40, K = 64 };
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b), *c = malloc(M * N * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (size_t p = 0; p < 2; p++) {
        if (vaei_bf16_select(paths[p]) != VAE_OK) continue;
        ran++;
        for (int kind = 0; kind < 2; kind++) {
            for (size_t i = 0; i < M * K; i++) a[i] = av[kind];
            for (size_t i = 0; i < K * N; i++) b[i] = bv[kind];
            assert_int_equal(vaei_gemm_prec(VAE_PRECISION_BF16, VAE_NO_TRANS, VAE_NO_TRANS, M, N,
                                            K, 1.0f, a, K, b, N, 0.0f, c, N),
                             VAE_OK);
            const double exact = K * (double)av[kind] * (double)bv[kind];
            const double bound = (0x1p-7 + (K + 2) * 0x1p-24) * exact +
                                 K * 0x1p-126 * (1.0 + av[kind] + bv[kind]);
            size_t flushed = 0;
            for (size_t i = 0; i < M * N; i++) {
                if (!(fabs(c[i] - exact) <= bound))
                    fail_msg("bf16 %s: subnormal case %d gave %g (exact %g)", paths[p], kind,
                             (double)c[i], exact);
                flushed += c[i] == 0.0f;
            }
            print_message("bf16 %s: %s x %s: %s\n", paths[p], kind ? "2^-130" : "2^-70",
                          kind ? "2^100" : "2^-70",
                          flushed == M * N ? "flushed to zero"
                          : flushed        ? "partly flushed"
                                           : "kept");
        }
    }
    assert_int_equal(vaei_bf16_select("auto") == VAE_OK, ran > 0);
    free(a);
    free(b);
    free(c);
    if (!ran) {
        print_message("no bfloat16 path on this CPU (or in this build): skipped\n");
        skip();
    }
}

/* Whether Linux has given this process the AMX tile data (1, 0; -1: the
 * kernel cannot say). */
static int holds_tile_permission(void)
{
#if defined(__linux__) && defined(__x86_64__)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, XFEATURE_XTILEDATA = 18 };
    uint64_t mask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &mask) != 0) return -1;
    return (int)((mask >> XFEATURE_XTILEDATA) & 1);
#else
    return -1;
#endif
}

/* Run by meson with VAE_BF16 set: the path named there is the one in force
 * from the start; a path this CPU cannot run leaves the best one (and the
 * test says so). Forced to vdpbf16ps, the library must not have asked for
 * the process-wide AMX permission (vae.h); on AMX it holds it. */
static void test_bf16_forced_by_environment(void **state)
{
    (void)state;
    const char *want = getenv("VAE_BF16");
    if (!want || !*want) skip();
    const char *path = vaei_bf16_path();
    const int perm = holds_tile_permission();
    if (path && perm >= 0) assert_int_equal(perm, strcmp(path, "amx") == 0);
    if (vaei_bf16_select(want) != VAE_OK) {
        print_message("VAE_BF16=%s: not usable here (path %s), skipped\n", want, path ? path : "none");
        skip();
    }
    assert_string_equal(path, want);
    assert_int_equal(vaei_bf16_select("auto"), VAE_OK);
}

int main(void)
{
    const char *forced = getenv("VAE_BACKEND");
    if (forced && *forced) { /* the per-level runs: that level alone */
        const struct CMUnitTest one[] = {
            cmocka_unit_test(test_forced_by_environment),
        };
        return cmocka_run_group_tests_name("kernels (VAE_BACKEND)", one, NULL, NULL);
    }
    const char *bf16 = getenv("VAE_BF16");
    if (bf16 && *bf16) { /* the forced bfloat16 path, then both paths as usual */
        const struct CMUnitTest paths[] = {
            cmocka_unit_test(test_bf16_forced_by_environment),
            cmocka_unit_test(test_bf16_avx512bf16),
            cmocka_unit_test(test_bf16_amx),
        };
        return cmocka_run_group_tests_name("kernels (VAE_BF16)", paths, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_backend_matches_reference),
        cmocka_unit_test(test_degenerate_shapes),
        cmocka_unit_test(test_select_unknown_backend),
        cmocka_unit_test(test_custom_sgemm),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_rows_do_not_depend_on_batch),
        cmocka_unit_test(test_bf16_avx512bf16),
        cmocka_unit_test(test_bf16_amx),
        cmocka_unit_test(test_bf16_paths_compared),
        cmocka_unit_test(test_bf16_subnormals),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
