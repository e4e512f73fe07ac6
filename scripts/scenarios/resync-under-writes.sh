# Application writes while the resync runs must neither be overtaken by older resync data nor
# lost. r0 (one guest, over 127.0.0.1) is filled with patterned data, then connects to r1: the
# full sync starts and, while it runs, r0 overwrites 24 MiB scattered over the device with
# new data. After the sync r1 must hold exactly the new data there and the old elsewhere.
# guests: 1
# disks: 64M 64M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed 91 --size 60M
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_for 60 "resync running" proc_has 0 'cs:SyncSource'
# Three regions, written while the resync walks the device from the start.
testdata write /dev/drbd0 --seed 92 --offset 4M --size 8M
testdata write /dev/drbd0 --seed 93 --offset 28M --size 8M
testdata write /dev/drbd0 --seed 94 --offset 48M --size 8M
log "writes done: $(proc_line 0)"
wait_synced 0 240
wait_synced 1 60
checksum_line primary sum /dev/drbd0 --size 60M
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed 91 --size 4M
testdata verify /dev/drbd1 --seed 92 --offset 4M --size 8M
testdata verify /dev/drbd1 --seed 91 --offset 12M --size 16M
testdata verify /dev/drbd1 --seed 93 --offset 28M --size 8M
testdata verify /dev/drbd1 --seed 91 --offset 36M --size 12M
testdata verify /dev/drbd1 --seed 94 --offset 48M --size 8M
testdata verify /dev/drbd1 --seed 91 --offset 56M --size 4M
checksum_line secondary sum /dev/drbd1 --size 60M
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
