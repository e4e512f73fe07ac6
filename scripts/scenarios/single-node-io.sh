# One node, no peer: the block-device half of DRBD. Fresh internal meta-data, attach, a refused
# and then a forced promotion, patterned writes through /dev/drbd0 that must land on the same
# sectors of the backing device, demote, detach, re-attach (the data is UpToDate now, so no
# --force), read back, detach, down, unload. Also: attaching a disk without meta-data, a missing
# device and a disk in use by another minor are refused with DRBD's messages, a StandAlone
# Primary refuses to detach, and a Secondary refuses opens.
# The host compares the checksums of /dev/drbd0 and of the backing device's data area.
# guests: 1
# disks: 64M 64M
# timeout: 240
SIZE=16M SEED=4711

# expect_fail PATTERN CMD...: CMD must fail and print something matching PATTERN.
expect_fail() {
    pat=$1; shift
    log "+ (must fail) $*"
    if out=$("$@" 2>&1); then
        echo "$out"
        fail "succeeded, but should not: $*"
    fi
    echo "$out"
    echo "$out" | grep -qE "$pat" || fail "expected /$pat/ from: $*"
}

# md_dump: the superblock as drbdmeta sees it (the minor must be detached).
md_dump() { "$DRBDMETA" --force 0 v08 /dev/vda internal dump-md 2>&1 | head -20; }

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
[ -b /dev/drbd0 ] || fail "/dev/drbd0 missing after new-minor"
log "$(proc_line 0)"

# No meta-data on vdb, no such device at all.
expect_fail 'No valid meta-data signature found' "$DRBDSETUP" attach 0 /dev/vdb /dev/vdb internal
expect_fail 'Can not open' "$DRBDSETUP" attach 0 /dev/nonexistent /dev/nonexistent internal
# A diskless, standalone Secondary shows as "cs:Unconfigured".
proc_has 0 'cs:Unconfigured' || fail "a failed attach left minor 0 with a disk: $(proc_line 0)"

drbdsetup attach 0 /dev/vda /dev/vda internal
proc_has 0 'ro:Secondary/Unknown ds:Inconsistent/DUnknown' || fail "after attach: $(proc_line 0)"
# A Secondary is not opened, for reading or writing.
if dd if=/dev/drbd0 of=/dev/null bs=4096 count=1 2>/dev/null; then
    fail "a Secondary could be opened for reading"
fi
expect_fail 'Need access to UpToDate data' "$DRBDSETUP" primary 0
drbdsetup primary 0 --force
proc_has 0 'ro:Primary/Unknown ds:UpToDate/DUnknown' || fail "after primary --force: $(proc_line 0)"
# The only UpToDate copy of a StandAlone Primary cannot be detached; a disk in use by another
# minor cannot be attached.
expect_fail 'Need access to UpToDate data' "$DRBDSETUP" detach 0
drbdsetup new-minor r0 1 1
expect_fail 'Can not open backing device' "$DRBDSETUP" attach 1 /dev/vda /dev/vda internal
drbdsetup del-minor 1

testdata write /dev/drbd0 --seed $SEED --size $SIZE
testdata verify /dev/drbd0 --seed $SEED --size $SIZE
checksum_line drbd0 sum /dev/drbd0 --seed $SEED --size $SIZE
# Internal meta-data: the data area starts at sector 0 of the backing device, so the same bytes
# are at the same offsets of /dev/vda (read past its page cache, which never saw the writes).
blockdev --flushbufs /dev/vda 2>/dev/null
testdata verify /dev/vda --seed $SEED --size $SIZE
checksum_line backing sum /dev/vda --seed $SEED --size $SIZE
log "$(proc_line 0)"
cat /proc/drbd

drbdsetup secondary 0
# new-current-uuid starts a new data generation: the old current UUID becomes the bitmap UUID
# (get-gi prints current:bitmap:history1:history2:flags).
before=$("$DRBDSETUP" get-gi 0) || fail "get-gi failed"
drbdsetup new-current-uuid 0
after=$("$DRBDSETUP" get-gi 0) || fail "get-gi failed"
log "get-gi before: $before; after: $after"
[ "${after%%:*}" != "${before%%:*}" ] || fail "new-current-uuid kept the current UUID"
[ "$(echo "$after" | cut -d: -f2)" = "$(echo "$before" | cut -d: -f1)" ] ||
    fail "new-current-uuid: the bitmap UUID is not the old current UUID"
drbdsetup detach 0
proc_has 0 'cs:Unconfigured' || fail "after detach: $(proc_line 0)"
md_dump
# The C module leaves the meta-data marked unclean after detach (drbdadm runs apply-al before
# every attach); drbd-rs writes it back clean, so a plain re-attach must work.
if [ "$DRBD_MODULE" != drbd_rs ]; then
    run "$DRBDMETA" --force 0 v08 /dev/vda internal apply-al
fi

drbdsetup attach 0 /dev/vda /dev/vda internal
proc_has 0 'ds:UpToDate' || fail "after re-attach: $(proc_line 0)"
drbdsetup primary 0
testdata verify /dev/drbd0 --seed $SEED --size $SIZE
# Buffered writes reach the driver from writeback, under a plug (not O_DIRECT): the same bytes
# must be on the device afterwards, read back with O_DIRECT past the page cache.
dd if=/dev/urandom of=/tmp/buffered bs=64k count=64 2>/dev/null
run dd if=/tmp/buffered of=/dev/drbd0 bs=64k seek=512 conv=fsync
want=$(sha256sum < /tmp/buffered | cut -d' ' -f1)
got=$(drbd-testdata sum /dev/drbd0 --offset 32M --size 4M | sed 's/.*sha256=//')
[ "$want" = "$got" ] || fail "buffered write at 32 MiB reads back as $got, wrote $want"
log "buffered write at 32 MiB read back intact"
drbdsetup secondary 0
drbdsetup detach 0
drbdsetup down r0
[ -e /dev/drbd0 ] && fail "/dev/drbd0 still there after down"
md_dump
run rmmod "$DRBD_MODULE"
log "single node I/O done"
