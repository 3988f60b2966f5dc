/*
 * vae-train's command line: the options, their parsing, and the model and
 * objective settings they describe.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_TRAIN_OPTIONS_H
#define VAE_EXAMPLES_TRAIN_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <vae/vae.h>

#include "trainer.h"

enum { MAX_HIDDEN = 16, PATH_SIZE = 4096 };

typedef struct options {
    const char *data, *out, *resume, *backend;
    uint64_t epochs, seed;
    size_t batch, latent;
    size_t enc[MAX_HIDDEN], n_enc;  /* encoder widths from the input inwards */
    size_t dec[MAX_HIDDEN], n_dec;  /* decoder widths from the latent outwards */
    const char *enc_layers, *dec_layers; /* layer specs (libvae 1.1), or NULL */
    size_t shape[3];                     /* --input-shape, or 0s */
    double lr;
    int lr_given;     /* --lr overrides a resumed optimizer's rate only when given */
    int threads;      /* 0: the library's default */
    int precision;    /* a vae_precision; -1: not given (float32, as checkpoints hold) */
    int quiet;
    int batch_given;  /* else the default: 128 images per step over all workers */
    int done;         /* --help or --version: nothing more to do */
    /* architecture beyond the lesson's */
    int likelihood;   /* a vae_likelihood */
    int activation;   /* a vae_activation */
    int conditional;  /* condition on the labels, one-hot */
    /* objective: applied to a new model, and to a resumed one when given */
    double beta, free_bits, gaussian_logvar;
    uint64_t warmup, kl_cycle;
    int binarize, eval_mean;
    unsigned objective_given; /* bit per objective flag given (OBJ_*) */
    /* evaluation */
    double val_split; /* fraction of the training images held out; 0: none */
    uint64_t patience; /* epochs without a better validation loss before stopping; 0: never */
    size_t iwae;      /* importance samples for the test log-likelihood; 0: skip */
    uint64_t max_data_bytes; /* refuse data sets larger than this; 0: the library's cap */
} options;

/**
 * Parse argv; dies on a bad argument. --help and --version print (on worker
 * 0 only) and set done. Options it does not know go to w->parse.
 */
options options_parse(int argc, char **argv, const trainer_workers *w);

/** A new model as the options describe, for data of dim values per sample
 *  and `classes` label values (used by --conditional). */
vae_model *options_create_model(const options *o, size_t dim, size_t classes);

/** Set the objective options on m: all of them for a new model, only those
 *  given on the command line for a resumed one. */
void options_apply_objective(const options *o, vae_model *m, int resumed);

/** An integer-valued setting of m (the API passes settings as double); dies on failure. */
size_t model_size(const vae_model *m, vae_param p);

#endif /* VAE_EXAMPLES_TRAIN_OPTIONS_H */
