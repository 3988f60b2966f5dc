/*
 * Nothing lost: a process killed (SIGKILL) while it saves a checkpoint
 * leaves on disk the old checkpoint or the new one, whole, every time.
 *
 * Both outcomes are reached by construction, not by timing: the test links
 * the library's objects with the save's system calls wrapped
 * (-Wl,--wrap=write,--wrap=fsync,--wrap=rename, tests/meson.build), and a
 * child kills itself at a chosen point of the save: halfway through
 * writing the temporary file, before its fsync, before the rename (the old
 * file must remain), after the rename and before the directory's fsync
 * (the new one must be there). Then kills at random moments of a stream of
 * saves check the same rule wherever they land.
 *
 * VAE_TEST_QUICK=1 (the valgrind run) uses a smaller model and fewer kills.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <errno.h>
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

/* ---- the save's system calls, wrapped ------------------------------------ */

/* Where a child stops its save (kills itself), in the order write_atomic
 * (lib/checkpoint.c) goes: the first STOPS_OLD leave the old file. */
typedef enum stop {
    RUN_THROUGH,
    MID_WRITE,         /* half of the temporary file's bytes written */
    BEFORE_FILE_FSYNC, /* all written, not yet on disk */
    BEFORE_RENAME,     /* the temporary file complete and synced */
    AFTER_RENAME,      /* renamed, the directory not yet synced */
    BEFORE_DIR_FSYNC,
} stop;
enum { STOPS_OLD = BEFORE_RENAME, NSTOPS = BEFORE_DIR_FSYNC + 1 };
static const char *const stop_names[NSTOPS] = {
    "run through", "halfway through write", "before the file's fsync", "before rename",
    "after rename", "before the directory's fsync"};

static stop stop_at = RUN_THROUGH;
static int fsyncs; /* fsync calls of the current save */

ssize_t __real_write(int fd, const void *p, size_t n);
int __real_fsync(int fd);
int __real_rename(const char *from, const char *to);
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __wrap_fsync(int fd);
int __wrap_rename(const char *from, const char *to);

static _Noreturn void die_here(void)
{
    kill(getpid(), SIGKILL);
    for (;;) pause();
}

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
    if (stop_at == MID_WRITE) {
        if (__real_write(fd, p, n / 2) < 0) _exit(4);
        die_here();
    }
    return __real_write(fd, p, n);
}

int __wrap_fsync(int fd)
{
    fsyncs++;
    if ((stop_at == BEFORE_FILE_FSYNC && fsyncs == 1) || (stop_at == BEFORE_DIR_FSYNC && fsyncs == 2))
        die_here();
    return __real_fsync(fd);
}

int __wrap_rename(const char *from, const char *to)
{
    if (stop_at == BEFORE_RENAME) die_here();
    const int r = __real_rename(from, to);
    if (stop_at == AFTER_RENAME) die_here();
    return r;
}

/* ---- the test -------------------------------------------------------------- */

static char dir[64];

/* Two models with optimizer state, unlike each other in every byte, and
 * their reference checkpoints. */
static vae_model *m[2];
static vae_optimizer *o[2];
static unsigned char *want[2];
static size_t want_len[2];
static char path[128];

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

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/vae-kill-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    const size_t hidden = getenv("VAE_TEST_QUICK") ? 64 : 256; /* 256: 4.9 MB with Adam's moments */
    float x[8 * 784];
    vae_dataset *ds = load_mnist("t10k");
    ASSERT_OK(vae_dataset_get(ds, 0, 8, x, NULL));
    vae_dataset_free(ds);
    for (int k = 0; k < 2; k++) {
        m[k] = small_model(hidden, 2, 0, (uint64_t)k + 1);
        ASSERT_OK(vae_optimizer_create(&o[k], m[k], VAE_OPTIM_ADAM));
        ASSERT_OK(vae_model_train_step(m[k], o[k], x, NULL, 8, NULL));
        char ref[128];
        snprintf(ref, sizeof ref, "%s/ref-%c.vae", dir, 'A' + k);
        ASSERT_OK(vae_checkpoint_save(ref, m[k], o[k]));
        want[k] = read_all(ref, &want_len[k]);
    }
    assert_true(want_len[0] != want_len[1] || memcmp(want[0], want[1], want_len[0]) != 0);
    snprintf(path, sizeof path, "%s/model.vae", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        free(want[k]);
        vae_optimizer_free(o[k]);
        vae_model_free(m[k]);
    }
    remove_flat_dir(dir);
    return 0;
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

/* Wait for the child, which must have died of SIGKILL. */
static void reap_killed(pid_t pid, const char *what)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("%s: the child was not killed (status %d): the save never got there", what,
                 status);
}

/* Which reference checkpoint the file on disk is, byte for byte, after
 * checking that it loads to that model's parameters; fails if neither. */
static int on_disk(const char *what)
{
    size_t len;
    unsigned char *got = read_all(path, &len);
    int match = -1;
    for (int k = 0; k < 2; k++)
        if (len == want_len[k] && memcmp(got, want[k], len) == 0) match = k;
    free(got);
    if (match < 0) fail_msg("%s: %s is neither checkpoint (%zu bytes)", what, path, len);
    vae_model *r = NULL;
    vae_optimizer *ro = NULL;
    ASSERT_OK(vae_checkpoint_load(path, &r, &ro));
    assert_memory_equal(vae_model_params(r), vae_model_params(m[match]),
                        vae_model_param_count(r) * sizeof(float));
    assert_non_null(ro);
    vae_optimizer_free(ro);
    vae_model_free(r);
    return match;
}

/* A child saving model `k` over path, stopped at `at`; it dies with the
 * parent and never returns into cmocka. */
static pid_t spawn_save(int k, stop at)
{
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        stop_at = at;
        fsyncs = 0;
        _exit(vae_checkpoint_save(path, m[k], o[k]) == VAE_OK ? 0 : 3);
    }
    return pid;
}

/* Each stop in turn, from each model to the other: before the rename the
 * old file is there, from the rename on the new one, whole. */
static void test_killed_at_each_point_of_a_save(void **state)
{
    (void)state;
    for (int old = 0; old < 2; old++)
        for (int at = MID_WRITE; at < NSTOPS; at++) {
            ASSERT_OK(vae_checkpoint_save(path, m[old], o[old]));
            reap_killed(spawn_save(1 - old, (stop)at), stop_names[at]);
            const int want_k = at <= STOPS_OLD ? old : 1 - old;
            const int got = on_disk(stop_names[at]);
            if (got != want_k)
                fail_msg("killed %s: found the %s checkpoint", stop_names[at],
                         got == old ? "old" : "new");
            /* A temporary file is left exactly when the kill came before the rename. */
            assert_int_equal(sweep_temporaries(), at <= STOPS_OLD);
        }
}

/* Kills at random moments of a stream of saves (A, B, A, ...): wherever
 * they land, the file is one checkpoint or the other. How often a kill
 * lands inside a save depends on timing and is only reported; the
 * outcomes themselves are covered by the test above. */
static void test_killed_at_random_moments(void **state)
{
    (void)state;
    const int kills = getenv("VAE_TEST_QUICK") ? 10 : 40;
    ASSERT_OK(vae_checkpoint_save(path, m[0], o[0]));
    const double t0 = now();
    ASSERT_OK(vae_checkpoint_save(path, m[0], o[0]));
    const double save_s = now() - t0;

    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int last = 0, mid_save = 0, seen[2] = {0, 0};
    for (int i = 0; i < kills; i++) {
        const pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            for (int k = 1 - last, n = 0; n < 100000; k = 1 - k, n++)
                if (vae_checkpoint_save(path, m[k], o[k]) != VAE_OK) _exit(3);
            _exit(0);
        }
        /* Every other kill after a random delay of up to two saves' time,
         * the others as soon as a temporary file shows. */
        const double start = now();
        if (i % 2) {
            while (!temporary_exists() && now() - start < 5 * save_s + 1.0) {
                const struct timespec poll = {0, 20000};
                nanosleep(&poll, NULL);
            }
        } else {
            const double delay = save_s * 2.0 * rand() / RAND_MAX;
            const struct timespec ts = {(time_t)delay,
                                        (long)((delay - (double)(time_t)delay) * 1e9)};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        char what[64];
        snprintf(what, sizeof what, "random kill %d after %.1f ms", i, 1e3 * (now() - start));
        reap_killed(pid, what);
        last = on_disk(what);
        seen[last] = 1;
        mid_save += sweep_temporaries() > 0;
    }
    print_message("%d kills at random: %d in the middle of writing a temporary file; "
                  "found A: %s, B: %s (one save: %.0f ms)\n",
                  kills, mid_save, seen[0] ? "yes" : "no", seen[1] ? "yes" : "no", 1e3 * save_s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_at_each_point_of_a_save),
        cmocka_unit_test(test_killed_at_random_moments),
    };
    return cmocka_run_group_tests_name("kill-save", tests, setup, teardown);
}
