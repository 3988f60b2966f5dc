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
