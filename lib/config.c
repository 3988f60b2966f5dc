/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "kernels/kernels.h"

static const struct {
    vae_param id;
    const char *name;
    double lo, hi, def;
    unsigned flags;
} params[VAEI_NSLOTS] = {
#define ROW(NAME, name, lo, hi, def, flags) [S_##NAME] = {VAE_PARAM_##NAME, name, lo, hi, def, flags},
    VAEI_SETTINGS(ROW)
#undef ROW
};

/* A switch over the enum without a default: a vae_param the table lacks is
 * a compile error (-Wswitch), and so is one it names twice. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
#endif
int vaei_param_slot(vae_param p)
{
    switch (p) {
#define CASE(NAME, ...) \
    case VAE_PARAM_##NAME: return S_##NAME;
        VAEI_SETTINGS(CASE)
#undef CASE
    }
    return -1;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

vae_param vaei_param_id(int slot)
{
    return params[slot].id;
}

unsigned vaei_param_flags(int slot)
{
    return params[slot].flags;
}

vae_status vaei_param_check(int slot, double v)
{
    VAEI_CHECK(isfinite(v) && v >= params[slot].lo && v <= params[slot].hi,
               VAE_ERR_INVALID_ARGUMENT, "%s = %g is outside [%g, %g]", params[slot].name, v,
               params[slot].lo, params[slot].hi);
    VAEI_CHECK(!(params[slot].flags & VAEI_INTEGRAL) || v == floor(v), VAE_ERR_INVALID_ARGUMENT,
               "%s = %g must be a whole number", params[slot].name, v);
    VAEI_CHECK(slot != S_PRECISION || v != VAE_PRECISION_BF16 || vaei_bf16_sgemm() != NULL,
               VAE_ERR_UNAVAILABLE, "precision bf16 needs AVX512_BF16, which %s",
               vaei_bf16_sgemm_built() ? "this CPU lacks" : "this build left out");
    return VAE_OK;
}

void vaei_config_defaults(struct vae_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < VAEI_NSLOTS; i++) c->v[i] = params[i].def;
    for (int s = 0; s < 2; s++) {
        c->n_hidden[s] = 1;
        c->hidden[s][0] = 400;
    }
}

void vaei_logvar_bounds(const struct vae_config *c, float *lo, float *hi)
{
    const double dlo = c->v[S_LOGVAR_MIN], dhi = c->v[S_LOGVAR_MAX];
    *lo = (float)dlo;
    *hi = (float)dhi;
    if ((double)*lo < dlo) *lo = nextafterf(*lo, INFINITY);
    if ((double)*hi > dhi) *hi = nextafterf(*hi, -INFINITY);
}

vae_status vaei_config_validate(const struct vae_config *c)
{
    for (int i = 0; i < VAEI_NSLOTS; i++) VAEI_TRY(vaei_param_check(i, c->v[i]));
    VAEI_CHECK(c->v[S_LOGVAR_MIN] < c->v[S_LOGVAR_MAX], VAE_ERR_INVALID_ARGUMENT,
               "logvar_min (%g) must be below logvar_max (%g)", c->v[S_LOGVAR_MIN],
               c->v[S_LOGVAR_MAX]);
    float lo, hi;
    vaei_logvar_bounds(c, &lo, &hi);
    VAEI_CHECK(lo <= hi, VAE_ERR_INVALID_ARGUMENT,
               "logvar_min (%g) and logvar_max (%g) hold no float32 between them",
               c->v[S_LOGVAR_MIN], c->v[S_LOGVAR_MAX]);
    for (int s = 0; s < 2; s++) VAEI_TRY(vaei_spec_check(c->spec[s]));
    /* (a file's shape: each factor below 2^32, so the products are bounded
     * step by step before they could wrap) */
    const size_t D = (size_t)c->v[S_INPUT_DIM];
    VAEI_CHECK(!c->shape[0] || (c->shape[0] <= D && c->shape[1] <= D &&
                                c->shape[0] * c->shape[1] <= D &&
                                c->shape[0] * c->shape[1] * c->shape[2] == D),
               VAE_ERR_INVALID_ARGUMENT, "input shape %zux%zux%zu is not input_dim = %g values",
               c->shape[0], c->shape[1], c->shape[2], c->v[S_INPUT_DIM]);
    for (int s = 0; s < 2; s++) {
        VAEI_CHECK(c->n_hidden[s] >= 1 && c->n_hidden[s] <= VAEI_MAX_LAYERS,
                   VAE_ERR_INVALID_ARGUMENT, "%s has %zu hidden layers, not 1 to %d",
                   s ? "decoder" : "encoder", c->n_hidden[s], VAEI_MAX_LAYERS);
        for (size_t l = 0; l < c->n_hidden[s]; l++)
            VAEI_CHECK(c->hidden[s][l] >= 1 && c->hidden[s][l] <= VAEI_MAX_WIDTH,
                       VAE_ERR_INVALID_ARGUMENT, "hidden layer width %zu is not in [1, %d]",
                       c->hidden[s][l], VAEI_MAX_WIDTH);
    }
    return VAE_OK;
}

vae_status vae_config_create(vae_config **out)
{
    VAEI_CHECK_ARG(out != NULL);
    vae_config *c = malloc(sizeof *c);
    VAEI_CHECK(c != NULL, VAE_ERR_OUT_OF_MEMORY, "vae_config_create: out of memory");
    vaei_config_defaults(c);
    *out = c;
    return VAE_OK;
}

void vae_config_free(vae_config *cfg)
{
    free(cfg);
}

static vae_status lookup(vae_param p, int *slot)
{
    *slot = vaei_param_slot(p);
    VAEI_CHECK(*slot >= 0, VAE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)p);
    return VAE_OK;
}

vae_status vae_config_set(vae_config *cfg, vae_param p, double value)
{
    int slot;
    VAEI_CHECK_ARG(cfg != NULL);
    VAEI_TRY(lookup(p, &slot));
    VAEI_TRY(vaei_param_check(slot, value));
    cfg->v[slot] = value;
    return VAE_OK;
}

vae_status vae_config_get(const vae_config *cfg, vae_param p, double *value)
{
    int slot;
    VAEI_CHECK_ARG(cfg != NULL && value != NULL);
    VAEI_TRY(lookup(p, &slot));
    *value = cfg->v[slot];
    return VAE_OK;
}

vae_status vae_config_set_hidden(vae_config *cfg, vae_side side, const size_t *sizes, size_t n)
{
    VAEI_CHECK_ARG(cfg != NULL && sizes != NULL);
    VAEI_CHECK_ARG(side == VAE_ENCODER || side == VAE_DECODER || side == VAE_BOTH);
    VAEI_CHECK(n >= 1 && n <= VAEI_MAX_LAYERS, VAE_ERR_INVALID_ARGUMENT,
               "%zu hidden layers: must be 1 to %d", n, VAEI_MAX_LAYERS);
    for (size_t l = 0; l < n; l++)
        VAEI_CHECK(sizes[l] >= 1 && sizes[l] <= VAEI_MAX_WIDTH, VAE_ERR_INVALID_ARGUMENT,
                   "hidden layer width %zu is not in [1, %d]", sizes[l], VAEI_MAX_WIDTH);
    for (int s = 0; s < 2; s++) {
        if (!(side & (1 << s))) continue;
        cfg->n_hidden[s] = n;
        memcpy(cfg->hidden[s], sizes, n * sizeof *sizes);
    }
    return VAE_OK;
}

vae_status vae_param_bounds(vae_param p, double *lo, double *hi)
{
    int slot;
    VAEI_TRY(lookup(p, &slot));
    if (lo) *lo = params[slot].lo;
    if (hi) *hi = params[slot].hi;
    return VAE_OK;
}

vae_status vae_config_set_layers(vae_config *cfg, vae_side side, const char *spec)
{
    VAEI_CHECK_ARG(cfg != NULL);
    VAEI_CHECK_ARG(side == VAE_ENCODER || side == VAE_DECODER || side == VAE_BOTH);
    if (!spec) spec = "";
    VAEI_TRY(vaei_spec_check(spec));
    for (int s = 0; s < 2; s++)
        if (side & (1 << s)) snprintf(cfg->spec[s], sizeof cfg->spec[s], "%s", spec);
    return VAE_OK;
}

const char *vae_config_layers(const vae_config *cfg, vae_side side)
{
    if (!cfg || (side != VAE_ENCODER && side != VAE_DECODER)) return NULL;
    return cfg->spec[side == VAE_DECODER];
}

vae_status vae_config_set_input_shape(vae_config *cfg, size_t channels, size_t height,
                                      size_t width)
{
    VAEI_CHECK_ARG(cfg != NULL);
    const int none = !channels && !height && !width;
    VAEI_CHECK(none || (channels && height && width && channels <= VAEI_MAX_INPUT &&
                        height <= VAEI_MAX_INPUT / channels &&
                        width <= VAEI_MAX_INPUT / channels / height),
               VAE_ERR_INVALID_ARGUMENT, "input shape %zux%zux%zu: each must be >= 1 (or all 0), "
               "the product at most %d", channels, height, width, VAEI_MAX_INPUT);
    cfg->shape[0] = channels;
    cfg->shape[1] = height;
    cfg->shape[2] = width;
    if (!none) cfg->v[S_INPUT_DIM] = (double)(channels * height * width);
    return VAE_OK;
}
