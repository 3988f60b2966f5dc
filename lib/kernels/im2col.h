/*
 * The rearrangements that lower a 2-D convolution to one GEMM. Images are
 * channels-last: pixel (y, x) of an image holds its c channels contiguously,
 * so an image is [h x w x c] row-major. A column matrix has one row per
 * output pixel and one column per kernel tap and input channel, in the
 * order (ky, kx, channel): [n*ho*wo x k*k*c].
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_IM2COL_H
#define VAEI_IM2COL_H

#include <stddef.h>

typedef struct vaei_conv_geom {
    size_t c, h, w;   /* the image side: channels, height, width */
    size_t k, s, p;   /* kernel size, stride, zero padding */
    size_t ho, wo;    /* output pixels: (h + 2p - k) / s + 1 each way */
} vaei_conv_geom;

/* col[(i*ho + oy)*wo + ox][(ky*k + kx)*c + ch] = x_i[oy*s - p + ky][ox*s - p + kx][ch],
 * 0 outside the image; image i starts at x + i*ldimg. */
void vaei_im2col(const float *x, size_t ldimg, size_t n, const vaei_conv_geom *g, float *col);

/* The adjoint of vaei_im2col: x = 0, then every column entry is added to the
 * pixel it was taken from. Images are contiguous ([n x h*w*c]). */
void vaei_col2im(const float *col, size_t n, const vaei_conv_geom *g, float *x);

#endif /* VAEI_IM2COL_H */
