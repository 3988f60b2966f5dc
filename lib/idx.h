/*
 * The IDX reader (the MNIST file layout), raw or gzip-compressed:
 *   bytes 0-1  zero
 *   byte  2    element type (only 0x08, unsigned byte, is supported)
 *   byte  3    number of dimensions, 1 to VAEI_IDX_MAX_DIMS
 *   then one big-endian uint32 per dimension, then the elements, row-major,
 *   and nothing after them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_IDX_H
#define VAEI_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "vae/vae.h"

#define VAEI_IDX_MAX_DIMS 4

struct vaei_idx {
    unsigned ndims;                   /* 1 to VAEI_IDX_MAX_DIMS */
    uint32_t dims[VAEI_IDX_MAX_DIMS]; /* dims[0] counts the items; every dim >= 1 */
    size_t count;                     /* bytes of data: the product of the dims */
    uint8_t *data;                    /* [count], malloc'd; the caller frees it */
};

/*
 * Read a whole IDX file of unsigned bytes, raw or gzip (magic 1f 8b; one or
 * more members, as gzip(1) writes them). Memory grows with the bytes
 * actually read, so a header promising more than the file holds never
 * allocates it. The data must end exactly where the header says: for gzip
 * every member's CRC-32 and length are checked and nothing may follow the
 * last member. Every error message starts with path.
 * @return VAE_ERR_IO (open or read failed), VAE_ERR_FORMAT (bad header,
 *         truncated data, trailing bytes, corrupt or truncated gzip, bytes
 *         after the gzip stream), VAE_ERR_LIMIT (the data would exceed
 *         cap_bytes or size_t), VAE_ERR_OUT_OF_MEMORY. On failure *out is
 *         untouched.
 */
vae_status vaei_idx_read(const char *path, uint64_t cap_bytes, struct vaei_idx *out);

/*
 * The same parse of len bytes in memory (the file's contents as stored,
 * raw or gzip); messages start with name. data may be NULL when len is 0.
 */
vae_status vaei_idx_read_mem(const void *data, size_t len, const char *name, uint64_t cap_bytes,
                             struct vaei_idx *out);

#endif /* VAEI_IDX_H */
