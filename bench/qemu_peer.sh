#!/usr/bin/env bash
# densevm next to QEMU TCG running the very same guest image and workloads, side by side
# in one run. Wall times are the median of 3 runs; compare ratios, not absolute numbers
# (shared, noisy machines).
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
elf="$build/guest-tools/densevm-guest.elf"

median3() {  # prints the median wall seconds of a command run 3 times
  local t=()
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc)")
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}

qemu() {
  qemu-system-x86_64 -M microvm -m 256M -nodefaults -no-reboot -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$elf" -append "$1"
}

echo "== densevm vs QEMU TCG, same guest image (wall seconds, median of 3)"
printf '%-34s %10s %10s %8s %14s\n' workload densevm qemu-tcg ratio guest-insns
for w in "workload=hello" "workload=memfill size=64M" "workload=ptchurn" "workload=tlbwalk"; do
  ours=$(median3 "$bin" run --mem 256M --mmu auto --cmdline "$w")
  peer=$(median3 qemu "$w")
  "$bin" run --mem 256M --cmdline "$w" --stats /tmp/densevm-bench.json >/dev/null
  insns=$(grep -m1 '"instructions"' /tmp/densevm-bench.json | tr -dc 0-9)
  printf '%-34s %10.3f %10.3f %8.2f %14s\n' "$w" "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)" "$insns"
done
