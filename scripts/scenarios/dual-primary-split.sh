# Split brain of two Primaries, in one guest: r0 (minor 0, /dev/vda) and r1 (minor 1,
# /dev/vdb) replicate to each other over 127.0.0.1 with protocol C, --allow-two-primaries and
# --after-sb-2pri=disconnect. Both Primary write (and read each other's writes); then, while
# both write, r0's side of the connection is cut (disconnect). Both go on
# writing alone. On reconnect the handshake finds two Primaries with diverged data: split
# brain, left unresolved (after-sb-2pri=disconnect), no sync either way, nobody Connected. r1
# then becomes Secondary and connects with --discard-my-data: it becomes SyncTarget and ends
# with r0's data; both Primary again, the whole devices are identical (two CHECKSUM lines).
# guests: 1
# disks: 32M 32M
# timeout: 300
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790
NET="--protocol=C --allow-two-primaries --after-sb-2pri=disconnect"

both() { grep -qE "^ *0: $1" /proc/drbd && grep -qE "^ *1: $1" /proc/drbd; }

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
# shellcheck disable=SC2086
drbdsetup connect r0 $A0 $A1 $NET
# shellcheck disable=SC2086
drbdsetup connect r1 $A1 $A0 $NET
wait_synced 0 120
wait_synced 1 60
drbdsetup primary 1
wait_for 10 "both Primary" both 'cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate'

# Both write at once, each reads the other's writes.
drbd-testdata write /dev/drbd0 --seed 71 --size 4M > /tmp/w0 2>&1 & w0=$!
drbd-testdata write /dev/drbd1 --seed 72 --offset 4M --size 4M > /tmp/w1 2>&1 & w1=$!
wait $w0 || fail "r0's write failed: $(cat /tmp/w0)"
wait $w1 || fail "r1's write failed: $(cat /tmp/w1)"
testdata verify /dev/drbd1 --seed 71 --size 4M
testdata verify /dev/drbd0 --seed 72 --offset 4M --size 4M

# The cut, in the middle of writes from both.
echo "drbd-rs-test: split" > /dev/kmsg
drbd-testdata hammer /dev/drbd0 --seed 73 --node 0 --offset 8M --size 1M --duration 8 --threads 2 > /tmp/h0 2>&1 & h0=$!
drbd-testdata hammer /dev/drbd1 --seed 73 --node 1 --offset 9M --size 1M --duration 8 --threads 2 > /tmp/h1 2>&1 & h1=$!
sleep 3
drbdsetup disconnect $A0 $A1
wait $h0 || fail "r0's hammer failed: $(cat /tmp/h0)"
wait $h1 || fail "r1's hammer failed: $(cat /tmp/h1)"
cat /tmp/h0 /tmp/h1
if dmesg | grep -E 'BAD! BarrierAck|ProtocolError'; then fail "a protocol error before the cut"; fi
grep -E '^ *[01]: cs:' /proc/drbd
proc_has 0 'cs:StandAlone ro:Primary/Unknown' || fail "r0 not StandAlone Primary after the cut"
proc_has 1 'cs:WFConnection ro:Primary/Unknown' || fail "r1 not WFConnection Primary after the cut"
# Each goes on alone.
testdata write /dev/drbd0 --seed 74 --offset 12M --size 2M
testdata write /dev/drbd1 --seed 75 --offset 14M --size 2M
SUM0=$(drbd-testdata sum /dev/drbd0) || fail "sum r0"
SUM0=${SUM0##*sha256=}
SUM1=$(drbd-testdata sum /dev/drbd1) || fail "sum r1"
SUM1=${SUM1##*sha256=}
[ "$SUM0" != "$SUM1" ] || fail "both sides hold the same data after the split"
log "after the split: r0 $SUM0, r1 $SUM1"

# Reconnect: two Primaries with diverged data.
echo "drbd-rs-test: reconnect" > /dev/kmsg
# shellcheck disable=SC2086
drbdsetup connect r0 $A0 $A1 $NET
since() { dmesg | sed -n '/drbd-rs-test: reconnect$/,$p'; }
sb_seen() {
    since | grep -qF "Split-Brain detected but unresolved, dropping connection!" &&
        grep -qE '^ *[01]: cs:StandAlone' /proc/drbd
}
wait_for 60 "split brain left unresolved (a side StandAlone)" sb_seen
sleep 3
since | grep -iE 'split-brain|primaries|StandAlone' | sed 's/^\[[^]]*\] //' | sed 's/^/    kernel: /'
grep -E '^ *[01]: cs:' /proc/drbd
since | grep -qF "drbd0: Split-Brain detected but unresolved, dropping connection!" ||
    since | grep -qF "drbd1: Split-Brain detected but unresolved, dropping connection!" ||
    fail "no 'drbdN: Split-Brain detected but unresolved, dropping connection!'"
if grep -qE '^ *[01]: cs:(Connected|SyncSource|SyncTarget|WFBitMap|PausedSync)' /proc/drbd; then
    fail "a side connected or synced after the split brain"
fi
grep -qE '^ *0: cs:[A-Za-z]* ro:Primary/Unknown' /proc/drbd && grep -qE '^ *1: cs:[A-Za-z]* ro:Primary/Unknown' /proc/drbd ||
    fail "a side is not Primary any more"
s0=$(drbd-testdata sum /dev/drbd0) s1=$(drbd-testdata sum /dev/drbd1)
[ "${s0##*sha256=}" = "$SUM0" ] && [ "${s1##*sha256=}" = "$SUM1" ] || fail "data changed although the split brain is unresolved"

# r1 gives up its data.
# (A side that is StandAlone already refuses the disconnect: "unknown connection".)
"$DRBDSETUP" disconnect $A0 $A1 >/dev/null 2>&1
"$DRBDSETUP" disconnect $A1 $A0 >/dev/null 2>&1
drbdsetup secondary 1
echo "drbd-rs-test: discard" > /dev/kmsg
# shellcheck disable=SC2086
drbdsetup connect r1 $A1 $A0 $NET --discard-my-data
# shellcheck disable=SC2086
drbdsetup connect r0 $A0 $A1 $NET
wait_synced 0 120
wait_synced 1 60
dmesg | sed -n '/drbd-rs-test: discard$/,$p' | grep -qF "drbd1: Split-Brain detected, manually solved. Sync from peer node" ||
    fail "no 'drbd1: Split-Brain detected, manually solved. Sync from peer node'"
dmesg | sed -n '/drbd-rs-test: discard$/,$p' | grep -qF "drbd0: Split-Brain detected, manually solved. Sync from this node" ||
    fail "no 'drbd0: Split-Brain detected, manually solved. Sync from this node'"
dmesg | sed -n '/drbd-rs-test: discard$/,$p' | grep -E 'Split-Brain|Began resync' | sed 's/^\[[^]]*\] //' | sed 's/^/    kernel: /'
drbdsetup primary 1
wait_for 10 "both Primary" both 'cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate'
testdata verify /dev/drbd1 --seed 74 --offset 12M --size 2M
if drbd-testdata verify /dev/drbd1 --seed 75 --offset 14M --size 2M >/dev/null 2>&1; then
    fail "r1 still holds its own writes after --discard-my-data"
fi
checksum_line r0 sum /dev/drbd0
checksum_line r1 sum /dev/drbd1
s0=$(drbd-testdata sum /dev/drbd0)
[ "${s0##*sha256=}" = "$SUM0" ] || fail "r0's data changed in the resync"
drbdsetup down r0
drbdsetup down r1
