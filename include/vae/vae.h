/**
 * @file
 * libvae: train and run Variational Autoencoders from C.
 *
 * Conventions used throughout this header
 *  - Every function that can fail returns a vae_status; VAE_OK (0) is success.
 *    On failure vae_last_error() gives a one-line reason for the calling thread
 *    and every output argument is left as it was; the same line goes to the
 *    log callback at VAE_LOG_ERROR. Success leaves vae_last_error() as it was
 *    (it is not cleared).
 *  - Invalid data in a caller's arrays (a non-finite value, a Bernoulli input
 *    outside [0, 1], cond given to a model without conditioning or missing
 *    for one with it) gives VAE_ERR_INVALID_ARGUMENT; the message names the
 *    row and column. The same data in a dataset does too.
 *  - Handles (vae_config, vae_model, vae_optimizer, vae_dataset) are opaque.
 *    Each *_create / *_load returns a handle the caller owns and releases with
 *    the matching *_free, which accepts NULL.
 *  - Matrices are row-major float32: [n x dim] means n rows of dim floats.
 *  - Losses are in nats per image: summed over pixels and latent dimensions,
 *    averaged over images.
 *  - Threading: one handle is used by one thread at a time; distinct handles
 *    may be used from distinct threads concurrently. The global settings
 *    (backend, threads, log callback) are process-wide.
 *    In detail (docs/robustness.md): a model and its optimizer count as one
 *    handle. A dataset is only read by training, evaluation, get and batch,
 *    so several threads may use one dataset at once as long as none calls
 *    vae_dataset_shuffle() on it. vae_backend_select(), vae_set_threads()
 *    and vae_set_sgemm() are set-up calls: make them while no other thread
 *    is inside libvae. vae_log_set() may be called at any time, and the
 *    callback may run on any thread that uses libvae. vae_last_error() is
 *    per thread. A run gives the same bits whether other threads train
 *    other models at the same time or not.
 *  - The library never prints and never exits. Diagnostics go to the log
 *    callback set with vae_log_set().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_VAE_H
#define VAE_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Marks a public declaration. While the library itself is compiled it gives
 * the symbol default visibility (everything else is hidden); for users it is
 * empty. The exported set is pinned by lib/libvae.map (docs/abi.md).
 */
#if defined(VAE_BUILDING_LIBRARY) && defined(__GNUC__)
#define VAE_API __attribute__((visibility("default")))
#else
#define VAE_API
#endif

#if defined(__GNUC__)
/** A status that must not be ignored: the compiler warns when it is. */
#define VAE_NODISCARD __attribute__((warn_unused_result))
/** A declaration kept for compatibility; msg names its replacement. */
#define VAE_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define VAE_NODISCARD
#define VAE_DEPRECATED(msg)
#endif

/* ------------------------------------------------------------------------ */
/* Status, errors, version, logging                                          */
/* ------------------------------------------------------------------------ */

/** Result of every fallible call. The numbers are pinned: never reused. */
typedef enum vae_status {
    VAE_OK = 0,                   /**< success */
    VAE_ERR_INVALID_ARGUMENT = 1, /**< NULL handle, zero size, value out of range */
    VAE_ERR_OUT_OF_MEMORY = 2,    /**< an allocation failed */
    VAE_ERR_IO = 3,               /**< open, read, write, fsync or rename failed */
    VAE_ERR_FORMAT = 4,           /**< a file is malformed, truncated or corrupt */
    VAE_ERR_UNSUPPORTED = 5,      /**< a file from a newer format version, or a feature not built in */
    VAE_ERR_MISMATCH = 6,         /**< shapes disagree (data width vs model input, labels vs images) */
    VAE_ERR_NUMERIC = 7,          /**< a step met a non-finite loss, gradient or update, or a model to save holds a non-finite value; nothing was changed */
    VAE_ERR_CANCELLED = 8,        /**< a progress callback asked to stop */
    VAE_ERR_LIMIT = 9,            /**< a size exceeds a limit (caller's cap or the library's) */
    VAE_ERR_UNAVAILABLE = 10,     /**< a backend not compiled in or not supported by this CPU */
    VAE_ERR_CALLBACK = 11         /**< a host callback (collective, sgemm) reported failure */
} vae_status;

/**
 * Short English name of a status ("invalid argument").
 * @param[in] s any value; unknown values give "unknown status".
 * @return a static string, never NULL; do not free.
 * @since 1.0
 */
VAE_API const char *vae_status_string(vae_status s);

/**
 * Detailed message of the calling thread's last failure, e.g.
 * "train-images-idx3-ubyte.gz: header says 60000 images of 28x28 but the file
 * holds only 1234 bytes of pixels". Empty string when there was none. A
 * successful call does not clear it: read it only after a failure.
 * @return a thread-local string, valid until the thread's next libvae call;
 *         never NULL; do not free.
 * @since 1.0
 */
VAE_API const char *vae_last_error(void);

/** @return VAE_VERSION_NUMBER of the library that is running. @since 1.0 */
VAE_API unsigned vae_version_number(void);
/** @return "MAJOR.MINOR.PATCH" of the running library; static. @since 1.0 */
VAE_API const char *vae_version_string(void);

/** Severity of a log message. */
typedef enum vae_log_level {
    VAE_LOG_ERROR = 0, /**< a call failed; the message is its vae_last_error() */
    VAE_LOG_WARN = 1,  /**< something was ignored or replaced, e.g. an unknown VAE_BACKEND */
    VAE_LOG_INFO = 2,  /**< a choice made, e.g. the backend in use */
    VAE_LOG_DEBUG = 3  /**< details for bug reports */
} vae_log_level;

/** Receives the library's diagnostics; msg is one line without a newline. */
typedef void (*vae_log_fn)(void *user, vae_log_level level, const char *msg);

/**
 * Route diagnostics to fn (process-wide). NULL (the default) discards them.
 * @param[in] fn   callback, may be called from any thread using libvae.
 * @param[in] user passed back to fn unchanged.
 * @since 1.0
 */
VAE_API void vae_log_set(vae_log_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/* Model configuration                                                      */
/* ------------------------------------------------------------------------ */

/** Output distribution p(x|z) of the decoder. Pinned values. */
typedef enum vae_likelihood {
    /** Bernoulli on [0,1] data (the lesson's binary cross-entropy). */
    VAE_LIKELIHOOD_BERNOULLI = 0,
    /** Gaussian, variance fixed by VAE_PARAM_GAUSSIAN_LOGVAR. */
    VAE_LIKELIHOOD_GAUSSIAN = 1,
    /** Gaussian with a learned log-variance per input dimension. */
    VAE_LIKELIHOOD_GAUSSIAN_LEARNED = 2
} vae_likelihood;

/** Hidden-layer activation. Pinned values. */
typedef enum vae_activation {
    VAE_ACTIVATION_RELU = 0,       /**< max(a, 0) */
    VAE_ACTIVATION_TANH = 1,       /**< tanh(a) */
    VAE_ACTIVATION_LEAKY_RELU = 2, /**< a > 0 ? a : slope * a */
    VAE_ACTIVATION_ELU = 3,        /**< a > 0 ? a : exp(a) - 1 */
    VAE_ACTIVATION_SOFTPLUS = 4    /**< log(1 + exp(a)) */
} vae_activation;

/** How the KL weight evolves with the step count. Pinned values. */
typedef enum vae_kl_schedule {
    /** weight = beta */
    VAE_KL_CONSTANT = 0,
    /** Linear warm-up: beta * min(1, s / warmup_steps), where s is the number
     *  of steps taken before this one (so the first step has weight 0);
     *  beta when warmup_steps is 0. */
    VAE_KL_LINEAR = 1,
    /** Cyclical annealing (Fu et al. 2019): beta * min(1, (s mod cycle_steps) / ramp)
     *  with ramp = min(warmup_steps, cycle_steps), or cycle_steps / 2 when
     *  warmup_steps is 0 (the paper's R = 0.5); each cycle starts again at 0.
     *  beta when cycle_steps is 0. */
    VAE_KL_CYCLICAL = 2
} vae_kl_schedule;

/**
 * Settings of a model. Architecture parameters are fixed once the model is
 * created; objective parameters may also be changed on a live model with
 * vae_model_set(). Values are passed as double; integer parameters must hold
 * integral values. vae_param_bounds() gives each valid range.
 *
 * The encoder's log-variance is clamped to [LOGVAR_MIN, LOGVAR_MAX], each
 * settable within [-80, 80] with LOGVAR_MIN < LOGVAR_MAX: so exp(logvar)
 * <= e^80 ~ 5.5e34 stays below FLT_MAX (3.4e38) and the KL and z = mu +
 * exp(logvar/2) eps stay finite whatever the weights. The bounds apply as
 * float32 rounded inwards (a range holding no float32 is refused). Where
 * the clamp binds, the log-variance gets no gradient through z.
 */
typedef enum vae_param {
    /* architecture */
    VAE_PARAM_INPUT_DIM = 1,       /**< floats per sample; default 784 */
    VAE_PARAM_LATENT_DIM = 2,      /**< latent dimensions; default 2 */
    VAE_PARAM_COND_DIM = 3,        /**< width of the conditioning vector (0 = none); default 0 */
    VAE_PARAM_ACTIVATION = 4,      /**< a vae_activation; default RELU */
    VAE_PARAM_LIKELIHOOD = 5,      /**< a vae_likelihood; default BERNOULLI */
    VAE_PARAM_SEED = 6,            /**< seeds initialisation, shuffling and noise; default 1 */
    VAE_PARAM_LEAKY_SLOPE = 7,     /**< negative slope of LEAKY_RELU; default 0.01 */
    /* objective */
    VAE_PARAM_BETA = 20,           /**< weight of the KL term (beta-VAE); default 1 */
    VAE_PARAM_KL_SCHEDULE = 21,    /**< a vae_kl_schedule; default CONSTANT */
    VAE_PARAM_KL_WARMUP_STEPS = 22,/**< ramp length in steps: LINEAR's whole warm-up; CYCLICAL's ramp at the start of each cycle, 0 meaning half the cycle; default 0 */
    VAE_PARAM_KL_CYCLE_STEPS = 23, /**< cycle length in steps (CYCLICAL); default 0 */
    VAE_PARAM_FREE_BITS = 24,      /**< floor on the batch-mean KL per latent dimension, nats; default 0 */
    VAE_PARAM_BINARIZE = 25,       /**< 1: sample x ~ Bernoulli(x) per batch in training; default 0 */
    VAE_PARAM_GAUSSIAN_LOGVAR = 26,/**< log-variance of the fixed Gaussian likelihood (initial value if learned); default 0 */
    VAE_PARAM_LOGVAR_MIN = 27,     /**< encoder log-variance clamped below at this, in [-80, 80]; default -30 */
    VAE_PARAM_LOGVAR_MAX = 28,     /**< encoder log-variance clamped above at this, in [-80, 80]; default 20 */
    VAE_PARAM_EVAL_USE_MEAN = 29,  /**< 1: evaluation decodes z = mean instead of a sample; default 0 */
    /* compute (since 1.1) */
    VAE_PARAM_PRECISION = 30       /**< since 1.1: a vae_precision for the large matrix products; default FP32. BF16 where the build or the CPU lacks AVX512_BF16: VAE_ERR_UNAVAILABLE. Not stored in checkpoints: they hold float32 and resume in either precision */
} vae_param;

/**
 * Arithmetic of the large matrix products (VAE_PARAM_PRECISION). The
 * parameters, the optimizer's state, the losses and the latent layers (the
 * products with a dimension of at most 8) are float32 in both.
 */
typedef enum vae_precision {
    /** float32 throughout (the default). */
    VAE_PRECISION_FP32 = 0,
    /** The operands of the large products rounded to bfloat16 (8-bit
     *  significand, nearest even), products summed in float32: on AMX
     *  tiles (tdpbf16ps) where the CPU and the kernel allow them, else by
     *  the AVX512_BF16 instruction vdpbf16ps; VAE_BF16=amx|avx512bf16 in
     *  the environment picks one. About half the time of FP32 on Zen 4/5
     *  and on AMX CPUs. Results agree with FP32 to about 2^-8 relatively
     *  per term; on one path they are reproducible bit for bit, at any
     *  thread count (the two paths differ in the order of the sums). These
     *  products run on libvae's own bf16 kernels whatever the backend
     *  (vae_backend_select) does the float32 ones; a host sgemm
     *  (vae_set_sgemm) takes precedence and computes in float32. On Linux
     *  the first setting of BF16 on an AMX CPU asks the kernel for the
     *  tile data, once, for the whole process (arch_prctl
     *  ARCH_REQ_XCOMP_PERM): every thread's signal frames then grow by
     *  its 8 KiB, and the request fails, leaving vdpbf16ps, if a thread's
     *  alternate signal stack is too small for that. A program that must
     *  keep small signal stacks sets VAE_BF16=avx512bf16. */
    VAE_PRECISION_BF16 = 1
} vae_precision;

/** Which half of the network a hidden-layer list describes. */
typedef enum vae_side {
    VAE_ENCODER = 1, /**< from the input to the latent */
    VAE_DECODER = 2, /**< from the latent to the output */
    VAE_BOTH = 3 /**< setter only: both sides get the same list */
} vae_side;

/** Opaque model settings. */
typedef struct vae_config vae_config;

/**
 * New settings holding the lesson's model: 784 -> 400 -> 2 -> 400 -> 784,
 * ReLU, Bernoulli, beta 1, seed 1.
 * @param[out] out receives the handle; free with vae_config_free().
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_config_create(vae_config **out);

/** Free settings; NULL is ignored. @since 1.0 */
VAE_API void vae_config_free(vae_config *cfg);

/**
 * Set one parameter. Each value is checked alone, so settings may be made
 * in any order; rules between settings (LOGVAR_MIN < LOGVAR_MAX) are
 * checked by vae_model_create() and vae_model_set().
 * @return VAE_ERR_INVALID_ARGUMENT for an unknown parameter or a value out of
 *         vae_param_bounds() (or not integral for an integer parameter).
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_config_set(vae_config *cfg, vae_param p, double value);

/** Read one parameter into *value. @since 1.0 */
VAE_API VAE_NODISCARD vae_status vae_config_get(const vae_config *cfg, vae_param p, double *value);

/**
 * Hidden layer widths of one side, input side first (the decoder's list runs
 * from the latent towards the output). Default: {400} on both sides.
 * @param[in] sizes n widths, each in [1, 65536]; copied.
 * @param[in] n     1 to 16 layers.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_config_set_hidden(vae_config *cfg, vae_side side,
                                                       const size_t *sizes, size_t n);

/**
 * Describe one side's layers with a layer-spec string (since 1.1), which
 * replaces the hidden-width list of vae_config_set_hidden() on that side.
 * The spec is a comma-separated list, input side first:
 *  - "dense:N": a dense layer of N outputs (it flattens an image);
 *  - "conv:C:K:S:P": 2-D convolution to C channels, K x K kernel, stride S,
 *    zero padding P (out = (in + 2P - K) / S + 1, rounded down);
 *  - "deconv:C:K:S:P": transposed convolution (out = (in - 1) S - 2P + K);
 *  - "reshape:C:H:W": view the C*H*W values so far as an image;
 *  - "relu", "tanh", "leaky_relu", "elu", "softplus": the activation of the
 *    layer before (none otherwise; VAE_PARAM_ACTIVATION is not used).
 * Kernel and stride are 1 to 64, padding 0 to 64, at most 15 layers. The
 * encoder's input image is the shape of vae_config_set_input_shape(), or a
 * one-channel square when INPUT_DIM is a square. The encoder always ends in
 * a dense head to [mu | logvar]. The decoder's list ends in its output layer
 * when its last entry is a layer without activation that yields INPUT_DIM
 * values; otherwise a dense layer to INPUT_DIM is appended. With COND_DIM
 * > 0 the conditioning vector joins the first dense layer of each side (the
 * decoder must start with one). Shapes are checked by vae_model_create().
 * Images are stored channels-last inside the model: a tensor of a conv
 * layer is [K*K*C_in x C_out] with rows in (ky, kx, c_in) order; of a deconv
 * layer [C_in x K*K*C_out], columns in (ky, kx, c_out) order.
 * Example (the reference network of docs/variants.md):
 *   encoder "conv:32:4:2:1,relu,conv:64:4:2:1,relu"
 *   decoder "dense:3136,relu,reshape:64:7:7,deconv:32:4:2:1,relu,deconv:1:4:2:1"
 * A model with a spec is saved in checkpoint format version 2, which
 * libvae 1.0 refuses with VAE_ERR_UNSUPPORTED.
 * @param[in] side VAE_ENCODER, VAE_DECODER or VAE_BOTH.
 * @param[in] spec NUL-terminated, under 512 bytes; copied. NULL or "" gives
 *                 the side back its dense hidden-width list.
 * @return VAE_ERR_INVALID_ARGUMENT for a syntax error or a number out of range.
 * @since 1.1
 */
VAE_API VAE_NODISCARD vae_status vae_config_set_layers(vae_config *cfg, vae_side side,
                                                       const char *spec);

/**
 * The layer spec of one side ("" when the side has dense hidden widths).
 * @return a string owned by cfg, valid until the next call that changes it
 *         or vae_config_free(); NULL for a NULL cfg or an invalid side.
 * @since 1.1
 */
VAE_API const char *vae_config_layers(const vae_config *cfg, vae_side side);

/**
 * Shape of an input image for convolutional encoders, and with it
 * VAE_PARAM_INPUT_DIM = channels * height * width. The input rows hold the
 * image channels-last: pixel (y, x) holds its channels side by side (for
 * one channel this is the usual row-major image). All 0 restores the
 * default: a one-channel square image.
 * @param[in] channels, height, width each >= 1 (or all 0), product at most
 *            2^24.
 * @since 1.1
 */
VAE_API VAE_NODISCARD vae_status vae_config_set_input_shape(vae_config *cfg, size_t channels,
                                                            size_t height, size_t width);

/**
 * Valid range of a parameter (inclusive).
 * @param[out] lo, hi the bounds; either may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_param_bounds(vae_param p, double *lo, double *hi);

/* ------------------------------------------------------------------------ */
/* Model                                                                    */
/* ------------------------------------------------------------------------ */

/** Opaque model: architecture, parameters, gradients and training state. */
typedef struct vae_model vae_model;
/** Opaque optimizer state (Adam moments or SGD momentum) of one model. */
typedef struct vae_optimizer vae_optimizer;
/** Opaque dataset: samples (bytes or floats) and optional labels. */
typedef struct vae_dataset vae_dataset;

/**
 * Loss parts of a step or an evaluation, in nats per image. Frozen layout:
 * a later release that needs more fields adds a new type and new calls.
 */
typedef struct vae_loss {
    double total;     /**< negative ELBO = recon + kl */
    double recon;     /**< -E_q[log p(x|z)] */
    double kl;        /**< KL(q(z|x) || N(0, I)) */
    double objective; /**< what training minimises: recon + kl_weight * kl (free bits applied) */
    double kl_weight; /**< KL weight in force (beta times the schedule) */
} vae_loss;

/**
 * Create a model with freshly initialised parameters (uniform in
 * +-1/sqrt(fan_in), as PyTorch's nn.Linear).
 * @param[in]  cfg settings; the model keeps a copy, cfg may be freed after.
 * @param[out] out the model; free with vae_model_free().
 * @return VAE_ERR_INVALID_ARGUMENT when LOGVAR_MIN >= LOGVAR_MAX,
 *         VAE_ERR_OUT_OF_MEMORY.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_create(vae_model **out, const vae_config *cfg);

/** Free a model and everything it owns; NULL is ignored. @since 1.0 */
VAE_API void vae_model_free(vae_model *m);

/**
 * Change an objective parameter (VAE_PARAM_BETA and later) on a live model.
 * @return VAE_ERR_INVALID_ARGUMENT for architecture parameters, and for a
 *         value that would make LOGVAR_MIN >= LOGVAR_MAX.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_set(vae_model *m, vae_param p, double value);

/** Read any parameter of a model into *value. @since 1.0 */
VAE_API VAE_NODISCARD vae_status vae_model_get(const vae_model *m, vae_param p, double *value);

/**
 * Hidden layer widths of one side; none (*n = 0) for a side described by a
 * layer spec (see vae_model_layers()).
 * @param[out] sizes receives up to cap widths (may be NULL when cap is 0).
 * @param[out] n     receives the number of layers.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_hidden(const vae_model *m, vae_side side,
                                                  size_t *sizes, size_t cap, size_t *n);

/**
 * The layer spec of one side of a model ("" for dense hidden widths).
 * @return a string owned by the model, valid until vae_model_free(); NULL
 *         for a NULL model or an invalid side.
 * @since 1.1
 */
VAE_API const char *vae_model_layers(const vae_model *m, vae_side side);

/** @return the number of float parameters (0 for NULL). @since 1.0 */
VAE_API size_t vae_model_param_count(const vae_model *m);

/**
 * The model's flat parameter buffer, vae_model_param_count() floats, laid
 * out tensor after tensor (see vae_model_tensor_info()). Writable: the
 * caller may edit parameters between calls. Owned by the model, valid until
 * vae_model_free(). NULL for NULL.
 * @since 1.0
 */
VAE_API float *vae_model_params(vae_model *m);

/**
 * Gradient of the last vae_model_backward() / training step, same layout as
 * vae_model_params(). Owned by the model. @since 1.0
 */
VAE_API float *vae_model_grads(vae_model *m);

/** @return the number of parameter tensors (0 for NULL). @since 1.0 */
VAE_API size_t vae_model_tensor_count(const vae_model *m);

/**
 * Describe tensor i, e.g. "encoder.0.weight" of shape [784 x 400].
 * Weights are [fan_in x fan_out] (y = x W + b); biases [1 x fan_out].
 * @param[out] name   static-lifetime string owned by the model (may be NULL).
 * @param[out] rows, cols shape (may be NULL).
 * @param[out] offset index of the first float in the flat buffer (may be NULL).
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_tensor_info(const vae_model *m, size_t i,
                                                       const char **name, size_t *rows,
                                                       size_t *cols, size_t *offset);

/** @return training steps taken (drives the KL schedule). @since 1.0 */
VAE_API uint64_t vae_model_steps(const vae_model *m);
/** @return epochs completed by vae_train_epoch(). @since 1.0 */
VAE_API uint64_t vae_model_epochs(const vae_model *m);

/**
 * Forward and backward pass on one batch: fills vae_model_grads() with the
 * gradient of the objective (mean over the batch) and reports the loss.
 * Parameters are not changed; the training noise advances on success only.
 * @param[in]  x    [n x input_dim], finite; [0,1] for the Bernoulli likelihood.
 * @param[in]  cond [n x cond_dim], finite, or NULL when cond_dim is 0.
 * @param[in]  n    batch size, >= 1.
 * @param[out] loss may be NULL.
 * @return VAE_ERR_INVALID_ARGUMENT for invalid data (see the conventions
 *         at the top), VAE_ERR_NUMERIC when the loss or gradient is not
 *         finite. On failure the gradient buffer is undefined and the
 *         noise state is as it was.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_backward(vae_model *m, const float *x,
                                                    const float *cond, size_t n,
                                                    vae_loss *loss);

/**
 * One training step: vae_model_backward() then vae_optimizer_step().
 * A non-finite loss, gradient or update returns VAE_ERR_NUMERIC. Any
 * failure leaves the parameters, the optimizer state, the step count and
 * the training noise as they were, so a retry gives the bits of a run that
 * never failed (the gradient buffer is undefined).
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_train_step(vae_model *m, vae_optimizer *opt,
                                                      const float *x, const float *cond,
                                                      size_t n, vae_loss *loss);

/**
 * Called after every batch of vae_train_epoch(). Return 0 to go on, anything
 * else to stop after this batch: the epoch then returns VAE_ERR_CANCELLED,
 * after the last batch too. The epoch count advances only when every batch
 * was applied, i.e. when the stop came after the last one.
 * @param[in] batch   index of the batch just done (0-based).
 * @param[in] batches batches in the epoch.
 * @param[in] loss    that batch's loss.
 */
typedef int (*vae_progress_fn)(void *user, size_t batch, size_t batches, const vae_loss *loss);

/**
 * Train one epoch over ds in an order shuffled from the model's seed and
 * epoch count, so that a resumed run repeats the same order. The last batch
 * may be smaller. Conditioning: when the model's cond_dim > 0 the dataset's
 * labels are fed as one-hot vectors (cond_dim must cover every label).
 * @param[in]  batch    images per step, >= 1.
 * @param[in]  progress may be NULL.
 * @param[out] mean     mean loss over the images seen (also when cancelled);
 *                      may be NULL.
 * With a collective set (vae_optimizer_set_collective()), batch is per
 * worker and the workers share each epoch's order, losses and stop requests.
 * @return VAE_ERR_NUMERIC when a step's loss, gradient or update is not
 *         finite: the epoch stops there, that step changed nothing
 *         (parameters, optimizer state, step count, training noise), the
 *         steps before it stay applied, and the epoch count does not
 *         advance. VAE_ERR_INVALID_ARGUMENT for invalid float data in ds
 *         (found when its batch comes; the same rules then apply),
 *         VAE_ERR_CANCELLED (vae_progress_fn), VAE_ERR_LIMIT when the epoch
 *         count is at UINT64_MAX.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_train_epoch(vae_model *m, vae_optimizer *opt,
                                                 vae_dataset *ds, size_t batch,
                                                 vae_progress_fn progress, void *user,
                                                 vae_loss *mean);

/**
 * Mean loss over a whole dataset, without changing the model. The latent is
 * sampled from a noise stream seeded from the model's seed (the same every
 * call), or set to the mean when VAE_PARAM_EVAL_USE_MEAN is 1.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_evaluate(vae_model *m, vae_dataset *ds,
                                                    vae_loss *mean);

/**
 * Posterior parameters of q(z|x).
 * @param[in]  x      [n x input_dim]
 * @param[in]  cond   [n x cond_dim] or NULL when cond_dim is 0.
 * @param[out] mu     [n x latent_dim], may be NULL.
 * @param[out] logvar [n x latent_dim], may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_encode(vae_model *m, const float *x,
                                                  const float *cond, size_t n, float *mu,
                                                  float *logvar);

/**
 * Decode latents to the likelihood's mean: pixel probabilities for
 * Bernoulli, Gaussian means otherwise.
 * @param[in]  z   [n x latent_dim]
 * @param[out] out [n x input_dim]
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_decode(vae_model *m, const float *z,
                                                  const float *cond, size_t n, float *out);

/**
 * Decode n draws z ~ N(0, I) from a noise stream seeded by seed (the model's
 * own training noise is untouched).
 * @param[out] out [n x input_dim]
 * @param[out] z   [n x latent_dim] the draws, may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_sample(vae_model *m, const float *cond, size_t n,
                                                  uint64_t seed, float *out, float *z);

/**
 * decode(encode(x).mu): the reconstruction at the posterior mean.
 * @param[out] out [n x input_dim]
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_reconstruct(vae_model *m, const float *x,
                                                       const float *cond, size_t n,
                                                       float *out);

/* ------------------------------------------------------------------------ */
/* Evaluation and exploration of a trained model                            */
/* ------------------------------------------------------------------------ */

/**
 * Importance-weighted estimate of log p(x) (the IWAE bound of Burda et al.
 * 2015) for every image of ds:
 *     L_k(x) = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x),
 * evaluated as a log-sum-exp in double precision. L_k is a lower bound on
 * log p(x) in expectation, never below the ELBO in expectation, and rises
 * towards log p(x) as k grows. Conditional models use the dataset's labels
 * as one-hot conditioning (as vae_train_epoch()), giving log p(x|c).
 *
 * The draws for image i come from a stream seeded by (seed, i) alone, so
 * they do not depend on chunking, the thread count or the other images; the
 * result does up to float rounding in the matrix products (about 1e-7
 * relative), since the GEMMs round differently at different batch sizes.
 * The model's parameters and training noise are untouched; its workspace
 * grows to hold a block of 512 samples (about 8 MiB for the lesson's model)
 * and keeps that size. The cost is k decoder passes per image.
 *
 * Signs: these are log-likelihoods in nats per image (higher is better);
 * -mean is comparable with vae_loss.total, the negative ELBO.
 *
 * @param[in]  k     importance samples per image, >= 1. k = 1 gives a
 *                   one-sample Monte Carlo estimate of the ELBO.
 * @param[in]  seed  seeds the draws.
 * @param[out] mean  mean of L_k over the images; may be NULL.
 * @param[out] bound [vae_dataset_count(ds)] L_k of each image in storage
 *                   order; may be NULL.
 * @param[out] elbo  [vae_dataset_count(ds)] the mean of the same k log
 *                   weights: a Monte Carlo ELBO estimate from the same
 *                   draws, so bound[i] >= elbo[i] always (Jensen), with
 *                   equality when k = 1; may be NULL.
 * @return VAE_ERR_MISMATCH when ds does not fit the model, VAE_ERR_NUMERIC
 *         when a log weight is not finite (nothing is written then).
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_iwae(vae_model *m, vae_dataset *ds, size_t k,
                                                uint64_t seed, double *mean, double *bound,
                                                double *elbo);

/**
 * Active latent units (Burda et al. 2015): dimension j is active when
 * Var_x(E_q[z_j | x]) > threshold over the images of ds. Unused
 * dimensions have posteriors that ignore x (posterior collapse), so their
 * mean does not vary.
 * @param[in]  threshold  in latent units squared; Burda et al. use 0.01.
 * @param[out] active     number of active dimensions; may be NULL.
 * @param[out] variances  [latent_dim] the variance of each dimension's
 *                        posterior mean over ds (divided by the count);
 *                        may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_active_units(vae_model *m, vae_dataset *ds,
                                                        double threshold, size_t *active,
                                                        double *variances);

/** Path between two latent points. Pinned values. */
typedef enum vae_interpolation {
    /** z(t) = (1 - t) z0 + t z1: a straight line, which passes through the
     *  low-density middle of a Gaussian prior when z0 and z1 are far apart. */
    VAE_INTERP_LINEAR = 0,
    /** Spherical (slerp, Shoemake 1985; White 2016): with theta the angle
     *  between z0 and z1, z(t) = sin((1-t) theta)/sin theta z0 +
     *  sin(t theta)/sin theta z1. Keeps the norm when |z0| = |z1|. Falls
     *  back to LINEAR when sin theta < 1e-6 (parallel, antiparallel or zero
     *  vectors). */
    VAE_INTERP_SLERP = 1
} vae_interpolation;

/**
 * Decode `steps` evenly spaced points t = i / (steps - 1) of the path from
 * z0 (t = 0) to z1 (t = 1); the ends are z0 and z1 exactly.
 * @param[in]  z0, z1 [latent_dim] each.
 * @param[in]  cond   [cond_dim] conditioning shared by every point, or NULL
 *                    when cond_dim is 0.
 * @param[in]  steps  >= 2.
 * @param[out] out    [steps x input_dim] decoded images, as vae_model_decode().
 * @param[out] z      [steps x latent_dim] the points; may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_interpolate(vae_model *m, const float *z0,
                                                       const float *z1, const float *cond,
                                                       vae_interpolation kind, size_t steps,
                                                       float *out, float *z);

/**
 * Latent traversal: decode `steps` copies of z whose dimension `dim` is
 * replaced by lo + (hi - lo) i / (steps - 1), the others held fixed.
 * @param[in]  z      [latent_dim] the base point.
 * @param[in]  cond   [cond_dim] or NULL when cond_dim is 0.
 * @param[in]  dim    the dimension swept, < latent_dim.
 * @param[in]  lo, hi range of the swept value, finite (lo > hi sweeps down).
 * @param[in]  steps  >= 2.
 * @param[out] out    [steps x input_dim] decoded images.
 * @param[out] zs     [steps x latent_dim] the points; may be NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_model_traverse(vae_model *m, const float *z,
                                                    const float *cond, size_t dim, double lo,
                                                    double hi, size_t steps, float *out,
                                                    float *zs);

/* ------------------------------------------------------------------------ */
/* Optimizer                                                                */
/* ------------------------------------------------------------------------ */

/** Optimizer algorithm. Pinned values. */
typedef enum vae_optim_kind {
    VAE_OPTIM_ADAM = 0, /**< Adam (Kingma & Ba 2015), L2 weight decay as PyTorch */
    VAE_OPTIM_SGD = 1   /**< SGD with optional momentum */
} vae_optim_kind;

/** Optimizer settings. Pinned values. Each belongs to the kinds named;
 *  vae_optimizer_param_bounds() gives the ranges. */
typedef enum vae_optim_param {
    VAE_OPTIM_LR = 1,           /**< Adam and SGD: learning rate; Adam 1e-3, SGD 1e-2 */
    VAE_OPTIM_BETA1 = 2,        /**< Adam: first-moment decay; 0.9 */
    VAE_OPTIM_BETA2 = 3,        /**< Adam: second-moment decay; 0.999 */
    VAE_OPTIM_EPS = 4,          /**< Adam: denominator epsilon; 1e-8 */
    VAE_OPTIM_WEIGHT_DECAY = 5, /**< Adam and SGD: L2 coefficient added to the gradient; 0 */
    VAE_OPTIM_MOMENTUM = 6      /**< SGD: momentum; 0 */
} vae_optim_param;

/**
 * Optimizer over the parameters of m, with the defaults above. The model
 * must outlive the optimizer.
 * @param[out] out free with vae_optimizer_free().
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_create(vae_optimizer **out, vae_model *m,
                                                      vae_optim_kind kind);

/** Free an optimizer; NULL is ignored. @since 1.0 */
VAE_API void vae_optimizer_free(vae_optimizer *opt);

/**
 * Set a hyper-parameter.
 * @return VAE_ERR_INVALID_ARGUMENT for a setting opt's kind does not use
 *         (Adam's momentum) or a value outside vae_optimizer_param_bounds().
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_set(vae_optimizer *opt, vae_optim_param p,
                                                   double value);

/**
 * Valid range of an optimizer setting (inclusive), as vae_param_bounds()
 * gives the model's.
 * @param[in]  kind   the algorithm.
 * @param[in]  p      one of its settings.
 * @param[out] lo, hi the bounds; either may be NULL.
 * @return VAE_ERR_INVALID_ARGUMENT for an unknown kind or setting, or one
 *         the kind does not use.
 * @since 1.1
 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_param_bounds(vae_optim_kind kind,
                                                            vae_optim_param p, double *lo,
                                                            double *hi);

/** Read a hyper-parameter (one opt's kind uses; VAE_ERR_INVALID_ARGUMENT
 *  otherwise). @since 1.0 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_get(const vae_optimizer *opt,
                                                   vae_optim_param p, double *value);

/** @return the algorithm of opt (Adam for NULL). @since 1.0 */
VAE_API vae_optim_kind vae_optimizer_kind(const vae_optimizer *opt);

/**
 * Apply the model's current gradient (vae_model_grads()) and advance the
 * model's step count. With a collective set, the gradient is first averaged
 * across workers (vae_optimizer_set_collective()).
 * @return VAE_ERR_NUMERIC when the update would make a parameter or a
 *         moment non-finite (a non-finite gradient, an overflow, 0/0 with
 *         eps 0): nothing is changed. VAE_ERR_LIMIT when the step count is
 *         at UINT64_MAX.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_step(vae_optimizer *opt);

/* ------------------------------------------------------------------------ */
/* Data-parallel training                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Several workers (processes, machines) train one model together: each
 * computes the gradient of its own share of a step's images, the gradients
 * are summed across workers, and every worker applies the same update to its
 * own identical copy of the model. libvae does no networking itself: the host
 * passes the two collectives it needs as callbacks (MPI_Allreduce and
 * MPI_Bcast, NCCL, gloo, a thread barrier...), as LightGBM's
 * LGBM_NetworkInitWithFunctions does. examples/vae-train-mpi.c wires MPI in;
 * docs/scaling.md gives the protocol and its costs.
 */

/** Element type of a buffer given to vae_allreduce_fn. Pinned values. */
typedef enum vae_dtype {
    VAE_DTYPE_F32 = 0, /**< float: the gradients */
    VAE_DTYPE_F64 = 1  /**< double: loss sums, sample counts and votes */
} vae_dtype;

/**
 * A host-provided all-reduce: replace buf, on every worker, by the
 * element-wise sum over all workers of their buf (MPI_Allreduce with
 * MPI_IN_PLACE and MPI_SUM). Every worker calls it in the same order with
 * the same count and type. Every worker must receive the same bits (MPI's
 * reductions do), as the workers' copies of the model stay identical only
 * then. count may exceed INT_MAX; the callback splits it if it must.
 * @param[in]     user  the pointer given to vae_optimizer_set_collective().
 * @param[in,out] buf   count elements of type; in: this worker's values,
 *                      out: the sums.
 * @return 0 on success; anything else (a timeout, a dead peer) is a failure,
 *         and the libvae call that made it returns VAE_ERR_CALLBACK.
 */
typedef int (*vae_allreduce_fn)(void *user, void *buf, size_t count, vae_dtype type);

/**
 * A host-provided broadcast: copy bytes bytes of buf from worker root to
 * every other worker's buf (MPI_Bcast of MPI_BYTE). Called by every worker
 * in the same order with the same bytes and root.
 * @return 0 on success, anything else for a failure (VAE_ERR_CALLBACK).
 */
typedef int (*vae_broadcast_fn)(void *user, void *buf, size_t bytes, int root);

/**
 * Make opt one of world_size workers that train one model together. This is
 * itself a collective call: every worker calls it, each with its own rank,
 * and on return each holds worker 0's parameters, optimizer state and
 * hyper-parameters, step and epoch counts and training noise state (so
 * resuming any worker's checkpoint on any number of workers is consistent).
 *
 * While a collective is set:
 *  - vae_optimizer_step() sums the model's gradient buffer across workers in
 *    one all-reduce of vae_model_param_count() floats, divides it by
 *    world_size, and refuses a non-finite result (VAE_ERR_NUMERIC) before
 *    the update. The result is the gradient of the union of the workers'
 *    batches when they are the same size.
 *  - vae_model_train_step() is the same; a worker whose own pass fails still
 *    takes part (with a poisoned gradient), so all fail together and none
 *    waits forever.
 *  - vae_train_epoch() takes `batch` as the images per worker per step: a
 *    step uses world_size x batch images, the global batch. Every worker
 *    shuffles with the same seed, and worker r takes the r-th of world_size
 *    nearly equal contiguous parts of each global batch. The last global
 *    batch may be short: it is split the same way (parts differ by at most
 *    one image, and some may be empty), each gradient is weighted by its
 *    share of the images, so every worker takes ceil(n / (world_size x batch))
 *    steps and the update is the mean over the images of the step. Worker r
 *    draws its training noise from its own stream, forked from the shared
 *    noise state by r at the start of each epoch (worker 0 uses the shared
 *    state itself, so one worker reproduces single-worker training bit for
 *    bit). After each step the workers also all-reduce a few doubles: the
 *    step's loss sums and image counts (so the progress callback and `mean`
 *    report the global batch and epoch, the same on every worker), failure
 *    votes (a worker that fails makes every worker return an error, not
 *    hang) and stop votes (a worker's progress callback asking to stop
 *    stops every worker after the same step; agreed one step later, that
 *    step's work is discarded). At the end of an epoch worker 0's noise
 *    state is broadcast.
 *  - vae_model_evaluate() and checkpoints do not communicate.
 *
 * A callback that fails makes the call return VAE_ERR_CALLBACK with the
 * parameters and optimizer state as they were (the gradient buffer is then
 * undefined); the workers may then disagree, so restart them from a
 * checkpoint. Free bits (VAE_PARAM_FREE_BITS) floor each worker's batch mean
 * KL, not the global batch's.
 *
 * @param[in] opt        the optimizer; its model must hold the same
 *                       architecture on every worker (VAE_ERR_MISMATCH).
 * @param[in] allreduce  the sum; NULL detaches opt (single worker again,
 *                       no communication; the other arguments are ignored).
 * @param[in] broadcast  required when allreduce is set.
 * @param[in] user       passed back to both callbacks unchanged; must stay
 *                       valid while the collective is set.
 * @param[in] rank       this worker, in [0, world_size).
 * @param[in] world_size workers, >= 1.
 * @return VAE_ERR_INVALID_ARGUMENT, VAE_ERR_CALLBACK, VAE_ERR_MISMATCH (the
 *         workers' models or optimizers differ in shape or kind: every
 *         worker gets it), VAE_ERR_OUT_OF_MEMORY (some worker had no memory
 *         for the transfer). On failure nothing of opt or its model changed.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_optimizer_set_collective(vae_optimizer *opt,
                                                              vae_allreduce_fn allreduce,
                                                              vae_broadcast_fn broadcast,
                                                              void *user, int rank,
                                                              int world_size);

/* ------------------------------------------------------------------------ */
/* Dataset                                                                  */
/* ------------------------------------------------------------------------ */

/** Flags of the in-memory constructors. */
enum {
    /** Keep a pointer to the caller's data instead of a copy: the data must
     *  stay valid and unchanged until vae_dataset_free(). */
    VAE_DATASET_BORROW = 1u
};

/**
 * Load IDX files (MNIST layout; raw or gzip, recognised by content). Pixels
 * are unsigned bytes scaled to [0,1]; a file of [n x rows x cols] gives
 * samples of rows*cols floats. A gzip file may hold several members (as
 * gzip(1) concatenates them); every member's CRC-32 and length are checked
 * and nothing else may follow the last one.
 * @param[in] images_path IDX file of unsigned bytes, 2 or more dimensions.
 * @param[in] labels_path IDX file of n unsigned-byte labels, or NULL.
 * @param[in] max_bytes   refuse data sets whose pixels would take more than
 *                        this many bytes (0: the library's cap, 4 GiB).
 * @param[out] out free with vae_dataset_free().
 * @return VAE_ERR_IO (also for anything but a regular file, such as a
 *         FIFO: refused without blocking), VAE_ERR_FORMAT (bad magic,
 *         truncated, corrupt gzip, trailing bytes, bytes after the gzip
 *         stream), VAE_ERR_MISMATCH (label count), VAE_ERR_LIMIT.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_load_idx(vae_dataset **out,
                                                      const char *images_path,
                                                      const char *labels_path,
                                                      uint64_t max_bytes);

/**
 * Dataset from n samples of dim unsigned bytes each (scaled by 1/255).
 * @param[in] data   [n x dim]; copied unless flags has VAE_DATASET_BORROW.
 * @param[in] labels n labels in [0, 65535], or NULL; always copied.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_from_u8(vae_dataset **out, const uint8_t *data,
                                                     size_t n, size_t dim,
                                                     const int32_t *labels, unsigned flags);

/**
 * Dataset from n samples of dim floats each, used as they are.
 * @param[in] data   [n x dim], finite; copied unless VAE_DATASET_BORROW.
 * @param[in] labels n labels in [0, 65535], or NULL; always copied.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_from_f32(vae_dataset **out, const float *data,
                                                      size_t n, size_t dim,
                                                      const int32_t *labels, unsigned flags);

/** Free a dataset; NULL is ignored. @since 1.0 */
VAE_API void vae_dataset_free(vae_dataset *ds);

/** @return number of samples (0 for NULL). @since 1.0 */
VAE_API size_t vae_dataset_count(const vae_dataset *ds);
/** @return floats per sample (0 for NULL). @since 1.0 */
VAE_API size_t vae_dataset_dim(const vae_dataset *ds);
/** @return 1 + the largest label, or 0 when there are no labels. @since 1.0 */
VAE_API size_t vae_dataset_num_classes(const vae_dataset *ds);

/**
 * The labels, vae_dataset_count() of them in storage order, or NULL when the
 * dataset has none. Owned by the dataset. @since 1.0
 */
VAE_API const int32_t *vae_dataset_labels(const vae_dataset *ds);

/**
 * Copy samples [first, first+count) in storage order as floats.
 * @param[out] x      [count x dim]
 * @param[out] labels count labels, or NULL.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_get(const vae_dataset *ds, size_t first,
                                                 size_t count, float *x, int32_t *labels);

/**
 * Set the order used by vae_dataset_batch() to a permutation drawn from seed.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_shuffle(vae_dataset *ds, uint64_t seed);

/**
 * Copy minibatch number index of the current order (identity until
 * vae_dataset_shuffle()); the last batch may be short.
 * @param[out] x      [batch x dim]
 * @param[out] labels batch labels, or NULL.
 * @param[out] n      samples actually copied.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_batch(const vae_dataset *ds, size_t index,
                                                   size_t batch, float *x, int32_t *labels,
                                                   size_t *n);

/**
 * Split ds at random into two new datasets, e.g. training and validation.
 * `count` samples drawn without replacement by a permutation seeded by
 * seed go into *picked, the others into *rest; each keeps the storage order
 * of ds, its labels and its sample type (bytes stay bytes). Both are copies
 * that own their memory; ds is unchanged and may be freed after.
 * @param[in]  count  1 to vae_dataset_count(ds) - 1.
 * @param[out] rest   vae_dataset_count(ds) - count samples; free with vae_dataset_free().
 * @param[out] picked count samples; free with vae_dataset_free().
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_dataset_split(const vae_dataset *ds, size_t count,
                                                   uint64_t seed, vae_dataset **rest,
                                                   vae_dataset **picked);

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Save the model (architecture, objective settings, parameters, step and
 * epoch counts, noise state) and, when opt is not NULL, the optimizer state.
 * Atomic: written to a temporary file beside path, fsync'd, then renamed
 * over path, so path always holds either the old or the new checkpoint.
 * Format: docs/checkpoint-format.md.
 * @return VAE_ERR_NUMERIC, writing nothing, when a parameter or an
 *         optimizer moment is not finite or a second moment is negative:
 *         such a file would replace a good checkpoint with one that no
 *         load accepts. VAE_ERR_IO, VAE_ERR_OUT_OF_MEMORY.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_checkpoint_save(const char *path, const vae_model *m,
                                                     const vae_optimizer *opt);

/**
 * Load a checkpoint into a new model (and optimizer). Every value is
 * checked against its domain (finite floats, Adam's second moments >= 0,
 * counters below UINT64_MAX, settings within their bounds), and memory is
 * allocated only once the header and architecture are valid, never more
 * than that architecture's checkpoint takes.
 * @param[out] model receives the model; free with vae_model_free().
 * @param[out] opt   receives the optimizer, or NULL to skip it; *opt is set
 *                   to NULL when the file holds no optimizer state.
 * @return VAE_ERR_IO (also for anything but a regular file, such as a FIFO:
 *         refused without blocking), VAE_ERR_FORMAT for truncated, corrupt,
 *         foreign or out-of-domain files, VAE_ERR_UNSUPPORTED for a newer
 *         format version, VAE_ERR_LIMIT. The file is never modified.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_checkpoint_load(const char *path, vae_model **model,
                                                     vae_optimizer **opt);

/* ------------------------------------------------------------------------ */
/* Compute backends and threads                                             */
/* ------------------------------------------------------------------------ */

/** Transposition flag of vae_sgemm_fn. */
typedef enum vae_transpose {
    VAE_NO_TRANS = 0, /**< op(X) = X */
    VAE_TRANS = 1     /**< op(X) = X^T */
} vae_transpose;

/**
 * A host-provided single-precision GEMM, row-major:
 * C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
 * Return 0 on success. beta may be 0, in which case C's prior contents
 * (possibly NaN) must be ignored.
 */
typedef int (*vae_sgemm_fn)(void *user, vae_transpose ta, vae_transpose tb, size_t m,
                            size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *b, size_t ldb, float beta, float *c, size_t ldc);

/** @return number of backends usable in this process. @since 1.0 */
VAE_API size_t vae_backend_count(void);
/**
 * @return name of usable backend i, NULL past the end: "avx512", "avx2",
 *         "neon", "blas", "ref" (in that order of preference, those this
 *         build and CPU offer). @since 1.0
 */
VAE_API const char *vae_backend_name(size_t i);
/**
 * @return name of the backend in use. Unless one was selected (by
 *         vae_backend_select() or VAE_BACKEND), the first call that needs one
 *         makes the "auto" choice, which measures (see vae_backend_select()).
 * @since 1.0
 */
VAE_API const char *vae_backend_active(void);

/**
 * Select a backend by name. "auto" is the fastest on this machine: once per
 * process, at the first use, the lesson's three large products are timed on
 * every usable backend but "ref" (about 60 ms on 2 cores), and of those within 10% of
 * the fastest the first in order of preference is taken; the figures go to
 * the log callback at VAE_LOG_INFO. Name a backend instead for results that
 * do not depend on such a measurement: an own level ("avx512", "avx2",
 * "neon", "ref") at a fixed thread count gives the same bits on every CPU
 * that runs it. Process-wide; call it while no training is running. The
 * VAE_BACKEND environment variable makes the same choice at start-up.
 * @return VAE_ERR_UNAVAILABLE for a backend not built or not supported.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_backend_select(const char *name);

/**
 * Route every GEMM through fn (NULL restores the selected backend).
 * Becomes the active backend, named "custom". @since 1.0
 */
VAE_API void vae_set_sgemm(vae_sgemm_fn fn, void *user);

/**
 * Threads used by the GEMMs (and the BLAS library's own pool) and by the
 * large element-wise passes. A SIMD level gives the same bits for any count.
 * @param[in] n >= 1.
 * @since 1.0
 */
VAE_API VAE_NODISCARD vae_status vae_set_threads(int n);
/** @return the thread count in force. @since 1.0 */
VAE_API int vae_get_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* VAE_VAE_H */
