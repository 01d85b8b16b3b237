#!/usr/bin/env bash
# QEMU as a peer: boots the densevm guest kernel in QEMU (microvm, PVH entry, TCG) and checks
# its console lines and exit statuses, so the guest is known good independently of our VMM.
# When direct64-shim.elf sits next to the kernel, hello and memfill also boot through the
# kernel's direct 64-bit entry (the one the densevm VMM uses) and must print the same.
#
#   tests/qemu_peer_test.sh build/guest-tools/densevm-guest.elf
#
# Exit 0 on success, 1 with a message on failure, 77 (skip) without qemu-system-x86_64.
set -uo pipefail

elf=${1:?usage: $0 path/to/densevm-guest.elf}
qemu=${QEMU:-qemu-system-x86_64}
if ! command -v "$qemu" >/dev/null 2>&1; then
  echo "SKIP: $qemu not found"
  exit 77
fi
[ -f "$elf" ] || { echo "FAIL: no guest kernel at $elf"; exit 1; }

shim=$(dirname "$elf")/direct64-shim.elf
entry=(-kernel "$elf") # PVH

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
failures=0
sum="memfill ok (none)"

# boot <expected guest status> <cmdline>: leaves the console output in $tmp.
# isa-debug-exit makes QEMU exit with (status << 1) | 1.
boot() {
  local status=$1 cmdline=$2
  timeout 60 "$qemu" -M microvm -m 256M -nodefaults -no-reboot -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    "${entry[@]}" -append "$cmdline" >"$tmp" 2>&1 </dev/null
  local rc=$?
  sed -i 's/\r$//' "$tmp"
  if [ $rc -ne $(((status << 1) | 1)) ]; then
    fail "\"$cmdline\": QEMU exit code $rc, want $(((status << 1) | 1)) (guest status $status)"
    return 1
  fi
}

fail() {
  echo "FAIL: $*"
  sed 's/^/    | /' "$tmp"
  failures=$((failures + 1))
}

# expect_line <cmdline> <extended regex>: some console line matches.
expect_line() {
  grep -Eq "$2" "$tmp" || fail "\"$1\": no line matching /$2/"
}

# expect_last <cmdline> <extended regex>: the final console line matches.
expect_last() {
  tail -n 1 "$tmp" | grep -Eq "$2" || fail "\"$1\": last line does not match /$2/"
}

c="workload=hello"
if boot 0 "$c"; then
  expect_line "$c" '^hello from densevm guest$'
  expect_last "$c" '^hello ok$'
fi

# No vmgenid= from QEMU: the generation id reads as zero; the marker port is ignored.
c="workload=genid ticks=3"
if boot 0 "$c"; then
  expect_last "$c" '^genid ok changes=0$'
fi
c="workload=memfill size=8M mark=1"
if boot 0 "$c"; then
  expect_last "$c" '^memfill ok [0-9a-f]{16}$'
fi

c="workload=memfill size=8M"
if boot 0 "$c"; then
  expect_last "$c" '^memfill ok [0-9a-f]{16}$'
  sum=$(tail -n 1 "$tmp") # also compared with the direct-entry boot below
  # Same content however long it is held and whether it is freed afterwards.
  c="workload=memfill size=8M hold=5 free=1 linger=5"
  if boot 0 "$c"; then
    expect_last "$c" "^$sum\$"
  fi
  # The unique pages follow the seed, which defaults to vm=.
  c="workload=memfill size=8M vm=3"
  if boot 0 "$c"; then
    tail -n 1 "$tmp" | grep -qx "$sum" && fail "\"$c\": checksum does not depend on vm="
  fi
fi

c="workload=ptchurn rounds=8"
boot 0 "$c" && expect_last "$c" '^ptchurn ok rounds=8 procs=32 pages=[0-9]+$'

c="workload=tlbwalk size=4M steps=20000"
boot 0 "$c" && expect_last "$c" '^tlbwalk ok [0-9a-f]{16} steps=20000 pages=1024$'

c="workload=idle ticks=10"
boot 0 "$c" && expect_last "$c" '^idle ok ticks=10$'

c="workload=nosuch"
boot 2 "$c" && expect_last "$c" '^unknown workload: nosuch$'

c="workload=fault kind=pf"
boot 3 "$c" && expect_last "$c" '^fatal: user fault #PF \(vector 14\) pid=1 rip=0x[0-9a-f]+ cr2=0xfffffff000 err=0x4$'

if [ -f "$shim" ]; then
  entry=(-kernel "$shim" -device "loader,file=$elf")
  c="workload=hello"
  boot 0 "$c" && expect_last "$c" '^hello ok$'
  c="workload=memfill size=8M"
  boot 0 "$c" && expect_last "$c" "^$sum\$"
else
  echo "note: $shim not found, direct 64-bit entry not tested"
fi

if [ $failures -ne 0 ]; then
  echo "qemu_peer_test: $failures failure(s)"
  exit 1
fi
echo "qemu_peer_test: all checks passed"
