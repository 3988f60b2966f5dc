#!/bin/sh
# Set up, build, and run every test. This is what CI runs (.ci/run).
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
[ -d build ] || meson setup build
# deps.sh installed MPI: CI must run the MPI tests (suite mpi), not skip them.
meson configure build -Dmpi=enabled
ninja -C build
meson test -C build --print-errorlogs

# ABI, API reference, subproject and packaging checks (docs/abi.md, docs/packaging.md)
sh tools/abi-check.sh           # abidiff against tests/abi/libvae.abi (debug build in build-abi)
sh tools/check-docs.sh          # Doxygen reference (build-docs): no undocumented declaration
sh tools/check-subproject.sh    # libvae as a meson subproject of an outside project
sh tools/check-packaging.sh     # distro flags, reproducible bytes, libblas.so.3, offline tests

# Issue 3: the suite again with each other BLAS choice (the build above is
# -Dblas=auto, which is OpenBLAS wherever tools/deps.sh installed it), each
# in its own build directory; every SIMD level the CPU supports is forced
# through VAE_BACKEND in each (meson tests kernels-<level>).
for blas in blis none; do
    [ -d "build-blas-$blas" ] || meson setup "build-blas-$blas" -Dblas="$blas" -Dexamples=false \
        -Dpython=disabled -Dmpi=disabled
    ninja -C "build-blas-$blas"
    meson test -C "build-blas-$blas" --print-errorlogs
done

# The NEON level, cross-compiled for aarch64 and run under qemu-user.
sh tools/test-neon.sh
