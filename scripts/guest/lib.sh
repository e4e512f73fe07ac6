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
