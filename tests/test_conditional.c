/*
 * Class-conditional sampling: a small conditional VAE trained on the
 * bundled digits must draw the class it is asked for, as judged by a
 * nearest-class-mean classifier built from the training images.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common.h"

enum { CLASSES = 10, D = 784, PER_CLASS = 50 };

/* Class means of ds: [CLASSES x D]. */
static void class_means(const vae_dataset *ds, double *means)
{
    const size_t n = vae_dataset_count(ds);
    float x[D];
    int32_t y;
    size_t count[CLASSES] = {0};
    memset(means, 0, CLASSES * D * sizeof *means);
    for (size_t i = 0; i < n; i++) {
        ASSERT_OK(vae_dataset_get(ds, i, 1, x, &y));
        for (size_t j = 0; j < D; j++) means[(size_t)y * D + j] += x[j];
        count[y]++;
    }
    for (size_t c = 0; c < CLASSES; c++) {
        assert_true(count[c] > 0);
        for (size_t j = 0; j < D; j++) means[c * D + j] /= (double)count[c];
    }
}

static size_t nearest(const double *means, const float *x)
{
    size_t best = 0;
    double best_d = INFINITY;
    for (size_t c = 0; c < CLASSES; c++) {
        double d = 0;
        for (size_t j = 0; j < D; j++) d += (x[j] - means[c * D + j]) * (x[j] - means[c * D + j]);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

static void test_conditional_samples_have_the_requested_class(void **state)
{
    (void)state;
    vae_dataset *train = load_mnist_head("train", 8000);
    double *means = malloc(CLASSES * D * sizeof *means);
    assert_non_null(means);
    class_means(train, means);

    /* The classifier itself, on real test digits: a sanity floor. */
    vae_dataset *test = load_mnist("t10k");
    size_t right = 0;
    float x[D];
    int32_t y;
    for (size_t i = 0; i < 500; i++) {
        ASSERT_OK(vae_dataset_get(test, i, 1, x, &y));
        right += nearest(means, x) == (size_t)y;
    }
    print_message("nearest class mean: %zu of 500 test digits right\n", right);
    assert_true(right > 350);
    vae_dataset_free(test);

    vae_model *m = small_model(256, 2, CLASSES, 1);
    vae_optimizer *opt;
    ASSERT_OK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    for (int e = 0; e < 8; e++) ASSERT_OK(vae_train_epoch(m, opt, train, 64, NULL, NULL, NULL));

    float *cond = calloc(PER_CLASS * CLASSES, sizeof *cond), *out = malloc(PER_CLASS * D * sizeof *out);
    assert_non_null(cond);
    assert_non_null(out);
    size_t worst = PER_CLASS, total = 0;
    for (size_t c = 0; c < CLASSES; c++) {
        memset(cond, 0, PER_CLASS * CLASSES * sizeof *cond);
        for (size_t i = 0; i < PER_CLASS; i++) cond[i * CLASSES + c] = 1.0f;
        ASSERT_OK(vae_model_sample(m, cond, PER_CLASS, 100 + c, out, NULL));
        size_t ok = 0;
        for (size_t i = 0; i < PER_CLASS; i++) ok += nearest(means, out + i * D) == c;
        print_message("class %zu: %zu of %d samples classified as asked\n", c, ok, PER_CLASS);
        if (ok < worst) worst = ok;
        total += ok;
    }
    /* Chance is 1 in 10; most samples of every class must be right. */
    assert_true(worst > PER_CLASS / 2);
    assert_true(total > CLASSES * PER_CLASS * 8 / 10);

    free(cond);
    free(out);
    free(means);
    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_dataset_free(train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditional_samples_have_the_requested_class),
    };
    return cmocka_run_group_tests_name("conditional", tests, NULL, NULL);
}
