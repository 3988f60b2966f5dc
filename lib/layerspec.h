/*
 * The layer-spec grammar (since 1.1): the tokens of a spec string and the
 * ranges of their numbers. What the layers make of them is lib/layers.c's.
 *
 * A spec is a comma-separated list, input side first:
 *   dense:N           N outputs
 *   conv:C:K:S:P      C output channels, K x K kernel, stride S, padding P
 *   deconv:C:K:S:P    transposed convolution: out = (in - 1) S - 2P + K
 *   reshape:C:H:W     view the current C*H*W values as an image
 *   relu, tanh, leaky_relu, elu, softplus   activation of the layer before
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_LAYERSPEC_H
#define VAEI_LAYERSPEC_H

#include <stddef.h>

#include "vae/vae.h"

enum {
    VAEI_MAX_INPUT = 1 << 24, /* values of an input, a layer's output, a spec's number */
    VAEI_MAX_SPEC = 512       /* bytes of a layer-spec string, its NUL included */
};

/* One token: its name and up to 4 numbers. */
typedef struct vaei_spec_token {
    char name[16];
    size_t v[4];
    int nv;
} vaei_spec_token;

/* The vae_activation a token names, or -1. */
int vaei_spec_activation(const char *name);

/* Calls fn (when not NULL) on each token of spec, its numbers checked
 * against their ranges; stops at the first failure. */
typedef vae_status (*vaei_spec_fn)(void *ctx, const vaei_spec_token *t);
vae_status vaei_spec_each(const char *spec, vaei_spec_fn fn, void *ctx);

/* Syntax check of a spec (shapes are checked by vaei_layers_plan). */
vae_status vaei_spec_check(const char *spec);

#endif /* VAEI_LAYERSPEC_H */
