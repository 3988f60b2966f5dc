#!/bin/sh
# Copy the source tree into DEST (which must exist): in a git checkout the
# tracked and new files, not ignored ones (build directories); from a
# release tarball everything but the build outputs. Used by build-deb.sh
# and build-wheel.sh, which build from a copy.   Usage: copy-source.sh DEST
set -eu
dest=$1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$dest"
else  # a release tarball
    tar -cf - --exclude='./build*' --exclude=./vae-out --exclude=./obj . | tar -xf - -C "$dest"
fi
