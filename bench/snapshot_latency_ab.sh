#!/usr/bin/env bash
# Snapshot latencies of two or more densevm binaries side by side, for a change that should
# move them: the binaries take turns (ROUNDS rounds, 5 by default) so that a busy machine
# weighs on each alike, and every line has the host's fault cost and load before it
# (bench/fault_cost). Per binary and phase: host ms and minor faults of the window (the
# stats' *_seconds and *_faults) for a 1 GiB guest with 512 MiB touched, as
# bench/snapshot_files.sh: the save pause, 8 in-memory clones (clone time and pause), a lazy
# restore to the first instruction (the VM ready to run it) and 8 lazy clones from one file
# (the file the first binary saved; the binaries must read the same format).
# Then per binary the median of the rounds of each phase (measured wall time, its faults,
# and the time it would take where a fault costs ${FAULT_US:-18} us: the measured time plus
# the faults times the difference from this host's median fault cost, an estimate), with the
# load and fault cost over the rounds and whether the run was idle (1-minute load under 1
# throughout) or loaded.
#   bash bench/snapshot_latency_ab.sh build/bench/fault_cost OLD/densevm NEW/densevm
set -euo pipefail
probe=$1
shift
rounds=${ROUNDS:-5}
at_us=${FAULT_US:-18}
dir=$(mktemp -d "${TMPDIR:-/tmp}/densevm-snapab.XXXXXX")
trap 'rm -rf "$dir"' EXIT
guest=(--mem 1G --cmdline "workload=memfill size=512M mark=1 hold=2")
echo "== $(date -u '+%F %H:%M UTC'), $(nproc) cores, $("$probe")"
"$1" run "${guest[@]}" --checkpoint-at marker --save "$dir/vm.snap" >/dev/null
ms() { jq -r "$1" "$2"; }
# One row per binary, round and phase: binary phase seconds faults (for the medians).
row() { jq -r --arg b "$1" --arg p "$2" "\"\\(\$b) \\(\$p) $3\"" "$4" >>"$dir/rows"; }
: >"$dir/rows"
: >"$dir/hosts"
for r in $(seq "$rounds"); do
  host=$("$probe" --brief)
  echo "$host" >>"$dir/hosts"
  echo "-- round $r [$host]"
  for bin in "$@"; do
    "$bin" run "${guest[@]}" --checkpoint-at marker --save "$dir/s.snap" --stats "$dir/save.json" >/dev/null
    "$bin" run "${guest[@]}" --checkpoint-at marker --clones 8 --stats "$dir/mem.json" >/dev/null
    "$bin" restore "$dir/vm.snap" --lazy --stats "$dir/lazy.json" >/dev/null
    "$bin" restore "$dir/vm.snap" --lazy --clones 8 --stats "$dir/files.json" >/dev/null
    printf '%-40s save pause %s | 8 clones in memory %s, pause %s | lazy restore %s | 8 from a file %s\n' "$bin" \
      "$(ms '"\(.snapshot.pause_seconds * 1e5 | round / 100) ms \(.snapshot.pause_faults) f"' "$dir/save.json")" \
      "$(ms '"\(.snapshot.clone_seconds * 1e5 | round / 100) ms \(.snapshot.clone_faults) f"' "$dir/mem.json")" \
      "$(ms '"\(.snapshot.pause_seconds * 1e5 | round / 100) ms \(.snapshot.pause_faults) f"' "$dir/mem.json")" \
      "$(ms '"\(.snapshot.restore_seconds * 1e5 | round / 100) ms \(.snapshot.restore_faults) f"' "$dir/lazy.json")" \
      "$(ms '"\(.snapshot.restore_seconds * 1e5 | round / 100) ms \(.snapshot.restore_faults) f"' "$dir/files.json")"
    row "$bin" save_pause '\(.snapshot.pause_seconds) \(.snapshot.pause_faults)' "$dir/save.json"
    row "$bin" mem_clones '\(.snapshot.clone_seconds) \(.snapshot.clone_faults)' "$dir/mem.json"
    row "$bin" mem_pause '\(.snapshot.pause_seconds) \(.snapshot.pause_faults)' "$dir/mem.json"
    row "$bin" lazy_restore '\(.snapshot.restore_seconds) \(.snapshot.restore_faults)' "$dir/lazy.json"
    row "$bin" file_clones '\(.snapshot.restore_seconds) \(.snapshot.restore_faults)' "$dir/files.json"
  done
done
# The hosts' lines read "fault 4.8 us, load 7.9" (mawk has no asort: medians through sort).
mid() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
fault=$(awk '{ print $2 }' "$dir/hosts" | mid)
lo=$(awk '{ print $5 }' "$dir/hosts" | sort -g | head -1)
hi=$(awk '{ print $5 }' "$dir/hosts" | sort -g | tail -1)
idle=$(awk -v h="$hi" 'BEGIN { print (h < 1 ? "idle" : "loaded") }')
echo "== medians of $rounds rounds, $idle run (1-minute load $lo-$hi), first-touch fault $fault us (median);" \
  "est. = measured + faults x ($at_us - $fault) us"
for bin in "$@"; do
  for phase in save_pause mem_clones mem_pause lazy_restore file_clones; do
    secs=$(awk -v b="$bin" -v p="$phase" '$1 == b && $2 == p { print $3 }' "$dir/rows" | mid)
    faults=$(awk -v b="$bin" -v p="$phase" '$1 == b && $2 == p { print $4 }' "$dir/rows" | mid)
    awk -v b="$bin" -v p="$phase" -v s="$secs" -v f="$faults" -v here="$fault" -v at="$at_us" 'BEGIN {
      ms = s * 1000; per = (p ~ /clones/) ? sprintf(" (%.3f ms a clone)", ms / 8) : ""
      printf "%-40s %-13s %7.2f ms%s, %4d faults, est. %.2f ms at %g us a fault\n", b, p, ms, per, f, ms + f * (at - here) / 1000, at }'
  done
done
