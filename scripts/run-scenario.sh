#!/usr/bin/env bash
# Runs one VM scenario: boots the guests it declares (QEMU/TCG, each bounded in time), collects
# their consoles, and decides pass or fail.
#   usage: run-scenario.sh [-o LOGDIR] KERNEL INITRD SCENARIO [key=value ...]
# SCENARIO is `kunit` or the name of scripts/scenarios/NAME.sh, whose header declares
#   # guests: N        # disks: SIZE [SIZE...]        # timeout: SECONDS
#   # kill: nodeN [nodeM]   (optional: the nodes the scenario expects the host to kill)
# A scenario passes when every guest prints "DRBDRS-RESULT: PASS", every CHECKSUM line agrees,
# and (for kunit) the KTAP output parses with no failed case. Exit status 0 = pass.
#
# Killing a guest mid-run: a guest that prints a console line starting "DRBDRS-KILL-ME" has its
# QEMU killed with SIGKILL by the host at once (the host polls the consoles every 0.1 s);
# "DRBDRS-KILL nodeN" kills node N instead. The killed node's result is "killed", not a
# failure: the run passes if every other node passes, and every node the "# kill:" header names
# was killed. With a node killed, a single CHECKSUM line (the survivor's) is enough; all still
# have to agree.
#   # restart: nodeN   (optional: a killed nodeN boots again on the same disks, with BOOT=2 in
#   the scenario's environment, console in <label>.nodeN.boot2.log; that boot must then PASS)
# Acknowledged writes: if any console has lines "ACKED <n>" (drbd-testdata stream), let N be the
# largest n printed on any console (for a killed node: the last it got out before dying). Then
# some console must print "VALID <m>" (drbd-testdata count-valid) and every such m must be >= N:
# nothing acknowledged was lost.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
logdir=
if [ "${1:-}" = -o ]; then logdir=$2; shift 2; fi
kernel=$1 initrd=$2 scenario=$3; shift 3
args=$(IFS=,; echo "$*")
label="$scenario${args:+ ($args)}"

guests=1 disks="" timeout=120 expect_kill="" restart=""
if [ "$scenario" != kunit ]; then
    file="$here/scenarios/$scenario.sh"
    [ -f "$file" ] || { echo "run-scenario: no scenario $scenario" >&2; exit 2; }
    guests=$(sed -n 's/^# guests: *//p' "$file")
    disks=$(sed -n 's/^# disks: *//p' "$file")
    timeout=$(sed -n 's/^# timeout: *//p' "$file")
    expect_kill=$(sed -n 's/^# kill: *//p' "$file")
    restart=$(sed -n 's/^# restart: *//p' "$file")
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/drbd-rs-vm.XXXXXX")
[ -n "$logdir" ] || logdir=$work
mkdir -p "$logdir"
safe=$(printf %s "$label" | tr -c 'A-Za-z0-9_.=-' '_')
# Two guests exchange Ethernet frames as UDP datagrams on the host's loopback: no start order.
base=$((20000 + RANDOM % 20000))
pids=()
# launch N BOOT: starts guest N (boot 1 creates its disks; a restart reuses them).
launch() {
    local n=$1 boot=$2 d=0 size img
    local drives=() net=()
    for size in $disks; do
        img="$work/node$n-disk$d.img"
        [ "$boot" != 1 ] || truncate -s "$size" "$img"
        drives+=(-drive "file=$img,format=raw,if=virtio,cache=unsafe")
        d=$((d + 1))
    done
    if [ "$guests" -gt 1 ]; then
        net=(-netdev "socket,id=n0,udp=127.0.0.1:$((base + 1 - n)),localaddr=127.0.0.1:$((base + n))"
             -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:5$n")
    fi
    local log="$logdir/$safe.node$n.log" qlog="$logdir/$safe.node$n.qemu"
    if [ "$boot" != 1 ]; then log="$logdir/$safe.node$n.boot$boot.log" qlog="$logdir/$safe.node$n.boot$boot.qemu"; fi
    # A console left from an earlier run in the same log directory must not be read as this
    # one's (a stale DRBDRS-KILL-ME would kill the new guest at once).
    : > "$log"
    # Only drbd-rs's own suites run (not the kernel's built-in ones at boot).
    local kunit_filter="kunit.filter_glob=drbd_rs*"
    # timeout(1) bounds the guest even if it hangs; -no-reboot turns the guest's final
    # `reboot -f` (and a panic, with panic=-1) into QEMU exiting.
    # In ( ...; exit ) 2>/dev/null, a guest the host SIGKILLs ends as an exit status, without a
    # "Killed" notice from bash.
    ( timeout --kill-after=10 "$timeout" qemu-system-x86_64 -machine pc -accel tcg -cpu max \
        -m 512 -smp 2 -display none -monitor none -serial "file:$log" -no-reboot \
        -pidfile "$work/node$n.pid" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "$kunit_filter console=ttyS0 panic=-1 oops=panic drbdrs.scenario=$scenario drbdrs.node=$n drbdrs.boot=$boot drbdrs.args=$args" \
        "${drives[@]}" "${net[@]}" </dev/null >"$qlog" 2>&1; exit $? ) 2>/dev/null &
    pids[$n]=$!
}
for ((n = 0; n < guests; n++)); do
    launch $n 1
done
# Until every guest has ended: serve kill requests (see the header).
killed=() restarted=()
while :; do
    running=0
    for ((n = 0; n < guests; n++)); do kill -0 "${pids[$n]}" 2>/dev/null && running=1; done
    [ $running = 1 ] || break
    for ((n = 0; n < guests; n++)); do
        [ -z "${killed[$n]:-}" ] || continue
        for target in $(tr -d '\r' 2>/dev/null < "$logdir/$safe.node$n.log" |
                        sed -n "s/^DRBDRS-KILL-ME.*/node$n/p; s/^DRBDRS-KILL \(node[0-9]*\).*/\1/p" | sort -u); do
            t=${target#node}
            [ "$t" -lt "$guests" ] && [ -z "${killed[$t]:-}" ] || continue
            if qpid=$(cat "$work/node$t.pid" 2>/dev/null) && kill -KILL "$qpid" 2>/dev/null; then
                killed[$t]=1
                echo "  node$t: killed with SIGKILL at node$n's request"
                case " $restart " in
                    *" node$t "*)
                        wait "${pids[$t]}" 2>/dev/null
                        rm -f "$work/node$t.pid"
                        restarted[$t]=1
                        launch "$t" 2
                        echo "  node$t: restarted on the same disks (boot 2)" ;;
                esac
            fi
        done
    done
    sleep 0.1
done

rc=0
for ((n = 0; n < guests; n++)); do
    wait "${pids[$n]}"
    st=$?
    log="$logdir/$safe.node$n.log"
    if [ -n "${restarted[$n]:-}" ]; then
        log="$logdir/$safe.node$n.boot2.log"
    elif [ -n "${killed[$n]:-}" ]; then
        echo "  node$n: killed"
        continue
    fi
    case " $expect_kill " in
        *" node$n "*) [ -n "${killed[$n]:-}" ] ||
            { echo "  node$n: the scenario expects it killed, but nothing asked for that"; rc=1; } ;;
    esac
    if [ $st = 124 ] || [ $st = 137 ]; then
        echo "  node$n: timed out after ${timeout}s"
        rc=1
    fi
    if ! grep -q "^DRBDRS-RESULT: PASS" "$log" 2>/dev/null; then
        echo "  node$n: no PASS result; what the scenario reported, then the console tail:"
        tr -d '\r' < "$log" 2>/dev/null | grep -E 'FAIL:|drbd-testdata:|timed out' | head -10 | sed 's/^/    ! /'
        tail -25 "$log" 2>/dev/null | sed 's/^/    | /'
        cat "${log%.log}.qemu" 2>/dev/null | sed 's/^/    qemu| /'
        rc=1
    fi
done

# Checksums printed by the guests must agree (data written on one node, read on the other).
sums=$(cat "$logdir/$safe".node*.log 2>/dev/null | tr -d '\r' | sed -n 's/^CHECKSUM \([^ ]*\) \([0-9a-f]\{64\}\)$/\1 \2/p')
if [ -n "$sums" ]; then
    # A killed node may not get to print its counterpart.
    need=2
    [ ${#killed[@]} -le ${#restarted[@]} ] || need=1
    if [ "$(echo "$sums" | awk '{print $2}' | sort -u | wc -l)" != 1 ] || [ "$(echo "$sums" | wc -l)" -lt $need ]; then
        echo "  checksums disagree or have no counterpart:"; echo "$sums" | sed 's/^/    /'
        rc=1
    else
        echo "  checksums agree: $(echo "$sums" | awk '{print $1}' | tr '\n' ' ')= $(echo "$sums" | head -1 | cut -c1-80 | awk '{print $2}' | cut -c1-16)..."
    fi
fi

# Every acknowledged write must have survived: VALID m >= the largest ACKED n on any console.
acked=$(for ((n = 0; n < guests; n++)); do
            tr -d '\r' 2>/dev/null < "$logdir/$safe.node$n.log" | sed -n 's/^ACKED \([0-9][0-9]*\)$/\1/p' |
                sort -n | tail -1 | sed "s/^/node$n /"
        done)
valid=$(for ((n = 0; n < guests; n++)); do
            cat "$logdir/$safe.node$n.log" "$logdir/$safe.node$n.boot2.log" 2>/dev/null | tr -d '\r' |
                sed -n "s/^VALID \([0-9][0-9]*\)$/node$n \1/p"
        done)
if [ -n "$acked" ]; then
    max_acked=$(echo "$acked" | awk '{print $2}' | sort -n | tail -1)
    summary="ACKED $(echo "$acked" | awk '{printf "%s%s=%s", sep, $1, $2; sep=","}'), VALID $(echo "$valid" | awk 'NF {printf "%s%s=%s", sep, $1, $2; sep=","}')"
    if [ -z "$valid" ]; then
        echo "  acknowledged writes: $summary: no node printed VALID"; rc=1
    elif [ "$(echo "$valid" | awk -v a="$max_acked" '$2 < a' | wc -l)" != 0 ]; then
        echo "  acknowledged writes LOST: $summary (every VALID must be >= $max_acked)"; rc=1
    else
        echo "  acknowledged writes kept: $summary"
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
