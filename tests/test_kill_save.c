/*
 * Nothing lost: a process killed (SIGKILL) at a random moment while it
 * saves checkpoints leaves on disk the old checkpoint or the new one, whole,
 * every time. A child saves two models' checkpoints in turn (A, B, A, ...)
 * over one path; the parent kills it after a random delay, then the file
 * must equal, byte for byte, a reference save of A or of B and must load.
 *
 * VAE_TEST_QUICK=1 (the valgrind run) uses a smaller model and fewer kills.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/vae-kill-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_flat_dir(dir);
    return 0;
}

static unsigned char *read_all(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    const long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Whether a save's temporary file exists: the child is writing. */
static int temporary_exists(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) found = strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return found;
}

/* Remove the temporary files of interrupted saves; returns how many. */
static int sweep_temporaries(void)
{
    int found = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            assert_int_equal(unlink(p), 0);
            found++;
        }
    closedir(d);
    return found;
}

static void test_killed_while_saving(void **state)
{
    (void)state;
    const int quick = getenv("VAE_TEST_QUICK") != NULL;
    const int kills = quick ? 20 : 100;
    const size_t hidden = quick ? 64 : 256; /* 256: a 4.9 MB file with Adam's moments */

    /* Two models with optimizer state, unlike each other in every byte. */
    vae_model *m[2];
    vae_optimizer *o[2];
    float x[8 * 784];
    vae_dataset *ds = load_mnist("t10k");
    ASSERT_OK(vae_dataset_get(ds, 0, 8, x, NULL));
    vae_dataset_free(ds);
    for (int k = 0; k < 2; k++) {
        m[k] = small_model(hidden, 2, 0, (uint64_t)k + 1);
        ASSERT_OK(vae_optimizer_create(&o[k], m[k], VAE_OPTIM_ADAM));
        ASSERT_OK(vae_model_train_step(m[k], o[k], x, NULL, 8, NULL));
    }
    char path[128], ref[2][128];
    unsigned char *want[2];
    size_t want_len[2];
    for (int k = 0; k < 2; k++) {
        snprintf(ref[k], sizeof ref[k], "%s/ref-%c.vae", dir, 'A' + k);
        const double t0 = now();
        ASSERT_OK(vae_checkpoint_save(ref[k], m[k], o[k]));
        if (k == 0) print_message("one save: %.0f ms\n", 1e3 * (now() - t0));
        want[k] = read_all(ref[k], &want_len[k]);
    }
    snprintf(path, sizeof path, "%s/model.vae", dir);
    ASSERT_OK(vae_checkpoint_save(path, m[0], o[0]));

    /* Time one save to spread the kills over a few of them. */
    const double t0 = now();
    ASSERT_OK(vae_checkpoint_save(path, m[0], o[0]));
    const double save_s = now() - t0;

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int on_disk = 0, seen[2] = {1, 0}, mid_save = 0;
    for (int i = 0; i < kills; i++) {
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* The child: save the other model, then alternate, until killed.
             * It dies with the parent, and never returns into cmocka. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (int k = 1 - on_disk, n = 0; n < 100000; k = 1 - k, n++)
                if (vae_checkpoint_save(path, m[k], o[k]) != VAE_OK) _exit(3);
            _exit(0);
        }
        /* Every other kill after a random delay of up to two saves' time
         * (sometimes before the first save ends, mostly inside one, at any
         * stage); the others as soon as a temporary file shows, so that
         * kills surely land while the bytes are being written. */
        const double start = now();
        double delay = save_s * 2.0 * rand() / RAND_MAX;
        if (i % 2) {
            while (!temporary_exists() && now() - start < 5 * save_s) {
                const struct timespec poll = {0, 20000};
                nanosleep(&poll, NULL);
            }
            delay = now() - start;
        } else {
            const struct timespec ts = {(time_t)delay,
                                        (long)((delay - (double)(time_t)delay) * 1e9)};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status)) fail_msg("kill %d: the child exited with %d", i, status);

        size_t len;
        unsigned char *got = read_all(path, &len);
        int match = -1;
        for (int k = 0; k < 2; k++)
            if (len == want_len[k] && memcmp(got, want[k], len) == 0) match = k;
        if (match < 0) fail_msg("kill %d after %.1f ms: %s is neither checkpoint (%zu bytes)", i,
                                1e3 * delay, path, len);
        free(got);
        vae_model *r = NULL;
        vae_optimizer *ro = NULL;
        ASSERT_OK(vae_checkpoint_load(path, &r, &ro));
        assert_memory_equal(vae_model_params(r), vae_model_params(m[match]),
                            vae_model_param_count(r) * sizeof(float));
        assert_non_null(ro);
        vae_optimizer_free(ro);
        vae_model_free(r);
        on_disk = match;
        seen[match] = 1;
        mid_save += sweep_temporaries() > 0;
    }
    print_message("%d kills, %d in the middle of writing a temporary file\n", kills, mid_save);
    /* The test exercised something: kills landed inside saves, and saves
     * did complete between kills. */
    assert_true(mid_save > 0);
    assert_true(seen[0] && seen[1]);
    for (int k = 0; k < 2; k++) {
        free(want[k]);
        vae_optimizer_free(o[k]);
        vae_model_free(m[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_while_saving),
    };
    return cmocka_run_group_tests_name("kill-save", tests, setup, teardown);
}
