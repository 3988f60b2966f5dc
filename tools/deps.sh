#!/bin/sh
# Install what building and testing libvae needs, from Debian's packages.
# Safe to run again: apt-get skips what is already there.
set -eu
packages="meson ninja-build pkg-config gcc g++ python3
  zlib1g-dev libpng-dev libcmocka-dev libopenblas-dev libblis-dev"
# Hardening checks (docs/robustness.md): clang with its runtimes for
# libFuzzer (libclang_rt.fuzzer lives in libclang-rt-14-dev), valgrind.
# gcc's ASan, UBSan and TSan runtimes come with gcc itself.
packages="$packages clang libclang-rt-14-dev valgrind"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
