#!/usr/bin/env bash
# Runs one VM scenario: boots the guests it declares (QEMU/TCG, each bounded in time), collects
# their consoles, and decides pass or fail.
#   usage: run-scenario.sh [-o LOGDIR] KERNEL INITRD SCENARIO [key=value ...]
# SCENARIO is `kunit` or the name of scripts/scenarios/NAME.sh, whose header declares
#   # guests: N        # disks: SIZE [SIZE...]        # timeout: SECONDS
# A scenario passes when every guest prints "DRBDRS-RESULT: PASS", every CHECKSUM line agrees,
# and (for kunit) the KTAP output parses with no failed case. Exit status 0 = pass.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
logdir=
if [ "${1:-}" = -o ]; then logdir=$2; shift 2; fi
kernel=$1 initrd=$2 scenario=$3; shift 3
args=$(IFS=,; echo "$*")
label="$scenario${args:+ ($args)}"

guests=1 disks="" timeout=120
if [ "$scenario" != kunit ]; then
    file="$here/scenarios/$scenario.sh"
    [ -f "$file" ] || { echo "run-scenario: no scenario $scenario" >&2; exit 2; }
    guests=$(sed -n 's/^# guests: *//p' "$file")
    disks=$(sed -n 's/^# disks: *//p' "$file")
    timeout=$(sed -n 's/^# timeout: *//p' "$file")
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/drbd-rs-vm.XXXXXX")
[ -n "$logdir" ] || logdir=$work
mkdir -p "$logdir"
safe=$(printf %s "$label" | tr -c 'A-Za-z0-9_.=-' '_')
# Two guests exchange Ethernet frames as UDP datagrams on the host's loopback: no start order.
base=$((20000 + RANDOM % 20000))
pids=()
for ((n = 0; n < guests; n++)); do
    drives=()
    d=0
    for size in $disks; do
        img="$work/node$n-disk$d.img"
        truncate -s "$size" "$img"
        drives+=(-drive "file=$img,format=raw,if=virtio,cache=unsafe")
        d=$((d + 1))
    done
    net=()
    if [ "$guests" -gt 1 ]; then
        net=(-netdev "socket,id=n0,udp=127.0.0.1:$((base + 1 - n)),localaddr=127.0.0.1:$((base + n))"
             -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:5$n")
    fi
    log="$logdir/$safe.node$n.log"
    # Only drbd-rs's own suites run (not the kernel's built-in ones at boot).
    kunit_filter="kunit.filter_glob=drbd_rs*"
    # timeout(1) bounds the guest even if it hangs; -no-reboot turns the guest's final
    # `reboot -f` (and a panic, with panic=-1) into QEMU exiting.
    timeout --kill-after=10 "$timeout" qemu-system-x86_64 -machine pc -accel tcg -cpu max \
        -m 512 -smp 2 -display none -monitor none -serial "file:$log" -no-reboot \
        -kernel "$kernel" -initrd "$initrd" \
        -append "$kunit_filter console=ttyS0 panic=-1 oops=panic drbdrs.scenario=$scenario drbdrs.node=$n drbdrs.args=$args" \
        "${drives[@]}" "${net[@]}" </dev/null >"$logdir/$safe.node$n.qemu" 2>&1 &
    pids+=($!)
done
rc=0
for ((n = 0; n < guests; n++)); do
    wait "${pids[$n]}"
    st=$?
    log="$logdir/$safe.node$n.log"
    if [ $st = 124 ] || [ $st = 137 ]; then
        echo "  node$n: timed out after ${timeout}s"
        rc=1
    fi
    if ! grep -q "^DRBDRS-RESULT: PASS" "$log" 2>/dev/null; then
        echo "  node$n: no PASS result; what the scenario reported, then the console tail:"
        tr -d '\r' < "$log" 2>/dev/null | grep -E 'FAIL:|drbd-testdata:|timed out' | head -10 | sed 's/^/    ! /'
        tail -25 "$log" 2>/dev/null | sed 's/^/    | /'
        cat "$logdir/$safe.node$n.qemu" 2>/dev/null | sed 's/^/    qemu| /'
        rc=1
    fi
done

# Checksums printed by the guests must agree (data written on one node, read on the other).
sums=$(cat "$logdir/$safe".node*.log 2>/dev/null | tr -d '\r' | sed -n 's/^CHECKSUM \([^ ]*\) \([0-9a-f]\{64\}\)$/\1 \2/p')
if [ -n "$sums" ]; then
    if [ "$(echo "$sums" | awk '{print $2}' | sort -u | wc -l)" != 1 ] || [ "$(echo "$sums" | wc -l)" -lt 2 ]; then
        echo "  checksums disagree or have no counterpart:"; echo "$sums" | sed 's/^/    /'
        rc=1
    else
        echo "  checksums agree: $(echo "$sums" | awk '{print $1}' | tr '\n' ' ')= $(echo "$sums" | head -1 | cut -c1-80 | awk '{print $2}' | cut -c1-16)..."
    fi
fi

if [ "$scenario" = kunit ]; then
    # kunit.py parses the first KTAP block it finds, so hand it the console from the moment
    # /init runs (the module's suites); it exits non-zero on any failed case.
    if ! out=$(tr -d '\r' < "$logdir/$safe.node0.log" | sed -n '/^Run \/init/,$p' | python3 "$KSRC/tools/testing/kunit/kunit.py" parse 2>&1); then
        rc=1
    fi
    echo "$out" | grep -E '^\[[0-9:]+\] (=+|\[(PASSED|FAILED|SKIPPED|CRASHED)\]|Testing complete|.*(ASSERTION|EXPECTATION|Expected|left|right))' | sed 's/^\[[0-9:]*\] /  /'
    echo "$out" | grep -qE 'Testing complete\. Ran [1-9]' || { echo "  kunit: no test ran"; rc=1; }
fi
rm -f "$work"/*.img
[ "$logdir" = "$work" ] || rm -rf "$work"
if [ $rc = 0 ]; then echo "PASS $label"; else echo "FAIL $label (logs: $logdir)"; fi
exit $rc
