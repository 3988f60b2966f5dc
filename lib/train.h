/*
 * Dataset rows into the model's workspace: shared by training, evaluation
 * and the modules that score or explore a whole dataset.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_TRAIN_H
#define VAEI_TRAIN_H

#include <stddef.h>

#include "dataset.h"
#include "model.h"

/* The dataset fits the model: same width, and labels that a conditional
 * model's one-hot input can hold. */
vae_status vaei_check_dataset(const vae_model *m, const vae_dataset *ds);

/* Rows idx[0..n) of ds into ws.x0 as [x | one-hot(label)], checked for the
 * likelihood; the workspace must hold n rows. */
vae_status vaei_stage_dataset(vae_model *m, const vae_dataset *ds, const size_t *idx, size_t n);

#endif /* VAEI_TRAIN_H */
