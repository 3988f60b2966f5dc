/*
 * Error reporting inside the library: record a thread-local message and
 * return the status in one expression, so that every check reads
 *     if (n == 0) return vaei_fail(VAE_ERR_INVALID_ARGUMENT, "batch size is 0");
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAEI_ERROR_H
#define VAEI_ERROR_H

#include "vae/vae.h"

#if defined(__GNUC__)
#define VAEI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VAEI_PRINTF(f, a)
#endif

/* Record "fmt..." as the calling thread's last error and send it to the log
 * callback at VAE_LOG_ERROR (unless quiet); returns s. */
vae_status vaei_fail(vae_status s, const char *fmt, ...) VAEI_PRINTF(2, 3);

/* Put back a message saved from vae_last_error() after later calls
 * overwrote it; not logged again (it was logged when it was made). */
vae_status vaei_restore(vae_status s, const char *msg);

/* vaei_quiet(1) ... vaei_quiet(0): failures in between are recorded but not
 * logged, for a caller that reports them itself in a fuller message. */
void vaei_quiet(int on);

/* Send one line to the host's log callback, if any. */
void vaei_log(vae_log_level level, const char *fmt, ...) VAEI_PRINTF(2, 3);

/* Return from the enclosing function with status s when cond is false. */
#define VAEI_CHECK(cond, s, ...)                    \
    do {                                            \
        if (!(cond)) return vaei_fail((s), __VA_ARGS__); \
    } while (0)

/* Argument checks of public calls share one status and message shape. */
#define VAEI_CHECK_ARG(cond) \
    VAEI_CHECK(cond, VAE_ERR_INVALID_ARGUMENT, "%s: invalid argument: %s", __func__, #cond)

/* Propagate a failed status unchanged (its message is already recorded). */
#define VAEI_TRY(expr)                    \
    do {                                  \
        vae_status vaei_s_ = (expr);      \
        if (vaei_s_ != VAE_OK) return vaei_s_; \
    } while (0)

#endif /* VAEI_ERROR_H */
