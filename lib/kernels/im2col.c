/*
 * im2col / col2im over channels-last images. For one output pixel and one
 * kernel row ky, the taps kx whose input column lies inside the image form
 * an interval [kx0, kx1), and their pixels are adjacent in memory, so each
 * (pixel, ky) is one copy (or one add) of (kx1 - kx0) * c floats: the
 * vectorised memcpy, or a plain loop the compiler vectorises. Padding taps
 * are written as zeros. These run on the calling thread: a conv layer's
 * pass runs them per chunk of images, on the chunk's thread (lib/layers.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "im2col.h"

/* The taps kx of output column ox that read inside [0, w): ix = ox*s - p + kx. */
static void tap_range(const vaei_conv_geom *g, size_t o, size_t len, size_t *k0, size_t *k1)
{
    const long base = (long)(o * g->s) - (long)g->p;
    long lo = base < 0 ? -base : 0;
    long hi = (long)len - base;
    if (hi > (long)g->k) hi = (long)g->k;
    if (lo > hi) lo = hi;
    *k0 = (size_t)lo;
    *k1 = (size_t)(hi < 0 ? 0 : hi);
    if (*k0 > *k1) *k0 = *k1;
}

/* dst = src over len floats. Runs of up to 16 floats (one channel, a few
 * taps) as two moves of a fixed size, overlapping unless len is one: the
 * compiler makes each a load and a store, where a loop (or a call to
 * memcpy, GCC's rewrite of that loop) cost more than the copy. */
static inline void copy(float *restrict dst, const float *restrict src, size_t len)
{
    if (len > 16) {
        memcpy(dst, src, len * sizeof *dst);
    } else if (len >= 8) {
        memcpy(dst, src, 8 * sizeof *dst);
        memcpy(dst + len - 8, src + len - 8, 8 * sizeof *dst);
    } else if (len >= 4) {
        memcpy(dst, src, 4 * sizeof *dst);
        memcpy(dst + len - 4, src + len - 4, 4 * sizeof *dst);
    } else if (len >= 2) {
        memcpy(dst, src, 2 * sizeof *dst);
        memcpy(dst + len - 2, src + len - 2, 2 * sizeof *dst);
    } else if (len) {
        dst[0] = src[0];
    }
}

static inline void zero(float *dst, size_t len)
{
    static const float zeros[16];
    if (len > 16)
        memset(dst, 0, len * sizeof *dst);
    else
        copy(dst, zeros, len);
}

/* dst += src over len floats; restrict lets the compiler vectorise it. */
static inline void add(float *restrict dst, const float *restrict src, size_t len)
{
    for (size_t j = 0; j < len; j++) dst[j] += src[j];
}

/* Output row by output row, and in one row kernel row by kernel row: the
 * taps (oy, ky) of every pixel of the row read one input row iy, and a
 * pixel whose taps all lie inside it (all but the first and last few) is
 * one copy of k c floats. Not inlined into the loop over images, where
 * GCC's code for it (and for col2im_image) got slower. For 8 images of the
 * reference network, one thread, warm caches: im2col of one channel
 * (runs of 4 floats) 12.4 us, against 25.7 us pixel by pixel with loops
 * for the short copies; of 32 channels 18.5 us against 21.5; col2im 12.1
 * and 19 us against 14 and 24. */
__attribute__((noinline)) static void im2col_image(const float *x, const vaei_conv_geom *g, float *col)
{
    const size_t c = g->c, kc = g->k * c, row = g->k * kc;
    for (size_t oy = 0; oy < g->ho; oy++, col += g->wo * row) {
        size_t y0, y1;
        tap_range(g, oy, g->h, &y0, &y1);
        for (size_t ky = 0; ky < g->k; ky++) {
            float *dst = col + ky * kc;
            if (ky < y0 || ky >= y1) { /* a row of the padding */
                for (size_t ox = 0; ox < g->wo; ox++) zero(dst + ox * row, kc);
                continue;
            }
            const float *src = x + (oy * g->s + ky - g->p) * g->w * c;
            for (size_t ox = 0; ox < g->wo; ox++, dst += row) {
                const long ix = (long)(ox * g->s) - (long)g->p; /* of tap kx = 0 */
                if (ix >= 0 && ix + (long)g->k <= (long)g->w) {
                    copy(dst, src + (size_t)ix * c, kc);
                    continue;
                }
                size_t x0, x1;
                tap_range(g, ox, g->w, &x0, &x1);
                zero(dst, x0 * c);
                copy(dst + x0 * c, src + (size_t)(ix + (long)x0) * c, (x1 - x0) * c);
                zero(dst + x1 * c, (g->k - x1) * c);
            }
        }
    }
}

__attribute__((noinline)) static void col2im_image(const float *col, const vaei_conv_geom *g, float *x)
{
    const size_t kc = g->k * g->c, row = g->k * kc;
    memset(x, 0, g->h * g->w * g->c * sizeof *x);
    for (size_t oy = 0; oy < g->ho; oy++) {
        size_t y0, y1;
        tap_range(g, oy, g->h, &y0, &y1);
        for (size_t ox = 0; ox < g->wo; ox++, col += row) {
            size_t x0, x1;
            tap_range(g, ox, g->w, &x0, &x1);
            for (size_t ky = y0; ky < y1; ky++) {
                const float *src = col + ky * kc + x0 * g->c;
                const size_t iy = oy * g->s + ky - g->p, ix = ox * g->s + x0 - g->p;
                add(x + (iy * g->w + ix) * g->c, src, (x1 - x0) * g->c);
            }
        }
    }
}

void vaei_im2col(const float *x, size_t ldimg, size_t n, const vaei_conv_geom *g, float *col)
{
    const size_t rows = g->ho * g->wo * g->k * g->k * g->c;
    for (size_t i = 0; i < n; i++) im2col_image(x + i * ldimg, g, col + i * rows);
}

void vaei_col2im(const float *col, size_t n, const vaei_conv_geom *g, float *x)
{
    const size_t rows = g->ho * g->wo * g->k * g->k * g->c, img = g->h * g->w * g->c;
    for (size_t i = 0; i < n; i++) col2im_image(col + i * rows, g, x + i * img);
}
