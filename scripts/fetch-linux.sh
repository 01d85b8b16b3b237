#!/usr/bin/env bash
# Fetches Debian 12's stock kernel and busybox for the Linux guest tests (issue 14) and
# builds what densevm boots from them, under BUILD_DIR/linux/ (never committed):
#
#   vmlinuz          the bzImage as shipped in /boot (linux-image-amd64's kernel package)
#   vmlinux          the ELF kernel extracted from it (scripts/extract-vmlinux.py)
#   initramfs.cpio   busybox-static + the package's virtio modules + /init
#                    (scripts/make-initramfs.sh)
#   VERSION          the kernel package name and version these came from
#
#   scripts/fetch-linux.sh build && build/densevm run --kernel build/linux/vmlinuz \
#       --initrd build/linux/initramfs.cpio --cmdline "console=ttyS0"
#
# Idempotent: with everything in place (and VERSION naming the package apt resolves
# linux-image-amd64 to, when apt can tell) it does nothing. Works as root and not: apt-get
# download needs no privileges; only a missing package list needs root (apt-get update).
# Exit 0 on success; 1 with one line on stderr saying why not (no network, no apt...).
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
out="$build/linux"
mkdir -p "$out"
out=$(cd "$out" && pwd)

die() { echo "fetch-linux: $*" >&2; exit 1; }
command -v apt-get >/dev/null || die "apt-get not found (a Debian machine is needed)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
command -v python3 >/dev/null || die "python3 not found"

# linux-image-amd64 is a metapackage: the real kernel package is its dependency.
resolve() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1; }
kpkg=$(resolve || true)
if [ -z "$kpkg" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  kpkg=$(resolve || true)
fi
if [ -z "$kpkg" ]; then
  # No package list: what is cached is all there is.
  [ -s "$out/VERSION" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio" ] && exit 0
  die "apt cannot resolve linux-image-amd64 (no package lists? run apt-get update as root)"
fi

if [ -s "$out/VERSION" ] && [ "$(head -n1 "$out/VERSION")" = "$kpkg" ] && [ -s "$out/vmlinuz" ] &&
   [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio" ]; then
  exit 0
fi

work=$(mktemp -d "$out/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
apt_opts=()
# As root apt-get drops to the _apt user, who cannot write into a private directory.
[ "$(id -u)" -eq 0 ] && apt_opts=(-o APT::Sandbox::User=root)
(cd "$work" && apt-get download -qq "${apt_opts[@]}" "$kpkg" busybox-static >/dev/null 2>&1) ||
  die "apt-get download $kpkg busybox-static failed (is Debian's archive reachable?)"
mkdir "$work/kernel" "$work/busybox"
dpkg-deb -x "$work"/"$kpkg"_*.deb "$work/kernel"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-*"
modules=$(ls -d "$work"/kernel/lib/modules/*/kernel/drivers/virtio 2>/dev/null | head -n1)
[ -n "$modules" ] || die "$kpkg has no virtio modules"

python3 "$here/extract-vmlinux.py" "$vmlinuz" "$work/vmlinux" || die "cannot extract vmlinux from $vmlinuz"
bash "$here/make-initramfs.sh" "$work/busybox/bin/busybox" "$modules" "$work/initramfs.cpio" ||
  die "cannot build the initramfs"

# Every file is complete before any takes its final name.
cp "$vmlinuz" "$work/vmlinuz"
version=$(dpkg-deb -f "$work"/"$kpkg"_*.deb Version)
printf '%s\n%s\n' "$kpkg" "$version" >"$work/VERSION"
for f in vmlinuz vmlinux initramfs.cpio VERSION; do mv -f "$work/$f" "$out/$f"; done
echo "fetch-linux: $kpkg $version in $out" >&2
