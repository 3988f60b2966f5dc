#!/bin/sh
# Fingerprint what training computes, to show that a change of the code
# leaves the numbers bit for bit as they were (issue 14's rule for a
# restructuring). Trains the lesson's model and its variants for two epochs
# on the bundled subset with vae-train, at every level this CPU runs
# (ref included) and 1 and 2 threads, and prints one line per run: the
# run, the SHA-256 of the checkpoint (parameters, Adam moments, counters,
# noise state) and of vae-train's loss lines without their timings.
#
#   tools/dev/bitwise.sh BUILD > before.txt     (on the old commit)
#   tools/dev/bitwise.sh BUILD > after.txt      (on the new one)
#   diff before.txt after.txt                   (no output: unchanged)
set -eu
build=${1:-build}
data="$(cd "$(dirname "$0")/../.." && pwd)/examples/data/mnist-subset"
train="$build/examples/vae-train"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
levels=$(LIBVAE_LIBRARY="$build/lib/libvae.so.1" PYTHONPATH="$(dirname "$0")/../../bindings/python" \
    /usr/bin/python3 -c 'import libvae; print(" ".join(libvae.backends()))')

# name|flags: the lesson, then one run per family of code paths.
variants='lesson|
beta-warmup-freebits|--beta 2 --warmup 50 --free-bits 0.2 --binarize
cyclic|--kl-cycle 40 --eval-mean
conditional|--conditional --hidden 128,64 --latent 4
gaussian|--likelihood gaussian-learned --activation tanh --hidden 64
iwae-val|--val-split 0.1 --iwae 8 --hidden 64 --activation elu
conv|--arch conv --latent 3'

for level in $levels; do
    for threads in 1 2; do
        echo "$variants" | while IFS='|' read -r name flags; do
            # The conv network on the portable kernel takes minutes: 1 thread only.
            [ "$name" = conv ] && [ "$level" = ref ] && [ "$threads" = 2 ] && continue
            dir="$out/$level-$threads-$name"
            # shellcheck disable=SC2086
            "$train" --data "$data" --epochs 2 --seed 3 --quiet --backend "$level" \
                --threads "$threads" --out "$dir" $flags >"$dir.log" 2>&1 ||
                { echo "$level $threads $name: vae-train failed" >&2; cat "$dir.log" >&2; exit 1; }
            # Loss lines without the timing columns (the last two of an epoch line).
            losses=$(grep -E '^ *([0-9]+|test) +-?[0-9]' "$dir.log" | awk '{NF -= ($1 == "test") ? 1 : 2; print}' |
                sha256sum | cut -c1-16)
            extra=$(grep -E '^(test IWAE|active units|variance)' "$dir.log" | sed 's/, [0-9.]* s$//' |
                sha256sum | cut -c1-16)
            model=$(sha256sum <"$dir/model.vae" | cut -c1-16)
            echo "$level $threads $name model=$model losses=$losses extra=$extra"
        done
    done
done
