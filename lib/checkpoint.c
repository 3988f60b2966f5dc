/*
 * The checkpoint file: the only module that knows its byte layout.
 * Layout (docs/checkpoint-format.md), all integers little-endian:
 *
 *   magic    8 bytes  "\x89VAE\r\n\x1a\n"
 *   version  u32      VAEI_CKPT_VERSION
 *   chunks   each: tag (4 bytes), u64 payload length, payload
 *     "ARCH"  u32 count, count x (u32 parameter id, f64 value),
 *             u32 encoder layers, widths (u32 each), u32 decoder layers, widths
 *     "STAT"  u64 steps, u64 epochs, 4 x u64 noise state
 *     "LAYR"  (version 2 only) u32 channels, height, width of the input
 *             image (0s: default), then per side u32 length, spec bytes
 *     "PARM"  u64 count, count x f32
 *     "OPTM"  u32 kind, u32 count, count x (u32 id, f64 value), u64 t,
 *             u64 n, n x f32 first moment, (Adam) n x f32 second moment
 *   crc32    u32      zlib CRC-32 of every byte before it
 *
 * The magic, version and ARCH chunk (which comes first) are read before
 * anything is allocated for the rest: the file may be at most as large as
 * that architecture's checkpoint. Then the whole file is read and its CRC
 * checked before the rest is parsed; every length is checked against the
 * bytes that remain, and every value against its domain.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint.h"
#include "error.h"
#include "file.h"
#include "kernels/elementwise.h"
#include "model.h"
#include "optim.h"

/* The newest format this reader knows. A writer uses 1 unless the model
 * has layer specs, which need 2 (the LAYR chunk): a 1.0 reader refuses a
 * version above 1 as VAE_ERR_UNSUPPORTED before it parses any chunk. */
#define VAEI_CKPT_VERSION 2u
static const unsigned char MAGIC[8] = {0x89, 'V', 'A', 'E', '\r', '\n', 0x1a, '\n'};

/* Largest checkpoint accepted: far above any model the limits allow to be
 * useful, far below what would exhaust memory by accident. */
#define MAX_FILE ((uint64_t)1 << 36)

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(wbuf *b, uint32_t v)
{
    unsigned char c[4];
    for (int i = 0; i < 4; i++) c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 4);
}

static void put_u64(wbuf *b, uint64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++) c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 8);
}

static void put_f64(wbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_f32s(wbuf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(b, u);
    }
}

/* Chunk header with a length patched in by end_chunk(). */
static size_t begin_chunk(wbuf *b, const char tag[4])
{
    put(b, tag, 4);
    put_u64(b, 0);
    return b->len;
}

static void end_chunk(wbuf *b, size_t start)
{
    if (b->oom) return;
    const uint64_t n = b->len - start;
    for (int i = 0; i < 8; i++) b->p[start - 8 + i] = (unsigned char)(n >> (8 * i));
}

/* ARCH: the stored settings (config.h's table, in its order), then each
 * side's dense widths. */
static void put_arch(wbuf *b, const struct vae_config *cfg)
{
    uint32_t count = 0;
    for (int i = 0; i < VAEI_NSLOTS; i++) count += !(vaei_param_flags(i) & VAEI_LOCAL);
    const size_t c = begin_chunk(b, "ARCH");
    put_u32(b, count);
    for (int i = 0; i < VAEI_NSLOTS; i++) {
        if (vaei_param_flags(i) & VAEI_LOCAL) continue;
        put_u32(b, (uint32_t)vaei_param_id(i));
        put_f64(b, cfg->v[i]);
    }
    for (int s = 0; s < 2; s++) {
        put_u32(b, (uint32_t)cfg->n_hidden[s]);
        for (size_t l = 0; l < cfg->n_hidden[s]; l++) put_u32(b, (uint32_t)cfg->hidden[s][l]);
    }
    end_chunk(b, c);
}

/* LAYR: the input image's shape and both sides' layer specs. */
static void put_layers(wbuf *b, const struct vae_config *cfg)
{
    const size_t c = begin_chunk(b, "LAYR");
    for (int i = 0; i < 3; i++) put_u32(b, (uint32_t)cfg->shape[i]);
    for (int s = 0; s < 2; s++) {
        const size_t len = strlen(cfg->spec[s]);
        put_u32(b, (uint32_t)len);
        put(b, cfg->spec[s], len);
    }
    end_chunk(b, c);
}

static void put_optimizer(wbuf *b, const vae_optimizer *opt)
{
    const size_t c = begin_chunk(b, "OPTM");
    put_u32(b, (uint32_t)opt->kind);
    put_u32(b, VAEI_OPTIM_NPARAMS);
    for (uint32_t p = 1; p <= VAEI_OPTIM_NPARAMS; p++) {
        put_u32(b, p);
        put_f64(b, opt->hp[p]);
    }
    put_u64(b, opt->t);
    put_u64(b, opt->n);
    put_f32s(b, opt->m, opt->n);
    if (opt->v) put_f32s(b, opt->v, opt->n);
    end_chunk(b, c);
}

/* The whole file but its CRC, whose 4 bytes are left as 0. */
static void serialize(wbuf *b, const vae_model *m, const vae_optimizer *opt)
{
    const struct vae_config *cfg = &m->cfg;
    const int layers = cfg->spec[0][0] || cfg->spec[1][0] || cfg->shape[0];
    put(b, MAGIC, sizeof MAGIC);
    put_u32(b, layers ? 2u : 1u);
    put_arch(b, cfg);
    if (layers) put_layers(b, cfg);

    size_t c = begin_chunk(b, "STAT");
    put_u64(b, m->steps);
    put_u64(b, m->epochs);
    for (int i = 0; i < 4; i++) put_u64(b, m->rng.s[i]);
    end_chunk(b, c);

    c = begin_chunk(b, "PARM");
    put_u64(b, m->n_params);
    put_f32s(b, m->params, m->n_params);
    end_chunk(b, c);

    if (opt) put_optimizer(b, opt);
    put_u32(b, 0); /* the CRC-32, patched in once the bytes are complete */
}

/* zlib's crc32 takes a uInt length: feed large buffers in pieces. */
static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        const uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)crc;
}

static vae_status write_all(int fd, const unsigned char *p, size_t n, const char *path)
{
    while (n > 0) {
        const ssize_t k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        VAEI_CHECK(k > 0, VAE_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    return VAE_OK;
}

/* Write to a temporary file in the same directory, fsync, rename over the
 * target, fsync the directory: the target is always old or new, whole. */
static vae_status write_atomic(const char *path, const unsigned char *p, size_t n)
{
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    VAEI_CHECK(tmp != NULL, VAE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        const vae_status s = vaei_fail(VAE_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                                       path, strerror(errno));
        free(tmp);
        return s;
    }
    vae_status s = write_all(fd, p, n, path);
    if (s == VAE_OK && fsync(fd) != 0)
        s = vaei_fail(VAE_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && s == VAE_OK)
        s = vaei_fail(VAE_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    /* mkstemp creates 0600; a checkpoint is an ordinary file. */
    if (s == VAE_OK) {
        const mode_t mask = umask(0);
        umask(mask);
        (void)chmod(tmp, 0666 & ~mask);
    }
    if (s == VAE_OK && rename(tmp, path) != 0)
        s = vaei_fail(VAE_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (s != VAE_OK) {
        unlink(tmp);
        free(tmp);
        return s;
    }
    /* Make the rename itself durable. */
    char *slash = strrchr(tmp, '/');
    const char *dir = ".";
    if (slash) {
        *slash = '\0';
        dir = slash == tmp ? "/" : tmp;
    }
    const int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return VAE_OK;
}

/* The index of the first value of x[0..n) that is not finite or is below
 * lo, or n. */
static size_t first_outside(const float *x, size_t n, float lo)
{
    /* The fast path, on this thread only: a save may run in a forked child,
     * where the kernels' thread pool has no threads (test_kill_save). */
    if (lo == -INFINITY && vaei_vec()->all_finite(x, n)) return n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < lo) return i;
    return n;
}

/* Only what a load accepts is written: a save of a poisoned model would
 * replace the last good checkpoint with one that no load accepts. */
static vae_status check_saveable(const char *path, const vae_model *m, const vae_optimizer *opt)
{
    size_t i = first_outside(m->params, m->n_params, -INFINITY);
    VAEI_CHECK(i == m->n_params, VAE_ERR_NUMERIC,
               "%s: not saved: parameter %zu is %g (the file is left as it was)", path, i,
               (double)m->params[i]);
    if (!opt) return VAE_OK;
    i = first_outside(opt->m, opt->n, -INFINITY);
    VAEI_CHECK(i == opt->n, VAE_ERR_NUMERIC,
               "%s: not saved: optimizer moment %zu is %g (the file is left as it was)", path, i,
               (double)opt->m[i]);
    if (!opt->v) return VAE_OK;
    i = first_outside(opt->v, opt->n, 0.0f);
    VAEI_CHECK(i == opt->n, VAE_ERR_NUMERIC,
               "%s: not saved: second moment %zu is %g (the file is left as it was)", path, i,
               (double)opt->v[i]);
    return VAE_OK;
}

vae_status vaei_checkpoint_write(const vae_model *m, const vae_optimizer *opt, const char *name,
                                 unsigned char **bytes, size_t *len)
{
    wbuf b = {0};
    serialize(&b, m, opt);
    if (b.oom) {
        free(b.p);
        return vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: no memory to serialise the checkpoint", name);
    }
    const uint32_t crc = crc_of(b.p, b.len - 4);
    for (int i = 0; i < 4; i++) b.p[b.len - 4 + i] = (unsigned char)(crc >> (8 * i));
    *bytes = b.p;
    *len = b.len;
    return VAE_OK;
}

vae_status vae_checkpoint_save(const char *path, const vae_model *m, const vae_optimizer *opt)
{
    VAEI_CHECK_ARG(path != NULL && m != NULL);
    VAEI_CHECK(!opt || opt->model == m, VAE_ERR_INVALID_ARGUMENT,
               "the optimizer belongs to another model");
    VAEI_TRY(check_saveable(path, m, opt));
    unsigned char *bytes;
    size_t len;
    VAEI_TRY(vaei_checkpoint_write(m, opt, path, &bytes, &len));
    const vae_status s = write_atomic(path, bytes, len);
    free(bytes);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

/* Re-record the last error (made under vaei_quiet) as "path: message" with
 * status s; this fuller line is the one logged. */
static vae_status with_path(vae_status s, const char *path)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s", vae_last_error());
    return vaei_fail(s, "%s: %s", path, msg);
}

typedef struct {
    const unsigned char *p;
    size_t left;
    const char *path;
} rbuf;

static vae_status take(rbuf *r, void *dst, size_t n, const char *what)
{
    VAEI_CHECK(n <= r->left, VAE_ERR_FORMAT, "%s: truncated %s (%zu bytes needed, %zu left)",
               r->path, what, n, r->left);
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return VAE_OK;
}

static vae_status get_u32(rbuf *r, uint32_t *v, const char *what)
{
    unsigned char c[4] = {0};
    VAEI_TRY(take(r, c, 4, what));
    *v = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    return VAE_OK;
}

static vae_status get_u64(rbuf *r, uint64_t *v, const char *what)
{
    uint32_t lo, hi;
    VAEI_TRY(get_u32(r, &lo, what));
    VAEI_TRY(get_u32(r, &hi, what));
    *v = (uint64_t)hi << 32 | lo;
    return VAE_OK;
}

static vae_status get_f64(rbuf *r, double *v, const char *what)
{
    uint64_t u;
    VAEI_TRY(get_u64(r, &u, what));
    memcpy(v, &u, 8);
    return VAE_OK;
}

/* n finite floats into dst, each >= lo; n was checked against the bytes left. */
static vae_status get_f32s(rbuf *r, float *dst, size_t n, float lo, const char *what)
{
    VAEI_CHECK(n <= r->left / 4, VAE_ERR_FORMAT, "%s: %s holds fewer than %zu values", r->path,
               what, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        VAEI_TRY(get_u32(r, &u, what));
        memcpy(&dst[i], &u, 4);
        VAEI_CHECK(isfinite(dst[i]), VAE_ERR_FORMAT, "%s: %s value %zu is not finite", r->path,
                   what, i);
        VAEI_CHECK(dst[i] >= lo, VAE_ERR_FORMAT, "%s: %s value %zu is %g, below %g", r->path,
                   what, i, (double)dst[i], (double)lo);
    }
    return VAE_OK;
}

/* A counter that the next step or epoch increments: UINT64_MAX would wrap
 * to 0 (and Adam's bias correction 1 - beta^0 would divide by 0). */
static vae_status check_counter(const rbuf *r, uint64_t v, const char *what)
{
    VAEI_CHECK(v < UINT64_MAX, VAE_ERR_FORMAT, "%s: %s %llu would wrap at the next increment",
               r->path, what, (unsigned long long)v);
    return VAE_OK;
}

static vae_status read_arch(rbuf *r, struct vae_config *cfg)
{
    uint32_t count;
    vaei_config_defaults(cfg);
    VAEI_TRY(get_u32(r, &count, "architecture"));
    VAEI_CHECK(count <= r->left / 12, VAE_ERR_FORMAT, "%s: architecture lists %u settings in %zu bytes",
               r->path, count, r->left);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id;
        double v;
        VAEI_TRY(get_u32(r, &id, "architecture"));
        VAEI_TRY(get_f64(r, &v, "architecture"));
        const int slot = id <= INT_MAX ? vaei_param_slot((vae_param)id) : -1;
        VAEI_CHECK(slot >= 0, VAE_ERR_UNSUPPORTED, "%s: unknown setting %u (written by a newer libvae?)",
                   r->path, id);
        vaei_quiet(1);
        const vae_status ok = vaei_param_check(slot, v);
        vaei_quiet(0);
        if (ok != VAE_OK) return with_path(VAE_ERR_FORMAT, r->path);
        cfg->v[slot] = v;
    }
    for (int s = 0; s < 2; s++) {
        uint32_t n;
        VAEI_TRY(get_u32(r, &n, "architecture"));
        VAEI_CHECK(n >= 1 && n <= VAEI_MAX_LAYERS, VAE_ERR_FORMAT, "%s: %u hidden layers",
                   r->path, n);
        cfg->n_hidden[s] = n;
        for (uint32_t l = 0; l < n; l++) {
            uint32_t w;
            VAEI_TRY(get_u32(r, &w, "architecture"));
            cfg->hidden[s][l] = w;
        }
    }
    vaei_quiet(1);
    const vae_status ok = vaei_config_validate(cfg);
    vaei_quiet(0);
    if (ok != VAE_OK) return with_path(VAE_ERR_FORMAT, r->path);
    return VAE_OK;
}

/* Settings an OPTM chunk may list: the 6 of today and room for a newer
 * libvae's (whose ids are then refused as VAE_ERR_UNSUPPORTED). */
#define MAX_OPTIM_SETTINGS 64u

/* LAYR: the input shape and both sides' layer specs, checked as the
 * setters check them. */
static vae_status read_layers(rbuf *r, struct vae_config *cfg)
{
    uint32_t shape[3];
    for (int i = 0; i < 3; i++) VAEI_TRY(get_u32(r, &shape[i], "layers"));
    for (int i = 0; i < 3; i++) cfg->shape[i] = shape[i];
    for (int s = 0; s < 2; s++) {
        uint32_t len;
        VAEI_TRY(get_u32(r, &len, "layers"));
        VAEI_CHECK(len < VAEI_MAX_SPEC && len <= r->left, VAE_ERR_FORMAT,
                   "%s: layer spec of %u bytes", r->path, len);
        VAEI_TRY(take(r, cfg->spec[s], len, "layers"));
        cfg->spec[s][len] = 0;
        VAEI_CHECK(strlen(cfg->spec[s]) == len, VAE_ERR_FORMAT, "%s: NUL in a layer spec",
                   r->path);
    }
    if (vaei_config_validate(cfg) != VAE_OK) return with_path(VAE_ERR_FORMAT, r->path);
    return VAE_OK;
}

static vae_status read_optimizer(rbuf *r, vae_model *m, vae_optimizer **out)
{
    uint32_t kind, count;
    VAEI_TRY(get_u32(r, &kind, "optimizer"));
    VAEI_CHECK(kind == VAE_OPTIM_ADAM || kind == VAE_OPTIM_SGD, VAE_ERR_FORMAT,
               "%s: unknown optimizer kind %u", r->path, kind);
    VAEI_TRY(get_u32(r, &count, "optimizer"));
    VAEI_CHECK(count <= r->left / 12 && count <= MAX_OPTIM_SETTINGS, VAE_ERR_FORMAT,
               "%s: optimizer lists %u settings", r->path, count);
    double hp[VAEI_OPTIM_NPARAMS + 1] = {0};
    for (uint32_t i = 0; i < count; i++) {
        uint32_t id;
        double v;
        VAEI_TRY(get_u32(r, &id, "optimizer"));
        VAEI_TRY(get_f64(r, &v, "optimizer"));
        VAEI_CHECK(id >= 1 && id <= VAEI_OPTIM_NPARAMS, VAE_ERR_UNSUPPORTED,
                   "%s: unknown optimizer setting %u", r->path, id);
        vaei_quiet(1);
        const vae_status ok = vaei_optim_param_check((vae_optim_param)id, v);
        vaei_quiet(0);
        if (ok != VAE_OK) return with_path(VAE_ERR_FORMAT, r->path);
        hp[id] = v;
    }
    uint64_t t, n;
    VAEI_TRY(get_u64(r, &t, "optimizer"));
    VAEI_TRY(check_counter(r, t, "the optimizer's update count"));
    VAEI_TRY(get_u64(r, &n, "optimizer"));
    VAEI_CHECK(n == m->n_params, VAE_ERR_FORMAT,
               "%s: optimizer state for %llu parameters, model has %zu", r->path,
               (unsigned long long)n, m->n_params);
    const uint64_t moments = kind == VAE_OPTIM_ADAM ? 2 : 1;
    VAEI_CHECK(n <= r->left / 4 / moments, VAE_ERR_FORMAT,
               "%s: optimizer state for %llu parameters in %zu bytes", r->path,
               (unsigned long long)n, r->left);
    vae_optimizer *o;
    VAEI_TRY(vaei_optimizer_new(&o, m, (vae_optim_kind)kind));
    for (uint32_t i = 1; i <= VAEI_OPTIM_NPARAMS; i++)
        if (i <= count) o->hp[i] = hp[i];
    o->t = t;
    /* Adam's second moment is an average of squares: v >= 0, or sqrt(v)
     * is NaN and the first update poisons every parameter. */
    vae_status s = get_f32s(r, o->m, o->n, -INFINITY, "optimizer first moment");
    if (s == VAE_OK && o->v) s = get_f32s(r, o->v, o->n, 0.0f, "optimizer second moment");
    if (s != VAE_OK) {
        vae_optimizer_free(o);
        return s;
    }
    *out = o;
    return VAE_OK;
}

/* The first bytes of a file: magic and version (MAGIC then u32). */
static vae_status read_magic(const unsigned char *data, size_t len, const char *path,
                             uint32_t *format)
{
    VAEI_CHECK(len >= sizeof MAGIC && memcmp(data, MAGIC, sizeof MAGIC) == 0, VAE_ERR_FORMAT,
               "%s: not a libvae checkpoint (bad magic)", path);
    VAEI_CHECK(len >= sizeof MAGIC + 8, VAE_ERR_FORMAT, "%s: truncated (%zu bytes)", path, len);
    const unsigned char *v = data + sizeof MAGIC;
    const uint32_t version = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                             (uint32_t)v[3] << 24;
    VAEI_CHECK(version <= VAEI_CKPT_VERSION, VAE_ERR_UNSUPPORTED,
               "%s: format version %u is newer than this libvae reads (%u)", path, version,
               VAEI_CKPT_VERSION);
    VAEI_CHECK(version >= 1, VAE_ERR_FORMAT, "%s: format version 0", path);
    *format = version;
    return VAE_OK;
}

/* One chunk of the head, tagged `want`, from r into *c; returns its size
 * with its 12-byte header. */
static vae_status head_chunk(rbuf *r, const char *want, rbuf *c, uint64_t *bytes)
{
    char tag[5] = {0};
    uint64_t clen;
    VAEI_TRY(take(r, tag, 4, "chunk header"));
    VAEI_TRY(get_u64(r, &clen, "chunk header"));
    VAEI_CHECK(!memcmp(tag, want, 4), VAE_ERR_FORMAT, "%s: chunk \"%s\" where %s belongs",
               r->path, tag, want);
    VAEI_CHECK(clen <= r->left, VAE_ERR_FORMAT, "%s: chunk %s claims %llu bytes, %zu left",
               r->path, want, (unsigned long long)clen, r->left);
    *c = (rbuf){r->p, (size_t)clen, r->path};
    r->p += clen;
    r->left -= clen;
    *bytes = 12 + clen;
    return VAE_OK;
}

/* The architecture, which comes first: the ARCH chunk, and in version 2 a
 * LAYR chunk right after it when the model has layer specs; from r (just
 * past the version) into cfg. *max receives the most bytes a whole file of
 * that architecture can hold: header, ARCH, LAYR, STAT, PARM and the larger
 * OPTM (Adam), and the CRC. */
static vae_status read_head(rbuf *r, uint32_t version, struct vae_config *cfg, uint64_t *max)
{
    rbuf c;
    uint64_t head, layr = 0;
    VAEI_TRY(head_chunk(r, "ARCH", &c, &head));
    VAEI_TRY(read_arch(&c, cfg));
    VAEI_CHECK(c.left == 0, VAE_ERR_FORMAT, "%s: chunk ARCH has %zu stray bytes", r->path, c.left);
    if (version >= 2 && r->left >= 12 && !memcmp(r->p, "LAYR", 4)) {
        VAEI_TRY(head_chunk(r, "LAYR", &c, &layr));
        VAEI_TRY(read_layers(&c, cfg));
        VAEI_CHECK(c.left == 0, VAE_ERR_FORMAT, "%s: chunk LAYR has %zu stray bytes", r->path,
                   c.left);
    }
    size_t n;
    vaei_quiet(1);
    const vae_status s = vaei_model_param_total(cfg, &n); /* < 2^46: no overflow below */
    vaei_quiet(0);
    if (s != VAE_OK) return with_path(s == VAE_ERR_INVALID_ARGUMENT ? VAE_ERR_FORMAT : s, r->path);
    *max = (sizeof MAGIC + 4) + head + layr + (12 + 48) + (12 + 8 + 4 * (uint64_t)n) +
           (12 + 8 + 12 * MAX_OPTIM_SETTINGS + 16 + 8 * (uint64_t)n) + 4;
    return VAE_OK;
}

/* Largest ARCH chunk read before the size check: 12-byte settings and 2 x
 * 17 u32 layer counts and widths need far less. */
#define HEAD_BYTES ((size_t)1 << 16)

/* What the chunks after the head have given so far. */
typedef struct {
    struct vae_config cfg;
    int have_stat;
    uint64_t steps, epochs, rng[4];
    vae_model *m;
    vae_optimizer *o;
} parsed;

/* STAT: the counters and the noise state. */
static vae_status read_state(rbuf *c, parsed *f)
{
    VAEI_TRY(get_u64(c, &f->steps, "state"));
    VAEI_TRY(check_counter(c, f->steps, "the step count"));
    VAEI_TRY(get_u64(c, &f->epochs, "state"));
    VAEI_TRY(check_counter(c, f->epochs, "the epoch count"));
    for (int i = 0; i < 4; i++) VAEI_TRY(get_u64(c, &f->rng[i], "state"));
    VAEI_CHECK(f->rng[0] | f->rng[1] | f->rng[2] | f->rng[3], VAE_ERR_FORMAT,
               "%s: zero noise state", c->path);
    f->have_stat = 1;
    return VAE_OK;
}

/* PARM: the model of the head's architecture, and its parameters. */
static vae_status read_params(rbuf *c, parsed *f)
{
    uint64_t n;
    VAEI_TRY(get_u64(c, &n, "parameters"));
    /* 0 would skip vaei_model_new's count check and allocate what the
     * architecture asks before any byte of it is seen. */
    VAEI_CHECK(n != 0, VAE_ERR_FORMAT, "%s: 0 parameters stored", c->path);
    VAEI_CHECK(n <= c->left / 4, VAE_ERR_FORMAT, "%s: %llu parameters claimed, %zu bytes hold them",
               c->path, (unsigned long long)n, c->left);
    /* Shapes a layer spec cannot hold are a malformed file here. */
    vaei_quiet(1);
    const vae_status s = vaei_model_new(&f->m, &f->cfg, 0, (size_t)n);
    vaei_quiet(0);
    if (s != VAE_OK) return with_path(s == VAE_ERR_INVALID_ARGUMENT ? VAE_ERR_FORMAT : s, c->path);
    return get_f32s(c, f->m->params, f->m->n_params, -INFINITY, "parameters");
}

/* One chunk after the head: STAT, PARM, then an optional OPTM, each once. */
static vae_status read_chunk(rbuf *r, parsed *f)
{
    char tag[5] = {0};
    uint64_t clen;
    VAEI_TRY(take(r, tag, 4, "chunk header"));
    VAEI_TRY(get_u64(r, &clen, "chunk header"));
    VAEI_CHECK(clen <= r->left, VAE_ERR_FORMAT, "%s: chunk %s claims %llu bytes, %zu left",
               r->path, tag, (unsigned long long)clen, r->left);
    rbuf c = {r->p, (size_t)clen, r->path};
    r->p += clen;
    r->left -= clen;
    if (!memcmp(tag, "STAT", 4) && !f->have_stat)
        VAEI_TRY(read_state(&c, f));
    else if (!memcmp(tag, "PARM", 4) && !f->m)
        VAEI_TRY(read_params(&c, f));
    else if (!memcmp(tag, "OPTM", 4) && f->m && !f->o)
        VAEI_TRY(read_optimizer(&c, f->m, &f->o));
    else
        return vaei_fail(VAE_ERR_FORMAT, "%s: unexpected chunk \"%s\"", r->path, tag);
    VAEI_CHECK(c.left == 0, VAE_ERR_FORMAT, "%s: chunk %s has %zu stray bytes", r->path, tag,
               c.left);
    return VAE_OK;
}

/* The magic, the version and the CRC of a whole file; r receives the bytes
 * between the version and the CRC. */
static vae_status open_bytes(const unsigned char *data, size_t len, const char *path,
                             uint32_t *version, rbuf *r)
{
    VAEI_TRY(read_magic(data, len, path, version));
    VAEI_CHECK(len >= sizeof MAGIC + 4 + 4, VAE_ERR_FORMAT, "%s: truncated (%zu bytes)", path, len);
    *r = (rbuf){data + sizeof MAGIC + 4, len - sizeof MAGIC - 4 - 4, path};
    const uint32_t stored = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                            (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
    VAEI_CHECK(crc_of(data, len - 4) == stored, VAE_ERR_FORMAT,
               "%s: checksum mismatch: the file is damaged or truncated", path);
    return VAE_OK;
}

vae_status vaei_checkpoint_parse(const void *bytes, size_t len, const char *path,
                                 vae_model **model, vae_optimizer **opt)
{
    VAEI_CHECK_ARG(bytes != NULL || len == 0);
    VAEI_CHECK_ARG(path != NULL && model != NULL);
    uint32_t version;
    rbuf r;
    VAEI_TRY(open_bytes(bytes, len, path, &version, &r));
    parsed f = {.have_stat = 0};
    uint64_t max;
    VAEI_TRY(read_head(&r, version, &f.cfg, &max));
    VAEI_CHECK(len <= max, VAE_ERR_FORMAT,
               "%s: %zu bytes, but a checkpoint of this architecture holds at most %llu", path,
               len, (unsigned long long)max);
    vae_status s = VAE_OK;
    while (s == VAE_OK && r.left > 0) s = read_chunk(&r, &f);
    if (s == VAE_OK && (!f.m || !f.have_stat))
        s = vaei_fail(VAE_ERR_FORMAT, "%s: incomplete checkpoint (%s missing)", path,
                      !f.m ? "parameters" : "state");
    if (s != VAE_OK) {
        vae_optimizer_free(f.o);
        vae_model_free(f.m);
        return s;
    }
    f.m->steps = f.steps;
    f.m->epochs = f.epochs;
    memcpy(f.m->rng.s, f.rng, sizeof f.rng);
    *model = f.m;
    if (opt)
        *opt = f.o;
    else
        vae_optimizer_free(f.o);
    return VAE_OK;
}

/* Read exactly n bytes. */
static vae_status read_bytes(FILE *f, unsigned char *p, size_t n, const char *path)
{
    VAEI_CHECK(fread(p, 1, n, f) == n, VAE_ERR_IO, "%s: read failed%s", path,
               ferror(f) ? "" : " (the file shrank)");
    return VAE_OK;
}

/* The whole file in memory, allocated only once its head is valid and its
 * size within what its architecture implies: a large file that is not a
 * checkpoint costs HEAD_BYTES, not its size. */
static vae_status slurp(const char *path, unsigned char **data, size_t *len)
{
    FILE *f;
    uint64_t size;
    VAEI_TRY(vaei_open_regular(path, &f, &size));
    unsigned char *head = malloc(HEAD_BYTES), *p = NULL;
    vae_status s = VAE_OK;
    if (!head) s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (s == VAE_OK && size > MAX_FILE)
        s = vaei_fail(VAE_ERR_LIMIT, "%s: %llu bytes is larger than any checkpoint", path,
                      (unsigned long long)size);
    const size_t n = s == VAE_OK ? (size_t)size : 0, h = n < HEAD_BYTES ? n : HEAD_BYTES;
    if (s == VAE_OK) s = read_bytes(f, head, h, path);
    uint32_t version = 0;
    if (s == VAE_OK) s = read_magic(head, h, path, &version);
    if (s == VAE_OK && h > sizeof MAGIC + 4) {
        rbuf r = {head + sizeof MAGIC + 4, h - sizeof MAGIC - 4, path};
        struct vae_config cfg;
        uint64_t max;
        s = read_head(&r, version, &cfg, &max);
        if (s == VAE_OK && size > max)
            s = vaei_fail(VAE_ERR_FORMAT,
                          "%s: %llu bytes, but a checkpoint of this architecture holds at most "
                          "%llu", path, (unsigned long long)size, (unsigned long long)max);
    }
    if (s == VAE_OK && !(p = malloc(n ? n : 1)))
        s = vaei_fail(VAE_ERR_OUT_OF_MEMORY, "%s: no memory for %zu bytes", path, n);
    if (s == VAE_OK) {
        memcpy(p, head, h);
        s = read_bytes(f, p + h, n - h, path);
    }
    free(head);
    fclose(f);
    if (s != VAE_OK) {
        free(p);
        return s;
    }
    *data = p;
    *len = n;
    return VAE_OK;
}

vae_status vae_checkpoint_load(const char *path, vae_model **model, vae_optimizer **opt)
{
    VAEI_CHECK_ARG(path != NULL && model != NULL);
    unsigned char *data = NULL;
    size_t len = 0;
    VAEI_TRY(slurp(path, &data, &len));
    const vae_status s = vaei_checkpoint_parse(data, len, path, model, opt);
    free(data);
    return s;
}
