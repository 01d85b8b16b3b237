#!/usr/bin/env bash
# The translator (issue 16) next to QEMU TCG, side by side in one run: the same guest image
# and command line on densevm --cpu interp, densevm --cpu auto and qemu-system-x86_64
# -M microvm (TCG), interleaved, CPU seconds (user + system) the median of 3; ratio = QEMU
# time / densevm time (above 1: densevm faster). QEMU runs twice: as it comes, and with
# transparent huge pages off (prctl PR_SET_THP_DISABLE, inherited across exec), since QEMU
# asks for THP on guest RAM (MADV_HUGEPAGE); densevm runs as it comes too (`--huge-frames
# auto`: these guests neither share nor balloon, so their first-written pages come from 2 MiB
# chunks; bench/huge_frames.sh compares off and on). Then, from one --stats run
# per workload: guest instructions, the share retired by translated code, guest
# instructions per wall second of the whole run, blocks translated and host time per block.
#
#   bash bench/translate_peer.sh build
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
elf="$build/guest-tools/densevm-guest.elf"

. "$(dirname "$0")/lib.sh"
secs() { perf_run "$@" | cut -d' ' -f1; }  # CPU seconds of one run; --no-thp as perf_run
mapfile -t qemu < <(qemu_microvm "$elf")

echo "== densevm (interp, auto) vs QEMU TCG, same guest image (CPU seconds, median of 3)"
machine_line
printf '%-40s %7s %7s %7s %7s %6s %6s %7s %12s %6s %9s %7s %9s\n' workload interp auto qemu qemu4k q/int \
  q/auto q4k/auto guest-insns transl "M insn/s" blocks "us/block"
for w in "workload=hello" "workload=tlbwalk size=64K steps=5000000" "workload=compute size=4M rounds=8" \
         "workload=memfill size=64M" "workload=ptchurn" "workload=tlbwalk"; do
  i=() a=() q=() k=()
  for _ in 1 2 3; do
    i+=("$(secs "$bin" run --mem 256M --cpu interp --cmdline "$w")")
    a+=("$(secs "$bin" run --mem 256M --cpu auto --cmdline "$w")")
    q+=("$(secs "${qemu[@]}" -append "$w")")
    k+=("$(secs --no-thp "${qemu[@]}" -append "$w")")
  done
  ti=$(median3 "${i[@]}") ta=$(median3 "${a[@]}") tq=$(median3 "${q[@]}") tk=$(median3 "${k[@]}")
  s=$(date +%s.%N); "$bin" run --mem 256M --cpu auto --cmdline "$w" >/dev/null; e=$(date +%s.%N)
  "$bin" run --mem 256M --cpu auto --cmdline "$w" --stats /tmp/densevm-translate-bench.json >/dev/null
  read -r insns transl blocks ns < <(jq -r '"\(.vms[0].instructions) \(.vms[0].cpu.translate.retired_translated) \(.vms[0].cpu.translate.blocks_translated) \(.host.translate_seconds * 1e9)"' /tmp/densevm-translate-bench.json)
  printf '%-40s %7.3f %7.3f %7.3f %7.3f %6.2f %6.2f %7.2f %12s %5.1f%% %9.0f %7s %9.1f\n' "$w" "$ti" "$ta" "$tq" \
    "$tk" "$(echo "$tq / $ti" | bc -l)" "$(echo "$tq / $ta" | bc -l)" "$(echo "$tk / $ta" | bc -l)" "$insns" \
    "$(echo "100 * $transl / $insns" | bc -l)" "$(echo "$insns / ($e - $s) / 1000000" | bc -l)" "$blocks" "$(echo "$ns / ($blocks + ($blocks == 0)) / 1000" | bc -l)"
done
echo "load average at the end: $(load)"
