#!/bin/sh
# Check the ABI of libvae against the committed baseline (docs/abi.md).
#
#   tools/ci/abi-check.sh [--allow-additions] [--lib LIBVAE.so] [BUILDDIR]
#
# Builds the library with debug information in BUILDDIR (default build-abi;
# only the library, no BLAS, since the public ABI does not depend on it) unless
# --lib names an already built one, then:
#  1. lib/libvae.map and tests/abi/libvae<MAJOR>.symbols agree with the headers;
#  2. the library exports exactly the headers' functions, each vae_* at a VAE_ node;
#  3. abidiff against tests/abi/libvae.abi, public types only.
# Exit status: 0 no change; 1 an incompatible change (a function or type removed
# or changed, a symbol moved to another version node), or the map or symbols
# file out of step with the headers; 2 a tool failed; 3 only
# compatible additions, so the baseline is out of date and must be updated on
# purpose with tools/dev/abi-update.sh (--allow-additions reports them and exits 0).
#
# tools/dev/abi-update.sh runs this script with --update: regenerates the map, the
# Debian symbols file and the baseline from the headers and a fresh build.
set -eu
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
baseline=tests/abi/libvae.abi
# The options of both sides of the comparison: public types only, no paths of
# this machine, so that the baseline is the same whoever regenerates it.
abidw_opts="--headers-dir include/vae --drop-private-types --drop-undefined-syms
  --exported-interfaces-only --no-corpus-path --no-comp-dir-path --no-elf-needed --short-locs"

update=0 allow_additions=0 lib="" builddir=build-abi
while [ $# -gt 0 ]; do
    case "$1" in
        --update) update=1 ;;
        --allow-additions) allow_additions=1 ;;
        --lib) lib="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "abi-check: unknown option $1" >&2; exit 2 ;;
        *) builddir="$1" ;;
    esac
    shift
done

for tool in abidw abidiff readelf; do
    command -v "$tool" >/dev/null || { echo "abi-check: $tool not found (apt-get install abigail-tools binutils)" >&2; exit 2; }
done

if [ "$update" = 1 ]; then
    $PYTHON tools/build/abi-symbols.py write-map
    $PYTHON tools/build/abi-symbols.py write-debian-symbols
fi
$PYTHON tools/build/abi-symbols.py check-map
$PYTHON tools/build/abi-symbols.py check-debian-symbols

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$lib" ]; then
    if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" --buildtype=debugoptimized -Dblas=none -Dpng=disabled \
            -Dtests=disabled -Dexamples=false -Ddocs=disabled -Dpython=disabled >"$tmp/log" 2>&1 ||
            { cat "$tmp/log"; exit 2; }
    fi
    ninja -C "$builddir" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 2; }
    lib="$builddir/lib/libvae.so"
fi
readelf -S "$lib" | grep -q '\.debug_info' ||
    { echo "abi-check: $lib has no debug information: build it with -g" >&2; exit 2; }
$PYTHON tools/build/abi-symbols.py check-lib "$lib"

# shellcheck disable=SC2086
abidw $abidw_opts --out-file "$tmp/libvae.abi" "$lib"

if [ "$update" = 1 ]; then
    cp "$tmp/libvae.abi" "$baseline"
    echo "wrote $baseline: $(grep -c '<elf-symbol ' "$baseline") symbols"
    echo "review and commit: git diff --stat lib/libvae.map tests/abi/"
    exit 0
fi

[ -f "$baseline" ] || { echo "abi-check: $baseline missing: run tools/dev/abi-update.sh" >&2; exit 2; }
set +e
abidiff "$baseline" "$tmp/libvae.abi" >"$tmp/report"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    echo "abi-check: the ABI of $lib is the baseline's ($baseline)"
    exit 0
fi
cat "$tmp/report"
# abidiff's status is a bit field: 1 error, 2 usage, 4 change, 8 incompatible.
if [ $((rc & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (status $rc)" >&2
    exit 2
fi
# A changed signature is only "a change" (4) to abidiff, as is an addition:
# anything removed or changed in its summaries is a break.
if [ $((rc & 8)) -ne 0 ] ||
   grep -Eq '(^|[^0-9])[1-9][0-9]* (Removed|Changed)' "$tmp/report"; then
    echo "abi-check: INCOMPATIBLE change against $baseline (policy: docs/abi.md)" >&2
    exit 1
fi
if [ "$allow_additions" = 1 ]; then
    echo "abi-check: compatible additions only (allowed by --allow-additions)"
    exit 0
fi
echo "abi-check: compatible additions only; record them on purpose with tools/dev/abi-update.sh" >&2
exit 3
