/*
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels/elementwise.h"
#include "optim.h"

/* The settings, the one table of them: kinds, range, defaults. A kind's
 * unused settings keep their defaults all the same (Adam's for SGD), as a
 * checkpoint stores all six. */
#define ADAM (1u << VAE_OPTIM_ADAM)
#define SGD (1u << VAE_OPTIM_SGD)
static const struct {
    const char *name;
    double lo, hi;
    double def[2]; /* by vae_optim_kind */
    unsigned kinds; /* bit k: used by vae_optim_kind k */
} settings[VAEI_OPTIM_NPARAMS + 1] = {
    [VAE_OPTIM_LR] = {"learning rate", 0, 1e3, {1e-3, 1e-2}, ADAM | SGD},
    [VAE_OPTIM_BETA1] = {"beta1", 0, 0.999999, {0.9, 0.9}, ADAM},
    [VAE_OPTIM_BETA2] = {"beta2", 0, 0.999999999, {0.999, 0.999}, ADAM},
    [VAE_OPTIM_EPS] = {"eps", 0, 1, {1e-8, 1e-8}, ADAM},
    [VAE_OPTIM_WEIGHT_DECAY] = {"weight decay", 0, 1e3, {0, 0}, ADAM | SGD},
    [VAE_OPTIM_MOMENTUM] = {"momentum", 0, 0.999999, {0, 0}, SGD},
};
#undef ADAM
#undef SGD

static vae_status check_kind(vae_optim_kind kind)
{
    VAEI_CHECK(kind == VAE_OPTIM_ADAM || kind == VAE_OPTIM_SGD, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer kind %d", (int)kind);
    return VAE_OK;
}

/* A setting that kind uses: an unused one (Adam's momentum) would be
 * accepted and silently do nothing. */
static vae_status check_used(vae_optim_kind kind, vae_optim_param p)
{
    VAEI_TRY(check_kind(kind));
    VAEI_CHECK(p >= VAE_OPTIM_LR && p <= VAE_OPTIM_MOMENTUM, VAE_ERR_INVALID_ARGUMENT,
               "unknown optimizer parameter %d", (int)p);
    VAEI_CHECK(settings[p].kinds & (1u << kind), VAE_ERR_INVALID_ARGUMENT,
               "%s has no setting %s", kind == VAE_OPTIM_ADAM ? "Adam" : "SGD", settings[p].name);
    return VAE_OK;
}

vae_status vaei_optim_param_check(vae_optim_param p, double value)
{
    VAEI_CHECK(isfinite(value) && value >= settings[p].lo && value <= settings[p].hi,
               VAE_ERR_INVALID_ARGUMENT, "%s = %g is outside [%g, %g]", settings[p].name, value,
               settings[p].lo, settings[p].hi);
    return VAE_OK;
}

vae_status vae_optimizer_param_bounds(vae_optim_kind kind, vae_optim_param p, double *lo,
                                      double *hi)
{
    VAEI_TRY(check_used(kind, p));
    if (lo) *lo = settings[p].lo;
    if (hi) *hi = settings[p].hi;
    return VAE_OK;
}

vae_status vaei_optimizer_new(vae_optimizer **out, vae_model *model, vae_optim_kind kind)
{
    VAEI_TRY(check_kind(kind));
    vae_optimizer *o = calloc(1, sizeof *o);
    VAEI_CHECK(o != NULL, VAE_ERR_OUT_OF_MEMORY, "vae_optimizer_create: out of memory");
    o->model = model;
    o->kind = kind;
    o->n = vae_model_param_count(model);
    for (int p = VAE_OPTIM_LR; p <= VAE_OPTIM_MOMENTUM; p++) o->hp[p] = settings[p].def[kind];
    o->m = vaei_floats(o->n);
    o->v = kind == VAE_OPTIM_ADAM ? vaei_floats(o->n) : NULL;
    if (!o->m || (kind == VAE_OPTIM_ADAM && !o->v)) {
        const size_t n = o->n;
        vae_optimizer_free(o);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "vae_optimizer_create: no memory for %zu parameters",
                         n);
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
    vaei_floats_free(opt->m);
    vaei_floats_free(opt->v);
    free(opt->coll);
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
 * p -= lr / (1 - b1^t) * (m / (sqrt(v) / sqrt(1 - b2^t) + eps)). */
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

/* SGD as PyTorch: g += wd p; buf = mu buf + g (buf = g at t = 1); p -= lr buf;
 * like Adam's moments, a buffer below FLT_MIN is kept as 0 (elementwise.h). */
static inline void sgd_one(const vae_optimizer *o, float p, float g, float buf, float *np,
                           float *nbuf)
{
    const float lr = (float)o->hp[VAE_OPTIM_LR], wd = (float)o->hp[VAE_OPTIM_WEIGHT_DECAY];
    const float mu = (float)o->hp[VAE_OPTIM_MOMENTUM];
    const float gi = g + wd * p;
    const float b = o->t == 1 ? gi : mu * buf + gi;
    *nbuf = fabsf(b) < FLT_MIN ? 0.0f : b;
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

size_t vaei_optimizer_update(vae_optimizer *opt, float *params, const float *grads)
{
    /* Commit only a finite update: the step is computed once without its
     * stores and refused, changing nothing, if any value would not be finite. */
    opt->t++;
    size_t bad;
    vaei_adam_args args;
    if (opt->kind == VAE_OPTIM_ADAM) {
        args = adam_args(opt, params, grads);
        /* The kernel's arithmetic without its stores (lib/kernels): an
         * overflow of g^2 or of p, or 0/0 with eps 0 and zero moments,
         * would otherwise commit NaN to the model. */
        bad = vaei_adam_first_bad(&args, opt->n, opt->moments_known ? &opt->moments : NULL);
    } else {
        bad = sgd_first_bad(opt, params, grads);
    }
    if (bad < opt->n) {
        opt->t--;
        return bad;
    }
    if (opt->kind == VAE_OPTIM_ADAM) { /* lib/kernels: vectorised and threaded, same bits */
        vaei_adam(&args, opt->n, &opt->moments);
        opt->moments_known = 1;
    } else {
        sgd(opt, params, grads);
    }
    return opt->n;
}

void vaei_optimizer_assign(vae_optimizer *dst, const vae_optimizer *src)
{
    memcpy(dst->hp, src->hp, sizeof dst->hp);
    dst->t = src->t;
    memcpy(dst->m, src->m, dst->n * sizeof *dst->m);
    dst->moments = src->moments;
    dst->moments_known = src->moments_known;
    if (dst->v) memcpy(dst->v, src->v, dst->n * sizeof *dst->v);
}
