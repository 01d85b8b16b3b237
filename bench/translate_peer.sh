#!/usr/bin/env bash
# The translator (issue 16) next to QEMU TCG, side by side in one run: the same guest image
# and command line on densevm --cpu interp, densevm --cpu auto and qemu-system-x86_64
# -M microvm (TCG), interleaved, wall seconds the median of 3; ratio = QEMU time / densevm
# time (above 1: densevm faster). Then, from one --stats run per workload: guest
# instructions, the share retired by translated code, guest instructions per second of the
# whole run, blocks translated and host time per block translated.
#
#   bash bench/translate_peer.sh build
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
elf="$build/guest-tools/densevm-guest.elf"

secs() {  # wall seconds of one run of a command
  local s e
  s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
  echo "$e - $s" | bc
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

qemu() {
  qemu-system-x86_64 -M microvm -m 256M -nodefaults -no-reboot -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$elf" -append "$1"
}

echo "== densevm (interp, auto) vs QEMU TCG, same guest image (wall seconds, median of 3)"
printf '%-40s %8s %8s %8s %7s %7s %12s %6s %9s %7s %9s\n' workload interp auto qemu q/int q/auto \
  guest-insns transl "M insn/s" blocks "us/block"
for w in "workload=hello" "workload=tlbwalk size=64K steps=5000000" "workload=compute size=4M rounds=8" \
         "workload=memfill size=64M" "workload=ptchurn" "workload=tlbwalk"; do
  i=() a=() q=()
  for _ in 1 2 3; do
    i+=("$(secs "$bin" run --mem 256M --cpu interp --cmdline "$w")")
    a+=("$(secs "$bin" run --mem 256M --cpu auto --cmdline "$w")")
    q+=("$(secs qemu "$w")")
  done
  ti=$(median "${i[@]}") ta=$(median "${a[@]}") tq=$(median "${q[@]}")
  "$bin" run --mem 256M --cpu auto --cmdline "$w" --stats /tmp/densevm-translate-bench.json >/dev/null
  read -r insns transl blocks ns < <(jq -r '"\(.vms[0].instructions) \(.vms[0].cpu.translate.retired_translated) \(.vms[0].cpu.translate.blocks_translated) \(.host.translate_seconds * 1e9)"' /tmp/densevm-translate-bench.json)
  printf '%-40s %8.3f %8.3f %8.3f %7.2f %7.2f %12s %5.1f%% %9.0f %7s %9.1f\n' "$w" "$ti" "$ta" "$tq" \
    "$(echo "$tq / $ti" | bc -l)" "$(echo "$tq / $ta" | bc -l)" "$insns" "$(echo "100 * $transl / $insns" | bc -l)" \
    "$(echo "$insns / $ta / 1000000" | bc -l)" "$blocks" "$(echo "$ns / ($blocks + ($blocks == 0)) / 1000" | bc -l)"
done
