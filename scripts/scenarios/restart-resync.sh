# Writes made while the peer is away must reach it, even across a restart of the node that
# made them. r0 and r1 (one guest, over 127.0.0.1) sync fully; r1 disconnects; r0 writes 8 MiB
# of new data, is taken down and attached again (its in-memory out-of-sync bitmap is gone, so
# drbd-rs must assume everything out of sync; the C DRBD reads its on-disk bitmap); both
# connect, the resync runs, and after a role switch r1 verifies all of it.
# guests: 1
# disks: 64M 64M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed 81 --size 32M
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180

drbdsetup disconnect $A1 $A0
wait_for 60 "r0 lost its peer" proc_has 0 'cs:(WFConnection|Unconnected|BrokenPipe|NetworkFailure|TearDown)'
testdata write /dev/drbd0 --seed 82 --offset 8M --size 8M
log "$(proc_line 0)"
drbdsetup secondary 0
drbdsetup down r0
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
# The C module's detach leaves the meta-data marked unclean; drbdadm runs apply-al first.
[ "$DRBD_MODULE" = drbd ] && run "$DRBDMETA" 0 v08 /dev/vda internal apply-al
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup primary 0
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180
wait_synced 1 60
cat /proc/drbd
checksum_line primary sum /dev/drbd0 --size 32M
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed 81 --size 8M
testdata verify /dev/drbd1 --seed 82 --offset 8M --size 8M
testdata verify /dev/drbd1 --seed 81 --offset 16M --size 16M
checksum_line secondary sum /dev/drbd1 --size 32M
drbdsetup secondary 1

# Both restart with equal data: the handshake finds nothing to resync, and nothing stays
# marked out of sync.
drbdsetup down r0
drbdsetup down r1
for m in 0 1; do
    r=r$m
    drbdsetup new-resource $r
    drbdsetup new-minor $r $m 0
    [ "$DRBD_MODULE" = drbd ] && run "$DRBDMETA" $m v08 /dev/vd$(echo $m | tr 01 ab) internal apply-al
    drbdsetup attach $m /dev/vd$(echo $m | tr 01 ab) /dev/vd$(echo $m | tr 01 ab) internal
done
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 120
wait_synced 1 60
cat /proc/drbd
for m in 0 1; do
    grep -A1 "^ *$m: " /proc/drbd | grep -q ' oos:0$' || fail "minor $m: blocks left out of sync"
done
drbdsetup down r0
drbdsetup down r1
