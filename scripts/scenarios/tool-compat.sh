# drbdsetup-rs is a drop-in for Debian's drbdsetup-84: both tools run the same transcript of
# valid and invalid commands against a fresh module, every command's stdout, stderr and exit
# code is recorded, and the two transcripts must be identical.
#   tools=A+B   the tools to compare (default drbdsetup-84+drbdsetup-rs; the same tool twice
#               shows what varies between runs)
#   dump=1      also print the transcripts, step by step
# Two resources in one guest replicate to each other over 127.0.0.1, as in replicate-loopback.
# guests: 1
# disks: 64M 64M
# timeout: 600
TOOLS="drbdsetup-84 drbdsetup-rs" DUMP=0
for kv in "$@"; do
    case "$kv" in
        tools=*) TOOLS=$(echo "${kv#tools=}" | tr '+' ' ') ;;
        dump=*) DUMP=${kv#dump=} ;;
    esac
done

A=ipv4:127.0.0.1:7789 B=ipv4:127.0.0.1:7790

# Nothing is normalised: the transcript only looks at states that have settled (an unrecorded
# poll of /proc/drbd precedes every step that follows a state change on the network), and the
# counters of the full syncs (read, written, sent, received, al-writes, bm-writes) came out the
# same in every run of drbdsetup-84 against itself, also with three guests sharing two CPUs.

# Appends a file to the step's record, marking a missing final newline.
append() {
    [ -s "$1" ] || return 0
    cat "$1" >> /tmp/step.txt
    if [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' \n')" != "0a" ]; then
        printf '\n\\ no newline at end\n' >> /tmp/step.txt
    fi
}

# record NAME PROGRAM ARGS...: runs the command and records "$ NAME ARGS", its stdout, its
# stderr and its exit code.
record() {
    name=$1 prog=$2; shift 2
    echo "\$ $name $*" > /tmp/step.txt
    timeout "$STEP_TIMEOUT" "$prog" "$@" > /tmp/step.out 2> /tmp/step.err
    rc=$?
    append /tmp/step.out
    if [ -s /tmp/step.err ]; then
        echo "--- stderr" >> /tmp/step.txt
        append /tmp/step.err
    fi
    echo "--- exit $rc" >> /tmp/step.txt
    cat /tmp/step.txt >> "$T"
    [ "$DUMP" != 1 ] || sed "s/^/$tool| /" /tmp/step.txt
}

# The tool under test, called "drbdsetup" for both so that usage texts name the same program.
STEP_TIMEOUT=120
step() { record drbdsetup "$BIN" "$@"; }
# listen SECONDS ARGS...: a command that runs until it is stopped, stopped by SIGTERM.
listen() { STEP_TIMEOUT=$1; shift; step "$@"; STEP_TIMEOUT=120; }
meta() { record drbdmeta "$DRBDMETA" "$@"; }

wait_clean() {
    wait_for 60 "minor $1 without sync pause flags" proc_has "$1" 'cs:Connected .*ds:UpToDate/UpToDate C r-----'
}

run_transcript() {
    tool=$1
    T=/tmp/transcript-$2-$tool.txt
    : > "$T"
    mkdir -p "/tmp/bin-$tool"
    case "$tool" in
        drbdsetup-84) ln -sf /lib/drbd/drbdsetup-84 "/tmp/bin-$tool/drbdsetup" ;;
        *) ln -sf "$(command -v "$tool")" "/tmp/bin-$tool/drbdsetup" ;;
    esac
    BIN=/tmp/bin-$tool/drbdsetup
    log "=== transcript with $tool"
    # Fresh disks: no meta data from the previous run.
    run dd if=/dev/zero of=/dev/vda bs=1M count=64 2>/dev/null
    run dd if=/dev/zero of=/dev/vdb bs=1M count=64 2>/dev/null

    # Without the module.
    step status
    step role 0
    load_drbd

    # Usage and argument errors.
    step
    step help attach
    step xml-help primary
    step no-such-command
    step primary
    step new-minor r0
    step primary all
    step primary r0
    step status r0 extra
    step status --color=sometimes
    step status -v
    step status --verb
    step role 0 '-('
    step --help
    step help no-such-command
    step attach --help
    step xml-help connect
    step new-resource ""

    # Objects, and the errors of creating them twice.
    step status
    step events2 --now
    step new-resource r0
    step new-resource r0
    step new-minor r0 0 0
    step new-minor r0 0 0
    step new-resource r1 --on-no-data-accessible=suspend-io
    step new-minor r1 0 1
    step new-minor r1 1 0
    step new-minor r9 5 0
    step role 0
    step cstate 0
    step dstate 0
    step role 7
    step 7 role
    step show-gi 0
    step status
    step status --verbose
    step show
    step sh-status r0
    step sh-status
    step events2 --now

    # Attaching: missing device, no meta data, bad options, then for real.
    step attach 0 /dev/nonexistent /dev/nonexistent internal
    step attach 0 /dev/vda /dev/vda internal
    meta --force 0 v08 /dev/vda internal create-md 1
    meta --force 1 v08 /dev/vdb internal create-md 1
    step attach 0 /dev/vda /dev/vda internal --no-such-option
    step attach 0 /dev/vda /dev/vda internal --disk
    step attach 0 /dev/vda /dev/vda internal --on-io-error=foo
    step attach 0 /dev/vda /dev/vda internal --resync-rate=12x
    step attach 0 /dev/vda /dev/vda internal --resync-rate=99999999999999999999G
    step attach 0 /dev/vda /dev/vda
    step attach 0 /dev/vda /dev/vda internal extra
    step attach 0 /dev/vda /dev/vda internal --resync-rate=10M --c-plan-ahead=0 --on-io-error=detach --disk-barrier=no
    step attach 0 /dev/vda /dev/vda internal
    step attach 1 /dev/vdb /dev/vdb internal --fencing=resource-only
    # A second attach finds the disk attached (ERR_DISK_CONFIGURED), its fencing policy kept
    # (show lists it).
    step attach 1 /dev/vdb /dev/vdb internal
    step show-gi 0
    step get-gi 1
    step role 0
    step cstate 0
    step dstate 1
    step status
    step status r0 --verbose
    step status --verbose --statistics --color=never
    step status --color=always
    step events2 --now
    step events2 r1 --now --statistics
    step show
    step show r1 --show-defaults
    step show 0
    step sh-status 1
    step state 0
    step check-resize 0
    step resize 0 --size=1G
    step verify 0
    step outdate 0
    step suspend-io 0
    step status r0
    step resume-io 0
    step resume-io 0
    step wait-sync 0 --wfc-timeout=x
    step wait-sync 0 --wfc-timeout=999999
    step primary 0 --force=maybe

    # Options of existing objects; a value outside drbdsetup's advertised range goes to the
    # kernel unchecked.
    step primary 0
    step disk-options 0 --al-extents=1
    step disk-options 1 --set-defaults --resync-rate=20M
    step disk-options 1 --on-io-error=call-local-io-error --disk-timeout=600
    step resource-options r0 --cpu-mask=1
    step resource-options r9 --cpu-mask=1
    step show r0
    step show 1

    # Connecting.
    step connect r0 ipv4:999.1.1.1:7789 $B
    step connect r0 $A
    step connect r0 $A $B --protocol=D
    step connect r0 $A $B --cram-hmac-alg=no-such-alg --shared-secret=secret
    step connect r0 $A $B --protocol=C --max-buffers=4000 --after-sb-0pri=disconnect
    step connect r0 $A $B --protocol=C
    step connect r1 $B $A --protocol=c
    wait_for 60 "minor 0 connected" proc_has 0 'cs:Connected'
    wait_for 60 "minor 1 connected" proc_has 1 'cs:Connected'
    step wait-connect 0
    step wait-connect 1 --wfc-timeout=10
    step status
    step status --verbose --statistics
    step events2 --now
    step net-options $A $B --max-epoch-size=1000
    step net-options $A 127.0.0.1:7799 --max-epoch-size=1000
    step show r0

    # Full sync after primary --force.
    step primary 1
    step primary 0 --force
    wait_synced 0 180
    wait_synced 1 60
    step wait-sync 0
    step wait-sync 1
    step status --verbose --statistics
    step events2 --now --statistics
    step role 0
    step role 1
    step cstate 1
    step dstate 0
    step sh-status 0
    step primary 1
    step new-minor r0 2 1
    # events2 without --now keeps listening after the initial state: stopped by SIGTERM.
    listen 3 events2 r1

    # Sync pause, invalidate-remote, new-current-uuid.
    step pause-sync 0
    step pause-sync 0
    step status r0 --verbose
    step resume-sync 0
    step resume-sync 0
    wait_clean 1
    step invalidate-remote 0
    wait_synced 0 180
    wait_synced 1 60
    wait_clean 0
    wait_clean 1
    step wait-sync 1
    step status --verbose
    step new-current-uuid 1

    # Tearing down.
    step secondary 0
    step secondary 0
    step disconnect $A $B
    step disconnect $A $B
    step disconnect 127.0.0.1:7700 127.0.0.1:7701
    wait_for 60 "minor 1 waiting for its peer" proc_has 1 'cs:WFConnection'
    step status r1 --verbose
    step events2 r1 --now
    step wait-connect 1 --wfc-timeout=1 --degr-wfc-timeout=1 --outdated-wfc-timeout=1
    step invalidate 0
    step new-minor r0 2 1
    step status r0 --verbose
    step show r0
    step events2 r0 --now
    step detach 0
    step detach 0
    step del-resource r0
    step del-minor 0
    step del-minor 2
    step del-minor 0
    step del-resource r0
    step status r0
    step down r1
    step down r1
    step down r0
    step status
    step events2 --now
    run rmmod "$DRBD_MODULE"
}

n=0
for t in $TOOLS; do
    n=$((n + 1))
    run_transcript "$t" $n
done

set -- $TOOLS
first=/tmp/transcript-1-$1.txt second=/tmp/transcript-2-$2.txt
log "transcripts: $(wc -l < "$first") lines ($1), $(wc -l < "$second") lines ($2)"
if ! diff -u "$first" "$second" > /tmp/transcript.diff; then
    cat /tmp/transcript.diff
    fail "the transcripts of $1 and $2 differ"
fi
log "transcripts of $1 and $2 are identical"
