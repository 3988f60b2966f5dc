#!/bin/sh
# Build libvae's Debian packages offline and leave them in OUTDIR:
#     tools/package/build-deb.sh OUTDIR
# libvae1, libvae-dev, vae-tools and python3-libvae (docs/packaging.md), with
# their .buildinfo and .changes, and the build's log (.build). The packaging lives in packaging/debian, so
# that a distribution can ignore it: this script copies the tree (tracked and
# new files, not ignored ones) to a temporary directory, puts
# packaging/debian there as debian/ and tests/abi/libvae1.symbols as
# debian/libvae1.symbols, and runs `dpkg-buildpackage -us -uc -b` (debhelper
# with its meson build system, and pybuild for the Python package).
#
# The build runs the meson test suite (dh_auto_test), except with
# DEB_BUILD_OPTIONS=nocheck. PATH is reduced to the system's directories, as
# on a build daemon, so that a python3 of pyenv or a venv plays no part.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
fail() { echo "build-deb: FAIL: $*" >&2; exit 1; }

# What dpkg-buildpackage needs, then the Build-Depends of debian/control
# (dpkg-checkbuilddeps below says if this list falls behind).
sh tools/build/need-packages.sh dpkg-dev build-essential debhelper dh-python \
    meson ninja-build pkg-config zlib1g-dev 'libblas-dev|libopenblas-dev' libpng-dev \
    python3-all pybuild-plugin-pyproject python3-setuptools \
    libcmocka-dev python3-numpy python3-pytest groff-base

version=$(python3 tools/build/version.py)
soversion=${version%%.*}
debian_version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
[ "${debian_version%-*}" = "$version" ] ||
    fail "packaging/debian/changelog is at $debian_version, include/vae/version.h at $version"
grep -q "^version = \"$version\"$" bindings/python/pyproject.toml ||
    fail "bindings/python/pyproject.toml (python3-libvae) is not at version $version"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvae-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree="$tmp/libvae-$version"
mkdir -p "$tree"
sh tools/build/copy-source.sh "$tree"
cp -r packaging/debian "$tree/debian"
cp "tests/abi/libvae$soversion.symbols" "$tree/debian/libvae$soversion.symbols"

cd "$tree"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset LIBVAE_LIBRARY PYTHONPATH VAE_BACKEND VAE_SOURCE_ROOT VAE_TRAIN || true
dpkg-checkbuilddeps || fail "Build-Depends not installed (see tools/build/need-packages.sh above)"
echo "== build-deb: dpkg-buildpackage -us -uc -b in $tree"
build_log="$out/libvae_${debian_version}_$(dpkg-architecture -qDEB_HOST_ARCH).build"
if ! dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$build_log" 2>&1; then
    tail -n 80 "$build_log"
    fail "dpkg-buildpackage (the whole log: $build_log)"
fi
grep -E '^(Ok|Fail|Skipped|Timeout):' "$build_log" || true
changes="libvae_${debian_version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes"
[ -f "$tmp/$changes" ] || fail "no $changes"
# The .changes names every file built: the .debs and the .buildinfo.
files=$(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]\{32\} [0-9]* [^ ]* [^ ]* //p' "$tmp/$changes")
for f in $files "$changes"; do
    cp "$tmp/$f" "$out/"
done
cd "$out"
# shellcheck disable=SC2086
ls -l $files "$changes" "$(basename "$build_log")"
