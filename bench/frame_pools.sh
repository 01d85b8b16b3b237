#!/usr/bin/env bash
# Frame allocation rate, the FrameStore of BASE (a commit: one pool) against this tree's (pools
# by NUMA node), bench/frame_pools.cc built against each with the same flags (-O2, as
# RelWithDebInfo) and run alternately, ROUNDS times each (default 5).
#   bash bench/frame_pools.sh [BASE] [ROUNDS]      # BASE defaults to arch
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
base=${1:-arch}
rounds=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old/core"
for f in frame_store.h frame_store.cc types.h; do git -C "$root" show "$base:core/$f" >"$work/old/core/$f"; done
flags=(-std=c++20 -O2 -DNDEBUG -pthread)
g++ "${flags[@]}" -I"$work/old" "$here/frame_pools.cc" "$work/old/core/frame_store.cc" -lbenchmark -o "$work/old.bin"
g++ "${flags[@]}" -DDENSEVM_FRAME_POOLS -I"$root" "$here/frame_pools.cc" "$root/core/frame_store.cc" -lbenchmark -o "$work/new.bin"
echo "== $(date -u +%F) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), base $base"
for ((i = 0; i < rounds; i++)); do
  "$work/old.bin" --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null | sed -n 's/^"\([^"]*\)",.*/old,&/p'
  "$work/new.bin" --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null | sed -n 's/^"\([^"]*\)",.*/new,&/p'
done | python3 -c '
import sys, csv, statistics
rates = {}
for row in csv.reader(sys.stdin):
    build, name, items = row[0], row[1], row[7] if len(row) > 7 else ""
    if items:
        rates.setdefault((build, name), []).append(float(items))
base = statistics.median(rates[("old", "BM_OnePool")])
for (build, name), r in sorted(rates.items()):
    m = statistics.median(r)
    print("%-4s %-16s %6.2f M frames/s  (%.3f of base one pool; %d runs)" % (build, name, m / 1e6, m / base, len(r)))
'
