#!/usr/bin/env bash
# `make bench`: every benchmark, micro (Google Benchmark) then macro (bench/*.sh), with the
# machine and date first so the output can be pasted into BENCHMARKS.md as it is.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
echo "== $(date -u +%F) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$build"/bench/*_bench; do
  echo "== $(basename "$b")"
  "$b" --benchmark_min_time=0.5
done
for s in bench/mmu_modes.sh bench/qemu_peer.sh bench/ksm_compare.sh bench/balloon_reclaim.sh bench/snapshot_files.sh bench/plan_fleet.sh; do
  echo "== $s"
  bash "$s" "$build"
done
