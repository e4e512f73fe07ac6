# Concurrent writes from two Primaries. Two guests, protocol C, --allow-two-primaries, both
# Primary after the full sync.
#  1. Disjoint: at the same moment node0 writes [0, 8M) and node1 [8M, 16M); each then checks
#     the other's half (O_DIRECT) and its own.
#  2. Conflicts: at the same moment both run `drbd-testdata hammer` over the same 1 MiB at 16M
#     for HAMMER_SECS seconds, rounds of 64 writes (both stop by the clock and a handshake, not
#     after a number of rounds: a node that got through its rounds faster would leave the other
#     writing alone at the end, overwriting every sector of the first, and hammer-check requires
#     both nodes' writes to survive somewhere; at most ROUNDS rounds): in every round the two
#     nodes write identical ranges (exact 4 KiB blocks and 1..16-sector ranges), partly
#     overlapping and contained ones, each with its own data. Whichever write wins a conflict,
#     both disks must end equal: after both stopped and DRBD is idle, each node checks every
#     sector of the region is intact hammer data (hammer-check: none torn, misplaced or
#     damaged, both nodes' writes present, and no lost write: no sector holds a node's write
#     that the same node overwrote in a later round, and no hammered sector holds older data),
#     and prints the checksum of its whole device; the
#     host compares the two; before that, an online verify (verify-alg sha1, started by node0)
#     must find no block out of sync (oos:0). The connection must stay up throughout (no protocol error, no
#     barrier-ack mismatch, no reconnect).
# Load: by default one writer thread per node, so each node has one write in flight and each
# write is alone in its epoch (the C DRBD closes an epoch when its last write completes). The
# C DRBD 8.4 needs that: with several writes in flight (threads=4), even with
# --max-epoch-size=1, a peer write it supersedes or retries is counted in its receive epoch but
# never finished, that epoch's P_BARRIER_ACK is never sent and the writer logs "BAD! BarrierAck
# #n received, expected #m!" (ProtocolError, reconnect, and with two Primaries a split brain)
# within seconds (docs/DUAL-PRIMARY-C-RESULTS.md). `threads=N` runs the stronger form for
# implementations without that flaw; `epoch=N` sets --max-epoch-size, `rounds=N` and
# `hammer=SECONDS` the length, `resolver=N` makes node N the one that resolves conflicts.
# guests: 2
# disks: 64M
# timeout: 400
HAMMER_SECS=25 ROUNDS=1000000 HAMMER_SEED=4242 THREADS=1 EPOCH=default RESOLVER=
for kv in "$@"; do
    case "$kv" in
        epoch=*) EPOCH=${kv#epoch=} ;;
        threads=*) THREADS=${kv#threads=} ;;
        hammer=*) HAMMER_SECS=${kv#hammer=} ;;
        rounds=*) ROUNDS=${kv#rounds=} ;;
        resolver=*) RESOLVER=${kv#resolver=} ;;
    esac
done
NET_OPTS=--verify-alg=sha1
[ "$EPOCH" = default ] || NET_OPTS="$NET_OPTS --max-epoch-size=$EPOCH"

load_drbd
# The node that accepts the meta-data socket resolves conflicts (RESOLVE_CONFLICTS). Both
# modules connect, then listen, in turns: the node that comes last connects the data socket
# to the listening one, which then connects the meta-data socket back to it. With
# resolver=N, node N connects only after a pause.
if [ -n "$RESOLVER" ] && [ "$NODE" = "$RESOLVER" ]; then
    DP_CONNECT_DELAY=8
fi
dp_two_primaries "$NET_OPTS"

# 1. Disjoint halves, written at once.
dp_both 1 60
if [ "$NODE" = 0 ]; then
    testdata write /dev/drbd0 --seed 31 --size 8M
else
    testdata write /dev/drbd0 --seed 32 --offset 8M --size 8M
fi
dp_both 2 120
testdata verify /dev/drbd0 --seed 31 --size 8M
testdata verify /dev/drbd0 --seed 32 --offset 8M --size 8M

# 2. The same region, at once.
dp_both 3 60
# The hammers end together: at its deadline each posts mailbox step 30 and goes on writing until
# it sees the peer's (the start rendezvous is only as exact as the mailbox's polling; a node
# writing alone for a second at the end could overwrite every sector of the other).
out=$(drbd-testdata hammer /dev/drbd0 --seed $HAMMER_SEED --node "$NODE" --offset 16M --size 1M \
    --rounds "$ROUNDS" --duration "$HAMMER_SECS" --per-round 64 --threads "$THREADS" \
    --post-at-end "$(dp_slot 30 "$NODE"):$((900000 + 30 * 2 + NODE))" \
    --until-peer "$(dp_slot 30 $((1 - NODE))):$((900000 + 30 * 2 + 1 - NODE))" 2>&1) ||
    fail "hammer failed: $out"
log "$out"
# "HAMMER node N: R rounds ...": hammer-check holds this node's writes of all R rounds to
# their order.
MY_ROUNDS=$(echo "$out" | sed -n 's/^HAMMER node [01]: \([0-9]*\) rounds .*/\1/p')
[ -n "$MY_ROUNDS" ] || fail "no round count from the hammer: $out"
# The connection must have survived the conflicts (else the mailbox cannot work either).
dp_no_protocol_errors
dp_both 4 180
wait_for 60 "idle" dp_idle
log "kernel log on conflicts: $(dmesg | grep -c 'Concurrent writes detected') 'Concurrent writes detected' lines"
dmesg | grep 'Concurrent writes detected' | head -3
# Both modules say which side resolved: only the resolver "assum[es] local/remote came first".
if [ -n "$RESOLVER" ]; then
    conflicts=$(dmesg | grep -c 'Concurrent writes detected')
    assumed=$(dmesg | grep 'Concurrent writes detected' | grep -c 'came first')
    [ "$conflicts" -gt 0 ] || fail "no conflict detected: nothing shows which node resolved"
    if [ "$NODE" = "$RESOLVER" ]; then
        [ "$assumed" = "$conflicts" ] || fail "node $NODE was to resolve conflicts, but did not decide them"
    else
        [ "$assumed" = 0 ] || fail "node $NODE resolved conflicts; node $RESOLVER was to"
    fi
fi
testdata hammer-check /dev/drbd0 --seed $HAMMER_SEED --offset 16M --size 1M --per-round 64 \
    --rounds-of "$NODE=$MY_ROUNDS" --min-per-node 1
# DRBD's own comparison of the two disks: nobody writes until both saw the verify end.
echo "drbd-rs-test: verify" > /dev/kmsg
[ "$NODE" = 0 ] && drbdsetup verify 0
verify_done() {
    dmesg | sed -n '/drbd-rs-test: verify$/,$p' | grep -q "Online verify done" && ! proc_has 0 'cs:Verify'
}
wait_for 180 "online verify done" verify_done
dmesg | sed -n '/drbd-rs-test: verify$/,$p' | grep -E 'Online verify|out of sync' | sed 's/^\[[^]]*\] //'
if dmesg | grep -F "Online verify found"; then fail "the online verify found blocks out of sync"; fi
[ "$(proc_counter 0 oos)" = 0 ] || fail "oos:$(proc_counter 0 oos) after the verify"
# The disjoint halves are untouched by the hammer.
testdata verify /dev/drbd0 --seed 31 --size 8M
testdata verify /dev/drbd0 --seed 32 --offset 8M --size 8M
dp_no_protocol_errors
# Neither node writes after step 5 (the mailbox included); a node may demote and go down once it
# has its checksum: the other reads locally.
dp_both 5 120
checksum_line "node$NODE-drbd0" sum /dev/drbd0
show_status r0
drbdsetup secondary 0
drbdsetup down r0
