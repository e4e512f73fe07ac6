# ko-count: a peer whose disk stalls while it still answers pings (r0 -> r1 over 127.0.0.1,
# one guest; r1's backing device is a device-mapper target that is suspended). With
# `--ko-count 2 --timeout 10` the Primary drops the connection once the peer has left a write
# unanswered for more than 2 x 1 s ("Remote failed to finish a request within ..." and the
# connection state Timeout, as the C module's request_timer_fn does), so the application's
# write completes instead of hanging for ever; its blocks are out of sync. When the peer's disk
# works again the pair reconnects, resyncs, and the peer has the data.
# guests: 1
# disks: 32M 32M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790
STALL=/dev/mapper/stall
export DM_DISABLE_UDEV=1

load_drbd
run dmsetup create stall --table "0 $(cat /sys/block/vdb/size) linear /dev/vdb 0"
create_md 0 /dev/vda
create_md 1 $STALL
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup new-resource r1
drbdsetup new-minor r1 1 0
drbdsetup attach 1 $STALL $STALL internal
drbdsetup primary 0 --force
drbdsetup connect r0 $A0 $A1 --protocol=C --ko-count=2 --timeout=10
drbdsetup connect r1 $A1 $A0 --protocol=C --ko-count=2 --timeout=10
wait_synced 0 120
wait_synced 1 30
testdata write /dev/drbd0 --seed 71 --offset 0 --size 256K

dmesg -c > /dev/null
run dmsetup suspend stall
log "peer's disk suspended"
start=$(cut -d. -f1 /proc/uptime)
drbd-testdata write /dev/drbd0 --seed 72 --offset 1M --size 64K > /tmp/w.log 2>&1 &
writer=$!
# Without ko-count the write would wait for the peer's ack for ever (pings still answered).
i=0
while kill -0 $writer 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 150 ] || { cat /tmp/w.log; run dmsetup resume stall; fail "the write still waits after 30 s"; }
    sleep 0.2
done
wait $writer || { cat /tmp/w.log; run dmsetup resume stall; fail "the write failed"; }
took=$(( $(cut -d. -f1 /proc/uptime) - start ))
log "the write completed after about ${took}s with the peer's disk stalled"
dmesg | grep -E "drbd" | head -20
dmesg | grep -q "Remote failed to finish a request within" ||
    { run dmsetup resume stall; fail "no 'Remote failed to finish a request within' logged"; }
dmesg | grep -qE "conn\( [A-Za-z]+ -> Timeout \)" ||
    { run dmsetup resume stall; fail "the connection did not go to Timeout"; }
proc_has 0 'cs:(WFConnection|Unconnected|Timeout|Connecting)' ||
    { proc_line 0; run dmsetup resume stall; fail "r0 still connected"; }
oos=$(proc_counter 0 oos)
log "r0 out of sync: ${oos} KB"
[ "${oos:-0}" -ge 64 ] || { run dmsetup resume stall; fail "the unanswered write is not out of sync"; }

run dmsetup resume stall
log "peer's disk resumed"
wait_synced 0 120
wait_synced 1 30
drbdsetup secondary 0
drbdsetup primary 1
testdata verify /dev/drbd1 --seed 71 --offset 0 --size 256K
testdata verify /dev/drbd1 --seed 72 --offset 1M --size 64K
drbdsetup secondary 1
drbdsetup down r0
drbdsetup down r1
run dmsetup remove stall
