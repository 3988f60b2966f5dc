/*
 * vae-bench: the figures of docs/performance.md. For each compute backend
 * of this build and CPU it prints
 *   - GFLOP/s of the five large GEMMs of a training step of the lesson's
 *     model (batch 128, 784-400-2), with their real transposes, on 1 and 2
 *     threads;
 *   - the seconds per epoch of all eleven GEMMs of a step, 60,000 images;
 *   - the seconds of a training epoch of that model on 60,000 images: the
 *     best of epochs 2 to --repeat + 1 of one model (the first epoch of a
 *     fresh model is printed beside it);
 *   - the milliseconds of Adam's update of that model and of its
 *     finiteness test, on 1 and 2 threads;
 *   - encode and decode throughput in images per second;
 * then the peak resident memory of the process. Every figure is the best of
 * --repeat runs, because other work on the machine only ever slows a run;
 * the ratio of the training epoch to the GEMM-only one is also given round
 * by round (median and range), each round's two epochs run back to back.
 * Each figure is printed for each precision (--precision; VAE_PARAM_PRECISION),
 * and the epochs of both precisions run interleaved, repeat by repeat, so
 * that their ratios (printed at the end of each backend) see the same load.
 *
 * It times the GEMMs through the library's internal entry point (it links
 * the library's objects, as the internal tests do): the public API has no
 * GEMM call of its own. That is why it lives beside the tests and not in
 * examples/, whose programs use only <vae/vae.h>.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "kernels/kernels.h"

enum { BATCH = 128, D = 784, H = 400, L = 2, IMAGES = 60000 };

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* On a cache line, as the library's own arrays are (vaei_floats). */
static float *random_floats(size_t n)
{
    float *p = vaei_floats(n);
    if (!p) die("out of memory");
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(s >> 40) / (double)(1ull << 24)) - 0.5f;
    }
    return p;
}

typedef struct {
    const char *what;
    vae_transpose ta, tb;
    size_t m, n, k;
} shape;

/* The products of one step at batch b, in the order the model runs them:
 * forward encoder, head, decoder input and output layers; backward through
 * the decoder output, decoder input, head and encoder layer (dW = x^T g,
 * dx = g W^T; the encoder's input gradient is never needed). */
static size_t step_shapes(size_t b, shape *s)
{
    const shape all[] = {
        {"enc fwd    NN", VAE_NO_TRANS, VAE_NO_TRANS, b, H, D},
        {"head fwd   NN", VAE_NO_TRANS, VAE_NO_TRANS, b, 2 * L, H},
        {"dec in fwd NN", VAE_NO_TRANS, VAE_NO_TRANS, b, H, L},
        {"dec fwd    NN", VAE_NO_TRANS, VAE_NO_TRANS, b, D, H},
        {"dec dW     TN", VAE_TRANS, VAE_NO_TRANS, H, D, b},
        {"dec dx     NT", VAE_NO_TRANS, VAE_TRANS, b, H, D},
        {"dec in dW  TN", VAE_TRANS, VAE_NO_TRANS, L, H, b},
        {"dec in dz  NT", VAE_NO_TRANS, VAE_TRANS, b, L, H},
        {"head dW    TN", VAE_TRANS, VAE_NO_TRANS, H, 2 * L, b},
        {"head dx    NT", VAE_NO_TRANS, VAE_TRANS, b, H, 2 * L},
        {"enc dW     TN", VAE_TRANS, VAE_NO_TRANS, D, H, b},
    };
    memcpy(s, all, sizeof all);
    return sizeof all / sizeof all[0];
}

/* The five large ones, as the issue lists them. */
static const int large[5] = {0, 3, 10, 4, 5};

static float *buf_a, *buf_b, *buf_c;
static int precision; /* a vae_precision: of run() and new_model() */
static const char *const precision_names[] = {"fp32", "bf16"};

static void run(const shape *s)
{
    const size_t lda = s->ta == VAE_NO_TRANS ? s->k : s->m;
    const size_t ldb = s->tb == VAE_NO_TRANS ? s->n : s->k;
    if (vaei_gemm_prec(precision, s->ta, s->tb, s->m, s->n, s->k, 1.0f, buf_a, lda, buf_b, ldb,
                       0.0f, buf_c, s->n) != VAE_OK)
        die("gemm: %s", vae_last_error());
}

/* Best GFLOP/s over `repeat` runs of at least 0.1 s each, by the wall
 * clock and by the process's CPU time (*cpu: it leaves out the time other
 * processes held the cores, and counts the threads' waiting). */
static double gflops(const shape *s, int repeat, double *cpu)
{
    run(s);
    const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    double best = 0.0;
    *cpu = 0.0;
    for (int r = 0; r < repeat; r++) {
        int calls = 0;
        const double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        double t;
        do {
            run(s);
            calls++;
        } while ((t = now() - t0) < 0.1);
        const double c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (flop * calls / t * 1e-9 > best) best = flop * calls / t * 1e-9;
        if (flop * calls / c * 1e-9 > *cpu) *cpu = flop * calls / c * 1e-9;
    }
    return best;
}

/* Seconds of the GEMMs of one epoch: 468 steps of 128 and one of 96,
 * returned; the best so far in *best and the fewest CPU seconds in *cpu. */
static double gemm_epoch(double *best, double *cpu)
{
    shape full[16], last[16];
    const size_t ns = step_shapes(BATCH, full);
    step_shapes(IMAGES % BATCH, last);
    const double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t step = 0; step < IMAGES / BATCH; step++)
        for (size_t i = 0; i < ns; i++) run(&full[i]);
    for (size_t i = 0; i < ns; i++) run(&last[i]);
    const double t = now() - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (t < *best) *best = t;
    if (c < *cpu) *cpu = c;
    return t;
}

/* Milliseconds of one Adam step of the lesson's 631,188 parameters, the
 * best of `repeat` rounds of 50: the update, and its finiteness test with
 * the moments' maxima known (a pass over p and g; optim.c). Warm caches:
 * in a training step the four arrays come from memory. */
static void adam_step(int repeat, double *update, double *test)
{
    enum { NP = 631188 };
    float *p = random_floats(NP), *g = random_floats(NP), *m = vaei_floats(NP);
    float *v = vaei_floats(NP);
    if (!m || !v) die("out of memory");
    for (size_t i = 0; i < NP; i++) g[i] *= 1e-3f;
    const vaei_adam_args a = {p, m, v, g, 0.9f, 0.999f, 0.1f, 0.001f, 0.0f, 1e-8f, 1e-3f, 1.0f};
    vaei_moment_max known;
    vaei_adam(&a, NP, &known);
    *update = *test = 1e300;
    for (int r = 0; r < repeat; r++) {
        double t0 = now();
        for (int i = 0; i < 50; i++) vaei_adam(&a, NP, &known);
        const double tu = (now() - t0) / 50;
        t0 = now();
        for (int i = 0; i < 50; i++)
            if (vaei_adam_first_bad(&a, NP, &known) != NP) die("adam: not finite");
        const double tt = (now() - t0) / 50;
        if (tu < *update) *update = tu;
        if (tt < *test) *test = tt;
    }
    *update *= 1e3;
    *test *= 1e3;
    vaei_floats_free(p);
    vaei_floats_free(g);
    vaei_floats_free(m);
    vaei_floats_free(v);
}

static vae_model *new_model(void)
{
    vae_config *cfg;
    vae_model *m;
    cli_check(vae_config_create(&cfg), "config");
    cli_check(vae_config_set(cfg, VAE_PARAM_SEED, 1), "seed");
    cli_check(vae_config_set(cfg, VAE_PARAM_PRECISION, precision), "precision");
    cli_check(vae_model_create(&m, cfg), "model");
    vae_config_free(cfg);
    return m;
}

/* A model trained epoch after epoch, one per precision: the first epoch of
 * a fresh model is not the one users wait for. From the second on, Adam's
 * moments of the parameters that never get a gradient (a pixel that is
 * always 0) have decayed to their floor; before libvae flushed them at
 * FLT_MIN, those epochs ran 1.7-2.3x slower than the first on an Intel Xeon,
 * and a benchmark of the first epoch alone did not show it. */
typedef struct {
    vae_model *m;
    vae_optimizer *opt;
    double first; /* seconds of the fresh model's first epoch */
} trainer;

static double timed_epoch(trainer *tr, vae_dataset *ds, double *loss, double *cpu)
{
    vae_loss l;
    const double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    cli_check(vae_train_epoch(tr->m, tr->opt, ds, BATCH, NULL, NULL, &l), "epoch");
    *cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    *loss = l.total;
    return now() - t0;
}

/* One more epoch of tr (made and given its first epoch on the first call):
 * its seconds returned, the best so far in *best, the fewest CPU seconds
 * in *cpu. */
static double train_epoch(trainer *tr, vae_dataset *ds, double *best, double *loss, double *cpu)
{
    double c;
    if (!tr->m) {
        tr->m = new_model();
        cli_check(vae_optimizer_create(&tr->opt, tr->m, VAE_OPTIM_ADAM), "optimizer");
        tr->first = timed_epoch(tr, ds, loss, &c);
    }
    const double t = timed_epoch(tr, ds, loss, &c);
    if (t < *best) *best = t;
    if (c < *cpu) *cpu = c;
    return t;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void trainer_free(trainer *tr)
{
    vae_optimizer_free(tr->opt);
    vae_model_free(tr->m);
    tr->m = NULL;
    tr->opt = NULL;
}

/* Images per second of encode (x -> mu, logvar) and decode (z -> x). */
static void infer(vae_dataset *ds, int repeat, double *enc, double *dec)
{
    enum { N = 1000 };
    float *x = vaei_floats((size_t)N * D), *z = random_floats(2 * N * L);
    if (!x) die("out of memory");
    cli_check(vae_dataset_get(ds, 0, N, x, NULL), "images");
    vae_model *m = new_model();
    *enc = *dec = 0.0;
    for (int r = 0; r < repeat; r++) {
        int calls = 0;
        double t0 = now(), t;
        do {
            cli_check(vae_model_encode(m, x, NULL, N, z, z + N * L), "encode");
            calls++;
        } while ((t = now() - t0) < 0.2);
        if (N * calls / t > *enc) *enc = N * calls / t;
        calls = 0;
        t0 = now();
        do {
            cli_check(vae_model_decode(m, z, NULL, N, x), "decode");
            calls++;
        } while ((t = now() - t0) < 0.2);
        if (N * calls / t > *dec) *dec = N * calls / t;
    }
    vae_model_free(m);
    vaei_floats_free(x);
    vaei_floats_free(z);
}

static void usage(void)
{
    printf("Usage: vae-bench [options]\n\n"
           "Options:\n"
           "  --data DIR       Fashion-MNIST (or MNIST) IDX files for the epoch and\n"
           "                   inference figures [/usr/share/datasets/fashion-mnist]\n"
           "  --backend NAME   only this backend (repeatable) [every usable one]\n"
           "  --threads N      threads of the epoch and inference figures [2]\n"
           "  --repeat N       runs per figure; the best is printed [3]\n"
           "  --precision P    fp32, bf16 or both [both where the CPU has AVX512_BF16]\n"
           "  --bf16 PATH      the bf16 products' path: amx (tdpbf16ps), avx512bf16\n"
           "                   (vdpbf16ps) or auto [auto: amx where the CPU and OS allow it;\n"
           "                   also VAE_BF16]\n"
           "  --no-gemm        skip the GEMM figures\n"
           "  --no-train       skip the epoch and inference figures\n"
           "  --all-shapes     GFLOP/s of all eleven products of a step, not only the\n"
           "                   five large ones\n"
           "  --help           this text\n\n"
           "The reference backend (\"ref\") runs no epoch unless named with --backend:\n"
           "it takes minutes.\n");
}

int main(int argc, char **argv)
{
    cli_set_program("vae-bench");
    const char *data = "/usr/share/datasets/fashion-mnist", *only[16];
    size_t nonly = 0;
    int threads = 2, repeat = 3, do_gemm = 1, do_train = 1, all_shapes = 0;
    int precs[2] = {VAE_PRECISION_FP32, VAE_PRECISION_BF16}, nprec = 2;
    const char *want_prec = NULL, *bf16_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "--data"))) {
            data = v;
        } else if ((v = cli_value(argc, argv, &i, "--backend"))) {
            if (nonly == 16) die("--backend: at most 16");
            only[nonly++] = v;
        } else if ((v = cli_value(argc, argv, &i, "--threads"))) {
            threads = cli_int("--threads", v, 1, 1024);
        } else if ((v = cli_value(argc, argv, &i, "--repeat"))) {
            repeat = cli_int("--repeat", v, 1, 1000);
        } else if ((v = cli_value(argc, argv, &i, "--precision"))) {
            want_prec = v;
        } else if ((v = cli_value(argc, argv, &i, "--bf16"))) {
            bf16_path = v;
        } else if (strcmp(argv[i], "--no-gemm") == 0) {
            do_gemm = 0;
        } else if (strcmp(argv[i], "--no-train") == 0) {
            do_train = 0;
        } else if (strcmp(argv[i], "--all-shapes") == 0) {
            all_shapes = 1;
        } else {
            die("%s: unknown option (see --help)", argv[i]);
        }
    }

    {
        /* both: bf16 only where a model may take it */
        vae_config *probe;
        cli_check(vae_config_create(&probe), "config");
        const int bf16_ok = vae_config_set(probe, VAE_PARAM_PRECISION, VAE_PRECISION_BF16) == VAE_OK;
        vae_config_free(probe);
        if (!want_prec || strcmp(want_prec, "both") == 0) {
            nprec = bf16_ok ? 2 : 1;
        } else if (strcmp(want_prec, "fp32") == 0) {
            nprec = 1;
        } else if (strcmp(want_prec, "bf16") == 0) {
            if (!bf16_ok) die("--precision bf16: %s", vae_last_error());
            precs[0] = VAE_PRECISION_BF16;
            nprec = 1;
        } else {
            die("--precision %s: fp32, bf16 or both", want_prec);
        }
    }
    if (bf16_path) cli_check(vaei_bf16_select(bf16_path), "--bf16 %s", bf16_path);
    if (precs[nprec - 1] == VAE_PRECISION_BF16) printf("bf16 products on %s\n", vaei_bf16_path());

    const char *names[16];
    size_t nb = 0;
    if (nonly) {
        memcpy(names, only, nonly * sizeof *names);
        nb = nonly;
    } else {
        for (size_t i = 0; i < vae_backend_count() && nb < 16; i++) names[nb++] = vae_backend_name(i);
    }

    vae_dataset *ds = NULL;
    if (do_train) {
        char img[1024];
        if (cli_find_file(img, sizeof img, data, "train-images-idx3-ubyte") != 0)
            die("%s: no train-images-idx3-ubyte(.gz) there", data);
        cli_check(vae_dataset_load_idx(&ds, img, NULL, 0), "%s", img);
        if (vae_dataset_count(ds) != IMAGES || vae_dataset_dim(ds) != D)
            die("%s: expected %d images of %d pixels", img, IMAGES, D);
    }
    if (do_gemm) {
        buf_a = random_floats((size_t)D * H);
        buf_b = random_floats((size_t)D * H);
        buf_c = random_floats((size_t)D * H);
    }

    shape s[16];
    step_shapes(BATCH, s);
    for (size_t bi = 0; bi < nb; bi++) {
        cli_check(vae_backend_select(names[bi]), "--backend %s", names[bi]);
        printf("backend %s\n", names[bi]);
        double g_wall[2] = {1e300, 1e300}, g_cpu[2] = {1e300, 1e300};
        double t_wall[2] = {1e300, 1e300}, t_cpu[2] = {1e300, 1e300}, loss[2] = {0, 0};
        if (do_gemm) {
            for (int pi = 0; pi < nprec; pi++) {
                precision = precs[pi];
                for (int t = 1; t <= 2; t++) {
                    cli_check(vae_set_threads(t), "threads");
                    for (int i = 0; i < (all_shapes ? 11 : 5); i++) {
                        const shape *x = &s[all_shapes ? i : large[i]];
                        double cpu;
                        const double wall = gflops(x, repeat, &cpu);
                        printf("  %s gemm %s m=%-3zu n=%-3zu k=%-3zu threads=%d  %6.1f GFLOP/s",
                               precision_names[precision], x->what, x->m, x->n, x->k, t, wall);
                        /* At 2 threads, per CPU second of the process: below the
                         * 1-thread figure by what the threads waste (waiting,
                         * packing twice); the wall figure adds what other work
                         * on the machine takes from them. */
                        printf("  (%.1f per CPU second)", cpu);
                        printf("\n");
                        fflush(stdout);
                    }
                }
            }
        }
        if (do_gemm)
            for (int t = 1; t <= 2; t++) {
                cli_check(vae_set_threads(t), "threads");
                double update, test;
                adam_step(repeat, &update, &test);
                printf("  adam step of 631188 parameters threads=%d  update %.3f ms  "
                       "finiteness test %.3f ms\n", t, update, test);
            }
        const int train = do_train && (strcmp(names[bi], "ref") != 0 || nonly);
        cli_check(vae_set_threads(threads), "threads");
        /* The epochs, interleaved: repeat r of every figure before r + 1. */
        trainer tr[2] = {{0}};
        static double round_ratio[2][1000]; /* train / gemm-only, round by round */
        for (int r = 0; r < repeat; r++)
            for (int pi = 0; pi < nprec; pi++) {
                precision = precs[pi];
                double gw = 0.0, tw = 0.0;
                if (do_gemm) gw = gemm_epoch(&g_wall[pi], &g_cpu[pi]);
                if (train) tw = train_epoch(&tr[pi], ds, &t_wall[pi], &loss[pi], &t_cpu[pi]);
                if (do_gemm && train) round_ratio[pi][r] = tw / gw;
            }
        for (int pi = 0; pi < nprec; pi++) {
            precision = precs[pi];
            const char *pn = precision_names[precision];
            if (do_gemm)
                printf("  %s gemm-only epoch (11 products x 469 steps) threads=%d  %.3f s  (%.3f CPU s)\n",
                       pn, threads, g_wall[pi], g_cpu[pi]);
            if (train) {
                printf("  %s train epoch threads=%d  %.3f s  (%.3f CPU s; epochs 2 to %d, "
                       "loss %.2f nats/image; the first epoch %.3f s)\n",
                       pn, threads, t_wall[pi], t_cpu[pi], repeat + 1, loss[pi], tr[pi].first);
                trainer_free(&tr[pi]);
                double enc, dec;
                infer(ds, repeat, &enc, &dec);
                printf("  %s encode %.0f images/s  decode %.0f images/s  threads=%d\n", pn, enc,
                       dec, threads);
            }
            if (do_gemm && train) {
                /* Also the ratio of each round's two epochs, run back to
                 * back: a burst of load on the host then moves both. */
                qsort(round_ratio[pi], (size_t)repeat, sizeof round_ratio[pi][0], by_value);
                const double *rr = round_ratio[pi];
                printf("  %s train / gemm-only epoch  %.3f  (CPU s %.3f; round by round: median "
                       "%.3f, %.3f to %.3f)\n", pn, t_wall[pi] / g_wall[pi], t_cpu[pi] / g_cpu[pi],
                       repeat % 2 ? rr[repeat / 2] : 0.5 * (rr[repeat / 2 - 1] + rr[repeat / 2]),
                       rr[0], rr[repeat - 1]);
            }
            fflush(stdout);
        }
        if (nprec == 2 && train) {
            printf("  bf16 / fp32 train epoch  %.3f  (CPU s %.3f)", t_wall[1] / t_wall[0],
                   t_cpu[1] / t_cpu[0]);
            if (do_gemm) printf("  gemm-only %.3f  (CPU s %.3f)", g_wall[1] / g_wall[0], g_cpu[1] / g_cpu[0]);
            printf("\n");
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    vae_dataset_free(ds);
    vaei_floats_free(buf_a);
    vaei_floats_free(buf_b);
    vaei_floats_free(buf_c);
    return 0;
}
