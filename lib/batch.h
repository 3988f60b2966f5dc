/*
 * Batches into the model's workspace: the one set of checks on a caller's
 * rows, staging [x | c] from arrays or from a dataset, and the chunks that
 * walk inputs of any length through a workspace of bounded size.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_BATCH_H
#define VAEI_BATCH_H

#include <stddef.h>

#include "dataset.h"
#include "model.h"

/* Rows per chunk of evaluation and inference. */
enum { VAEI_CHUNK = 256 };

/* A caller's batch fits the model: n >= 1; cond [n x C] given iff the model
 * is conditional, and finite; x [n x D] (when not NULL) finite and, for the
 * Bernoulli likelihood, in [0, 1]. */
vae_status vaei_check_batch(const vae_model *m, const float *x, const float *cond, size_t n);

/* The dataset fits the model: same width, and labels that a conditional
 * model's one-hot input can hold. */
vae_status vaei_check_dataset(const vae_model *m, const vae_dataset *ds);

/* dst [n x (w + C)] <- [a | c]: a [n x w], c rows first.. of cond [? x C]
 * (NULL when C is 0). */
void vaei_stage(const vae_model *m, float *dst, const float *a, size_t w, const float *cond,
                size_t first, size_t n);

/* The conditioning columns: dst rows (stride ldd) <- src rows (stride lds),
 * C floats each, both pointing at the columns where c starts. */
void vaei_stage_cond(const vae_model *m, float *dst, size_t ldd, const float *src, size_t lds,
                     size_t n);

/* Rows idx[0..n) of ds into ws.x0 as [x | one-hot(label)], checked for the
 * likelihood; the workspace must hold n rows. */
vae_status vaei_stage_dataset(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n);

/* Rows [first, first + n) of ds into ws.x0, as vaei_stage_dataset(). */
vae_status vaei_stage_range(vae_model *m, const vae_dataset *ds, size_t first, size_t n);

/* Chunks of `total` rows:
 *     vaei_chunks ch;
 *     VAEI_TRY(vaei_chunks_begin(&ch, m, total, size));
 *     while (vaei_chunks_next(&ch)) ... rows [ch.first, ch.first + ch.n) ...  */
typedef struct vaei_chunks {
    size_t total, size; /* rows in all; rows per chunk */
    size_t first, n;    /* the current chunk */
} vaei_chunks;

/* Chunks of min(size, total) rows, for which the workspace is reserved. */
vae_status vaei_chunks_begin(vaei_chunks *ch, vae_model *m, size_t total, size_t size);

/* Advance to the next chunk; 0 when every row has been visited. */
int vaei_chunks_next(vaei_chunks *ch);

#endif /* VAEI_BATCH_H */
