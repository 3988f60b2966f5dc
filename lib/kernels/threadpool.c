/*
 * The worker pool behind vaei_parallel. Workers poll briefly after a job
 * before they sleep, because a training step issues a dozen short jobs
 * (about a millisecond each) in a row and a futex wake-up per job would cost
 * a visible share of the step. Polling yields the CPU (sched_yield) after
 * the first few rounds: another runnable thread on that core, such as a
 * BLAS library's worker in the middle of a GEMM, must not wait for our
 * poll to time out.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

enum {
    SPIN_NS = 200000, /* how long an idle thread polls before it sleeps */
    PAUSES = 64,      /* polls with a pause instruction before polls yield */
};

/* One round of polling number i. */
static void poll_wait(unsigned i)
{
    if (i < PAUSES)
        CPU_RELAX();
    else
        sched_yield();
}

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;   /* guards the fields below */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static pthread_t *workers;
static int nworkers, stopping;

/* The current job; generation counts jobs so that a worker sees each once.
 * Only workers numbered below `workers` take part: a job may have more parts
 * than threads (the GEMM's parts are taken as threads come free), and the
 * pool may hold more workers than the thread setting now allows. */
static struct {
    vaei_task_fn fn;
    void *ctx;
    int nparts, workers;
} job;
static unsigned long generation;
/* The next part to take, tagged with the job's generation in the high 32
 * bits, so that a worker late for an old job can never take a part of the
 * next one. */
static uint64_t ticket;
static int pending; /* parts not finished yet */
static int sleeping_caller;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Set while this thread runs a part of a job (vaei_in_part). */
static _Thread_local int in_part;

int vaei_in_part(void)
{
    return in_part;
}

/* Take parts of job `gen` until none is left. */
static void run_parts(uint32_t gen, vaei_task_fn fn, void *ctx, int nparts)
{
    uint64_t t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((uint32_t)(t >> 32) != gen || (t & 0xffffffffu) >= (uint64_t)nparts) return;
        if (!__atomic_compare_exchange_n(&ticket, &t, t + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        in_part = 1;
        fn(ctx, (int)(t & 0xffffffffu), nparts);
        in_part = 0;
        t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
        if (__atomic_sub_fetch(&pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&mu);
            if (sleeping_caller) pthread_cond_signal(&done);
            pthread_mutex_unlock(&mu);
        }
    }
}

/* Per-thread scratch (vaei_scratch), freed by the key's destructor when a
 * thread exits. A worker's is made by the thread that starts the worker
 * and grown by vaei_parallel's caller while no job runs (grow_workers), so
 * that a worker never allocates: which worker runs which part changes from
 * job to job, and one that had not run a part before would otherwise
 * allocate in some later step. */
enum { SLOTS = VAEI_SCRATCH_POOLED + 1 };
typedef struct {
    void *p[SLOTS];
    size_t size[SLOTS];
} scratch_t;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static scratch_t **worker_scratch;                /* [nworkers], each a worker's own */
static size_t pooled_size[VAEI_SCRATCH_POOLED];   /* the most any thread asked */

static void scratch_free(void *arg)
{
    scratch_t *s = arg;
    for (int i = 0; i < SLOTS; i++) free(s->p[i]);
    free(s);
}

static void scratch_init(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

/* Slot `slot` of s at least `bytes` long; NULL when out of memory. */
static void *scratch_grow(scratch_t *s, int slot, size_t bytes)
{
    if (s->size[slot] < bytes) {
        free(s->p[slot]);
        s->size[slot] = 0;
        bytes = (bytes + 63) & ~(size_t)63;
        s->p[slot] = aligned_alloc(64, bytes);
        if (!s->p[slot]) return NULL;
        s->size[slot] = bytes;
    }
    return s->p[slot];
}

void *vaei_scratch(int slot, size_t bytes)
{
    pthread_once(&scratch_once, scratch_init);
    scratch_t *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (slot < VAEI_SCRATCH_POOLED && in_part) { /* a worker only ever asks in a part */
        size_t seen = __atomic_load_n(&pooled_size[slot], __ATOMIC_RELAXED);
        while (seen < bytes && !__atomic_compare_exchange_n(&pooled_size[slot], &seen, bytes, 0,
                                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
    }
    return scratch_grow(s, slot, bytes);
}

/* The pooled slots of workers [0, n) grown to what any thread has asked;
 * called by vaei_parallel's caller between jobs, when no worker touches its
 * own. Out of memory: a slot is left empty, and vaei_scratch says so when
 * asked. */
static void grow_workers(int n)
{
    for (int w = 0; w < n; w++)
        for (int slot = 0; slot < VAEI_SCRATCH_POOLED; slot++)
            (void)scratch_grow(worker_scratch[w], slot,
                               __atomic_load_n(&pooled_size[slot], __ATOMIC_RELAXED));
}

/* arg: the worker's number; its scratch is made by ensure_workers, which
 * holds mu until the worker is registered. */
static void *worker_main(void *arg)
{
    const int self = (int)(intptr_t)arg;
    pthread_mutex_lock(&mu);
    (void)pthread_setspecific(scratch_key, worker_scratch[self]);
    pthread_mutex_unlock(&mu);
    unsigned long seen = 0;
    for (;;) {
        /* Poll for a new generation, then sleep on the condition. The idle
         * time counts from the end of the last job, not from when this
         * worker saw it: a worker that came late to a job whose parts the
         * caller had all taken would otherwise sleep during it, come late
         * to the next one too, and leave every job of that length to the
         * caller alone. */
        uint64_t t0 = now_ns();
        for (unsigned i = 0; __atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen; i++) {
            poll_wait(i);
            if ((i & 15) != 15) continue;
            if (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) != 0)
                t0 = now_ns();
            else if (now_ns() - t0 > SPIN_NS)
                break;
        }
        pthread_mutex_lock(&mu);
        while ((generation == seen || self >= job.workers) && !stopping)
            pthread_cond_wait(&wake, &mu);
        if (stopping) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        seen = generation;
        const vaei_task_fn fn = job.fn;
        void *ctx = job.ctx;
        const int nparts = job.nparts;
        pthread_mutex_unlock(&mu);
        run_parts((uint32_t)seen, fn, ctx, nparts);
    }
}

/* A child of fork() has none of the workers (and maybe a lock held by a
 * thread that is not there): it starts a pool of its own when needed. */
static void after_fork_child(void)
{
    pthread_mutex_init(&busy, NULL);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&wake, NULL);
    pthread_cond_init(&done, NULL);
    workers = NULL; /* the parent's copies of the arrays are left behind */
    worker_scratch = NULL;
    nworkers = 0;
    sleeping_caller = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, after_fork_child);
}

/* Grow the pool to n workers (never shrinks); returns how many exist. */
static int ensure_workers(int n)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_once(&scratch_once, scratch_init);
    if (n <= nworkers) return nworkers;
    pthread_t *w = realloc(workers, (size_t)n * sizeof *w);
    if (!w) return nworkers;
    workers = w;
    scratch_t **ws = realloc(worker_scratch, (size_t)n * sizeof *ws);
    if (!ws) return nworkers;
    worker_scratch = ws;
    while (nworkers < n) {
        scratch_t *s = calloc(1, sizeof *s);
        if (!s) break;
        worker_scratch[nworkers] = s;
        if (pthread_create(&workers[nworkers], NULL, worker_main, (void *)(intptr_t)nworkers) != 0) {
            free(s);
            break;
        }
        nworkers++;
    }
    return nworkers;
}

void vaei_parallel(int nparts, vaei_task_fn fn, void *ctx)
{
    /* Threads, the caller's included: never more than the thread setting,
     * whatever the number of parts, so that no core runs two of ours. */
    const int setting = vaei_threads(), threads = nparts < setting ? nparts : setting;
    if (threads <= 1 || pthread_mutex_trylock(&busy) != 0) {
        for (int p = 0; p < nparts; p++) fn(ctx, p, nparts);
        return;
    }
    pthread_mutex_lock(&mu);
    const int have = ensure_workers(threads - 1);
    if (have < 1) {
        pthread_mutex_unlock(&mu);
        pthread_mutex_unlock(&busy);
        for (int p = 0; p < nparts; p++) fn(ctx, p, nparts);
        return;
    }
    job.workers = have < threads - 1 ? have : threads - 1;
    grow_workers(job.workers);
    job.fn = fn;
    job.ctx = ctx;
    job.nparts = nparts;
    const unsigned long gen = generation + 1;
    __atomic_store_n(&pending, nparts, __ATOMIC_RELAXED);
    __atomic_store_n(&ticket, (uint64_t)(uint32_t)gen << 32, __ATOMIC_RELEASE);
    __atomic_store_n(&generation, gen, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);

    run_parts((uint32_t)gen, fn, ctx, nparts);
    const uint64_t t0 = now_ns();
    for (unsigned i = 0; __atomic_load_n(&pending, __ATOMIC_ACQUIRE) != 0; i++) {
        poll_wait(i);
        if ((i & 15) == 15 && now_ns() - t0 > SPIN_NS) break;
    }
    pthread_mutex_lock(&mu);
    sleeping_caller = 1;
    while (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&done, &mu);
    sleeping_caller = 0;
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&busy);
}

void vaei_split(size_t count, size_t grain, int part, int nparts, size_t *begin, size_t *end)
{
    const size_t units = (count + grain - 1) / grain, per = units / (size_t)nparts;
    const size_t extra = units % (size_t)nparts, p = (size_t)part;
    const size_t first = p * per + (p < extra ? p : extra);
    const size_t n = per + (p < extra);
    *begin = first * grain < count ? first * grain : count;
    *end = (first + n) * grain < count ? (first + n) * grain : count;
}

/* Stop the workers when the library is unloaded (dlclose), so that no
 * thread runs code that is gone. */
__attribute__((destructor)) static void pool_shutdown(void)
{
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
    free(workers);
    free(worker_scratch); /* the scratch itself: each worker's key destructor */
    workers = NULL;
    worker_scratch = NULL;
    nworkers = 0;
}
