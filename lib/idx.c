/*
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "idx.h"

enum { IDX_TYPE_U8 = 0x08 };

/* gzread takes an unsigned length and returns an int: read in slices. */
#define READ_SLICE ((size_t)1 << 30)
/* First buffer size; it then doubles, so the memory held stays within twice
 * the bytes the file has actually delivered. */
#define FIRST_ROOM ((size_t)1 << 16)

/* Status of the stream's pending zlib error, VAE_OK when there is none.
 * zlib's own message repeats the path ("path: msg"): keep only msg. */
static vae_status gz_status(const char *path, gzFile f)
{
    int err;
    const char *msg = gzerror(f, &err);
    const size_t len = strlen(path);
    if (strncmp(msg, path, len) == 0 && strncmp(msg + len, ": ", 2) == 0) msg += len + 2;
    switch (err) {
    case Z_OK: return VAE_OK;
    case Z_ERRNO: return vaei_fail(VAE_ERR_IO, "%s: read failed: %s", path, msg);
    case Z_MEM_ERROR: return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: out of memory in zlib", path);
    case Z_BUF_ERROR:
        return vaei_fail(VAE_ERR_FORMAT, "%s: gzip stream is truncated (%s)", path, msg);
    default: return vaei_fail(VAE_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
    }
}

/* gzread until n bytes or the end of the data; *got < n means the data
 * ended there. A gzip stream cut short shows up as an error here. */
static vae_status read_full(const char *path, gzFile f, uint8_t *buf, size_t n, size_t *got)
{
    size_t have = 0;
    *got = 0;
    while (have < n) {
        const size_t ask = n - have < READ_SLICE ? n - have : READ_SLICE;
        const int r = gzread(f, buf + have, (unsigned)ask);
        if (r < 0) {
            VAEI_TRY(gz_status(path, f));
            return vaei_fail(VAE_ERR_IO, "%s: read failed", path);
        }
        if (r == 0) break;
        have += (size_t)r;
    }
    if (have < n) VAEI_TRY(gz_status(path, f));
    *got = have;
    return VAE_OK;
}

/* "28x28": the shape of one item, dims[1..ndims). */
static void item_shape(const struct vaei_idx *h, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 1; i < h->ndims && used < size; i++) {
        const int k = snprintf(buf + used, size - used, "%s%" PRIu32, i > 1 ? "x" : "", h->dims[i]);
        if (k < 0) return;
        used += (size_t)k;
    }
}

static vae_status read_header(const char *path, gzFile f, uint64_t cap, struct vaei_idx *h)
{
    uint8_t b[4 * VAEI_IDX_MAX_DIMS];
    size_t got = 0;
    VAEI_TRY(read_full(path, f, b, 4, &got));
    VAEI_CHECK(got == 4, VAE_ERR_FORMAT, "%s: truncated header: %zu of 4 bytes", path, got);
    VAEI_CHECK(b[0] == 0 && b[1] == 0, VAE_ERR_FORMAT,
               "%s: not an IDX file (magic %02x %02x %02x %02x)", path, b[0], b[1], b[2], b[3]);
    VAEI_CHECK(b[2] == IDX_TYPE_U8, VAE_ERR_FORMAT,
               "%s: element type 0x%02x is not supported (only 0x08, unsigned byte)", path, b[2]);
    VAEI_CHECK(b[3] >= 1 && b[3] <= VAEI_IDX_MAX_DIMS, VAE_ERR_FORMAT,
               "%s: %u dimensions; 1 to %d are supported", path, b[3], VAEI_IDX_MAX_DIMS);
    h->ndims = b[3];

    const size_t need = 4 * (size_t)h->ndims;
    VAEI_TRY(read_full(path, f, b, need, &got));
    VAEI_CHECK(got == need, VAE_ERR_FORMAT, "%s: truncated header: %zu of %zu bytes", path,
               4 + got, 4 + need);
    size_t count = 1;
    for (unsigned i = 0; i < h->ndims; i++) {
        const uint8_t *p = b + 4 * (size_t)i;
        const uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        VAEI_CHECK(d >= 1, VAE_ERR_FORMAT, "%s: dimension %u is 0", path, i);
        VAEI_CHECK(count <= (SIZE_MAX - 1) / d, VAE_ERR_LIMIT,
                   "%s: the dimensions' product overflows size_t (dimension %u is %" PRIu32 ")",
                   path, i, d);
        h->dims[i] = d;
        count *= d;
    }
    VAEI_CHECK((uint64_t)count <= cap, VAE_ERR_LIMIT,
               "%s: %zu bytes of data exceed the cap of %" PRIu64 " bytes", path, count, cap);
    h->count = count;
    return VAE_OK;
}

/* Read the h->count bytes of data and insist on the end of the file. The
 * buffer grows as bytes arrive, so it never outgrows what the file holds.
 *
 * No gzread request may end exactly at the end of the data: gzread stops
 * inflating when a request is full, so inflate could stay short of the gzip
 * trailer (CRC-32, length), and once the whole file has been read in, a
 * trailer cut off would go unnoticed. So the buffer holds count + 1 bytes and
 * the request that reaches the end of the data asks for that byte too:
 * inflate then runs on through the trailer and reports a bad CRC or a cut
 * stream, and a byte that does arrive is data past the end. (The header's
 * first request is another matter: it cannot know where the data ends, and
 * zlib inflates 16 KiB for it, so a trailer cut off a file of exactly
 * 16384 bytes of header and data still passes; its data is complete.) */
static vae_status read_data(const char *path, gzFile f, struct vaei_idx *h)
{
    const size_t want = h->count + 1; /* read_header keeps count < SIZE_MAX */
    uint8_t *buf = NULL;
    size_t have = 0, room = 0;
    vae_status s = VAE_OK;
    while (have < want) {
        if (have == room) {
            /* Double (from 64 KiB); room is always < count or == want. */
            const size_t grow = room < FIRST_ROOM ? FIRST_ROOM : room;
            const size_t next = want - room <= grow + 1 ? want : room + grow;
            uint8_t *p = realloc(buf, next);
            if (!p) {
                s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path,
                              next);
                goto fail;
            }
            buf = p;
            room = next;
        }
        size_t ask = room - have < READ_SLICE ? room - have : READ_SLICE;
        if (have + ask == h->count) ask--; /* only a full slice can end there: ask >= 2 */
        size_t got = 0;
        s = read_full(path, f, buf + have, ask, &got);
        if (s != VAE_OK) goto fail;
        have += got;
        if (got < ask) break;
    }
    if (have > h->count) {
        s = vaei_fail(VAE_ERR_FORMAT, "%s: has extra bytes after the %zu bytes of data", path,
                      h->count);
        goto fail;
    }
    if (have < h->count) {
        char shape[64];
        item_shape(h, shape, sizeof shape);
        if (h->ndims >= 2)
            s = vaei_fail(VAE_ERR_FORMAT,
                          "%s: header says %" PRIu32 " images of %s but the file holds only "
                          "%zu bytes of pixels",
                          path, h->dims[0], shape, have);
        else
            s = vaei_fail(VAE_ERR_FORMAT,
                          "%s: header says %" PRIu32 " entries but the file holds only %zu bytes",
                          path, h->dims[0], have);
        goto fail;
    }
    h->data = buf;
    return VAE_OK;
fail:
    free(buf);
    return s;
}

vae_status vaei_idx_read(const char *path, uint64_t cap_bytes, struct vaei_idx *out)
{
    VAEI_CHECK_ARG(path != NULL);
    VAEI_CHECK_ARG(out != NULL);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        if (errno == 0)
            return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: cannot open: out of memory", path);
        return vaei_fail(VAE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct vaei_idx h = {0};
    vae_status s = read_header(path, f, cap_bytes, &h);
    if (s == VAE_OK) s = read_data(path, f, &h);
    /* The one close of f, on every path. */
    const int rc = gzclose(f);
    if (s == VAE_OK && rc != Z_OK) {
        if (rc == Z_BUF_ERROR)
            s = vaei_fail(VAE_ERR_FORMAT, "%s: gzip stream is truncated", path);
        else if (rc == Z_ERRNO)
            s = vaei_fail(VAE_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        else
            s = vaei_fail(VAE_ERR_IO, "%s: close failed (zlib error %d)", path, rc);
    }
    if (s != VAE_OK) {
        free(h.data);
        return s;
    }
    *out = h;
    return VAE_OK;
}
