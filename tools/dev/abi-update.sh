#!/bin/sh
# Regenerate, on purpose, everything that records the ABI: lib/libvae.map and
# tests/abi/libvae<MAJOR>.symbols from the headers' @since tags, and the
# libabigail baseline tests/abi/libvae.abi from a fresh debug build.
# Review the diff before committing: a removed or changed line is a break
# (docs/abi.md).   Usage: tools/dev/abi-update.sh [BUILDDIR]   (default build-abi)
set -eu
exec sh "$(dirname "$0")/../ci/abi-check.sh" --update "$@"
