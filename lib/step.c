/*
 * One training step: the gradient's mean across the workers, the update,
 * the counters; and the workers themselves (vae_optimizer_set_collective).
 * The optimizer (lib/optim.c) only updates; the host's collectives are
 * lib/collective.c's.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "collective.h"
#include "error.h"
#include "model.h"
#include "optim.h"
#include "step.h"

const vaei_collective *vaei_step_workers(const vae_optimizer *opt)
{
    return opt->coll;
}

vae_status vae_optimizer_step(vae_optimizer *opt)
{
    VAEI_CHECK_ARG(opt != NULL);
    vae_model *m = opt->model;
    if (opt->coll) VAEI_TRY(vaei_collective_mean(opt->coll, m->grads, m->n_params, m->steps));
    /* The counters never wrap (a checkpoint holding UINT64_MAX is refused). */
    VAEI_CHECK(opt->t < UINT64_MAX && m->steps < UINT64_MAX, VAE_ERR_LIMIT,
               "the step count is at its maximum");
    const size_t bad = vaei_optimizer_update(opt, m->params, m->grads);
    VAEI_CHECK(bad == opt->n || isfinite(m->grads[bad]), VAE_ERR_NUMERIC,
               "step %llu: the gradient of parameter %zu is not finite; nothing was changed",
               (unsigned long long)m->steps, bad);
    VAEI_CHECK(bad == opt->n, VAE_ERR_NUMERIC,
               "step %llu: the update of parameter %zu is not finite (gradient %g); "
               "nothing was changed", (unsigned long long)m->steps, bad,
               (double)m->grads[bad]);
    m->steps++;
    return VAE_OK;
}

vae_status vaei_step_abandon(vae_optimizer *opt, vae_status s)
{
    if (!opt->coll) return s;
    char why[512];
    snprintf(why, sizeof why, "%s", vae_last_error());
    opt->model->grads[0] = NAN;
    vaei_quiet(1);
    const vae_status ignored = vae_optimizer_step(opt);
    vaei_quiet(0);
    (void)ignored;
    return vaei_restore(s, why);
}

vae_status vae_optimizer_set_collective(vae_optimizer *opt, vae_allreduce_fn allreduce,
                                        vae_broadcast_fn broadcast, void *user, int rank,
                                        int world_size)
{
    VAEI_CHECK_ARG(opt != NULL);
    if (!allreduce) {
        free(opt->coll);
        opt->coll = NULL;
        return VAE_OK;
    }
    VAEI_CHECK(broadcast != NULL, VAE_ERR_INVALID_ARGUMENT,
               "a collective needs a broadcast callback as well as the all-reduce");
    VAEI_CHECK(world_size >= 1, VAE_ERR_INVALID_ARGUMENT, "world size %d: must be at least 1",
               world_size);
    VAEI_CHECK(rank >= 0 && rank < world_size, VAE_ERR_INVALID_ARGUMENT,
               "rank %d is outside [0, %d)", rank, world_size);
    vaei_collective *c = malloc(sizeof *c);
    VAEI_CHECK(c != NULL, VAE_ERR_OUT_OF_MEMORY, "vae_optimizer_set_collective: out of memory");
    *c = (vaei_collective){allreduce, broadcast, user, rank, world_size};
    const vae_status s = vaei_collective_join(c, opt->model, opt);
    if (s != VAE_OK) {
        free(c);
        return s;
    }
    free(opt->coll);
    opt->coll = c;
    return VAE_OK;
}
