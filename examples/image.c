/*
 * Image grids of the example programs; see image.h.
 *
 * Both writers paint the tiles into one 8-bit canvas, then save it whole.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VAE_HAVE_PNG
#include <png.h>
#endif

#include "image.h"

enum { GAP_SHADE = 128 };           /* gray, so black and white tiles both stand out */
#define IMAGE_MAX_SIDE (1u << 20)   /* pixels; far below PNG's 2^31 limit */

typedef struct canvas {
    unsigned char *pix; /* [height x width] */
    size_t width, height, gap;
} canvas;

const char *image_extension(void)
{
#ifdef VAE_HAVE_PNG
    return ".png";
#else
    return ".pgm";
#endif
}

void image_shape(size_t dim, size_t *h, size_t *w)
{
    size_t side = (size_t)sqrt((double)dim);
    while (side * side > dim) side--;
    while ((side + 1) * (side + 1) <= dim) side++;
    if (side * side == dim) {
        *h = *w = side;
    } else {
        *h = 1;
        *w = dim;
    }
}

/* A canvas for rows x cols tiles of h x w, filled with the gap shade. */
static int canvas_init(canvas *c, size_t rows, size_t cols, size_t h, size_t w)
{
    if (rows == 0 || cols == 0 || h == 0 || w == 0) {
        errno = EINVAL;
        return -1;
    }
    c->gap = h >= 16 ? 2 : 1; /* 2 pixels between digits, 1 between thin strips */
    if (cols > IMAGE_MAX_SIDE / (w + c->gap) || rows > IMAGE_MAX_SIDE / (h + c->gap)) {
        errno = EFBIG;
        return -1;
    }
    c->width = cols * w + (cols - 1) * c->gap;
    c->height = rows * h + (rows - 1) * c->gap;
    c->pix = malloc(c->width * c->height);
    if (!c->pix) return -1;
    memset(c->pix, GAP_SHADE, c->width * c->height);
    return 0;
}

/* Paint one h x w tile at grid position (row, col). */
static void canvas_put(canvas *c, size_t row, size_t col, const float *img, size_t h, size_t w)
{
    for (size_t y = 0; y < h; y++) {
        unsigned char *dst = c->pix + (row * (h + c->gap) + y) * c->width + col * (w + c->gap);
        for (size_t x = 0; x < w; x++) {
            float v = img[y * w + x];
            /* !(v > 0) also catches NaN */
            dst[x] = !(v > 0.0f) ? 0 : v >= 1.0f ? 255 : (unsigned char)(v * 255.0f + 0.5f);
        }
    }
}

#ifdef VAE_HAVE_PNG
/* libpng reports errors through this, which must not return. Its message is
 * dropped: the caller reports errno, which fwrite or malloc has set. */
static void png_fail(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int save_image(const canvas *c, FILE *f)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_quiet);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->width, (png_uint_32)c->height, 8,
                 PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < c->height; y++) png_write_row(png, c->pix + y * c->width);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}
#else
/* Binary PGM: a text header, then the bytes row by row. */
static int save_image(const canvas *c, FILE *f)
{
    if (fprintf(f, "P5\n%zu %zu\n255\n", c->width, c->height) < 0) return -1;
    return fwrite(c->pix, 1, c->width * c->height, f) == c->width * c->height ? 0 : -1;
}
#endif

/* Write the canvas to path and free it. */
static int canvas_save(canvas *c, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(c->pix);
        return -1;
    }
    errno = 0;
    int rc = save_image(c, f);
    int err = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    free(c->pix);
    if (rc != 0) errno = err != 0 ? err : EIO; /* a libpng failure need not set errno */
    return rc;
}

int image_write_grid(const char *path, const float *images, size_t n, size_t cols, size_t h,
                     size_t w)
{
    canvas c;
    if (n == 0 || cols == 0) {
        errno = EINVAL;
        return -1;
    }
    if (cols > n) cols = n;
    if (canvas_init(&c, (n + cols - 1) / cols, cols, h, w) != 0) return -1;
    for (size_t i = 0; i < n; i++) canvas_put(&c, i / cols, i % cols, images + i * h * w, h, w);
    return canvas_save(&c, path);
}

int image_write_rows(const char *path, const float *const *rows, size_t nrows, size_t n,
                     size_t h, size_t w)
{
    canvas c;
    if (canvas_init(&c, nrows, n, h, w) != 0) return -1;
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < n; i++) canvas_put(&c, r, i, rows[r] + i * h * w, h, w);
    return canvas_save(&c, path);
}
