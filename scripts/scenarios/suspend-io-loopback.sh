# suspend-io / resume-io on a connected Primary (r0 -> r1 over 127.0.0.1, one guest): while
# suspended, /proc/drbd shows the 's' flag and status "suspended:user", and a write issued
# meanwhile does not complete; resume-io lets it complete, and the peer has its data.
# guests: 1
# disks: 64M 64M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180
wait_synced 1 60

drbdsetup resume-io 0        # not suspended: nothing to do, no error
drbdsetup suspend-io 0
drbdsetup suspend-io 0       # already suspended: no error either
proc_line 0
proc_has 0 ' C s' || fail "/proc/drbd does not show the suspension"
"$DRBDSETUP" status r0 | tee /tmp/status.txt
grep -q "suspended:user" /tmp/status.txt || fail "status does not say suspended:user"

drbd-testdata write /dev/drbd0 --seed 55 --offset 1M --size 64K > /tmp/w.log 2>&1 &
writer=$!
sleep 3
kill -0 $writer 2>/dev/null || { cat /tmp/w.log; fail "a write completed while I/O was suspended"; }
log "the write waits while suspended"
drbdsetup resume-io 0
wait $writer || { cat /tmp/w.log; fail "the held write failed after resume-io"; }
log "the write completed after resume-io"
proc_has 0 ' C r' || fail "/proc/drbd still shows a suspension"
dmesg | grep -E "susp\( " | tail -2

drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed 55 --offset 1M --size 64K
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
