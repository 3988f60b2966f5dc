/*
 * Model settings: a table of parameters (range, default, whether integral,
 * whether architecture) and the value store shared by vae_config and the
 * model, which keeps its own copy.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_CONFIG_H
#define VAEI_CONFIG_H

#include <stddef.h>

#include "vae/vae.h"

enum {
    VAEI_MAX_LAYERS = 16,
    VAEI_MAX_WIDTH = 65536,
    VAEI_MAX_INPUT = 1 << 24,
    VAEI_MAX_LATENT = 4096,
    VAEI_MAX_COND = 65536,
    VAEI_MAX_SPEC = 512 /* bytes of a layer-spec string, its NUL included */
};

/* Dense slots of the parameters, in the order of the table in config.c. */
enum vaei_slot {
    S_INPUT_DIM, S_LATENT_DIM, S_COND_DIM, S_ACTIVATION, S_LIKELIHOOD, S_SEED,
    S_LEAKY_SLOPE,
    S_BETA, S_KL_SCHEDULE, S_KL_WARMUP_STEPS, S_KL_CYCLE_STEPS, S_FREE_BITS, S_BINARIZE,
    S_GAUSSIAN_LOGVAR, S_LOGVAR_MIN, S_LOGVAR_MAX, S_EVAL_USE_MEAN,
    S_PRECISION,
    VAEI_NSLOTS
};

struct vae_config {
    double v[VAEI_NSLOTS];
    size_t n_hidden[2];                  /* [0] encoder, [1] decoder */
    size_t hidden[2][VAEI_MAX_LAYERS];
    /* Since 1.1: layer specs ("" = the dense hidden list above) and the
     * input image's shape (0s = a square single-channel image if D is a
     * square), lib/layers.c. */
    char spec[2][VAEI_MAX_SPEC];
    size_t shape[3];
};

/* Slot of a public parameter, or -1. */
int vaei_param_slot(vae_param p);
/* Whether a slot is fixed once the model exists. */
int vaei_param_is_arch(int slot);
/* Validate value for slot; records the reason on failure. */
vae_status vaei_param_check(int slot, double value);
void vaei_config_defaults(struct vae_config *c);
/* The log-variance clamp's bounds in float32, rounded inwards, so that
 * [lo, hi] lies inside [logvar_min, logvar_max] as set (-1e-300 would
 * otherwise round to -0.0, above such a maximum). */
void vaei_logvar_bounds(const struct vae_config *c, float *lo, float *hi);
/* Cross-parameter checks (logvar_min < logvar_max, ...). */
vae_status vaei_config_validate(const struct vae_config *c);

#endif /* VAEI_CONFIG_H */
