# The generic-netlink control plane and /proc/drbd, driven by drbdsetup-84 (and drbd-nl-fuzz for
# requests drbdsetup never sends): resources and minors created, refused and removed, status in
# every format, events2, an unprivileged caller, malformed attributes, and rmmod after down.
# Every command's output and exit status goes to a transcript. With module=drbd (the C reference)
# the scenario checks the transcript's key facts; with module=drbd_rs it first records the same
# transcript with the C drbd in this guest, unloads it, records drbd_rs's, and the two must be
# identical (byte for byte, except the srcversion line of /proc/drbd).
# With disk=yes the transcript also attaches a disk (attach, disk-options, primary --force,
# detach); that part needs the device layer's activity log, bitmap and detach to match the C
# module, so it is off by default.
# guests: 1
# disks: 64M
# timeout: 400
T=/tmp/control-plane
mkdir -p $T
DISK=no
for kv in "$@"; do
    case "$kv" in disk=*) DISK=${kv#disk=} ;; esac
done
# The image's root directory is private to root; the unprivileged caller must reach the tools.
chmod 755 /

# rec CMD...: appends "$ CMD", its output (stdout and stderr) and its exit status to $OUT.
rec() {
    echo "\$ $*" >> "$OUT"
    "$@" >> "$OUT" 2>&1
    echo "[exit $?]" >> "$OUT"
}
# proc: /proc/drbd without the srcversion line (a build property, not behaviour).
proc() { grep -v '^srcversion: ' /proc/drbd; }

# transcript MODULE FILE: loads MODULE, runs the fixed command sequence, unloads MODULE.
transcript() {
    mod=$1 OUT=$2
    : > "$OUT"
    load_module "$mod"
    [ -e /proc/drbd ] || fail "/proc/drbd missing after loading $mod"
    log "transcript with $mod: $(head -1 /proc/drbd)"
    S=$DRBDSETUP

    # A listener for the whole run; it has joined the group once it printed the initial state.
    "$S" events2 all > $T/events.$mod 2>&1 &
    evpid=$!
    wait_for 20 "events2 listening" grep -q '^exists -' $T/events.$mod

    rec proc
    rec "$S" status
    rec "$S" new-resource r0
    rec "$S" new-resource r0
    rec "$S" new-minor r0 0 0
    rec "$S" new-minor r0 0 0
    rec "$S" new-resource r1
    rec "$S" new-minor r1 0 0
    rec "$S" new-minor r1 1 0
    rec "$S" new-minor r1 2 0
    rec "$S" new-minor r0 3 1
    rec "$S" new-minor nope 4 0
    rec "$S" new-resource bad/name
    rec proc
    rec "$S" status
    rec "$S" status r0 --verbose --statistics
    rec "$S" status nope
    rec "$S" show
    rec "$S" show r1
    rec "$S" events2 --now
    rec "$S" events2 --now r0 --statistics
    rec "$S" role 0
    rec "$S" cstate 0
    rec "$S" dstate 0
    rec "$S" role 9
    rec "$S" sh-status 0
    rec "$S" resource-options r1 --on-no-data-accessible=suspend-io
    rec "$S" resource-options r1 --cpu-mask=zz
    rec "$S" show r1
    rec "$S" primary 0
    rec "$S" primary 0 --force
    rec "$S" secondary 0
    rec "$S" detach 0
    rec "$S" detach 0 --force
    rec "$S" new-current-uuid 0
    rec "$S" disk-options 0 --resync-rate=100M
    rec "$S" attach 0 /dev/nonexistent /dev/nonexistent internal
    rec "$S" del-minor 9

    # An unprivileged caller: refused, and nothing changes. Reading is allowed.
    rec drbd-nl-fuzz as-uid 1000 "$S" new-resource evil
    rec drbd-nl-fuzz as-uid 1000 "$S" new-minor r0 7 2
    rec drbd-nl-fuzz as-uid 1000 "$S" down r0
    rec drbd-nl-fuzz as-uid 1000 "$S" status
    rec "$S" status

    # Requests drbdsetup never sends.
    rec drbd-nl-fuzz probe
    # Every network time-out at u32::MAX: accepted, no overflow, and disconnect still prompt.
    rec drbd-nl-fuzz limits

    # A disk: attach, options, roles, detach. Fresh meta-data for each module (the C module
    # leaves it marked in use after detach).
    if [ "$DISK" = yes ]; then
        "$DRBDMETA" --force 5 v08 /dev/vda internal create-md 1 > /dev/null 2>&1 || fail "create-md"
        rec "$S" new-resource r5
        rec "$S" new-minor r5 5 0
        rec "$S" attach 5 /dev/vda /dev/vda internal
        rec "$S" attach 5 /dev/vda /dev/vda internal
        rec proc
        rec "$S" status r5 --verbose --statistics
        rec "$S" show r5
        rec "$S" dstate 5
        rec "$S" disk-options 5 --resync-rate=100M --al-extents=3001
        rec "$S" disk-options 5 --resync-after=5
        rec "$S" show r5
        rec "$S" primary 5
        rec "$S" primary 5 --force
        rec "$S" role 5
        rec "$S" del-minor 5
        rec proc
        rec "$S" secondary 5
        rec "$S" detach 5
        rec "$S" dstate 5
        rec "$S" down r5
    fi

    rec "$S" del-resource r1
    rec "$S" del-minor 1
    rec "$S" del-resource r1
    rec "$S" del-resource r1
    rec "$S" del-minor 0
    rec "$S" del-minor 0
    rec "$S" down r0
    rec "$S" down r0
    rec "$S" status
    rec proc
    rec "$S" events2 --now
    # Left configured for rmmod to clean up.
    rec "$S" new-resource leftover
    rec "$S" new-minor leftover 7 0

    # Let the listener see the last broadcasts, then stop it.
    sleep 1
    kill $evpid
    wait $evpid 2>/dev/null
    echo "--- events2 (listener)" >> "$OUT"
    cat $T/events.$mod >> "$OUT"
    run rmmod "$mod"
    grep -q "^$mod " /proc/modules && fail "$mod still loaded after rmmod"
    log "transcript with $mod: $(wc -l < "$OUT") lines"
}

# must FILE TEXT: the transcript contains TEXT (a fixed string).
must() { grep -qF -- "$2" "$1" || fail "transcript $1 lacks: $2"; }

if [ "$DRBD_MODULE" = drbd_rs ]; then
    transcript drbd $T/drbd.txt
    transcript drbd_rs $T/drbd_rs.txt
    echo "=== TRANSCRIPT drbd_rs ==="
    cat $T/drbd_rs.txt
    echo "=== END TRANSCRIPT ==="
    if ! diff -u $T/drbd.txt $T/drbd_rs.txt > $T/diff; then
        echo "=== DIFF C drbd -> drbd_rs ==="
        cat $T/diff
        echo "=== END DIFF ==="
        fail "drbd_rs's transcript differs from the C drbd's"
    fi
    log "transcripts of drbd and drbd_rs are identical ($(wc -l < $T/drbd.txt) lines)"
    R=$T/drbd_rs.txt

    # Side by side: the C drbd keeps family "drbd", major 147 and /proc/drbd; drbd_rs takes
    # family "drbd_rs", a dynamic major and /proc/drbd_rs.
    load_module drbd
    run insmod /lib/modules/drbd_rs.ko side_by_side=1
    [ -e /proc/drbd ] && [ -e /proc/drbd_rs ] || fail "side by side: /proc/drbd or /proc/drbd_rs missing"
    major=$(sed -n 's/^ *\([0-9]*\) drbd_rs$/\1/p' /proc/devices)
    [ -n "$major" ] && [ "$major" != 147 ] || fail "side by side: drbd_rs major is '$major'"
    log "side by side: drbd_rs has block major $major"
    # The same minor on both modules: the probe's new-minor 90 on drbd_rs must succeed (as
    # /dev/drbd_rs90) while the C drbd's /dev/drbd90 exists; a clash of names would fail it and
    # log a sysfs warning, which fails the run too.
    run "$DRBDSETUP" new-resource sbs
    run "$DRBDSETUP" new-minor sbs 90 0
    drbd-nl-fuzz --family drbd_rs probe > $T/side-by-side.txt 2>&1 || fail "side by side: probe of drbd_rs failed"
    grep -A1 '^== new-minor$' $T/side-by-side.txt | grep -q 'ret=101' || fail "side by side: new-minor on drbd_rs failed"
    [ -b /dev/drbd90 ] || fail "side by side: the C drbd's /dev/drbd90 is gone"
    run "$DRBDSETUP" down sbs
    head -1 /proc/drbd_rs
    run "$DRBDSETUP" status
    run rmmod drbd_rs
    run rmmod drbd
else
    transcript "$DRBD_MODULE" $T/ref.txt
    echo "=== TRANSCRIPT $DRBD_MODULE ==="
    cat $T/ref.txt
    echo "=== END TRANSCRIPT ==="
    R=$T/ref.txt
fi

# The facts the reference establishes (and drbd_rs, being identical, too).
must $R '??: Failure: (161) Minor or volume exists already (delete it first)'
must $R 'minor exists in different resource'
must $R '??: Failure: (158) Unknown resource'
must $R 'bad/name: Failure: (162) Invalid configuration request'
must $R '9: Failure: (127) Device minor not allocated'
must $R '0: State change failed: (-2) Need access to UpToDate data'
must $R 'r1: Failure: (159) Resource still in use (delete all minors first)'
must $R 'evil: Operation not permitted'
must $R 'exists peer-device name:r0 peer-node-id:0 volume:1 replication:Off peer-disk:DUnknown'
must $R 'destroy resource name:r0'
# Nothing the unprivileged caller asked for happened.
grep -q 'evil' $T/events.* && fail "the unprivileged new-resource created something"
log "control plane checks passed"
