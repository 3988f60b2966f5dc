/*
 * The reference element-wise kernels: plain C over libm, the yardstick of
 * the SIMD ones and the level used by VAE_BACKEND=ref.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <math.h>

#include "elementwise.h"
#include "vae/vae.h"

static void bias_act(float *h, size_t n, size_t w, const float *b, int act, float slope)
{
    for (size_t i = 0; i < n; i++) {
        float *r = h + i * w;
        switch (act) {
        case VAE_ACTIVATION_RELU:
            /* a < 0 ? 0 : a, not fmaxf: a NaN must reach the loss, where the
             * step reports it, instead of vanishing into a 0. */
            for (size_t j = 0; j < w; j++) {
                const float a = r[j] + b[j];
                r[j] = a < 0.0f ? 0.0f : a;
            }
            break;
        case VAE_ACTIVATION_TANH:
            for (size_t j = 0; j < w; j++) r[j] = tanhf(r[j] + b[j]);
            break;
        case VAE_ACTIVATION_LEAKY_RELU:
            for (size_t j = 0; j < w; j++) {
                const float a = r[j] + b[j];
                r[j] = a > 0.0f ? a : slope * a;
            }
            break;
        case VAE_ACTIVATION_ELU:
            for (size_t j = 0; j < w; j++) {
                const float a = r[j] + b[j];
                r[j] = a > 0.0f ? a : expm1f(a);
            }
            break;
        case VAE_ACTIVATION_SOFTPLUS:
            /* log(1 + e^a) = max(a, 0) + log1p(e^-|a|) */
            for (size_t j = 0; j < w; j++) {
                const float a = r[j] + b[j];
                r[j] = fmaxf(a, 0.0f) + log1pf(expf(-fabsf(a)));
            }
            break;
        default:
            for (size_t j = 0; j < w; j++) r[j] += b[j];
        }
    }
}

/* relu' = [h > 0], tanh' = 1 - h^2, elu' = h > 0 ? 1 : h + 1,
 * softplus' = sigmoid(a) = 1 - exp(-h). */
static void act_backward(float *g, const float *h, size_t count, int act, float slope)
{
    switch (act) {
    case VAE_ACTIVATION_RELU:
        for (size_t i = 0; i < count; i++) g[i] = h[i] > 0.0f ? g[i] : 0.0f;
        break;
    case VAE_ACTIVATION_TANH:
        for (size_t i = 0; i < count; i++) g[i] *= 1.0f - h[i] * h[i];
        break;
    case VAE_ACTIVATION_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) g[i] *= h[i] > 0.0f ? 1.0f : slope;
        break;
    case VAE_ACTIVATION_ELU:
        for (size_t i = 0; i < count; i++) g[i] *= h[i] > 0.0f ? 1.0f : h[i] + 1.0f;
        break;
    case VAE_ACTIVATION_SOFTPLUS:
        for (size_t i = 0; i < count; i++) g[i] *= -expm1f(-h[i]);
        break;
    }
}

static void col_sums(float *db, const float *g, size_t n, size_t w)
{
    for (size_t j = 0; j < w; j++) db[j] = 0.0f;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++) db[j] += g[i * w + j];
}

static double bce_logits(size_t n, size_t d, const float *x, size_t ldx, const float *l,
                         float *dl, float scale)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx, *li = l + i * d;
        float *di = dl ? dl + i * d : NULL;
        for (size_t j = 0; j < d; j++) {
            /* e = exp(-|l|) gives both softplus(l) = max(l,0) + log1p(e)
             * and sigmoid(l) without overflow. */
            const float lj = li[j], e = expf(-fabsf(lj));
            sum += (double)(fmaxf(lj, 0.0f) + log1pf(e) - xi[j] * lj);
            if (di) {
                const float sig = (lj >= 0.0f ? 1.0f : e) / (1.0f + e);
                di[j] = scale * (sig - xi[j]);
            }
        }
    }
    return sum;
}

/* A moment below the smallest normal float is kept as 0 (NaN passes). */
static inline float flush(float x)
{
    return fabsf(x) < FLT_MIN ? 0.0f : x;
}

static void adam(const vaei_adam_args *a, size_t begin, size_t end, vaei_moment_max *out)
{
    float *p = a->p, *m = a->m, *v = a->v, mmax = 0.0f, vmax = 0.0f;
    const float *g = a->g;
    for (size_t i = begin; i < end; i++) {
        const float gi = g[i] + a->wd * p[i];
        m[i] = flush(a->b1 * m[i] + a->c1 * gi);
        v[i] = flush(a->b2 * v[i] + a->c2 * gi * gi);
        p[i] -= a->step * (m[i] / (sqrtf(v[i]) * a->inv_sqrt_bc2 + a->eps));
        mmax = fabsf(m[i]) > mmax ? fabsf(m[i]) : mmax;
        vmax = v[i] > vmax ? v[i] : vmax;
    }
    if (out) *out = (vaei_moment_max){mmax, vmax};
}

static int adam_ok(const vaei_adam_args *a, size_t begin, size_t end)
{
    /* adam() without its stores; x - x is 0 for a finite x, NaN otherwise. */
    float acc = 0.0f;
    for (size_t i = begin; i < end; i++) {
        const float gi = a->g[i] + a->wd * a->p[i];
        const float m = flush(a->b1 * a->m[i] + a->c1 * gi);
        const float v = flush(a->b2 * a->v[i] + a->c2 * gi * gi);
        const float p = a->p[i] - a->step * (m / (sqrtf(v) * a->inv_sqrt_bc2 + a->eps));
        acc += (m - m) + (v - v) + (p - p);
    }
    return acc == 0.0f;
}

static int adam_scan(const vaei_adam_args *a, size_t begin, size_t end, float *gmax)
{
    float acc = 0.0f, big = 0.0f;
    for (size_t i = begin; i < end; i++) {
        const float gi = a->g[i] + a->wd * a->p[i];
        acc += gi - gi;
        big = fabsf(gi) > big ? fabsf(gi) : big;
    }
    *gmax = big;
    return acc == 0.0f;
}

static void u8_to_float(float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] * (1.0f / 255.0f);
}

static int all_finite(const float *x, size_t n)
{
    /* x - x is 0 for a finite x and NaN otherwise; one NaN makes the sum NaN. */
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += x[i] - x[i];
    return acc == 0.0f;
}

static void exp_ref(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static void log1p_ref(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = log1pf(x[i]);
}

const vaei_vecops vaei_vec_ref = {
    .bias_act = bias_act,
    .act_backward = act_backward,
    .col_sums = col_sums,
    .bce_logits = bce_logits,
    .adam = adam,
    .adam_ok = adam_ok,
    .adam_scan = adam_scan,
    .u8_to_float = u8_to_float,
    .all_finite = all_finite,
    .exp = exp_ref,
    .log1p_unit = log1p_ref,
};
