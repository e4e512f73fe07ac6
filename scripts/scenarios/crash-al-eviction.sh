# The activity log's eviction path, through a crash. One guest, a 1 GiB disk, al-extents 67 (the
# smallest). After the bitmap is cleared (`new-current-uuid --clear-bitmap`) the StandAlone
# Primary writes one 4 KiB block into each of 100 extents (4 MiB apart), in order: every write
# is out of sync (no peer), extents 1..33 leave the log to make room and their bitmap blocks are
# written out first, extents 34..100 stay hot. The host kills the guest and boots it again on
# the same disk. At attach the module must find 33 bits in the on-disk bitmap plus the 67 hot
# extents of the replayed log (67 * 1024 bits): 68641 bits, neither fewer (lost blocks) nor more.
# `drbdmeta apply-al` on a copy of the meta-data must count the same, and the 100 blocks read
# back.
# guests: 1
# disks: 1G
# timeout: 300
# kill: node0
# restart: node0
SEED=4711 N=100 SLOTS=67
EXPECT_BITS=$(( (N - SLOTS) + SLOTS * 1024 ))

load_drbd
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0

if [ "$BOOT" = 2 ]; then
    al_bits=$(al_bits_of_copy /dev/vda 1024)
    log "drbdmeta apply-al on a copy: $al_bits bits set"
    [ "$DRBD_MODULE" = drbd ] && run "$DRBDMETA" --force 0 v08 /dev/vda internal apply-al
    drbdsetup attach 0 /dev/vda /dev/vda internal --al-extents=$SLOTS
    oos=$(proc_counter 0 oos)
    echo "AL-EVICTION-CRASH oos $oos KB after attach, drbdmeta $al_bits bits, expected $EXPECT_BITS bits"
    [ "$al_bits" = "$EXPECT_BITS" ] || fail "drbdmeta's apply-al set $al_bits bits, expected $EXPECT_BITS"
    [ "$oos" = $((EXPECT_BITS * 4)) ] || fail "oos:$oos KB after attach, expected $((EXPECT_BITS * 4))"
    drbdsetup primary 0
    i=0
    while [ $i -lt $N ]; do
        drbd-testdata verify /dev/drbd0 --seed $SEED --offset $((i * 4))M --size 4K >/dev/null ||
            fail "block in extent $i lost"
        i=$((i + 1))
    done
    log "all $N blocks read back"
    drbdsetup secondary 0
    drbdsetup down r0
    exit 0
fi

create_md 0 /dev/vda
drbdsetup attach 0 /dev/vda /dev/vda internal --al-extents=$SLOTS
drbdsetup new-current-uuid --clear-bitmap 0
[ "$(proc_counter 0 oos)" = 0 ] || fail "oos:$(proc_counter 0 oos) KB after new-current-uuid --clear-bitmap"
drbdsetup primary 0 --force
i=0
while [ $i -lt $N ]; do
    drbd-testdata write /dev/drbd0 --seed $SEED --offset $((i * 4))M --size 4K >/dev/null ||
        fail "write into extent $i failed"
    i=$((i + 1))
done
log "$(proc_line 0)"
[ "$(proc_counter 0 oos)" = $((N * 4)) ] || fail "oos:$(proc_counter 0 oos) KB after $N single-block writes"
echo "DRBDRS-KILL-ME"
sleep 60
fail "the host did not kill this node"
