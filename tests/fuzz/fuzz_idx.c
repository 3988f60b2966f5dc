/*
 * Fuzz the IDX reader (raw and gzip) through its memory entry point, which
 * shares every line of parsing with the file path. What it loads must be
 * consistent, and must make a dataset whose samples are the bytes read.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "fuzz.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vaei_idx idx = {.ndims = 99};
    const vae_status s = vaei_idx_read_mem(data, size, "fuzz", VAEI_DATASET_DEFAULT_CAP, &idx);
    if (s != VAE_OK) {
        FUZZ_ASSERT(s == VAE_ERR_FORMAT || s == VAE_ERR_LIMIT || s == VAE_ERR_OUT_OF_MEMORY);
        FUZZ_ASSERT(strncmp(vae_last_error(), "fuzz: ", 6) == 0);
        FUZZ_ASSERT(idx.ndims == 99 && idx.data == NULL); /* untouched */
        return 0;
    }
    FUZZ_ASSERT(idx.ndims >= 1 && idx.ndims <= VAEI_IDX_MAX_DIMS);
    size_t count = 1;
    for (unsigned i = 0; i < idx.ndims; i++) count *= idx.dims[i];
    FUZZ_ASSERT(count == idx.count);
    /* Raw input holds header and data exactly; gzip inflates to them. */
    const size_t header = 4 + 4 * (size_t)idx.ndims;
    if (size >= 2 && data[0] == 0) {
        FUZZ_ASSERT(size == header + idx.count);
        FUZZ_ASSERT(memcmp(idx.data, data + header, idx.count) == 0);
    }

    /* As vae_dataset_load_idx would use it: n samples of count / n bytes. */
    const size_t n = idx.dims[0], dim = idx.count / n;
    vae_dataset *ds = NULL;
    FUZZ_ASSERT(vae_dataset_from_u8(&ds, idx.data, n, dim, NULL, VAE_DATASET_BORROW) == VAE_OK);
    float *x = malloc(dim * sizeof *x);
    FUZZ_ASSERT(x != NULL);
    const size_t last = n - 1;
    size_t got = 0;
    FUZZ_ASSERT(vae_dataset_batch(ds, last, 1, x, NULL, &got) == VAE_OK && got == 1);
    for (size_t j = 0; j < dim; j++)
        FUZZ_ASSERT(x[j] == (float)idx.data[last * dim + j] * (1.0f / 255.0f));
    free(x);
    vae_dataset_free(ds);
    free(idx.data);
    return 0;
}
