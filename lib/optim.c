/*
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/elementwise.h"
#include "model.h"
#include "optim.h"

static const struct {
    const char *name;
    double lo, hi;
    unsigned kinds; /* bit k: used by vae_optim_kind k */
} bounds[VAEI_OPTIM_NPARAMS + 1] = {
#define ADAM (1u << VAE_OPTIM_ADAM)
#define SGD (1u << VAE_OPTIM_SGD)
    [VAE_OPTIM_LR] = {"learning rate", 0, 1e3, ADAM | SGD},
    [VAE_OPTIM_BETA1] = {"beta1", 0, 0.999999, ADAM},
    [VAE_OPTIM_BETA2] = {"beta2", 0, 0.999999999, ADAM},
    [VAE_OPTIM_EPS] = {"eps", 0, 1, ADAM},
    [VAE_OPTIM_WEIGHT_DECAY] = {"weight decay", 0, 1e3, ADAM | SGD},
    [VAE_OPTIM_MOMENTUM] = {"momentum", 0, 0.999999, SGD},
#undef ADAM
#undef SGD
};

static const char *kind_name(vae_optim_kind kind)
{
    return kind == VAE_OPTIM_ADAM ? "Adam" : "SGD";
}

vae_status vaei_optim_param_check(vae_optim_param p, double value)
{
    VAEI_CHECK(p >= VAE_OPTIM_LR && p <= VAE_OPTIM_MOMENTUM, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer parameter %d", (int)p);
    VAEI_CHECK(isfinite(value) && value >= bounds[p].lo && value <= bounds[p].hi,
               VAE_ERR_INVALID_ARGUMENT, "%s = %g is outside [%g, %g]", bounds[p].name, value,
               bounds[p].lo, bounds[p].hi);
    return VAE_OK;
}

/* A setting that kind uses: an unused one (Adam's momentum) would be
 * accepted and silently do nothing. */
static vae_status check_used(vae_optim_kind kind, vae_optim_param p)
{
    VAEI_CHECK(kind == VAE_OPTIM_ADAM || kind == VAE_OPTIM_SGD, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer kind %d", (int)kind);
    VAEI_CHECK(p >= VAE_OPTIM_LR && p <= VAE_OPTIM_MOMENTUM, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer parameter %d", (int)p);
    VAEI_CHECK(bounds[p].kinds & (1u << kind), VAE_ERR_INVALID_ARGUMENT,
               "%s has no setting %s", kind_name(kind), bounds[p].name);
    return VAE_OK;
}

vae_status vae_optimizer_param_bounds(vae_optim_kind kind, vae_optim_param p, double *lo,
                                      double *hi)
{
    VAEI_TRY(check_used(kind, p));
    if (lo) *lo = bounds[p].lo;
    if (hi) *hi = bounds[p].hi;
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
    VAEI_TRY(check_used(opt->kind, p));
    VAEI_TRY(vaei_optim_param_check(p, value));
    opt->hp[p] = value;
    return VAE_OK;
}

vae_status vae_optimizer_get(const vae_optimizer *opt, vae_optim_param p, double *value)
{
    VAEI_CHECK_ARG(opt != NULL && value != NULL);
    VAEI_TRY(check_used(opt->kind, p));
    *value = opt->hp[p];
    return VAE_OK;
}

vae_optim_kind vae_optimizer_kind(const vae_optimizer *opt)
{
    return opt ? opt->kind : VAE_OPTIM_ADAM;
}

/* Adam as PyTorch: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
static vaei_adam_args adam_args(const vae_optimizer *o, float *p, const float *g)
{
    const double *hp = o->hp;
    const float b1 = (float)hp[VAE_OPTIM_BETA1], b2 = (float)hp[VAE_OPTIM_BETA2];
    const float wd = (float)hp[VAE_OPTIM_WEIGHT_DECAY], eps = (float)hp[VAE_OPTIM_EPS];
    const double t = (double)o->t;
    const float step = (float)(hp[VAE_OPTIM_LR] / (1.0 - pow(hp[VAE_OPTIM_BETA1], t)));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(hp[VAE_OPTIM_BETA2], t)));
    const float c1 = (float)(1.0 - hp[VAE_OPTIM_BETA1]), c2 = (float)(1.0 - hp[VAE_OPTIM_BETA2]);
    const vaei_adam_args args = {p, o->m, o->v, g, b1, b2, c1, c2, wd, eps, step, inv_sqrt_bc2};
    return args;
}

/* 1 when the bits of f are those of an infinity or a NaN (exponent all ones). */
static inline unsigned not_finite(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x7f800000u) == 0x7f800000u;
}

/* SGD as PyTorch: g += wd p; buf = mu buf + g (buf = g at t = 1); p -= lr buf. */
static inline void sgd_one(const vae_optimizer *o, float p, float g, float buf, float *np,
                           float *nbuf)
{
    const float lr = (float)o->hp[VAE_OPTIM_LR], wd = (float)o->hp[VAE_OPTIM_WEIGHT_DECAY];
    const float mu = (float)o->hp[VAE_OPTIM_MOMENTUM];
    const float gi = g + wd * p;
    *nbuf = o->t == 1 ? gi : mu * buf + gi;
    *np = p - lr * (mu > 0.0f ? *nbuf : gi);
}

static size_t sgd_first_bad(const vae_optimizer *o, const float *p, const float *g)
{
    for (size_t i = 0; i < o->n; i++) {
        float np, nb;
        sgd_one(o, p[i], g[i], o->m[i], &np, &nb);
        if (not_finite(np) | not_finite(nb)) return i;
    }
    return o->n;
}

static void sgd(vae_optimizer *o, float *p, const float *g)
{
    for (size_t i = 0; i < o->n; i++) sgd_one(o, p[i], g[i], o->m[i], &p[i], &o->m[i]);
}

vae_status vae_optimizer_step(vae_optimizer *opt)
{
    VAEI_CHECK_ARG(opt != NULL);
    vae_model *model = opt->model;
    if (opt->coll.allreduce) VAEI_TRY(vaei_collective_mean_grads(opt));
    /* The counters never wrap (a checkpoint holding UINT64_MAX is refused). */
    VAEI_CHECK(opt->t < UINT64_MAX && model->steps < UINT64_MAX, VAE_ERR_LIMIT,
               "the step count is at its maximum");
    /* Commit only a finite update: the step is computed once without its
     * stores and refused, changing nothing, if any value would not be finite. */
    opt->t++;
    size_t bad;
    vaei_adam_args args;
    if (opt->kind == VAE_OPTIM_ADAM) {
        args = adam_args(opt, model->params, model->grads);
        /* The kernel's arithmetic without its stores (lib/kernels): an
         * overflow of g^2 or of p, or 0/0 with eps 0 and zero moments,
         * would otherwise commit NaN to the model. */
        bad = vaei_adam_first_bad(&args, opt->n);
    } else {
        bad = sgd_first_bad(opt, model->params, model->grads);
    }
    if (bad < opt->n) {
        opt->t--;
        return vaei_fail(VAE_ERR_NUMERIC,
                         "step %llu: the update of parameter %zu is not finite (gradient %g); "
                         "nothing was changed", (unsigned long long)model->steps, bad,
                         (double)model->grads[bad]);
    }
    if (opt->kind == VAE_OPTIM_ADAM)
        vaei_adam(&args, opt->n); /* lib/kernels: vectorised and threaded, same bits */
    else
        sgd(opt, model->params, model->grads);
    model->steps++;
    return VAE_OK;
}
