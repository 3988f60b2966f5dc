/*
 * A stand-in for the part of zlib that libvae uses, for tools/ci/test-neon.sh
 * only (there is no aarch64 zlib on the build machine): a real CRC-32, so
 * checkpoints round-trip, and an inflate that refuses every gzip stream
 * (the cross-built tests read no compressed files).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_CROSS_ZLIB_H
#define VAE_CROSS_ZLIB_H

#include <stddef.h>

typedef unsigned int uInt;
typedef unsigned long uLong;
typedef unsigned char Bytef;

enum { Z_OK = 0, Z_STREAM_END = 1, Z_NO_FLUSH = 0, Z_DATA_ERROR = -3, Z_MEM_ERROR = -4,
       Z_BUF_ERROR = -5, MAX_WBITS = 15 };
#define Z_NULL NULL

typedef struct {
    unsigned char *next_in, *next_out;
    uInt avail_in, avail_out;
    const char *msg;
} z_stream;

/* CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), as zlib's crc32(). */
static inline uLong crc32(uLong crc, const Bytef *p, uInt n)
{
    if (!p) return 0;
    crc = ~crc & 0xffffffffUL;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320UL : crc >> 1;
    }
    return ~crc & 0xffffffffUL;
}

static inline int inflateInit2(z_stream *z, int bits)
{
    (void)bits;
    z->msg = "gzip is not supported in the cross-built tests";
    return Z_OK;
}
static inline int inflate(z_stream *z, int flush)
{
    (void)z;
    (void)flush;
    return Z_DATA_ERROR;
}
static inline int inflateReset(z_stream *z)
{
    (void)z;
    return Z_OK;
}
static inline int inflateEnd(z_stream *z)
{
    (void)z;
    return Z_OK;
}

#endif /* VAE_CROSS_ZLIB_H */
