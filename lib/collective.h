/*
 * Data-parallel training through the host's collectives: the calls into the
 * host's all-reduce and broadcast, the gradient mean, the join (worker 0's
 * checkpoint bytes for all), and the per-step agreement of vae_train_epoch().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_COLLECTIVE_H
#define VAEI_COLLECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "vae/vae.h"

typedef struct vaei_collective {
    vae_allreduce_fn allreduce; /* NULL: a single worker, nothing is communicated */
    vae_broadcast_fn broadcast;
    void *user;
    int rank, world;
} vaei_collective;

/* Sum buf [count x type] across the workers in place; on failure
 * VAE_ERR_CALLBACK with a message naming `what`. */
vae_status vaei_allreduce(const vaei_collective *c, void *buf, size_t count, vae_dtype type,
                          const char *what);

/* Copy bytes of buf from worker 0 to every worker. */
vae_status vaei_broadcast(const vaei_collective *c, void *buf, size_t bytes, const char *what);

/* g [n] := its mean across the workers; VAE_ERR_NUMERIC when the mean is
 * not finite (every worker sees the same sums, so all agree). `step`
 * names the step in messages. */
vae_status vaei_collective_mean(const vaei_collective *c, float *g, size_t n, uint64_t step);

/* The joining protocol: every worker's m and opt take worker 0's state, or
 * on failure none changes (lib/collective.c has the steps). */
vae_status vaei_collective_join(const vaei_collective *c, vae_model *m, vae_optimizer *opt);

/* Worker `rank`'s own training noise for an epoch: a stream forked from the
 * shared state (rank 0 keeps the shared state itself). */
void vaei_collective_fork_noise(vae_model *m, int rank);

/* Per-step agreement of vae_train_epoch(), reduced as doubles in one call:
 * failure votes per status, stop votes, and the step's loss sums. */
enum {
    VAEI_AGREE_STATUSES = 16, /* [0, 16): workers that failed with status s */
    VAEI_AGREE_STOP = 16,     /* workers whose progress callback asked to stop */
    VAEI_AGREE_LOSS = 17,     /* a vae_loss (5 doubles): sum of n_r * loss of worker r */
    VAEI_AGREE_COUNT = 22,    /* images of the step: sum of n_r */
    VAEI_AGREE_SIZE
};

/* Reduce one step's agreement vector a. On return: `local` (this worker's
 * own status) when it failed, the status of the failed workers (with a
 * message saying so) when another did, VAE_ERR_CANCELLED when a worker
 * voted to stop, else VAE_OK with a holding the sums. `step` and `batches`
 * name the step in messages. */
vae_status vaei_collective_agree(const vaei_collective *c, double *a, vae_status local,
                                 size_t step, size_t batches);

#endif /* VAEI_COLLECTIVE_H */
