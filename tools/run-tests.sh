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
