/*
 * The element-wise kernels for one SIMD level, written against the vector
 * vocabulary of a vec_<isa>.h header (included before this file, with
 * EW_SUFFIX(name) defined as name##_isa).
 *
 * exp and log1p are Cephes' single-precision polynomials (S. Moshier,
 * public domain) with the classic range reductions; their accuracy against
 * libm is checked by tests/test_elementwise.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>

#include "elementwise.h"
#include "vae/vae.h"

#define INLINE static inline __attribute__((always_inline))

/* exp(x): x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-7 polynomial, and
 * 2^n put into the exponent bits. x is clamped to [-87.3, 88.4], where n
 * stays a normal exponent (so exp underflows to about 1e-38, not 0); NaN
 * stays NaN (the clamps keep their second operand's NaN). */
INLINE vf vexpf(vf x)
{
    x = vmin(vset1(88.3762626647949f), x);
    x = vmax(vset1(-87.3365478515625f), x);
    const vf n = vi_to_float(vround_int(vmul(x, vset1(1.44269504088896341f))));
    vf r = vfma(n, vset1(-0.693359375f), x);
    r = vfma(n, vset1(2.12194440e-4f), r);
    vf p = vset1(1.9875691500e-4f);
    p = vfma(p, r, vset1(1.3981999507e-3f));
    p = vfma(p, r, vset1(8.3334519073e-3f));
    p = vfma(p, r, vset1(4.1665795894e-2f));
    p = vfma(p, r, vset1(1.6666665459e-1f));
    p = vfma(p, r, vset1(5.0000001201e-1f));
    p = vfma(p, vmul(r, r), vadd(r, vset1(1.0f)));
    const vi two_n = vi_shl(vi_add(vround_int(n), vi_set1(127)), 23);
    return vmul(p, vas_float(two_n));
}

/* log(u) for u in [1, 2]: u = 2^k f with f in [sqrt(1/2), sqrt(2)),
 * log(1 + x) for x = f - 1 by Cephes' polynomial, k ln2 added in two parts. */
INLINE vf vlog_1_2(vf u)
{
    const vi bits = vas_int(u);
    vi k = vi_sub(vi_shr(bits, 23), vi_set1(127));
    vf f = vas_float(vi_or(vi_and(bits, vi_set1(0x007fffff)), vi_set1(0x3f800000)));
    const vmask big = vgt(f, vset1(1.41421356237f));
    f = vselect(big, vmul(f, vset1(0.5f)), f);
    const vf kf = vadd(vi_to_float(k), vselect(big, vset1(1.0f), vzero()));
    const vf x = vsub(f, vset1(1.0f)), z = vmul(x, x);
    vf p = vset1(7.0376836292e-2f);
    p = vfma(p, x, vset1(-1.1514610310e-1f));
    p = vfma(p, x, vset1(1.1676998740e-1f));
    p = vfma(p, x, vset1(-1.2420140846e-1f));
    p = vfma(p, x, vset1(1.4249322787e-1f));
    p = vfma(p, x, vset1(-1.6668057665e-1f));
    p = vfma(p, x, vset1(2.0000714765e-1f));
    p = vfma(p, x, vset1(-2.4999993993e-1f));
    p = vfma(p, x, vset1(3.3333331174e-1f));
    vf y = vmul(vmul(p, x), z);
    y = vfma(kf, vset1(-2.12194440e-4f), y);
    y = vfma(z, vset1(-0.5f), y);
    return vfma(kf, vset1(0.693359375f), vadd(x, y));
}

/* log1p(e) for 0 <= e <= 1, given u = 1 + e and inv = 1/u: log(u) plus the
 * rounding of u, (e - (u - 1)) / u. */
INLINE vf vlog1p_unit(vf e, vf u, vf inv)
{
    return vfma(vsub(e, vsub(u, vset1(1.0f))), inv, vlog_1_2(u));
}

/* softplus(a) = max(a, 0) + log1p(exp(-|a|)) */
INLINE vf vsoftplus(vf a)
{
    const vf e = vexpf(vsub(vzero(), vabs(a))), u = vadd(vset1(1.0f), e);
    return vadd(vmax(a, vzero()), vlog1p_unit(e, u, vdiv(vset1(1.0f), u)));
}

static void EW_SUFFIX(exp)(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW) vstore(y + i, vexpf(vload(x + i)));
    if (i < n) vstore_n(y + i, vexpf(vload_n(x + i, n - i)), n - i);
}

static void EW_SUFFIX(log1p_unit)(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i += VW) {
        const size_t r = n - i < VW ? n - i : VW;
        const vf e = r == VW ? vload(x + i) : vload_n(x + i, r);
        const vf u = vadd(vset1(1.0f), e), out = vlog1p_unit(e, u, vdiv(vset1(1.0f), u));
        if (r == VW)
            vstore(y + i, out);
        else
            vstore_n(y + i, out, r);
    }
}

/* a where a is NaN, else y: the activations below must hand a NaN on to
 * the loss, where the step reports it, whatever their polynomials make of
 * it. */
INLINE vf vkeep_nan(vf a, vf y)
{
    return vselect(vge(vabs(a), vzero()), y, a);
}

/* tanh as Cephes' tanhf: an odd polynomial below 0.625, where
 * 1 - 2 / (e^2|a| + 1) would lose the small values' digits, and that form
 * with a's sign above (e^2|a| is clamped, so large |a| gives 1 exactly). */
INLINE vf vtanh(vf a)
{
    const vf s = vabs(a), z = vmul(a, a), one = vset1(1.0f);
    vf p = vset1(-5.70498872745e-3f);
    p = vfma(p, z, vset1(2.06390887954e-2f));
    p = vfma(p, z, vset1(-5.37397155531e-2f));
    p = vfma(p, z, vset1(1.33314422036e-1f));
    p = vfma(p, z, vset1(-3.33332819422e-1f));
    const vf small = vfma(vmul(p, z), a, a);
    const vf t = vsub(one, vdiv(vset1(2.0f), vadd(vexpf(vadd(s, s)), one)));
    const vf big = vselect(vlt(a, vzero()), vsub(vzero(), t), t);
    return vkeep_nan(a, vselect(vlt(s, vset1(0.625f)), small, big));
}

/* e^a - 1: below ln2 / 2 in magnitude by its Taylor series to a^8 (the
 * next term is under 1e-9 of a), where the subtraction would cancel. */
INLINE vf vexpm1(vf a)
{
    vf p = vset1(1.0f / 40320.0f);
    p = vfma(p, a, vset1(1.0f / 5040.0f));
    p = vfma(p, a, vset1(1.0f / 720.0f));
    p = vfma(p, a, vset1(1.0f / 120.0f));
    p = vfma(p, a, vset1(1.0f / 24.0f));
    p = vfma(p, a, vset1(1.0f / 6.0f));
    p = vfma(p, a, vset1(0.5f));
    const vf near = vfma(vmul(p, a), a, a);
    const vf far = vsub(vexpf(a), vset1(1.0f));
    return vkeep_nan(a, vselect(vlt(vabs(a), vset1(0.34657359f)), near, far));
}

/* ELU: a above 0, else e^a - 1. */
INLINE vf velu(vf a)
{
    return vselect(vgt(a, vzero()), a, vexpm1(a));
}

/* One activation on a vector; act is fixed per call so the branch is
 * predicted. */
INLINE vf act_vec(vf a, int act, vf slope)
{
    switch (act) {
    case VAE_ACTIVATION_RELU:
        /* a < 0 ? 0 : a: vmax returns its second operand when either is
         * NaN (x86 maxps; vec_neon.h's select does the same), so a NaN
         * passes through, as in the reference, and -0 stays -0. */
        return vmax(vzero(), a);
    case VAE_ACTIVATION_LEAKY_RELU:
        return vselect(vgt(a, vzero()), a, vmul(slope, a));
    case VAE_ACTIVATION_TANH:
        return vtanh(a);
    case VAE_ACTIVATION_ELU:
        return velu(a);
    case VAE_ACTIVATION_SOFTPLUS:
        return vsoftplus(a);
    default:
        return a;
    }
}

static void EW_SUFFIX(bias_act)(float *h, size_t n, size_t w, const float *b, int act,
                                float slope)
{
    const vf vs = vset1(slope);
    if (w < VW && VW % w == 0) {
        /* A few channels (a one-channel image): whole vectors over the
         * flat rows, the bias repeating every w floats. */
        float pattern[VW];
        for (size_t j = 0; j < VW; j++) pattern[j] = b[j % w];
        const vf vb = vload(pattern);
        const size_t count = n * w;
        size_t i = 0;
        for (; i + VW <= count; i += VW) vstore(h + i, act_vec(vadd(vload(h + i), vb), act, vs));
        if (i < count) vstore_n(h + i, act_vec(vadd(vload_n(h + i, count - i), vb), act, vs), count - i);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float *r = h + i * w;
        size_t j = 0;
        for (; j + VW <= w; j += VW) vstore(r + j, act_vec(vadd(vload(r + j), vload(b + j)), act, vs));
        if (j < w) {
            const size_t t = w - j;
            vstore_n(r + j, act_vec(vadd(vload_n(r + j, t), vload_n(b + j, t)), act, vs), t);
        }
    }
}

static void EW_SUFFIX(act_backward)(float *g, const float *h, size_t count, int act, float slope)
{
    if (act < VAE_ACTIVATION_RELU || act > VAE_ACTIVATION_SOFTPLUS) return; /* none */
    const vf factor = act == VAE_ACTIVATION_RELU ? vzero() : vset1(slope), one = vset1(1.0f);
    size_t i = 0;
    /* The reference's operations (no FMA), so the same bits, except
     * softplus's derivative, on the level's own e^x - 1. */
    for (; i + VW <= count; i += VW) {
        const vf gi = vload(g + i), hi = vload(h + i);
        vf out;
        if (act == VAE_ACTIVATION_SOFTPLUS) { /* g sigmoid(a) = g (1 - e^-h) */
            out = vmul(gi, vsub(vzero(), vexpm1(vsub(vzero(), hi))));
        } else if (act == VAE_ACTIVATION_TANH) { /* g (1 - h^2) */
            out = vmul(gi, vsub(one, vmul(hi, hi)));
        } else if (act == VAE_ACTIVATION_ELU) { /* g (h > 0 ? 1 : h + 1) */
            out = vmul(gi, vselect(vgt(hi, vzero()), one, vadd(hi, one)));
        } else { /* relu: h > 0 ? g : 0; leaky: g * (h > 0 ? 1 : slope) */
            const vf lo = act == VAE_ACTIVATION_RELU ? vzero() : vmul(gi, factor);
            out = vselect(vgt(hi, vzero()), gi, lo);
        }
        vstore(g + i, out);
    }
    if (i < count) vaei_vec_ref.act_backward(g + i, h + i, count - i, act, slope);
}

static void EW_SUFFIX(col_sums)(float *db, const float *g, size_t n, size_t w)
{
    /* Four vectors of columns at a time down all rows: the same additions
     * in the same order as the reference. */
    size_t j = 0;
    for (; j + 4 * VW <= w; j += 4 * VW) {
        vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
        for (size_t i = 0; i < n; i++) {
            const float *r = g + i * w + j;
            s0 = vadd(s0, vload(r));
            s1 = vadd(s1, vload(r + VW));
            s2 = vadd(s2, vload(r + 2 * VW));
            s3 = vadd(s3, vload(r + 3 * VW));
        }
        vstore(db + j, s0);
        vstore(db + j + VW, s1);
        vstore(db + j + 2 * VW, s2);
        vstore(db + j + 3 * VW, s3);
    }
    for (; j < w; j += VW) {
        const size_t t = w - j < VW ? w - j : VW;
        vf s = vzero();
        for (size_t i = 0; i < n; i++) s = vadd(s, vload_n(g + i * w + j, t));
        vstore_n(db + j, s, t);
    }
}

/* softplus(l) - x l and scale (sigmoid(l) - x) from e = exp(-|l|):
 * softplus(l) = max(l, 0) + log1p(e), sigmoid(l) = (l >= 0 ? 1 : e) / (1 + e). */
INLINE vf bce_vec(vf l, vf x, vf *dl, vf scale, int grad)
{
    const vf one = vset1(1.0f);
    const vf e = vexpf(vsub(vzero(), vabs(l))), u = vadd(one, e), inv = vdiv(one, u);
    if (grad) *dl = vmul(scale, vsub(vmul(vselect(vge(l, vzero()), one, e), inv), x));
    return vsub(vadd(vmax(l, vzero()), vlog1p_unit(e, u, inv)), vmul(x, l));
}

static double EW_SUFFIX(bce_logits)(size_t n, size_t d, const float *x, size_t ldx,
                                    const float *l, float *dl, float scale)
{
    const vf vs = vset1(scale);
    vdacc sum = vdacc_zero();
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx, *li = l + i * d;
        float *di = dl ? dl + i * d : NULL;
        size_t j = 0;
        vf g;
        for (; j + VW <= d; j += VW) {
            sum = vdacc_add(sum, bce_vec(vload(li + j), vload(xi + j), &g, vs, di != NULL));
            if (di) vstore(di + j, g);
        }
        if (j < d) {
            /* Padding lanes hold l = x = 0, whose term log 2 is masked off. */
            const size_t t = d - j;
            const vf term = bce_vec(vload_n(li + j, t), vload_n(xi + j, t), &g, vs, di != NULL);
            sum = vdacc_add(sum, vselect(vfirst(t), term, vzero()));
            if (di) vstore_n(di + j, g, t);
        }
    }
    return vdacc_sum(sum);
}

/* Adam's constants, broadcast. */
typedef struct {
    vf b1, b2, c1, c2, wd, eps, step, ibc;
} adam_vecs;

INLINE adam_vecs adam_broadcast(const vaei_adam_args *a)
{
    return (adam_vecs){vset1(a->b1), vset1(a->b2),  vset1(a->c1),   vset1(a->c2),
                       vset1(a->wd), vset1(a->eps), vset1(a->step), vset1(a->inv_sqrt_bc2)};
}

/* x, or 0 where |x| is below the smallest normal float (NaN passes). */
INLINE vf vflush(vf x)
{
    return vselect(vlt(vabs(x), vset1(FLT_MIN)), vzero(), x);
}

/* One vector of Adam at i: g' = g + wd p, m = b1 m + c1 g', v = b2 v + c2 g'^2
 * into *m and *v, each flushed to 0 below FLT_MIN (elementwise.h); returns
 * p - step (m / (sqrt(v) ibc + eps)), the quotient first as in PyTorch's
 * addcdiv (step m first made a subnormal of every m below FLT_MIN / step).
 * The reference's operations one for one (no FMA): the same bits. */
INLINE vf adam_vec(const adam_vecs *k, const vaei_adam_args *a, size_t i, vf *m, vf *v)
{
    const vf p = vload(a->p + i);
    const vf g = vadd(vload(a->g + i), vmul(k->wd, p));
    *m = vflush(vadd(vmul(k->b1, vload(a->m + i)), vmul(k->c1, g)));
    *v = vflush(vadd(vmul(k->b2, vload(a->v + i)), vmul(vmul(k->c2, g), g)));
    return vsub(p, vmul(k->step, vdiv(*m, vadd(vmul(vsqrt(*v), k->ibc), k->eps))));
}

/* The largest lane of x (all lanes >= 0). */
INLINE float vhmax(vf x)
{
    float lanes[VW], top = 0.0f;
    vstore(lanes, x);
    for (int l = 0; l < VW; l++) top = lanes[l] > top ? lanes[l] : top;
    return top;
}

static void EW_SUFFIX(adam)(const vaei_adam_args *a, size_t begin, size_t end,
                            vaei_moment_max *out)
{
    const adam_vecs k = adam_broadcast(a);
    vf mtop = vzero(), vtop = vzero();
    size_t i = begin;
    for (; i + VW <= end; i += VW) {
        vf m, v;
        const vf q = adam_vec(&k, a, i, &m, &v);
        vstore(a->m + i, m);
        vstore(a->v + i, v);
        vstore(a->p + i, q);
        mtop = vmax(mtop, vabs(m));
        vtop = vmax(vtop, v);
    }
    vaei_moment_max tail = {0.0f, 0.0f};
    if (i < end) vaei_vec_ref.adam(a, i, end, &tail);
    if (!out) return;
    const float hm = vhmax(mtop), hv = vhmax(vtop);
    *out = (vaei_moment_max){hm > tail.m ? hm : tail.m, hv > tail.v ? hv : tail.v};
}

static int EW_SUFFIX(adam_ok)(const vaei_adam_args *a, size_t begin, size_t end)
{
    const adam_vecs k = adam_broadcast(a);
    vf acc = vzero();
    size_t i = begin;
    /* adam() above without its stores: x - x is 0 for finite lanes. */
    for (; i + VW <= end; i += VW) {
        vf m, v;
        const vf q = adam_vec(&k, a, i, &m, &v);
        acc = vadd(acc, vadd(vadd(vsub(m, m), vsub(v, v)), vsub(q, q)));
    }
    return vhsum(acc) == 0.0f && vaei_vec_ref.adam_ok(a, i, end);
}

static int EW_SUFFIX(adam_scan)(const vaei_adam_args *a, size_t begin, size_t end, float *gmax)
{
    const vf wd = vset1(a->wd);
    vf acc0 = vzero(), acc1 = vzero(), big0 = vzero(), big1 = vzero();
    size_t i = begin;
    for (; i + 2 * VW <= end; i += 2 * VW) { /* two chains: the adds' latency */
        const vf g0 = vadd(vload(a->g + i), vmul(wd, vload(a->p + i)));
        const vf g1 = vadd(vload(a->g + i + VW), vmul(wd, vload(a->p + i + VW)));
        acc0 = vadd(acc0, vsub(g0, g0));
        acc1 = vadd(acc1, vsub(g1, g1));
        big0 = vmax(big0, vabs(g0));
        big1 = vmax(big1, vabs(g1));
    }
    float tail = 0.0f;
    const int ok = vaei_vec_ref.adam_scan(a, i, end, &tail);
    const float top = vhmax(vmax(big0, big1));
    *gmax = top > tail ? top : tail;
    return ok && vhsum(vadd(acc0, acc1)) == 0.0f;
}

static void EW_SUFFIX(u8_to_float)(float *dst, const uint8_t *src, size_t n)
{
    const vf k = vset1(1.0f / 255.0f);
    size_t i = 0;
    for (; i + VW <= n; i += VW) vstore(dst + i, vmul(vload_u8(src + i), k));
    if (i < n) vaei_vec_ref.u8_to_float(dst + i, src + i, n - i);
}

static int EW_SUFFIX(all_finite)(const float *x, size_t n)
{
    /* v - v is 0 for finite lanes, NaN from inf or NaN; four sums in
     * flight, so that the adds' latency does not bound the pass (it ran at
     * a third of the load rate with one). */
    vf acc0 = vzero(), acc1 = vzero(), acc2 = vzero(), acc3 = vzero();
    size_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        const vf v0 = vload(x + i), v1 = vload(x + i + VW);
        const vf v2 = vload(x + i + 2 * VW), v3 = vload(x + i + 3 * VW);
        acc0 = vadd(acc0, vsub(v0, v0));
        acc1 = vadd(acc1, vsub(v1, v1));
        acc2 = vadd(acc2, vsub(v2, v2));
        acc3 = vadd(acc3, vsub(v3, v3));
    }
    for (; i + VW <= n; i += VW) {
        const vf v = vload(x + i);
        acc0 = vadd(acc0, vsub(v, v));
    }
    const vf acc = vadd(vadd(acc0, acc1), vadd(acc2, acc3));
    return vhsum(acc) == 0.0f && vaei_vec_ref.all_finite(x + i, n - i);
}

const vaei_vecops EW_SUFFIX(vaei_vec) = {
    .bias_act = EW_SUFFIX(bias_act),
    .act_backward = EW_SUFFIX(act_backward),
    .col_sums = EW_SUFFIX(col_sums),
    .bce_logits = EW_SUFFIX(bce_logits),
    .adam = EW_SUFFIX(adam),
    .adam_ok = EW_SUFFIX(adam_ok),
    .adam_scan = EW_SUFFIX(adam_scan),
    .u8_to_float = EW_SUFFIX(u8_to_float),
    .all_finite = EW_SUFFIX(all_finite),
    .exp = EW_SUFFIX(exp),
    .log1p_unit = EW_SUFFIX(log1p_unit),
};
