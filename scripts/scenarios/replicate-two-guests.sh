# Two guests joined by a socket netdev: node0 (192.0.2.1) and node1 (192.0.2.2) each attach
# their own disk and connect. node0 forces itself Primary (full sync), writes patterned data and
# becomes Secondary; node1 then becomes Primary and reads the data back, block by block and by
# checksum. The host compares the checksums the two guests print.
# guests: 2
# disks: 64M
# timeout: 300
SIZE=16M SEED=777
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))
# auth=yes: both sides authenticate each other with cram-hmac (sha1) and a shared secret.
AUTH=
for kv in "$@"; do
    case "$kv" in auth=yes) AUTH="--cram-hmac-alg=sha1 --shared-secret=two-guests-secret" ;; esac
done

load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C $AUTH
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'

if [ "$NODE" = 0 ]; then
    drbdsetup primary 0 --force
    wait_synced 0 180
    testdata write /dev/drbd0 --seed $SEED --size $SIZE
    checksum_line primary sum /dev/drbd0 --seed $SEED --size $SIZE
    show_status r0
    drbdsetup secondary 0
    # node1 disconnects once it has read everything back; that is node0's cue to finish.
    wait_for 180 "peer finished (connection closed)" sh -c "! grep -qE '^ *0: cs:Connected' /proc/drbd"
else
    # UpToDate/UpToDate is first reached while node0 is Primary (it is the SyncSource), so a later
    # Secondary/Secondary means node0 has written its data and demoted.
    wait_synced 0 240
    wait_for 180 "peer wrote and became Secondary" proc_has 0 'ro:Secondary/Secondary'
    drbdsetup primary 0
    testdata verify /dev/drbd0 --seed $SEED --size $SIZE
    checksum_line secondary sum /dev/drbd0 --seed $SEED --size $SIZE
    show_status r0
    drbdsetup secondary 0
fi
drbdsetup down r0
