# Two resources in one guest replicate to each other over 127.0.0.1: full sync after
# `primary --force`, patterned writes on the Primary, a role switch, and the other node reads
# the same data back (block by block, and by checksum).
# guests: 1
# disks: 64M 64M
# timeout: 240
SIZE=16M SEED=4242

load_drbd
# r0 on minor 0 (/dev/vda) listens on 7789; r1 on minor 1 (/dev/vdb) on 7790; each is the
# other's peer.
attach_loopback_pair
drbdsetup connect r0 ipv4:127.0.0.1:7789 ipv4:127.0.0.1:7790 --protocol=C
drbdsetup connect r1 ipv4:127.0.0.1:7790 ipv4:127.0.0.1:7789 --protocol=C
wait_for 60 "r0 and r1 connected" proc_has 1 'cs:(Connected|SyncTarget)'

drbdsetup primary 0 --force
wait_synced 0 180
log "$(proc_line 0)"

testdata write /dev/drbd0 --seed $SEED --size $SIZE
checksum_line primary sum /dev/drbd0 --seed $SEED --size $SIZE

drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed $SEED --size $SIZE
checksum_line secondary sum /dev/drbd1 --seed $SEED --size $SIZE
cat /proc/drbd
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
