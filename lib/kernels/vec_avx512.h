/*
 * The vector vocabulary of the SIMD templates (gemm_template.h,
 * elementwise_template.h) for AVX-512 (F, DQ, BW, VL): 16 floats per vector.
 * Include only from a file compiled with the AVX-512 flags of lib/meson.build.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_VEC_AVX512_H
#define VAEI_VEC_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define VW 16 /* floats per vector */

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vmask;
typedef struct { __m512d lo, hi; } vdacc; /* 16 double accumulators */

static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf vset1(float x) { return _mm512_set1_ps(x); }
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); } /* a b + c */
/* max(a, b) and min(a, b) return b when either is NaN, like fmaxf(NaN, b). */
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vabs(vf a) { return _mm512_abs_ps(a); }

static inline vmask vgt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vmask vge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline vmask vlt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vmask vmask_and(vmask a, vmask b) { return (vmask)(a & b); }
/* m ? a : b, lane by lane */
static inline vf vselect(vmask m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }

static inline vmask vfirst(size_t n) { return (vmask)((1u << n) - 1u); } /* lanes [0, n) */
/* The first n < VW lanes; the others read as 0 and are not written. */
static inline vf vload_n(const float *p, size_t n) { return _mm512_maskz_loadu_ps(vfirst(n), p); }
static inline void vstore_n(float *p, vf v, size_t n) { _mm512_mask_storeu_ps(p, vfirst(n), v); }

static inline float vhsum(vf v) { return _mm512_reduce_add_ps(v); }

static inline vdacc vdacc_zero(void) { return (vdacc){_mm512_setzero_pd(), _mm512_setzero_pd()}; }
static inline vdacc vdacc_add(vdacc a, vf v)
{
    a.lo = _mm512_add_pd(a.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    a.hi = _mm512_add_pd(a.hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
    return a;
}
static inline double vdacc_sum(vdacc a) { return _mm512_reduce_add_pd(_mm512_add_pd(a.lo, a.hi)); }

/* Integer lanes, for exponent tricks. */
static inline vi vas_int(vf v) { return _mm512_castps_si512(v); }
static inline vf vas_float(vi v) { return _mm512_castsi512_ps(v); }
static inline vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
#define vi_shl(a, imm) _mm512_slli_epi32((a), (imm))
#define vi_shr(a, imm) _mm512_srli_epi32((a), (imm))
static inline vf vi_to_float(vi a) { return _mm512_cvtepi32_ps(a); }
static inline vi vround_int(vf a) { return _mm512_cvtps_epi32(a); } /* to nearest even */

/* 16 bytes as floats 0..255 */
static inline vf vload_u8(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)));
}

#endif /* VAEI_VEC_AVX512_H */
