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
# Needs only sh, coreutils (timeout, od, dd, truncate), cmp, grep and gzip.
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

# run NAME ARGS...: vae-train must fail with one line and status 1, within
# $limit seconds (a FIFO once blocked it forever); with $expect set, the
# line must contain it.
expect=""
limit=300
run() {
    name=$1
    shift
    cases=$((cases + 1))
    status=0
    timeout "$limit" $wrap "$vae_train" --quiet --epochs 1 --batch 32 "$@" >"$work/out" 2>"$work/err" ||
        status=$?
    lines=$(wc -l <"$work/err")
    if [ "$status" -eq 124 ]; then
        fail "$name: still running after $limit seconds"
    elif [ "$status" -eq 99 ]; then
        fail "$name: memory error under valgrind"
        cat "$work/valgrind.log"
    elif [ "$status" -ne 1 ]; then
        fail "$name: exit status $status, expected 1"
        cat "$work/err"
    elif [ "$lines" -ne 1 ] || ! head -c 11 "$work/err" | grep -q "^vae-train: "; then
        fail "$name: expected one line 'vae-train: ...' on stderr, got $lines:"
        cat "$work/err"
    elif [ -n "$expect" ] && ! grep -q -- "$expect" "$work/err"; then
        fail "$name: expected '$expect' in: $(cat "$work/err")"
    else
        echo "ok $cases - $name: $(cat "$work/err")"
    fi
    expect=""
    limit=300
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

# A FIFO instead of a data file: refused at once, not waited on.
for f in train-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    rm -rf "$work/data"
    cp -r "$work/good" "$work/data"
    rm "$work/data/$f"
    mkfifo "$work/data/$f"
    expect="not a regular file"
    limit=30
    run "$f: a FIFO" --hidden 16 --data "$work/data" --out "$work/out-data"
done

# A gzip file whose header claims 2^31 images of 1x1 (2 GiB of pixels to
# inflate before the mismatch): --max-data-bytes refuses it from the header.
rm -rf "$work/data"
cp -r "$work/good" "$work/data"
{ printf '\0\0\10\3'; be32 2147483648; be32 1; be32 1; head -c 65536 /dev/zero; } |
    gzip -9nc >"$work/data/train-images-idx3-ubyte.gz"
rm "$work/data/train-images-idx3-ubyte" "$work/data/train-labels-idx1-ubyte"
expect="exceed the cap of 1048576 bytes"
run "gzip claiming 2^31 images, --max-data-bytes 1048576" --hidden 16 --data "$work/data" \
    --out "$work/out-data" --max-data-bytes 1048576

# ---- damaged checkpoints, at the path vae-train saves to -------------------

size=$(wc -c <"$good_ckpt")
# bad_ckpt NAME: --resume $work/bad-file placed as <out>/model.vae.
bad_ckpt() {
    rm -rf "$work/resume"
    mkdir "$work/resume"
    cp "$work/bad-file" "$work/resume/model.vae"
    name=$1
    shift
    run "$name" --data "$work/good" --out "$work/resume" --resume "$work/resume/model.vae" "$@"
    if ! cmp -s "$work/bad-file" "$work/resume/model.vae"; then
        fail "$name: the checkpoint on disk was changed"
    fi
    if [ "$(ls "$work/resume")" != model.vae ]; then
        fail "$name: files were left beside the checkpoint: $(ls "$work/resume")"
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

# A FIFO as the checkpoint.
rm -rf "$work/resume"
mkdir "$work/resume"
mkfifo "$work/resume/model.vae"
expect="not a regular file"
limit=30
run "a FIFO as checkpoint" --data "$work/good" --out "$work/resume" \
    --resume "$work/resume/model.vae"
rm -rf "$work/resume"

# A sparse 1.2 GB file that starts as the good checkpoint: refused from its
# first bytes (its architecture's checkpoint is far smaller), without
# reading the rest into memory.
head -c 4096 "$good_ckpt" >"$work/bad-file"
truncate -s 1200M "$work/bad-file"
expect="holds at most"
bad_ckpt "a sparse 1.2 GB file with a checkpoint's head"
rm -f "$work/bad-file"

# Checkpoints whose CRC is valid but whose values are outside their domain.
# Each once loaded; the first update then made the model NaN (or a counter
# wrapped) and vae-train saved that over model.vae. One step per epoch
# (--batch 64) lets the poisoned epoch end and be saved.
offset_of() { # TAG: byte offset of the chunk's tag in the good checkpoint
    LC_ALL=C grep -obUa "$1" "$good_ckpt" | head -n 1 | cut -d: -f1
}
# patched NAME OFFSET BYTES: the good checkpoint with BYTES (printf escapes)
# at OFFSET and its CRC-32 (that of gzip's trailer) made valid again.
patched() {
    head -c $((size - 4)) "$good_ckpt" >"$work/body"
    printf "$3" | dd of="$work/body" bs=1 seek="$2" conv=notrunc 2>/dev/null
    gzip -c "$work/body" | tail -c 8 | head -c 4 >"$work/crc"
    cat "$work/body" "$work/crc" >"$work/bad-file"
    expect=$4
    bad_ckpt "$1" --epochs 2 --batch 64
}
stat_at=$(offset_of STAT)
optm_at=$(offset_of OPTM)
n=$(od -An -tu8 -j $(($(offset_of PARM) + 12)) -N 8 "$good_ckpt" | tr -d ' ')
ff8='\377\377\377\377\377\377\377\377'
patched "checkpoint with epoch count 2^64-1" $((stat_at + 12 + 8)) "$ff8" "epoch count"
patched "checkpoint with Adam step count 2^64-1" $((optm_at + 12 + 8 + 72)) "$ff8" "update count"
patched "checkpoint with a negative Adam second moment" \
    $((optm_at + 12 + 8 + 72 + 16 + 4 * n + 4 * 7)) '\0\0\200\277' "second moment"

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
