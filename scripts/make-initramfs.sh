#!/usr/bin/env bash
# Builds the initramfs the Linux guest tests boot (a cpio "newc" archive, uncompressed):
#
#   /bin/busybox                    Debian's busybox-static (its applets linked at boot)
#   /lib/modules/*.ko               virtio_ring, virtio, virtio_mmio, virtio_balloon from the
#                                   kernel package (bookworm ships them uncompressed, and
#                                   busybox insmod loads them; .ko.xz/.ko.zst are unpacked)
#   /init                           prints "densevm-init: ...", loads the modules, runs the
#                                   commands of densevm.run= on the kernel command line
#                                   (densevm.run="cmd1; cmd2", quoted when it has spaces)
#                                   and powers off (poweroff -f)
#
#   scripts/make-initramfs.sh BUSYBOX MODULE_DIR OUT.cpio
#
# The archive is deterministic (fixed mtimes, owners and order), so two builds from the same
# packages are byte-identical and guests booted from it repeat exactly.
set -euo pipefail
busybox=${1:?usage: $0 BUSYBOX MODULE_DIR OUT.cpio}
moddir=${2:?usage: $0 BUSYBOX MODULE_DIR OUT.cpio}
out=${3:?usage: $0 BUSYBOX MODULE_DIR OUT.cpio}
die() { echo "make-initramfs: $*" >&2; exit 1; }
[ -x "$busybox" ] || die "no busybox at $busybox"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for m in virtio_ring virtio virtio_mmio virtio_balloon; do
  if [ -f "$moddir/$m.ko" ]; then
    cp "$moddir/$m.ko" "$root/lib/modules/$m.ko"
  elif [ -f "$moddir/$m.ko.xz" ]; then
    xz -dc "$moddir/$m.ko.xz" >"$root/lib/modules/$m.ko"
  elif [ -f "$moddir/$m.ko.zst" ]; then
    zstd -qdc "$moddir/$m.ko.zst" >"$root/lib/modules/$m.ko"
  else
    die "no $m module in $moddir"
  fi
done

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "densevm-init: /init running, kernel $(uname -r)"
for m in virtio_ring virtio virtio_mmio virtio_balloon; do
  insmod /lib/modules/$m.ko || echo "densevm-init: insmod $m failed"
done
cmdline=$(cat /proc/cmdline)
run=$(echo "$cmdline" | sed -n 's/.*densevm\.run="\([^"]*\)".*/\1/p')
[ -n "$run" ] || run=$(echo "$cmdline" | sed -n 's/.*densevm\.run=\([^ "]*\).*/\1/p')
if [ -n "$run" ]; then
  echo "densevm-init: running: $run"
  sh -c "$run"
  echo "densevm-init: exit status $?"
fi
echo "densevm-init: powering off"
poweroff -f
INIT
chmod 755 "$root/init"

python3 - "$root" "$out" <<'PY'
# cpio "newc" (SVR4 without CRC): a 110-byte ASCII header per entry, name and data each
# padded to 4 bytes, closed by TRAILER!!!. Everything owned by root, mtime 0.
import os, stat, sys
root, out = sys.argv[1], sys.argv[2]
entries = []
for d, dirs, files in os.walk(root):
    dirs.sort()
    for n in sorted(dirs + files):
        entries.append(os.path.relpath(os.path.join(d, n), root))
entries.sort()
def header(ino, mode, size, name, nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)
def pad(n):
    return b"\0" * ((4 - n % 4) % 4)
tmp = out + ".tmp"
with open(tmp, "wb") as f:
    for ino, rel in enumerate(entries, 1):
        path = os.path.join(root, rel)
        st = os.lstat(path)
        data = open(path, "rb").read() if stat.S_ISREG(st.st_mode) else b""
        mode = stat.S_IFMT(st.st_mode) | (st.st_mode & 0o777)
        h = header(ino, mode, len(data), rel, 2 if stat.S_ISDIR(st.st_mode) else 1)
        name = rel.encode() + b"\0"
        f.write(h + name + pad(len(h) + len(name)) + data + pad(len(data)))
    name = b"TRAILER!!!\0"
    h = header(0, 0, 0, "TRAILER!!!")
    f.write(h + name + pad(len(h) + len(name)))
os.replace(tmp, out)
PY
