/*
 * Datasets and the IDX reader: the bundled MNIST subset, hostile files, the
 * in-memory constructors, shuffling and batching.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "dataset.h"
#include "idx.h"
#include "rng.h"
#include "vae/vae.h"

#ifndef VAE_TEST_DATA
#error "VAE_TEST_DATA must hold the path of examples/data/mnist-subset"
#endif

#define TRAIN_IMAGES VAE_TEST_DATA "/train-images-idx3-ubyte.gz"
#define TRAIN_LABELS VAE_TEST_DATA "/train-labels-idx1-ubyte.gz"
#define TEST_IMAGES VAE_TEST_DATA "/t10k-images-idx3-ubyte.gz"
#define TEST_LABELS VAE_TEST_DATA "/t10k-labels-idx1-ubyte.gz"

/* ---- helpers ----------------------------------------------------------- */

static char tmpdir[64];
static char created[128][128]; /* files written into tmpdir, removed at teardown */
static size_t n_created;

static int group_setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/vae_test_dataset.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_created; i++) unlink(created[i]);
    return rmdir(tmpdir);
}

/* Path of a new file in tmpdir, remembered for removal. */
static const char *tmp_file(const char *name)
{
    assert_true(n_created < sizeof created / sizeof created[0]);
    char *p = created[n_created++];
    snprintf(p, sizeof created[0], "%s/%s", tmpdir, name);
    return p;
}

static const char *write_raw(const char *name, const void *bytes, size_t len)
{
    const char *path = tmp_file(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_gz(const char *name, const void *bytes, size_t len)
{
    const char *path = tmp_file(name);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, bytes, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
    return path;
}

/* The whole file as stored (compressed or not); free the result. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    const long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
    *len = (size_t)size;
    return buf;
}

/* The decompressed contents of a .gz, read with zlib directly. */
static uint8_t *gunzip(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    assert_non_null(f);
    size_t have = 0, room = 1 << 20;
    uint8_t *buf = malloc(room);
    assert_non_null(buf);
    for (;;) {
        if (have == room) {
            room *= 2;
            buf = realloc(buf, room);
            assert_non_null(buf);
        }
        const int r = gzread(f, buf + have, (unsigned)(room - have));
        assert_true(r >= 0);
        if (r == 0) break;
        have += (size_t)r;
    }
    assert_int_equal(gzclose(f), Z_OK);
    *len = have;
    return buf;
}

/* bytes gzip-compressed in memory, as one member; free the result. */
static uint8_t *gz_bytes(const void *bytes, size_t len, size_t *out_len)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    const size_t room = deflateBound(&z, (uLong)len) + 64;
    uint8_t *out = malloc(room);
    assert_non_null(out);
    z.next_in = (unsigned char *)(uintptr_t)bytes;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)room;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = room - z.avail_out;
    assert_int_equal(deflateEnd(&z), Z_OK);
    return out;
}

/* Parse bytes through both entry points, the file (written to a scratch
 * path) and memory: they must agree on the status, the message and the
 * data. Returns the status; on VAE_OK the data is in *out when out is not
 * NULL (the caller frees out->data). */
static vae_status idx_both(const uint8_t *bytes, size_t len, uint64_t cap, struct vaei_idx *out)
{
    static const char *scratch;
    if (!scratch) scratch = tmp_file("scratch");
    FILE *f = fopen(scratch, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);

    struct vaei_idx a = {0}, b = {0};
    const vae_status sa = vaei_idx_read(scratch, cap, &a);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vae_last_error());
    const vae_status sb = vaei_idx_read_mem(bytes, len, scratch, cap, &b);
    if (sa != sb) fail_msg("file: %d (%s), memory: %d (%s)", sa, msg, sb, vae_last_error());
    if (sa != VAE_OK) {
        assert_string_equal(msg, vae_last_error());
        return sa;
    }
    assert_int_equal(a.ndims, b.ndims);
    assert_memory_equal(a.dims, b.dims, sizeof a.dims);
    assert_int_equal(a.count, b.count);
    assert_memory_equal(a.data, b.data, a.count);
    free(b.data);
    if (out)
        *out = a;
    else
        free(a.data);
    return sa;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IDX header for ndims dims of element type; returns its length. */
static size_t idx_header(uint8_t *buf, uint8_t type, unsigned ndims, const uint32_t *dims)
{
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = type;
    buf[3] = (uint8_t)ndims;
    for (unsigned i = 0; i < ndims; i++) {
        uint8_t *p = buf + 4 + 4 * i;
        p[0] = (uint8_t)(dims[i] >> 24);
        p[1] = (uint8_t)(dims[i] >> 16);
        p[2] = (uint8_t)(dims[i] >> 8);
        p[3] = (uint8_t)dims[i];
    }
    return 4 + 4 * (size_t)ndims;
}

/* A well-formed IDX file of unsigned bytes plus extra: n x rows x cols with
 * pixel value (i * 7) & 0xff, and extra bytes past the data. */
static uint8_t *make_images(uint32_t n, uint32_t rows, uint32_t cols, size_t extra, size_t *len)
{
    const uint32_t dims[3] = {n, rows, cols};
    const size_t body = (size_t)n * rows * cols;
    uint8_t *buf = calloc(1, 16 + body + extra);
    assert_non_null(buf);
    const size_t h = idx_header(buf, 0x08, 3, dims);
    for (size_t i = 0; i < body + extra; i++) buf[h + i] = (uint8_t)(i * 7);
    *len = h + body + extra;
    return buf;
}

static float u8f(uint8_t v)
{
    return (float)v * (1.0f / 255.0f);
}

/* A failed load: status, message starting with path and holding the given
 * fragments, and the output left alone. */
static void expect_load_error(const char *images, const char *labels, uint64_t cap,
                              vae_status want, const char *starts, const char *sub1,
                              const char *sub2)
{
    vae_dataset *const sentinel = (vae_dataset *)&n_created;
    vae_dataset *ds = sentinel;
    const vae_status s = vae_dataset_load_idx(&ds, images, labels, cap);
    const char *msg = vae_last_error();
    if (s != want || (starts && strncmp(msg, starts, strlen(starts)) != 0) ||
        (sub1 && !strstr(msg, sub1)) || (sub2 && !strstr(msg, sub2)))
        print_error("status %d (want %d), message: %s\n", s, want, msg);
    assert_int_equal(s, want);
    assert_ptr_equal(ds, sentinel);
    if (starts) assert_memory_equal(msg, starts, strlen(starts));
    if (sub1) assert_non_null(strstr(msg, sub1));
    if (sub2) assert_non_null(strstr(msg, sub2));
}

/* ---- the bundled MNIST subset ------------------------------------------ */

/* Every pixel and label loaded equals the bytes read independently. */
static void check_against_zlib(const char *images, const char *labels, size_t n)
{
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, images, labels, 0), VAE_OK);
    assert_int_equal(vae_dataset_count(ds), n);
    assert_int_equal(vae_dataset_dim(ds), 784);
    assert_int_equal(vae_dataset_num_classes(ds), 10);

    size_t ilen, llen;
    uint8_t *ib = gunzip(images, &ilen);
    uint8_t *lb = gunzip(labels, &llen);
    assert_int_equal(ilen, 16 + n * 784);
    assert_int_equal(llen, 8 + n);
    assert_int_equal(be32(ib), 0x00000803);
    assert_int_equal(be32(ib + 4), n);
    assert_int_equal(be32(ib + 8), 28);
    assert_int_equal(be32(ib + 12), 28);
    assert_int_equal(be32(lb), 0x00000801);

    float *x = malloc(n * 784 * sizeof *x);
    assert_non_null(x);
    int32_t *y = malloc(n * sizeof *y);
    assert_non_null(y);
    assert_int_equal(vae_dataset_get(ds, 0, n, x, y), VAE_OK);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < n * 784; i++) {
        if (x[i] != u8f(ib[16 + i])) fail_msg("pixel %zu: %g != %u/255", i, x[i], ib[16 + i]);
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    /* A known pixel: image 0, row 14, column 14, inside the digit's stroke
     * (byte 253 in both files). */
    const uint8_t known = ib[16 + 14 * 28 + 14];
    assert_int_equal(known, 253);
    assert_true(x[14 * 28 + 14] == 253.0f * (1.0f / 255.0f));
    const int32_t *stored = vae_dataset_labels(ds);
    assert_non_null(stored);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(y[i], lb[8 + i]);
        assert_int_equal(stored[i], lb[8 + i]);
        assert_true(y[i] >= 0 && y[i] <= 9);
    }
    free(x);
    free(y);
    free(ib);
    free(lb);
    vae_dataset_free(ds);
}

static void test_load_bundled_train(void **state)
{
    (void)state;
    check_against_zlib(TRAIN_IMAGES, TRAIN_LABELS, 8000);
}

static void test_load_bundled_test(void **state)
{
    (void)state;
    check_against_zlib(TEST_IMAGES, TEST_LABELS, 2000);
}

static void test_load_without_labels(void **state)
{
    (void)state;
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, TEST_IMAGES, NULL, 0), VAE_OK);
    assert_int_equal(vae_dataset_count(ds), 2000);
    assert_int_equal(vae_dataset_num_classes(ds), 0);
    assert_null(vae_dataset_labels(ds));
    float x[784];
    int32_t y;
    assert_int_equal(vae_dataset_get(ds, 0, 1, x, &y), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_dataset_get(ds, 0, 1, x, NULL), VAE_OK);
    vae_dataset_free(ds);
}

static void test_raw_matches_gz(void **state)
{
    (void)state;
    size_t ilen, llen;
    uint8_t *ib = gunzip(TEST_IMAGES, &ilen);
    uint8_t *lb = gunzip(TEST_LABELS, &llen);
    const char *raw_images = write_raw("t10k-images-idx3-ubyte", ib, ilen);
    const char *raw_labels = write_raw("t10k-labels-idx1-ubyte", lb, llen);
    free(ib);
    free(lb);

    vae_dataset *gz = NULL, *raw = NULL;
    assert_int_equal(vae_dataset_load_idx(&gz, TEST_IMAGES, TEST_LABELS, 0), VAE_OK);
    assert_int_equal(vae_dataset_load_idx(&raw, raw_images, raw_labels, 0), VAE_OK);
    assert_int_equal(vae_dataset_count(raw), 2000);
    assert_int_equal(vae_dataset_dim(raw), 784);
    assert_int_equal(vae_dataset_num_classes(raw), vae_dataset_num_classes(gz));
    assert_memory_equal(vae_dataset_labels(raw), vae_dataset_labels(gz), 2000 * sizeof(int32_t));
    const size_t floats = 2000 * 784;
    float *a = malloc(floats * sizeof *a), *b = malloc(floats * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(vae_dataset_get(gz, 0, 2000, a, NULL), VAE_OK);
    assert_int_equal(vae_dataset_get(raw, 0, 2000, b, NULL), VAE_OK);
    assert_memory_equal(a, b, floats * sizeof *a);
    free(a);
    free(b);
    vae_dataset_free(gz);
    vae_dataset_free(raw);
}

static void test_cap(void **state)
{
    (void)state;
    const uint64_t bytes = 2000 * 784;
    expect_load_error(TEST_IMAGES, TEST_LABELS, 1000, VAE_ERR_LIMIT, TEST_IMAGES, "1568000",
                      "1000");
    expect_load_error(TEST_IMAGES, NULL, bytes - 1, VAE_ERR_LIMIT, TEST_IMAGES, NULL, NULL);
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, TEST_IMAGES, TEST_LABELS, bytes), VAE_OK);
    assert_int_equal(vae_dataset_count(ds), 2000);
    vae_dataset_free(ds);
}

static void test_label_count_mismatch(void **state)
{
    (void)state;
    expect_load_error(TRAIN_IMAGES, TEST_LABELS, 0, VAE_ERR_MISMATCH, TEST_LABELS, "2000",
                      "8000");
}

static void test_wrong_file_roles(void **state)
{
    (void)state;
    /* labels given as images: 1 dimension; images given as labels: 3. */
    expect_load_error(TEST_LABELS, NULL, 0, VAE_ERR_FORMAT, TEST_LABELS, "dimension", NULL);
    expect_load_error(TEST_IMAGES, TEST_IMAGES, 0, VAE_ERR_FORMAT, TEST_IMAGES, "dimension",
                      NULL);
}

/* ---- hostile files ------------------------------------------------------ */

static void test_nonexistent_path(void **state)
{
    (void)state;
    const char *path = VAE_TEST_DATA "/no-such-file.gz";
    expect_load_error(path, NULL, 0, VAE_ERR_IO, path, strerror(ENOENT), NULL);
    expect_load_error(TEST_IMAGES, path, 0, VAE_ERR_IO, path, strerror(ENOENT), NULL);
    /* A directory is not a regular file. */
    expect_load_error(tmpdir, NULL, 0, VAE_ERR_IO, tmpdir, "not a regular file", NULL);
}

/* A FIFO is refused at once, as images or as labels: fopen() blocked on one
 * with no writer, forever (the alarm fails the test rather than hang it). */
static void test_fifo_refused(void **state)
{
    (void)state;
    const char *fifo = tmp_file("fifo-idx");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(60);
    expect_load_error(fifo, NULL, 0, VAE_ERR_IO, fifo, "not a regular file", NULL);
    expect_load_error(TEST_IMAGES, fifo, 0, VAE_ERR_IO, fifo, "not a regular file", NULL);
    alarm(0);
}

static void test_bad_magic(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_images(2, 3, 3, 0, &len);
    buf[1] = 0x01;
    const char *path = write_raw("bad-magic", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "not an IDX file", NULL);
    path = write_gz("bad-magic.gz", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "not an IDX file", NULL);
    free(buf);

    const uint8_t text[] = "hello, world\n";
    path = write_raw("text", text, sizeof text - 1);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, NULL, NULL);
    path = write_raw("empty", text, 0);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "truncated header", NULL);
}

static void test_bad_type(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_images(2, 3, 3, 0, &len);
    buf[2] = 0x0D; /* float */
    const char *path = write_raw("float-type", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "0x0d", NULL);
    buf[2] = 0x09; /* signed byte */
    path = write_raw("signed-type", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "0x09", NULL);
    free(buf);
}

static void test_bad_ndims(void **state)
{
    (void)state;
    uint8_t buf[64] = {0};
    const uint32_t dims[5] = {1, 1, 1, 1, 1};
    size_t h = idx_header(buf, 0x08, 0, dims);
    const char *path = write_raw("zero-dims", buf, h + 1);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "0 dimensions", NULL);
    h = idx_header(buf, 0x08, 5, dims);
    path = write_raw("five-dims", buf, h + 1);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "5 dimensions", NULL);

    /* 4 is the most: a 1 x 2 x 2 x 2 file loads as one sample of 8. */
    const uint32_t four[4] = {1, 2, 2, 2};
    h = idx_header(buf, 0x08, 4, four);
    for (size_t i = 0; i < 8; i++) buf[h + i] = (uint8_t)(i * 30);
    path = write_raw("four-dims", buf, h + 8);
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, path, NULL, 0), VAE_OK);
    assert_int_equal(vae_dataset_count(ds), 1);
    assert_int_equal(vae_dataset_dim(ds), 8);
    float x[8];
    assert_int_equal(vae_dataset_get(ds, 0, 1, x, NULL), VAE_OK);
    for (size_t i = 0; i < 8; i++) assert_true(x[i] == u8f((uint8_t)(i * 30)));
    vae_dataset_free(ds);
}

static void test_zero_dimension(void **state)
{
    (void)state;
    uint8_t buf[16];
    const uint32_t dims[3] = {0, 28, 28};
    const size_t h = idx_header(buf, 0x08, 3, dims);
    const char *path = write_raw("no-images", buf, h);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "dimension 0 is 0", NULL);
}

static void test_truncated_header(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_images(2, 3, 3, 0, &len);
    const char *path = write_raw("header-2-bytes", buf, 2);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "truncated header", "2 of 4");
    path = write_raw("header-10-bytes", buf, 10);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "truncated header", "10 of 16");
    path = write_gz("header-10-bytes.gz", buf, 10);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "truncated header", "10 of 16");
    free(buf);
}

static void test_truncated_pixels(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_images(10, 4, 4, 0, &len); /* 160 bytes of pixels */
    const char *path = write_raw("short-pixels", buf, len - 60);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "header says 10 images of 4x4",
                      "holds only 100 bytes of pixels");
    path = write_gz("short-pixels.gz", buf, len - 60);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "header says 10 images of 4x4",
                      "holds only 100 bytes of pixels");
    path = write_raw("no-pixels", buf, 16);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "10 images of 4x4",
                      "only 0 bytes");
    free(buf);

    /* A header promising 700 MB of a 20-byte file fails on the bytes
     * actually there, not by allocating what the header promises. */
    const uint32_t dims[3] = {1000000, 28, 28};
    uint8_t small[20] = {0};
    idx_header(small, 0x08, 3, dims);
    path = write_raw("huge-promise", small, sizeof small);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "1000000 images of 28x28",
                      "only 4 bytes");

    /* Labels cut short name their own count. */
    uint8_t lab[8 + 5];
    const uint32_t n[1] = {9};
    idx_header(lab, 0x08, 1, n);
    memset(lab + 8, 1, 5);
    path = write_raw("short-labels", lab, sizeof lab);
    expect_load_error(TEST_IMAGES, path, 0, VAE_ERR_FORMAT, path, "9 entries", "only 5 bytes");
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_images(3, 2, 2, 1, &len);
    const char *path = write_raw("one-extra", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "extra bytes", NULL);
    free(buf);
    buf = make_images(3, 2, 2, 5000, &len);
    path = write_gz("many-extra.gz", buf, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "extra bytes", NULL);
    /* The same file without the extra bytes is fine. */
    path = write_gz("exact.gz", buf, len - 5000);
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, path, NULL, 0), VAE_OK);
    assert_int_equal(vae_dataset_count(ds), 3);
    assert_int_equal(vae_dataset_dim(ds), 4);
    vae_dataset_free(ds);
    free(buf);
}

static void test_dims_overflow(void **state)
{
    (void)state;
    uint8_t buf[32];
    const uint32_t dims[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    size_t h = idx_header(buf, 0x08, 4, dims);
    const char *path = write_raw("overflow", buf, h);
    expect_load_error(path, NULL, 0, VAE_ERR_LIMIT, path, "overflow", NULL);
    /* 2^48 bytes fit in size_t but not under the 4 GiB default cap. */
    const uint32_t big[3] = {65536, 65536, 65536};
    h = idx_header(buf, 0x08, 3, big);
    path = write_raw("beyond-cap", buf, h);
    expect_load_error(path, NULL, 0, VAE_ERR_LIMIT, path, "cap", NULL);
}

static void test_corrupt_gzip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *gz = slurp(TEST_IMAGES, &len);
    for (size_t i = len / 2; i < len / 2 + 32; i++) gz[i] ^= 0xA5;
    const char *path = write_raw("corrupt-middle.gz", gz, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, NULL, NULL);
    free(gz);

    /* Only the CRC-32 of the trailer wrong: every byte inflates, the check
     * after the data must still catch it. */
    gz = slurp(TEST_IMAGES, &len);
    gz[len - 8] ^= 0x01;
    path = write_raw("bad-crc.gz", gz, len);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "gzip", NULL);
    free(gz);

    gz = slurp(TEST_LABELS, &len);
    for (size_t i = len / 2; i < len / 2 + 8; i++) gz[i] = (uint8_t)~gz[i];
    path = write_raw("corrupt-labels.gz", gz, len);
    expect_load_error(TEST_IMAGES, path, 0, VAE_ERR_FORMAT, path, NULL, NULL);
    free(gz);
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *gz = slurp(TEST_IMAGES, &len);
    const char *path = write_raw("half.gz", gz, len / 2);
    expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "gzip", "truncated");
    /* Cut inside the 8-byte trailer (CRC-32, length): every pixel inflates,
     * the stream is still cut. */
    for (size_t cut = 1; cut <= 8; cut++) {
        char name[32];
        snprintf(name, sizeof name, "cut-%zu.gz", cut);
        path = write_raw(name, gz, len - cut);
        expect_load_error(path, NULL, 0, VAE_ERR_FORMAT, path, "gzip", "truncated");
    }
    free(gz);

    /* The same where the data ends on the reader's 64 KiB buffer boundary. */
    const size_t count = (size_t)1 << 16;
    uint8_t *buf = malloc(8 + count);
    assert_non_null(buf);
    const uint32_t dims[1] = {(uint32_t)count};
    idx_header(buf, 0x08, 1, dims);
    for (size_t i = 0; i < count; i++) buf[8 + i] = (uint8_t)(i % 251);
    path = write_gz("boundary.gz", buf, 8 + count);
    struct vaei_idx idx;
    assert_int_equal(vaei_idx_read(path, UINT64_MAX, &idx), VAE_OK);
    assert_memory_equal(idx.data, buf + 8, count);
    free(idx.data);
    free(buf);
    gz = slurp(path, &len);
    path = write_raw("boundary-cut.gz", gz, len - 8);
    assert_int_equal(vaei_idx_read(path, UINT64_MAX, &idx), VAE_ERR_FORMAT);
    assert_non_null(strstr(vae_last_error(), "truncated"));
    free(gz);
}

static void test_idx_read_direct(void **state)
{
    (void)state;
    /* 1 dimension of 258 = 0x00000102: big-endian dims. */
    uint8_t buf[8 + 258];
    const uint32_t dims[1] = {258};
    idx_header(buf, 0x08, 1, dims);
    for (size_t i = 0; i < 258; i++) buf[8 + i] = (uint8_t)(255 - i);
    const char *path = write_gz("vector.gz", buf, sizeof buf);
    struct vaei_idx idx;
    assert_int_equal(vaei_idx_read(path, 258, &idx), VAE_OK);
    assert_int_equal(idx.ndims, 1);
    assert_int_equal(idx.dims[0], 258);
    assert_int_equal(idx.count, 258);
    assert_memory_equal(idx.data, buf + 8, 258);
    free(idx.data);

    struct vaei_idx untouched = {.ndims = 77};
    assert_int_equal(vaei_idx_read(path, 257, &untouched), VAE_ERR_LIMIT);
    assert_int_equal(untouched.ndims, 77);
    assert_null(untouched.data);
    assert_int_equal(vaei_idx_read(NULL, 1, &idx), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vaei_idx_read(path, 1, NULL), VAE_ERR_INVALID_ARGUMENT);

    /* Larger than the reader's first buffer (64 KiB), so it grows. */
    size_t len;
    uint8_t *big = make_images(300, 20, 20, 0, &len);
    path = write_raw("grows", big, len);
    assert_int_equal(vaei_idx_read(path, UINT64_MAX, &idx), VAE_OK);
    assert_int_equal(idx.ndims, 3);
    assert_int_equal(idx.count, 120000);
    assert_memory_equal(idx.data, big + 16, 120000);
    free(idx.data);
    free(big);
}

/* The reader's first request used to let zlib inflate 16 KiB; a file of
 * exactly 16384 bytes of header and data then loaded with its trailer cut,
 * its CRC never checked. Every cut of the trailer must fail, whatever the
 * size. */
static void test_gzip_trailer_cut_at_16k(void **state)
{
    (void)state;
    const size_t sizes[] = {16383, 16384, 16385, 32768, 65536 + 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t body = sizes[k] - 8;
        uint8_t *raw = malloc(sizes[k]);
        assert_non_null(raw);
        const uint32_t dims[1] = {(uint32_t)body};
        idx_header(raw, 0x08, 1, dims);
        for (size_t i = 0; i < body; i++) raw[8 + i] = (uint8_t)(i * 13 + i / 256);
        size_t len;
        uint8_t *gz = gz_bytes(raw, sizes[k], &len);
        struct vaei_idx idx;
        assert_int_equal(idx_both(gz, len, UINT64_MAX, &idx), VAE_OK);
        assert_memory_equal(idx.data, raw + 8, body);
        free(idx.data);
        for (size_t cut = 1; cut <= 8; cut++) {
            if (idx_both(gz, len - cut, UINT64_MAX, NULL) != VAE_ERR_FORMAT ||
                !strstr(vae_last_error(), "truncated"))
                fail_msg("%zu bytes, trailer cut by %zu: %s", sizes[k], cut, vae_last_error());
        }
        /* The CRC-32 and the length of the trailer are both checked. */
        gz[len - 8] ^= 0x40;
        assert_int_equal(idx_both(gz, len, UINT64_MAX, NULL), VAE_ERR_FORMAT);
        assert_non_null(strstr(vae_last_error(), "incorrect data check"));
        gz[len - 8] ^= 0x40;
        gz[len - 1] ^= 0x01;
        assert_int_equal(idx_both(gz, len, UINT64_MAX, NULL), VAE_ERR_FORMAT);
        assert_non_null(strstr(vae_last_error(), "incorrect length check"));
        free(gz);
        free(raw);
    }
}

/* gzread ignored anything after the compressed stream that was not another
 * gzip member. Now only further members may follow, as gzip(1) reads them. */
static void test_gzip_trailing_junk(void **state)
{
    (void)state;
    size_t raw_len, len;
    uint8_t *raw = make_images(4, 5, 5, 0, &raw_len);
    uint8_t *gz = gz_bytes(raw, raw_len, &len);
    uint8_t *buf = malloc(len + 4096);
    assert_non_null(buf);
    memcpy(buf, gz, len);
    const struct {
        const char *tail;
        size_t n;
    } junk[] = {{"junk", 4}, {"\x1f", 1}, {"\0\0\0\0\0\0\0\0", 8}, {"\x1f\x8b", 2},
                {"\x1f\x8c\x08\x00", 4}, {"\n", 1}};
    for (size_t k = 0; k < sizeof junk / sizeof junk[0]; k++) {
        memcpy(buf + len, junk[k].tail, junk[k].n);
        if (idx_both(buf, len + junk[k].n, UINT64_MAX, NULL) != VAE_ERR_FORMAT)
            fail_msg("junk %zu was accepted", k);
    }
    memcpy(buf + len, "junk", 4);
    assert_int_equal(idx_both(buf, len + 4, UINT64_MAX, NULL), VAE_ERR_FORMAT);
    assert_non_null(strstr(vae_last_error(), "after the end of the gzip stream"));

    /* Junk beyond the reader's 64 KiB input buffer, after a large file. */
    size_t big_len, big_gz_len;
    uint8_t *big = make_images(200, 28, 28, 0, &big_len);
    uint64_t x = 88172645463325252u; /* xorshift64: incompressible pixels */
    for (size_t i = 16; i < big_len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = (uint8_t)(x >> 56);
    }
    uint8_t *big_gz = gz_bytes(big, big_len, &big_gz_len);
    assert_true(big_gz_len > (size_t)1 << 16);
    big_gz = realloc(big_gz, big_gz_len + 3);
    assert_non_null(big_gz);
    memcpy(big_gz + big_gz_len, "xyz", 3);
    assert_int_equal(idx_both(big_gz, big_gz_len + 3, UINT64_MAX, NULL), VAE_ERR_FORMAT);
    assert_int_equal(idx_both(big_gz, big_gz_len, UINT64_MAX, NULL), VAE_OK);
    free(big_gz);
    free(big);

    /* An empty member after the data is a member like any other. */
    size_t empty_len;
    uint8_t *empty = gz_bytes("", 0, &empty_len);
    memcpy(buf + len, empty, empty_len);
    struct vaei_idx idx;
    assert_int_equal(idx_both(buf, len + empty_len, UINT64_MAX, &idx), VAE_OK);
    assert_memory_equal(idx.data, raw + 16, 100);
    free(idx.data);
    free(empty);
    free(buf);
    free(gz);
    free(raw);
}

/* Several gzip members decode as their concatenation (gzip(1), pigz -i,
 * bgzip write such files); each member is checked like the first. */
static void test_gzip_members(void **state)
{
    (void)state;
    size_t raw_len;
    uint8_t *raw = make_images(6, 7, 7, 0, &raw_len);
    const size_t cuts[4] = {0, 3, 100, raw_len}; /* mid-header and mid-data */
    uint8_t *cat = NULL;
    size_t cat_len = 0, third = 0;
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *part = gz_bytes(raw + cuts[k], cuts[k + 1] - cuts[k], &n);
        cat = realloc(cat, cat_len + n);
        assert_non_null(cat);
        memcpy(cat + cat_len, part, n);
        if (k == 2) third = cat_len;
        cat_len += n;
        free(part);
    }
    struct vaei_idx idx;
    assert_int_equal(idx_both(cat, cat_len, UINT64_MAX, &idx), VAE_OK);
    assert_int_equal(idx.count, 6 * 49);
    assert_memory_equal(idx.data, raw + 16, 6 * 49);
    free(idx.data);
    /* A damaged middle member (its CRC-32), and a last member cut short. */
    cat[third - 8] ^= 0x10;
    assert_int_equal(idx_both(cat, cat_len, UINT64_MAX, NULL), VAE_ERR_FORMAT);
    assert_non_null(strstr(vae_last_error(), "incorrect data check"));
    cat[third - 8] ^= 0x10;
    assert_int_equal(idx_both(cat, cat_len - 3, UINT64_MAX, NULL), VAE_ERR_FORMAT);
    assert_non_null(strstr(vae_last_error(), "truncated"));
    free(cat);
    free(raw);
}

/* Every proper prefix of a file fails; every one-byte change either fails
 * or (in fields gzip does not protect: time stamp, flags of the OS) gives
 * the very same data. */
static void test_every_cut_and_flip(void **state)
{
    (void)state;
    size_t raw_len, gz_len;
    uint8_t *raw = make_images(3, 4, 5, 0, &raw_len);
    uint8_t *gz = gz_bytes(raw, raw_len, &gz_len);
    const uint8_t *files[2] = {raw, gz};
    const size_t lens[2] = {raw_len, gz_len};
    for (int k = 0; k < 2; k++) {
        uint8_t *copy = malloc(lens[k]);
        assert_non_null(copy);
        for (size_t cut = 0; cut < lens[k]; cut++) {
            const vae_status s = idx_both(files[k], cut, UINT64_MAX, NULL);
            if (s != VAE_ERR_FORMAT)
                fail_msg("%s cut to %zu bytes: status %d", k ? "gzip" : "raw", cut, s);
        }
        for (size_t i = 0; i < lens[k]; i++) {
            for (int bit = 0; bit < 8; bit += 7) {
                memcpy(copy, files[k], lens[k]);
                copy[i] ^= (uint8_t)(1u << bit);
                struct vaei_idx idx;
                const vae_status s = idx_both(copy, lens[k], UINT64_MAX, &idx);
                if (s == VAE_OK) {
                    /* raw: a changed pixel; gzip: an unprotected header field */
                    if (k == 0) assert_true(i >= 16);
                    assert_int_equal(idx.count, 60);
                    if (k == 1) assert_memory_equal(idx.data, raw + 16, 60);
                    free(idx.data);
                } else if (s != VAE_ERR_FORMAT && s != VAE_ERR_LIMIT) {
                    fail_msg("%s, byte %zu bit %d: status %d", k ? "gzip" : "raw", i, bit, s);
                }
            }
        }
        free(copy);
    }
    free(gz);
    free(raw);
}

static void test_idx_read_mem(void **state)
{
    (void)state;
    struct vaei_idx idx = {.ndims = 9};
    assert_int_equal(vaei_idx_read_mem(NULL, 0, "nothing", UINT64_MAX, &idx), VAE_ERR_FORMAT);
    assert_string_equal(vae_last_error(), "nothing: truncated header: 0 of 4 bytes");
    assert_int_equal(idx.ndims, 9);
    assert_int_equal(vaei_idx_read_mem(NULL, 1, "x", UINT64_MAX, &idx), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vaei_idx_read_mem("", 0, NULL, UINT64_MAX, &idx), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vaei_idx_read_mem("", 0, "x", UINT64_MAX, NULL), VAE_ERR_INVALID_ARGUMENT);
    /* The bundled files: the same bytes through both paths. */
    size_t len;
    uint8_t *gz = slurp(TEST_LABELS, &len);
    assert_int_equal(idx_both(gz, len, UINT64_MAX, &idx), VAE_OK);
    assert_int_equal(idx.ndims, 1);
    assert_int_equal(idx.dims[0], 2000);
    free(idx.data);
    free(gz);
}

/* ---- in-memory constructors -------------------------------------------- */

static void test_from_u8_copy_and_borrow(void **state)
{
    (void)state;
    uint8_t data[2 * 3] = {0, 1, 128, 254, 255, 7};
    int32_t labels[2] = {4, 1};
    vae_dataset *copy = NULL, *borrow = NULL;
    assert_int_equal(vae_dataset_from_u8(&copy, data, 2, 3, labels, 0), VAE_OK);
    assert_int_equal(vae_dataset_from_u8(&borrow, data, 2, 3, labels, VAE_DATASET_BORROW),
                     VAE_OK);
    assert_int_equal(vae_dataset_count(copy), 2);
    assert_int_equal(vae_dataset_dim(copy), 3);
    assert_int_equal(vae_dataset_num_classes(copy), 5);

    data[4] = 10;
    labels[0] = 9; /* labels are always copied */
    float x[6];
    int32_t y[2];
    assert_int_equal(vae_dataset_get(copy, 0, 2, x, y), VAE_OK);
    assert_true(x[4] == 1.0f && x[0] == 0.0f && x[2] == u8f(128));
    assert_int_equal(y[0], 4);
    assert_int_equal(y[1], 1);
    assert_int_equal(vae_dataset_get(borrow, 1, 1, x, y), VAE_OK);
    assert_true(x[1] == u8f(10));
    assert_int_equal(y[0], 1);
    assert_int_equal(vae_dataset_labels(borrow)[0], 4);
    vae_dataset_free(copy);
    vae_dataset_free(borrow);
}

static void test_from_f32_copy_and_borrow(void **state)
{
    (void)state;
    float data[3 * 2] = {0.5f, -1.0f, 3.25f, 1e30f, -0.0f, 7.0f};
    vae_dataset *copy = NULL, *borrow = NULL;
    assert_int_equal(vae_dataset_from_f32(&copy, data, 3, 2, NULL, 0), VAE_OK);
    assert_int_equal(vae_dataset_from_f32(&borrow, data, 3, 2, NULL, VAE_DATASET_BORROW),
                     VAE_OK);
    assert_int_equal(vae_dataset_num_classes(copy), 0);
    data[5] = 42.0f;
    float x[6];
    assert_int_equal(vae_dataset_get(copy, 0, 3, x, NULL), VAE_OK);
    assert_memory_equal(x, ((float[6]){0.5f, -1.0f, 3.25f, 1e30f, -0.0f, 7.0f}), sizeof x);
    assert_int_equal(vae_dataset_get(borrow, 2, 1, x, NULL), VAE_OK);
    assert_true(x[0] == -0.0f && x[1] == 42.0f);
    vae_dataset_free(copy);
    vae_dataset_free(borrow);
}

static void test_from_f32_rejects_non_finite(void **state)
{
    (void)state;
    float data[4 * 2] = {0, 1, 2, 3, 4, 0, 6, 7};
    data[5] = NAN;
    vae_dataset *const sentinel = (vae_dataset *)&n_created;
    vae_dataset *ds = sentinel;
    assert_int_equal(vae_dataset_from_f32(&ds, data, 4, 2, NULL, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "data[5]"));
    assert_ptr_equal(ds, sentinel);
    assert_int_equal(vae_dataset_from_f32(&ds, data, 4, 2, NULL, VAE_DATASET_BORROW),
                     VAE_ERR_INVALID_ARGUMENT);
    data[5] = 5;
    data[7] = -INFINITY;
    assert_int_equal(vae_dataset_from_f32(&ds, data, 4, 2, NULL, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "data[7]"));
    assert_ptr_equal(ds, sentinel);
    /* The bad value past the n x dim given is not looked at. */
    assert_int_equal(vae_dataset_from_f32(&ds, data, 3, 2, NULL, 0), VAE_OK);
    vae_dataset_free(ds);
}

static void test_bad_labels(void **state)
{
    (void)state;
    const uint8_t data[4] = {1, 2, 3, 4};
    int32_t labels[4] = {0, 1, 2, -1};
    vae_dataset *const sentinel = (vae_dataset *)&n_created;
    vae_dataset *ds = sentinel;
    assert_int_equal(vae_dataset_from_u8(&ds, data, 4, 1, labels, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vae_last_error(), "labels[3]"));
    labels[3] = 65536;
    assert_int_equal(vae_dataset_from_u8(&ds, data, 4, 1, labels, 0), VAE_ERR_INVALID_ARGUMENT);
    const float f[4] = {0};
    assert_int_equal(vae_dataset_from_f32(&ds, f, 4, 1, labels, 0), VAE_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(ds, sentinel);
    labels[3] = 65535;
    assert_int_equal(vae_dataset_from_u8(&ds, data, 4, 1, labels, 0), VAE_OK);
    assert_int_equal(vae_dataset_num_classes(ds), 65536);
    vae_dataset_free(ds);
}

static void test_constructor_misuse(void **state)
{
    (void)state;
    const uint8_t data[4] = {0};
    const float f[4] = {0};
    vae_dataset *const sentinel = (vae_dataset *)&n_created;
    vae_dataset *ds = sentinel;
    const vae_status bad = VAE_ERR_INVALID_ARGUMENT;
    assert_int_equal(vae_dataset_from_u8(NULL, data, 2, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_u8(&ds, NULL, 2, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_u8(&ds, data, 0, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_u8(&ds, data, 2, 0, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_u8(&ds, data, 2, 2, NULL, 2u), bad);
    assert_non_null(strstr(vae_last_error(), "flags"));
    assert_int_equal(vae_dataset_from_u8(&ds, data, 2, 2, NULL, 0x80000001u), bad);
    assert_int_equal(vae_dataset_from_u8(&ds, data, SIZE_MAX / 2 + 1, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_f32(NULL, f, 2, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_f32(&ds, NULL, 2, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_f32(&ds, f, 0, 2, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_f32(&ds, f, 2, 0, NULL, 0), bad);
    assert_int_equal(vae_dataset_from_f32(&ds, f, 2, 2, NULL, 4u), bad);
    assert_int_equal(vae_dataset_from_f32(&ds, f, SIZE_MAX / 8, 3, NULL, 0), bad);
    assert_int_equal(vae_dataset_load_idx(NULL, TEST_IMAGES, NULL, 0), bad);
    assert_int_equal(vae_dataset_load_idx(&ds, NULL, TEST_LABELS, 0), bad);
    assert_ptr_equal(ds, sentinel);

    assert_int_equal(vae_dataset_count(NULL), 0);
    assert_int_equal(vae_dataset_dim(NULL), 0);
    assert_int_equal(vae_dataset_num_classes(NULL), 0);
    assert_null(vae_dataset_labels(NULL));
    vae_dataset_free(NULL);
}

/* ---- access, shuffling, batches ---------------------------------------- */

enum { N = 10, DIM = 3 };

/* Sample i holds (i, i + 0.5, -i) and label i. */
static vae_dataset *numbered(void)
{
    float data[N * DIM];
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        data[i * DIM] = (float)i;
        data[i * DIM + 1] = (float)i + 0.5f;
        data[i * DIM + 2] = (float)-i;
        labels[i] = i;
    }
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_from_f32(&ds, data, N, DIM, labels, 0), VAE_OK);
    return ds;
}

static void test_get_and_misuse(void **state)
{
    (void)state;
    vae_dataset *ds = numbered();
    float x[N * DIM];
    int32_t y[N];
    assert_int_equal(vae_dataset_get(ds, 7, 3, x, y), VAE_OK);
    assert_true(x[0] == 7.0f && x[4] == 8.5f && x[8] == -9.0f);
    assert_int_equal(y[2], 9);

    const vae_status bad = VAE_ERR_INVALID_ARGUMENT;
    x[0] = 123.0f;
    y[0] = 123;
    assert_int_equal(vae_dataset_get(NULL, 0, 1, x, y), bad);
    assert_int_equal(vae_dataset_get(ds, 0, 1, NULL, y), bad);
    assert_int_equal(vae_dataset_get(ds, 0, 0, x, y), bad);
    assert_int_equal(vae_dataset_get(ds, N, 1, x, y), bad);
    assert_int_equal(vae_dataset_get(ds, 8, 3, x, y), bad);
    assert_int_equal(vae_dataset_get(ds, 1, SIZE_MAX, x, y), bad);
    assert_int_equal(vae_dataset_get(ds, SIZE_MAX, 2, x, y), bad);
    assert_true(x[0] == 123.0f);
    assert_int_equal(y[0], 123);
    vae_dataset_free(ds);
}

static void test_gather_stride(void **state)
{
    (void)state;
    const uint8_t data[3 * 4] = {0, 1, 2, 3, 100, 127, 128, 129, 252, 253, 254, 255};
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_from_u8(&ds, data, 3, 4, NULL, 0), VAE_OK);
    const size_t idx[3] = {2, 0, 2};
    float x[3 * 6];
    for (size_t i = 0; i < 3 * 6; i++) x[i] = -7.0f;
    vaei_dataset_gather(ds, idx, 3, x, 6);
    for (size_t k = 0; k < 3; k++) {
        for (size_t j = 0; j < 4; j++) assert_true(x[k * 6 + j] == u8f(data[idx[k] * 4 + j]));
        assert_true(x[k * 6 + 4] == -7.0f && x[k * 6 + 5] == -7.0f);
    }
    assert_true(x[3] == 1.0f && x[6] == 0.0f);
    vae_dataset_free(ds);
}

/* One epoch of batches: sizes, each sample once, rows matching labels;
 * order[] receives the labels in batch order. */
static void run_epoch(const vae_dataset *ds, size_t batch, size_t *order)
{
    const size_t batches = (N + batch - 1) / batch;
    int seen[N] = {0};
    size_t pos = 0;
    float x[N * DIM];
    int32_t y[N];
    for (size_t b = 0; b < batches; b++) {
        size_t n = 0;
        assert_int_equal(vae_dataset_batch(ds, b, batch, x, y, &n), VAE_OK);
        assert_int_equal(n, b + 1 < batches ? batch : N - (batches - 1) * batch);
        for (size_t k = 0; k < n; k++) {
            assert_true(y[k] >= 0 && y[k] < N);
            seen[y[k]]++;
            assert_true(x[k * DIM] == (float)y[k] && x[k * DIM + 2] == (float)-y[k]);
            order[pos++] = (size_t)y[k];
        }
    }
    assert_int_equal(pos, N);
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    size_t n = 99;
    assert_int_equal(vae_dataset_batch(ds, batches, batch, x, y, &n), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(n, 99);
}

static void test_batch_epoch(void **state)
{
    (void)state;
    vae_dataset *ds = numbered();
    size_t order[N];
    run_epoch(ds, 3, order); /* 3 + 3 + 3 + 1 */
    for (size_t i = 0; i < N; i++) assert_int_equal(order[i], i);
    run_epoch(ds, 5, order);
    run_epoch(ds, N, order);
    run_epoch(ds, 1000, order);
    assert_int_equal(vae_dataset_shuffle(ds, 3), VAE_OK);
    run_epoch(ds, 3, order);
    run_epoch(ds, 4, order);

    /* Without labels the labels output must be NULL. */
    const float data[2] = {1, 2};
    vae_dataset *plain = NULL;
    assert_int_equal(vae_dataset_from_f32(&plain, data, 2, 1, NULL, 0), VAE_OK);
    float x[2];
    int32_t y[2];
    size_t n = 0;
    assert_int_equal(vae_dataset_batch(plain, 0, 2, x, y, &n), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_dataset_batch(plain, 0, 2, x, NULL, &n), VAE_OK);
    assert_int_equal(n, 2);
    vae_dataset_free(plain);

    const vae_status bad = VAE_ERR_INVALID_ARGUMENT;
    assert_int_equal(vae_dataset_batch(NULL, 0, 2, x, NULL, &n), bad);
    assert_int_equal(vae_dataset_batch(ds, 0, 0, x, NULL, &n), bad);
    assert_int_equal(vae_dataset_batch(ds, 0, 2, NULL, NULL, &n), bad);
    assert_int_equal(vae_dataset_batch(ds, 0, 2, x, NULL, NULL), bad);
    assert_int_equal(vae_dataset_batch(ds, SIZE_MAX, SIZE_MAX, x, NULL, &n), bad);
    assert_int_equal(vae_dataset_shuffle(NULL, 1), bad);
    vae_dataset_free(ds);
}

static void test_shuffle_deterministic(void **state)
{
    (void)state;
    vae_dataset *a = numbered(), *b = numbered();
    size_t oa[N], ob[N], oc[N];
    assert_int_equal(vae_dataset_shuffle(a, 42), VAE_OK);
    assert_int_equal(vae_dataset_shuffle(b, 42), VAE_OK);
    run_epoch(a, 4, oa);
    run_epoch(b, 4, ob);
    assert_memory_equal(oa, ob, sizeof oa);

    /* The order is the RNG's permutation for that seed. */
    size_t want[N];
    vaei_rng r;
    vaei_rng_seed(&r, 42);
    vaei_rng_permutation(&r, want, N);
    assert_memory_equal(oa, want, sizeof oa);
    int identity = 1;
    for (size_t i = 0; i < N; i++) identity &= oa[i] == i;
    assert_false(identity);

    /* Another seed, another order; the first seed again, the first order. */
    assert_int_equal(vae_dataset_shuffle(a, 43), VAE_OK);
    run_epoch(a, 4, oc);
    assert_memory_not_equal(oa, oc, sizeof oa);
    assert_int_equal(vae_dataset_shuffle(a, 42), VAE_OK);
    run_epoch(a, 4, oc);
    assert_memory_equal(oa, oc, sizeof oa);
    vae_dataset_free(a);
    vae_dataset_free(b);
}

static void test_shuffle_bundled(void **state)
{
    (void)state;
    vae_dataset *ds = NULL;
    assert_int_equal(vae_dataset_load_idx(&ds, TEST_IMAGES, TEST_LABELS, 0), VAE_OK);
    assert_int_equal(vae_dataset_shuffle(ds, 7), VAE_OK);
    const size_t batch = 128, n = 2000;
    float *x = malloc(batch * 784 * sizeof *x), *row = malloc(784 * sizeof *row);
    int32_t y[128];
    assert_non_null(x);
    assert_non_null(row);
    size_t perm[2000];
    vaei_rng r;
    vaei_rng_seed(&r, 7);
    vaei_rng_permutation(&r, perm, n);
    size_t total = 0;
    for (size_t b = 0; b * batch < n; b++) {
        size_t got = 0;
        assert_int_equal(vae_dataset_batch(ds, b, batch, x, y, &got), VAE_OK);
        assert_int_equal(got, (b + 1) * batch <= n ? batch : n % batch);
        for (size_t k = 0; k < got; k++) {
            const size_t i = perm[total + k];
            assert_int_equal(y[k], vae_dataset_labels(ds)[i]);
            assert_int_equal(vae_dataset_get(ds, i, 1, row, NULL), VAE_OK);
            assert_memory_equal(x + k * 784, row, 784 * sizeof *row);
        }
        total += got;
    }
    assert_int_equal(total, n);
    free(x);
    free(row);
    vae_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_bundled_train),
        cmocka_unit_test(test_load_bundled_test),
        cmocka_unit_test(test_load_without_labels),
        cmocka_unit_test(test_raw_matches_gz),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_label_count_mismatch),
        cmocka_unit_test(test_wrong_file_roles),
        cmocka_unit_test(test_nonexistent_path),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_type),
        cmocka_unit_test(test_bad_ndims),
        cmocka_unit_test(test_zero_dimension),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_truncated_pixels),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_dims_overflow),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_idx_read_direct),
        cmocka_unit_test(test_gzip_trailer_cut_at_16k),
        cmocka_unit_test(test_gzip_trailing_junk),
        cmocka_unit_test(test_gzip_members),
        cmocka_unit_test(test_every_cut_and_flip),
        cmocka_unit_test(test_idx_read_mem),
        cmocka_unit_test(test_from_u8_copy_and_borrow),
        cmocka_unit_test(test_from_f32_copy_and_borrow),
        cmocka_unit_test(test_from_f32_rejects_non_finite),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_constructor_misuse),
        cmocka_unit_test(test_get_and_misuse),
        cmocka_unit_test(test_gather_stride),
        cmocka_unit_test(test_batch_epoch),
        cmocka_unit_test(test_shuffle_deterministic),
        cmocka_unit_test(test_shuffle_bundled),
    };
    return cmocka_run_group_tests_name("dataset", tests, group_setup, group_teardown);
}
