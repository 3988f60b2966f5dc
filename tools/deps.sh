#!/bin/sh
# Install what building and testing libvae needs, from Debian's packages.
# Safe to run again: apt-get skips what is already there.
set -eu
packages="meson ninja-build pkg-config gcc g++ python3
  zlib1g-dev libpng-dev libcmocka-dev libopenblas-dev libblis-dev"
# The Python bindings: their tests (meson suite python) and the lesson's figures.
packages="$packages python3-numpy python3-pytest python3-matplotlib"
# ABI, API reference, man page and packaging checks (docs/abi.md, docs/packaging.md)
packages="$packages abigail-tools binutils doxygen groff-base git iproute2"
# Data-parallel training: vae-train-mpi and its tests (libvae never links MPI).
packages="$packages libopenmpi-dev openmpi-bin"
# The README's mpi4py example (test_collective.py skips it without mpi4py).
packages="$packages python3-mpi4py"
# The NEON kernels: an aarch64 cross compiler, its C library's headers and
# static libraries (only recommended by the compiler, so never installed
# with --no-install-recommends unless named), and qemu-user to run its tests.
packages="$packages gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
# Hardening checks (docs/robustness.md): clang with its runtimes for
# libFuzzer (libclang_rt.fuzzer lives in libclang-rt-14-dev), valgrind.
# gcc's ASan, UBSan and TSan runtimes come with gcc itself.
packages="$packages clang libclang-rt-14-dev valgrind"
# Real packages (tools/package/build-deb.sh, tools/package/build-wheel.sh, tools/ci/check-packages.sh):
# the Debian build tools and lintian, the wheel's meson-python backend.
packages="$packages dpkg-dev build-essential debhelper dh-python python3-all
  pybuild-plugin-pyproject python3-setuptools lintian python3-venv python3-mesonpy
  python3-build python3-wheel patchelf"
# shellcheck disable=SC2086
exec sh "$(dirname "$0")/build/need-packages.sh" $packages
