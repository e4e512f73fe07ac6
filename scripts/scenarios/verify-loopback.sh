# Online verify: two resources in one guest over 127.0.0.1, 32 MiB disks, verify-alg sha1.
# r0 (Primary) is filled with patterned data and fully synced to r1. Then four 4 KiB blocks
# (two adjacent ones and two single ones) are overwritten directly on r1's backing device while
# connected (the data area starts at sector 0; internal meta-data is at the end). `drbdsetup
# verify 0` must find exactly those four blocks (both sides log it and mark them out of sync:
# oos:16 in /proc/drbd), without resyncing them. A reconnect resyncs them; a second verify,
# while r0 overwrites 8 MiB, then finds nothing; a verify of 128 blocks (--start/--stop) finds one block corrupted there;
# after another reconnect and a role switch r1 holds r0's data again (checksums agree).
# guests: 1
# disks: 32M 32M
# timeout: 300
FULL=24M SEED=31
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed $SEED --size $FULL
drbdsetup connect r0 $A0 $A1 --verify-alg=sha1
drbdsetup connect r1 $A1 $A0 --verify-alg=sha1
wait_synced 0 120
wait_synced 1 30

# Corrupt blocks 100, 101, 2000 and 5000 of r1's data behind DRBD's back.
for b in 100 101 2000 5000; do
    run dd if=/dev/urandom of=/dev/vdb bs=4096 seek=$b count=1 conv=notrunc oflag=direct status=none
done

found_lines() { dmesg | grep -c "Online verify found $1 4k block out of sync" ; }
verify_done() { proc_has 0 'cs:Connected' && proc_has 1 'cs:Connected' && [ "$(dmesg | grep -c 'Online verify done')" -ge "$1" ]; }

drbdsetup verify 0
wait_for 10 "verify progress in /proc/drbd" grep -qE "^ *0: cs:VerifyS" /proc/drbd
wait_for 10 "verify progress bar" grep -q "verified:" /proc/drbd
grep -A2 -E '^ *[01]: cs:Verify' /proc/drbd
wait_for 120 "first verify done on both sides" verify_done 2
cat /proc/drbd
dmesg | grep -E "Online verify|Out of sync|Online Verify"
n=$(found_lines 4)
[ "$n" = 2 ] || fail "expected both sides to report 4 blocks out of sync, got $n lines"
dmesg | grep -q "Out of sync: start=800, size=16 (sectors)" || fail "run of blocks 100-101 not logged"
dmesg | grep -q "Out of sync: start=16000, size=8 (sectors)" || fail "block 2000 not logged"
proc_has 0 'cs:Connected .*ds:UpToDate/UpToDate' || fail "r0 not back to Connected UpToDate"
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:16$' || fail "r0 oos is not 16 KiB"
grep -A1 -E '^ *1: ' /proc/drbd | grep -q ' oos:16$' || fail "r1 oos is not 16 KiB"
log "verify found the 4 corrupted blocks on both sides"

# The verify resynced nothing: a reconnect does (a bitmap-based resync of 16 KiB).
drbdsetup disconnect $A0 $A1
drbdsetup disconnect $A1 $A0
drbdsetup connect r0 $A0 $A1 --verify-alg=sha1
drbdsetup connect r1 $A1 $A0 --verify-alg=sha1
wait_synced 0 60
wait_synced 1 30
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:0$' || fail "r0 still out of sync after the resync"

# The second verify runs while r0 overwrites its first 8 MiB with new data: writes and the
# blocks being compared must not pass each other, so nothing is found out of sync.
drbdsetup verify 0
testdata write /dev/drbd0 --seed $((SEED + 1)) --size 8M
wait_for 120 "second verify done on both sides" verify_done 4
n=$(dmesg | grep -c "Online verify found")
[ "$n" = 2 ] || fail "the second verify found blocks out of sync"
grep -A1 -E '^ *1: ' /proc/drbd | grep -q ' oos:0$' || fail "r1 out of sync after the second verify"
log "second verify found nothing"

# A verify of part of the device (--start/--stop, in sectors): block 5000 differs again, and
# only the 128 blocks from 4992 on are looked at. VerifyS stops at the stop sector and tells
# VerifyT with its state.
run dd if=/dev/urandom of=/dev/vdb bs=4096 seek=5000 count=1 conv=notrunc oflag=direct status=none
drbdsetup verify 0 --start=39936 --stop=40960
wait_for 120 "partial verify done on both sides" verify_done 6
dmesg | grep -E "Online verify|Out of sync|Online Verify" | tail -8
dmesg | grep -q "Starting Online Verify from sector 39936" || fail "the partial verify did not start at 39936"
n=$(found_lines 1)
[ "$n" = 2 ] || fail "expected both sides to report 1 block out of sync, got $n lines"
grep -A1 -E '^ *0: ' /proc/drbd | grep -q ' oos:4$' || fail "r0 oos is not 4 KiB"
grep -A1 -E '^ *1: ' /proc/drbd | grep -q ' oos:4$' || fail "r1 oos is not 4 KiB"
log "partial verify found block 5000"
drbdsetup disconnect $A0 $A1
drbdsetup disconnect $A1 $A0
drbdsetup connect r0 $A0 $A1 --verify-alg=sha1
drbdsetup connect r1 $A1 $A0 --verify-alg=sha1
wait_synced 0 60
wait_synced 1 30

checksum_line primary sum /dev/drbd0 --size $FULL
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed $((SEED + 1)) --size 8M
testdata verify /dev/drbd1 --seed $SEED --offset 8M --size 16M
checksum_line secondary sum /dev/drbd1 --size $FULL
cat /proc/drbd
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
