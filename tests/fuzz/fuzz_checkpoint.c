/*
 * Fuzz the checkpoint reader through its memory entry point (the file path
 * only reads the file and calls it). A file it accepts must give a model
 * that works: encode, decode and a training step run without a memory
 * error, and the step either succeeds or reports a numerical fault.
 *
 * A mutated file almost never keeps a valid CRC-32, so each input is also
 * parsed with its last four bytes set to the right CRC: that lets the
 * fuzzer past the checksum into the chunk parser.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "checkpoint.h"
#include "fuzz.h"

/* Inputs beyond this are not worth the time: real models need far more,
 * and the parser's paths are all reached by small files. */
#define MAX_BYTES ((size_t)1 << 20)

static void check(const uint8_t *data, size_t size)
{
    vae_model *const model_sentinel = (vae_model *)&size;
    vae_optimizer *const opt_sentinel = (vae_optimizer *)&data;
    vae_model *m = model_sentinel;
    vae_optimizer *opt = opt_sentinel;
    const vae_status s = vaei_checkpoint_parse(data, size, "fuzz", &m, &opt);
    if (s != VAE_OK) {
        FUZZ_ASSERT(s == VAE_ERR_FORMAT || s == VAE_ERR_UNSUPPORTED ||
                    s == VAE_ERR_OUT_OF_MEMORY);
        FUZZ_ASSERT(strncmp(vae_last_error(), "fuzz: ", 6) == 0);
        FUZZ_ASSERT(m == model_sentinel && opt == opt_sentinel);
        return;
    }
    FUZZ_ASSERT(m != NULL && m != model_sentinel && opt != opt_sentinel);

    double d, l, c;
    FUZZ_ASSERT(vae_model_get(m, VAE_PARAM_INPUT_DIM, &d) == VAE_OK);
    FUZZ_ASSERT(vae_model_get(m, VAE_PARAM_LATENT_DIM, &l) == VAE_OK);
    FUZZ_ASSERT(vae_model_get(m, VAE_PARAM_COND_DIM, &c) == VAE_OK);
    const size_t D = (size_t)d, L = (size_t)l, C = (size_t)c, n = 2;
    const float *params = vae_model_params(m);
    for (size_t i = 0; i < vae_model_param_count(m); i++) FUZZ_ASSERT(isfinite(params[i]));

    float *x = calloc(n * D, sizeof *x), *y = calloc(n * D, sizeof *y);
    float *cond = C ? calloc(n * C, sizeof *cond) : NULL;
    float *mu = calloc(n * L, sizeof *mu), *lv = calloc(n * L, sizeof *lv);
    FUZZ_ASSERT(x && y && mu && lv && (!C || cond));
    for (size_t i = 0; i < n * D; i++) x[i] = (float)(i % 3) * 0.5f; /* 0, .5, 1 */
    if (C) cond[0] = cond[C] = 1.0f;
    vae_status r = vae_model_encode(m, x, cond, n, mu, lv);
    FUZZ_ASSERT(r == VAE_OK);
    double lo, hi;
    FUZZ_ASSERT(vae_model_get(m, VAE_PARAM_LOGVAR_MIN, &lo) == VAE_OK);
    FUZZ_ASSERT(vae_model_get(m, VAE_PARAM_LOGVAR_MAX, &hi) == VAE_OK);
    /* The clamp holds whatever the weights (NaN aside: a clamp cannot fix it). */
    for (size_t i = 0; i < n * L; i++) FUZZ_ASSERT(isnan(lv[i]) || (lv[i] >= lo && lv[i] <= hi));
    FUZZ_ASSERT(vae_model_decode(m, mu, cond, n, y) == VAE_OK);
    /* Counters are below the value that would wrap at the next increment. */
    FUZZ_ASSERT(vae_model_steps(m) < UINT64_MAX && vae_model_epochs(m) < UINT64_MAX);
    if (opt) {
        /* A step commits only finite parameters; a refused one changes
         * nothing (whatever moments and settings the file held). */
        const size_t np = vae_model_param_count(m);
        float *before = malloc(np * sizeof *before);
        FUZZ_ASSERT(before != NULL);
        memcpy(before, params, np * sizeof *before);
        const uint64_t steps = vae_model_steps(m);
        r = vae_model_train_step(m, opt, x, cond, n, NULL);
        FUZZ_ASSERT(r == VAE_OK || r == VAE_ERR_NUMERIC);
        for (size_t i = 0; i < np; i++) FUZZ_ASSERT(isfinite(params[i]));
        if (r != VAE_OK) {
            FUZZ_ASSERT(memcmp(before, params, np * sizeof *before) == 0);
            FUZZ_ASSERT(vae_model_steps(m) == steps);
        }
        free(before);
    }
    free(x);
    free(y);
    free(cond);
    free(mu);
    free(lv);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_BYTES) return 0;
    check(data, size);
    if (size < 16) return 0; /* magic, version, CRC: anything shorter is refused before */
    uint8_t *fixed = malloc(size);
    FUZZ_ASSERT(fixed != NULL);
    memcpy(fixed, data, size);
    const uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    check(fixed, size);
    free(fixed);
    return 0;
}
