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
#include "checkpoint.h"
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

vae_status vaei_collective_mean(const vaei_collective *c, float *g, size_t n, uint64_t step)
{
    VAEI_TRY(vaei_allreduce(c, g, n, VAE_DTYPE_F32, "the gradient"));
    /* A division, not a multiplication by 1/world: correctly rounded, and
     * exact for one worker, which then matches single-worker training. */
    const float w = (float)c->world;
    if (c->world > 1)
        for (size_t i = 0; i < n; i++) g[i] /= w;
    for (size_t i = 0; i < n; i++)
        VAEI_CHECK(isfinite(g[i]), VAE_ERR_NUMERIC,
                   "step %llu: the gradient averaged over %d workers is not finite at "
                   "parameter %zu (a worker's step failed, or the sum overflowed)",
                   (unsigned long long)step, c->world, i);
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

/* What worker 0 broadcasts first: the size of its checkpoint bytes (0 when
 * it could not serialise them, with its status), and its parameter count
 * for the messages. */
typedef struct join_header {
    uint64_t bytes, status, n_params;
} join_header;

/* Whether worker 0's model (pm, po) has this worker's shape: the seed and
 * the objective settings may differ (worker 0's are adopted), the layers
 * not. */
static int same_shape(const vae_model *m, const vae_optimizer *opt, const vae_model *pm,
                      const vae_optimizer *po)
{
    const struct vae_config *mine = &m->cfg, *theirs = &pm->cfg;
    if (pm->n_params != m->n_params || !po || vae_optimizer_kind(po) != vae_optimizer_kind(opt))
        return 0;
    for (int i = 0; i < VAEI_NSLOTS; i++)
        if ((vaei_param_flags(i) & VAEI_SHAPE) && theirs->v[i] != mine->v[i]) return 0;
    for (int s = 0; s < 2; s++)
        if (theirs->n_hidden[s] != mine->n_hidden[s] ||
            memcmp(theirs->hidden[s], mine->hidden[s], mine->n_hidden[s] * sizeof *mine->hidden[s]))
            return 0;
    return !strncmp(theirs->spec[0], mine->spec[0], VAEI_MAX_SPEC) &&
           !strncmp(theirs->spec[1], mine->spec[1], VAEI_MAX_SPEC) &&
           !memcmp(theirs->shape, mine->shape, sizeof mine->shape);
}

/* Non-root workers: take worker 0's state. Nothing can fail here. The
 * settings no checkpoint stores (VAEI_LOCAL: how this worker computes)
 * stay this worker's own. */
static void adopt(vae_model *m, vae_optimizer *opt, const vae_model *pm, const vae_optimizer *po)
{
    struct vae_config cfg = pm->cfg;
    for (int i = 0; i < VAEI_NSLOTS; i++)
        if (vaei_param_flags(i) & VAEI_LOCAL) cfg.v[i] = m->cfg.v[i];
    m->cfg = cfg;
    memcpy(m->params, pm->params, m->n_params * sizeof *m->params);
    m->steps = pm->steps;
    m->epochs = pm->epochs;
    m->rng = pm->rng;
    vaei_optimizer_assign(opt, po);
}

/* All-reduce the votes [shape mismatch, out of memory] and make their sums
 * one status, the same on every worker. */
static vae_status vote(const vaei_collective *c, double votes[2], const join_header *h,
                       const char *what)
{
    VAEI_TRY(vaei_allreduce(c, votes, 2, VAE_DTYPE_F64, what));
    VAEI_CHECK(votes[0] == 0, VAE_ERR_MISMATCH,
               "worker %d of %d: %.0f worker(s) hold a model or optimizer of another shape or "
               "kind than worker 0's (%llu parameters), or cannot read its state",
               c->rank, c->world, votes[0], (unsigned long long)h->n_params);
    VAEI_CHECK(votes[1] == 0, VAE_ERR_OUT_OF_MEMORY,
               "worker %d of %d: %.0f worker(s) had no memory for the %llu bytes of worker 0's "
               "state", c->rank, c->world, votes[1], (unsigned long long)h->bytes);
    return VAE_OK;
}

/* A non-root worker's part once the bytes are in: parse them, check the
 * shape and vote. On success *pm and *po hold worker 0's state. */
static vae_status read_and_vote(const vaei_collective *c, const unsigned char *bytes,
                                const join_header *h, vae_model *m, vae_optimizer *opt,
                                vae_model **pm, vae_optimizer **po)
{
    vaei_quiet(1);
    const vae_status s = vaei_checkpoint_parse(bytes, (size_t)h->bytes, "worker 0's state", pm, po);
    vaei_quiet(0);
    double votes[2] = {s == VAE_OK ? !same_shape(m, opt, *pm, *po) : s != VAE_ERR_OUT_OF_MEMORY,
                       s == VAE_ERR_OUT_OF_MEMORY};
    const vae_status agreed = vote(c, votes, h, "the joining votes");
    if (agreed == VAE_OK) return VAE_OK;
    if (s == VAE_OK) {
        vae_optimizer_free(*po);
        vae_model_free(*pm);
    }
    return agreed;
}

/* The joining protocol. Every step is a collective that every worker
 * reaches, whatever happened locally, so that a problem on one worker makes
 * all of them fail instead of leaving some waiting:
 *   1. worker 0 serialises its model and optimizer as a checkpoint
 *      (lib/checkpoint.c) and broadcasts the header: the size, or 0 and why;
 *   2. all-reduce the votes [0, out of memory] of the others' buffers;
 *   3. broadcast the bytes;
 *   4. the others parse them and all-reduce the votes [shape mismatch, out
 *      of memory];
 *   5. the others take worker 0's state. */
vae_status vaei_collective_join(const vaei_collective *c, vae_model *m, vae_optimizer *opt)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    join_header h = {0, VAE_OK, m->n_params};
    if (c->rank == 0) h.status = vaei_checkpoint_write(m, opt, "worker 0's state", &bytes, &len);
    h.bytes = len;
    vae_status s = vaei_broadcast(c, &h, sizeof h, "the size of worker 0's state");
    if (s == VAE_OK && h.bytes == 0)
        s = c->rank == 0 ? (vae_status)h.status
                         : vaei_fail((vae_status)h.status, "worker %d of %d: worker 0 could not "
                                     "serialise its state (%s)", c->rank, c->world,
                                     vae_status_string((vae_status)h.status));
    if (s != VAE_OK) {
        free(bytes);
        return s;
    }
    if (c->rank != 0) bytes = malloc((size_t)h.bytes);
    double votes[2] = {0, bytes == NULL};
    s = vote(c, votes, &h, "the joining votes");
    if (s == VAE_OK) s = vaei_broadcast(c, bytes, (size_t)h.bytes, "worker 0's state");
    vae_model *pm = NULL;
    vae_optimizer *po = NULL;
    if (s == VAE_OK && c->rank != 0) s = read_and_vote(c, bytes, &h, m, opt, &pm, &po);
    else if (s == VAE_OK) s = vote(c, (double[2]){0, 0}, &h, "the joining votes");
    free(bytes);
    if (s != VAE_OK || c->rank == 0) return s;
    adopt(m, opt, pm, po);
    vae_optimizer_free(po);
    vae_model_free(pm);
    return VAE_OK;
}
