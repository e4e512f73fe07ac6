# Automatic split-brain recovery with one or two Primaries left (after-sb-1pri, after-sb-2pri)
# and rr-conflict, between two resources in one guest over 127.0.0.1 (see after-sb-0pri.sh for
# how a round goes).
# - discard-secondary: the Secondary is discarded, the Primary stays Primary;
# - consensus: discard-least-changes decides, and it is accepted because it keeps the Primary's
#   data;
# - call-pri-lost-after-sb: discard-least-changes picks the Primary as the loser. DRBD 8.4 tries
#   to demote it during the handshake, but a new connection is still in WFReportParams where
#   its state rules refuse role changes (STATE_SENT), so the pri-lost-after-sb and split-brain
#   helpers run and the loser drops the connection, keeping its role and data;
# - violently-as0p: discard-least-changes picks the Primary as the loser; with the default
#   rr-conflict (disconnect) it refuses to become SyncTarget, with --rr-conflict=violently it
#   becomes SyncTarget while staying Primary;
# - after-sb-2pri disconnect (both Primary): unresolved; violently-as0p: decides, but two
#   Primaries cannot connect without allow-two-primaries; with it, violently-as0p makes the
#   loser SyncTarget while both stay Primary, and call-pri-lost-after-sb runs pri-lost-after-sb on the
#   loser, which cannot give up its role during the handshake (unresolved).
# guests: 1
# disks: 16M 16M
# timeout: 600

# r1_pri_lost: the loser r1, a Primary, could not be demoted during the handshake: it ran
# initial-split-brain, pri-lost-after-sb and split-brain and stays a StandAlone Primary, and
# neither side's data changed.
r1_pri_lost() {
    wait_for 60 "r1 left the split brain unresolved" sh -c \
        "dmesg | sed -n '/drbd-rs-test: round $SB_ROUND\$/,\$p' | grep -qF 'drbd1: Split-Brain detected but unresolved'"
    sleep 2
    expect_helper initial-split-brain 1
    expect_helper pri-lost-after-sb 1
    expect_helper split-brain 1
    proc_has 1 'cs:StandAlone ro:Primary/' || fail "r1 is not a StandAlone Primary"
    [ "$(sb_sum /dev/vda)" = "$SB_SUM0" ] && [ "$(sb_sum /dev/vdb)" = "$SB_SUM1" ] ||
        fail "data changed although the split brain is unresolved"
    log "helpers: $(cut -d'|' -f1 "$HELPER_LOG" | tr '\n' ',')"
}

load_drbd
use_recording_helper
sb_start_pair
LEAST="--after-sb-0pri=discard-least-changes"

# discard-secondary: r1 stays Primary; r0 (Secondary, more changes) is discarded.
sb_split 2 1 1
sb_connect --after-sb-1pri=discard-secondary --after-sb-1pri=discard-secondary
sb_resolved 1 0 1
proc_has 1 'ro:Primary/Secondary' || fail "r1 is no longer Primary"
drbdsetup secondary 1

# consensus: discard-least-changes picks the Secondary r1 as the loser; the Primary agrees.
sb_split 2 1 0
sb_connect "$LEAST --after-sb-1pri=consensus" "$LEAST --after-sb-1pri=consensus"
sb_resolved 0 1 1
drbdsetup secondary 0

# call-pri-lost-after-sb: the Primary r1 (fewer changes) loses but cannot be demoted.
sb_split 2 1 1
sb_connect "$LEAST --after-sb-1pri=call-pri-lost-after-sb" "$LEAST --after-sb-1pri=call-pri-lost-after-sb"
r1_pri_lost
drbdsetup secondary 1
sb_discard_r1

# violently-as0p with the default rr-conflict: the Primary r1 (fewer changes) would have to
# become SyncTarget and refuses.
sb_split 2 1 1
sb_connect "$LEAST --after-sb-1pri=violently-as0p" "$LEAST --after-sb-1pri=violently-as0p"
wait_for 60 "r1 refused to become SyncTarget" sh -c \
    "dmesg | sed -n '/drbd-rs-test: round $SB_ROUND\$/,\$p' | grep -qF 'drbd1: I shall become SyncTarget, but I am primary!'"
sleep 2
sb_log_has "drbd1: Split-Brain detected, 1 primaries, automatically solved. Sync from peer node"
proc_has 1 'cs:StandAlone ro:Primary/' || fail "r1 is not a StandAlone Primary"
[ "$(sb_sum /dev/vda)" = "$SB_SUM0" ] && [ "$(sb_sum /dev/vdb)" = "$SB_SUM1" ] ||
    fail "data changed although r1 refused to sync"
"$DRBDSETUP" disconnect $SB_A0 $SB_A1 || true
"$DRBDSETUP" disconnect $SB_A1 $SB_A0 || true

# ... and with --rr-conflict=violently: r1 becomes SyncTarget as a Primary.
sb_round
sb_connect "$LEAST --after-sb-1pri=violently-as0p --rr-conflict=violently" \
    "$LEAST --after-sb-1pri=violently-as0p --rr-conflict=violently"
sb_resolved 0 1 1
sb_log_has "drbd1: Becoming SyncTarget, violating the stable-dataassumption"
proc_has 1 'ro:Primary/Secondary' || fail "r1 is no longer Primary"
drbdsetup secondary 1

# after-sb-2pri disconnect (the default) with both Primary: unresolved. (Without
# allow-two-primaries, which drbd-rs refuses, the C module cannot connect two Primaries at all:
# a winner that stays Primary fails "Multiple primaries not allowed by config", so the other
# after-sb-2pri policies only race.)
sb_split 1 1 both
sb_connect "" ""
sb_unresolved
drbdsetup secondary 0
drbdsetup secondary 1
sb_discard_r1

# after-sb-2pri violently-as0p: discard-least-changes picks r1, but two Primaries cannot
# connect without allow-two-primaries: "Multiple primaries not allowed by config", the
# connection is dropped and nobody syncs.
sb_split 2 1 both
sb_connect "$LEAST --after-sb-2pri=violently-as0p --rr-conflict=violently" \
    "$LEAST --after-sb-2pri=violently-as0p --rr-conflict=violently"
wait_for 60 "two Primaries refused" sh -c \
    "dmesg | sed -n '/drbd-rs-test: round $SB_ROUND\$/,\$p' | grep -qF 'State change failed: Multiple primaries not allowed by config'"
sleep 2
if grep -qE '^ *[01]: cs:(Connected|SyncSource|SyncTarget|WFBitMap|PausedSync)' /proc/drbd; then
    fail "two Primaries connected or synced"
fi
[ "$(sb_sum /dev/vda)" = "$SB_SUM0" ] && [ "$(sb_sum /dev/vdb)" = "$SB_SUM1" ] ||
    fail "data changed although the Primaries did not connect"
"$DRBDSETUP" disconnect $SB_A0 $SB_A1 || true
"$DRBDSETUP" disconnect $SB_A1 $SB_A0 || true
drbdsetup secondary 0
drbdsetup secondary 1
sb_discard_r1

# With --allow-two-primaries the after-sb-2pri policies decide for real.
TWO="$LEAST --allow-two-primaries --rr-conflict=violently"
# violently-as0p: discard-least-changes picks r1, which becomes SyncTarget while both stay
# Primary.
sb_split 2 1 both
sb_connect "$TWO --after-sb-2pri=violently-as0p" "$TWO --after-sb-2pri=violently-as0p"
sb_resolved 0 1 2
# (sic: the C module prints no space before "assumption")
sb_log_has "drbd1: Becoming SyncTarget, violating the stable-dataassumption"
wait_for 10 "both Primary again" sh -c "grep -qE '^ *0: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd &&
    grep -qE '^ *1: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd"
drbdsetup secondary 1
# call-pri-lost-after-sb: discard-least-changes picks r1, which is to give up the Primary role, but a
# connection in WFReportParams refuses role changes: pri-lost-after-sb runs and the split brain
# stays unresolved (r1 a StandAlone Primary).
sb_split 2 1 both
sb_connect "$TWO --after-sb-2pri=call-pri-lost-after-sb" "$TWO --after-sb-2pri=call-pri-lost-after-sb"
r1_pri_lost
drbdsetup secondary 0
drbdsetup secondary 1
sb_discard_r1

drbdsetup down r0
drbdsetup down r1
