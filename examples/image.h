/*
 * Image grids for the example programs: grayscale tiles with values in [0,1]
 * laid out with a thin gray gap, written as PNG through libpng when built
 * with VAE_HAVE_PNG, else as binary PGM (which any image viewer opens).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_IMAGE_H
#define VAE_EXAMPLES_IMAGE_H

#include <stddef.h>

/** @return ".png" or ".pgm": the format the writers below produce. */
const char *image_extension(void);

/**
 * Tile shape of a sample of dim pixels: sqrt(dim) x sqrt(dim) when dim is a
 * perfect square (784 gives 28 x 28), else one row of dim pixels.
 */
void image_shape(size_t dim, size_t *h, size_t *w);

/**
 * Write n images as a grid of cols columns, filled row by row.
 * @param[in] images [n x (h*w)] floats, row-major; values are clamped to
 *                   [0,1] and NaN is drawn black.
 * @return 0, or -1 with errno set (the file may then be partly written).
 */
int image_write_grid(const char *path, const float *images, size_t n, size_t cols, size_t h,
                     size_t w);

/**
 * Write nrows rows of n images each, row r taken from rows[r] ([n x (h*w)]),
 * e.g. originals above their reconstructions.
 * @return 0, or -1 with errno set.
 */
int image_write_rows(const char *path, const float *const *rows, size_t nrows, size_t n,
                     size_t h, size_t w);

#endif /* VAE_EXAMPLES_IMAGE_H */
