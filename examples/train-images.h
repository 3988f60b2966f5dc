/*
 * The image grids vae-train writes: what a trained model reconstructs,
 * samples, and how its latent space is laid out.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_TRAIN_IMAGES_H
#define VAE_EXAMPLES_TRAIN_IMAGES_H

#include <stdint.h>

#include <vae/vae.h>

/**
 * Write reconstructions, samples (one row per class for a conditional
 * model), manifold (2-D unconditional latents), interpolation and
 * traversal grids into directory out, as vae-train --help describes.
 * Dies on failure.
 * @param[in] test images to reconstruct and to take latent points from;
 *                 it must have labels when the model is conditional.
 * @param[in] seed seeds the prior draws.
 */
void write_images(vae_model *m, vae_dataset *test, const char *out, uint64_t seed);

#endif /* VAE_EXAMPLES_TRAIN_IMAGES_H */
