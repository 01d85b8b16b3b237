#!/usr/bin/env bash
# Two builds of densevm side by side on the MMU-mode workloads: CPU time (user + sys, from
# /usr/bin/time, 10 ms resolution), median of 5, the builds alternating so that a busy machine
# weighs on both alike. For changes that must not move the numbers (BENCHMARKS.md).
#   bash bench/compare_builds.sh OLD_BUILD_DIR NEW_BUILD_DIR
set -euo pipefail
old=$1/densevm
new=$2/densevm
median() { tr ' ' '\n' | grep . | sort -n | sed -n 3p; }
cpu() { { /usr/bin/time -f "%U %S" "$@" >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}'; }
echo "== $(date -u +%F) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for w in "workload=tlbwalk" "workload=ptchurn" "workload=memfill size=64M"; do
  for mode in ept shadow auto; do
    a="" b=""
    for _ in 1 2 3 4 5; do
      a+="$(cpu "$old" run --mem 256M --mmu "$mode" --cmdline "$w") "
      b+="$(cpu "$new" run --mem 256M --mmu "$mode" --cmdline "$w") "
    done
    ma=$(echo "$a" | median) mb=$(echo "$b" | median)
    printf '%-28s %-6s old %6.3f s  new %6.3f s  new/old %.3f\n' "$w" "$mode" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
  done
done
