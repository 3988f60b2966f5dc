/*
 * Layers of every kind (conv and deconv since 1.1): the layer type, the
 * shapes a layer spec implies (its grammar is lib/layerspec.h's), and the
 * forward and backward pass of one layer.
 *
 * Dense layers flatten what they get. The encoder's head (dense to
 * [mu | logvar]) is always appended. The decoder's list ends in its output
 * layer when its last entry is a layer without activation that yields D
 * values; otherwise a dense layer to D is appended. Conditioning columns
 * join the first dense layer of each side.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_LAYERS_H
#define VAEI_LAYERS_H

#include <stddef.h>

#include "config.h"
#include "kernels/im2col.h"
#include "vae/vae.h"

enum { VAEI_DENSE = 0, VAEI_CONV = 1, VAEI_DECONV = 2 };

/* One layer and the activation after it (lib/layers.c has the math).
 * dense:  y = [x | c] W + b, W [(in + cond) x out], c the side input's
 *         conditioning columns when cond > 0.
 * conv:   g is its input image; W [k*k*ci x co] (taps in im2col order).
 * deconv: the transpose of a conv from its output image g to its input;
 *         W [ci x k*k*co]. Images are channels-last (im2col.h). */
typedef struct vaei_layer {
    size_t in, out;  /* floats per row (image) in and out; cond excluded */
    size_t w, b;     /* offsets of W and b [out channels] in the parameter buffer */
    size_t np;       /* floats of W and b together */
    size_t cond;     /* dense only: conditioning columns appended to the input */
    size_t fan_in;   /* PyTorch's fan_in: the initialisation bound is 1/sqrt(fan_in) */
    size_t ch;       /* conv: output channels; deconv: input channels */
    int kind, act;   /* VAEI_DENSE...; a vae_activation, or -1 for none */
    vaei_conv_geom g;
} vaei_layer;

/* What a layer's pass takes from its model. */
typedef struct vaei_layer_ctx {
    const float *params; /* the flat parameter buffer */
    float *grads;        /* its gradient (backward) */
    float *partials;     /* the workspace's partial sums of [dW | db] (lib/layers.c) */
    int precision;       /* a vae_precision */
    float leaky_slope;   /* of VAE_ACTIVATION_LEAKY_RELU */
} vaei_layer_ctx;

/* Layers of one side (0 encoder, 1 decoder) of c, outputs included, with
 * in/out/cond/fan_in/kind/act/geometry set (parameter offsets are not). */
vae_status vaei_layers_plan(const struct vae_config *c, int side, vaei_layer *ly, size_t *nl);

/* Rows of a layer's activation matrix per image, and its columns: for
 * images, one row per pixel and one column per channel. */
size_t vaei_layer_rows(const vaei_layer *ly);

/* Floats of partial sums a layer's backward pass over n images needs in
 * the workspace (0 for a dense layer). */
size_t vaei_layer_partials(const vaei_layer *ly, size_t n);

/* y = act(layer(x)) over n images; x rows have stride ldx; cond (stride
 * ldc) supplies the conditioning columns of a dense layer with cond > 0. */
vae_status vaei_layer_forward(const vaei_layer_ctx *cx, const vaei_layer *ly, const float *x,
                              size_t ldx, const float *cond, size_t ldc, size_t n, float *y);

/* From g = d/d(pre-activation output) [n x out]: the layer's parameter
 * gradients, and when dx is not NULL the gradient of the first `width`
 * input columns into dx [n x width]. When x is the output of an activation
 * in_act (-1: none; then ldx == width), dx is the gradient before it:
 * d/dx times act'(x). */
vae_status vaei_layer_backward(const vaei_layer_ctx *cx, const vaei_layer *ly, const float *x,
                               size_t ldx, const float *cond, size_t ldc, size_t n,
                               const float *g, float *dx, size_t width, int in_act);

#endif /* VAEI_LAYERS_H */
