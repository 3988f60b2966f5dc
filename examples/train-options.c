/*
 * vae-train's command line; see train-options.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train-options.h"

/* After the line "Usage: <program> [options]", in parts: the program's own
 * options (w->usage_extra) go before the last, and C11 compilers need only
 * take string literals of 4095 characters. */
static const char *const usage_text[] = {
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
    "  --encoder N[,N..] encoder widths from the input inwards (overrides --hidden)\n"
    "  --decoder N[,N..] decoder widths from the latent outwards (overrides --hidden)\n"
    "  --encoder-layers SPEC  layer spec of the encoder, e.g. conv:32:4:2:1,relu,\n"
    "                    conv:64:4:2:1,relu (dense:N, conv:C:K:S:P, deconv:C:K:S:P,\n"
    "                    reshape:C:H:W, activations; vae_config_set_layers in vae.h)\n"
    "  --decoder-layers SPEC  layer spec of the decoder, from the latent outwards\n"
    "  --input-shape C,H,W  channels, height and width of an image [1 channel, square]\n"
    "  --arch NAME       dense (the widths above) or conv: the reference convolutional\n"
    "                    network of docs/variants.md (two convs of 32 and 64 channels,\n"
    "                    a dense layer, two transposed convs) [dense]\n"
    "  --activation NAME relu, tanh, leaky-relu, elu or softplus [relu]\n"
    "  --likelihood NAME bernoulli, gaussian (fixed variance, see --gaussian-logvar) or\n"
    "                    gaussian-learned (a learned variance per pixel) [bernoulli]\n"
    "  --gaussian-logvar X  log-variance of the gaussian likelihood (the starting value\n"
    "                    of gaussian-learned) [0]\n"
    "  --conditional     condition encoder and decoder on the labels, one-hot\n"
    "                    (a conditional VAE; needs the label files)\n"
    "  --beta X          weight of the KL term (beta-VAE) [1]\n"
    "  --warmup N        raise the KL weight linearly from 0 to beta over N steps; with\n"
    "                    --kl-cycle, the ramp at the start of each cycle [0]\n"
    "  --kl-cycle N      cyclical KL annealing (Fu et al. 2019) with cycles of N steps,\n"
    "                    ramping over the first half unless --warmup is given [0: off]\n"
    "  --free-bits X     floor, in nats, on the batch-mean KL of each latent dimension [0]\n"
    "  --binarize        train on x ~ Bernoulli(pixel) drawn afresh every batch\n"
    "  --eval-mean       evaluate with z = the posterior mean instead of a sample\n"
    "  --val-split F     hold out this fraction (0 < F < 1) of the training images,\n"
    "                    chosen at random from the seed, and report their loss per epoch\n"
    "  --patience N      with --val-split: stop when the validation loss has not improved\n"
    "                    for N epochs; the test and images then use the best epoch's model\n"
    "  --iwae K          also estimate the test log-likelihood with K importance samples\n"
    "                    per image (the IWAE bound of Burda et al.; 5000 is customary)\n"
    ,
    "  --lr X            Adam learning rate [1e-3]\n"
    "  --seed N          seeds initialisation, shuffling, noise, the split and the\n"
    "                    images [1]\n"
    "  --threads N       threads of the matrix products [library default]\n"
    "  --backend NAME    compute backend: auto, ref, blas, ... [library default]\n"
    "  --precision P     fp32, or bf16: the large matrix products in bfloat16 with float32\n"
    "                    sums (needs AVX512_BF16; on AMX tiles where usable, VAE_BF16=\n"
    "                    avx512bf16 for vdpbf16ps; weights and checkpoints stay float32,\n"
    "                    so a run resumes in either) [fp32]\n"
    "  --out DIR         output directory, created if missing [vae-out]\n"
    "  --max-data-bytes N  refuse a data file whose pixels would take more than N\n"
    "                    bytes, checked from its header before they are read\n"
    "                    [0: the library's cap, 4 GiB]\n"
    "  --resume FILE     continue from a checkpoint (model and optimizer); its model\n"
    "                    replaces the architecture flags and --seed; objective flags\n"
    "                    (--beta ... --eval-mean) and --lr change it only when given\n"
    "  --quiet           no progress bar on stderr\n"
    "  --help            this text\n"
    "  --version         the library version\n"
    ,
    "\n"
    "Written into the output directory:\n"
    "  model.vae            checkpoint, replaced atomically after every epoch\n"
    "  best.vae             with --val-split: the model of the best validation epoch\n"
    "  losses.csv           split,epoch,total,recon,kl,seconds: a train row (and with\n"
    "                       --val-split a val row) per epoch, then a test row; a resumed\n"
    "                       run keeps the rows up to the checkpoint's epoch\n"
    "  reconstructions.png  16 test images above their reconstructions\n"
    "  samples.png          64 decoded draws from the prior; for a conditional model,\n"
    "                       one row of draws per class\n"
    "  manifold.png         with a 2-D unconditional latent: the decoder over a 20x20\n"
    "                       grid of normal quantiles\n"
    "  interpolation.png    between the posterior means of pairs of test images: each\n"
    "                       pair a linear row above a spherical (slerp) row\n"
    "  traversal.png        one row per latent dimension (up to 10): that dimension\n"
    "                       swept over [-3, 3] around the first test image's mean\n"
    "                       (.pgm instead of .png when built without libpng)\n"
    "\n"
    "Ctrl-C or SIGTERM stops after the current step, saves model.vae and exits with\n"
    "status 130. The steps of the unfinished epoch stay in the model; --resume runs\n"
    "that epoch again in full. A second Ctrl-C quits at once (model.vae stays whole).\n"};

/* Bits of options.objective_given. */
enum { OBJ_BETA = 1, OBJ_WARMUP = 2, OBJ_CYCLE = 4, OBJ_FREE_BITS = 8, OBJ_BINARIZE = 16,
       OBJ_EVAL_MEAN = 32, OBJ_LOGVAR = 64 };


/* Indexed by the pinned enum values. */
static const char *const likelihoods[] = {"bernoulli", "gaussian", "gaussian-learned"};
static const char *const activations[] = {"relu", "tanh", "leaky-relu", "elu", "softplus"};

/* A number in [lo, hi] (the library checks the finer rules). */
static double ranged(const char *flag, const char *text, double lo, double hi)
{
    const double v = cli_double(flag, text);
    if (v < lo || v > hi) die("%s: '%s' is not between %g and %g", flag, text, lo, hi);
    return v;
}

options options_parse(int argc, char **argv, const trainer_workers *w)
{
    static char default_data[PATH_SIZE];
    options o = {.data = cli_default_data(default_data, sizeof default_data), .out = "vae-out", .epochs = 10, .seed = 1,
                 .batch = 128, .latent = 2, .enc = {400}, .n_enc = 1, .dec = {400},
                 .n_dec = 1, .lr = 1e-3, .beta = 1.0, .precision = -1};
    const char *shape_flag = NULL; /* a flag that only a new model can honour */
    int side_given = 0;            /* 1: --encoder, 2: --decoder */
    size_t hidden[MAX_HIDDEN], n_hidden = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (w->rank == 0) {
                printf("Usage: %s [options]\n", cli_program());
                for (size_t k = 0; k < sizeof usage_text / sizeof *usage_text; k++) {
                    if (k + 1 == sizeof usage_text / sizeof *usage_text && w->usage_extra)
                        fputs(w->usage_extra, stdout);
                    fputs(usage_text[k], stdout);
                }
            }
            o.done = 1;
            return o;
        } else if (!strcmp(a, "--version")) {
            if (w->rank == 0) printf("%s (libvae %s)\n", cli_program(), vae_version_string());
            o.done = 1;
            return o;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (!strcmp(a, "--conditional")) {
            o.conditional = 1;
            shape_flag = a;
        } else if (!strcmp(a, "--binarize")) {
            o.binarize = 1;
            o.objective_given |= OBJ_BINARIZE;
        } else if (!strcmp(a, "--eval-mean")) {
            o.eval_mean = 1;
            o.objective_given |= OBJ_EVAL_MEAN;
        } else if ((v = cli_value(argc, argv, &i, "--data"))) {
            o.data = v;
        } else if ((v = cli_value(argc, argv, &i, "--out"))) {
            o.out = v;
        } else if ((v = cli_value(argc, argv, &i, "--resume"))) {
            o.resume = v;
        } else if ((v = cli_value(argc, argv, &i, "--max-data-bytes"))) {
            o.max_data_bytes = cli_uint64("--max-data-bytes", v, UINT64_MAX);
        } else if ((v = cli_value(argc, argv, &i, "--backend"))) {
            o.backend = v;
        } else if ((v = cli_value(argc, argv, &i, "--precision"))) {
            static const char *const precisions[] = {"fp32", "bf16"};
            o.precision = cli_pick("--precision", v, precisions, 2);
        } else if ((v = cli_value(argc, argv, &i, "--epochs"))) {
            o.epochs = cli_uint64("--epochs", v, UINT64_MAX);
        } else if ((v = cli_value(argc, argv, &i, "--batch"))) {
            o.batch = cli_size("--batch", v, 1, SIZE_MAX);
            o.batch_given = 1;
        } else if ((v = cli_value(argc, argv, &i, "--threads"))) {
            o.threads = cli_int("--threads", v, 1, 1 << 16);
        } else if ((v = cli_value(argc, argv, &i, "--lr"))) {
            o.lr = cli_double("--lr", v);
            o.lr_given = 1;
        } else if ((v = cli_value(argc, argv, &i, "--latent"))) {
            o.latent = cli_size("--latent", v, 1, SIZE_MAX);
            shape_flag = "--latent";
        } else if ((v = cli_value(argc, argv, &i, "--hidden"))) {
            n_hidden = cli_size_list("--hidden", v, hidden, MAX_HIDDEN);
            shape_flag = "--hidden";
        } else if ((v = cli_value(argc, argv, &i, "--encoder"))) {
            o.n_enc = cli_size_list("--encoder", v, o.enc, MAX_HIDDEN);
            side_given |= 1;
            shape_flag = "--encoder";
        } else if ((v = cli_value(argc, argv, &i, "--decoder"))) {
            o.n_dec = cli_size_list("--decoder", v, o.dec, MAX_HIDDEN);
            side_given |= 2;
            shape_flag = "--decoder";
        } else if ((v = cli_value(argc, argv, &i, "--encoder-layers"))) {
            o.enc_layers = v;
            shape_flag = "--encoder-layers";
        } else if ((v = cli_value(argc, argv, &i, "--decoder-layers"))) {
            o.dec_layers = v;
            shape_flag = "--decoder-layers";
        } else if ((v = cli_value(argc, argv, &i, "--input-shape"))) {
            if (cli_size_list("--input-shape", v, o.shape, 3) != 3)
                die("--input-shape: '%s' is not C,H,W", v);
            shape_flag = "--input-shape";
        } else if ((v = cli_value(argc, argv, &i, "--arch"))) {
            static const char *const archs[] = {"dense", "conv"};
            if (cli_pick("--arch", v, archs, 2) == 1) {
                /* 28 -> 14 -> 7 by convolutions, 7 -> 14 -> 28 back; each layer
                 * initialised as PyTorch's default. */
                if (!o.enc_layers) o.enc_layers = "conv:32:4:2:1,relu,conv:64:4:2:1,relu";
                if (!o.dec_layers)
                    o.dec_layers = "dense:3136,relu,reshape:64:7:7,deconv:32:4:2:1,relu,"
                                   "deconv:1:4:2:1";
            }
            shape_flag = "--arch";
        } else if ((v = cli_value(argc, argv, &i, "--activation"))) {
            o.activation = cli_pick("--activation", v, activations, 5);
            shape_flag = "--activation";
        } else if ((v = cli_value(argc, argv, &i, "--likelihood"))) {
            o.likelihood = cli_pick("--likelihood", v, likelihoods, 3);
            shape_flag = "--likelihood";
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            /* The library takes settings as double, exact up to 2^53. */
            o.seed = cli_uint64("--seed", v, UINT64_C(1) << 53);
            shape_flag = "--seed";
        } else if ((v = cli_value(argc, argv, &i, "--gaussian-logvar"))) {
            o.gaussian_logvar = cli_double("--gaussian-logvar", v);
            o.objective_given |= OBJ_LOGVAR;
        } else if ((v = cli_value(argc, argv, &i, "--beta"))) {
            o.beta = cli_double("--beta", v);
            o.objective_given |= OBJ_BETA;
        } else if ((v = cli_value(argc, argv, &i, "--warmup"))) {
            o.warmup = cli_uint64("--warmup", v, UINT64_C(1) << 53);
            o.objective_given |= OBJ_WARMUP;
        } else if ((v = cli_value(argc, argv, &i, "--kl-cycle"))) {
            o.kl_cycle = cli_uint64("--kl-cycle", v, UINT64_C(1) << 53);
            o.objective_given |= OBJ_CYCLE;
        } else if ((v = cli_value(argc, argv, &i, "--free-bits"))) {
            o.free_bits = cli_double("--free-bits", v);
            o.objective_given |= OBJ_FREE_BITS;
        } else if ((v = cli_value(argc, argv, &i, "--val-split"))) {
            o.val_split = ranged("--val-split", v, 0.0, 1.0);
            if (o.val_split <= 0.0 || o.val_split >= 1.0)
                die("--val-split: '%s' must lie strictly between 0 and 1", v);
        } else if ((v = cli_value(argc, argv, &i, "--patience"))) {
            o.patience = cli_uint64("--patience", v, UINT64_MAX);
        } else if ((v = cli_value(argc, argv, &i, "--iwae"))) {
            o.iwae = cli_size("--iwae", v, 1, SIZE_MAX);
        } else if (!w->parse || !w->parse(w->ctx, argc, argv, &i)) {
            die("unknown argument '%s' (see --help)", a);
        }
    }
    if (o.resume && shape_flag)
        die("%s: the model comes from --resume %s; leave this flag out", shape_flag, o.resume);
    /* --hidden gives both sides, the decoder mirrored (784-512-256-z-256-512-784);
     * --encoder and --decoder then override their side. */
    if (n_hidden) {
        if (!(side_given & 1)) {
            memcpy(o.enc, hidden, n_hidden * sizeof *hidden);
            o.n_enc = n_hidden;
        }
        if (!(side_given & 2)) {
            for (size_t i = 0; i < n_hidden; i++) o.dec[i] = hidden[n_hidden - 1 - i];
            o.n_dec = n_hidden;
        }
    }
    if (o.patience && o.val_split == 0.0)
        die("--patience: early stopping watches the validation loss; give --val-split too");
    if (!o.batch_given) o.batch = (o.batch + (size_t)w->world - 1) / (size_t)w->world;
    return o;
}

vae_model *options_create_model(const options *o, size_t dim, size_t classes)
{
    vae_config *cfg = NULL;
    vae_model *m = NULL;
    cli_check(vae_config_create(&cfg), "creating the model settings");
    cli_check(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, (double)dim), "input size %zu", dim);
    cli_check(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, (double)o->latent), "--latent");
    cli_check(vae_config_set(cfg, VAE_PARAM_SEED, (double)o->seed), "--seed");
    cli_check(vae_config_set(cfg, VAE_PARAM_ACTIVATION, o->activation), "--activation");
    cli_check(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, o->likelihood), "--likelihood");
    /* Before creation: it is also the starting value of a learned variance. */
    cli_check(vae_config_set(cfg, VAE_PARAM_GAUSSIAN_LOGVAR, o->gaussian_logvar),
              "--gaussian-logvar");
    if (o->conditional)
        cli_check(vae_config_set(cfg, VAE_PARAM_COND_DIM, (double)classes), "--conditional");
    cli_check(vae_config_set_hidden(cfg, VAE_ENCODER, o->enc, o->n_enc), "--encoder");
    cli_check(vae_config_set_hidden(cfg, VAE_DECODER, o->dec, o->n_dec), "--decoder");
    if (o->shape[0])
        cli_check(vae_config_set_input_shape(cfg, o->shape[0], o->shape[1], o->shape[2]),
                  "--input-shape");
    if (o->enc_layers)
        cli_check(vae_config_set_layers(cfg, VAE_ENCODER, o->enc_layers), "--encoder-layers");
    if (o->dec_layers)
        cli_check(vae_config_set_layers(cfg, VAE_DECODER, o->dec_layers), "--decoder-layers");
    cli_check(vae_model_create(&m, cfg), "creating the model");
    vae_config_free(cfg);
    options_apply_objective(o, m, 0);
    return m;
}

void options_apply_objective(const options *o, vae_model *m, int resumed)
{
    const unsigned given = resumed ? o->objective_given : ~0u;
    if (given & OBJ_BETA) cli_check(vae_model_set(m, VAE_PARAM_BETA, o->beta), "--beta");
    if (given & OBJ_LOGVAR)
        cli_check(vae_model_set(m, VAE_PARAM_GAUSSIAN_LOGVAR, o->gaussian_logvar),
                  "--gaussian-logvar");
    if (given & (OBJ_WARMUP | OBJ_CYCLE)) {
        /* A cycle length makes the schedule cyclical, a warm-up alone linear. */
        const int schedule = o->kl_cycle ? VAE_KL_CYCLICAL : o->warmup ? VAE_KL_LINEAR : VAE_KL_CONSTANT;
        cli_check(vae_model_set(m, VAE_PARAM_KL_SCHEDULE, schedule), "--warmup/--kl-cycle");
        cli_check(vae_model_set(m, VAE_PARAM_KL_WARMUP_STEPS, (double)o->warmup), "--warmup");
        cli_check(vae_model_set(m, VAE_PARAM_KL_CYCLE_STEPS, (double)o->kl_cycle), "--kl-cycle");
    }
    if (given & OBJ_FREE_BITS)
        cli_check(vae_model_set(m, VAE_PARAM_FREE_BITS, o->free_bits), "--free-bits");
    if (given & OBJ_BINARIZE) cli_check(vae_model_set(m, VAE_PARAM_BINARIZE, o->binarize), "--binarize");
    if (given & OBJ_EVAL_MEAN)
        cli_check(vae_model_set(m, VAE_PARAM_EVAL_USE_MEAN, o->eval_mean), "--eval-mean");
}

size_t model_size(const vae_model *m, vae_param p)
{
    double v;
    cli_check(vae_model_get(m, p, &v), "reading a model setting");
    return (size_t)v;
}
