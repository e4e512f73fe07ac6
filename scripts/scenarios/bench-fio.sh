# Benchmark, not a test (scripts/bench.sh runs it; `make check` does not): needs an image built
# with WITH_FIO=1. Two guests; node0 measures, node1 is the peer. In one run, each measurement
# repeated rounds= times (default 3; bench.sh prints min/median/max):
#   1. TCP throughput of the guest link (drbd-testdata net-send to node1's net-recv)
#   2. fio on the raw backing device /dev/vda
#   3. with the C DRBD, then (drbd down, module unloaded) the same with drbd_rs, protocol C:
#      the first full sync; fio on /dev/drbd0 after it; full syncs again (invalidate-remote) at
#      the default resync controller and at a fixed --resync-rate=20M; online verify (sha1) of
#      the whole device; a bitmap resync after 4 MiB of scattered 4 KiB writes made while
#      disconnected (its time, and the KiB sent over the KiB out of sync); a module whose pair
#      does not connect and sync in time gets "n/a".
#   4. with each module, after those: both nodes Primary (allow-two-primaries, set by
#      net-options on node0 and taken over by node1), each running 4 KiB random writes at
#      iodepth 32 at the same time on its own half of the device (two VMs' LVs of an SR);
#      each node prints its own figures ("dp-rand4k-qd32-n0", "-n1").
# fio workloads (libaio, direct=1, time based: runtime= seconds each, default 5, after 1 s of
# ramp): 1 MiB sequential writes at iodepth 1 and 4, 4 KiB random writes at iodepth 1 and 32,
# 4 KiB random reads at iodepth 32, 70/30 random read/write 4 KiB at iodepth 16.
# node0 prints "BENCH <target> <job> <MB/s> <IOPS>" for fio and the link (MB = 10^6 bytes),
# "BENCH <target> <job> <seconds> -" for syncs and verify, and
# "BENCH <target> resync-moved <KiB sent / KiB out of sync> -", one line per round.
# guests: 2
# disks: 64M
# timeout: 1800
RUNTIME=5 ROUNDS=3
for kv in "$@"; do
    case "$kv" in runtime=*) RUNTIME=${kv#runtime=} ;; rounds=*) ROUNDS=${kv#rounds=} ;; esac
done
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))
WORKLOADS="seq1m-qd1 seq1m-qd4 rand4k-qd1 rand4k-qd32 randread4k-qd32 mix70-4k-qd16"
rounds() { seq 1 "$ROUNDS"; }

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
        seq1m-qd1) spec="--rw=write --bs=1M --iodepth=1" ;;
        seq1m-qd4) spec="--rw=write --bs=1M --iodepth=4" ;;
        rand4k-qd1) spec="--rw=randwrite --bs=4k --iodepth=1" ;;
        rand4k-qd32) spec="--rw=randwrite --bs=4k --iodepth=32" ;;
        randread4k-qd32) spec="--rw=randread --bs=4k --iodepth=32" ;;
        mix70-4k-qd16) spec="--rw=randrw --rwmixread=70 --bs=4k --iodepth=16" ;;
        dp-rand4k-qd32-n*) spec="--rw=randwrite --bs=4k --iodepth=32 --size=28M --offset=$((NODE * 32))M" ;;
    esac
    # shellcheck disable=SC2086
    out=$(fio --name="$2" --filename="$3" $spec --ioengine=libaio --direct=1 --time_based \
              --runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 --norandommap \
              --output-format=terse --terse-version=3 2>&1)
    # terse v3: field 5 = error, 7/8 = read KiB/s and IOPS, 48/49 = write KiB/s and IOPS; a
    # mixed job counts both directions.
    line=$(echo "$out" | awk -F';' '$1 == 3 && $5 == 0 { printf "%.1f %d", ($7 + $48) * 1024 / 1e6, $8 + $49 }')
    if [ -z "$line" ]; then
        log "fio $2 on $3 failed: $(echo "$out" | tail -3)"
        line="n/a n/a"
    fi
    echo "BENCH $1 $2 $line"
}

# now_cs: the guest's uptime in centiseconds.
now_cs() { read -r up _ < /proc/uptime; echo "${up%.*}${up#*.}"; }

# time_until SECONDS PATTERN: polls /proc/drbd minor 0 every 0.1 s until it matches PATTERN;
# sets T to the seconds it took (two decimals) and SEEN to the connection states passed on the
# way; T=n/a and status 1 after SECONDS.
time_until() {
    t0=$(now_cs) SEEN=
    while ! proc_has 0 "$2"; do
        cs=$(proc_line 0 | sed -n 's/.* cs:\([A-Za-z]*\).*/\1/p')
        case "$SEEN" in *" $cs") ;; *) SEEN="$SEEN $cs" ;; esac
        if [ $(($(now_cs) - t0)) -gt $(($1 * 100)) ]; then T=n/a; return 1; fi
        sleep 0.1
    done
    t=$(($(now_cs) - t0))
    T=$(printf '%d.%02d' $((t / 100)) $((t % 100)))
}

SYNCED='cs:Connected .*ds:UpToDate/UpToDate'

# full_sync MODULE JOB: one full sync as SyncSource (invalidate-remote), timed; n/a unless it
# sent (nearly: internal meta-data takes the end of the disk) the whole 64 MiB.
full_sync() {
    ns0=$(proc_counter 0 ns)
    step "$DRBDSETUP" invalidate-remote 0 || { echo "BENCH $1 $2 n/a -"; return; }
    time_until 300 "$SYNCED"
    moved=$(($(proc_counter 0 ns) - ns0))
    if [ "$moved" -lt 64000 ]; then log "$2: only $moved KiB sent (states:$SEEN)"; T=n/a; fi
    echo "BENCH $1 $2 $T -"
}

# verify_run MODULE: one online verify of the whole device, timed; n/a unless VerifyS was seen.
verify_run() {
    step "$DRBDSETUP" verify 0 || { echo "BENCH $1 verify n/a -"; return; }
    time_until 300 "$SYNCED"
    case "$SEEN" in *VerifyS*) ;; *) log "verify: never saw VerifyS (states:$SEEN)"; T=n/a ;; esac
    echo "BENCH $1 verify $T -"
}

# scattered_resync MODULE: disconnect, 1024 distinct random 4 KiB blocks written, reconnect;
# the bitmap resync timed from the connect, and the KiB sent over the KiB out of sync.
scattered_resync() {
    step "$DRBDSETUP" disconnect "ipv4:$me:$port" "ipv4:$peer:$port" || { echo "BENCH $1 resync-scattered n/a -"; return; }
    fio --name=scatter --filename=/dev/drbd0 --rw=randwrite --bs=4k --io_size=4M --iodepth=16 \
        --ioengine=libaio --direct=1 --randrepeat=0 > /dev/null 2>&1 || log "scatter: fio failed"
    oos=$(proc_counter 0 oos)
    # connect starts ns: (KiB sent) from 0 again, on both modules.
    step "$DRBDSETUP" connect r0 "ipv4:$me:$port" "ipv4:$peer:$port" --protocol=C --verify-alg=sha1 ||
        { echo "BENCH $1 resync-scattered n/a -"; return; }
    time_until 300 "$SYNCED"
    moved=$(proc_counter 0 ns)
    echo "BENCH $1 resync-scattered $T -"
    if [ "${oos:-0}" -gt 0 ]; then
        echo "BENCH $1 resync-moved $(awk -v m="$moved" -v o="$oos" 'BEGIN { printf "%.3f", m / o }') -"
    else
        log "scatter: nothing out of sync after the writes"; echo "BENCH $1 resync-moved n/a -"
    fi
}

# step COMMAND...: logs and runs it; on failure logs that and returns its status.
step() {
    log "+ $*"
    "$@" || { st=$?; log "failed ($st): $*"; return $st; }
}

# drbd_up MODULE PORT: load, fresh meta-data, attach, (node0) Primary with --force, connect
# (protocol C, verify-alg sha1 on both); 1 if any step fails. Forcing Primary before connecting makes the handshake start
# the full sync (forced while Connected, the C DRBD can miss it: see kill-secondary.sh).
drbd_up() {
    load_module "$1" || return 1
    step "$DRBDMETA" --force 0 v08 /dev/vda internal create-md 1 &&
        step "$DRBDSETUP" new-resource r0 && step "$DRBDSETUP" new-minor r0 0 0 &&
        step "$DRBDSETUP" attach 0 /dev/vda /dev/vda internal &&
        { [ "$NODE" = 1 ] || step "$DRBDSETUP" primary 0 --force; } &&
        step "$DRBDSETUP" connect r0 "ipv4:$me:$2" "ipv4:$peer:$2" --protocol=C --verify-alg=sha1
}

drbd_down() {
    "$DRBDSETUP" down r0 >/dev/null 2>&1
    rmmod "$1" 2>/dev/null || log "rmmod $1 failed"
}

port=7789
if [ "$NODE" = 1 ]; then
    for r in $(rounds); do drbd-testdata net-recv --listen 0.0.0.0:5001 || fail "net-recv"; done
    for mod in drbd drbd_rs; do
        log "phase $mod"
        if drbd_up $mod $port && try_wait 900 "$mod connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'; then
            # Two Primaries once node0 allowed them (after its own measurements, which
            # disconnect and reconnect on the way).
            if try_wait 1200 "allow-two-primaries from node0" sh -c "'$DRBDSETUP' show r0 | grep -q allow-two-primaries" &&
                step "$DRBDSETUP" primary 0; then
                for r in $(rounds); do fio_run $mod dp-rand4k-qd32-n1 /dev/drbd0; done
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

for r in $(rounds); do
    drbd-testdata net-send "$peer:5001" --size 64M | sed -n 's/^NET send [0-9]* bytes [0-9.]* s \([0-9.]*\) MB\/s$/BENCH net tcp \1 -/p'
done
for r in $(rounds); do for w in $WORKLOADS; do fio_run raw "$w" /dev/vda; done; done
for mod in drbd drbd_rs; do
    log "phase $mod"
    ok=0
    # node1 waits for this node already: 60 s to connect is plenty. The first full sync is timed
    # from the connect (it includes the handshake).
    if drbd_up $mod $port && time_until 240 "$SYNCED"; then
        ok=1
        echo "BENCH $mod full-sync-first $T -"
        log "$(proc_line 0)"
    fi
    if [ $ok = 1 ]; then
        for r in $(rounds); do for w in $WORKLOADS; do fio_run $mod "$w" /dev/drbd0; done; done
        for r in $(rounds); do full_sync $mod full-sync; done
        step "$DRBDSETUP" disk-options 0 --c-plan-ahead=0 --resync-rate=20M
        for r in $(rounds); do full_sync $mod full-sync-20M; done
        step "$DRBDSETUP" disk-options 0 --c-plan-ahead=20 --resync-rate=250k
        for r in $(rounds); do verify_run $mod; done
        for r in $(rounds); do scattered_resync $mod; done
        proc_has 0 "$SYNCED" || ok=0
    fi
    # Both Primaries at once, each on its own half.
    dp=0
    if [ $ok = 1 ] && step "$DRBDSETUP" net-options "ipv4:$me:$port" "ipv4:$peer:$port" --allow-two-primaries &&
        try_wait 60 "node1 Primary too" proc_has 0 'ro:Primary/Primary'; then
        dp=1
        for r in $(rounds); do fio_run $mod dp-rand4k-qd32-n0 /dev/drbd0; done
        try_wait 120 "node1 done (Secondary)" proc_has 0 'ro:Primary/Secondary'
    fi
    [ $dp = 1 ] || echo "BENCH $mod dp-rand4k-qd32-n0 n/a n/a"
    [ $ok = 0 ] || show_status r0
    drbd_down $mod
    port=$((port + 1))
done
