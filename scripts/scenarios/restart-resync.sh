# Writes made while the peer is away must reach it, even across a restart of the node that
# made them. r0 and r1 (one guest, over 127.0.0.1) sync fully; r1 disconnects; r0 writes 8 MiB
# of new data (8192 KB out of sync), is taken down (drbdmeta then reads the same UUIDs and 2048
# bits from the meta-data) and attached again, reading its bitmap back from disk; both connect,
# the resync runs, and after a role switch r1 verifies all of it.
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
oos=$(proc_counter 0 oos)
[ "$oos" = 8192 ] || fail "oos:$oos KB after 8 MiB written while disconnected"
drbdsetup secondary 0
gi_kernel=$("$DRBDSETUP" get-gi 0) || fail "get-gi failed"
drbdsetup down r0
# The C module's detach leaves the meta-data marked unclean; drbdadm runs apply-al first.
[ "$DRBD_MODULE" = drbd ] && run "$DRBDMETA" 0 v08 /dev/vda internal apply-al
# drbdmeta reads what the module wrote: the same UUIDs the kernel reported, and the 8 MiB
# written while disconnected as 2048 bits of the on-disk bitmap.
gi_disk=$("$DRBDMETA" 0 v08 /dev/vda internal get-gi 2>/dev/null) || fail "drbdmeta get-gi failed"
bits=$("$DRBDMETA" 0 v08 /dev/vda internal dump-md 2>/dev/null | sed -n 's/^# bits-set \([0-9]*\);/\1/p')
log "kernel get-gi $gi_kernel; drbdmeta get-gi $gi_disk; drbdmeta bits-set $bits"
# (The current UUID's lowest bit is the role bit: the C module leaves it set on disk after the
# demotion, drbd-rs clears it; the UUIDs are compared without it.)
uuids_sans_role() { echo "$1" | cut -d: -f1-4 | sed 's/^\(...............\)./\1/'; }
[ "$(uuids_sans_role "$gi_kernel")" = "$(uuids_sans_role "$gi_disk")" ] ||
    fail "drbdmeta's UUIDs differ from the kernel's"
[ "$bits" = 2048 ] || fail "drbdmeta dump-md counts $bits bits, the kernel had 2048"
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
oos=$(proc_counter 0 oos)
[ "$oos" = 8192 ] || fail "oos:$oos KB after re-attach; the on-disk bitmap had 8192 KB"
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
