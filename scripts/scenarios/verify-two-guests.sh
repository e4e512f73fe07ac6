# Checksum resync and online verify between two guests (32 MiB disks; with module0=/module1=
# a mixed pair, drbd-rs and the C DRBD). Both disks are prefilled with the same 24 MiB of
# patterned data; node1 then overwrites three of its 4 KiB blocks. node0 becomes Primary with
# --force and the full sync runs with csums-alg md5 (node1 SyncTarget sends digests, node0
# answers "in sync" for equal blocks): both must log that most blocks had equal checksums.
# Then node1 overwrites four more blocks of its backing device while connected and starts
# `drbdsetup verify` itself (node1 VerifyS, node0 VerifyT): both must find exactly 4 blocks.
# After a reconnect resyncs them, node0 verifies (node0 VerifyS) and nothing is found. At the
# end the data area of node0's /dev/drbd0 and of node1's backing device must agree.
# guests: 2
# disks: 32M
# timeout: 300
FULL=24M SEED=51
me=ipv4:192.0.2.$((NODE + 1)):7789 peer=ipv4:192.0.2.$((2 - NODE)):7789
OPTS="--verify-alg=sha1 --csums-alg=md5"

load_drbd
testdata write /dev/vda --seed $SEED --size $FULL
if [ "$NODE" = 1 ]; then
    for b in 300 301 5000; do
        run dd if=/dev/urandom of=/dev/vda bs=4096 seek=$b count=1 conv=notrunc oflag=direct status=none
    done
fi
run sync
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
[ "$NODE" = 0 ] && drbdsetup primary 0 --force
drbdsetup connect r0 $me $peer $OPTS
wait_synced 0 180
dmesg | grep -E "Resync done|equal checksums"
r=$(dmesg | sed -n 's/.* \([0-9]*\) % had equal checksums.*/\1/p' | tail -1)
[ -n "$r" ] || fail "no checksum summary after the resync"
[ "$r" -ge 95 ] || fail "only $r % of the blocks had equal checksums"
log "checksum resync: $r % equal"

done_count() { dmesg | grep -c "Online verify done"; }
# The peer may disconnect as soon as its side is done: only this side's log counts.
verify_done() { [ "$(done_count)" -ge "$1" ] && ! proc_has 0 'cs:Verify'; }
peer_gone() { ! proc_has 0 'cs:Connected'; }

if [ "$NODE" = 1 ]; then
    for b in 100 101 2000 5000; do
        run dd if=/dev/urandom of=/dev/vda bs=4096 seek=$b count=1 conv=notrunc oflag=direct status=none
    done
    drbdsetup verify 0
fi
wait_for 180 "first verify done" verify_done 1
dmesg | grep -E "Online verify|Out of sync|Online Verify"
dmesg | grep -q "Online verify found 4 4k block out of sync" || fail "verify did not find the 4 blocks"
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:16$' || fail "oos is not 16 KiB after the verify"
log "verify found the 4 corrupted blocks"

if [ "$NODE" = 0 ]; then
    wait_for 60 "peer disconnected" peer_gone
fi
drbdsetup disconnect $me $peer
drbdsetup connect r0 $me $peer $OPTS
wait_synced 0 120
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:0$' || fail "still out of sync after the resync"

[ "$NODE" = 0 ] && drbdsetup verify 0
wait_for 180 "second verify done" verify_done 2
[ "$(dmesg | grep -c 'Online verify found')" = 1 ] || fail "the second verify found blocks out of sync"
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:0$' || fail "out of sync after the second verify"
log "second verify found nothing"

if [ "$NODE" = 0 ]; then
    checksum_line node0 sum /dev/drbd0 --size $FULL
    wait_for 60 "peer disconnected" peer_gone
    drbdsetup secondary 0
    drbdsetup down r0
else
    drbdsetup down r0
    checksum_line node1 sum /dev/vda --size $FULL
fi
