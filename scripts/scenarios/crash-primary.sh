# A crashed Primary comes back through its activity log, without a full sync. Two guests,
# protocol C, 128 MiB disks. After the full sync node0 (Primary) streams 4 KiB O_DIRECT writes
# ("ACKED <n>" per returned write) and asks the host to SIGKILL it after write 1500. node1 stays
# Secondary. The host boots node0 again on the same disk (BOOT=2): its meta-data is unclean.
# drbd-rs replays the activity log at attach (the C module refuses unclean meta-data; drbdadm
# runs `drbdmeta apply-al` first, and so does this scenario), marking the extents that were
# hot at the crash out of sync. node0 connects as the crashed Primary and becomes SyncSource of
# exactly those (the module's bitmap after attach must count what `drbdmeta apply-al` finds in
# a copy of the same meta-data): the resync must be non-empty and at most a few 4 MiB extents, far below the
# 128 MiB a full sync moves. Then node1 becomes Primary, counts the acknowledged writes it holds
# (VALID >= ACKED, checked by the host) and both nodes print the checksum of the data area.
# guests: 2
# disks: 128M
# timeout: 420
# kill: node0
# restart: node0
SEED=5151 KILL_AT=1500 SUM_SIZE=120M
# At most this much resync after the crash: the stream touched about 6 MiB (two extents)
# before the kill; four extents leave room for the writes in flight at the kill.
MAX_RESYNC_KB=16384
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))

load_drbd
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0

if [ "$NODE" = 0 ] && [ "$BOOT" = 2 ]; then
    log "restarted after the crash"
    # What drbdmeta makes of the activity log the module left (applied on a copy); the
    # module's own view after attach must be the same.
    al_bits=$(al_bits_of_copy /dev/vda 128)
    log "drbdmeta apply-al on a copy: $al_bits bits set"
    [ -n "$al_bits" ] && [ "$al_bits" -gt 0 ] || fail "drbdmeta found no activity log to apply"
    [ "$DRBD_MODULE" = drbd ] && run "$DRBDMETA" --force 0 v08 /dev/vda internal apply-al
    drbdsetup attach 0 /dev/vda /dev/vda internal
    log "$(proc_line 0)"
    oos=$(proc_counter 0 oos)
    [ "$oos" = $((al_bits * 4)) ] ||
        fail "after attach oos:$oos KB, but drbdmeta's apply-al set $al_bits bits ($((al_bits * 4)) KB)"
    if [ "$DRBD_MODULE" = drbd_rs ]; then
        dmesg | grep -q "replayed the activity log" || fail "drbd-rs did not replay the activity log"
        dmesg | grep "replayed the activity log"
    fi
    drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C
    wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'
    wait_synced 0 240
    line=$(dmesg | grep "Began resync as SyncSource" | tail -1)
    log "resync: $line"
    kb=$(echo "$line" | sed -n 's/.*will sync \([0-9]*\) KB.*/\1/p')
    [ -n "$kb" ] || fail "the crashed Primary did not become SyncSource"
    [ "$kb" -gt 0 ] && [ "$kb" -le $MAX_RESYNC_KB ] ||
        fail "resync after the crash moved $kb KB; expected 1..$MAX_RESYNC_KB (hot extents only)"
    echo "RESYNC-AFTER-CRASH ${kb} KB (device 131072 KB)"
    # node1 reads the device as Primary now; the local backing device is read directly.
    checksum_line crashed-primary sum /dev/vda --size $SUM_SIZE
    wait_for 120 "node1 done" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
    exit 0
fi

create_md 0 /dev/vda
drbdsetup attach 0 /dev/vda /dev/vda internal
[ "$NODE" = 1 ] || drbdsetup primary 0 --force
drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'

if [ "$NODE" = 0 ]; then
    wait_synced 0 240
    log "streaming; the host kills this node after write $KILL_AT"
    drbd-testdata stream /dev/drbd0 --seed $SEED --mark-at $KILL_AT --mark DRBDRS-KILL-ME ||
        fail "stream failed"
    sleep 60
    fail "the host did not kill this node"
fi

wait_synced 0 240
log "Secondary, UpToDate; waiting for the Primary to crash"
wait_for 120 "peer lost" proc_has 0 'cs:(WFConnection|NetworkFailure|Timeout|BrokenPipe|ProtocolError|Unconnected)'
log "$(proc_line 0)"
log "waiting for the restarted node0 to reconnect and resync"
wait_for 200 "reconnected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget|WFBitMapT)'
wait_synced 0 240
log "$(proc_line 0)"
drbdsetup primary 0
out=$(drbd-testdata count-valid /dev/drbd0 --seed $SEED) || fail "count-valid failed: $out"
echo "$out"
valid=$(echo "$out" | sed -n 's/^VALID //p')
[ "$valid" -ge "$KILL_AT" ] || fail "only $valid writes on /dev/drbd0, fewer than the $KILL_AT before the kill"
checksum_line survivor sum /dev/drbd0 --size $SUM_SIZE
drbdsetup secondary 0
drbdsetup disconnect ipv4:$me:7789 ipv4:$peer:7789
drbdsetup down r0
