/*
 * A checkpoint as bytes in memory: the file functions (vae_checkpoint_save,
 * vae_checkpoint_load) and the workers' join (lib/collective.c) share this
 * one writer and one parser. Layout: docs/checkpoint-format.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_CHECKPOINT_H
#define VAEI_CHECKPOINT_H

#include <stddef.h>

#include "vae/vae.h"

/*
 * The checkpoint file of m and opt (opt may be NULL) in memory: *bytes
 * (free with free()) of *len bytes. Values are written as they are (a save
 * checks them first); name starts messages.
 * @return VAE_ERR_OUT_OF_MEMORY.
 */
vae_status vaei_checkpoint_write(const vae_model *m, const vae_optimizer *opt, const char *name,
                                 unsigned char **bytes, size_t *len);

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
