/*
 * Model settings: the table of parameters (range, default, flags) and the
 * value store shared by vae_config and the model, which keeps its own copy.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_CONFIG_H
#define VAEI_CONFIG_H

#include <stddef.h>

#include "layerspec.h" /* VAEI_MAX_INPUT, VAEI_MAX_SPEC */
#include "vae/vae.h"

enum {
    VAEI_MAX_LAYERS = 16,
    VAEI_MAX_WIDTH = 65536,
    VAEI_MAX_LATENT = 4096,
    VAEI_MAX_COND = 65536
};

/* The model's settings, the one list of them: X(NAME, name, lo, hi,
 * default, flags) per public VAE_PARAM_NAME, in slot order. config.c's
 * checks and defaults, the S_* slots, the checkpoint's ARCH chunk (all but
 * the VAEI_LOCAL ones, in this order) and the workers' shape check (the
 * VAEI_SHAPE ones) all come from it; vaei_param_slot() refuses to compile
 * unless it names every vae_param exactly once. */
#define VAEI_SETTINGS(X)                                                                          \
    X(INPUT_DIM, "input_dim", 1, VAEI_MAX_INPUT, 784, VAEI_INTEGRAL | VAEI_ARCH | VAEI_SHAPE)      \
    X(LATENT_DIM, "latent_dim", 1, VAEI_MAX_LATENT, 2, VAEI_INTEGRAL | VAEI_ARCH | VAEI_SHAPE)     \
    X(COND_DIM, "cond_dim", 0, VAEI_MAX_COND, 0, VAEI_INTEGRAL | VAEI_ARCH | VAEI_SHAPE)           \
    X(ACTIVATION, "activation", 0, 4, VAE_ACTIVATION_RELU, VAEI_INTEGRAL | VAEI_ARCH | VAEI_SHAPE) \
    X(LIKELIHOOD, "likelihood", 0, 2, VAE_LIKELIHOOD_BERNOULLI,                                    \
      VAEI_INTEGRAL | VAEI_ARCH | VAEI_SHAPE)                                                      \
    X(SEED, "seed", 0, 9007199254740992.0 /* 2^53 */, 1, VAEI_INTEGRAL | VAEI_ARCH)               \
    X(LEAKY_SLOPE, "leaky_slope", 0, 1, 0.01, VAEI_ARCH)                                           \
    X(BETA, "beta", 0, 1e6, 1, 0)                                                                  \
    X(KL_SCHEDULE, "kl_schedule", 0, 2, VAE_KL_CONSTANT, VAEI_INTEGRAL)                            \
    X(KL_WARMUP_STEPS, "kl_warmup_steps", 0, 1e12, 0, VAEI_INTEGRAL)                               \
    X(KL_CYCLE_STEPS, "kl_cycle_steps", 0, 1e12, 0, VAEI_INTEGRAL)                                 \
    X(FREE_BITS, "free_bits", 0, 1e3, 0, 0)                                                        \
    X(BINARIZE, "binarize", 0, 1, 0, VAEI_INTEGRAL)                                                \
    X(GAUSSIAN_LOGVAR, "gaussian_logvar", -20, 20, 0, 0)                                           \
    X(LOGVAR_MIN, "logvar_min", -80, 80, -30, 0)                                                   \
    X(LOGVAR_MAX, "logvar_max", -80, 80, 20, 0)                                                    \
    X(EVAL_USE_MEAN, "eval_use_mean", 0, 1, 0, VAEI_INTEGRAL)                                      \
    X(PRECISION, "precision", 0, 1, VAE_PRECISION_FP32, VAEI_INTEGRAL | VAEI_LOCAL)

/* Flags of a setting. */
enum {
    VAEI_INTEGRAL = 1, /* a whole number */
    VAEI_ARCH = 2,     /* fixed once the model exists */
    VAEI_SHAPE = 4,    /* workers that train together must agree on it */
    VAEI_LOCAL = 8     /* how this process computes, not what: no checkpoint stores it */
};

/* The settings' slots in struct vae_config's v, in table order. */
enum vaei_slot {
#define VAEI_SLOT_(name, ...) S_##name,
    VAEI_SETTINGS(VAEI_SLOT_)
#undef VAEI_SLOT_
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
/* The public id of a slot, and its VAEI_* flags. */
vae_param vaei_param_id(int slot);
unsigned vaei_param_flags(int slot);
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
