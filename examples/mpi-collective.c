/*
 * libvae's collectives on MPI, with a deadline; see mpi-collective.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>

#include "mpi-collective.h"

void mpi_collective_init(mpi_collective *c, MPI_Comm comm, double timeout)
{
    c->comm = comm;
    c->timeout = timeout;
    c->error[0] = '\0';
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->world);
    /* A failed call (a peer gone, say) then comes back as an error code. */
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
}

static int mpi_failed(mpi_collective *c, int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", rc);
    snprintf(c->error, sizeof c->error, "worker %d: %s: %s", c->rank, what, text);
    return 1;
}

/* Poll req until it completes or the deadline passes. MPI progresses a
 * non-blocking collective inside MPI_Test, so the loop polls without
 * sleeping; sched_yield() lets a worker sharing the core run meanwhile. */
static int wait_for(mpi_collective *c, MPI_Request *req, const char *what)
{
    const double start = MPI_Wtime();
    for (unsigned long polls = 0;; polls++) {
        int done = 0;
        const int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_failed(c, rc, what);
        if (done) return 0;
        if (c->timeout > 0 && polls % 64 == 0 && MPI_Wtime() - start > c->timeout) {
            /* The request stays pending: the caller must abort, not finalize. */
            snprintf(c->error, sizeof c->error,
                     "worker %d: %s did not complete within %g s: a worker has died or hangs",
                     c->rank, what, c->timeout);
            return 1;
        }
        sched_yield();
    }
}

int mpi_allreduce(void *user, void *buf, size_t count, vae_dtype type)
{
    mpi_collective *c = user;
    const MPI_Datatype dt = type == VAE_DTYPE_F64 ? MPI_DOUBLE : MPI_FLOAT;
    const size_t size = type == VAE_DTYPE_F64 ? sizeof(double) : sizeof(float);
    char what[96];
    snprintf(what, sizeof what, "the all-reduce of %zu %s", count,
             type == VAE_DTYPE_F64 ? "doubles" : "floats");
    /* MPI counts are int: larger buffers go in pieces. */
    for (size_t done = 0; done < count;) {
        const int n = count - done < (size_t)INT_MAX ? (int)(count - done) : INT_MAX;
        MPI_Request req;
        const int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + done * size, n, dt, MPI_SUM,
                                      c->comm, &req);
        if (rc != MPI_SUCCESS) return mpi_failed(c, rc, what);
        if (wait_for(c, &req, what) != 0) return 1;
        done += (size_t)n;
    }
    return 0;
}

int mpi_broadcast(void *user, void *buf, size_t bytes, int root)
{
    mpi_collective *c = user;
    char what[96];
    snprintf(what, sizeof what, "the broadcast of %zu bytes from worker %d", bytes, root);
    for (size_t done = 0; done < bytes;) {
        const int n = bytes - done < (size_t)INT_MAX ? (int)(bytes - done) : INT_MAX;
        MPI_Request req;
        const int rc = MPI_Ibcast((char *)buf + done, n, MPI_BYTE, root, c->comm, &req);
        if (rc != MPI_SUCCESS) return mpi_failed(c, rc, what);
        if (wait_for(c, &req, what) != 0) return 1;
        done += (size_t)n;
    }
    return 0;
}

vae_status mpi_collective_join(mpi_collective *c, vae_optimizer *opt)
{
    return vae_optimizer_set_collective(opt, mpi_allreduce, mpi_broadcast, c, c->rank, c->world);
}
