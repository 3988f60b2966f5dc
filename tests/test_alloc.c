/*
 * A training step of a size the model has seen allocates nothing
 * (docs/design.md): the lesson's dense model and a small convolutional one,
 * at every level this CPU runs and at 1 and 2 threads, count the heap calls
 * of the steps after a warm-up and expect none.
 *
 * The library's objects are linked with malloc, calloc, realloc, free,
 * aligned_alloc and posix_memalign wrapped (-Wl,--wrap, tests/meson.build),
 * so that only libvae's own calls are counted: a BLAS library is a shared
 * object of its own, and it does allocate inside. Debian's OpenBLAS 0.3.21
 * (openblas-pthread) makes a few malloc calls per step at 2 threads and
 * none at 1 thread (counted by return address with an LD_PRELOAD malloc:
 * 315 calls for one more epoch of vae-train --backend blas on the bundled
 * subset). The counting is public API only: vae_train_epoch() calls the
 * progress callback after every batch, so the calls between two callbacks
 * are one step's.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vae/vae.h>

/* The first WARMUP steps may size the workspace and each thread's packing
 * buffers (a pool thread gets them the first time it packs); the steps after
 * them are counted. */
enum { BATCH = 128, WARMUP = 2, STEPS = 5 };

static int counting;
static unsigned long calls;
static void *first_caller; /* return address of the first counted call */

static void count(void *caller)
{
    if (!__atomic_load_n(&counting, __ATOMIC_ACQUIRE)) return;
    if (__atomic_fetch_add(&calls, 1, __ATOMIC_ACQ_REL) == 0) first_caller = caller;
}

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    count(__builtin_return_address(0));
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    count(__builtin_return_address(0));
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    count(__builtin_return_address(0));
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    if (p) count(__builtin_return_address(0)); /* free(NULL) does nothing */
    __real_free(p);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    count(__builtin_return_address(0));
    return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    count(__builtin_return_address(0));
    return __real_posix_memalign(p, align, n);
}

typedef struct {
    unsigned long per_step[STEPS];
    void *caller[STEPS];
} tally;

/* After batch b: close step b's count, open step b + 1's once warm. */
static int on_batch(void *user, size_t batch, size_t batches, const vae_loss *loss)
{
    (void)batches;
    (void)loss;
    tally *t = user;
    __atomic_store_n(&counting, 0, __ATOMIC_RELEASE);
    if (batch < STEPS) {
        t->per_step[batch] = calls;
        t->caller[batch] = first_caller;
    }
    __atomic_store_n(&calls, 0, __ATOMIC_RELAXED);
    first_caller = NULL;
    __atomic_store_n(&counting, batch + 1 >= WARMUP, __ATOMIC_RELEASE);
    return 0;
}

/* Images in [0, 1] from a fixed LCG: [STEPS BATCH x d]. */
static vae_dataset *images(size_t d)
{
    const size_t n = (size_t)STEPS * BATCH;
    uint8_t *px = malloc(n * d);
    assert_non_null(px);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n * d; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        px[i] = (uint8_t)(s >> 56);
    }
    vae_dataset *ds;
    assert_int_equal(vae_dataset_from_u8(&ds, px, n, d, NULL, 0), VAE_OK);
    free(px);
    return ds;
}

/* One epoch of STEPS steps of model `what` on every level and thread count:
 * no heap call in a step after the warm-up. */
static void check_steps(const char *what, vae_model *(*make)(void), size_t d)
{
    vae_dataset *ds = images(d);
    for (size_t li = 0; li < vae_backend_count(); li++) {
        const char *level = vae_backend_name(li);
        assert_int_equal(vae_backend_select(level), VAE_OK);
        for (int threads = 1; threads <= 2; threads++) {
            assert_int_equal(vae_set_threads(threads), VAE_OK);
            vae_model *m = make();
            vae_optimizer *opt;
            assert_int_equal(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), VAE_OK);
            tally t = {{0}, {0}};
            vae_loss loss;
            assert_int_equal(vae_train_epoch(m, opt, ds, BATCH, on_batch, &t, &loss), VAE_OK);
            __atomic_store_n(&counting, 0, __ATOMIC_RELEASE);
            for (int s = WARMUP; s < STEPS; s++) {
                if (t.per_step[s] == 0) continue;
                /* The first caller as an offset in its file, for addr2line -e. */
                Dl_info where = {0};
                dladdr(t.caller[s], &where);
                fail_msg("%s, level %s, %d thread(s): step %d made %lu heap calls, the first "
                         "from %s+%#tx",
                         what, level, threads, s + 1, t.per_step[s],
                         where.dli_fname ? where.dli_fname : "?",
                         (char *)t.caller[s] - (char *)where.dli_fbase);
            }
            vae_optimizer_free(opt);
            vae_model_free(m);
        }
    }
    vae_dataset_free(ds);
    assert_int_equal(vae_backend_select("auto"), VAE_OK);
}

/* The lesson's model: 784 -> 400 ReLU -> 2 -> 400 ReLU -> 784 Bernoulli,
 * the library's defaults. Its latent products have n = 2 and 4. */
static vae_model *lesson(void)
{
    vae_config *cfg;
    vae_model *m;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_SEED, 1), VAE_OK);
    assert_int_equal(vae_model_create(&m, cfg), VAE_OK);
    vae_config_free(cfg);
    return m;
}

/* A small relative of docs/variants.md's conv network, on 12 x 12 images:
 * conv, deconv, im2col and col2im, in a few milliseconds a step. */
static vae_model *conv(void)
{
    vae_config *cfg;
    vae_model *m;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_SEED, 1), VAE_OK);
    assert_int_equal(vae_config_set_input_shape(cfg, 1, 12, 12), VAE_OK);
    assert_int_equal(vae_config_set_layers(cfg, VAE_ENCODER, "conv:4:4:2:1,relu,conv:8:4:2:1,relu"),
                     VAE_OK);
    assert_int_equal(vae_config_set_layers(cfg, VAE_DECODER,
                                           "dense:72,relu,reshape:8:3:3,deconv:4:4:2:1,relu,"
                                           "deconv:1:4:2:1"),
                     VAE_OK);
    assert_int_equal(vae_model_create(&m, cfg), VAE_OK);
    vae_config_free(cfg);
    return m;
}

static void test_lesson_step_allocates_nothing(void **state)
{
    (void)state;
    check_steps("lesson", lesson, 784);
}

static void test_conv_step_allocates_nothing(void **state)
{
    (void)state;
    check_steps("conv", conv, 144);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lesson_step_allocates_nothing),
        cmocka_unit_test(test_conv_step_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
