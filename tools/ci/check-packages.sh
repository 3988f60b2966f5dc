#!/bin/sh
# The packages work (a CI step; docs/packaging.md). Nothing is installed into
# the system beyond the Debian packages the build needs:
#  1. tools/package/build-deb.sh builds libvae1, libvae-dev, vae-tools and
#     python3-libvae, and lintian finds no error and no warning in them (the overrides say why in packaging/debian).
#  2. The packages, unpacked with dpkg -x into a scratch root:
#     - the README's C example builds with nothing but
#       `pkg-config --cflags --libs libvae` (pkg-config sees only the scratch
#       root's .pc files, through PKG_CONFIG_LIBDIR and
#       PKG_CONFIG_SYSROOT_DIR) and runs on the packaged data set;
#     - the packaged vae-train trains an epoch;
#     - the README's Python block runs with python3-libvae, which finds
#       libvae.so.1 through the loader, with no LIBVAE_LIBRARY.
#     The scratch root's library directory reaches the loader through
#     LD_LIBRARY_PATH, where an installed libvae1 is in ld.so.cache.
#  3. tools/package/build-wheel.sh builds the wheel; pip installs it into a new venv
#     (--system-site-packages for Debian's numpy, --no-index: no network),
#     and, from outside the tree's bindings, the README's Python block runs
#     on the wheel's own library with no LIBVAE_LIBRARY; LIBVAE_LIBRARY still
#     overrides it.
set -eu
cd "$(dirname "$0")/../.."
src=$PWD
step() { echo "== check-packages: $*"; }
fail() { echo "check-packages: FAIL: $*" >&2; exit 1; }

sh tools/build/need-packages.sh lintian dpkg-dev python3 python3-venv python3-numpy pkg-config \
    gcc binutils
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset LIBVAE_LIBRARY PYTHONPATH LD_LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR \
    PKG_CONFIG_SYSROOT_DIR VAE_BACKEND || true
py=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvae-packages.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
soversion=$(python3 tools/build/version.py | cut -d. -f1)

step "1. Debian packages: tools/package/build-deb.sh"
# nocheck unless the caller says otherwise: CI has run the same suite on the
# distribution's flags offline already (tools/ci/check-packaging.sh), and a
# third run inside dpkg-buildpackage would add minutes and no verdict.
DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck} sh tools/package/build-deb.sh "$tmp/debs"
set -- "$tmp/debs"/*.changes
changes=$1
step "1. lintian $(basename "$changes")"
lintian --fail-on error,warning --display-info --pedantic "$changes" ||
    fail "lintian reports an error or a warning"
echo "lintian: no error, no warning"

step "2. the packages unpacked into a scratch root"
root="$tmp/root"
for deb in "$tmp/debs"/*.deb; do
    case "$deb" in *-dbgsym_*) continue ;; esac
    dpkg -x "$deb" "$root"
    echo "  $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
L="$root/usr/lib/$multiarch"
# The split of docs/packaging.md: the link for -lvae only in -dev, no
# library inside python3-libvae.
dpkg -c "$tmp/debs/libvae${soversion}"_*.deb | grep -q "libvae\.so -> " &&
    fail "libvae$soversion holds the libvae.so link"
dpkg -c "$tmp/debs"/python3-libvae_*.deb | grep -q "libvae\.so" &&
    fail "python3-libvae carries a libvae.so"

"$py" tools/build/readme_example.py README.md "$tmp/example.c"
flags=$(PKG_CONFIG_LIBDIR="$L/pkgconfig:$root/usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" \
        PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
        pkg-config --cflags --libs libvae) || fail "pkg-config finds no libvae in the scratch root"
echo "pkg-config --cflags --libs libvae: $flags"
# shellcheck disable=SC2086
cc -o "$tmp/example" "$tmp/example.c" $flags ||
    fail "the README's C example does not build with pkg-config's flags"
resolved=$(LD_LIBRARY_PATH="$L" ldd "$tmp/example" | sed -n 's/.*libvae\.so[^ ]* => \([^ ]*\).*/\1/p')
case "$resolved" in
    "$L"/*) ;;
    *) fail "the example loads libvae from '$resolved', not from the scratch root" ;;
esac
mkdir "$tmp/run"
(cd "$tmp/run" && LD_LIBRARY_PATH="$L" "$tmp/example" "$root/usr/share/libvae/mnist-subset") \
    >"$tmp/example.out" || fail "the README's C example failed"
grep -q '^epoch 3: ' "$tmp/example.out" || fail "the C example printed: $(cat "$tmp/example.out")"
sed 's/^/  /' "$tmp/example.out"

LD_LIBRARY_PATH="$L" "$root/usr/bin/vae-train" --data "$root/usr/share/libvae/mnist-subset" \
    --epochs 1 --out "$tmp/vae-out" --quiet >"$tmp/train.out" 2>&1 ||
    { cat "$tmp/train.out"; fail "the packaged vae-train failed"; }
[ -s "$tmp/vae-out/model.vae" ] || fail "vae-train wrote no model.vae"
echo "vae-train --epochs 1: $(tail -n 1 "$tmp/train.out")"

dist="$root/usr/lib/python3/dist-packages"
LD_LIBRARY_PATH="$L" PYTHONPATH="$dist" "$py" "$src/tools/build/readme_python.py" README.md \
    "$dist/libvae" "$L/libvae.so.$soversion" || fail "the README's Python block with python3-libvae"

step "3. the wheel: tools/package/build-wheel.sh"
sh tools/package/build-wheel.sh "$tmp/wheel"
set -- "$tmp/wheel"/*.whl
wheel=$1
step "3. pip install $(basename "$wheel") into a new venv"
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --no-index --quiet "$wheel" || fail "pip install"
site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
bundled="$site/libvae/libvae.so.$soversion"
[ -f "$bundled" ] || fail "no $bundled"
"$tmp/venv/bin/python" "$src/tools/build/readme_python.py" README.md "$site/libvae" "$bundled" ||
    fail "the README's Python block with the wheel"
# LIBVAE_LIBRARY overrides the bundled copy.
mkdir "$tmp/other"
cp "$bundled" "$tmp/other/libvae.so.$soversion"
LIBVAE_LIBRARY="$tmp/other/libvae.so.$soversion" "$tmp/venv/bin/python" "$src/tools/build/readme_python.py" \
    README.md "$site/libvae" "$tmp/other/libvae.so.$soversion" ||
    fail "LIBVAE_LIBRARY does not override the wheel's library"
if LIBVAE_LIBRARY=/nonexistent/libvae.so.1 "$tmp/venv/bin/python" -c 'import libvae' 2>"$tmp/err"; then
    fail "import libvae succeeded with LIBVAE_LIBRARY naming no file"
fi
grep -q 'LIBVAE_LIBRARY=/nonexistent/libvae.so.1: no such file' "$tmp/err" ||
    fail "unexpected error with a wrong LIBVAE_LIBRARY: $(tail -n 1 "$tmp/err")"
echo "LIBVAE_LIBRARY overrides the wheel's library (and a wrong one is refused)"
echo "check-packages: all checks passed"
