#!/usr/bin/env bash
# Linux KSM next to densevm's dedup on the same page mix: 4 x 96 MiB, per 100 pages 30 zero,
# 40 identical in every region/guest, 30 unique (memfill's default profile).
#
# KSM runs on bench/ksm_fill's MADV_MERGEABLE memory, at its defaults (pages_to_scan=100,
# sleep_millisecs=20) and at pages_to_scan=10000; we report the seconds until it had merged
# 99% of what can be merged, its final sharing and ksmd's CPU seconds. KSM's settings are
# restored exactly as found, whatever happens. Without a writable /sys/kernel/mm/ksm this
# says so and exits 0.
#
#   bash bench/ksm_compare.sh build-dedup
set -euo pipefail
build=${1:-build}
ksm=/sys/kernel/mm/ksm
fill="$build/bench/ksm_fill"
guests=4 mib=96 zero=30 shared=40
timeout_s=${KSM_TIMEOUT:-400}

if [[ ! -d $ksm ]] || ! (v=$(cat $ksm/pages_to_scan) && echo "$v" > $ksm/pages_to_scan) 2>/dev/null; then
  echo "ksm_compare: $ksm is missing or not writable here (needs root on a KSM kernel); skipped"
  exit 0
fi
[[ -x $fill ]] || { echo "ksm_compare: build $fill first (target ksm_fill)"; exit 1; }

saved_run=$(cat $ksm/run) saved_scan=$(cat $ksm/pages_to_scan) saved_sleep=$(cat $ksm/sleep_millisecs)
fill_pid=
restore() {
  [[ -n $fill_pid ]] && kill "$fill_pid" 2>/dev/null && wait "$fill_pid" 2>/dev/null
  echo "$saved_scan" > $ksm/pages_to_scan
  echo "$saved_sleep" > $ksm/sleep_millisecs
  echo "$saved_run" > $ksm/run  # 0 or 1 as found; never 2 (that would unmerge others' pages)
}
trap restore EXIT
[[ $saved_run == 0 ]] || echo "note: KSM was already running (run=$saved_run); figures are deltas"

ksmd_ticks() {  # utime + stime of ksmd, in clock ticks
  local pid; pid=$(pgrep -x ksmd | head -1) || { echo 0; return; }
  awk '{print $14 + $15}' "/proc/$pid/stat"
}
merged() { echo $(( $(cat $ksm/pages_sharing) + $(cat $ksm/ksm_zero_pages 2>/dev/null || echo 0) )); }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u +%F)"
echo "== Linux KSM on $guests x $mib MiB ($zero% zero, $shared% shared, rest unique)"
printf '%-28s %12s %14s %12s %12s %10s\n' setting t99_seconds merged_pages of_mergeable full_scans ksmd_cpu_s
# ksmd drops the pages of processes that exited (an earlier helper) only while it runs:
# let it finish two full scans so every setting starts from a clean baseline.
settle() {
  local scans; scans=$(cat $ksm/full_scans)
  echo 1 > $ksm/run
  for _ in $(seq 600); do (( $(cat $ksm/full_scans) >= scans + 2 )) && break; sleep 0.1; done
  echo 0 > $ksm/run
}
settle
base0=$(merged)
for scan in 100 10000; do
  echo 0 > $ksm/run
  out=$(mktemp)
  "$fill" $guests $mib $zero $shared > "$out" &
  fill_pid=$!
  until grep -q ready "$out"; do sleep 0.1; done
  mergeable=$(sed -n 's/.*mergeable=\([0-9]*\).*/\1/p' "$out")
  rm -f "$out"
  base=$base0 base_scans=$(cat $ksm/full_scans) base_cpu=$(ksmd_ticks)
  echo 20 > $ksm/sleep_millisecs
  echo $scan > $ksm/pages_to_scan
  start=$(date +%s.%N)
  echo 1 > $ksm/run
  t99=-
  last=-1 last_scans=0
  while true; do
    sleep 0.25
    now=$(( $(merged) - base ))
    elapsed=$(echo "$(date +%s.%N) - $start" | bc)
    [[ $t99 == - && $(( now * 100 )) -ge $(( mergeable * 99 )) ]] && t99=$(printf '%.1f' "$elapsed")
    scans=$(( $(cat $ksm/full_scans) - base_scans ))
    # Converged: a whole further scan merged nothing more (after at least two scans).
    if (( scans >= 2 && scans > last_scans )); then
      (( now == last )) && break
      last=$now last_scans=$scans
    fi
    awk -v e="$elapsed" -v t="$timeout_s" 'BEGIN { exit !(e >= t) }' && { t99="${t99}(timeout)"; break; }
  done
  cpu=$(printf '%.2f' "$(echo "scale=2; ($(ksmd_ticks) - $base_cpu) / $(getconf CLK_TCK)" | bc)")
  echo 0 > $ksm/run
  printf '%-28s %12s %14s %11s%% %12s %10s\n' "pages_to_scan=$scan sleep=20ms" "$t99" "$now" \
    "$(( now * 100 / mergeable ))" "$scans" "$cpu"
  kill "$fill_pid"; wait "$fill_pid" 2>/dev/null || true; fill_pid=
  settle
done

echo "== densevm dedup, same mix (memfill in $guests guests of 128 MiB, hold=100)"
printf '%-28s %12s %14s %12s %12s %10s\n' setting passes saved_pages bytes_saved_MiB rss_MiB scan_cpu_s
for rate in 100000 max; do
  "$build/densevm" run --vms $guests --mem 128M --threads 2 --dedup on --dedup-rate $rate \
    --cmdline "workload=memfill size=${mib}M zero=$zero shared=$shared unique=$((100 - zero - shared)) hold=100" \
    --stats /tmp/densevm-ksm-compare.json > /dev/null
  python3 - "$rate" <<'PY'
import json, sys
d = json.load(open('/tmp/densevm-ksm-compare.json'))
x = d['dedup']
print('%-28s %12d %14d %12d %12d %10.2f' % ('--dedup-rate ' + sys.argv[1], x['full_passes'],
      x['bytes_saved'] // 4096, x['bytes_saved'] >> 20, d['host']['rss_bytes'] >> 20, x['scan_seconds']))
PY
done
rm -f /tmp/densevm-ksm-compare.json
