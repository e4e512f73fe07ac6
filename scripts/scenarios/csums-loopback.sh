# Checksum-based resync: two resources in one guest over 127.0.0.1, 32 MiB disks, csums-alg
# md5. Both backing devices are prefilled with the same patterned 24 MiB (the rest of both is
# zeroes), then three 4 KiB blocks of r1's copy are overwritten. r0 becomes Primary with
# --force, so connecting runs a full sync with r1 as SyncTarget: it sends the digest of each of
# its blocks, and r0 answers P_RS_IS_IN_SYNC for the equal ones and data only for the rest.
# The checksums must agree afterwards, both sides must log that most blocks had equal
# checksums, and r0 must have sent far less than the device (ns: in /proc/drbd).
# guests: 1
# disks: 32M 32M
# timeout: 240
FULL=24M SEED=41
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
testdata write /dev/vda --seed $SEED --size $FULL
testdata write /dev/vdb --seed $SEED --size $FULL
for b in 300 301 5000; do
    run dd if=/dev/urandom of=/dev/vdb bs=4096 seek=$b count=1 conv=notrunc oflag=direct status=none
done
run sync
attach_loopback_pair
drbdsetup primary 0 --force
drbdsetup connect r0 $A0 $A1 --csums-alg=md5
drbdsetup connect r1 $A1 $A0 --csums-alg=md5
wait_synced 0 120
wait_synced 1 30
cat /proc/drbd
dmesg | grep -E "Resync done|equal checksums"

# "<ratio> % had equal checksums, eliminated: <K>K; transferred <K>K total <K>K", both sides.
lines=$(dmesg | grep -c "had equal checksums")
[ "$lines" = 2 ] || fail "expected the checksum summary from both sides, got $lines"
for r in $(dmesg | sed -n 's/.* \([0-9]*\) % had equal checksums.*/\1/p'); do
    [ "$r" -ge 95 ] || fail "only $r % of the blocks had equal checksums"
done
for t in $(dmesg | sed -n 's/.*; transferred \([0-9]*\)K total.*/\1/p'); do
    [ "$t" -ge 4 ] && [ "$t" -le 1024 ] || fail "transferred ${t}K, expected the few differing blocks"
done
ns=$(grep -A1 -E '^ *0: ' /proc/drbd | sed -n 's/.* ns:\([0-9]*\) .*/\1/p')
[ -n "$ns" ] && [ "$ns" -le 2048 ] || fail "r0 sent ${ns}K for a sync of 3 differing blocks"
log "checksum resync sent ${ns}K"

checksum_line primary sum /dev/drbd0 --size $FULL
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed $SEED --size $FULL
checksum_line secondary sum /dev/drbd1 --size $FULL
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
