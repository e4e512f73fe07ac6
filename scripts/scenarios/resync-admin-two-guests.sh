# invalidate-remote, invalidate and pause-sync/resume-sync between two guests (node0
# 192.0.2.1 Primary, node1 192.0.2.2 Secondary), so a mixed pair (module0=drbd_rs
# module1=drbd and the other way round) shows both modules agree on P_STATE_CHG_REQ with
# StartingSyncS/T, the sync UUID without a bitmap exchange, and the pause bits in P_STATE.
#  1. After the initial sync node0 writes patterned data; node1 overwrites part of its backing
#     disk behind DRBD's back, then pauses (pause-sync): node0 sees the peer's pause flag and
#     runs invalidate-remote. The full sync starts paused (PausedSyncS/PausedSyncT), does not
#     advance until node1 resumes, then repairs node1's disk (pattern verified on /dev/vda).
#  2. node1 overwrites its disk again and runs invalidate; node0, SyncSource, pauses and
#     resumes it from its side. node1's disk must hold the pattern again.
# guests: 2
# disks: 32M
# timeout: 360
SIZE=24M SEED=4242
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'
oos() { awk '$1 == "0:" { getline; for (i = 1; i <= NF; i++) if ($i ~ /^oos:/) print substr($i, 5) }' /proc/drbd; }

if [ "$NODE" = 0 ]; then
    drbdsetup primary 0 --force
    wait_synced 0 180
    testdata write /dev/drbd0 --seed $SEED --size $SIZE
    checksum_line primary sum /dev/drbd0 --size $SIZE
    wait_for 120 "peer paused (p flag)" proc_has 0 'cs:Connected .* r-p-'
    drbdsetup invalidate-remote 0
    wait_for 30 "full sync paused by the peer" proc_has 0 'cs:PausedSyncS ro:Primary/Secondary ds:UpToDate/Inconsistent C r-p-'
    "$DRBDSETUP" status r0 --verbose --color=never
    "$DRBDSETUP" status r0 --verbose | grep -q "resync-suspended:peer" || fail "status does not show resync-suspended:peer"
    wait_synced 0 240
    # Phase 2: the peer's invalidate makes us SyncSource; pause and resume it from here.
    wait_for 120 "SyncSource for the peer's invalidate" proc_has 0 'cs:SyncSource'
    drbdsetup pause-sync 0
    proc_has 0 'cs:PausedSyncS .* r--u' || fail "not paused by the user: $(proc_line 0)"
    sleep 1
    o1=$(oos)
    sleep 3
    o2=$(oos)
    log "paused here: oos $o1 KiB, 3 s later $o2 KiB"
    [ -n "$o1" ] && [ "$o1" = "$o2" ] || fail "sync position moved while paused ($o1 -> $o2)"
    drbdsetup resume-sync 0
    wait_synced 0 240
    dmesg | grep -E "Began resync|Resync done|Resync suspended|Syncer continues" | tail -8
    # node1 disconnects once it has checked everything; that is the cue to finish.
    wait_for 180 "peer finished (connection closed)" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
else
    wait_synced 0 240
    testdata write /dev/vda --seed 99 --offset 2M --size 4M
    drbdsetup pause-sync 0
    wait_for 120 "full sync, paused here" proc_has 0 'cs:PausedSyncT ro:Secondary/Primary ds:Inconsistent/UpToDate C r--u'
    "$DRBDSETUP" status r0 --verbose --color=never
    "$DRBDSETUP" status r0 --verbose | grep -q "resync-suspended:user" || fail "status does not show resync-suspended:user"
    sleep 1
    o1=$(oos)
    sleep 4
    o2=$(oos)
    log "paused: oos $o1 KiB, 4 s later $o2 KiB"
    [ -n "$o1" ] && [ "$o1" = "$o2" ] && [ "$o1" -gt 20000 ] || fail "not a paused full sync ($o1 -> $o2)"
    drbdsetup resume-sync 0
    wait_synced 0 240
    testdata verify /dev/vda --seed $SEED --size $SIZE
    # Phase 2: invalidate here; node0 pauses and resumes it.
    testdata write /dev/vda --seed 98 --offset 8M --size 4M
    drbdsetup invalidate 0
    wait_for 60 "full sync as SyncTarget" proc_has 0 'cs:(SyncTarget|PausedSyncT)'
    wait_synced 0 240
    testdata verify /dev/vda --seed $SEED --size $SIZE
    checksum_line secondary sum /dev/vda --size $SIZE
    dmesg | grep -E "Began resync|Resync done|Resync suspended|Syncer continues" | tail -8
    drbdsetup disconnect ipv4:$me:7789 ipv4:$peer:7789
fi
drbdsetup down r0
