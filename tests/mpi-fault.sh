#!/bin/sh
# A worker that dies or hangs makes vae-train-mpi fail with an error, not
# hang, and the last checkpoint stays whole: it resumes on one worker.
#   mpi-fault.sh MPIRUN VAE-TRAIN-MPI DATA-DIR
# Worker 1 gets SIGKILL (mpirun sees it die and ends the job) or SIGSTOP
# (nothing dies: only vae-train-mpi's --timeout can end the job), once the
# first checkpoint exists.
set -eu
mpirun=$1 prog=$2 data=$3
tmp=$(mktemp -d /tmp/vae-mpi-fault-XXXXXX)
worker=""
cleanup() {
    # A stopped worker that outlived its job must not stay behind.
    [ -z "$worker" ] || kill -KILL "$worker" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    for f in "$tmp"/*/stderr; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}

# Worker 1 of the job tagged $1: its process carries both variables.
find_worker() {
    for env in /proc/[0-9]*/environ; do
        if tr '\0' '\n' <"$env" 2>/dev/null | grep -qx "VAE_FAULT_TEST=$1" &&
            tr '\0' '\n' <"$env" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
            pid=${env#/proc/}
            echo "${pid%/environ}"
            return
        fi
    done
}

fault() {
    signal=$1 dir="$tmp/$1"
    mkdir -p "$dir"
    # 90 s is the verdict "it hangs"; the worker's timeout is 5 s.
    timeout -k 5 90 "$mpirun" -np 2 --oversubscribe -x VAE_FAULT_TEST="$dir" "$prog" \
        --data "$data" --hidden 64 --epochs 1000 --threads 1 --timeout 5 --quiet \
        --out "$dir/out" >"$dir/stdout" 2>"$dir/stderr" &
    job=$!
    i=0
    until [ -f "$dir/out/model.vae" ]; do
        i=$((i + 1))
        [ $i -le 600 ] || fail "SIG$signal: no checkpoint after 60 s"
        sleep 0.1
    done
    worker=$(find_worker "$dir")
    [ -n "$worker" ] || fail "SIG$signal: worker 1 not found"
    start=$(date +%s)
    kill -s "$signal" "$worker"
    rc=0
    wait "$job" || rc=$?
    took=$(($(date +%s) - start))
    [ $rc -ne 124 ] && [ $rc -ne 137 -o "$signal" = KILL ] || fail "SIG$signal: the job hung"
    [ $took -lt 60 ] || fail "SIG$signal: the job took $took s to end"
    [ $rc -ne 0 ] || fail "SIG$signal: the job succeeded although worker 1 was stopped"
    echo "SIG$signal to worker 1: the job ended after ${took} s with status $rc"

    # The checkpoint is whole: one worker resumes it for one more epoch.
    done=$(grep -c '^train,' "$dir/out/losses.csv")
    "$mpirun" -np 1 "$prog" --data "$data" --threads 1 --quiet --resume "$dir/out/model.vae" \
        --epochs $((done + 1)) --out "$dir/resumed" >"$dir/resume.out" 2>"$dir/resume.err" ||
        fail "SIG$signal: the checkpoint does not resume: $(cat "$dir/resume.err")"
    grep -q "^resumed from" "$dir/resume.out" || fail "SIG$signal: no resume"
    echo "  $(grep '^resumed from' "$dir/resume.out"); one worker trained on"
    kill -KILL "$worker" 2>/dev/null || true
    worker=""
}

fault KILL
fault STOP
grep -q "did not complete within 5 s: a worker has died or hangs" "$tmp/STOP/stderr" ||
    fail "SIGSTOP: no timeout message"
grep "did not complete" "$tmp/STOP/stderr"
echo PASS
