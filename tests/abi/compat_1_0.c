/*
 * A program written and compiled against the libvae 1.0 header (the copy in
 * tests/abi/v1.0, taken from the 1.0 release with git show) and run against
 * the library being built: what 1.0 promised must still hold. It trains a
 * dense model a few steps, saves and reloads it, checks that the
 * running library is 1.x with x >= the header's, and loads the checkpoint
 * given as argv[1], written by libvae 1.0.0 itself (a dense model of 340
 * parameters with its Adam state, 3 steps taken).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vae/vae.h>

#define CHECK(call)                                                                    \
    do {                                                                               \
        vae_status s_ = (call);                                                        \
        if (s_ != VAE_OK) {                                                            \
            fprintf(stderr, "%s: %s (%s)\n", #call, vae_status_string(s_), vae_last_error()); \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

int main(int argc, char **argv)
{
    if (VAE_VERSION_NUMBER != 10000) {
        fprintf(stderr, "not compiled against the 1.0 header\n");
        return 1;
    }
    const unsigned v = vae_version_number();
    if (v / 10000 != 1 || v < VAE_VERSION_NUMBER) {
        fprintf(stderr, "library %s is not a 1.x at least 1.0\n", vae_version_string());
        return 1;
    }
    vae_config *cfg;
    vae_model *m, *back;
    vae_optimizer *opt;
    CHECK(vae_config_create(&cfg));
    CHECK(vae_config_set(cfg, VAE_PARAM_INPUT_DIM, 16));
    const size_t hidden[] = {8};
    CHECK(vae_config_set_hidden(cfg, VAE_BOTH, hidden, 1));
    CHECK(vae_model_create(&m, cfg));
    vae_config_free(cfg);
    CHECK(vae_optimizer_create(&opt, m, VAE_OPTIM_ADAM));
    float x[4 * 16];
    for (int i = 0; i < 4 * 16; i++) x[i] = (float)(i % 7) / 7.0f;
    vae_loss first, loss;
    CHECK(vae_model_train_step(m, opt, x, NULL, 4, &first));
    for (int i = 0; i < 50; i++) CHECK(vae_model_train_step(m, opt, x, NULL, 4, &loss));
    if (!(loss.total < first.total)) {
        fprintf(stderr, "no progress: %g then %g\n", first.total, loss.total);
        return 1;
    }
    const char *path = "compat_1_0.vae";
    CHECK(vae_checkpoint_save(path, m, opt));
    CHECK(vae_checkpoint_load(path, &back, NULL));
    /* A dense model is still written in format version 1, which 1.0 reads. */
    FILE *f = fopen(path, "rb");
    unsigned char head[12] = {0};
    if (!f || fread(head, 1, 12, f) != 12 || head[8] != 1) {
        fprintf(stderr, "a dense checkpoint is not format version 1\n");
        return 1;
    }
    fclose(f);
    remove(path);
    if (vae_model_param_count(back) != vae_model_param_count(m) ||
        memcmp(vae_model_params(back), vae_model_params(m),
               vae_model_param_count(m) * sizeof(float))) {
        fprintf(stderr, "checkpoint round trip differs\n");
        return 1;
    }
    vae_model_free(back);
    if (argc > 1) {
        vae_optimizer *old_opt;
        CHECK(vae_checkpoint_load(argv[1], &back, &old_opt));
        if (vae_model_param_count(back) != 340 || vae_model_steps(back) != 3 || !old_opt) {
            fprintf(stderr, "%s: not the 1.0 checkpoint expected\n", argv[1]);
            return 1;
        }
        CHECK(vae_model_train_step(back, old_opt, x, NULL, 4, &loss));
        vae_optimizer_free(old_opt);
        vae_model_free(back);
    }
    vae_optimizer_free(opt);
    vae_model_free(m);
    printf("1.0 program ran against libvae %s\n", vae_version_string());
    return 0;
}
