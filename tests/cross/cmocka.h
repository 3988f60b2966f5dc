/*
 * A stand-in for the part of cmocka that tests/test_kernels.c and
 * tests/test_elementwise.c use, for the aarch64 cross build
 * (tools/ci/test-neon.sh): the cross toolchain has a C library but no aarch64
 * cmocka, and installing Debian's libcmocka-dev:arm64 would upgrade host
 * packages through multiarch. The semantics are cmocka's: a failed check
 * ends its test, the group goes on, and the exit status counts failures.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_CROSS_CMOCKA_H
#define VAE_CROSS_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct CMUnitTest {
    const char *name;
    void (*fn)(void **state);
};

static jmp_buf cm_jump;
static int cm_skipped;

static inline void cm_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    longjmp(cm_jump, 1);
}

#define print_message(...) printf(__VA_ARGS__)
#define fail_msg(...) cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() (cm_skipped = 1, longjmp(cm_jump, 2))
#define assert_true(c) ((c) ? (void)0 : fail_msg("assert_true(%s)", #c))
#define assert_false(c) (!(c) ? (void)0 : fail_msg("assert_false(%s)", #c))
#define assert_non_null(p) assert_true((p) != NULL)
#define assert_null(p) assert_true((p) == NULL)
#define assert_int_equal(a, b)                                                               \
    ((long long)(a) == (long long)(b) ? (void)0                                              \
                                      : fail_msg("%s = %lld, expected %lld", #a,             \
                                                 (long long)(a), (long long)(b)))
#define assert_string_equal(a, b)                                                            \
    (strcmp((a), (b)) == 0 ? (void)0 : fail_msg("\"%s\" != \"%s\"", (a), (b)))
#define assert_string_not_equal(a, b)                                                        \
    (strcmp((a), (b)) != 0 ? (void)0 : fail_msg("\"%s\" == \"%s\"", (a), (b)))
#define assert_memory_equal(a, b, n)                                                         \
    (memcmp((a), (b), (n)) == 0 ? (void)0 : fail_msg("memory of %s differs", #a))
#define cmocka_unit_test(f) {#f, f}

static inline int cm_run(const char *group, const struct CMUnitTest *t, size_t n)
{
    volatile int failed = 0, skipped = 0; /* live across longjmp */
    for (volatile size_t i = 0; i < n; i++) {
        void *state = NULL;
        cm_skipped = 0;
        const int r = setjmp(cm_jump);
        if (r == 0) t[i].fn(&state);
        if (r == 1) failed++;
        if (r == 2) skipped++;
        printf("[ %s ] %s\n", r == 0 ? "      OK" : r == 1 ? "  FAILED" : " SKIPPED", t[i].name);
    }
    printf("%s: %zu passed, %d failed, %d skipped\n", group, n - (size_t)failed - (size_t)skipped,
           failed, skipped);
    return failed;
}
#define cmocka_run_group_tests_name(group, tests, setup, teardown) \
    cm_run((group), (tests), sizeof(tests) / sizeof((tests)[0]))

#endif /* VAE_CROSS_CMOCKA_H */
