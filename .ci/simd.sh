#!/usr/bin/env bash
# SIMD kernels (core/src/kernels): every x86-64 path this CI machine's CPU has must run, and
# the aarch64 NEON path is cross-built and tested under QEMU user-mode emulation.
# Called by .ci/run; standalone: `bash .ci/simd.sh` from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s ===\n' "$*"; }

step "SIMD: toolchain and cross tools"
rustup target add aarch64-unknown-linux-gnu >/dev/null
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # qemu-user only (qemu-system-arm conflicts on this machine); the cross gcc links the tests.
  if ! apt-get install -y -qq --no-install-recommends qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/backports.list
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user
    apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  fi
fi
qemu-aarch64 --version | head -1

# The x86-64 paths this CPU can run, read from its feature flags (Zen 4 runs both; Zen 3 and
# older have no AVX-512). FLASHNET_CI_KERNELS (e.g. "avx2,avx512") overrides the list, so a CI
# machine that must have a path can insist on it.
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2 || true) "
has() { [[ "$flags" == *" $1 "* ]]; }
x86=()
if has avx2 && has fma; then x86+=(avx2); fi
if has avx512f; then x86+=(avx512); fi
if [ -n "${FLASHNET_CI_KERNELS:-}" ]; then IFS=', ' read -r -a x86 <<<"$FLASHNET_CI_KERNELS"; fi
for path in avx2 avx512; do
  if [[ " ${x86[*]} " != *" $path "* ]]; then
    echo "NOT RUN: the $path kernels (this CPU lacks the instructions); they are built and linted" \
      "above, and run on any CPU that has them"
  fi
done
required=$(IFS=,; echo "${x86[*]}")

step "SIMD: x86-64 kernels (${required:-none on this CPU}) against portable"
# The guard test fails if a listed path is missing or its vector code never ran.
FLASHNET_REQUIRE_KERNELS="$required" cargo test -p flashnet --release --locked --lib -- tests::simd tests::kernels

step "SIMD: each path forced through the whole core test suite"
for path in portable "${x86[@]}"; do
  echo "--- FLASHNET_KERNELS=$path"
  FLASHNET_KERNELS=$path FLASHNET_REQUIRE_KERNELS=$path cargo test -p flashnet --release --locked --lib -q
done

step "SIMD: aarch64 (NEON) build, clippy, and core tests under qemu-aarch64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="timeout 1200 qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo build -p flashnet --release --locked --target aarch64-unknown-linux-gnu
cargo clippy -p flashnet --all-targets --locked --target aarch64-unknown-linux-gnu -- -D warnings
FLASHNET_REQUIRE_KERNELS=neon timeout 1500 cargo test -p flashnet --release --locked --target aarch64-unknown-linux-gnu --lib
echo "SIMD checks passed"
