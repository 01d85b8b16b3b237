#!/usr/bin/env bash
# `make test-numa`: densevm on a NUMA machine. QEMU (TCG, so any host will do) emulates a
# machine of 2 and then 4 nodes (-smp 4 -m 2G, one memory backend and an even share of the
# CPUs per node) booting Debian's stock kernel (scripts/fetch-linux.sh) with an initramfs of
# busybox, the densevm binary and its shared libraries, and tests/numa/guest-init.sh as
# /init. Inside, libnuma, mbind, move_pages and thread affinity are the real ones;
# tests/numa/check.py asserts on what the guest printed and prints one result line per
# machine. Files fetched and built stay in BUILD_DIR (never committed).
#
#   tests/numa/run.sh build          # exit 0 when both machines pass
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
die() { echo "test-numa: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (scripts/install-deps.sh installs it)"
[ -x "$build/densevm" ] || die "no $build/densevm (build it first)"
bash "$root/scripts/fetch-linux.sh" "$build" || die "cannot fetch Debian's kernel"
out="$build/numa"
mkdir -p "$out"
python3 "$here/make-initramfs.py" "$build/linux/initramfs.cpio" "$build/densevm" "$here/guest-init.sh" \
  "$out/initramfs.cpio" || die "cannot build the initramfs"

status=0
for nodes in 2 4; do
  args=()
  per=$((4 / nodes))
  for ((n = 0; n < nodes; n++)); do
    first=$((n * per))
    args+=(-object "memory-backend-ram,id=m$n,size=$((2048 / nodes))M"
           -numa "node,nodeid=$n,cpus=$first-$((first + per - 1)),memdev=m$n")
  done
  log="$out/qemu-$nodes.log"
  # TCG: the host's KVM is not ours to use, and TCG runs anywhere. The guest powers off when done.
  timeout 900 qemu-system-x86_64 -accel tcg -cpu max -smp 4 -m 2G "${args[@]}" \
    -kernel "$build/linux/vmlinuz" -initrd "$out/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 quiet" -nographic -no-reboot -nodefaults -serial stdio \
    </dev/null >"$log" 2>&1 || true
  python3 "$here/check.py" "$log" "$nodes" || status=1
done
exit $status
