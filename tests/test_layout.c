/*
 * Where the library's arrays lie: the parameters, the gradient, the
 * optimizer's moments and every buffer of a batch's workspace start on a
 * 64-byte cache line, zeroed where they come from vaei_floats. Off the
 * line, every 512-bit access spans two lines, and Adam's update inside
 * training took 1.7x as long on a Zen 4 (docs/performance.md).
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernels/elementwise.h"
#include "model.h"
#include "optim.h"

static int on_line(const void *p)
{
    return ((uintptr_t)p & 63) == 0;
}

static void test_floats_on_cache_lines(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n++) {
        float *p = vaei_floats(n);
        assert_non_null(p);
        assert_true(on_line(p));
        for (size_t i = 0; i < n; i++) assert_true(p[i] == 0.0f);
        for (size_t i = 0; i < n; i++) p[i] = (float)i; /* writable to the end */
        vaei_floats_free(p);
    }
    vaei_floats_free(NULL);
    assert_null(vaei_floats(SIZE_MAX / sizeof(float)));

    vae_config *cfg = NULL;
    vae_model *m = NULL;
    vae_optimizer *opt = NULL;
    assert_int_equal(vae_config_create(&cfg), VAE_OK);
    assert_int_equal(vae_config_set(cfg, VAE_PARAM_LATENT_DIM, 3), VAE_OK); /* odd widths */
    assert_int_equal(vae_model_create(&m, cfg), VAE_OK);
    assert_int_equal(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM), VAE_OK);
    assert_true(on_line(vae_model_params(m)) && on_line(vae_model_grads(m)));
    assert_true(on_line(opt->m) && on_line(opt->v));
    assert_int_equal(vaei_model_reserve(m, 7), VAE_OK);
    const vaei_workspace *ws = &m->ws;
    assert_true(on_line(ws->kl_dim) && on_line(ws->x0) && on_line(ws->eps) && on_line(ws->z));
    assert_true(on_line(ws->g0) && on_line(ws->g1) && on_line(ws->partials));
    for (size_t l = 0; l < m->n_enc; l++) assert_true(on_line(ws->enc[l]));
    for (size_t l = 0; l < m->n_dec; l++) assert_true(on_line(ws->dec[l]));
    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floats_on_cache_lines),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
