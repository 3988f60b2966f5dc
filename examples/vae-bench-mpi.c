/*
 * vae-bench-mpi: what a data-parallel step costs, part by part, for the
 * figures of docs/scaling.md.
 *
 *     mpirun -np 2 vae-bench-mpi [--steps N] [--batch GLOBAL] [--hidden H] [--threads T]
 *
 * Each worker times, as the median over N repetitions:
 *   compute    its forward and backward pass on GLOBAL / workers images;
 *   gradient   the all-reduce of the gradient (4 x parameters bytes) as
 *              libvae makes it: MPI_Iallreduce polled against a deadline;
 *   blocking   the same through a plain MPI_Allreduce, for comparison;
 *   agreement  the all-reduce of vae_train_epoch's per-step doubles;
 *   step       a whole vae_model_train_step (pass, all-reduce, update).
 * Worker 0 prints the slowest worker's medians.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <vae/vae.h>

#include "cli.h"
#include "mpi-collective.h"

#ifndef VAE_DEFAULT_DATA
#define VAE_DEFAULT_DATA "examples/data/mnist-subset"
#endif

enum { AGREEMENT_DOUBLES = 23 }; /* lib/collective.h: VAEI_AGREE_SIZE */

static int compare(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, compare);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* The slowest worker's median, on every worker. */
static double slowest(double *t, int n)
{
    double m = median(t, n), worst;
    MPI_Allreduce(&m, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return worst;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    mpi_collective coll;
    mpi_collective_init(&coll, MPI_COMM_WORLD, 300.0);
    cli_set_program("vae-bench-mpi");
    int steps = 30, threads = 1;
    size_t global = 128, hidden = 400;
    const char *data = VAE_DEFAULT_DATA;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = cli_value(argc, argv, &i, "--steps"))) steps = cli_int("--steps", v, 1, 100000);
        else if ((v = cli_value(argc, argv, &i, "--batch"))) global = cli_size("--batch", v, 1, 1 << 20);
        else if ((v = cli_value(argc, argv, &i, "--hidden"))) hidden = cli_size("--hidden", v, 1, 65536);
        else if ((v = cli_value(argc, argv, &i, "--threads"))) threads = cli_int("--threads", v, 1, 1024);
        else if ((v = cli_value(argc, argv, &i, "--data"))) data = v;
        else die("unknown argument '%s'", argv[i]);
    }
    const size_t local = (global + (size_t)coll.world - 1) / (size_t)coll.world;
    cli_check(vae_set_threads(threads), "--threads");

    char path[4096];
    if (cli_find_file(path, sizeof path, data, "train-images-idx3-ubyte") != 0)
        die("--data %s: no train-images-idx3-ubyte[.gz]", data);
    vae_dataset *ds = NULL;
    cli_check(vae_dataset_load_idx(&ds, path, NULL, 0), "--data");
    if (vae_dataset_count(ds) < local) die("--batch: more than the %zu images", vae_dataset_count(ds));
    float *x = malloc(local * vae_dataset_dim(ds) * sizeof *x);
    if (!x) die("out of memory");
    cli_check(vae_dataset_get(ds, (size_t)coll.rank * local % (vae_dataset_count(ds) - local + 1),
                              local, x, NULL),
              "reading images");

    vae_config *cfg = NULL;
    vae_model *m = NULL;
    vae_optimizer *opt = NULL;
    cli_check(vae_config_create(&cfg), "settings");
    cli_check(vae_config_set_hidden(cfg, VAE_BOTH, &hidden, 1), "--hidden");
    cli_check(vae_model_create(&m, cfg), "model");
    vae_config_free(cfg);
    cli_check(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), "optimizer");
    cli_check(mpi_collective_join(&coll, opt), "joining");

    const size_t n = vae_model_param_count(m);
    if (n > INT_MAX) die("--hidden: %zu parameters: more than one MPI call can reduce", n);
    float *grad = calloc(n, sizeof *grad);
    if (!grad) die("out of memory");
    double agree[AGREEMENT_DOUBLES] = {0};
    double *t[5];
    for (int k = 0; k < 5; k++)
        if (!(t[k] = malloc((size_t)steps * sizeof *t[k]))) die("out of memory");
    for (int s = 0; s < steps; s++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        cli_check(vae_model_backward(m, x, NULL, local, NULL), "backward");
        t[0][s] = MPI_Wtime() - t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (mpi_allreduce(&coll, grad, n, VAE_DTYPE_F32) != 0) die("%s", coll.error);
        t[1][s] = MPI_Wtime() - t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (mpi_allreduce(&coll, agree, AGREEMENT_DOUBLES, VAE_DTYPE_F64) != 0) die("%s", coll.error);
        t[2][s] = MPI_Wtime() - t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        cli_check(vae_model_train_step(m, opt, x, NULL, local, NULL), "step");
        t[3][s] = MPI_Wtime() - t0;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, grad, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[4][s] = MPI_Wtime() - t0;
    }
    const double compute = slowest(t[0], steps), reduce = slowest(t[1], steps);
    const double latency = slowest(t[2], steps), step = slowest(t[3], steps);
    const double blocking = slowest(t[4], steps);
    if (coll.rank == 0) {
        printf("workers %d x %zu images (global %zu), %zu parameters = %.2f MB reduced per step, "
               "%d threads per worker, median of %d steps:\n",
               coll.world, local, local * (size_t)coll.world, n, 4.0 * (double)n / 1e6, threads,
               steps);
        printf("  compute %.2f ms | gradient all-reduce %.2f ms (blocking MPI_Allreduce %.2f ms) | "
               "agreement all-reduce %.1f us | whole step %.2f ms\n",
               1e3 * compute, 1e3 * reduce, 1e3 * blocking, 1e6 * latency, 1e3 * step);
    }
    for (int k = 0; k < 5; k++) free(t[k]);
    free(grad);
    free(x);
    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_dataset_free(ds);
    MPI_Finalize();
    return 0;
}
