# guests: 2
# disks: 64M
# timeout: 330
me=192.0.2.$((NODE + 1)) peer=192.0.2.$((2 - NODE))
load_drbd
create_md 0 /dev/vda
drbdsetup new-resource r0
drbdsetup new-minor r0 0 0
drbdsetup attach 0 /dev/vda /dev/vda internal
drbdsetup connect r0 ipv4:$me:7789 ipv4:$peer:7789 --protocol=C
wait_for 120 "connected" proc_has 0 'cs:(Connected|SyncSource|SyncTarget)'
if [ "$NODE" = 0 ]; then drbdsetup primary 0 --force; fi
for i in $(seq 1 140); do
  sleep 2
  echo "--- t=$i"; grep -A2 "^ 0:" /proc/drbd
  for p in /proc/[0-9]*; do n=$(cat $p/comm 2>/dev/null); case "$n" in drbd*|kworker*) echo "$n $(cat $p/wchan 2>/dev/null) $(cat $p/stat | cut -d' ' -f3)";; esac; done | grep -v " I$" | head -20; grep -h PingAck /dev/null
done
