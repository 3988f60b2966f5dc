/*
 * vae-train-mpi: vae-train on the workers of an MPI job (data parallel).
 *
 *     mpirun -np 4 vae-train-mpi --data DIR --epochs 10
 *
 * Every worker runs vae-train's body (examples/trainer.h) on its own copy
 * of the model; libvae averages the gradients across the workers through
 * MPI_Iallreduce and synchronises their state through MPI_Ibcast, which this
 * program hands it as callbacks (examples/mpi-collective.c). libvae itself
 * does not link MPI. Worker 0 prints, saves the checkpoint after every epoch
 * and writes the outputs; a checkpoint resumes on any number of workers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <vae/vae.h>

#include "cli.h"
#include "mpi-collective.h"
#include "trainer.h"

static const char usage_mpi[] =
    "\n"
    "Workers (start under mpirun: mpirun -np 4 vae-train-mpi [options]):\n"
    "  --batch N         is per worker: a step takes workers x N images. Its default\n"
    "                    is 128 / workers, rounded up: the lesson's 128 per step\n"
    "  --timeout SECONDS how long one collective may wait for the slowest worker\n"
    "                    before the job is aborted with a message; 0: no limit [300]\n"
    "  --threads N       is per worker: with several workers on one machine, give\n"
    "                    each cores / workers threads\n"
    "  Every worker reads --data and --resume itself (a shared file system, or the\n"
    "  same files on every machine); worker 0 alone prints and writes into --out.\n";

static mpi_collective coll;

static int parse_own(void *ctx, int argc, char **argv, int *i)
{
    (void)ctx;
    const char *v = cli_value(argc, argv, i, "--timeout");
    if (!v) return 0;
    coll.timeout = cli_double("--timeout", v);
    if (coll.timeout < 0) die("--timeout: '%s' must not be negative", v);
    return 1;
}

/* Every worker computes on worker 0's level: auto measures on each worker,
 * and two levels round differently, so the replicas would drift apart. */
static vae_status join(void *ctx, vae_optimizer *opt)
{
    mpi_collective *c = ctx;
    char name[32] = {0};
    if (c->rank == 0) snprintf(name, sizeof name, "%s", vae_backend_active());
    if (mpi_broadcast(c, name, sizeof name, 0) != 0) return VAE_ERR_CALLBACK;
    name[sizeof name - 1] = '\0';
    if (strcmp(name, "custom") != 0 && strcmp(name, vae_backend_active()) != 0) {
        const vae_status s = vae_backend_select(name);
        if (s != VAE_OK) {
            snprintf(c->error, sizeof c->error, "worker 0 computes on %s: %s", name,
                     vae_last_error());
            return s;
        }
    }
    return mpi_collective_join(c, opt);
}

/* die() ends here: say why the collective failed, if it did, and take the
 * whole job down so that no worker waits for this one. */
static void abort_job(int status)
{
    if (coll.error[0]) fprintf(stderr, "%s: %s\n", cli_program(), coll.error);
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, status);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mpi_collective_init(&coll, MPI_COMM_WORLD, 300.0);
    cli_set_exit(abort_job);

    char program[64];
    if (coll.rank == 0)
        snprintf(program, sizeof program, "vae-train-mpi");
    else
        snprintf(program, sizeof program, "vae-train-mpi (worker %d)", coll.rank);
    const trainer_workers workers = {.rank = coll.rank,
                                     .world = coll.world,
                                     .usage_extra = usage_mpi,
                                     .parse = parse_own,
                                     .join = join,
                                     .ctx = &coll};
    const int status = trainer_main(argc, argv, program, &workers);
    MPI_Finalize();
    return status;
}
