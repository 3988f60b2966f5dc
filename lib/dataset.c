/*
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "error.h"
#include "idx.h"
#include "kernels/elementwise.h"
#include "rng.h"

#define MAX_LABEL 65535

static void row_to_float(const vae_dataset *ds, size_t i, float *dst)
{
    if (ds->u8) {
        /* x = v * (1/255) in float: one rounding of one product, so a byte
         * maps to the same float wherever (and by whichever level) it is
         * converted. */
        vaei_u8_to_float(dst, ds->u8 + i * ds->dim, ds->dim);
    } else {
        memcpy(dst, ds->f32 + i * ds->dim, ds->dim * sizeof *dst);
    }
}

void vaei_dataset_gather(const vae_dataset *ds, const size_t *idx, size_t count, float *x,
                         size_t ldx)
{
    if (ds->u8) { /* the same conversion as row_to_float, threaded */
        vaei_gather_u8(x, ldx, ds->u8, ds->dim, idx, count);
        return;
    }
    for (size_t k = 0; k < count; k++) row_to_float(ds, idx[k], x + k * ldx);
}

void vae_dataset_free(vae_dataset *ds)
{
    if (!ds) return;
    free(ds->owned);
    free(ds->labels);
    free(ds->order);
    free(ds);
}

/* A dataset of n x dim samples with no sample memory yet; labels (n of
 * them, already in range) are copied when given. NULL when out of memory,
 * with the error recorded. */
static vae_dataset *dataset_new(size_t n, size_t dim, const int32_t *labels)
{
    vae_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate a dataset");
        return NULL;
    }
    ds->n = n;
    ds->dim = dim;
    if (labels) {
        if (n > SIZE_MAX / sizeof *ds->labels || !(ds->labels = malloc(n * sizeof *ds->labels))) {
            vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate %zu labels", n);
            free(ds);
            return NULL;
        }
        memcpy(ds->labels, labels, n * sizeof *ds->labels);
        int32_t max = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] > max) max = labels[i];
        ds->num_classes = (size_t)max + 1;
    }
    return ds;
}

vae_status vae_dataset_load_idx(vae_dataset **out, const char *images_path,
                                const char *labels_path, uint64_t max_bytes)
{
    VAEI_CHECK_ARG(out != NULL);
    VAEI_CHECK_ARG(images_path != NULL);
    const uint64_t cap = max_bytes ? max_bytes : VAEI_DATASET_DEFAULT_CAP;
    struct vaei_idx img, lab = {0};
    int32_t *labels = NULL;
    vae_dataset *ds = NULL;
    VAEI_TRY(vaei_idx_read(images_path, cap, &img));

    vae_status s = VAE_OK;
    if (img.ndims < 2) {
        s = vaei_fail(VAE_ERR_FORMAT,
                      "%s: has 1 dimension; images need 2 or more (n x rows x cols)",
                      images_path);
        goto done;
    }
    const size_t n = img.dims[0];
    if (labels_path) {
        /* Labels are n bytes, fewer than the n * dim of the pixels: the same
         * cap bounds a hostile label file before its count is compared. */
        s = vaei_idx_read(labels_path, cap, &lab);
        if (s != VAE_OK) goto done;
        if (lab.ndims != 1) {
            s = vaei_fail(VAE_ERR_FORMAT, "%s: has %u dimensions; labels need exactly 1",
                          labels_path, lab.ndims);
            goto done;
        }
        if (lab.dims[0] != n) {
            s = vaei_fail(VAE_ERR_MISMATCH, "%s holds %" PRIu32 " labels but %s holds %zu images",
                          labels_path, lab.dims[0], images_path, n);
            goto done;
        }
        if (n > SIZE_MAX / sizeof *labels || !(labels = malloc(n * sizeof *labels))) {
            s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate %zu labels", n);
            goto done;
        }
        for (size_t i = 0; i < n; i++) labels[i] = lab.data[i];
    }
    ds = dataset_new(n, img.count / n, labels);
    if (!ds) {
        s = VAE_ERR_OUT_OF_MEMORY;
        goto done;
    }
    ds->u8 = img.data;
    ds->owned = img.data;
    img.data = NULL;
    *out = ds;
done:
    free(img.data);
    free(lab.data);
    free(labels);
    return s;
}

/* The checks and the copy-or-borrow shared by the in-memory constructors:
 * data is [n x dim] of float when is_f32, of uint8_t otherwise. */
static vae_status from_memory(vae_dataset **out, const void *data, int is_f32, size_t n,
                              size_t dim, const int32_t *labels, unsigned flags)
{
    const size_t elem = is_f32 ? sizeof(float) : 1;
    VAEI_CHECK_ARG(out != NULL);
    VAEI_CHECK_ARG(data != NULL);
    VAEI_CHECK_ARG(n >= 1);
    VAEI_CHECK_ARG(dim >= 1);
    VAEI_CHECK(!(flags & ~(unsigned)VAE_DATASET_BORROW), VAE_ERR_INVALID_ARGUMENT,
               "unknown dataset flags 0x%x", flags & ~(unsigned)VAE_DATASET_BORROW);
    VAEI_CHECK(n <= SIZE_MAX / dim / elem, VAE_ERR_INVALID_ARGUMENT,
               "%zu samples of %zu values overflow size_t", n, dim);
    const size_t values = n * dim;
    if (is_f32) {
        const float *f = data;
        for (size_t i = 0; i < values; i++)
            VAEI_CHECK(isfinite(f[i]), VAE_ERR_INVALID_ARGUMENT,
                       "data[%zu] = %g (sample %zu, value %zu) is not finite", i, (double)f[i],
                       i / dim, i % dim);
    }
    if (labels)
        for (size_t i = 0; i < n; i++)
            VAEI_CHECK(labels[i] >= 0 && labels[i] <= MAX_LABEL, VAE_ERR_INVALID_ARGUMENT,
                       "labels[%zu] = %" PRId32 " is outside [0, %d]", i, labels[i], MAX_LABEL);

    void *copy = NULL;
    if (!(flags & VAE_DATASET_BORROW)) {
        copy = malloc(values * elem);
        if (!copy)
            return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", values * elem);
        memcpy(copy, data, values * elem);
    }
    vae_dataset *ds = dataset_new(n, dim, labels);
    if (!ds) {
        free(copy);
        return VAE_ERR_OUT_OF_MEMORY;
    }
    ds->owned = copy;
    const void *samples = copy ? copy : data;
    if (is_f32)
        ds->f32 = samples;
    else
        ds->u8 = samples;
    *out = ds;
    return VAE_OK;
}

vae_status vae_dataset_from_u8(vae_dataset **out, const uint8_t *data, size_t n, size_t dim,
                               const int32_t *labels, unsigned flags)
{
    return from_memory(out, data, 0, n, dim, labels, flags);
}

vae_status vae_dataset_from_f32(vae_dataset **out, const float *data, size_t n, size_t dim,
                                const int32_t *labels, unsigned flags)
{
    return from_memory(out, data, 1, n, dim, labels, flags);
}

size_t vae_dataset_count(const vae_dataset *ds)
{
    return ds ? ds->n : 0;
}

size_t vae_dataset_dim(const vae_dataset *ds)
{
    return ds ? ds->dim : 0;
}

size_t vae_dataset_num_classes(const vae_dataset *ds)
{
    return ds ? ds->num_classes : 0;
}

const int32_t *vae_dataset_labels(const vae_dataset *ds)
{
    return ds ? ds->labels : NULL;
}

vae_status vae_dataset_get(const vae_dataset *ds, size_t first, size_t count, float *x,
                           int32_t *labels)
{
    VAEI_CHECK_ARG(ds != NULL);
    VAEI_CHECK_ARG(x != NULL);
    VAEI_CHECK_ARG(count >= 1);
    VAEI_CHECK(first < ds->n && count <= ds->n - first, VAE_ERR_INVALID_ARGUMENT,
               "samples [%zu, %zu + %zu) are outside the dataset's %zu", first, first, count,
               ds->n);
    VAEI_CHECK(!labels || ds->labels, VAE_ERR_INVALID_ARGUMENT,
               "labels requested from a dataset that has none");
    for (size_t k = 0; k < count; k++) row_to_float(ds, first + k, x + k * ds->dim);
    if (labels) memcpy(labels, ds->labels + first, count * sizeof *labels);
    return VAE_OK;
}

vae_status vae_dataset_shuffle(vae_dataset *ds, uint64_t seed)
{
    VAEI_CHECK_ARG(ds != NULL);
    if (!ds->order) {
        if (ds->n > SIZE_MAX / sizeof *ds->order ||
            !(ds->order = malloc(ds->n * sizeof *ds->order)))
            return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate an order of %zu samples",
                             ds->n);
    }
    vaei_rng r;
    vaei_rng_seed(&r, seed);
    vaei_rng_permutation(&r, ds->order, ds->n);
    return VAE_OK;
}

vae_status vae_dataset_batch(const vae_dataset *ds, size_t index, size_t batch, float *x,
                             int32_t *labels, size_t *n)
{
    VAEI_CHECK_ARG(ds != NULL);
    VAEI_CHECK_ARG(batch >= 1);
    VAEI_CHECK_ARG(x != NULL);
    VAEI_CHECK_ARG(n != NULL);
    /* batches = ceil(n / batch), written so that it cannot overflow */
    const size_t batches = ds->n / batch + (ds->n % batch != 0);
    VAEI_CHECK(index < batches, VAE_ERR_INVALID_ARGUMENT,
               "batch %zu is past the end: %zu samples make %zu batches of %zu", index, ds->n,
               batches, batch);
    VAEI_CHECK(!labels || ds->labels, VAE_ERR_INVALID_ARGUMENT,
               "labels requested from a dataset that has none");
    const size_t first = index * batch;
    const size_t count = ds->n - first < batch ? ds->n - first : batch;
    for (size_t k = 0; k < count; k++) {
        const size_t i = ds->order ? ds->order[first + k] : first + k;
        row_to_float(ds, i, x + k * ds->dim);
        if (labels) labels[k] = ds->labels[i];
    }
    *n = count;
    return VAE_OK;
}

/* ------------------------------------------------------------------------ */
/* Splitting                                                                */
/* ------------------------------------------------------------------------ */

/* A new dataset owning copies of rows idx[0..count) of ds (same sample
 * type, labels kept). */
static vae_status subset(const vae_dataset *ds, const size_t *idx, size_t count,
                         vae_dataset **out)
{
    const size_t elem = ds->u8 ? 1 : sizeof(float), row = ds->dim * elem;
    unsigned char *samples = malloc(count * row);
    int32_t *labels = ds->labels ? malloc(count * sizeof *labels) : NULL;
    if (!samples || (ds->labels && !labels)) {
        free(samples);
        free(labels);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot allocate %zu samples", count);
    }
    const unsigned char *src = ds->u8 ? (const void *)ds->u8 : (const void *)ds->f32;
    for (size_t k = 0; k < count; k++) {
        memcpy(samples + k * row, src + idx[k] * row, row);
        if (labels) labels[k] = ds->labels[idx[k]];
    }
    vae_dataset *sub = dataset_new(count, ds->dim, labels);
    free(labels);
    if (!sub) {
        free(samples);
        return VAE_ERR_OUT_OF_MEMORY;
    }
    sub->owned = samples;
    if (ds->u8)
        sub->u8 = samples;
    else
        sub->f32 = (const float *)(const void *)samples;
    *out = sub;
    return VAE_OK;
}

vae_status vae_dataset_split(const vae_dataset *ds, size_t count, uint64_t seed,
                             vae_dataset **rest, vae_dataset **picked)
{
    VAEI_CHECK_ARG(ds != NULL && rest != NULL && picked != NULL && rest != picked);
    VAEI_CHECK(count >= 1 && count < ds->n, VAE_ERR_INVALID_ARGUMENT,
               "cannot pick %zu of %zu samples: both parts need at least one", count, ds->n);
    size_t *perm = malloc(ds->n * sizeof *perm);
    unsigned char *chosen = calloc(ds->n, 1);
    if (!perm || !chosen) {
        free(perm);
        free(chosen);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "cannot split %zu samples", ds->n);
    }
    vaei_rng r;
    vaei_rng_seed(&r, seed);
    vaei_rng_permutation(&r, perm, ds->n);
    for (size_t k = 0; k < count; k++) chosen[perm[k]] = 1;
    /* Reuse perm for the indices in storage order: picked first, then rest. */
    size_t np = 0, nr = count;
    for (size_t i = 0; i < ds->n; i++) perm[chosen[i] ? np++ : nr++] = i;
    free(chosen);

    vae_dataset *a = NULL, *b = NULL;
    vae_status s = subset(ds, perm + count, ds->n - count, &a);
    if (s == VAE_OK) s = subset(ds, perm, count, &b);
    free(perm);
    if (s != VAE_OK) {
        vae_dataset_free(a);
        return s;
    }
    *rest = a;
    *picked = b;
    return VAE_OK;
}
