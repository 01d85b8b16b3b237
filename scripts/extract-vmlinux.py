#!/usr/bin/env python3
"""Extracts the ELF kernel (vmlinux) from a bzImage, as the kernel's scripts/extract-vmlinux
does, but through the setup header instead of scanning for compressor magic: the compressed
kernel is the payload at payload_offset/payload_length (boot protocol 2.08+, Linux
Documentation/arch/x86/boot.rst), relative to the protected-mode code, which starts after the
(setup_sects + 1) 512-byte sectors of real-mode code.

    scripts/extract-vmlinux.py build/linux/vmlinuz build/linux/vmlinux

Exit 0 with the ELF written (via a temporary file, renamed); 1 with one line on stderr."""
import bz2
import gzip
import lzma
import os
import shutil
import struct
import subprocess
import sys


def fail(msg):
    sys.stderr.write("extract-vmlinux: %s\n" % msg)
    sys.exit(1)


def decompress(payload):
    if payload.startswith(b"\xfd7zXZ\x00"):
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return d.decompress(payload)  # the build appends the size: unused_data, ignored
    if payload.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=__import__("io").BytesIO(payload)).read()
    if payload.startswith(b"\x5d\x00\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
    if payload.startswith(b"BZh"):
        return bz2.BZ2Decompressor().decompress(payload)
    if payload.startswith(b"\x28\xb5\x2f\xfd"):
        if not shutil.which("zstd"):
            fail("the payload is zstd and the zstd tool is missing")
        return subprocess.run(["zstd", "-dc"], input=payload, stdout=subprocess.PIPE, check=True).stdout
    fail("unknown compression (payload starts %s)" % payload[:6].hex())


def main():
    if len(sys.argv) != 3:
        fail("usage: extract-vmlinux.py BZIMAGE OUT")
    src, dst = sys.argv[1], sys.argv[2]
    try:
        data = open(src, "rb").read()
    except OSError as e:
        fail("cannot read %s: %s" % (src, e.strerror))
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        fail("%s is not a bzImage (no HdrS setup header)" % src)
    version = struct.unpack_from("<H", data, 0x206)[0]
    if version < 0x208:
        fail("%s: boot protocol %x.%02x has no payload fields" % (src, version >> 8, version & 0xff))
    setup_sects = data[0x1F1] or 4
    offset, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if start + length > len(data):
        fail("%s: the payload runs past the end of the file" % src)
    try:
        elf = decompress(data[start:start + length])
    except (lzma.LZMAError, OSError, EOFError, subprocess.CalledProcessError) as e:
        fail("%s: cannot decompress the payload: %s" % (src, e))
    if not elf.startswith(b"\x7fELF"):
        fail("%s: the payload is not an ELF kernel" % src)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.replace(tmp, dst)


main()
