#!/usr/bin/env bash
# `make run`: a small, telling demo of what densevm is for — many guests in one process,
# and the host memory they really cost with and without page sharing and ballooning.
set -euo pipefail
build=${1:-build}
bin="$build/densevm"
out="$build/demo"
mkdir -p "$out"
mib() { echo $(( $1 / 1048576 )); }

echo "== 1. densevm run: the built-in guest kernel, workload=hello"
"$bin" run
echo
fill="workload=memfill size=48M zero=30 shared=40 unique=30 image=1 hold=20"
echo "== 2. four guests of 64 MiB, each filling 48 MiB (30% zero, 40% same OS image, 30% unique)"
"$bin" run --vms 4 --mem 64M --cmdline "$fill" --dedup off --stats "$out/off.json" | grep "memfill ok"
"$bin" run --vms 4 --mem 64M --cmdline "$fill" --dedup on --dedup-rate max --stats "$out/on.json" >/dev/null
off=$(jq '.host.rss_bytes' "$out/off.json"); on=$(jq '.host.rss_bytes' "$out/on.json")
printf '   host RSS, sharing off: %5d MiB\n' "$(mib "$off")"
printf '   host RSS, sharing on:  %5d MiB  (%d%% of off; %s merges, %s zero pages)\n' "$(mib "$on")" \
  $(( on * 100 / off )) "$(jq '.dedup.merges' "$out/on.json")" "$(jq '.dedup.zero_pages' "$out/on.json")"
echo
echo "== 3. one 512 MiB guest fills 400 MiB, frees it, and the balloon gives it back to the host"
"$bin" run --mem 512M --balloon-target 64M --cmdline "workload=memfill size=400M free=1 linger=100" \
  --stats "$out/balloon.json" | grep "memfill ok"
printf '   host RSS: peak %d MiB, after the balloon %d MiB; balloon holds %s pages\n' \
  "$(mib "$(jq '.host.peak_rss_bytes' "$out/balloon.json")")" "$(mib "$(jq '.host.rss_bytes' "$out/balloon.json")")" \
  "$(jq '.vms[0].balloon.actual_pages' "$out/balloon.json")"
echo
echo "== 4. the MMU modes on a TLB-miss-heavy guest (memory references per TLB miss)"
for mode in ept shadow; do
  "$bin" run --mmu "$mode" --cmdline "workload=tlbwalk steps=300000" --stats "$out/$mode.json" >/dev/null
  jq -r --arg m "$mode" '.vms[0].mmu | "   \($m):\t\(.tlb_misses) misses, \(.walk_refs / .tlb_misses * 10 | floor / 10) references per miss"' "$out/$mode.json"
done
echo
echo "== 5. a snapshot taken when the guest has filled 128 MiB, then 4 clones restored lazily from it"
"$bin" run --mem 256M --cmdline "workload=memfill size=128M mark=1 hold=2" --checkpoint-at marker \
  --save "$out/demo.snap" --stats "$out/save.json" | grep "memfill ok"
"$bin" restore "$out/demo.snap" --lazy --clones 4 --stats "$out/clones.json" | grep "memfill ok"
jq -r --slurpfile save "$out/save.json" '"   file \($save[0].snapshot.file_bytes / 1048576 | floor) MiB, written while the guest ran on (it stood still \($save[0].snapshot.pause_seconds * 10000 | floor / 10) ms); 4 clones ready to run in \(.snapshot.restore_seconds * 10000 | floor / 10) ms; host RSS for all 4: \(.host.rss_bytes / 1048576 | floor) MiB (their pages are shared until written)"' "$out/clones.json"
echo
echo "== 6. the same guest cloned 4 times in memory at the marker, no file"
"$bin" run --mem 256M --cmdline "workload=memfill size=128M mark=1 hold=2" --checkpoint-at marker \
  --clones 4 --stats "$out/live-clones.json" | grep "memfill ok"
jq -r '"   4 clones ready in \(.snapshot.clone_seconds * 10000 | floor / 10) ms; host RSS for the frozen VM and its 4 clones: \(.host.rss_bytes / 1048576 | floor) MiB"' "$out/live-clones.json"
echo
echo "== 7. a plan of these guests: step 2's four saved at their marker and step 5's, fingerprinted"
fleet="workload=memfill size=48M zero=30 shared=40 unique=30 image=1 mark=1 hold=20 linger=60"
"$bin" run --vms 4 --mem 64M --cmdline "$fleet" --checkpoint-at marker --save "$out/fleet.snap" >/dev/null
snaps=("$out"/fleet.vm0.snap "$out"/fleet.vm1.snap "$out"/fleet.vm2.snap "$out"/fleet.vm3.snap)
"$bin" plan fingerprint "${snaps[@]}" "$out/demo.snap" -o "$out" | sed 's/^/   /'
fps=("$out"/fleet.vm0.snap.fp "$out"/fleet.vm1.snap.fp "$out"/fleet.vm2.snap.fp "$out"/fleet.vm3.snap.fp "$out/demo.snap.fp")
"$bin" plan report --host-mem 192M --hosts 3 "${fps[@]}" -o "$out/plan.html" | sed 's/^/   /'
"$bin" plan fit --host-mem 512M "${fps[@]:0:4}" --json >"$out/plan-fleet.json"
"$bin" restore "${snaps[@]}" --dedup on --dedup-rate 1000000 --stats "$out/fleet-restored.json" >/dev/null
jq -r --slurpfile plan "$out/plan-fleet.json" '($plan[0].techniques.dedup.host_bytes) as $p | (.host.frames_resident * 4096) as $m |
  "   the four restored together with --dedup on: \($m / 1048576 * 10 | floor / 10) MiB of frames, predicted \($p / 1048576 * 10 | floor / 10) MiB (\(($m - $p) / $p * 1000 | round / 10)%)"' "$out/fleet-restored.json"
echo
echo "Statistics of every run are in $out/ (see README.md for the fields); the plan is $out/plan.html."
