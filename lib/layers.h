/*
 * Layer specs (since 1.1): the grammar, the shapes they imply, and the
 * forward and backward pass of one layer of any kind.
 *
 * A spec is a comma-separated list, input side first:
 *   dense:N           N outputs
 *   conv:C:K:S:P      C output channels, K x K kernel, stride S, padding P
 *   deconv:C:K:S:P    transposed convolution: out = (in - 1) S - 2P + K
 *   reshape:C:H:W     view the current C*H*W values as an image
 *   relu, tanh, leaky_relu, elu, softplus   activation of the layer before
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

#include "model.h"

/* Syntax check of a spec (shapes are checked by vaei_layers_plan). */
vae_status vaei_spec_check(const char *spec);

/* Layers of one side (0 encoder, 1 decoder) of c, outputs included, with
 * in/out/cond/fan_in/kind/act/geometry set (parameter offsets are not). */
vae_status vaei_layers_plan(const struct vae_config *c, int side, vaei_layer *ly, size_t *nl);

/* Rows of a layer's activation matrix per image, and its columns: for
 * images, one row per pixel and one column per channel. */
size_t vaei_layer_rows(const vaei_layer *ly);

/* y = act(layer(x)) over n images; x rows have stride ldx; cond (stride
 * ldc) supplies the conditioning columns of a dense layer with cond > 0. */
vae_status vaei_layer_forward(vae_model *m, const vaei_layer *ly, const float *x, size_t ldx,
                              const float *cond, size_t ldc, size_t n, float *y);

/* From g = d/d(pre-activation output) [n x out]: the layer's parameter
 * gradients, and when dx is not NULL the gradient of the first `width`
 * input columns into dx [n x width]. */
vae_status vaei_layer_backward(vae_model *m, const vaei_layer *ly, const float *x, size_t ldx,
                               const float *cond, size_t ldc, size_t n, const float *g,
                               float *dx, size_t width);

#endif /* VAEI_LAYERS_H */
