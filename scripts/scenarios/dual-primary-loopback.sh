# Two Primaries over 127.0.0.1 (r0 on /dev/vda, r1 on /dev/vdb, one guest): protocol C with
# --allow-two-primaries; both resources are Primary at once and write the same blocks at the
# same moment with O_DIRECT: whole 4 KiB blocks in random order (equal ranges) and sequential
# streams of 12 KiB and 8 KiB writes (ranges that overlap in part). Afterwards both replicas
# must hold the same bytes, and a second round after a reconnect must too. Also the refusals
# around it: allow-two-primaries with protocol A or B (ERR_NOT_PROTO_C), a second Primary
# without the option (SS_TWO_PRIMARIES), dropping the option while both are Primary
# (ERR_NEED_ALLOW_TWO_PRI), and net-options on one side reaching the other (P_PROTOCOL_UPDATE).
# guests: 1
# disks: 64M 64M
# timeout: 420
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790
REGION=1M

load_drbd
attach_loopback_pair

# expect_refused WHAT PATTERN CMD...: CMD must fail and print PATTERN.
expect_refused() {
    what=$1 pat=$2
    shift 2
    if out=$("$@" 2>&1); then
        fail "$what was accepted: $*"
    fi
    echo "$out" | sed 's/^/    /'
    echo "$out" | grep -q "$pat" || fail "$what: expected '$pat'"
    log "refused as expected: $what"
}

expect_refused "allow-two-primaries with protocol A" "Protocol C required" \
    "$DRBDSETUP" connect r0 $A0 $A1 --protocol=A --allow-two-primaries
expect_refused "allow-two-primaries with protocol B" "Protocol C required" \
    "$DRBDSETUP" connect r0 $A0 $A1 --protocol=B --allow-two-primaries

# Without the option: a second Primary is refused.
drbdsetup primary 0 --force
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180
wait_synced 1 60
expect_refused "second Primary without allow-two-primaries" "Multiple primaries not allowed by config" \
    "$DRBDSETUP" primary 1
proc_has 1 'ro:Secondary/Primary' || fail "r1 is not Secondary/Primary"

# net-options on one side only: the peer takes it over (P_PROTOCOL_UPDATE).
drbdsetup net-options $A0 $A1 --allow-two-primaries
wait_for 20 "r1 took over allow-two-primaries" sh -c "'$DRBDSETUP' show r1 | grep -q allow-two-primaries"
drbdsetup primary 1
wait_for 20 "both Primary" sh -c "grep -qE '^ *0: .*ro:Primary/Primary' /proc/drbd && grep -qE '^ *1: .*ro:Primary/Primary' /proc/drbd"
grep -E '^ *[01]: cs:' /proc/drbd
expect_refused "dropping allow-two-primaries while both are Primary" "(164) Can not clear allow_two_primaries" \
    "$DRBDSETUP" net-options $A0 $A1 --allow-two-primaries=no

# round N: both Primaries write at once, then the replicas must agree. Overlapping writes
# (the same 4 KiB blocks, and 12 KiB against 8 KiB streams) only where drbd-rs is involved:
# the C DRBD 8.4.11 pair drops its connection on them ("BAD! BarrierAck #n received, expected
# #m!": its resolving side never acknowledges an epoch in which it superseded or retried a
# peer write); both run the disjoint case (each side its own LVs, as an XCP SR).
OVERLAP=yes
[ "$DRBD_MODULE" = drbd ] && OVERLAP=no
round() {
    n=$1
    pids=
    # Disjoint: r0 writes 2M-3M, r1 3M-4M, at once.
    testdata write /dev/drbd0 --seed $((n * 10 + 5)) --offset 2M --size 1M > /tmp/d0.log 2>&1 &
    pids="$pids $!"
    testdata write /dev/drbd1 --seed $((n * 10 + 6)) --offset 3M --size 1M > /tmp/d1.log 2>&1 &
    pids="$pids $!"
    if [ $OVERLAP = yes ]; then
        # Both into the first $REGION at once: real conflicts.
        testdata scatter /dev/drbd1 --seed $((n * 10 + 2)) --count 256 --span $REGION > /tmp/s1.log 2>&1 &
        pids="$pids $!"
        testdata scatter /dev/drbd0 --seed $((n * 10 + 1)) --count 256 --span $REGION > /tmp/s0.log 2>&1 &
        pids="$pids $!"
        testdata stream /dev/drbd1 --seed $((n * 10 + 4)) --block 8K --max 128 --every 128 > /tmp/t1.log 2>&1 &
        pids="$pids $!"
        testdata stream /dev/drbd0 --seed $((n * 10 + 3)) --block 12K --max 85 --every 85 > /tmp/t0.log 2>&1 &
        pids="$pids $!"
    fi
    for p in $pids; do
        wait $p || { cat /tmp/*.log; fail "a writer failed in round $n"; }
    done
    proc_has 0 'cs:Connected' || fail "r0 not Connected after round $n"
    proc_has 1 'cs:Connected' || fail "r1 not Connected after round $n"
    s0=$(drbd-testdata sum /dev/drbd0 --size 4M) || fail "sum of r0 failed"
    s1=$(drbd-testdata sum /dev/drbd1 --size 4M) || fail "sum of r1 failed"
    s0=${s0##*sha256=} s1=${s1##*sha256=}
    log "round $n: r0 $s0"
    log "round $n: r1 $s1"
    [ "$s0" = "$s1" ] || fail "the replicas differ after round $n"
    # Each side reads the other's disjoint writes back.
    drbd-testdata verify /dev/drbd1 --seed $((n * 10 + 5)) --offset 2M --size 1M > /dev/null ||
        fail "r1 does not read r0's writes of round $n"
    drbd-testdata verify /dev/drbd0 --seed $((n * 10 + 6)) --offset 3M --size 1M > /dev/null ||
        fail "r0 does not read r1's writes of round $n"
}
round 1
round 2
dmesg | grep -c "Concurrent writes detected" | sed 's/^/concurrent-write alerts: /'

# The Secondary side leaves and comes back (a Primary that loses its peer starts a new data
# generation, so only one side may stay Primary): it resyncs and is promoted again.
drbdsetup secondary 1
drbdsetup disconnect $A1 $A0
wait_for 30 "r0 lost its peer" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
drbdsetup connect r1 $A1 $A0 --protocol=C --allow-two-primaries
wait_synced 1 120
drbdsetup primary 1
round 3
a=$(drbd-testdata sum /dev/drbd0 --size 16M) || fail "sum of r0 failed"
b=$(drbd-testdata sum /dev/drbd1 --size 16M) || fail "sum of r1 failed"
log "r0 16M: ${a##*sha256=}"
log "r1 16M: ${b##*sha256=}"
[ "${a##*sha256=}" = "${b##*sha256=}" ] || fail "the replicas differ (16M)"

drbdsetup secondary 1
drbdsetup secondary 0
drbdsetup down r0
drbdsetup down r1
