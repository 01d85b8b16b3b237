#!/usr/bin/env bash
# Snapshot latencies of two or more densevm binaries side by side, for a change that should
# move them: the binaries take turns (ROUNDS rounds, 5 by default) so that a busy machine
# weighs on each alike, and every line has the host's fault cost and load before it
# (bench/fault_cost). Per binary and phase: host ms and minor faults of the window (the
# stats' *_seconds and *_faults) for a 1 GiB guest with 512 MiB touched, as
# bench/snapshot_files.sh: the save pause, 8 in-memory clones (clone time and pause), a lazy
# restore to the first instruction and 8 lazy clones from one file (the file the first
# binary saved; the binaries must read the same format).
#   bash bench/snapshot_latency_ab.sh build/bench/fault_cost OLD/densevm NEW/densevm
set -euo pipefail
probe=$1
shift
rounds=${ROUNDS:-5}
dir=$(mktemp -d "${TMPDIR:-/tmp}/densevm-snapab.XXXXXX")
trap 'rm -rf "$dir"' EXIT
guest=(--mem 1G --cmdline "workload=memfill size=512M mark=1 hold=2")
echo "== $(date -u '+%F %H:%M UTC'), $(nproc) cores, $("$probe")"
"$1" run "${guest[@]}" --checkpoint-at marker --save "$dir/vm.snap" >/dev/null
ms() { jq -r "$1" "$2"; }
for r in $(seq "$rounds"); do
  echo "-- round $r [$("$probe" --brief)]"
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
  done
done
