#!/usr/bin/env bash
# --huge-frames (guest frames from 2 MiB chunks the host backs with transparent huge pages),
# off against on, side by side in one run, the load average printed with every table:
#   1. CPU seconds (user + system, perf's task-clock, median of 3) and host page faults of
#      bench/translate_peer.sh's workloads: densevm --cpu auto with --huge-frames off and on,
#      QEMU TCG as it comes (THP on guest RAM) and with THP off; ratios are QEMU / densevm.
#   2. Memory where pages are given back or shared, off and on: a ballooning run and a dedup
#      run (RssAnon at the end, the peak, AnonHugePages, chunks split or freed whole), with
#      the kernel's counters around the run (/proc/vmstat, host-wide: thp_split_page is a
#      huge page really split, its memory freed; thp_deferred_split_page one only queued,
#      its memory held until the kernel needs it) and MemAvailable before and after.
#   3. bench/snapshot_files.sh (save pause, lazy/eager restore, clones) with each setting:
#      densevm's restore and run take the setting from DENSEVM_HUGE_FRAMES.
#
#   bash bench/huge_frames.sh build
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
elf="$build/guest-tools/densevm-guest.elf"
. "$(dirname "$0")/lib.sh"
mapfile -t qemu < <(qemu_microvm "$elf")

echo "== 1. CPU seconds (median of 3) and host page faults: densevm --cpu auto --huge-frames off/on, QEMU TCG, QEMU THP off"
machine_line
printf '%-38s %7s %7s %7s %7s %7s %7s %7s %7s %8s %8s %8s\n' workload off on qemu qemu4k q/off q/on q4k/off q4k/on \
  faults-off faults-on faults-q
for w in "workload=tlbwalk size=64K steps=5000000" "workload=compute size=4M rounds=8" \
         "workload=memfill size=64M" "workload=ptchurn" "workload=tlbwalk"; do
  o=() n=() q=() k=()
  for _ in 1 2 3; do
    read -r so fo < <(perf_run "$bin" run --mem 256M --cpu auto --huge-frames off --cmdline "$w")
    read -r sn fn < <(perf_run "$bin" run --mem 256M --cpu auto --huge-frames on --cmdline "$w")
    read -r sq fq < <(perf_run "${qemu[@]}" -append "$w")
    read -r sk _ < <(perf_run --no-thp "${qemu[@]}" -append "$w")
    o+=("$so") n+=("$sn") q+=("$sq") k+=("$sk")
  done
  to=$(median3 "${o[@]}") tn=$(median3 "${n[@]}") tq=$(median3 "${q[@]}") tk=$(median3 "${k[@]}")
  printf '%-38s %7.3f %7.3f %7.3f %7.3f %7.2f %7.2f %7.2f %7.2f %8s %8s %8s\n' "$w" "$to" "$tn" "$tq" "$tk" \
    "$(echo "$tq / $to" | bc -l)" "$(echo "$tq / $tn" | bc -l)" "$(echo "$tk / $to" | bc -l)" "$(echo "$tk / $tn" | bc -l)" \
    "$fo" "$fn" "$fq"
done
echo "load average at the end: $(load)"

vmstat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
avail_mib() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }
echo
echo "== 2. memory where pages are given back or shared (one run each, end of run unless said)"
printf '%-9s %-4s %9s %9s %9s %9s %7s %7s %7s %9s %9s %9s\n' run huge rss-peak rss-anon anon-huge frames chunks split freed \
  thp-split deferred avail-diff
for run in balloon dedup; do
  for huge in off on off on; do
    case $run in
      balloon) args=(--mem 512M --balloon-target 64M --cmdline "workload=memfill size=400M free=1 linger=100 balloon_report=0") ;;
      dedup) args=(--vms 4 --mem 256M --dedup on --dedup-rate max --cmdline "workload=memfill size=128M hold=3") ;;
    esac
    s0=$(vmstat_of thp_split_page) d0=$(vmstat_of thp_deferred_split_page) a0=$(avail_mib)
    "$bin" run "${args[@]}" --huge-frames $huge --stats /tmp/densevm-huge.json >/dev/null
    s1=$(vmstat_of thp_split_page) d1=$(vmstat_of thp_deferred_split_page) a1=$(avail_mib)
    jq -r --arg run $run --arg huge $huge --arg s $((s1 - s0)) --arg d $((d1 - d0)) --arg a $((a1 - a0)) \
      '.host | "\($run) \($huge) \(.peak_rss_bytes / 1048576 | floor)M \(.rss_anon_bytes / 1048576 | floor)M \(.anon_huge_bytes / 1048576 | floor)M \(.frames_resident) \(.huge_chunks) \(.huge_chunks_split) \(.huge_chunks_freed) \($s) \($d) \($a)M"' \
      /tmp/densevm-huge.json | xargs printf '%-9s %-4s %9s %9s %9s %9s %7s %7s %7s %9s %9s %9s\n'
  done
  echo "load average: $(load)"
done
rm -f /tmp/densevm-huge.json

echo
for huge in off on; do
  echo "== 3. bench/snapshot_files.sh with --huge-frames $huge (load average $(load))"
  DENSEVM_HUGE_FRAMES=$huge bash "$(dirname "$0")/snapshot_files.sh" "$build"
done
