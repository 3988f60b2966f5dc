#!/bin/sh
# Build the self-contained Python wheel and leave it in OUTDIR:
#     tools/package/build-wheel.sh OUTDIR
# One wheel for this machine's platform: the package libvae with its own
# libvae.so.1 inside it, built by meson-python (Debian's python3-mesonpy, the
# backend named by pyproject.toml) from a copy of the tree, with libvae's own
# SIMD kernels and no BLAS (pyproject.toml's meson arguments).
#
# meson-python tags it for the building CPython (cp311-cp311-linux_x86_64),
# but nothing in it depends on Python's ABI: the package is pure Python over
# ctypes. The wheel is retagged py3-none-manylinux_2_<N>_<arch> after checking
# that this is true of the library inside: it is the only ELF file, links
# only libc, libm, zlib and the dynamic loader, has no RPATH, and needs no
# glibc symbol version newer than 2.<N> (GLIBC_PROMISE). A Debian 12 build
# needs GLIBC_2.34: glibc 2.34 moved the pthread functions into libc.so.6.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
fail() { echo "build-wheel: FAIL: $*" >&2; exit 1; }

GLIBC_PROMISE=${GLIBC_PROMISE:-2.34}

sh tools/build/need-packages.sh python3 python3-mesonpy python3-build python3-wheel patchelf \
    meson ninja-build gcc pkg-config zlib1g-dev binutils
# Debian's python3, which has meson-python: not a pyenv or venv python3 on PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset LIBVAE_LIBRARY PYTHONPATH || true
py=/usr/bin/python3

version=$(python3 tools/build/version.py)
soversion=${version%%.*}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvae-wheel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# meson-python 0.12 writes its native file and build directory into the
# source tree: it builds a copy (tracked and new files, not ignored ones).
tree="$tmp/libvae-$version"
mkdir -p "$tree"
sh tools/build/copy-source.sh "$tree"

echo "== build-wheel: python3 -m build --wheel --no-isolation (meson-python) in $tree"
if ! (cd "$tree" && "$py" -m build --wheel --no-isolation --outdir "$tmp/dist" . >"$tmp/build.log" 2>&1); then
    tail -n 60 "$tmp/build.log"
    fail "python3 -m build"
fi
set -- "$tmp/dist"/*.whl
if [ $# -ne 1 ] || [ ! -f "$1" ]; then fail "expected one wheel in $tmp/dist, got: $*"; fi
built=$1
"$py" -m wheel unpack --dest "$tmp/unpacked" "$built" >/dev/null
root="$tmp/unpacked/libvae-$version"
lib="$root/libvae/libvae.so.$soversion"

echo "== build-wheel: checking the library inside $(basename "$built")"
[ -f "$lib" ] || fail "no libvae/libvae.so.$soversion in the wheel"
others=$(find "$root" -type f ! -path "$lib" -exec sh -c '
    for f; do [ "$(head -c 4 "$f" | tail -c 3)" = ELF ] && echo "$f"; done; true' sh {} +)
[ -z "$others" ] || fail "other ELF files in the wheel: $others"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libvae.so.$soversion" ] || fail "soname '$soname', not libvae.so.$soversion"
! readelf -d "$lib" | grep -Eq '\((RPATH|RUNPATH)\)' || fail "the library has an RPATH or RUNPATH"
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for n in $needed; do
    case "$n" in
        libc.so.6|libm.so.6|libz.so.1|ld-linux*.so.*) ;;
        *) fail "the library needs $n (only libc, libm, zlib and the loader are allowed: no BLAS)" ;;
    esac
done
echo "NEEDED: $needed"
if readelf --dyn-syms -W "$lib" | grep -q 'cblas_'; then
    fail "the library refers to a CBLAS"
fi

# The symbol versions it needs from other libraries (.gnu.version_r), each
# against the tag's promise.
versions=$(readelf -V -W "$lib" | sed -n '/\.gnu\.version_r/,$s/.*Name: \([^ ]*\).*/\1/p' | sort -u)
newest=0.0
for v in $versions; do
    case "$v" in
        GLIBC_2.*)
            n=${v#GLIBC_}
            if [ "$(printf '%s\n%s\n' "$n" "$newest" | sort -V | tail -n 1)" = "$n" ]; then
                newest=$n
            fi ;;
        GLIBC_PRIVATE) fail "the library uses GLIBC_PRIVATE symbols" ;;
        *) fail "the library needs symbol version $v, which the tag's check does not cover" ;;
    esac
done
if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_PROMISE" | sort -V | tail -n 1)" != "$GLIBC_PROMISE" ]; then
    fail "the library needs GLIBC_$newest, newer than the glibc $GLIBC_PROMISE the tag promises"
fi
echo "glibc symbol versions needed: $(echo "$versions" | tr '\n' ' ')(newest $newest <= $GLIBC_PROMISE)"

arch=$("$py" -c 'import sysconfig; print(sysconfig.get_platform().split("-", 1)[1])')
tag="py3-none-manylinux_$(echo "$GLIBC_PROMISE" | tr . _)_$arch"
wheel_file="$root/libvae-$version.dist-info/WHEEL"
grep -q '^Root-Is-Purelib: false$' "$wheel_file" || fail "meson-python made a pure wheel"
sed -i "s/^Tag: .*/Tag: $tag/" "$wheel_file"
"$py" -m wheel pack --dest-dir "$out" "$root" >/dev/null
[ -f "$out/libvae-$version-$tag.whl" ] || fail "wheel pack did not write libvae-$version-$tag.whl"
echo "$(basename "$built") retagged: $out/libvae-$version-$tag.whl"
