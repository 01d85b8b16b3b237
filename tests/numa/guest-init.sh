#!/bin/busybox sh
# /init of the QEMU guest `make test-numa` boots (tests/numa/run.sh): a NUMA machine of 2 or 4
# nodes (QEMU's SRAT, Debian's kernel). It runs densevm in each NUMA setting, prints each
# run's --stats document between "=== stats NAME ===" and "=== end NAME ===", what the kernel
# says of its nodes, then "numa-guest: done" and powers off. tests/numa/check.py asserts on
# that output (by the kernel's answers the documents carry: move_pages, sched_getcpu).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp
echo "numa-guest: kernel $(uname -r), nodes online $(cat /sys/devices/system/node/online), cpus $(nproc)"
for n in /sys/devices/system/node/node*; do
  echo "numa-guest: $(basename "$n") cpus $(cat "$n/cpulist") $(grep MemTotal "$n/meminfo" | tr -s ' ')"
done

# memfill writes every page of SIZE (unique per VM by seed, shared by image), then sleeps HOLD
# ticks so that the page scanner sees its pages twice.
fill() { echo "workload=memfill size=$1 zero=0 shared=$2 unique=$((100 - $2)) hold=$3"; }

# run NAME COMMAND ARGS...: densevm COMMAND ARGS with its --stats document printed as NAME.
run() {
  name=$1; shift
  echo "numa-guest: densevm $*"
  densevm "$@" --stats /tmp/$name.json >/tmp/$name.out 2>&1
  status=$?
  echo "=== status $name $status ==="
  [ $status -eq 0 ] || tail -n 5 /tmp/$name.out
  echo "=== stats $name ==="
  cat /tmp/$name.json 2>/dev/null
  echo "=== end $name ==="
}

# The kernel's automatic NUMA balancing would unmap our pages now and then (NUMA hinting
# faults) in a pool without a policy (--numa off), and move_pages(2) reports such a page as
# not present: off's census would depend on when the scanner last ran.
echo 0 >/proc/sys/kernel/numa_balancing 2>/dev/null
nodes=$(ls -d /sys/devices/system/node/node* | wc -l)
last=$((nodes - 1))
run auto run --vms 4 --threads 4 --mem 32M --numa auto --cmdline "$(fill 8M 0 0)"
run node run --vms 2 --threads 4 --mem 32M --numa node:$last --cmdline "$(fill 8M 0 0)"
run pervm run --vms 2 --threads 4 --mem 32M --numa auto --vm-numa 0:$last --vm-numa 1:$last --cmdline "$(fill 8M 0 0)"
run interleave run --vms 2 --threads 4 --mem 32M --numa interleave --cmdline "$(fill 8M 0 0)"
run off run --vms 2 --threads 4 --mem 32M --numa off --cmdline "$(fill 8M 0 0)"
run local run --vms 4 --threads 4 --mem 32M --numa auto --dedup on --dedup-rate max --dedup-numa local \
    --cmdline "$(fill 4M 100 40)"
run global run --vms 4 --threads 4 --mem 32M --numa auto --dedup on --dedup-rate max --dedup-numa global \
    --cmdline "$(fill 4M 100 40)"
# Global merges placed by their users: vm0 on node 0, three VMs on the last node; a page all
# four share starts in vm0's frame (scanned first) and moves to the last node.
run majority run --vms 4 --threads 4 --mem 32M --numa auto --vm-numa 0:0 --vm-numa 1:$last --vm-numa 2:$last \
    --vm-numa 3:$last --dedup on --dedup-rate max --dedup-numa global --cmdline "$(fill 4M 100 40)"
# A budget for the last node only: its VMs balloon (after filling 24 MiB each they free it and
# linger, idle), the others keep everything.
run budget run --vms 4 --threads 4 --mem 64M --numa auto --host-budget-node $last:$((40 * 4 / nodes))M \
    --cmdline "workload=memfill size=24M free=1 linger=150 balloon_report=0"
# Snapshots record the home node: saved on the last node, a restore goes back there; one told
# to use node 0 says where it went.
run saved run --mem 32M --numa node:$last --cmdline "$(fill 4M 0 0) mark=1" --checkpoint-at marker --save /tmp/vm.snap
run restored restore /tmp/vm.snap --numa auto
run moved restore /tmp/vm.snap --numa node:0
echo "=== moved said: $(grep 'when saved' /tmp/moved.out) ==="
rm -f /tmp/vm.snap
# A full node: tmpfs pages bound to the last node leave it about 96 MiB free, so the pool of a
# VM homed there (the node's free memory at start less the kernel's reserve: at most 96 MiB)
# runs out before the VM's 144 MiB fill: the rest of its frames come from the nearest other
# node, counted, and the VM runs to its end. With 48 MiB left the pool was
# 6-23 MiB, and the VMM's own memory on the node (its threads are pinned there) took 36-60%
# of it: 39.9% of the pool on the node in one CI run against the 40% asked.
mkdir -p /mnt/full
mount -t tmpfs -o size=1900M,mpol=bind:$last tmpfs /mnt/full
free_mib=$(( $(sed -n 's/.*MemFree: *\([0-9]*\) kB/\1/p' /sys/devices/system/node/node$last/meminfo) / 1024 ))
dd if=/dev/zero of=/mnt/full/fill bs=1M count=$((free_mib - 96)) 2>/dev/null
echo "numa-guest: node $last had $free_mib MiB free, now $(( $(sed -n 's/.*MemFree: *\([0-9]*\) kB/\1/p' /sys/devices/system/node/node$last/meminfo) / 1024 )) MiB"
run full run --vms 1 --threads 4 --mem 176M --numa node:$last --cmdline "$(fill 144M 0 0)"
rm -f /mnt/full/fill
umount /mnt/full
# Bad input: one line, a non-zero exit.
densevm run --numa node:$nodes >/tmp/bad.out 2>&1
echo "=== bad node $? $(wc -l </tmp/bad.out) $(cat /tmp/bad.out) ==="
densevm run --host-budget-node $nodes:64M >/tmp/bad.out 2>&1
echo "=== bad budget node $? $(wc -l </tmp/bad.out) $(cat /tmp/bad.out) ==="
densevm run --host-budget-node 0:64G >/tmp/bad.out 2>&1
echo "=== bad budget size $? $(wc -l </tmp/bad.out) $(cat /tmp/bad.out) ==="
echo "numa-guest: done"
poweroff -f
