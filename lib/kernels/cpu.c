/*
 * What the CPU and the operating system let the SIMD levels use. A CPUID
 * bit alone is not enough: the OS must also save the wider registers on a
 * context switch, which XCR0 (read with XGETBV) tells. AMX also needs
 * Linux's per-process permission (vaei_amx_permitted).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall() */
#endif
#include <pthread.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

unsigned vaei_cpu_features(void)
{
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const uint64_t xcr0 = xgetbv0();
    const int ymm_state = (xcr0 & 0x6) == 0x6;          /* SSE and AVX state */
    const int zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    const int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (ymm_state && avx2 && fma) f |= VAEI_CPU_AVX2;
    if (zmm_state && avx512 && avx2 && fma) f |= VAEI_CPU_AVX512;
    /* AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16) is CPUID.(7,1):EAX bit 5;
     * Zen 4, Zen 5, Cooper Lake and Sapphire Rapids have it. */
    __cpuid_count(7, 0, a, b, c, d);
    if ((f & VAEI_CPU_AVX512) && a >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if ((a >> 5) & 1) f |= VAEI_CPU_AVX512_BF16;
    }
    /* AMX-TILE and AMX-BF16 are CPUID.(7,0):EDX bits 24 and 22; the OS
     * saves the tile configuration and data when XCR0 bits 17 (XTILECFG)
     * and 18 (XTILEDATA) are set. Only with AVX512_BF16: the AMX level's
     * packers are the vdpbf16ps level's (every AMX CPU has both). */
    __cpuid_count(7, 0, a, b, c, d);
    const int amx = ((d >> 24) & 1) && ((d >> 22) & 1), tile_state = (xcr0 & 0x60000) == 0x60000;
    if ((f & VAEI_CPU_AVX512_BF16) && amx && tile_state) f |= VAEI_CPU_AMX_BF16;
    return f;
}

/* Linux (5.16 on) hands out the tile data state only to a process that
 * asks for it, once, with arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
 * an AMX instruction without it raises SIGILL. The request fails on an
 * older kernel (EINVAL), when the kernel turned AMX off, and when some
 * thread's sigaltstack is too small for the larger signal frame (ENOSPC):
 * then no AMX. The permission holds for every thread, and for children
 * of fork(). */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_ok;

static void amx_request(void)
{
#if defined(__linux__) && defined(__x86_64__)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    amx_ok = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

int vaei_amx_permitted(void)
{
    if (!(vaei_cpu_features() & VAEI_CPU_AMX_BF16)) return 0;
    pthread_once(&amx_once, amx_request);
    return amx_ok;
}
#elif defined(__aarch64__)
unsigned vaei_cpu_features(void)
{
    return VAEI_CPU_NEON; /* Advanced SIMD is part of every AArch64 CPU */
}

int vaei_amx_permitted(void)
{
    return 0;
}
#else
unsigned vaei_cpu_features(void)
{
    return 0;
}

int vaei_amx_permitted(void)
{
    return 0;
}
#endif
