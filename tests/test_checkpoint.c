/*
 * Checkpoints: a round trip restores everything training needs, and a
 * damaged, foreign or newer file is refused with the right status while
 * the caller's handles stay as they were.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "common.h"

static char dir[64], path[128];
static float batch[8 * 784];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/vae-ckpt-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.vae", dir);
    vae_dataset *ds = load_mnist("t10k");
    ASSERT_OK(vae_dataset_get(ds, 0, 8, batch, NULL));
    vae_dataset_free(ds);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_flat_dir(dir);
    return 0;
}

/* A model unlike the defaults in every saved respect, one step trained. */
static vae_model *odd_model(vae_optimizer **opt)
{
    vae_config *cfg = NULL;
    vae_model *m = NULL;
    const size_t enc[] = {32, 16}, dec[] = {24};
    ASSERT_OK(vae_config_create(&cfg));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 3));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_ACTIVATION, VAE_ACTIVATION_ELU));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LIKELIHOOD, VAE_LIKELIHOOD_GAUSSIAN_LEARNED));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_SEED, 12345));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_BETA, 2.5));
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_ENCODER, enc, 2));
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_DECODER, dec, 1));
    ASSERT_OK(vae_model_create(&m, cfg));
    vae_config_free(cfg);
    ASSERT_OK(vae_optimizer_create(opt, m, VAE_OPTIM_ADAM));
    ASSERT_OK(vae_optimizer_set(*opt, VAE_OPTIM_LR, 3e-4));
    ASSERT_OK(vae_model_train_step(m, *opt, batch, NULL, 8, NULL));
    return m;
}

static void test_round_trip(void **state)
{
    (void)state;
    vae_optimizer *opt = NULL, *opt2 = NULL;
    vae_model *m = odd_model(&opt), *m2 = NULL;
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    ASSERT_OK(vae_checkpoint_load(path, &m2, &opt2));
    assert_non_null(opt2);

    const size_t n = vae_model_param_count(m);
    assert_int_equal(vae_model_param_count(m2), n);
    assert_memory_equal(vae_model_params(m), vae_model_params(m2), n * sizeof(float));
    static const vae_param ps[] = {VAE_PARAM_INPUT_DIM, VAE_PARAM_LATENT_DIM, VAE_PARAM_ACTIVATION,
                                   VAE_PARAM_LIKELIHOOD, VAE_PARAM_SEED, VAE_PARAM_BETA};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double a, b;
        ASSERT_OK(vae_model_get(m, ps[i], &a));
        ASSERT_OK(vae_model_get(m2, ps[i], &b));
        assert_true(a == b);
    }
    size_t sizes[4], nl;
    ASSERT_OK(vae_model_hidden(m2, VAE_ENCODER, sizes, 4, &nl));
    assert_int_equal(nl, 2);
    assert_int_equal(sizes[0], 32);
    assert_int_equal(sizes[1], 16);
    assert_int_equal(vae_model_steps(m2), 1);
    double lr;
    ASSERT_OK(vae_optimizer_get(opt2, VAE_OPTIM_LR, &lr));
    assert_true(lr == 3e-4);

    /* The next step is the same on both: noise state and moments restored. */
    ASSERT_OK(vae_model_train_step(m, opt, batch, NULL, 8, NULL));
    ASSERT_OK(vae_model_train_step(m2, opt2, batch, NULL, 8, NULL));
    assert_memory_equal(vae_model_params(m), vae_model_params(m2), n * sizeof(float));

    vae_optimizer_free(opt);
    vae_optimizer_free(opt2);
    vae_model_free(m);
    vae_model_free(m2);
}

static void test_model_only(void **state)
{
    (void)state;
    vae_model *m = small_model(8, 2, 0, 1), *m2 = NULL;
    vae_optimizer *opt = (vae_optimizer *)&opt; /* must be overwritten with NULL */
    ASSERT_OK(vae_checkpoint_save(path, m, NULL));
    ASSERT_OK(vae_checkpoint_load(path, &m2, &opt));
    assert_null(opt);
    vae_model_free(m2);
    ASSERT_OK(vae_checkpoint_load(path, &m2, NULL));
    vae_model_free(m2);
    vae_model_free(m);
}

static unsigned char *read_file(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *d = malloc(*len);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, *len, f), *len);
    fclose(f);
    return d;
}

static void write_file(const char *p, const void *d, size_t len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    fclose(f);
}

/* Loading p must fail with status s and leave the output handles alone. */
static void expect_refused(const char *p, vae_status s)
{
    vae_model *m = (vae_model *)&m;
    vae_optimizer *o = (vae_optimizer *)&o;
    const vae_status got = vae_checkpoint_load(p, &m, &o);
    if (got != s)
        fail_msg("expected %s, got %s: %s", vae_status_string(s), vae_status_string(got),
                 vae_last_error());
    assert_ptr_equal(m, (vae_model *)&m);
    assert_ptr_equal(o, (vae_optimizer *)&o);
    assert_true(strlen(vae_last_error()) > 0);
}

static void fix_crc(unsigned char *d, size_t len)
{
    const uint32_t crc = (uint32_t)crc32(0L, d, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) d[len - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void test_damaged_files_refused(void **state)
{
    (void)state;
    vae_optimizer *opt = NULL;
    vae_model *m = odd_model(&opt);
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    size_t len;
    unsigned char *good = read_file(path, &len), *d = malloc(len);
    assert_non_null(d);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.vae", dir);

    /* Truncated anywhere. */
    const size_t cuts[] = {0, 1, 7, 8, 11, 12, 20, 40, len / 2, len - 5, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, good, cuts[i]);
        expect_refused(bad, VAE_ERR_FORMAT);
    }
    /* One flipped byte anywhere. */
    for (size_t i = 0; i < 300; i++) {
        memcpy(d, good, len);
        d[(i * 7919) % len] ^= (unsigned char)(1u << (i % 8));
        write_file(bad, d, len);
        expect_refused(bad, VAE_ERR_FORMAT);
    }
    /* A newer format version, checksum intact. */
    memcpy(d, good, len);
    d[8] = 99; /* 2 is the format of layer specs (libvae 1.1) */
    fix_crc(d, len);
    write_file(bad, d, len);
    expect_refused(bad, VAE_ERR_UNSUPPORTED);
    assert_non_null(strstr(vae_last_error(), "newer"));
    /* A valid checksum over a parameter count that disagrees with the shapes. */
    memcpy(d, good, len);
    const unsigned char parm[4] = {'P', 'A', 'R', 'M'};
    unsigned char *at = memmem(d, len, parm, 4);
    assert_non_null(at);
    at[12] ^= 1; /* low byte of the stored count */
    fix_crc(d, len);
    write_file(bad, d, len);
    expect_refused(bad, VAE_ERR_FORMAT);
    /* Foreign files, a directory, a missing file. */
    write_file(bad, "\x89PNG\r\n\x1a\n0000000000000000", 24);
    expect_refused(bad, VAE_ERR_FORMAT);
    write_file(bad, "hello world\n", 12);
    expect_refused(bad, VAE_ERR_FORMAT);
    expect_refused(dir, VAE_ERR_IO);
    snprintf(bad, sizeof bad, "%s/missing.vae", dir);
    expect_refused(bad, VAE_ERR_IO);

    free(good);
    free(d);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* A tiny hand-made file whose valid checksum covers an absurd architecture:
 * refused from the counts alone, before any allocation for it. A stored
 * count of 0 once skipped the check and asked calloc for 4 TiB. */
static void test_huge_architecture_refused(void **state)
{
    (void)state;
    for (uint64_t count = 0; count <= 1; count++) {
        unsigned char f[256];
        size_t n = 0;
#define U32(v) do { uint32_t v_ = (v); for (int i = 0; i < 4; i++) f[n++] = (unsigned char)(v_ >> (8 * i)); } while (0)
#define U64(v) do { uint64_t v_ = (v); for (int i = 0; i < 8; i++) f[n++] = (unsigned char)(v_ >> (8 * i)); } while (0)
        memcpy(f, "\x89VAE\r\n\x1a\n", 8);
        n = 8;
        U32(1);
        memcpy(f + n, "ARCH", 4);
        n += 4;
        U64(4 + 12 + 4 + 4 + 4 + 4);
        U32(1);
        U32(VAE_PARAM_INPUT_DIM);
        const double big = 16777216.0;
        uint64_t bits;
        memcpy(&bits, &big, 8);
        U64(bits);
        U32(1);
        U32(65536);
        U32(1);
        U32(65536);
        memcpy(f + n, "PARM", 4);
        n += 4;
        U64(8 + 4);
        U64(count);
        U32(0);
        U32(0); /* crc placeholder */
        fix_crc(f, n);
        char bad[160];
        snprintf(bad, sizeof bad, "%s/huge.vae", dir);
        write_file(bad, f, n);
        expect_refused(bad, VAE_ERR_FORMAT);
#undef U32
#undef U64
    }
}

/* The payload of the first chunk tagged tag in a checkpoint image. */
static unsigned char *chunk(unsigned char *d, size_t len, const char *tag)
{
    size_t at = 12;
    while (at + 12 <= len - 4) {
        uint64_t clen = 0;
        for (int i = 0; i < 8; i++) clen |= (uint64_t)d[at + 4 + i] << (8 * i);
        if (!memcmp(d + at, tag, 4)) return d + at + 12;
        at += 12 + clen;
    }
    fail_msg("no chunk %s", tag);
    return NULL;
}

static void put_u64_at(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Files whose checksum is valid but whose values are outside their domain:
 * each would poison the first update (NaN parameters, then saved over the
 * good checkpoint) or wrap a counter. */
static void test_hostile_values_refused(void **state)
{
    (void)state;
    vae_optimizer *opt = NULL;
    vae_model *m = odd_model(&opt);
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    const size_t n = vae_model_param_count(m);
    size_t len;
    unsigned char *good = read_file(path, &len), *d = malloc(len);
    assert_non_null(d);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/hostile.vae", dir);
    /* OPTM: kind, count, count x 12, t, n, m[n], v[n] */
    const size_t t_at = 8 + 6 * 12, v_at = t_at + 16 + 4 * n;
    static const struct {
        const char *tag, *why;
        size_t at;
        int kind; /* 0: the u64 set to UINT64_MAX, 1: the f32 set to -1 */
    } cases[] = {
        {"STAT", "step count", 0, 0},
        {"STAT", "epoch count", 8, 0},
        {"OPTM", "update count", 0, 0},
        {"OPTM", "second moment", 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(d, good, len);
        unsigned char *p = chunk(d, len, cases[c].tag);
        if (!strcmp(cases[c].tag, "OPTM")) p += cases[c].kind ? v_at + 4 * 5 : t_at;
        else p += cases[c].at;
        if (cases[c].kind == 0) {
            put_u64_at(p, UINT64_MAX);
        } else {
            const float neg = -1.0f;
            memcpy(p, &neg, 4);
        }
        fix_crc(d, len);
        write_file(bad, d, len);
        expect_refused(bad, VAE_ERR_FORMAT);
        if (!strstr(vae_last_error(), cases[c].why))
            fail_msg("case %zu: \"%s\" does not name the %s", c, vae_last_error(), cases[c].why);
    }
    /* One below the maximum loads; the step that reaches it works (Adam's
     * bias correction is 1 there), the next is refused, nothing changed. */
    memcpy(d, good, len);
    put_u64_at(chunk(d, len, "OPTM") + t_at, UINT64_MAX - 1);
    fix_crc(d, len);
    write_file(bad, d, len);
    vae_model *m2 = NULL;
    vae_optimizer *o2 = NULL;
    ASSERT_OK(vae_checkpoint_load(bad, &m2, &o2));
    ASSERT_OK(vae_model_train_step(m2, o2, batch, NULL, 8, NULL));
    float *keep = malloc(n * sizeof *keep);
    assert_non_null(keep);
    memcpy(keep, vae_model_params(m2), n * sizeof *keep);
    assert_int_equal(vae_model_train_step(m2, o2, batch, NULL, 8, NULL), VAE_ERR_LIMIT);
    assert_memory_equal(keep, vae_model_params(m2), n * sizeof *keep);
    free(keep);
    vae_optimizer_free(o2);
    vae_model_free(m2);
    free(good);
    free(d);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

/* A FIFO (or any non-regular file) is refused at once: fopen() used to
 * block on one with no writer, forever. The alarm fails the test instead
 * of hanging it if that comes back. */
static void test_fifo_refused(void **state)
{
    (void)state;
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo.vae", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(60);
    expect_refused(fifo, VAE_ERR_IO);
    alarm(0);
    assert_non_null(strstr(vae_last_error(), "not a regular file"));
    unlink(fifo);
}

/* A large file is refused from its first bytes, before memory for it is
 * committed: the size must be within what its architecture implies. The
 * old reader read all 1.2 GB first; an address-space limit 256 MiB above
 * what the process holds makes that an allocation failure here. */
static void test_large_file_costs_no_memory(void **state)
{
    (void)state;
    vae_optimizer *opt = NULL;
    vae_model *m = odd_model(&opt);
    ASSERT_OK(vae_checkpoint_save(path, m, opt));
    size_t len;
    unsigned char *good = read_file(path, &len);
    char big[160];
    snprintf(big, sizeof big, "%s/sparse.vae", dir);
    const off_t size = (off_t)1200 << 20;
    const unsigned long long held = address_space_held();
    for (int magic = 0; magic < 2; magic++) {
        write_file(big, good, magic ? len : 4); /* the real head, or a bad magic */
        assert_int_equal(truncate(big, size), 0);
        struct rlimit old = limit_address_space(held + ((unsigned long long)256 << 20));
        vae_model *got = NULL;
        const vae_status s = vae_checkpoint_load(big, &got, NULL);
        assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
        assert_int_equal(s, VAE_ERR_FORMAT);
        assert_null(got);
        assert_non_null(strstr(vae_last_error(), magic ? "holds at most" : "bad magic"));
    }
    unlink(big);
    free(good);
    vae_optimizer_free(opt);
    vae_model_free(m);
}

static void test_save_replaces_atomically(void **state)
{
    (void)state;
    vae_model *a = small_model(8, 2, 0, 1), *b = small_model(8, 2, 0, 2), *r = NULL;
    ASSERT_OK(vae_checkpoint_save(path, a, NULL));
    ASSERT_OK(vae_checkpoint_save(path, b, NULL));
    ASSERT_OK(vae_checkpoint_load(path, &r, NULL));
    assert_memory_equal(vae_model_params(r), vae_model_params(b),
                        vae_model_param_count(b) * sizeof(float));
    vae_model_free(r);
    /* No temporary file is left beside it. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_null(strstr(e->d_name, ".tmp."));
    closedir(d);
    /* An unwritable destination fails cleanly. */
    char nowhere[160];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/model.vae", dir);
    assert_int_equal(vae_checkpoint_save(nowhere, a, NULL), VAE_ERR_IO);
    /* The optimizer must belong to the model saved. */
    vae_optimizer *ob = NULL;
    ASSERT_OK(vae_optimizer_create(&ob, b, VAE_OPTIM_SGD));
    assert_int_equal(vae_checkpoint_save(path, a, ob), VAE_ERR_INVALID_ARGUMENT);
    vae_optimizer_free(ob);
    vae_model_free(a);
    vae_model_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_model_only),
        cmocka_unit_test(test_damaged_files_refused),
        cmocka_unit_test(test_huge_architecture_refused),
        cmocka_unit_test(test_hostile_values_refused),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_large_file_costs_no_memory),
        cmocka_unit_test(test_save_replaces_atomically),
    };
    return cmocka_run_group_tests_name("checkpoint", tests, setup, teardown);
}
