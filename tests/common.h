/*
 * Helpers shared by the tests: the bundled data, a small model, temp dirs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_TEST_COMMON_H
#define VAE_TEST_COMMON_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vae/vae.h"

#include "levels.h"

#define ASSERT_OK(expr)                                                            \
    do {                                                                           \
        vae_status s_ = (expr);                                                    \
        if (s_ != VAE_OK) fail_msg("%s: %s: %s", #expr, vae_status_string(s_), vae_last_error()); \
    } while (0)

/* The bundled MNIST subset's train (which = "train") or test ("t10k") split. */
static inline vae_dataset *load_mnist(const char *which)
{
    char img[1024], lab[1024];
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", VAE_TEST_DATA, which);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", VAE_TEST_DATA, which);
    vae_dataset *ds = NULL;
    ASSERT_OK(vae_dataset_load_idx(&ds, img, lab, 0));
    return ds;
}

/* The first n samples of ds as a new borrowed-free copy. */
static inline vae_dataset *head_of(const vae_dataset *ds, size_t n)
{
    const size_t d = vae_dataset_dim(ds);
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    ASSERT_OK(vae_dataset_get(ds, 0, n, x, y));
    vae_dataset *out = NULL;
    ASSERT_OK(vae_dataset_from_f32(&out, x, n, d, y, 0));
    free(x);
    free(y);
    return out;
}

/* The first n samples of the bundled split `which`, as their own dataset. */
static inline vae_dataset *load_mnist_head(const char *which, size_t n)
{
    vae_dataset *full = load_mnist(which), *head = head_of(full, n);
    vae_dataset_free(full);
    return head;
}

/* A model of the lesson's shape with a smaller hidden layer, for speed. */
static inline vae_model *small_model(size_t hidden, size_t latent, size_t cond, uint64_t seed)
{
    vae_config *cfg = NULL;
    vae_model *m = NULL;
    ASSERT_OK(vae_config_create(&cfg));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, (double)latent));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_COND_DIM, (double)cond));
    ASSERT_OK(vae_config_set(cfg, VAE_PARAM_SEED, (double)seed));
    ASSERT_OK(vae_config_set_hidden(cfg, VAE_BOTH, &hidden, 1));
    ASSERT_OK(vae_model_create(&m, cfg));
    vae_config_free(cfg);
    return m;
}

/* Select the best level whose rows of a product do not depend on the batch
 * they sit in: any but the BLAS (test_kernels.c checks the property, and
 * says why a BLAS does not have it). Returns 0, or -1 if none is usable. */
static inline int select_row_invariant_level(void)
{
    for (size_t i = 0; i < vae_backend_count(); i++)
        if (level_is_ours(vae_backend_name(i)))
            return vae_backend_select(vae_backend_name(i)) == VAE_OK ? 0 : -1;
    return -1;
}

/* The bytes of address space the process holds now (/proc/self/statm). */
static inline unsigned long long address_space_held(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu", &pages), 1);
    fclose(f);
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Lower the address-space limit to `cap` bytes (where it is not lower
 * already), so that an allocation above it fails whatever the machine's
 * overcommit. Returns the old limit, to restore with
 * setrlimit(RLIMIT_AS, &old). */
static inline struct rlimit limit_address_space(unsigned long long cap)
{
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur > cap) lim.rlim_cur = (rlim_t)cap;
    assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
    return old;
}

/* Remove a temporary directory and the files in it (no subdirectories). */
static inline void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
    rmdir(dir);
}

#endif /* VAE_TEST_COMMON_H */
