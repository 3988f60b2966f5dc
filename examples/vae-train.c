/*
 * vae-train: train a Variational Autoencoder on MNIST-style data.
 *
 * By default the model of Kingma & Welling (2014) as the PyTorch example
 * builds it: 784 -> 400 ReLU -> 2-D latent -> 400 ReLU -> 784 Bernoulli,
 * Adam 1e-3, batch 128, 10 epochs; flags select the variants (beta, KL
 * schedules, free bits, likelihoods, architectures, conditional models),
 * a validation split with early stopping, and an IWAE estimate of the test
 * log-likelihood. The program is trainer_main() (examples/trainer.c) on
 * one worker; vae-train-mpi runs it on the workers of an MPI job.
 *
 * SPDX-License-Identifier: MIT
 */
#include "trainer.h"

int main(int argc, char **argv)
{
    return trainer_main(argc, argv, "vae-train", NULL);
}
