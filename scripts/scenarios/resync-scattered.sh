# After a short outage the resync moves what changed and not much more. Two guests with 1 GiB
# disks, protocol C. They skip the initial sync (`new-current-uuid --clear-bitmap` while
# Connected and Inconsistent, as the DRBD user guide describes for fresh disks: both disks are
# zero). node0 becomes Primary and disconnects, writes 10 MiB as 2560 distinct 4 KiB blocks
# scattered over the first 1000 MiB, and reconnects. Its bitmap must hold exactly those 2560
# blocks; the resync moves their 10 MiB (the network counter `ns:` grows by about that much,
# against 1 GiB for a full sync); then both print the checksum of the first 1000 MiB of their
# backing devices, which the host compares.
# guests: 2
# disks: 1G
# timeout: 420
SEED=777 COUNT=2560 SPAN=1000M
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))
A="ipv4:$me:7789 ipv4:$peer:7789"

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup connect r0 $A --protocol=C

if [ "$NODE" = 0 ]; then
    wait_for 120 "connected" proc_has 0 'cs:Connected .*ds:Inconsistent/Inconsistent'
    drbdsetup new-current-uuid --clear-bitmap 0
    wait_synced 0 60
    log "$(proc_line 0)"
    drbdsetup primary 0
    drbdsetup disconnect $A
    testdata scatter /dev/drbd0 --seed $SEED --count $COUNT --span $SPAN
    oos=$(proc_counter 0 oos)
    log "disconnected writes: oos:$oos KB"
    [ "$oos" = $((COUNT * 4)) ] || fail "oos:$oos KB after writing $COUNT distinct 4 KiB blocks"
    before=$(proc_counter 0 ns)
    drbdsetup connect r0 $A --protocol=C
    wait_for 120 "resync started or done" proc_has 0 'cs:(SyncSource|Connected)'
    wait_synced 0 300
    after=$(proc_counter 0 ns)
    line=$(dmesg | grep "Began resync as SyncSource" | tail -1)
    log "$line"
    bits=$(echo "$line" | sed -n 's/.*\[\([0-9]*\) bits set\].*/\1/p')
    moved=$((after - before))
    echo "RESYNC-SCATTERED dirty $COUNT blocks ($((COUNT * 4)) KB), bitmap $bits bits, moved $moved KB over the network"
    [ "$bits" = "$COUNT" ] || fail "the resync started with $bits bits, not the $COUNT dirty blocks"
    # Resync data plus protocol overhead counted in ns: (none is, in practice): 2% slack.
    [ "$moved" -ge $((COUNT * 4)) ] && [ "$moved" -le $((COUNT * 4 * 102 / 100 + 64)) ] ||
        fail "moved $moved KB for $((COUNT * 4)) KB of dirty blocks"
    checksum_line node0 sum /dev/vda --size $SPAN
    drbdsetup secondary 0
else
    # node0's skip of the initial sync, promotion and disconnect can pass faster than this
    # node polls; the one resync of the scenario is the landmark.
    wait_for 300 "the resync of the scattered writes began" sh -c \
        "dmesg | grep -q 'Began resync as SyncTarget'"
    wait_synced 0 300
    log "$(proc_line 0)"
    checksum_line node1 sum /dev/vda --size $SPAN
fi
# Give the peer time to finish before this node disconnects.
sleep 2
drbdsetup down r0
