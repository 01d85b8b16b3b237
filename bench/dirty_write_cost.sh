#!/usr/bin/env bash
# What dirty logging costs a guest that writes: the EPT D bit a walk sets on a page's first
# write after each harvest, for one or more
# densevm binaries side by side (e.g. one built without the D bit, main's, a branch's), run
# alternately so that they see the same load. memfill rewrites its shared pages `rewrite`
# times; with --dedup on the scanner harvests the D bits, so each rewrite round walks the
# EPT again for every page. Prints the CPU model and load average first, then per run the
# process's CPU time less the scanner's (dedup.scan_seconds): the guest side.
#
#   bash bench/dirty_write_cost.sh /tmp/densevm-no-d /tmp/densevm-main build/densevm
set -euo pipefail
(($# > 0)) || { echo "usage: dirty_write_cost.sh DENSEVM..." >&2; exit 1; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
python3 - "$@" <<'PY'
import json, os, resource, subprocess, sys, tempfile
bins = sys.argv[1:]
cmd = "workload=memfill size=32M rewrite=40"
stats = os.path.join(tempfile.mkdtemp(), "s.json")
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
results = {}
for rnd in range(3):
    for mode in ("interp", "auto"):
        for dedup in ("off", "on"):
            for b in bins:
                before = cpu()
                subprocess.run([b, "run", "--mem", "64M", "--cpu", mode, "--dedup", dedup, "--stats", stats,
                                "--cmdline", cmd], check=True, stdout=subprocess.DEVNULL)
                d = json.load(open(stats))
                guest = cpu() - before - d["dedup"]["scan_seconds"]
                results.setdefault((mode, dedup, b), []).append(guest)
                print(f"round {rnd} --cpu {mode} --dedup {dedup} {b}: guest-side CPU {guest:.3f} s, "
                      f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
for (mode, dedup, b), v in sorted(results.items()):
    print(f"--cpu {mode} --dedup {dedup} {b}: median {sorted(v)[len(v) // 2]:.3f} s of {['%.3f' % x for x in v]}")
PY
