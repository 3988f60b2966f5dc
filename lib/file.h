/*
 * Opening the files libvae reads.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_FILE_H
#define VAEI_FILE_H

#include <stdint.h>
#include <stdio.h>

#include "vae/vae.h"

/* Open path for reading if it is a regular file, never blocking: a FIFO,
 * a device or a directory is refused with VAE_ERR_IO ("not a regular
 * file"). *size receives the file's size in bytes. */
vae_status vaei_open_regular(const char *path, FILE **out, uint64_t *size);

#endif /* VAEI_FILE_H */
