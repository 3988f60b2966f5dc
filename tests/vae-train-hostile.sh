#!/bin/sh
# vae-train against hostile files: every malformed data file and every
# damaged checkpoint must end in exactly one line on stderr, starting
# "vae-train: ", and exit status 1; a damaged checkpoint given to --resume
# (at the very path vae-train saves to) must stay on disk byte for byte.
#
#   tests/vae-train-hostile.sh VAE_TRAIN DATA_DIR
#
# With VAE_TEST_VALGRIND=1 every run of vae-train goes through valgrind
# memcheck, and any memory error or definite/indirect leak fails the test.
# Needs only sh, coreutils, cmp and gzip.
set -eu
vae_train=$1
data=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/vae-hostile.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

wrap=""
if [ "${VAE_TEST_VALGRIND:-0}" = 1 ]; then
    wrap="valgrind --quiet --error-exitcode=99 --leak-check=full"
    wrap="$wrap --errors-for-leak-kinds=definite,indirect --log-file=$work/valgrind.log"
fi

failures=0
cases=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run NAME ARGS...: vae-train must fail with one line and status 1.
run() {
    name=$1
    shift
    cases=$((cases + 1))
    status=0
    $wrap "$vae_train" --quiet --epochs 1 --batch 32 "$@" >"$work/out" 2>"$work/err" || status=$?
    lines=$(wc -l <"$work/err")
    if [ "$status" -eq 99 ]; then
        fail "$name: memory error under valgrind"
        cat "$work/valgrind.log"
    elif [ "$status" -ne 1 ]; then
        fail "$name: exit status $status, expected 1"
        cat "$work/err"
    elif [ "$lines" -ne 1 ] || ! head -c 11 "$work/err" | grep -q "^vae-train: "; then
        fail "$name: expected one line 'vae-train: ...' on stderr, got $lines:"
        cat "$work/err"
    else
        echo "ok $cases - $name: $(cat "$work/err")"
    fi
}

# ---- a small valid data set: 64 training and 32 test images -------------

# be32 N: the 4 bytes of N, big-endian, through printf's octal escapes.
be32() {
    printf "\\$(printf %o $(($1 >> 24 & 255)))\\$(printf %o $(($1 >> 16 & 255)))"
    printf "\\$(printf %o $(($1 >> 8 & 255)))\\$(printf %o $(($1 & 255)))"
}
# take SPLIT N: the first N images and labels of the bundled SPLIT, raw.
take() {
    { printf '\0\0\10\3'; be32 "$2"; be32 28; be32 28; } >"$work/good/$1-images-idx3-ubyte"
    gzip -dc "$data/$1-images-idx3-ubyte.gz" | dd bs=16 skip=1 2>/dev/null |
        head -c $(($2 * 784)) >>"$work/good/$1-images-idx3-ubyte"
    { printf '\0\0\10\1'; be32 "$2"; } >"$work/good/$1-labels-idx1-ubyte"
    gzip -dc "$data/$1-labels-idx1-ubyte.gz" | dd bs=8 skip=1 2>/dev/null |
        head -c "$2" >>"$work/good/$1-labels-idx1-ubyte"
}
mkdir "$work/good"
take train 64
take t10k 32

# A run on the good data must succeed: the failures below are the files'.
if ! $wrap "$vae_train" --quiet --epochs 1 --batch 32 --hidden 16 --data "$work/good" \
    --out "$work/trained" >"$work/out" 2>"$work/err"; then
    echo "FAIL: vae-train on the valid small data set:"
    cat "$work/err" "$work/valgrind.log" 2>/dev/null
    exit 1
fi
good_ckpt="$work/trained/model.vae"

# ---- malformed data files -------------------------------------------------

# bad_data NAME FILE: the good set with FILE (a basename, raw or .gz) taken
# from $work/bad-file.
bad_data() {
    rm -rf "$work/data"
    cp -r "$work/good" "$work/data"
    case $2 in
    *.gz) rm -f "$work/data/${2%.gz}" ;;
    esac
    cp "$work/bad-file" "$work/data/$2"
    run "$1" --hidden 16 --data "$work/data" --out "$work/out-data"
}

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
    t10k-labels-idx1-ubyte; do
    good="$work/good/$f"
    size=$(wc -c <"$good")
    gzip -9nc "$good" >"$work/good.gz"
    gz_size=$(wc -c <"$work/good.gz")

    head -c $((size / 2)) "$good" >"$work/bad-file"
    bad_data "$f: raw, truncated to half" "$f"
    head -c $((size - 1)) "$good" >"$work/bad-file"
    bad_data "$f: raw, one byte short" "$f"
    head -c 6 "$good" >"$work/bad-file"
    bad_data "$f: raw, truncated header" "$f"
    { cat "$good"; printf 'x'; } >"$work/bad-file"
    bad_data "$f: raw, a byte too many" "$f"
    { printf '\0\1'; tail -c +3 "$good"; } >"$work/bad-file"
    bad_data "$f: raw, wrong magic" "$f"
    { head -c 2 "$good"; printf '\15'; tail -c +4 "$good"; } >"$work/bad-file"
    bad_data "$f: raw, float element type" "$f"
    { head -c 4 "$good"; printf '\377\377\377\377'; tail -c +9 "$good"; } >"$work/bad-file"
    bad_data "$f: raw, count 2^32-1" "$f"
    : >"$work/bad-file"
    bad_data "$f: empty" "$f"
    head -c 3000 /dev/urandom >"$work/bad-file"
    bad_data "$f: garbage" "$f"

    head -c $((gz_size / 2)) "$work/good.gz" >"$work/bad-file"
    bad_data "$f.gz: truncated to half" "$f.gz"
    head -c $((gz_size - 4)) "$work/good.gz" >"$work/bad-file"
    bad_data "$f.gz: cut inside the trailer" "$f.gz"
    { head -c $((gz_size - 8)) "$work/good.gz"; printf '\0\0\0\0'; tail -c 4 "$work/good.gz"; } \
        >"$work/bad-file"
    bad_data "$f.gz: CRC-32 zeroed" "$f.gz"
    { head -c $((gz_size / 2)) "$work/good.gz"; printf '\125\125\125\125';
      tail -c +$((gz_size / 2 + 5)) "$work/good.gz"; } >"$work/bad-file"
    bad_data "$f.gz: flipped bytes in the middle" "$f.gz"
    { cat "$work/good.gz"; printf 'junk'; } >"$work/bad-file"
    bad_data "$f.gz: junk after the stream" "$f.gz"
    { printf '\037\213'; head -c 3000 /dev/urandom; } >"$work/bad-file"
    bad_data "$f.gz: gzip magic, then garbage" "$f.gz"
done

# ---- damaged checkpoints, at the path vae-train saves to -------------------

size=$(wc -c <"$good_ckpt")
# bad_ckpt NAME: --resume $work/bad-file placed as <out>/model.vae.
bad_ckpt() {
    rm -rf "$work/resume"
    mkdir "$work/resume"
    cp "$work/bad-file" "$work/resume/model.vae"
    run "$1" --data "$work/good" --out "$work/resume" --resume "$work/resume/model.vae"
    if ! cmp -s "$work/bad-file" "$work/resume/model.vae"; then
        fail "$1: the checkpoint on disk was changed"
    fi
    if [ "$(ls "$work/resume")" != model.vae ]; then
        fail "$1: files were left beside the checkpoint: $(ls "$work/resume")"
    fi
}

for cut in 0 7 12 24 $((size / 2)) $((size - 4)) $((size - 1)); do
    head -c "$cut" "$good_ckpt" >"$work/bad-file"
    bad_ckpt "checkpoint truncated to $cut of $size bytes"
done
for at in 1 9 30 $((size / 2)) $((size - 5)) $((size - 1)); do
    { head -c $((at - 1)) "$good_ckpt"; printf '\377';
      tail -c +$((at + 1)) "$good_ckpt"; } >"$work/bad-file"
    if cmp -s "$work/bad-file" "$good_ckpt"; then
        { head -c $((at - 1)) "$good_ckpt"; printf '\0'; tail -c +$((at + 1)) "$good_ckpt"; } \
            >"$work/bad-file"
    fi
    bad_ckpt "checkpoint with byte $at changed"
done
{ printf 'VAE!'; tail -c +5 "$good_ckpt"; } >"$work/bad-file"
bad_ckpt "checkpoint with a wrong magic"
head -c "$size" /dev/urandom >"$work/bad-file"
bad_ckpt "checkpoint of random bytes"
{ cat "$good_ckpt"; printf '\0'; } >"$work/bad-file"
bad_ckpt "checkpoint with a byte appended"
gzip -c "$good_ckpt" >"$work/bad-file"
bad_ckpt "checkpoint compressed with gzip"
cp "$work/good/train-images-idx3-ubyte" "$work/bad-file"
bad_ckpt "an IDX file as checkpoint"
run "checkpoint that does not exist" --data "$work/good" --out "$work/resume" \
    --resume "$work/no-such.vae"
run "a directory as checkpoint" --data "$work/good" --out "$work/resume" --resume "$work/good"

# A valid checkpoint of another shape than the data: refused the same way.
mkdir -p "$work/wide"
{ printf '\0\0\10\3'; be32 4; be32 2; be32 2; head -c 16 /dev/zero; } \
    >"$work/wide/train-images-idx3-ubyte"
cp "$work/wide/train-images-idx3-ubyte" "$work/wide/t10k-images-idx3-ubyte"
$wrap "$vae_train" --quiet --epochs 1 --batch 2 --hidden 4 --data "$work/wide" \
    --out "$work/wide-out" >/dev/null 2>&1 || fail "training a 2x2 model"
cp "$work/wide-out/model.vae" "$work/bad-file"
bad_ckpt "checkpoint of a 4-pixel model for 784-pixel data"

echo "$cases cases, $failures failed"
[ "$failures" -eq 0 ]
