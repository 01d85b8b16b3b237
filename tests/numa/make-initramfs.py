#!/usr/bin/env python3
"""The initramfs of the NUMA guest (tests/numa/run.sh): busybox taken from the Linux tests'
initramfs (scripts/fetch-linux.sh), the densevm binary with every shared library ldd names
(and the dynamic loader), and tests/numa/guest-init.sh as /init. A cpio "newc" archive,
deterministic (fixed owners, mtimes and order).

    make-initramfs.py LINUX_INITRAMFS DENSEVM GUEST_INIT OUT.cpio
"""
import os
import re
import subprocess
import sys
import tempfile


def read_newc(path):
    """name -> (mode, data) of a newc archive."""
    blob = open(path, "rb").read()
    files, at = {}, 0
    while at + 110 <= len(blob):
        assert blob[at:at + 6] == b"070701", "not a newc archive"
        fields = [int(blob[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = blob[at + 110:at + 110 + namesize - 1].decode()
        at = (at + 110 + namesize + 3) & ~3
        data = blob[at:at + size]
        at = (at + size + 3) & ~3
        if name == "TRAILER!!!":
            break
        files[name] = (mode, data)
    return files


def libraries(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)", line.split("=>")[-1])
        if m:
            libs.append(m.group(1))
    return libs


def stripped(binary):
    """The binary without its debug info (a RelWithDebInfo densevm is 40 MB of it)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "densevm")
        subprocess.run(["strip", "--strip-debug", "-o", out, binary], check=True)
        return open(out, "rb").read()


def main():
    linux_cpio, densevm, init, out = sys.argv[1:5]
    busybox = read_newc(linux_cpio)["bin/busybox"][1]
    entries = {"bin/busybox": (0o100755, busybox),
               "bin/densevm": (0o100755, stripped(densevm)),
               "init": (0o100755, open(init, "rb").read())}
    for lib in libraries(densevm):
        # The loader's path as the binary names it; the library under the path ldd found.
        entries[lib.lstrip("/")] = (0o100755, open(os.path.realpath(lib), "rb").read())
    dirs = set()
    for name in list(entries) + ["proc/", "sys/", "dev/", "tmp/"]:
        parts = name.rstrip("/").split("/")
        for i in range(1, len(parts) + (1 if name.endswith("/") else 0)):
            dirs.add("/".join(parts[:i]))
    for d in dirs:
        entries.setdefault(d, (0o040755, b""))

    def header(ino, mode, size, name, nlink):
        fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
        return b"070701" + b"".join(b"%08X" % f for f in fields)

    def pad(n):
        return b"\0" * ((4 - n % 4) % 4)

    with open(out + ".tmp", "wb") as f:
        for ino, name in enumerate(sorted(entries), 1):
            mode, data = entries[name]
            h = header(ino, mode, len(data), name, 2 if mode & 0o040000 else 1)
            n = name.encode() + b"\0"
            f.write(h + n + pad(len(h) + len(n)) + data + pad(len(data)))
        n = b"TRAILER!!!\0"
        h = header(0, 0, 0, "TRAILER!!!", 1)
        f.write(h + n + pad(len(h) + len(n)))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
