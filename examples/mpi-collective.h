/*
 * libvae's collective callbacks (vae_allreduce_fn, vae_broadcast_fn) on MPI,
 * with a deadline: each operation is started non-blocking (MPI_Iallreduce,
 * MPI_Ibcast) and polled with MPI_Test, so a worker that has died or hangs
 * makes the others fail with a message after `timeout` seconds instead of
 * waiting forever.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_MPI_COLLECTIVE_H
#define VAE_EXAMPLES_MPI_COLLECTIVE_H

#include <mpi.h>
#include <stddef.h>

#include <vae/vae.h>

typedef struct mpi_collective {
    MPI_Comm comm;
    int rank, world;
    double timeout;  /* seconds one operation may take; <= 0: no limit */
    char error[512]; /* why the last failed operation failed */
} mpi_collective;

/* Set up c over comm (whose errors then return instead of aborting). */
void mpi_collective_init(mpi_collective *c, MPI_Comm comm, double timeout);

/* The callbacks; user is a mpi_collective. They return 0, or 1 with the
 * reason in c->error (a timeout, an MPI error). */
int mpi_allreduce(void *user, void *buf, size_t count, vae_dtype type);
int mpi_broadcast(void *user, void *buf, size_t bytes, int root);

/* vae_optimizer_set_collective() with the callbacks above. */
vae_status mpi_collective_join(mpi_collective *c, vae_optimizer *opt);

#endif /* VAE_EXAMPLES_MPI_COLLECTIVE_H */
