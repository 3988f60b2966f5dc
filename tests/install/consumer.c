/*
 * A program outside the libvae tree, built only with the flags of
 * `pkg-config --cflags --libs libvae` (tests/install/install-test.sh and
 * tools/ci/check-subproject.sh). It checks that the header and the library
 * agree on the version and that a model trains: twenty epochs on a small
 * synthetic set must lower the loss.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <vae/vae.h>

#define CHECK(call)                                                   \
    do {                                                              \
        if ((call) != VAE_OK) {                                       \
            fprintf(stderr, "%s: %s\n", #call, vae_last_error());     \
            return 1;                                                 \
        }                                                             \
    } while (0)

enum { N = 64, DIM = 16 };

int main(void)
{
    if (strcmp(vae_version_string(), VAE_VERSION_STRING) != 0 ||
        vae_version_number() != VAE_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", VAE_VERSION_STRING,
                vae_version_string());
        return 1;
    }

    /* Two patterns of bytes, half the samples each. */
    unsigned char data[N * DIM];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < DIM; j++)
            data[i * DIM + j] = (unsigned char)(((i & 1) ? j < DIM / 2 : j >= DIM / 2) ? 230 : 20);

    vae_dataset *ds;
    CHECK(vae_dataset_from_u8(&ds, data, N, DIM, NULL, 0));
    vae_config *cfg;
    CHECK(vae_config_create(&cfg));
    CHECK(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, DIM));
    size_t hidden[] = {8};
    CHECK(vae_config_set_hidden(cfg, VAE_BOTH, hidden, 1));
    vae_model *m;
    CHECK(vae_model_create(&m, cfg));
    vae_config_free(cfg);
    vae_optimizer *opt;
    CHECK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    CHECK(vae_optimizer_set(opt, VAE_OPTIM_LR, 1e-2));

    vae_loss first, last;
    CHECK(vae_train_epoch(m, opt, ds, 16, NULL, NULL, &first));
    for (int e = 0; e < 20; e++) CHECK(vae_train_epoch(m, opt, ds, 16, NULL, NULL, &last));
    printf("libvae %s (%s backend): loss %.2f -> %.2f nats per sample\n", vae_version_string(),
           vae_backend_active(), first.total, last.total);

    vae_optimizer_free(opt);
    vae_model_free(m);
    vae_dataset_free(ds);
    return isfinite(last.total) && last.total < first.total ? 0 : 1;
}
