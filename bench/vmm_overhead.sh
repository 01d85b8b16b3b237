#!/usr/bin/env bash
# The VMM's own memory per VM (issue: the planner predicts guest pages only): densevm runs N
# VMs of a workload in a --cpu mode, and the end-of-run statistics split the process's
# memory (host.rss_anon_bytes, plus host.shmem_bytes: the translator's code, a memfd that
# RssAnon leaves out; the VMs still holding theirs) into
#   guest    FrameStore frames (host.frames_resident x 4 KiB) less the P2M and shadow tables
#   vmm      the rest: the tables, decode caches, translations, soft TLBs, device state...
# with the per-VM parts the VMM reports (vms[].vmm.*). The marginal cost of a VM is
# (vmm(N) - vmm(1)) / (N - 1); vmm(1) less that is the process's own fixed cost.
# planner/README.md ("The VMM's own memory") fits `plan --vmm-overhead auto` to these figures.
#
#   bench/vmm_overhead.sh build            # all rows (Linux rows need build/linux)
#   bench/vmm_overhead.sh build builtin    # only densevm's own workloads
#   bench/vmm_overhead.sh build check      # the model against real runs: `plan fit` of a
#                                          # fleet's snapshots, then the fleet run with dedup
set -euo pipefail
build=${1:-build}
only=${2:-all}
L="$build/linux"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# row LABEL ARGS...: one run, its split.
row() {
  local label=$1
  shift
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  "$build/densevm" "$@" --stats "$out/s.json" >/dev/null 2>"$out/err" || {
    echo "$label: densevm failed: $(tail -n1 "$out/err")"
    return
  }
  python3 - "$label" "$out/s.json" "$load" <<'PY'
import json, sys
label, path, load = sys.argv[1], sys.argv[2], sys.argv[3]
s = json.load(open(path))
h, vms = s["host"], s["vms"]
M = 1 << 20
frames = h["frames_resident"] * 4096
parts = {k: sum(v["vmm"][k] for v in vms) for k in vms[0]["vmm"]}
tables = parts["p2m_table_bytes"] + parts["shadow_table_bytes"]
guest = frames - tables
mem = h["rss_anon_bytes"] + h["shmem_bytes"]
vmm = mem - guest
shared = max(v["cpu"]["translate"]["shared_bytes"] for v in vms)
decoded = sum(v["cpu"]["decoded_instructions"] for v in vms)
print("%-34s %3d %9.1f %9.1f %9.1f %8.1f %8.1f %8.1f %7.1f %7.1f %9d %5s" % (
    label, len(vms), mem / M, guest / M, vmm / M, parts["decode_cache_bytes"] / M,
    parts["translation_bytes"] / M, shared / M, tables / M, parts["soft_tlb_bytes"] / M, decoded // len(vms), load))
PY
}

if [[ $only != check ]]; then
  printf '%-34s %3s %9s %9s %9s %8s %8s %8s %7s %7s %9s %5s\n' "run" "VMs" "memory" "guest" "vmm" "decode" \
    "transl" "shared" "tables" "tlb" "dec/VM" "load"
  echo "(MiB; memory = RssAnon + Pss_Shmem; vmm = memory - guest frames; decode/transl/tables/tlb: sums of vms[].vmm.*; shared: the template's translations the clones run)"
fi
if [[ $only == all || $only == builtin ]]; then
  for cpu in interp translate auto; do
    for n in 1 8; do
      row "memfill 32M --cpu $cpu" run --vms "$n" --mem 64M --cpu "$cpu" --cmdline "workload=memfill size=32M"
    done
  done
  for n in 1 8; do
    row "compute --cpu auto" run --vms "$n" --mem 64M --cpu auto --cmdline "workload=compute"
  done
fi
if [[ $only == all || $only == linux ]]; then
  mark='printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null'
  lx=(--kernel "$L/vmlinux" --initrd "$L/initramfs.cpio" --mem 128M)
  for cpu in auto translate; do
    for n in 1 4; do
      row "linux 128M --cpu $cpu" run "${lx[@]}" --vms "$n" --cpu "$cpu" --cmdline "console=ttyS0 cryptomgr.notests densevm.run=\"true\""
    done
  done
  row "linux 128M --cpu interp" run "${lx[@]}" --cpu interp --cmdline "console=ttyS0 cryptomgr.notests densevm.run=\"true\""
  for share in on off; do
    for k in 1 8; do
      row "linux clones, share $share" run "${lx[@]}" --cpu auto --share-translations "$share" \
        --cmdline "console=ttyS0 cryptomgr.notests densevm.run=\"$mark; sleep 1\"" --checkpoint-at marker --clones "$k"
    done
  done
fi
if [[ $only == check ]]; then
  # compare LABEL PLAN.json STATS.json: the plan's dedup prediction against a run's memory.
  compare() {
    python3 - "$@" <<'PY'
import json, sys
label, plan, stats = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
M = 1 << 20
t, h, vms = plan["techniques"]["dedup"], stats["host"], stats["vms"]
frames = h["frames_resident"] * 4096
tables = sum(v["vmm"]["p2m_table_bytes"] + v["vmm"]["shadow_table_bytes"] for v in vms)
guest, anon = frames - tables, h["rss_anon_bytes"] + h["shmem_bytes"]
pct = lambda a, b: 100.0 * (a - b) / b
print("%-28s predicted: guest %7.1f + VMM %6.1f = %7.1f MiB | measured: guest frames %7.1f (%+5.1f%%), VMM %6.1f "
      "(%+5.1f%%), memory %7.1f (%+5.1f%%); guest-only plan %+5.1f%%" % (
      label, t["guest_bytes"] / M, t["vmm_bytes"] / M, t["host_bytes"] / M, guest / M, pct(t["guest_bytes"], guest),
      (anon - guest) / M, pct(t["vmm_bytes"], anon - guest), anon / M, pct(t["host_bytes"], anon),
      pct(t["guest_bytes"], anon)))
PY
  }
  mark='printf x | dd of=/dev/port bs=1 seek=246 count=1 2>/dev/null'
  # Four Linux guests (the plan e2e test's), each doing something else at /init.
  run="case \$vm in 1) dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null;; 2) dd if=/dev/zero of=/tmp/z bs=1M count=16 2>/dev/null;; 3) cp /bin/busybox /tmp/b;; esac; $mark; sleep 2"
  lx=(--kernel "$L/vmlinux" --initrd "$L/initramfs.cpio" --mem 128M --vms 4 --cmdline "console=ttyS0 cryptomgr.notests densevm.run=\"$run\"")
  "$build/densevm" run "${lx[@]}" --checkpoint-at marker --save "$out/lx.snap" >/dev/null
  "$build/densevm" plan fingerprint "$out"/lx.vm{0,1,2,3}.snap -o "$out" >/dev/null
  "$build/densevm" plan fit --host-mem 4G --json "$out"/lx.vm{0,1,2,3}.snap.fp >"$out/lx.plan.json"
  "$build/densevm" run "${lx[@]}" --dedup on --dedup-rate max --stats "$out/lx.run.json" >/dev/null
  compare "4 Linux, booted (run)" "$out/lx.plan.json" "$out/lx.run.json"
  "$build/densevm" restore "$out"/lx.vm{0,1,2,3}.snap --dedup on --dedup-rate max --stats "$out/lx.restore.json" >/dev/null
  compare "4 Linux, restored" "$out/lx.plan.json" "$out/lx.restore.json"
  # Three of densevm's own memfill guests (the plan e2e test's mixes, 128 MiB filled).
  mixes=("zero=30 shared=40 unique=30 image=1 seed=1" "zero=30 shared=40 unique=30 image=1 seed=2"
    "zero=20 shared=70 unique=10 image=2 seed=3")
  for k in 0 1 2; do
    "$build/densevm" run --mem 256M --cmdline "workload=memfill size=128M ${mixes[$k]} mark=1 hold=20 linger=100" \
      --checkpoint-at marker --save "$out/m$k.snap" >/dev/null
  done
  "$build/densevm" plan fingerprint "$out"/m{0,1,2}.snap -o "$out" >/dev/null
  "$build/densevm" plan fit --host-mem 4G --guest-code small --json "$out"/m{0,1,2}.snap.fp >"$out/m.plan.json"
  "$build/densevm" restore "$out"/m{0,1,2}.snap --dedup on --dedup-rate 1000000 --stats "$out/m.restore.json" >/dev/null
  compare "3 memfill, restored" "$out/m.plan.json" "$out/m.restore.json"
fi
