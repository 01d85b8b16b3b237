#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (clang, ASan+UBSan) in FUZZ_BUILD and runs each
# for SECONDS from the corpus in tests/fuzz/corpus (new inputs go to FUZZ_BUILD/corpus, the
# repo's corpus is only read; findings to FUZZ_BUILD/findings), then counts ring-3
# instructions with the release driver. FUZZ_TARGETS picks targets (default: all of them);
# the build runs at the machine's width, the fuzzing one target at a time.
#
#   bash scripts/fuzz.sh build build-fuzz 600
#   FUZZ_TARGETS="snapshot balloon" bash scripts/fuzz.sh build build-fuzz 1800
#
# To keep what a run found, merge it (minimised) into the repo's corpus:
#   build-fuzz/tests/fuzz/densevm_libfuzzer_snapshot -merge=1 -max_len=163840 \
#     tests/fuzz/corpus/snapshot build-fuzz/corpus/snapshot
set -euo pipefail
build=${1:-build} fuzz_build=${2:-build-fuzz} seconds=${3:-600}
targets=${FUZZ_TARGETS:-flat_vm paging_vm translator snapshot balloon images}
root=$(cd "$(dirname "$0")/.." && pwd)
CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDENSEVM_LIBFUZZER=ON >/dev/null
for target in $targets; do
  cmake --build "$fuzz_build" -j"$(nproc)" --target "densevm_libfuzzer_$target"
done
# Inputs up to 4 KiB of code or virtqueue operations (the translator reads a control byte
# and 256 bytes of code); snapshot files up to 160 KB (the corpus's largest is a 138 KB file
# of an 8 MiB guest); the planner's image, fingerprint and reference files up to 64 KB.
declare -A max_len=([flat_vm]=4096 [paging_vm]=4096 [translator]=257 [snapshot]=163840 [balloon]=4096
                    [images]=65536)
for target in $targets; do
  corpus="$fuzz_build/corpus/$target"
  mkdir -p "$corpus" "$fuzz_build/findings/$target"
  echo "== $target: libFuzzer for ${seconds} s"
  # -rss_limit_mb 4096, not the 2048 default: the planner keeps a hash per guest page, and a
  # snapshot of a 1 TiB guest whose pages are all zero is a few hundred bytes (2 GiB of hashes).
  "$fuzz_build/tests/fuzz/densevm_libfuzzer_$target" "$corpus" "$root/tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$fuzz_build/findings/$target/" -print_final_stats=1 2>&1 |
    grep -E '^(stat::|executions|Done|==[0-9]+==|SUMMARY|.*ERROR)' | tail -12 || true
done
if [[ " $targets " == *" flat_vm "* ]]; then
  cmake --build "$build" -j"$(nproc)" --target densevm_fuzz_flat_vm >/dev/null
  echo "== flat_vm: 40000 seeded random inputs, release build (ring-3 instruction count)"
  "$build/tests/fuzz/densevm_fuzz_flat_vm" --runs 40000 --seed 2
fi
