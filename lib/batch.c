/*
 * Batches into the workspace: one set of checks on a caller's rows, [x | c]
 * staged from arrays or a dataset, and the chunks of long inputs.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "batch.h"
#include "error.h"
#include "kernels/elementwise.h"

/* Inputs the likelihood can score: finite, and in [0, 1] for Bernoulli. */
static vae_status check_pixels(const vae_model *m, const float *x, size_t ldx, size_t n)
{
    const int bernoulli = (int)VAEI_CFG(m, S_LIKELIHOOD) == VAE_LIKELIHOOD_BERNOULLI;
    /* A pass without a branch per value first: the level's finiteness test
     * per row, or for Bernoulli the range (which NaN fails) in a loop the
     * compiler vectorises; the loop after it names the first bad value. */
    const vaei_vecops *vec = vaei_vec();
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        const float *row = x + i * ldx;
        if (!bernoulli) {
            ok = vec->all_finite(row, m->D);
            continue;
        }
        for (size_t j = 0; j < m->D; j++) ok &= (row[j] >= 0.0f) & (row[j] <= 1.0f);
    }
    if (ok) return VAE_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m->D; j++) {
            const float v = x[i * ldx + j];
            VAEI_CHECK(isfinite(v), VAE_ERR_INVALID_ARGUMENT,
                       "input row %zu, column %zu is not finite", i, j);
            VAEI_CHECK(!bernoulli || (v >= 0.0f && v <= 1.0f), VAE_ERR_INVALID_ARGUMENT,
                       "input row %zu, column %zu is %g: the Bernoulli likelihood needs "
                       "values in [0, 1]", i, j, (double)v);
        }
    return VAE_OK;
}

vae_status vaei_check_batch(const vae_model *m, const float *x, const float *cond, size_t n)
{
    VAEI_CHECK(n >= 1, VAE_ERR_INVALID_ARGUMENT, "zero rows");
    VAEI_CHECK(m->C == 0 || cond != NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model takes a conditioning vector of %zu floats, but cond is NULL", m->C);
    VAEI_CHECK(m->C > 0 || cond == NULL, VAE_ERR_INVALID_ARGUMENT,
               "the model has no conditioning input, but cond was given");
    for (size_t i = 0; i < n && m->C; i++)
        for (size_t k = 0; k < m->C; k++)
            VAEI_CHECK(isfinite(cond[i * m->C + k]), VAE_ERR_INVALID_ARGUMENT,
                       "cond row %zu, column %zu is not finite", i, k);
    return x ? check_pixels(m, x, m->D, n) : VAE_OK;
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

void vaei_stage_cond(const vae_model *m, float *dst, size_t ldd, const float *src, size_t lds,
                     size_t n)
{
    for (size_t i = 0; i < n && m->C; i++) memcpy(dst + i * ldd, src + i * lds, m->C * sizeof *dst);
}

void vaei_stage(const vae_model *m, float *dst, const float *a, size_t w, const float *cond,
                size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) memcpy(dst + i * (w + m->C), a + i * w, w * sizeof *dst);
    if (m->C) vaei_stage_cond(m, dst + w, w + m->C, cond + first * m->C, m->C, n);
}

/* Rows idx[0..n) of ds into dst as [x | one-hot(label)]. */
static vae_status stage_rows(const vae_model *m, const vae_dataset *ds, const size_t *idx,
                             size_t n, float *dst)
{
    const size_t w = m->D + m->C;
    vaei_dataset_gather(ds, idx, n, dst, w);
    for (size_t i = 0; i < n && m->C; i++) {
        float *c = dst + i * w + m->D;
        memset(c, 0, m->C * sizeof *c);
        c[ds->labels[idx[i]]] = 1.0f;
    }
    /* Byte data is in [0,1] by construction; float data must be checked. */
    return ds->f32 ? check_pixels(m, dst, w, n) : VAE_OK;
}

vae_status vaei_stage_dataset(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n)
{
    return stage_rows(m, ds, idx, n, m->ws.x0);
}

vae_status vaei_stage_range(vae_model *m, const vae_dataset *ds, size_t first, size_t n)
{
    size_t idx[VAEI_CHUNK];
    for (size_t done = 0; done < n; done += VAEI_CHUNK) {
        const size_t k = n - done < VAEI_CHUNK ? n - done : VAEI_CHUNK;
        for (size_t i = 0; i < k; i++) idx[i] = first + done + i;
        VAEI_TRY(stage_rows(m, ds, idx, k, m->ws.x0 + done * (m->D + m->C)));
    }
    return VAE_OK;
}

vae_status vaei_chunks_begin(vaei_chunks *ch, vae_model *m, size_t total, size_t size)
{
    *ch = (vaei_chunks){.total = total, .size = size < total ? size : total};
    return vaei_model_reserve(m, ch->size);
}

int vaei_chunks_next(vaei_chunks *ch)
{
    ch->first += ch->n;
    if (ch->first >= ch->total) return 0;
    ch->n = ch->total - ch->first < ch->size ? ch->total - ch->first : ch->size;
    return 1;
}
