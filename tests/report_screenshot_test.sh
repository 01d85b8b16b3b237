#!/usr/bin/env bash
# The plan report in a real browser: `densevm plan report` on four small raw images with a
# known mix of pages, opened in headless Chromium (Debian's `chromium`), screenshot taken, and
# the PNG checked: the size asked for, not blank, and the plots drawn — pixels of the dedup
# curve's colour, of the heat map's darkest blue and of the sharing-aware placement's bars.
#
#   tests/report_screenshot_test.sh BUILD_DIR
#
# Exit 0 on success, 1 with a message on failure, 77 (skip) when chromium is not installed
# (scripts/install-deps.sh installs it) or python3 is missing.
set -uo pipefail
build=${1:?usage: $0 BUILD_DIR}
densevm=$build/densevm
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "SKIP: chromium is not installed (scripts/install-deps.sh installs Debian's chromium)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Four 4 MiB RAM images: a family of two sharing most pages, two others sharing less.
python3 - "$dir" <<'PY'
import sys, random
d = sys.argv[1]
def page(tag):
    r = random.Random(tag)
    return bytes(r.getrandbits(8) for _ in range(64)) * 64
for v, (family, unique) in enumerate([(1, 64), (1, 64), (2, 512), (3, 768)]):
    with open(f"{d}/vm{v}.ram", "wb") as f:
        for i in range(1024):
            if i % 4 == 0:
                f.write(bytes(4096))
            elif i < 1024 - unique:
                f.write(page(f"family{family}-{i}"))
            else:
                f.write(page(f"vm{v}-{i}"))
PY
"$densevm" plan fingerprint raw:"$dir"/vm0.ram raw:"$dir"/vm1.ram raw:"$dir"/vm2.ram raw:"$dir"/vm3.ram -o "$dir" >/dev/null ||
  fail "plan fingerprint"
"$densevm" plan report --host-mem 12M --headroom 0 --guest-code small --hosts 4 "$dir"/vm*.ram.fp -o "$dir/report.html" >/dev/null || fail "plan report"
[ -s "$dir/report.json" ] || fail "no report.json beside report.html"

"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,2200 \
  --screenshot="$dir/shot.png" "file://$dir/report.html" >/dev/null 2>&1
[ -s "$dir/shot.png" ] || fail "chromium wrote no screenshot"

python3 - "$dir/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if (w, h) != (1000, 2200):
    sys.exit(f"FAIL: screenshot is {w}x{h}, asked for 1000x2200")
if depth != 8 or ctype not in (2, 6):
    sys.exit(f"FAIL: unexpected PNG format depth {depth} type {ctype}")
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev, at = [], bytearray(stride), 0
for y in range(h):
    f = raw[at]; line = bytearray(raw[at + 1:at + 1 + stride]); at += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
pixels = {}
for line in rows:
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        pixels[px] = pixels.get(px, 0) + 1
white = pixels.get(b"\xff\xff\xff", 0)
ink = w * h - white
def near(rgb, tol=12):
    return sum(n for p, n in pixels.items() if all(abs(p[i] - rgb[i]) <= tol for i in range(3)))
checks = {"not blank (pixels not white)": (ink, w * h // 50),
          "colours in use": (len(pixels), 30),
          "dedup curve and bars (#009e73)": (near((0x00, 0x9e, 0x73)), 200),
          "heat map's full-sharing blue": (near((50, 50, 255)), 400),
          "first-fit bars (#7f7f7f)": (near((0x7f, 0x7f, 0x7f), 4), 200)}
for what, (got, least) in checks.items():
    if got < least:
        sys.exit(f"FAIL: {what}: {got}, want at least {least}")
print(f"ok: {w}x{h} screenshot, {ink} drawn pixels, {len(pixels)} colours")
PY
