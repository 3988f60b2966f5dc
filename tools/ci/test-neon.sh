#!/bin/sh
# The NEON level on aarch64: cross-compile the kernel tests with Debian's
# gcc-aarch64-linux-gnu and run them under qemu-user (qemu-aarch64), once
# with every usable level and once with VAE_BACKEND=neon forced.
#
# The tests need only the kernels, rng.c and error.c, so they are built
# directly (no meson cross build): the cross toolchain brings an aarch64 C
# library, but no aarch64 zlib or cmocka, and Debian's multiarch -dev
# packages for them would upgrade host packages. tests/cross/cmocka.h
# stands in for the part of cmocka these two tests use.
set -eu
cd "$(dirname "$0")/../.."
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
out=build-neon
mkdir -p "$out"
lib="lib/error.c lib/rng.c lib/kernels/cpu.c lib/kernels/dispatch.c lib/kernels/threadpool.c
  lib/kernels/sgemm_ref.c lib/kernels/sgemm_neon.c lib/kernels/elementwise.c
  lib/kernels/elementwise_ref.c lib/kernels/elementwise_neon.c"
flags="-std=c11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L
  -D_GNU_SOURCE -DVAE_BUILDING_LIBRARY -DVAE_HAVE_NEON=1 -Iinclude -Ilib -Itests/cross
  -fno-math-errno -pthread"
for t in kernels elementwise; do
    # shellcheck disable=SC2086
    $CC $flags -o "$out/test_$t" "tests/test_$t.c" $lib -lm -static
done
# The convolutional layers' gradients on every level, NEON included: the whole
# library (lib_sources as lib/meson.build lists them, and the NEON kernels),
# with tests/cross/zlib.h (a CRC-32, no inflate) for zlib.
all=$(sed -n "/^lib_sources = files(/,/)/p" lib/meson.build | grep -o "'[^']*\.c'" | tr -d "'" |
    sed 's|^|lib/|')
# shellcheck disable=SC2086
$CC $flags -o "$out/test_conv" tests/test_conv.c $all lib/kernels/sgemm_neon.c \
    lib/kernels/elementwise_neon.c -lm -static
for t in kernels elementwise; do
    echo "== test_$t (aarch64, qemu)"
    $QEMU "$out/test_$t"
done
echo "== test_conv (aarch64, qemu: every level, neon and ref)"
(cd "$out" && $QEMU ./test_conv)
echo "== test_kernels with VAE_BACKEND=neon (aarch64, qemu)"
VAE_BACKEND=neon $QEMU "$out/test_kernels"
