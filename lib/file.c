/*
 * Opening the files libvae reads: regular files only, checked without
 * blocking.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "file.h"

vae_status vaei_open_regular(const char *path, FILE **out, uint64_t *size)
{
    /* fopen() of a FIFO blocks until a writer appears, which may be never:
     * open with O_NONBLOCK (a FIFO then opens at once), refuse anything but
     * a regular file, and clear the flag for the reads. */
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    VAEI_CHECK(fd >= 0, VAE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    vae_status s = VAE_OK;
    int flags;
    if (fstat(fd, &st) != 0)
        s = vaei_fail(VAE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = vaei_fail(VAE_ERR_IO, "%s: not a regular file", path);
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        s = vaei_fail(VAE_ERR_IO, "%s: fcntl failed: %s", path, strerror(errno));
    FILE *f = s == VAE_OK ? fdopen(fd, "rb") : NULL;
    if (s == VAE_OK && !f) s = vaei_fail(VAE_ERR_IO, "%s: fdopen failed: %s", path, strerror(errno));
    if (s != VAE_OK) {
        close(fd);
        return s;
    }
    *out = f;
    *size = (uint64_t)st.st_size;
    return VAE_OK;
}
