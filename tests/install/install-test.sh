#!/bin/sh
# Install libvae into a temporary DESTDIR and use it as a distribution user
# would (meson test, suite install). tests/install/meson.build passes the
# build's directories and tools in the environment. Checks:
#  - libvae.so.X.Y.Z, with the soname libvae.so.X, and the .so.X and .so links;
#  - no RPATH or RUNPATH in any installed ELF file;
#  - only vae_* symbols exported, each at a VAE_ version (tools/build/abi-symbols.py);
#  - the headers under include/vae/ are exactly include/vae/*.h;
#  - an outside program builds with nothing but
#    `pkg-config --cflags --libs libvae` and runs against the installed library;
#  - vae-train, its man page, libvae(3) and the data set are installed.
set -eu
for v in MESON BUILD_ROOT SOURCE_ROOT LIBDIR INCLUDEDIR BINDIR DATADIR MANDIR VERSION \
         SOVERSION EXAMPLES CC READELF PYTHON PKG_CONFIG; do
    eval "[ -n \"\${$v:-}\" ]" || { echo "install-test: $v is not set" >&2; exit 2; }
done
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/libvae-destdir.XXXXXX")
trap 'rm -rf "$dest"' EXIT
"$MESON" install -C "$BUILD_ROOT" --destdir "$dest" --no-rebuild --quiet
ok "meson install --destdir $dest"
L="$dest$LIBDIR"

# The library and its links.
real="$L/libvae.so.$VERSION"
[ -f "$real" ] && [ ! -L "$real" ] || fail "$real is not installed"
[ "$(readlink "$L/libvae.so.$SOVERSION")" = "libvae.so.$VERSION" ] ||
    fail "$L/libvae.so.$SOVERSION does not point to libvae.so.$VERSION"
[ -L "$L/libvae.so" ] && [ "$(readlink -f "$L/libvae.so")" = "$(readlink -f "$real")" ] ||
    fail "$L/libvae.so is not a link to libvae.so.$VERSION"
soname=$("$READELF" -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libvae.so.$SOVERSION" ] || fail "soname is '$soname', not libvae.so.$SOVERSION"
ok "libvae.so.$VERSION, soname $soname, links .so.$SOVERSION and .so"

# No RPATH/RUNPATH anywhere (the names here have no blanks: mktemp and ours).
elves=0
for f in $(find "$dest" -type f); do
    "$READELF" -h "$f" >/dev/null 2>&1 || continue
    elves=$((elves + 1))
    if "$READELF" -d "$f" | grep -Eq '\((RPATH|RUNPATH)\)'; then
        fail "${f#"$dest"} has $("$READELF" -d "$f" | grep -E '\((RPATH|RUNPATH)\)')"
    fi
done
ok "no RPATH or RUNPATH in the $elves installed ELF files"

"$PYTHON" "$SOURCE_ROOT/tools/build/abi-symbols.py" --readelf "$READELF" check-lib "$real"

# The headers: exactly include/vae/*.h.
inc="$dest$INCLUDEDIR/vae"
n=0
for h in "$SOURCE_ROOT"/include/vae/*.h; do
    cmp -s "$h" "$inc/$(basename "$h")" || fail "include/vae/$(basename "$h") is not installed as is"
    n=$((n + 1))
done
[ "$(ls "$inc" | wc -l)" -eq "$n" ] || fail "$inc holds more than include/vae/*.h: $(ls "$inc")"
ok "the $n headers in ${inc#"$dest"}"

# An outside program, with pkg-config's flags and nothing else.
export PKG_CONFIG_PATH="$L/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
[ "$("$PKG_CONFIG" --modversion libvae)" = "$VERSION" ] || fail "libvae.pc version"
flags=$("$PKG_CONFIG" --cflags --libs libvae)
echo "pkg-config --cflags --libs libvae: $flags"
case " $("$PKG_CONFIG" --libs libvae) " in
    *blas*|*blis*) fail "BLAS in the public Libs of libvae.pc (it belongs in Libs.private)" ;;
esac
# shellcheck disable=SC2086
$CC ${EXTRA_CFLAGS:-} -o "$dest/consumer" "$SOURCE_ROOT/tests/install/consumer.c" $flags ||
    fail "the outside program does not build with the pkg-config flags"
resolved=$(LD_LIBRARY_PATH="$L" ldd "$dest/consumer" | sed -n 's/.*libvae\.so[^ ]* => \([^ ]*\).*/\1/p')
[ "$(readlink -f "$resolved")" = "$(readlink -f "$real")" ] ||
    fail "the outside program loads '$resolved', not the installed library"
LD_LIBRARY_PATH="$L" "$dest/consumer" || fail "the outside program failed"
ok "an outside program built with pkg-config runs against the installed library"

# Manual pages, example program and its data.
cmp -s "$SOURCE_ROOT/docs/man/libvae.3" "$dest$MANDIR/man3/libvae.3" || fail "libvae.3 not installed"
if [ "$EXAMPLES" = true ]; then
    bin="$dest$BINDIR/vae-train"
    [ -x "$bin" ] || fail "$BINDIR/vae-train is not installed"
    cmp -s "$SOURCE_ROOT/docs/man/vae-train.1" "$dest$MANDIR/man1/vae-train.1" ||
        fail "vae-train.1 not installed"
    data="$DATADIR/libvae/mnist-subset"
    for f in README.md train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
             t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
        cmp -s "$SOURCE_ROOT/examples/data/mnist-subset/$f" "$dest$data/$f" || fail "$data/$f not installed"
    done
    LD_LIBRARY_PATH="$L" "$bin" --version | grep -q "libvae $VERSION" || fail "vae-train --version"
    LD_LIBRARY_PATH="$L" "$bin" --help | grep -q "$data" ||
        fail "vae-train's default data is not the installed $data"
    ok "vae-train, vae-train(1), libvae(3) and $data"
fi

echo "installed files:"
(cd "$dest" && find . \( -type f -o -type l \) ! -name consumer | sed 's|^\./|  /|' | sort |
    grep -v '/html/' || true)
