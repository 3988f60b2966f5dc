/*
 * Command-line helpers of the example programs; see cli.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *program = "vae";
static void (*exit_fn)(int status);

void cli_set_program(const char *name)
{
    program = name;
}

const char *cli_program(void)
{
    return program;
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (exit_fn) exit_fn(1);
    exit(1);
}

void cli_set_exit(void (*fn)(int status))
{
    exit_fn = fn;
}

void cli_check(vae_status s, const char *what_fmt, ...)
{
    if (s == VAE_OK) return;
    /* Copy the reason before anything else could touch the library. */
    const char *why = vae_last_error();
    if (why[0] == '\0') why = vae_status_string(s);

    char what[512];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    die("%s: %s", what, why);
}

const char *cli_value(int argc, char **argv, int *i, const char *flag)
{
    const char *arg = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL; /* a longer flag sharing this prefix */
    if (*i + 1 >= argc) die("%s: missing value", flag);
    return argv[++*i];
}

/* Digits only, so that strtoull cannot quietly accept " 5", "+5" or "-5". */
static unsigned long long parse_whole(const char *flag, const char *text)
{
    if (!isdigit((unsigned char)text[0])) die("%s: '%s' is not a whole number", flag, text);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0') die("%s: '%s' is not a whole number", flag, text);
    if (errno == ERANGE) die("%s: '%s' is too large", flag, text);
    return v;
}

int cli_int(const char *flag, const char *text, int min, int max)
{
    /* One optional minus, then digits only (strtoll would skip blanks and accept '+'). */
    if (!isdigit((unsigned char)text[text[0] == '-']))
        die("%s: '%s' is not a whole number", flag, text);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0') die("%s: '%s' is not a whole number", flag, text);
    if (errno == ERANGE || v < min || v > max)
        die("%s: '%s' is not between %d and %d", flag, text, min, max);
    return (int)v;
}

size_t cli_size(const char *flag, const char *text, size_t min, size_t max)
{
    unsigned long long v = parse_whole(flag, text);
    if (v < min) die("%s: '%s' must be at least %zu", flag, text, min);
    if (v > max) die("%s: '%s' must be at most %zu", flag, text, max);
    return (size_t)v;
}

uint64_t cli_uint64(const char *flag, const char *text, uint64_t max)
{
    unsigned long long v = parse_whole(flag, text);
    if (v > max) die("%s: '%s' must be at most %llu", flag, text, (unsigned long long)max);
    return (uint64_t)v;
}

double cli_double(const char *flag, const char *text)
{
    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        die("%s: '%s' is not a number", flag, text);
    char *end;
    double v = strtod(text, &end);
    if (*end != '\0') die("%s: '%s' is not a number", flag, text);
    /* ERANGE on underflow still gives a usable tiny value; only refuse infinities. */
    if (!isfinite(v)) die("%s: '%s' is not a finite number", flag, text);
    return v;
}

size_t cli_size_list(const char *flag, const char *text, size_t *out, size_t cap)
{
    size_t n = 0;
    const char *p = text;
    for (;;) {
        if (!isdigit((unsigned char)*p))
            die("%s: '%s' is not a comma-separated list of whole numbers", flag, text);
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v > SIZE_MAX) die("%s: '%s' holds a number too large", flag, text);
        if (*end != ',' && *end != '\0')
            die("%s: '%s' is not a comma-separated list of whole numbers", flag, text);
        if (n == cap) die("%s: '%s' has more than %zu numbers", flag, text, cap);
        out[n++] = (size_t)v;
        if (*end == '\0') return n;
        p = end + 1;
    }
}

int cli_pick(const char *flag, const char *text, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(text, names[i])) return i;
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    die("%s: '%s' is not one of %s", flag, text, list);
}

void cli_join(char *buf, size_t size, const char *dir, const char *name)
{
    int len = snprintf(buf, size, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= size) die("%s/%s: path too long", dir, name);
}

int cli_find_file(char *buf, size_t size, const char *dir, const char *name)
{
    static const char *const suffix[] = {"", ".gz"};
    for (size_t i = 0; i < 2; i++) {
        int len = snprintf(buf, size, "%s/%s%s", dir, name, suffix[i]);
        if (len < 0 || (size_t)len >= size) die("%s/%s%s: path too long", dir, name, suffix[i]);
        struct stat st;
        if (stat(buf, &st) == 0) return 0;
    }
    errno = ENOENT;
    return -1;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_default_data(char *buf, size_t size)
{
    if (is_dir(VAE_DATA_INSTALLED)) return VAE_DATA_INSTALLED;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int len = snprintf(buf, size, "%s/%s", exe, VAE_DATA_FROM_PROGRAM);
            if (len > 0 && (size_t)len < size && is_dir(buf)) return buf;
        }
    }
    return "examples/data/mnist-subset";
}

int cli_make_dir(const char *path)
{
    size_t len = strlen(path);
    if (len == 0) {
        errno = ENOENT;
        return -1;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, path, len + 1);

    /* Create each prefix that ends before a '/', then the whole path;
     * prefixes that already exist as directories are fine. */
    int err = 0;
    for (char *p = copy + 1; err == 0; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(copy, 0777) != 0) {
            err = errno;
            if (err == EEXIST)
                err = stat(copy, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        }
        *p = saved;
        if (saved == '\0') break;
    }
    free(copy);
    errno = err;
    return err == 0 ? 0 : -1;
}
