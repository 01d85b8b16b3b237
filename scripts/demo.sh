#!/usr/bin/env bash
# `make run`: a small, telling demo of what densevm is for — many guests in one process,
# and the host memory they really cost with and without page sharing and ballooning: first
# with the built-in guest kernel, then with Debian's own Linux kernel (fetched into
# BUILD/linux by scripts/fetch-linux.sh; skipped, saying why, when it cannot be fetched).
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
"$bin" plan report --host-mem 192M --guest-code small --hosts 3 "${fps[@]}" -o "$out/plan.html" | sed 's/^/   /'
"$bin" plan fit --host-mem 512M --guest-code small "${fps[@]:0:4}" --json >"$out/plan-fleet.json"
"$bin" restore "${snaps[@]}" --dedup on --dedup-rate 1000000 --stats "$out/fleet-restored.json" >/dev/null
jq -r --slurpfile plan "$out/plan-fleet.json" '($plan[0].techniques.dedup.guest_bytes) as $p | (.host.frames_resident * 4096) as $m |
  "   the four restored together with --dedup on: \($m / 1048576 * 10 | floor / 10) MiB of frames, predicted \($p / 1048576 * 10 | floor / 10) MiB (\(($m - $p) / $p * 1000 | round / 10)%)"' "$out/fleet-restored.json"
echo
linux_demo() {
  local L="$build/linux" mark='printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null'
  local base=(--kernel "$L/vmlinux" --initrd "$L/initramfs.cpio")
  echo "== 8. Debian 12's own Linux kernel, unmodified ($(head -n1 "$L/VERSION")), booted to a busybox /init"
  "$bin" run "${base[@]}" --mem 128M --cmdline 'console=ttyS0 cryptomgr.notests densevm.run="uname -sr; cat /proc/cpuinfo | grep -m1 model.name"' \
    --stats "$out/linux.json" | grep -E "Linux version|Run /init|densevm-init: /init|^Linux |model name|Power down" | sed 's/^/   /'
  jq -r '"   \(.vms[0].instructions / 1e6 | floor) M guest instructions in \(.host.wall_seconds * 10 | floor / 10) s, \(.vms[0].cpu.translate.retired_translated * 100 / .vms[0].instructions | floor)% of them as translated code"' "$out/linux.json"
  echo
  echo "== 9. four Linux guests of 256 MiB share their kernel: page sharing on"
  "$bin" run "${base[@]}" --mem 256M --vms 4 --dedup on --cmdline 'console=ttyS0 cryptomgr.notests quiet densevm.run="sleep 3"' \
    --stats "$out/linux-dedup.json" >/dev/null
  jq -r '"   each guest touched \(.vms[0].memory.resident_pages / 256 | floor) MiB, \(.vms[0].memory.shared_pages * 100 / .vms[0].memory.resident_pages | floor)% of it shared with the others;\n   host frames for all four: \(.host.frames_resident / 256 | floor) MiB, where they touched \([.vms[].memory.resident_pages] | add / 256 | floor) MiB (\(.dedup.bytes_saved / 1048576 | floor) MiB saved)"' "$out/linux-dedup.json"
  echo
  echo "== 10. two Linux guests of 256 MiB each fill 160 MiB of page cache and free it, in a --host-budget of 256 MiB"
  "$bin" run "${base[@]}" --mem 256M --vms 2 --host-budget 256M --stats "$out/linux-budget.json" --cmdline \
    "console=ttyS0 cryptomgr.notests quiet densevm.run=\"dd if=/dev/zero of=/tmp/fill bs=1M count=160 2>/dev/null; $mark; rm /tmp/fill; sleep 3; $mark; grep MemFree /proc/meminfo\"" |
    grep -E '^\[vm[0-9]\] MemFree' | sed 's/^/   /'
  jq -r '.host.marker_samples as $s | "   host RSS with both full: \($s[1].rss_bytes / 1048576 | floor) MiB; 3 s after they freed it: \($s[3].rss_bytes / 1048576 | floor) MiB,\n   their own virtio_balloon drivers holding \($s[3].ballooned_pages / 256 | floor) MiB (host.marker_samples, taken at /init'"'"'s markers)"' "$out/linux-budget.json"
  echo
}
if bash "$(dirname "$0")/fetch-linux.sh" "$build" 2>"$out/fetch-linux.log"; then
  linux_demo
else
  echo "== 8. (Linux guests skipped: $(tail -n1 "$out/fetch-linux.log"))"
  echo
fi
echo "Statistics of every run are in $out/ (see README.md for the fields); the plan is $out/plan.html."
