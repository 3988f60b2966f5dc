/*
 * The vector vocabulary of the SIMD templates (gemm_template.h,
 * elementwise_template.h) for AArch64 Advanced SIMD: 4 floats per vector.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_VEC_NEON_H
#define VAEI_VEC_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VW 4 /* floats per vector */

typedef float32x4_t vf;
typedef int32x4_t vi;
typedef uint32x4_t vmask;
typedef struct { float64x2_t lo, hi; } vdacc; /* 4 double accumulators */

static inline vf vload(const float *p) { return vld1q_f32(p); }
static inline void vstore(float *p, vf v) { vst1q_f32(p, v); }
static inline vf vset1(float x) { return vdupq_n_f32(x); }
static inline vf vzero(void) { return vdupq_n_f32(0.0f); }
static inline vf vadd(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vsub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vmul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vdiv(vf a, vf b) { return vdivq_f32(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); } /* a b + c */
static inline vmask vgt(vf a, vf b) { return vcgtq_f32(a, b); }
static inline vmask vge(vf a, vf b) { return vcgeq_f32(a, b); }
static inline vmask vlt(vf a, vf b) { return vcltq_f32(a, b); }
static inline vmask vmask_and(vmask a, vmask b) { return vandq_u32(a, b); }
/* m ? a : b, lane by lane */
static inline vf vselect(vmask m, vf a, vf b) { return vbslq_f32(m, a, b); }
/* max(a, b) and min(a, b) return b when either is NaN, like the x86 forms
 * and fmaxf(NaN, b) (vmaxq_f32 would return the NaN). */
static inline vf vmax(vf a, vf b) { return vselect(vgt(a, b), a, b); }
static inline vf vmin(vf a, vf b) { return vselect(vlt(a, b), a, b); }
static inline vf vsqrt(vf a) { return vsqrtq_f32(a); }
static inline vf vabs(vf a) { return vabsq_f32(a); }

static inline vmask vfirst(size_t n) /* lanes [0, n) */
{
    const uint32_t idx[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)n));
}
/* The first n < VW lanes; the others read as 0 and are not written. */
static inline vf vload_n(const float *p, size_t n)
{
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, p, n * sizeof *t);
    return vld1q_f32(t);
}
static inline void vstore_n(float *p, vf v, size_t n)
{
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, n * sizeof *t);
}

static inline float vhsum(vf v) { return vaddvq_f32(v); }

static inline vdacc vdacc_zero(void) { return (vdacc){vdupq_n_f64(0.0), vdupq_n_f64(0.0)}; }
static inline vdacc vdacc_add(vdacc a, vf v)
{
    a.lo = vaddq_f64(a.lo, vcvt_f64_f32(vget_low_f32(v)));
    a.hi = vaddq_f64(a.hi, vcvt_high_f64_f32(v));
    return a;
}
static inline double vdacc_sum(vdacc a) { return vaddvq_f64(vaddq_f64(a.lo, a.hi)); }

/* Integer lanes, for exponent tricks. */
static inline vi vas_int(vf v) { return vreinterpretq_s32_f32(v); }
static inline vf vas_float(vi v) { return vreinterpretq_f32_s32(v); }
static inline vi vi_set1(int32_t x) { return vdupq_n_s32(x); }
static inline vi vi_add(vi a, vi b) { return vaddq_s32(a, b); }
static inline vi vi_sub(vi a, vi b) { return vsubq_s32(a, b); }
static inline vi vi_and(vi a, vi b) { return vandq_s32(a, b); }
static inline vi vi_or(vi a, vi b) { return vorrq_s32(a, b); }
#define vi_shl(a, imm) vshlq_n_s32((a), (imm))
#define vi_shr(a, imm) vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), (imm)))
static inline vf vi_to_float(vi a) { return vcvtq_f32_s32(a); }
static inline vi vround_int(vf a) { return vcvtnq_s32_f32(a); } /* to nearest even */

/* 4 bytes as floats 0..255 */
static inline vf vload_u8(const uint8_t *p)
{
    uint8_t t[8] = {p[0], p[1], p[2], p[3], 0, 0, 0, 0};
    const uint16x4_t h = vget_low_u16(vmovl_u8(vld1_u8(t)));
    return vcvtq_f32_u32(vmovl_u16(h));
}

#endif /* VAEI_VEC_NEON_H */
