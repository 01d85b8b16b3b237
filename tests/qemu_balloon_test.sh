#!/usr/bin/env bash
# QEMU as a balloon peer: boots the densevm guest kernel under QEMU (microvm, TCG) with
# QEMU's own virtio-balloon-device, drives it over QMP (`balloon`, `query-balloon`) and checks
# that our guest driver inflates to the requested size and deflates back. The driver polls
# (no interrupts on densevm, and it polls here too); QEMU appends the virtio_mmio.device=
# entry itself with acpi=off, and force-legacy=false gives the version-2 (virtio 1.x) layout.
#
#   tests/qemu_balloon_test.sh build/guest-tools/densevm-guest.elf
#
# Exit 0 on success, 1 with a message on failure, 77 (skip) without qemu or python3.
set -uo pipefail

elf=${1:?usage: $0 path/to/densevm-guest.elf}
qemu=${QEMU:-qemu-system-x86_64}
for tool in "$qemu" python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
[ -f "$elf" ] || { echo "FAIL: no guest kernel at $elf"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null' EXIT
sock=$dir/qmp.sock

timeout 120 "$qemu" -M microvm,acpi=off -m 256M -nodefaults -no-reboot -nographic \
  -serial stdio -global virtio-mmio.force-legacy=false \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -device virtio-balloon-device,deflate-on-oom=on,free-page-reporting=on \
  -qmp "unix:$sock,server=on,wait=off" \
  -kernel "$elf" -append "workload=idle ticks=100000" >"$dir/console" 2>&1 </dev/null &
qpid=$!

# balloon to 96 MiB, wait for query-balloon to say so; then back to 256 MiB; then quit.
python3 - "$sock" <<'PY'
import json, socket, sys, time

def connect(path):
    deadline = time.time() + 20
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s.makefile("rw")
        except OSError:
            if time.time() > deadline:
                sys.exit("FAIL: no QMP socket")
            time.sleep(0.1)

f = connect(sys.argv[1])

def cmd(name, **args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m

json.loads(f.readline())  # greeting
cmd("qmp_capabilities")

def settle(target, want):
    end = time.time() + 40
    actual = None
    while time.time() < end:
        actual = cmd("query-balloon").get("return", {}).get("actual")
        if actual is not None and want(actual):
            return actual
        time.sleep(0.2)
    cmd("quit")
    sys.exit(f"FAIL: balloon {target >> 20} MiB not reached, query-balloon actual={actual}")

mib = 1 << 20
cmd("balloon", value=96 * mib)
a = settle(96 * mib, lambda x: x <= 96 * mib)
print(f"ok: inflated, query-balloon actual {a // mib} MiB")
cmd("balloon", value=256 * mib)
a = settle(256 * mib, lambda x: x >= 256 * mib)
print(f"ok: deflated, query-balloon actual {a // mib} MiB")
cmd("quit")
PY
rc=$?
wait "$qpid" 2>/dev/null
qpid=
sed -i 's/\r$//' "$dir/console"
if [ $rc -ne 0 ]; then
  sed 's/^/    | /' "$dir/console"
  exit 1
fi
if ! grep -q '^virtio-balloon: at 0x' "$dir/console"; then
  echo "FAIL: the guest did not find QEMU's balloon"
  sed 's/^/    | /' "$dir/console"
  exit 1
fi
echo "PASS: qemu_balloon"
