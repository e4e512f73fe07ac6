# Two resources in one guest over 127.0.0.1, 256 MiB disks. r0 is made Primary before it has a
# peer and filled with patterned data; connecting then runs the full sync, which must carry that
# data to r1. Then, for each replication protocol (A, B, C) in turn, the connection is re-made
# with it (disconnect + connect: a bitmap-based resync of nothing) and 16 MiB of new patterned
# data are written on r0; then 8 MiB are discarded. After a role switch r1 verifies every
# written region block by block, and the checksums of the whole data area must agree.
# guests: 1
# disks: 256M 256M
# timeout: 420
FULL=240M SEED_FULL=11

load_drbd
attach_loopback_pair

drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed $SEED_FULL --size $FULL

A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790
n=0
for P in A B C; do
    if [ $n -gt 0 ]; then
        drbdsetup disconnect $A0 $A1
        drbdsetup disconnect $A1 $A0
    fi
    drbdsetup connect r0 $A0 $A1 --protocol=$P
    drbdsetup connect r1 $A1 $A0 --protocol=$P
    wait_synced 0 300
    log "protocol $P: $(proc_line 0)"
    testdata write /dev/drbd0 --seed $((20 + n)) --offset $((n * 16))M --size 16M
    n=$((n + 1))
done
# A discard travels as P_TRIM; whatever the backing devices then read back, both must agree
# (the checksum of the whole area below covers it).
run blkdiscard -o $((200 << 20)) -l $((8 << 20)) /dev/drbd0
checksum_line primary sum /dev/drbd0 --size $FULL

drbdsetup secondary 0
drbdsetup primary 1
n=0
for P in A B C; do
    testdata verify /dev/drbd1 --seed $((20 + n)) --offset $((n * 16))M --size 16M
    n=$((n + 1))
done
testdata verify /dev/drbd1 --seed $SEED_FULL --offset 48M --size 152M
testdata verify /dev/drbd1 --seed $SEED_FULL --offset 208M --size 32M
checksum_line secondary sum /dev/drbd1 --size $FULL
cat /proc/drbd
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
