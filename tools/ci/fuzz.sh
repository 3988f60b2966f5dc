#!/bin/sh
# Build the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, every
# UB fatal) and run each for a bounded time, starting from the seed corpora
# in tests/fuzz/corpus/<target>/. New inputs go to build-fuzz/corpus/, never
# into the source tree.
#
#   tools/ci/fuzz.sh                 every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=600 tools/ci/fuzz.sh idx
#
# A crash stops the script with status 1 and leaves the input in
# build-fuzz/artifacts/. Make it a regression test: copy it into
# tests/fuzz/corpus/<target>/ (every build replays those files as the
# meson tests fuzz-<target>), then fix the bug.
set -eu
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
targets=${*:-idx checkpoint dataset}
build=build-fuzz

if [ ! -d "$build" ]; then
    # -Dblas=none: the portable kernel is instrumented, and no BLAS thread
    # pool runs outside the sanitizers' view. -Dsimd=disabled: what the
    # targets find is in the parsing and the state a file leaves, not in a
    # GEMM level (the ASan suite runs those), and clang takes 2-3 minutes
    # over each instrumented SIMD level.
    # b_lundef=false: clang's sanitizer runtimes are not linked into shared
    # objects.
    CC=clang meson setup "$build" -Dfuzzing=true -Dblas=none -Dsimd=disabled -Dexamples=false \
        -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all >/dev/null
fi
ninja -C "$build" >/dev/null

status=0
for t in $targets; do
    corpus="$build/corpus/$t"
    mkdir -p "$corpus" "$build/artifacts"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    rm -f "$corpus/README.md"
    log="$build/fuzz-$t.log"
    echo "fuzz $t: $seconds s"
    # -timeout: one input taking 10 s is a hang worth reporting.
    if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$corpus" \
        >"$log" 2>&1; then
        status=1
        grep -E "ERROR|SUMMARY|property failed|Test unit written" "$log" || tail -n 30 "$log"
        echo "fuzz $t: FAILED (log: $log)"
        continue
    fi
    # The last status line: runs, coverage (cov), features (ft), corpus size.
    grep -E "^#[0-9]+.*(DONE|pulse|NEW|REDUCE)" "$log" | tail -n 1
    grep -E "stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log"
done
exit $status
