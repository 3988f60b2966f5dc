#!/bin/sh
# Set up, build, and run every test. This is what CI runs (.ci/run).
set -eu
cd "$(dirname "$0")/.."
# Each stage's start, in seconds since this script began (CI's time budget).
t0=$(date +%s)
stage() { echo "== [$(($(date +%s) - t0)) s] $*"; }
stage "dependencies (tools/deps.sh)"
sh tools/deps.sh
stage "build and the whole suite"
[ -d build ] || meson setup build
# deps.sh installed MPI: CI must run the MPI tests (suite mpi), not skip them.
meson configure build -Dmpi=enabled
ninja -C build
meson test -C build --print-errorlogs

# ABI, API reference, subproject and packaging checks (docs/abi.md, docs/packaging.md)
stage "ABI, API reference, subproject and packaging checks"
sh tools/ci/abi-check.sh           # abidiff against tests/abi/libvae.abi (debug build in build-abi)
sh tools/ci/check-docs.sh          # Doxygen reference (build-docs): no undocumented declaration
sh tools/ci/check-subproject.sh    # libvae as a meson subproject of an outside project
sh tools/ci/check-packaging.sh     # distro flags, reproducible bytes, libblas.so.3, offline tests
sh tools/ci/check-packages.sh      # Debian packages (lintian, scratch-root smoke tests), the wheel in a new venv

# Machines we do not have, stood in for: the suites that compare two
# computations (numerics, train, collective, mpi, python) again on every
# level this CPU runs, and on OpenBLAS with the kernels of the CPU (or of
# the environment's OPENBLAS_CORETYPE, left as given above), then with the
# kernels every x86-64 CPU with AVX2 runs, Haswell, and with AVX but no FMA,
# Sandybridge. "auto" measures and may never pick the BLAS: VAE_BACKEND
# forces each. The Haswell run goes with both cores kept busy, as a loaded
# machine would (the verdicts must not depend on it).
compare="--suite numerics --suite train --suite collective --suite mpi --suite python"
levels=$(LIBVAE_LIBRARY=build/lib/libvae.so.1 PYTHONPATH=bindings/python /usr/bin/python3 -c \
    'import libvae; print(" ".join(b for b in libvae.backends() if b not in ("ref", "blas")))')
# With OPENBLAS_CORETYPE=Haswell already in the environment, the plain
# OpenBLAS pass would repeat the Haswell pass below, less the busy cores.
blas=blas
[ "${OPENBLAS_CORETYPE:-}" != Haswell ] || [ "$(uname -m)" != x86_64 ] || blas=""
for level in $levels $blas; do
    stage "suites $compare with VAE_BACKEND=$level"
    # shellcheck disable=SC2086
    VAE_BACKEND=$level meson test -C build --no-rebuild --print-errorlogs $compare
done
if [ "$(uname -m)" = x86_64 ]; then
    for core in Haswell Sandybridge; do
        burn=""
        if [ "$core" = Haswell ]; then
            for _ in 1 2; do sh -c 'while :; do :; done' & burn="$burn $!"; done
        fi
        stage "suites $compare with VAE_BACKEND=blas OPENBLAS_CORETYPE=$core${burn:+, both cores busy}"
        # shellcheck disable=SC2086
        OPENBLAS_CORETYPE=$core VAE_BACKEND=blas meson test -C build --no-rebuild \
            --print-errorlogs --timeout-multiplier=3 $compare || { [ -z "$burn" ] || kill $burn; exit 1; }
        [ -z "$burn" ] || kill $burn
    done
fi

# The whole suite again with each other BLAS choice (the build above is
# -Dblas=auto, which is OpenBLAS wherever tools/deps.sh installed it), each
# in its own build directory, with the BLAS forced (VAE_BACKEND=blas) where
# there is one; every SIMD level the CPU supports is forced through
# VAE_BACKEND in each (meson tests kernels-<level>).
stage "the whole suite on BLIS, then without a BLAS"
[ -d build-blas-blis ] || meson setup build-blas-blis -Dblas=blis -Dmpi=enabled
ninja -C build-blas-blis
VAE_BACKEND=blas meson test -C build-blas-blis --print-errorlogs
[ -d build-blas-none ] || meson setup build-blas-none -Dblas=none -Dexamples=false \
    -Dpython=disabled -Dmpi=disabled
ninja -C build-blas-none
meson test -C build-blas-none --print-errorlogs

# The NEON level, cross-compiled for aarch64 and run under qemu-user.
stage "NEON under qemu"
sh tools/ci/test-neon.sh
# ---- Hardening (docs/robustness.md): sanitizers, valgrind, fuzzing ----------
# Each build has its own directory beside build/; every step must be clean.

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole suite, every
# report fatal (-fno-sanitize-recover; LeakSanitizer runs at exit).
# b_lundef=false: the sanitizer runtimes are not linked into libvae.so.
stage "ASan + UBSan"
[ -d build-asan ] || meson setup build-asan -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all
ninja -C build-asan
# Not the Python suite: an uninstrumented interpreter cannot load an ASan
# library. The MPI suite without LeakSanitizer: OpenMPI's plugins leak at
# exit from code that is unloaded by then, beyond any suppression's reach;
# every other ASan and UBSan check still applies to it.
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --timeout-multiplier=3 --no-suite python --no-suite mpi
ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --timeout-multiplier=3 --suite mpi

# valgrind memcheck, leaks as errors (tests/meson.build, setup 'valgrind':
# one OpenBLAS thread, quick sizes, the number-crunching 'slow' suite left
# to the sanitizers), then vae-train on every hostile file under memcheck.
stage "valgrind"
meson test -C build --setup valgrind --print-errorlogs
VAE_TEST_VALGRIND=1 OPENBLAS_NUM_THREADS=1 VAE_BACKEND=ref meson test -C build --suite hostile \
    --print-errorlogs

# ThreadSanitizer on the concurrency test. -Dblas=none: TSan sees only
# instrumented code, and OpenBLAS's worker threads and their spin-waits are
# not; the portable kernel keeps every access of the library in view.
stage "ThreadSanitizer"
[ -d build-tsan ] || meson setup build-tsan -Dbuildtype=debugoptimized -Db_sanitize=thread \
    -Dblas=none -Dexamples=false
ninja -C build-tsan
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --suite concurrency --print-errorlogs

# libFuzzer (clang): each target 20 s from its seed corpus, which every
# build also replays as the meson tests fuzz-<target>. The long runs are
# made by hand and their corpora kept (docs/robustness.md).
stage "libFuzzer"
FUZZ_SECONDS=${FUZZ_SECONDS:-20} sh tools/ci/fuzz.sh
stage "all passed"
