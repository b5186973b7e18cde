#!/usr/bin/env bash
# Installs the Debian packages Flin needs to build, test and benchmark.
# Only packages that are missing are installed; nothing is downloaded from outside
# Debian's archive. Safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev libabsl-dev zlib1g-dev liblzf-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev nettle-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools python3 python3-redis python3-pytest
  clang libclang-rt-14-dev iproute2 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts redis-server as a service on install; tests start their own on scratch ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
