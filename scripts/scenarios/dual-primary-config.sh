# Configuring two Primaries, in one guest: resources r0 (minor 0, /dev/vda) and r1 (minor 1,
# /dev/vdb) replicate to each other over 127.0.0.1. What is refused, with the C DRBD 8.4's
# exact drbdsetup-84 message and exit code:
#  - connect --allow-two-primaries with --protocol=A and =B (139 Protocol C required);
#  - the second `primary` without allow-two-primaries;
#  - net-options --allow-two-primaries=no while both are Primary (164);
#  - connect --discard-my-data on a Primary (123);
#  - a connect whose allow-two-primaries differs from the peer's: the handshake fails with
#    "incompatible allow-two-primaries settings" in the kernel log, and no side connects.
# What works: net-options --allow-two-primaries=yes on ONE connected side is adopted by the
# other (P_PROTOCOL_UPDATE: `show r1` says so), then both become Primary and read each other's
# writes; and drbdadm-84 with a drbd.conf of `net { protocol C; allow-two-primaries; }
# startup { become-primary-on both; }` brings both up (`up`, then `sh-b-pri`, what the init
# script runs for become-primary-on) Primary/Primary.
# guests: 1
# disks: 32M 32M
# timeout: 180
A0=ipv4:127.0.0.1:7789 A1=ipv4:127.0.0.1:7790

# refused DESCRIPTION RC TEXT COMMAND...: COMMAND must fail with exit code RC and print every
# line of TEXT (as whole lines).
refused() {
    what=$1 want_rc=$2 want=$3; shift 3
    log "+ $* (must be refused: $what)"
    out=$("$@" 2>&1); rc=$?
    echo "$out" | sed 's/^/    | /'
    log "REFUSED $what: rc=$rc text=$(echo "$out" | tr '\n' '|')"
    [ "$rc" = "$want_rc" ] || fail "$what: exit code $rc, want $want_rc"
    echo "$want" | while IFS= read -r line; do
        echo "$out" | grep -qxF "$line" || fail "$what: no line '$line'"
    done || exit 1
}

load_drbd
attach_loopback_pair

# Two primaries need protocol C.
refused "allow-two-primaries with protocol A" 10 "r0: Failure: (139) Protocol C required" \
    "$DRBDSETUP" connect r0 $A0 $A1 --protocol=A --allow-two-primaries
refused "allow-two-primaries with protocol B" 10 "r0: Failure: (139) Protocol C required" \
    "$DRBDSETUP" connect r0 $A0 $A1 --protocol=B --allow-two-primaries=yes
proc_has 0 'cs:StandAlone' || fail "r0 is not StandAlone after the refused connects"

# Both sides must agree on allow-two-primaries.
echo "drbd-rs-test: mismatch" > /dev/kmsg
drbdsetup connect r0 $A0 $A1 --protocol=C --allow-two-primaries
drbdsetup connect r1 $A1 $A0 --protocol=C
mismatch_seen() {
    dmesg | sed -n '/drbd-rs-test: mismatch$/,$p' | grep -qF 'incompatible allow-two-primaries settings'
}
wait_for 60 "the handshake refused (incompatible allow-two-primaries settings)" mismatch_seen
# The C DRBD: the side that sees the difference drops the connection for good (StandAlone);
# usually both do. Nobody connects.
wait_for 30 "a side StandAlone" grep -qE '^ *[01]: cs:StandAlone' /proc/drbd
sleep 3
dmesg | sed -n '/drbd-rs-test: mismatch$/,$p' | grep -F 'allow-two-primaries' | sed 's/^\[[^]]*\] //' | sort -u | sed 's/^/    kernel: /'
grep -E '^ *[01]: cs:' /proc/drbd
if grep -qE '^ *[01]: cs:(Connected|SyncSource|SyncTarget|WFBitMap)' /proc/drbd; then
    fail "a side connected despite different allow-two-primaries settings"
fi
for m in 0 1; do
    if dmesg | sed -n '/drbd-rs-test: mismatch$/,$p' | grep -qF "drbd r$m: incompatible allow-two-primaries settings"; then
        proc_has $m 'cs:StandAlone' || fail "r$m logged the mismatch but is not StandAlone"
    fi
done
"$DRBDSETUP" disconnect $A0 $A1 >/dev/null 2>&1
"$DRBDSETUP" disconnect $A1 $A0 >/dev/null 2>&1
wait_for 30 "both StandAlone" sh -c "grep -q '^ *0: cs:StandAlone' /proc/drbd && grep -q '^ *1: cs:StandAlone' /proc/drbd"

# Without allow-two-primaries: one Primary at a time.
drbdsetup primary 0 --force
drbdsetup connect r0 $A0 $A1 --protocol=C
drbdsetup connect r1 $A1 $A0 --protocol=C
wait_synced 0 120
wait_synced 1 60
refused "a second primary without allow-two-primaries" 11 \
    "1: State change failed: (-1) Multiple primaries not allowed by config" \
    "$DRBDSETUP" primary 1
proc_has 1 'ro:Secondary/Primary' || fail "r1 is not Secondary after the refused primary"

# net-options on r0 alone: r1 adopts the setting from the peer's P_PROTOCOL_UPDATE.
"$DRBDSETUP" show r1 | grep -q 'allow-two-primaries' && fail "r1 already shows allow-two-primaries"
drbdsetup net-options $A0 $A1 --allow-two-primaries=yes
"$DRBDSETUP" show r0 | grep -E 'protocol|allow-two' | sed 's/^/    r0 show: /'
adopted() { "$DRBDSETUP" show r1 | grep -qE '^[[:space:]]*allow-two-primaries[[:space:]]+yes;'; }
wait_for 10 "r1 adopted allow-two-primaries from its peer" adopted
"$DRBDSETUP" show r1 | grep -E 'protocol|allow-two' | sed 's/^/    r1 show: /'
drbdsetup primary 1
wait_for 10 "both Primary" sh -c "grep -qE '^ *0: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd && grep -qE '^ *1: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd"
grep -E '^ *[01]: cs:' /proc/drbd
# Each reads the other's writes.
testdata write /dev/drbd0 --seed 51 --size 4M
testdata write /dev/drbd1 --seed 52 --offset 4M --size 4M
testdata verify /dev/drbd1 --seed 51 --size 4M
testdata verify /dev/drbd0 --seed 52 --offset 4M --size 4M

# Both Primary: allow-two-primaries can no longer be switched off, on either side.
refused "net-options --allow-two-primaries=no with both Primary" 10 \
    "??: Failure: (164) Can not clear allow_two_primaries as long as
there a primaries on both sides" \
    "$DRBDSETUP" net-options $A0 $A1 --allow-two-primaries=no
refused "net-options --allow-two-primaries=no with both Primary (r1)" 10 \
    "??: Failure: (164) Can not clear allow_two_primaries as long as
there a primaries on both sides" \
    "$DRBDSETUP" net-options $A1 $A0 --allow-two-primaries=no
# A Primary cannot discard its data.
drbdsetup disconnect $A1 $A0
refused "connect --discard-my-data on a Primary" 10 \
    "r1: Failure: (123) --discard-my-data not allowed when primary." \
    "$DRBDSETUP" connect r1 $A1 $A0 --protocol=C --allow-two-primaries --discard-my-data
drbdsetup down r0
drbdsetup down r1

# drbdadm-84 with become-primary-on both.
h=$(hostname)
cat > /tmp/drbd-dp.conf <<EOF
global { usage-count no; }
common {
    net { protocol C; allow-two-primaries; }
    startup { become-primary-on both; }
}
resource r0 {
    on $h { device minor 0; disk /dev/vda; meta-disk internal; address 127.0.0.1:7789; }
    on peer-of-r0 { device minor 0; disk /dev/vda; meta-disk internal; address 127.0.0.1:7790; }
}
resource r1 {
    on $h { device minor 1; disk /dev/vdb; meta-disk internal; address 127.0.0.1:7790; }
    on peer-of-r1 { device minor 1; disk /dev/vdb; meta-disk internal; address 127.0.0.1:7789; }
}
EOF
# Its stdin is /dev/null: drbdadm-84 must never wait for an answer.
ADM="drbdadm-84 -c /tmp/drbd-dp.conf -s $(command -v "$DRBDSETUP")"
create_md 0 /dev/vda >/dev/null
create_md 1 /dev/vdb >/dev/null
log "drbdadm-84 up all would run:"
$ADM -d up all </dev/null 2>&1 | sed 's/^/    | /'
$ADM -d up all </dev/null 2>&1 | grep -qE "connect r0 ipv4:127.0.0.1:7789 ipv4:127.0.0.1:7790 .*--allow-two-primaries=yes" ||
    fail "drbdadm-84 up does not connect r0 with --allow-two-primaries=yes"
run $ADM up all </dev/null
wait_for 60 "connected" sh -c "grep -qE '^ *0: cs:Connected' /proc/drbd && grep -qE '^ *1: cs:Connected' /proc/drbd"
# Fresh meta-data on both: the first Primary needs --force (initial full sync).
run $ADM primary --force r0 </dev/null
wait_synced 0 120
wait_synced 1 60
log "drbdadm-84 sh-b-pri all would run:"
$ADM -d sh-b-pri all </dev/null 2>&1 | sed 's/^/    | /'
run $ADM sh-b-pri all </dev/null
wait_for 10 "both Primary" sh -c "grep -qE '^ *0: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd && grep -qE '^ *1: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd"
grep -E '^ *[01]: cs:' /proc/drbd
"$DRBDSETUP" show r1 | grep -qE '^[[:space:]]*allow-two-primaries[[:space:]]+yes;' || fail "r1 does not show allow-two-primaries"
testdata write /dev/drbd1 --seed 61 --size 4M
testdata verify /dev/drbd0 --seed 61 --size 4M
checksum_line r0 sum /dev/drbd0
checksum_line r1 sum /dev/drbd1
run $ADM down all </dev/null
