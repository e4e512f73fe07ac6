# Benchmark, not a test (scripts/bench.sh runs it; `make check` does not): needs an image built
# with WITH_FIO=1. Two guests; node0 measures, node1 is the peer. In one run:
#   1. TCP throughput of the guest link (drbd-testdata net-send to node1's net-recv)
#   2. fio on the raw backing device /dev/vda
#   3. fio on /dev/drbd0, protocol C, after the initial full sync, with the C DRBD, then
#      (drbd down, module unloaded) the same with drbd_rs; a module whose pair does not connect
#      and sync in time gets "n/a".
#   4. with each module, after those: both nodes Primary (allow-two-primaries, set by
#      net-options on node0 and taken over by node1), each running 4 KiB random writes at
#      iodepth 32 at the same time on its own half of the device (two VMs' LVs of an SR);
#      each node prints its own figure ("dp-rand4k-qd32-n0", "-n1").
# Workloads (libaio, direct=1, time based: runtime= seconds each, default 6, after 1 s of ramp):
# 1 MiB sequential writes at iodepth 4, 4 KiB random writes at iodepth 1 and 32.
# node0 prints "BENCH <target> <workload> <MB/s> <IOPS>" (MB = 10^6 bytes) for the host.
# guests: 2
# disks: 64M
# timeout: 900
RUNTIME=6
for kv in "$@"; do case "$kv" in runtime=*) RUNTIME=${kv#runtime=} ;; esac; done
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))
WORKLOADS="seq1m-qd4 rand4k-qd1 rand4k-qd32"

# try_wait SECONDS DESCRIPTION COMMAND...: like wait_for, but returns 1 instead of failing.
try_wait() {
    secs=$1 what=$2; shift 2
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt $((secs * 5)) ]; then log "gave up after ${secs}s waiting for $what"; return 1; fi
        sleep 0.2
    done
    log "reached: $what"
}

# fio_run TARGET WORKLOAD DEV: one fio job, printed as a BENCH line ("n/a" if fio fails).
fio_run() {
    case "$2" in
        seq1m-qd4) spec="--rw=write --bs=1M --iodepth=4" ;;
        rand4k-qd1) spec="--rw=randwrite --bs=4k --iodepth=1" ;;
        rand4k-qd32) spec="--rw=randwrite --bs=4k --iodepth=32" ;;
    esac
    case "$2" in
        dp-rand4k-qd32-n*) spec="--rw=randwrite --bs=4k --iodepth=32 --size=28M --offset=$((NODE * 32))M" ;;
    esac
    # shellcheck disable=SC2086
    out=$(fio --name="$2" --filename="$3" $spec --ioengine=libaio --direct=1 --time_based \
              --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 --norandommap \
              --output-format=terse --terse-version=3 2>&1)
    # terse v3: field 5 = error, 48 = write bandwidth in KiB/s, 49 = write IOPS.
    line=$(echo "$out" | awk -F';' '$1 == 3 && $5 == 0 { printf "%.1f %d", $48 * 1024 / 1e6, $49 }')
    if [ -z "$line" ]; then
        log "fio $2 on $3 failed: $(echo "$out" | tail -3)"
        line="n/a n/a"
    fi
    echo "BENCH $1 $2 $line"
}

# step COMMAND...: logs and runs it; on failure logs that and returns its status.
step() {
    log "+ $*"
    "$@" || { st=$?; log "failed ($st): $*"; return $st; }
}

# drbd_up MODULE PORT: load, fresh meta-data, attach, (node0) Primary with --force, connect
# (protocol C); 1 if any step fails. Forcing Primary before connecting makes the handshake start
# the full sync (forced while Connected, the C DRBD can miss it: see kill-secondary.sh).
drbd_up() {
    load_module "$1" || return 1
    step "$DRBDMETA" --force 0 v08 /dev/vda internal create-md 1 &&
        step "$DRBDSETUP" new-resource r0 && step "$DRBDSETUP" new-minor r0 0 0 &&
        step "$DRBDSETUP" attach 0 /dev/vda /dev/vda internal &&
        { [ "$NODE" = 1 ] || step "$DRBDSETUP" primary 0 --force; } &&
        step "$DRBDSETUP" connect r0 "ipv4:$me:$2" "ipv4:$peer:$2" --protocol=C
}

drbd_down() {
    "$DRBDSETUP" down r0 >/dev/null 2>&1
    rmmod "$1" 2>/dev/null || log "rmmod $1 failed"
}

port=7789
if [ "$NODE" = 1 ]; then
    drbd-testdata net-recv --listen 0.0.0.0:5001 || fail "net-recv"
    for mod in drbd drbd_rs; do
        log "phase $mod"
        if drbd_up $mod $port && try_wait 240 "$mod connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'; then
            # Two Primaries once node0 allowed them (after its own measurements).
            if try_wait 600 "allow-two-primaries from node0" sh -c "'$DRBDSETUP' show r0 | grep -q allow-two-primaries" &&
                step "$DRBDSETUP" primary 0; then
                fio_run $mod dp-rand4k-qd32-n1 /dev/drbd0
                step "$DRBDSETUP" secondary 0
            fi
            # node0 takes the resource down when it is done: the connection ends.
            try_wait 600 "node0 done with $mod" sh -c "! grep -qE '^ *0: cs:(Connected|SyncSource|SyncTarget)' /proc/drbd"
        fi
        drbd_down $mod
        port=$((port + 1))
    done
    exit 0
fi

drbd-testdata net-send "$peer:5001" --size 64M | sed -n 's/^NET send [0-9]* bytes [0-9.]* s \([0-9.]*\) MB\/s$/BENCH net tcp \1 -/p'
for w in $WORKLOADS; do fio_run raw "$w" /dev/vda; done
for mod in drbd drbd_rs; do
    log "phase $mod"
    ok=0
    # node1 waits for this node already: 60 s to connect is plenty.
    if drbd_up $mod $port && try_wait 60 "$mod connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)' &&
        try_wait 180 "$mod synced" proc_has 0 'cs:Connected .*ds:UpToDate/UpToDate'; then
        ok=1
        log "$(proc_line 0)"
    fi
    for w in $WORKLOADS; do
        if [ $ok = 1 ]; then fio_run $mod "$w" /dev/drbd0; else echo "BENCH $mod $w n/a n/a"; fi
    done
    # Both Primaries at once, each on its own half.
    dp=0
    if [ $ok = 1 ] && step "$DRBDSETUP" net-options "ipv4:$me:$port" "ipv4:$peer:$port" --allow-two-primaries &&
        try_wait 60 "node1 Primary too" proc_has 0 'ro:Primary/Primary'; then
        dp=1
        fio_run $mod dp-rand4k-qd32-n0 /dev/drbd0
        try_wait 60 "node1 done (Secondary)" proc_has 0 'ro:Primary/Secondary'
    fi
    [ $dp = 1 ] || echo "BENCH $mod dp-rand4k-qd32-n0 n/a n/a"
    [ $ok = 0 ] || show_status r0
    drbd_down $mod
    port=$((port + 1))
done
