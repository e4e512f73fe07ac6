# Two resources in one guest replicating over IPv6 loopback ([::1]) with cram-hmac
# authentication. First the two sides have different shared secrets: they must not connect
# (authentication fails, the data stays unreplicated). Then both use the same secret: they
# connect, the full sync runs, patterned data written on r0 reads back identically on r1.
# guests: 1
# disks: 64M 64M
# timeout: 240
SIZE=16M SEED=606
A0='ipv6:[::1]:7789' A1='ipv6:[::1]:7790'

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force

drbdsetup connect r0 $A0 $A1 --protocol=C --cram-hmac-alg=sha1 --shared-secret=one-secret
drbdsetup connect r1 $A1 $A0 --protocol=C --cram-hmac-alg=sha1 --shared-secret=other-secret
sleep 6
if proc_has 0 'cs:(Connected|SyncSource|SyncTarget|WFBitMap)'; then
    fail "connected although the shared secrets differ"
fi
log "different secrets: $(proc_line 0)"
dmesg | grep -iE 'authentication|auth' | tail -3
# The C module discards the configuration after a failed authentication; drbd-rs keeps trying.
"$DRBDSETUP" disconnect $A0 $A1 || true
"$DRBDSETUP" disconnect $A1 $A0 || true

drbdsetup connect r0 $A0 $A1 --protocol=C --cram-hmac-alg=sha1 --shared-secret=same-secret
drbdsetup connect r1 $A1 $A0 --protocol=C --cram-hmac-alg=sha1 --shared-secret=same-secret
wait_synced 0 180
testdata write /dev/drbd0 --seed $SEED --size $SIZE
checksum_line primary sum /dev/drbd0 --size $SIZE
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed $SEED --size $SIZE
checksum_line secondary sum /dev/drbd1 --size $SIZE
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
