/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/kernels.h"
#include "layers.h"
#include "model.h"

/* ------------------------------------------------------------------------ */
/* Shapes and parameters                                                    */
/* ------------------------------------------------------------------------ */

static void add_tensor(vae_model *m, const char *name, size_t rows, size_t cols)
{
    vaei_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->offset = m->n_params;
    m->n_params += rows * cols;
}

/* Tensors of a planned layer; a dense layer's W is [(in + cond) x out]. */
static void add_layer(vae_model *m, vaei_layer *ly, const char *side, const char *tag)
{
    char name[32];
    const vaei_conv_geom *g = &ly->g;
    const size_t kk = g->k * g->k;
    size_t rows = ly->in + ly->cond, cols = ly->out, bias = ly->out;
    if (ly->kind == VAEI_CONV) rows = kk * g->c, cols = bias = ly->ch;
    if (ly->kind == VAEI_DECONV) rows = ly->ch, cols = kk * g->c, bias = g->c;
    ly->w = m->n_params;
    snprintf(name, sizeof name, "%s.%s.weight", side, tag);
    add_tensor(m, name, rows, cols);
    ly->b = m->n_params;
    snprintf(name, sizeof name, "%s.%s.bias", side, tag);
    add_tensor(m, name, 1, bias);
    ly->np = rows * cols + bias;
    if (ly->out > m->widest) m->widest = ly->out;
    if (ly->in > m->widest) m->widest = ly->in;
}

static void add_dense(vae_model *m, vaei_layer *ly, const char *side, const char *tag,
                      size_t in, size_t out, int act)
{
    memset(ly, 0, sizeof *ly);
    ly->in = ly->fan_in = in;
    ly->out = out;
    ly->act = act;
    add_layer(m, ly, side, tag);
}

/* One side from its layer spec (lib/layers.c); the last layer is the
 * encoder's head or the decoder's output. */
static vae_status build_spec_side(vae_model *m, int side)
{
    vaei_layer *ly = side ? m->dec : m->enc;
    size_t nl;
    VAEI_TRY(vaei_layers_plan(&m->cfg, side, ly, &nl));
    char tag[24];
    for (size_t l = 0; l < nl; l++) {
        snprintf(tag, sizeof tag, "%zu", l);
        add_layer(m, &ly[l], side ? "decoder" : "encoder",
                  l + 1 < nl ? tag : side ? "out" : "head");
    }
    *(side ? &m->n_dec : &m->n_enc) = nl;
    return VAE_OK;
}

static vae_status build_layers(vae_model *m)
{
    const struct vae_config *c = &m->cfg;
    const int act = (int)c->v[S_ACTIVATION];
    char tag[16];
    if (c->spec[0][0]) {
        VAEI_TRY(build_spec_side(m, 0));
    } else {
        size_t in = m->D + m->C;
        for (size_t l = 0; l < c->n_hidden[0]; l++) {
            snprintf(tag, sizeof tag, "%zu", l);
            add_dense(m, &m->enc[l], "encoder", tag, in, c->hidden[0][l], act);
            in = c->hidden[0][l];
        }
        add_dense(m, &m->enc[c->n_hidden[0]], "encoder", "head", in, 2 * m->L, -1);
        m->n_enc = c->n_hidden[0] + 1;
    }
    if (c->spec[1][0]) {
        VAEI_TRY(build_spec_side(m, 1));
    } else {
        size_t in = m->L + m->C;
        for (size_t l = 0; l < c->n_hidden[1]; l++) {
            snprintf(tag, sizeof tag, "%zu", l);
            add_dense(m, &m->dec[l], "decoder", tag, in, c->hidden[1][l], act);
            in = c->hidden[1][l];
        }
        add_dense(m, &m->dec[c->n_hidden[1]], "decoder", "out", in, m->D, -1);
        m->n_dec = c->n_hidden[1] + 1;
    }
    if ((int)VAEI_CFG(m, S_LIKELIHOOD) == VAE_LIKELIHOOD_GAUSSIAN_LEARNED) {
        m->px_logvar = m->n_params;
        add_tensor(m, "decoder.logvar", 1, m->D);
    }
    return VAE_OK;
}

/* PyTorch's default for nn.Linear, Conv2d and ConvTranspose2d: weights and
 * biases uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (kaiming_uniform with
 * a = sqrt(5) gives that bound). W and b are adjacent in the buffer. */
static void init_layer(vae_model *m, const vaei_layer *ly)
{
    const size_t count = ly->np;
    const double bound = 1.0 / sqrt((double)ly->fan_in);
    float *p = m->params + ly->w;
    for (size_t i = 0; i < count; i++)
        p[i] = (float)((2.0 * vaei_rng_uniform(&m->rng) - 1.0) * bound);
}

static void init_params(vae_model *m)
{
    for (size_t l = 0; l < m->n_enc; l++) init_layer(m, &m->enc[l]);
    for (size_t l = 0; l < m->n_dec; l++) init_layer(m, &m->dec[l]);
    if ((int)VAEI_CFG(m, S_LIKELIHOOD) == VAE_LIKELIHOOD_GAUSSIAN_LEARNED)
        for (size_t j = 0; j < m->D; j++)
            m->params[m->px_logvar + j] = (float)VAEI_CFG(m, S_GAUSSIAN_LOGVAR);
}

/* A model with its shapes laid out and nothing else allocated. */
static vae_status model_shell(vae_model **out, const struct vae_config *cfg)
{
    VAEI_TRY(vaei_config_validate(cfg));
    vae_model *m = calloc(1, sizeof *m);
    VAEI_CHECK(m != NULL, VAE_ERR_OUT_OF_MEMORY, "vae_model_create: out of memory");
    m->cfg = *cfg;
    m->D = (size_t)cfg->v[S_INPUT_DIM];
    m->L = (size_t)cfg->v[S_LATENT_DIM];
    m->C = (size_t)cfg->v[S_COND_DIM];
    vae_status st = build_layers(m);
    if (st != VAE_OK) {
        free(m);
        return st;
    }
    *out = m;
    return VAE_OK;
}

vae_status vaei_model_param_total(const struct vae_config *cfg, size_t *n)
{
    vae_model *m;
    VAEI_TRY(model_shell(&m, cfg));
    *n = m->n_params;
    free(m);
    return VAE_OK;
}

vae_status vaei_model_new(vae_model **out, const struct vae_config *cfg, int init,
                          size_t expect_params)
{
    vae_model *m;
    VAEI_TRY(model_shell(&m, cfg));
    if (expect_params && expect_params != m->n_params) {
        const size_t need = m->n_params;
        vae_model_free(m);
        return vaei_fail(VAE_ERR_FORMAT, "%zu parameters stored but the architecture needs %zu",
                         expect_params, need);
    }
    m->params = vaei_floats(m->n_params);
    m->grads = vaei_floats(m->n_params);
    if (!m->params || !m->grads) {
        const size_t need = m->n_params; /* read before the free, not after */
        vae_model_free(m);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "vae_model_create: no memory for %zu parameters",
                         need);
    }
    vaei_rng_seed(&m->rng, (uint64_t)cfg->v[S_SEED]);
    if (init) init_params(m);
    *out = m;
    return VAE_OK;
}

vae_status vae_model_create(vae_model **out, const vae_config *cfg)
{
    VAEI_CHECK_ARG(out != NULL && cfg != NULL);
    return vaei_model_new(out, cfg, 1, 0);
}

void vae_model_free(vae_model *m)
{
    if (!m) return;
    vaei_floats_free(m->ws.mem);
    vaei_floats_free(m->params);
    vaei_floats_free(m->grads);
    free(m);
}

vae_status vae_model_set(vae_model *m, vae_param p, double value)
{
    VAEI_CHECK_ARG(m != NULL);
    const int slot = vaei_param_slot(p);
    VAEI_CHECK(slot >= 0, VAE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)p);
    VAEI_CHECK(!(vaei_param_flags(slot) & VAEI_ARCH), VAE_ERR_INVALID_ARGUMENT,
               "parameter %d is part of the architecture: fixed once the model exists", (int)p);
    VAEI_TRY(vaei_param_check(slot, value));
    struct vae_config next = m->cfg;
    next.v[slot] = value;
    VAEI_TRY(vaei_config_validate(&next));
    m->cfg = next;
    return VAE_OK;
}

vae_status vae_model_get(const vae_model *m, vae_param p, double *value)
{
    VAEI_CHECK_ARG(m != NULL);
    return vae_config_get(&m->cfg, p, value);
}

vae_status vae_model_hidden(const vae_model *m, vae_side side, size_t *sizes, size_t cap,
                            size_t *n)
{
    VAEI_CHECK_ARG(m != NULL && n != NULL && (sizes != NULL || cap == 0));
    VAEI_CHECK_ARG(side == VAE_ENCODER || side == VAE_DECODER);
    const int s = side == VAE_DECODER;
    /* A side described by a layer spec has no dense width list (1.1). */
    const size_t count = m->cfg.spec[s][0] ? 0 : m->cfg.n_hidden[s];
    for (size_t l = 0; l < count && l < cap; l++) sizes[l] = m->cfg.hidden[s][l];
    *n = count;
    return VAE_OK;
}

const char *vae_model_layers(const vae_model *m, vae_side side)
{
    return m ? vae_config_layers(&m->cfg, side) : NULL;
}

size_t vae_model_param_count(const vae_model *m)
{
    return m ? m->n_params : 0;
}

float *vae_model_params(vae_model *m)
{
    return m ? m->params : NULL;
}

float *vae_model_grads(vae_model *m)
{
    return m ? m->grads : NULL;
}

size_t vae_model_tensor_count(const vae_model *m)
{
    return m ? m->n_tensors : 0;
}

vae_status vae_model_tensor_info(const vae_model *m, size_t i, const char **name, size_t *rows,
                                 size_t *cols, size_t *offset)
{
    VAEI_CHECK_ARG(m != NULL);
    VAEI_CHECK(i < m->n_tensors, VAE_ERR_INVALID_ARGUMENT, "tensor %zu of %zu", i, m->n_tensors);
    const vaei_tensor *t = &m->tensors[i];
    if (name) *name = t->name;
    if (rows) *rows = t->rows;
    if (cols) *cols = t->cols;
    if (offset) *offset = t->offset;
    return VAE_OK;
}

uint64_t vae_model_steps(const vae_model *m)
{
    return m ? m->steps : 0;
}

uint64_t vae_model_epochs(const vae_model *m)
{
    return m ? m->epochs : 0;
}

/* ------------------------------------------------------------------------ */
/* Workspace                                                                */
/* ------------------------------------------------------------------------ */

vae_status vaei_model_reserve(vae_model *m, size_t n)
{
    vaei_workspace *ws = &m->ws;
    if (n <= ws->cap) return VAE_OK;
    /* Floats per row of every buffer, then one allocation carved in order. */
    size_t per_row = (m->D + m->C) + m->L + (m->L + m->C) + 2 * m->widest;
    for (size_t l = 0; l < m->n_enc; l++) per_row += m->enc[l].out;
    for (size_t l = 0; l < m->n_dec; l++) per_row += m->dec[l].out;
    /* Rows apart: the KL's L doubles and the Gaussian term's D precisions. */
    const size_t head = 2 * m->L + m->D;
    /* Each buffer starts on a cache line (vaei_floats): up to a line's
     * floats of padding after each of the 8 + n_enc + n_dec of them. */
    const size_t pad = VAEI_LINE * (8 + m->n_enc + m->n_dec), room = SIZE_MAX / sizeof(float) - 64;
    VAEI_CHECK(n <= (room - head - pad) / per_row, VAE_ERR_LIMIT,
               "batch of %zu rows is too large", n);
    /* The conv layers' partial sums, for the layer that needs most. */
    size_t partials = 0;
    for (size_t l = 0; l < m->n_enc + m->n_dec; l++) {
        const vaei_layer *ly = l < m->n_enc ? &m->enc[l] : &m->dec[l - m->n_enc];
        const size_t p = vaei_layer_partials(ly, n);
        if (p > partials) partials = p;
    }
    VAEI_CHECK(partials <= room - head - pad - n * per_row, VAE_ERR_LIMIT,
               "batch of %zu rows is too large", n);
    float *mem = vaei_floats(n * per_row + head + pad + partials);
    VAEI_CHECK(mem != NULL, VAE_ERR_OUT_OF_MEMORY, "no memory for a batch of %zu rows", n);
    vaei_floats_free(ws->mem);
    ws->mem = mem;
    ws->cap = n;
    /* The doubles first, on the line where the allocation starts. */
    ws->kl_dim = (double *)(void *)mem; /* L doubles = 2L floats */
    float *p = mem + vaei_line_round(2 * m->L);
    ws->prec = p;
    p += vaei_line_round(m->D);
#define CARVE(ptr, width) (ptr = p, p += vaei_line_round(n * (width)))
    CARVE(ws->x0, m->D + m->C);
    for (size_t l = 0; l < m->n_enc; l++) CARVE(ws->enc[l], m->enc[l].out);
    CARVE(ws->eps, m->L);
    CARVE(ws->z, m->L + m->C);
    for (size_t l = 0; l < m->n_dec; l++) CARVE(ws->dec[l], m->dec[l].out);
    CARVE(ws->g0, m->widest);
    CARVE(ws->g1, m->widest);
#undef CARVE
    ws->partials = p;
    return VAE_OK;
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                  */
/* ------------------------------------------------------------------------ */

/* What the layers' passes take from the model (lib/layers.c). */
static vaei_layer_ctx layer_ctx(const vae_model *m)
{
    const vaei_layer_ctx cx = {m->params, m->grads, m->ws.partials,
                               (int)VAEI_CFG(m, S_PRECISION), (float)VAEI_CFG(m, S_LEAKY_SLOPE)};
    return cx;
}

/* Hidden layers then the output layer of one side, each layer followed by
 * its activation (none after the last). The conditioning columns, when a
 * layer past the first takes them, are the tail of the side's input. The
 * kernels write every activation's derivative in terms of its output h
 * (lib/kernels/elementwise_ref.c): relu' = [h > 0], tanh' = 1 - h^2,
 * elu' = h + 1 below 0, softplus' = 1 - exp(-h). */
static vae_status side_forward(vae_model *m, const vaei_layer *ly, size_t nl, float *const *h,
                               const float *in, size_t ldin, size_t cond_at, size_t n)
{
    const float *cond = in + cond_at;
    const size_t ldc = ldin;
    const vaei_layer_ctx cx = layer_ctx(m);
    for (size_t l = 0; l < nl; l++) {
        VAEI_TRY(vaei_layer_forward(&cx, &ly[l], in, ldin, cond, ldc, n, h[l]));
        in = h[l];
        ldin = ly[l].out;
    }
    return VAE_OK;
}

vae_status vaei_encoder_forward(vae_model *m, const float *x, size_t ldx, size_t n)
{
    VAEI_TRY(side_forward(m, m->enc, m->n_enc, m->ws.enc, x, ldx, m->D, n));
    /* Clamp the log-variance so exp() stays finite; documented range. The
     * comparisons (not fminf/fmaxf) let a NaN through to the loss check. */
    float lo, hi;
    vaei_logvar_bounds(&m->cfg, &lo, &hi);
    float *S = m->ws.enc[m->n_enc - 1];
    for (size_t i = 0; i < n; i++) {
        float *lv = S + i * 2 * m->L + m->L;
        for (size_t k = 0; k < m->L; k++) lv[k] = lv[k] < lo ? lo : lv[k] > hi ? hi : lv[k];
    }
    return VAE_OK;
}

vae_status vaei_decoder_forward(vae_model *m, size_t n)
{
    return side_forward(m, m->dec, m->n_dec, m->ws.dec, m->ws.z, m->L + m->C, m->L, n);
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                 */
/* ------------------------------------------------------------------------ */

/* Back through one side, from g = d objective / d output of its last layer.
 * Leaves in *g the gradient with respect to the first `keep` columns of the
 * side's input (keep 0: not needed). *spare is the other ping-pong buffer;
 * cond_at is the column of the side input where the conditioning starts. */
static vae_status side_backward(vae_model *m, const vaei_layer *ly, size_t nl, float *const *h,
                                const float *in, size_t ldin, size_t cond_at, size_t n,
                                float **g, float **spare, size_t keep)
{
    const vaei_layer_ctx cx = layer_ctx(m);
    for (size_t l = nl; l-- > 0;) {
        const float *x = l ? h[l - 1] : in;
        const size_t ldx = l ? ly[l - 1].out : ldin;
        const size_t width = l ? ly[l].in : keep;
        VAEI_TRY(vaei_layer_backward(&cx, &ly[l], x, ldx, in + cond_at, ldin, n, *g,
                                     width ? *spare : NULL, width, l ? ly[l - 1].act : -1));
        if (width == 0) continue;
        float *t = *g;
        *g = *spare;
        *spare = t;
    }
    return VAE_OK;
}

vae_status vaei_decoder_backward(vae_model *m, size_t n, float **g, float **spare)
{
    vaei_workspace *ws = &m->ws;
    return side_backward(m, m->dec, m->n_dec, ws->dec, ws->z, m->L + m->C, m->L, n, g, spare,
                         m->L);
}

vae_status vaei_encoder_backward(vae_model *m, const float *x, size_t ldx, size_t n, float *dS,
                                 float *spare)
{
    return side_backward(m, m->enc, m->n_enc, m->ws.enc, x, ldx, m->D, n, &dS, &spare, 0);
}
