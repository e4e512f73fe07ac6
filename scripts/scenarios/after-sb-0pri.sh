# Automatic split-brain recovery with no Primary left (after-sb-0pri), between two resources in
# one guest over 127.0.0.1. Each round starts from a synced pair, cuts the connection while r0
# is Primary, lets both sides become Primary and write (r1 is the younger Primary), demotes
# both and reconnects with a policy. The loser must become SyncTarget and both sides must end
# with the winner's data (checksums of the backing devices); the usermode helper (a recording
# script set as the module's usermode_helper) must run as the C module runs it. Last, a
# before-resync-target handler that fails stops the resync.
# guests: 1
# disks: 16M 16M
# timeout: 600

load_drbd
use_recording_helper
sb_start_pair

# discard-zero-changes: r1 became Primary but wrote nothing, so it takes r0's changes.
sb_split 2 0
sb_connect --after-sb-0pri=discard-zero-changes --after-sb-0pri=discard-zero-changes
sb_resolved 0 1 0

# discard-least-changes: r0 wrote 1 MiB, r1 2 MiB: r0 is discarded.
sb_split 1 2
sb_connect --after-sb-0pri=discard-least-changes --after-sb-0pri=discard-least-changes
sb_resolved 1 0 0

# discard-younger-primary: r1 became Primary after the split; its larger change goes.
sb_split 1 2
sb_connect --after-sb-0pri=discard-younger-primary --after-sb-0pri=discard-younger-primary
sb_resolved 0 1 0

# discard-older-primary: r0 was Primary at the split; its larger change goes.
sb_split 2 1
sb_connect --after-sb-0pri=discard-older-primary --after-sb-0pri=discard-older-primary
sb_resolved 1 0 0

# discard-local on r0 (discard-remote on r1): r0's larger change goes.
sb_split 2 1
sb_connect --after-sb-0pri=discard-local --after-sb-0pri=discard-remote
sb_resolved 1 0 0

# disconnect (the default): the split brain stays; r1 then discards its data by hand.
sb_split 1 1
sb_connect "" ""
sb_unresolved
sb_discard_r1

# discard-zero-changes when both wrote: no decision, the connection is dropped.
sb_split 1 1
sb_connect --after-sb-0pri=discard-zero-changes --after-sb-0pri=discard-zero-changes
sb_unresolved
sb_discard_r1

# A before-resync-target handler that fails (exit code 5) keeps r1 from becoming SyncTarget:
# r1 drops the connection and keeps its data. Once the handler agrees, r1 syncs from r0.
echo "before-resync-target 5" > /tmp/helper-refuse
sb_split 2 0
sb_connect --after-sb-0pri=discard-zero-changes --after-sb-0pri=discard-zero-changes
wait_for 60 "r1's handler refused the resync" sh -c \
    "dmesg | sed -n '/drbd-rs-test: round $SB_ROUND\$/,\$p' | grep -qF 'drbd1: before-resync-target handler returned 5, dropping connection.'"
expect_helper before-resync-target 1
wait_for 30 "r1 StandAlone" proc_has 1 'cs:StandAlone'
[ "$(sb_sum /dev/vdb)" = "$SB_SUM1" ] || fail "r1's data changed although its handler refused the resync"
log "helpers: $(cut -d'|' -f1 "$HELPER_LOG" | tr '\n' ',')"
rm /tmp/helper-refuse
"$DRBDSETUP" disconnect $SB_A0 $SB_A1 || true
sb_connect --after-sb-0pri=discard-zero-changes --after-sb-0pri=discard-zero-changes
wait_synced 0 120
wait_synced 1 60
sb_data_is 0

drbdsetup down r0
drbdsetup down r1
