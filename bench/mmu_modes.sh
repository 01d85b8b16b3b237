#!/usr/bin/env bash
# MMU modes side by side: each workload under --mmu ept, shadow and auto in one run.
# Reports wall time (median of 3), guest instructions per second, TLB misses, memory
# references per miss, sync faults, resyncs, CR3 switches served from the shadow root cache
# and mode switches, all from --stats.
set -euo pipefail
bin=${1:-build}/densevm
json=$(mktemp)
trap 'rm -f "$json"' EXIT
printf '%-30s %-6s %8s %9s %10s %8s %9s %8s %8s %6s\n' workload mode wall_s Minsn/s tlb_misses refs/miss sync_flt resyncs cr3_hits switch
for w in "workload=hello" "workload=memfill size=64M" "workload=ptchurn" "workload=tlbwalk"; do
  for mode in ept shadow auto; do
    times=()
    for _ in 1 2 3; do
      s=$(date +%s.%N)
      "$bin" run --mem 256M --mmu "$mode" --cmdline "$w" --stats "$json" >/dev/null
      e=$(date +%s.%N)
      times+=("$(echo "$e - $s" | bc -l)")
    done
    wall=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    jq -r --arg w "$w" --arg m "$mode" --arg t "$wall" '.vms[0] as $v |
      [$w, $m, ($t|tonumber), ($v.instructions / ($t|tonumber) / 1e6), $v.mmu.tlb_misses,
       (if $v.mmu.tlb_misses > 0 then $v.mmu.walk_refs / $v.mmu.tlb_misses else 0 end),
       $v.mmu.sync_faults, $v.mmu.unsync_resyncs, $v.mmu.shadow_root_hits, $v.mmu.mode_switches] |
      @tsv' "$json" |
      awk -F'\t' '{printf "%-30s %-6s %8.3f %9.1f %10d %8.1f %9d %8d %8d %6d\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10}'
  done
done
