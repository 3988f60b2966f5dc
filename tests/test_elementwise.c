/*
 * The element-wise kernels of every level against the reference and libm:
 *   - exp and log1p (the SIMD levels' own) within a stated number of units
 *     in the last place of the double-precision result, over dense sweeps;
 *   - the Bernoulli term and its gradient within bounds built from those;
 *   - tanh and ELU within a stated number of units of double precision,
 *     and within 12 units of libm's float functions at every width;
 *   - everything else bit for bit equal to the reference (bias + ReLU,
 *     leaky ReLU, identity; the backward passes but softplus's, which is
 *     within 12 units; column sums;
 *     Adam, which keeps no subnormal moment; bytes to floats; the
 *     finiteness test), odd widths included;
 *   - the threaded wrappers (and the byte-row gather) give the same bits on
 *     1, 2 and 3 threads;
 *   - the update's finiteness test answers as the exact one does, whether
 *     its cheap scan proves the update finite or not.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/kernels.h"
#include "rng.h"

/* Accuracy bounds, in units of 2^-24 relative to the exact value: the
 * Cephes polynomials stay within about 2 units; the margin is for FMA and
 * reduction differences between instruction sets. */
#define EXP_ULPS 4.0
#define LOG1P_ULPS 4.0
#define ACT_ULPS 8.0 /* tanh and ELU: an exp, a division and a subtraction */

static float *rand_floats(vaei_rng *r, size_t n, double lo, double hi)
{
    float *p = malloc((n + 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * vaei_rng_uniform(r));
    return p;
}

static float *copy(const float *x, size_t n)
{
    float *p = malloc((n + 1) * sizeof *p);
    assert_non_null(p);
    memcpy(p, x, n * sizeof *p);
    return p;
}

#define FOR_EACH_LEVEL(name)                                                   \
    for (size_t lvl_ = 0; lvl_ < vae_backend_count(); lvl_++)                  \
        for (const char *name = vae_backend_name(lvl_);                        \
             name && vae_backend_select(name) == VAE_OK; name = NULL)

static void test_exp_log1p_accuracy(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    FOR_EACH_LEVEL(name) {
        const vaei_vecops *v = vaei_vec();
        /* exp over [-87, 88], where the result is a normal float. */
        for (size_t i = 0; i < N; i++) x[i] = (float)(-87.0 + 175.0 * (double)i / (N - 1));
        v->exp(y, x, N);
        double worst = 0.0;
        for (size_t i = 0; i < N; i++) {
            const double e = exp((double)x[i]), err = fabs((double)y[i] - e) / (e * 0x1.0p-24);
            if (err > worst) worst = err;
        }
        print_message("%s: exp within %.2f units\n", name, worst);
        if (worst > EXP_ULPS) fail_msg("%s: exp off by %.2f units (bound %g)", name, worst, EXP_ULPS);
        v->exp(y, (const float[]){NAN, -INFINITY, 0.0f}, 3);
        assert_true(isnan(y[0]));
        assert_true(y[1] >= 0.0f && y[1] < 1e-37f);
        assert_true(y[2] == 1.0f);

        /* log1p over [0, 1], densely, and tiny arguments. */
        for (size_t i = 0; i < N; i++) x[i] = (float)((double)i / (N - 1));
        for (size_t i = 0; i < 64; i++) x[i] = ldexpf(1.0f, -(int)(2 * i)); /* 1 .. 2^-126 */
        v->log1p_unit(y, x, N);
        worst = 0.0;
        for (size_t i = 0; i < N; i++) {
            const double e = log1p((double)x[i]);
            const double err = e == 0.0 ? fabs((double)y[i]) : fabs((double)y[i] - e) / (e * 0x1.0p-24);
            if (err > worst) worst = err;
        }
        print_message("%s: log1p within %.2f units\n", name, worst);
        if (worst > LOG1P_ULPS)
            fail_msg("%s: log1p off by %.2f units (bound %g)", name, worst, LOG1P_ULPS);
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(x);
    free(y);
}

/* The Bernoulli term: sum and gradient against a double reference. Per
 * element, softplus(l) carries at most (EXP_ULPS + LOG1P_ULPS + 2) units of
 * its magnitude, x l one unit, and the gradient scale (sigmoid - x) a few
 * units of |sigmoid| + |x|. */
/* tanh and ELU (bias + activation with a zero bias) against double
 * precision over [-12, 12], densely, and over tiny magnitudes, where their
 * small-argument polynomials take over from the exp-based forms. */
static void test_tanh_elu_accuracy(void **state)
{
    (void)state;
    enum { N = 1 << 18, W = 64 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *b = calloc(W, sizeof *b);
    assert_true(x && y && b);
    for (size_t i = 0; i < N; i++) x[i] = (float)(-12.0 + 24.0 * (double)i / (N - 1));
    for (size_t i = 0; i < 128; i++) x[i] = (i & 1 ? -1.0f : 1.0f) * ldexpf(1.0f, -(int)i);
    static const int acts[] = {VAE_ACTIVATION_TANH, VAE_ACTIVATION_ELU};
    FOR_EACH_LEVEL(name) {
        for (int k = 0; k < 2; k++) {
            memcpy(y, x, N * sizeof *y);
            vaei_vec()->bias_act(y, N / W, W, b, acts[k], 0.0f);
            double worst = 0.0;
            for (size_t i = 0; i < N; i++) {
                const double a = x[i];
                const double e = acts[k] == VAE_ACTIVATION_TANH ? tanh(a) : a > 0 ? a : expm1(a);
                const double err = fabs((double)y[i] - e) / (fabs(e) * 0x1.0p-24 + 1e-300);
                if (err > worst) worst = err;
            }
            print_message("%s: %s within %.2f units\n", name, k ? "elu" : "tanh", worst);
            if (worst > ACT_ULPS)
                fail_msg("%s: %s off by %.2f units (bound %g)", name, k ? "elu" : "tanh", worst,
                         ACT_ULPS);
        }
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(x);
    free(y);
    free(b);
}

static void test_bce(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 11);
    static const size_t dims[][2] = {{1, 1}, {3, 7}, {5, 17}, {16, 784}, {37, 33}};
    for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
        const size_t n = dims[s][0], d = dims[s][1], ldx = d + 3;
        float *l = rand_floats(&r, n * d, -30.0, 30.0), *x = rand_floats(&r, n * ldx, 0.0, 1.0);
        for (size_t i = 0; i < n * d; i += 5) l[i] *= 0.01f; /* near 0 too */
        float *dl = malloc(n * d * sizeof *dl);
        assert_non_null(dl);
        const float scale = 1.0f / (float)n;
        double exact = 0.0, bound = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                const double lj = l[i * d + j], xj = x[i * ldx + j];
                const double sp = fmax(lj, 0.0) + log1p(exp(-fabs(lj)));
                exact += sp - xj * lj;
                bound += (EXP_ULPS + LOG1P_ULPS + 4.0) * 0x1.0p-24 * (sp + fabs(xj * lj));
            }
        FOR_EACH_LEVEL(name) {
            const double sum = vaei_vec()->bce_logits(n, d, x, ldx, l, dl, scale);
            if (fabs(sum - exact) > bound + 1e-12)
                fail_msg("%s: %zux%zu: sum %.17g, exact %.17g, bound %.3g", name, n, d, sum, exact, bound);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < d; j++) {
                    const double lj = l[i * d + j], xj = x[i * ldx + j];
                    const double sig = 1.0 / (1.0 + exp(-lj)), want = scale * (sig - xj);
                    const double tol = 8.0 * 0x1.0p-24 * scale * (sig + xj) + 1e-45;
                    if (fabs(dl[i * d + j] - want) > tol)
                        fail_msg("%s: gradient (%zu,%zu) = %.9g, exact %.9g", name, i, j,
                                 (double)dl[i * d + j], want);
                }
            /* Without the gradient: the same sum. */
            assert_true(vaei_vec()->bce_logits(n, d, x, ldx, l, NULL, scale) == sum);
        }
        free(l);
        free(x);
        free(dl);
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

static void test_same_bits_as_reference(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 12);
    static const size_t widths[] = {1, 2, 3, 4, 8, 15, 16, 17, 33, 63, 64, 65, 400};
    const vaei_vecops *ref = &vaei_vec_ref;
    FOR_EACH_LEVEL(name) {
        const vaei_vecops *v = vaei_vec();
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
            /* narrow rows: enough of them for whole vectors over the flat array */
            const size_t w = widths[wi], n = w < 16 ? 37 : 5, count = n * w;
            float *h = rand_floats(&r, count, -3.0, 3.0), *b = rand_floats(&r, w, -1.0, 1.0);
            float *g = rand_floats(&r, count, -1.0, 1.0);
            h[0] = NAN; /* fmaxf(NaN, 0) = 0: the kernels must agree */
            for (int act = -1; act <= VAE_ACTIVATION_SOFTPLUS; act++) {
                float *h1 = copy(h, count), *h2 = copy(h, count);
                ref->bias_act(h1, n, w, b, act, 0.1f);
                v->bias_act(h2, n, w, b, act, 0.1f);
                if (act == VAE_ACTIVATION_SOFTPLUS || act == VAE_ACTIVATION_TANH ||
                    act == VAE_ACTIVATION_ELU) { /* own exp, log1p and polynomials */
                    if (!isnan(h2[0])) fail_msg("%s: bias_act %d lost a NaN", name, act);
                    for (size_t i = 1; i < count; i++)
                        if (!(fabsf(h1[i] - h2[i]) <= 12.0f * 0x1.0p-24f * fabsf(h1[i]) + 1e-30f))
                            fail_msg("%s: bias_act %d at %zu: %.9g, libm %.9g", name, act, i,
                                     (double)h2[i], (double)h1[i]);
                } else if (memcmp(h1, h2, count * sizeof *h1) != 0) {
                    fail_msg("%s: bias_act %d, width %zu differs from the reference", name, act, w);
                }
                float *g1 = copy(g, count), *g2 = copy(g, count);
                ref->act_backward(g1, h1, count, act, 0.1f);
                v->act_backward(g2, h1, count, act, 0.1f);
                if (act == VAE_ACTIVATION_SOFTPLUS) { /* own e^x - 1 */
                    if (isnan(g1[0]) != isnan(g2[0])) fail_msg("%s: softplus' lost a NaN", name);
                    for (size_t i = 1; i < count; i++)
                        if (!(fabsf(g1[i] - g2[i]) <= 12.0f * 0x1.0p-24f * fabsf(g1[i]) + 1e-30f))
                            fail_msg("%s: softplus' at %zu: %.9g, libm %.9g", name, i,
                                     (double)g2[i], (double)g1[i]);
                } else if (memcmp(g1, g2, count * sizeof *g1) != 0) {
                    fail_msg("%s: act_backward %d, width %zu differs", name, act, w);
                }
                free(h1);
                free(h2);
                free(g1);
                free(g2);
            }
            float *s1 = malloc(w * sizeof *s1), *s2 = malloc(w * sizeof *s2);
            assert_non_null(s1);
            assert_non_null(s2);
            ref->col_sums(s1, g, n, w);
            v->col_sums(s2, g, n, w);
            if (memcmp(s1, s2, w * sizeof *s1) != 0) fail_msg("%s: col_sums, width %zu", name, w);

            uint8_t *bytes = malloc(count);
            assert_non_null(bytes);
            for (size_t i = 0; i < count; i++) bytes[i] = (uint8_t)vaei_rng_below(&r, 256);
            float *f1 = malloc(count * sizeof *f1), *f2 = malloc(count * sizeof *f2);
            assert_non_null(f1);
            assert_non_null(f2);
            ref->u8_to_float(f1, bytes, count);
            v->u8_to_float(f2, bytes, count);
            if (memcmp(f1, f2, count * sizeof *f1) != 0) fail_msg("%s: u8_to_float, %zu", name, count);
            assert_true(f1[0] == (float)bytes[0] * (1.0f / 255.0f));

            /* Finiteness: a NaN or an infinity anywhere, tails included. */
            assert_true(v->all_finite(g, count));
            for (size_t at = 0; at < count; at += 7) {
                const float keep = g[at];
                g[at] = at % 2 ? INFINITY : NAN;
                if (v->all_finite(g, count)) fail_msg("%s: missed a non-finite at %zu of %zu", name, at, count);
                g[at] = -INFINITY;
                assert_false(v->all_finite(g, count));
                g[at] = keep;
            }
            free(h);
            free(b);
            free(g);
            free(s1);
            free(s2);
            free(bytes);
            free(f1);
            free(f2);
        }
        /* Adam, 3 steps over an odd length. */
        const size_t np = 1003;
        float *p1 = rand_floats(&r, np, -1, 1), *grad = rand_floats(&r, np, -1, 1);
        float *m1 = calloc(np, sizeof *m1), *v1 = calloc(np, sizeof *v1);
        float *p2 = copy(p1, np), *m2 = calloc(np, sizeof *m2), *v2 = calloc(np, sizeof *v2);
        assert_true(m1 && v1 && m2 && v2);
        for (int t = 1; t <= 3; t++) {
            const float step = (float)(1e-3 / (1.0 - pow(0.9, t)));
            const float ibc = (float)(1.0 / sqrt(1.0 - pow(0.999, t)));
            const vaei_adam_args a1 = {p1, m1, v1, grad, 0.9f, 0.999f, 0.1f, 0.001f, 0.01f, 1e-8f, step, ibc};
            const vaei_adam_args a2 = {p2, m2, v2, grad, 0.9f, 0.999f, 0.1f, 0.001f, 0.01f, 1e-8f, step, ibc};
            vaei_moment_max t1, t2;
            ref->adam(&a1, 0, np, &t1);
            v->adam(&a2, 0, np, &t2);
            /* the maxima it reports are those of what it stored */
            float mm = 0.0f, vm = 0.0f;
            for (size_t i = 0; i < np; i++) {
                mm = fabsf(m1[i]) > mm ? fabsf(m1[i]) : mm;
                vm = v1[i] > vm ? v1[i] : vm;
            }
            if (t1.m != mm || t1.v != vm || t2.m != mm || t2.v != vm)
                fail_msg("%s: Adam's moment maxima %g %g (reference %g %g), stored %g %g", name,
                         (double)t2.m, (double)t2.v, (double)t1.m, (double)t1.v, (double)mm,
                         (double)vm);
        }
        if (memcmp(p1, p2, np * sizeof *p1) != 0 || memcmp(m1, m2, np * sizeof *m1) != 0 ||
            memcmp(v1, v2, np * sizeof *v1) != 0)
            fail_msg("%s: Adam differs from the reference", name);
        /* adam_ok: the update's finiteness, with the bad element in the
         * vector body or in the tail; 0/0 when eps is 0 and g, m, v are 0. */
        {
            const vaei_adam_args ok = {p1, m1, v1, grad, 0.9f, 0.999f, 0.1f, 0.001f, 0.01f, 1e-8f, 1e-3f, 1.0f};
            assert_true(v->adam_ok(&ok, 0, np) && ref->adam_ok(&ok, 0, np));
            const size_t at[] = {5, np - 2};
            for (int k = 0; k < 2; k++) {
                const float keep = grad[at[k]];
                grad[at[k]] = 1e30f; /* g^2 overflows */
                if (v->adam_ok(&ok, 0, np) || ref->adam_ok(&ok, 0, np))
                    fail_msg("%s: adam_ok missed an overflow at %zu", name, at[k]);
                assert_true(v->adam_ok(&ok, at[k] + 1, np)); /* outside the range */
                grad[at[k]] = keep;
            }
            float z[64] = {0};
            const vaei_adam_args zero = {z, z, z, z, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 0.0f, 1e-3f, 1.0f};
            if (v->adam_ok(&zero, 0, 64) || ref->adam_ok(&zero, 0, 64))
                fail_msg("%s: adam_ok missed 0/0", name);
        }
        free(p1);
        free(p2);
        free(m1);
        free(m2);
        free(v1);
        free(v2);
        free(grad);
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

/* Adam keeps no subnormal moment: m or v that would fall below FLT_MIN is
 * stored as 0, at every level, and the same bits as the reference for the
 * moments just above it and just below; a parameter whose moments are 0
 * does not move. Without the flush, m = 0.9 m stays at the smallest
 * subnormal forever and every step on it costs microcode assists. */
static void test_adam_flushes_subnormal_moments(void **state)
{
    (void)state;
    enum { N = 37 };
    float p[N], m[N], v[N], g[N], p0[N];
    FOR_EACH_LEVEL(name) {
        for (size_t i = 0; i < N; i++) {
            p[i] = p0[i] = 0.25f + (float)i;
            g[i] = 0.0f;
            /* m from the smallest subnormal up to 100 FLT_MIN, v likewise */
            m[i] = (i % 2 ? -1.0f : 1.0f) * ldexpf(1.0f, -149 + 4 * (int)i);
            v[i] = ldexpf(1.0f, -149 + 4 * (int)i);
        }
        float rp[N], rm[N], rv[N];
        memcpy(rp, p, sizeof p);
        memcpy(rm, m, sizeof m);
        memcpy(rv, v, sizeof v);
        const vaei_adam_args a = {p, m, v, g, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 1e-8f, 1e-3f, 1.0f};
        const vaei_adam_args r = {rp, rm, rv, g, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 1e-8f, 1e-3f, 1.0f};
        vaei_vec()->adam(&a, 0, N, NULL);
        vaei_vec_ref.adam(&r, 0, N, NULL);
        if (memcmp(p, rp, sizeof p) || memcmp(m, rm, sizeof m) || memcmp(v, rv, sizeof v))
            fail_msg("%s: Adam on tiny moments differs from the reference", name);
        size_t kept = 0;
        for (size_t i = 0; i < N; i++) {
            if (fpclassify(m[i]) == FP_SUBNORMAL || fpclassify(v[i]) == FP_SUBNORMAL)
                fail_msg("%s: a subnormal moment at %zu (m %g, v %g)", name, i, (double)m[i],
                         (double)v[i]);
            if (m[i] == 0.0f && p[i] != p0[i]) fail_msg("%s: m = 0 moved p at %zu", name, i);
            kept += m[i] != 0.0f;
        }
        assert_true(kept > 0 && kept < N); /* both sides of FLT_MIN were there */
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

/* A float of random sign and magnitude 10^e, e uniform in [lo, hi]. */
static float wild(vaei_rng *r, double lo, double hi)
{
    const double e = lo + (hi - lo) * vaei_rng_uniform(r);
    return (float)((vaei_rng_uniform(r) < 0.5 ? -1.0 : 1.0) * pow(10.0, e));
}

/* The update's finiteness test (vaei_adam_first_bad) takes as proof a
 * scan of p and g (adam_scan: no sqrt, no division) together with the
 * moments' maxima, when those bound the update; else the exact test. Over
 * states of every magnitude, with eps from 0 up and a sprinkling of
 * infinities, NaNs and huge values: each level's scan agrees with the
 * reference's, and the answer, with the maxima known or not, is always the
 * first index the exact test refuses, one element at a time. */
static void test_adam_scan(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 21);
    enum { N = 203, TRIALS = 400 };
    float *p = malloc(N * sizeof *p), *m = malloc(N * sizeof *m), *v = malloc(N * sizeof *v);
    float *g = malloc(N * sizeof *g);
    assert_true(p && m && v && g);
    const vaei_vecops *ref = &vaei_vec_ref;
    size_t proven = 0, refused = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        const double top = -30.0 + 70.0 * vaei_rng_uniform(&r); /* largest magnitude */
        for (size_t i = 0; i < N; i++) {
            p[i] = wild(&r, -3, 1);
            g[i] = wild(&r, top - 10, top);
            m[i] = wild(&r, top - 10, top);
            v[i] = fabsf(wild(&r, 2 * top - 10, 2 * top));
        }
        if (trial % 4 == 1) {
            const size_t at = vaei_rng_below(&r, N);
            const float bad[] = {INFINITY, -INFINITY, NAN};
            float *arr[] = {p, g, m};
            arr[vaei_rng_below(&r, 3)][at] = bad[vaei_rng_below(&r, 3)];
        }
        const float eps = trial % 5 == 0 ? 0.0f : fabsf(wild(&r, -38, 0));
        const float step = fabsf(wild(&r, -6, 3)), ibc = 1.0f + 30.0f * (float)vaei_rng_uniform(&r);
        const float b1 = (float)vaei_rng_uniform(&r), b2 = (float)vaei_rng_uniform(&r);
        const float wd = trial % 3 == 0 ? 0.0f : fabsf(wild(&r, -4, 1));
        const vaei_adam_args a = {p, m, v, g, b1, b2, 1.0f - b1, 1.0f - b2, wd, eps, step, ibc};
        size_t want = N;
        for (size_t i = 0; i < N && want == N; i++)
            if (!ref->adam_ok(&a, i, i + 1)) want = i;
        /* The maxima as vaei_adam would report them: they exist only for a
         * finite state, the only kind an update or a checkpoint leaves. */
        vaei_moment_max known = {0.0f, 0.0f};
        int finite = 1;
        for (size_t i = 0; i < N; i++) {
            finite &= isfinite(m[i]) && isfinite(v[i]);
            if (fabsf(m[i]) > known.m) known.m = fabsf(m[i]);
            if (v[i] > known.v) known.v = v[i];
        }
        float rmax;
        const int rok = ref->adam_scan(&a, 0, N, &rmax);
        FOR_EACH_LEVEL(name) {
            float vmax;
            const int vok = vaei_vec()->adam_scan(&a, 0, N, &vmax);
            if (vok != rok || (rok && vmax != rmax))
                fail_msg("%s: adam_scan %d (max %g) against the reference's %d (max %g), trial %d",
                         name, vok, (double)vmax, rok, (double)rmax, trial);
            const size_t got = vaei_adam_first_bad(&a, N, finite ? &known : NULL);
            const size_t exact = vaei_adam_first_bad(&a, N, NULL);
            if (got != want || exact != want)
                fail_msg("%s: first bad update %zu (maxima known) and %zu (not known), the exact "
                         "test says %zu, trial %d", name, got, exact, want, trial);
        }
        /* the proof was taken when the scan passed and the bounds held */
        const double G = rok ? rmax : 0.0, slack = 1.0 + 0x1p-20;
        const double mb = ((double)b1 * known.m + (double)(1.0f - b1) * G) * slack;
        const double vb = ((double)b2 * known.v + (double)(1.0f - b2) * G * G) * slack;
        proven += finite && rok && mb < FLT_MAX && vb < FLT_MAX && eps > 0.0f &&
                  (double)step * mb * slack <= 1e30 * (double)eps;
        refused += want < N;
    }
    /* Both ways of answering were taken, and both answers given. */
    assert_true(proven > TRIALS / 10 && proven < TRIALS);
    assert_true(refused > TRIALS / 10 && refused < TRIALS);
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(p);
    free(m);
    free(v);
    free(g);
}

/* The threaded wrappers: the same bits on any thread count. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 13);
    const size_t n = 300, d = 784, np = 631188;
    float *l = rand_floats(&r, n * d, -10, 10), *x = rand_floats(&r, n * d, 0, 1);
    float *dl = malloc(n * d * sizeof *dl), *dl1 = malloc(n * d * sizeof *dl1);
    float *p = rand_floats(&r, np, -1, 1), *g = rand_floats(&r, np, -1, 1);
    float *m = calloc(np, sizeof *m), *v = calloc(np, sizeof *v);
    float *p1 = NULL, *m1 = NULL;
    assert_true(dl && dl1 && m && v);
    double sum1 = 0.0;
    for (int t = 1; t <= 3; t++) {
        assert_int_equal(vae_set_threads(t), VAE_OK);
        const double sum = vaei_bce_logits(n, d, x, d, l, dl, 0.01f);
        float *pt = copy(p, np), *mt = calloc(np, sizeof *mt), *vt = calloc(np, sizeof *vt);
        assert_true(mt && vt);
        const vaei_adam_args a = {pt, mt, vt, g, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 1e-8f, 1e-2f, 30.0f};
        vaei_adam(&a, np, NULL);
        assert_true(vaei_all_finite(g, np));
        const float keep = g[np - 1];
        g[np - 1] = NAN;
        assert_false(vaei_all_finite(g, np));
        g[np - 1] = keep;
        if (t == 1) {
            sum1 = sum;
            memcpy(dl1, dl, n * d * sizeof *dl);
            p1 = pt;
            m1 = mt;
        } else {
            assert_true(sum == sum1);
            assert_memory_equal(dl, dl1, n * d * sizeof *dl);
            assert_memory_equal(pt, p1, np * sizeof *pt);
            assert_memory_equal(mt, m1, np * sizeof *mt);
            free(pt);
            free(mt);
        }
        free(vt);
    }
    assert_int_equal(vae_set_threads(2), VAE_OK);
    free(l);
    free(x);
    free(dl);
    free(dl1);
    free(p);
    free(g);
    free(m);
    free(v);
    free(p1);
    free(m1);
}

/* The update's test on an array long enough to be cut into parts on
 * every thread count: the first index refused, whichever part finds it
 * first, with the moments' maxima known or not. */
static void test_first_bad_across_parts(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 15);
    const size_t np = 631188, early = 200003, late = 500009;
    float *p = rand_floats(&r, np, -1, 1), *g = rand_floats(&r, np, -1, 1);
    float *m = calloc(np, sizeof *m), *v = calloc(np, sizeof *v);
    assert_true(p && g && m && v);
    const vaei_adam_args a = {p, m, v, g, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 1e-8f, 1e-3f, 1.0f};
    const vaei_moment_max known = {0.0f, 0.0f};
    g[late] = NAN;
    g[early] = INFINITY;
    for (int t = 1; t <= 3; t++) {
        assert_int_equal(vae_set_threads(t), VAE_OK);
        assert_int_equal(vaei_adam_first_bad(&a, np, &known), early);
        assert_int_equal(vaei_adam_first_bad(&a, np, NULL), early);
        g[early] = 0.5f; /* then the later one */
        assert_int_equal(vaei_adam_first_bad(&a, np, &known), late);
        assert_int_equal(vaei_adam_first_bad(&a, np, NULL), late);
        g[early] = INFINITY;
    }
    assert_int_equal(vae_set_threads(2), VAE_OK);
    free(p);
    free(g);
    free(m);
    free(v);
}

/* The threaded gather of byte rows: the reference conversion of the rows
 * named, in order, on any thread count. */
static void test_gather(void **state)
{
    (void)state;
    vaei_rng r;
    vaei_rng_seed(&r, 14);
    const size_t rows = 1000, dim = 785, count = 300, ldx = dim + 5;
    uint8_t *base = malloc(rows * dim);
    size_t *idx = malloc(count * sizeof *idx);
    float *want = malloc(count * ldx * sizeof *want), *got = malloc(count * ldx * sizeof *got);
    assert_true(base && idx && want && got);
    for (size_t i = 0; i < rows * dim; i++) base[i] = (uint8_t)vaei_rng_below(&r, 256);
    for (size_t k = 0; k < count; k++) idx[k] = (size_t)vaei_rng_below(&r, rows);
    for (size_t k = 0; k < count; k++) vaei_vec_ref.u8_to_float(want + k * ldx, base + idx[k] * dim, dim);
    FOR_EACH_LEVEL(name) {
        for (int t = 1; t <= 3; t++) {
            assert_int_equal(vae_set_threads(t), VAE_OK);
            memset(got, 0, count * ldx * sizeof *got);
            vaei_gather_u8(got, ldx, base, dim, idx, count);
            for (size_t k = 0; k < count; k++)
                if (memcmp(got + k * ldx, want + k * ldx, dim * sizeof *got) != 0)
                    fail_msg("%s, %d threads: row %zu of the gather differs", name, t, k);
        }
    }
    assert_int_equal(vae_set_threads(2), VAE_OK);
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(base);
    free(idx);
    free(want);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_log1p_accuracy),
        cmocka_unit_test(test_tanh_elu_accuracy),
        cmocka_unit_test(test_bce),
        cmocka_unit_test(test_same_bits_as_reference),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_adam_scan),
        cmocka_unit_test(test_first_bad_across_parts),
        cmocka_unit_test(test_adam_flushes_subnormal_moments),
        cmocka_unit_test(test_gather),
    };
    return cmocka_run_group_tests_name("elementwise", tests, NULL, NULL);
}
