/*
 * The network: layer shapes over one flat parameter buffer, the workspace a
 * batch travels through, and the forward and backward passes.
 *
 * Encoder: [x | c] -> hidden layers -> head S = [mu | logvar]   (one GEMM)
 * Decoder: [z | c] -> hidden layers -> output (logits or Gaussian means)
 * Every linear layer is y = x W + b with W stored [in x out], row-major.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_MODEL_H
#define VAEI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "layers.h"
#include "rng.h"
#include "vae/vae.h"

typedef struct vaei_tensor {
    char name[32];
    size_t rows, cols, offset;
} vaei_tensor;

enum { VAEI_MAX_TENSORS = 4 * (VAEI_MAX_LAYERS + 1) + 1 };

/* Buffers for `cap` rows, sized at the first batch that needs them: a step
 * at or below that size allocates nothing. */
typedef struct vaei_workspace {
    size_t cap;
    float *mem;
    float *x0;                           /* [cap x (D+C)] input rows [x | c] */
    float *enc[VAEI_MAX_LAYERS + 1];     /* post-activation; the last is S [cap x 2L] */
    float *eps;                          /* [cap x L] */
    float *z;                            /* [cap x (L+C)] decoder input [z | c] */
    float *dec[VAEI_MAX_LAYERS + 1];     /* post-activation; the last is the output [cap x D] */
    float *g0, *g1;                      /* [cap x widest] gradient ping-pong */
    float *partials;                     /* the conv layers' partial sums (vaei_layer_partials) */
    double *kl_dim;                      /* [L] batch KL per latent dimension */
    float *prec;                         /* [D] the Gaussian term's exp(-logvar) per column */
} vaei_workspace;

struct vae_model {
    struct vae_config cfg;
    size_t D, L, C;     /* input, latent and conditioning widths */
    size_t n_enc, n_dec; /* linear layers per side, output layer included */
    vaei_layer enc[VAEI_MAX_LAYERS + 1], dec[VAEI_MAX_LAYERS + 1];
    size_t px_logvar;   /* offset of the learned per-dimension Gaussian log-variance */
    size_t widest;      /* widest activation, for the gradient buffers */
    size_t n_params;
    float *params, *grads;
    size_t n_tensors;
    vaei_tensor tensors[VAEI_MAX_TENSORS];
    uint64_t steps, epochs;
    vaei_rng rng;       /* training noise: eps and binarisation */
    vaei_workspace ws;
};

#define VAEI_CFG(m, slot) ((m)->cfg.v[slot])

/* Parameters a model of the validated settings cfg holds, without allocating
 * them (a checkpoint reader bounds the file size with it). */
vae_status vaei_model_param_total(const struct vae_config *cfg, size_t *n);

/* Create a model from settings; parameters initialised unless init is 0
 * (the checkpoint loader fills them). When expect_params is not 0 the
 * shapes must hold exactly that many parameters (VAE_ERR_FORMAT otherwise),
 * checked before the parameter buffers are allocated. */
vae_status vaei_model_new(vae_model **out, const struct vae_config *cfg, int init,
                          size_t expect_params);

/* Make the workspace hold n rows. */
vae_status vaei_model_reserve(vae_model *m, size_t n);

/* Encoder on rows x (stride ldx, [x | c] when C > 0); fills ws.enc, the last
 * being S = [mu | logvar] with logvar clamped. */
vae_status vaei_encoder_forward(vae_model *m, const float *x, size_t ldx, size_t n);

/* Decoder on ws.z; fills ws.dec, the last being the output layer. */
vae_status vaei_decoder_forward(vae_model *m, size_t n);

/* Back through the decoder from d objective / d output in *g (ws.g0 or
 * ws.g1, *spare the other): leaves dz [n x L] in *g, *spare free. */
vae_status vaei_decoder_backward(vae_model *m, size_t n, float **g, float **spare);

/* Back through the encoder from dS [n x 2L] (in one gradient buffer, spare
 * the other) into m->grads; x as for the forward pass. */
vae_status vaei_encoder_backward(vae_model *m, const float *x, size_t ldx, size_t n, float *dS,
                                 float *spare);

#endif /* VAEI_MODEL_H */
