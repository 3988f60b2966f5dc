/*
 * Datasets: samples kept as stored (uint8 or float32), converted to float
 * rows only when a batch is gathered.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_DATASET_H
#define VAEI_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "vae/vae.h"

struct vae_dataset {
    size_t n, dim;
    const uint8_t *u8;   /* [n x dim], or NULL */
    const float *f32;    /* [n x dim], or NULL; exactly one of u8 / f32 is set */
    void *owned;         /* the sample memory to free, NULL when borrowed */
    int32_t *labels;     /* n labels or NULL; always owned */
    size_t num_classes;  /* 1 + max label, 0 without labels */
    size_t *order;       /* vae_dataset_batch() order; NULL means identity */
};

/* Default cap on the bytes of one data set's samples (4 GiB). */
#define VAEI_DATASET_DEFAULT_CAP ((uint64_t)4 << 30)

/* Copy rows idx[0..count) as floats (u8 scaled by 1/255) into x, row stride
 * ldx >= dim. Indices must be < n (callers guarantee it). */
void vaei_dataset_gather(const vae_dataset *ds, const size_t *idx, size_t count, float *x,
                         size_t ldx);

#endif /* VAEI_DATASET_H */
