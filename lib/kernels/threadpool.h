/*
 * A small persistent pool of worker threads for the SIMD kernels.
 *
 * vaei_parallel(n, fn, ctx) runs fn(ctx, part, n) for every part in [0, n)
 * and returns when all are done; the calling thread takes parts too, and at
 * most vae_get_threads() threads in all take them, as they come free (a job
 * may have more parts than threads). Which thread runs a part is not fixed,
 * so a task must make its result depend only on (part, n): then a run is
 * reproducible for a given n. One job runs at a time: a caller that finds
 * the pool busy runs its parts itself.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_THREADPOOL_H
#define VAEI_THREADPOOL_H

#include <stddef.h>

typedef void (*vaei_task_fn)(void *ctx, int part, int nparts);

void vaei_parallel(int nparts, vaei_task_fn fn, void *ctx);

/* Whether the calling thread is running a part of a job on the pool (its
 * own or a worker's). Work nested in a part stays on its thread:
 * vaei_threads() is then 1, so that a part may call a product that would
 * otherwise start a job of its own (a conv layer's chunk, lib/layers.c). */
int vaei_in_part(void);

/* [*begin, *end) of `count` items for part `part` of `nparts`, in units of
 * `grain` items (the last part takes the remainder). */
void vaei_split(size_t count, size_t grain, int part, int nparts, size_t *begin, size_t *end);

/* Per-thread scratch of at least `bytes` bytes, 64-byte aligned, kept for
 * the thread's life (freed at its exit); NULL when out of memory. Slots
 * 0 to 4 are distinct buffers: 0 to 2 and 4 are the GEMM's
 * (gemm_template.h), VAEI_SCRATCH_COLUMNS a conv layer's chunk of column
 * matrix (lib/layers.c). The slots below VAEI_SCRATCH_POOLED (the buffers
 * wanted by whichever thread runs a part) are also grown on every pool
 * worker a job lets in, to the largest size any thread has asked in a part
 * of a job, by the next vaei_parallel before it starts its job: a worker's
 * own call then finds them sized, and once every size has been asked (a
 * warm-up step), no thread allocates. */
enum { VAEI_SCRATCH_COLUMNS = 3, VAEI_SCRATCH_POOLED = 4 };
void *vaei_scratch(int slot, size_t bytes);

#endif /* VAEI_THREADPOOL_H */
