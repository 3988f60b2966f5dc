/*
 * vae-bench-conv: seconds per epoch (60,000 images, batch 128) of training
 * the reference convolutional network of docs/variants.md, through the
 * public API. Times --steps training steps on synthetic images in [0, 1],
 * --repeat times, and reports the best (other work on the machine only ever
 * slows a run), the wall and the process CPU seconds, and the GFLOP/s of
 * the 1.24 TFLOP an epoch takes.
 *
 *   vae-bench-conv [--threads N] [--backend NAME] [--steps N] [--repeat N] [--latent N]
 *                  [--precision fp32|bf16]
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <vae/vae.h>

#include "cli.h"

enum { BATCH = 128, IMAGES = 60000, D = 784 };

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    cli_set_program("vae-bench-conv");
    int threads = 2;
    size_t steps = 20, repeat = 5, latent = 2;
    const char *backend = "auto";
    static const char *const precisions[] = {"fp32", "bf16"}; /* vae_precision order */
    int precision = VAE_PRECISION_FP32;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = cli_value(argc, argv, &i, "--threads"))) threads = cli_int("--threads", v, 1, 256);
        else if ((v = cli_value(argc, argv, &i, "--steps"))) steps = cli_size("--steps", v, 1, 100000);
        else if ((v = cli_value(argc, argv, &i, "--repeat"))) repeat = cli_size("--repeat", v, 1, 1000);
        else if ((v = cli_value(argc, argv, &i, "--latent"))) latent = cli_size("--latent", v, 1, 4096);
        else if ((v = cli_value(argc, argv, &i, "--backend"))) backend = v;
        else if ((v = cli_value(argc, argv, &i, "--precision")))
            precision = cli_pick("--precision", v, precisions, 2);
        else die("unknown argument '%s'", argv[i]);
    }
    cli_check(vae_backend_select(backend), "--backend");
    cli_check(vae_set_threads(threads), "--threads");
    vae_config *cfg;
    vae_model *m;
    vae_optimizer *opt;
    cli_check(vae_config_create(&cfg), "config");
    cli_check(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, (double)latent), "--latent");
    cli_check(vae_config_set_layers(cfg, VAE_ENCODER, "conv:32:4:2:1,relu,conv:64:4:2:1,relu"),
              "encoder");
    cli_check(vae_config_set_layers(cfg, VAE_DECODER, "dense:3136,relu,reshape:64:7:7,"
                                    "deconv:32:4:2:1,relu,deconv:1:4:2:1"), "decoder");
    cli_check(vae_model_create(&m, cfg), "model");
    vae_config_free(cfg);
    cli_check(vae_model_set(m, VAE_PARAM_PRECISION, precision), "--precision");
    cli_check(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), "optimizer");
    float *x = malloc(BATCH * D * sizeof *x);
    if (!x) die("out of memory");
    for (size_t i = 0; i < BATCH * D; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    vae_loss loss;
    cli_check(vae_model_train_step(m, opt, x, NULL, BATCH, &loss), "warm-up step");
    double best = 1e30, best_cpu = 0;
    for (size_t r = 0; r < repeat; r++) {
        const double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (size_t s = 0; s < steps; s++)
            cli_check(vae_model_train_step(m, opt, x, NULL, BATCH, &loss), "step");
        const double t = clock_s(CLOCK_MONOTONIC) - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (t < best) best = t, best_cpu = c;
    }
    const double per_epoch = best / (double)steps * ((IMAGES + BATCH - 1) / BATCH);
    printf("backend %s, %s, %d threads, latent %zu: %.2f s per epoch of %d images "
           "(best of %zu x %zu steps; CPU %.2f s per epoch), %.0f GFLOP/s of 1.24 TFLOP\n",
           vae_backend_active(), precisions[precision],
           vae_get_threads(), latent, per_epoch, IMAGES, repeat, steps,
           best_cpu / (double)steps * ((IMAGES + BATCH - 1) / BATCH), 1240.0 / per_epoch);
    free(x);
    vae_optimizer_free(opt);
    vae_model_free(m);
    return 0;
}
