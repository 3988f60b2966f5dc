/*
 * Status strings, the per-thread last-error message, the log callback and the
 * version queries.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_error[512];
/* While > 0, failures are recorded but not logged: the caller is about to
 * replace the message with a fuller one, which is the line to log. */
static _Thread_local int quiet;

/* The host's callback and its argument change together: a thread logging
 * while another calls vae_log_set() must see the old pair or the new one,
 * never one's function with the other's argument. The lock covers only the
 * copy, never the call, so a callback may itself call vae_log_set(). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static vae_log_fn log_fn;
static void *log_user;

const char *vae_status_string(vae_status s)
{
    switch (s) {
    case VAE_OK: return "success";
    case VAE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case VAE_ERR_OUT_OF_MEMORY: return "out of memory";
    case VAE_ERR_IO: return "input/output error";
    case VAE_ERR_FORMAT: return "malformed file";
    case VAE_ERR_UNSUPPORTED: return "unsupported";
    case VAE_ERR_MISMATCH: return "shape mismatch";
    case VAE_ERR_NUMERIC: return "non-finite loss or gradient";
    case VAE_ERR_CANCELLED: return "cancelled";
    case VAE_ERR_LIMIT: return "size limit exceeded";
    case VAE_ERR_UNAVAILABLE: return "unavailable";
    case VAE_ERR_CALLBACK: return "callback failed";
    }
    return "unknown status";
}

const char *vae_last_error(void)
{
    return last_error;
}

vae_status vaei_fail(vae_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    /* vae.h: VAE_LOG_ERROR is "a call failed; the message says why". */
    if (!quiet) vaei_log(VAE_LOG_ERROR, "%s", last_error);
    return s;
}

vae_status vaei_restore(vae_status s, const char *msg)
{
    if (msg != last_error) snprintf(last_error, sizeof last_error, "%s", msg);
    return s;
}

void vaei_quiet(int on)
{
    quiet += on ? 1 : -1;
}

void vae_log_set(vae_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void vaei_log(vae_log_level level, const char *fmt, ...)
{
    pthread_mutex_lock(&log_lock);
    const vae_log_fn fn = log_fn;
    void *const user = log_user;
    pthread_mutex_unlock(&log_lock);
    if (!fn) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(user, level, line);
}

unsigned vae_version_number(void)
{
    return VAE_VERSION_NUMBER;
}

const char *vae_version_string(void)
{
    return VAE_VERSION_STRING;
}
