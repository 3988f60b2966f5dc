/*
 * conv-gemms: GFLOP/s of each product of a training step of the reference
 * convolutional network (docs/variants.md, section 7; batch 128), alone,
 * through the library's internal GEMM entry point, on 1 and 2 threads.
 * These are the shapes vae-bench-conv times together in a whole step: the
 * column matrices of the 32- and 64-channel layers (6272 or 25088 rows)
 * against weights of 16 to 512 rows or columns. Each figure is the best of
 * --repeat runs, because other work on the machine only ever slows a run.
 *
 *   conv-gemms [--backend NAME] [--repeat N] [--precision fp32|bf16] [--bf16 PATH]
 * (--precision bf16: the bfloat16 products, on the path --bf16 names: amx,
 * avx512bf16 or auto.)
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kernels/kernels.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const char *what;
    vae_transpose ta, tb;
    size_t m, n, k;
} shape;

/* conv1 1->32 and conv2 32->64 (k4 s2 p1, 28->14->7), deconv1 64->32 and
 * deconv2 32->1 (7->14->28), at batch 128: forward, dW and dX (layers.c). */
static const shape shapes[] = {
    {"conv1 forward", VAE_NO_TRANS, VAE_NO_TRANS, 25088, 32, 16},
    {"conv1 dW", VAE_TRANS, VAE_NO_TRANS, 16, 32, 25088},
    {"conv2 forward", VAE_NO_TRANS, VAE_NO_TRANS, 6272, 64, 512},
    {"conv2 dW", VAE_TRANS, VAE_NO_TRANS, 512, 64, 6272},
    {"conv2 dX", VAE_NO_TRANS, VAE_TRANS, 6272, 512, 64},
    {"deconv1 forward", VAE_NO_TRANS, VAE_NO_TRANS, 6272, 512, 64},
    {"deconv1 dW", VAE_TRANS, VAE_NO_TRANS, 64, 512, 6272},
    {"deconv1 dX", VAE_NO_TRANS, VAE_TRANS, 6272, 64, 512},
    {"deconv2 forward", VAE_NO_TRANS, VAE_NO_TRANS, 25088, 16, 32},
    {"deconv2 dW", VAE_TRANS, VAE_NO_TRANS, 32, 16, 25088},
    {"deconv2 dX", VAE_NO_TRANS, VAE_TRANS, 25088, 32, 16},
};

enum { MAX_FLOATS = 25088 * 512 };

int main(int argc, char **argv)
{
    cli_set_program("conv-gemms");
    const char *backend = "avx512";
    size_t repeat = 20;
    int precision = VAE_PRECISION_FP32;
    const char *bf16 = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = cli_value(argc, argv, &i, "--backend"))) backend = v;
        else if ((v = cli_value(argc, argv, &i, "--repeat"))) repeat = cli_size("--repeat", v, 1, 10000);
        else if ((v = cli_value(argc, argv, &i, "--precision")))
            precision = strcmp(v, "bf16") == 0 ? VAE_PRECISION_BF16 : VAE_PRECISION_FP32;
        else if ((v = cli_value(argc, argv, &i, "--bf16"))) bf16 = v;
        else die("unknown argument '%s'", argv[i]);
    }
    cli_check(vae_backend_select(backend), "--backend %s", backend);
    if (bf16) cli_check(vaei_bf16_select(bf16), "--bf16 %s", bf16);
    if (precision == VAE_PRECISION_BF16 && !vaei_bf16_sgemm()) die("--precision bf16: no bfloat16 path here");
    float *a = malloc(MAX_FLOATS * sizeof *a), *b = malloc(MAX_FLOATS * sizeof *b);
    float *c = malloc(MAX_FLOATS * sizeof *c);
    if (!a || !b || !c) die("out of memory");
    for (size_t i = 0; i < MAX_FLOATS; i++) {
        a[i] = (float)(i % 97) * 0.01f - 0.5f;
        b[i] = (float)(i % 89) * 0.01f - 0.5f;
    }
    printf("backend %s, %s%s, best of %zu\n", vae_backend_active(),
           precision == VAE_PRECISION_BF16 ? "bf16 on " : "fp32",
           precision == VAE_PRECISION_BF16 ? vaei_bf16_path() : "", repeat);
    for (int threads = 1; threads <= 2; threads++) {
        cli_check(vae_set_threads(threads), "threads");
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const shape *p = &shapes[s];
            const size_t lda = p->ta == VAE_NO_TRANS ? p->k : p->m;
            const size_t ldb = p->tb == VAE_NO_TRANS ? p->n : p->k;
            double best = 1e30;
            for (size_t r = 0; r < repeat; r++) {
                const double t0 = now();
                cli_check(vaei_gemm_prec(precision, p->ta, p->tb, p->m, p->n, p->k, 1.0f, a, lda,
                                         b, ldb, 0.0f, c, p->n),
                          "%s", p->what);
                const double t = now() - t0;
                if (t < best) best = t;
            }
            printf("  %-16s %s%s m=%-5zu n=%-3zu k=%-5zu threads=%d  %7.3f ms  %6.1f GFLOP/s\n",
                   p->what, p->ta == VAE_NO_TRANS ? "N" : "T", p->tb == VAE_NO_TRANS ? "N" : "T",
                   p->m, p->n, p->k, threads, best * 1e3,
                   2.0 * (double)p->m * (double)p->n * (double)p->k / best * 1e-9);
        }
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
