# Sourced by check.sh (`make check`) and check-quick.sh (`make check-quick`): the steps both
# run and the counting they share. Not run on its own.
# The caller sets CHECK_NAME (the prefix of the summary lines: "check", "check-quick") and
# `set -uo pipefail`, then sources this file, which sets here, top, build, start, passed and
# failed, and defines:
#   stamp MSG            a line with the seconds since start
#   die MSG              ends the run: the failure, the total time and the summary, exit 1
#   check_cargo_test     cargo test of the userspace workspace, each test counted
#   check_fuzzer         the decoder fuzzer, one check
#   run_vm ARGS...       one run-scenario.sh run, its output indented; status 0 = pass
#   check_kunit          KUnit in QEMU, each case counted
#   check_scenarios S... VM scenarios ("name key=value ..."), $DRBD_RS_JOBS at a time
#   check_finish         the total time and the "CHECK_NAME: N passed, N failed" line (always
#                        the last line), exit status non-zero if anything failed
# prepare.sh's prepare_all (sourced here too) builds everything first.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
. "$here/env.sh"
build=${DRBD_RS_BUILD:-$top/build}
mkdir -p "$build/logs"
start=$(date +%s)
passed=0 failed=0
stamp() { printf '[%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
# The total wall time, e.g. "check: total 1975 s (32 min 55 s)", then the summary line.
summary() {
    local t=$(($(date +%s) - start))
    echo "$CHECK_NAME: total $t s ($((t / 60)) min $((t % 60)) s)"
    echo "$CHECK_NAME: $passed passed, $failed failed"
}
die() { stamp "$CHECK_NAME: $*"; failed=$((failed + 1)); summary; exit 1; }
check_finish() { summary; [ "$failed" = 0 ]; }

. "$here/prepare.sh"

check_cargo_test() {
    local p f
    stamp "cargo test"
    (cd "$top/userspace-tools" && "$CARGO" test --release 2>&1) | tee "$build/logs/cargo-test.log" | grep -E '^(test result|test .* FAILED|failures:)'
    while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
        sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$build/logs/cargo-test.log")
    grep -q '^test result:' "$build/logs/cargo-test.log" || { stamp "cargo test did not run"; failed=$((failed + 1)); }
}

# The driver's structure: its units import one way (the one knot left is allowed, no other and
# no wider one), and no driver file is over the line limit (drbd_rs/README.md).
check_layers() {
    stamp "layers"
    if python3 "$here/layers.py" --allow connection,device,request "$top/drbd_rs" > "$build/logs/layers.log"; then
        passed=$((passed + 1))
        grep '^import circle' "$build/logs/layers.log"
    else
        cat "$build/logs/layers.log"
        failed=$((failed + 1))
    fi
}

# The packet decoders take bytes from a possibly hostile peer: a million mutated packets and
# header+payload streams must decode or be rejected without a panic.
# make print-artifacts names what prepare_all just built: the kernel, the module and the tool
# the guests run, each at the path this build used.
check_artifacts() {
    stamp "print-artifacts"
    local out ok=1
    out=$("$here/print-artifacts.sh")
    for want in "KERNEL=$(realpath "$KERNEL_IMAGE")" "MODULE=$(realpath "$MODULE_KO")" \
                "DRBDSETUP=$(realpath "$top/userspace-tools/target/release/drbdsetup-rs")" \
                "INITRD=$(realpath "$INITRD")"; do
        grep -qxF -- "$want" <<< "$out" || { echo "print-artifacts lacks $want"; ok=0; }
    done
    if [ $ok = 1 ]; then passed=$((passed + 1)); else echo "$out"; failed=$((failed + 1)); fi
}

check_fuzzer() {
    stamp "decoder fuzzer"
    if (cd "$top/userspace-tools" && "$CARGO" run --release --quiet -p drbd-core --example fuzz_decoders -- --iterations 1000000); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
}

run_vm() {
    local out r
    if out=$("$here/run-scenario.sh" -o "$build/logs" "$KERNEL_IMAGE" "$INITRD" "$@" 2>&1); then
        r=0
    else
        r=1
    fi
    echo "$out" | sed 's/^/    /'
    return $r
}

check_kunit() {
    local kout kunit_ok kp kf
    stamp "KUnit in QEMU"
    if kout=$(run_vm kunit); then kunit_ok=1; else kunit_ok=0; fi
    echo "$kout"
    # Each KUnit case counts; a crash, time-out or missing run fails the step as one more failure.
    kp=$(echo "$kout" | sed -n 's/.*Testing complete\. Ran [0-9]* tests: passed: \([0-9]*\).*/\1/p')
    kf=$(echo "$kout" | sed -n 's/.*Testing complete\..*failed: \([0-9]*\).*/\1/p')
    passed=$((passed + ${kp:-0})); failed=$((failed + ${kf:-0}))
    if [ $kunit_ok = 0 ] && [ "${kf:-0}" = 0 ]; then failed=$((failed + 1)); fi
}

# The scenarios run $DRBD_RS_JOBS at a time (default 2: the guests spend much of their time
# waiting on each other and on timers, so two at once nearly halve the wall time on two
# cores); each one's output is printed when it ends, whole, after a line with its time.
# DRBD_RS_JOBS=1 runs them in order. Each scenario run is one check.
check_scenarios() {
    local jobs=${DRBD_RS_JOBS:-2} res running=0 i=0 s
    res=$(mktemp -d "${TMPDIR:-/tmp}/drbd-rs-check.XXXXXX")
    run_one() {
        local i=$1 t0 r=FAIL out
        t0=$(date +%s)
        shift
        # shellcheck disable=SC2086
        if out=$(run_vm $*); then r=PASS; fi
        { stamp "scenario: $* ($(($(date +%s) - t0))s)"; echo "$out"; } > "$res/$i.out"
        echo $r > "$res/$i.rc"
    }
    collect() {
        local f i
        for f in "$res"/*.rc; do
            [ -e "$f" ] || continue
            i=$(basename "$f" .rc)
            cat "$res/$i.out"
            if [ "$(cat "$f")" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
            rm -f "$f" "$res/$i.out"
        done
    }
    for s in "$@"; do
        while [ $running -ge "$jobs" ]; do
            wait -n
            running=$((running - 1))
            collect
        done
        i=$((i + 1))
        run_one $i "$s" &
        running=$((running + 1))
    done
    wait
    collect
    rm -rf "$res"
}
