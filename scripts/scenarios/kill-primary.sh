# Two guests, protocol C, after the full sync: node0 (Primary) streams 4 KiB O_DIRECT writes
# (drbd-testdata stream, "ACKED <n>" per returned write) and, after write 1500, asks the host to
# SIGKILL it mid-stream. node1 (Secondary) notices the lost peer (ping timeout: cs not Connected,
# pdsk DUnknown), becomes Primary without --force and counts the leading writes it holds
# ("VALID <m>"). The host requires m >= the last "ACKED <n>" node0 got out before dying: every
# write node0 saw acknowledged is on node1.
# guests: 2
# disks: 64M
# timeout: 300
# kill: node0
SEED=4343 KILL_AT=1500
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

if [ "$NODE" = 0 ]; then
    wait_synced 0 180
    log "streaming until the device ends; the host kills this node after write $KILL_AT"
    drbd-testdata stream /dev/drbd0 --seed $SEED --mark-at $KILL_AT --mark DRBDRS-KILL-ME ||
        fail "stream failed"
    sleep 60
    fail "the host did not kill this node"
fi

wait_synced 0 240
log "Secondary, UpToDate; waiting for the Primary to disappear"
wait_for 120 "peer lost (not Connected, pdsk DUnknown, disk UpToDate)" \
    proc_has 0 'cs:(WFConnection|NetworkFailure|Timeout|BrokenPipe|ProtocolError|Unconnected|StandAlone) .*ro:Secondary/Unknown ds:UpToDate/DUnknown'
log "$(proc_line 0)"
drbdsetup primary 0
out=$(drbd-testdata count-valid /dev/drbd0 --seed $SEED) || fail "count-valid failed: $out"
echo "$out"
valid=$(echo "$out" | sed -n 's/^VALID //p')
[ "$valid" -ge "$KILL_AT" ] || fail "only $valid writes on /dev/drbd0, fewer than the $KILL_AT before the kill"
checksum_line survivor sum /dev/drbd0 --seed $SEED --size $((valid * 4096))
show_status r0
drbdsetup secondary 0
drbdsetup down r0
