/*
 * Fuzz the in-memory dataset constructors and what a dataset then does:
 * the input chooses the kind (u8 or f32), the width, labels, flags, a
 * batch size and a shuffle seed; the rest is the samples (and labels).
 * Checked: hostile values (NaN, labels out of range, unknown flags) are
 * refused; an accepted dataset hands back exactly the samples it was given,
 * and a shuffled epoch visits every sample once.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vae/vae.h"

enum { HEADER = 12 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER) return 0;
    const int is_f32 = data[0] & 1, with_labels = data[0] & 2;
    unsigned flags = data[0] & 4 ? VAE_DATASET_BORROW : 0;
    if (data[0] & 8) flags |= 0x100; /* unknown: must be refused */
    const size_t dim = 1 + data[1] % 64;
    const size_t batch = 1 + data[2] % 16;
    uint64_t seed;
    memcpy(&seed, data + 3, 8);
    const size_t first = data[11];
    data += HEADER;
    size -= HEADER;

    const size_t elem = is_f32 ? sizeof(float) : 1;
    const size_t row = dim * elem + (with_labels ? sizeof(int32_t) : 0);
    const size_t n = size / row;
    /* Aligned copies of the samples and labels (the input bytes are not). */
    void *samples = malloc(n * dim * elem + 1);
    int32_t *labels = with_labels ? malloc(n * sizeof *labels + 1) : NULL;
    FUZZ_ASSERT(samples && (!with_labels || labels));
    memcpy(samples, data, n * dim * elem);
    if (with_labels) memcpy(labels, data + n * dim * elem, n * sizeof *labels);

    int valid = n >= 1 && !(flags & 0x100);
    for (size_t i = 0; valid && is_f32 && i < n * dim; i++)
        valid = isfinite(((const float *)samples)[i]);
    for (size_t i = 0; valid && with_labels && i < n; i++)
        valid = labels[i] >= 0 && labels[i] <= 65535;

    vae_dataset *ds = NULL;
    const vae_status s = is_f32 ? vae_dataset_from_f32(&ds, samples, n, dim, labels, flags)
                                : vae_dataset_from_u8(&ds, samples, n, dim, labels, flags);
    FUZZ_ASSERT((s == VAE_OK) == valid);
    if (s != VAE_OK) {
        FUZZ_ASSERT(s == VAE_ERR_INVALID_ARGUMENT && ds == NULL);
        free(samples);
        free(labels);
        return 0;
    }
    FUZZ_ASSERT(vae_dataset_count(ds) == n && vae_dataset_dim(ds) == dim);
    if (with_labels) {
        int32_t max = 0;
        for (size_t i = 0; i < n; i++) max = labels[i] > max ? labels[i] : max;
        FUZZ_ASSERT(vae_dataset_num_classes(ds) == (size_t)max + 1);
    } else {
        FUZZ_ASSERT(vae_dataset_num_classes(ds) == 0 && vae_dataset_labels(ds) == NULL);
    }

    float *x = malloc(batch * dim * sizeof *x);
    int32_t *y = malloc(batch * sizeof *y);
    unsigned char *seen = calloc(n, 1);
    FUZZ_ASSERT(x && y && seen);
    /* vae_dataset_get: in range it copies, out of range it refuses. */
    const vae_status g = vae_dataset_get(ds, first, 1, x, with_labels ? y : NULL);
    FUZZ_ASSERT((g == VAE_OK) == (first < n));

    FUZZ_ASSERT(vae_dataset_shuffle(ds, seed) == VAE_OK);
    const size_t batches = (n + batch - 1) / batch;
    for (size_t b = 0; b < batches; b++) {
        size_t got = 0;
        FUZZ_ASSERT(vae_dataset_batch(ds, b, batch, x, with_labels ? y : NULL, &got) == VAE_OK);
        FUZZ_ASSERT(got == (b + 1 < batches ? batch : n - b * batch));
        /* Which sample is it? Find it by its contents' first match in the
         * not-yet-seen set: the values must equal that sample's. */
        for (size_t k = 0; k < got; k++) {
            size_t hit = n;
            for (size_t i = 0; i < n && hit == n; i++) {
                if (seen[i]) continue;
                int same = !with_labels || labels[i] == y[k];
                for (size_t j = 0; same && j < dim; j++) {
                    const float want = is_f32 ? ((const float *)samples)[i * dim + j]
                                              : (float)((const uint8_t *)samples)[i * dim + j] *
                                                    (1.0f / 255.0f);
                    same = memcmp(&want, &x[k * dim + j], sizeof want) == 0;
                }
                if (same) hit = i;
            }
            FUZZ_ASSERT(hit < n); /* a sample that was given, not seen before */
            seen[hit] = 1;
        }
    }
    size_t past = 0;
    FUZZ_ASSERT(vae_dataset_batch(ds, batches, batch, x, NULL, &past) == VAE_ERR_INVALID_ARGUMENT);
    free(seen);
    free(x);
    free(y);
    vae_dataset_free(ds);
    free(samples);
    free(labels);
    return 0;
}
