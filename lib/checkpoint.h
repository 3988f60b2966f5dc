/*
 * The checkpoint reader's entry point for bytes already in memory: the file
 * path (vae_checkpoint_load) reads the whole file and hands it here, so the
 * two share one parser. Layout: docs/checkpoint-format.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_CHECKPOINT_H
#define VAEI_CHECKPOINT_H

#include <stddef.h>

#include "vae/vae.h"

/*
 * Parse a whole checkpoint of len bytes; messages start with name. On
 * success *model (and *opt when opt is not NULL; NULL when the file holds no
 * optimizer) receive new handles; on failure both are left untouched.
 * @return VAE_ERR_FORMAT, VAE_ERR_UNSUPPORTED (newer version or setting),
 *         VAE_ERR_OUT_OF_MEMORY.
 */
vae_status vaei_checkpoint_parse(const void *data, size_t len, const char *name,
                                 vae_model **model, vae_optimizer **opt);

#endif /* VAEI_CHECKPOINT_H */
