/*
 * The body of vae-train (examples/trainer.h): its flags, the training
 * loop, the checkpoints and the outputs, for one worker or for each worker
 * of vae-train-mpi. Prints a loss table, saves a checkpoint after every
 * epoch, and writes the losses as CSV and image grids of what the model
 * learned. It uses only the public API of libvae.
 *
 * The command line lives in train-options.c, the image grids in
 * train-images.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
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
#include "train-images.h"
#include "train-options.h"
#include "trainer.h"

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

/* How the backend was chosen, for the first line: the library says it at
 * INFO when it first needs one ("backend avx512, measured on the lesson's
 * products at 2 threads (avx512 1.10 ms, avx2 2.78 ms, blas 3.06 ms; ...").
 * --backend fills it in itself. */
static char backend_why[160];
static int show_warnings = 1;

/* Library warnings (a backend falling back, say) are worth seeing; its errors
 * come back as statuses and are reported by cli_check. */
static void on_log(void *user, vae_log_level level, const char *msg)
{
    (void)user;
    if (level == VAE_LOG_WARN && show_warnings)
        fprintf(stderr, "%s: warning: %s\n", cli_program(), msg);
    if (level != VAE_LOG_INFO || strncmp(msg, "backend ", 8) != 0) return;
    const char *open = strchr(msg, '('), *end = open ? strchr(open, ';') : NULL;
    if (strstr(msg, ", measured") && open && end)
        snprintf(backend_why, sizeof backend_why, "fastest of %.*s", (int)(end - open - 1), open + 1);
    else if (strstr(msg, "VAE_BACKEND"))
        snprintf(backend_why, sizeof backend_why, "VAE_BACKEND");
}

/* Wall-clock seconds, immune to clock changes. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Load <dir>/<split>-images-idx3-ubyte[.gz] with its labels when present,
 * refusing more than max_bytes of pixels (0: the library's cap). */
static vae_dataset *load_split(const char *dir, const char *split, uint64_t max_bytes)
{
    char images[PATH_SIZE], labels[PATH_SIZE], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
    if (cli_find_file(images, sizeof images, dir, name) != 0)
        die("--data %s: no %s[.gz] there", dir, name);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
    int have_labels = cli_find_file(labels, sizeof labels, dir, name) == 0;

    vae_dataset *ds = NULL;
    cli_check(vae_dataset_load_idx(&ds, images, have_labels ? labels : NULL, max_bytes), "--data");
    return ds;
}

/* One line saying what is about to run, e.g. "data: 8000 train + 2000 test
 * images of 784 pixels | model: 784-400-2-400-784, 631188 parameters | ...". */
static void print_setup(const vae_dataset *train, const vae_dataset *val,
                        const vae_dataset *test, vae_model *m, const trainer_workers *w,
                        size_t batch)
{
    size_t enc[MAX_HIDDEN], dec[MAX_HIDDEN], n_enc, n_dec;
    cli_check(vae_model_hidden(m, VAE_ENCODER, enc, MAX_HIDDEN, &n_enc), "reading the model");
    cli_check(vae_model_hidden(m, VAE_DECODER, dec, MAX_HIDDEN, &n_dec), "reading the model");

    printf("data: %zu train + ", vae_dataset_count(train));
    if (val) printf("%zu validation + ", vae_dataset_count(val));
    printf("%zu test images of %zu pixels | model: %zu", vae_dataset_count(test),
           vae_dataset_dim(train), model_size(m, VAE_PARAM_INPUT_DIM));
    const char *enc_spec = vae_model_layers(m, VAE_ENCODER);
    const char *dec_spec = vae_model_layers(m, VAE_DECODER);
    if (enc_spec[0]) printf("-[%s]", enc_spec);
    for (size_t i = 0; !enc_spec[0] && i < n_enc && i < MAX_HIDDEN; i++) printf("-%zu", enc[i]);
    printf("-%zu", model_size(m, VAE_PARAM_LATENT_DIM));
    if (model_size(m, VAE_PARAM_COND_DIM))
        printf("(+%zu classes)", model_size(m, VAE_PARAM_COND_DIM));
    if (dec_spec[0]) printf("-[%s]", dec_spec);
    for (size_t i = 0; !dec_spec[0] && i < n_dec && i < MAX_HIDDEN; i++) printf("-%zu", dec[i]);
    const char *backend = vae_backend_active(); /* the first use: auto measures here */
    printf("-%zu, %zu parameters | backend: %s%s%s%s | threads: %d\n",
           model_size(m, VAE_PARAM_INPUT_DIM), vae_model_param_count(m), backend,
           backend_why[0] ? " (" : "", backend_why, backend_why[0] ? ")" : "", vae_get_threads());
    if (w->world > 1)
        printf("workers: %d x batch %zu = %zu images per step; threads are per worker\n",
               w->world, batch, (size_t)w->world * batch);
}

/* ---- losses.csv ---------------------------------------------------------- */

static const char csv_header[] = "split,epoch,total,recon,kl,seconds\n";

/* The train and val rows of an earlier losses.csv for epochs 1..done, as one string
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
        if ((sscanf(line, "train,%" SCNu64 ",", &epoch) != 1 &&
             sscanf(line, "val,%" SCNu64 ",", &epoch) != 1) ||
            epoch < 1 || epoch > done)
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

/* ---- the training loop ---------------------------------------------------- */

typedef struct run {
    const options *o;
    const trainer_workers *w;
    int root;               /* the worker that prints and writes files */
    vae_model *m;
    vae_optimizer *opt;
    vae_dataset *train, *val;
    FILE *csv;
    char ckpt[PATH_SIZE], best_path[PATH_SIZE], csv_path[PATH_SIZE];
    int show_weight;        /* a KL schedule is on: print the weight in force */
    double best_val;        /* the lowest validation loss so far */
    uint64_t best_epoch;    /* its epoch; 0 before the first */
} run;

static void print_header(const run *r)
{
    printf("%5s %10s %10s %10s", "epoch", "total", "recon", "kl");
    if (r->show_weight) printf(" %8s", "kl_w");
    if (r->val) printf(" %10s", "val");
    printf(" %8s %8s\n", "seconds", "save");
    fflush(stdout);
}

/* Early stopping's bookkeeping after epoch e's validation loss; returns 1 to
 * stop. Every worker holds the same model, so all of them decide alike. */
static int watch_validation(run *r, uint64_t e, double val_total, uint64_t *stale)
{
    if (val_total < r->best_val) {
        r->best_val = val_total;
        r->best_epoch = e;
        *stale = 0;
        if (r->root)
            cli_check(vae_checkpoint_save(r->best_path, r->m, r->opt), "saving %s", r->best_path);
        return 0;
    }
    return r->o->patience && ++*stale >= r->o->patience;
}

/* Train up to o->epochs, or until early stopping; returns 0, or 130 after
 * Ctrl-C / SIGTERM (the checkpoint saved). */
static int train_epochs(run *r)
{
    const options *o = r->o;
    progress p = {.epochs = o->epochs, .bar = r->root && !o->quiet && isatty(STDERR_FILENO)};
    uint64_t first = vae_model_epochs(r->m) + 1, stale = 0;
    catch_signals(1);
    for (uint64_t e = first; e <= o->epochs; e++) {
        vae_loss mean, val;
        p.epoch = e;
        double t0 = now();
        vae_status s = vae_train_epoch(r->m, r->opt, r->train, o->batch, on_progress, &p, &mean);
        double seconds = now() - t0;
        if (p.bar) fputs("\r\033[K", stderr); /* erase the bar */
        /* A stop after the last batch cancels too, but that epoch is whole
         * and counted: record it like any other, then stop below. */
        if (s == VAE_ERR_CANCELLED && vae_model_epochs(r->m) < e)
            return stop_interrupted(r->ckpt, r->m, r->opt, r->root);
        const int stopped = s == VAE_ERR_CANCELLED; /* every worker agreed */
        if (stopped) s = VAE_OK;
        cli_check(s, "epoch %" PRIu64, e);
        if (r->val) cli_check(vae_model_evaluate(r->m, r->val, &val), "validating epoch %" PRIu64, e);

        if (r->root) {
            /* The rows go before the checkpoint: a resume drops rows past
             * its epoch, never misses one. "seconds" is vae_train_epoch's
             * alone; "save" the checkpoint's (its fsync waits for the disk). */
            write_row(r->csv, r->csv_path, "train", e, &mean, seconds);
            if (r->val) write_row(r->csv, r->csv_path, "val", e, &val, 0.0);
            const double t1 = now();
            cli_check(vae_checkpoint_save(r->ckpt, r->m, r->opt), "saving %s", r->ckpt);
            const double save_s = now() - t1;
            printf("%5" PRIu64 " %10.2f %10.2f %10.2f", e, mean.total, mean.recon, mean.kl);
            /* the mean weight over the epoch's steps */
            if (r->show_weight) printf(" %8.3f", mean.kl_weight);
            if (r->val) printf(" %10.2f", val.total);
            printf(" %8.2f %8.2f\n", seconds, save_s);
            fflush(stdout); /* rows appear as they come even through a pipe */
        }
        /* One worker alone may stop between epochs; workers stop together,
         * inside vae_train_epoch. */
        if (stopped || (stop_requested && r->w->world == 1))
            return stop_interrupted(r->ckpt, r->m, r->opt, r->root);
        if (r->val && watch_validation(r, e, val.total, &stale)) {
            if (r->root)
                printf("early stop: no better validation loss for %" PRIu64 " epochs\n", stale);
            break;
        }
    }
    /* Past this point the checkpoint is complete: Ctrl-C may simply kill. */
    catch_signals(0);
    if (stop_requested && r->w->world == 1) return stop_interrupted(r->ckpt, r->m, r->opt, r->root);
    if (r->root && vae_model_epochs(r->m) < first) /* nothing left to train: still leave a checkpoint */
        cli_check(vae_checkpoint_save(r->ckpt, r->m, r->opt), "saving %s", r->ckpt);
    return 0;
}

/* The test loss, the active units and, when asked, the IWAE estimate. */
static void report_test(run *r, vae_dataset *test)
{
    vae_loss loss;
    double t0 = now();
    cli_check(vae_model_evaluate(r->m, test, &loss), "evaluating on the test set");
    double seconds = now() - t0;
    printf("%5s %10.2f %10.2f %10.2f", "test", loss.total, loss.recon, loss.kl);
    if (r->show_weight) printf(" %8s", "");
    if (r->val) printf(" %10s", "");
    printf(" %8.2f\n", seconds);
    write_row(r->csv, r->csv_path, "test", vae_model_epochs(r->m), &loss, seconds);
    const int closed = fclose(r->csv);
    r->csv = NULL;
    if (closed != 0) die("%s: %s", r->csv_path, strerror(errno));

    /* Burda et al.'s criterion: Var_x E_q[z_j | x] > 0.01. */
    enum { SHOWN = 32 };
    const size_t L = model_size(r->m, VAE_PARAM_LATENT_DIM);
    size_t active;
    double *var = malloc(L * sizeof *var);
    if (!var) die("out of memory for %zu latent dimensions", L);
    cli_check(vae_model_active_units(r->m, test, 0.01, &active, var), "counting active units");
    printf("active units: %zu of %zu (test posterior means varying by more than 0.01)\n",
           active, L);
    printf("variance of each posterior mean:");
    for (size_t j = 0; j < L && j < SHOWN; j++) printf(" %.3f", var[j]);
    printf(L > SHOWN ? " ...\n" : "\n");
    free(var);
    if (r->o->iwae) {
        double ll;
        t0 = now();
        cli_check(vae_model_iwae(r->m, test, r->o->iwae, model_size(r->m, VAE_PARAM_SEED), &ll,
                                 NULL, NULL),
                  "--iwae %zu", r->o->iwae);
        printf("test IWAE, k = %zu: log p(x) >= %.2f nats per image (ELBO %.2f), %.1f s\n",
               r->o->iwae, ll, -loss.total, now() - t0);
    }
    fflush(stdout);
}

int trainer_main(int argc, char **argv, const char *program, const trainer_workers *w)
{
    static const trainer_workers alone = {.rank = 0, .world = 1};
    if (!w) w = &alone;
    cli_set_program(program);
    options o = options_parse(argc, argv, w);
    if (o.done) return 0;

    /* Process-wide settings first: they apply to everything after. */
    show_warnings = !o.quiet;
    vae_log_set(on_log, NULL);
    if (o.backend) {
        cli_check(vae_backend_select(o.backend), "--backend %s", o.backend);
        if (strcmp(o.backend, "auto") != 0) snprintf(backend_why, sizeof backend_why, "--backend");
    }
    if (o.threads) cli_check(vae_set_threads(o.threads), "--threads %d", o.threads);

    run r = {.o = &o, .w = w, .root = w->rank == 0, .best_val = INFINITY};
    r.train = load_split(o.data, "train", o.max_data_bytes);
    vae_dataset *test = load_split(o.data, "t10k", o.max_data_bytes);
    size_t dim = vae_dataset_dim(r.train);
    if (vae_dataset_dim(test) != dim)
        die("--data %s: training images have %zu pixels but test images %zu", o.data, dim,
            vae_dataset_dim(test));

    if (o.resume) {
        cli_check(vae_checkpoint_load(o.resume, &r.m, &r.opt), "--resume");
        if (model_size(r.m, VAE_PARAM_INPUT_DIM) != dim)
            die("--resume %s: the model takes %zu pixels per image but --data %s has %zu",
                o.resume, model_size(r.m, VAE_PARAM_INPUT_DIM), o.data, dim);
        options_apply_objective(&o, r.m, 1);
    } else {
        if (o.conditional && !vae_dataset_labels(r.train))
            die("--conditional: --data %s has no train-labels-idx1-ubyte[.gz]", o.data);
        r.m = options_create_model(&o, dim, vae_dataset_num_classes(r.train));
    }
    /* Not part of a checkpoint: a resumed run computes in float32 unless told. */
    if (o.precision >= 0) cli_check(vae_model_set(r.m, VAE_PARAM_PRECISION, o.precision), "--precision");
    if (model_size(r.m, VAE_PARAM_COND_DIM) && !vae_dataset_labels(test))
        die("--data %s: a conditional model needs t10k-labels-idx1-ubyte[.gz] too", o.data);
    double schedule;
    cli_check(vae_model_get(r.m, VAE_PARAM_KL_SCHEDULE, &schedule), "reading the model");
    r.show_weight = schedule != VAE_KL_CONSTANT;

    /* The validation images, chosen from the model's seed (so a resumed run
     * holds out the same ones). */
    const uint64_t seed = model_size(r.m, VAE_PARAM_SEED);
    if (o.val_split > 0.0) {
        const size_t n = vae_dataset_count(r.train);
        size_t held = (size_t)llround(o.val_split * (double)n);
        if (held < 1 || held >= n)
            die("--val-split %g of %zu images leaves an empty part", o.val_split, n);
        vae_dataset *rest;
        cli_check(vae_dataset_split(r.train, held, seed, &rest, &r.val), "--val-split");
        vae_dataset_free(r.train);
        r.train = rest;
    }

    /* A checkpoint saved without optimizer state resumes with a fresh Adam. */
    if (!r.opt) {
        cli_check(vae_optimizer_create(&r.opt, r.m, VAE_OPTIM_ADAM), "creating the optimizer");
        o.lr_given = 1;
    }
    if (o.lr_given) cli_check(vae_optimizer_set(r.opt, VAE_OPTIM_LR, o.lr), "--lr");
    /* From here on every worker holds worker 0's model and optimizer. */
    if (w->join) cli_check(w->join(w->ctx, r.opt), "joining the other workers");

    cli_join(r.ckpt, sizeof r.ckpt, o.out, "model.vae");
    cli_join(r.best_path, sizeof r.best_path, o.out, "best.vae");
    cli_join(r.csv_path, sizeof r.csv_path, o.out, "losses.csv");
    if (r.root) {
        if (cli_make_dir(o.out) != 0) die("--out %s: %s", o.out, strerror(errno));
        r.csv = open_losses(r.csv_path, vae_model_epochs(r.m));
        print_setup(r.train, r.val, test, r.m, w, o.batch);
        if (o.resume)
            printf("resumed from %s after epoch %" PRIu64 "\n", o.resume, vae_model_epochs(r.m));
        print_header(&r);
    }
    int status = train_epochs(&r);

    /* Early stopping's answer: the model of the best validation epoch. */
    if (status == 0 && r.root && r.best_epoch && r.best_epoch != vae_model_epochs(r.m)) {
        vae_optimizer_free(r.opt);
        vae_model_free(r.m);
        cli_check(vae_checkpoint_load(r.best_path, &r.m, &r.opt), "reloading %s", r.best_path);
        printf("testing the model of epoch %" PRIu64 ", the best on validation (%.2f)\n",
               r.best_epoch, r.best_val);
    }
    if (status == 0 && r.root) {
        report_test(&r, test);
        write_images(r.m, test, o.out, seed);
        printf("wrote model.vae, losses.csv and the %s images into %s\n",
               image_extension() + 1, o.out);
    }
    if (r.csv) fclose(r.csv); /* only after an interruption: report_test closes it */

    vae_optimizer_free(r.opt);
    vae_model_free(r.m);
    vae_dataset_free(r.val);
    vae_dataset_free(test);
    vae_dataset_free(r.train);
    return status;
}
