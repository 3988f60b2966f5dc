/*
 * Optimizers over the model's flat parameter and gradient buffers.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_OPTIM_H
#define VAEI_OPTIM_H

#include <stdint.h>

#include "collective.h"
#include "vae/vae.h"

enum { VAEI_OPTIM_NPARAMS = 6 };

struct vae_optimizer {
    vae_model *model;
    vae_optim_kind kind;
    double hp[VAEI_OPTIM_NPARAMS + 1]; /* indexed by vae_optim_param */
    uint64_t t;                        /* updates applied */
    size_t n;                          /* parameters */
    float *m, *v;                      /* Adam moments [n]; SGD momentum in m, v unused */
    vaei_collective coll;              /* data-parallel workers; allreduce NULL: just this one */
};

/* Optimizer with defaults for kind over n parameters (state zeroed). */
vae_status vaei_optimizer_new(vae_optimizer **out, vae_model *model, vae_optim_kind kind);

/* Check a hyper-parameter value; records the reason on failure. */
vae_status vaei_optim_param_check(vae_optim_param p, double value);

#endif /* VAEI_OPTIM_H */
