#!/usr/bin/env bash
# Snapshot files for a 1 GiB guest with 512 MiB touched (memfill's default zero/shared/unique
# mix, checkpointed at its "filled" marker), all from --stats of one run each:
#   - save: the pause (the guest stands still while it is frozen into a template and the VM
#     going on is made), the background save (encode + synced write) and its throughput
#     against the disk's (dd with fsync, same bytes, same directory), file size against
#     touched memory, plain and zstd;
#   - restore to the first instruction, lazy and eager (median of 3);
#   - clones: 8 VMs restored lazily from the file: time per clone, host RSS against one VM;
#     and 8 clones of the running VM in memory (run --clones 8), from the same checkpoint.
# Latencies scale with the host's first-touch fault cost (a few us in a VM, far less on bare
# metal): bench/fault_cost measures it with the load average right before each figure and
# its line goes beside it in brackets; the first line names the CPU. Each latency figure has
# the minor faults its window took beside it (the stats' *_faults: the faults of the thread
# doing it) and what it would be on a host where a fault costs ${FAULT_US:-18} us: the figure
# plus the faults times the difference from this host's fault cost (an estimate).
# DENSEVM_HUGE_FRAMES=off|on|auto: --huge-frames of every run and restore (auto when unset).
set -euo pipefail
bin=${1:-build}/densevm
probe=${1:-build}/bench/fault_cost
dir=$(mktemp -d "${TMPDIR:-/tmp}/densevm-snapbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
huge=(--huge-frames "${DENSEVM_HUGE_FRAMES:-auto}")
guest=(--mem 1G --cmdline "workload=memfill size=512M mark=1 hold=2" "${huge[@]}")
median() { sort -g | sed -n "$((($1 + 1) / 2))p"; }
at_us=${FAULT_US:-18}
# "<ms> ms, <faults> faults (~<estimate> ms at 18 us a fault)" from seconds, faults and the
# probe's line ("fault 1.4 us, load 3.2").
with_faults() {
  awk -v s="$1" -v f="$2" -v h="$3" -v at="$at_us" 'BEGIN {
    split(h, w, " "); here = w[2] + 0
    printf "%.2f ms, %d faults (~%.2f ms at %g us a fault)", s * 1000, f, s * 1000 + f * (at - here) / 1000, at }'
}
# An idle run (load under 1 on the 1-minute average) or a loaded one: BENCHMARKS.md keeps both.
run=$(awk '{ print ($1 < 1 ? "idle" : "loaded") " run" }' /proc/loadavg)
echo "== $(date -u '+%F %H:%M UTC'), $(nproc) cores, $run, $("$probe")"

"$probe" --brief >"$dir/save.host"
"$bin" run "${guest[@]}" --checkpoint-at marker --save "$dir/vm.snap" --stats "$dir/save.json" >/dev/null
"$probe" --brief >"$dir/savez.host"
"$bin" run "${guest[@]}" --checkpoint-at marker --save "$dir/vmz.snap" --compress --stats "$dir/savez.json" >/dev/null
bytes=$(jq .snapshot.file_bytes "$dir/save.json")
touched=$(jq '.snapshot.pages_mapped * 4096' "$dir/save.json")
s=$(date +%s.%N)
dd if=/dev/zero of="$dir/dd.bin" bs=1M count=$((bytes >> 20)) conv=fsync status=none
e=$(date +%s.%N)
rm -f "$dir/dd.bin"
disk=$(echo "($bytes >> 20) / ($e - $s)" | sed 's/>> 20/\/ 1048576/' | bc -l)
for f in save savez; do
  pause=$(with_faults "$(jq .snapshot.pause_seconds "$dir/$f.json")" "$(jq .snapshot.pause_faults "$dir/$f.json")" "$(cat "$dir/$f.host")")
  echo "$(jq -r --arg pause "$pause" --arg touched "$touched" --arg disk "$disk" '.snapshot |
    "\(if .compressed then "save (zstd)" else "save       " end): pause \($pause), saved in the background in \(.save_seconds * 1000 | floor) ms, \(.file_bytes / 1048576 | floor) MiB file for \(($touched|tonumber) / 1048576 | floor) MiB touched (\(.file_bytes * 100 / ($touched|tonumber) | floor)%; \(.pages_zero_elided) zero pages elided), \(.file_bytes / 1048576 / .save_seconds | floor) MiB/s vs disk \($disk|tonumber|floor) MiB/s"' "$dir/$f.json") [$(cat "$dir/$f.host")]"
done

for mode in lazy eager; do
  host=$("$probe" --brief)
  read -r secs faults < <(for _ in 1 2 3; do
    "$bin" restore "$dir/vm.snap" --$mode "${huge[@]}" --stats "$dir/r.json" >/dev/null
    jq -r '"\(.snapshot.restore_seconds) \(.snapshot.restore_faults)"' "$dir/r.json"
  done | median 3)
  printf "restore %-5s to first instruction: %s (median of 3) [%s]\n" $mode "$(with_faults "$secs" "$faults" "$host")" "$host"
done
"$bin" restore "$dir/vm.snap" --lazy "${huge[@]}" --stats "$dir/one.json" >/dev/null
host=$("$probe" --brief)
"$bin" restore "$dir/vm.snap" --lazy --clones 8 "${huge[@]}" --stats "$dir/clones.json" >/dev/null
ready=$(with_faults "$(jq .snapshot.restore_seconds "$dir/clones.json")" "$(jq .snapshot.restore_faults "$dir/clones.json")" "$host")
jq -r --slurpfile one "$dir/one.json" --arg ready "$ready" '"clones: 8 from one file in \($ready); \(.snapshot.restore_seconds * 1000 / 8 * 100 | floor / 100) ms per clone; host RSS \(.host.rss_bytes / 1048576 | floor) MiB for 8 vs \($one[0].host.rss_bytes / 1048576 | floor) MiB for 1; \(.snapshot.frames_loaded) frames loaded for \(.snapshot.pages_fetched) page fetches [\($host)]"' --arg host "$host" "$dir/clones.json"
host=$("$probe" --brief)
"$bin" run "${guest[@]}" --checkpoint-at marker --clones 8 --stats "$dir/tclones.json" >/dev/null
cloned=$(with_faults "$(jq .snapshot.clone_seconds "$dir/tclones.json")" "$(jq .snapshot.clone_faults "$dir/tclones.json")" "$host")
paused=$(with_faults "$(jq .snapshot.pause_seconds "$dir/tclones.json")" "$(jq .snapshot.pause_faults "$dir/tclones.json")" "$host")
jq -r --arg host "$host" --arg cloned "$cloned" --arg paused "$paused" '"clones in memory: 8 from the running VM in \($cloned); pause \($paused); host RSS \(.host.rss_bytes / 1048576 | floor) MiB; \(.snapshot.pages_fetched) page fetches [\($host)]"' "$dir/tclones.json"
