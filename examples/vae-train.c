/*
 * vae-train: train the lesson's Variational Autoencoder on MNIST.
 *
 * The model of Kingma & Welling (2014) as the PyTorch example builds it:
 * 784 -> 400 ReLU -> 2-D latent -> 400 ReLU -> 784 Bernoulli, Adam 1e-3,
 * batch 128, 10 epochs. Prints a loss table, saves a checkpoint after every
 * epoch, and writes the losses as CSV and image grids of what the model
 * learned. It uses only the public API of libvae.
 *
 * The program's body, trainer_main() (examples/trainer.h), also runs on every
 * worker of vae-train-mpi, which compiles this file with VAE_TRAIN_NO_MAIN.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vae/vae.h>

#include "cli.h"
#include "image.h"
#include "trainer.h"

enum { MAX_HIDDEN = 16, PATH_SIZE = 4096 };

/* After the line "Usage: <program> [options]". */
static const char usage_text[] =
    "\n"
    "Train a Variational Autoencoder on MNIST-style IDX data (by default the\n"
    "lesson's model: 784-400-2, Bernoulli decoder, Adam 1e-3, batch 128, 10 epochs).\n"
    "Losses are in nats per image.\n"
    "\n"
    "Options:\n"
    "  --data DIR        directory holding train-images-idx3-ubyte, t10k-images-idx3-ubyte\n"
    "                    and optionally their -labels-idx1-ubyte files, each raw or .gz\n"
    "                    [" VAE_DATA_INSTALLED ",\n"
    "                    else examples/data/mnist-subset of the build's source tree]\n"
    "  --epochs N        total epochs to reach, counting those of --resume [10]\n"
    "  --batch N         images per training step [128]\n"
    "  --latent N        latent dimensions [2]\n"
    "  --hidden N[,N..]  hidden layer widths from the input inwards; the decoder mirrors\n"
    "                    them (512,256 gives 784-512-256-2-256-512-784) [400]\n"
    "  --lr X            Adam learning rate [1e-3]\n"
    "  --seed N          seeds initialisation, shuffling, noise and samples.png [1]\n"
    "  --threads N       threads of the matrix products [library default]\n"
    "  --backend NAME    compute backend: auto, ref, blas, ... [library default]\n"
    "  --out DIR         output directory, created if missing [vae-out]\n"
    "  --resume FILE     continue from a checkpoint (model and optimizer); its model\n"
    "                    replaces --latent, --hidden and --seed, and --lr changes its\n"
    "                    learning rate only when given\n"
    "  --quiet           no progress bar on stderr\n"
    "  --help            this text\n"
    "  --version         the library version\n";

/* After the program's own options, if any. */
static const char usage_files[] =
    "\n"
    "Written into the output directory:\n"
    "  model.vae            checkpoint, replaced atomically after every epoch\n"
    "  losses.csv           split,epoch,total,recon,kl,seconds: a train row per epoch,\n"
    "                       then a test row; a resumed run keeps the train rows up to\n"
    "                       the checkpoint's epoch and drops the rest\n"
    "  reconstructions.png  16 test images above their reconstructions\n"
    "  samples.png          64 decoded draws from the prior\n"
    "  manifold.png         with a 2-D latent: the decoder over a 20x20 grid of normal\n"
    "                       quantiles (.pgm instead of .png when built without libpng)\n"
    "\n"
    "Ctrl-C or SIGTERM stops after the current step, saves model.vae and exits with\n"
    "status 130. The steps of the unfinished epoch stay in the model; --resume runs\n"
    "that epoch again in full. A second Ctrl-C quits at once (model.vae stays whole).\n";

typedef struct options {
    const char *data, *out, *resume, *backend;
    uint64_t epochs, seed;
    size_t batch, latent;
    size_t hidden[MAX_HIDDEN], n_hidden;
    double lr;
    int lr_given; /* --lr overrides a resumed optimizer's rate only when given */
    int threads;  /* 0: the library's default */
    int quiet;
    int batch_given; /* else the default: 128 images per step over all workers */
    int done;        /* --help or --version: nothing more to do */
} options;

static options parse_args(int argc, char **argv, const trainer_workers *w)
{
    static char default_data[PATH_SIZE];
    options o = {.data = cli_default_data(default_data, sizeof default_data), .out = "vae-out", .epochs = 10, .seed = 1,
                 .batch = 128, .latent = 2, .hidden = {400}, .n_hidden = 1, .lr = 1e-3};
    const char *shape_flag = NULL; /* a flag that only a new model can honour */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (w->rank == 0) {
                printf("Usage: %s [options]\n%s%s%s", cli_program(), usage_text,
                       w->usage_extra ? w->usage_extra : "", usage_files);
            }
            o.done = 1;
            return o;
        } else if (!strcmp(a, "--version")) {
            if (w->rank == 0) printf("%s (libvae %s)\n", cli_program(), vae_version_string());
            o.done = 1;
            return o;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if ((v = cli_value(argc, argv, &i, "--data"))) {
            o.data = v;
        } else if ((v = cli_value(argc, argv, &i, "--out"))) {
            o.out = v;
        } else if ((v = cli_value(argc, argv, &i, "--resume"))) {
            o.resume = v;
        } else if ((v = cli_value(argc, argv, &i, "--backend"))) {
            o.backend = v;
        } else if ((v = cli_value(argc, argv, &i, "--epochs"))) {
            o.epochs = cli_uint64("--epochs", v, UINT64_MAX);
        } else if ((v = cli_value(argc, argv, &i, "--batch"))) {
            o.batch = cli_size("--batch", v, 1, SIZE_MAX);
            o.batch_given = 1;
        } else if ((v = cli_value(argc, argv, &i, "--threads"))) {
            o.threads = cli_int("--threads", v, 1, INT_MAX);
        } else if ((v = cli_value(argc, argv, &i, "--lr"))) {
            o.lr = cli_double("--lr", v);
            o.lr_given = 1;
        } else if ((v = cli_value(argc, argv, &i, "--latent"))) {
            o.latent = cli_size("--latent", v, 1, SIZE_MAX);
            shape_flag = "--latent";
        } else if ((v = cli_value(argc, argv, &i, "--hidden"))) {
            o.n_hidden = cli_size_list("--hidden", v, o.hidden, MAX_HIDDEN);
            shape_flag = "--hidden";
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            /* The library takes settings as double, exact up to 2^53. */
            o.seed = cli_uint64("--seed", v, UINT64_C(1) << 53);
            shape_flag = "--seed";
        } else if (!w->parse || !w->parse(w->ctx, argc, argv, &i)) {
            die("unknown argument '%s' (see --help)", a);
        }
    }
    if (o.resume && shape_flag)
        die("%s: the model comes from --resume %s; leave this flag out", shape_flag, o.resume);
    if (!o.batch_given) o.batch = (o.batch + (size_t)w->world - 1) / (size_t)w->world;
    return o;
}

/* Set by SIGINT/SIGTERM, polled by the progress callback. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_signals(int on)
{
    struct sigaction sa = {0};
    sa.sa_handler = on ? on_signal : SIG_DFL;
    /* SA_RESETHAND: a second Ctrl-C kills at once. That is safe even during a
     * save, as the library replaces model.vae atomically. */
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct progress {
    uint64_t epoch, epochs;
    int bar; /* draw a bar on stderr */
} progress;

static int on_progress(void *user, size_t batch, size_t batches, const vae_loss *loss)
{
    const progress *p = user;
    if (p->bar) {
        enum { WIDTH = 30 };
        int done = (int)((batch + 1) * WIDTH / batches);
        fprintf(stderr, "\repoch %" PRIu64 "/%" PRIu64 " [%.*s%*s] %zu/%zu  loss %.2f ", p->epoch,
                p->epochs, done, "##############################", WIDTH - done, "", batch + 1,
                batches, loss->total);
    }
    return stop_requested; /* nonzero: vae_train_epoch stops after this batch */
}

/* Library warnings (a backend falling back, say) are worth seeing; its errors
 * come back as statuses and are reported by cli_check. */
static void on_log(void *user, vae_log_level level, const char *msg)
{
    (void)user;
    if (level == VAE_LOG_WARN) fprintf(stderr, "%s: warning: %s\n", cli_program(), msg);
}

/* Wall-clock seconds, immune to clock changes. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Load <dir>/<split>-images-idx3-ubyte[.gz] with its labels when present. */
static vae_dataset *load_split(const char *dir, const char *split)
{
    char images[PATH_SIZE], labels[PATH_SIZE], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    if (cli_find_file(images, sizeof images, dir, name) != 0)
        die("--data %s: no %s[.gz] there", dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    int have_labels = cli_find_file(labels, sizeof labels, dir, name) == 0;

    vae_dataset *ds = NULL;
    cli_check(vae_dataset_load_idx(&ds, images, have_labels ? labels : NULL, 0), "--data");
    return ds;
}

static vae_model *create_model(const options *o, size_t dim)
{
    vae_config *cfg = NULL;
    vae_model *m = NULL;
    cli_check(vae_config_create(&cfg), "creating the model settings");
    cli_check(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, (double)dim), "input size %zu", dim);
    cli_check(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, (double)o->latent), "--latent");
    cli_check(vae_config_set(cfg, VAE_PARAM_SEED, (double)o->seed), "--seed");
    /* The decoder mirrors the encoder: 784-512-256-z-256-512-784. Its list
     * runs from the latent outwards, hence reversed. */
    size_t mirrored[MAX_HIDDEN];
    for (size_t i = 0; i < o->n_hidden; i++) mirrored[i] = o->hidden[o->n_hidden - 1 - i];
    cli_check(vae_config_set_hidden(cfg, VAE_ENCODER, o->hidden, o->n_hidden), "--hidden");
    cli_check(vae_config_set_hidden(cfg, VAE_DECODER, mirrored, o->n_hidden), "--hidden");
    cli_check(vae_model_create(&m, cfg), "creating the model");
    vae_config_free(cfg);
    return m;
}

/* Integer-valued model setting (the API passes settings as double). */
static size_t model_size(const vae_model *m, vae_param p)
{
    double v;
    cli_check(vae_model_get(m, p, &v), "reading a model setting");
    return (size_t)v;
}

/* One line saying what is about to run, e.g. "data: 8000 train + 2000 test
 * images of 784 pixels | model: 784-400-2-400-784, 631188 parameters | ...". */
static void print_setup(const vae_dataset *train, const vae_dataset *test, vae_model *m,
                        const trainer_workers *w, size_t batch)
{
    size_t enc[MAX_HIDDEN], dec[MAX_HIDDEN], n_enc, n_dec;
    cli_check(vae_model_hidden(m, VAE_ENCODER, enc, MAX_HIDDEN, &n_enc), "reading the model");
    cli_check(vae_model_hidden(m, VAE_DECODER, dec, MAX_HIDDEN, &n_dec), "reading the model");

    printf("data: %zu train + %zu test images of %zu pixels | model: %zu",
           vae_dataset_count(train), vae_dataset_count(test), vae_dataset_dim(train),
           model_size(m, VAE_PARAM_INPUT_DIM));
    for (size_t i = 0; i < n_enc && i < MAX_HIDDEN; i++) printf("-%zu", enc[i]);
    printf("-%zu", model_size(m, VAE_PARAM_LATENT_DIM));
    for (size_t i = 0; i < n_dec && i < MAX_HIDDEN; i++) printf("-%zu", dec[i]);
    printf("-%zu, %zu parameters | backend: %s | threads: %d\n",
           model_size(m, VAE_PARAM_INPUT_DIM), vae_model_param_count(m), vae_backend_active(),
           vae_get_threads());
    if (w->world > 1)
        printf("workers: %d x batch %zu = %zu images per step; threads are per worker\n",
               w->world, batch, (size_t)w->world * batch);
}

/* ---- losses.csv ---------------------------------------------------------- */

static const char csv_header[] = "split,epoch,total,recon,kl,seconds\n";

/* The train rows of an earlier losses.csv for epochs 1..done, as one string
 * (NULL when there is no such file or it is not ours), so that a resumed run
 * extends the history it continues and drops rows of epochs it will redo. */
static char *earlier_rows(const char *path, uint64_t done)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[256], *kept = NULL;
    size_t len = 0;
    int ours = fgets(line, sizeof line, f) && !strcmp(line, csv_header);
    while (ours && fgets(line, sizeof line, f)) {
        uint64_t epoch;
        if (sscanf(line, "train,%" SCNu64 ",", &epoch) != 1 || epoch < 1 || epoch > done)
            continue;
        size_t n = strlen(line);
        char *grown = realloc(kept, len + n + 1);
        if (!grown) die("%s: out of memory", path);
        kept = grown;
        memcpy(kept + len, line, n + 1);
        len += n;
    }
    fclose(f);
    return kept;
}

static FILE *open_losses(const char *path, uint64_t done)
{
    char *kept = done > 0 ? earlier_rows(path, done) : NULL;
    FILE *f = fopen(path, "w");
    if (!f) die("%s: %s", path, strerror(errno));
    fputs(csv_header, f);
    if (kept) fputs(kept, f);
    free(kept);
    return f;
}

static void write_row(FILE *csv, const char *path, const char *split, uint64_t epoch,
                      const vae_loss *l, double seconds)
{
    fprintf(csv, "%s,%" PRIu64 ",%.4f,%.4f,%.4f,%.3f\n", split, epoch, l->total, l->recon,
            l->kl, seconds);
    /* Flushed row by row, so an interrupted run keeps the epochs it finished. */
    if (fflush(csv) != 0) die("%s: %s", path, strerror(errno));
}

/* ---- images -------------------------------------------------------------- */

/*
 * Inverse of the standard normal CDF: Acklam's rational approximation
 * (relative error 1.2e-9), then one Halley step on erfc for full double
 * precision. p in (0, 1).
 */
static double inverse_normal_cdf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double p_low = 0.02425;
    double x;

    if (p < p_low || p > 1.0 - p_low) {
        /* tails: a rational function of sqrt(-2 log(tail mass)) */
        double q = sqrt(-2.0 * log(p < p_low ? p : 1.0 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
        if (p > 1.0 - p_low) x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    /* Halley: e = Phi(x) - p, u = e / phi(x), x -= u / (1 + x u / 2) */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2.0 * 3.14159265358979323846) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

static float *alloc_images(size_t n, size_t dim)
{
    float *p = dim && n > SIZE_MAX / sizeof(float) / dim ? NULL : malloc(n * dim * sizeof(float));
    if (!p) die("out of memory for %zu images", n);
    return p;
}

static void save_image_failed(const char *path)
{
    die("%s: %s", path, strerror(errno));
}

/* <out>/<stem>.png (or .pgm) into path. */
static void image_path(char *path, const char *out, const char *stem)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s", stem, image_extension());
    cli_join(path, PATH_SIZE, out, name);
}

static void write_images(vae_model *m, vae_dataset *test, const char *out)
{
    size_t dim = vae_dataset_dim(test), h, w;
    image_shape(dim, &h, &w);
    char path[PATH_SIZE];

    /* Originals in the top row, decode(encode(x).mu) below. */
    size_t n = vae_dataset_count(test) < 16 ? vae_dataset_count(test) : 16;
    float *x = alloc_images(n, dim), *y = alloc_images(n, dim);
    cli_check(vae_dataset_get(test, 0, n, x, NULL), "reading test images");
    cli_check(vae_model_reconstruct(m, x, NULL, n, y), "reconstructing test images");
    const float *rows[] = {x, y};
    image_path(path, out, "reconstructions");
    if (image_write_rows(path, rows, 2, n, h, w) != 0) save_image_failed(path);
    free(x);
    free(y);

    /* 64 draws z ~ N(0, I), seeded by the model's seed so reruns agree. */
    enum { SAMPLES = 64, GRID = 20 };
    float *s = alloc_images(SAMPLES, dim);
    double seed;
    cli_check(vae_model_get(m, VAE_PARAM_SEED, &seed), "reading the seed");
    cli_check(vae_model_sample(m, NULL, SAMPLES, (uint64_t)seed, s, NULL), "sampling");
    image_path(path, out, "samples");
    if (image_write_grid(path, s, SAMPLES, 8, h, w) != 0) save_image_failed(path);
    free(s);

    if (model_size(m, VAE_PARAM_LATENT_DIM) != 2) return;

    /* Kingma & Welling's figure 4: evenly spaced points of the unit square
     * mapped through the inverse normal CDF, so each cell holds the same
     * prior mass. z1 grows rightwards and z2 upwards, as on a plot. */
    float z[GRID * GRID * 2];
    for (size_t r = 0; r < GRID; r++) {
        for (size_t c = 0; c < GRID; c++) {
            z[2 * (r * GRID + c)] = (float)inverse_normal_cdf((c + 0.5) / GRID);
            z[2 * (r * GRID + c) + 1] = (float)inverse_normal_cdf(1.0 - (r + 0.5) / GRID);
        }
    }
    float *grid = alloc_images(GRID * GRID, dim);
    cli_check(vae_model_decode(m, z, NULL, GRID * GRID, grid), "decoding the latent grid");
    image_path(path, out, "manifold");
    if (image_write_grid(path, grid, GRID * GRID, GRID, h, w) != 0) save_image_failed(path);
    free(grid);
}

/* ---- main ---------------------------------------------------------------- */

/* Save what the interrupted run has learned (worker 0: the workers hold the
 * same model) and give the shell's code for "killed by Ctrl-C". */
static int stop_interrupted(const char *ckpt, vae_model *m, vae_optimizer *opt, int root)
{
    if (!root) return 130;
    cli_check(vae_checkpoint_save(ckpt, m, opt), "saving %s", ckpt);
    fprintf(stderr, "%s: interrupted; saved %s, epochs done: %" PRIu64
                    " (go on with --resume %s)\n",
            cli_program(), ckpt, vae_model_epochs(m), ckpt);
    return 130;
}

int trainer_main(int argc, char **argv, const char *program, const trainer_workers *w)
{
    static const trainer_workers alone = {.rank = 0, .world = 1};
    if (!w) w = &alone;
    const int root = w->rank == 0; /* the worker that prints and writes files */
    cli_set_program(program);
    options o = parse_args(argc, argv, w);
    if (o.done) return 0;

    /* Process-wide settings first: they apply to everything after. */
    if (!o.quiet) vae_log_set(on_log, NULL);
    if (o.backend) cli_check(vae_backend_select(o.backend), "--backend %s", o.backend);
    if (o.threads) cli_check(vae_set_threads(o.threads), "--threads %d", o.threads);

    vae_dataset *train = load_split(o.data, "train");
    vae_dataset *test = load_split(o.data, "t10k");
    size_t dim = vae_dataset_dim(train);
    if (vae_dataset_dim(test) != dim)
        die("--data %s: training images have %zu pixels but test images %zu", o.data, dim,
            vae_dataset_dim(test));

    vae_model *m = NULL;
    vae_optimizer *opt = NULL;
    if (o.resume) {
        cli_check(vae_checkpoint_load(o.resume, &m, &opt), "--resume");
        if (model_size(m, VAE_PARAM_INPUT_DIM) != dim)
            die("--resume %s: the model takes %zu pixels per image but --data %s has %zu",
                o.resume, model_size(m, VAE_PARAM_INPUT_DIM), o.data, dim);
        if (model_size(m, VAE_PARAM_COND_DIM) != 0)
            die("--resume %s: a conditional model; vae-train trains unconditional ones",
                o.resume);
    } else {
        m = create_model(&o, dim);
    }
    /* A checkpoint saved without optimizer state resumes with a fresh Adam. */
    if (!opt) {
        cli_check(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), "creating the optimizer");
        o.lr_given = 1;
    }
    if (o.lr_given) cli_check(vae_optimizer_set(opt, VAE_OPTIM_LR, o.lr), "--lr");
    /* From here on every worker holds worker 0's model and optimizer. */
    if (w->join) cli_check(w->join(w->ctx, opt), "joining the other workers");

    char ckpt[PATH_SIZE], csv_path[PATH_SIZE];
    cli_join(ckpt, sizeof ckpt, o.out, "model.vae");
    cli_join(csv_path, sizeof csv_path, o.out, "losses.csv");
    FILE *csv = NULL;
    if (root) {
        if (cli_make_dir(o.out) != 0) die("--out %s: %s", o.out, strerror(errno));
        csv = open_losses(csv_path, vae_model_epochs(m));
        print_setup(train, test, m, w, o.batch);
        if (o.resume)
            printf("resumed from %s after epoch %" PRIu64 "\n", o.resume, vae_model_epochs(m));
        printf("%5s %10s %10s %10s %8s\n", "epoch", "total", "recon", "kl", "seconds");
        fflush(stdout);
    }

    progress p = {.epochs = o.epochs, .bar = root && !o.quiet && isatty(STDERR_FILENO)};
    uint64_t first = vae_model_epochs(m) + 1;
    catch_signals(1);
    for (uint64_t e = first; e <= o.epochs; e++) {
        vae_loss mean;
        p.epoch = e;
        double t0 = now();
        vae_status s = vae_train_epoch(m, opt, train, o.batch, on_progress, &p, &mean);
        double seconds = now() - t0;
        if (p.bar) fputs("\r\033[K", stderr); /* erase the bar */
        if (s == VAE_ERR_CANCELLED) return stop_interrupted(ckpt, m, opt, root);
        cli_check(s, "epoch %" PRIu64, e);
        if (!root) continue;

        printf("%5" PRIu64 " %10.2f %10.2f %10.2f %8.2f\n", e, mean.total, mean.recon, mean.kl,
               seconds);
        fflush(stdout); /* rows appear as they come even through a pipe */
        write_row(csv, csv_path, "train", e, &mean, seconds);
        cli_check(vae_checkpoint_save(ckpt, m, opt), "saving %s", ckpt);
        /* One worker alone may stop between epochs; workers stop together,
         * inside vae_train_epoch. */
        if (stop_requested && w->world == 1) return stop_interrupted(ckpt, m, opt, root);
    }
    /* Past this point the checkpoint is complete: Ctrl-C may simply kill. */
    catch_signals(0);
    if (stop_requested && w->world == 1) return stop_interrupted(ckpt, m, opt, root);
    if (root && vae_model_epochs(m) < first) /* nothing left to train: still leave a checkpoint */
        cli_check(vae_checkpoint_save(ckpt, m, opt), "saving %s", ckpt);

    if (root) {
        vae_loss loss;
        double t0 = now();
        cli_check(vae_model_evaluate(m, test, &loss), "evaluating on the test set");
        double seconds = now() - t0;
        printf("%5s %10.2f %10.2f %10.2f %8.2f\n", "test", loss.total, loss.recon, loss.kl,
               seconds);
        write_row(csv, csv_path, "test", vae_model_epochs(m), &loss, seconds);
        if (fclose(csv) != 0) die("%s: %s", csv_path, strerror(errno));

        write_images(m, test, o.out);
        printf("wrote model.vae, losses.csv and the %s images into %s\n", image_extension() + 1,
               o.out);
    }

    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_dataset_free(test);
    vae_dataset_free(train);
    return 0;
}

#ifndef VAE_TRAIN_NO_MAIN
int main(int argc, char **argv)
{
    return trainer_main(argc, argv, "vae-train", NULL);
}
#endif
