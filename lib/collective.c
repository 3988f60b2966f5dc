/*
 * Data-parallel training through the host's collectives; see collective.h
 * and, for the protocol and its costs, docs/scaling.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collective.h"
#include "error.h"
#include "model.h"
#include "optim.h"

static const char *dtype_name(vae_dtype t)
{
    return t == VAE_DTYPE_F64 ? "doubles" : "floats";
}

vae_status vaei_allreduce(const vaei_collective *c, void *buf, size_t count, vae_dtype type,
                          const char *what)
{
    const int rc = c->allreduce(c->user, buf, count, type);
    VAEI_CHECK(rc == 0, VAE_ERR_CALLBACK,
               "worker %d of %d: the all-reduce of %s (%zu %s) failed: the callback returned %d",
               c->rank, c->world, what, count, dtype_name(type), rc);
    return VAE_OK;
}

vae_status vaei_broadcast(const vaei_collective *c, void *buf, size_t bytes, const char *what)
{
    const int rc = c->broadcast(c->user, buf, bytes, 0);
    VAEI_CHECK(rc == 0, VAE_ERR_CALLBACK,
               "worker %d of %d: the broadcast of %s (%zu bytes) from worker 0 failed: the "
               "callback returned %d",
               c->rank, c->world, what, bytes, rc);
    return VAE_OK;
}

vae_status vaei_collective_mean_grads(vae_optimizer *opt)
{
    const vaei_collective *c = &opt->coll;
    vae_model *m = opt->model;
    float *g = m->grads;
    VAEI_TRY(vaei_allreduce(c, g, m->n_params, VAE_DTYPE_F32, "the gradient"));
    /* A division, not a multiplication by 1/world: correctly rounded, and
     * exact for one worker, which then matches single-worker training. */
    const float w = (float)c->world;
    if (c->world > 1)
        for (size_t i = 0; i < m->n_params; i++) g[i] /= w;
    for (size_t i = 0; i < m->n_params; i++)
        VAEI_CHECK(isfinite(g[i]), VAE_ERR_NUMERIC,
                   "step %llu: the gradient averaged over %d workers is not finite at "
                   "parameter %zu (a worker's step failed, or the sum overflowed)",
                   (unsigned long long)m->steps, c->world, i);
    return VAE_OK;
}

void vaei_collective_fork_noise(vae_model *m, int rank)
{
    if (rank == 0) return;
    /* Hash the whole shared state with the rank: distinct, reproducible
     * streams that depend on nothing but what the checkpoint stores. */
    uint64_t h = vaei_mix64(0x574f524b4552ull /* "WORKER" */ + (uint64_t)rank);
    for (int i = 0; i < 4; i++) h = vaei_mix64(h ^ m->rng.s[i]);
    vaei_rng_seed(&m->rng, h);
}

vae_status vaei_collective_agree(const vaei_collective *c, double *a, vae_status local,
                                 size_t step, size_t batches)
{
    if (local != VAE_OK) {
        /* The reduce may record its own failure; ours is the one to keep. */
        char why[512];
        snprintf(why, sizeof why, "%s", vae_last_error());
        a[(size_t)local < VAEI_AGREE_STATUSES ? (size_t)local : VAEI_AGREE_STATUSES - 1] += 1;
        vaei_quiet(1);
        (void)vaei_allreduce(c, a, VAEI_AGREE_SIZE, VAE_DTYPE_F64, "the step's losses");
        vaei_quiet(0);
        return vaei_restore(local, why);
    }
    VAEI_TRY(vaei_allreduce(c, a, VAEI_AGREE_SIZE, VAE_DTYPE_F64, "the step's losses"));
    for (size_t s = 1; s < VAEI_AGREE_STATUSES; s++)
        VAEI_CHECK(a[s] == 0, (vae_status)s,
                   "step %zu of %zu: %.0f other worker(s) failed (%s; their own errors say "
                   "why); worker %d stops with them",
                   step + 1, batches, a[s], vae_status_string((vae_status)s), c->rank);
    VAEI_CHECK(a[VAEI_AGREE_STOP] == 0, VAE_ERR_CANCELLED,
               "training stopped by the progress callback of %.0f worker(s) after batch %zu "
               "of %zu",
               a[VAEI_AGREE_STOP], step, batches);
    return VAE_OK;
}

/* ------------------------------------------------------------------------ */
/* Joining: every worker adopts worker 0's state                            */
/* ------------------------------------------------------------------------ */

/* What worker 0 sends first: everything but the big arrays. The workers run
 * the same libvae build, so the struct is the same on all (its size and a
 * magic number are checked all the same). */
typedef struct sync_header {
    uint64_t magic, size, n_params, kind, t, steps, epochs, rng[4];
    double hp[VAEI_OPTIM_NPARAMS + 1];
    struct vae_config cfg;
} sync_header;

#define SYNC_MAGIC 0x31434e5953454156ull /* "VAESYNC1" */

static void pack_header(const vae_optimizer *opt, sync_header *h)
{
    const vae_model *m = opt->model;
    memset(h, 0, sizeof *h);
    h->magic = SYNC_MAGIC;
    h->size = sizeof *h;
    h->n_params = m->n_params;
    h->kind = (uint64_t)opt->kind;
    h->t = opt->t;
    h->steps = m->steps;
    h->epochs = m->epochs;
    memcpy(h->rng, m->rng.s, sizeof h->rng);
    memcpy(h->hp, opt->hp, sizeof h->hp);
    h->cfg = m->cfg;
}

/* Whether worker 0's model has this worker's shape: the seed and the
 * objective settings may differ (worker 0's are adopted), the layers not. */
static int same_shape(const vae_optimizer *opt, const sync_header *h)
{
    static const int shape_slots[] = {S_INPUT_DIM, S_LATENT_DIM, S_COND_DIM, S_ACTIVATION,
                                      S_LIKELIHOOD};
    const struct vae_config *mine = &opt->model->cfg;
    if (h->magic != SYNC_MAGIC || h->size != sizeof *h) return 0;
    if (h->n_params != opt->model->n_params || h->kind != (uint64_t)opt->kind) return 0;
    for (size_t i = 0; i < sizeof shape_slots / sizeof *shape_slots; i++)
        if (h->cfg.v[shape_slots[i]] != mine->v[shape_slots[i]]) return 0;
    return !memcmp(h->cfg.n_hidden, mine->n_hidden, sizeof mine->n_hidden) &&
           !memcmp(h->cfg.hidden, mine->hidden, sizeof mine->hidden) &&
           !strncmp(h->cfg.spec[0], mine->spec[0], VAEI_MAX_SPEC) &&
           !strncmp(h->cfg.spec[1], mine->spec[1], VAEI_MAX_SPEC) &&
           !memcmp(h->cfg.shape, mine->shape, sizeof mine->shape);
}

/* Parameters, then the optimizer's moment arrays, as one buffer. */
static size_t state_floats(const vae_optimizer *opt)
{
    return opt->n * (opt->kind == VAE_OPTIM_ADAM ? 3 : 2);
}

/* Non-root workers: copy in worker 0's state. Nothing can fail here. */
static void adopt(vae_optimizer *opt, const sync_header *h, const float *state)
{
    vae_model *m = opt->model;
    const size_t n = opt->n;
    memcpy(m->params, state, n * sizeof *state);
    memcpy(opt->m, state + n, n * sizeof *state);
    if (opt->v) memcpy(opt->v, state + 2 * n, n * sizeof *state);
    opt->t = h->t;
    memcpy(opt->hp, h->hp, sizeof opt->hp);
    m->steps = h->steps;
    m->epochs = h->epochs;
    memcpy(m->rng.s, h->rng, sizeof h->rng);
    m->cfg = h->cfg;
}

/* The joining protocol. Every step is a collective that every worker
 * reaches, whatever happened locally, so that a problem on one worker makes
 * all of them fail instead of leaving some waiting:
 *   1. broadcast worker 0's header;
 *   2. all-reduce the votes [shape mismatch, out of memory];
 *   3. broadcast worker 0's parameters and moments;
 *   4. non-root workers copy them in. */
static vae_status join(vae_optimizer *opt, const vaei_collective *c)
{
    sync_header h;
    pack_header(opt, &h);
    VAEI_TRY(vaei_broadcast(c, &h, sizeof h, "the model's settings and counters"));

    const size_t count = state_floats(opt), n = opt->n;
    float *state = malloc(count * sizeof *state);
    double votes[2] = {c->rank != 0 && !same_shape(opt, &h), state == NULL};
    vae_status s = vaei_allreduce(c, votes, 2, VAE_DTYPE_F64, "the joining votes");
    if (s == VAE_OK && votes[0] > 0)
        s = vaei_fail(VAE_ERR_MISMATCH,
                      "worker %d of %d: %.0f worker(s) hold a model or optimizer of another "
                      "shape or kind than worker 0's (%llu parameters)",
                      c->rank, c->world, votes[0], (unsigned long long)h.n_params);
    else if (s == VAE_OK && votes[1] > 0)
        s = vaei_fail(VAE_ERR_OUT_OF_MEMORY,
                      "worker %d of %d: %.0f worker(s) had no memory for the %zu floats of "
                      "worker 0's state",
                      c->rank, c->world, votes[1], count);
    if (s == VAE_OK && c->rank == 0) {
        memcpy(state, opt->model->params, n * sizeof *state);
        memcpy(state + n, opt->m, n * sizeof *state);
        if (opt->v) memcpy(state + 2 * n, opt->v, n * sizeof *state);
    }
    if (s == VAE_OK)
        s = vaei_broadcast(c, state, count * sizeof *state, "the parameters and moments");
    if (s == VAE_OK && c->rank != 0) adopt(opt, &h, state);
    free(state);
    return s;
}

vae_status vae_optimizer_set_collective(vae_optimizer *opt, vae_allreduce_fn allreduce,
                                        vae_broadcast_fn broadcast, void *user, int rank,
                                        int world_size)
{
    VAEI_CHECK_ARG(opt != NULL);
    if (!allreduce) {
        memset(&opt->coll, 0, sizeof opt->coll);
        return VAE_OK;
    }
    VAEI_CHECK(broadcast != NULL, VAE_ERR_INVALID_ARGUMENT,
               "a collective needs a broadcast callback as well as the all-reduce");
    VAEI_CHECK(world_size >= 1, VAE_ERR_INVALID_ARGUMENT, "world size %d: must be at least 1",
               world_size);
    VAEI_CHECK(rank >= 0 && rank < world_size, VAE_ERR_INVALID_ARGUMENT,
               "rank %d is outside [0, %d)", rank, world_size);
    const vaei_collective c = {allreduce, broadcast, user, rank, world_size};
    VAEI_TRY(join(opt, &c));
    opt->coll = c;
    return VAE_OK;
}
