/*
 * The vector vocabulary of the SIMD templates (gemm_template.h,
 * elementwise_template.h) for AVX2 + FMA: 8 floats per vector.
 * Include only from a file compiled with -mavx2 -mfma.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_VEC_AVX2_H
#define VAEI_VEC_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define VW 8 /* floats per vector */

typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vmask; /* all-ones lanes where true */
typedef struct { __m256d lo, hi; } vdacc; /* 8 double accumulators */

static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf vset1(float x) { return _mm256_set1_ps(x); }
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); } /* a b + c */
/* max(a, b) and min(a, b) return b when either is NaN, like fmaxf(NaN, b). */
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }

static inline vmask vgt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vmask vge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vmask vlt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vmask vmask_and(vmask a, vmask b) { return _mm256_and_ps(a, b); }
/* m ? a : b, lane by lane */
static inline vf vselect(vmask m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }

static inline vmask vfirst(size_t n) /* lanes [0, n) */
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx));
}
/* The first n < VW lanes; the others read as 0 and are not written. */
static inline vf vload_n(const float *p, size_t n)
{
    return _mm256_maskload_ps(p, _mm256_castps_si256(vfirst(n)));
}
static inline void vstore_n(float *p, vf v, size_t n)
{
    _mm256_maskstore_ps(p, _mm256_castps_si256(vfirst(n)), v);
}

static inline float vhsum(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline vdacc vdacc_zero(void) { return (vdacc){_mm256_setzero_pd(), _mm256_setzero_pd()}; }
static inline vdacc vdacc_add(vdacc a, vf v)
{
    a.lo = _mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    a.hi = _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    return a;
}
static inline double vdacc_sum(vdacc a)
{
    __m256d s = _mm256_add_pd(a.lo, a.hi);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}

/* Integer lanes, for exponent tricks. */
static inline vi vas_int(vf v) { return _mm256_castps_si256(v); }
static inline vf vas_float(vi v) { return _mm256_castsi256_ps(v); }
static inline vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
#define vi_shl(a, imm) _mm256_slli_epi32((a), (imm))
#define vi_shr(a, imm) _mm256_srli_epi32((a), (imm))
static inline vf vi_to_float(vi a) { return _mm256_cvtepi32_ps(a); }
static inline vi vround_int(vf a) { return _mm256_cvtps_epi32(a); } /* to nearest even */

/* 8 bytes as floats 0..255 */
static inline vf vload_u8(const uint8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)));
}

#endif /* VAEI_VEC_AVX2_H */
