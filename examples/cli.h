/*
 * Command-line helpers shared by the example programs: strict number
 * parsing, locating data files, and one-line fatal errors.
 *
 * Every message has the form "<program>: <what>: <why>" on one line of
 * stderr, and every fatal error exits with status 1. These helpers exit
 * instead of returning errors because a command-line program has nothing
 * better to do with a bad argument than to say so and stop.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VAE_EXAMPLES_CLI_H
#define VAE_EXAMPLES_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <vae/vae.h>

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/** Name that prefixes every message ("vae-train"); call first in main(). */
void cli_set_program(const char *name);
/** @return the name set by cli_set_program(). */
const char *cli_program(void);

/** Print "<program>: <message>" and exit with status 1. */
_Noreturn void die(const char *fmt, ...) CLI_PRINTF(1, 2);

/**
 * Have die() call fn(1) before exit(1): an MPI program aborts the whole job
 * there (MPI_Abort) so that no other worker waits for this one. NULL: none.
 */
void cli_set_exit(void (*fn)(int status));

/**
 * When s is not VAE_OK, print "<program>: <what>: <vae_last_error()>" and
 * exit with status 1. The arguments must not call libvae themselves: that
 * would replace the message being reported.
 */
void cli_check(vae_status s, const char *what_fmt, ...) CLI_PRINTF(2, 3);

/**
 * Match argv[*i] against an option that takes a value, given either as
 * "--flag value" or "--flag=value".
 * @return the value (advancing *i past it in the first form), or NULL when
 *         argv[*i] is not this flag. Dies when the value is missing.
 */
const char *cli_value(int argc, char **argv, int *i, const char *flag);

/*
 * Strict number parsers: the whole text must be the number, in decimal, with
 * no sign (except cli_int), blanks or trailing characters. On failure they
 * die with e.g. "vae-train: --epochs: 'abc' is not a whole number".
 */
int cli_int(const char *flag, const char *text, int min, int max);
size_t cli_size(const char *flag, const char *text, size_t min, size_t max);
uint64_t cli_uint64(const char *flag, const char *text, uint64_t max);
/** Any finite number strtod() accepts ("1e-3", "0.5"); inf and nan are refused. */
double cli_double(const char *flag, const char *text);
/**
 * A comma-separated list of whole numbers ("400" or "512,256") into out.
 * @return how many were parsed, 1 to cap. Dies on an empty item or more than cap.
 */
size_t cli_size_list(const char *flag, const char *text, size_t *out, size_t cap);
/** Index of text in names[0..n); dies listing the names when it is none of them. */
int cli_pick(const char *flag, const char *text, const char *const *names, int n);

/** Write "<dir>/<name>" into buf; dies when it does not fit. */
void cli_join(char *buf, size_t size, const char *dir, const char *name);

/**
 * Find "<dir>/<name>", or else "<dir>/<name>.gz", and write its path into buf.
 * @return 0 when one exists, -1 (errno ENOENT) when neither does.
 */
int cli_find_file(char *buf, size_t size, const char *dir, const char *name);

/*
 * Where the example programs look for the bundled MNIST subset when --data
 * is not given. Both are set by examples/meson.build: the installed copy
 * (an absolute path under datadir), and the source tree's copy as a path
 * relative to the directory of the running program, so that a build from any
 * directory runs in place and yet its binaries hold no build path.
 */
#ifndef VAE_DATA_INSTALLED
#define VAE_DATA_INSTALLED "/usr/local/share/libvae/mnist-subset"
#endif
#ifndef VAE_DATA_FROM_PROGRAM
#define VAE_DATA_FROM_PROGRAM "../../examples/data/mnist-subset"
#endif

/**
 * The default data directory: VAE_DATA_INSTALLED when it exists, else
 * VAE_DATA_FROM_PROGRAM beside the running program (written into buf) when
 * that exists, else "examples/data/mnist-subset" of the working directory.
 */
const char *cli_default_data(char *buf, size_t size);

/**
 * Create directory path and any missing parents (as mkdir -p).
 * @return 0, or -1 with errno set.
 */
int cli_make_dir(const char *path);

#endif /* VAE_EXAMPLES_CLI_H */
