# Fencing: `fencing resource-and-stonith` with a fence-peer script (the usermode helper) in
# both guests. Two guests, protocol C; node0 Primary, node1 Secondary, both UpToDate.
#  1. node0 cuts its own link (eth0 down) while a write is on the way. The Primary loses its
#     peer: I/O freezes (susp-fen: /proc/drbd 's', status "suspended:fencing") and the module
#     runs "<helper> fence-peer r0" with the peer's address in the environment. The script
#     holds its answer: the write does not complete meanwhile, nor does a second one. It answers
#     7 ("peer was stonithed"): the peer's disk counts as Outdated, I/O resumes and both writes
#     complete. events2 showed the helper's call and response.
#     Meanwhile node1, Secondary without its peer, tries to become Primary: fence-peer runs
#     there first and answers 6 (the peer is Primary): node1 outdates itself and stays
#     Secondary ("Need access to UpToDate data").
#  2. A broken script (exit 1, "fence-peer helper broken") leaves I/O frozen after the next
#     cut; `resume-io` by hand lets the held write complete.
#  3. The link comes back: node1 becomes SyncTarget and gets node0's writes; at the end of the
#     resync the SyncSource runs "unfence-peer r0" (the SyncTarget does not). node1 becomes
#     Primary and reads the data.
#  4. node0, now Secondary, disconnects from node1, now Primary: node1 refuses the
#     plain disconnect (it would have to fence), node0 outdates itself and asks again; node1
#     runs no fence-peer and keeps writing.
# The C DRBD 8.4.11 as node0 logs "BUG: scheduling while atomic" when fence-peer's answer
# thaws the I/O (its worker creates the new current UUID, which writes meta-data, under
# rcu_read_lock in w_after_conn_state_ch), so make check runs node0 on drbd-rs only; the C
# module runs as node1 (docs/FENCING-C-RESULTS.md).
# guests: 2
# disks: 64M
# timeout: 400
A0=ipv4:192.0.2.1:7789 A1=ipv4:192.0.2.2:7789
me=$A0 peer=$A1
[ "$NODE" = 0 ] || { me=$A1 peer=$A0; }

# The fence-peer script: records each call (arguments and environment); for fence-peer it
# waits until /tmp/fence-answer exists and exits with the code it holds.
cat > /tmp/fence-helper <<'HELPER'
#!/bin/sh
echo "$*|AF=$DRBD_PEER_AF|ADDR=$DRBD_PEER_ADDRESS" >> /tmp/helper.log
if [ "$1" = fence-peer ]; then
    while [ ! -f /tmp/fence-answer ]; do sleep 0.2; done
    code=$(cat /tmp/fence-answer)
    rm -f /tmp/fence-answer
    exit "$code"
fi
exit 0
HELPER
chmod +x /tmp/fence-helper
: > /tmp/helper.log

load_drbd
printf %s /tmp/fence-helper > "/sys/module/$DRBD_MODULE/parameters/usermode_helper" ||
    fail "cannot set $DRBD_MODULE's usermode_helper"
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup disk-options 0 --fencing=resource-and-stonith
# A short ping interval: the lost link is noticed within seconds.
drbdsetup connect r0 "$me" "$peer" --protocol=C --ping-int=2
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'
[ "$NODE" = 0 ] && drbdsetup primary 0 --force
wait_synced 0 240
wait_for 60 "Primary/Secondary" proc_has 0 'cs:Connected ro:(Primary/Secondary|Secondary/Primary) ds:UpToDate/UpToDate'
"$DRBDSETUP" show r0 | grep -E 'fencing' || fail "show does not list the fencing policy"

if [ "$NODE" = 1 ]; then
    # node1 sees the link go and come back twice; it stays Secondary, fences nobody.
    dp_signal 7201
    wait_for 120 "the connection lost" sh -c "dmesg | grep -qE 'conn\\( [A-Za-z]* -> (NetworkFailure|Timeout|BrokenPipe)'"
    # 1b. A promotion without the peer asks fence-peer first (`drbd_set_role`: the policy
    # wants the peer outdated). The script answers 6, the peer is Primary: this node outdates
    # itself and stays Secondary.
    echo 6 > /tmp/fence-answer
    if "$DRBDSETUP" primary 0 > /tmp/promote 2>&1; then
        fail "became Primary without its peer although fence-peer said the peer is Primary"
    fi
    sed 's/^/    primary: /' /tmp/promote
    grep -qxF "fence-peer r0|AF=ipv4|ADDR=192.0.2.1" /tmp/helper.log ||
        fail "the promotion did not ask fence-peer: $(cat /tmp/helper.log)"
    dmesg | grep -F "fence-peer helper returned 6 (peer is active)" || fail "no 'fence-peer helper returned 6 (peer is active)'"
    proc_line 0
    proc_has 0 'ro:Secondary/Unknown ds:Outdated/' || fail "not Outdated after fence-peer said the peer is Primary"
    dp_await 7202 300
    wait_synced 0 120
    # Only a Primary fences (besides that promotion), and only a SyncSource unfences.
    [ "$(grep -c '^fence-peer' /tmp/helper.log)" = 1 ] || fail "the Secondary ran fence-peer: $(cat /tmp/helper.log)"
    if grep -E '^unfence-peer' /tmp/helper.log; then fail "the SyncTarget ran unfence-peer"; fi
    dp_signal 7203
    dp_await 7204 120
    drbdsetup primary 0
    testdata verify /dev/drbd0 --seed 55 --offset 1M --size 64K
    testdata verify /dev/drbd0 --seed 56 --offset 2M --size 64K
    testdata verify /dev/drbd0 --seed 57 --offset 3M --size 64K
    testdata verify /dev/drbd0 --seed 58 --offset 4M --size 64K
    cat /tmp/helper.log
    checksum_line "node1-drbd0" sum /dev/drbd0
    # 4. node0, Secondary now, disconnects: this Primary refuses until node0 outdates
    # itself, so it does not need to fence (no fence-peer, no frozen I/O).
    # (WFConnection; the C module may pass through BrokenPipe when its next connect attempt
    # meets the peer going down.)
    wait_for 60 "the peer disconnected" proc_has 0 'cs:(WFConnection|Unconnected|BrokenPipe|NetworkFailure)'
    proc_line 0
    proc_has 0 'ro:Primary/Unknown ds:UpToDate/Outdated C r' ||
        fail "after the peer's disconnect: not Primary with the peer Outdated and I/O running"
    # (The one fence-peer line is the promotion's, 1b.)
    [ "$(grep -c '^fence-peer' /tmp/helper.log)" = 1 ] || fail "fence-peer ran for a disconnect the peer asked for"
    testdata write /dev/drbd0 --seed 59 --offset 5M --size 64K
    drbdsetup secondary 0
    drbdsetup down r0
    exit 0
fi

"$DRBDSETUP" events2 r0 > /tmp/events 2>&1 &
events=$!
dp_await 7201 60
echo "drbd-rs-test: cut 1" > /dev/kmsg
since() { dmesg | sed -n "/drbd-rs-test: $1\$/,\$p"; }

# ---- 1. The cut, a held write, a stonith answer ----
ip link set eth0 down
drbd-testdata write /dev/drbd0 --seed 55 --offset 1M --size 64K > /tmp/w1 2>&1 &
w1=$!
wait_for 60 "fence-peer called" grep -q '^fence-peer' /tmp/helper.log
grep -qxF "fence-peer r0|AF=ipv4|ADDR=192.0.2.2" /tmp/helper.log ||
    fail "fence-peer not called as '<helper> fence-peer r0' with the peer's address: $(cat /tmp/helper.log)"
proc_line 0
proc_has 0 ' C s' || fail "/proc/drbd does not show I/O suspended while fence-peer runs"
"$DRBDSETUP" status r0 | tee /tmp/status
grep -q "suspended:fencing" /tmp/status || fail "status does not say suspended:fencing"
drbd-testdata write /dev/drbd0 --seed 56 --offset 2M --size 64K > /tmp/w2 2>&1 &
w2=$!
# Long enough for node1 to notice the loss and try its promotion (1b) before the link is back.
sleep 8
kill -0 $w1 2>/dev/null || fail "the write in flight at the cut completed before fence-peer answered: $(cat /tmp/w1)"
kill -0 $w2 2>/dev/null || fail "a write completed while I/O was frozen: $(cat /tmp/w2)"
log "both writes wait for fence-peer"
echo 7 > /tmp/fence-answer
wait $w1 || fail "the held write failed: $(cat /tmp/w1)"
wait $w2 || fail "the write issued while frozen failed: $(cat /tmp/w2)"
log "both writes completed after fence-peer answered"
since "cut 1" | grep -F "fence-peer helper returned 7 (peer was stonithed)" ||
    fail "no 'fence-peer helper returned 7 (peer was stonithed)'"
wait_for 10 "peer Outdated, I/O resumed" proc_has 0 'ro:Primary/Unknown ds:UpToDate/Outdated C r'
proc_line 0

# ---- 2. A broken script: frozen until resume-io ----
# Reconnect first (the peer must be connected for the next loss to fence again).
ip link set eth0 up
wait_for 120 "connected again" proc_has 0 'cs:(Connected|SyncSource)'
wait_synced 0 120
echo "drbd-rs-test: cut 2" > /dev/kmsg
ip link set eth0 down
drbd-testdata write /dev/drbd0 --seed 57 --offset 3M --size 64K > /tmp/w3 2>&1 &
w3=$!
wait_for 60 "fence-peer called again" sh -c "[ \$(grep -c '^fence-peer' /tmp/helper.log) = 2 ]"
echo 1 > /tmp/fence-answer
wait_for 20 "the broken helper reported" sh -c "dmesg | sed -n '/drbd-rs-test: cut 2\$/,\$p' | grep -qF 'fence-peer helper broken, returned 1'"
sleep 2
kill -0 $w3 2>/dev/null || fail "a write completed after a broken fence-peer: $(cat /tmp/w3)"
proc_has 0 ' C s' || fail "I/O not frozen after a broken fence-peer"
log "a broken fence-peer leaves I/O frozen"
drbdsetup resume-io 0
wait $w3 || fail "the held write failed after resume-io: $(cat /tmp/w3)"
proc_has 0 ' C r' || fail "still suspended after resume-io"
testdata write /dev/drbd0 --seed 58 --offset 4M --size 64K

# ---- 3. Back together ----
ip link set eth0 up
dp_signal 7202
wait_for 120 "connected again" proc_has 0 'cs:(Connected|SyncSource)'
wait_synced 0 120
wait_for 30 "unfence-peer" grep -q '^unfence-peer r0' /tmp/helper.log
cat /tmp/helper.log
since "cut 1" | grep -E 'helper|fence|susp' | sed 's/^\[[^]]*\] //' | sed 's/^/    kernel: /'
kill $events 2>/dev/null
grep -E 'helper' /tmp/events | sed 's/^/    events2: /'
grep -qE '^call helper name:r0 .*helper:fence-peer$' /tmp/events || fail "events2 shows no 'call helper ... helper:fence-peer'"
# The status is the helper's wait status, as the C module reports it (exit code 7: 0x700).
grep -qE '^response helper name:r0 .*helper:fence-peer status:1792$' /tmp/events ||
    fail "events2 shows no 'response helper ... helper:fence-peer status:1792'"
grep -qE 'suspended:fencing' /tmp/events || fail "events2 never showed suspended:fencing"
dp_await 7203 120
testdata verify /dev/drbd0 --seed 55 --offset 1M --size 64K
checksum_line "node0-drbd0" sum /dev/drbd0
drbdsetup secondary 0
dp_signal 7204
wait_for 60 "peer Primary" proc_has 0 'ro:Secondary/Primary'
drbdsetup disconnect "$me" "$peer"
proc_line 0
proc_has 0 'cs:StandAlone ro:Secondary/Unknown ds:Outdated/DUnknown' ||
    fail "a Secondary disconnecting from a Primary that fences must outdate itself"
drbdsetup down r0
