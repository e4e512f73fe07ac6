# Split brain between two resources in one guest (over 127.0.0.1): after a full sync both are
# disconnected, both become Primary and write different data. Reconnecting must detect the
# split brain and drop the connection (StandAlone) instead of syncing either way. The victim
# (r1) then connects with --discard-my-data: it becomes SyncTarget and ends with r0's data.
# guests: 1
# disks: 64M 64M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed 101 --size 16M
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180
wait_synced 1 60

drbdsetup disconnect $A0 $A1
drbdsetup disconnect $A1 $A0
drbdsetup primary 1
testdata write /dev/drbd0 --seed 102 --offset 4M --size 4M
testdata write /dev/drbd1 --seed 103 --offset 8M --size 4M
drbdsetup secondary 1
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
# The side that detects the split brain first drops the connection and goes StandAlone; the
# C module's other side may see the socket close before it compared the UUIDs and then waits
# in WFConnection. Either way neither side may sync or stay connected.
wait_for 60 "split brain detected (a side StandAlone)" sh -c \
    "dmesg | grep -qi 'Split-Brain detected but unresolved' && grep -qE '^ *[01]: cs:StandAlone' /proc/drbd"
sleep 2
dmesg | grep -i "split-brain" | tail -2
grep -E '^ *[01]: cs:' /proc/drbd
if grep -qE '^ *[01]: cs:(Connected|SyncSource|SyncTarget|WFBitMap|PausedSync)' /proc/drbd; then
    fail "a side connected or synced after split brain"
fi

"$DRBDSETUP" disconnect $A0 $A1 || true
"$DRBDSETUP" disconnect $A1 $A0 || true
drbdsetup connect r1 $A1 $A0 --protocol=C --discard-my-data
drbdsetup connect r0 $A0 $A1 --protocol=C
wait_synced 0 180
wait_synced 1 60
checksum_line primary sum /dev/drbd0 --size 16M
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed 101 --size 4M
testdata verify /dev/drbd1 --seed 102 --offset 4M --size 4M
testdata verify /dev/drbd1 --seed 101 --offset 8M --size 8M
checksum_line secondary sum /dev/drbd1 --size 16M
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
