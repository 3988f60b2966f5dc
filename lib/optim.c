/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "kernels/elementwise.h"
#include "model.h"
#include "optim.h"

static const struct {
    const char *name;
    double lo, hi;
} bounds[VAEI_OPTIM_NPARAMS + 1] = {
    [VAE_OPTIM_LR] = {"learning rate", 0, 1e3},
    [VAE_OPTIM_BETA1] = {"beta1", 0, 0.999999},
    [VAE_OPTIM_BETA2] = {"beta2", 0, 0.999999999},
    [VAE_OPTIM_EPS] = {"eps", 0, 1},
    [VAE_OPTIM_WEIGHT_DECAY] = {"weight decay", 0, 1e3},
    [VAE_OPTIM_MOMENTUM] = {"momentum", 0, 0.999999},
};

vae_status vaei_optim_param_check(vae_optim_param p, double value)
{
    VAEI_CHECK(p >= VAE_OPTIM_LR && p <= VAE_OPTIM_MOMENTUM, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer parameter %d", (int)p);
    VAEI_CHECK(isfinite(value) && value >= bounds[p].lo && value <= bounds[p].hi,
               VAE_ERR_INVALID_ARGUMENT, "%s = %g is outside [%g, %g]", bounds[p].name, value,
               bounds[p].lo, bounds[p].hi);
    return VAE_OK;
}

vae_status vaei_optimizer_new(vae_optimizer **out, vae_model *model, vae_optim_kind kind)
{
    VAEI_CHECK(kind == VAE_OPTIM_ADAM || kind == VAE_OPTIM_SGD, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer kind %d", (int)kind);
    vae_optimizer *o = calloc(1, sizeof *o);
    VAEI_CHECK(o != NULL, VAE_ERR_OUT_OF_MEMORY, "vae_optimizer_create: out of memory");
    o->model = model;
    o->kind = kind;
    o->n = model->n_params;
    o->hp[VAE_OPTIM_LR] = kind == VAE_OPTIM_ADAM ? 1e-3 : 1e-2;
    o->hp[VAE_OPTIM_BETA1] = 0.9;
    o->hp[VAE_OPTIM_BETA2] = 0.999;
    o->hp[VAE_OPTIM_EPS] = 1e-8;
    o->m = calloc(o->n, sizeof *o->m);
    o->v = kind == VAE_OPTIM_ADAM ? calloc(o->n, sizeof *o->v) : NULL;
    if (!o->m || (kind == VAE_OPTIM_ADAM && !o->v)) {
        vae_optimizer_free(o);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "vae_optimizer_create: no memory for %zu parameters",
                         model->n_params);
    }
    *out = o;
    return VAE_OK;
}

vae_status vae_optimizer_create(vae_optimizer **out, vae_model *m, vae_optim_kind kind)
{
    VAEI_CHECK_ARG(out != NULL && m != NULL);
    return vaei_optimizer_new(out, m, kind);
}

void vae_optimizer_free(vae_optimizer *opt)
{
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

vae_status vae_optimizer_set(vae_optimizer *opt, vae_optim_param p, double value)
{
    VAEI_CHECK_ARG(opt != NULL);
    VAEI_TRY(vaei_optim_param_check(p, value));
    opt->hp[p] = value;
    return VAE_OK;
}

vae_status vae_optimizer_get(const vae_optimizer *opt, vae_optim_param p, double *value)
{
    VAEI_CHECK_ARG(opt != NULL && value != NULL);
    VAEI_CHECK(p >= VAE_OPTIM_LR && p <= VAE_OPTIM_MOMENTUM, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer parameter %d", (int)p);
    *value = opt->hp[p];
    return VAE_OK;
}

vae_optim_kind vae_optimizer_kind(const vae_optimizer *opt)
{
    return opt ? opt->kind : VAE_OPTIM_ADAM;
}

/* Adam as PyTorch: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static void adam(vae_optimizer *o, float *p, const float *g)
{
    const double *hp = o->hp;
    const float b1 = (float)hp[VAE_OPTIM_BETA1], b2 = (float)hp[VAE_OPTIM_BETA2];
    const float wd = (float)hp[VAE_OPTIM_WEIGHT_DECAY], eps = (float)hp[VAE_OPTIM_EPS];
    const double t = (double)o->t;
    const float step = (float)(hp[VAE_OPTIM_LR] / (1.0 - pow(hp[VAE_OPTIM_BETA1], t)));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(hp[VAE_OPTIM_BETA2], t)));
    const float c1 = (float)(1.0 - hp[VAE_OPTIM_BETA1]), c2 = (float)(1.0 - hp[VAE_OPTIM_BETA2]);
    const vaei_adam_args args = {p, o->m, o->v, g, b1, b2, c1, c2, wd, eps, step, inv_sqrt_bc2};
    vaei_adam(&args, o->n); /* lib/kernels: vectorised and threaded, same bits */
}

/* SGD as PyTorch: g += wd p; buf = mu buf + g (buf = g at t = 1); p -= lr buf. */
static void sgd(vae_optimizer *o, float *p, const float *g)
{
    const float lr = (float)o->hp[VAE_OPTIM_LR], wd = (float)o->hp[VAE_OPTIM_WEIGHT_DECAY];
    const float mu = (float)o->hp[VAE_OPTIM_MOMENTUM];
    float *buf = o->m;
    for (size_t i = 0; i < o->n; i++) {
        const float gi = g[i] + wd * p[i];
        buf[i] = o->t == 1 ? gi : mu * buf[i] + gi;
        p[i] -= lr * (mu > 0.0f ? buf[i] : gi);
    }
}

vae_status vae_optimizer_step(vae_optimizer *opt)
{
    VAEI_CHECK_ARG(opt != NULL);
    vae_model *model = opt->model;
    if (opt->coll.allreduce) VAEI_TRY(vaei_collective_mean_grads(opt));
    opt->t++;
    if (opt->kind == VAE_OPTIM_ADAM)
        adam(opt, model->params, model->grads);
    else
        sgd(opt, model->params, model->grads);
    model->steps++;
    return VAE_OK;
}
