#!/usr/bin/env bash
# Balloon reclaim end to end (issue 5's goal: 1 GiB back to the host in under 0.5 s of host
# time): a guest fills and frees 1 GiB, the host raises the balloon target by 1 GiB, and
# balloon_reclaim times the guest driver and the device until `actual` reaches the target,
# in host time and guest (virtual) time, with VmRSS before and after. Three runs, then the
# median host time per GiB.
set -euo pipefail
bin=${1:-build}/bench/balloon_reclaim
runs=()
for _ in 1 2 3; do
  line=$("$bin" --size 1G)
  echo "$line"
  runs+=("$(sed -E 's/^[^(]*\(([0-9.]+) s\/GiB.*/\1/' <<<"$line")")
done
printf 'median host time per GiB: %s s\n' "$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)"
