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

#include "collective.h"
#include "dataset.h"
#include "error.h"
#include "kernels/kernels.h"
#include "model.h"
#include "optim.h"
#include "step.h"
#include "train.h"

enum { EVAL_CHUNK = 256 };

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
    vaei_reparameterize(m, x, ldx, n);
    VAEI_TRY(vaei_decoder_forward(m, n));
    return vaei_model_loss(m, x, ldx, n, grads, loss);
}

static vae_status check_finite(const vae_model *m, const vae_loss *loss)
{
    VAEI_CHECK(isfinite(loss->objective) && isfinite(loss->total), VAE_ERR_NUMERIC,
               "step %llu: the loss is not finite (recon %g, kl %g)",
               (unsigned long long)m->steps, loss->recon, loss->kl);
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

/* Rows for the forward pass from a caller's x and cond: x itself when it
 * can be used as it is, else a copy [x | c] (binarised in training). */
static vae_status stage_inputs(vae_model *m, const float *x, const float *cond, size_t n,
                               int training, const float **rows, size_t *ld)
{
    VAEI_CHECK(n >= 1, VAE_ERR_INVALID_ARGUMENT, "batch size is 0");
    VAEI_CHECK(x != NULL, VAE_ERR_INVALID_ARGUMENT, "input rows are NULL");
    VAEI_CHECK(m->C == 0 || cond != NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model takes a conditioning vector of %zu floats, but cond is NULL", m->C);
    VAEI_CHECK(m->C > 0 || cond == NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model has no conditioning input, but cond was given");
    VAEI_TRY(vaei_check_inputs(m, x, m->D, n));
    VAEI_TRY(vaei_model_reserve(m, n));
    const int bin = training && VAEI_CFG(m, S_BINARIZE) != 0;
    if (m->C == 0 && !bin) {
        *rows = x;
        *ld = m->D;
        return VAE_OK;
    }
    const size_t w = m->D + m->C;
    float *x0 = m->ws.x0;
    for (size_t i = 0; i < n; i++) {
        memcpy(x0 + i * w, x + i * m->D, m->D * sizeof *x0);
        if (m->C) {
            for (size_t k = 0; k < m->C; k++)
                VAEI_CHECK(isfinite(cond[i * m->C + k]), VAE_ERR_INVALID_ARGUMENT,
                           "cond row %zu, column %zu is not finite", i, k);
            memcpy(x0 + i * w + m->D, cond + i * m->C, m->C * sizeof *x0);
        }
    }
    if (bin) binarize(m, x0, w, n);
    *rows = x0;
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
    vae_status s = stage_inputs(m, x, cond, n, 1, &rows, &ld);
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

vae_status vaei_stage_dataset(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n)
{
    const size_t w = m->D + m->C;
    float *x0 = m->ws.x0;
    vaei_dataset_gather(ds, idx, n, x0, w);
    if (m->C) {
        for (size_t i = 0; i < n; i++) {
            float *c = x0 + i * w + m->D;
            memset(c, 0, m->C * sizeof *c);
            c[ds->labels[idx[i]]] = 1.0f;
        }
    }
    /* Byte data is in [0,1] by construction; float data must be checked. */
    return ds->f32 ? vaei_check_inputs(m, x0, w, n) : VAE_OK;
}

vae_status vaei_check_dataset(const vae_model *m, const vae_dataset *ds)
{
    VAEI_CHECK(ds->dim == m->D, VAE_ERR_MISMATCH,
               "the dataset has %zu values per sample but the model takes %zu", ds->dim, m->D);
    if (m->C) {
        VAEI_CHECK(ds->labels != NULL, VAE_ERR_MISMATCH,
                   "the model is conditional but the dataset has no labels");
        VAEI_CHECK(ds->num_classes <= m->C, VAE_ERR_MISMATCH,
                   "the dataset has %zu classes but the model's conditioning holds %zu",
                   ds->num_classes, m->C);
    }
    return VAE_OK;
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
 * weight is 1, and nothing is done, when the parts are equal). */
static vae_status local_pass(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n,
                             size_t g, size_t world, vae_loss *l)
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
    VAEI_TRY(check_finite(m, l));
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

vae_status vae_train_epoch(vae_model *m, vae_optimizer *opt, vae_dataset *ds, size_t batch,
                           vae_progress_fn progress, void *user, vae_loss *mean)
{
    VAEI_CHECK_ARG(m != NULL && opt != NULL && ds != NULL);
    VAEI_CHECK(batch >= 1, VAE_ERR_INVALID_ARGUMENT, "batch size is 0");
    VAEI_CHECK(opt->model == m, VAE_ERR_INVALID_ARGUMENT,
               "the optimizer belongs to another model");
    VAEI_TRY(vaei_check_dataset(m, ds));
    VAEI_CHECK(m->epochs < UINT64_MAX, VAE_ERR_LIMIT, "the epoch count is at its maximum");
    /* One worker is the case world = 1, rank = 0, with no communication. */
    const vaei_collective *c = vaei_step_workers(opt);
    const size_t world = c ? (size_t)c->world : 1, rank = c ? (size_t)c->rank : 0;
    VAEI_CHECK(batch <= SIZE_MAX / world, VAE_ERR_INVALID_ARGUMENT,
               "batch %zu x %zu workers is too large", batch, world);
    const size_t global = batch * world < ds->n ? batch * world : ds->n;
    VAEI_TRY(vaei_model_reserve(m, (global + world - 1) / world));
    size_t *perm = malloc(ds->n * sizeof *perm);
    VAEI_CHECK(perm != NULL, VAE_ERR_OUT_OF_MEMORY, "no memory to shuffle %zu samples", ds->n);

    /* The order depends only on the seed and the epoch number, so a resumed
     * run sees the same batches as an uninterrupted one, and all workers
     * see the same order. */
    vaei_rng order;
    vaei_rng_seed(&order, stream_seed(m, STREAM_SHUFFLE, m->epochs));
    vaei_rng_permutation(&order, perm, ds->n);

    const size_t batches = (ds->n + global - 1) / global;
    vae_loss sum = {0}, l = {0};
    double seen = 0;
    size_t applied = 0; /* steps of this epoch applied */
    int stop = 0; /* this worker's progress callback asked to stop */
    vae_status s = VAE_OK;
    if (c) {
        s = check_same_epoch(c, m, ds, batch);
        if (s == VAE_ERR_CALLBACK) {
            free(perm);
            return s;
        }
        vaei_collective_fork_noise(m, c->rank);
    }
    for (size_t b = 0; b < batches; b++) {
        /* The global batch perm[first, first + g) in `world` parts: the
         * first g % world workers take one image more. */
        const size_t first = b * global, g = ds->n - first < global ? ds->n - first : global;
        const size_t share = g / world, extra = g % world;
        const size_t lo = first + rank * share + (rank < extra ? rank : extra);
        const size_t n = share + (rank < extra);
        const vaei_rng before = m->rng; /* put back if this step is not applied */
        if (s == VAE_OK && !stop) s = local_pass(m, ds, perm + lo, n, g, world, &l);
        /* The step's sums: this worker's, then (reduced) all workers'. */
        double a[VAEI_AGREE_SIZE] = {0};
        vae_loss part = {0}; /* n images x their mean loss */
        a[VAEI_AGREE_STOP] = stop;
        if (s == VAE_OK && !stop && n > 0) {
            accumulate(&part, &l, (double)n);
            a[VAEI_AGREE_COUNT] = (double)n;
        }
        memcpy(a + VAEI_AGREE_LOSS, &part, sizeof part);
        /* Every worker reaches this reduce, failed or not: it shares the
         * failures, the stop requests and the losses. */
        if (c) s = vaei_collective_agree(c, a, s, b, batches);
        if (s == VAE_OK) s = vae_optimizer_step(opt);
        if (s != VAE_OK) {
            m->rng = before;
            break;
        }
        applied++;
        memcpy(&part, a + VAEI_AGREE_LOSS, sizeof part);
        accumulate(&sum, &part, 1.0);
        seen += a[VAEI_AGREE_COUNT];
        if (c) { /* report the global batch's loss */
            l = part;
            scale_loss(&l, 1.0 / a[VAEI_AGREE_COUNT]);
        }
        stop = progress && progress(user, b, batches, &l) != 0;
        if (stop && !c) {
            s = vaei_fail(VAE_ERR_CANCELLED, "training stopped by the progress callback after "
                          "batch %zu of %zu", b + 1, batches);
            break;
        }
    }
    /* Workers vote on a stop with the next step's losses; a stop asked
     * after the last batch has no next step, so it gets a vote of its own. */
    if (c && s == VAE_OK) {
        double a[VAEI_AGREE_SIZE] = {0};
        a[VAEI_AGREE_STOP] = stop;
        s = vaei_collective_agree(c, a, VAE_OK, batches, batches);
    }
    free(perm);
    if (seen > 0 && mean) {
        scale_loss(&sum, 1.0 / seen);
        *mean = sum;
    }
    /* The workers agreed on how the epoch ended: they share worker 0's noise
     * state again, which is the state its checkpoint stores. */
    if (c && (s == VAE_OK || s == VAE_ERR_CANCELLED)) {
        char why[512];
        snprintf(why, sizeof why, "%s", vae_last_error());
        vaei_rng shared = m->rng;
        const vae_status sync = vaei_broadcast(c, shared.s, sizeof shared.s, "the noise state");
        if (sync != VAE_OK) return sync;
        m->rng = shared;
        if (s != VAE_OK) (void)vaei_restore(s, why);
    }
    /* A stop after the last batch still ends a whole epoch: every batch was
     * applied, so it counts, and resuming starts the next one. */
    if (s == VAE_OK || (s == VAE_ERR_CANCELLED && applied == batches)) m->epochs++;
    return s;
}

vae_status vae_model_evaluate(vae_model *m, vae_dataset *ds, vae_loss *mean)
{
    VAEI_CHECK_ARG(m != NULL && ds != NULL && mean != NULL);
    VAEI_TRY(vaei_check_dataset(m, ds));
    const size_t chunk = ds->n < EVAL_CHUNK ? ds->n : EVAL_CHUNK, w = m->D + m->C;
    VAEI_TRY(vaei_model_reserve(m, chunk));
    size_t idx[EVAL_CHUNK];
    vaei_rng noise;
    vaei_rng_seed(&noise, stream_seed(m, STREAM_EVAL, 0));
    const int use_mean = VAEI_CFG(m, S_EVAL_USE_MEAN) != 0;
    vae_loss sum = {0}, l;
    for (size_t first = 0; first < ds->n; first += chunk) {
        const size_t n = ds->n - first < chunk ? ds->n - first : chunk;
        for (size_t i = 0; i < n; i++) idx[i] = first + i;
        VAEI_TRY(vaei_stage_dataset(m, ds, idx, n));
        if (use_mean)
            memset(m->ws.eps, 0, n * m->L * sizeof *m->ws.eps);
        else
            vaei_rng_normal(&noise, m->ws.eps, n * m->L);
        VAEI_TRY(batch_pass(m, m->ws.x0, w, n, 0, &l));
        accumulate(&sum, &l, (double)n);
    }
    scale_loss(&sum, 1.0 / (double)ds->n);
    *mean = sum;
    return VAE_OK;
}
