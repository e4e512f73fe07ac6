# The admin commands that steer resync, on two resources in one guest over 127.0.0.1 (r0 on
# minor 0 is Primary, r1 on minor 1 its Secondary peer). Each time the Secondary's backing
# device is first overwritten behind DRBD's back (no bitmap bit knows), so only a full sync
# can make it equal to the Primary's data again:
#  - invalidate on the Secondary (connected): full sync as SyncTarget;
#  - invalidate-remote on the Primary: full sync as SyncSource;
#  - invalidate on a disconnected Secondary: Inconsistent at once, full sync on reconnect;
#  - pause-sync / resume-sync during a slow full sync (resync-rate 1 MiB/s, c-plan-ahead 0) on
#    the SyncTarget, then on the SyncSource: PausedSyncT/PausedSyncS with the u/p flags in
#    /proc/drbd and drbdsetup status, the out-of-sync amount frozen while paused, the refusals
#    of a second pause-sync and of a resume-sync the peer's pause overrides;
#  - outdate: refused on the Primary, on a disconnected Secondary Outdated, kept in the
#    meta-data across detach and attach.
# guests: 1
# disks: 32M 32M
# timeout: 420
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790
DATA=28M

load_drbd
attach_loopback_pair
drbdsetup primary 0 --force
testdata write /dev/drbd0 --seed 301 --size $DATA
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 180
wait_synced 1 60

sum_of() { drbd-testdata sum "$1" --size $DATA | sed 's/.*sha256=//'; }
# same_data WHAT: the Secondary's backing device holds the Primary's data.
same_data() {
    a=$(sum_of /dev/drbd0) b=$(sum_of /dev/vdb)
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "$1: data differs (primary $a, secondary disk $b)"
    log "$1: data equal ($a)"
}
# clobber SEED: overwrites part of the Secondary's backing device directly.
clobber() {
    testdata write /dev/vdb --seed "$1" --offset 2M --size 4M
    a=$(sum_of /dev/drbd0) b=$(sum_of /dev/vdb)
    [ "$a" != "$b" ] || fail "clobbering the secondary's disk changed nothing"
}
began() { dmesg | grep -c "Began resync as $1 (will sync 32" ; }
same_data "initial full sync"

# (a) invalidate on the connected Secondary.
n=$(began SyncTarget)
clobber 302
drbdsetup invalidate 1
wait_for 60 "minor 1 resyncing or synced after invalidate" sh -c "[ \$(dmesg | grep -c 'Began resync as SyncTarget (will sync 32') -gt $n ]"
wait_synced 1 120
wait_synced 0 10
dmesg | grep -E "drbd1|r1" | grep -E "StartingSyncT|WFSyncUUID|Began resync" | tail -4
same_data "invalidate"

# invalidate-remote on the Primary.
n=$(began SyncSource)
clobber 303
drbdsetup invalidate-remote 0
wait_for 60 "minor 0 full sync as SyncSource" sh -c "[ \$(dmesg | grep -c 'Began resync as SyncSource (will sync 32') -gt $n ]"
wait_synced 0 120
wait_synced 1 10
same_data "invalidate-remote"

# invalidate-remote on a Secondary that is not connected is refused (needs a connection).
drbdsetup disconnect $A1 $A0
# (r0 first sees the peer go; disconnecting it while it tears down is refused as transient.)
wait_for 30 "minor 0 waiting for its peer" proc_has 0 'cs:WFConnection'
drbdsetup disconnect $A0 $A1
if "$DRBDSETUP" invalidate-remote 1; then fail "invalidate-remote on a StandAlone Secondary succeeded"; fi
# invalidate on a disconnected Secondary: Inconsistent at once; the full sync follows the
# reconnect.
clobber 304
drbdsetup invalidate 1
proc_has 1 'cs:StandAlone ro:Secondary/Unknown ds:Inconsistent/DUnknown' || fail "not Inconsistent after invalidate: $(proc_line 1)"
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 1 120
wait_synced 0 10
same_data "invalidate while disconnected"

# (b) pause-sync / resume-sync during a slow full sync (the SyncTarget paces it).
drbdsetup disk-options 1 --c-plan-ahead=0 --resync-rate=1024
clobber 305
drbdsetup invalidate 1
wait_for 30 "minor 1 SyncTarget" proc_has 1 'cs:SyncTarget'
sleep 3
oos() { proc_line "$1" >/dev/null; awk -v m="$1:" '$1 == m { getline; for (i = 1; i <= NF; i++) if ($i ~ /^oos:/) print substr($i, 5) }' /proc/drbd; }
drbdsetup pause-sync 1
cat /proc/drbd
proc_has 1 'cs:PausedSyncT ro:Secondary/Primary ds:Inconsistent/UpToDate C r--u' || fail "minor 1 not paused by the user: $(proc_line 1)"
wait_for 10 "minor 0 paused by the peer" proc_has 0 'cs:PausedSyncS ro:Primary/Secondary ds:UpToDate/Inconsistent C r-p-'
if "$DRBDSETUP" pause-sync 1; then fail "a second pause-sync succeeded"; fi
"$DRBDSETUP" status r1 --verbose --statistics --color=never
"$DRBDSETUP" status r1 --verbose | grep -q "replication:PausedSyncT" || fail "status does not show PausedSyncT"
"$DRBDSETUP" status r1 --verbose | grep -q "resync-suspended:user" || fail "status does not show resync-suspended:user"
"$DRBDSETUP" status r0 --verbose | grep -q "resync-suspended:peer" || fail "status of r0 does not show resync-suspended:peer"
# The resync state is the volume's; its connection stays Connected.
"$DRBDSETUP" status r1 --verbose | grep -q "peer connection:Connected" || fail "status does not show the connection Connected"
"$DRBDSETUP" events2 r1 --now > /tmp/events2.txt
cat /tmp/events2.txt
grep -q "^exists connection .*connection:Connected" /tmp/events2.txt || fail "events2: connection not Connected"
grep -q "^exists peer-device .*replication:PausedSyncT" /tmp/events2.txt || fail "events2: peer-device not PausedSyncT"
grep -q "^exists peer-device .*resync-suspended:user" /tmp/events2.txt || fail "events2: peer-device not suspended by the user"
sleep 1
o1=$(oos 1)
sleep 4
o2=$(oos 1)
log "paused: oos $o1 KiB, 4 s later $o2 KiB"
[ -n "$o1" ] && [ "$o1" = "$o2" ] && [ "$o1" -gt 0 ] || fail "sync position moved while paused ($o1 -> $o2)"
drbdsetup resume-sync 1
if "$DRBDSETUP" resume-sync 1; then fail "a second resume-sync succeeded"; fi
wait_for 10 "minor 1 SyncTarget again" proc_has 1 'cs:SyncTarget .* r----'
sleep 3
o3=$(oos 1)
log "resumed: oos $o2 -> $o3 KiB after 3 s"
[ "$o3" -lt "$o2" ] || fail "resync did not continue after resume-sync ($o2 -> $o3)"

# Pause from the SyncSource's side: the target is paused by its peer, and its own resume-sync
# is refused while the peer holds the pause.
drbdsetup pause-sync 0
proc_has 0 'cs:PausedSyncS .* r--u' || fail "minor 0 not paused by the user: $(proc_line 0)"
wait_for 10 "minor 1 paused by the peer" proc_has 1 'cs:PausedSyncT .* r-p-'
sleep 1
o1=$(oos 1)
sleep 4
o2=$(oos 1)
log "paused by the source: oos $o1 KiB, 4 s later $o2 KiB"
[ "$o1" = "$o2" ] || fail "sync position moved while the source paused ($o1 -> $o2)"
if "$DRBDSETUP" resume-sync 1; then fail "resume-sync on the target succeeded while the peer pauses"; fi
drbdsetup resume-sync 0
wait_for 10 "minor 1 SyncTarget again" proc_has 1 'cs:SyncTarget .* r----'
drbdsetup disk-options 1 --c-plan-ahead=20 --resync-rate=250M
wait_synced 1 120
wait_synced 0 10
dmesg | grep -E "Resync suspended|Syncer continues|Resync done" | tail -6
same_data "paused and resumed full sync"

# outdate: refused on a Primary; a disconnected Secondary becomes Outdated, and stays so in the
# meta-data.
drbdsetup disconnect $A1 $A0
# (r0 first sees the peer go; disconnecting it while it tears down is refused as transient.)
wait_for 30 "minor 0 waiting for its peer" proc_has 0 'cs:WFConnection'
drbdsetup disconnect $A0 $A1
if "$DRBDSETUP" outdate 0; then fail "outdate on the Primary succeeded"; fi
drbdsetup outdate 1
proc_has 1 'ds:Outdated/DUnknown' || fail "not Outdated: $(proc_line 1)"
drbdsetup detach 1
# The C module leaves the activity log to apply (as `drbdadm attach` would first).
run "$DRBDMETA" --force 1 v08 /dev/vdb internal apply-al
"$DRBDMETA" --force 1 v08 /dev/vdb internal dump-md 2>/dev/null | grep -E "^flags|^uuid" || true
drbdsetup attach 1 /dev/vdb /dev/vdb internal
proc_has 1 'ds:Outdated/DUnknown' || fail "Outdated lost across detach/attach: $(proc_line 1)"
if "$DRBDSETUP" primary 1; then fail "an Outdated disk became Primary"; fi
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 1 120
wait_synced 0 10
same_data "after outdate"
checksum_line primary sum /dev/drbd0 --size $DATA
checksum_line secondary sum /dev/vdb --size $DATA
drbdsetup down r0
drbdsetup down r1
