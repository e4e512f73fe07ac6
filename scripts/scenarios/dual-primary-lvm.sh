# Two Primaries under LVM, as XenServer uses DRBD for a shared storage repository, and the
# choreography of a VM's live migration between the two hosts. Two guests, protocol C,
# --allow-two-primaries; after the full sync both are Primary (ro:Primary/Primary on both).
# node0 creates a PV, the VG VG_XenStorage-<uuid> and an LV on /dev/drbd0 and writes a pattern
# into the LV; node1 activates the VG (no udev, no lvmetad: LVM reads the PV through DRBD) and
# checks the LV byte for byte. Migration: node0 does the VM's last writes, node1 reads them and
# does the first writes of the migrated VM, then the VM moves back to node0; each side checks
# the other's writes (O_DIRECT), neither node is demoted in between. node0 creates a second LV
# that node1's lvs then lists. Both deactivate the VG and print the checksum of the whole
# device (the host compares). The guests step through a mailbox on the DRBD device
# (lib.sh dp_post/dp_wait).
# guests: 2
# disks: 64M
# timeout: 400
VG=VG_XenStorage-7c1d4f6e-2b3a-4c5d-8e9f-0a1b2c3d4e5f
LV=/dev/$VG/lv0
export DM_DISABLE_UDEV=1
mkdir -p /run/lock/lvm /run/lvm

# lvm_ok CMD...: runs an LVM command (its noise about leaked descriptors filtered), fails the
# scenario if it fails.
lvm_ok() {
    log "+ $*"
    out=$("$@" 2>&1); rc=$?
    echo "$out" | grep -v 'leaked on lvm invocation'
    [ $rc = 0 ] || fail "command failed ($rc): $*"
}

load_drbd
dp_two_primaries

if [ "$NODE" = 0 ]; then
    lvm_ok pvcreate -y /dev/drbd0
    lvm_ok vgcreate -y "$VG" /dev/drbd0
    lvm_ok lvcreate -y -n lv0 -L 16M "$VG"
    [ -b "$LV" ] || { ls -l /dev/mapper "/dev/$VG"; fail "$LV missing after lvcreate"; }
    testdata write "$LV" --seed 11 --size 16M
    dp_post 1
else
    dp_wait 1 180
    lvm_ok pvscan
    lvm_ok vgscan
    lvm_ok vgchange -ay "$VG"
    lvm_ok lvs "$VG"
    [ -b "$LV" ] || { ls -l /dev/mapper "/dev/$VG"; fail "$LV missing after vgchange -ay"; }
    pvs --noheadings -o pv_name,vg_name 2>/dev/null | grep -q "/dev/drbd0 *$VG" || fail "pvs does not show $VG on /dev/drbd0"
    # node0's LV, byte for byte.
    testdata verify "$LV" --seed 11 --size 16M
    dp_post 2
fi

# Live migration of a VM whose disk is lv0: node0 is the source, node1 the destination.
if [ "$NODE" = 0 ]; then
    dp_wait 2 120
    # The VM's last writes on the source before it is paused.
    testdata write "$LV" --seed 21 --size 4M
    dp_post 3
    # The VM runs on node1 now; it reads what node0 wrote last and writes its own.
    dp_wait 4 120
    testdata verify "$LV" --seed 21 --size 4M
    testdata verify "$LV" --seed 22 --offset 4M --size 4M
    testdata verify "$LV" --seed 11 --offset 8M --size 8M
    # Back on node0: its first writes after the return, and a second LV in the live VG.
    testdata write "$LV" --seed 23 --offset 8M --size 4M
    lvm_ok lvcreate -y -n lv1 -L 8M "$VG"
    testdata write "/dev/$VG/lv1" --seed 24 --size 8M
    dp_post 5
    dp_wait 6 120
    lvm_ok vgchange -an "$VG"
else
    dp_wait 3 120
    # Destination: the source's last writes first, then its own.
    testdata verify "$LV" --seed 21 --size 4M
    testdata verify "$LV" --seed 11 --offset 4M --size 12M
    testdata write "$LV" --seed 22 --offset 4M --size 4M
    dp_post 4
    dp_wait 5 120
    # The VM went back to node0: its writes after the return, and the LV node0 added meanwhile.
    testdata verify "$LV" --seed 21 --size 4M
    testdata verify "$LV" --seed 22 --offset 4M --size 4M
    testdata verify "$LV" --seed 23 --offset 8M --size 4M
    testdata verify "$LV" --seed 11 --offset 12M --size 4M
    lvm_ok lvs "$VG"
    lvs --noheadings -o lv_name "$VG" 2>/dev/null | grep -qw lv1 || fail "lvs on node1 does not list node0's new lv1"
    lvm_ok lvchange -ay "$VG/lv1"
    testdata verify "/dev/$VG/lv1" --seed 24 --size 8M
    lvm_ok vgchange -an "$VG"
    dp_post 6
fi
# Neither node writes any more after step 7 (the mailbox included): the whole devices must be
# identical. A node may demote and go down once it has its checksum: the other reads locally.
wait_for 30 "idle" dp_idle
dp_no_protocol_errors
dp_both 7 120
checksum_line "node$NODE-drbd0" sum /dev/drbd0
show_status r0
drbdsetup secondary 0
drbdsetup down r0
