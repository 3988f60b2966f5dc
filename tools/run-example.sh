#!/bin/sh
# Set up, build, and train the lesson's VAE on the bundled MNIST subset.
# Extra arguments go to vae-train (e.g. --epochs 3 --out /tmp/run).
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
[ -d build ] || meson setup build
ninja -C build
exec ./build/examples/vae-train --data examples/data/mnist-subset --epochs 10 --latent 2 \
    --hidden 400 --batch 128 --lr 1e-3 --out vae-out "$@"
