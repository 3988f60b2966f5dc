/*
 * The IDX reader. Bytes come from a file or a buffer in memory through one
 * source (raw, or gzip inflated by zlib's inflate() directly) and go through
 * one parser, so the file and memory paths cannot disagree.
 *
 * inflate() rather than gzread(): gzread cannot say whether a gzip trailer
 * it never needed to read was there, and it ignores whatever follows the
 * last gzip member. Here the source reports the end of the data only once
 * inflate has checked every member's trailer (CRC-32 and length) and the
 * input holds nothing after the last member.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "file.h"
#include "idx.h"

enum { IDX_TYPE_U8 = 0x08 };

/* Compressed bytes read from a file per fread. */
#define IN_CHUNK ((size_t)1 << 16)
/* zlib counts in uInt: hand it at most this many bytes at a time. */
#define Z_SLICE ((size_t)1 << 30)
/* First data buffer; it then doubles, so the memory held stays within twice
 * the bytes the file has actually delivered. */
#define FIRST_ROOM ((size_t)1 << 16)

/* Where the bytes come from, and how they are decoded. */
typedef struct {
    const char *name;    /* path, or the caller's name of a buffer: starts every message */
    FILE *f;             /* NULL when reading memory */
    uint8_t *buf;        /* file input, IN_CHUNK bytes */
    const uint8_t *next; /* input not yet consumed: next[0 .. avail) */
    size_t avail;
    int eof;             /* no input exists beyond next[0 .. avail) */
    int gzip;            /* the input is gzip, decoded through z */
    int z_live;          /* z needs inflateEnd */
    int ended;           /* the decoded data has ended, and the end was checked */
    z_stream z;
} source;

/* Append input until at least want bytes are pending or the file ends. */
static vae_status fill(source *s, size_t want)
{
    if (!s->f || s->eof || s->avail >= want) return VAE_OK;
    if (s->avail > 0 && s->next != s->buf) memmove(s->buf, s->next, s->avail);
    s->next = s->buf;
    while (s->avail < want && !s->eof) {
        const size_t room = IN_CHUNK - s->avail;
        const size_t got = fread(s->buf + s->avail, 1, room, s->f);
        s->avail += got;
        if (got < room) {
            VAEI_CHECK(!ferror(s->f), VAE_ERR_IO, "%s: read failed: %s", s->name, strerror(errno));
            s->eof = 1;
        }
    }
    return VAE_OK;
}

/* After a gzip member's end (its trailer already checked by inflate): go on
 * to a following member, as gzip(1) does, or end; anything else is refused. */
static vae_status member_end(source *s)
{
    VAEI_TRY(fill(s, 2));
    if (s->avail == 0) {
        s->ended = 1;
        return VAE_OK;
    }
    VAEI_CHECK(s->avail >= 2 && s->next[0] == 0x1f && s->next[1] == 0x8b, VAE_ERR_FORMAT,
               "%s: stray bytes after the end of the gzip stream", s->name);
    const int r = inflateReset(&s->z);
    VAEI_CHECK(r == Z_OK, VAE_ERR_FORMAT, "%s: zlib error %d", s->name, r);
    return VAE_OK;
}

static vae_status inflate_into(source *s, uint8_t *dst, size_t n, size_t *got)
{
    size_t have = 0;
    while (have < n && !s->ended) {
        if (s->avail == 0 && !s->eof) {
            VAEI_TRY(fill(s, 1));
            continue;
        }
        /* With no input left, inflate may still hold output or a trailer
         * already read: only its Z_BUF_ERROR says the stream was cut. */
        const size_t in = s->avail < Z_SLICE ? s->avail : Z_SLICE;
        const size_t out = n - have < Z_SLICE ? n - have : Z_SLICE;
        s->z.next_in = (unsigned char *)(uintptr_t)s->next; /* zlib's next_in is not const */
        s->z.avail_in = (uInt)in;
        s->z.next_out = dst + have;
        s->z.avail_out = (uInt)out;
        const int r = inflate(&s->z, Z_NO_FLUSH);
        s->next += in - s->z.avail_in;
        s->avail -= in - s->z.avail_in;
        have += out - s->z.avail_out;
        switch (r) {
        case Z_OK: break;
        case Z_STREAM_END: VAEI_TRY(member_end(s)); break;
        case Z_BUF_ERROR: /* no progress possible: output had room, so input is missing */
            VAEI_CHECK(s->avail > 0, VAE_ERR_FORMAT, "%s: gzip stream is truncated", s->name);
            return vaei_fail(VAE_ERR_FORMAT, "%s: corrupt gzip data", s->name);
        case Z_MEM_ERROR:
            return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: out of memory in zlib", s->name);
        default:
            return vaei_fail(VAE_ERR_FORMAT, "%s: corrupt gzip data: %s", s->name,
                             s->z.msg ? s->z.msg : "zlib error");
        }
    }
    *got = have;
    return VAE_OK;
}

static vae_status copy_into(source *s, uint8_t *dst, size_t n, size_t *got)
{
    size_t have = 0;
    while (have < n) {
        if (s->avail > 0) {
            const size_t k = s->avail < n - have ? s->avail : n - have;
            memcpy(dst + have, s->next, k);
            s->next += k;
            s->avail -= k;
            have += k;
        } else if (s->eof) {
            break;
        } else { /* a raw file: straight into dst, no staging copy */
            const size_t k = fread(dst + have, 1, n - have, s->f);
            have += k;
            if (have < n) {
                VAEI_CHECK(!ferror(s->f), VAE_ERR_IO, "%s: read failed: %s", s->name,
                           strerror(errno));
                s->eof = 1;
            }
        }
    }
    *got = have;
    return VAE_OK;
}

/* Up to n bytes of decoded data; *got < n only where the data ends, and the
 * end has then been checked (gzip trailers, nothing after the stream). */
static vae_status pull(source *s, uint8_t *dst, size_t n, size_t *got)
{
    return s->gzip ? inflate_into(s, dst, n, got) : copy_into(s, dst, n, got);
}

/* gzip is recognised by its magic 1f 8b; anything else is read as it is (an
 * IDX file starts with 00 00, so the two cannot be confused). */
static vae_status source_start(source *s)
{
    VAEI_TRY(fill(s, 2));
    if (s->avail < 2 || s->next[0] != 0x1f || s->next[1] != 0x8b) return VAE_OK;
    s->gzip = 1;
    const int r = inflateInit2(&s->z, 16 + MAX_WBITS); /* 16: gzip wrapper only */
    VAEI_CHECK(r != Z_MEM_ERROR, VAE_ERR_OUT_OF_MEMORY, "%s: out of memory in zlib", s->name);
    VAEI_CHECK(r == Z_OK, VAE_ERR_FORMAT, "%s: zlib error %d", s->name, r);
    s->z_live = 1;
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

static vae_status read_header(source *src, uint64_t cap, struct vaei_idx *h)
{
    const char *name = src->name;
    uint8_t b[4 * VAEI_IDX_MAX_DIMS];
    size_t got = 0;
    VAEI_TRY(pull(src, b, 4, &got));
    VAEI_CHECK(got == 4, VAE_ERR_FORMAT, "%s: truncated header: %zu of 4 bytes", name, got);
    VAEI_CHECK(b[0] == 0 && b[1] == 0, VAE_ERR_FORMAT,
               "%s: not an IDX file (magic %02x %02x %02x %02x)", name, b[0], b[1], b[2], b[3]);
    VAEI_CHECK(b[2] == IDX_TYPE_U8, VAE_ERR_FORMAT,
               "%s: element type 0x%02x is not supported (only 0x08, unsigned byte)", name, b[2]);
    VAEI_CHECK(b[3] >= 1 && b[3] <= VAEI_IDX_MAX_DIMS, VAE_ERR_FORMAT,
               "%s: %u dimensions; 1 to %d are supported", name, b[3], VAEI_IDX_MAX_DIMS);
    h->ndims = b[3];

    const size_t need = 4 * (size_t)h->ndims;
    VAEI_TRY(pull(src, b, need, &got));
    VAEI_CHECK(got == need, VAE_ERR_FORMAT, "%s: truncated header: %zu of %zu bytes", name,
               4 + got, 4 + need);
    size_t count = 1;
    for (unsigned i = 0; i < h->ndims; i++) {
        const uint8_t *p = b + 4 * (size_t)i;
        const uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        VAEI_CHECK(d >= 1, VAE_ERR_FORMAT, "%s: dimension %u is 0", name, i);
        VAEI_CHECK(count <= SIZE_MAX / d, VAE_ERR_LIMIT,
                   "%s: the dimensions' product overflows size_t (dimension %u is %" PRIu32 ")",
                   name, i, d);
        h->dims[i] = d;
        count *= d;
    }
    VAEI_CHECK((uint64_t)count <= cap, VAE_ERR_LIMIT,
               "%s: %zu bytes of data exceed the cap of %" PRIu64 " bytes", name, count, cap);
    h->count = count;
    return VAE_OK;
}

/* Read the h->count bytes of data, then insist that the data ends there.
 * The buffer grows as bytes arrive, so a header promising more than the
 * input holds never allocates it. */
static vae_status read_data(source *src, struct vaei_idx *h)
{
    const char *name = src->name;
    uint8_t *buf = NULL;
    size_t have = 0, room = 0;
    vae_status s = VAE_OK;
    while (have < h->count) {
        if (have == room) {
            const size_t grow = room < FIRST_ROOM ? FIRST_ROOM : room; /* doubles from 64 KiB */
            const size_t next = h->count - room <= grow ? h->count : room + grow;
            uint8_t *p = realloc(buf, next);
            if (!p) {
                s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", name, next);
                goto fail;
            }
            buf = p;
            room = next;
        }
        size_t got = 0;
        s = pull(src, buf + have, room - have, &got);
        if (s != VAE_OK) goto fail;
        have += got;
        if (have < room) break; /* the data ended */
    }
    if (have < h->count) {
        char shape[64];
        item_shape(h, shape, sizeof shape);
        if (h->ndims >= 2)
            s = vaei_fail(VAE_ERR_FORMAT,
                          "%s: header says %" PRIu32 " images of %s but the file holds only "
                          "%zu bytes of pixels",
                          name, h->dims[0], shape, have);
        else
            s = vaei_fail(VAE_ERR_FORMAT,
                          "%s: header says %" PRIu32 " entries but the file holds only %zu bytes",
                          name, h->dims[0], have);
        goto fail;
    }
    /* The end: one more byte must not come, and for gzip this runs inflate
     * through the last trailer and checks what follows it. */
    uint8_t extra;
    size_t got = 0;
    s = pull(src, &extra, 1, &got);
    if (s == VAE_OK && got != 0)
        s = vaei_fail(VAE_ERR_FORMAT, "%s: has extra bytes after the %zu bytes of data", name,
                      h->count);
    if (s != VAE_OK) goto fail;
    h->data = buf;
    return VAE_OK;
fail:
    free(buf);
    return s;
}

/* The one parser behind both entry points; releases what src holds. */
static vae_status parse(source *src, uint64_t cap, struct vaei_idx *out)
{
    struct vaei_idx h = {0};
    vae_status s = source_start(src);
    if (s == VAE_OK) s = read_header(src, cap, &h);
    if (s == VAE_OK) s = read_data(src, &h);
    if (src->z_live) inflateEnd(&src->z);
    if (s != VAE_OK) return s;
    *out = h;
    return VAE_OK;
}

vae_status vaei_idx_read(const char *path, uint64_t cap_bytes, struct vaei_idx *out)
{
    VAEI_CHECK_ARG(path != NULL);
    VAEI_CHECK_ARG(out != NULL);
    source src = {.name = path};
    if (!(src.buf = malloc(IN_CHUNK)))
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: cannot allocate a read buffer", path);
    src.next = src.buf;
    uint64_t size;
    const vae_status opened = vaei_open_regular(path, &src.f, &size);
    if (opened != VAE_OK) {
        free(src.buf);
        return opened;
    }
    const vae_status s = parse(&src, cap_bytes, out);
    fclose(src.f); /* read-only: nothing a failed close could lose */
    free(src.buf);
    return s;
}

vae_status vaei_idx_read_mem(const void *data, size_t len, const char *name, uint64_t cap_bytes,
                             struct vaei_idx *out)
{
    VAEI_CHECK_ARG(data != NULL || len == 0);
    VAEI_CHECK_ARG(name != NULL);
    VAEI_CHECK_ARG(out != NULL);
    source src = {.name = name, .next = data, .avail = len, .eof = 1};
    return parse(&src, cap_bytes, out);
}
