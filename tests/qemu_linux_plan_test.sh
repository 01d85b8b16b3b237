#!/usr/bin/env bash
# The planner on real images: four guests of Debian's stock kernel with a busybox initramfs
# (scripts/fetch-linux.sh) booted under QEMU (microvm, TCG), each running something else
# after /init (idle; 24 MiB of /dev/urandom in tmpfs; 48 MiB of zeros in tmpfs; a copy of
# busybox), their memory dumped with dump-guest-memory over QMP, then `densevm plan
# fingerprint` on the dumps and `densevm plan fit --reference` saying how much of the four
# guests' memory is the same kernel and initramfs. Checks what must hold of any such fleet:
# the dumps are read as QEMU dumps; dedup needs less than zero-page elision alone; every
# guest holds pages of the kernel and of the initramfs's files, the same ones in all four;
# a QEMU dump with its note removed, and the kernel ELF itself, are refused.
#
#   tests/qemu_linux_plan_test.sh BUILD_DIR [OUT_DIR]   (OUT_DIR keeps the dumps and the plan)
#
# Exit 0 on success, 1 with a message on failure, 77 (skip) without qemu or python3, or when
# the kernel cannot be fetched (no network to Debian's archive).
set -uo pipefail
build=${1:?usage: $0 BUILD_DIR [OUT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
densevm=$build/densevm
qemu=${QEMU:-qemu-system-x86_64}
for tool in "$qemu" python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
[ -x "$densevm" ] || { echo "FAIL: no densevm at $densevm"; exit 1; }
bash "$here/../scripts/fetch-linux.sh" "$build" || { echo "SKIP: Debian's kernel could not be fetched"; exit 77; }
L=$build/linux

keep=${2:-}
if [ -n "$keep" ]; then dir=$keep; mkdir -p "$dir"; else dir=$(mktemp -d); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$keep" ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

runs=("echo plan-ready; sleep 1000"
      "dd if=/dev/urandom of=/tmp/random bs=1M count=24 2>/dev/null; echo plan-ready; sleep 1000"
      "dd if=/dev/zero of=/tmp/zeros bs=1M count=48 2>/dev/null; echo plan-ready; sleep 1000"
      "cp /bin/busybox /tmp/busybox-copy; echo plan-ready; sleep 1000")
for g in 0 1 2 3; do
  rm -f "$dir/g$g.core" "$dir/g$g.sock"
  timeout 600 "$qemu" -M microvm,acpi=off -accel tcg -cpu max -m 256M -nodefaults -no-reboot -nographic \
    -serial stdio -kernel "$L/vmlinuz" -initrd "$L/initramfs.cpio" \
    -append "console=ttyS0 cryptomgr.notests densevm.run=\"${runs[$g]}\"" \
    -qmp "unix:$dir/g$g.sock,server=on,wait=off" >"$dir/g$g.console" 2>&1 </dev/null &
  pids+=($!)
done

# Each guest dumped once it says plan-ready, then stopped.
python3 - "$dir" <<'PY' || exit 1
import json, os, socket, sys, time
d = sys.argv[1]
def qmp(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()
    def cmd(name, **a):
        f.write(json.dumps({"execute": name, "arguments": a}) + "\n")
        f.flush()
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m:
                return m
    cmd("qmp_capabilities")
    return cmd
pending = {0, 1, 2, 3}
deadline = time.time() + 540
while pending and time.time() < deadline:
    for g in sorted(pending):
        lines = open(f"{d}/g{g}.console", errors="replace").read().splitlines()
        if "plan-ready" not in (l.strip() for l in lines):  # its own line, not the command line
            continue
        time.sleep(1)  # let the shell reach its sleep
        cmd = qmp(f"{d}/g{g}.sock")
        r = cmd("dump-guest-memory", paging=False, protocol=f"file:{d}/g{g}.core")
        if "error" in r:
            sys.exit(f"FAIL: dump-guest-memory g{g}: {r['error']}")
        cmd("quit")
        print(f"ok: g{g} dumped")
        pending.discard(g)
    time.sleep(0.5)
if pending:
    sys.exit(f"FAIL: guests {sorted(pending)} did not reach plan-ready")
PY

"$densevm" plan fingerprint "$dir"/g0.core "$dir"/g1.core "$dir"/g2.core "$dir"/g3.core -o "$dir" || fail "plan fingerprint"
fps=("$dir"/g0.core.fp "$dir"/g1.core.fp "$dir"/g2.core.fp "$dir"/g3.core.fp)
refs=(--reference "kernel=$L/vmlinux" --reference "initramfs=$L/initramfs.cpio")
"$densevm" plan fit --host-mem 1G "${refs[@]}" "${fps[@]}" | tee "$dir/plan.txt" || fail "plan fit"
"$densevm" plan fit --host-mem 1G "${refs[@]}" "${fps[@]}" --json >"$dir/plan.json" || fail "plan fit --json"
python3 - "$dir/plan.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
t, vms = d["techniques"], d["vms"]
MiB = 1 << 20
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
check(all(v["image"] == "qemu-dump" for v in vms), "the dumps are read as QEMU dumps")
check(t["dedup"]["guest_bytes"] < t["zero"]["guest_bytes"], "dedup saves over zero-page elision")
check(t["dedup"]["vmm_bytes"] > 0, "the VMM's own memory is counted")
refs = {r["label"]: r for r in d["references"]}
for label, least in (("kernel", 4 * MiB), ("initramfs", 1 * MiB)):
    r = refs[label]
    check(r["in_every_vm_bytes"] >= least, f"{label}: {r['in_every_vm_bytes'] // MiB} MiB in every guest, want {least // MiB}")
    check(r["fleet_bytes"] >= 4 * r["in_every_vm_bytes"], f"{label}: the fleet holds it four times")
shared = sum(v["nonzero_bytes"] for v in vms) - t["dedup"]["guest_bytes"]
print(f"ok: dedup saves {shared / MiB:.1f} MiB of {sum(v['nonzero_bytes'] for v in vms) / MiB:.1f} MiB; "
      + "; ".join(f"{r['label']}: {r['in_every_vm_bytes'] / MiB:.1f} MiB in every guest, "
                  f"{r['fleet_bytes'] / MiB:.1f} MiB of the four" for r in d["references"]))
PY

# Refused: a QEMU dump without QEMU's note (the note's name overwritten), and an ELF that is
# not a core (the kernel itself).
python3 - "$dir/g0.core" "$dir/noqemu.core" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read(1 << 16))
i = data.find(b"QEMU\0")
data[i:i + 4] = b"XEMU"
with open(sys.argv[2], "wb") as f:
    f.write(data)
    with open(sys.argv[1], "rb") as src:
        src.seek(1 << 16)
        while chunk := src.read(1 << 24):
            f.write(chunk)
PY
for bad in "$dir/noqemu.core" "$L/vmlinux"; do
  out=$("$densevm" plan fingerprint "$bad" -o "$dir/refused" 2>&1) && fail "$bad accepted"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "$bad: not one line: $out"
  [ ! -e "$dir/refused/$(basename "$bad").fp" ] || fail "$bad: a fingerprint was left"
  echo "ok: refused: $out"
done
echo "ok: plan on four QEMU guests of Debian's kernel"
