/*
 * One training step once the gradient is in the model's buffer: its mean
 * across the workers, the optimizer's update, the counters.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_STEP_H
#define VAEI_STEP_H

#include "collective.h"
#include "vae/vae.h"

/* The workers opt's steps are shared with, or NULL when it trains alone. */
const vaei_collective *vaei_step_workers(const vae_optimizer *opt);

/* This worker's pass failed with s (its message recorded): with workers,
 * it still takes part in the step's gradient all-reduce, with a NaN that
 * makes every worker's mean non-finite, so that all of them fail this step
 * instead of waiting forever. Returns s with its message. */
vae_status vaei_step_abandon(vae_optimizer *opt, vae_status s);

#endif /* VAEI_STEP_H */
