/*
 * vae_dataset_split(): sizes, disjoint parts that cover the data, labels
 * kept beside their samples, storage order and sample type kept, seeded.
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

enum { N = 1000, DIM = 3 };

/* Sample i holds (i, i, i) / N, so a row tells which sample it is. */
static vae_dataset *numbered(int with_labels)
{
    static float x[N * DIM];
    static int32_t y[N];
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < DIM; j++) x[i * DIM + j] = (float)i / N;
        y[i] = (int32_t)(i * 7 % 10);
    }
    vae_dataset *ds = NULL;
    ASSERT_OK(vae_dataset_from_f32(&ds, x, N, DIM, with_labels ? y : NULL, 0));
    return ds;
}

/* The sample numbers of ds in storage order; checks each row's labels. */
static void numbers(const vae_dataset *ds, size_t *out)
{
    const size_t n = vae_dataset_count(ds);
    float *x = malloc(n * DIM * sizeof *x);
    assert_non_null(x);
    ASSERT_OK(vae_dataset_get(ds, 0, n, x, NULL));
    const int32_t *labels = vae_dataset_labels(ds);
    for (size_t k = 0; k < n; k++) {
        out[k] = (size_t)lrintf(x[k * DIM] * N);
        assert_true(x[k * DIM + 2] == x[k * DIM]);
        if (labels) assert_int_equal(labels[k], (int32_t)(out[k] * 7 % 10));
    }
    free(x);
}

static void test_split_partitions(void **state)
{
    (void)state;
    vae_dataset *ds = numbered(1), *rest = NULL, *val = NULL;
    ASSERT_OK(vae_dataset_split(ds, 100, 42, &rest, &val));
    assert_int_equal(vae_dataset_count(rest), 900);
    assert_int_equal(vae_dataset_count(val), 100);
    assert_int_equal(vae_dataset_dim(val), DIM);
    assert_non_null(vae_dataset_labels(val));

    size_t a[N], b[N];
    unsigned char seen[N] = {0};
    numbers(rest, a);
    numbers(val, b);
    for (size_t k = 0; k < 900; k++) seen[a[k]]++;
    for (size_t k = 0; k < 100; k++) seen[b[k]]++;
    for (size_t i = 0; i < N; i++) assert_int_equal(seen[i], 1); /* disjoint, complete */
    for (size_t k = 1; k < 900; k++) assert_true(a[k] > a[k - 1]); /* storage order */
    for (size_t k = 1; k < 100; k++) assert_true(b[k] > b[k - 1]);
    /* A random pick, not a block: it reaches across the whole set. */
    assert_true(b[0] < 100 && b[99] > 900);

    /* Seeded: the same seed picks the same samples, another seed others. */
    vae_dataset *r2, *v2, *r3, *v3;
    size_t b2[100], b3[100];
    ASSERT_OK(vae_dataset_split(ds, 100, 42, &r2, &v2));
    ASSERT_OK(vae_dataset_split(ds, 100, 43, &r3, &v3));
    numbers(v2, b2);
    numbers(v3, b3);
    assert_memory_equal(b, b2, sizeof b2);
    assert_memory_not_equal(b, b3, sizeof b3);

    /* The parts own their memory: the parent can go. */
    vae_dataset_free(ds);
    numbers(val, b2);
    assert_memory_equal(b, b2, sizeof b2);
    vae_dataset_free(r2);
    vae_dataset_free(v2);
    vae_dataset_free(r3);
    vae_dataset_free(v3);
    vae_dataset_free(rest);
    vae_dataset_free(val);
}

static void test_split_keeps_bytes_and_unlabelled(void **state)
{
    (void)state;
    vae_dataset *mnist = load_mnist("t10k"), *rest, *val;
    ASSERT_OK(vae_dataset_split(mnist, 1, 7, &rest, &val));
    assert_int_equal(vae_dataset_count(val), 1);
    assert_int_equal(vae_dataset_count(rest), vae_dataset_count(mnist) - 1);
    /* Bytes stay bytes: every value is still a multiple of 1/255. */
    float x[784];
    ASSERT_OK(vae_dataset_get(val, 0, 1, x, NULL));
    for (size_t j = 0; j < 784; j++) assert_true(x[j] == (float)lrintf(x[j] * 255) * (1.0f / 255.0f));
    assert_int_equal(vae_dataset_num_classes(mnist), 10);
    vae_dataset_free(rest);
    vae_dataset_free(val);
    vae_dataset_free(mnist);

    vae_dataset *plain = numbered(0);
    ASSERT_OK(vae_dataset_split(plain, N - 1, 1, &rest, &val));
    assert_null(vae_dataset_labels(val));
    assert_int_equal(vae_dataset_count(rest), 1);
    vae_dataset_free(rest);
    vae_dataset_free(val);
    vae_dataset_free(plain);
}

static void test_split_refusals(void **state)
{
    (void)state;
    vae_dataset *ds = numbered(1), *rest = NULL, *val = NULL;
    assert_int_equal(vae_dataset_split(ds, 0, 1, &rest, &val), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_dataset_split(ds, N, 1, &rest, &val), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_dataset_split(ds, 5, 1, &rest, &rest), VAE_ERR_INVALID_ARGUMENT);
    assert_int_equal(vae_dataset_split(NULL, 5, 1, &rest, &val), VAE_ERR_INVALID_ARGUMENT);
    assert_null(rest);
    assert_null(val);
    vae_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_partitions),
        cmocka_unit_test(test_split_keeps_bytes_and_unlabelled),
        cmocka_unit_test(test_split_refusals),
    };
    return cmocka_run_group_tests_name("split", tests, NULL, NULL);
}
