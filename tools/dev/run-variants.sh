#!/bin/sh
# Reproduce every figure of docs/variants.md: train each variant on the bundled
# MNIST subset with the lesson's settings otherwise (784-400-2, Adam 1e-3,
# batch 128, 10 epochs, seed 1). Each run's printed table goes to
# <out>/<name>.txt and its files to <out>/<name>/.
# About 35 minutes on 2 cores, most of it the k = 5000 IWAE estimate.
# Usage: tools/dev/run-variants.sh [out-dir]    (default: vae-variants)
set -eu
cd "$(dirname "$0")/../.."
out=${1:-vae-variants}
[ -d build ] || meson setup build
ninja -C build
mkdir -p "$out"

run() { # name, then vae-train flags
    name=$1
    shift
    echo "== $name: vae-train $*"
    ./build/examples/vae-train --quiet --out "$out/$name" "$@" | tee "$out/$name.txt"
}

run plain --iwae 5000
for k in 1 10 100 1000; do run plain-k$k --resume "$out/plain/model.vae" --iwae $k; done
run beta0.5 --beta 0.5
run beta4 --beta 4
run warmup --warmup 315
run cyclical --kl-cycle 126
for b in 0.5 1 4; do run z20-beta$b --latent 20 --beta $b; done
run z20-k1000 --resume "$out/z20-beta1/model.vae" --iwae 1000
run z20-warmup --latent 20 --warmup 315
run z20-beta4-free-bits --latent 20 --beta 4 --free-bits 0.5
run z20-beta4-50-epochs --latent 20 --beta 4 --epochs 50
run gaussian --likelihood gaussian
run gaussian-logvar-4 --likelihood gaussian --gaussian-logvar -4
run gaussian-learned --likelihood gaussian-learned
run z20-gaussian --latent 20 --likelihood gaussian
run z20-gaussian-50-epochs --latent 20 --likelihood gaussian --epochs 50
run z20-early-stop --latent 20 --val-split 0.1 --patience 3 --epochs 100
run conditional --conditional
