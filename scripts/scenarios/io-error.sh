# Local I/O errors and forced detach, on one node without a peer. The backing device is a
# device-mapper target over /dev/vda (linear while healthy, `error` to fail every data I/O);
# the meta-data is flexible external on /dev/vdb, which never fails. For each on-io-error
# policy: attach, Primary --force, writes that work, then the data device fails:
#  - detach (the default): the failed write reports EIO, the disk goes Failed and then
#    Diskless, later reads and writes fail with EIO at once;
#  - call-local-io-error: as detach, after the local-io-error handler is called;
#  - pass_on: the write reports EIO, the disk stays attached but Inconsistent; once the device
#    works again writes succeed.
# Then a forced detach while a write hangs in a suspended dm device: `detach --force` returns
# at once with the disk Failed, and the disk goes Diskless when the I/O drained (resume). (With
# the C module no write is left stuck: its forced detach can then crash, see below.)
# No oops, no hang. The meta-data flags left behind are printed (drbdmeta get-gi).
# guests: 1
# disks: 64M 16M
# timeout: 300
DATA=/dev/mapper/ioerr
SECTORS=$(( $(cat /sys/block/vda/size) ))
export DM_DISABLE_UDEV=1

dm_table() { # dm_table linear|error [suspend-flags]
    case $1 in
        linear) t="0 $SECTORS linear /dev/vda 0" ;;
        error) t="0 $SECTORS error" ;;
    esac
    run dmsetup load ioerr --table "$t"
    run dmsetup resume ioerr
}

# try_io read|write BLOCK: a direct 4 KiB read or write of /dev/drbd0 at block BLOCK.
try_io() { # try_io read|write BLOCK
    if [ "$1" = write ]; then
        dd if=/dev/urandom of=/dev/drbd0 bs=4096 seek="$2" count=1 oflag=direct conv=notrunc 2>&1
    else
        dd if=/dev/drbd0 of=/dev/null bs=4096 skip="$2" count=1 iflag=direct 2>&1
    fi
}

# must_fail_eio read|write BLOCK
must_fail_eio() {
    if out=$(try_io "$1" "$2"); then
        fail "$1 at block $2 succeeded, should fail with EIO: $out"
    fi
    echo "$out" | grep -q 'Input/output error' || fail "$1 at block $2: not EIO: $out"
    log "$1 at block $2 failed with EIO, as it should"
}
must_work() {
    out=$(try_io "$1" "$2") || fail "$1 at block $2 failed: $out"
}

# reattach: minor 0 again over the (working) data device, after replaying the activity log
# as drbdadm would (the C module leaves it to apply; drbd_rs detaches clean).
reattach() {
    run "$DRBDMETA" --force 0 v08 /dev/vdb flex-external apply-al
    drbdsetup new-resource r0
    drbdsetup new-minor r0 0 0
    drbdsetup attach 0 $DATA /dev/vdb flexible
    log "re-attached: $(proc_line 0)"
}

gi() { "$DRBDMETA" --force 0 v08 /dev/vdb flex-external get-gi 2>&1; }
dmesg_has() { dmesg | grep -qE "$1"; }

setup() { # setup POLICY
    run "$DRBDMETA" --force 0 v08 /dev/vdb flex-external create-md 1
    drbdsetup new-resource r0
    drbdsetup new-minor r0 0 0
    drbdsetup attach 0 $DATA /dev/vdb flexible --on-io-error="$1"
    drbdsetup primary 0 --force
    testdata write /dev/drbd0 --seed 1 --size 1M
    testdata verify /dev/drbd0 --seed 1 --size 1M
    proc_has 0 'ds:UpToDate' || fail "after primary: $(proc_line 0)"
}

teardown() {
    drbdsetup secondary 0
    drbdsetup detach 0
    drbdsetup down r0
    log "meta-data after: $(gi)"
}

load_drbd
run dmsetup create ioerr --table "0 $SECTORS linear /dev/vda 0"

for policy in detach call-local-io-error; do
    log "=== on-io-error $policy"
    dmesg -c > /dev/null
    setup $policy
    log "meta-data before: $(gi)"
    dm_table error
    must_fail_eio write 10
    wait_for 20 "disk Diskless after the I/O error" proc_has 0 'ds:Diskless'
    dmesg | grep -E 'drbd|helper' | tail -20
    dmesg_has 'Local IO failed in .*Detaching' || fail "no 'Local IO failed ... Detaching' logged"
    if [ $policy = call-local-io-error ]; then
        dmesg_has 'helper command: .* local-io-error' || fail "no local-io-error helper logged"
    fi
    # Diskless without a peer: everything fails at once, the device does not touch vda.
    dm_table linear
    must_fail_eio write 11
    must_fail_eio read 0
    proc_has 0 'ro:Primary' || fail "not Primary any more: $(proc_line 0)"
    teardown
    # Re-attached over a working device, the disk is what the meta-data said before the error
    # (the failed disk's flags are not changed).
    reattach
    proc_has 0 'ds:UpToDate' || fail "re-attached disk not UpToDate: $(proc_line 0)"
    drbdsetup down r0
done

log "=== on-io-error pass_on"
dmesg -c > /dev/null
setup pass_on
dm_table error
must_fail_eio write 10
must_fail_eio read 1
sleep 1
log "$(proc_line 0)"
dmesg | grep -E 'drbd' | tail -20
proc_has 0 'ds:Inconsistent' || fail "pass_on: disk not Inconsistent: $(proc_line 0)"
# An Inconsistent disk without a peer takes no writes (`may_do_writes`), even once the
# device works again; the meta-data no longer says Consistent.
dm_table linear
must_fail_eio write 12
teardown
# get-gi: current:bitmap:history1:history2:consistent:was-up-to-date:...
[ "$(gi | tail -1 | cut -d: -f5,6)" = 0:0 ] ||
    fail "pass_on: meta-data flags still Consistent/WasUpToDate: $(gi)"
# Re-attached, the disk is Inconsistent.
reattach
proc_has 0 'ds:Inconsistent' || fail "pass_on: re-attached disk not Inconsistent: $(proc_line 0)"
drbdsetup down r0

log "=== forced detach with I/O stuck in the backing device"
dmesg -c > /dev/null
setup detach
run dmsetup suspend ioerr
# The C module's forced detach completes the application's stuck request at once
# (`tl_abort_disk_io`) while dm still holds DRBD's clone of its bio, which shares the
# application's bio_vecs: on resume dm submits it and reads freed memory (an oops in
# blk_mq_submit_bio from dm_wq_work, seen in 1 of 3 runs). So only drbd_rs, which waits for
# the I/O instead, gets a write stuck in the device here.
ddpid=
if [ "$DRBD_MODULE" != drbd ]; then
    dd if=/dev/urandom of=/dev/drbd0 bs=4096 seek=20 count=1 oflag=direct > /tmp/dd.out 2>&1 &
    ddpid=$!
    sleep 1
fi
t0=$(cut -d' ' -f1 /proc/uptime)
run timeout 10 "$DRBDSETUP" detach 0 --force
t1=$(cut -d' ' -f1 /proc/uptime)
log "forced detach returned after $(echo "$t0 $t1" | awk '{ print $2 - $1 }') s: $(proc_line 0)"
proc_has 0 'ds:(Failed|Diskless)' || fail "after detach --force: $(proc_line 0)"
run dmsetup resume ioerr
wait_for 20 "disk Diskless after the I/O drained" proc_has 0 'ds:Diskless'
if [ -n "$ddpid" ]; then
    wait $ddpid
    log "the stuck write ended with $?: $(head -2 /tmp/dd.out)"
fi
must_fail_eio write 21
dmesg | grep -E 'drbd' | tail -20
teardown

run dmsetup remove ioerr
run rmmod "$DRBD_MODULE"
