# Two guests, 256 MiB disks. node0 is made Primary before it has a peer and filled with
# patterned data; connecting then runs the full sync, which must carry that data to node1.
# Then, for each replication protocol (A, B, C) in turn, both nodes re-make the connection with
# it (node0 disconnects when its writes are done; node1 follows when it sees the peer go) and
# node0 writes 16 MiB of new patterned data. After a role switch node1 verifies every region
# block by block, and the checksums of the whole data area must agree. With module0=/module1=
# this is a mixed pair (drbd-rs and the C DRBD).
# guests: 2
# disks: 256M
# timeout: 480
FULL=240M SEED_FULL=11
me=ipv4:192.0.2.$((NODE + 1)):7789 peer=ipv4:192.0.2.$((2 - NODE)):7789

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal

if [ "$NODE" = 0 ]; then
    drbdsetup primary 0 --force
    testdata write /dev/drbd0 --seed $SEED_FULL --size $FULL
fi

n=0
for P in A B C; do
    if [ $n -gt 0 ]; then
        if [ "$NODE" = 1 ]; then
            wait_for 120 "peer disconnected" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
        fi
        drbdsetup disconnect $me $peer
    fi
    drbdsetup connect r0 $me $peer --protocol=$P
    wait_synced 0 300
    log "protocol $P: $(proc_line 0)"
    if [ "$NODE" = 0 ]; then
        testdata write /dev/drbd0 --seed $((20 + n)) --offset $((n * 16))M --size 16M
    fi
    n=$((n + 1))
done

if [ "$NODE" = 0 ]; then
    checksum_line primary sum /dev/drbd0 --size $FULL
    drbdsetup secondary 0
    wait_for 240 "peer finished (connection closed)" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
else
    wait_for 180 "peer wrote and became Secondary" proc_has 0 'ro:Secondary/Secondary'
    drbdsetup primary 0
    n=0
    for P in A B C; do
        testdata verify /dev/drbd0 --seed $((20 + n)) --offset $((n * 16))M --size 16M
        n=$((n + 1))
    done
    testdata verify /dev/drbd0 --seed $SEED_FULL --offset 48M --size 192M
    checksum_line secondary sum /dev/drbd0 --size $FULL
    show_status r0
    drbdsetup secondary 0
fi
drbdsetup down r0
