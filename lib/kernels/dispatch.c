/*
 * Choosing the kernel table: once, at first use (pthread_once), the best
 * level this build and CPU offer, unless VAE_BACKEND names one. The host
 * may then select another by name or plug in its own sgemm.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../error.h"
#include "kernels.h"

/* Best first: "auto" takes the first usable entry. The SIMD levels follow
 * the BLAS; between them AVX2 goes before AVX-512 because on the Zen 4
 * cores we measured AVX-512 runs at the same FMA rate and was not faster
 * (docs/performance.md); select "avx512" by name to use it. */
static const vaei_kernels *const candidates[] = {
#ifdef VAE_HAVE_BLAS
    &vaei_kernels_blas,
#endif
#ifdef VAE_HAVE_AVX2
    &vaei_kernels_avx2,
#endif
#ifdef VAE_HAVE_AVX512
    &vaei_kernels_avx512,
#endif
#ifdef VAE_HAVE_NEON
    &vaei_kernels_neon,
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

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const vaei_kernels *active;
static int threads = 1; /* online CPUs after init(): what the BLAS pools use by default */

static struct {
    vae_sgemm_fn fn;
    void *user;
} custom;

static const vaei_kernels *find(const char *name)
{
    if (strcmp(name, "auto") == 0) return levels[0];
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
    /* levels[0] is the BLAS, levels[1] the best SIMD level or the reference. */
    blas_level = vaei_kernels_blas;
    blas_level.vec = levels[1]->vec;
    levels[0] = &blas_level;
#endif
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    __atomic_store_n(&threads, ncpu >= 1 && ncpu <= 1024 ? (int)ncpu : 1, __ATOMIC_RELAXED);
    const char *env = getenv("VAE_BACKEND");
    const vaei_kernels *k = env && *env ? find(env) : NULL;
    if (env && *env && !k)
        vaei_log(VAE_LOG_WARN, "VAE_BACKEND=%s is not available here; using %s", env,
                 levels[0]->name);
    __atomic_store_n(&active, k ? k : levels[0], __ATOMIC_RELEASE);
}

const vaei_kernels *vaei_kernels_active(void)
{
    pthread_once(&once, init);
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
    return __atomic_load_n(&custom.fn, __ATOMIC_ACQUIRE) ? "custom" : k->name;
}

vae_status vae_backend_select(const char *name)
{
    VAEI_CHECK_ARG(name != NULL);
    pthread_once(&once, init);
    const vaei_kernels *k = find(name);
    VAEI_CHECK(k != NULL, VAE_ERR_UNAVAILABLE, "backend \"%s\" is not available in this build or on this CPU", name);
    if (k->set_threads) k->set_threads(threads);
    __atomic_store_n(&active, k, __ATOMIC_RELEASE);
    return VAE_OK;
}

void vae_set_sgemm(vae_sgemm_fn fn, void *user)
{
    __atomic_store_n(&custom.user, user, __ATOMIC_RELAXED);
    __atomic_store_n(&custom.fn, fn, __ATOMIC_RELEASE);
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
    return vae_get_threads();
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
    const vae_sgemm_fn fn = __atomic_load_n(&custom.fn, __ATOMIC_ACQUIRE);
    if (fn) {
        void *user = __atomic_load_n(&custom.user, __ATOMIC_RELAXED);
        if (fn(user, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) != 0)
            return vaei_fail(VAE_ERR_CALLBACK, "the host's sgemm callback failed (%zux%zux%zu)", m, n, k);
        return VAE_OK;
    }
    kern->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return VAE_OK;
}
