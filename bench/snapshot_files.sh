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
# its line goes beside it in brackets; the first line names the CPU.
# DENSEVM_HUGE_FRAMES=off|on|auto: --huge-frames of every run and restore (auto when unset).
set -euo pipefail
bin=${1:-build}/densevm
probe=${1:-build}/bench/fault_cost
dir=$(mktemp -d "${TMPDIR:-/tmp}/densevm-snapbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
huge=(--huge-frames "${DENSEVM_HUGE_FRAMES:-auto}")
guest=(--mem 1G --cmdline "workload=memfill size=512M mark=1 hold=2" "${huge[@]}")
median() { sort -n | sed -n "$((($1 + 1) / 2))p"; }
echo "== $(date -u '+%F %H:%M UTC'), $(nproc) cores, $("$probe")"

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
  echo "$(jq -r --arg touched "$touched" --arg disk "$disk" '.snapshot |
    "\(if .compressed then "save (zstd)" else "save       " end): pause \(.pause_seconds * 1000 * 100 | floor / 100) ms, saved in the background in \(.save_seconds * 1000 | floor) ms, \(.file_bytes / 1048576 | floor) MiB file for \(($touched|tonumber) / 1048576 | floor) MiB touched (\(.file_bytes * 100 / ($touched|tonumber) | floor)%; \(.pages_zero_elided) zero pages elided), \(.file_bytes / 1048576 / .save_seconds | floor) MiB/s vs disk \($disk|tonumber|floor) MiB/s"' "$dir/$f.json") [$(cat "$dir/$f.host")]"
done

for mode in lazy eager; do
  host=$("$probe" --brief)
  for _ in 1 2 3; do
    "$bin" restore "$dir/vm.snap" --$mode "${huge[@]}" --stats "$dir/r.json" >/dev/null
    jq .snapshot.restore_seconds "$dir/r.json"
  done | median 3 | awk -v m=$mode -v h="$host" '{printf "restore %-5s to first instruction: %.2f ms (median of 3) [%s]\n", m, $1 * 1000, h}'
done
"$bin" restore "$dir/vm.snap" --lazy "${huge[@]}" --stats "$dir/one.json" >/dev/null
host=$("$probe" --brief)
"$bin" restore "$dir/vm.snap" --lazy --clones 8 "${huge[@]}" --stats "$dir/clones.json" >/dev/null
jq -r --slurpfile one "$dir/one.json" '"clones: 8 from one file in \(.snapshot.restore_seconds * 1000 * 100 | floor / 100) ms (\(.snapshot.restore_seconds * 1000 / 8 * 100 | floor / 100) ms per clone); host RSS \(.host.rss_bytes / 1048576 | floor) MiB for 8 vs \($one[0].host.rss_bytes / 1048576 | floor) MiB for 1; \(.snapshot.frames_loaded) frames loaded for \(.snapshot.pages_fetched) page fetches [\($host)]"' --arg host "$host" "$dir/clones.json"
host=$("$probe" --brief)
"$bin" run "${guest[@]}" --checkpoint-at marker --clones 8 --stats "$dir/tclones.json" >/dev/null
jq -r --arg host "$host" '"clones in memory: 8 from the running VM in \(.snapshot.clone_seconds * 1000 * 100 | floor / 100) ms (\(.snapshot.clone_seconds * 1000 / 8 * 100 | floor / 100) ms per clone; pause \(.snapshot.pause_seconds * 1000 * 100 | floor / 100) ms); host RSS \(.host.rss_bytes / 1048576 | floor) MiB; \(.snapshot.pages_fetched) page fetches [\($host)]"' "$dir/tclones.json"
