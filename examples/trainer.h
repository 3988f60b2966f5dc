/*
 * The body of vae-train (examples/trainer.c): its flags, the training
 * loop, the checkpoints and the outputs. vae-train runs it alone;
 * vae-train-mpi runs it on every worker of an MPI job, through the hooks
 * below, and only worker 0 prints and writes files.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_TRAINER_H
#define VAE_EXAMPLES_TRAINER_H

#include <vae/vae.h>

typedef struct trainer_workers {
    int rank, world; /* this worker, and how many train together (>= 1) */
    /* Text of the program's own options for --help, or NULL. */
    const char *usage_extra;
    /* Consume the option at argv[*i] (and its value); return 1 when it was
     * one of the program's own, 0 otherwise. May be NULL. */
    int (*parse)(void *ctx, int argc, char **argv, int *i);
    /* Make opt one of the workers (vae_optimizer_set_collective()); called
     * on every worker once the model and optimizer exist. May be NULL. */
    vae_status (*join)(void *ctx, vae_optimizer *opt);
    void *ctx;
} trainer_workers;

/**
 * Run vae-train with argv. w NULL means one worker with no hooks.
 * @return the exit status: 0, or 130 after Ctrl-C / SIGTERM (the checkpoint
 *         saved). Fatal errors go through die() and do not return.
 */
int trainer_main(int argc, char **argv, const char *program, const trainer_workers *w);

#endif /* VAE_EXAMPLES_TRAINER_H */
