#!/usr/bin/env bash
# Installs the Debian packages densevm needs to build, test and benchmark.
# Idempotent: prints nothing and touches nothing when everything is present.
set -euo pipefail
pkgs=(
  cmake g++ make pkg-config
  libzydis-dev libasmjit-dev libxxhash-dev libjemalloc-dev libnuma-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  coinor-libcbc-dev
  qemu-system-x86 bc jq python3 time acpica-tools chromium
  clang libclang-rt-14-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
