/*
 * Element-wise kernels: one table per level, like the GEMM. The reference
 * (elementwise_ref.c) is plain C over libm; the SIMD levels compile
 * elementwise_template.h per instruction set. The vaei_kernels level in
 * force picks the table; the BLAS level uses the best SIMD table.
 *
 * Which results are bit-identical across levels: bias + ReLU / leaky ReLU
 * / identity, their backward passes, the column sums, Adam, the byte
 * conversion and the finiteness test do the same float operations in the
 * same order everywhere. The Bernoulli term and the softplus activation use
 * this library's exp and log1p (elementwise_template.h), within the bounds
 * that tests/test_elementwise.c checks against libm.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_ELEMENTWISE_H
#define VAEI_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The arrays the vector kernels stream (parameters, gradients, moments,
 * a batch's buffers) start on a 64-byte cache line, VAEI_LINE floats. From
 * malloc they start 16 bytes into one, and then every 512-bit load or
 * store spans two lines: on a Zen 4, Adam's update inside training took
 * 0.32-0.35 ms per step so, 0.18-0.23 ms aligned (docs/performance.md). */
#define VAEI_LINE 16
static inline size_t vaei_line_round(size_t floats)
{
    return (floats + VAEI_LINE - 1) / VAEI_LINE * VAEI_LINE;
}

/* n zeroed floats on a cache line, for vaei_floats_free(); NULL when out
 * of memory or when n floats do not fit a size_t. From calloc, so that
 * pages the process never touches (an inference model's gradient) stay
 * out of its resident memory; the pointer calloc gave is kept in the
 * bytes before the line. */
static inline float *vaei_floats(size_t n)
{
    const size_t head = 64 + sizeof(void *);
    if (n > (SIZE_MAX - head) / sizeof(float)) return NULL;
    unsigned char *raw = calloc(1, n * sizeof(float) + head);
    if (!raw) return NULL;
    unsigned char *p = raw + head - (((uintptr_t)raw + head) & 63);
    memcpy(p - sizeof raw, &raw, sizeof raw);
    return (float *)(void *)p;
}

static inline void vaei_floats_free(float *p)
{
    if (!p) return;
    void *raw;
    memcpy(&raw, (unsigned char *)p - sizeof raw, sizeof raw);
    free(raw);
}

/* Adam's update over [begin, end) of the flat buffers, as PyTorch writes it
 * (see optim.c); every float operation is spelled out so that each level
 * rounds the same way. c1 = 1 - b1 and c2 = 1 - b2 come computed in double:
 * 1 - 0.999f in float is off by 1.3e-5 of itself. One departure: a moment
 * m or v below FLT_MIN (2^-126) is stored as 0. A parameter whose gradient
 * is 0 (a weight of a pixel that is always 0) has m = 0.9^t m0, which sinks
 * into the subnormals and stays at the smallest one (0.9 x 2^-149 rounds
 * back up); every operation on a subnormal took a microcode assist, and on
 * an Intel Xeon the epochs after the first ran 1.7-2.3x slower. Such a
 * moment moves its parameter by less than 10^-30. */
typedef struct vaei_adam_args {
    float *p, *m, *v;
    const float *g;
    float b1, b2, c1, c2, wd, eps, step, inv_sqrt_bc2;
} vaei_adam_args;

/* max |m| and max v over Adam's moments (v >= 0 always): what the update
 * leaves, and what the next update's finiteness test starts from. */
typedef struct vaei_moment_max {
    float m, v;
} vaei_moment_max;

typedef struct vaei_vecops {
    /* h = act(h + b) over rows [n x w] in place; act is a vae_activation,
     * or -1 for the bias alone. */
    void (*bias_act)(float *h, size_t n, size_t w, const float *b, int act, float slope);
    /* g *= act'(a) over count values, written in terms of the output h. */
    void (*act_backward)(float *g, const float *h, size_t count, int act, float slope);
    /* db[j] = sum_i g[i w + j], i in order, over rows [n x w]. */
    void (*col_sums)(float *db, const float *g, size_t n, size_t w);
    /* Bernoulli log-likelihood term over rows [n x d]: returns
     * sum softplus(l) - x l (double); dl = scale (sigmoid(l) - x) unless NULL. */
    double (*bce_logits)(size_t n, size_t d, const float *x, size_t ldx, const float *l,
                         float *dl, float scale);
    /* ... and the maxima of the moments it stored, into *out. */
    void (*adam)(const vaei_adam_args *a, size_t begin, size_t end, vaei_moment_max *out);
    /* 1 when adam() over [begin, end) would leave every p, m and v finite:
     * its arithmetic, operation for operation, without the stores. */
    int (*adam_ok)(const vaei_adam_args *a, size_t begin, size_t end);
    /* The cheap part of that test, reading only p and g: 1 when every
     * g' = g + wd p over [begin, end) is finite; *gmax is then max |g'|
     * (vaei_adam_first_bad bounds the rest from it). */
    int (*adam_scan)(const vaei_adam_args *a, size_t begin, size_t end, float *gmax);
    /* dst[i] = src[i] / 255 (as src * (1/255.f), one rounding). */
    void (*u8_to_float)(float *dst, const uint8_t *src, size_t n);
    /* 1 when every x[i] is finite. */
    int (*all_finite)(const float *x, size_t n);
    /* y = exp(x) and y = log1p(x) for 0 <= x <= 1: the building blocks,
     * exposed so that tests can hold them to their accuracy bounds. */
    void (*exp)(float *y, const float *x, size_t n);
    void (*log1p_unit)(float *y, const float *x, size_t n);
} vaei_vecops;

extern const vaei_vecops vaei_vec_ref;
#ifdef VAE_HAVE_AVX2
extern const vaei_vecops vaei_vec_avx2;
#endif
#ifdef VAE_HAVE_AVX512
extern const vaei_vecops vaei_vec_avx512;
#endif
#ifdef VAE_HAVE_NEON
extern const vaei_vecops vaei_vec_neon;
#endif

/* The table of the level in force. */
const vaei_vecops *vaei_vec(void);

/* The element-wise passes of a training step, through the level in force,
 * split among vae_set_threads() threads where the work is large enough.
 * Each gives the same bits for any thread count. */
void vaei_bias_act(float *h, size_t n, size_t w, const float *b, int act, float slope);
void vaei_act_backward(float *g, const float *h, size_t count, int act, float slope);
void vaei_col_sums(float *db, const float *g, size_t n, size_t w);
double vaei_bce_logits(size_t n, size_t d, const float *x, size_t ldx, const float *l, float *dl,
                       float scale);
void vaei_adam(const vaei_adam_args *a, size_t n, vaei_moment_max *out);
/* Index of the first parameter whose vaei_adam() update would not be finite
 * (p, m or v), or n when the whole update is finite. Changes nothing. known:
 * the maxima of the moments now (what the last vaei_adam() left), or NULL
 * when they are not known (a new or loaded state): the test then computes
 * every update without its stores, instead of a pass over p and g. */
size_t vaei_adam_first_bad(const vaei_adam_args *a, size_t n, const vaei_moment_max *known);
void vaei_u8_to_float(float *dst, const uint8_t *src, size_t n);
/* Rows idx[0..count) of a byte matrix [? x dim] as floats into x (row
 * stride ldx), as vaei_u8_to_float converts them. */
void vaei_gather_u8(float *x, size_t ldx, const uint8_t *base, size_t dim, const size_t *idx,
                    size_t count);
int vaei_all_finite(const float *x, size_t n);

#endif /* VAEI_ELEMENTWISE_H */
