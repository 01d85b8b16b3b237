#!/usr/bin/env bash
# What the dedup scanner costs the host, for one or more densevm binaries side by side (e.g.
# main's and a branch's), run alternately so that they see the same load:
#   held: 4 guests x 96 MiB memfill 30/40/30, held (hold=400), default rate;
#   idle: 64 idle guests for 4 and for 20 virtual seconds; the difference is the steady
#         state once merged (scanner CPU per virtual second and per wall second).
# Prints the CPU model and load average first. Scanner CPU is dedup.scan_seconds (the
# scanning thread's CPU clock), not wall time.
#
#   bash bench/dedup_scan_cost.sh /tmp/densevm-main build/densevm
set -euo pipefail
(($# > 0)) || { echo "usage: dedup_scan_cost.sh DENSEVM..." >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

stats() {  # file -> one line of the fields compared
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); s = d["dedup"]
print(f"scan {s['scan_seconds']:.3f} s, hashed {s['pages_hashed'] if 'pages_hashed' in s else '-'}, "
      f"clean {s['pages_clean'] if 'pages_clean' in s else '-'}, passes {s['full_passes']}, merges {s['merges']}, "
      f"cow_breaks {s['cow_breaks']}, saved {s['bytes_saved'] >> 20} MiB, rss {d['host']['rss_bytes'] >> 20} MiB, "
      f"wall {d['host']['wall_seconds']:.2f} s")
PY
}
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

for bin in "$@"; do
  "$bin" run --vms 4 --mem 128M --threads 2 --dedup on --stats "$out/held.json" \
    --cmdline "workload=memfill size=96M zero=30 shared=40 unique=30 image=1 hold=400" > /dev/null
  echo "held  $bin: $(stats "$out/held.json")"
done
for bin in "$@"; do
  for ticks in 400 2000; do
    "$bin" run --vms 64 --mem 32M --threads 2 --dedup on --stats "$out/idle$ticks.json" \
      --cmdline "workload=idle ticks=$ticks" > /dev/null
    echo "idle$ticks $bin: $(stats "$out/idle$ticks.json")"
  done
  scan=$(field "$out/idle2000.json" "d['dedup']['scan_seconds']")
  scan0=$(field "$out/idle400.json" "d['dedup']['scan_seconds']")
  wall=$(field "$out/idle2000.json" "d['host']['wall_seconds']")
  wall0=$(field "$out/idle400.json" "d['host']['wall_seconds']")
  virt=$(field "$out/idle2000.json" "d['vms'][0]['virtual_time']")
  virt0=$(field "$out/idle400.json" "d['vms'][0]['virtual_time']")
  python3 -c "
ds, dw, dv = $scan - $scan0, $wall - $wall0, ($virt - $virt0) / 1e9
print(f'idle steady $bin: scanner {ds:.3f} s over {dv:.0f} virtual s ({100 * ds / dv:.2f}% of a core in guest time), '
      f'{dw:.2f} wall s ({100 * ds / dw:.1f}% of a core: idle guests run unpaced)')"
done
