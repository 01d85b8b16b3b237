#!/usr/bin/env bash
# `make run`: a small, telling demo. Four guests share one process; each fills memory with
# a mix of zero, image-shared and unique pages, verifies it, and exits. The statistics show
# what every guest cost the host.
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
stats="$build/demo-stats.json"
echo "== densevm run (built-in guest, workload=hello)"
"$bin" run
echo
echo "== 4 guests, 64 MiB each, memfill 16 MiB: --stats $stats"
"$bin" run --vms 4 --mem 64M --cmdline "workload=memfill size=16M zero=30 shared=40 unique=30 image=1" --stats "$stats"
echo
echo "== per-VM summary (from $stats)"
sed -n '/"host"/,/}/p' "$stats"
grep -E '"(id|instructions|tlb_misses|walk_refs|resident_pages)"' "$stats" | paste - - - - - | sed 's/  */ /g'
