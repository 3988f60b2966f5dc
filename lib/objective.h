/*
 * The objective: negative ELBO = reconstruction + weight x KL, with free
 * bits, the KL schedule and the reparameterisation, and their gradients.
 * The layers' own forward and backward passes are model.c's.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_OBJECTIVE_H
#define VAEI_OBJECTIVE_H

#include <stddef.h>

#include "model.h"

/* z = mu + exp(lv / 2) eps for n rows: S = [mu | lv] [n x 2L], eps [n x L],
 * into the first L columns of z's rows (stride L + C, the decoder input). */
void vaei_reparameterize(const vae_model *m, const float *S, const float *eps, float *z,
                         size_t n);

/* -log p(x | out) summed over n rows by the model's likelihood: out is the
 * decoder output [n x D], x rows have stride ldx. When dout is not NULL it
 * receives scale * d/d out, and a learned Gaussian log-variance its
 * gradient in m->grads (overwritten). */
double vaei_recon(vae_model *m, size_t n, const float *x, size_t ldx, const float *out,
                  float *dout, float scale);

/* Objective of the batch (mean over rows) and, when grads is set, its
 * gradient into m->grads. Needs the forward passes and ws.eps; x are the
 * encoder's input rows (stride ldx). */
vae_status vaei_objective(vae_model *m, const float *x, size_t ldx, size_t n, int grads,
                          vae_loss *loss);

#endif /* VAEI_OBJECTIVE_H */
