/*
 * Convolutional layers (layer specs, since 1.1): the gradient of the whole
 * objective against central finite differences of an independent double
 * forward pass that convolves directly (a sum over taps for conv, a scatter
 * of every input pixel for the transposed conv, as PyTorch defines it), at
 * every kernel level, on odd shapes, strides and paddings; the shapes and
 * parameter count of the reference network; and specs that are refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "model.h"
#include "objective.h"
#include "reference.h"
#include "levels.h"
#include "rng.h"

enum { N = 3, MAXW = 512 };

typedef struct {
    vae_model *m;
    double *p;
    float x[N * MAXW], cond[N * 4], eps[N * 8];
} fixture;

/* One layer in double, channels-last images; in has the layer's input (and
 * the conditioning vector c for a dense layer with cond > 0). */
static void ref_layer(const vae_model *m, const double *p, const vaei_layer *ly, const double *in,
                      const float *c, double *out)
{
    const vaei_conv_geom *g = &ly->g;
    const double *W = p + ly->w, *b = p + ly->b;
    if (ly->kind == VAEI_DENSE) {
        for (size_t j = 0; j < ly->out; j++) {
            double s = b[j];
            for (size_t i = 0; i < ly->in; i++) s += in[i] * W[i * ly->out + j];
            for (size_t i = 0; i < ly->cond; i++) s += c[i] * W[(ly->in + i) * ly->out + j];
            out[j] = s;
        }
    } else if (ly->kind == VAEI_CONV) {
        const size_t ci = g->c, co = ly->ch;
        for (size_t oy = 0; oy < g->ho; oy++)
            for (size_t ox = 0; ox < g->wo; ox++)
                for (size_t o = 0; o < co; o++) {
                    double s = b[o];
                    for (size_t ky = 0; ky < g->k; ky++)
                        for (size_t kx = 0; kx < g->k; kx++) {
                            const long iy = (long)(oy * g->s + ky) - (long)g->p;
                            const long ix = (long)(ox * g->s + kx) - (long)g->p;
                            if (iy < 0 || ix < 0 || iy >= (long)g->h || ix >= (long)g->w) continue;
                            for (size_t i = 0; i < ci; i++)
                                s += in[((size_t)iy * g->w + (size_t)ix) * ci + i] *
                                     W[((ky * g->k + kx) * ci + i) * co + o];
                        }
                    out[(oy * g->wo + ox) * co + o] = s;
                }
    } else { /* transposed: input pixel (iy, ix) adds into output (iy s - p + ky, ...) */
        const size_t ci = ly->ch, co = g->c, kkco = g->k * g->k * co;
        for (size_t j = 0; j < g->h * g->w; j++)
            for (size_t o = 0; o < co; o++) out[j * co + o] = b[o];
        for (size_t iy = 0; iy < g->ho; iy++)
            for (size_t ix = 0; ix < g->wo; ix++)
                for (size_t ky = 0; ky < g->k; ky++)
                    for (size_t kx = 0; kx < g->k; kx++) {
                        const long oy = (long)(iy * g->s + ky) - (long)g->p;
                        const long ox = (long)(ix * g->s + kx) - (long)g->p;
                        if (oy < 0 || ox < 0 || oy >= (long)g->h || ox >= (long)g->w) continue;
                        for (size_t i = 0; i < ci; i++)
                            for (size_t o = 0; o < co; o++)
                                out[((size_t)oy * g->w + (size_t)ox) * co + o] +=
                                    in[(iy * g->wo + ix) * ci + i] *
                                    W[i * kkco + (ky * g->k + kx) * co + o];
                    }
    }
    if (ly->act >= 0)
        for (size_t j = 0; j < ly->out; j++)
            out[j] = ref_act(ly->act, out[j], m->cfg.v[S_LEAKY_SLOPE]);
}

static void ref_side2(const vae_model *m, const double *p, const vaei_layer *ly, size_t nl,
                      const double *in, const float *c, double *out)
{
    double buf[2][MAXW];
    const double *x = in;
    for (size_t l = 0; l < nl; l++) {
        assert_true(ly[l].out <= MAXW);
        double *y = l + 1 == nl ? out : buf[l % 2];
        ref_layer(m, p, &ly[l], x, c, y);
        x = y;
    }
}

static double objective(const fixture *f)
{
    const vae_model *m = f->m;
    const size_t D = m->D, L = m->L, C = m->C;
    double recon = 0, kl = 0;
    for (size_t n = 0; n < N; n++) {
        double in[MAXW], S[16], z[8], out[MAXW];
        for (size_t j = 0; j < D; j++) in[j] = f->x[n * D + j];
        for (size_t k = 0; k < C; k++) in[D + k] = f->cond[n * C + k];
        ref_side2(m, f->p, m->enc, m->n_enc, in, f->cond + n * C, S);
        for (size_t k = 0; k < L; k++) {
            const double mu = S[k], lv = S[L + k];
            kl += 0.5 * (mu * mu + exp(lv) - lv - 1);
            in[k] = z[k] = mu + exp(0.5 * lv) * f->eps[n * L + k];
        }
        for (size_t k = 0; k < C; k++) in[L + k] = f->cond[n * C + k];
        ref_side2(m, f->p, m->dec, m->n_dec, in, f->cond + n * C, out);
        recon -= ref_log_px(m, f->p, f->x + n * D, out);
        (void)z;
    }
    return (recon + kl) / N;
}

typedef struct {
    const char *enc, *dec;
    size_t c, h, w, latent, cond;
    int likelihood;
} arch;

static vae_model *make(const arch *a)
{
    vae_config *cfg;
    vae_model *m = NULL;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    assert_int_equal(vae_config_set_input_shape(cfg, a->c, a->h, a->w), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, (double)a->latent), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_COND_DIM, (double)a->cond), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, a->likelihood), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LEAKY_SLOPE, 0.1), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_GAUSSIAN_LOGVAR, -1.0), VAE_OK);
    assert_int_equal(vae_config_set_layers(cfg, VAE_ENCODER, a->enc), VAE_OK);
    assert_int_equal(vae_config_set_layers(cfg, VAE_DECODER, a->dec), VAE_OK);
    const vae_status s = vae_model_create(&m, cfg);
    if (s != VAE_OK) fail_msg("%s | %s: %s", a->enc, a->dec, vae_last_error());
    vae_config_free(cfg);
    return m;
}

/* Analytic gradient at the current level against the double reference. */
static void check_level(fixture *f, const arch *a)
{
    vae_model *m = f->m;
    const size_t P = vae_model_param_count(m), ld = m->D + m->C;
    assert_int_equal(vaei_model_reserve(m, N), VAE_OK);
    for (size_t n = 0; n < N; n++) {
        memcpy(m->ws.x0 + n * ld, f->x + n * m->D, m->D * sizeof(float));
        memcpy(m->ws.x0 + n * ld + m->D, f->cond + n * m->C, m->C * sizeof(float));
    }
    memcpy(m->ws.eps, f->eps, N * m->L * sizeof(float));
    vae_loss loss;
    assert_int_equal(vaei_encoder_forward(m, m->ws.x0, ld, N), VAE_OK);
    vaei_reparameterize(m, m->ws.enc[m->n_enc - 1], m->ws.eps, m->ws.z, N);
    vaei_stage_cond(m, m->ws.z + m->L, m->L + m->C, m->ws.x0 + m->D, ld, N);
    assert_int_equal(vaei_decoder_forward(m, N), VAE_OK);
    assert_int_equal(vaei_objective(m, m->ws.x0, ld, N, 1, &loss), VAE_OK);
    const double obj = objective(f);
    if (fabs(loss.objective - obj) > 1e-4 * fmax(1.0, fabs(obj)))
        fail_msg("%s: %s | %s: objective %.8g, reference %.8g", vae_backend_active(), a->enc,
                 a->dec, loss.objective, obj);
    const double h = 1e-5;
    for (size_t i = 0; i < P; i++) {
        const double p0 = f->p[i];
        f->p[i] = p0 + h;
        const double up = objective(f);
        f->p[i] = p0 - h;
        const double down = objective(f);
        f->p[i] = p0;
        const double fd = (up - down) / (2 * h), an = m->grads[i];
        if (fabs(an - fd) > 2e-4 + 2e-3 * fabs(fd)) {
            size_t t = 0;
            while (t + 1 < m->n_tensors && m->tensors[t + 1].offset <= i) t++;
            fail_msg("%s: %s | %s: %s[%zu]: analytic %.8g, finite difference %.8g",
                     vae_backend_active(), a->enc, a->dec, m->tensors[t].name,
                     i - m->tensors[t].offset, an, fd);
        }
    }
}

static void check(const arch *a)
{
    fixture f = {0};
    f.m = make(a);
    vae_model *m = f.m;
    const size_t P = vae_model_param_count(m);
    assert_true(m->D <= MAXW && m->L <= 8 && m->C <= 4);
    f.p = malloc(P * sizeof *f.p);
    assert_non_null(f.p);
    vaei_rng r;
    vaei_rng_seed(&r, 5);
    for (size_t i = 0; i < P; i++) m->params[i] = (float)(vaei_rng_uniform(&r) * 1.0 - 0.5);
    for (size_t i = 0; i < N * m->D; i++) f.x[i] = (float)vaei_rng_uniform(&r);
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < m->C; k++) f.cond[n * m->C + k] = k == n % m->C ? 1.0f : 0.0f;
    vaei_rng_normal(&r, f.eps, N * m->L);
    for (size_t i = 0; i < P; i++) f.p[i] = m->params[i];
    for (size_t b = 0; b < vae_backend_count(); b++) {
        assert_int_equal(vae_backend_select(vae_backend_name(b)), VAE_OK);
        check_level(&f, a);
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    free(f.p);
    vae_model_free(m);
}

static void test_conv_gradient_odd_shapes(void **state)
{
    (void)state;
    static const arch archs[] = {
        /* two channels, not square; stride 2 pad 1, then stride 1 pad 0 */
        {"conv:3:3:2:1,relu,conv:2:2:1:0,tanh", "dense:12,elu,reshape:3:2:2,deconv:2:3:2:0,"
         "softplus,deconv:2:2:1:1", 2, 7, 5, 3, 0, VAE_LIKELIHOOD_BERNOULLI},
        /* stride 3, the decoder's deconv is the output; conditional */
        {"conv:2:3:3:0,leaky_relu", "dense:18,relu,reshape:2:3:3,deconv:1:3:3:0", 1, 9, 9, 2, 2,
         VAE_LIKELIHOOD_BERNOULLI},
        /* kernel 4 stride 3 pad 2, a dense hidden layer after the conv;
         * learned Gaussian; conditional into that dense layer */
        {"conv:2:4:3:2,elu,dense:5,tanh", "dense:8,relu,reshape:2:2:2,deconv:3:2:2:0,relu", 3, 7,
         5, 2, 3, VAE_LIKELIHOOD_GAUSSIAN_LEARNED},
        /* padding 2 in the deconv, a conv inside the decoder, fixed Gaussian */
        {"conv:4:3:1:1,relu,conv:3:3:2:0", "dense:27,tanh,reshape:3:3:3,deconv:2:5:2:2,relu,"
         "conv:1:2:1:0", 1, 6, 6, 3, 0, VAE_LIKELIHOOD_GAUSSIAN},
    };
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++) check(&archs[i]);
}

/* Two Adam steps of a small version of the reference network on 37 images
 * at `threads` threads and a precision; the parameters after them (caller
 * frees). 37 images: the conv layers' passes run in 12 chunks of 3 and a
 * last one of 1 (lib/layers.c), whose partial sums of dW and db make the
 * order of those sums. */
static float *two_steps(int threads, int precision, size_t *np)
{
    enum { IMAGES = 37 };
    const arch a = {"conv:8:4:2:1,relu,conv:16:4:2:1,relu",
                    "dense:784,relu,reshape:16:7:7,deconv:8:4:2:1,relu,deconv:1:4:2:1", 1, 28,
                    28, 2, 0, VAE_LIKELIHOOD_BERNOULLI};
    assert_int_equal(vae_set_threads(threads), VAE_OK);
    vae_model *m = make(&a);
    if (vae_model_set(m, VAE_PARAM_PRECISION, precision) != VAE_OK) {
        vae_model_free(m);
        return NULL;
    }
    vae_optimizer *opt;
    assert_int_equal(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), VAE_OK);
    static float x[IMAGES * 784];
    for (size_t i = 0; i < IMAGES * 784; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    vae_loss loss;
    for (int s = 0; s < 2; s++)
        assert_int_equal(vae_model_train_step(m, opt, x, NULL, IMAGES, &loss), VAE_OK);
    *np = vae_model_param_count(m);
    float *p = malloc(*np * sizeof *p);
    assert_non_null(p);
    memcpy(p, vae_model_params(m), *np * sizeof *p);
    vae_optimizer_free(opt);
    vae_model_free(m);
    return p;
}

/* The workspace is reserved for the largest batch seen, and a smaller one
 * reuses it: the partial sums a layer needs for n images must cover every
 * smaller batch too. They did not: 17 images run in 9 chunks of 2, 16 in
 * 16 chunks of 1, so a step of 16 after one of 17 wrote the sums of 7 more
 * chunks past the workspace (a heap overflow, which the ASan run sees in
 * the steps below, at the levels that run a pass in chunks). */
static void test_conv_partials_cover_smaller_batches(void **state)
{
    (void)state;
    const arch a = {"conv:8:4:2:1,relu,conv:16:4:2:1,relu",
                    "dense:784,relu,reshape:16:7:7,deconv:8:4:2:1,relu,deconv:1:4:2:1", 1, 28,
                    28, 2, 0, VAE_LIKELIHOOD_BERNOULLI};
    vae_model *m = make(&a);
    for (size_t l = 0; l < m->n_enc + m->n_dec; l++) {
        const vaei_layer *ly = l < m->n_enc ? &m->enc[l] : &m->dec[l - m->n_enc];
        for (size_t n = 2; n <= 1024; n++)
            if (vaei_layer_partials(ly, n) < vaei_layer_partials(ly, n - 1))
                fail_msg("layer %zu: partial sums for %zu images %zu, for %zu images %zu", l, n,
                         vaei_layer_partials(ly, n), n - 1, vaei_layer_partials(ly, n - 1));
    }
    vae_model_free(m);
    static float x[37 * 784];
    for (size_t i = 0; i < 37 * 784; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    const size_t batches[] = {17, 16, 37, 32, 1};
    for (size_t b = 0; b < vae_backend_count(); b++) { /* the levels that run in chunks */
        if (!level_is_ours(vae_backend_name(b))) continue;
        assert_int_equal(vae_backend_select(vae_backend_name(b)), VAE_OK);
        m = make(&a);
        vae_optimizer *opt;
        assert_int_equal(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), VAE_OK);
        vae_loss loss;
        for (size_t i = 0; i < sizeof batches / sizeof *batches; i++)
            assert_int_equal(vae_model_train_step(m, opt, x, NULL, batches[i], &loss), VAE_OK);
        vae_optimizer_free(opt);
        vae_model_free(m);
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

/* At libvae's own levels (and in bfloat16, where the CPU has it) a conv
 * network trains to the same bits at 1, 2 and 3 threads. */
static void test_conv_any_thread_count(void **state)
{
    (void)state;
    const int before = vae_get_threads();
    for (size_t b = 0; b < vae_backend_count(); b++) {
        const char *name = vae_backend_name(b);
        if (!level_is_ours(name)) continue;
        assert_int_equal(vae_backend_select(name), VAE_OK);
        for (int precision = VAE_PRECISION_FP32; precision <= VAE_PRECISION_BF16; precision++) {
            size_t n1, n;
            float *one = two_steps(1, precision, &n1);
            if (!one) continue; /* no bfloat16 here */
            for (int t = 2; t <= 3; t++) {
                float *p = two_steps(t, precision, &n);
                assert_int_equal(n, n1);
                if (memcmp(p, one, n * sizeof *p) != 0)
                    fail_msg("%s, precision %d: %d threads differ from 1", name, precision, t);
                free(p);
            }
            free(one);
        }
    }
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
    assert_int_equal(vae_set_threads(before), VAE_OK);
}

/* The reference network of docs/variants.md: 88,645 parameters at L = 2,
 * the specs survive a checkpoint, and a 1.0 reader is told it is newer. */
static void test_conv_reference_network(void **state)
{
    (void)state;
    const arch a = {"conv:32:4:2:1,relu,conv:64:4:2:1,relu",
                    "dense:3136,relu,reshape:64:7:7,deconv:32:4:2:1,relu,deconv:1:4:2:1", 1, 28,
                    28, 2, 0, VAE_LIKELIHOOD_BERNOULLI};
    vae_model *m = make(&a);
    assert_int_equal(vae_model_param_count(m), 88645);
    assert_int_equal(m->n_enc, 3);
    assert_int_equal(m->n_dec, 3);
    assert_string_equal(vae_model_layers(m, VAE_DECODER), a.dec);
    size_t widths[4], nw = 9;
    assert_int_equal(vae_model_hidden(m, VAE_ENCODER, widths, 4, &nw), VAE_OK);
    assert_int_equal(nw, 0);
    const char *path = "test_conv.vae";
    assert_int_equal(vae_checkpoint_save(path, m, NULL), VAE_OK);
    vae_model *back;
    assert_int_equal(vae_checkpoint_load(path, &back, NULL), VAE_OK);
    assert_string_equal(vae_model_layers(back, VAE_ENCODER), a.enc);
    assert_int_equal(vae_model_param_count(back), 88645);
    assert_memory_equal(vae_model_params(back), vae_model_params(m), 88645 * sizeof(float));
    /* Format version 2: byte 8 of the file. */
    FILE *fp = fopen(path, "rb");
    unsigned char head[12];
    assert_non_null(fp);
    assert_int_equal(fread(head, 1, 12, fp), 12);
    fclose(fp);
    assert_int_equal(head[8], 2);
    remove(path);
    vae_model_free(back);
    vae_model_free(m);
}

static void test_conv_refused_specs(void **state)
{
    (void)state;
    vae_config *cfg;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    static const char *const syntax[] = {"conv:32:4:2", "conv:32:0:2:1", "dense:", "relu,",
                                         "dense:4,,relu", "pool:2", "conv:1:65:1:0",
                                         "dense:4:1", "reshape:1:2"};
    for (size_t i = 0; i < sizeof syntax / sizeof *syntax; i++)
        assert_int_equal(vae_config_set_layers(cfg, VAE_ENCODER, syntax[i]),
                         VAE_ERR_INVALID_ARGUMENT);
    /* Well formed, but the shapes do not fit. */
    static const char *const shapes[][2] = {
        {"relu", ""},                          /* activation of nothing */
        {"conv:2:30:1:0", ""},                 /* kernel larger than the image */
        {"dense:10,conv:2:3:1:0", ""},         /* conv without an image */
        {"", "reshape:1:2:2"},                 /* 2 latent values as 4 */
        {"", "dense:4,relu,relu"},             /* two activations */
        {"dense:8,reshape:16777216:16777216:65536", ""}, /* a product that wraps to 0 mod 2^64 */
        {"conv:65537:3:1:1", ""},              /* too many channels */
        {"dense:65536,reshape:65536:1:1,conv:1:64:1:32", ""}, /* 4 x 2^28 column matrix */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        vae_model *m = NULL;
        assert_int_equal(vae_config_set_layers(cfg, VAE_ENCODER, shapes[i][0]), VAE_OK);
        assert_int_equal(vae_config_set_layers(cfg, VAE_DECODER, shapes[i][1]), VAE_OK);
        assert_int_equal(vae_model_create(&m, cfg), VAE_ERR_INVALID_ARGUMENT);
        assert_null(m);
    }
    assert_int_equal(vae_config_set_input_shape(cfg, 1, 0, 3), VAE_ERR_INVALID_ARGUMENT);
    vae_config_free(cfg);
}

int main(void)
{
    (void)ref_encode; /* reference.h's dense passes: ref_side2 replaces them here */
    (void)ref_decode;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_gradient_odd_shapes),
        cmocka_unit_test(test_conv_any_thread_count),
        cmocka_unit_test(test_conv_partials_cover_smaller_batches),
        cmocka_unit_test(test_conv_reference_network),
        cmocka_unit_test(test_conv_refused_specs),
    };
    return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
