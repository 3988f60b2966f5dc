/*
 * The element-wise passes of a step through the level in force, split
 * among threads where there is enough work. Results never depend on the
 * thread count: Adam and the finiteness test are element by element, and
 * the Bernoulli sum adds per-block sums of fixed 16-row blocks in order.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>

#include "elementwise.h"
#include "kernels.h"
#include "threadpool.h"

enum {
    GRAIN = 1 << 15,   /* values per thread below which one thread does it all */
    BCE_BLOCK = 16,    /* rows per partial sum of the Bernoulli term */
    BCE_BLOCKS = 64,   /* partial sums per round */
};

/* Threads for `count` values of work. */
static int threads_for(size_t count)
{
    const size_t useful = count / GRAIN;
    const int t = vaei_threads();
    return useful < 1 ? 1 : useful < (size_t)t ? (int)useful : t;
}

/* Parts for `count` values of work split among threads_for(count): four
 * per thread, taken as threads come free, so that a thread slowed by its
 * part's cache misses (or by another program) does not hold up the other. */
static int parts_for(size_t count)
{
    const int t = threads_for(count);
    return t == 1 ? 1 : t < 256 ? 4 * t : 1024;
}

typedef struct {
    const vaei_vecops *vec;
    float *y;
    const float *h, *b;
    size_t n, w;
    int act;
    float slope;
} act_job;

/* Element by element, so a split by rows (or by 64 values) gives the same
 * bits as one pass: convolutional layers make these passes large. */
static void bias_act_part(void *arg, int part, int nparts)
{
    const act_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 1, part, nparts, &b, &e);
    if (e > b) j->vec->bias_act(j->y + b * j->w, e - b, j->w, j->b, j->act, j->slope);
}

static void act_backward_part(void *arg, int part, int nparts)
{
    const act_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 64, part, nparts, &b, &e);
    if (e > b) j->vec->act_backward(j->y + b, j->h + b, e - b, j->act, j->slope);
}

void vaei_bias_act(float *h, size_t n, size_t w, const float *b, int act, float slope)
{
    act_job j = {vaei_vec(), h, NULL, b, n, w, act, slope};
    const int t = threads_for(n * w);
    if (t == 1) j.vec->bias_act(h, n, w, b, act, slope);
    else vaei_parallel(t, bias_act_part, &j);
}

void vaei_act_backward(float *g, const float *h, size_t count, int act, float slope)
{
    act_job j = {vaei_vec(), g, h, NULL, count, 1, act, slope};
    const int t = threads_for(count);
    if (t == 1) j.vec->act_backward(g, h, count, act, slope);
    else vaei_parallel(t, act_backward_part, &j);
}

void vaei_col_sums(float *db, const float *g, size_t n, size_t w)
{
    vaei_vec()->col_sums(db, g, n, w);
}

void vaei_u8_to_float(float *dst, const uint8_t *src, size_t n)
{
    vaei_vec()->u8_to_float(dst, src, n);
}

typedef struct {
    const vaei_vecops *vec;
    float *x;
    size_t ldx, dim, count;
    const uint8_t *base;
    const size_t *idx;
} gather_job;

/* The rows are scattered over a data set far larger than the caches, so
 * the next rows are prefetched while one is converted. */
static void gather_part(void *arg, int part, int nparts)
{
    const gather_job *j = arg;
    enum { AHEAD = 2, LINE = 64 };
    size_t b, e;
    vaei_split(j->count, 1, part, nparts, &b, &e);
    for (size_t k = b; k < e; k++) {
        if (k + AHEAD < e) {
            const uint8_t *next = j->base + j->idx[k + AHEAD] * j->dim;
            for (size_t o = 0; o < j->dim; o += LINE) __builtin_prefetch(next + o);
        }
        j->vec->u8_to_float(j->x + k * j->ldx, j->base + j->idx[k] * j->dim, j->dim);
    }
}

void vaei_gather_u8(float *x, size_t ldx, const uint8_t *base, size_t dim, const size_t *idx,
                    size_t count)
{
    gather_job j = {vaei_vec(), x, ldx, dim, count, base, idx};
    /* Latency-bound rather than compute-bound: worth a thread earlier. */
    vaei_parallel(threads_for(4 * count * dim), gather_part, &j);
}

typedef struct {
    const vaei_vecops *vec;
    size_t n, d, ldx, first_block, blocks;
    const float *x, *l;
    float *dl, scale;
    double sums[BCE_BLOCKS];
} bce_job;

static void bce_part(void *arg, int part, int nparts)
{
    bce_job *j = arg;
    size_t b0, b1;
    vaei_split(j->blocks, 1, part, nparts, &b0, &b1);
    for (size_t b = b0; b < b1; b++) {
        const size_t r0 = (j->first_block + b) * BCE_BLOCK;
        const size_t rows = j->n - r0 < BCE_BLOCK ? j->n - r0 : BCE_BLOCK;
        j->sums[b] = j->vec->bce_logits(rows, j->d, j->x + r0 * j->ldx, j->ldx, j->l + r0 * j->d,
                                        j->dl ? j->dl + r0 * j->d : NULL, j->scale);
    }
}

double vaei_bce_logits(size_t n, size_t d, const float *x, size_t ldx, const float *l, float *dl,
                       float scale)
{
    bce_job j = {vaei_vec(), n, d, ldx, 0, 0, x, l, dl, scale, {0}};
    const size_t blocks = (n + BCE_BLOCK - 1) / BCE_BLOCK;
    const int threads = threads_for(n * d);
    double sum = 0.0;
    for (j.first_block = 0; j.first_block < blocks; j.first_block += BCE_BLOCKS) {
        j.blocks = blocks - j.first_block < BCE_BLOCKS ? blocks - j.first_block : BCE_BLOCKS;
        vaei_parallel(threads < (int)j.blocks ? threads : (int)j.blocks, bce_part, &j);
        for (size_t b = 0; b < j.blocks; b++) sum += j.sums[b];
    }
    return sum;
}

typedef struct {
    const vaei_vecops *vec;
    const vaei_adam_args *a;
    size_t n;
    int ok[1024];
    float top[1024];             /* adam_scan: max |g'| of each part */
    vaei_moment_max moments[1024]; /* adam: what each part stored */
} adam_job;

static void adam_part(void *arg, int part, int nparts)
{
    adam_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 64, part, nparts, &b, &e);
    j->vec->adam(j->a, b, e, &j->moments[part]);
}

void vaei_adam(const vaei_adam_args *a, size_t n, vaei_moment_max *out)
{
    adam_job j = {.vec = vaei_vec(), .a = a, .n = n};
    const int parts = parts_for(n);
    vaei_parallel(parts, adam_part, &j);
    vaei_moment_max top = {0.0f, 0.0f};
    for (int t = 0; t < parts; t++) {
        if (j.moments[t].m > top.m) top.m = j.moments[t].m;
        if (j.moments[t].v > top.v) top.v = j.moments[t].v;
    }
    if (out) *out = top;
}

static void adam_check_part(void *arg, int part, int nparts)
{
    adam_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 64, part, nparts, &b, &e);
    j->ok[part] = j->vec->adam_ok(j->a, b, e);
}

static void adam_scan_part(void *arg, int part, int nparts)
{
    adam_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 64, part, nparts, &b, &e);
    j->ok[part] = j->vec->adam_scan(j->a, b, e, &j->top[part]);
}

/* Whether the moments' maxima M = max |m|, V = max v and the scan's
 * G = max |g'| (every g' finite, which makes every p finite too: wd p is
 * in g', and 0 inf is NaN) prove the whole update finite. In exact terms
 * |m'| <= b1 M + c1 G and v' <= b2 V + c2 G^2; a float result exceeds its
 * exact value by at most (1 + u) per operation, three here, taken as
 * (1 + 2^-20). When both stay below FLT_MAX, m' and v' are finite, and
 * v' >= 0 (v >= 0 always: checkpoints refuse less). Then the divisor
 * d = sqrt(v') ibc + eps is finite (sqrt(v') < 2^64, ibc = 1 / sqrt(1 - b2^t)
 * < 2^15) and at least eps, so for eps > 0 the step q = fl(step fl(m' / d))
 * has |q| <= step max|m'| (1 + u)^2 / eps; when that is at most 1e30,
 * below 2^103 (half an ulp of FLT_MAX), p - q rounds to a finite float. */
static int bounds_prove(const vaei_adam_args *a, const vaei_moment_max *known, double G)
{
    const double slack = 1.0 + 0x1p-20;
    const double m = ((double)a->b1 * known->m + (double)a->c1 * G) * slack;
    const double v = ((double)a->b2 * known->v + (double)a->c2 * G * G) * slack;
    return m < FLT_MAX && v < FLT_MAX && a->eps > 0.0f &&
           (double)a->step * m * slack <= 1e30 * (double)a->eps;
}

size_t vaei_adam_first_bad(const vaei_adam_args *a, size_t n, const vaei_moment_max *known)
{
    adam_job j = {.vec = vaei_vec(), .a = a, .n = n};
    const int parts = parts_for(n);
    /* The scan reads p and g only, and needs neither the square roots nor
     * the divisions, which bound the update's time on CPUs with slow
     * 512-bit division; the exact test reads all four and does both. */
    if (known) {
        vaei_parallel(parts, adam_scan_part, &j);
        int ok = 1;
        float G = 0.0f;
        for (int t = 0; t < parts; t++) {
            ok &= j.ok[t];
            if (j.top[t] > G) G = j.top[t];
        }
        if (ok && bounds_prove(a, known, G)) return n;
    }
    vaei_parallel(parts, adam_check_part, &j);
    for (int t = 0; t < parts; t++)
        if (!j.ok[t]) { /* rare: find the index, one at a time, for the message */
            size_t b, e;
            vaei_split(n, 64, t, parts, &b, &e);
            for (size_t i = b; i < e; i++)
                if (!vaei_vec_ref.adam_ok(a, i, i + 1)) return i;
        }
    return n;
}

typedef struct {
    const vaei_vecops *vec;
    const float *x;
    size_t n;
    int ok[1024];
} finite_job;

static void finite_part(void *arg, int part, int nparts)
{
    finite_job *j = arg;
    size_t b, e;
    vaei_split(j->n, 64, part, nparts, &b, &e);
    j->ok[part] = j->vec->all_finite(j->x + b, e - b);
}

int vaei_all_finite(const float *x, size_t n)
{
    finite_job j;
    j.vec = vaei_vec();
    j.x = x;
    j.n = n;
    const int threads = threads_for(n);
    vaei_parallel(threads, finite_part, &j);
    for (int t = 0; t < threads; t++)
        if (!j.ok[t]) return 0;
    return 1;
}
