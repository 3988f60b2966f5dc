#!/bin/sh
# Line coverage of the file readers by the fuzz corpora in the tree
# (docs/robustness.md): builds the corpus replayers (tests/fuzz/replay_*)
# with clang's source-based coverage, replays tests/fuzz/corpus/<target>/,
# and prints llvm-cov's per-function report for the readers' files.
#
#   tools/dev/fuzz-coverage.sh [BUILD_DIR]      (default build-fuzzcov)
#
# Needs clang and llvm (llvm-profdata, llvm-cov); not part of CI.
set -eu
cd "$(dirname "$0")/../.."
b=${1:-build-fuzzcov}
if [ ! -d "$b" ]; then
    # meson runs its compiler checks here: their profiles go nowhere
    LLVM_PROFILE_FILE=/dev/null CC=clang meson setup "$b" -Dblas=none -Dexamples=false -Dbuildtype=debug \
        -Dc_args='-fprofile-instr-generate -fcoverage-mapping' \
        -Dc_link_args=-fprofile-instr-generate >/dev/null
fi
targets="idx checkpoint dataset"
for t in $targets; do ninja -C "$b" "tests/fuzz/replay_$t" >/dev/null; done
rm -f "$b"/*.profraw
objects=""
for t in $targets; do
    LLVM_PROFILE_FILE="$b/$t.profraw" "$b/tests/fuzz/replay_$t" "tests/fuzz/corpus/$t" >/dev/null
    # the first binary is llvm-cov's positional object, the rest -object
    objects="$objects${objects:+ -object }$b/tests/fuzz/replay_$t"
done
llvm-profdata merge -o "$b/corpora.profdata" "$b"/*.profraw
# Per function: llvm-cov's lcov export gives each function's first line and
# each line's count; a function runs to the line before the next one.
# shellcheck disable=SC2086
llvm-cov export -format=lcov -instr-profile="$b/corpora.profdata" $objects >"$b/corpora.lcov"
/usr/bin/python3 - "$b/corpora.lcov" <<'PY'
import sys
files, cur = {}, None
for line in open(sys.argv[1]):
    tag, _, rest = line.strip().partition(":")
    if tag == "SF":
        cur = files.setdefault(rest.rsplit("/", 2)[-2] + "/" + rest.rsplit("/", 1)[-1],
                               {"fn": {}, "da": {}})
    elif tag == "FN" and cur is not None:
        first, name = rest.split(",", 1)
        cur["fn"][name] = int(first)
    elif tag == "DA" and cur is not None:
        n, count = rest.split(",")[:2]
        cur["da"][int(n)] = cur["da"].get(int(n), 0) + int(count)
for f in ("lib/checkpoint.c", "lib/idx.c", "lib/dataset.c"):
    fns = sorted(files[f]["fn"].items(), key=lambda kv: kv[1])
    for i, (name, first) in enumerate(fns):
        end = fns[i + 1][1] if i + 1 < len(fns) else 1 << 30
        lines = [c for n, c in files[f]["da"].items() if first <= n < end]
        if lines:
            hit = sum(1 for c in lines if c > 0)
            print(f"{f:18} {name.split(':')[-1]:32} {hit:4}/{len(lines):<4} {100.0 * hit / len(lines):5.1f} %")
PY
