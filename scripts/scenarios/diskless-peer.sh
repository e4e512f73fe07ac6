# Two guests: node0 has a disk, node1 has none (a diskless client). node0 fills 16 MiB with
# patterned data and connects; node1 connects without a disk, becomes Primary once node0 is
# Secondary, reads node0's data over the network (P_DATA_REQUEST / P_DATA_REPLY) and writes
# 8 MiB more, which land on node0's disk only. node0 becomes Primary again and verifies them.
# Both print the checksum of the 24 MiB region.
# guests: 2
# disks: 64M
# timeout: 300
me=ipv4:192.0.2.$((NODE + 1)):7789 peer=ipv4:192.0.2.$((2 - NODE)):7789

load_drbd
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
if [ "$NODE" = 0 ]; then
    create_md 0 /dev/vda
    drbdsetup attach 0 /dev/vda /dev/vda internal
    drbdsetup primary 0 --force
    testdata write /dev/drbd0 --seed 71 --size 16M
fi
drbdsetup connect r0 $me $peer --protocol=C
wait_for 120 "connected" proc_has 0 'cs:Connected'

if [ "$NODE" = 0 ]; then
    wait_for 60 "peer is a diskless client" proc_has 0 'ds:UpToDate/Diskless'
    drbdsetup secondary 0
    wait_for 120 "peer became Primary" proc_has 0 'ro:Secondary/Primary'
    wait_for 180 "peer wrote and became Secondary again" proc_has 0 'ro:Secondary/Secondary'
    drbdsetup primary 0
    testdata verify /dev/drbd0 --seed 71 --size 16M
    testdata verify /dev/drbd0 --seed 72 --offset 16M --size 8M
    checksum_line node0 sum /dev/drbd0 --size 24M
    drbdsetup secondary 0
    wait_for 120 "peer finished (connection closed)" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
else
    wait_for 60 "diskless, peer UpToDate" proc_has 0 'ds:Diskless/UpToDate'
    wait_for 120 "peer became Secondary" proc_has 0 'ro:Secondary/Secondary'
    drbdsetup primary 0
    log "$(proc_line 0)"
    testdata verify /dev/drbd0 --seed 71 --size 16M
    testdata write /dev/drbd0 --seed 72 --offset 16M --size 8M
    checksum_line node1 sum /dev/drbd0 --size 24M
    show_status r0
    drbdsetup secondary 0
    wait_for 120 "peer verified and became Primary" proc_has 0 'ro:Secondary/Primary'
    wait_for 120 "peer became Secondary" proc_has 0 'ro:Secondary/Secondary'
fi
drbdsetup down r0
