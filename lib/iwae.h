/*
 * The importance-weighted bound on log p(x) (Burda et al. 2015); see
 * vae_model_iwae() in vae.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_IWAE_H
#define VAEI_IWAE_H

#include <stddef.h>
#include <stdint.h>

/* Seed of the noise stream of image `image` (its index in the dataset):
 * each sample takes latent_dim normals from it in turn, through
 * vaei_rng_normal(). Exposed so that a test can replay the draws. */
uint64_t vaei_iwae_stream(uint64_t seed, size_t image);

#endif /* VAEI_IWAE_H */
