/*
 * Training and evaluation: a batch through the model, a step, an epoch over
 * a dataset, the mean loss over a dataset.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "collective.h"
#include "error.h"
#include "kernels/kernels.h"
#include "objective.h"
#include "optim.h"
#include "step.h"

/* The agreement vector carries a vae_loss as 5 doubles. */
_Static_assert(sizeof(vae_loss) == 5 * sizeof(double), "vae_loss is 5 doubles");

/* Noise streams other than training's, derived from the seed so that
 * evaluation and shuffling never disturb the training noise. */
static uint64_t stream_seed(const vae_model *m, uint64_t tag, uint64_t index)
{
    return vaei_mix64(vaei_mix64((uint64_t)VAEI_CFG(m, S_SEED) ^ tag) + index);
}
#define STREAM_SHUFFLE 0x5348554646ull /* "SHUFF" */
#define STREAM_EVAL 0x4556414cull      /* "EVAL" */

/* Forward passes and loss of rows x [n x ldx]; eps must be in ws.eps. */
static vae_status batch_pass(vae_model *m, const float *x, size_t ldx, size_t n, int grads,
                             vae_loss *loss)
{
    VAEI_TRY(vaei_encoder_forward(m, x, ldx, n));
    vaei_reparameterize(m, m->ws.enc[m->n_enc - 1], m->ws.eps, m->ws.z, n);
    vaei_stage_cond(m, m->ws.z + m->L, m->L + m->C, x + m->D, ldx, n);
    VAEI_TRY(vaei_decoder_forward(m, n));
    return vaei_objective(m, x, ldx, n, grads, loss);
}

static vae_status check_loss(const vae_model *m, const vae_loss *loss)
{
    VAEI_CHECK(isfinite(loss->objective) && isfinite(loss->total), VAE_ERR_NUMERIC,
               "step %llu: the loss is not finite (recon %g, kl %g)",
               (unsigned long long)m->steps, loss->recon, loss->kl);
    return VAE_OK;
}

static vae_status check_finite(const vae_model *m, const vae_loss *loss)
{
    VAEI_TRY(check_loss(m, loss));
    if (vaei_all_finite(m->grads, m->n_params)) return VAE_OK; /* the fast path */
    for (size_t i = 0; i < m->n_params; i++)
        VAEI_CHECK(isfinite(m->grads[i]), VAE_ERR_NUMERIC,
                   "step %llu: the gradient of parameter %zu is not finite",
                   (unsigned long long)m->steps, i);
    return VAE_OK;
}

/* Dynamic binarisation: x <- 1 with probability x, else 0, per batch. */
static void binarize(vae_model *m, float *x, size_t ldx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m->D; j++)
            x[i * ldx + j] = vaei_rng_uniform(&m->rng) < x[i * ldx + j] ? 1.0f : 0.0f;
}

/* Training rows from a caller's x and cond: x itself when it can be used
 * as it is, else a copy [x | c], binarised when the model asks for it. */
static vae_status stage_inputs(vae_model *m, const float *x, const float *cond, size_t n,
                               const float **rows, size_t *ld)
{
    VAEI_CHECK(x != NULL, VAE_ERR_INVALID_ARGUMENT, "input rows are NULL");
    VAEI_TRY(vaei_check_batch(m, x, cond, n));
    VAEI_TRY(vaei_model_reserve(m, n));
    const int bin = VAEI_CFG(m, S_BINARIZE) != 0;
    if (m->C == 0 && !bin) {
        *rows = x;
        *ld = m->D;
        return VAE_OK;
    }
    const size_t w = m->D + m->C;
    vaei_stage(m, m->ws.x0, x, m->D, cond, 0, n);
    if (bin) binarize(m, m->ws.x0, w, n);
    *rows = m->ws.x0;
    *ld = w;
    return VAE_OK;
}

vae_status vae_model_backward(vae_model *m, const float *x, const float *cond, size_t n,
                              vae_loss *loss)
{
    const float *rows = NULL;
    size_t ld = 0;
    vae_loss l;
    VAEI_CHECK_ARG(m != NULL);
    /* A failed pass changes nothing, its noise draws included: a retry
     * then gives what a run that never failed would have. */
    const vaei_rng before = m->rng;
    vae_status s = stage_inputs(m, x, cond, n, &rows, &ld);
    if (s == VAE_OK) {
        vaei_rng_normal(&m->rng, m->ws.eps, n * m->L);
        s = batch_pass(m, rows, ld, n, 1, &l);
    }
    if (s == VAE_OK) s = check_finite(m, &l);
    if (s != VAE_OK) {
        m->rng = before;
        return s;
    }
    if (loss) *loss = l;
    return VAE_OK;
}

vae_status vae_model_train_step(vae_model *m, vae_optimizer *opt, const float *x,
                                const float *cond, size_t n, vae_loss *loss)
{
    VAEI_CHECK_ARG(m != NULL && opt != NULL);
    VAEI_CHECK(opt->model == m, VAE_ERR_INVALID_ARGUMENT,
               "the optimizer belongs to another model");
    const vaei_rng before = m->rng;
    const vae_status s = vae_model_backward(m, x, cond, n, loss);
    if (s != VAE_OK) return vaei_step_abandon(opt, s);
    const vae_status u = vae_optimizer_step(opt);
    if (u != VAE_OK) m->rng = before; /* the step failed whole */
    return u;
}

static void accumulate(vae_loss *sum, const vae_loss *l, double w)
{
    sum->total += w * l->total;
    sum->recon += w * l->recon;
    sum->kl += w * l->kl;
    sum->objective += w * l->objective;
    sum->kl_weight += w * l->kl_weight;
}

static void scale_loss(vae_loss *l, double s)
{
    l->total *= s;
    l->recon *= s;
    l->kl *= s;
    l->objective *= s;
    l->kl_weight *= s;
}

/* This worker's part of a step: the n rows idx of a global batch of g
 * images. Leaves the loss in *l and the gradient in m->grads, weighted by
 * n world / g so that the workers' mean is the mean over the g images (the
 * weight is 1, and nothing is done, when the parts are equal). A single
 * worker leaves the gradient's finiteness to the update, whose own test
 * reads every gradient anyway (vae_optimizer_step names a non-finite one);
 * workers test theirs before the mean, so that the one at fault says so. */
static vae_status local_pass(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n,
                             size_t g, size_t world, int alone, vae_loss *l)
{
    if (n == 0) { /* fewer images than workers in the last step */
        memset(m->grads, 0, m->n_params * sizeof *m->grads);
        return VAE_OK;
    }
    const size_t w = m->D + m->C;
    VAEI_TRY(vaei_stage_dataset(m, ds, idx, n));
    if (VAEI_CFG(m, S_BINARIZE) != 0) binarize(m, m->ws.x0, w, n);
    vaei_rng_normal(&m->rng, m->ws.eps, n * m->L);
    VAEI_TRY(batch_pass(m, m->ws.x0, w, n, 1, l));
    VAEI_TRY(alone ? check_loss(m, l) : check_finite(m, l));
    if (n * world != g) {
        const float k = (float)((double)n * (double)world / (double)g);
        for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= k;
    }
    return VAE_OK;
}

/* Workers that disagree on the data set, the batch or the epoch would
 * shuffle differently or take different numbers of steps: each compares its
 * own values with the mean over the workers. */
static vae_status check_same_epoch(const vaei_collective *c, const vae_model *m,
                                   const vae_dataset *ds, size_t batch)
{
    const double mine[3] = {(double)ds->n, (double)batch, (double)m->epochs};
    double sum[3] = {mine[0], mine[1], mine[2]};
    VAEI_TRY(vaei_allreduce(c, sum, 3, VAE_DTYPE_F64, "the epoch's shape"));
    VAEI_CHECK(sum[0] == mine[0] * c->world && sum[1] == mine[1] * c->world &&
                   sum[2] == mine[2] * c->world,
               VAE_ERR_MISMATCH,
               "worker %d of %d: the workers disagree on the data set size, the batch size or "
               "the epoch (this one: %zu images, batch %zu, epoch %llu)",
               c->rank, c->world, ds->n, batch, (unsigned long long)m->epochs);
    return VAE_OK;
}

/* An epoch's plan: the order of the images, and how each global batch of
 * `global` images is split among the workers. One worker is the case
 * world = 1, rank = 0, with no communication (c NULL). */
typedef struct epoch_plan {
    const vaei_collective *c;
    size_t world, rank, global, batches;
    size_t *perm; /* [ds->n], owned */
} epoch_plan;

/* Where an epoch stands: sums over the applied steps, the loss to report. */
typedef struct epoch_run {
    vae_loss sum, l;
    double seen;    /* images in sum */
    size_t applied; /* steps of this epoch applied */
    int stop;       /* this worker's progress callback asked to stop */
    vae_status s;
} epoch_run;

static vae_status plan_epoch(vae_model *m, const vae_optimizer *opt, const vae_dataset *ds,
                             size_t batch, epoch_plan *p)
{
    p->c = vaei_step_workers(opt);
    p->world = p->c ? (size_t)p->c->world : 1;
    p->rank = p->c ? (size_t)p->c->rank : 0;
    VAEI_CHECK(batch <= SIZE_MAX / p->world, VAE_ERR_INVALID_ARGUMENT,
               "batch %zu x %zu workers is too large", batch, p->world);
    p->global = batch * p->world < ds->n ? batch * p->world : ds->n;
    p->batches = (ds->n + p->global - 1) / p->global;
    VAEI_TRY(vaei_model_reserve(m, (p->global + p->world - 1) / p->world));
    p->perm = malloc(ds->n * sizeof *p->perm);
    VAEI_CHECK(p->perm != NULL, VAE_ERR_OUT_OF_MEMORY, "no memory to shuffle %zu samples", ds->n);
    /* The order depends only on the seed and the epoch number, so a resumed
     * run sees the same batches as an uninterrupted one, and all workers
     * see the same order. */
    vaei_rng order;
    vaei_rng_seed(&order, stream_seed(m, STREAM_SHUFFLE, m->epochs));
    vaei_rng_permutation(&order, p->perm, ds->n);
    return VAE_OK;
}

/* Step b: this worker's pass over its share of the global batch, the
 * agreement of all workers on failures, stops and losses (every worker
 * reaches it, failed or not), then the update. Fills a with the step's
 * sums; on failure the noise is put back, as if the step was never tried. */
static vae_status global_step(vae_model *m, vae_optimizer *opt, const vae_dataset *ds,
                              const epoch_plan *p, size_t b, epoch_run *r, double *a)
{
    /* The global batch perm[first, first + g) in `world` parts: the first
     * g % world workers take one image more. */
    const size_t first = b * p->global;
    const size_t g = ds->n - first < p->global ? ds->n - first : p->global;
    const size_t share = g / p->world, extra = g % p->world;
    const size_t lo = first + p->rank * share + (p->rank < extra ? p->rank : extra);
    const size_t n = share + (p->rank < extra);
    const vaei_rng before = m->rng;
    vae_status s = r->s;
    if (s == VAE_OK && !r->stop) s = local_pass(m, ds, p->perm + lo, n, g, p->world, !p->c, &r->l);
    vae_loss part = {0}; /* n images x their mean loss */
    a[VAEI_AGREE_STOP] = r->stop;
    if (s == VAE_OK && !r->stop && n > 0) {
        accumulate(&part, &r->l, (double)n);
        a[VAEI_AGREE_COUNT] = (double)n;
    }
    memcpy(a + VAEI_AGREE_LOSS, &part, sizeof part);
    if (p->c) s = vaei_collective_agree(p->c, a, s, b, p->batches);
    if (s == VAE_OK) s = vae_optimizer_step(opt);
    if (s != VAE_OK) m->rng = before;
    return s;
}

/* An applied step's agreed sums into the epoch's; with several workers the
 * loss reported is the global batch's. */
static void account(epoch_run *r, const epoch_plan *p, const double *a)
{
    vae_loss part;
    r->applied++;
    memcpy(&part, a + VAEI_AGREE_LOSS, sizeof part);
    accumulate(&r->sum, &part, 1.0);
    r->seen += a[VAEI_AGREE_COUNT];
    if (p->c) {
        r->l = part;
        scale_loss(&r->l, 1.0 / a[VAEI_AGREE_COUNT]);
    }
}

/* The epoch's end on every worker: a stop asked after the last batch has no
 * next step to vote with, so it gets a vote of its own; then the workers,
 * agreed on how the epoch ended, share worker 0's noise state again, which
 * is the state its checkpoint stores. */
static vae_status end_epoch(vae_model *m, const epoch_plan *p, epoch_run *r)
{
    if (p->c && r->s == VAE_OK) {
        double a[VAEI_AGREE_SIZE] = {0};
        a[VAEI_AGREE_STOP] = r->stop;
        r->s = vaei_collective_agree(p->c, a, VAE_OK, p->batches, p->batches);
    }
    if (p->c && (r->s == VAE_OK || r->s == VAE_ERR_CANCELLED)) {
        char why[512];
        snprintf(why, sizeof why, "%s", vae_last_error());
        vaei_rng shared = m->rng;
        VAEI_TRY(vaei_broadcast(p->c, shared.s, sizeof shared.s, "the noise state"));
        m->rng = shared;
        if (r->s != VAE_OK) (void)vaei_restore(r->s, why);
    }
    /* A stop after the last batch still ends a whole epoch: every batch was
     * applied, so it counts, and resuming starts the next one. */
    if (r->s == VAE_OK || (r->s == VAE_ERR_CANCELLED && r->applied == p->batches)) m->epochs++;
    return r->s;
}

/* The steps of an epoch until the end, a failure or a stop. A single
 * worker stops at once; workers vote on a stop with the next step. */
static void run_epoch(vae_model *m, vae_optimizer *opt, const vae_dataset *ds,
                      const epoch_plan *p, vae_progress_fn progress, void *user, epoch_run *r)
{
    for (size_t b = 0; b < p->batches; b++) {
        double a[VAEI_AGREE_SIZE] = {0};
        r->s = global_step(m, opt, ds, p, b, r, a);
        if (r->s != VAE_OK) return;
        account(r, p, a);
        r->stop = progress && progress(user, b, p->batches, &r->l) != 0;
        if (r->stop && !p->c) {
            r->s = vaei_fail(VAE_ERR_CANCELLED, "training stopped by the progress callback "
                             "after batch %zu of %zu", b + 1, p->batches);
            return;
        }
    }
}

vae_status vae_train_epoch(vae_model *m, vae_optimizer *opt, vae_dataset *ds, size_t batch,
                           vae_progress_fn progress, void *user, vae_loss *mean)
{
    VAEI_CHECK_ARG(m != NULL && opt != NULL && ds != NULL);
    VAEI_CHECK(batch >= 1, VAE_ERR_INVALID_ARGUMENT, "batch size is 0");
    VAEI_CHECK(opt->model == m, VAE_ERR_INVALID_ARGUMENT,
               "the optimizer belongs to another model");
    VAEI_TRY(vaei_check_dataset(m, ds));
    VAEI_CHECK(m->epochs < UINT64_MAX, VAE_ERR_LIMIT, "the epoch count is at its maximum");
    epoch_plan p = {0};
    VAEI_TRY(plan_epoch(m, opt, ds, batch, &p));
    epoch_run r = {.s = VAE_OK};
    if (p.c) {
        r.s = check_same_epoch(p.c, m, ds, batch);
        if (r.s == VAE_ERR_CALLBACK) {
            free(p.perm);
            return r.s;
        }
        vaei_collective_fork_noise(m, p.c->rank);
    }
    run_epoch(m, opt, ds, &p, progress, user, &r);
    free(p.perm);
    if (r.seen > 0 && mean) {
        scale_loss(&r.sum, 1.0 / r.seen);
        *mean = r.sum;
    }
    return end_epoch(m, &p, &r);
}

vae_status vae_model_evaluate(vae_model *m, vae_dataset *ds, vae_loss *mean)
{
    VAEI_CHECK_ARG(m != NULL && ds != NULL && mean != NULL);
    VAEI_TRY(vaei_check_dataset(m, ds));
    vaei_chunks ch;
    VAEI_TRY(vaei_chunks_begin(&ch, m, ds->n, VAEI_CHUNK));
    vaei_rng noise;
    vaei_rng_seed(&noise, stream_seed(m, STREAM_EVAL, 0));
    const int use_mean = VAEI_CFG(m, S_EVAL_USE_MEAN) != 0;
    vae_loss sum = {0}, l;
    while (vaei_chunks_next(&ch)) {
        VAEI_TRY(vaei_stage_range(m, ds, ch.first, ch.n));
        if (use_mean)
            memset(m->ws.eps, 0, ch.n * m->L * sizeof *m->ws.eps);
        else
            vaei_rng_normal(&noise, m->ws.eps, ch.n * m->L);
        VAEI_TRY(batch_pass(m, m->ws.x0, m->D + m->C, ch.n, 0, &l));
        accumulate(&sum, &l, (double)ch.n);
    }
    scale_loss(&sum, 1.0 / (double)ds->n);
    *mean = sum;
    return VAE_OK;
}
