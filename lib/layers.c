/*
 * Layers: the shapes a spec implies (lib/layerspec.c reads it), and the
 * per-layer passes. A convolution is lowered to GEMMs through the column
 * matrix (kernels/im2col.h):
 *   conv    Y [n*ho*wo x co] = col(X) W,     W [k*k*ci x co]
 *           dW = col(X)^T dY,  dX = col2im(dY W^T)
 *   deconv  Y = col2im(X W),                 W [ci x k*k*co]
 *           dW = X^T col(dY),  dX = col(dY) W^T
 * so every GEMM level serves them. A pass is one job over chunks of
 * images, each part building its chunk's column matrix in a buffer of its
 * thread (see "Convolutional passes" below).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/kernels.h"
#include "kernels/threadpool.h"
#include "layers.h"
#include "layerspec.h"

enum { MAX_CHANNELS = 65536, MAX_COLUMN = 1 << 28 };

/* ------------------------------------------------------------------------ */
/* Shapes                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    vaei_layer *ly;
    size_t nl, width;   /* layers so far; floats per image at this point */
    size_t c, h, w;     /* the current image shape, when c > 0 */
    size_t C, first_ld; /* conditioning columns; the side input's row stride */
    int side, cond_done;
} planner;

static vae_status add(planner *p, int kind, size_t out)
{
    VAEI_CHECK(p->nl < VAEI_MAX_LAYERS, VAE_ERR_INVALID_ARGUMENT,
               "%s: more than %d layers", p->side ? "decoder" : "encoder", VAEI_MAX_LAYERS - 1);
    VAEI_CHECK(out >= 1 && out <= VAEI_MAX_INPUT, VAE_ERR_INVALID_ARGUMENT,
               "%s layer %zu has %zu outputs, not 1 to %d", p->side ? "decoder" : "encoder",
               p->nl, out, VAEI_MAX_INPUT);
    vaei_layer *l = &p->ly[p->nl++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->act = -1;
    l->in = p->width;
    l->out = out;
    p->width = out;
    return VAE_OK;
}

static vae_status plan_dense(planner *p, size_t out)
{
    VAEI_TRY(add(p, VAEI_DENSE, out));
    vaei_layer *l = &p->ly[p->nl - 1];
    /* The conditioning vector joins the first dense layer: as contiguous
     * input columns when it is the side's first layer ([x | c], [z | c]),
     * otherwise as a second GEMM term c W_c. */
    if (p->C && !p->cond_done) {
        if (p->nl == 1) l->in += p->C;
        else l->cond = p->C;
    }
    p->cond_done = 1;
    l->fan_in = l->in + l->cond;
    p->c = 0;
    return VAE_OK;
}

static vae_status plan_conv(planner *p, const vaei_spec_token *t, int kind)
{
    VAEI_CHECK(p->c > 0, VAE_ERR_INVALID_ARGUMENT,
               "%s: %s needs an image (reshape:C:H:W first, or the input shape)",
               p->side ? "decoder" : "encoder", t->name);
    VAEI_CHECK(p->nl > 0 || kind == VAEI_CONV || p->first_ld == p->width,
               VAE_ERR_INVALID_ARGUMENT, "encoder: a conditional model cannot start with deconv");
    const size_t co = t->v[0], k = t->v[1], s = t->v[2], pad = t->v[3];
    VAEI_CHECK(co <= MAX_CHANNELS && p->c <= MAX_CHANNELS, VAE_ERR_INVALID_ARGUMENT,
               "%s: more than %d channels", t->name, MAX_CHANNELS);
    size_t ho, wo;
    if (kind == VAEI_CONV) {
        VAEI_CHECK(p->h + 2 * pad >= k && p->w + 2 * pad >= k, VAE_ERR_INVALID_ARGUMENT,
                   "conv: kernel %zu is larger than the padded %zux%zu image", k, p->h, p->w);
        ho = (p->h + 2 * pad - k) / s + 1;
        wo = (p->w + 2 * pad - k) / s + 1;
    } else {
        VAEI_CHECK((p->h - 1) * s + k > 2 * pad && (p->w - 1) * s + k > 2 * pad,
                   VAE_ERR_INVALID_ARGUMENT, "deconv: padding %zu leaves no output", pad);
        ho = (p->h - 1) * s + k - 2 * pad;
        wo = (p->w - 1) * s + k - 2 * pad;
    }
    VAEI_CHECK(ho <= VAEI_MAX_INPUT / wo / co, VAE_ERR_INVALID_ARGUMENT,
               "%s: output of %zux%zux%zu is too large", t->name, co, ho, wo);
    const size_t ci = p->c, hi = p->h, wi = p->w;
    /* The column matrix: one row per pixel of the smaller image (output of
     * a conv, input of a deconv), k^2 x channels of the larger one each. */
    const size_t col_rows = kind == VAEI_CONV ? ho * wo : hi * wi;
    const size_t col_cols = k * k * (kind == VAEI_CONV ? ci : co);
    VAEI_CHECK(col_rows <= MAX_COLUMN / col_cols, VAE_ERR_INVALID_ARGUMENT,
               "%s: its column matrix would take %zu x %zu floats per image, more than 2^28",
               t->name, col_rows, col_cols);
    VAEI_TRY(add(p, kind, co * ho * wo));
    vaei_layer *l = &p->ly[p->nl - 1];
    /* deconv's geometry is the conv that maps its output back to its input */
    const vaei_conv_geom conv = {ci, hi, wi, k, s, pad, ho, wo};
    const vaei_conv_geom dec = {co, ho, wo, k, s, pad, hi, wi};
    l->g = kind == VAEI_CONV ? conv : dec;
    l->ch = kind == VAEI_CONV ? co : ci;
    /* PyTorch: fan_in = weight.size(1) * k * k, i.e. ci k^2 for Conv2d
     * ([co, ci, k, k]) and co k^2 for ConvTranspose2d ([ci, co, k, k]). */
    l->fan_in = (kind == VAEI_CONV ? ci : co) * k * k;
    p->c = co;
    p->h = ho;
    p->w = wo;
    return VAE_OK;
}

static vae_status plan_token(void *ctx, const vaei_spec_token *t)
{
    planner *p = ctx;
    const int a = vaei_spec_activation(t->name);
    if (a >= 0) {
        VAEI_CHECK(p->nl > 0 && p->ly[p->nl - 1].act < 0, VAE_ERR_INVALID_ARGUMENT,
                   "%s: activation %s follows no layer", p->side ? "decoder" : "encoder", t->name);
        p->ly[p->nl - 1].act = a;
        return VAE_OK;
    }
    if (!strcmp(t->name, "dense")) return plan_dense(p, t->v[0]);
    if (!strcmp(t->name, "reshape")) {
        /* each factor <= 2^24: the first product cannot wrap, nor the
         * second once the first is at most the width (<= 2^24) */
        VAEI_CHECK(t->v[0] * t->v[1] <= p->width && t->v[0] * t->v[1] * t->v[2] == p->width &&
                       (p->nl > 0 || p->C == 0 || !p->side),
                   VAE_ERR_INVALID_ARGUMENT, "%s: reshape:%zu:%zu:%zu of %zu values",
                   p->side ? "decoder" : "encoder", t->v[0], t->v[1], t->v[2], p->width);
        p->c = t->v[0];
        p->h = t->v[1];
        p->w = t->v[2];
        return VAE_OK;
    }
    return plan_conv(p, t, !strcmp(t->name, "conv") ? VAEI_CONV : VAEI_DECONV);
}

/* The encoder's input image: the shape set, or a square of one channel. */
static void input_image(const struct vae_config *c, size_t D, planner *p)
{
    if (c->shape[0]) {
        p->c = c->shape[0];
        p->h = c->shape[1];
        p->w = c->shape[2];
        return;
    }
    size_t s = 1;
    while (s * s < D) s++;
    if (s * s == D) p->c = 1, p->h = s, p->w = s;
}

vae_status vaei_layers_plan(const struct vae_config *c, int side, vaei_layer *ly, size_t *nl)
{
    const size_t D = (size_t)c->v[S_INPUT_DIM], L = (size_t)c->v[S_LATENT_DIM];
    planner p = {.ly = ly, .side = side, .C = (size_t)c->v[S_COND_DIM]};
    p.width = side ? L : D;
    p.first_ld = side ? L + p.C : D + p.C;
    if (!side) input_image(c, D, &p);
    VAEI_CHECK(!side || !c->shape[0] || c->shape[0] * c->shape[1] * c->shape[2] == D,
               VAE_ERR_INVALID_ARGUMENT, "input shape %zux%zux%zu is not %zu values",
               c->shape[0], c->shape[1], c->shape[2], D);
    VAEI_TRY(vaei_spec_each(c->spec[side], plan_token, &p));
    const vaei_layer *last = p.nl ? &ly[p.nl - 1] : NULL;
    if (!side) VAEI_TRY(plan_dense(&p, 2 * L));
    else if (!last || last->act >= 0 || last->out != D) VAEI_TRY(plan_dense(&p, D));
    *nl = p.nl;
    return VAE_OK;
}

size_t vaei_layer_rows(const vaei_layer *ly)
{
    return ly->kind == VAEI_CONV ? ly->g.ho * ly->g.wo
           : ly->kind == VAEI_DECONV ? ly->g.h * ly->g.w : 1;
}

/* Column-matrix floats per image: k^2 channels of the larger image for each
 * pixel of the smaller one. */
static size_t col_floats(const vaei_layer *ly)
{
    return ly->kind == VAEI_DENSE ? 0 : ly->g.ho * ly->g.wo * ly->g.k * ly->g.k * ly->g.c;
}

/* ------------------------------------------------------------------------ */
/* Passes                                                                   */
/* ------------------------------------------------------------------------ */

/* Output channels: the columns of the activation matrix. */
static size_t out_channels(const vaei_layer *ly)
{
    return ly->kind == VAEI_CONV ? ly->ch : ly->kind == VAEI_DECONV ? ly->g.c : ly->out;
}

/* A layer's product at the model's precision: with bf16, the large ones
 * run on bfloat16 operands with float32 sums (dispatch.c). */
#define GEMM(c, ...) vaei_gemm_prec((c)->precision, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Convolutional passes                                                     */
/* ------------------------------------------------------------------------ */

/* A conv layer's pass is one job over chunks of images. A part builds its
 * chunk's column matrix (im2col, or the product that col2im reads) in its
 * thread's buffer and runs the chunk's products, col2im and bias +
 * activation on its own thread (vaei_in_part), so that what im2col or a
 * product writes, the next step reads from the cache. Over the whole batch
 * the column matrix (12.8 MB for the second layer of the reference network
 * at batch 128) went to memory and back for each product, in a job of its
 * own. A chunk's column matrix is at most about CHUNK_FLOATS floats (1 MB),
 * and a pass has at least MIN_CHUNKS chunks when it has that many images,
 * so that threads share the thin products of a layer with few channels
 * too (a 16 x 32 dW summed over 25088 rows ran no faster on two threads
 * than on one), and that 2, 4, 8 or 16 threads get equal shares of a
 * batch of 128 (16 chunks of 8 images: vae-bench-conv at 2 threads 5%
 * faster than with 13 chunks of 10, and 4% faster than with 32 of 4).
 *
 * The forward products and dX have one row per pixel, and each row is
 * the same sums whichever chunk computes it. dW and db sum over all the
 * rows: each chunk sums its own rows, chunk 0 into the gradient and the
 * others into the workspace's partial sums, which are then added to it in
 * chunk order. The chunks depend on the layer and n only, never on the
 * threads, and so do the results. The BLAS and a host's sgemm take the
 * whole batch as one chunk (run_chunks). */
enum { CHUNK_FLOATS = 1 << 18, MIN_CHUNKS = 16 };

static size_t chunk_images(const vaei_layer *ly, size_t n)
{
    const size_t fit = CHUNK_FLOATS / col_floats(ly);
    const size_t spread = (n + MIN_CHUNKS - 1) / MIN_CHUNKS;
    const size_t c = fit < spread ? fit : spread;
    return c ? c : 1;
}

static size_t chunks(const vaei_layer *ly, size_t n)
{
    const size_t c = chunk_images(ly, n);
    return (n + c - 1) / c;
}

/* The partial sums for any batch of at most n images, since the workspace
 * reserved for n serves the smaller ones as well. chunks() is not monotonic
 * in n: up to MIN_CHUNKS x fit images it is at most min(n, MIN_CHUNKS)
 * (17 images: 9 chunks of 2; 16: 16 of 1); beyond, ceil(n / fit), which
 * grows with n. The larger of the two bounds every smaller batch. */
size_t vaei_layer_partials(const vaei_layer *ly, size_t n)
{
    if (ly->kind == VAEI_DENSE || n == 0) return 0;
    const size_t few = n < MIN_CHUNKS ? n : MIN_CHUNKS, most = chunks(ly, n);
    const size_t c = (most > few ? most : few) - 1;
    return c && ly->np > SIZE_MAX / sizeof(float) / c ? SIZE_MAX : c * ly->np; /* SIZE_MAX: too many */
}

typedef struct {
    const vaei_layer_ctx *cx;
    const vaei_layer *ly;
    const float *x, *g; /* the layer's input (image stride ldx); backward: dY */
    size_t ldx, n, chunk;
    float *y;           /* forward: the output; backward: dX [n x width], or NULL */
    size_t width;
    int in_act;         /* backward: the activation whose output x is, or -1 */
    vae_status status;  /* the first failure of a product (a host's sgemm) */
} conv_job;

static void failed(conv_job *j, vae_status st)
{
    if (st != VAE_OK) __atomic_store_n(&j->status, st, __ATOMIC_RELAXED);
}

/* The images [*i0, *i0 + *cnt) of part `part`, and the thread's buffer for
 * their column matrix: one per thread, reused chunk after chunk, so that
 * it stays in the cache (NULL: out of memory, failed). */
static float *chunk_of(conv_job *j, int part, size_t *i0, size_t *cnt)
{
    *i0 = (size_t)part * j->chunk;
    *cnt = j->n - *i0 < j->chunk ? j->n - *i0 : j->chunk;
    float *col = vaei_scratch(VAEI_SCRATCH_COLUMNS, j->chunk * col_floats(j->ly) * sizeof *col);
    if (!col) failed(j, VAE_ERR_OUT_OF_MEMORY); /* reported by run_chunks, on its thread */
    return col;
}

static void forward_part(void *arg, int part, int nparts)
{
    (void)nparts;
    conv_job *j = arg;
    const vaei_layer *ly = j->ly;
    const vaei_conv_geom *g = &ly->g;
    const float *W = j->cx->params + ly->w;
    size_t i0, cnt;
    float *col = chunk_of(j, part, &i0, &cnt);
    if (!col) return;
    const float *x = j->x + i0 * j->ldx;
    float *y = j->y + i0 * ly->out;
    const size_t rows = cnt * g->ho * g->wo, kkc = g->k * g->k * g->c;
    if (ly->kind == VAEI_CONV) { /* Y = col(X) W */
        vaei_im2col(x, j->ldx, cnt, g, col);
        failed(j, GEMM(j->cx, VAE_NO_TRANS, VAE_NO_TRANS, rows, ly->ch, kkc, 1.0f, col, kkc, W,
                       ly->ch, 0.0f, y, ly->ch));
    } else { /* Y = col2im(X W), X [rows x ci] */
        failed(j, GEMM(j->cx, VAE_NO_TRANS, VAE_NO_TRANS, rows, kkc, ly->ch, 1.0f, x, ly->ch, W,
                       kkc, 0.0f, col, kkc));
        vaei_col2im(col, cnt, g, y);
    }
    vaei_bias_act(y, cnt * vaei_layer_rows(ly), out_channels(ly), j->cx->params + ly->b, ly->act,
                  j->cx->leaky_slope);
}

static void backward_part(void *arg, int part, int nparts)
{
    (void)nparts;
    conv_job *j = arg;
    const vaei_layer_ctx *cx = j->cx;
    const vaei_layer *ly = j->ly;
    const vaei_conv_geom *geo = &ly->g;
    const float *W = cx->params + ly->w;
    size_t i0, cnt;
    float *col = chunk_of(j, part, &i0, &cnt);
    if (!col) return;
    const float *x = j->x + i0 * j->ldx, *g = j->g + i0 * ly->out;
    float *dx = j->y ? j->y + i0 * j->width : NULL;
    /* This chunk's [dW | db]: W and b are adjacent in the gradient. */
    float *dW = part == 0 ? cx->grads + ly->w : cx->partials + (size_t)(part - 1) * ly->np;
    const size_t rows = cnt * geo->ho * geo->wo, kkc = geo->k * geo->k * geo->c;
    vaei_col_sums(dW + (ly->b - ly->w), g, cnt * vaei_layer_rows(ly), out_channels(ly));
    if (ly->kind == VAEI_CONV) { /* dW = col(X)^T dY; dX = col2im(dY W^T) */
        vaei_im2col(x, j->ldx, cnt, geo, col);
        failed(j, GEMM(cx, VAE_TRANS, VAE_NO_TRANS, kkc, ly->ch, rows, 1.0f, col, kkc, g, ly->ch,
                       0.0f, dW, ly->ch));
        if (!dx) return;
        failed(j, GEMM(cx, VAE_NO_TRANS, VAE_TRANS, rows, kkc, ly->ch, 1.0f, g, ly->ch, W, ly->ch,
                       0.0f, col, kkc));
        vaei_col2im(col, cnt, geo, dx);
    } else { /* deconv: dW = X^T col(dY); dX = col(dY) W^T */
        vaei_im2col(g, ly->out, cnt, geo, col);
        failed(j, GEMM(cx, VAE_TRANS, VAE_NO_TRANS, ly->ch, kkc, rows, 1.0f, x, ly->ch, col, kkc,
                       0.0f, dW, kkc));
        if (!dx) return;
        failed(j, GEMM(cx, VAE_NO_TRANS, VAE_TRANS, rows, ly->ch, kkc, 1.0f, col, kkc, W, kkc,
                       0.0f, dx, ly->ch));
    }
    if (j->in_act >= 0) vaei_act_backward(dx, x, cnt * j->width, j->in_act, cx->leaky_slope);
}

/* The chunks of j on the pool's threads when the products may run there;
 * else the whole batch is one chunk, on this thread, and its products use
 * the threads of the BLAS. Returns the chunks in *nc. */
static vae_status run_chunks(conv_job *j, vaei_task_fn fn, size_t *nc)
{
    const int in_parts = vaei_gemm_in_parts();
    j->chunk = in_parts ? chunk_images(j->ly, j->n) : j->n;
    j->status = VAE_OK;
    *nc = (j->n + j->chunk - 1) / j->chunk;
    if (in_parts)
        vaei_parallel((int)*nc, fn, j);
    else
        fn(j, 0, 1);
    VAEI_CHECK(j->status != VAE_ERR_OUT_OF_MEMORY, j->status,
               "no memory for the column matrix of %zu images", j->chunk);
    return j->status; /* VAE_OK, or a host's sgemm failed (reported by vaei_gemm) */
}

vae_status vaei_layer_forward(const vaei_layer_ctx *cx, const vaei_layer *ly, const float *x,
                              size_t ldx, const float *cond, size_t ldc, size_t n, float *y)
{
    if (ly->kind != VAEI_DENSE) {
        conv_job j = {cx, ly, x, NULL, ldx, n, 0, y, 0, -1, VAE_OK};
        size_t nc;
        return n ? run_chunks(&j, forward_part, &nc) : VAE_OK;
    }
    /* y = act(x W_x (+ c W_c) + b) */
    const float *W = cx->params + ly->w;
    VAEI_TRY(GEMM(cx, VAE_NO_TRANS, VAE_NO_TRANS, n, ly->out, ly->in, 1.0f, x, ldx, W, ly->out,
                  0.0f, y, ly->out));
    if (ly->cond)
        VAEI_TRY(GEMM(cx, VAE_NO_TRANS, VAE_NO_TRANS, n, ly->out, ly->cond, 1.0f, cond, ldc,
                      W + ly->in * ly->out, ly->out, 1.0f, y, ly->out));
    vaei_bias_act(y, n, ly->out, cx->params + ly->b, ly->act, cx->leaky_slope);
    return VAE_OK;
}

vae_status vaei_layer_backward(const vaei_layer_ctx *cx, const vaei_layer *ly, const float *x,
                               size_t ldx, const float *cond, size_t ldc, size_t n,
                               const float *g, float *dx, size_t width, int in_act)
{
    float *dW = cx->grads + ly->w;
    const float *W = cx->params + ly->w;
    if (ly->kind != VAEI_DENSE) {
        conv_job j = {cx, ly, x, g, ldx, n, 0, dx, width, in_act, VAE_OK};
        if (n == 0) return VAE_OK;
        size_t nc;
        VAEI_TRY(run_chunks(&j, backward_part, &nc));
        /* The chunks' sums in chunk order. */
        const size_t np = ly->np;
        for (size_t c = 1; c < nc; c++) {
            const float *restrict s = cx->partials + (c - 1) * np;
            for (size_t i = 0; i < np; i++) dW[i] += s[i];
        }
        return VAE_OK;
    }
    /* db = column sums of g; dW = [x | c]^T g; dx = g W^T over the first
     * `width` rows of W */
    vaei_col_sums(cx->grads + ly->b, g, n, ly->out);
    VAEI_TRY(GEMM(cx, VAE_TRANS, VAE_NO_TRANS, ly->in, ly->out, n, 1.0f, x, ldx, g, ly->out,
                  0.0f, dW, ly->out));
    if (ly->cond)
        VAEI_TRY(GEMM(cx, VAE_TRANS, VAE_NO_TRANS, ly->cond, ly->out, n, 1.0f, cond, ldc, g,
                      ly->out, 0.0f, dW + ly->in * ly->out, ly->out));
    if (!dx) return VAE_OK;
    VAEI_TRY(GEMM(cx, VAE_NO_TRANS, VAE_TRANS, n, width, ly->out, 1.0f, g, ly->out, W, ly->out,
                  0.0f, dx, width));
    if (in_act >= 0) vaei_act_backward(dx, x, n * width, in_act, cx->leaky_slope);
    return VAE_OK;
}
