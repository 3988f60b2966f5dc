/*
 * Optimizers: Adam and SGD as update rules over flat parameter and gradient
 * buffers, and their settings. Counting the training steps and averaging
 * the gradient across workers belong to the training step (lib/step.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_OPTIM_H
#define VAEI_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/elementwise.h"
#include "vae/vae.h"

enum { VAEI_OPTIM_NPARAMS = 6 };

struct vaei_collective;

struct vae_optimizer {
    vae_model *model;                  /* whose parameters it updates */
    vae_optim_kind kind;
    double hp[VAEI_OPTIM_NPARAMS + 1]; /* indexed by vae_optim_param */
    uint64_t t;                        /* updates applied */
    size_t n;                          /* parameters */
    float *m, *v;                      /* Adam moments [n]; SGD momentum in m, v unused */
    /* Adam: max |m| and max v as the last update left them (known set),
     * which spares the next update's test a pass over m and v; not known
     * after creation, a load or an assignment (elementwise.h). */
    vaei_moment_max moments;
    int moments_known;
    /* The workers its steps are shared with (lib/collective.c, set by
     * lib/step.c; a plain block, freed with the optimizer); NULL: alone. */
    struct vaei_collective *coll;
};

/* Optimizer with defaults for kind over the model's parameters (state zeroed). */
vae_status vaei_optimizer_new(vae_optimizer **out, vae_model *model, vae_optim_kind kind);

/* Check the value of a known setting p; records the reason on failure. */
vae_status vaei_optim_param_check(vae_optim_param p, double value);

/* Update number t + 1 of params [n] from grads [n]: advances t and the
 * moments. Returns n, or the first parameter whose update would not be
 * finite, in which case nothing was changed. t must be below UINT64_MAX. */
size_t vaei_optimizer_update(vae_optimizer *opt, float *params, const float *grads);

/* dst := src's settings, moments and update count (same kind and size). */
void vaei_optimizer_assign(vae_optimizer *dst, const vae_optimizer *src);

#endif /* VAEI_OPTIM_H */
