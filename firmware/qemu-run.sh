#!/usr/bin/env bash
# Cargo runner: runs a firmware ELF in QEMU's mps2-an386 (Cortex-M4) with semihosting, under
# `timeout` (a firmware that never exits must not hang CI). The plain-text summary arrives on
# stderr; the defmt log on stdout is decoded with defmt-print when it is installed.
#   FLASHNET_QEMU_TIMEOUT  seconds (default 120)
#   FLASHNET_QEMU_ARGS     extra QEMU arguments (e.g. -plugin …)
set -euo pipefail
elf="$1"
shift
# shellcheck disable=SC2206
extra=(${FLASHNET_QEMU_ARGS:-})
qemu=(timeout "${FLASHNET_QEMU_TIMEOUT:-120}" qemu-system-arm -cpu cortex-m4 -machine mps2-an386
  -nographic -monitor none -serial none -semihosting-config enable=on,target=native
  "${extra[@]}" -kernel "$elf")
if command -v defmt-print >/dev/null 2>&1; then
  "${qemu[@]}" | defmt-print -e "$elf"
else
  echo "(defmt log not decoded: cargo install defmt-print)" >&2
  "${qemu[@]}" >/dev/null
fi
