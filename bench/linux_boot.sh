#!/usr/bin/env bash
# Debian 12's own kernel booted to /init by densevm and by QEMU TCG (microvm), side by side
# in one run (issue 14, item 5): host seconds until the console shows "Run /init", and the
# guest instructions it took (densevm: the VM's retired instructions at its poweroff right
# after /init; QEMU: -icount shift=0 makes its clock count instructions, so the kernel's
# timestamp on the "Run /init" line is the count in ns, in a second run: icount slows it).
# Same kernel, initrd, command line.
# QEMU's microvm runs with acpi=off: with its ACPI tables Linux 6.1 finds no TSC frequency
# under TCG and stops booting.
#
#   bench/linux_boot.sh build            # fetches the kernel into build/linux first
#   PAIRS=5 bench/linux_boot.sh build    # then 5 more bzImage boots of each, interleaved
#                                        # densevm, QEMU, densevm, ...: medians, and the
#                                        # median of the 5 ratios (a shared host drifts
#                                        # over minutes: each ratio is of neighbours)
set -euo pipefail
build=${1:-build}
pairs=${PAIRS:-0}
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/fetch-linux.sh" "$build"
L="$build/linux"
cmdline="console=ttyS0"

# timed CMD...: runs CMD, prints "<host seconds to the Run /init line> <the kernel's
# timestamp on it> <CPU seconds, user + system, of CMD until it was stopped>", and stops CMD
# once /init has printed (QEMU cannot power off here). CPU time is the figure to compare on a
# loaded machine (QEMU's second thread suffers more from load than densevm's one).
# densevm's clock is virtual time: 1 ns per instruction, plus time skipped while idle.
timed() {
  python3 - "$@" <<'PY'
import os, re, subprocess, sys, time
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
at, stamp = None, "?"
for raw in p.stdout:
    line = raw.decode(errors="replace")
    if at is None and "Run /init" in line:
        at = time.monotonic() - start
        m = re.search(r"\[\s*([0-9.]+)\]", line)
        stamp = m.group(1) if m else "?"
    if at is not None and "densevm-init:" in line:
        break
p.kill()
_, _, usage = os.wait4(p.pid, 0)
print("%.2f %s %.2f" % (at if at is not None else -1, stamp, usage.ru_utime + usage.ru_stime))
PY
}

echo "== Linux boot to /init: $(head -n1 "$L/VERSION") $(sed -n 2p "$L/VERSION"), --mem 256M, '$cmdline'"
echo "   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(date -u '+%F %H:%M UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %12s %8s %16s %18s\n' "" "host s" "CPU s" "uptime at init" "insns to poweroff"
# --cpu interp for the vmlinux only: the bzImage's XZ decompressor takes minutes interpreted.
for run in "vmlinux interp" "vmlinux auto" "vmlinuz auto"; do
  read -r k cpu <<<"$run"
  read -r secs stamp cpu_s < <(timed "$build/densevm" run --cpu "$cpu" --kernel "$L/$k" --initrd "$L/initramfs.cpio" \
    --mem 256M --cmdline "$cmdline")
  "$build/densevm" run --cpu "$cpu" --kernel "$L/$k" --initrd "$L/initramfs.cpio" --mem 256M --cmdline "$cmdline" \
    --stats /tmp/densevm-linux-bench.json >/dev/null 2>&1 || true
  insns=$(jq '.vms[0].instructions' /tmp/densevm-linux-bench.json)
  printf '%-26s %12s %8s %16s %18s\n' "densevm $k --cpu $cpu" "$secs" "$cpu_s" "$stamp s" "$insns"
done
ours_wall=$secs ours_cpu=$cpu_s
qemu=(qemu-system-x86_64 -M microvm,acpi=off -accel tcg -cpu max -m 256M -nodefaults -no-reboot -nographic
  -serial stdio -kernel "$L/vmlinuz" -initrd "$L/initramfs.cpio" -append "$cmdline")
read -r secs _ cpu_s < <(timed "${qemu[@]}")
# With -icount shift=0 one instruction is 1 ns of the guest's clock (slower: wall not used).
read -r _ stamp _ < <(timed "${qemu[@]}" -icount shift=0)
printf '%-26s %12s %8s %16s %18s\n' "qemu-tcg vmlinuz" "$secs" "$cpu_s" "${stamp} s" "(icount: 1 ns/insn)"
echo "QEMU / densevm, bzImage to /init: host time $(echo "scale=2; $secs / $ours_wall" | bc), CPU time $(echo "scale=2; $cpu_s / $ours_cpu" | bc); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ $pairs -gt 0 ]] || exit 0
echo "== $pairs pairs, bzImage to /init, densevm then QEMU each time (host s, CPU s)"
rows=()
for ((i = 1; i <= pairs; ++i)); do
  read -r dw _ dc < <(timed "$build/densevm" run --cpu auto --kernel "$L/vmlinuz" --initrd "$L/initramfs.cpio" \
    --mem 256M --cmdline "$cmdline")
  read -r qw _ qc < <(timed "${qemu[@]}")
  printf '  pair %d: densevm %6s %6s   qemu %6s %6s   load %s\n' "$i" "$dw" "$dc" "$qw" "$qc" "$(cut -d' ' -f1 /proc/loadavg)"
  rows+=("$dw $dc $qw $qc")
done
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
r = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = lambda k: statistics.median(x[k] for x in r)
print("medians: densevm host %.2f CPU %.2f, qemu host %.2f CPU %.2f" % (med(0), med(1), med(2), med(3)))
print("QEMU / densevm, median of the pairs: host time %.2f (%.2f-%.2f), CPU time %.2f (%.2f-%.2f)" % (
    statistics.median(x[2] / x[0] for x in r), min(x[2] / x[0] for x in r), max(x[2] / x[0] for x in r),
    statistics.median(x[3] / x[1] for x in r), min(x[3] / x[1] for x in r), max(x[3] / x[1] for x in r)))'
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
