#!/bin/sh
# What a distribution packager checks (a CI step; docs/packaging.md).
#
# Two copies of this tree at different paths are each configured the way a
# Debian package build does it (--buildtype=plain, --prefix=/usr, the
# multiarch libdir, dpkg-buildflags' CFLAGS/CPPFLAGS/LDFLAGS with hardening,
# -ffile-prefix-map of the tree) with -Dblas=cblas, and built. Then:
#  1. the distribution's flags reach every compile and link, and meson adds
#     no optimisation level of its own;
#  2. the two builds give byte-identical libvae.so and vae-train
#     (reproducible build);
#  3. with blas=cblas libvae links the generic libblas.so.3, which Debian's
#     alternatives point at OpenBLAS, BLIS or the reference BLAS;
#  4. the whole test suite passes from the build tree, nothing installed,
#     with the network unshared when the kernel allows it (the install suite
#     there also checks the /usr, multiarch-libdir layout).
set -eu
cd "$(dirname "$0")/../.."
src=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvae-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step() { echo "== check-packaging: $*"; }
fail() { echo "check-packaging: FAIL: $*" >&2; exit 1; }

multiarch=$(cc -print-multiarch 2>/dev/null || true)
libdir=lib${multiarch:+/$multiarch}
soversion=$(python3 tools/build/version.py)

# Two copies of the working tree (tracked and new files, not ignored ones),
# at paths of different lengths.
copy_tree() {
    mkdir -p "$1"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$1"
    else  # a release tarball
        tar -cf - --exclude='./build*' --exclude=./vae-out --exclude=./obj . | tar -xf - -C "$1"
    fi
}
a="$tmp/1/libvae-1.0"
b="$tmp/second-build-tree/libvae-1.0"
copy_tree "$a"
copy_tree "$b"

# dpkg-buildflags with hardening=+all, for the tree at $1.
configure() {
    tree=$1
    shift
    cppflags="-Wdate-time -D_FORTIFY_SOURCE=2"
    cflags="-g -O2 -ffile-prefix-map=$tree=. -fstack-protector-strong -Wformat -Werror=format-security"
    ldflags="-Wl,-z,relro -Wl,-z,now"
    (cd "$tree" && meson setup obj --buildtype=plain --prefix=/usr --libdir="$libdir" \
        -Dblas=cblas -Dc_args="$cppflags $cflags" -Dc_link_args="$ldflags" "$@" \
        >"$tmp/setup.log" 2>&1) || { cat "$tmp/setup.log"; fail "meson setup in $tree"; }
    ninja -C "$tree/obj" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build in $tree"; }
}
step "two plain builds with Debian's flags and -Dblas=cblas: $a and $b"
configure "$a"
configure "$b" -Dtests=disabled

step "1. the distribution's flags are honoured"
python3 - "$a/obj/compile_commands.json" <<'EOF'
import json, re, sys
cmds = [c['command'] for c in json.load(open(sys.argv[1])) if c['file'].endswith('.c')]
bad = [c for c in cmds if re.findall(r'(?<!\S)-O\S*', c) != ['-O2']
       or '-fstack-protector-strong' not in c or '-D_FORTIFY_SOURCE=2' not in c]
if bad:
    sys.exit('compile commands without the distribution flags, or with another -O:\n' + bad[0])
print('%d compile commands: -O2 and the hardening flags, no other -O level' % len(cmds))
EOF
lib="obj/lib/libvae.so.$soversion"
readelf -d "$a/$lib" | grep -q 'BIND_NOW' || fail "LDFLAGS not honoured: libvae.so is not linked -z now"
readelf -lW "$a/$lib" | grep -q 'GNU_RELRO' || fail "LDFLAGS not honoured: libvae.so has no RELRO"
echo "libvae.so linked with -z relro -z now"

step "2. reproducible: the builds in two directories give identical bytes"
for f in "$lib" obj/examples/vae-train; do
    cmp "$a/$f" "$b/$f" || fail "$f differs between $a and $b"
    echo "$(sha256sum "$a/$f" | cut -c1-16)  $f (identical)"
done

step "3. blas=cblas links the generic libblas.so.3 (Debian's alternatives choose the BLAS)"
readelf -d "$a/$lib" | grep -q 'Shared library: \[libblas.so.3\]' ||
    fail "libvae.so does not link libblas.so.3: $(readelf -d "$a/$lib" | grep NEEDED)"
if readelf -d "$a/$lib" | grep -Eq 'Shared library: \[lib(openblas|blis)'; then
    fail "libvae.so links a specific BLAS"
fi
readelf -d "$a/$lib" | grep NEEDED | sed 's/.*Shared library: /  NEEDED /'
# Installed (no RUNPATH), the loader finds it through ld.so.cache in the
# multiarch directory, where the alternatives' link lives.
meson install -C "$a/obj" --destdir "$tmp/dest" --no-rebuild --quiet
blas=$(ldd "$tmp/dest/usr/$libdir/libvae.so.$soversion" | sed -n 's/.*libblas\.so\.3 => \([^ ]*\).*/\1/p')
case "$blas" in
    /lib/$multiarch/libblas.so.3|/usr/lib/$multiarch/libblas.so.3) ;;
    *) fail "the installed libvae.so loads libblas.so.3 from '$blas'" ;;
esac
echo "installed libvae.so loads $blas -> $(readlink -f "$blas")"

step "4. the test suite from the build tree, nothing installed, no network"
run=""
if command -v unshare >/dev/null && unshare -rn true 2>/dev/null; then
    # Only the loopback interface, brought up: the MPI tests' workers talk over
    # it, and nothing can reach another machine.
    run="unshare -rn sh -c 'ip link set lo up && exec \"\$@\"' sh"
    echo "(in a network namespace with only loopback: unshare -rn)"
else
    echo "(unshare -rn is not permitted here: the network is not cut off)"
fi
eval "$run" meson test -C "\"$a/obj\"" --print-errorlogs >"$tmp/test.log" 2>&1 ||
    { cat "$tmp/test.log"; fail "meson test in $a/obj"; }
grep -E '^(Ok|Fail|Skipped):' "$tmp/test.log"
echo "check-packaging: all checks passed"
