/*
 * Choosing the kernel table. The levels this build and CPU can run are
 * found once (pthread_once). "auto" is the fastest of them on this
 * machine, measured at the first product that needs it (calibrate()),
 * because no rule from one CPU holds on the next: on a Zen 4, AVX2 and
 * AVX-512 run at one rate, on a Zen 5 AVX-512 is 1.6x faster, and a BLAS
 * may be pinned to old kernels (OPENBLAS_CORETYPE). VAE_BACKEND or
 * vae_backend_select() name a level instead, and the host may plug in its
 * own sgemm.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../error.h"
#include "kernels.h"
#include "threadpool.h"

/* In order of preference, which breaks near-ties in calibrate(): libvae's
 * own levels first, whose results do not depend on the thread count nor a
 * row's on the batch (test_kernels.c), then the BLAS, then the portable
 * reference, which is never measured when another level is there. */
static const vaei_kernels *const candidates[] = {
#ifdef VAE_HAVE_AVX512
    &vaei_kernels_avx512,
#endif
#ifdef VAE_HAVE_AVX2
    &vaei_kernels_avx2,
#endif
#ifdef VAE_HAVE_NEON
    &vaei_kernels_neon,
#endif
#ifdef VAE_HAVE_BLAS
    &vaei_kernels_blas,
#endif
    &vaei_kernels_ref,
};
enum { NCANDIDATES = sizeof candidates / sizeof candidates[0] };

/* The candidates this CPU can run, filled by init(). */
static const vaei_kernels *levels[NCANDIDATES];
static size_t nlevels;
#ifdef VAE_HAVE_BLAS
static vaei_kernels blas_level; /* the BLAS GEMM with the best element-wise table */
#endif

/* The BLAS level in levels[] (the copy with the SIMD element-wise table),
 * or NULL when the build has none. */
static const vaei_kernels *blas_kernels(void)
{
#ifdef VAE_HAVE_BLAS
    return &blas_level;
#else
    return NULL;
#endif
}

static int usable(const vaei_kernels *k, unsigned cpu)
{
    (void)cpu;
#ifdef VAE_HAVE_AVX2
    if (k == &vaei_kernels_avx2) return (cpu & VAEI_CPU_AVX2) != 0;
#endif
#ifdef VAE_HAVE_AVX512
    if (k == &vaei_kernels_avx512) return (cpu & VAEI_CPU_AVX512) != 0;
#endif
#ifdef VAE_HAVE_NEON
    if (k == &vaei_kernels_neon) return (cpu & VAEI_CPU_NEON) != 0;
#endif
    return 1;
}

static pthread_once_t once = PTHREAD_ONCE_INIT, measured = PTHREAD_ONCE_INIT;
static const vaei_kernels *active;  /* NULL until a level is chosen or first needed */
static const vaei_kernels *fastest; /* auto's choice, after measure() */
static int threads = 1; /* online CPUs after init(): what the BLAS pools use by default */

/* The host's sgemm: fn and user change together under custom_lock, so a
 * GEMM never pairs one's function with the other's argument. custom_on lets
 * the built-in backends skip the lock. */
static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;
static int custom_on;
static struct {
    vae_sgemm_fn fn;
    void *user;
} custom;

static const vaei_kernels *named(const char *name)
{
    for (size_t i = 0; i < nlevels; i++)
        if (strcmp(levels[i]->name, name) == 0) return levels[i];
    return NULL;
}

static void init(void)
{
    const unsigned cpu = vaei_cpu_features();
    for (size_t i = 0; i < NCANDIDATES; i++)
        if (usable(candidates[i], cpu)) levels[nlevels++] = candidates[i];
#ifdef VAE_HAVE_BLAS
    /* The BLAS does the products; the element-wise passes take the
     * preferred table, the first level's (a SIMD one, or the reference). */
    for (size_t i = 0; i < nlevels; i++)
        if (levels[i] == &vaei_kernels_blas) {
            blas_level = vaei_kernels_blas;
            blas_level.vec = levels[0]->vec;
            levels[i] = &blas_level;
        }
#endif
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    __atomic_store_n(&threads, ncpu >= 1 && ncpu <= 1024 ? (int)ncpu : 1, __ATOMIC_RELAXED);
    const char *env = getenv("VAE_BACKEND");
    if (!env || !*env || strcmp(env, "auto") == 0) return;
    const vaei_kernels *k = named(env);
    if (!k) {
        vaei_log(VAE_LOG_WARN, "VAE_BACKEND=%s is not available here; measuring the levels instead",
                 env);
        return;
    }
    vaei_log(VAE_LOG_INFO, "backend %s, forced by VAE_BACKEND", k->name);
    __atomic_store_n(&active, k, __ATOMIC_RELEASE);
}

/* ---- auto: the fastest level, measured ------------------------------------ */

/* A level within this fraction of the fastest counts as fast as it, and
 * the most preferred of those is chosen: two levels at one rate never toss
 * a coin between runs, and a level must be clearly faster to win. */
#define MARGIN 0.10
enum { ROUNDS = 3 }; /* the first round warms caches, pages and thread pools */

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The three large products of a training step of the lesson's model
 * (batch 128, 784-400): forward NN, weight gradient TN, input gradient NT;
 * 241 MFLOP in all, a few milliseconds at the rates of these levels. */
static void lesson_products(const vaei_kernels *k, const float *a, const float *b, float *c)
{
    k->sgemm(VAE_NO_TRANS, VAE_NO_TRANS, 128, 400, 784, 1.0f, a, 784, b, 400, 0.0f, c, 400);
    k->sgemm(VAE_TRANS, VAE_NO_TRANS, 400, 784, 128, 1.0f, a, 400, b, 784, 0.0f, c, 784);
    k->sgemm(VAE_NO_TRANS, VAE_TRANS, 128, 400, 784, 1.0f, a, 784, b, 784, 0.0f, c, 400);
}

/* Set while this thread measures the levels: vaei_threads() is then 1. */
static _Thread_local int calibrating;

/* Seconds of the calling thread's CPU time; wall seconds if there is none. */
static double thread_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return seconds_now();
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Time each level but the reference on the lesson's products, the rounds
 * interleaved so that a passing load weighs on all levels alike, and keep
 * each level's best round (other work only ever slows a run).
 *
 * Where every level can run on one thread (a BLAS without thread control
 * cannot), they are timed on one, by this thread's CPU time, so that no
 * other thread can tilt the result: OpenBLAS's threads spin for a while
 * after it starts and after each call, and at two threads on two cores
 * they took half a core from the levels timed beside them (AVX-512 1.55 ms
 * there against 0.92 ms alone), and auto chose the BLAS, 1.4x slower. */
static const vaei_kernels *calibrate(void)
{
    size_t n = 0;
    const vaei_kernels *k[NCANDIDATES];
    for (size_t i = 0; i < nlevels; i++)
        if (levels[i] != &vaei_kernels_ref) k[n++] = levels[i];
    if (n <= 1) return n ? k[0] : levels[0];

    float *a = malloc(128 * 784 * sizeof *a), *b = malloc(784 * 400 * sizeof *b);
    float *c = malloc(400 * 784 * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        vaei_log(VAE_LOG_INFO, "backend %s: no memory to measure the levels", k[0]->name);
        return k[0];
    }
    uint32_t s = 1;
    for (size_t i = 0; i < 784 * 400; i++) { /* values in [-0.5, 0.5): no denormals */
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) * 0x1p-24f - 0.5f;
        if (i < 128 * 784) a[i] = b[i] * 0.5f;
    }
    int single = 1;
    for (size_t i = 0; i < n; i++)
        if (k[i] == blas_kernels() && !k[i]->set_threads) single = 0;
    const int nt = single ? 1 : __atomic_load_n(&threads, __ATOMIC_RELAXED);
    double (*clock_fn)(void) = single ? thread_seconds : seconds_now;
    double best[NCANDIDATES];
    for (size_t i = 0; i < n; i++) {
        best[i] = 1e30;
        if (k[i]->set_threads) k[i]->set_threads(nt);
    }
    calibrating = single;
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < n; i++) {
            const double t0 = clock_fn();
            lesson_products(k[i], a, b, c);
            const double t = clock_fn() - t0;
            if (r > 0 && t < best[i]) best[i] = t;
        }
    calibrating = 0;
    for (size_t i = 0; i < n; i++)
        if (k[i]->set_threads) k[i]->set_threads(__atomic_load_n(&threads, __ATOMIC_RELAXED));
    free(a);
    free(b);
    free(c);

    size_t won = 0, top = 0;
    for (size_t i = 1; i < n; i++)
        if (best[i] < best[top]) top = i;
    while (best[won] > best[top] * (1.0 + MARGIN)) won++; /* k[] is in order of preference */
    char line[256];
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof line; i++) {
        const int w = snprintf(line + used, sizeof line - used, "%s%s %.2f ms", i ? ", " : "",
                               k[i]->name, 1e3 * best[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    vaei_log(VAE_LOG_INFO,
             "backend %s, measured on the lesson's products at %d thread%s (%s; within %.0f%% "
             "of the fastest, the first in order of preference wins)",
             k[won]->name, nt, nt == 1 ? "" : "s", line, 100 * MARGIN);
    return k[won];
}

static void measure(void)
{
    fastest = calibrate();
}

static const vaei_kernels *auto_level(void)
{
    pthread_once(&once, init);
    pthread_once(&measured, measure);
    return fastest;
}

const vaei_kernels *vaei_kernels_active(void)
{
    pthread_once(&once, init);
    const vaei_kernels *k = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (k) return k;
    /* First use with nothing chosen: auto, unless a vae_backend_select()
     * got there first. */
    const vaei_kernels *expected = NULL, *chosen = auto_level();
    if (chosen->set_threads) chosen->set_threads(__atomic_load_n(&threads, __ATOMIC_RELAXED));
    __atomic_compare_exchange_n(&active, &expected, chosen, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    return __atomic_load_n(&active, __ATOMIC_ACQUIRE);
}

const vaei_vecops *vaei_vec(void)
{
    return vaei_kernels_active()->vec;
}

size_t vae_backend_count(void)
{
    pthread_once(&once, init);
    return nlevels;
}

const char *vae_backend_name(size_t i)
{
    pthread_once(&once, init);
    return i < nlevels ? levels[i]->name : NULL;
}

const char *vae_backend_active(void)
{
    const vaei_kernels *k = vaei_kernels_active();
    return __atomic_load_n(&custom_on, __ATOMIC_ACQUIRE) ? "custom" : k->name;
}

vae_status vae_backend_select(const char *name)
{
    VAEI_CHECK_ARG(name != NULL);
    pthread_once(&once, init);
    const vaei_kernels *k = strcmp(name, "auto") == 0 ? auto_level() : named(name);
    VAEI_CHECK(k != NULL, VAE_ERR_UNAVAILABLE, "backend \"%s\" is not available in this build or on this CPU", name);
    if (k->set_threads) k->set_threads(threads);
    __atomic_store_n(&active, k, __ATOMIC_RELEASE);
    return VAE_OK;
}

void vae_set_sgemm(vae_sgemm_fn fn, void *user)
{
    pthread_mutex_lock(&custom_lock);
    custom.fn = fn;
    custom.user = user;
    __atomic_store_n(&custom_on, fn != NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&custom_lock);
}

vae_status vae_set_threads(int n)
{
    VAEI_CHECK(n >= 1 && n <= 1024, VAE_ERR_INVALID_ARGUMENT, "thread count %d is not in [1, 1024]", n);
    pthread_once(&once, init);
    __atomic_store_n(&threads, n, __ATOMIC_RELAXED);
    for (size_t i = 0; i < nlevels; i++)
        if (levels[i]->set_threads) levels[i]->set_threads(n);
    return VAE_OK;
}

int vaei_threads(void)
{
    return calibrating || vaei_in_part() ? 1 : vae_get_threads();
}

int vae_get_threads(void)
{
    pthread_once(&once, init);
    return __atomic_load_n(&threads, __ATOMIC_RELAXED);
}

vae_status vaei_gemm(vae_transpose ta, vae_transpose tb, size_t m, size_t n, size_t k,
                     float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                     float beta, float *c, size_t ldc)
{
    const vaei_kernels *kern = vaei_kernels_active();
    vae_sgemm_fn fn = NULL;
    void *user = NULL;
    if (__atomic_load_n(&custom_on, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&custom_lock);
        fn = custom.fn;
        user = custom.user;
        pthread_mutex_unlock(&custom_lock);
    }
    if (fn) {
        if (fn(user, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) != 0)
            return vaei_fail(VAE_ERR_CALLBACK, "the host's sgemm callback failed (%zux%zux%zu)", m, n, k);
        return VAE_OK;
    }
    kern->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return VAE_OK;
}

int vaei_gemm_in_parts(void)
{
    return !__atomic_load_n(&custom_on, __ATOMIC_ACQUIRE) &&
           vaei_kernels_active() != blas_kernels();
}

/* ---- bfloat16 products ----------------------------------------------------- */

/* The paths, best first: AMX tiles where the CPU and the OS allow them
 * (on a Sapphire Rapids, vdpbf16ps runs at the float32 FMA's rate, no
 * faster), else vdpbf16ps (1.6x the float32 level on Zen 4 and Zen 5). */
typedef struct {
    const char *name;
    vaei_sgemm_kernel fn;
    unsigned cpu; /* the CPU features it needs (VAEI_CPU_*) */
} bf16_path;

enum { BF16_CPU = VAEI_CPU_AVX512 | VAEI_CPU_AVX512_BF16 };

static const bf16_path bf16_paths[] = {
#ifdef VAE_HAVE_AMX
    {"amx", vaei_sgemm_amx, BF16_CPU | VAEI_CPU_AMX_BF16},
#endif
#ifdef VAE_HAVE_AVX512BF16
    {"avx512bf16", vaei_sgemm_avx512bf16, BF16_CPU},
#endif
    {NULL, NULL, 0},
};

static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static const bf16_path *bf16_usable[sizeof bf16_paths / sizeof bf16_paths[0]];
static const bf16_path *bf16_active; /* NULL: none */

/* Whether a path the CPU has may run: AMX also needs Linux's permission,
 * asked only here, when AMX is to be chosen, since the permission is the
 * whole process's and grows every thread's signal frames (vae.h); so
 * VAE_BF16=avx512bf16 never asks it. */
static int bf16_runs(const bf16_path *p)
{
    return !(p->cpu & VAEI_CPU_AMX_BF16) || vaei_amx_permitted();
}

/* The first usable path that `name` names ("auto": any) and that runs. */
static const bf16_path *bf16_named(const char *name)
{
    const int any = strcmp(name, "auto") == 0;
    for (size_t i = 0; bf16_usable[i]; i++)
        if ((any || strcmp(bf16_usable[i]->name, name) == 0) && bf16_runs(bf16_usable[i]))
            return bf16_usable[i];
    return NULL;
}

static void bf16_init(void)
{
    const unsigned cpu = vaei_cpu_features();
    size_t n = 0;
    for (size_t i = 0; bf16_paths[i].name; i++)
        if ((cpu & bf16_paths[i].cpu) == bf16_paths[i].cpu) bf16_usable[n++] = &bf16_paths[i];
    const char *env = getenv("VAE_BF16");
    const bf16_path *p = NULL;
    if (env && *env && strcmp(env, "auto") != 0) {
        p = bf16_named(env);
        if (p) {
            vaei_log(VAE_LOG_INFO, "bfloat16 products on %s, forced by VAE_BF16", p->name);
        } else {
            p = bf16_named("auto");
            vaei_log(VAE_LOG_WARN, "VAE_BF16=%s is not available here; bfloat16 products on %s",
                     env, p ? p->name : "none");
        }
    } else {
        p = bf16_named("auto");
    }
    __atomic_store_n(&bf16_active, p, __ATOMIC_RELEASE);
}

vaei_sgemm_kernel vaei_bf16_sgemm(void)
{
    pthread_once(&bf16_once, bf16_init);
    const bf16_path *p = __atomic_load_n(&bf16_active, __ATOMIC_ACQUIRE);
    return p ? p->fn : NULL;
}

const char *vaei_bf16_path(void)
{
    pthread_once(&bf16_once, bf16_init);
    const bf16_path *p = __atomic_load_n(&bf16_active, __ATOMIC_ACQUIRE);
    return p ? p->name : NULL;
}

vae_status vaei_bf16_select(const char *name)
{
    VAEI_CHECK_ARG(name != NULL);
    pthread_once(&bf16_once, bf16_init);
    const bf16_path *p = bf16_named(name);
    VAEI_CHECK(p != NULL, VAE_ERR_UNAVAILABLE,
               "bfloat16 path \"%s\" is not available in this build or on this CPU", name);
    __atomic_store_n(&bf16_active, p, __ATOMIC_RELEASE);
    return VAE_OK;
}

int vaei_bf16_sgemm_built(void)
{
#ifdef VAE_HAVE_AVX512BF16
    return 1;
#else
    return 0;
#endif
}

vae_status vaei_gemm_prec(int precision, vae_transpose ta, vae_transpose tb, size_t m, size_t n,
                          size_t k, float alpha, const float *a, size_t lda, const float *b,
                          size_t ldb, float beta, float *c, size_t ldc)
{
    const vaei_sgemm_kernel bf16 = precision == VAE_PRECISION_BF16 ? vaei_bf16_sgemm() : NULL;
    if (!bf16 || __atomic_load_n(&custom_on, __ATOMIC_ACQUIRE))
        return vaei_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    /* The thread count of the SIMD levels (vae_set_threads) holds here too. */
    bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return VAE_OK;
}
