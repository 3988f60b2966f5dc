/*
 * The SIMD sgemm, written once against the vector vocabulary of a
 * vec_<isa>.h header and compiled per instruction set (sgemm_avx2.c,
 * sgemm_avx512.c, sgemm_neon.c). The including file defines
 *     GEMM_MR  rows of a micro-tile,   GEMM_NV  vectors across it (NR = NV VW),
 *     GEMM_KC  the largest k block,    GEMM_SUFFIX(name)  name##_isa,
 * and may define GEMM_TRANSPOSE8(src, ld, dst, dld), an 8 x 8 transpose
 * for the packers, and GEMM_PACK_A_ROWS, a packer of full A panels (see
 * the generic one below for the contract).
 *
 * The blocking is BLIS's: for each k block (kc <= KC, chosen from k alone)
 * a slice of op(B) is packed into panels of NR columns [kc x NR], the rows
 * of op(A) into panels of MR rows [kc x MR], and a register tile of
 * MR x NR accumulators walks each pair of panels. The B panel (kc NR floats)
 * stays in L1 while the A panels stream from L2.
 *
 * Every element of C is computed by the same sequence of FMAs (over p in
 * order, k block by k block) whatever the partition of C among threads, so
 * the result does not depend on the thread count at all.
 *
 * Products with k, n or m <= 8 (the latent layers) skip the packing:
 * small_k, small_n and small_m below.
 *
 * With GEMM_BF16 defined (sgemm_avx512bf16.c) the same blocking runs on
 * bfloat16: the packers round op(A) and op(B) to bfloat16 (nearest even)
 * and store pairs of consecutive k as one 32-bit word, and the micro-kernel
 * accumulates in float32 with vdpbf16ps, acc += a[2q] b[2q] + a[2q+1] b[2q+1]
 * per lane: two products per lane per instruction. A packed panel is then
 * ceil(kc / 2) words deep; an odd last k is paired with a zero.
 *
 * With GEMM_AMX as well (sgemm_amx.c) the register tile is a block of
 * 32 x 32 floats in four AMX accumulator tiles, and tdpbf16ps multiplies
 * tiles of 16 rows of A by 16 pairs of k (32 values) by 16 columns of B.
 * k is padded with zeros to whole tiles (KP: 16 words per 32 values of k),
 * and k blocks are multiples of 32. B's panels are the vdpbf16ps layout
 * (row q holds the pair q of each column: AMX's pair-interleaved B); A's
 * panels hold, for each 32 values of k, the panel's 32 rows of 16 words
 * one after the other, so that a tile of A is 1 KiB read in order. Each
 * thread loads the tile configuration at the start of its part of a
 * product and releases the tiles at its end (the tile registers are
 * per thread, and a pool worker runs other code between products).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "kernels.h"
#include "threadpool.h"

#define MR GEMM_MR
#define NV GEMM_NV
#define NR (GEMM_NV * VW)
#define KC GEMM_KC
#define MC 256        /* rows of op(A) packed at once: MC KC floats in L2 */
#define NC 1024       /* columns of op(B) packed at once */
#define SKINNY 8      /* k or n at most this: the unpacked kernels */
#define MIN_FMA_PER_THREAD (1u << 18) /* below this a thread is not worth waking */

/* The per-thread scratch slots (vaei_scratch): the packed A and B of a
 * thread's own blocks, the skinny kernels' transposed op(B) (pooled too: a
 * part of a conv layer's job may run a skinny product on any thread), and
 * the operand packed once for all threads. */
enum { SCRATCH_A, SCRATCH_B, SCRATCH_SKINNY_B, SCRATCH_SHARED = VAEI_SCRATCH_POOLED };
_Static_assert((int)SCRATCH_SKINNY_B < (int)VAEI_SCRATCH_COLUMNS,
               "the packing buffers are pooled slots of their own");

#define INLINE static inline __attribute__((always_inline))

#ifdef GEMM_AMX
typedef uint32_t pk_t;                 /* two bfloat16 of consecutive k, the even one low */
#define TILE_K 16                      /* words of k in a row of an A tile, rows of a B tile */
#define KP(kc) (((kc) + 31) / 32 * TILE_K) /* packed depth of kc values of k, in whole tiles */
#define K_ALIGN 32                     /* k blocks start at whole tiles */
#elif defined(GEMM_BF16)
typedef uint32_t pk_t;          /* two bfloat16 of consecutive k, the even one low */
#define KP(kc) (((kc) + 1) / 2) /* packed depth of kc values of k */
#else
typedef float pk_t;
#define KP(kc) (kc)
#endif
#ifndef K_ALIGN
#define K_ALIGN 4
#endif

typedef struct {
    vae_transpose ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    size_t lda, ldb, ldc;
    float *c;
} gemm_args;

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------------------ */
/* Packing                                                                  */
/* ------------------------------------------------------------------------ */

#ifndef GEMM_BF16
#ifndef GEMM_PACK_A_ROWS
/* MR rows of a row-major A (the rows of op(A) when ta = N), kc columns,
 * interleaved: dst[p MR + r] = src[r lda + p]; GEMM_TRANSPOSE8 (an 8 x 8
 * transpose) does the bulk when the ISA file has one. */
static void pack_a_rows(const float *src, size_t lda, size_t kc, float *dst)
{
    size_t p = 0;
#if defined(GEMM_TRANSPOSE8) && MR % 8 == 0
    for (; p + 8 <= kc; p += 8)
        for (size_t r = 0; r < MR; r += 8) GEMM_TRANSPOSE8(src + r * lda + p, lda, dst + p * MR + r, MR);
#endif
    for (; p < kc; p++)
        for (size_t r = 0; r < MR; r++) dst[p * MR + r] = src[r * lda + p];
}
#define GEMM_PACK_A_ROWS pack_a_rows
#endif

/* NR rows of a row-major B (the columns of op(B) when tb = T), kc columns,
 * interleaved: dst[p NR + c] = src[c ldb + p]. */
static void pack_b_cols(const float *src, size_t ldb, size_t kc, float *dst)
{
    size_t p = 0;
#if defined(GEMM_TRANSPOSE8) && NR % 8 == 0
    for (; p + 8 <= kc; p += 8)
        for (size_t c = 0; c < NR; c += 8) GEMM_TRANSPOSE8(src + c * ldb + p, ldb, dst + p * NR + c, NR);
#endif
    for (; p < kc; p++)
        for (size_t c = 0; c < NR; c++) dst[p * NR + c] = src[c * ldb + p];
}

/* Rows [i0, i0 + mc) and k range [p0, p0 + kc) of op(A) into panels of MR
 * rows, kc MR floats each; rows past mc are zero. */
static void pack_a(const gemm_args *g, size_t i0, size_t mc, size_t p0, size_t kc, float *dst)
{
    for (size_t ip = 0; ip < mc; ip += MR, dst += MR * kc) {
        const size_t mr = min_sz(MR, mc - ip), i = i0 + ip;
        if (g->ta == VAE_NO_TRANS) {
            const float *s = g->a + i * g->lda + p0;
            if (mr == MR) {
                GEMM_PACK_A_ROWS(s, g->lda, kc, dst);
                continue;
            }
            for (size_t p = 0; p < kc; p++)
                for (size_t r = 0; r < MR; r++) dst[p * MR + r] = r < mr ? s[r * g->lda + p] : 0.0f;
        } else {
            const float *s = g->a + p0 * g->lda + i;
            for (size_t p = 0; p < kc; p++, s += g->lda) {
                if (mr == MR) {
                    memcpy(dst + p * MR, s, MR * sizeof *dst);
                } else {
                    for (size_t r = 0; r < MR; r++) dst[p * MR + r] = r < mr ? s[r] : 0.0f;
                }
            }
        }
    }
}

/* Columns [j0, j0 + nc) and k range [p0, p0 + kc) of op(B) into panels of
 * NR columns, the last one only as wide as it needs in whole vectors
 * (padded with zeros): panel jp starts at dst + jp kc. */
static void pack_b(const gemm_args *g, size_t j0, size_t nc, size_t p0, size_t kc, float *dst)
{
    const size_t full = nc / NR * NR, nr = nc - full, w = (nr + VW - 1) / VW * VW;
    if (g->tb == VAE_NO_TRANS) {
        /* Row by row of B, so that reads are contiguous and prefetched. */
        const float *s = g->b + p0 * g->ldb + j0;
        for (size_t p = 0; p < kc; p++, s += g->ldb) {
            for (size_t jp = 0; jp < full; jp += NR)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    vstore(dst + jp * kc + p * NR + v * VW, vload(s + jp + v * VW));
            for (size_t c = 0; c < w; c += VW) {
                const float *src = s + full + c;
                vstore(dst + full * kc + p * w + c, c + VW <= nr ? vload(src)
                                                   : c < nr    ? vload_n(src, nr - c)
                                                               : vzero());
            }
        }
        return;
    }
    for (size_t jp = 0; jp < full; jp += NR)
        pack_b_cols(g->b + (j0 + jp) * g->ldb + p0, g->ldb, kc, dst + jp * kc);
    if (nr) {
        const float *s = g->b + (j0 + full) * g->ldb + p0;
        float *d = dst + full * kc;
        for (size_t p = 0; p < kc; p++)
            for (size_t c = 0; c < w; c++) d[p * w + c] = c < nr ? s[c * g->ldb + p] : 0.0f;
    }
}
#else /* GEMM_BF16 */
/* kc consecutive floats of a row into KP(kc) words: word q = (s[2q], s[2q+1]),
 * words [j VW, j VW + VW) at d + j stride (stride VW: one run). */
static void conv_row(const float *s, size_t kc, pk_t *d, size_t stride)
{
    size_t p = 0;
    for (; p + 2 * VW <= kc; p += 2 * VW, d += stride) /* cvtne2ps: b to the low half */
        _mm512_storeu_si512(d, (__m512i)_mm512_cvtne2ps_pbh(vload(s + p + VW), vload(s + p)));
    if (p < kc) {
        const size_t r = kc - p;
        const vf lo = r >= VW ? vload(s + p) : vload_n(s + p, r);
        const vf hi = r > VW ? vload_n(s + p + VW, r - VW) : vzero();
#ifdef GEMM_AMX /* the whole last tile row: zeros past kc */
        _mm512_storeu_si512(d, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
#else
        _mm512_mask_storeu_epi32(d, vfirst(KP(r)), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
#endif
    }
}

/* 16 words (x0[c], x1[c]) of two vectors: one conversion of both (x0 to
 * the low 16 halves) and one permutation that interleaves them. */
INLINE __m512i pair_words(vf x0, vf x1)
{
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
}

/* Two rows of cnt floats (s1 NULL: zeros) into `width` >= cnt words,
 * word c = (s0[c], s1[c]), zero past cnt. */
static void conv_pair_rows(const float *s0, const float *s1, size_t cnt, size_t width, pk_t *d)
{
    for (size_t c = 0; c < width; c += VW) {
        const size_t n = c < cnt ? min_sz(VW, cnt - c) : 0, w = min_sz(VW, width - c);
        const vf x0 = n == VW ? vload(s0 + c) : n ? vload_n(s0 + c, n) : vzero();
        const vf x1 = !s1 ? vzero() : n == VW ? vload(s1 + c) : n ? vload_n(s1 + c, n) : vzero();
        const __m512i word = pair_words(x0, x1);
        if (w == VW)
            _mm512_storeu_si512(d + c, word);
        else
            _mm512_mask_storeu_epi32(d + c, vfirst(w), word);
    }
}

/* dst[q width + c] = src[c ld + q] for c < width, q < kp: words moved as
 * they are (an 8 x 8 shuffle never changes bits). */
static void transpose_words(const pk_t *src, size_t ld, size_t width, size_t kp, pk_t *dst)
{
    size_t q = 0;
#if defined(GEMM_TRANSPOSE8)
    if (width % 8 == 0)
        for (; q + 8 <= kp; q += 8)
            for (size_t c = 0; c < width; c += 8)
                GEMM_TRANSPOSE8((const float *)(const void *)(src + c * ld + q), ld,
                                (float *)(void *)(dst + q * width + c), width);
#endif
    for (; q < kp; q++)
        for (size_t c = 0; c < width; c++) dst[q * width + c] = src[c * ld + q];
}

#ifdef GEMM_AMX
/* Rows [i0, i0 + mc) and k range [p0, p0 + kc) of op(A) into panels of MR
 * rows, KP(kc) MR words each: for each TILE_K words of k, MR rows of
 * TILE_K words (word (r, q) at (q / TILE_K) MR TILE_K + r TILE_K + q % TILE_K);
 * rows past mc are zero. */
static void pack_a(const gemm_args *g, size_t i0, size_t mc, size_t p0, size_t kc, pk_t *dst)
{
    const size_t kp = KP(kc);
    for (size_t ip = 0; ip < mc; ip += MR, dst += MR * kp) {
        const size_t mr = min_sz(MR, mc - ip), i = i0 + ip;
        if (g->ta == VAE_NO_TRANS) { /* a row of A holds consecutive k */
            for (size_t r = 0; r < MR; r++)
                if (r < mr)
                    conv_row(g->a + (i + r) * g->lda + p0, kc, dst + r * TILE_K, MR * TILE_K);
                else
                    for (size_t q = 0; q < kp; q += TILE_K)
                        memset(dst + q * MR + r * TILE_K, 0, TILE_K * sizeof *dst);
            continue;
        }
        /* A is [k x m]: rows 2q and 2q + 1 pair up into MR words, and each
         * TILE_K of those runs is turned to MR rows of TILE_K words. */
        pk_t tmp[TILE_K * MR];
        for (size_t q0 = 0; q0 < kp; q0 += TILE_K) {
            for (size_t q = q0; q < q0 + TILE_K; q++) {
                const float *s0 = g->a + (p0 + 2 * q) * g->lda + i;
                if (2 * q < kc)
                    conv_pair_rows(s0, 2 * q + 1 < kc ? s0 + g->lda : NULL, mr, MR, tmp + (q - q0) * MR);
                else
                    memset(tmp + (q - q0) * MR, 0, MR * sizeof *tmp);
            }
            for (size_t r = 0; r < MR; r += 8) /* dst[r TILE_K + q] = tmp[q MR + r] */
                for (size_t q = 0; q < TILE_K; q += 8)
                    GEMM_TRANSPOSE8((const float *)(const void *)(tmp + q * MR + r), MR,
                                    (float *)(void *)(dst + q0 * MR + r * TILE_K + q), TILE_K);
        }
    }
}
#else
/* Rows [i0, i0 + mc) and k range [p0, p0 + kc) of op(A) into panels of MR
 * rows, KP(kc) MR words each; rows past mc are zero. */
static void pack_a(const gemm_args *g, size_t i0, size_t mc, size_t p0, size_t kc, pk_t *dst)
{
    const size_t kp = KP(kc);
    pk_t tmp[MR * KP(KC)];
    for (size_t ip = 0; ip < mc; ip += MR, dst += MR * kp) {
        const size_t mr = min_sz(MR, mc - ip), i = i0 + ip;
        if (g->ta == VAE_NO_TRANS) { /* a row of A holds consecutive k */
            for (size_t r = 0; r < MR; r++)
                if (r < mr)
                    conv_row(g->a + (i + r) * g->lda + p0, kc, tmp + r * kp, VW);
                else
                    memset(tmp + r * kp, 0, kp * sizeof *tmp);
            transpose_words(tmp, kp, MR, kp, dst);
        } else { /* A is [k x m]: rows 2q and 2q + 1 pair up */
            for (size_t q = 0; q < kp; q++) {
                const float *s0 = g->a + (p0 + 2 * q) * g->lda + i;
                conv_pair_rows(s0, 2 * q + 1 < kc ? s0 + g->lda : NULL, mr, MR, dst + q * MR);
            }
        }
    }
}
#endif /* GEMM_AMX */

/* Columns [j0, j0 + nc) and k range [p0, p0 + kc) of op(B) into panels of
 * NR columns, the last one only as wide as it needs in whole vectors
 * (padded with zeros): panel jp starts at dst + jp KP(kc). */
static void pack_b(const gemm_args *g, size_t j0, size_t nc, size_t p0, size_t kc, pk_t *dst)
{
    const size_t full = nc / NR * NR, nr = nc - full, w = (nr + VW - 1) / VW * VW, kp = KP(kc);
    if (g->tb == VAE_NO_TRANS) { /* B is [k x n]: rows 2q and 2q + 1 pair up */
        for (size_t q = 0; q < kp; q++) {
            if (2 * q >= kc) { /* AMX's padding to whole tiles */
                for (size_t jp = 0; jp < full; jp += NR) memset(dst + jp * kp + q * NR, 0, NR * sizeof *dst);
                if (nr) memset(dst + full * kp + q * w, 0, w * sizeof *dst);
                continue;
            }
            const float *s0 = g->b + (p0 + 2 * q) * g->ldb + j0;
            const float *s1 = 2 * q + 1 < kc ? s0 + g->ldb : NULL;
            if (s1) /* the full panels in one pass along the rows */
                for (size_t jp = 0; jp < full; jp += NR)
#pragma GCC unroll 4
                    for (int v = 0; v < NV; v++)
                        _mm512_storeu_si512(dst + jp * kp + q * NR + v * VW,
                                            pair_words(vload(s0 + jp + v * VW), vload(s1 + jp + v * VW)));
            else
                for (size_t jp = 0; jp < full; jp += NR)
                    conv_pair_rows(s0 + jp, NULL, NR, NR, dst + jp * kp + q * NR);
            if (nr) conv_pair_rows(s0 + full, s1 ? s1 + full : NULL, nr, w, dst + full * kp + q * w);
        }
        return;
    }
    pk_t tmp[NR * KP(KC)]; /* B is [n x k]: a row of B holds consecutive k */
    for (size_t jp = 0; jp < nc; jp += NR) {
        const size_t cnt = min_sz(NR, nc - jp), width = cnt == NR ? NR : w;
        for (size_t c = 0; c < width; c++)
            if (c < cnt)
                conv_row(g->b + (j0 + jp + c) * g->ldb + p0, kc, tmp + c * kp, VW);
            else
                memset(tmp + c * kp, 0, kp * sizeof *tmp);
        transpose_words(tmp, kp, width, kp, dst + jp * kp);
    }
}
#endif /* GEMM_BF16 */

/* ------------------------------------------------------------------------ */
/* The micro-kernel                                                         */
/* ------------------------------------------------------------------------ */

/* cp[0, cols) = alpha acc + beta cp[0, cols), cols <= VW; beta == 0
 * ignores cp's prior contents. */
INLINE void store_vec(float *cp, vf acc, size_t cols, vf va, vf vb, float beta)
{
    if (cols == VW)
        vstore(cp, vfma(va, acc, beta == 0.0f ? vzero() : vmul(vb, vload(cp))));
    else
        vstore_n(cp, vfma(va, acc, beta == 0.0f ? vzero() : vmul(vb, vload_n(cp, cols))), cols);
}

/* C[mr x nr] = alpha * A_panel B_panel + beta * C, over kc, with nv vectors
 * across (the panel's width); beta == 0 ignores C. Element (r, p) of the A
 * panel is a[p ps + r rs]: ps = MR, rs = 1 for a packed panel; for op(A)
 * read in place (float32 only), the strides of A itself. The same products
 * in the same order either way. */
INLINE void micro_tile(int nv, size_t kc, const pk_t *a, size_t rs, size_t ps, const pk_t *b,
                       float *c, size_t ldc, float alpha, float beta, size_t mr, size_t nr)
{
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = vzero();
#ifdef GEMM_BF16
    /* kc is the packed depth here: each step takes two values of k. */
    for (size_t q = 0; q < kc; q++, a += MR, b += nv * VW) {
        __m512bh bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = (__m512bh)_mm512_loadu_si512(b + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, bv[v]);
        }
    }
#else
    for (size_t p = 0; p < kc; p++, a += ps, b += nv * VW) {
        vf bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) bv[v] = vload(b + v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const vf ar = vset1(a[(size_t)r * rs]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[r][v] = vfma(ar, bv[v], acc[r][v]);
        }
    }
#endif
    const vf va = vset1(alpha), vb = vset1(beta);
    if (mr == MR && nr == (size_t)nv * VW) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                store_vec(c + (size_t)r * ldc + (size_t)v * VW, acc[r][v], VW, va, vb, beta);
        return;
    }
    for (size_t r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            if ((size_t)v * VW >= nr) break;
            store_vec(c + r * ldc + (size_t)v * VW, acc[r][v], min_sz(VW, nr - (size_t)v * VW), va,
                      vb, beta);
        }
}

#ifdef GEMM_AMX
/* Palette 1, the eight tiles alike: 16 rows of 64 bytes (16 floats, or 16
 * words of bfloat16 pairs). Tiles 0-3 accumulate C (rows 0-15 and 16-31 by
 * columns 0-15 and 16-31), 4-5 hold A (rows 0-15, 16-31), 6-7 B (columns
 * 0-15, 16-31). */
static void amx_configure(void)
{
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } __attribute__((aligned(64))) cfg;
    _Static_assert(sizeof cfg == 64, "the tile configuration is 64 bytes");
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
}

/* rows x cols floats from src (stride ls) to dst (stride ld), cols <= NR;
 * with `pad`, dst's rows are NR wide and zero past cols and rows up to MR. */
INLINE void copy_block(float *dst, size_t ld, const float *src, size_t ls, size_t rows, size_t cols,
                       int pad)
{
    for (size_t r = 0; r < (pad ? MR : rows); r++)
        for (size_t v = 0; v * VW < (pad ? NR : cols); v++) {
            const size_t n = r < rows && v * VW < cols ? min_sz(VW, cols - v * VW) : 0;
            const vf x = n == VW ? vload(src + r * ls + v * VW) : n ? vload_n(src + r * ls + v * VW, n) : vzero();
            if (pad || n == VW)
                vstore(dst + r * ld + v * VW, x);
            else
                vstore_n(dst + r * ld + v * VW, x, n);
        }
}

/* C[mr x nr] = alpha * A_panel B_panel + beta * C over kp words of k (a
 * multiple of TILE_K), the B panel nv vectors wide: tdpbf16ps over the
 * tiles of k in order. With alpha 1 and beta 0 or 1 (every product of a
 * training step, and every k block after the first) the accumulators
 * start from C (or zero) and are stored as C: in place for a whole 32 x 32
 * block, through a buffer for an edge; other alpha and beta take the
 * float32 epilogue. So each element of C gets the same operations whether
 * its block is whole or not, and the result depends neither on the thread
 * count nor on the rows around it. */
INLINE void amx_tile(int nv, size_t kp, const pk_t *a, const pk_t *b, float *c, size_t ldc,
                     float alpha, float beta, size_t mr, size_t nr)
{
    const size_t sa = TILE_K * sizeof(pk_t), sb = (size_t)nv * VW * sizeof(pk_t);
    const int whole = nv == 2 && mr == MR && nr == NR;
    const int in_tiles = alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
    float buf[MR * NR] __attribute__((aligned(64)));
    float *const t = whole && in_tiles ? c : buf; /* the accumulators' memory */
    const size_t st = (whole && in_tiles ? ldc : NR) * sizeof(float);
    if (in_tiles && beta == 1.0f) {
        if (t == buf) copy_block(buf, NR, c, ldc, mr, nr, 1);
        _tile_loadd(0, t, st);
        _tile_loadd(1, t + 16, st);
        _tile_loadd(2, t + 16 * st / sizeof(float), st);
        _tile_loadd(3, t + 16 * st / sizeof(float) + 16, st);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    const pk_t *const end = a + MR * kp;
    if (nv == 2 && mr > 16) {
        for (; a < end; a += MR * TILE_K, b += TILE_K * NR) {
            _tile_loadd(4, a, sa);
            _tile_loadd(6, b, sb);
            _tile_loadd(7, b + 16, sb);
            _tile_loadd(5, a + 16 * TILE_K, sa);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    } else if (nv == 2) { /* rows 16-31 of the panel are zeros */
        for (; a < end; a += MR * TILE_K, b += TILE_K * NR) {
            _tile_loadd(4, a, sa);
            _tile_loadd(6, b, sb);
            _tile_loadd(7, b + 16, sb);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
        }
    } else { /* a panel of 16 columns */
        for (; a < end; a += MR * TILE_K, b += TILE_K * VW) {
            _tile_loadd(4, a, sa);
            _tile_loadd(6, b, sb);
            _tile_dpbf16ps(0, 4, 6);
            if (mr > 16) {
                _tile_loadd(5, a + 16 * TILE_K, sa);
                _tile_dpbf16ps(2, 5, 6);
            }
        }
    }
    _tile_stored(0, t, st);
    _tile_stored(1, t + 16, st);
    _tile_stored(2, t + 16 * st / sizeof(float), st);
    _tile_stored(3, t + 16 * st / sizeof(float) + 16, st);
    if (t == c) return;
    if (in_tiles) {
        copy_block(c, ldc, buf, NR, mr, nr, 0);
        return;
    }
    const vf va = vset1(alpha), vb = vset1(beta);
    for (size_t r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) {
            if ((size_t)v * VW >= nr) break;
            store_vec(c + r * ldc + (size_t)v * VW, vload(buf + r * NR + (size_t)v * VW),
                      min_sz(VW, nr - (size_t)v * VW), va, vb, beta);
        }
}
#endif /* GEMM_AMX */

#ifdef GEMM_AMX
#define TILE_FN(nv)                                                                        \
    static void tile_##nv(size_t kc, const pk_t *a, const pk_t *b, float *c, size_t ldc,   \
                          float alpha, float beta, size_t mr, size_t nr)                    \
    {                                                                                      \
        amx_tile(nv, kc, a, b, c, ldc, alpha, beta, mr, nr);                               \
    }
#else
#define TILE_FN(nv)                                                                        \
    static void tile_##nv(size_t kc, const pk_t *a, const pk_t *b, float *c, size_t ldc,   \
                          float alpha, float beta, size_t mr, size_t nr)                    \
    {                                                                                      \
        micro_tile(nv, kc, a, 1, MR, b, c, ldc, alpha, beta, mr, nr);                      \
    }
#endif
#ifdef GEMM_BF16
#define DIRECT_FN(nv)
#else
#define DIRECT_FN(nv)                                                                      \
    static void direct_##nv(size_t kc, const float *a, size_t rs, size_t ps, const float *b,  \
                            float *c, size_t ldc, float alpha, float beta, size_t nr)       \
    {                                                                                      \
        micro_tile(nv, kc, a, rs, ps, b, c, ldc, alpha, beta, MR, nr);                     \
    }
#endif
TILE_FN(1)
DIRECT_FN(1)
#if NV >= 2
TILE_FN(2)
DIRECT_FN(2)
#endif
#if NV >= 3
TILE_FN(3)
DIRECT_FN(3)
#endif
#if NV >= 4
#error "GEMM_NV above 3 needs another TILE_FN"
#endif

typedef void (*tile_fn)(size_t, const pk_t *, const pk_t *, float *, size_t, float, float,
                        size_t, size_t);
static const tile_fn tiles[NV + 1] = {
    NULL, tile_1,
#if NV >= 2
    tile_2,
#endif
#if NV >= 3
    tile_3,
#endif
};

#ifndef GEMM_BF16
typedef void (*direct_fn)(size_t, const float *, size_t, size_t, const float *, float *, size_t,
                          float, float, size_t);
static const direct_fn directs[NV + 1] = {
    NULL, direct_1,
#if NV >= 2
    direct_2,
#endif
#if NV >= 3
    direct_3,
#endif
};
#endif

/* ------------------------------------------------------------------------ */
/* The blocked product over C[i0:i1, j0:j1]                                 */
/* ------------------------------------------------------------------------ */

/* k blocks of equal size (a multiple of K_ALIGN: 4, AMX 32), chosen from k alone. */
static size_t k_block(size_t k)
{
    const size_t blocks = (k + KC - 1) / KC, kc = (k + blocks - 1) / blocks;
    return (kc + K_ALIGN - 1) & ~(size_t)(K_ALIGN - 1);
}

/* Elements of pk_t (floats, or bfloat16 pairs) of the packing buffers. */
static size_t abuf_floats(void)
{
    return (size_t)(MC + MR) * KP(KC);
}

static size_t bbuf_floats(void)
{
    return (size_t)(NC + NR) * KP(KC);
}

/* Operands packed once for all threads (see GEMM_SUFFIX(sgemm)): A when C
 * is split by columns and all of op(A) fits one row block, B when C is
 * split by rows and all of op(B) fits one column block. Block pc of the k
 * blocks starts at shared + pc * width (width = m or n rounded up to whole
 * panels). */
typedef struct {
    const pk_t *a, *b;
    size_t a_width, b_width;
} gemm_shared;

/* op(A) of a product with few columns is read in place rather than
 * packed: each of its elements serves only n FMAs, so packing (a copy, or
 * a transpose when ta = N) would cost a visible share of the product,
 * while a tile's MR rows or kc runs of MR stream well. Float32 only: bf16
 * packs to convert. */
#define DIRECT_N (2 * NR)
#ifdef GEMM_BF16
#define DIRECT_A(g, sh) 0
#else
#define DIRECT_A(g, sh) (!(sh)->a && (g)->n <= DIRECT_N)
#endif

static void gemm_blocked(const gemm_args *g, size_t i0, size_t i1, size_t j0, size_t j1,
                         pk_t *abuf, pk_t *bbuf, const gemm_shared *sh)
{
    const size_t kb = k_block(g->k), mc_max = sh->a ? i1 - i0 : MC;
    const int direct = DIRECT_A(g, sh);
    for (size_t jc = j0; jc < j1; jc += NC) {
        const size_t nc = min_sz(NC, j1 - jc);
        for (size_t pc = 0; pc < g->k; pc += kb) {
            const size_t kc = min_sz(kb, g->k - pc);
            const float beta = pc == 0 ? g->beta : 1.0f;
            const size_t kp = KP(kc);
            const pk_t *bpack = bbuf;
            if (sh->b)
                bpack = sh->b + KP(pc) * sh->b_width; /* pc is even */
            else
                pack_b(g, jc, nc, pc, kc, bbuf);
            for (size_t ic = i0; ic < i1; ic += mc_max) {
                const size_t mc = min_sz(mc_max, i1 - ic);
                const pk_t *apack = abuf;
                if (sh->a)
                    apack = sh->a + KP(pc) * sh->a_width;
                else if (!direct)
                    pack_a(g, ic, mc, pc, kc, abuf);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    const size_t nr = min_sz(NR, nc - jr);
                    const tile_fn tile = tiles[(nr + VW - 1) / VW];
                    const pk_t *bp = bpack + jr * kp;
                    float *cc = g->c + ic * g->ldc + jc + jr;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        const size_t mr = min_sz(MR, mc - ir);
#ifndef GEMM_BF16
                        if (direct && mr == MR) {
                            const int n_a = g->ta == VAE_NO_TRANS;
                            const size_t i = ic + ir;
                            directs[(nr + VW - 1) / VW](
                                kp, n_a ? g->a + i * g->lda + pc : g->a + pc * g->lda + i,
                                n_a ? g->lda : 1, n_a ? 1 : g->lda, bp, cc + ir * g->ldc, g->ldc,
                                g->alpha, beta, nr);
                            continue;
                        }
                        if (direct) { /* the last rows, fewer than MR: packed, zero-padded */
                            pack_a(g, ic + ir, mr, pc, kc, abuf);
                            tile(kp, abuf, bp, cc + ir * g->ldc, g->ldc, g->alpha, beta, mr, nr);
                            continue;
                        }
#endif
                        tile(kp, apack + ir * kp, bp, cc + ir * g->ldc, g->ldc, g->alpha, beta,
                             mr, nr);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Skinny products                                                          */
/* ------------------------------------------------------------------------ */

INLINE float op_at(const float *x, size_t ld, vae_transpose t, size_t i, size_t j)
{
    return t == VAE_NO_TRANS ? x[i * ld + j] : x[j * ld + i];
}

INLINE float finish(float acc, float alpha, float beta, const float *c)
{
    return beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

/* The skinny kernels are written for a count (k, n or m) known at compile
 * time, 1 to SKINNY, so that their accumulators live in registers: each
 * has a body taking the count as a constant and a switch that picks it. */
#define SWITCH_COUNT(count, call)                                                          \
    switch (count) {                                                                       \
    case 1: call(1); break;                                                                \
    case 2: call(2); break;                                                                \
    case 3: call(3); break;                                                                \
    case 4: call(4); break;                                                                \
    case 5: call(5); break;                                                                \
    case 6: call(6); break;                                                                \
    case 7: call(7); break;                                                                \
    default: call(8); break;                                                               \
    }

INLINE vf scale_into(vf acc, float alpha, float beta, vf old)
{
    return vfma(vset1(alpha), acc, beta == 0.0f ? vzero() : vmul(vset1(beta), old));
}

/* k <= SKINNY: C[i,:] = alpha sum_p op(A)[i,p] op(B)[p,:] + beta C[i,:] for
 * rows [i0, i1); bk holds op(B) as [k x n] rows of stride ldbk. */
INLINE void small_k_body(const gemm_args *g, const float *bk, size_t ldbk, size_t i0, size_t i1,
                         const int k)
{
    const size_t n = g->n;
    for (size_t i = i0; i < i1; i++) {
        vf ai[SKINNY];
#pragma GCC unroll 8
        for (int p = 0; p < k; p++) ai[p] = vset1(op_at(g->a, g->lda, g->ta, i, (size_t)p));
        float *ci = g->c + i * g->ldc;
        size_t j = 0;
        for (; j + VW <= n; j += VW) {
            vf acc = vzero();
#pragma GCC unroll 8
            for (int p = 0; p < k; p++) acc = vfma(ai[p], vload(bk + (size_t)p * ldbk + j), acc);
            vstore(ci + j, scale_into(acc, g->alpha, g->beta, g->beta == 0.0f ? vzero() : vload(ci + j)));
        }
        if (j < n) {
            const size_t r = n - j;
            vf acc = vzero();
#pragma GCC unroll 8
            for (int p = 0; p < k; p++) acc = vfma(ai[p], vload_n(bk + (size_t)p * ldbk + j, r), acc);
            vstore_n(ci + j, scale_into(acc, g->alpha, g->beta, vload_n(ci + j, r)), r);
        }
    }
}

static void small_k(const gemm_args *g, const float *bk, size_t ldbk, size_t i0, size_t i1)
{
#define CALL(K) small_k_body(g, bk, ldbk, i0, i1, K)
    SWITCH_COUNT(g->k, CALL)
#undef CALL
}

/* The skinny kernels below keep several independent accumulators per
 * count (rows, or vectors of columns) so that the FMA latency is hidden:
 * about 8 in flight. */
#define IN_FLIGHT(count) ((count) <= 2 ? 4 : (count) <= 4 ? 2 : 1)

/* n <= SKINNY, A not transposed: C[i,j] = dot(A[i,:], bt[j,:]) with the
 * columns of op(B) as rows bt [n x k] of stride ldbt; R rows at a time. */
INLINE void small_n_rows_block(const gemm_args *g, const float *bt, size_t ldbt, size_t i,
                               const int n, const int R)
{
    const size_t k = g->k;
    vf acc[4][SKINNY];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) acc[r][j] = vzero();
    size_t p = 0;
    for (; p + VW <= k; p += VW) {
        vf x[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = vload(g->a + (i + (size_t)r) * g->lda + p);
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) {
            const vf b = vload(bt + (size_t)j * ldbt + p);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][j] = vfma(x[r], b, acc[r][j]);
        }
    }
    if (p < k) {
        vf x[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = vload_n(g->a + (i + (size_t)r) * g->lda + p, k - p);
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) {
            const vf b = vload_n(bt + (size_t)j * ldbt + p, k - p);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][j] = vfma(x[r], b, acc[r][j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        float *ci = g->c + (i + (size_t)r) * g->ldc;
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) ci[j] = finish(vhsum(acc[r][j]), g->alpha, g->beta, ci + j);
    }
}

INLINE void small_n_rows_body(const gemm_args *g, const float *bt, size_t ldbt, size_t i0,
                              size_t i1, const int n)
{
    const int R = IN_FLIGHT(n);
    size_t i = i0;
    for (; i + (size_t)R <= i1; i += (size_t)R) small_n_rows_block(g, bt, ldbt, i, n, R);
    for (; i < i1; i++) small_n_rows_block(g, bt, ldbt, i, n, 1);
}

/* n <= SKINNY, A transposed (A is [k x m]): nv vectors of rows of C at a
 * time, acc_j[rows] += A[p, rows] * bt[j, p]. */
INLINE void small_n_cols_block(const gemm_args *g, const float *bt, size_t ldbt, size_t i,
                               size_t rows, const int n, const int nv)
{
    const size_t k = g->k;
    vf acc[4][SKINNY];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) acc[v][j] = vzero();
    for (size_t p = 0; p < k; p++) {
        const float *ap = g->a + p * g->lda + i;
        vf x[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) x[v] = rows == (size_t)nv * VW ? vload(ap + v * VW) : vload_n(ap, rows);
#pragma GCC unroll 8
        for (int j = 0; j < n; j++) {
            const vf b = vset1(bt[(size_t)j * ldbt + p]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[v][j] = vfma(x[v], b, acc[v][j]);
        }
    }
    float t[VW];
    for (int v = 0; v < nv; v++)
        for (int j = 0; j < n; j++) {
            vstore(t, acc[v][j]);
            for (size_t r = 0; r < VW && (size_t)v * VW + r < rows; r++) {
                float *cp = g->c + (i + (size_t)v * VW + r) * g->ldc + (size_t)j;
                *cp = finish(t[r], g->alpha, g->beta, cp);
            }
        }
}

INLINE void small_n_cols_body(const gemm_args *g, const float *bt, size_t ldbt, size_t i0,
                              size_t i1, const int n)
{
    const int nv = IN_FLIGHT(n);
    size_t i = i0;
    for (; i + (size_t)nv * VW <= i1; i += (size_t)nv * VW)
        small_n_cols_block(g, bt, ldbt, i, (size_t)nv * VW, n, nv);
    for (; i < i1; i += VW) small_n_cols_block(g, bt, ldbt, i, min_sz(VW, i1 - i), n, 1);
}

static void small_n(const gemm_args *g, const float *bt, size_t ldbt, size_t i0, size_t i1)
{
#define CALL_ROWS(N) small_n_rows_body(g, bt, ldbt, i0, i1, N)
#define CALL_COLS(N) small_n_cols_body(g, bt, ldbt, i0, i1, N)
    if (g->ta == VAE_NO_TRANS) {
        SWITCH_COUNT(g->n, CALL_ROWS)
    } else {
        SWITCH_COUNT(g->n, CALL_COLS)
    }
#undef CALL_ROWS
#undef CALL_COLS
}

/* m <= SKINNY, B not transposed: nv vectors of columns of C at a time for
 * all m rows, acc_i += op(A)[i,p] * B[p, cols]; B is read once. */
INLINE void small_m_block(const gemm_args *g, size_t j, size_t cols, const int m, const int nv)
{
    const size_t k = g->k;
    vf acc[SKINNY][4];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[i][v] = vzero();
    for (size_t p = 0; p < k; p++) {
        const float *bp = g->b + p * g->ldb + j;
        vf x[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) x[v] = cols == (size_t)nv * VW ? vload(bp + v * VW) : vload_n(bp, cols);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            const vf a = vset1(op_at(g->a, g->lda, g->ta, (size_t)i, p));
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) acc[i][v] = vfma(a, x[v], acc[i][v]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *cp = g->c + (size_t)i * g->ldc + j + (size_t)v * VW;
            if (cols == (size_t)nv * VW)
                vstore(cp, scale_into(acc[i][v], g->alpha, g->beta, g->beta == 0.0f ? vzero() : vload(cp)));
            else
                vstore_n(cp, scale_into(acc[i][v], g->alpha, g->beta, vload_n(cp, cols)), cols);
        }
}

INLINE void small_m_body(const gemm_args *g, size_t j0, size_t j1, const int m)
{
    const int nv = IN_FLIGHT(m);
    size_t j = j0;
    for (; j + (size_t)nv * VW <= j1; j += (size_t)nv * VW) small_m_block(g, j, (size_t)nv * VW, m, nv);
    for (; j < j1; j += VW) small_m_block(g, j, min_sz(VW, j1 - j), m, 1);
}

static void small_m(const gemm_args *g, size_t j0, size_t j1)
{
#define CALL(M) small_m_body(g, j0, j1, M)
    SWITCH_COUNT(g->m, CALL)
#undef CALL
}

/* ------------------------------------------------------------------------ */
/* Entry point and threads                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    const gemm_args *g;
    const float *skinny_b; /* small_k: op(B) [k x n]; small_n: op(B)^T [n x k] */
    size_t ld_skinny;
    int split_rows;        /* blocked: 1 splits rows of C, 0 columns */
    gemm_shared sh;        /* blocked: the operand packed once, if any */
    pk_t *sh_buf;          /* its buffer while it is being packed */
} gemm_job;

/* Pack the shared operand: part `part` of the (k block, panel) pairs. */
static void pack_part(void *arg, int part, int nparts)
{
    const gemm_job *job = arg;
    const gemm_args *g = job->g;
    const size_t kb = k_block(g->k), nblocks = (g->k + kb - 1) / kb;
    const int rows = job->split_rows == 0; /* A is shared when C is split by columns */
    const size_t step = rows ? MR : NR, extent = rows ? g->m : g->n;
    const size_t panels = (extent + step - 1) / step;
    size_t b, e;
    vaei_split(nblocks * panels, 1, part, nparts, &b, &e);
    for (size_t t = b; t < e; t++) {
        const size_t pc = t / panels * kb, first = t % panels * step;
        const size_t kc = min_sz(kb, g->k - pc), count = min_sz(step, extent - first);
        if (rows)
            pack_a(g, first, count, pc, kc, job->sh_buf + KP(pc) * job->sh.a_width + first * KP(kc));
        else
            pack_b(g, first, count, pc, kc, job->sh_buf + KP(pc) * job->sh.b_width + first * KP(kc));
    }
}

static void gemm_part(void *arg, int part, int nparts)
{
    const gemm_job *job = arg;
    const gemm_args *g = job->g;
    size_t b, e;
    if (g->k <= SKINNY) {
        vaei_split(g->m, 1, part, nparts, &b, &e);
        small_k(g, job->skinny_b, job->ld_skinny, b, e);
    } else if (g->n <= SKINNY) {
        vaei_split(g->m, VW, part, nparts, &b, &e);
        small_n(g, job->skinny_b, job->ld_skinny, b, e);
    } else if (g->m <= SKINNY && g->tb == VAE_NO_TRANS) {
        vaei_split(g->n, VW, part, nparts, &b, &e);
        small_m(g, b, e);
    } else {
        pk_t *abuf = job->sh.a ? NULL : vaei_scratch(SCRATCH_A, abuf_floats() * sizeof(pk_t));
        pk_t *bbuf = job->sh.b ? NULL : vaei_scratch(SCRATCH_B, bbuf_floats() * sizeof(pk_t));
        if ((!job->sh.a && !abuf) || (!job->sh.b && !bbuf)) {
            /* No memory for packing: the reference still works. */
            vaei_split(g->m, 1, part, nparts, &b, &e);
            vaei_kernels_ref.sgemm(g->ta, g->tb, e - b, g->n, g->k, g->alpha,
                                   g->ta == VAE_NO_TRANS ? g->a + b * g->lda : g->a + b, g->lda,
                                   g->b, g->ldb, g->beta, g->c + b * g->ldc, g->ldc);
            return;
        }
#ifdef GEMM_AMX
        amx_configure(); /* this thread's tiles, for this part */
#endif
        if (job->split_rows) {
            vaei_split(g->m, MR, part, nparts, &b, &e);
            gemm_blocked(g, b, e, 0, g->n, abuf, bbuf, &job->sh);
        } else {
            vaei_split(g->n, NR, part, nparts, &b, &e);
            gemm_blocked(g, 0, g->m, b, e, abuf, bbuf, &job->sh);
        }
#ifdef GEMM_AMX
        _tile_release(); /* back to the initial state: nothing for the OS to save */
#endif
    }
}

/* small_k reads op(B) as rows [k x n], small_n reads op(B)^T [n x k]: B
 * serves as it lies in one of the two layouts and is transposed into the
 * calling thread's scratch in the other. The scratch grows to the largest
 * such copy and is kept, so that a step of a size seen before allocates
 * nothing. 0: out of memory. */
static int skinny_operand(gemm_job *job)
{
    const gemm_args *g = job->g;
    const int small_k_layout = g->k <= SKINNY;
    if (small_k_layout == (g->tb == VAE_NO_TRANS)) {
        job->skinny_b = g->b;
        job->ld_skinny = g->ldb;
        return 1;
    }
    const size_t rows = small_k_layout ? g->k : g->n, cols = small_k_layout ? g->n : g->k;
    float *t = vaei_scratch(SCRATCH_SKINNY_B, rows * cols * sizeof *t);
    if (!t) return 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t q = 0; q < cols; q++) t[r * cols + q] = g->b[q * g->ldb + r];
    job->skinny_b = t;
    job->ld_skinny = cols;
    return 1;
}

/* Threads for m n k FMAs: no more than the work can use. */
static int gemm_threads(size_t m, size_t n, size_t k)
{
    int nt = vaei_threads();
    const double fma = (double)m * (double)n * (double)k;
    if (fma < (double)MIN_FMA_PER_THREAD * nt) nt = (int)(fma / MIN_FMA_PER_THREAD);
    return nt < 1 ? 1 : nt;
}

/* With threads, the operand that every thread would otherwise pack for
 * itself is packed once, by all of them, when it fits one block; C is then
 * cut into OVERSPLIT parts per thread, taken as threads come free, which
 * evens out a thread that the OS holds back. Returns the parts of C. */
static int share_operand(gemm_job *job, int nt)
{
    enum { OVERSPLIT = 4 };
    const gemm_args *g = job->g;
    const size_t m = g->m, n = g->n;
    const size_t a_width = (m + MR - 1) / MR * MR, b_width = n / NR * NR + (n % NR + VW - 1) / VW * VW;
    /* Not B of a product with few columns: each thread then packs each k
     * block of it as it goes, into L1, and that beat reading a shared
     * copy half made by the other core (a conv's dW, 512 x 64 over
     * k = 6272: 1.31 ms against 2.04 ms at 2 threads). */
    const int share_a = !job->split_rows && m <= 2 * MC;
    const int share_b = job->split_rows && n <= NC && n > DIRECT_N;
    if (nt == 1 || !(share_a || share_b)) return nt;
    const size_t words = (share_a ? a_width : b_width) * KP(g->k);
    pk_t *buf = vaei_scratch(SCRATCH_SHARED, words * sizeof(pk_t));
    if (!buf) return nt;
    job->sh_buf = buf;
    if (share_a) job->sh.a_width = a_width;
    if (share_b) job->sh.b_width = b_width;
    vaei_parallel(nt, pack_part, job);
    if (share_a) job->sh.a = buf;
    if (share_b) job->sh.b = buf;
    return nt * OVERSPLIT;
}

static void GEMM_SUFFIX(sgemm)(vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                               size_t k, float alpha, const float *a, size_t lda,
                               const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == 0.0f) { /* C = beta C: the reference does exactly that */
        vaei_kernels_ref.sgemm(ta, tb, m, n, 0, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#ifdef GEMM_BF16
    /* The skinny products (the latent layers) stay float32. */
    if (k <= SKINNY || n <= SKINNY || m <= SKINNY) {
        vaei_kernels_avx512.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    const gemm_args g = {ta, tb, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c};
    /* Split C along its longer side: each thread packs all of the other
     * operand, so that one should be the smaller. */
    gemm_job job = {&g, NULL, 0, m >= n, {NULL, NULL, 0, 0}, NULL};
    const int nt = gemm_threads(m, n, k);
    if (k <= SKINNY || n <= SKINNY || (m <= SKINNY && tb == VAE_NO_TRANS)) {
        if ((k <= SKINNY || n <= SKINNY) && !skinny_operand(&job)) {
            vaei_kernels_ref.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        const size_t units = k <= SKINNY ? m : n <= SKINNY ? (m + VW - 1) / VW : (n + VW - 1) / VW;
        vaei_parallel((size_t)nt > units ? (int)units : nt, gemm_part, &job);
        return;
    }
    int parts = share_operand(&job, nt);
    const size_t units = job.split_rows ? (m + MR - 1) / MR : (n + NR - 1) / NR;
    if ((size_t)parts > units) parts = (int)units;
    vaei_parallel(parts, gemm_part, &job);
}
