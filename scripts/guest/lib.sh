# Guest-side helpers for drbd-rs scenarios. Scenarios are written against drbdsetup's 8.4
# command syntax; which tool and module they drive is a parameter:
#   tool=drbdsetup-84|drbdsetup-rs   (default drbdsetup-84, Debian's drbd-utils)
#   module=drbd|drbd_rs              (default drbd, the in-tree C DRBD 8.4.11)
# and per node, overriding the above on node N only (mixed pairs: drbd_rs on one guest, the C
# DRBD on the other; drbdsetup-84 drives either, drbd_rs registers the same genl family):
#   module0=X module1=Y   tool0=X tool1=Y
for kv in "$@"; do
    case "$kv" in
        tool=*) DRBDSETUP=${kv#tool=} ;;
        module=*) DRBD_MODULE=${kv#module=} ;;
        "tool${NODE:-0}="*) NODE_TOOL=${kv#*=} ;;
        "module${NODE:-0}="*) NODE_MODULE=${kv#*=} ;;
    esac
done
DRBDSETUP=${NODE_TOOL:-${DRBDSETUP:-}}
DRBD_MODULE=${NODE_MODULE:-${DRBD_MODULE:-}}
DRBDSETUP=${DRBDSETUP:-drbdsetup-84}
DRBD_MODULE=${DRBD_MODULE:-drbd}
DRBDMETA=${DRBDMETA:-drbdmeta}

log() { echo "[$(cut -d' ' -f1 /proc/uptime)] node$NODE: $*"; }
fail() { log "FAIL: $*"; echo "--- /proc/drbd"; cat /proc/drbd 2>/dev/null; echo "--- dmesg (tail)"; dmesg | tail -40; exit 1; }

# Runs a command, logs it, and fails the scenario if it fails.
run() {
    log "+ $*"
    "$@" || fail "command failed ($?): $*"
}

drbdsetup() { run "$DRBDSETUP" "$@"; }

# load_module NAME: insmod from /lib/modules, the dependencies its .modinfo names first.
load_module() {
    grep -q "^$1 " /proc/modules && return 0
    for dep in $(strings "/lib/modules/$1.ko" | sed -n "s/^depends=//p" | tr , " "); do
        load_module "$dep"
    done
    run insmod "/lib/modules/$1.ko"
}

load_drbd() {
    load_module "$DRBD_MODULE"
    [ -e /proc/drbd ] || fail "/proc/drbd missing after loading $DRBD_MODULE"
    log "$(head -1 /proc/drbd)"
}

# create_md MINOR DEV: fresh internal v08 meta-data, as `drbdadm create-md` would write it.
create_md() {
    run "$DRBDMETA" --force "$1" v08 "$2" internal create-md 1
}

# attach_loopback_pair: resources r0 (minor 0 on /dev/vda) and r1 (minor 1 on /dev/vdb), each
# with fresh internal meta-data and attached; the one-guest scenarios connect them over
# 127.0.0.1.
attach_loopback_pair() {
    create_md 0 /dev/vda
    create_md 1 /dev/vdb
    drbdsetup new-resource r0
    drbdsetup new-minor r0 0 0
    drbdsetup attach 0 /dev/vda /dev/vda internal
    drbdsetup new-resource r1
    drbdsetup new-minor r1 1 0
    drbdsetup attach 1 /dev/vdb /dev/vdb internal
}

# The line of /proc/drbd for a minor, e.g. "0: cs:Connected ro:Primary/Secondary ds:...".
proc_line() { grep -E "^ *$1: " /proc/drbd; }

# proc_counter MINOR NAME: a counter of the minor's second /proc/drbd line (ns, nr, dw, dr, al,
# bm, oos, ...), e.g. `proc_counter 0 oos` for the KiB out of sync.
proc_counter() {
    sed -n "/^ *$1: cs:/{n;p}" /proc/drbd | tr ' ' '\n' | sed -n "s/^$2:\([0-9]*\)$/\1/p"
}

# al_bits_of_copy DEV SIZE_MB: what `drbdmeta apply-al` makes of DEV's internal meta-data, without
# touching DEV: the last 8 MiB (meta-data of disks up to a few GiB) are copied into a sparse file
# of DEV's size, the activity log is applied there, and the bits then set are printed.
al_bits_of_copy() {
    truncate -s "$2M" /tmp/md-copy
    dd if="$1" of=/tmp/md-copy bs=1M skip=$(($2 - 8)) seek=$(($2 - 8)) count=8 conv=notrunc 2>/dev/null ||
        fail "copying the meta-data of $1 failed"
    run "$DRBDMETA" --force 0 v08 /tmp/md-copy internal apply-al >&2
    "$DRBDMETA" --force 0 v08 /tmp/md-copy internal dump-md 2>/dev/null |
        sed -n 's/^# bits-set \([0-9]*\);/\1/p'
    rm -f /tmp/md-copy
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
    secs=$1 what=$2; shift 2
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le $((secs * 5)) ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
    log "reached: $what"
}

# proc_has MINOR REGEX: the minor's /proc/drbd line matches REGEX.
proc_has() { proc_line "$1" | grep -qE "$2"; }

# wait_synced MINOR SECONDS: connected with both disks UpToDate.
wait_synced() {
    wait_for "$2" "minor $1 Connected and UpToDate/UpToDate" proc_has "$1" 'cs:Connected .*ds:UpToDate/UpToDate'
}

testdata() { run drbd-testdata "$@"; }

# Prints the sha256 drbd-testdata reports for a region, as "CHECKSUM <label> <hex>" for the host.
checksum_line() {
    label=$1; shift
    out=$(drbd-testdata "$@") || fail "drbd-testdata $* failed: $out"
    echo "$out"
    echo "CHECKSUM $label ${out##*sha256=}"
}

# show_status RESOURCE: the resource's status in drbdsetup's formats, between markers that
# `make demo` picks out of the console.
show_status() {
    echo "=== STATUS node$NODE ($DRBDSETUP, module $DRBD_MODULE) ==="
    echo "\$ $DRBDSETUP status $1 --verbose --statistics --color=never"
    "$DRBDSETUP" status "$1" --verbose --statistics --color=never
    echo "\$ cat /proc/drbd"
    cat /proc/drbd
    echo "=== END STATUS ==="
}

# ---- Split brain between the loopback pair (after-sb-* scenarios) ----
SB_A0=ipv4:127.0.0.1:7789 SB_A1=ipv4:127.0.0.1:7790
HELPER_LOG=/tmp/helper.log
SB_ROUND=0

# use_recording_helper: points the module's usermode_helper parameter at a script that appends
# one line per call to $HELPER_LOG: its arguments and the environment the kernel gave it. It
# exits 0, unless /tmp/helper-refuse holds "COMMAND CODE": then COMMAND exits CODE.
use_recording_helper() {
    cat > /tmp/record-helper <<'HELPER'
#!/bin/sh
echo "$*|AF=$DRBD_PEER_AF|ADDR=$DRBD_PEER_ADDRESS|HOME=$HOME|TERM=$TERM|PATH=$PATH" >> /tmp/helper.log
if [ -f /tmp/helper-refuse ] && [ "$(cut -d' ' -f1 /tmp/helper-refuse)" = "$1" ]; then
    exit "$(cut -d' ' -f2 /tmp/helper-refuse)"
fi
exit 0
HELPER
    chmod +x /tmp/record-helper
    printf %s /tmp/record-helper > "/sys/module/$DRBD_MODULE/parameters/usermode_helper" ||
        fail "cannot set $DRBD_MODULE's usermode_helper"
    log "usermode_helper=$(cat "/sys/module/$DRBD_MODULE/parameters/usermode_helper")"
}

# helper_called CMD MINOR: the helper ran as "<helper> CMD minor-MINOR" with the C module's
# environment for a peer at 127.0.0.1.
helper_called() {
    grep -qxF "$1 minor-$2|AF=ipv4|ADDR=127.0.0.1|HOME=/|TERM=linux|PATH=/sbin:/usr/sbin:/bin:/usr/bin" "$HELPER_LOG"
}

# expect_helper CMD MINOR: fails unless helper_called CMD MINOR (waits up to 20 s: some helpers
# run after the state change the scenario waited for).
expect_helper() {
    wait_for 20 "helper $1 minor-$2" helper_called "$1" "$2"
}

# sb_since: the kernel log since the current round began.
sb_since() { dmesg | sed -n "/drbd-rs-test: round $SB_ROUND\$/,\$p"; }

# sb_log_has TEXT: the kernel logged a line containing TEXT in this round.
sb_log_has() {
    sb_since | grep -qF "$1" || fail "no kernel log line with: $1"
    log "kernel log: $(sb_since | grep -F "$1" | head -1 | sed 's/^\[[^]]*\] //')"
}

# sb_sum DEV: sha256 of the first 12 MiB of DEV (the region the rounds write to), read directly
# from the backing device.
sb_sum() {
    out=$(drbd-testdata sum "$1" --size 12M) || fail "drbd-testdata sum $1 failed: $out"
    echo "${out##*sha256=}"
}

# sb_round: starts a new round: a marker in the kernel log (see sb_since), an empty helper log.
sb_round() {
    SB_ROUND=$((SB_ROUND + 1))
    echo "drbd-rs-test: round $SB_ROUND" > /dev/kmsg
    : > "$HELPER_LOG"
}

# sb_split W0 W1 [KEEP]: from the synced pair, cuts the connection while r0 is Primary, lets r0
# write W0 MiB at 1M, then promotes r1 (the younger Primary) which writes W1 MiB at 6M
# (0: nothing). Both end Secondary, except minor KEEP (0, 1 or both). Records each side's data in SB_SUM0 and
# SB_SUM1 and starts a new round (kernel log marker, empty helper log).
sb_split() {
    sb_round
    log "round $SB_ROUND: r0 writes ${1}M, r1 writes ${2}M${3:+, Primary: $3}"
    proc_has 0 'ro:Primary' || drbdsetup primary 0
    drbdsetup disconnect $SB_A0 $SB_A1
    drbdsetup disconnect $SB_A1 $SB_A0
    [ "$1" = 0 ] || testdata write /dev/drbd0 --seed $((SB_ROUND * 10)) --offset 1M --size "${1}M"
    case "${3:-}" in 0|both) ;; *) drbdsetup secondary 0 ;; esac
    drbdsetup primary 1
    [ "$2" = 0 ] || testdata write /dev/drbd1 --seed $((SB_ROUND * 10 + 1)) --offset 6M --size "${2}M"
    case "${3:-}" in 1|both) ;; *) drbdsetup secondary 1 ;; esac
    SB_SUM0=$(sb_sum /dev/vda) SB_SUM1=$(sb_sum /dev/vdb)
    [ "$SB_SUM0" != "$SB_SUM1" ] || fail "both sides have the same data after the split"
}

# sb_connect "R0 OPTIONS" "R1 OPTIONS": reconnects the pair (protocol C plus the options).
sb_connect() {
    # shellcheck disable=SC2086
    drbdsetup connect r0 $SB_A0 $SB_A1 --protocol=C $1
    # shellcheck disable=SC2086
    drbdsetup connect r1 $SB_A1 $SB_A0 --protocol=C $2
}

# sb_data_is WINNER: both backing devices hold what minor WINNER had after the split.
sb_data_is() {
    want=$(eval echo "\$SB_SUM$1")
    s0=$(sb_sum /dev/vda) s1=$(sb_sum /dev/vdb)
    [ "$s0" = "$want" ] && [ "$s1" = "$want" ] ||
        fail "data differs from r$1's after the split: r0 $s0 r1 $s1 want $want"
    log "both sides hold r$1's data: $want"
}

# sb_resolved WINNER LOSER PRIMARIES: the split brain was solved automatically: LOSER became
# SyncTarget of WINNER, the resync ended with WINNER's data on both, and the helpers ran as the
# C module runs them (initial-split-brain on both, before-resync-target/-source,
# after-resync-target; no split-brain).
sb_resolved() {
    wait_synced 0 120
    wait_synced 1 60
    sb_log_has "drbd$2: Split-Brain detected, $3 primaries, automatically solved. Sync from peer node"
    sb_log_has "drbd$1: Split-Brain detected, $3 primaries, automatically solved. Sync from this node"
    sb_log_has "drbd$2: Began resync as SyncTarget"
    sb_log_has "drbd$1: Began resync as SyncSource"
    sb_data_is "$1"
    expect_helper initial-split-brain 0
    expect_helper initial-split-brain 1
    expect_helper before-resync-target "$2"
    expect_helper before-resync-source "$1"
    expect_helper after-resync-target "$2"
    if grep -q '^split-brain ' "$HELPER_LOG"; then fail "split-brain helper ran for a solved split brain"; fi
    log "helpers: $(cut -d'|' -f1 "$HELPER_LOG" | tr '\n' ',')"
}

# sb_unresolved_seen: the split brain was detected and left unresolved, a side is StandAlone.
sb_unresolved_seen() {
    sb_since | grep -qF "Split-Brain detected but unresolved, dropping connection!" &&
        grep -qE '^ *[01]: cs:StandAlone' /proc/drbd
}

# sb_unresolved: waits for an unresolved split brain; the detecting side ran the
# initial-split-brain and split-brain helpers; neither side connected or synced.
sb_unresolved() {
    wait_for 60 "split brain left unresolved (a side StandAlone)" sb_unresolved_seen
    sleep 2
    for m in 0 1; do
        if sb_since | grep -qF "drbd$m: Split-Brain detected but unresolved"; then
            expect_helper initial-split-brain $m
            expect_helper split-brain $m
        fi
    done
    if grep -qE '^ *[01]: cs:(Connected|SyncSource|SyncTarget|WFBitMap|PausedSync)' /proc/drbd; then
        fail "a side connected or synced after an unresolved split brain"
    fi
    [ "$(sb_sum /dev/vda)" = "$SB_SUM0" ] && [ "$(sb_sum /dev/vdb)" = "$SB_SUM1" ] ||
        fail "data changed although the split brain is unresolved"
    log "helpers: $(cut -d'|' -f1 "$HELPER_LOG" | tr '\n' ',')"
}

# sb_discard_r1: after an unresolved split brain, r1 connects with --discard-my-data and takes
# r0's data.
sb_discard_r1() {
    "$DRBDSETUP" disconnect $SB_A0 $SB_A1 || true
    "$DRBDSETUP" disconnect $SB_A1 $SB_A0 || true
    drbdsetup connect r1 $SB_A1 $SB_A0 --protocol=C --discard-my-data
    drbdsetup connect r0 $SB_A0 $SB_A1 --protocol=C
    wait_synced 0 120
    wait_synced 1 60
    sb_log_has "drbd1: Split-Brain detected, manually solved. Sync from peer node"
    sb_data_is 0
}

# sb_start_pair: r0 and r1 attached, a full sync from r0 done, both Secondary.
sb_start_pair() {
    attach_loopback_pair
    drbdsetup primary 0 --force
    sb_connect "" ""
    wait_synced 0 120
    wait_synced 1 60
    drbdsetup secondary 0
}

# ---- Two Primaries (dual-primary-* scenarios) ----
# Two guests, protocol C, --allow-two-primaries. Once both are Primary they coordinate through
# DRBD itself: a mailbox of 4 KiB slots at DP_MBOX of /dev/drbd0, one slot per (step, node),
# never rewritten. A node posts step S by writing its slot (protocol C: when the write returns,
# the peer's disk has it); the peer waits until an O_DIRECT read of that slot carries the pattern.
DP_MBOX=$((60 << 20))
DP_A0=ipv4:192.0.2.1:7789 DP_A1=ipv4:192.0.2.2:7789

dp_slot() { echo $((DP_MBOX + ($1 * 2 + $2) * 4096)); }

# dp_post STEP: tells the peer this node reached STEP.
dp_post() {
    out=$(drbd-testdata write /dev/drbd0 --seed $((900000 + $1 * 2 + NODE)) --offset "$(dp_slot "$1" "$NODE")" --size 4K 2>&1) ||
        fail "posting step $1 failed: $out"
    log "posted step $1"
}

dp_seen() {
    drbd-testdata verify /dev/drbd0 --seed $((900000 + $1 * 2 + 1 - NODE)) --offset "$(dp_slot "$1" $((1 - NODE)))" --size 4K
}

# dp_wait STEP SECONDS: waits until the peer posted STEP.
dp_wait() { wait_for "$2" "peer's step $1" dp_seen "$1"; }

# dp_both STEP SECONDS: posts STEP and waits for the peer's (a rendezvous).
dp_both() { dp_post "$1"; dp_wait "$1" "$2"; }

# dp_connect [OPTIONS]: connects minor 0 of this guest to the other guest's, protocol C with
# two primaries allowed, plus OPTIONS.
dp_connect() {
    me=$DP_A0 peer=$DP_A1
    [ "$NODE" = 0 ] || { me=$DP_A1 peer=$DP_A0; }
    # shellcheck disable=SC2086
    drbdsetup connect r0 "$me" "$peer" --protocol=C --allow-two-primaries ${1:-}
}

# dp_two_primaries [CONNECT OPTIONS]: fresh meta-data on /dev/vda, attached, connected; node0
# forces itself Primary (full sync to node1), node1 becomes Primary once UpToDate without
# --force; both then see ro:Primary/Primary and rendezvous at mailbox step 0.
dp_two_primaries() {
    create_md 0 /dev/vda
    drbdsetup new-resource r0
    drbdsetup new-minor r0 0 0
    drbdsetup attach 0 /dev/vda /dev/vda internal
    # DP_CONNECT_DELAY: seconds to wait before connecting (the other node listens by then).
    [ -z "${DP_CONNECT_DELAY:-}" ] || sleep "$DP_CONNECT_DELAY"
    dp_connect "${1:-}"
    wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'
    if [ "$NODE" = 0 ]; then
        drbdsetup primary 0 --force
    fi
    wait_synced 0 240
    if [ "$NODE" = 1 ]; then
        # node0 is Primary (it was the SyncSource); the second Primary needs no --force.
        wait_for 60 "peer Primary" proc_has 0 'ro:Secondary/Primary'
        drbdsetup primary 0
    fi
    wait_for 60 "both Primary" proc_has 0 'cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate'
    log "$(proc_line 0)"
    dp_both 0 60
}

# dp_idle: no request of minor 0 pending locally or at the peer, none unacknowledged.
dp_idle() {
    [ "$(proc_counter 0 lo)" = 0 ] && [ "$(proc_counter 0 pe)" = 0 ] &&
        [ "$(proc_counter 0 ua)" = 0 ] && [ "$(proc_counter 0 ap)" = 0 ]
}

# dp_no_protocol_errors: the kernel logged no DRBD protocol error, barrier-ack mismatch or
# connection loss while both nodes were meant to stay connected.
dp_no_protocol_errors() {
    if dmesg | grep -E 'BAD! BarrierAck|protocol error|PROTOCOL_ERROR|Protocol error|NetworkFailure|BrokenPipe|PingAck did not arrive|failed to answer|Split-Brain' ; then
        fail "the kernel logged a connection or protocol problem (above)"
    fi
    proc_has 0 'cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate' || fail "not Connected Primary/Primary any more"
}

# dp_signal PORT [SIZE] / dp_await PORT SECONDS: a signal to the other guest over a TCP
# connection (drbd-testdata net-send/net-recv on the guests' link), for the phases in which DRBD
# does not connect the two. net-send retries its connect for 90 s, so either side may come
# first. SIZE (default 4K) can carry a small answer: dp_await leaves the bytes received in
# DP_BYTES.
dp_signal() {
    out=$(drbd-testdata net-send "192.0.2.$((2 - NODE)):$1" --size "${2:-4K}" --connect-timeout 90 2>&1) ||
        fail "signalling the peer on port $1 failed: $out"
    log "signalled the peer (port $1)"
}
dp_await() {
    out=$(timeout "$2" drbd-testdata net-recv --listen "0.0.0.0:$1" 2>&1) ||
        fail "no signal from the peer on port $1 within $2 s: $out"
    DP_BYTES=$(echo "$out" | sed -n 's/^NET recv \([0-9]*\) bytes.*/\1/p')
    log "the peer signalled (port $1, $DP_BYTES bytes)"
}
