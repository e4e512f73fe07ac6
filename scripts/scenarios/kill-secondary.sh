# Two guests, protocol C, after the full sync: node0 (Primary) streams 4 KiB O_DIRECT writes
# (drbd-testdata stream, "ACKED <n>" per returned write); after write 1500 it asks the host to
# SIGKILL node1 (the Secondary). node0's writes stall until it declares the peer lost (ping
# timeout), then go on locally; it finishes the stream, must show the peer as lost (cs not
# Connected, pdsk DUnknown, its own disk still UpToDate) and finds every write it was told about
# on /dev/drbd0 ("VALID <m>" >= the last ACKED; the host checks that too), then prints the
# checksum of the written region.
# guests: 2
# disks: 64M
# timeout: 300
# kill: node1
SEED=4242 WRITES=6000 KILL_AT=1500
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
# node0 forces itself Primary before it connects, so the handshake starts the full sync. (Forced
# while Connected, the C DRBD 8.4 can miss the resync: the peer must see the second state packet
# only after its worker has set CONSIDER_RESYNC, a race that TCG timing sometimes loses.)
[ "$NODE" = 1 ] || drbdsetup primary 0 --force
drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'

if [ "$NODE" = 1 ]; then
    wait_synced 0 240
    log "Secondary, UpToDate; waiting to be killed"
    sleep 240
    fail "the host did not kill this node"
fi

wait_synced 0 180
log "streaming $WRITES writes; node1 is killed after $KILL_AT"
# tee: the ACKED lines go to the console (for the host) and to a file (for the count below).
set -o pipefail
drbd-testdata stream /dev/drbd0 --seed $SEED --max $WRITES --mark-at $KILL_AT \
    --mark "DRBDRS-KILL node1" | tee /tmp/stream.out || fail "stream failed"
set +o pipefail
acked=$(sed -n 's/^ACKED //p' /tmp/stream.out | tail -1)
[ "$acked" = "$WRITES" ] || fail "stream acknowledged $acked of $WRITES writes"
log "$(proc_line 0)"
wait_for 60 "peer lost (not Connected, pdsk DUnknown, disk UpToDate)" \
    proc_has 0 'cs:(WFConnection|NetworkFailure|Timeout|BrokenPipe|ProtocolError|Unconnected|StandAlone) .*ro:Primary/Unknown ds:UpToDate/DUnknown'
out=$(drbd-testdata count-valid /dev/drbd0 --seed $SEED) || fail "count-valid failed: $out"
echo "$out"
valid=$(echo "$out" | sed -n 's/^VALID //p')
[ "$valid" -ge "$acked" ] || fail "only $valid of $acked acknowledged writes are on /dev/drbd0"
checksum_line primary sum /dev/drbd0 --seed $SEED --size $((acked * 4096))
show_status r0
drbdsetup secondary 0
drbdsetup down r0
