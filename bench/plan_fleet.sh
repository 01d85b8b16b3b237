#!/usr/bin/env bash
# The planner's speed: fingerprints against the disk (a 4 GiB raw RAM image, read cold from
# the disk and warm from the page cache, next to dd's read of the same file), and a plan of a
# fleet of 1,000 VMs of 4 GiB (synthetic fingerprints, bench/plan_synth.cc: 25% zero pages,
# 15% shared by all, 30% by one of 20 families, 30% their own) — fit, place and report, with
# the sketch's measured error and its error against the fleet's exact dedup union, which the
# synthetic mix makes known: (0.15 + 20 x 0.30 + 1000 x 0.30) x 2^20 pages.
#
#   bash bench/plan_fleet.sh build [VMS]     (VMS: 1000; fingerprints cached in build/plan-fleet)
#
# Cold reads drop the page cache first (as root; else they are reported as warm).
set -euo pipefail
build=${1:-build}
vms=${2:-1000}
cd "$(dirname "$0")/.."
densevm=$build/densevm
work=$build/plan-fleet
mkdir -p "$work"
cmake --build "$build" --target densevm plan_synth >/dev/null
echo "== $(date -u +%F) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

drop_caches() { sync; [ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches || true; }
secs() { local t0=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $t0" | bc; }

img=$work/ram-4g.raw
[ -s "$img" ] || dd if=/dev/urandom of="$img" bs=64M count=64 status=none
bytes=$(stat -c %s "$img")
# Cold: the fingerprint first, then dd (this machine's virtual disk is cached by its host, so
# whichever reads second may find the host's cache warm: both orders are printed).
for order in fingerprint-first dd-first; do
  for step in 1 2; do
    drop_caches
    if [ "$order-$step" = fingerprint-first-1 ] || [ "$order-$step" = dd-first-2 ]; then
      t=$(secs "$densevm" plan fingerprint "raw:$img" -o "$work")
      printf 'plan fingerprint, cold (%s)  %6.0f MB/s\n' "$order" "$(echo "$bytes / $t / 1000000" | bc -l)"
    else
      t=$(secs dd if="$img" of=/dev/null bs=8M status=none)
      printf 'dd read, cold          (%s)  %6.0f MB/s\n' "$order" "$(echo "$bytes / $t / 1000000" | bc -l)"
    fi
  done
done
t=$(secs dd if="$img" of=/dev/null bs=8M status=none)
printf 'dd read, warm                           %6.0f MB/s\n' "$(echo "$bytes / $t / 1000000" | bc -l)"
t=$(secs "$densevm" plan fingerprint "raw:$img" -o "$work")
printf 'plan fingerprint, warm                  %6.0f MB/s\n' "$(echo "$bytes / $t / 1000000" | bc -l)"

fleet=$work/fp
if [ "$(ls "$fleet" 2>/dev/null | wc -l)" -ne "$vms" ]; then
  rm -rf "$fleet"
  t=$(secs "$build/bench/plan_synth" "$fleet" "$vms" 4 20)
  echo "synthesized $vms fingerprints of 4 GiB VMs in $t s ($(du -sh "$fleet" | cut -f1))"
fi
fps=("$fleet"/*.fp)
t=$(secs "$densevm" plan fit --host-mem 512G "${fps[@]}")
echo "plan fit    $vms VMs of 4 GiB: $t s"
t=$(secs "$densevm" plan place --hosts 100 --host-mem 64G "${fps[@]}")
echo "plan place  $vms VMs of 4 GiB on hosts of 64 GiB: $t s"
t=$(secs "$densevm" plan report --hosts 100 --host-mem 64G "${fps[@]}" -o "$work/report.html")
echo "plan report $vms VMs of 4 GiB: $t s"
"$densevm" plan place --hosts 100 --host-mem 64G "${fps[@]}" | sed 's/^/  /'
"$densevm" plan fit --host-mem 512G "${fps[@]}" --json >"$work/fit.json"
python3 - "$work/fit.json" "$vms" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
exact = (0.15 + 20 * 0.30 + n * 0.30) * (1 << 20) * 4096 + 4096  # plus the zero frame
got = d["techniques"]["dedup"]["host_bytes"]; e = d["estimate"]
print(f"dedup union: sketched {got / 2**30:.1f} GiB, exact {exact / 2**30:.1f} GiB, error {100 * (got - exact) / exact:+.2f}%"
      f" (expected +/-{100 * e['expected_error']:.1f}%; measured on {e['checked_vms']} VMs: {100 * e['measured_error']:.1f}%)")
PY
