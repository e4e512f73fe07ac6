# Split brain of two Primaries between two guests (so mixed pairs can run it): protocol C,
# --allow-two-primaries, --after-sb-2pri=disconnect, both Primary after the full sync. Both
# write (each its own 1 MiB) and node0 cuts the connection in the middle (disconnect); both go on
# writing alone, then node0 connects again. The handshake finds two Primaries with diverged
# data: split brain, left unresolved, neither side connects or syncs, both stay Primary with
# their data. node1 then becomes Secondary and connects with --discard-my-data, node0 connects:
# node1 is SyncTarget and ends with node0's data; after node1 is Primary again the whole devices
# are identical (the host compares the checksums) and equal node0's from before the reconnect.
# While DRBD does not connect them the guests signal each other over TCP (dp_signal/dp_await).
# guests: 2
# disks: 64M
# timeout: 300
NET="--after-sb-2pri=disconnect"

load_drbd
dp_two_primaries "$NET"
dp_both 1 60
# Both write at once, each its own region; node0 cuts the connection while they do.
drbd-testdata hammer /dev/drbd0 --seed 81 --node "$NODE" --offset $((8 + NODE))M --size 1M \
    --duration 8 --threads 2 > /tmp/h 2>&1 & h=$!
if [ "$NODE" = 0 ]; then
    sleep 3
    drbdsetup disconnect $DP_A0 $DP_A1
    proc_has 0 'cs:StandAlone ro:Primary/Unknown' || fail "not StandAlone Primary after the cut"
else
    wait_for 60 "the peer cut the connection" proc_has 0 'cs:WFConnection ro:Primary/Unknown'
fi
wait $h || fail "the hammer failed: $(cat /tmp/h)"
cat /tmp/h
if dmesg | grep -E 'BAD! BarrierAck|ProtocolError'; then fail "a protocol error before the cut"; fi
# Alone: each writes a region the other does not.
testdata write /dev/drbd0 --seed $((84 + NODE)) --offset $((12 + 2 * NODE))M --size 2M
# The data area, without the mailbox (the peer may post a step while this side sums).
data_sum() { drbd-testdata sum /dev/drbd0 --size $DP_MBOX | sed 's/.*sha256=//'; }
MINE=$(data_sum)
[ -n "$MINE" ] || fail "sum"
log "my data after the split: $MINE"

# Reconnect.
echo "drbd-rs-test: reconnect" > /dev/kmsg
since() { dmesg | sed -n '/drbd-rs-test: reconnect$/,$p'; }
# The split brain is seen (by this side, or the peer dropped the connection) and nobody connects.
split_seen() {
    since | grep -qF "Split-Brain detected but unresolved, dropping connection!" && proc_has 0 'cs:StandAlone'
}
if [ "$NODE" = 0 ]; then
    dp_await 7001 60
    drbdsetup connect r0 $DP_A0 $DP_A1 --protocol=C --allow-two-primaries $NET
else
    dp_signal 7001
fi
# The C DRBD: both sides detect it and go StandAlone (either may instead see the other close the
# connection first and wait in WFConnection).
wait_for 60 "a side StandAlone after the handshake" sh -c \
    "dmesg | sed -n '/drbd-rs-test: reconnect\$/,\$p' | grep -qE 'Split-Brain detected but unresolved, dropping connection!|conn\\( [A-Za-z]* -> (StandAlone|NetworkFailure|BrokenPipe|Disconnecting) \\)'"
sleep 3
since | grep -E 'Split-Brain|uuid_compare|conn\(' | sed 's/^\[[^]]*\] //' | sed 's/^/    kernel: /'
proc_line 0
if proc_has 0 'cs:(Connected|SyncSource|SyncTarget|WFBitMap|PausedSync)'; then
    fail "connected or synced after the split brain"
fi
proc_has 0 'ro:Primary/Unknown' || fail "not Primary any more"
[ "$(data_sum)" = "$MINE" ] || fail "data changed although the split brain is unresolved"
SEEN=no
since | grep -qF "drbd0: Split-Brain detected but unresolved, dropping connection!" && SEEN=yes
log "this side logged the unresolved split brain: $SEEN"
# At least one side must have said so: node1 tells node0 what it saw.
if [ "$NODE" = 1 ]; then
    if [ $SEEN = yes ]; then dp_signal 7002 8K; else dp_signal 7002 4K; fi
    dp_await 7004 60
    "$DRBDSETUP" disconnect $DP_A1 $DP_A0 >/dev/null 2>&1
    drbdsetup secondary 0
    echo "drbd-rs-test: discard" > /dev/kmsg
    drbdsetup connect r0 $DP_A1 $DP_A0 --protocol=C --allow-two-primaries $NET --discard-my-data
    dp_signal 7005
else
    dp_await 7002 60
    peer_seen=no
    [ "$DP_BYTES" = 8192 ] && peer_seen=yes
    log "the peer logged the unresolved split brain: $peer_seen"
    [ $SEEN = yes ] || [ "$peer_seen" = yes ] || fail "neither side logged 'Split-Brain detected but unresolved, dropping connection!'"
    # Out of WFConnection first, if there: node0 must not connect before node1 discards.
    "$DRBDSETUP" disconnect $DP_A0 $DP_A1 >/dev/null 2>&1
    wait_for 10 "StandAlone" proc_has 0 'cs:StandAlone'
    dp_signal 7004
    dp_await 7005 60
    echo "drbd-rs-test: discard" > /dev/kmsg
    drbdsetup connect r0 $DP_A0 $DP_A1 --protocol=C --allow-two-primaries $NET
fi
wait_synced 0 120
discard_line="drbd0: Split-Brain detected, manually solved. Sync from this node"
[ "$NODE" = 1 ] && discard_line="drbd0: Split-Brain detected, manually solved. Sync from peer node"
dmesg | sed -n '/drbd-rs-test: discard$/,$p' | grep -qF "$discard_line" || fail "no '$discard_line'"
log "kernel log: $discard_line"
if [ "$NODE" = 1 ]; then
    drbdsetup primary 0
fi
wait_for 60 "both Primary" proc_has 0 'cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate'
# node1 has node0's writes from before and after the cut, none of its own from after it.
if [ "$NODE" = 1 ]; then
    testdata verify /dev/drbd0 --seed 84 --offset 12M --size 2M
    if drbd-testdata verify /dev/drbd0 --seed 85 --offset 14M --size 2M >/dev/null 2>&1; then
        fail "node1 still holds its own writes after --discard-my-data"
    fi
else
    [ "$(data_sum)" = "$MINE" ] || fail "node0's data changed in the resync"
fi
wait_for 30 "idle" dp_idle
# Nobody writes after step 2; then both checksum.
dp_both 2 60
checksum_line "node$NODE-drbd0" sum /dev/drbd0
drbdsetup secondary 0
drbdsetup down r0
