/*
 * How fast can two threads stream Adam's arrays? One pass reads p, g, m, v
 * and writes p, m, v (631,188 floats each, the lesson's model: 17.7 MB),
 * split in halves between two threads, as libvae's update does. With
 * `arith 0` the update is only multiplies and adds, so the figure is the
 * memory system's floor for that traffic; `arith 1` adds Adam's sqrt and
 * division. `evict 1` writes 32 MB of other memory between passes (a
 * training step's products do), `evict 0` runs the passes back to back.
 *
 *   gcc -O2 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -pthread \
 *       tools/dev/adam-stream.c -o /tmp/adam-stream
 *   gcc -O2 -mavx2 -mfma -pthread tools/dev/adam-stream.c -o /tmp/adam-stream  # no AVX-512
 *   /tmp/adam-stream EVICT ARITH
 *
 * A development tool (x86-64 with AVX2 or AVX-512), not part of the library.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 631188, PASSES = 400 };
static const size_t JUNK = (size_t)32 << 20;

static float *p, *g, *m, *v;
static char *junk;
static int evict, arith;
static double seconds;
static pthread_barrier_t bar;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* libvae's vector vocabulary (vload, vadd, ...): AVX-512 where the compiler
 * targets it, else AVX2. */
#ifdef __AVX512F__
#include "../../lib/kernels/vec_avx512.h"
#else
#include "../../lib/kernels/vec_avx2.h"
#endif

static void pass(int half)
{
    const size_t b = half ? N / 2 : 0, e = half ? N : N / 2;
    const vf b1 = vset1(0.9f), c1 = vset1(0.1f), b2 = vset1(0.999f), c2 = vset1(0.001f);
    const vf lr = vset1(1e-3f), eps = vset1(1e-8f);
    for (size_t i = b; i + VW <= e; i += VW) {
        const vf gi = vload(g + i);
        const vf mi = vadd(vmul(b1, vload(m + i)), vmul(c1, gi));
        const vf vi = vadd(vmul(b2, vload(v + i)), vmul(vmul(c2, gi), gi));
        const vf q = arith ? vdiv(mi, vadd(vsqrt(vi), eps)) : vmul(mi, vi);
        vstore(p + i, vsub(vload(p + i), vmul(lr, q)));
        vstore(m + i, mi);
        vstore(v + i, vi);
    }
}

static void *run(void *arg)
{
    const int half = (int)(long)arg;
    for (int r = 0; r < PASSES; r++) {
        if (evict) memset(junk + (half ? JUNK / 2 : 0), r, JUNK / 2);
        pthread_barrier_wait(&bar);
        const double t0 = now();
        pass(half);
        pthread_barrier_wait(&bar);
        if (half == 0) seconds += now() - t0;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s EVICT(0|1) ARITH(0|1)\n", argv[0]);
        return 2;
    }
    evict = atoi(argv[1]);
    arith = atoi(argv[2]);
    const size_t bytes = (N + 16) * sizeof(float);
    p = aligned_alloc(64, bytes);
    g = aligned_alloc(64, bytes);
    m = aligned_alloc(64, bytes);
    v = aligned_alloc(64, bytes);
    junk = aligned_alloc(64, JUNK);
    if (!p || !g || !m || !v || !junk) return 1;
    for (size_t i = 0; i < N; i++) {
        p[i] = 1.0f;
        g[i] = 1e-3f;
        m[i] = 0.0f;
        v[i] = 1e-6f;
    }
    memset(junk, 1, JUNK);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    if (pthread_create(&t, NULL, run, (void *)1L) != 0) return 1;
    run((void *)0L);
    pthread_join(t, NULL);
    const double us = seconds / PASSES * 1e6, moved = 7.0 * N * sizeof(float);
    printf("evict %d arith %d: %.1f us per pass, %.1f GB/s (%.1f MB moved)\n", evict, arith, us,
           moved / (us * 1e-6) / 1e9, moved / 1e6);
    return 0;
}
