#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (clang, ASan+UBSan) in FUZZ_BUILD and runs each
# for SECONDS from the corpus in tests/fuzz/corpus (new inputs go to FUZZ_BUILD/corpus, the
# repo's corpus is only read), then counts ring-3 instructions with the release driver.
#
#   bash scripts/fuzz.sh build build-fuzz 600
set -euo pipefail
build=${1:-build} fuzz_build=${2:-build-fuzz} seconds=${3:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDENSEVM_LIBFUZZER=ON >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" --target densevm_libfuzzer_flat_vm densevm_libfuzzer_paging_vm \
  densevm_libfuzzer_snapshot densevm_libfuzzer_balloon
cmake --build "$build" -j"$(nproc)" --target densevm_fuzz_flat_vm >/dev/null
# Inputs up to 4 KiB of code or virtqueue operations; snapshot files up to 160 KB (the
# corpus's largest is a 138 KB file of an 8 MiB guest).
declare -A max_len=([flat_vm]=4096 [paging_vm]=4096 [snapshot]=163840 [balloon]=4096)
for target in flat_vm paging_vm snapshot balloon; do
  corpus="$fuzz_build/corpus/$target"
  mkdir -p "$corpus" "$fuzz_build/findings/$target"
  echo "== $target: libFuzzer for ${seconds} s"
  "$fuzz_build/tests/fuzz/densevm_libfuzzer_$target" "$corpus" "$root/tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$fuzz_build/findings/$target/" -print_final_stats=1 2>&1 |
    grep -E '^(stat::|executions|Done|==[0-9]+==|SUMMARY|.*ERROR)' | tail -12 || true
done
echo "== flat_vm: 40000 seeded random inputs, release build (ring-3 instruction count)"
"$build/tests/fuzz/densevm_fuzz_flat_vm" --runs 40000 --seed 2
